/**
 * Two-sample Kolmogorov–Smirnov test, reproducing scipy 1.10.1 `scipy.stats.ks_2samp(x, y, alternative='two-sided',
 * method=…)` — statistic and p-value — so a Fieldwatch drift report can be re-run in Python by anyone.
 *
 * Conventions (pinned; checked against scipy in drift.spec.ts, fixture `fixtures/drift-oracle-python.json`):
 *  - D = max over every pooled value v of |F_ref(v) − F_cur(v)|, both ECDFs right-continuous (F(v) = #{x ≤ v}/n, as
 *    scipy's `searchsorted(side='right')`), so **ties** — within or across samples — are handled exactly: the ECDFs
 *    are only compared after all observations equal to v have been counted.
 *  - p-value, method 'auto' (scipy's default): exact when max(n, m) ≤ 10,000, otherwise asymptotic.
 *  - exact: P(D ≥ d) under H0 for continuous data, by counting lattice paths (Hodges 1958): with g = gcd(n, m) and
 *    lcm = n·m/g, d is first rounded to the lattice, h = round(d·lcm), d = h/lcm (the statistic scipy reports in
 *    exact mode), then P = 1 − P(every path point has |m·i − n·j|/g < h), by the normalised recursion
 *    a(i, j) = (i·a(i−1, j) + j·a(i, j−1))/(i + j) (the form scipy's pythran `_compute_outer_prob_inside_method` uses;
 *    no overflow), or, when n = m, scipy's alternating closed form. With ties the exact p-value is the no-ties
 *    distribution, which is **conservative** (true level below α); use the permutation calibration of drift.ts when
 *    a feature is heavily tied (tube voltage, slice thickness) — or treat it as categorical.
 *  - asymptotic (scipy's 'asymp'): p = P(D_N ≥ d) for the **one-sample** two-sided KS distribution with
 *    N = round_half_even(n·m/(n + m)) (scipy's `kstwo.sf(d, np.round(en))`), evaluated as scipy's `_kolmogn`
 *    (Simard & L'Ecuyer 2011 selection): Ruben–Gambino closed forms at the extremes, twice the exact one-sided
 *    Smirnov tail (Birnbaum–Tingey sum) in the upper tail, the Durbin matrix (Marsaglia–Tsang–Wang 2003) where
 *    scipy uses Durbin or Pomeranz (both exact), and the Pelz–Good (1976) approximation where scipy uses it.
 *  - exact falls back to asymptotic when n/g ≥ (2^31 − 1)/(m/g) (scipy's int32 guard).
 *
 * Sources: Hodges JL (1958) Ark Mat 3:469; Durbin J (1968) Ann Math Stat 39:398; Marsaglia G, Tsang WW, Wang J (2003)
 * J Stat Softw 8(18); Pelz W, Good IJ (1976) JRSS B 38:152; Simard R, L'Ecuyer P (2011) J Stat Softw 39(11);
 * Birnbaum ZW, Tingey FH (1951) Ann Math Stat 22:592.
 */
import { logGamma } from './distributions';
import { sortedSample } from './drift-statistics';

const { abs, ceil, exp, floor, log, max, min, PI, pow, sqrt } = Math;

/** 'auto' = exact when max(n, m) ≤ 10,000, else asymptotic (scipy's default). */
export type KsMethod = 'auto' | 'exact' | 'asymptotic';

export interface KsTwoSampleResult {
  /** D = sup |F_ref − F_cur| (in exact mode rounded to the lattice h/lcm, as scipy reports it). */
  readonly statistic: number;
  /** Two-sided P(D ≥ statistic) under H0 (continuous data; conservative with ties). */
  readonly pValue: number;
  /** The method actually used (auto resolves to one of these; exact can fall back to asymptotic). */
  readonly method: 'exact' | 'asymptotic';
  readonly n: { readonly reference: number; readonly current: number };
}

/** scipy's `MAX_AUTO_N`: 'auto' is exact up to this larger sample size. */
export const KS_MAX_EXACT_N = 10000;

/**
 * D = sup_v |F_a(v) − F_b(v)| from two **sorted** samples, evaluated after every distinct pooled value (ties
 * handled exactly). O(n + m). Each difference is formed as i/n − j/m, as scipy forms `cdf1 − cdf2`.
 */
