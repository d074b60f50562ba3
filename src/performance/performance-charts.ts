/**
 * The `charts` block of GET /api/v1/performance: the empirical ROC curve and the Bland–Altman density, per response
 * (`overall`) and per group, computed from the same linked vessels as the figures beside them — the worker's vessels
 * on `detail=full` (full-detail.ts), the roll-ups' exact (CT-FFR, FFR) histogram on `detail=summary`. Pure.
 *
 * A block of its own, beside `overall` and `groups` rather than inside them: DESIGN.md §5 fixes those objects' shape,
 * and the periodic reports store `overall.overall` and `groups[i]` verbatim and verify a report by recomputing it
 * byte for byte (src/reports), so a field added inside them would make every stored report "not match". Reports draw
 * their own charts from the same pair histogram (report-builder.ts rocFigure / blandAltmanFigure).
 */
import { PairCell } from '../stats/pair-histogram';
import { LinkedVessel } from '../stats/proportions';
import {
  BlandAltmanDensity,
  blandAltmanDensity,
  rocCurveFromPairCells,
  RocOperatingPoint,
} from '../stats/roc-curve';
import { InsufficientData } from './performance-report';
import { PERFORMANCE_RULES } from './performance-rules';

/**
 * 0.05 × 0.05 FFR units: CT-FFR and FFR are reported to 0.01, so a bin holds 5 × 5 value pairs; the plot spans about
 * 10 bins of mean (0.5–1.0) and 12 of difference (±0.3), and a few hundred linked vessels — a site's quarter — fill
 * the central bins past k while the sparse tails are withheld.
 */
export const BLAND_ALTMAN_BIN_WIDTH = 0.05;

export interface RocCurveFigure {
  diseasedVessels: number;
  nonDiseasedVessels: number;
  /** Trapezoid area under `points`: equals `auc.estimate` of the same group. */
  area: number;
  points: readonly RocOperatingPoint[];
}

export interface PerformanceCharts {
  /**
   * Operating points (sensitivity, 1 − specificity) at each distinct CT-FFR cut-off. These are aggregate counts by
   * CT-FFR value and reference class — no pair, no site, no patient — and are withheld under the AUC's own minimum.
   */
  rocCurve: RocCurveFigure | InsufficientData;
  /** (mean, CT-FFR − FFR) counts on a fixed grid, bins under k withheld (stats/roc-curve.ts says why). */
  blandAltmanDensity: BlandAltmanDensity;
}

/** The linked vessels of detail=full as the histogram the summary path reads. */
export function pairCellsOf(vessels: readonly LinkedVessel[]): PairCell[] {
  const cells = new Map<string, PairCell>();
  for (const vessel of vessels) {
    const key = `${vessel.ctFfr}|${vessel.invasiveFfr}`;
    const vessels = (cells.get(key)?.vessels ?? 0) + 1;
    cells.set(key, { ctFfr: vessel.ctFfr, invasiveFfr: vessel.invasiveFfr, vessels });
  }
  return [...cells.values()];
}

/**
 * `minimumCell` is the evidence queries' k (FW_EVIDENCE_MIN_CELL): one small-cell rule for every aggregate the
 * platform draws. Groups of one response (sites, model versions) and requests over neighbouring periods can still
 * be differenced against each other bin by bin; the roles that read this route (manufacturer, quality, auditor) may
 * read the tenant's analyses row by row anyway, so the grid guards what a chart, a screenshot or an exported figure
 * shows, not what a determined holder of the role could learn.
 */
export function performanceCharts(
  cells: readonly PairCell[],
  threshold: number,
  minimumCell: number,
): PerformanceCharts {
  const curve = rocCurveFromPairCells(cells, threshold);
  const rocCurve: PerformanceCharts['rocCurve'] =
    curve.estimable &&
    curve.diseasedVessels >= PERFORMANCE_RULES.minimumAucPerClass &&
    curve.nonDiseasedVessels >= PERFORMANCE_RULES.minimumAucPerClass
      ? {
          diseasedVessels: curve.diseasedVessels,
          nonDiseasedVessels: curve.nonDiseasedVessels,
          area: curve.area,
          points: curve.points,
        }
      : {
          estimate: null,
          reason: 'insufficient_data',
          n: curve.estimable ? curve.diseasedVessels + curve.nonDiseasedVessels : cellCount(cells),
          detail: `needs ≥ ${PERFORMANCE_RULES.minimumAucPerClass} diseased and non-diseased vessels`,
        };
  return {
    rocCurve,
    blandAltmanDensity: blandAltmanDensity(cells, {
      meanBinWidth: BLAND_ALTMAN_BIN_WIDTH,
      differenceBinWidth: BLAND_ALTMAN_BIN_WIDTH,
      minimumCell,
    }),
  };
}

function cellCount(cells: readonly PairCell[]): number {
  return cells.reduce((sum, cell) => sum + cell.vessels, 0);
}

/** The response's `charts`: `overall`, and `groups` in the order (and with the keys) of the response's groups. */
export interface PerformanceChartsBlock {
  overall: PerformanceCharts;
  groups?: Array<PerformanceCharts & { key: string }>;
}

export function chartsBlock(
  overall: { pairCells?: readonly PairCell[] },
  groups: ReadonlyArray<{ key: string; pairCells?: readonly PairCell[] }> | null,
  threshold: number,
  minimumCell: number,
): PerformanceChartsBlock {
  return {
    overall: performanceCharts(overall.pairCells ?? [], threshold, minimumCell),
    ...(groups
      ? {
          groups: groups.map((group) => ({
            key: group.key,
            ...performanceCharts(group.pairCells ?? [], threshold, minimumCell),
          })),
        }
      : {}),
  };
}
