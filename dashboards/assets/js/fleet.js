// Fleet: registry (sites, devices, data sources), monthly analysis volumes by status from GET /analyses totals
// (`status` filter, `limit=1`: the count, not the rows), and the platform's ingestion counters and consumer lag.
import {
  addMonths,
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
import { chartAvailable, chartUnavailable, drawChart, seriesStyle } from './charts.js';

const STATUSES = ['completed', 'rejected', 'failed'];
const MAX_SITES_CHARTED = 40;

const { capabilities } = await startPage();
const can = (operation) => capabilities.check(operation);

let registry = { sites: [], devices: [], dataSources: [] };

async function loadRegistry() {
  const [sites, devices, dataSources] = await Promise.all(
    ['/sites', '/devices', '/data-sources'].map(async (path) => {
      const allowed = can(`GET /api/v1${path}`);
      return allowed.ok ? apiAll(path) : null;
    }),
  );
  registry = { sites, devices, dataSources };
  if (sites) {
    fillSelect(byId('site'), [
      ['', 'All sites'],
      ...sites.map((site) => [site.siteId, `${site.siteId} — ${site.name}`]),
    ]);
  }
}

function renderRegistry() {
  const { sites, devices, dataSources } = registry;
  const devicesBody = byId('devices').querySelector('.body');
  if (!devices) {
    notice(devicesBody, 'unavailable', can('GET /api/v1/devices').reason);
  } else {
    const site = byId('site').value;
    const shown = devices.filter((device) => !site || device.siteId === site);
    clear(devicesBody).append(
      table(
        `${shown.length} device${shown.length === 1 ? '' : 's'}${site ? ` at ${site}` : ''}`,
        [
          { label: 'Device', value: (d) => d.deviceId, header: true },
          { label: 'Site', value: (d) => d.siteId },
          { label: 'Software', value: (d) => d.softwareVersion },
          { label: 'Model version', value: (d) => d.modelVersion },
          {
            label: 'Scanner',
            value: (d) => [d.scannerVendor, d.scannerModel].filter(Boolean).join(' ') || null,
          },
          {
            label: 'State',
            value: (d) =>
              el('span', {
                class: `status ${d.revokedAt ? 'fails' : 'ok'}`,
                text: d.revokedAt ? `REVOKED ${fmt.date(d.revokedAt)}` : 'active',
              }),
          },
          { label: 'Secret rotated', value: (d) => fmt.date(d.secretRotatedAt) },
        ],
        shown,
      ),
    );
  }
  const sitesBody = byId('sites').querySelector('.body');
  if (!sites) {
    notice(sitesBody, 'unavailable', can('GET /api/v1/sites').reason);
    return;
  }
  const count = (list, siteId) => (list ? list.filter((item) => item.siteId === siteId).length : null);
  clear(sitesBody).append(
    table(
      `${sites.length} site${sites.length === 1 ? '' : 's'}`,
      [
        { label: 'Site', value: (s) => s.siteId, header: true },
        { label: 'Name', value: (s) => s.name },
        { label: 'Country', value: (s) => s.country },
        { label: 'Devices', value: (s) => count(devices, s.siteId), numeric: true },
        { label: 'Data sources', value: (s) => count(dataSources, s.siteId), numeric: true },
      ],
      sites,
    ),
  );
}

/** `total` of GET /analyses for these filters (one row fetched, the count is what is used). */
async function countAnalyses(filters) {
  const page = await api('/analyses', { ...filters, limit: 1 });
  return page.total;
}

async function renderVolumes(months, from, to) {
  const volumes = byId('volumes');
  const rates = byId('rates');
  const bySite = byId('by-site');
  const allowed = can('GET /api/v1/analyses');
  if (!allowed.ok) {
    for (const figure of [volumes, rates, bySite]) chartUnavailable(figure, 'unavailable', allowed.reason);
    return null;
  }
  const site = byId('site').value || undefined;
  const rows = await Promise.all(
    months.map(async (month, index) => {
      const next = months[index + 1] ?? to;
      const counts = await Promise.all(
        STATUSES.map((status) =>
          countAnalyses({ from: `${month}T00:00:00Z`, to: `${next}T00:00:00Z`, status, siteId: site }),
        ),
      );
      const total = counts.reduce((sum, value) => sum + value, 0);
      return {
        month: month.slice(0, 7),
        completed: counts[0],
        rejected: counts[1],
        failed: counts[2],
        total,
        rejectionRate: total ? counts[1] / total : null,
        failureRate: total ? counts[2] / total : null,
      };
    }),
  );
  const labels = rows.map((row) => row.month);
  const where = site ? ` at ${site}` : '';
  const total = rows.reduce((sum, row) => sum + row.total, 0);
  chartAvailable(volumes);
  drawChart(
    volumes,
    {
      type: 'bar',
      data: {
        labels,
        datasets: STATUSES.map((status, index) => ({
          label: status,
          data: rows.map((row) => row[status]),
          ...seriesStyle(index),
          borderDash: undefined,
          borderWidth: 1,
        })),
      },
      options: {
        scales: {
          x: { stacked: true, title: { display: true, text: 'month (UTC)' } },
          y: { stacked: true, beginAtZero: true, title: { display: true, text: 'analyses' } },
        },
      },
    },
    {
      summary: `Stacked bars: ${fmt.int(total)} analyses${where} from ${labels[0]} to ${labels[labels.length - 1]}, by month and outcome (completed, rejected, failed).`,
      data: {
        caption: `Analyses per month${where}`,
        columns: [
          { label: 'Month', value: (r) => r.month, header: true },
          { label: 'Completed', value: (r) => fmt.int(r.completed), numeric: true },
          { label: 'Rejected', value: (r) => fmt.int(r.rejected), numeric: true },
          { label: 'Failed', value: (r) => fmt.int(r.failed), numeric: true },
          { label: 'Total', value: (r) => fmt.int(r.total), numeric: true },
        ],
        rows,
      },
    },
  );
  chartAvailable(rates);
  drawChart(
    rates,
    {
      type: 'line',
      data: {
        labels,
        datasets: [
          {
            label: 'rejected (not evaluable)',
            data: rows.map((r) => (r.rejectionRate === null ? null : r.rejectionRate * 100)),
            ...seriesStyle(1),
          },
          {
            label: 'failed (software error)',
            data: rows.map((r) => (r.failureRate === null ? null : r.failureRate * 100)),
            ...seriesStyle(2),
          },
        ],
      },
      options: {
        scales: {
          y: { beginAtZero: true, title: { display: true, text: '% of analyses that month' } },
          x: { title: { display: true, text: 'month (UTC)' } },
        },
      },
    },
    {
      summary: `Lines: share of analyses rejected and failed per month${where}; months without analyses have no point. Overall ${fmt.pct(
        total ? rows.reduce((s, r) => s + r.rejected, 0) / total : null,
      )} rejected and ${fmt.pct(total ? rows.reduce((s, r) => s + r.failed, 0) / total : null)} failed of ${fmt.int(total)}.`,
      data: {
        caption: `Rejection and failure rates per month${where} (n = analyses that month)`,
        columns: [
          { label: 'Month', value: (r) => r.month, header: true },
          { label: 'n', value: (r) => fmt.int(r.total), numeric: true },
          {
            label: 'Rejected',
            value: (r) => `${fmt.int(r.rejected)} (${fmt.pct(r.rejectionRate)})`,
            numeric: true,
          },
          {
            label: 'Failed',
            value: (r) => `${fmt.int(r.failed)} (${fmt.pct(r.failureRate)})`,
            numeric: true,
          },
        ],
        rows,
      },
    },
  );
  return rows;
}

async function renderBySite(from, to) {
  const figure = byId('by-site');
  if (!can('GET /api/v1/analyses').ok) return;
  if (!registry.sites) {
    chartUnavailable(figure, 'unavailable', can('GET /api/v1/sites').reason);
    return;
  }
  const sites = registry.sites.slice(0, MAX_SITES_CHARTED);
  if (sites.length === 0) {
    chartUnavailable(figure, 'unavailable', 'No sites are registered yet.');
    return;
  }
  const counts = await Promise.all(
    sites.map(async (site) => {
      const [all, rejected, failed] = await Promise.all([
        countAnalyses({ siteId: site.siteId, from: `${from}T00:00:00Z`, to: `${to}T00:00:00Z` }),
        countAnalyses({
          siteId: site.siteId,
          from: `${from}T00:00:00Z`,
          to: `${to}T00:00:00Z`,
          status: 'rejected',
        }),
        countAnalyses({
          siteId: site.siteId,
          from: `${from}T00:00:00Z`,
          to: `${to}T00:00:00Z`,
          status: 'failed',
        }),
      ]);
      return { site: site.siteId, all, rejected, failed };
    }),
  );
  chartAvailable(figure);
  drawChart(
    figure,
    {
      type: 'bar',
      data: {
        labels: counts.map((c) => c.site),
        datasets: [
          { label: 'analyses', data: counts.map((c) => c.all), ...seriesStyle(0), borderDash: undefined },
        ],
      },
      options: {
        indexAxis: 'y',
        plugins: { legend: { display: false } },
        scales: { x: { beginAtZero: true, title: { display: true, text: 'analyses in the period' } } },
      },
    },
    {
      summary: `Horizontal bars: analyses per site from ${from} to ${to}; most at ${
        [...counts].sort((a, b) => b.all - a.all)[0].site
      } (${fmt.int(Math.max(...counts.map((c) => c.all)))}).${registry.sites.length > MAX_SITES_CHARTED ? ` First ${MAX_SITES_CHARTED} sites only.` : ''}`,
      data: {
        caption: `Analyses per site, ${from} to ${to}`,
        columns: [
          { label: 'Site', value: (c) => c.site, header: true },
          { label: 'Analyses', value: (c) => fmt.int(c.all), numeric: true },
          {
            label: 'Rejected',
            value: (c) => `${fmt.int(c.rejected)} (${fmt.pct(c.all ? c.rejected / c.all : null)})`,
            numeric: true,
          },
          {
            label: 'Failed',
            value: (c) => `${fmt.int(c.failed)} (${fmt.pct(c.all ? c.failed / c.all : null)})`,
            numeric: true,
          },
        ],
        rows: counts,
      },
    },
  );
}

async function renderIngestion() {
  const body = byId('ingestion').querySelector('.body');
  const allowed = can('GET /api/v1/ingestion/stats');
  if (!allowed.ok) {
    notice(
      body,
      'unavailable',
      `${allowed.reason} Ingestion counters span every tenant, so platform operators see them (GET /health shows whether Kafka is reachable).`,
    );
    return;
  }
  const stats = await api('/ingestion/stats');
  const topics = stats.topics ?? [];
  const lagKnown = topics.filter((t) => t.consumerLag !== null && t.consumerLag !== undefined);
  clear(body).append(
    el('p', {
      class: 'muted',
      text: lagKnown.length
        ? `Consumer lag (messages not yet consumed): ${fmt.int(lagKnown.reduce((s, t) => s + t.consumerLag, 0))} in total.`
        : 'Consumer lag is unknown: the broker did not answer the offset query.',
    }),
    table(
      'Per topic',
      [
        { label: 'Topic', value: (t) => t.topic, header: true },
        { label: 'Received', value: (t) => fmt.int(t.received), numeric: true },
        { label: 'Stored', value: (t) => fmt.int(t.stored), numeric: true },
        { label: 'Duplicates', value: (t) => fmt.int(t.duplicates), numeric: true },
        { label: 'Dead-lettered', value: (t) => fmt.int(t.deadLettered), numeric: true },
        {
          label: 'Consumer lag',
          value: (t) => (t.consumerLag === null ? 'unknown' : fmt.int(t.consumerLag)),
          numeric: true,
        },
      ],
      topics,
    ),
  );
}

function renderTiles(rows) {
  const tiles = clear(byId('tiles'));
  const tile = (label, value) =>
    tiles.append(
      el('li', {}, el('span', { class: 'value', text: value }), el('span', { class: 'label', text: label })),
    );
  const { sites, devices, dataSources } = registry;
  if (sites) tile('sites', fmt.int(sites.length));
  if (devices) {
    const revoked = devices.filter((d) => d.revokedAt).length;
    tile(`devices${revoked ? ` (${revoked} revoked)` : ''}`, fmt.int(devices.length));
  }
  if (dataSources) tile('data sources', fmt.int(dataSources.length));
  if (rows) {
    const total = rows.reduce((s, r) => s + r.total, 0);
    tile('analyses in the period', fmt.int(total));
    tile('rejected', fmt.pct(total ? rows.reduce((s, r) => s + r.rejected, 0) / total : null));
    tile('failed', fmt.pct(total ? rows.reduce((s, r) => s + r.failed, 0) / total : null));
  }
}

async function render() {
  document.body.dataset.loaded = 'false';
  const monthsBack = Number(byId('period').value);
  const now = new Date();
  const to = addMonths(`${now.toISOString().slice(0, 7)}-01`, 1);
  const from = addMonths(to, -monthsBack);
  const months = Array.from({ length: monthsBack }, (_, index) => addMonths(from, index));
  const button = byId('filters').querySelector('button');
  button.disabled = true;
  try {
    renderRegistry();
    const [rows] = await Promise.all([
      renderVolumes(months, from, to).catch((error) => {
        for (const id of ['volumes', 'rates']) chartUnavailable(byId(id), 'error', errorText(error));
        return null;
      }),
      renderBySite(from, to).catch((error) => chartUnavailable(byId('by-site'), 'error', errorText(error))),
      renderIngestion().catch((error) =>
        notice(byId('ingestion').querySelector('.body'), 'error', errorText(error)),
      ),
    ]);
    renderTiles(rows);
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
  await loadRegistry();
} catch (error) {
  notice(byId('devices').querySelector('.body'), 'error', errorText(error));
}
await render();
