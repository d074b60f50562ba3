/**
 * Drift statistics between a reference window and a current window — the numbers only; thresholds, p-values and the
 * alarm decision are in drift.ts. Pure functions, no dependencies beyond distributions.ts.
 *
 * Every convention that changes a number is pinned here (reference/drift-methods.md §2 lists how the open-source tools
 * differ) and is returned with the result where it applies:
 *
 * | Statistic | Convention |
 * |---|---|
 * | bins of PSI / JS (numeric) | **reference quantile bins**: B = 10 by default; interior edges = the reference's type-7 quantiles (R `quantile(type = 7)` = numpy `quantile(method='linear')`) at i/B, i = 1…B−1; **duplicate edges are merged** (heavily tied features get fewer bins — the effective B is returned); outer edges −∞/+∞ so every current value has a bin; bins are **right-closed**, (e_{i−1}, e_i] (R `cut(right = TRUE)`, `findInterval(left.open = TRUE)`, numpy `searchsorted(side='left')`). Bins depend on the reference only, never on the current window. |
 * | empty bins (PSI) | default **floor ε = 1e-4**: a bin with count 0 gets proportion 1e-4, non-empty bins keep count/n, no renormalisation (Evidently's constant; statistics.md §13 simulated with it). Alternative: pseudocount a on every bin, (count + a)/(n + a·B) (a = 0.5 Jeffreys, 1 Laplace). |
 * | PSI | Σ (q_i − p_i)·ln(q_i/p_i), p = reference, q = current, **natural log** (= KL(q‖p) + KL(p‖q), nats) |
 * | JS | Jensen–Shannon **distance** √(½KL(p‖m) + ½KL(q‖m)), m = (p+q)/2, on the **unsmoothed** bin proportions (0·ln 0 = 0), **natural log** by default (range [0, √ln 2 ≈ 0.8326]; scipy `jensenshannon` default, Evidently); base 2 on request (range [0, 1], NannyML) |
 * | Wasserstein | W1 = ∫|F_ref − F_cur| dx on the raw values (scipy `wasserstein_distance`); **normalised = W1 / max(SD_ref, 0.001)** with SD_ref the **population SD (ddof = 0)** of the reference (Evidently's "normed Wasserstein"), i.e. W1 in reference-SD units |
 * | χ² (categorical) | Pearson test of **homogeneity** on the 2×K table (reference, current) × categories present in either sample (scipy `chi2_contingency(correction=False)`, R `chisq.test(correct = FALSE)`), df = K − 1, **no continuity correction**; K = 1 gives χ² = 0, p = 1 |
 * | proportion shift | two-proportion **z-test with pooled SE** (= χ² 2×2 without correction; statsmodels `proportions_ztest`), or **Fisher's exact** (R `fisher.test` two-sided: tables with probability ≤ P(observed)·(1 + 1e-7)); 'auto' uses Fisher when an expected cell count is < 5 (Cochran). Effect size: difference current − reference with the Newcombe hybrid-score 95% interval (method 10) |
 *
 * Ties: the quantile bins, W1 and KS (drift-ks.ts) treat tied values exactly; categorical data go through the
 * count-based functions.
 */
import { chiSquareSurvival, logGamma, normalCdf, normalSurvival, Z_95 } from './distributions';

const { abs, floor, log, max, min, sqrt } = Math;

// ---------------------------------------------------------------------------------------------------------------------
// Input checking and sorting
// ---------------------------------------------------------------------------------------------------------------------

/** Sorted copy of a numeric sample; throws on a non-finite value. */
export function sortedSample(values: ArrayLike<number>, label = 'sample'): Float64Array {
  const n = values.length;
  const out = new Float64Array(n);
  let sorted = true;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) throw new RangeError(`${label} values must be finite, got ${v}`);
    out[i] = v;
    if (i > 0 && v < out[i - 1]) sorted = false;
  }
  return sorted ? out : out.sort();
}

