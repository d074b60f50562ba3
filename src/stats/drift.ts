/**
 * Drift tests with **calibrated thresholds**: every alarm carries an error-rate contract at the window's actual sizes
 * (DESIGN.md §6; reference/drift-methods.md §3–4). A fixed "PSI ≥ 0.1" or "normalised Wasserstein ≥ 0.1" fires on most
 * small windows with no drift at all; here the threshold of each statistic is derived for a target false-alarm rate
 * α at (n_reference, n_current):
 *
 * | statistic | default calibration | alternatives |
 * |---|---|---|
 * | PSI (numeric, reference deciles) | permutation | asymptotic χ²: PSI_crit = (1/n + 1/m)·χ²_{B−1, 1−α}; reference bootstrap |
 * | Jensen–Shannon distance | permutation | asymptotic χ²: JS_crit = √(χ²_{B−1, 1−α}/(8·n·m/(n+m))) (nats; ÷√ln2 in base 2); bootstrap |
 * | normalised Wasserstein-1 | permutation | reference bootstrap (no distribution-free asymptotic exists) |
 * | KS | scipy `ks_2samp` p-value ('auto': exact ≤ 10,000, else asymptotic) vs α | permutation (exact level with ties) |
 * | χ² homogeneity (categorical) | asymptotic χ²_{K−1} p-value vs α | permutation (multivariate hypergeometric) |
 * | PSI / JS on counts (categorical or pre-binned) | permutation | asymptotic χ² as above |
 * | proportion shift | z (pooled) or Fisher exact p-value vs α | — (drift-statistics.ts `proportionShift`) |
 *
 * **Permutation** (exact level α under exchangeability, ties included): the pooled reference + current values are
 * split at random into groups of the actual sizes n and m, P times (default 999), and the statistic is recomputed on
 * each split **with its conventions re-applied** (reference quantile bins and reference SD are re-derived from the
 * permuted reference). p = (1 + #{T* ≥ T})/(P + 1); alarm ⟺ p ≤ α ⟺ T > threshold, where threshold is the
 * (P − c)-th smallest T* with c = ⌊α(P + 1)⌋ − 1 (requires α(P + 1) ≥ 1; with α(P + 1) an integer the level is exactly
 * α). Random splits come from the `seededRandom(seed)` stream (xoshiro128**; `resamplingRandom`) by a partial Fisher–Yates shuffle of the smaller
 * group's positions, one split after another, so a threshold is reproducible from (data, seed, P).
 *
 * **Reference bootstrap** (threshold from the reference alone, reusable for every window of the same size): both groups
 * are drawn with replacement from the reference (values) or from Multinomial(·, reference proportions) (counts); same
 * order-statistic rule. Approximate (the reference stands in for the in-control distribution).
 *
 * **Asymptotic** (no resampling): Pearson χ² approximations, valid for large windows; at small current windows the
 * 1e-4 empty-bin floor makes PSI's tail heavier than χ² (statistics.md §13: n_cur = 100 → asymptotic 0.178, simulated
 * 95th percentile 0.199), i.e. the asymptotic threshold is anti-conservative there — use permutation.
 *
 * Decision rule, pinned: alarm ⟺ pValue ≤ α. `threshold` + `rule` state the same decision on the statistic's own scale
 * (`'>'`: alarm when statistic > threshold; `'>='`: when statistic ≥ threshold).
 *
 * Windows that cannot reach α at all (e.g. C(n + m, m) < 1/α splits, or KS with D = 1 still p > α) are reported as
 * not estimable rather than as "no drift".
 */
import { chiSquareQuantile, chiSquareSurvival, sampleMultinomial, type SeededRandom } from './distributions';
import { ksCriticalValue, ksStatisticSorted, ksTwoSampleFromStatistic, type KsMethod } from './drift-ks';
import {
  type BinScratch,
  type BinSmoothing,
  type CategoryCounts,
  type JsBase,
  DEFAULT_BINS,
  DEFAULT_PSI_SMOOTHING,
  WASSERSTEIN_SD_FLOOR,
  alignCategories,
  chiSquareHomogeneity,
  chiSquareStatisticFromCounts,
  jensenShannonFromCounts,
  jensenShannonSorted,
  mergeSorted,
  normalizedWassersteinSorted,
  psiFromCounts,
  psiSorted,
  quantileBinsSorted,
  sortedSample,
} from './drift-statistics';

export * from './drift-statistics';
export * from './drift-ks';
export * from './drift-budget';

const { floor, log, max, min, sqrt } = Math;

/** Statistics on raw numeric values. */
export type NumericDriftStatistic = 'psi' | 'jensenShannon' | 'wasserstein' | 'ks';
/** Statistics on counts (categories, or a numeric feature pre-binned on fixed reference bins). */
export type CountsDriftStatistic = 'chiSquare' | 'psi' | 'jensenShannon';
export type DriftStatisticName = NumericDriftStatistic | CountsDriftStatistic;

/** Conventions of the binned statistics (drift-statistics.ts header); defaults 10 bins, ε = 1e-4 floor, natural log. */
export interface StatisticConventions {
  readonly bins?: number;
  readonly smoothing?: BinSmoothing;
  readonly base?: JsBase;
}

export type ThresholdMethod =
  'permutation' | 'bootstrap' | 'chi-square-approximation' | 'ks-exact' | 'ks-asymptotic';

