// Drift: the monitors in force (GET /api/v1/drift/monitors), a control chart per monitor from the latest evaluation
// snapshots (GET /api/v1/drift/evaluations, then each /:id — the statistic of the overall segment against the
// threshold calibrated for that run), and the product's alerts with the evidence that opened them
// (GET /api/v1/drift/alerts). A deployment without these routes, or a role without drift:read, is told so.
import {
  api,
  apiAll,
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
import { drawChart, seriesStyle } from './charts.js';

const { capabilities } = await startPage();
const MONITORS = 'GET /api/v1/drift/monitors';
const ALERTS = 'GET /api/v1/drift/alerts';
const CHARTED = 24;

const EVALUATIONS = 'GET /api/v1/drift/evaluations';
const EVALUATION = 'GET /api/v1/drift/evaluations/{id}';
const EVALUATIONS_CHARTED = 12;

const itemsOf = (body) => (Array.isArray(body) ? body : (body?.items ?? []));
const segmentText = (segment) => {
  if (!segment) return '—';
  if (typeof segment === 'string') return segment.replace(/([A-Z])/g, ' $1').toLowerCase();
  return segment.kind === 'overall' ? 'overall' : `${segment.kind} ${segment.key}`;
};

/** Evidence as "name: value" lines (objects one level deep), never as markup. */
function evidenceList(evidence) {
  if (!evidence || typeof evidence !== 'object')
    return el('span', { text: evidence === undefined ? '—' : String(evidence) });
  const list = el('ul', {});
  for (const [name, value] of Object.entries(evidence)) {
    const text = value !== null && typeof value === 'object' ? JSON.stringify(value) : String(value);
    list.append(
      el('li', {}, el('strong', { text: `${name}: ` }), text.length > 160 ? `${text.slice(0, 159)}…` : text),
    );
  }
  return el('details', {}, el('summary', { text: 'Evidence' }), list);
}

async function loadProducts() {
  if (!capabilities.check('GET /api/v1/products').ok) return;
  const products = await apiAll('/products');
  fillSelect(
    byId('product'),
    products.map((p) => [p.id, p.name]),
  );
}

function controlChart(monitorId, evaluations, index) {
  const figure = el(
    'figure',
    { class: 'panel', id: `monitor-${index}` },
    el('h2', { text: `${monitorId} (overall)` }),
    el('div', { class: 'chart-box' }, el('canvas', {})),
    el('figcaption', { class: 'chart-summary' }),
    el('details', { class: 'data-table' }),
  );
  byId('monitor-charts').append(figure);
  const labels = evaluations.map((e) => fmt.date(e.windowTo));
  const alarms = evaluations.filter((e) => e.alarm).length;
  drawChart(
    figure,
    {
      type: 'line',
      data: {
        labels,
        datasets: [
          {
            label: 'statistic',
            data: evaluations.map((e) => e.statistic),
            ...seriesStyle(0),
            // Alarms are drawn as large crosses: shape, not colour alone.
            pointStyle: evaluations.map((e) => (e.alarm ? 'crossRot' : 'circle')),
            pointRadius: evaluations.map((e) => (e.alarm ? 9 : 3)),
            pointBorderWidth: evaluations.map((e) => (e.alarm ? 3 : 1)),
          },
          {
            label: 'threshold (calibrated for this run)',
            data: evaluations.map((e) => e.threshold),
            ...seriesStyle(1),
            borderDash: [6, 4],
            // A dash per run, so the threshold shows even before there is a line to draw.
            pointStyle: 'line',
            pointRadius: 10,
            pointBorderWidth: 2,
            stepped: true,
          },
        ],
      },
      options: {
        scales: {
          x: { title: { display: true, text: 'window end' } },
          y: { title: { display: true, text: 'statistic' } },
        },
      },
    },
    {
      summary: `Control chart of ${monitorId}, overall: ${evaluations.length} evaluations from ${labels[0]} to ${labels[labels.length - 1]}, ${alarms} at or above the threshold (marked with a cross).`,
      data: {
        caption: `Evaluations of ${monitorId} (overall)`,
        columns: [
          { label: 'Window end', value: (e) => fmt.date(e.windowTo), header: true },
          { label: 'Statistic', value: (e) => fmt.num(e.statistic, 4), numeric: true },
          { label: 'Threshold', value: (e) => fmt.num(e.threshold, 4), numeric: true },
          {
            label: 'n (reference / current)',
            value: (e) => `${fmt.int(e.n?.reference)} / ${fmt.int(e.n?.current)}`,
            numeric: true,
          },
          { label: 'Alarm', value: (e) => (e.alarm ? 'ALARM' : 'no') },
        ],
        rows: evaluations,
      },
    },
  );
}

async function renderMonitors(productId) {
  const body = byId('monitors').querySelector('.body');
  const charts = clear(byId('monitor-charts'));
  const allowed = capabilities.check(MONITORS);
  if (!allowed.ok) {
    notice(body, 'unavailable', allowed.reason);
    return;
  }
  if (!productId) {
    notice(body, 'unavailable', 'No product is registered for your organisation yet.');
    return;
  }
  const configuration = itemsOf(await api('/drift/monitors', { productId }))[0];
  const monitors = configuration?.monitors ?? [];
  clear(body).append(
    monitors.length === 0
      ? el('p', {
          class: 'notice',
          role: 'status',
          text: 'No drift monitors are configured for this product.',
        })
      : table(
          `${monitors.length} monitors (configuration version ${configuration.version ?? '—'})`,
          [
            { label: 'Monitor', value: (m) => m.id, header: true },
            { label: 'Family', value: (m) => m.family },
            { label: 'Kind', value: (m) => [m.kind, m.feature ?? m.metric].filter(Boolean).join(' · ') },
            {
              label: 'Segments',
              value: (m) => (Array.isArray(m.segments) ? m.segments.map(segmentText).join(', ') : '—'),
            },
            {
              label: 'False-alarm budget',
              value: (m) =>
                m.budget?.kind === 'sequential'
                  ? `ARL₀ ${fmt.int(m.budget.familyArl0)} (family)`
                  : `α ${m.budget?.familyAlphaPerRun ?? '—'} per run (family)`,
            },
          ],
          monitors,
        ),
  );
  if (!capabilities.check(EVALUATIONS).ok || !capabilities.check(EVALUATION).ok) {
    charts.append(
      el('p', {
        class: 'notice unavailable',
        role: 'status',
        text: capabilities.check(EVALUATION).reason ?? capabilities.check(EVALUATIONS).reason,
      }),
    );
    return;
  }
  const summaries = itemsOf(await api('/drift/evaluations', { productId, limit: EVALUATIONS_CHARTED }));
  // Oldest first on the chart; one snapshot at a time (each holds every monitor × segment result).
  const snapshots = [];
  for (const summary of [...summaries].reverse())
    snapshots.push(await api(`/drift/evaluations/${encodeURIComponent(summary.id)}`));
  const series = new Map();
  for (const snapshot of snapshots) {
    for (const result of snapshot.results ?? []) {
      if (result.segment?.kind !== 'overall' || !result.estimable || result.statistic === null) continue;
      if (!series.has(result.monitorId)) series.set(result.monitorId, []);
      series.get(result.monitorId).push({ ...result, windowTo: snapshot.window?.to ?? snapshot.evaluatedAt });
    }
  }
  // Monitors with an alarm first, then in configuration order.
  const alarmed = (points) => points.some((point) => point.alarm);
  [...series.entries()]
    .sort(([, a], [, b]) => Number(alarmed(b)) - Number(alarmed(a)))
    .slice(0, CHARTED)
    .forEach(([monitorId, points], index) => controlChart(monitorId, points, index));
  if (!charts.firstChild) {
    charts.append(
      el('p', {
        class: 'notice',
        role: 'status',
        text: summaries.length
          ? 'The evaluations of this product have no estimable overall result to chart yet.'
          : 'This product has not been evaluated yet (the schedule or POST /api/v1/drift/evaluations runs the monitors), so there is no control chart to draw.',
      }),
    );
  }
}

async function renderAlerts(productId, status) {
  const body = byId('alerts').querySelector('.body');
  const allowed = capabilities.check(ALERTS);
  if (!allowed.ok) {
    notice(body, 'unavailable', allowed.reason);
    return;
  }
  if (!productId) {
    notice(body, 'unavailable', 'No product is registered for your organisation yet.');
    return;
  }
  const alerts = itemsOf(await api('/drift/alerts', { productId, status }));
  clear(body).append(
    alerts.length === 0
      ? el('p', {
          class: 'notice',
          role: 'status',
          text: `No ${status || ''} drift alerts for this selection.`,
        })
      : table(
          `${alerts.length} ${status || ''} alert${alerts.length === 1 ? '' : 's'}`,
          [
            {
              label: 'Status',
              value: (a) =>
                el('span', {
                  class: `status ${a.status === 'open' ? 'open-alert' : 'ok'}`,
                  text: String(a.status ?? '—').toUpperCase(),
                }),
            },
            { label: 'Monitor', value: (a) => a.monitorId },
            { label: 'Segment', value: (a) => segmentText(a.segment) },
            { label: 'Opened', value: (a) => fmt.dateTime(a.openedAt) },
            {
              label: 'Last signal',
              value: (a) =>
                `${fmt.dateTime(a.lastSignalAt)} (${a.signalRuns} signalling, ${a.quietRuns} quiet runs; ${a.condition})`,
            },
            {
              label: 'Statistic / threshold (last signal)',
              value: (a) => {
                const evidence = a.lastEvidence ?? a.evidence ?? {};
                const p =
                  evidence.pValue === null || evidence.pValue === undefined
                    ? ''
                    : `; p = ${fmt.num(evidence.pValue, 4)}`;
                return `${fmt.num(evidence.statistic, 4)} / ${fmt.num(evidence.threshold, 4)}${p}`;
              },
            },
            { label: 'Evidence', value: (a) => evidenceList(a.lastEvidence ?? a.evidence) },
          ],
          alerts,
        ),
  );
}

async function render() {
  document.body.dataset.loaded = 'false';
  const productId = byId('product').value || undefined;
  const status = byId('alert-status').value || undefined;
  const button = byId('filters').querySelector('button');
  button.disabled = true;
  try {
    await Promise.all([
      renderMonitors(productId).catch((error) =>
        notice(byId('monitors').querySelector('.body'), 'error', errorText(error)),
      ),
      renderAlerts(productId, status).catch((error) =>
        notice(byId('alerts').querySelector('.body'), 'error', errorText(error)),
      ),
    ]);
  } finally {
    button.disabled = false;
    document.body.dataset.loaded = 'true';
  }
}

byId('filters').addEventListener('submit', (event) => {
  event.preventDefault();
  void render();
});

try {
  await loadProducts();
} catch (error) {
  notice(byId('monitors').querySelector('.body'), 'error', errorText(error));
}
await render();