export function ksStatisticSorted(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) throw new RangeError('the KS statistic needs two non-empty samples');
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < n || j < m) {
    const v = j >= m || (i < n && a[i] <= b[j]) ? a[i] : b[j];
    while (i < n && a[i] === v) i++;
    while (j < m && b[j] === v) j++;
    const diff = abs(i / n - j / m);
    if (diff > d) d = diff;
  }
  return d;
}

/**
 * Two-sample two-sided KS test as scipy 1.10.1 `ks_2samp(reference, current, method)`.
 * Throws RangeError on an empty sample (drift.ts reports empty windows as not estimable before calling this).
 */
export function ksTwoSample(
  reference: ArrayLike<number>,
  current: ArrayLike<number>,
  options: { readonly method?: KsMethod } = {},
): KsTwoSampleResult {
  const a = sortedSample(reference, 'reference');
  const b = sortedSample(current, 'current');
  if (a.length === 0 || b.length === 0) throw new RangeError('ks_2samp needs two non-empty samples');
  const d = ksStatisticSorted(a, b);
  return ksTwoSampleFromStatistic(d, a.length, b.length, options.method ?? 'auto');
}

/** The p-value step of {@link ksTwoSample} for an already computed D. */
export function ksTwoSampleFromStatistic(
  d: number,
  n1: number,
  n2: number,
  method: KsMethod = 'auto',
): KsTwoSampleResult {
  assertSize(n1, 'reference size');
  assertSize(n2, 'current size');
  const n = { reference: n1, current: n2 };
  const g = gcd(n1, n2);
  let mode: 'exact' | 'asymptotic';
  if (method === 'auto') mode = max(n1, n2) <= KS_MAX_EXACT_N ? 'exact' : 'asymptotic';
  else if (method === 'exact') mode = n1 / g >= 2147483647 / (n2 / g) ? 'asymptotic' : 'exact';
  else mode = 'asymptotic';
  if (mode === 'exact') {
    const lcm = (n1 / g) * n2;
    const h = roundHalfEven(d * lcm);
    const dLattice = h / lcm;
    if (h === 0) return { statistic: dLattice, pValue: 1, method: 'exact', n };
    const p = n1 === n2 ? probOutsideSquare(n1, h) : probOutsideDiagonals(n1, n2, g, h);
    if (Number.isFinite(p) && p >= 0 && p <= 1) return { statistic: dLattice, pValue: p, method: 'exact', n };
    // scipy: "Exact calculation unsuccessful. Switching to method=asymp" (cannot happen with the normalised
    // recursion, kept for parity).
  }
  const big = max(n1, n2);
  const small = min(n1, n2);
  const en = (big * small) / (big + small);
  const p = clip01(kolmogorovSmirnovSf(d, roundHalfEven(en)));
  return { statistic: d, pValue: p, method: 'asymptotic', n };
}

/**
 * Smallest attainable D whose exact/asymptotic p-value is ≤ α, i.e. the critical value with
 * "alarm ⟺ D ≥ critical ⟺ p ≤ α" (p is non-increasing in D). Exact mode: binary search over the lattice h/lcm;
 * asymptotic mode: bisection on d to 1e-12 (the p-value is continuous there). Returns +∞ when even D = 1 has
 * p > α (tiny samples: e.g. n = m = 1).
 */