export interface ResamplingRecord {
  readonly draws: number;
  readonly seed: number;
  /** 1-based rank of the threshold among the sorted null values (P − c). */
  readonly thresholdRank: number;
  /** Mean of the null distribution (e.g. E[PSI | no drift] at these sizes). */
  readonly nullMean: number;
}

export interface CalibratedThreshold {
  readonly statistic: DriftStatisticName;
  readonly threshold: number;
  /** alarm ⟺ statistic `rule` threshold. */
  readonly rule: '>' | '>=';
  readonly alpha: number;
  readonly n: { readonly reference: number; readonly current: number };
  readonly method: ThresholdMethod;
  /** χ² degrees of freedom of an asymptotic threshold. */
  readonly df?: number;
  readonly resampling?: ResamplingRecord;
  /** One line saying how the threshold was derived. */
  readonly detail: string;
}

export interface ValuesWindow {
  readonly reference: ArrayLike<number>;
  readonly current: ArrayLike<number>;
}

export interface CountsWindow {
  readonly referenceCounts: ArrayLike<number>;
  readonly currentCounts: ArrayLike<number>;
}

interface ResamplingOptions extends StatisticConventions {
  /** Number of random splits / resamples P (default 999). α(P + 1) must be ≥ 1. */
  readonly permutations?: number;
  /** RNG seed (default 1). */
  readonly seed?: number;
}

export type CalibrationOptions =
  /** χ² approximations (psi, jensenShannon, chiSquare; `cells` = bins or categories, default 10) or KS asymptotic. */
  | { readonly method: 'asymptotic'; readonly cells?: number; readonly base?: JsBase }
  /** KS only: the exact lattice critical value. */
  | { readonly method: 'exact' }
  | ({ readonly method: 'permutation' } & ResamplingOptions & (ValuesWindow | CountsWindow))
  | ({ readonly method: 'bootstrap' } & ResamplingOptions &
      ({ readonly reference: ArrayLike<number> } | { readonly referenceCounts: ArrayLike<number> }));

export const DEFAULT_PERMUTATIONS = 999;
export const DEFAULT_SEED = 1;
export const DEFAULT_ALPHA = 0.05;

