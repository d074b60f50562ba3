// Real-world performance from GET /api/v1/performance: the figures as the API computed them (src/stats, oracle-checked);
// this page computes no statistic, it places the API's estimates and 95% CIs on charts and in tables.
// Filters: product and CTA period are query parameters; a model version or a scanner vendor selects that group of
// groupBy=modelVersion / groupBy=scannerVendor (the API's slices), one of the two at a time.
import {
  api,
  apiAll,
  byId,
  clear,
  el,
  errorText,
  fillSelect,
  figureText,
  fmt,
  startPage,
  table,
} from './common.js';
import { chartAvailable, chartUnavailable, drawChart, seriesStyle } from './charts.js';

const ROUTE = 'GET /api/v1/performance';
const { capabilities } = await startPage();

const METRICS = [
  ['sensitivity', 'Sensitivity'],
  ['specificity', 'Specificity'],
  ['ppv', 'PPV'],
  ['npv', 'NPV'],
  ['accuracy', 'Accuracy'],
];
const CHARTS = ['claims', 'roc', 'bland-altman', 'bland-altman-sites', 'forest'];

const estimable = (figure) => figure && figure.estimate !== null && figure.estimate !== undefined;
const proportionCi = (figure) => figure.ci95.cluster ?? figure.ci95.wilson;

