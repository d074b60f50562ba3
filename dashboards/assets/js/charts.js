// chart.js (served from this origin, global `Chart`) with what every chart here needs: no animation (reduced motion,
// and a chart is complete as soon as it is drawn), a text alternative (role="img", aria-label, a one-line summary and
// the data as a table), and shapes and dash patterns beside colour, so no series is told apart by colour alone.
import { clear, el, table } from './common.js';

export const PALETTE = [
  '#1f5fa8',
  '#c0392b',
  '#2e7d32',
  '#8e44ad',
  '#b9770e',
  '#117a8b',
  '#5d6d7e',
  '#d35400',
];
export const POINT_STYLES = [
  'circle',
  'triangle',
  'rect',
  'rectRot',
  'crossRot',
  'star',
  'rectRounded',
  'cross',
];
export const DASHES = [[], [6, 4], [2, 3], [10, 3, 2, 3]];

/**
 * Draws `errorBars` given on a dataset (`[{ x?, y?, xMin?, xMax?, yMin?, yMax? }]`, one per data point) as
 * whiskers: the 95% CIs of forest plots and claim charts, which chart.js has no built-in type for.
 */
const errorBarsPlugin = {
  id: 'fwErrorBars',
  afterDatasetsDraw(chart) {
    const { ctx } = chart;
    chart.data.datasets.forEach((dataset, datasetIndex) => {
      if (!dataset.errorBars || !chart.isDatasetVisible(datasetIndex)) return;
      const meta = chart.getDatasetMeta(datasetIndex);
      const xScale = chart.scales[meta.xAxisID];
      const yScale = chart.scales[meta.yAxisID];
      ctx.save();
      ctx.strokeStyle = dataset.borderColor ?? '#333';
      ctx.lineWidth = 1.5;
      dataset.errorBars.forEach((bar, index) => {
        const element = meta.data[index];
        if (!bar || !element) return;
        const { x, y } = element.getProps(['x', 'y'], true);
        ctx.beginPath();
        if (bar.xMin !== undefined && bar.xMin !== null) {
          const from = xScale.getPixelForValue(bar.xMin);
          const to = xScale.getPixelForValue(bar.xMax);
          ctx.moveTo(from, y);
          ctx.lineTo(to, y);
          ctx.moveTo(from, y - 4);
          ctx.lineTo(from, y + 4);
          ctx.moveTo(to, y - 4);
          ctx.lineTo(to, y + 4);
        }
        if (bar.yMin !== undefined && bar.yMin !== null) {
          const from = yScale.getPixelForValue(bar.yMin);
          const to = yScale.getPixelForValue(bar.yMax);
          ctx.moveTo(x, from);
          ctx.lineTo(x, to);
          ctx.moveTo(x - 4, from);
          ctx.lineTo(x + 4, from);
          ctx.moveTo(x - 4, to);
          ctx.lineTo(x + 4, to);
        }
        ctx.stroke();
      });
      ctx.restore();
    });
  },
};

/**
 * Horizontal or vertical reference lines with a label drawn beside them (thresholds, limits of agreement, claims):
 * `options.plugins.fwLines = [{ axis: 'y', value, label, color, dash }]`.
 */
const referenceLinesPlugin = {
  id: 'fwLines',
  afterDatasetsDraw(chart) {
    // Read from the options as given: chart.js hands a plugin its options through a resolver proxy, which is not an
    // array, so a list handed in there never drew.
    const lines = chart.config.options?.plugins?.fwLines;
    if (!Array.isArray(lines)) return;
    const { ctx, chartArea } = chart;
    ctx.save();
    ctx.font = '12px system-ui, sans-serif';
    for (const line of lines) {
      if (line.value === null || line.value === undefined || Number.isNaN(line.value)) continue;
      const scale = chart.scales[line.axis === 'x' ? 'x' : 'y'];
      const position = scale.getPixelForValue(line.value);
      ctx.strokeStyle = line.color ?? '#444';
      ctx.fillStyle = line.color ?? '#444';
      ctx.lineWidth = 1.5;
      ctx.setLineDash(line.dash ?? [6, 4]);
      ctx.beginPath();
      if (line.axis === 'x') {
        if (position < chartArea.left || position > chartArea.right) continue;
        ctx.moveTo(position, chartArea.top);
        ctx.lineTo(position, chartArea.bottom);
        ctx.stroke();
        if (line.label) ctx.fillText(line.label, position + 4, chartArea.top + 12);
      } else {
        if (position < chartArea.top || position > chartArea.bottom) continue;
        ctx.moveTo(chartArea.left, position);
        ctx.lineTo(chartArea.right, position);
        ctx.stroke();
        if (line.label) {
          ctx.textAlign = 'right';
          ctx.fillText(line.label, chartArea.right - 4, position - 4);
          ctx.textAlign = 'left';
        }
      }
    }
    ctx.restore();
  },
};

let configured = false;
function configure() {
  if (configured) return;
  configured = true;
  Chart.register(errorBarsPlugin, referenceLinesPlugin);
  Chart.defaults.animation = false;
  Chart.defaults.responsive = true;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
  Chart.defaults.color = '#1b1f24';
  Chart.defaults.plugins.legend.labels.usePointStyle = true;
}

const charts = new WeakMap();

/**
 * Draws (or redraws in place) a chart in `figure`: a <figure> holding `.chart-box > canvas`, a `.chart-summary`
 * paragraph and a `details.data-table`. `summary` is the chart's text alternative; `data` is `{ caption, columns,
 * rows }` for the table beside it.
 */
export function drawChart(figure, config, { summary, data }) {
  configure();
  const canvas = figure.querySelector('canvas');
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', summary);
  const existing = charts.get(canvas);
  if (existing) {
    // Updated in place: destroying would restore the canvas's style attribute, which this page's CSP refuses.
    existing.config.type = config.type;
    existing.data = config.data;
    existing.options = config.options ?? {};
    existing.update();
  } else {
    charts.set(canvas, new Chart(canvas.getContext('2d'), config));
  }
  const caption = figure.querySelector('.chart-summary');
  if (caption) caption.textContent = summary;
  const details = figure.querySelector('details.data-table');
  if (details && data) {
    clear(details).append(
      el('summary', { text: 'Show the data as a table' }),
      table(data.caption, data.columns, data.rows),
    );
  }
}

/** Marks a chart as empty with the reason in words (the canvas is hidden, so nothing misleading is drawn). */
export function chartUnavailable(figure, kind, text) {
  const box = figure.querySelector('.chart-box');
  box.setAttribute('hidden', '');
  let message = figure.querySelector('.notice');
  if (!message) {
    message = el('p', {});
    box.after(message);
  }
  message.className = `notice ${kind}`;
  message.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  message.textContent = text;
  const caption = figure.querySelector('.chart-summary');
  if (caption) caption.textContent = '';
  const details = figure.querySelector('details.data-table');
  if (details) clear(details);
}

export function chartAvailable(figure) {
  figure.querySelector('.chart-box').removeAttribute('hidden');
  figure.querySelector('.notice')?.remove();
}

export function seriesStyle(index) {
  const color = PALETTE[index % PALETTE.length];
  return {
    borderColor: color,
    backgroundColor: color,
    pointStyle: POINT_STYLES[index % POINT_STYLES.length],
    borderDash: DASHES[index % DASHES.length],
    pointRadius: 4,
  };
}
