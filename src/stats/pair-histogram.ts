/**
 * Exact statistics from a histogram of (CT-FFR, invasive FFR) pairs instead of a list of vessels.
 *
 * Why: at surveillance scale (millions of linked vessels) the performance API cannot ship every vessel to Node and
 * sort it per request. Both values are reported to two decimals (0.01 FFR units), so the distinct pairs number a few
 * thousand whatever the volume: `SELECT ct_ffr, invasive_ffr, count(*) … GROUP BY 1, 2` in PostgreSQL is an O(n)
 * scan, and every statistic below is an exact function of that histogram — no binning, no approximation. Ties are
 * handled exactly as the vessel-list functions do (midranks; ½ for equal CT-FFR in the AUC).
 *
 * Each function here is checked in pair-histogram.spec.ts against its vessel-list twin in this folder (which is
 * itself checked against R and Python oracles) on the committed oracle fixtures, to within 1e-12.
 *
 * What a histogram cannot give: anything that needs to know which vessels share a patient (cluster-adjusted
 * intervals, Obuchowski's AUC, Bland–Altman 2007); those come from per-patient sums (see cluster-sums.ts).
 */
import { studentTCdf, studentTQuantile, twoSidedNormalCritical } from './distributions';
import { fisherZInterval } from './correlation';
import { AucInterval, AucNotEstimableReason, Interval, NotEstimable, waldAucInterval } from './roc';
import { isPositive } from './proportions';

/** How many linked vessels have this CT-FFR and this invasive FFR. */
export interface PairCell {
  readonly ctFfr: number;
  readonly invasiveFfr: number;
  readonly vessels: number;
}

function notEstimable<R extends string>(reason: R, detail: string): NotEstimable<R> {
  return { estimable: false, reason, detail };
}

export function assertCells(cells: readonly PairCell[]): void {
  for (const cell of cells) {
    if (!Number.isFinite(cell.ctFfr) || !Number.isFinite(cell.invasiveFfr)) {
      throw new RangeError(`CT-FFR and FFR must be finite, got ${cell.ctFfr} and ${cell.invasiveFfr}`);
    }
    if (!(Number.isInteger(cell.vessels) && cell.vessels >= 0)) {
      throw new RangeError(`a cell's vessel count must be a non-negative integer, got ${cell.vessels}`);
    }
  }
}

/** Vessels at one CT-FFR value, by the reference standard. */
export interface ClassCounts {
  diseased: number;
  nonDiseased: number;
}

/**
 * The histogram by CT-FFR value, each value's vessels split by invasive FFR at the threshold (diseased ≤ threshold),
 * values ascending, with the class totals — what the AUC and the empirical ROC curve are both computed from; or why
 * neither can be (a class without vessels). Validates the cells.
 */
export function classCountsByCtFfr(
  cells: readonly PairCell[],
  threshold: number,
):
  | { estimable: true; values: Array<[number, ClassCounts]>; diseased: number; nonDiseased: number }
  | NotEstimable<AucNotEstimableReason> {
  assertCells(cells);
  const byValue = new Map<number, ClassCounts>();
  let diseased = 0;
  let nonDiseased = 0;
  for (const cell of cells) {
    if (cell.vessels === 0) continue;
    const entry = byValue.get(cell.ctFfr) ?? { diseased: 0, nonDiseased: 0 };
    if (isPositive(cell.invasiveFfr, threshold)) {
      entry.diseased += cell.vessels;
      diseased += cell.vessels;
    } else {
      entry.nonDiseased += cell.vessels;
      nonDiseased += cell.vessels;
    }
    byValue.set(cell.ctFfr, entry);
  }
  if (diseased + nonDiseased === 0) return notEstimable('no-vessels', 'no linked vessels');
  if (diseased === 0) return notEstimable('no-diseased-vessels', 'no vessel with invasive FFR ≤ threshold');
  if (nonDiseased === 0)
    return notEstimable('no-non-diseased-vessels', 'no vessel with invasive FFR > threshold');
  return { estimable: true, values: [...byValue.entries()].sort(([a], [b]) => a - b), diseased, nonDiseased };
}

/** Total vessels in a histogram. */
export function cellVessels(cells: readonly PairCell[]): number {
  let total = 0;
  for (const cell of cells) total += cell.vessels;
  return total;
}

// ---------------------------------------------------------------------------------------------------------------------
// AUC (DeLong)
// ---------------------------------------------------------------------------------------------------------------------