function assertAlpha(alpha: number): void {
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be in (0, 1), got ${alpha}`);
}

function assertSize(n: number, label: string): void {
  if (!(Number.isSafeInteger(n) && n > 0))
    throw new RangeError(`${label} must be a positive integer, got ${n}`);
}

// ---------------------------------------------------------------------------------------------------------------------
// Asymptotic thresholds
// ---------------------------------------------------------------------------------------------------------------------

/** Effective size n·m/(n + m) of a two-sample comparison. */
export function effectiveSize(n: number, m: number): number {
  return (n * m) / (n + m);
}

/** PSI_crit = (1/n + 1/m)·χ²_{B−1, 1−α} (statistics.md §13). */
export function psiAsymptoticThreshold(n: number, m: number, alpha: number, bins = DEFAULT_BINS): number {
  assertSize(n, 'reference size');
  assertSize(m, 'current size');
  assertAlpha(alpha);
  if (bins < 2) return Number.POSITIVE_INFINITY;
  return (1 / n + 1 / m) * chiSquareQuantile(1 - alpha, bins - 1);
}

/** P(χ²_{B−1} ≥ PSI·n·m/(n+m)). */
export function psiAsymptoticPValue(value: number, n: number, m: number, bins = DEFAULT_BINS): number {
  if (bins < 2) return 1;
  return chiSquareSurvival(value * effectiveSize(n, m), bins - 1);
}

/** JS-distance threshold from 8·n_e·JSD ≈ χ²_{B−1} (JSD in nats; base 2 divides the distance by √ln2). */
export function jensenShannonAsymptoticThreshold(
  n: number,
  m: number,
  alpha: number,
  bins = DEFAULT_BINS,
  base: JsBase = 'e',
): number {
  assertSize(n, 'reference size');
  assertSize(m, 'current size');
  assertAlpha(alpha);
  if (bins < 2) return Number.POSITIVE_INFINITY;
  const d = sqrt(chiSquareQuantile(1 - alpha, bins - 1) / (8 * effectiveSize(n, m)));
  return base === 2 ? d / sqrt(Math.LN2) : d;
}

/** P(χ²_{B−1} ≥ 8·n_e·JSD) for a JS distance. */
export function jensenShannonAsymptoticPValue(
  distance: number,
  n: number,
  m: number,
  bins = DEFAULT_BINS,
  base: JsBase = 'e',
): number {
  if (bins < 2) return 1;
  const divergenceNats = base === 2 ? distance * distance * Math.LN2 : distance * distance;
  return chiSquareSurvival(8 * effectiveSize(n, m) * divergenceNats, bins - 1);
}

// ---------------------------------------------------------------------------------------------------------------------
// Resampling engines
// ---------------------------------------------------------------------------------------------------------------------

/**
 * The stream of distributions.ts `seededRandom(seed)` (xoshiro128** seeded by splitmix32) — bit for bit, checked in
 * drift.spec.ts — with the state in an Int32Array instead of closure variables: V8 then keeps the 32-bit words unboxed,
 * about 5× faster in the permutation loops (every split draws min(n, m) integers).
 */
export function resamplingRandom(seed: number): SeededRandom {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
  const state = new Int32Array(4);
  let split = (seed ^ floor(seed / 4294967296)) >>> 0;
  for (let i = 0; i < 4; i++) {
    split = (split + 0x9e3779b9) >>> 0;
    let z = split;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    state[i] = z ^ (z >>> 16);
  }
  if ((state[0] | state[1] | state[2] | state[3]) === 0) state[0] = 1;
  const next32 = (): number => {
    const s1 = state[1];
    const x = Math.imul(s1, 5);
    const result = Math.imul((x << 7) | (x >>> 25), 9) >>> 0;
    const t = s1 << 9;
    state[2] ^= state[0];
    state[3] ^= state[1];
    state[1] ^= state[2];
    state[0] ^= state[3];
    state[2] ^= t;
    const s3 = state[3];
    state[3] = (s3 << 11) | (s3 >>> 21);
    return result;
  };
  return {
    nextUniform(): number {
      const high = next32() >>> 5;
      const low = next32() >>> 6;
      return (high * 67108864 + low) / 9007199254740992;
    },
    nextInt(n: number): number {
      if (!(Number.isSafeInteger(n) && n > 0 && n <= 4294967296)) {
        throw new RangeError(`nextInt bound must be an integer in [1, 2^32], got ${n}`);
      }
      const limit = 4294967296 - (4294967296 % n);
      for (;;) {
        const r = next32();
        if (r < limit) return r % n;
      }
    },
  };
}

type SortedStatistic = (ref: Float64Array, cur: Float64Array) => number;
type CountsStatistic = (ref: Float64Array, cur: Float64Array, n: number, m: number) => number;

function numericStatisticFunction(statistic: DriftStatisticName, c: StatisticConventions): SortedStatistic {
  const bins = c.bins ?? DEFAULT_BINS;
  const smoothing = c.smoothing ?? DEFAULT_PSI_SMOOTHING;
  const base = c.base ?? 'e';
  const scratch: BinScratch = { refCounts: new Float64Array(0), curCounts: new Float64Array(0) };
  switch (statistic) {
    case 'psi':
      return (ref, cur) => psiSorted(ref, cur, bins, smoothing, scratch);
    case 'jensenShannon':
      return (ref, cur) => jensenShannonSorted(ref, cur, bins, base, scratch);
    case 'wasserstein':
      return normalizedWassersteinSorted;
    case 'ks':
      return ksStatisticSorted;
    case 'chiSquare':
      throw new RangeError('chiSquare is a statistic of counts; use the counts window');
  }
}

function countsStatisticFunction(statistic: DriftStatisticName, c: StatisticConventions): CountsStatistic {
  const smoothing = c.smoothing ?? DEFAULT_PSI_SMOOTHING;
  const base = c.base ?? 'e';
  switch (statistic) {
    case 'psi':
      return (ref, cur) => psiFromCounts(ref, cur, smoothing);
    case 'jensenShannon':
      return (ref, cur) => jensenShannonFromCounts(ref, cur, base);
    case 'chiSquare':
      return chiSquareStatisticFromCounts;
    case 'wasserstein':
    case 'ks':
      throw new RangeError(`${statistic} needs raw values, not counts`);
  }
}

/**
 * Null distribution of a numeric statistic by random splits of the pooled sorted values into groups of sizes n, m.
 * Each split is O(n + m): the smaller group's positions are drawn by a partial Fisher–Yates shuffle, and both groups
 * come out sorted by one walk over the pooled sorted array.
 */
function permutationNullValues(
  pooledSorted: Float64Array,
  n: number,
  m: number,
  draws: number,
  random: SeededRandom,
  statistic: SortedStatistic,
): Float64Array {
  const total = n + m;
  const small = min(n, m);
  const smallIsCurrent = m <= n;
  const positions = new Int32Array(total);
  for (let i = 0; i < total; i++) positions[i] = i;
  const chosen = new Uint8Array(total);
  const ref = new Float64Array(n);
  const cur = new Float64Array(m);
  const out = new Float64Array(draws);
  for (let d = 0; d < draws; d++) {
    for (let i = 0; i < small; i++) {
      const j = i + random.nextInt(total - i);
      const t = positions[i];
      positions[i] = positions[j];
      positions[j] = t;
      chosen[positions[i]] = 1;
    }
    let r = 0;
    let c = 0;
    for (let i = 0; i < total; i++) {
      const inSmall = chosen[i] === 1;
      if (inSmall === smallIsCurrent) cur[c++] = pooledSorted[i];
      else ref[r++] = pooledSorted[i];
    }
    for (let i = 0; i < small; i++) chosen[positions[i]] = 0;
    out[d] = statistic(ref, cur);
  }
  return out.sort();
}

/** Null distribution by drawing both groups with replacement from the sorted reference. */
function bootstrapNullValues(
  referenceSorted: Float64Array,
  m: number,
  draws: number,
  random: SeededRandom,
  statistic: SortedStatistic,
): Float64Array {
  const n = referenceSorted.length;
  const counts = new Int32Array(n);
  const ref = new Float64Array(n);
  const cur = new Float64Array(m);
  const fill = (target: Float64Array): void => {
    counts.fill(0);
    for (let i = 0; i < target.length; i++) counts[random.nextInt(n)]++;
    let k = 0;
    for (let i = 0; i < n; i++) for (let c = counts[i]; c > 0; c--) target[k++] = referenceSorted[i];
  };
  const out = new Float64Array(draws);
  for (let d = 0; d < draws; d++) {
    fill(ref);
    fill(cur);
    out[d] = statistic(ref, cur);
  }
  return out.sort();
}

/**
 * Hypergeometric variate: successes among `draws` taken without replacement from `total` items of which `good` are
 * successes. Exact inversion, enumerating the support outward from the mode (O(SD) per draw).
 */
export function sampleHypergeometric(
  random: SeededRandom,
  draws: number,
  good: number,
  total: number,
): number {
  const bad = total - good;
  const lo = max(0, draws - bad);
  const hi = min(draws, good);
  if (lo === hi) return lo;
  const mode = min(hi, max(lo, floor(((draws + 1) * (good + 1)) / (total + 2))));
  const logChoose = (a: number, b: number): number => lnFactorial(a) - lnFactorial(b) - lnFactorial(a - b);
  const pMode = Math.exp(logChoose(good, mode) + logChoose(bad, draws - mode) - logChoose(total, draws));
  const u = random.nextUniform();
  let cumulative = pMode;
  if (u < cumulative) return mode;
  let left = mode;
  let right = mode;
  let pLeft = pMode;
  let pRight = pMode;
  while (left > lo || right < hi) {
    if (right < hi) {
      // p(x + 1)/p(x) = (good − x)(draws − x) / ((x + 1)(bad − draws + x + 1))
      pRight *= ((good - right) * (draws - right)) / ((right + 1) * (bad - draws + right + 1));
      right++;
      cumulative += pRight;
      if (u < cumulative) return right;
    }
    if (left > lo) {
      // p(x − 1)/p(x) = x(bad − draws + x) / ((good − x + 1)(draws − x + 1))
      pLeft *= (left * (bad - draws + left)) / ((good - left + 1) * (draws - left + 1));
      left--;
      cumulative += pLeft;
      if (u < cumulative) return left;
    }
  }
  return mode; // rounding left u beyond the total mass (≈1e-16): the mode is as good as any
}

const lnFactorialCache: number[] = [0];
function lnFactorial(k: number): number {
  if (k < 1024) {
    while (lnFactorialCache.length <= k) {
      const i = lnFactorialCache.length;
      lnFactorialCache.push(lnFactorialCache[i - 1] + log(i));
    }
    return lnFactorialCache[k];
  }
  // Stirling with three correction terms (|error| < 1e-16 relative for k ≥ 1024).
  const x = k + 1;
  return (
    (x - 0.5) * log(x) - x + 0.5 * log(2 * Math.PI) + 1 / (12 * x) - 1 / (360 * x ** 3) + 1 / (1260 * x ** 5)
  );
}

/** Null distribution of a counts statistic by random re-allocation of the pooled counts (multivariate hypergeometric). */
function permutationNullCounts(
  pooled: Float64Array,
  n: number,
  m: number,
  draws: number,
  random: SeededRandom,
  statistic: CountsStatistic,
): Float64Array {
  const k = pooled.length;
  const ref = new Float64Array(k);
  const cur = new Float64Array(k);
  const out = new Float64Array(draws);
  const small = min(n, m);
  const smallIsCurrent = m <= n;
  for (let d = 0; d < draws; d++) {
    let remainingDraws = small;
    let remainingTotal = n + m;
    for (let i = 0; i < k; i++) {
      const x =
        i === k - 1
          ? remainingDraws
          : sampleHypergeometric(random, remainingDraws, pooled[i], remainingTotal);
      const other = pooled[i] - x;
      if (smallIsCurrent) {
        cur[i] = x;
        ref[i] = other;
      } else {
        ref[i] = x;
        cur[i] = other;
      }
      remainingDraws -= x;
      remainingTotal -= pooled[i];
    }
    out[d] = statistic(ref, cur, n, m);
  }
  return out.sort();
}

/** Null distribution of a counts statistic with both groups Multinomial(size, reference proportions). */
function bootstrapNullCounts(
  referenceCounts: Float64Array,
  n: number,
  m: number,
  draws: number,
  random: SeededRandom,
  statistic: CountsStatistic,
): Float64Array {
  const out = new Float64Array(draws);
  for (let d = 0; d < draws; d++) {
    const ref = sampleMultinomial(random, n, referenceCounts);
    const cur = sampleMultinomial(random, m, referenceCounts);
    out[d] = statistic(ref, cur, n, m);
  }
  return out.sort();
}

interface ResampledNull {
  readonly sortedNull: Float64Array;
  readonly draws: number;
  readonly seed: number;
}

function thresholdRank(alpha: number, draws: number): number {
  const c = floor(alpha * (draws + 1) + 1e-9) - 1;
  if (c < 0) {
    throw new RangeError(
      `${draws} resamples cannot reach α = ${alpha}: need α·(P + 1) ≥ 1, i.e. P ≥ ${Math.ceil(1 / alpha - 1)}`,
    );
  }
  return draws - c;
}

/** (1 + #{T* ≥ T})/(P + 1). */
export function resamplingPValue(value: number, sortedNull: Float64Array): number {
  // first index with null ≥ value
  let lo = 0;
  let hi = sortedNull.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sortedNull[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return (1 + (sortedNull.length - lo)) / (sortedNull.length + 1);
}

function mean(values: Float64Array): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s / values.length;
}

function resampledThreshold(
  statistic: DriftStatisticName,
  n: number,
  m: number,
  alpha: number,
  method: 'permutation' | 'bootstrap',
  resampled: ResampledNull,
): CalibratedThreshold {
  const rank = thresholdRank(alpha, resampled.draws);
  const threshold = resampled.sortedNull[rank - 1];
  return {
    statistic,
    threshold,
    rule: '>',
    alpha,
    n: { reference: n, current: m },
    method,
    resampling: {
      draws: resampled.draws,
      seed: resampled.seed,
      thresholdRank: rank,
      nullMean: mean(resampled.sortedNull),
    },
    detail:
      `${method === 'permutation' ? 'permutation of the pooled reference + current' : 'bootstrap from the reference'}` +
      ` at n = ${n}, m = ${m}: ${rank}-th smallest of ${resampled.draws} null values (seed ${resampled.seed});` +
      ` alarm when the statistic exceeds it (p = (1 + #{T* ≥ T})/(P + 1) ≤ α)`,
  };
}

function toFloat64(values: ArrayLike<number>, label: string): Float64Array {
  const out = Float64Array.from(values);
  for (let i = 0; i < out.length; i++) {
    if (!(Number.isFinite(out[i]) && out[i] >= 0))
      throw new RangeError(`${label} counts must be ≥ 0, got ${out[i]}`);
  }
  return out;
}

function sumOf(values: Float64Array): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s;
}