/** Merge two sorted samples into one sorted array, O(n + m). */
export function mergeSorted(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const out = new Float64Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) out[k++] = a[i] <= b[j] ? a[i++] : b[j++];
  while (i < a.length) out[k++] = a[i++];
  while (j < b.length) out[k++] = b[j++];
  return out;
}

function assertNonEmpty(values: ArrayLike<number>, label: string): void {
  if (values.length === 0) throw new RangeError(`${label} is empty`);
}

// ---------------------------------------------------------------------------------------------------------------------
// Reference quantile bins
// ---------------------------------------------------------------------------------------------------------------------

/** Default number of reference quantile bins (deciles). */
export const DEFAULT_BINS = 10;

/**
 * Bins (−∞, e_1], (e_1, e_2], …, (e_{B−1}, +∞) from the reference. `edges` are the distinct interior cut points,
 * ascending; the number of bins is edges.length + 1 (≤ `requestedBins` when reference quantiles coincide).
 */
export interface QuantileBinning {
  readonly edges: readonly number[];
  readonly requestedBins: number;
}

/**
 * Type-7 quantile of a sorted sample at probability p: x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]), h = (n − 1)·p
 * (R type 7, numpy 'linear'); exactly x[⌊h⌋] when the neighbours are equal.
 */
export function quantileType7(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  assertNonEmpty(sorted, 'sample');
  const h = (n - 1) * p;
  const lo = floor(h);
  if (lo >= n - 1) return sorted[n - 1];
  const a = sorted[lo];
  const b = sorted[lo + 1];
  const frac = h - lo;
  return frac === 0 || a === b ? a : a + frac * (b - a);
}

function assertBins(bins: number): void {
  if (!(Number.isInteger(bins) && bins >= 2))
    throw new RangeError(`bins must be an integer ≥ 2, got ${bins}`);
}

/** Reference quantile bins from a **sorted** reference (see the file header for the convention). */
export function quantileBinsSorted(sortedReference: ArrayLike<number>, bins = DEFAULT_BINS): QuantileBinning {
  assertBins(bins);
  assertNonEmpty(sortedReference, 'reference');
  const edges: number[] = [];
  for (let i = 1; i < bins; i++) {
    const e = quantileType7(sortedReference, i / bins);
    if (edges.length === 0 || e > edges[edges.length - 1]) edges.push(e);
  }
  return { edges, requestedBins: bins };
}

/** Reference quantile bins (B = 10 deciles by default) — the bins of PSI and JS for a numeric feature. */
export function referenceQuantileBins(reference: ArrayLike<number>, bins = DEFAULT_BINS): QuantileBinning {
  return quantileBinsSorted(sortedSample(reference, 'reference'), bins);
}

/** Index of the right-closed bin (e_{i−1}, e_i] holding v = number of edges strictly below v. */
export function binIndex(edges: readonly number[], v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (edges[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Counts per bin of any sample (unsorted is fine). */
export function binCounts(values: ArrayLike<number>, binning: QuantileBinning): number[] {
  const counts = new Array<number>(binning.edges.length + 1).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) throw new RangeError(`values must be finite, got ${v}`);
    counts[binIndex(binning.edges, v)]++;
  }
  return counts;
}

/** Counts per bin of a **sorted** sample, O(n + B), written into `out` (length B). */
export function binCountsSorted(
  sorted: ArrayLike<number>,
  edges: readonly number[],
  out: Float64Array,
): void {
  out.fill(0);
  let bin = 0;
  for (let i = 0; i < sorted.length; i++) {
    const v = sorted[i];
    while (bin < edges.length && edges[bin] < v) bin++;
    out[bin]++;
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// PSI
// ---------------------------------------------------------------------------------------------------------------------

/** How an empty bin is kept from making ln(q/p) infinite. */
export type BinSmoothing =
  | { readonly kind: 'floor'; readonly epsilon: number }
  | { readonly kind: 'pseudocount'; readonly value: number };

/** Default: an empty bin's proportion is 1e-4 (Evidently; statistics.md §13). */
export const DEFAULT_PSI_SMOOTHING: BinSmoothing = { kind: 'floor', epsilon: 1e-4 };

function assertSmoothing(s: BinSmoothing): void {
  if (s.kind === 'floor' && !(s.epsilon > 0 && s.epsilon < 1)) {
    throw new RangeError(`floor epsilon must be in (0, 1), got ${s.epsilon}`);
  }
  if (s.kind === 'pseudocount' && !(s.value > 0)) {
    throw new RangeError(`pseudocount must be > 0, got ${s.value}`);
  }
}

function smoothedProportion(count: number, total: number, bins: number, s: BinSmoothing): number {
  if (s.kind === 'floor') return count === 0 ? s.epsilon : count / total;
  return (count + s.value) / (total + s.value * bins);
}

function assertCounts(counts: ArrayLike<number>, label: string): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i];
    if (!(c >= 0 && Number.isFinite(c)))
      throw new RangeError(`${label} counts must be finite and ≥ 0, got ${c}`);
    total += c;
  }
  return total;
}

