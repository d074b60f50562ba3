import { createCanvas, GlobalFonts } from '@napi-rs/canvas';
import { BasePlatform, Chart, ChartConfiguration, Plugin, registerables } from 'chart.js';
import type { ReportFigure } from './report-document';
import { reportFont } from './report-fonts';

Chart.register(...registerables);

/** chart.js without a DOM: the canvas is @napi-rs/canvas, sized by us, never resized or animated. */
class ServerPlatform extends BasePlatform {
  override acquireContext(
    canvas: Parameters<BasePlatform['acquireContext']>[0],
  ): ReturnType<BasePlatform['acquireContext']> {
    return canvas.getContext('2d');
  }
}

export const CHART_WIDTH = 1200;
export const CHART_HEIGHT = 640;

let fontFamily: string | null = null;
function chartFont(): string {
  if (!fontFamily) {
    const font = reportFont();
    GlobalFonts.registerFromPath(font.path, 'FieldwatchReport');
    fontFamily = 'FieldwatchReport';
  }
  return fontFamily;
}

/** White page behind the chart (PNG would otherwise be transparent) and a message when there is nothing to draw. */
const background = (empty: string | null): Plugin => ({
  id: 'fwBackground',
  beforeDraw: (chart) => {
    const { ctx, width, height } = chart;
    ctx.save();
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, width, height);
    ctx.restore();
  },
  afterDraw: (chart) => {
    if (!empty) return;
    const { ctx, width, height } = chart;
    ctx.save();
    ctx.fillStyle = '#444444';
    ctx.font = `28px ${chartFont()}`;
    ctx.textAlign = 'center';
    ctx.fillText(empty, width / 2, height / 2);
    ctx.restore();
  },
});

/** Forest plot: a square at each estimate on its confidence-interval bar. */
const forestMarks = (estimates: Array<Array<number | null>>): Plugin => ({
  id: 'fwForestMarks',
  afterDatasetsDraw: (chart) => {
    const { ctx } = chart;
    estimates.forEach((values, datasetIndex) => {
      const meta = chart.getDatasetMeta(datasetIndex);
      values.forEach((value, index) => {
        const element = meta.data[index] as unknown as { y: number } | undefined;
        if (value === null || !element) return;
        const x = chart.scales.x.getPixelForValue(value);
        ctx.save();
        ctx.fillStyle = '#111111';
        ctx.fillRect(x - 5, element.y - 5, 10, 10);
        ctx.restore();
      });
    });
  },
});