export function ksCriticalValue(n1: number, n2: number, alpha: number, method: KsMethod = 'auto'): number {
  assertSize(n1, 'reference size');
  assertSize(n2, 'current size');
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be in (0, 1), got ${alpha}`);
  // A pure function of its arguments, searched by up to ~30 exact evaluations: remember recent answers (monitors
  // evaluate many windows of the same sizes).
  const key = `${n1},${n2},${alpha},${method}`;
  const cached = criticalCache.get(key);
  if (cached !== undefined) return cached;
  const value = searchCriticalValue(n1, n2, alpha, method);
  if (criticalCache.size >= 512) criticalCache.clear();
  criticalCache.set(key, value);
  return value;
}

const criticalCache = new Map<string, number>();

function searchCriticalValue(n1: number, n2: number, alpha: number, method: KsMethod): number {
  const atOne = ksTwoSampleFromStatistic(1, n1, n2, method);
  if (atOne.pValue > alpha) return Number.POSITIVE_INFINITY;
  if (atOne.method === 'exact') {
    const g = gcd(n1, n2);
    const lcm = (n1 / g) * n2;
    let lo = 0; // p(lo) > alpha (h = 0 has p = 1)
    let hi = lcm; // p(hi) ≤ alpha
    while (hi - lo > 1) {
      const mid = floor((lo + hi) / 2);
      const p = n1 === n2 ? probOutsideSquare(n1, mid) : probOutsideDiagonals(n1, n2, g, mid);
      if (p <= alpha) hi = mid;
      else lo = mid;
    }
    return hi / lcm;
  }
  let lo = 0;
  let hi = 1;
  for (let iteration = 0; iteration < 200 && hi - lo > 1e-12; iteration++) {
    const mid = 0.5 * (lo + hi);
    if (ksTwoSampleFromStatistic(mid, n1, n2, 'asymptotic').pValue <= alpha) hi = mid;
    else lo = mid;
  }
  return hi;
}

function assertSize(n: number, label: string): void {
  if (!(Number.isSafeInteger(n) && n > 0))
    throw new RangeError(`${label} must be a positive integer, got ${n}`);
}

function gcd(a: number, b: number): number {
  let x = a;
  let y = b;
  while (y !== 0) {
    const t = x % y;
    x = y;
    y = t;
  }
  return x;
}

/** numpy's `np.round` (round half to even). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return abs(x - trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function trunc(x: number): number {
  return x < 0 ? ceil(x) : floor(x);
}

function clip01(p: number): number {
  return p < 0 ? 0 : p > 1 ? 1 : p;
}

function floorDiv(a: number, b: number): number {
  const r = ((a % b) + b) % b;
  return (a - r) / b;
}

function ceilDiv(a: number, b: number): number {
  return -floorDiv(-a, b);
}

/**
 * scipy `_compute_prob_outside_square(n, h)`: P(D_{n,n} ≥ h/n) = 2·Σ_k (−1)^{k−1} C(2n, n − k·h)/C(2n, n), evaluated
 * in scipy's Horner form P = 2·A0·(1 − A1·(1 − A2·(…))) to avoid the cancellation of the alternating sum.
 */
function probOutsideSquare(n: number, h: number): number {
  let p = 0;
  for (let k = floor(n / h); k >= 0; k--) {
    let p1 = 1;
    for (let j = 0; j < h; j++) p1 = ((n - k * h - j) * p1) / (n + k * h + j + 1);
    p = p1 * (1 - p);
  }
  return 2 * p;
}

/**
 * P(some point (i, j) of a uniformly random lattice path from (0, 0) to (n1, n2) has |n2·i − n1·j|/g ≥ h), i.e.
 * P(D ≥ h/lcm), by the normalised path-count recursion over the band |ng·i − mg·j| < h (i over the larger sample).
 * O(larger size × band width); the band is ≈ 2·d·(smaller size) wide.
 */
function probOutsideDiagonals(n1: number, n2: number, g: number, h: number): number {
  const m = max(n1, n2);
  const n = min(n1, n2);
  const mg = m / g;
  const ng = n / g;
  let prev = new Float64Array(n + 1);
  let cur = new Float64Array(n + 1);
  // i = 0: inside ⟺ mg·j < h.
  let prevLo = 0;
  let prevHi = min(n, ceilDiv(h, mg) - 1);
  for (let j = prevLo; j <= prevHi; j++) prev[j] = 1;
  for (let i = 1; i <= m; i++) {
    const lo = max(0, floorDiv(ng * i - h, mg) + 1);
    const hi = min(n, ceilDiv(ng * i + h, mg) - 1);
    if (hi < lo) return 1;
    let left = 0; // a(i, j − 1), zero below the band
    for (let j = lo; j <= hi; j++) {
      const up = j >= prevLo && j <= prevHi ? prev[j] : 0;
      const value = (i * up + j * left) / (i + j);
      cur[j] = value;
      left = value;
    }
    const t = prev;
    prev = cur;
    cur = t;
    prevLo = lo;
    prevHi = hi;
  }
  const inside = n >= prevLo && n <= prevHi ? prev[n] : 0;
  return 1 - inside;
}

// ---------------------------------------------------------------------------------------------------------------------
// One-sample two-sided KS distribution, P(D_n ≥ x) — scipy `kstwo.sf(x, n)` (= `_kolmogn(n, x, cdf=False)`)
// ---------------------------------------------------------------------------------------------------------------------

/** Upper tail P(D_n ≥ x) of the one-sample two-sided Kolmogorov–Smirnov statistic, as scipy `kstwo.sf`. */
export function kolmogorovSmirnovSf(x: number, n: number): number {
  if (!(Number.isInteger(n) && n > 0)) return Number.NaN;
  if (x >= 1) return 0;
  if (x <= 0) return 1;
  const t = n * x;
  if (t <= 1) {
    // Ruben–Gambino: 1/(2n) ≤ x ≤ 1/n.
    if (t <= 0.5) return 1;
    let cdf: number;
    if (n <= 140) {
      cdf = 1;
      for (let i = 1; i <= n; i++) cdf *= (i / n) * (2 * t - 1);
    } else {
      cdf = exp(logFactorialOverPower(n) + n * log(2 * t - 1));
    }
    return clip01(1 - cdf);
  }
  if (t >= n - 1) return clip01(2 * pow(1 - x, n)); // Ruben–Gambino
  if (x >= 0.5) return clip01(2 * smirnovSf(n, x));
  const nxSquared = t * x;
  if (n <= 140) {
    if (nxSquared <= 4) return clip01(1 - durbinMatrixCdf(n, x)); // scipy: Durbin (≤ 0.754693) or Pomeranz
    return clip01(2 * smirnovSf(n, x));
  }
  if (nxSquared >= 370) return 0;
  if (nxSquared >= 2.2) return clip01(2 * smirnovSf(n, x));
  const cdf = n <= 100000 && n * pow(x, 1.5) <= 1.4 ? durbinMatrixCdf(n, x) : pelzGoodCdf(n, x);
  return clip01(1 - cdf);
}

// scipy `_log_nfactorial_div_n_pow_n`: log(n!/n^n) by Stirling with n·log n removed up front.
// B_{2j}/(2j(2j−1)) for j = 8…1 (scipy's 20-digit literals rounded to the nearest double).
const STIRLING_COEFFS = [
  -0.029550653594771242, 0.00641025641025641, -0.0019175269175269176, 0.0008417508417508417,
  -0.0005952380952380953, 0.0007936507936507937, -0.002777777777777778, 0.08333333333333333,
];

function logFactorialOverPower(n: number): number {
  const rn = 1 / n;
  const y = rn / n;
  let poly = 0;
  for (const c of STIRLING_COEFFS) poly = poly * y + c;
  return log(n) / 2 - n + log(2 * PI) / 2 + rn * poly;
}

/**
 * Exact one-sided Smirnov tail P(D_n⁺ ≥ x) (scipy `special.smirnov`) by the Birnbaum–Tingey sum
 * x·Σ_{j=0}^{⌊n(1−x)⌋} C(n, j)·(1 − x − j/n)^{n−j}·(x + j/n)^{j−1}, every term positive, each formed in logs.
 */
export function smirnovSf(n: number, x: number): number {
  if (x <= 0) return 1;
  if (x >= 1) return 0;
  const jMax = floor(n * (1 - x));
  const lnFactN = logGamma(n + 1);
  let sum = 0;
  for (let j = 0; j <= jMax; j++) {
    const base = 1 - x - j / n;
    if (base <= 0) {
      if (n - j === 0) sum += exp(lnFactN - logGamma(j + 1) - logGamma(n - j + 1) + (j - 1) * log(x + j / n));
      continue;
    }
    const lnTerm =
      lnFactN - logGamma(j + 1) - logGamma(n - j + 1) + (n - j) * log(base) + (j - 1) * log(x + j / n);
    sum += exp(lnTerm);
  }
  return x * sum;
}

/**
 * P(D_n < x) by Durbin's matrix (Marsaglia, Tsang & Wang 2003): with n·x = k − η (k integer, 0 ≤ η < 1) and
 * m = 2k − 1, P = n!/nⁿ · (Hⁿ)_{kk} for the m×m matrix H of the paper; Hⁿ by squaring with power-of-two rescaling.
 */
function durbinMatrixCdf(n: number, d: number): number {
  if (d >= 1) return 1;
  const nd = n * d;
  if (nd <= 0.5) return 0;
  const k = ceil(nd);
  const eta = k - nd;
  const m = 2 * k - 1;
  const H = new Float64Array(m * m);
  // v[j] = (1 − η^{j+1})/(j+1)!, w[j] = 1/j!
  const v = new Float64Array(m);
  const w = new Float64Array(m);
  let fac = 1;
  for (let j = 1; j <= m; j++) {
    w[j - 1] = fac;
    fac /= j;
    v[j - 1] = (1 - pow(eta, j)) * fac;
  }
  const tt = pow(max(2 * eta - 1, 0), m) - 2 * pow(eta, m);
  v[m - 1] = (1 + tt) * fac;
  for (let i = 1; i < m; i++) for (let r = i - 1; r < m; r++) H[r * m + i] = w[r - (i - 1)];
  for (let r = 0; r < m; r++) H[r * m] = v[r];
  for (let c = 0; c < m; c++) H[(m - 1) * m + c] = v[m - 1 - c];
  // Hⁿ by binary powering; track power-of-two exponents separately.
  let power: Float64Array | null = null;
  let powerExp = 0;
  let base: Float64Array = H;
  let baseExp = 0;
  let e = n;
  const SCALE = 2 ** 128;
  while (e > 0) {
    if (e % 2 === 1) {
      power = power === null ? base.slice() : matMul(power, base, m);
      powerExp += baseExp;
    }
    e = floor(e / 2);
    if (e > 0) {
      base = matMul(base, base, m);
      baseExp *= 2;
      if (abs(base[(k - 1) * m + (k - 1)]) > SCALE) {
        for (let i = 0; i < base.length; i++) base[i] /= SCALE;
        baseExp += 128;
      }
    }
  }
  const central = power === null ? 1 : power[(k - 1) * m + (k - 1)];
  if (!(central > 0)) return 0;
  const logP = log(central) + powerExp * Math.LN2 + logFactorialOverPowerExact(n);
  return min(1, exp(logP));
}

/** log(n!/nⁿ): the exact product for small n, Stirling (no cancellation) above. */
function logFactorialOverPowerExact(n: number): number {
  if (n <= 140) {
    let s = 0;
    for (let i = 1; i <= n; i++) s += log(i / n);
    return s;
  }
  return logFactorialOverPower(n);
}

function matMul(a: Float64Array, b: Float64Array, m: number): Float64Array {
  const out = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let l = 0; l < m; l++) {
      const ail = a[i * m + l];
      if (ail === 0) continue;
      for (let j = 0; j < m; j++) out[i * m + j] += ail * b[l * m + j];
    }
  }
  return out;
}

const PI2 = PI * PI;
const PI4 = PI2 * PI2;
const PI6 = PI4 * PI2;
const SQRT2PI = sqrt(2 * PI);

/** Pelz–Good (1976) approximation of P(D_n ≤ x), ported from scipy `_kolmogn_PelzGood`. */
function pelzGoodCdf(n: number, x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const z = sqrt(n) * x;
  const z2 = z * z;
  const z3 = z2 * z;
  const z4 = z2 * z2;
  const z6 = z4 * z2;
  const qlog = -PI2 / 8 / z2;
  if (qlog < -708) return 0;
  let q = exp(qlog);
  const k1a = -z2;
  const k1b = PI2 / 4;
  const k2a = 6 * z6 + 2 * z4;
  const k2b = ((2 * z4 - 5 * z2) * PI2) / 4;
  const k2c = (PI4 * (1 - 2 * z2)) / 16;
  const k3d = (PI6 * (5 - 30 * z2)) / 64;
  const k3c = (PI4 * (-60 * z2 + 212 * z4)) / 16;
  const k3b = (PI2 * (135 * z4 - 96 * z6)) / 4;
  const k3a = -30 * z6 - 90 * pow(z, 8);
  const K = [0, 0, 0, 0];
  const maxk = ceil((16 * z) / PI);
  for (let k = maxk; k >= 1; k--) {
    const mOdd = 2 * k - 1;
    const m2 = mOdd * mOdd;
    const m4 = m2 * m2;
    const m6 = m4 * m2;
    const qpower = pow(q, 8 * k);
    const coeffs = [1, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4, k3a + k3b * m2 + k3c * m4 + k3d * m6];
    for (let i = 0; i < 4; i++) K[i] = K[i] * qpower + coeffs[i];
  }
  const denominators = [z, 6 * z4, 72 * pow(z, 7), 6480 * pow(z, 10)];
  for (let i = 0; i < 4; i++) K[i] = (K[i] * q * SQRT2PI) / denominators[i];
  q = exp(-PI2 / 2 / z2);
  const sqrt3z = sqrt(3) * z;
  let k2extra = 0;
  let k3extra = 0;
  for (let k = maxk; k >= 1; k--) {
    const kSquared = k * k;
    const qp = pow(q, kSquared);
    k2extra += kSquared * qp;
    const kspi = PI * k;
    k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * kSquared * qp;
  }
  K[2] += (k2extra * PI2 * SQRT2PI) / (-36 * z3);
  K[3] += (k3extra * PI2 * SQRT2PI) / (216 * z6);
  let sum = 0;
  for (let i = 0; i < 4; i++) sum += K[i] / pow(n, i / 2);
  return sum;
}
