// Reports (DESIGN.md §5): the list (GET /api/v1/reports), downloads of each rendition (/:id.json, /:id.html, /:id.pdf —
// fetched with the key and saved from memory, so the key never appears in a URL), the platform's own check
// (GET /api/v1/reports/:id/verify: recomputed from the stored data, stored artefacts intact, signature valid), and
// verification of a copy someone holds: the browser hashes the file with SHA-256 (Web Crypto) and compares it with the
// digests the platform recorded for the report's current version (GET /api/v1/reports/:id).
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

const VERIFY = 'GET /api/v1/reports/{id}/verify';
const yesNo = (value) => (value === true ? 'yes' : value === false ? 'NO' : '—');

/** The platform's verification of one report, in words. */
async function serverVerify(report) {
  const result = byId('verify-result');
  notice(result, 'info', `Verifying ${report.reference ?? report.id} on the platform…`);
  try {
    const answer = await api(`/reports/${encodeURIComponent(report.id)}/verify`);
    const intact = Object.entries(answer.artefactsIntact ?? {})
      .map(([kind, ok]) => `${kind.toUpperCase()} ${ok ? 'intact' : 'ALTERED'}`)
      .join(', ');
    const signature = answer.signature
      ? `signature valid: ${yesNo(answer.signature.valid)}, by the published key: ${yesNo(answer.signature.publishedKey)}`
      : 'not signed (draft)';
    const ok =
      answer.matches &&
      Object.values(answer.artefactsIntact ?? {}).every(Boolean) &&
      (!answer.signature || answer.signature.valid);
    notice(
      result,
      ok ? 'info' : 'error',
      `${ok ? 'VERIFIED' : 'NOT VERIFIED'}: ${report.reference ?? report.id} version ${answer.version} — recomputed from the stored data: ${
        answer.matches ? 'identical' : `DIFFERS (${(answer.differences ?? []).join(', ') || 'content'})`
      }; stored artefacts: ${intact}; ${signature}. SHA-256 of the JSON: ${answer.storedSha256}.`,
    );
  } catch (error) {
    notice(result, 'error', errorText(error));
  }
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
        `${r.reference ?? r.type} · ${fmt.date(r.period?.from)} to ${fmt.date(r.period?.to)}`,
      ]),
    );
    clear(body).append(
      reports.length === 0
        ? el('p', { class: 'notice', role: 'status', text: 'No reports for this selection yet.' })
        : table(
            `${reports.length} report${reports.length === 1 ? '' : 's'}`,
            [
              { label: 'Report', value: (r) => r.reference ?? r.id, header: true },
              { label: 'Type', value: (r) => r.type },
              { label: 'Period', value: (r) => `${fmt.date(r.period?.from)} to ${fmt.date(r.period?.to)}` },
              { label: 'Version', value: (r) => r.version, numeric: true },
              {
                label: 'Status',
                value: (r) =>
                  el('span', {
                    class: `status ${r.status === 'final' ? 'ok' : 'warn'}`,
                    text: r.status === 'final' ? `final ${fmt.date(r.finalizedAt)}` : (r.status ?? '—'),
                  }),
              },
              { label: 'Download', value: (r) => downloadButtons(r) },
              {
                label: 'Check',
                value: (r) => {
                  if (!capabilities.check(VERIFY).ok) return '—';
                  const button = el('button', {
                    type: 'button',
                    class: 'secondary',
                    text: 'Verify',
                    'aria-label': `Verify report ${r.reference ?? r.id} on the platform`,
                  });
                  button.addEventListener('click', () => void serverVerify(r));
                  return button;
                },
              },
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
    // The digests as the platform states them now, not as the list showed the report earlier.
    const report = await api(`/reports/${encodeURIComponent(summary.id)}`);
    const actual = await sha256Hex(file);
    const recorded = Object.entries(report.sha256 ?? {}).filter(([, digest]) => typeof digest === 'string');
    const match = recorded.find(([, digest]) => digest.toLowerCase() === actual);
    if (recorded.length === 0) {
      notice(
        result,
        'unavailable',
        `No digest is recorded for this report yet (status ${report.status ?? 'unknown'}). SHA-256 of your file: ${actual}.`,
      );
    } else if (match) {
      notice(
        result,
        'info',
        `VERIFIED: ${file.name} is the ${match[0].toUpperCase()} of ${report.reference ?? report.id} version ${report.version} (SHA-256 ${actual})${report.signature ? `, signed ${fmt.dateTime(report.signature.signedAt)}` : ', a draft (not signed)'}.`,
      );
    } else {
      notice(
        result,
        'error',
        `NOT VERIFIED: ${file.name} has SHA-256 ${actual}, which is none of the digests recorded for ${report.reference ?? report.id} version ${report.version} (${recorded.map(([kind, digest]) => `${kind.toUpperCase()} ${digest}`).join('; ')}).`,
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