function configuration(figure: ReportFigure): {
  config: ChartConfiguration;
  empty: string | null;
  plugins: Plugin[];
} {
  const font = { family: chartFont(), size: 18 };
  const common = {
    animation: false as const,
    responsive: false,
    devicePixelRatio: 1,
    plugins: {
      title: { display: true, text: figure.title, font: { ...font, size: 22 } },
      legend: { labels: { font } },
    },
  };
  const axis = (title: string, extra: Record<string, unknown> = {}) => ({
    title: { display: true, text: title, font },
    ticks: { font },
    ...extra,
  });
  switch (figure.kind) {
    case 'bland-altman': {
      const { points, bias, loa } = figure.data;
      const xs = points.map((p) => p.mean);
      const [xMin, xMax] = xs.length > 0 ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
      const line = (y: number, label: string, color: string) => ({
        type: 'line' as const,
        label,
        data: [
          { x: xMin, y },
          { x: xMax, y },
        ],
        borderColor: color,
        borderDash: [8, 6],
        pointRadius: 0,
        borderWidth: 2,
      });
      return {
        empty: points.length === 0 ? 'No linked vessels in the period' : null,
        plugins: [],
        config: {
          type: 'scatter',
          data: {
            datasets: [
              {
                label: `Linked vessels (n = ${figure.data.n})`,
                data: points.map((p) => ({ x: p.mean, y: p.difference })),
                pointRadius: points.map((p) => Math.min(8, 2 + Math.log10(p.vessels))),
                backgroundColor: 'rgba(31, 119, 180, 0.45)',
              },
              ...(bias !== null ? [line(bias, `Bias ${bias.toFixed(3)}`, '#d62728')] : []),
              ...(loa
                ? [
                    line(loa[0], `Lower LoA ${loa[0].toFixed(3)}`, '#555555'),
                    line(loa[1], `Upper LoA ${loa[1].toFixed(3)}`, '#555555'),
                  ]
                : []),
            ],
          },
          options: {
            ...common,
            scales: { x: axis('Mean of CT-FFR and invasive FFR'), y: axis('CT-FFR − invasive FFR') },
          },
        },
      };
    }
    case 'roc': {
      const { points, auc, ci95 } = figure.data;
      return {
        empty: points.length === 0 ? 'ROC not estimable: both classes are needed' : null,
        plugins: [],
        config: {
          type: 'scatter',
          data: {
            datasets: [
              {
                label:
                  auc !== null
                    ? `AUC ${auc.toFixed(3)}${ci95 ? ` (95% CI ${ci95[0].toFixed(3)}–${ci95[1].toFixed(3)})` : ''}`
                    : 'ROC',
                data: points.map((p) => ({ x: p.fpr, y: p.tpr })),
                showLine: true,
                pointRadius: 0,
                borderColor: '#1f77b4',
                borderWidth: 3,
              },
              {
                label: 'Chance',
                data: [
                  { x: 0, y: 0 },
                  { x: 1, y: 1 },
                ],
                showLine: true,
                pointRadius: 0,
                borderColor: '#999999',
                borderDash: [6, 6],
              },
            ],
          },
          options: {
            ...common,
            scales: {
              x: axis('1 − specificity', { min: 0, max: 1 }),
              y: axis('Sensitivity', { min: 0, max: 1 }),
            },
          },
        },
      };
    }
    case 'forest': {
      const rows = figure.data.rows;
      const bar = (metric: 'sensitivity' | 'specificity', color: string) => ({
        label: `${metric} (95% CI)`,
        data: rows.map((r) => (r[metric] ? r[metric].ci95 : null)),
        backgroundColor: color,
        barThickness: 8,
      });
      return {
        empty: rows.length === 0 ? 'No site with linked vessels' : null,
        plugins: [
          forestMarks([
            rows.map((r) => r.sensitivity?.estimate ?? null),
            rows.map((r) => r.specificity?.estimate ?? null),
          ]),
        ],
        config: {
          type: 'bar',
          data: {
            labels: rows.map((r) => r.key),
            datasets: [
              bar('sensitivity', 'rgba(214, 39, 40, 0.7)'),
              bar('specificity', 'rgba(31, 119, 180, 0.7)'),
            ],
          },
          options: {
            ...common,
            indexAxis: 'y',
            scales: { x: axis('Estimate', { min: 0, max: 1 }), y: axis('Site') },
          },
        },
      };
    }
    case 'incidents-per-month': {
      const { months, serious, nonSerious } = figure.data;
      return {
        empty: null,
        plugins: [],
        config: {
          type: 'bar',
          data: {
            labels: months,
            datasets: [
              { label: 'Serious', data: serious, backgroundColor: '#d62728' },
              { label: 'Non-serious', data: nonSerious, backgroundColor: '#ff9f40' },
            ],
          },
          options: {
            ...common,
            scales: {
              x: axis('Month of awareness', { stacked: true }),
              y: axis('Incidents', { stacked: true, beginAtZero: true, ticks: { font, precision: 0 } }),
            },
          },
        },
      };
    }
    case 'drift-control': {
      const { points } = figure.data;
      return {
        empty: points.length === 0 ? 'No evaluation in the period' : null,
        plugins: [],
        config: {
          type: 'line',
          data: {
            labels: points.map((p) => p.at.slice(0, 10)),
            datasets: [
              {
                label: `${figure.data.monitor} statistic`,
                data: points.map((p) => p.value),
                borderColor: '#1f77b4',
                pointBackgroundColor: points.map((p) => (p.alarm ? '#d62728' : '#1f77b4')),
                pointRadius: 4,
              },
              {
                label: 'Calibrated threshold',
                data: points.map((p) => p.threshold),
                borderColor: '#d62728',
                borderDash: [8, 6],
                pointRadius: 0,
                stepped: true,
              },
            ],
          },
          options: { ...common, scales: { x: axis('Evaluation'), y: axis('Statistic') } },
        },
      };
    }
  }
}

/** Renders one figure of the report to PNG (deterministic: fixed size, no animation, pixel ratio 1). */
export function renderChartPng(figure: ReportFigure): Buffer {
  const canvas = createCanvas(CHART_WIDTH, CHART_HEIGHT);
  const context = canvas.getContext('2d');
  const { config, empty, plugins } = configuration(figure);
  const chart = new Chart(context as unknown as ConstructorParameters<typeof Chart>[0], {
    ...config,
    platform: ServerPlatform,
    plugins: [background(empty), ...plugins],
  });
  try {
    return canvas.toBuffer('image/png');
  } finally {
    chart.destroy();
  }
}
