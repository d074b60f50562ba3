// Vigilance: the incident queue as GET /api/v1/incidents orders it (nearest open deadline first), each row's nearest
// deadline with its rule and jurisdiction, overdue and due-soon said in words and marked by shape as well as colour,
// and the alerts the clock job raised (GET /api/v1/incidents/alerts).
import { apiAll, byId, clear, el, errorText, fillSelect, fmt, notice, startPage, table } from './common.js';
import { chartAvailable, chartUnavailable, drawChart, PALETTE } from './charts.js';

const { capabilities } = await startPage();

const URGENCY_TEXT = { overdue: 'OVERDUE', due_soon: 'DUE SOON', open: 'open' };
const CHARTED = 25;

async function loadProducts() {
  if (!capabilities.check('GET /api/v1/products').ok) return new Map();
  const products = await apiAll('/products');
  fillSelect(byId('product'), [['', 'All products'], ...products.map((p) => [p.id, p.name])]);
  return new Map(products.map((p) => [p.id, p.name]));
}

function urgencyBadge(deadline) {
  if (!deadline) return el('span', { class: 'status ok', text: 'no open deadline' });
  const urgency = deadline.urgency ?? 'open';
  return el('span', { class: `status ${urgency}`, text: URGENCY_TEXT[urgency] ?? urgency });
}

function timeLeft(deadline) {
  if (!deadline || deadline.hoursRemaining === null || deadline.hoursRemaining === undefined) return '—';
  const hours = deadline.hoursRemaining;
  const days = Math.abs(hours) / 24;
  const amount = days >= 2 ? `${days.toFixed(1)} days` : `${Math.abs(hours).toFixed(1)} hours`;
  return hours < 0 ? `${amount} overdue` : `${amount} left`;
}

let productNames = new Map();