export interface HistogramAuc {
  readonly estimable: true;
  readonly auc: number;
  readonly diseasedCount: number;
  readonly nonDiseasedCount: number;
  readonly delong: AucInterval | NotEstimable<'fewer-than-two-diseased' | 'fewer-than-two-non-diseased'>;
}

/**
 * AUC of CT-FFR for invasive FFR ≤ threshold with the DeLong (1988) variance, from the histogram (statistics.md §3).
 * The structural component of a diseased vessel depends only on its CT-FFR value v — V10(v) = (#non-diseased with
 * CT-FFR > v + ½·#non-diseased with CT-FFR = v)/N — and likewise V01 for a non-diseased vessel, so the sums over
 * vessels in S10 and S01 become sums over distinct values weighted by their counts. O(k log k) for k distinct values.
 * Equals deLongAuc (pROC `direction = ">"`) exactly.
 */
export function aucFromPairCells(
  cells: readonly PairCell[],
  threshold: number,
  confidenceLevel = 0.95,
): HistogramAuc | NotEstimable<AucNotEstimableReason> {
  twoSidedNormalCritical(confidenceLevel);
  const classes = classCountsByCtFfr(cells, threshold);
  if (!classes.estimable) return classes;
  const { values, diseased: m, nonDiseased: n } = classes;
  // Placements per distinct value: diseased below (for V01) and non-diseased above (for V10).
  const v10 = new Float64Array(values.length);
  const v01 = new Float64Array(values.length);
  let diseasedBelow = 0;
  let nonDiseasedAtOrBelow = 0;
  values.forEach(([, count], i) => {
    nonDiseasedAtOrBelow += count.nonDiseased;
    v10[i] = (n - nonDiseasedAtOrBelow + 0.5 * count.nonDiseased) / n;
    v01[i] = (diseasedBelow + 0.5 * count.diseased) / m;
    diseasedBelow += count.diseased;
  });
  let auc = 0;
  values.forEach(([, count], i) => (auc += count.diseased * v10[i]));
  auc /= m;
  let delong: HistogramAuc['delong'];
  if (m < 2) {
    delong = notEstimable('fewer-than-two-diseased', 'the DeLong variance needs at least 2 diseased units');
  } else if (n < 2) {
    delong = notEstimable(
      'fewer-than-two-non-diseased',
      'the DeLong variance needs at least 2 non-diseased units',
    );
  } else {
    let s10 = 0;
    let s01 = 0;
    values.forEach(([, count], i) => {
      s10 += count.diseased * (v10[i] - auc) * (v10[i] - auc);
      s01 += count.nonDiseased * (v01[i] - auc) * (v01[i] - auc);
    });
    delong = waldAucInterval('delong', auc, s10 / (m - 1) / m + s01 / (n - 1) / n, confidenceLevel);
  }
  return { estimable: true, auc, diseasedCount: m, nonDiseasedCount: n, delong };
}

// ---------------------------------------------------------------------------------------------------------------------
// Weighted centred moments (two passes over the cells: no Σx² − n·x̄² cancellation)
// ---------------------------------------------------------------------------------------------------------------------

interface WeightedPoint {
  readonly x: number;
  readonly y: number;
  readonly weight: number;
}

interface CentredMoments {
  readonly n: number;
  readonly xBar: number;
  readonly yBar: number;
  readonly sxx: number;
  readonly syy: number;
  readonly sxy: number;
}

function centredMoments(points: readonly WeightedPoint[]): CentredMoments {
  let n = 0;
  let sumX = 0;
  let sumY = 0;
  for (const p of points) {
    n += p.weight;
    sumX += p.weight * p.x;
    sumY += p.weight * p.y;
  }
  const xBar = sumX / n;
  const yBar = sumY / n;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  for (const p of points) {
    const dx = p.x - xBar;
    const dy = p.y - yBar;
    sxx += p.weight * dx * dx;
    syy += p.weight * dy * dy;
    sxy += p.weight * dx * dy;
  }
  return { n, xBar, yBar, sxx, syy, sxy };
}

const points = (cells: readonly PairCell[], map: (cell: PairCell) => [number, number]): WeightedPoint[] =>
  cells
    .filter((cell) => cell.vessels > 0)
    .map((cell) => {
      const [x, y] = map(cell);
      return { x, y, weight: cell.vessels };
    });