function resampleNull(
  statistic: DriftStatisticName,
  options: Extract<CalibrationOptions, { method: 'permutation' | 'bootstrap' }>,
  n: number,
  m: number,
): ResampledNull {
  const draws = options.permutations ?? DEFAULT_PERMUTATIONS;
  if (!(Number.isSafeInteger(draws) && draws > 0)) {
    throw new RangeError(`permutations must be a positive integer, got ${draws}`);
  }
  const seed = options.seed ?? DEFAULT_SEED;
  const random = resamplingRandom(seed);
  if (options.method === 'permutation') {
    if ('reference' in options) {
      const pooled = mergeSorted(
        sortedSample(options.reference, 'reference'),
        sortedSample(options.current, 'current'),
      );
      return {
        sortedNull: permutationNullValues(
          pooled,
          n,
          m,
          draws,
          random,
          numericStatisticFunction(statistic, options),
        ),
        draws,
        seed,
      };
    }
    const ref = toFloat64(options.referenceCounts, 'reference');
    const cur = toFloat64(options.currentCounts, 'current');
    if (ref.length !== cur.length) throw new RangeError('reference and current counts must be aligned');
    const pooled = ref.map((v, i) => v + cur[i]);
    return {
      sortedNull: permutationNullCounts(
        pooled,
        n,
        m,
        draws,
        random,
        countsStatisticFunction(statistic, options),
      ),
      draws,
      seed,
    };
  }
  if ('reference' in options) {
    const ref = sortedSample(options.reference, 'reference');
    return {
      sortedNull: bootstrapNullValues(ref, m, draws, random, numericStatisticFunction(statistic, options)),
      draws,
      seed,
    };
  }
  const ref = toFloat64(options.referenceCounts, 'reference');
  return {
    sortedNull: bootstrapNullCounts(ref, n, m, draws, random, countsStatisticFunction(statistic, options)),
    draws,
    seed,
  };
}