function unavailableEverywhere(kind, text) {
  for (const id of CHARTS) chartUnavailable(byId(id), kind, text);
  clear(byId('tiles'));
  const body = clear(byId('figures').querySelector('.body'));
  body.append(el('p', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status', text }));
}

async function loadProducts() {
  const allowed = capabilities.check('GET /api/v1/products');
  if (!allowed.ok) return [];
  const products = await apiAll('/products');
  fillSelect(
    byId('product'),
    products.map((product) => [product.id, product.name]),
  );
  return products;
}

function currentFilters() {
  return {
    productId: byId('product').value,
    from: byId('from').value ? `${byId('from').value}T00:00:00Z` : undefined,
    to: byId('to').value ? `${byId('to').value}T00:00:00Z` : undefined,
    modelVersion: byId('model-version').value,
    scanner: byId('scanner').value,
  };
}

function renderTiles(figures, label) {
  const tiles = clear(byId('tiles'));
  const tile = (name, value, detail) =>
    tiles.append(
      el(
        'li',
        {},
        el('span', { class: 'value', text: value }),
        el('span', { class: 'label', text: name }),
        detail ? el('span', { class: 'label', text: ` ${detail}` }) : null,
      ),
    );
  tile(`linked vessels (${label})`, fmt.int(figures.vessels), `${fmt.int(figures.patients)} patients`);
  for (const [key, name] of METRICS.slice(0, 2)) {
    const figure = figures[key];
    tile(
      name.toLowerCase(),
      estimable(figure) ? fmt.num(figure.estimate) : 'n too small',
      estimable(figure) ? `95% CI ${fmt.interval(proportionCi(figure))}` : `n = ${figure.n}`,
    );
  }
  const auc = figures.auc;
  tile(
    'AUC',
    estimable(auc) ? fmt.num(auc.estimate) : 'n too small',
    estimable(auc) ? `DeLong ${fmt.interval(auc.ci95.delong)}` : `n = ${auc.n}`,
  );
  const ba = figures.blandAltman;
  tile(
    'bias (CT-FFR − FFR)',
    estimable(ba) || ba.bias !== undefined ? fmt.num(ba.bias) : 'n too small',
    ba.bias !== undefined ? `LoA ${fmt.interval(ba.loa)}` : `n = ${ba.n}`,
  );
}

function renderClaims(claims, figures, label) {
  const figure = byId('claims');
  if (!claims || claims.length === 0) {
    chartUnavailable(
      figure,
      'unavailable',
      claims === null
        ? `GET /api/v1/performance gives no claim comparison for ${label}.`
        : 'The product records no premarket claims to compare with.',
    );
    return;
  }
  chartAvailable(figure);
  const names = claims.map((claim) => (claim.metric === 'auc' ? 'AUC' : claim.metric));
  const fieldFigure = (metric) => figures[metric];
  const fieldCi = (metric) => {
    const f = fieldFigure(metric);
    if (!estimable(f)) return null;
    return metric === 'auc' ? (f.ci95.obuchowski ?? f.ci95.delong) : proportionCi(f);
  };
  const verdict = (claim) =>
    claim.holds === null ? 'not enough data' : claim.holds ? 'holds' : 'DOES NOT HOLD';
  drawChart(
    figure,
    {
      type: 'scatter',
      data: {
        datasets: [
          {
            label: 'premarket claim (95% CI)',
            data: claims.map((claim, i) => ({ x: i - 0.15, y: claim.claimed })),
            errorBars: claims.map((claim) => ({ yMin: claim.claimedCi95[0], yMax: claim.claimedCi95[1] })),
            ...seriesStyle(2),
            pointStyle: 'rect',
            pointRadius: 6,
          },
          {
            label: `field, ${label} (95% CI, clustered)`,
            data: claims.map((claim, i) => ({ x: i + 0.15, y: claim.observed })),
            errorBars: claims.map((claim) => {
              const ci = fieldCi(claim.metric);
              return ci ? { yMin: ci[0], yMax: ci[1] } : null;
            }),
            ...seriesStyle(0),
            pointStyle: 'circle',
            pointRadius: 6,
          },
          {
            label: 'claimed − margin (non-inferiority bound)',
            data: claims.map((claim, i) => ({ x: i, y: claim.claimed - claim.margin })),
            ...seriesStyle(1),
            pointStyle: 'line',
            pointRadius: 18,
            borderWidth: 3,
          },
        ],
      },
      options: {
        scales: {
          x: {
            min: -0.5,
            max: claims.length - 0.5,
            afterBuildTicks: (axis) => {
              axis.ticks = names.map((_, value) => ({ value }));
            },
            ticks: { autoSkip: false, callback: (value) => names[value] ?? '' },
            grid: { display: false },
          },
          y: { min: 0.5, max: 1, title: { display: true, text: 'estimate' } },
        },
      },
    },
    {
      summary: `Claims (${label}): ${claims
        .map(
          (claim, i) =>
            `${names[i]} claimed ${fmt.num(claim.claimed)}, field ${fmt.num(claim.observed)} with lower bound ${fmt.num(claim.observedLowerBound)} against ${fmt.num(claim.claimed - claim.margin)}: ${verdict(claim)}`,
        )
        .join('; ')}.`,
      data: {
        caption: `Premarket claims against the field (${label}), margin ${fmt.num(claims[0].margin, 2)}`,
        columns: [
          { label: 'Metric', value: (c) => (c.metric === 'auc' ? 'AUC' : c.metric), header: true },
          {
            label: 'Claimed (95% CI, n)',
            value: (c) =>
              `${fmt.num(c.claimed)} (${fmt.interval(c.claimedCi95)}; n = ${fmt.int(c.claimedN)})`,
          },
          {
            label: 'Field',
            value: (c) => figureText(fieldFigure(c.metric), c.metric === 'auc' ? 'obuchowski' : 'cluster'),
          },
          { label: 'Field lower bound', value: (c) => fmt.num(c.observedLowerBound), numeric: true },
          { label: 'Claimed − margin', value: (c) => fmt.num(c.claimed - c.margin), numeric: true },
          {
            label: 'Verdict',
            value: (c) =>
              el('span', {
                class: `status ${c.holds === null ? 'warn' : c.holds ? 'holds' : 'fails'}`,
                text: verdict(c),
              }),
          },
          { label: 'Test', value: (c) => c.test },
        ],
        rows: claims,
      },
    },
  );
}

function operatingPoint(figures) {
  const sensitivity = figures.sensitivity;
  const specificity = figures.specificity;
  if (!estimable(sensitivity) || !estimable(specificity)) return null;
  const sensitivityCi = proportionCi(sensitivity);
  const specificityCi = proportionCi(specificity);
  return {
    x: 1 - specificity.estimate,
    y: sensitivity.estimate,
    bar: {
      xMin: 1 - specificityCi[1],
      xMax: 1 - specificityCi[0],
      yMin: sensitivityCi[0],
      yMax: sensitivityCi[1],
    },
  };
}

// The API's empirical ROC curve of the shown vessels (charts.rocCurve): operating points at each distinct CT-FFR
// cut-off, joined by straight segments — the polyline whose trapezoid area is the AUC printed above it.
const rocCurvePoints = (chart) => (chart?.rocCurve?.points ? chart.rocCurve.points : null);

function renderRoc(figures, label, siteGroups, threshold, chart) {
  const figure = byId('roc');
  const point = operatingPoint(figures);
  if (!point) {
    chartUnavailable(
      figure,
      'unavailable',
      `Too few linked vessels (${label}) for sensitivity and specificity: ${figureText(figures.sensitivity)}.`,
    );
    return;
  }
  chartAvailable(figure);
  const sitePoints = siteGroups
    .map((group) => ({ key: group.key, point: operatingPoint(group) }))
    .filter((g) => g.point);
  const curve = rocCurvePoints(chart);
  const auc = figures.auc;
  const aucText = estimable(auc)
    ? `AUC ${fmt.num(auc.estimate)} (DeLong ${fmt.interval(auc.ci95.delong)}${auc.ci95.obuchowski ? `, Obuchowski ${fmt.interval(auc.ci95.obuchowski)}` : ''}; n = ${fmt.int(auc.n)})`
    : `AUC: insufficient data (n = ${auc.n})`;
  drawChart(
    figure,
    {
      type: 'scatter',
      data: {
        datasets: [
          ...(curve
            ? [
                {
                  label: `empirical ROC curve, ${label}`,
                  type: 'line',
                  data: curve.map((p) => ({ x: p.falsePositiveRate, y: p.sensitivity })),
                  ...seriesStyle(2),
                  pointStyle: 'rect',
                  pointRadius: 2,
                  borderWidth: 2,
                  tension: 0,
                },
              ]
            : []),
          {
            label: `${label} at threshold ${threshold} (95% CIs)`,
            data: [{ x: point.x, y: point.y }],
            errorBars: [point.bar],
            ...seriesStyle(0),
            pointRadius: 7,
          },
          {
            label: 'each site',
            data: sitePoints.map((g) => ({ x: g.point.x, y: g.point.y })),
            ...seriesStyle(3),
            pointStyle: 'triangle',
            pointRadius: 5,
          },
          {
            label: 'chance (AUC 0.5)',
            type: 'line',
            data: [
              { x: 0, y: 0 },
              { x: 1, y: 1 },
            ],
            borderColor: '#777',
            borderDash: [4, 4],
            pointRadius: 0,
            borderWidth: 1,
          },
        ],
      },
      options: {
        scales: {
          x: { type: 'linear', min: 0, max: 1, title: { display: true, text: '1 − specificity' } },
          y: { min: 0, max: 1, title: { display: true, text: 'sensitivity' } },
        },
        plugins: { title: { display: true, text: aucText } },
      },
    },
    {
      summary: `${aucText}. ${
        curve
          ? `Empirical ROC curve (${label}): ${curve.length - 1} CT-FFR cut-offs from ${fmt.num(curve[1].cutOff, 2)} to ${fmt.num(curve[curve.length - 1].cutOff, 2)}, area under the drawn curve ${fmt.num(chart.rocCurve.area)}. `
          : `No ROC curve (${label}): ${chart?.rocCurve?.detail ?? 'the API gave no curve for this selection'}. `
      }Operating point (${label}) at CT-FFR ≤ ${threshold}: sensitivity ${fmt.num(point.y)}, specificity ${fmt.num(1 - point.x)}; ${sitePoints.length} sites plotted.`,
      data: {
        caption: curve
          ? `Operating points: each CT-FFR cut-off of the curve (${label}), then each site at the threshold`
          : 'Operating points at the threshold',
        columns: [
          { label: 'Group', value: (r) => r.key, header: true },
          { label: 'CT-FFR ≤', value: (r) => (r.cutOff === undefined ? threshold : fmt.num(r.cutOff, 2)) },
          { label: 'Sensitivity', value: (r) => fmt.num(r.point.y), numeric: true },
          { label: 'Specificity', value: (r) => fmt.num(1 - r.point.x), numeric: true },
        ],
        rows: [
          ...(curve
            ? curve.map((p) => ({
                key: `curve, ${label}`,
                cutOff: p.cutOff,
                point: { x: p.falsePositiveRate, y: p.sensitivity },
              }))
            : [{ key: label, point }]),
          ...sitePoints,
        ],
      },
    },
  );
}

// The Bland–Altman plot proper: difference against mean, as the API's density of the pairs (charts.blandAltmanDensity:
// counts on a fixed 0.05 × 0.05 grid, bins of fewer than k vessels withheld and only counted), with the bias and the
// limits of agreement computed from every pair.
function renderBlandAltmanPlot(figures, label, chart) {
  const figure = byId('bland-altman');
  const density = chart?.blandAltmanDensity;
  const ba = figures.blandAltman;
  const hasLimits = ba && ba.bias !== undefined && ba.estimate !== null;
  if (!density || density.vessels === 0 || !hasLimits) {
    chartUnavailable(
      figure,
      'unavailable',
      `Too few linked pairs (${label}) for a Bland–Altman plot (n = ${ba?.n ?? density?.vessels ?? 0}).`,
    );
    return;
  }
  chartAvailable(figure);
  const largest = Math.max(1, ...density.bins.map((bin) => bin.vessels));
  const centre = (from, to) => (from + to) / 2;
  const binRange = (from, to) => `${fmt.num(from, 2)} to ${fmt.num(to, 2)}`;
  const released = density.bins.reduce((sum, bin) => sum + bin.vessels, 0);
  // The x extent of the released bins (the usual FFR range when every bin is withheld), for the horizontal lines.
  const xFrom = Math.min(0.5, ...density.bins.map((bin) => bin.meanFrom));
  const xTo = Math.max(1, ...density.bins.map((bin) => bin.meanTo));
  const horizontal = (label, value, index, dash) => ({
    label,
    type: 'line',
    data: [
      { x: xFrom, y: value },
      { x: xTo, y: value },
    ],
    ...seriesStyle(index),
    borderDash: dash,
    pointStyle: 'line',
    pointRadius: 0,
    borderWidth: 2,
  });
  const summary = `Bland–Altman plot (${label}): ${fmt.int(density.vessels)} vessel pairs as counts in ${density.bins.length} bins of ${density.meanBinWidth} (mean) × ${density.differenceBinWidth} (difference); ${fmt.int(density.withheldVessels)} pairs lie in bins of fewer than ${density.minimumCell} and are not placed. Bias ${fmt.num(ba.bias)}, limits of agreement ${fmt.interval(ba.loa)} (from every pair).`;
  drawChart(
    figure,
    {
      type: 'bubble',
      data: {
        datasets: [
          {
            label: `vessel pairs per bin (area ∝ count; ${fmt.int(released)} placed)`,
            data: density.bins.map((bin) => ({
              x: centre(bin.meanFrom, bin.meanTo),
              y: centre(bin.differenceFrom, bin.differenceTo),
              r: 3 + 14 * Math.sqrt(bin.vessels / largest),
              vessels: bin.vessels,
            })),
            ...seriesStyle(0),
            backgroundColor: 'rgba(31, 95, 168, 0.35)',
            pointStyle: 'rect',
          },
          horizontal(`bias ${fmt.num(ba.bias)}`, ba.bias, 1, []),
          horizontal(`limits of agreement ${fmt.interval(ba.loa)}`, ba.loa[0], 2, [6, 4]),
          { ...horizontal('upper limit', ba.loa[1], 2, [6, 4]), label: '' },
        ],
      },
      options: {
        scales: {
          x: {
            type: 'linear',
            min: xFrom,
            max: xTo,
            title: { display: true, text: 'mean of CT-FFR and invasive FFR' },
          },
          y: {
            suggestedMin: ba.loa[0] - 0.05,
            suggestedMax: ba.loa[1] + 0.05,
            title: { display: true, text: 'CT-FFR − invasive FFR' },
          },
        },
        plugins: {
          legend: { labels: { filter: (item) => item.text !== '' } },
          tooltip: {
            callbacks: {
              label: (item) =>
                item.raw.vessels === undefined ? item.dataset.label : `${item.raw.vessels} vessel pairs`,
            },
          },
          fwLines: [{ axis: 'y', value: 0, label: 'no difference', color: '#555', dash: [2, 3] }],
        },
      },
    },
    {
      summary,
      data: {
        caption: `Vessel pairs per bin (${label}); ${fmt.int(density.withheldVessels)} pairs in bins of fewer than ${density.minimumCell} are withheld`,
        columns: [
          { label: 'Mean', value: (bin) => binRange(bin.meanFrom, bin.meanTo), header: true },
          { label: 'CT-FFR − FFR', value: (bin) => binRange(bin.differenceFrom, bin.differenceTo) },
          { label: 'Vessel pairs', value: (bin) => fmt.int(bin.vessels), numeric: true },
        ],
        rows: density.bins,
      },
    },
  );
}

function renderBlandAltman(figures, label, siteGroups) {
  const figure = byId('bland-altman-sites');
  const rows = [
    { key: label, ba: figures.blandAltman },
    ...siteGroups.map((g) => ({ key: g.key, ba: g.blandAltman })),
  ];
  const shown = rows.filter((row) => row.ba && row.ba.bias !== undefined && row.ba.estimate !== null);
  if (shown.length === 0) {
    chartUnavailable(
      figure,
      'unavailable',
      `Too few linked pairs (${label}) for Bland–Altman limits (n = ${figures.blandAltman?.n ?? 0}).`,
    );
    return;
  }
  chartAvailable(figure);
  const names = shown.map((row) => row.key);
  const biasCi = (ba) => ba.biasCi95Clustered ?? ba.biasCi95;
  drawChart(
    figure,
    {
      type: 'scatter',
      data: {
        datasets: [
          {
            label: 'bias (95% CI, patient-clustered)',
            data: shown.map((row, i) => ({ x: i, y: row.ba.bias })),
            errorBars: shown.map((row) => ({ yMin: biasCi(row.ba)[0], yMax: biasCi(row.ba)[1] })),
            ...seriesStyle(0),
            pointRadius: 6,
          },
          {
            label: 'lower limit of agreement (95% CI)',
            data: shown.map((row, i) => ({ x: i - 0.12, y: row.ba.loa[0] })),
            errorBars: shown.map((row) => ({ yMin: row.ba.loaCi95.lower[0], yMax: row.ba.loaCi95.lower[1] })),
            ...seriesStyle(1),
            pointStyle: 'triangle',
            pointRotation: 180,
          },
          {
            label: 'upper limit of agreement (95% CI)',
            data: shown.map((row, i) => ({ x: i + 0.12, y: row.ba.loa[1] })),
            errorBars: shown.map((row) => ({ yMin: row.ba.loaCi95.upper[0], yMax: row.ba.loaCi95.upper[1] })),
            ...seriesStyle(1),
            pointStyle: 'triangle',
          },
          {
            label: 'limits, repeated measures (Bland & Altman 2007)',
            data: shown.flatMap((row, i) =>
              row.ba.loaRepeated
                ? [
                    { x: i, y: row.ba.loaRepeated[0] },
                    { x: i, y: row.ba.loaRepeated[1] },
                  ]
                : [],
            ),
            ...seriesStyle(2),
            pointStyle: 'rect',
            pointRadius: 4,
          },
        ],
      },
      options: {
        scales: {
          x: {
            min: -0.5,
            max: shown.length - 0.5,
            afterBuildTicks: (axis) => {
              axis.ticks = names.map((_, value) => ({ value }));
            },
            ticks: { autoSkip: false, callback: (value) => names[value] ?? '' },
            grid: { display: false },
          },
          y: { title: { display: true, text: 'CT-FFR − invasive FFR' } },
        },
        plugins: { fwLines: [{ axis: 'y', value: 0, label: 'no difference', color: '#555', dash: [2, 3] }] },
      },
    },
    {
      summary: `Bland–Altman (${label}): bias ${fmt.num(shown[0].ba.bias)} (95% CI ${fmt.interval(biasCi(shown[0].ba))}), limits of agreement ${fmt.interval(shown[0].ba.loa)}, n = ${fmt.int(shown[0].ba.n)} vessel pairs; the same for ${shown.length - 1} sites beside it.`,
      data: {
        caption: 'Bland–Altman figures (difference = CT-FFR − invasive FFR)',
        columns: [
          { label: 'Group', value: (r) => r.key, header: true },
          { label: 'n pairs', value: (r) => fmt.int(r.ba.n), numeric: true },
          {
            label: 'Bias (95% CI)',
            value: (r) =>
              r.ba.bias === undefined
                ? `insufficient data (n = ${r.ba.n})`
                : `${fmt.num(r.ba.bias)} (${fmt.interval(biasCi(r.ba))})`,
          },
          { label: 'Limits of agreement', value: (r) => (r.ba.loa ? fmt.interval(r.ba.loa) : '—') },
          {
            label: 'Repeated-measures limits',
            value: (r) => (r.ba.loaRepeated ? fmt.interval(r.ba.loaRepeated) : '—'),
          },
        ],
        rows,
      },
    },
  );
}

function renderForest(siteGroups, overall, claims) {
  const figure = byId('forest');
  const groups = [{ key: 'All sites', ...overall }, ...siteGroups];
  const plotted = groups.filter((g) => estimable(g.sensitivity) || estimable(g.specificity));
  if (plotted.length <= 1 && siteGroups.length === 0) {
    chartUnavailable(figure, 'unavailable', 'No site has linked vessels in this selection.');
    return;
  }
  chartAvailable(figure);
  const names = plotted.map((g) => g.key);
  const series = (metric, index, offset, pointStyle) => ({
    label: `${metric} (95% CI, clustered)`,
    data: plotted
      .map((g, i) => (estimable(g[metric]) ? { x: g[metric].estimate, y: i + offset } : null))
      .filter(Boolean),
    errorBars: plotted
      .filter((g) => estimable(g[metric]))
      .map((g) => ({ xMin: proportionCi(g[metric])[0], xMax: proportionCi(g[metric])[1] })),
    ...seriesStyle(index),
    pointStyle,
    pointRadius: 5,
  });
  const claimed = (metric) => claims?.find((c) => c.metric === metric)?.claimed;
  const omitted = groups.length - plotted.length;
  drawChart(
    figure,
    {
      type: 'scatter',
      data: {
        datasets: [series('sensitivity', 0, -0.15, 'circle'), series('specificity', 1, 0.15, 'triangle')],
      },
      options: {
        scales: {
          x: { min: 0, max: 1, title: { display: true, text: 'estimate' } },
          y: {
            reverse: true,
            min: -0.5,
            max: plotted.length - 0.5,
            afterBuildTicks: (axis) => {
              axis.ticks = names.map((_, value) => ({ value }));
            },
            ticks: { autoSkip: false, callback: (value) => names[value] ?? '' },
            grid: { display: false },
          },
        },
        plugins: {
          fwLines: [
            {
              axis: 'x',
              value: claimed('sensitivity'),
              label: 'claimed sens.',
              color: '#1f5fa8',
              dash: [6, 4],
            },
            {
              axis: 'x',
              value: claimed('specificity'),
              label: 'claimed spec.',
              color: '#c0392b',
              dash: [2, 3],
            },
          ],
        },
      },
    },
    {
      summary: `Forest plot: sensitivity (circles) and specificity (triangles) with patient-clustered 95% CIs for all sites together and ${plotted.length - 1} sites${omitted ? `; ${omitted} sites have too few linked vessels and are listed in the table only` : ''}. Dashed lines mark the premarket claims.`,
      data: {
        caption: 'Per site (the CTA period of the filters)',
        columns: [
          { label: 'Site', value: (g) => g.key, header: true },
          { label: 'Vessels', value: (g) => fmt.int(g.vessels), numeric: true },
          { label: 'Patients', value: (g) => fmt.int(g.patients), numeric: true },
          { label: 'Sensitivity', value: (g) => figureText(g.sensitivity) },
          { label: 'Specificity', value: (g) => figureText(g.specificity) },
        ],
        rows: groups,
      },
    },
  );
}

function renderAllFigures(response, figures, label) {
  const body = clear(byId('figures').querySelector('.body'));
  const rows = [
    ...METRICS.map(([key, name]) => ({ name, figure: figures[key], kind: 'proportion' })),
    { name: 'AUC', figure: figures.auc, kind: 'auc' },
    { name: 'Pearson r', figure: figures.pearson, kind: 'corr' },
    { name: 'Spearman ρ', figure: figures.spearman, kind: 'corr' },
  ];
  const ci = (row, name) => {
    if (!estimable(row.figure)) return '—';
    if (row.kind === 'proportion')
      return fmt.interval(
        row.figure.ci95[name === 'cluster' ? 'cluster' : name === 'exact' ? 'clopperPearson' : 'wilson'],
      );
    if (row.kind === 'auc')
      return fmt.interval(name === 'cluster' ? row.figure.ci95.obuchowski : row.figure.ci95.delong);
    return name === 'wilson' ? fmt.interval(row.figure.ci95) : '—';
  };
  body.append(
    el('p', {
      class: 'muted',
      text: `${label}; threshold CT-FFR and FFR ≤ ${response.threshold}; ${response.linkage.linkedVessels} linked vessels (${response.linkage.rule}); answered by detail=${response.detail}. Verification-bias corrected (Begg–Greenes): sensitivity ${figureText(response.verificationBias?.sensitivity, 'bootstrap')}, specificity ${figureText(response.verificationBias?.specificity, 'bootstrap')}.`,
    }),
    table(
      `Figures (${label}), TP ${figures.tp} · FP ${figures.fp} · TN ${figures.tn} · FN ${figures.fn}`,
      [
        { label: 'Figure', value: (r) => r.name, header: true },
        {
          label: 'Estimate',
          value: (r) => (estimable(r.figure) ? fmt.num(r.figure.estimate) : `insufficient data`),
          numeric: true,
        },
        { label: 'n', value: (r) => fmt.int(r.figure?.n), numeric: true },
        { label: '95% CI (Wilson / DeLong / Fisher z)', value: (r) => ci(r, 'wilson') },
        { label: '95% CI (Clopper–Pearson)', value: (r) => (r.kind === 'proportion' ? ci(r, 'exact') : '—') },
        { label: '95% CI (patient-clustered / Obuchowski)', value: (r) => ci(r, 'cluster') },
      ],
      rows,
    ),
  );
}

let lastGroups = { modelVersion: [], scannerVendor: [] };
/** The API's answers for the product and period last shown. */
let answers = null;

async function render() {
  document.body.dataset.loaded = 'false';
  const allowed = capabilities.check(ROUTE);
  if (!allowed.ok) {
    unavailableEverywhere('unavailable', allowed.reason);
    return;
  }
  const filters = currentFilters();
  if (!filters.productId) {
    unavailableEverywhere('unavailable', 'No product is registered for your organisation yet.');
    return;
  }
  const base = { productId: filters.productId, from: filters.from, to: filters.to };
  const button = byId('filters').querySelector('button');
  button.disabled = true;
  try {
    const key = JSON.stringify(base);
    if (!answers || answers.key !== key) {
      // One request at a time: detail=full runs in a bounded worker pool (503 beyond it). Every groupBy answer also
      // carries `overall` and `claims`, so three requests serve the whole page; changing only the model version or the
      // scanner re-uses them (the same product and period).
      const bySite = await api('/performance', { ...base, groupBy: 'site' });
      const byModel = await api('/performance', { ...base, groupBy: 'modelVersion' });
      const byScanner = await api('/performance', { ...base, groupBy: 'scannerVendor' });
      answers = { key, bySite, byModel, byScanner };
    }
    const { bySite, byModel, byScanner } = answers;
    const overall = bySite;
    lastGroups = { modelVersion: byModel.groups ?? [], scannerVendor: byScanner.groups ?? [] };
    fillSelect(byId('model-version'), [
      ['', 'All model versions'],
      ...lastGroups.modelVersion.map((g) => [g.key, `${g.key} (${g.vessels} vessels)`]),
    ]);
    fillSelect(byId('scanner'), [
      ['', 'All scanners'],
      ...lastGroups.scannerVendor.map((g) => [g.key, `${g.key} (${g.vessels} vessels)`]),
    ]);
    let figures = overall.overall;
    let claims = overall.claims;
    let chart = overall.charts?.overall ?? null;
    let label = 'all vessels';
    const slice = filters.modelVersion
      ? lastGroups.modelVersion.find((g) => g.key === filters.modelVersion)
      : filters.scanner
        ? lastGroups.scannerVendor.find((g) => g.key === filters.scanner)
        : null;
    if (slice) {
      figures = slice;
      // null: the API compared no claim for this group, and the page does not make one up.
      claims = slice.claims ?? null;
      label = filters.modelVersion ? `model version ${slice.key}` : `scanner ${slice.key}`;
      const sliced = filters.modelVersion ? byModel : byScanner;
      chart = sliced.charts?.groups?.find((g) => g.key === slice.key) ?? null;
    } else if (filters.modelVersion || filters.scanner) {
      label = 'all vessels (the chosen group has no linked vessels in this period)';
    }
    byId('slice-note').textContent =
      `Showing ${label}${filters.from || filters.to ? `, CTA ${filters.from?.slice(0, 10) ?? 'start'} to ${filters.to?.slice(0, 10) ?? 'now'}` : ', whole history'}.`;
    const sites = bySite.groups ?? [];
    renderTiles(figures, label);
    renderClaims(claims, figures, label);
    renderRoc(figures, label, sites, overall.threshold, chart);
    renderBlandAltmanPlot(figures, label, chart);
    renderBlandAltman(figures, label, sites);
    renderForest(sites, overall.overall, overall.claims);
    renderAllFigures(overall, figures, label);
  } catch (error) {
    unavailableEverywhere('error', errorText(error));
  } finally {
    button.disabled = false;
    document.body.dataset.loaded = 'true';
  }
}

// One slicing at a time: the API groups by model version or by scanner, not by both together.
byId('model-version').addEventListener('change', () => {
  if (byId('model-version').value) byId('scanner').value = '';
});
byId('scanner').addEventListener('change', () => {
  if (byId('scanner').value) byId('model-version').value = '';
});
byId('filters').addEventListener('submit', (event) => {
  event.preventDefault();
  void render();
});

try {
  await loadProducts();
} catch (error) {
  unavailableEverywhere('error', errorText(error));
}
await render();