// ---------------------------------------------------------------------------------------------------------------------
// Bland–Altman (classic and regression-based) from the histogram
// ---------------------------------------------------------------------------------------------------------------------

export interface HistogramBlandAltman {
  readonly estimable: true;
  readonly pairs: number;
  readonly bias: number;
  readonly sd: number;
  readonly biasCi: Interval;
  readonly limitsOfAgreement: Interval;
  readonly lowerLimitCi: Interval;
  readonly upperLimitCi: Interval;
}

/**
 * Classic Bland–Altman limits with their exact-t CIs (the same formulas as classicBlandAltman in agreement.ts:
 * SE(bias) = s/√n, SE(limit) = s·√(1/n + z²/(2(n − 1))), t on n − 1 df), d = CT-FFR − invasive FFR.
 */
export function blandAltmanFromPairCells(
  cells: readonly PairCell[],
  coverage = 0.95,
  confidenceLevel = 0.95,
): HistogramBlandAltman | NotEstimable<'fewer-than-two-pairs'> {
  assertCells(cells);
  const differences = points(cells, (cell) => [cell.ctFfr - cell.invasiveFfr, 0]);
  const moments = centredMoments(differences);
  const n = moments.n;
  if (!(n >= 2)) {
    return notEstimable(
      'fewer-than-two-pairs',
      `the SD of differences needs at least 2 pairs, got ${n || 0}`,
    );
  }
  const z = twoSidedNormalCritical(coverage);
  const bias = moments.xBar;
  const sd = Math.sqrt(moments.sxx / (n - 1));
  const t = studentTQuantile(1 - (1 - confidenceLevel) / 2, n - 1);
  const biasSe = sd / Math.sqrt(n);
  const limitSe = sd * Math.sqrt(1 / n + (z * z) / (2 * (n - 1)));
  const lower = bias - z * sd;
  const upper = bias + z * sd;
  return {
    estimable: true,
    pairs: n,
    bias,
    sd,
    biasCi: [bias - t * biasSe, bias + t * biasSe],
    limitsOfAgreement: [lower, upper],
    lowerLimitCi: [lower - t * limitSe, lower + t * limitSe],
    upperLimitCi: [upper - t * limitSe, upper + t * limitSe],
  };
}

/** Slope of the differences on the means (Bland & Altman 1999 §3.2): the proportional-bias test of agreement.ts. */
export interface HistogramSlopeTest {
  readonly slope: number;
  readonly ci: Interval;
  readonly pValue: number;
}