function windowSizes(options: Extract<CalibrationOptions, { method: 'permutation' | 'bootstrap' }>): {
  n: number;
  m?: number;
} {
  if ('reference' in options) {
    return options.method === 'permutation'
      ? { n: options.reference.length, m: options.current.length }
      : { n: options.reference.length };
  }
  const n = sumOf(toFloat64(options.referenceCounts, 'reference'));
  return 'currentCounts' in options && options.method === 'permutation'
    ? { n, m: sumOf(toFloat64(options.currentCounts, 'current')) }
    : { n };
}

/**
 * Threshold of a drift statistic for false-alarm rate α at the actual window sizes.
 *
 * - `{ method: 'asymptotic', cells }`: psi / jensenShannon / chiSquare by the χ² approximations (cells = effective
 *   bins or categories, default 10); ks by scipy's asymptotic distribution (critical D by bisection).
 * - `{ method: 'exact' }`: ks only — smallest lattice D with exact p ≤ α.
 * - `{ method: 'permutation', reference, current | referenceCounts, currentCounts, permutations, seed }`: any statistic;
 *   the window sizes must equal referenceSize/currentSize.
 * - `{ method: 'bootstrap', reference | referenceCounts, permutations, seed }`: any statistic, from the reference only.
 */
export function calibratedThreshold(
  statistic: DriftStatisticName,
  referenceSize: number,
  currentSize: number,
  alpha: number,
  options: CalibrationOptions,
): CalibratedThreshold {
  assertSize(referenceSize, 'reference size');
  assertSize(currentSize, 'current size');
  assertAlpha(alpha);
  const n = referenceSize;
  const m = currentSize;
  const sizes = { reference: n, current: m };
  if (options.method === 'asymptotic' || options.method === 'exact') {
    if (statistic === 'ks') {
      const method: KsMethod = options.method === 'exact' ? 'exact' : 'asymptotic';
      const threshold = ksCriticalValue(n, m, alpha, method);
      const resolved = ksTwoSampleFromStatistic(1, n, m, method).method;
      return {
        statistic,
        threshold,
        rule: '>=',
        alpha,
        n: sizes,
        method: resolved === 'exact' ? 'ks-exact' : 'ks-asymptotic',
        detail:
          resolved === 'exact'
            ? `smallest lattice D (multiple of 1/lcm(${n}, ${m})) with exact two-sided p ≤ ${alpha}`
            : `D with scipy's asymptotic p (kstwo, N = round(n·m/(n+m))) = ${alpha}`,
      };
    }
    if (options.method === 'exact')
      throw new RangeError(`method 'exact' exists for ks only, not ${statistic}`);
    const cells = options.cells ?? DEFAULT_BINS;
    if (!(Number.isInteger(cells) && cells >= 1))
      throw new RangeError(`cells must be a positive integer, got ${cells}`);
    const df = cells - 1;
    let threshold: number;
    let detail: string;
    switch (statistic) {
      case 'psi':
        threshold = psiAsymptoticThreshold(n, m, alpha, cells);
        detail = `(1/${n} + 1/${m})·χ²_{${df}, ${1 - alpha}}`;
        break;
      case 'jensenShannon':
        threshold = jensenShannonAsymptoticThreshold(n, m, alpha, cells, options.base ?? 'e');
        detail = `√(χ²_{${df}, ${1 - alpha}} / (8·${n}·${m}/(${n}+${m})))${options.base === 2 ? ' / √ln2' : ''}`;
        break;
      case 'chiSquare':
        threshold = df >= 1 ? chiSquareQuantile(1 - alpha, df) : Number.POSITIVE_INFINITY;
        detail = `χ²_{${df}, ${1 - alpha}}`;
        break;
      case 'wasserstein':
        throw new RangeError(
          'the normalised Wasserstein distance has no asymptotic threshold; use permutation',
        );
    }
    return {
      statistic,
      threshold,
      rule: '>=',
      alpha,
      n: sizes,
      method: 'chi-square-approximation',
      df,
      detail,
    };
  }
  const actual = windowSizes(options);
  if (actual.n !== n || (actual.m !== undefined && actual.m !== m)) {
    throw new RangeError(
      `window sizes (${actual.n}, ${actual.m ?? m}) differ from referenceSize/currentSize (${n}, ${m})`,
    );
  }
  return resampledThreshold(statistic, n, m, alpha, options.method, resampleNull(statistic, options, n, m));
}

