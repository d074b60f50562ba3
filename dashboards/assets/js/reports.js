// Reports (DESIGN.md §5): the list (GET /api/v1/reports), each report's status and recorded SHA-256
// (GET /api/v1/reports/:id), downloads of its renditions (/:id.json, /:id.html, /:id.pdf — fetched with the key,
// saved from memory, so the key never appears in a URL), and verification of a copy: the browser hashes the file
// with SHA-256 (Web Crypto) and compares it with the digest the platform recorded.
import {
  api,
  apiAll,
  apiFetch,
  byId,
  clear,
  el,
  errorText,
  fillSelect,
  fmt,
  notice,
  startPage,
  table,
} from './common.js';

const { capabilities } = await startPage();
const LIST = 'GET /api/v1/reports';
const RENDITIONS = [
  ['pdf', 'GET /api/v1/reports/{id}.pdf'],
  ['html', 'GET /api/v1/reports/{id}.html'],
  ['json', 'GET /api/v1/reports/{id}.json'],
];

let reports = [];

async function loadProducts() {
  if (!capabilities.check('GET /api/v1/products').ok) return;
  const products = await apiAll('/products');
  fillSelect(byId('product'), [['', 'All products'], ...products.map((p) => [p.id, p.name])]);
}

function digestOf(report) {
  return report.sha256 ?? report.digest?.sha256 ?? null;
}

async function download(report, format) {
  const response = await apiFetch(
    `/reports/${encodeURIComponent(report.id)}.${format}`,
    {},
    { accept: '*/*' },
  );
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const link = el('a', {
    href: url,
    download: `${report.reference ?? report.type ?? 'report'}-${report.id}.${format}`,
  });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function downloadButtons(report) {
  const cell = el('span', {});
  for (const [format, operation] of RENDITIONS) {
    if (!capabilities.check(operation).ok) continue;
    const button = el('button', {
      type: 'button',
      class: 'secondary',
      text: format.toUpperCase(),
      'aria-label': `Download ${format.toUpperCase()} of report ${report.reference ?? report.id}`,
    });
    button.addEventListener('click', () => {
      button.disabled = true;
      download(report, format)
        .catch((error) => notice(byId('verify-result'), 'error', errorText(error)))
        .finally(() => {
          button.disabled = false;
        });
    });
    cell.append(button, ' ');
  }
  return cell.childNodes.length ? cell : el('span', { class: 'muted', text: 'no rendition route' });
}

async function render() {
  document.body.dataset.loaded = 'false';
  const body = byId('reports').querySelector('.body');
  const allowed = capabilities.check(LIST);
  if (!allowed.ok) {
    notice(body, 'unavailable', allowed.reason);
    notice(
      byId('verify-result'),
      'unavailable',
      'Verification needs the report list and its recorded digests.',
    );
    byId('verify-form').querySelector('button').disabled = true;
    document.body.dataset.loaded = 'true';
    return;
  }
  const productId = byId('product').value || undefined;
  try {
    const answer = await api('/reports', { productId });
    reports = Array.isArray(answer) ? answer : answer.items;
    fillSelect(
      byId('verify-report'),
      reports.map((r) => [
        r.id,
        `${r.reference ?? r.type} · ${fmt.date(r.from ?? r.period?.from)} to ${fmt.date(r.to ?? r.period?.to)}`,
      ]),
    );
    clear(body).append(
      reports.length === 0
        ? el('p', { class: 'notice', role: 'status', text: 'No reports for this selection yet.' })
        : table(
            `${reports.length} report${reports.length === 1 ? '' : 's'}`,
            [
              { label: 'Report', value: (r) => r.reference ?? r.title ?? r.id, header: true },
              { label: 'Type', value: (r) => r.type },
              {
                label: 'Period',
                value: (r) => `${fmt.date(r.from ?? r.period?.from)} to ${fmt.date(r.to ?? r.period?.to)}`,
              },
              {
                label: 'Status',
                value: (r) =>
                  el('span', {
                    class: `status ${r.status === 'final' || r.finalizedAt ? 'ok' : 'warn'}`,
                    text: r.status ?? (r.finalizedAt ? 'final' : 'draft'),
                  }),
              },
              { label: 'SHA-256', value: (r) => el('span', { class: 'mono', text: digestOf(r) ?? '—' }) },
              { label: 'Download', value: (r) => downloadButtons(r) },
            ],
            reports,
          ),
    );
  } catch (error) {
    notice(body, 'error', errorText(error));
  } finally {
    document.body.dataset.loaded = 'true';
  }
}

async function sha256Hex(file) {
  const digest = await crypto.subtle.digest('SHA-256', await file.arrayBuffer());
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

byId('verify-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const result = byId('verify-result');
  const file = byId('verify-file').files[0];
  const summary = reports.find((r) => r.id === byId('verify-report').value);
  if (!file || !summary) return;
  if (!globalThis.crypto?.subtle) {
    notice(
      result,
      'error',
      'This browser offers SHA-256 only on HTTPS (or localhost) pages: open the dashboards over HTTPS to verify.',
    );
    return;
  }
  try {
    // The recorded digest as the platform states it now, not as the list showed it earlier.
    const report = capabilities.check('GET /api/v1/reports/{id}').ok
      ? await api(`/reports/${encodeURIComponent(summary.id)}`)
      : summary;
    const recorded = digestOf(report);
    const actual = await sha256Hex(file);
    if (!recorded) {
      notice(
        result,
        'unavailable',
        `No digest is recorded for this report yet (status ${report.status ?? 'unknown'}). SHA-256 of your file: ${actual}.`,
      );
    } else if (recorded.toLowerCase() === actual) {
      notice(
        result,
        'info',
        `VERIFIED: ${file.name} has SHA-256 ${actual}, the digest recorded for this report.`,
      );
    } else {
      notice(
        result,
        'error',
        `NOT VERIFIED: ${file.name} has SHA-256 ${actual}; the platform recorded ${recorded}. This is not the recorded document.`,
      );
    }
  } catch (error) {
    notice(result, 'error', errorText(error));
  }
});

byId('filters').addEventListener('submit', (event) => {
  event.preventDefault();
  void render();
});

try {
  await loadProducts();
} catch (error) {
  notice(byId('reports').querySelector('.body'), 'error', errorText(error));
}
await render();
