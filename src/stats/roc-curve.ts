/**
 * Chart data of GET /api/v1/performance from the (CT-FFR, invasive FFR) histogram of the linked vessels — the same
 * cells the AUC (aucFromPairCells) and the Bland–Altman figures are computed from — so the curve drawn and the AUC
 * printed beside it are one computation's two views. Pure.
 *
 *  - rocCurveFromPairCells: the empirical ROC curve as aggregate operating points, one per distinct CT-FFR cut-off
 *    (a vessel is called positive when CT-FFR ≤ cut-off; diseased when invasive FFR ≤ threshold). Joined by straight
 *    segments, its trapezoid area is the Mann–Whitney AUC with ties counted ½ — exactly the DeLong AUC of roc.ts
 *    (a run of tied CT-FFR values is one diagonal segment, whose trapezoid contributes the ½ of each tied pair).
 *  - blandAltmanDensity: the Bland–Altman scatter (mean of the two methods, CT-FFR − invasive FFR) as counts on a
 *    fixed grid, cells with 1 … k − 1 vessels withheld (see the function for why a density and not points).
 */
import { AucNotEstimableReason, NotEstimable } from './roc';
import { assertCells, classCountsByCtFfr, PairCell } from './pair-histogram';

/** One operating point: vessels with CT-FFR ≤ cutOff are called positive. */
export interface RocOperatingPoint {
  /** The CT-FFR cut-off (an observed value); null for the first corner, where no vessel is called positive. */
  readonly cutOff: number | null;
  readonly sensitivity: number;
  /** 1 − specificity. */
  readonly falsePositiveRate: number;
  readonly truePositives: number;
  readonly falsePositives: number;
}

export interface EmpiricalRocCurve {
  readonly estimable: true;
  readonly diseasedVessels: number;
  readonly nonDiseasedVessels: number;
  /** From (0, 0) to (1, 1) by increasing cut-off: the null corner, then one point per distinct CT-FFR value. */
  readonly points: readonly RocOperatingPoint[];
  /** Trapezoid area under `points` (= the DeLong AUC of the same vessels). */
  readonly area: number;
}

/** Area under a ROC polyline by the trapezoid rule, points in order of increasing false-positive rate. */
export function trapezoidArea(
  points: ReadonlyArray<{ readonly falsePositiveRate: number; readonly sensitivity: number }>,
): number {
  let area = 0;
  for (let i = 1; i < points.length; i++) {
    const previous = points[i - 1];
    const current = points[i];
    area +=
      ((current.falsePositiveRate - previous.falsePositiveRate) *
        (current.sensitivity + previous.sensitivity)) /
      2;
  }
  return area;
}

/**
 * The empirical ROC curve of CT-FFR for invasive FFR ≤ threshold. O(k log k) for k distinct CT-FFR values — at
 * most ~100 at the two-decimal precision CT-FFR is reported in, so the response stays small at any volume.
 * The (sensitivity, specificity) pairs are those of rocCurve in roc.ts (checked against pROC `coords`).
 */
export function rocCurveFromPairCells(
  cells: readonly PairCell[],
  threshold: number,
): EmpiricalRocCurve | NotEstimable<AucNotEstimableReason> {
  const classes = classCountsByCtFfr(cells, threshold);
  if (!classes.estimable) return classes;
  const { values, diseased: diseasedVessels, nonDiseased: nonDiseasedVessels } = classes;
  const points: RocOperatingPoint[] = [
    { cutOff: null, sensitivity: 0, falsePositiveRate: 0, truePositives: 0, falsePositives: 0 },
  ];
  let truePositives = 0;
  let falsePositives = 0;
  for (const [cutOff, count] of values) {
    truePositives += count.diseased;
    falsePositives += count.nonDiseased;
    points.push({
      cutOff,
      sensitivity: truePositives / diseasedVessels,
      falsePositiveRate: falsePositives / nonDiseasedVessels,
      truePositives,
      falsePositives,
    });
  }
  return { estimable: true, diseasedVessels, nonDiseasedVessels, points, area: trapezoidArea(points) };
}

// ---------------------------------------------------------------------------------------------------------------------
// Bland–Altman density
// ---------------------------------------------------------------------------------------------------------------------