async function render() {
  document.body.dataset.loaded = 'false';
  const queueBody = byId('queue').querySelector('.body');
  const alertsBody = byId('alerts').querySelector('.body');
  const allowed = capabilities.check('GET /api/v1/incidents');
  if (!allowed.ok) {
    notice(queueBody, 'unavailable', allowed.reason);
    notice(alertsBody, 'unavailable', allowed.reason);
    chartUnavailable(byId('clock'), 'unavailable', allowed.reason);
    return;
  }
  const productId = byId('product').value || undefined;
  const state = byId('state').value || undefined;
  const button = byId('filters').querySelector('button');
  button.disabled = true;
  try {
    const [incidents, alerts] = await Promise.all([
      apiAll('/incidents', { productId, state }),
      capabilities.check('GET /api/v1/incidents/alerts').ok
        ? apiAll('/incidents/alerts', { productId }, 500)
        : Promise.resolve(null),
    ]);
    const open = incidents.filter((i) => i.nextDeadline);
    const overdue = open.filter((i) => i.nextDeadline.urgency === 'overdue');
    const dueSoon = open.filter((i) => i.nextDeadline.urgency === 'due_soon');

    const tiles = clear(byId('tiles'));
    for (const [label, value] of [
      ['incidents shown', incidents.length],
      ['with an open deadline', open.length],
      ['OVERDUE', overdue.length],
      ['DUE SOON', dueSoon.length],
    ]) {
      tiles.append(
        el(
          'li',
          {},
          el('span', { class: 'value', text: fmt.int(value) }),
          el('span', { class: 'label', text: label }),
        ),
      );
    }

    const filterText = [
      productId ? (productNames.get(productId) ?? 'one product') : null,
      state ? `state ${state}` : null,
    ]
      .filter(Boolean)
      .join(', ');
    clear(queueBody).append(
      incidents.length === 0
        ? el('p', {
            class: 'notice',
            role: 'status',
            text: `No incidents${filterText ? ` (${filterText})` : ''}.`,
          })
        : table(
            `${incidents.length} incident${incidents.length === 1 ? '' : 's'}${filterText ? ` (${filterText})` : ''}, nearest open deadline first`,
            [
              { label: 'Urgency', value: (i) => urgencyBadge(i.nextDeadline) },
              { label: 'Incident', value: (i) => i.title, header: false },
              { label: 'Product', value: (i) => productNames.get(i.productId) ?? i.productId },
              { label: 'State', value: (i) => i.state.replace(/_/g, ' ') },
              { label: 'Seriousness', value: (i) => i.seriousness.replace(/_/g, ' ') },
              { label: 'Aware', value: (i) => fmt.date(i.awarenessDate) },
              {
                label: 'Nearest deadline',
                value: (i) =>
                  i.nextDeadline
                    ? `${i.nextDeadline.jurisdiction} · ${i.nextDeadline.rule}${i.nextDeadline.country ? ` (${i.nextDeadline.country})` : ''}`
                    : '—',
              },
              { label: 'Due', value: (i) => (i.nextDeadline ? fmt.date(i.nextDeadline.dueAt) : '—') },
              { label: 'Time', value: (i) => timeLeft(i.nextDeadline), numeric: true },
              {
                label: 'Deadlines',
                value: (i) =>
                  `${i.deadlines.filter((d) => d.status === 'open').length} open of ${i.deadlines.length}`,
              },
            ],
            incidents,
            { rowClass: (i) => i.nextDeadline?.urgency ?? null },
          ),
    );

    const charted = open.slice(0, CHARTED);
    const figure = byId('clock');
    if (charted.length === 0) {
      chartUnavailable(
        figure,
        'unavailable',
        `No incident${filterText ? ` (${filterText})` : ''} has an open reporting deadline.`,
      );
    } else {
      chartAvailable(figure);
      const days = charted.map((i) => i.nextDeadline.hoursRemaining / 24);
      const colour = (i) =>
        i.nextDeadline.urgency === 'overdue'
          ? PALETTE[1]
          : i.nextDeadline.urgency === 'due_soon'
            ? PALETTE[4]
            : PALETTE[0];
      const labelOf = (i) =>
        `${URGENCY_TEXT[i.nextDeadline.urgency] ?? ''} ${i.title.length > 48 ? `${i.title.slice(0, 47)}…` : i.title}`.trim();
      drawChart(
        figure,
        {
          type: 'bar',
          data: {
            labels: charted.map(labelOf),
            datasets: [
              {
                label: 'days to the nearest open deadline',
                data: days,
                backgroundColor: charted.map(colour),
                borderColor: charted.map(colour),
                borderWidth: 2,
                // Overdue bars are hatched by an outline only, due-soon bars filled: shape beside colour.
                borderSkipped: false,
              },
            ],
          },
          options: {
            indexAxis: 'y',
            plugins: {
              legend: { display: false },
              fwLines: [{ axis: 'x', value: 0, label: 'due now', color: '#a3121f', dash: [4, 3] }],
            },
            scales: {
              x: { title: { display: true, text: 'days left (negative: overdue)' } },
              y: { ticks: { autoSkip: false } },
            },
          },
        },
        {
          summary: `Horizontal bars, one per incident with an open deadline (${charted.length}${open.length > CHARTED ? ` of ${open.length}` : ''}), nearest first: ${overdue.length} overdue (bars left of zero, labelled OVERDUE), ${dueSoon.length} due soon.`,
          data: {
            caption: 'Days to the nearest open deadline',
            columns: [
              { label: 'Incident', value: (i) => i.title, header: true },
              {
                label: 'Urgency',
                value: (i) => URGENCY_TEXT[i.nextDeadline.urgency] ?? i.nextDeadline.urgency,
              },
              { label: 'Rule', value: (i) => i.nextDeadline.rule },
              { label: 'Due by (UTC)', value: (i) => fmt.dateTime(i.nextDeadline.dueBy) },
              {
                label: 'Days left',
                value: (i) => fmt.num(i.nextDeadline.hoursRemaining / 24, 1),
                numeric: true,
              },
            ],
            rows: charted,
          },
        },
      );
    }

    if (alerts === null) {
      notice(alertsBody, 'unavailable', capabilities.check('GET /api/v1/incidents/alerts').reason);
    } else {
      const titles = new Map(incidents.map((i) => [i.id, i.title]));
      clear(alertsBody).append(
        alerts.length === 0
          ? el('p', {
              class: 'notice',
              role: 'status',
              text: 'The clock job has raised no due-soon or overdue alert.',
            })
          : table(
              `${alerts.length} alert${alerts.length === 1 ? '' : 's'}, newest first`,
              [
                {
                  label: 'Urgency',
                  value: (a) => el('span', { class: `status ${a.urgency}`, text: URGENCY_TEXT[a.urgency] }),
                },
                { label: 'Incident', value: (a) => titles.get(a.incidentId) ?? a.incidentId },
                { label: 'Rule', value: (a) => `${a.jurisdiction} · ${a.rule}` },
                { label: 'Due', value: (a) => fmt.date(a.dueAt) },
                { label: 'Raised', value: (a) => fmt.dateTime(a.createdAt) },
              ],
              alerts,
              { rowClass: (a) => a.urgency },
            ),
      );
    }
  } catch (error) {
    notice(queueBody, 'error', errorText(error));
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
  productNames = await loadProducts();
} catch (error) {
  notice(byId('queue').querySelector('.body'), 'error', errorText(error));
}
await render();