/**
 * PSI from aligned bin (or category) counts: Σ (q_i − p_i)·ln(q_i/p_i) with smoothed proportions.
 * Both totals must be > 0.
 */
export function psiFromCounts(
  referenceCounts: ArrayLike<number>,
  currentCounts: ArrayLike<number>,
  smoothing: BinSmoothing = DEFAULT_PSI_SMOOTHING,
): number {
  assertSmoothing(smoothing);
  const bins = referenceCounts.length;
  if (currentCounts.length !== bins) throw new RangeError('reference and current counts must be aligned');
  const n = assertCounts(referenceCounts, 'reference');
  const m = assertCounts(currentCounts, 'current');
  if (n === 0 || m === 0) throw new RangeError('PSI needs two non-empty samples');
  return psiFromCountsUnchecked(referenceCounts, currentCounts, n, m, smoothing);
}

function psiFromCountsUnchecked(
  referenceCounts: ArrayLike<number>,
  currentCounts: ArrayLike<number>,
  n: number,
  m: number,
  smoothing: BinSmoothing,
): number {
  const bins = referenceCounts.length;
  let psi = 0;
  for (let i = 0; i < bins; i++) {
    const p = smoothedProportion(referenceCounts[i], n, bins, smoothing);
    const q = smoothedProportion(currentCounts[i], m, bins, smoothing);
    psi += (q - p) * log(q / p);
  }
  return psi;
}

export interface BinnedOptions {
  /** Reference quantile bins, default 10. */
  readonly bins?: number;
}

export interface PsiOptions extends BinnedOptions {
  readonly smoothing?: BinSmoothing;
}

/** PSI of a numeric feature on reference quantile bins (file header). */
export function psi(
  reference: ArrayLike<number>,
  current: ArrayLike<number>,
  options: PsiOptions = {},
): number {
  const ref = sortedSample(reference, 'reference');
  const cur = sortedSample(current, 'current');
  assertNonEmpty(ref, 'reference');
  assertNonEmpty(cur, 'current');
  return psiSorted(ref, cur, options.bins ?? DEFAULT_BINS, options.smoothing ?? DEFAULT_PSI_SMOOTHING);
}

/** PSI from sorted samples (the permutation loops of drift.ts call this). */
export function psiSorted(
  ref: ArrayLike<number>,
  cur: ArrayLike<number>,
  bins: number,
  smoothing: BinSmoothing,
  scratch?: BinScratch,
): number {
  const { refCounts, curCounts } = binBoth(ref, cur, bins, scratch);
  return psiFromCountsUnchecked(refCounts, curCounts, ref.length, cur.length, smoothing);
}

/** Reusable buffers for the binned statistics in permutation loops (replaced when the bin count changes). */
export interface BinScratch {
  refCounts: Float64Array;
  curCounts: Float64Array;
}