export function proportionalBiasFromPairCells(
  cells: readonly PairCell[],
  confidenceLevel = 0.95,
): HistogramSlopeTest | null {
  assertCells(cells);
  const line = points(cells, (cell) => [(cell.ctFfr + cell.invasiveFfr) / 2, cell.ctFfr - cell.invasiveFfr]);
  const moments = centredMoments(line);
  if (moments.n < 3 || moments.sxx === 0) return null;
  const slope = moments.sxy / moments.sxx;
  const intercept = moments.yBar - slope * moments.xBar;
  let rss = 0;
  for (const p of line) {
    const e = p.y - intercept - slope * p.x;
    rss += p.weight * e * e;
  }
  const df = moments.n - 2;
  const slopeSe = Math.sqrt(rss / df) / Math.sqrt(moments.sxx);
  if (!(slopeSe > 0)) return null;
  const tc = studentTQuantile(1 - (1 - confidenceLevel) / 2, df);
  return {
    slope,
    ci: [slope - tc * slopeSe, slope + tc * slopeSe],
    pValue: 2 * studentTCdf(-Math.abs(slope / slopeSe), df),
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// Correlation and calibration
// ---------------------------------------------------------------------------------------------------------------------

export interface HistogramCorrelation {
  readonly estimable: true;
  readonly estimate: number;
  readonly n: number;
  readonly ci95: Interval;
}

type CorrelationNotEstimable = NotEstimable<'too-few-pairs' | 'constant-values'> & { readonly n: number };

function correlation(
  moments: CentredMoments,
  standardError: (n: number) => number,
): HistogramCorrelation | CorrelationNotEstimable {
  const n = moments.n;
  if (!(n >= 4))
    return { ...notEstimable('too-few-pairs', `n = ${n || 0} pairs; Fisher z needs 4`), n: n || 0 };
  if (moments.sxx === 0 || moments.syy === 0) {
    return { ...notEstimable('constant-values', 'one of the variables is constant'), n };
  }
  const r = Math.max(-1, Math.min(1, moments.sxy / Math.sqrt(moments.sxx * moments.syy)));
  return { estimable: true, estimate: r, n, ci95: fisherZInterval(r, standardError(n), 0.95) };
}

/** Pearson r of CT-FFR with invasive FFR, Fisher-z 95% CI with SE = 1/√(n − 3) (as pearsonCorrelation). */
export function pearsonFromPairCells(
  cells: readonly PairCell[],
): HistogramCorrelation | CorrelationNotEstimable {
  assertCells(cells);
  return correlation(
    centredMoments(points(cells, (cell) => [cell.ctFfr, cell.invasiveFfr])),
    (n) => 1 / Math.sqrt(n - 3),
  );
}

/** Midrank of each distinct value given its count (ties share the mean of the ranks they occupy). */
function midranksByValue(counts: Map<number, number>): Map<number, number> {
  const ranks = new Map<number, number>();
  let below = 0;
  for (const [value, count] of [...counts.entries()].sort(([a], [b]) => a - b)) {
    ranks.set(value, below + (count + 1) / 2);
    below += count;
  }
  return ranks;
}

/**
 * Spearman ρ = Pearson r of the midranks (statistics.md §7) with the Fieller SE √(1.06/(n − 3)), as
 * spearmanCorrelation's default. The midrank of a value is fixed by the marginal counts, so the histogram suffices.
 */
export function spearmanFromPairCells(
  cells: readonly PairCell[],
): HistogramCorrelation | CorrelationNotEstimable {
  assertCells(cells);
  const ctCounts = new Map<number, number>();
  const ffrCounts = new Map<number, number>();
  for (const cell of cells) {
    if (cell.vessels === 0) continue;
    ctCounts.set(cell.ctFfr, (ctCounts.get(cell.ctFfr) ?? 0) + cell.vessels);
    ffrCounts.set(cell.invasiveFfr, (ffrCounts.get(cell.invasiveFfr) ?? 0) + cell.vessels);
  }
  const ctRank = midranksByValue(ctCounts);
  const ffrRank = midranksByValue(ffrCounts);
  return correlation(
    centredMoments(points(cells, (cell) => [ctRank.get(cell.ctFfr)!, ffrRank.get(cell.invasiveFfr)!])),
    (n) => Math.sqrt(1.06 / (n - 3)),
  );
}

export interface HistogramCalibration {
  readonly estimable: true;
  readonly n: number;
  readonly intercept: { readonly estimate: number; readonly ci95: Interval };
  readonly slope: { readonly estimate: number; readonly ci95: Interval };
}

/** OLS of invasive FFR on CT-FFR with classical t intervals (calibration.ts without the cluster-robust part). */
export function calibrationFromPairCells(
  cells: readonly PairCell[],
  confidenceLevel = 0.95,
): HistogramCalibration | (NotEstimable<'too-few-vessels' | 'constant-ct-ffr'> & { readonly n: number }) {
  assertCells(cells);
  const pairs = points(cells, (cell) => [cell.ctFfr, cell.invasiveFfr]);
  const moments = centredMoments(pairs);
  const n = moments.n || 0;
  if (n < 3) return { ...notEstimable('too-few-vessels', `n = ${n}: OLS needs 3 vessels`), n };
  if (moments.sxx === 0) return { ...notEstimable('constant-ct-ffr', 'CT-FFR is constant'), n };
  const slope = moments.sxy / moments.sxx;
  const intercept = moments.yBar - slope * moments.xBar;
  let rss = 0;
  for (const p of pairs) {
    const e = p.y - intercept - slope * p.x;
    rss += p.weight * e * e;
  }
  const sigma2 = rss / (n - 2);
  const seSlope = Math.sqrt(sigma2 / moments.sxx);
  const seIntercept = Math.sqrt(sigma2 * (1 / n + (moments.xBar * moments.xBar) / moments.sxx));
  const t = studentTQuantile((1 + confidenceLevel) / 2, n - 2);
  return {
    estimable: true,
    n,
    intercept: { estimate: intercept, ci95: [intercept - t * seIntercept, intercept + t * seIntercept] },
    slope: { estimate: slope, ci95: [slope - t * seSlope, slope + t * seSlope] },
  };
}