// ---------------------------------------------------------------------------------------------------------------------
// Drift tests
// ---------------------------------------------------------------------------------------------------------------------

export type DriftNotEstimableReason = 'empty-reference' | 'empty-current' | 'cannot-reach-alpha';

export interface DriftNotEstimable {
  readonly estimable: false;
  readonly reason: DriftNotEstimableReason;
  readonly detail: string;
  readonly n: { readonly reference: number; readonly current: number };
}

/** Conventions recorded with a result, so a report can print them. */
export interface AppliedConventions {
  /** Requested and effective (after merging tied quantiles) number of reference quantile bins. */
  readonly bins?: { readonly requested: number; readonly effective: number };
  readonly smoothing?: BinSmoothing;
  readonly logBase?: JsBase;
  /** Normalised Wasserstein: W1 / max(reference SD (ddof 0), floor). */
  readonly wasserstein?: { readonly w1: number; readonly referenceSd: number; readonly sdFloor: number };
  /** Categorical tests: the aligned categories. */
  readonly categories?: readonly string[];
  /** χ² tests: smallest expected count (Cochran: ≥ 5). */
  readonly minExpected?: number;
}

export interface DriftTestOutcome {
  readonly estimable: true;
  readonly name: DriftStatisticName;
  /** The statistic's value on this window. */
  readonly statistic: number;
  readonly threshold: number;
  readonly rule: '>' | '>=';
  readonly pValue: number;
  /** pValue ≤ alpha. */
  readonly alarm: boolean;
  readonly alpha: number;
  readonly n: { readonly reference: number; readonly current: number };
  readonly method: ThresholdMethod;
  readonly df?: number;
  readonly resampling?: ResamplingRecord;
  readonly conventions: AppliedConventions;
}

export type DriftTestResult = DriftTestOutcome | DriftNotEstimable;

export type NumericCalibration = 'permutation' | 'bootstrap' | 'asymptotic' | 'exact' | 'auto';

export interface DriftTestOptions extends StatisticConventions {
  readonly statistic: NumericDriftStatistic;
  /** Target false-alarm rate per evaluation (default 0.05). */
  readonly alpha?: number;
  /**
   * psi / jensenShannon / wasserstein: 'permutation' (default = 'auto'), 'bootstrap' or 'asymptotic' (not wasserstein).
   * ks: 'auto' (default; scipy: exact ≤ 10,000 else asymptotic), 'exact', 'asymptotic' or 'permutation'.
   */
  readonly calibration?: NumericCalibration;
  readonly permutations?: number;
  readonly seed?: number;
}

function notEstimable(
  reason: DriftNotEstimableReason,
  detail: string,
  n: number,
  m: number,
): DriftNotEstimable {
  return { estimable: false, reason, detail, n: { reference: n, current: m } };
}

/** A calibrated test's answer: the statistic, its threshold and p; it alarms at p ≤ α, as its threshold was set. */
function calibratedOutcome(
  base0: Pick<DriftTestOutcome, 'estimable' | 'name' | 'alpha' | 'n' | 'conventions'>,
  statistic: number,
  t: CalibratedThreshold,
  pValue: number,
  extra: Pick<DriftTestOutcome, 'df' | 'resampling'>,
): DriftTestOutcome {
  return {
    ...base0,
    statistic,
    threshold: t.threshold,
    rule: t.rule,
    pValue,
    alarm: pValue <= base0.alpha,
    method: t.method,
    ...extra,
  };
}