function binBoth(
  ref: ArrayLike<number>,
  cur: ArrayLike<number>,
  bins: number,
  scratch?: BinScratch,
): { refCounts: Float64Array; curCounts: Float64Array } {
  const { edges } = quantileBinsSorted(ref, bins);
  const k = edges.length + 1;
  let refCounts: Float64Array;
  let curCounts: Float64Array;
  if (scratch) {
    if (scratch.refCounts.length !== k) {
      scratch.refCounts = new Float64Array(k);
      scratch.curCounts = new Float64Array(k);
    }
    refCounts = scratch.refCounts;
    curCounts = scratch.curCounts;
  } else {
    refCounts = new Float64Array(k);
    curCounts = new Float64Array(k);
  }
  binCountsSorted(ref, edges, refCounts);
  binCountsSorted(cur, edges, curCounts);
  return { refCounts, curCounts };
}

// ---------------------------------------------------------------------------------------------------------------------
// Jensen–Shannon
// ---------------------------------------------------------------------------------------------------------------------

/** Log base of the Jensen–Shannon distance: natural (default, range [0, √ln2]) or 2 (range [0, 1]). */
export type JsBase = 'e' | 2;

function xlogxy(x: number, y: number): number {
  return x === 0 ? 0 : x * log(x / y);
}

/**
 * Jensen–Shannon distance from aligned counts (scipy `jensenshannon(p, q, base)`): proportions p = counts/total,
 * m = (p + q)/2, √((Σ p·ln(p/m) + Σ q·ln(q/m))/2 [/ ln 2]). A rounding-negative divergence is clamped to 0.
 */
export function jensenShannonFromCounts(
  referenceCounts: ArrayLike<number>,
  currentCounts: ArrayLike<number>,
  base: JsBase = 'e',
): number {
  if (currentCounts.length !== referenceCounts.length) {
    throw new RangeError('reference and current counts must be aligned');
  }
  const n = assertCounts(referenceCounts, 'reference');
  const m = assertCounts(currentCounts, 'current');
  if (n === 0 || m === 0) throw new RangeError('the Jensen–Shannon distance needs two non-empty samples');
  return jensenShannonUnchecked(referenceCounts, currentCounts, n, m, base);
}

function jensenShannonUnchecked(
  referenceCounts: ArrayLike<number>,
  currentCounts: ArrayLike<number>,
  n: number,
  m: number,
  base: JsBase,
): number {
  let left = 0;
  let right = 0;
  for (let i = 0; i < referenceCounts.length; i++) {
    const p = referenceCounts[i] / n;
    const q = currentCounts[i] / m;
    const mid = (p + q) / 2;
    left += xlogxy(p, mid);
    right += xlogxy(q, mid);
  }
  let js = left + right;
  if (base === 2) js /= Math.LN2;
  return sqrt(max(0, js / 2));
}

export interface JensenShannonOptions extends BinnedOptions {
  readonly base?: JsBase;
}

/** Jensen–Shannon distance of a numeric feature on reference quantile bins (file header). */
export function jensenShannon(
  reference: ArrayLike<number>,
  current: ArrayLike<number>,
  options: JensenShannonOptions = {},
): number {
  const ref = sortedSample(reference, 'reference');
  const cur = sortedSample(current, 'current');
  assertNonEmpty(ref, 'reference');
  assertNonEmpty(cur, 'current');
  return jensenShannonSorted(ref, cur, options.bins ?? DEFAULT_BINS, options.base ?? 'e');
}

/** Jensen–Shannon distance from sorted samples. */
export function jensenShannonSorted(
  ref: ArrayLike<number>,
  cur: ArrayLike<number>,
  bins: number,
  base: JsBase,
  scratch?: BinScratch,
): number {
  const { refCounts, curCounts } = binBoth(ref, cur, bins, scratch);
  return jensenShannonUnchecked(refCounts, curCounts, ref.length, cur.length, base);
}

// ---------------------------------------------------------------------------------------------------------------------
// Wasserstein-1
// ---------------------------------------------------------------------------------------------------------------------