export interface DensityGrid {
  /** Width of a bin of (CT-FFR + invasive FFR)/2. */
  readonly meanBinWidth: number;
  /** Width of a bin of CT-FFR − invasive FFR. */
  readonly differenceBinWidth: number;
  /** k: a bin holding 1 … k − 1 vessels is withheld. */
  readonly minimumCell: number;
}

/** One released bin, half-open: mean in [meanFrom, meanTo), difference in [differenceFrom, differenceTo). */
export interface DensityBin {
  readonly meanFrom: number;
  readonly meanTo: number;
  readonly differenceFrom: number;
  readonly differenceTo: number;
  readonly vessels: number;
}

export interface BlandAltmanDensity {
  readonly vessels: number;
  readonly meanBinWidth: number;
  readonly differenceBinWidth: number;
  readonly minimumCell: number;
  /** Bins with ≥ k vessels, by mean then difference. Bins not listed hold 0 or 1 … k − 1 vessels. */
  readonly bins: readonly DensityBin[];
  /** Vessels in the withheld bins (where they lie is not released). */
  readonly withheldVessels: number;
}

/** Bin index of a value; the epsilon keeps a value on an edge (0.75 / 0.05 = 14.999…) in the bin it starts. */
const binOf = (value: number, width: number): number => Math.floor(value / width + 1e-9);
/** Bin edges printed without binary noise (15 × 0.05 = 0.7500000000000001). */
const edge = (index: number, width: number): number => Number((index * width).toFixed(10));

/**
 * Why a density and not the points. The Bland–Altman scatter is the place where one unusual patient stands out —
 * a large difference at one site is a point a reader of a dashboard, a screenshot or a PSUR annex can tie to a
 * case. GET /performance serves aggregates (its roles may read rows through /analyses, where access is scoped and
 * purposeful); so its plot shows where the pairs lie as counts on a fixed grid, and a bin with fewer than k vessels
 * is withheld — counted in `withheldVessels`, its position not released — the same k as the evidence queries
 * (FW_EVIDENCE_MIN_CELL, src/evidence/disclosure-control.ts). That module's complementary suppression is not reused:
 * it protects a table whose rows and margins are all released, while here no margin of the grid is released (only
 * the total, whose remainder says how many vessels lie in withheld bins, not where); and the histogram cells carry
 * no patient ids, so k counts vessels. The limits of agreement are computed from every pair, not from this grid.
 * A fixed grid (not one adapted to the data) keeps bins comparable between groups and periods.
 */
export function blandAltmanDensity(cells: readonly PairCell[], grid: DensityGrid): BlandAltmanDensity {
  assertCells(cells);
  const { meanBinWidth, differenceBinWidth, minimumCell } = grid;
  if (!(meanBinWidth > 0) || !(differenceBinWidth > 0)) throw new RangeError('bin widths must be positive');
  if (!(Number.isInteger(minimumCell) && minimumCell >= 1)) {
    throw new RangeError(`minimumCell must be an integer ≥ 1, got ${minimumCell}`);
  }
  const counts = new Map<string, { meanBin: number; differenceBin: number; vessels: number }>();
  let vessels = 0;
  for (const cell of cells) {
    if (cell.vessels === 0) continue;
    const meanBin = binOf((cell.ctFfr + cell.invasiveFfr) / 2, meanBinWidth);
    const differenceBin = binOf(cell.ctFfr - cell.invasiveFfr, differenceBinWidth);
    const key = `${meanBin}|${differenceBin}`;
    const bin = counts.get(key) ?? { meanBin, differenceBin, vessels: 0 };
    bin.vessels += cell.vessels;
    counts.set(key, bin);
    vessels += cell.vessels;
  }
  const released = [...counts.values()]
    .filter((bin) => bin.vessels >= minimumCell)
    .sort((a, b) => a.meanBin - b.meanBin || a.differenceBin - b.differenceBin);
  const releasedVessels = released.reduce((sum, bin) => sum + bin.vessels, 0);
  return {
    vessels,
    meanBinWidth,
    differenceBinWidth,
    minimumCell,
    bins: released.map((bin) => ({
      meanFrom: edge(bin.meanBin, meanBinWidth),
      meanTo: edge(bin.meanBin + 1, meanBinWidth),
      differenceFrom: edge(bin.differenceBin, differenceBinWidth),
      differenceTo: edge(bin.differenceBin + 1, differenceBinWidth),
      vessels: bin.vessels,
    })),
    withheldVessels: vessels - releasedVessels,
  };
}