function tooFewSplitsOutcome(n: number, m: number, alpha: number): DriftNotEstimable {
  return notEstimable(
    'cannot-reach-alpha',
    `only C(${n + m}, ${min(n, m)}) distinct splits: a permutation test cannot reach p ≤ ${alpha}`,
    n,
    m,
  );
}

/** log C(n + m, min(n, m)) < log(1/α): no split can be as extreme as 1 in 1/α. */
function tooFewSplits(n: number, m: number, alpha: number): boolean {
  const k = min(n, m);
  let logC = 0;
  for (let i = 1; i <= k; i++) logC += log((n + m - k + i) / i);
  return logC < log(1 / alpha) - 1e-12;
}

/**
 * Drift test of a numeric feature: statistic, calibrated threshold, p-value and alarm at α (file header).
 * Empty windows and windows too small to ever reach α are returned as not estimable.
 */
export function driftTest(
  reference: ArrayLike<number>,
  current: ArrayLike<number>,
  options: DriftTestOptions,
): DriftTestResult {
  const alpha = options.alpha ?? DEFAULT_ALPHA;
  assertAlpha(alpha);
  const n = reference.length;
  const m = current.length;
  if (n === 0) return notEstimable('empty-reference', 'the reference window has no values', n, m);
  if (m === 0) return notEstimable('empty-current', 'the current window has no values', n, m);
  const ref = sortedSample(reference, 'reference');
  const cur = sortedSample(current, 'current');
  const name = options.statistic;
  const bins = options.bins ?? DEFAULT_BINS;
  const smoothing = options.smoothing ?? DEFAULT_PSI_SMOOTHING;
  const base = options.base ?? 'e';
  const effectiveBins = quantileBinsSorted(ref, bins).edges.length + 1;
  const requested = options.calibration ?? 'auto';
  const calibration = requested === 'auto' && name !== 'ks' ? 'permutation' : requested;

  let value: number;
  let conventions: AppliedConventions;
  switch (name) {
    case 'psi':
      value = psiSorted(ref, cur, bins, smoothing);
      conventions = { bins: { requested: bins, effective: effectiveBins }, smoothing };
      break;
    case 'jensenShannon':
      value = jensenShannonSorted(ref, cur, bins, base);
      conventions = { bins: { requested: bins, effective: effectiveBins }, logBase: base };
      break;
    case 'wasserstein': {
      const raw = normalizedWassersteinSorted(ref, cur);
      value = raw;
      const sd = populationSdSorted(ref);
      conventions = {
        wasserstein: {
          w1: raw * max(sd, WASSERSTEIN_SD_FLOOR),
          referenceSd: sd,
          sdFloor: WASSERSTEIN_SD_FLOOR,
        },
      };
      break;
    }
    case 'ks':
      value = ksStatisticSorted(ref, cur);
      conventions = {};
      break;
  }

  const base0 = { estimable: true as const, name, alpha, n: { reference: n, current: m }, conventions };

  if (name === 'ks' && calibration !== 'permutation' && calibration !== 'bootstrap') {
    if (calibration !== 'auto' && calibration !== 'exact' && calibration !== 'asymptotic') {
      throw new RangeError(
        `ks calibration must be auto, exact, asymptotic or permutation, got ${String(calibration)}`,
      );
    }
    const test = ksTwoSampleFromStatistic(value, n, m, calibration);
    const threshold = ksCriticalValue(n, m, alpha, calibration);
    if (threshold === Number.POSITIVE_INFINITY) {
      return notEstimable('cannot-reach-alpha', `KS at n = ${n}, m = ${m} cannot reach p ≤ ${alpha}`, n, m);
    }
    return {
      ...base0,
      statistic: test.statistic,
      threshold,
      rule: '>=',
      pValue: test.pValue,
      alarm: test.pValue <= alpha,
      method: test.method === 'exact' ? 'ks-exact' : 'ks-asymptotic',
    };
  }

  if (calibration === 'asymptotic') {
    if (name === 'wasserstein') {
      throw new RangeError(
        'the normalised Wasserstein distance has no asymptotic threshold; use permutation',
      );
    }
    const t = calibratedThreshold(name, n, m, alpha, { method: 'asymptotic', cells: effectiveBins, base });
    const pValue =
      name === 'psi'
        ? psiAsymptoticPValue(value, n, m, effectiveBins)
        : jensenShannonAsymptoticPValue(value, n, m, effectiveBins, base);
    return calibratedOutcome(base0, value, t, pValue, { df: t.df });
  }
  if (calibration !== 'permutation' && calibration !== 'bootstrap') {
    throw new RangeError(
      `${name} calibration must be permutation, bootstrap or asymptotic, got ${calibration}`,
    );
  }
  if (calibration === 'permutation' && tooFewSplits(n, m, alpha)) return tooFewSplitsOutcome(n, m, alpha);
  const resamplingOptions =
    calibration === 'permutation'
      ? ({ method: 'permutation', reference: ref, current: cur, ...pickResampling(options) } as const)
      : ({ method: 'bootstrap', reference: ref, ...pickResampling(options) } as const);
  const resampled = resampleNull(name, resamplingOptions, n, m);
  const t = resampledThreshold(name, n, m, alpha, calibration, resampled);
  const pValue = resamplingPValue(value, resampled.sortedNull);
  return calibratedOutcome(base0, value, t, pValue, { resampling: t.resampling });
}

function pickResampling(o: DriftTestOptions): ResamplingOptions {
  return { permutations: o.permutations, seed: o.seed, bins: o.bins, smoothing: o.smoothing, base: o.base };
}