/** Floor of the reference SD in the normalisation (Evidently: max(std, 0.001)). */
export const WASSERSTEIN_SD_FLOOR = 0.001;

/** W1 = ∫|F_a − F_b| dx from two sorted samples (scipy `wasserstein_distance`, unweighted), O(n + m). */
export function wasserstein1Sorted(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  const m = b.length;
  let i = 0;
  let j = 0;
  let total = 0;
  let previous = min(a[0], b[0]);
  while (i < n || j < m) {
    const v = j >= m || (i < n && a[i] <= b[j]) ? a[i] : b[j];
    // On [previous, v) the ECDFs are i/n and j/m.
    total += abs(i / n - j / m) * (v - previous);
    while (i < n && a[i] === v) i++;
    while (j < m && b[j] === v) j++;
    previous = v;
  }
  return total;
}

/** Population SD (ddof = 0), two-pass. */
export function populationSd(values: ArrayLike<number>): number {
  const n = values.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += values[i];
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i] - mean) * (values[i] - mean);
  return sqrt(ss / n);
}

export interface WassersteinResult {
  /** W1 in the feature's own units. */
  readonly w1: number;
  /** Reference population SD (ddof = 0). */
  readonly referenceSd: number;
  /** W1 / max(referenceSd, 0.001): the drift statistic. */
  readonly normalized: number;
}

/** Normalised Wasserstein-1 (file header): W1 / max(SD_ref (ddof 0), 0.001). */
export function normalizedWasserstein(
  reference: ArrayLike<number>,
  current: ArrayLike<number>,
): WassersteinResult {
  const ref = sortedSample(reference, 'reference');
  const cur = sortedSample(current, 'current');
  assertNonEmpty(ref, 'reference');
  assertNonEmpty(cur, 'current');
  const w1 = wasserstein1Sorted(ref, cur);
  const referenceSd = populationSd(ref);
  return { w1, referenceSd, normalized: w1 / max(referenceSd, WASSERSTEIN_SD_FLOOR) };
}

/** Normalised W1 from sorted samples (permutation loops). */
export function normalizedWassersteinSorted(ref: ArrayLike<number>, cur: ArrayLike<number>): number {
  return wasserstein1Sorted(ref, cur) / max(populationSd(ref), WASSERSTEIN_SD_FLOOR);
}

// ---------------------------------------------------------------------------------------------------------------------
// Categorical counts
// ---------------------------------------------------------------------------------------------------------------------

/** Counts per category (e.g. scanner vendor → analyses). Keys are category labels. */
export type CategoryCounts = Readonly<Record<string, number>>;