function populationSdSorted(values: Float64Array): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  const mu = s / values.length;
  let ss = 0;
  for (let i = 0; i < values.length; i++) ss += (values[i] - mu) * (values[i] - mu);
  return sqrt(ss / values.length);
}

export interface CountsDriftTestOptions {
  readonly statistic: CountsDriftStatistic;
  readonly alpha?: number;
  /** chiSquare: 'asymptotic' (default) or 'permutation'; psi / jensenShannon: 'permutation' (default), 'bootstrap', 'asymptotic'. */
  readonly calibration?: 'asymptotic' | 'permutation' | 'bootstrap';
  readonly permutations?: number;
  readonly seed?: number;
  readonly smoothing?: BinSmoothing;
  readonly base?: JsBase;
}

/**
 * Drift test on aligned counts: categories (scanner vendor, sex, reconstruction kernel) or a numeric feature already
 * binned on **fixed** reference bins (the mergeable per-day histograms of drift-methods.md §8). Cells with a zero total
 * add nothing to χ² or JS and are not counted in the χ² degrees of freedom (df = non-empty cells − 1, also the df of
 * the asymptotic PSI/JS thresholds); PSI keeps every cell (with the floor an empty-in-both cell contributes 0; with a
 * pseudocount the cell count enters the smoothing, as documented in drift-statistics.ts).
 */
export function countsDriftTest(
  referenceCounts: ArrayLike<number>,
  currentCounts: ArrayLike<number>,
  options: CountsDriftTestOptions,
): DriftTestResult {
  const alpha = options.alpha ?? DEFAULT_ALPHA;
  assertAlpha(alpha);
  const refAll = toFloat64(referenceCounts, 'reference');
  const curAll = toFloat64(currentCounts, 'current');
  if (refAll.length !== curAll.length) throw new RangeError('reference and current counts must be aligned');
  for (let i = 0; i < refAll.length; i++) {
    if (!Number.isSafeInteger(refAll[i]) || !Number.isSafeInteger(curAll[i])) {
      throw new RangeError(
        `counts must be non-negative integers, got ${refAll[i]} and ${curAll[i]} in cell ${i}`,
      );
    }
  }
  const ref = refAll;
  const cur = curAll;
  const n = sumOf(ref);
  const m = sumOf(cur);
  // Cells empty in both samples carry no information: they do not count towards the χ² degrees of freedom.
  let cells = 0;
  for (let i = 0; i < ref.length; i++) if (ref[i] + cur[i] > 0) cells++;
  if (n === 0) return notEstimable('empty-reference', 'the reference window has no observations', n, m);
  if (m === 0) return notEstimable('empty-current', 'the current window has no observations', n, m);
  const name = options.statistic;
  const smoothing = options.smoothing ?? DEFAULT_PSI_SMOOTHING;
  const base = options.base ?? 'e';
  const calibration = options.calibration ?? (name === 'chiSquare' ? 'asymptotic' : 'permutation');
  const chi = chiSquareHomogeneity(ref, cur);
  let value: number;
  let conventions: AppliedConventions;
  switch (name) {
    case 'chiSquare':
      value = chi.statistic;
      conventions = { minExpected: chi.minExpected };
      break;
    case 'psi':
      value = psiFromCounts(ref, cur, smoothing);
      conventions = { smoothing, minExpected: chi.minExpected };
      break;
    case 'jensenShannon':
      value = jensenShannonFromCounts(ref, cur, base);
      conventions = { logBase: base, minExpected: chi.minExpected };
      break;
  }
  const base0 = { estimable: true as const, name, alpha, n: { reference: n, current: m }, conventions };
  if (calibration === 'asymptotic') {
    const t = calibratedThreshold(name, n, m, alpha, { method: 'asymptotic', cells, base });
    const pValue =
      name === 'chiSquare'
        ? chi.pValue
        : name === 'psi'
          ? psiAsymptoticPValue(value, n, m, cells)
          : jensenShannonAsymptoticPValue(value, n, m, cells, base);
    return calibratedOutcome(base0, value, t, pValue, { df: t.df });
  }
  if (calibration === 'permutation' && tooFewSplits(n, m, alpha)) return tooFewSplitsOutcome(n, m, alpha);
  const common = { permutations: options.permutations, seed: options.seed, smoothing, base };
  const resampled = resampleNull(
    name,
    calibration === 'permutation'
      ? { method: 'permutation', referenceCounts: ref, currentCounts: cur, ...common }
      : { method: 'bootstrap', referenceCounts: ref, ...common },
    n,
    m,
  );
  const t = resampledThreshold(name, n, m, alpha, calibration, resampled);
  const pValue = resamplingPValue(value, resampled.sortedNull);
  return calibratedOutcome(base0, value, t, pValue, {
    resampling: t.resampling,
    df: name === 'chiSquare' ? chi.df : undefined,
  });
}

/** {@link countsDriftTest} on two category tallies (e.g. scanner vendor share), aligned on the union of categories. */
export function categoricalDriftTest(
  reference: CategoryCounts,
  current: CategoryCounts,
  options: CountsDriftTestOptions,
): DriftTestResult {
  const aligned = alignCategories(reference, current);
  const result = countsDriftTest(aligned.reference, aligned.current, options);
  if (!result.estimable) return result;
  return { ...result, conventions: { ...result.conventions, categories: aligned.categories } };
}