/** Tally a list of category labels. */
export function countCategories(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

export interface AlignedCounts {
  /** Categories present (count > 0) in either sample, sorted by code unit order. */
  readonly categories: readonly string[];
  readonly reference: readonly number[];
  readonly current: readonly number[];
}

/** Align two category tallies on the union of categories with a positive total (sorted). */
export function alignCategories(reference: CategoryCounts, current: CategoryCounts): AlignedCounts {
  const keys = new Set<string>();
  for (const [k, v] of Object.entries(reference)) {
    if (!(Number.isFinite(v) && v >= 0))
      throw new RangeError(`reference count of ${k} must be ≥ 0, got ${v}`);
    if (v > 0) keys.add(k);
  }
  for (const [k, v] of Object.entries(current)) {
    if (!(Number.isFinite(v) && v >= 0)) throw new RangeError(`current count of ${k} must be ≥ 0, got ${v}`);
    if (v > 0) keys.add(k);
  }
  const categories = [...keys].sort();
  return {
    categories,
    reference: categories.map((k) => reference[k] ?? 0),
    current: categories.map((k) => current[k] ?? 0),
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// χ² test of homogeneity
// ---------------------------------------------------------------------------------------------------------------------

export interface ChiSquareResult {
  readonly statistic: number;
  readonly df: number;
  readonly pValue: number;
  /** Smallest expected cell count (Cochran's rule asks ≥ 5 for the χ² approximation). */
  readonly minExpected: number;
}

/**
 * Pearson χ² test of homogeneity of two samples over aligned categories (2×K table, no continuity correction).
 * Categories with a zero total are dropped; K ≤ 1 gives χ² = 0, df = 0, p = 1.
 */
export function chiSquareHomogeneity(
  referenceCounts: ArrayLike<number>,
  currentCounts: ArrayLike<number>,
): ChiSquareResult {
  if (currentCounts.length !== referenceCounts.length) {
    throw new RangeError('reference and current counts must be aligned');
  }
  const n = assertCounts(referenceCounts, 'reference');
  const m = assertCounts(currentCounts, 'current');
  if (n === 0 || m === 0) throw new RangeError('the χ² test needs two non-empty samples');
  return chiSquareUnchecked(referenceCounts, currentCounts, n, m);
}

function chiSquareUnchecked(
  referenceCounts: ArrayLike<number>,
  currentCounts: ArrayLike<number>,
  n: number,
  m: number,
): ChiSquareResult {
  const total = n + m;
  let statistic = 0;
  let k = 0;
  let minExpected = Number.POSITIVE_INFINITY;
  for (let i = 0; i < referenceCounts.length; i++) {
    const column = referenceCounts[i] + currentCounts[i];
    if (column === 0) continue;
    k++;
    const eRef = (n * column) / total;
    const eCur = (m * column) / total;
    minExpected = min(minExpected, eRef, eCur);
    statistic += (referenceCounts[i] - eRef) ** 2 / eRef + (currentCounts[i] - eCur) ** 2 / eCur;
  }
  if (k <= 1) return { statistic: 0, df: 0, pValue: 1, minExpected };
  return { statistic, df: k - 1, pValue: chiSquareSurvival(statistic, k - 1), minExpected };
}

/** χ² statistic only (permutation loops). */
export function chiSquareStatisticFromCounts(
  referenceCounts: ArrayLike<number>,
  currentCounts: ArrayLike<number>,
  n: number,
  m: number,
): number {
  return chiSquareUnchecked(referenceCounts, currentCounts, n, m).statistic;
}

// ---------------------------------------------------------------------------------------------------------------------
// Proportion shift (e.g. rejection rate)
// ---------------------------------------------------------------------------------------------------------------------

export interface BinomialCount {
  readonly successes: number;
  readonly trials: number;
}

export type ProportionTestMethod = 'z' | 'fisher' | 'auto';
export type ProportionAlternative = 'two-sided' | 'increase' | 'decrease';

export interface ProportionShiftResult {
  readonly reference: { readonly successes: number; readonly trials: number; readonly proportion: number };
  readonly current: { readonly successes: number; readonly trials: number; readonly proportion: number };
  /** current − reference. */
  readonly difference: number;
  /** Newcombe hybrid-score 95% interval of the difference (current − reference). */
  readonly differenceCi95: readonly [number, number];
  /** Pooled-SE z (current − reference); 0 when the pooled proportion is 0 or 1. Reported for both methods. */
  readonly z: number;
  readonly pValue: number;
  readonly method: 'z' | 'fisher';
  readonly alternative: ProportionAlternative;
  /** Smallest expected cell count of the 2×2 table. */
  readonly minExpected: number;
}

function assertBinomial(c: BinomialCount, label: string): void {
  if (!(Number.isSafeInteger(c.trials) && c.trials > 0)) {
    throw new RangeError(`${label} trials must be a positive integer, got ${c.trials}`);
  }
  if (!(Number.isSafeInteger(c.successes) && c.successes >= 0 && c.successes <= c.trials)) {
    throw new RangeError(`${label} successes must be an integer in [0, trials], got ${c.successes}`);
  }
}

/** Wilson score interval (no continuity correction) at z. */
function wilson(x: number, n: number, z: number): [number, number] {
  const p = x / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return [max(0, centre - half), min(1, centre + half)];
}

/**
 * Newcombe (1998) method 10 hybrid-score interval for p1 − p2 from the two Wilson intervals:
 * [d − √((p1 − l1)² + (u2 − p2)²), d + √((u1 − p1)² + (p2 − l2)²)].
 */
export function newcombeDifferenceInterval(
  x1: number,
  n1: number,
  x2: number,
  n2: number,
  z = Z_95,
): [number, number] {
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const [l1, u1] = wilson(x1, n1, z);
  const [l2, u2] = wilson(x2, n2, z);
  const d = p1 - p2;
  return [d - sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)];
}

function logChoose(n: number, k: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
}

/**
 * Fisher's exact test on the 2×2 table [[a, b], [c, d]] = [[ref successes, ref failures], [cur successes, cur
 * failures]], conditioning on the margins: X = current successes ~ Hypergeometric. two-sided = Σ P(x) over x with
 * P(x) ≤ P(observed)·(1 + 1e-7) (R `fisher.test`); 'increase' = P(X ≥ observed), 'decrease' = P(X ≤ observed).
 */
export function fisherExactPValue(
  reference: BinomialCount,
  current: BinomialCount,
  alternative: ProportionAlternative = 'two-sided',
): number {
  const successes = reference.successes + current.successes;
  const m = current.trials;
  const total = reference.trials + current.trials;
  const lo = max(0, successes - reference.trials);
  const hi = min(successes, m);
  const logDenominator = logChoose(total, m);
  const pmf = (x: number): number =>
    Math.exp(logChoose(successes, x) + logChoose(total - successes, m - x) - logDenominator);
  const observed = current.successes;
  let p = 0;
  if (alternative === 'increase') {
    for (let x = observed; x <= hi; x++) p += pmf(x);
  } else if (alternative === 'decrease') {
    for (let x = lo; x <= observed; x++) p += pmf(x);
  } else {
    const cutoff = pmf(observed) * (1 + 1e-7);
    for (let x = lo; x <= hi; x++) {
      const px = pmf(x);
      if (px <= cutoff) p += px;
    }
  }
  return min(1, p);
}

/**
 * Proportion-shift test, current vs reference (e.g. rejection rate, failure rate, share ≤ 0.80).
 * 'increase' tests H1: p_cur > p_ref (one-sided), 'decrease' the opposite.
 */
export function proportionShift(
  reference: BinomialCount,
  current: BinomialCount,
  options: { readonly method?: ProportionTestMethod; readonly alternative?: ProportionAlternative } = {},
): ProportionShiftResult {
  assertBinomial(reference, 'reference');
  assertBinomial(current, 'current');
  const alternative = options.alternative ?? 'two-sided';
  const n1 = reference.trials;
  const n2 = current.trials;
  const x1 = reference.successes;
  const x2 = current.successes;
  const pooled = (x1 + x2) / (n1 + n2);
  const minExpected = min(n1, n2) * min(pooled, 1 - pooled);
  const method = options.method ?? 'auto';
  const resolved: 'z' | 'fisher' = method === 'auto' ? (minExpected < 5 ? 'fisher' : 'z') : method;
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const se = sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  const z = se > 0 ? (p2 - p1) / se : 0;
  let pValue: number;
  if (resolved === 'fisher') {
    pValue = fisherExactPValue(reference, current, alternative);
  } else if (se === 0) {
    pValue = 1;
  } else if (alternative === 'two-sided') {
    pValue = min(1, 2 * normalSurvival(abs(z)));
  } else if (alternative === 'increase') {
    pValue = normalSurvival(z);
  } else {
    pValue = normalCdf(z);
  }
  const [lower, upper] = newcombeDifferenceInterval(x2, n2, x1, n1);
  return {
    reference: { successes: x1, trials: n1, proportion: p1 },
    current: { successes: x2, trials: n2, proportion: p2 },
    difference: p2 - p1,
    differenceCi95: [lower, upper],
    z,
    pValue,
    method: resolved,
    alternative,
    minExpected,
  };
}
