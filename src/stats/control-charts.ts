/**
 * Sequential control charts designed from a target in-control ARL (reference/statistics.md §10–12): CUSUM and EWMA
 * for a normal mean (e.g. the residual CT-FFR − invasive FFR ordered by **procedure date**), and a Bernoulli CUSUM for a
 * rate (e.g. discordance at the 0.80 threshold). Pure functions: ARL computation, design (h or L for a target ARL0),
 * and chart runners (statistic path, signals, reset semantics).
 *
 * Units. The normal-mean charts work on standardised observations z_t = (x_t − μ0)/σ with μ0, σ the **known**
 * in-control mean and SD (from a large baseline; statistics.md §10 shows what an estimated baseline does to ARL0).
 * Shifts δ are in σ units. ARL = expected number of observations to the first signal, counting the signalling one.
 *
 * CUSUM (Page 1954): C⁺_t = max(0, C⁺_{t−1} + z_t − k), C⁻_t = max(0, C⁻_{t−1} − z_t − k), C_0 = head start (0; FIR
 * h/2); signal when C⁺_t > h ('upper'), C⁻_t > h ('lower'), either ('two').
 *  - ARL, method 'integral-equation' (default): the ARL integral equation
 *      L(s) = 1 + Φ(k − s − δ)·L(0) + ∫₀ʰ φ(y + k − s − δ)·L(y) dy
 *    solved by the Nyström method on r Gauss–Legendre nodes with L(0) as an extra unknown — the method and the default
 *    r = 30 of R `spc::xcusum.arl` (Knoth), so the values agree to rounding (checked, fixtures/control-charts-oracle-r.json).
 *  - 'markov-chain': Brook & Evans (1972), N states of width w = 2h/(2N − 1) (state 0 = [0, w/2), state i centred at
 *    i·w); error O(1/N²) — kept as an independent cross-check.
 *  - 'siegmund': Siegmund's (1985) approximation ARL ≈ (e^{−2Δb} + 2Δb − 1)/(2Δ²), Δ = δ − k, b = h + 1.166
 *    (Δ = 0: b²); within a few % for ARL ≥ 50.
 *  - two-sided: from the two one-sided ARLs (Lucas & Crosier 1982), as spc does:
 *      ARL = (L⁺(hs)·L⁻(0) + L⁺(0)·L⁻(hs) − L⁺(0)·L⁻(0)) / (L⁺(0) + L⁻(0)),   = 1/(1/L⁺ + 1/L⁻) without head start.
 *    Exact when the upper and lower sums cannot both be positive; for small k (both can) it is the standard
 *    approximation (the Monte Carlo check in control-charts.spec.ts stays within its error at k = 0.125).
 *
 * EWMA (Roberts 1959; Lucas & Saccucci 1990), two-sided: w_t = λ·z_t + (1 − λ)·w_{t−1}, w_0 = 0; signal when
 * |w_t| > L·√(λ/(2 − λ)) (asymptotic limits, 'asymptotic') or > L·√(λ/(2 − λ)·(1 − (1 − λ)^{2t})) ('time-varying',
 * t counted from the last start). ARL (asymptotic limits only) by the Nyström method on r = 40 Gauss–Legendre nodes
 * over [−c, c], c = L·√(λ/(2 − λ)), kernel φ((y − (1 − λ)x)/λ − δ)/λ — spc `xewma.arl(sided = "two")`; or the
 * Lucas–Saccucci Markov chain. Time-varying limits are supported by the runner; their ARL0 is slightly lower than the
 * design value (λ = 0.1, L = 2.814: 486.4 instead of 499.6; statistics.md §11), so a design for an ARL0 contract uses
 * asymptotic limits.
 *
 * Bernoulli CUSUM (Reynolds & Stoumbos 1999; Steiner et al. 2000 without risk adjustment): y_t = 1 (discordant) or 0,
 * W_t = y_t·ln(p1/p0) + (1 − y_t)·ln((1 − p1)/(1 − p0)), S_t = max(0, S_{t−1} + W_t), signal when S_t > h. The chart
 * runs on an **integer lattice** (Reynolds & Stoumbos' integer-valued CUSUM): the ratio of the larger to the smaller
 * |weight| is replaced by its best rational approximation P/Q with Q ≤ `resolution` (default 20), the smaller weight
 * becomes exactly Q units and the larger P units (scale s = Q/|smaller weight|), and the limit is H = ⌊s·h⌋. S is kept
 * as an integer, so the chart that runs is exactly the chart whose ARL is computed — by solving the (H + 1)-state
 * absorbing Markov chain (I − Q)·L = 1 exactly (banded elimination). Only the larger weight moves, by
 * |P/Q − ratio|/ratio (5e-4 relative for p0 = 0.15, p1 = 0.25: 49/12 vs 4.08130); the chart reports the weights it
 * actually uses. Why not the real-valued chart: its reachable states i·a − j·|b| are infinitely many when a/b is
 * irrational, and its ARL is a discontinuous function of (a/b, h). At p0 = 0.15, p1 = 0.25, h = 3: lattice ratio 4/1
 * (resolution 5) gives ARL0 790.4, 49/12 (resolution 12–20, the default) 726.0, 151/37 (resolution 50) 727.0; a
 * 100,000-run Monte Carlo of the real-valued chart gives 728.4 ± 2.2 (statistics.md §12 quotes ≈756 and 736 from
 * smaller Monte Carlo runs). Design with `bernoulliCusumDesign` (a target ARL0 on the lattice that runs) rather than by
 * quoting an h.
 *
 * Reset semantics of every runner ('afterSignal'): 'reset' (default; statistics.md §10 — after a signal the statistic
 * restarts from its start value and monitoring continues, so later signals are new evidence; the returned path holds the
 * signalling value at the signal's index, the restart applies from the next observation), 'continue' (no reset:
 * the statistic keeps accumulating and every observation above the limit is reported — one ongoing excursion), 'stop'
 * (the path ends at the first signal).
 */
import { normalCdf, normalPdf } from './distributions';

const { abs, cos, exp, floor, log, max, min, PI, round, sqrt } = Math;

export type CusumSide = 'upper' | 'lower' | 'two';
export type CusumArlMethod = 'integral-equation' | 'markov-chain' | 'siegmund';
export type EwmaArlMethod = 'integral-equation' | 'markov-chain';
export type AfterSignal = 'reset' | 'continue' | 'stop';

/** spc's default quadrature sizes. */
export const CUSUM_NODES = 30;
export const EWMA_NODES = 40;

// ---------------------------------------------------------------------------------------------------------------------
// Numerical building blocks
// ---------------------------------------------------------------------------------------------------------------------

/** Gauss–Legendre nodes and weights on [a, b] (Newton on P_r from the Chebyshev guess; Numerical Recipes `gauleg`). */
export function gaussLegendre(
  r: number,
  a: number,
  b: number,
): { nodes: Float64Array; weights: Float64Array } {
  if (!(Number.isInteger(r) && r >= 1))
    throw new RangeError(`number of nodes must be a positive integer, got ${r}`);
  const nodes = new Float64Array(r);
  const weights = new Float64Array(r);
  const mid = 0.5 * (b + a);
  const half = 0.5 * (b - a);
  const m = floor((r + 1) / 2);
  for (let i = 0; i < m; i++) {
    let z = cos((PI * (i + 0.75)) / (r + 0.5));
    let derivative = 0;
    for (let iteration = 0; iteration < 100; iteration++) {
      let p1 = 1;
      let p2 = 0;
      for (let j = 1; j <= r; j++) {
        const p3 = p2;
        p2 = p1;
        p1 = ((2 * j - 1) * z * p2 - (j - 1) * p3) / j;
      }
      derivative = (r * (z * p1 - p2)) / (z * z - 1);
      const previous = z;
      z = previous - p1 / derivative;
      if (abs(z - previous) <= 1e-15) break;
    }
    // Recompute the derivative at the converged node.
    let p1 = 1;
    let p2 = 0;
    for (let j = 1; j <= r; j++) {
      const p3 = p2;
      p2 = p1;
      p1 = ((2 * j - 1) * z * p2 - (j - 1) * p3) / j;
    }
    derivative = (r * (z * p1 - p2)) / (z * z - 1);
    nodes[i] = mid - half * z;
    nodes[r - 1 - i] = mid + half * z;
    const w = (2 * half) / ((1 - z * z) * derivative * derivative);
    weights[i] = w;
    weights[r - 1 - i] = w;
  }
  return { nodes, weights };
}

/** Solve A·x = b in place (A row-major n×n, destroyed) by Gaussian elimination with partial pivoting. */
function solveDense(a: Float64Array, b: Float64Array, n: number): Float64Array {
  for (let col = 0; col < n; col++) {
    let pivot = col;
    let best = abs(a[col * n + col]);
    for (let row = col + 1; row < n; row++) {
      const v = abs(a[row * n + col]);
      if (v > best) {
        best = v;
        pivot = row;
      }
    }
    if (best === 0) throw new Error('singular system in ARL computation');
    if (pivot !== col) {
      for (let j = 0; j < n; j++) {
        const t = a[col * n + j];
        a[col * n + j] = a[pivot * n + j];
        a[pivot * n + j] = t;
      }
      const t = b[col];
      b[col] = b[pivot];
      b[pivot] = t;
    }
    const diag = a[col * n + col];
    for (let row = col + 1; row < n; row++) {
      const factor = a[row * n + col] / diag;
      if (factor === 0) continue;
      for (let j = col; j < n; j++) a[row * n + j] -= factor * a[col * n + j];
      b[row] -= factor * b[col];
    }
  }
  const x = new Float64Array(n);
  for (let row = n - 1; row >= 0; row--) {
    let s = b[row];
    for (let j = row + 1; j < n; j++) s -= a[row * n + j] * x[j];
    x[row] = s / a[row * n + row];
  }
  return x;
}

/**
 * Find x with f(x) = target for an increasing positive f, starting from a bracket [lo, hi] that is widened by
 * doubling hi. Bisection safeguarded secant on log f − log target; stops at |Δx| ≤ 1e-12·max(1, x).
 */
function solveIncreasing(f: (x: number) => number, target: number, lo0: number, hi0: number): number {
  let lo = lo0;
  let hi = hi0;
  let fLo = log(f(lo)) - log(target);
  if (fLo > 0) throw new RangeError(`target ${target} is below the smallest reachable value ${f(lo)}`);
  let fHi = log(f(hi)) - log(target);
  for (let i = 0; fHi < 0; i++) {
    if (i > 60) throw new RangeError(`target ${target} not reachable`);
    lo = hi;
    fLo = fHi;
    hi *= 2;
    fHi = log(f(hi)) - log(target);
  }
  let x = hi;
  for (let iteration = 0; iteration < 200; iteration++) {
    let next = hi - (fHi * (hi - lo)) / (fHi - fLo);
    if (!(next > lo && next < hi) || iteration % 3 === 2) next = 0.5 * (lo + hi);
    const fNext = log(f(next)) - log(target);
    if (fNext === 0) return next;
    if (fNext < 0) {
      lo = next;
      fLo = fNext;
    } else {
      hi = next;
      fHi = fNext;
    }
    if (abs(next - x) <= 1e-12 * max(1, abs(next)) || hi - lo <= 1e-13 * max(1, abs(hi))) return next;
    x = next;
  }
  return x;
}

// ---------------------------------------------------------------------------------------------------------------------
// CUSUM for a normal mean
// ---------------------------------------------------------------------------------------------------------------------

export interface CusumDesign {
  /** Reference value in σ units (k = δ/2 for a target shift δ). */
  readonly k: number;
  /** Decision interval in σ units. */
  readonly h: number;
  readonly sided: CusumSide;
  /** Start value of the sums (0; FIR head start e.g. h/2), in σ units. */
  readonly headStart?: number;
}

export interface CusumArlOptions {
  readonly method?: CusumArlMethod;
  /** Gauss–Legendre nodes (integral equation, default 30 = spc) or Markov-chain states (default 400). */
  readonly nodes?: number;
}

function assertCusum(design: CusumDesign): void {
  if (!(design.k >= 0 && Number.isFinite(design.k))) throw new RangeError(`k must be ≥ 0, got ${design.k}`);
  if (!(design.h > 0 && Number.isFinite(design.h))) throw new RangeError(`h must be > 0, got ${design.h}`);
  const hs = design.headStart ?? 0;
  if (!(hs >= 0 && hs <= design.h)) throw new RangeError(`head start must be in [0, h], got ${hs}`);
}

/** One-sided upper CUSUM ARL by the Nyström method (spc `xc1_iglarl` arrangement). */
function cusumUpperArlIntegral(k: number, h: number, shift: number, hs: number, r: number): number {
  const { nodes: z, weights: w } = gaussLegendre(r, 0, h);
  const n = r + 1;
  const a = new Float64Array(n * n);
  for (let i = 0; i < r; i++) {
    for (let j = 0; j < r; j++) a[i * n + j] = -w[j] * normalPdf(k + z[j] - z[i] - shift);
    a[i * n + i] += 1;
    a[i * n + r] = -normalCdf(k - z[i] - shift);
  }
  for (let j = 0; j < r; j++) a[r * n + j] = -w[j] * normalPdf(k + z[j] - shift);
  a[r * n + r] = 1 - normalCdf(k - shift);
  const g = solveDense(a, new Float64Array(n).fill(1), n);
  let arl = 1 + normalCdf(k - hs - shift) * g[r];
  for (let j = 0; j < r; j++) arl += w[j] * normalPdf(k + z[j] - hs - shift) * g[j];
  return arl;
}

/** One-sided upper CUSUM ARL by the Brook–Evans Markov chain with N states. */
function cusumUpperArlMarkov(k: number, h: number, shift: number, hs: number, states: number): number {
  const n = states;
  const width = (2 * h) / (2 * n - 1);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const centre = i * width;
    a[i * n] = -normalCdf(width / 2 - centre + k - shift);
    for (let j = 1; j < n; j++) {
      const upper = j * width + width / 2 - centre + k - shift;
      const lower = j * width - width / 2 - centre + k - shift;
      a[i * n + j] = -(normalCdf(upper) - normalCdf(lower));
    }
    a[i * n + i] += 1;
  }
  const arl = solveDense(a, new Float64Array(n).fill(1), n);
  const start = min(n - 1, round(hs / width));
  return arl[start];
}

/** Siegmund's approximation of the one-sided upper CUSUM ARL (no head start). */
export function siegmundArl(k: number, h: number, shift: number): number {
  const delta = shift - k;
  const b = h + 1.166;
  if (abs(delta) < 1e-12) return b * b;
  return (exp(-2 * delta * b) + 2 * delta * b - 1) / (2 * delta * delta);
}

function cusumUpperArl(k: number, h: number, shift: number, hs: number, options: CusumArlOptions): number {
  const method = options.method ?? 'integral-equation';
  if (method === 'siegmund') {
    if (hs !== 0) throw new RangeError("Siegmund's approximation has no head start");
    return siegmundArl(k, h, shift);
  }
  if (method === 'markov-chain') return cusumUpperArlMarkov(k, h, shift, hs, options.nodes ?? 400);
  return cusumUpperArlIntegral(k, h, shift, hs, options.nodes ?? CUSUM_NODES);
}

/**
 * Zero-state ARL of a CUSUM at a mean shift of `shift` σ (0 = in control). 'lower' at δ equals 'upper' at −δ;
 * 'two' combines both (Lucas & Crosier; file header).
 */
export function cusumArl(design: CusumDesign, shift = 0, options: CusumArlOptions = {}): number {
  assertCusum(design);
  const { k, h } = design;
  const hs = design.headStart ?? 0;
  if (design.sided === 'upper') return cusumUpperArl(k, h, shift, hs, options);
  if (design.sided === 'lower') return cusumUpperArl(k, h, -shift, hs, options);
  const up0 = cusumUpperArl(k, h, shift, 0, options);
  const down0 = cusumUpperArl(k, h, -shift, 0, options);
  if (hs === 0) return (up0 * down0) / (up0 + down0);
  const upHs = cusumUpperArl(k, h, shift, hs, options);
  const downHs = cusumUpperArl(k, h, -shift, hs, options);
  return (upHs * down0 + up0 * downHs - up0 * down0) / (up0 + down0);
}

export interface CusumDesignRequest {
  readonly k: number;
  readonly arl0: number;
  readonly sided: CusumSide;
  readonly headStart?: number;
  readonly nodes?: number;
}

/** A CUSUM designed for a target in-control ARL0, with the ARL0 it achieves. */
export interface DesignedCusum extends CusumDesign {
  readonly arl0: number;
}

/** h such that the in-control ARL equals `arl0` at the given k (spc `xcusum.crit`; integral equation). */
export function cusumDesign(request: CusumDesignRequest): DesignedCusum {
  const { k, arl0, sided } = request;
  if (!(arl0 > 1 && Number.isFinite(arl0))) throw new RangeError(`target ARL0 must be > 1, got ${arl0}`);
  if (!(k >= 0)) throw new RangeError(`k must be ≥ 0, got ${k}`);
  const hs = request.headStart ?? 0;
  const options: CusumArlOptions = { method: 'integral-equation', nodes: request.nodes };
  const h = solveIncreasing(
    (x) => cusumArl({ k, h: x, sided, headStart: min(hs, x) }, 0, options),
    arl0,
    max(1e-3, hs),
    1,
  );
  const design = { k, h, sided, headStart: hs };
  return { ...design, arl0: cusumArl(design, 0, options) };
}

// ---------------------------------------------------------------------------------------------------------------------
// EWMA for a normal mean (two-sided)
// ---------------------------------------------------------------------------------------------------------------------

export interface EwmaDesign {
  /** Smoothing constant, 0 < λ ≤ 1. */
  readonly lambda: number;
  /** Limit width in units of the EWMA's asymptotic SD √(λ/(2−λ))·σ. */
  readonly L: number;
}

export interface EwmaArlOptions {
  readonly method?: EwmaArlMethod;
  /** Gauss–Legendre nodes (default 40 = spc) or Markov-chain states (default 401). */
  readonly nodes?: number;
}

function assertEwma(design: EwmaDesign): void {
  if (!(design.lambda > 0 && design.lambda <= 1))
    throw new RangeError(`λ must be in (0, 1], got ${design.lambda}`);
  if (!(design.L > 0 && Number.isFinite(design.L))) throw new RangeError(`L must be > 0, got ${design.L}`);
}

/** Half-width of the asymptotic EWMA limits in σ units: L·√(λ/(2 − λ)). */
export function ewmaAsymptoticLimit(design: EwmaDesign): number {
  return design.L * sqrt(design.lambda / (2 - design.lambda));
}

/** Zero-state ARL of the two-sided EWMA with asymptotic limits at a mean shift of `shift` σ. */
export function ewmaArl(design: EwmaDesign, shift = 0, options: EwmaArlOptions = {}): number {
  assertEwma(design);
  const l = design.lambda;
  const c = ewmaAsymptoticLimit(design);
  if ((options.method ?? 'integral-equation') === 'markov-chain') {
    let n = options.nodes ?? 401;
    if (n % 2 === 0) n++;
    const width = (2 * c) / n;
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      const from = (1 - l) * (-c + (i + 0.5) * width);
      for (let j = 0; j < n; j++) {
        const lower = -c + j * width;
        const upper = lower + width;
        a[i * n + j] = -(normalCdf((upper - from) / l - shift) - normalCdf((lower - from) / l - shift));
      }
      a[i * n + i] += 1;
    }
    return solveDense(a, new Float64Array(n).fill(1), n)[(n - 1) / 2];
  }
  const r = options.nodes ?? EWMA_NODES;
  const { nodes: z, weights: w } = gaussLegendre(r, -c, c);
  const a = new Float64Array(r * r);
  for (let i = 0; i < r; i++) {
    for (let j = 0; j < r; j++) a[i * r + j] = (-w[j] / l) * normalPdf((z[j] - (1 - l) * z[i]) / l - shift);
    a[i * r + i] += 1;
  }
  const g = solveDense(a, new Float64Array(r).fill(1), r);
  let arl = 1;
  for (let j = 0; j < r; j++) arl += (w[j] / l) * normalPdf(z[j] / l - shift) * g[j];
  return arl;
}

export interface DesignedEwma extends EwmaDesign {
  readonly arl0: number;
}

/** L such that the in-control ARL of the two-sided EWMA (asymptotic limits) equals `arl0` (spc `xewma.crit`). */
export function ewmaDesign(request: {
  readonly lambda: number;
  readonly arl0: number;
  readonly nodes?: number;
}): DesignedEwma {
  const { lambda, arl0 } = request;
  if (!(arl0 > 1 && Number.isFinite(arl0))) throw new RangeError(`target ARL0 must be > 1, got ${arl0}`);
  if (!(lambda > 0 && lambda <= 1)) throw new RangeError(`λ must be in (0, 1], got ${lambda}`);
  const options: EwmaArlOptions = { method: 'integral-equation', nodes: request.nodes };
  const L = solveIncreasing((x) => ewmaArl({ lambda, L: x }, 0, options), arl0, 0.05, 1);
  return { lambda, L, arl0: ewmaArl({ lambda, L }, 0, options) };
}

// ---------------------------------------------------------------------------------------------------------------------
// Bernoulli CUSUM on an integer lattice
// ---------------------------------------------------------------------------------------------------------------------

export interface BernoulliCusumRequest {
  /** In-control rate (e.g. discordance 0.15). */
  readonly p0: number;
  /** Out-of-control rate the chart is tuned to detect (e.g. 0.25; below p0 to detect a decrease). */
  readonly p1: number;
  /** Decision limit on the log-likelihood-ratio scale. */
  readonly h: number;
  /** Largest number of integer units of the smaller |weight| (default 20; file header). */
  readonly resolution?: number;
}

/** A Bernoulli CUSUM as it runs: integer steps and limit on the lattice of scale `scale`. */
export interface BernoulliCusumChart {
  readonly p0: number;
  readonly p1: number;
  readonly resolution: number;
  /** Lattice units per unit of log-likelihood ratio. */
  readonly scale: number;
  /** Integer step added on an event (y = 1). */
  readonly stepEvent: number;
  /** Integer step added on a non-event (y = 0). */
  readonly stepNonEvent: number;
  /** Integer limit H: signal when S > H. */
  readonly limit: number;
  /** h = H/scale actually used. */
  readonly h: number;
  /** The weights actually used (steps/scale) and the exact ones ln(p1/p0), ln((1 − p1)/(1 − p0)). */
  readonly weights: {
    readonly event: number;
    readonly nonEvent: number;
    readonly exactEvent: number;
    readonly exactNonEvent: number;
  };
}

export const DEFAULT_BERNOULLI_RESOLUTION = 20;

function assertRates(p0: number, p1: number): void {
  if (!(p0 > 0 && p0 < 1)) throw new RangeError(`p0 must be in (0, 1), got ${p0}`);
  if (!(p1 > 0 && p1 < 1)) throw new RangeError(`p1 must be in (0, 1), got ${p1}`);
  if (p0 === p1) throw new RangeError('p1 must differ from p0');
}

/**
 * Best rational approximation P/Q of x ≥ 1 with Q ≤ maxDenominator (continued fractions with the semiconvergent
 * check, as Python's `Fraction.limit_denominator`).
 */
export function bestRationalApproximation(x: number, maxDenominator: number): { p: number; q: number } {
  if (!(x > 0 && Number.isFinite(x))) throw new RangeError(`x must be finite and > 0, got ${x}`);
  let p0 = 0;
  let q0 = 1;
  let p1 = 1;
  let q1 = 0;
  let rest = x;
  for (let iteration = 0; iteration < 64; iteration++) {
    const a = floor(rest);
    const q2 = q0 + a * q1;
    if (q2 > maxDenominator) break;
    const p2 = p0 + a * p1;
    p0 = p1;
    q0 = q1;
    p1 = p2;
    q1 = q2;
    const frac = rest - a;
    if (frac < 1e-12) break;
    rest = 1 / frac;
  }
  // Semiconvergent with the largest admissible multiplier vs the last convergent.
  const k = floor((maxDenominator - q0) / q1);
  const ps = p0 + k * p1;
  const qs = q0 + k * q1;
  return abs(ps / qs - x) < abs(p1 / q1 - x) ? { p: ps, q: qs } : { p: p1, q: q1 };
}

function bernoulliLattice(
  p0: number,
  p1: number,
  resolution: number,
): { scale: number; a: number; b: number } {
  assertRates(p0, p1);
  if (!(Number.isInteger(resolution) && resolution >= 1)) {
    throw new RangeError(`resolution must be a positive integer, got ${resolution}`);
  }
  const event = log(p1 / p0);
  const nonEvent = log((1 - p1) / (1 - p0));
  const small = min(abs(event), abs(nonEvent));
  const large = max(abs(event), abs(nonEvent));
  const { p, q } = bestRationalApproximation(large / small, resolution);
  // The smaller weight is exactly q units; the larger is p units (ratio p/q ≈ large/small).
  const scale = q / small;
  const units = (w: number): number => Math.sign(w) * (abs(w) === small ? q : p);
  return { scale, a: units(event), b: units(nonEvent) };
}

/** The lattice chart for (p0, p1, h). */
export function bernoulliCusumChart(request: BernoulliCusumRequest): BernoulliCusumChart {
  const resolution = request.resolution ?? DEFAULT_BERNOULLI_RESOLUTION;
  const { scale, a, b } = bernoulliLattice(request.p0, request.p1, resolution);
  if (!(request.h > 0 && Number.isFinite(request.h))) throw new RangeError(`h must be > 0, got ${request.h}`);
  const limit = floor(request.h * scale * (1 + 1e-12));
  return chartFromLattice(request.p0, request.p1, resolution, scale, a, b, limit);
}

function chartFromLattice(
  p0: number,
  p1: number,
  resolution: number,
  scale: number,
  a: number,
  b: number,
  limit: number,
): BernoulliCusumChart {
  return {
    p0,
    p1,
    resolution,
    scale,
    stepEvent: a,
    stepNonEvent: b,
    limit,
    h: limit / scale,
    weights: {
      event: a / scale,
      nonEvent: b / scale,
      exactEvent: log(p1 / p0),
      exactNonEvent: log((1 - p1) / (1 - p0)),
    },
  };
}

/**
 * Exact zero-state ARL of the lattice chart when the true event rate is p: L(i) = 1 + p·L(next(i + a)) +
 * (1 − p)·L(next(i + b)), next(j) = max(0, j), absorbing when j > H; banded Gaussian elimination on I − Q (an
 * M-matrix: no pivoting needed), O(H·|a|·|b|) — bernoulliCusumArlByLimit's factorisation at the chart's own limit.
 */
export function bernoulliCusumArl(chart: BernoulliCusumChart, p: number): number {
  const arl = bernoulliCusumArlByLimit(chart, p)(chart.limit);
  if (!Number.isFinite(arl)) throw new Error('Bernoulli CUSUM ARL: the chart never signals (infinite ARL)');
  return arl;
}

/**
 * Zero-state ARLs of the lattice chart at rate p for every limit H ≤ chart.limit, from one banded factorisation: the
 * system of a smaller limit is the leading block of the larger one (transitions beyond it are absorbed), and Gaussian
 * elimination without pivoting factors leading blocks consistently, so each limit then costs one back substitution,
 * O(H·|a|) instead of O(H·|a|·|b|) (a design that searches the limit over quadrature rates needs dozens). Limits at or
 * beyond a column where elimination meets a non-positive pivot (ARLs beyond ~10¹⁵: numerically infinite) give
 * Infinity. Equals bernoulliCusumArl at every limit (control-charts.spec.ts).
 */
export function bernoulliCusumArlByLimit(chart: BernoulliCusumChart, p: number): (limit: number) => number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`p must be in [0, 1], got ${p}`);
  const H = chart.limit;
  const n = H + 1;
  const bl = max(0, -min(chart.stepEvent, chart.stepNonEvent));
  const bu = max(0, chart.stepEvent, chart.stepNonEvent);
  const width = bl + bu + 1;
  const band = new Float64Array(n * width);
  const rhs = new Float64Array(n).fill(1);
  // The two transitions of row i, event then non-event (no per-row objects: limits reach 10⁵–10⁶ rows).
  const steps = [chart.stepEvent, chart.stepNonEvent];
  const probabilities = [p, 1 - p];
  for (let i = 0; i < n; i++) {
    band[i * width + bl] = 1;
    for (let t = 0; t < 2; t++) {
      const prob = probabilities[t];
      if (prob === 0) continue;
      const j = max(0, i + steps[t]);
      if (j > H) continue;
      band[i * width + (j - i + bl)] -= prob;
    }
  }
  let factored = n;
  for (let col = 0; col < n; col++) {
    const diag = band[col * width + bl];
    if (!(diag > 0)) {
      factored = col;
      break;
    }
    const lastRow = min(n - 1, col + bl);
    const lastCol = min(n - 1, col + bu);
    // Entry (r, j) of the band is band[r · width + j − r + bl]; the row offsets are hoisted out of the inner loop.
    const colOffset = col * width - col + bl;
    for (let row = col + 1; row <= lastRow; row++) {
      const rowOffset = row * width - row + bl;
      const idx = rowOffset + col;
      const factor = band[idx] / diag;
      if (factor === 0) continue;
      band[idx] = 0;
      for (let j = col + 1; j <= lastCol; j++) band[rowOffset + j] -= factor * band[colOffset + j];
      rhs[row] -= factor * rhs[col];
    }
  }
  return (limit: number): number => {
    if (!(Number.isInteger(limit) && limit >= 0 && limit <= H)) {
      throw new RangeError(`limit must be an integer in [0, ${H}], got ${limit}`);
    }
    const m = limit + 1;
    if (m > factored) return Infinity;
    const x = new Float64Array(m);
    for (let row = m - 1; row >= 0; row--) {
      let acc = rhs[row];
      const lastCol = min(m - 1, row + bu);
      const rowOffset = row * width - row + bl;
      for (let j = row + 1; j <= lastCol; j++) acc -= band[rowOffset + j] * x[j];
      x[row] = acc / band[rowOffset + row];
    }
    return x[0];
  };
}

export interface DesignedBernoulliCusum extends BernoulliCusumChart {
  /** Achieved in-control ARL (≥ the target: the smallest lattice limit that reaches it). */
  readonly arl0: number;
}

/** Smallest lattice limit H whose in-control ARL (p = p0) is ≥ `arl0`. */
export function bernoulliCusumDesign(request: {
  readonly p0: number;
  readonly p1: number;
  readonly arl0: number;
  readonly resolution?: number;
}): DesignedBernoulliCusum {
  const resolution = request.resolution ?? DEFAULT_BERNOULLI_RESOLUTION;
  if (!(request.arl0 > 1 && Number.isFinite(request.arl0))) {
    throw new RangeError(`target ARL0 must be > 1, got ${request.arl0}`);
  }
  const { scale, a, b } = bernoulliLattice(request.p0, request.p1, resolution);
  const at = (H: number): number =>
    bernoulliCusumArl(chartFromLattice(request.p0, request.p1, resolution, scale, a, b, H), request.p0);
  let lo = 0;
  let hi = max(abs(a), abs(b));
  while (at(hi) < request.arl0) {
    lo = hi;
    hi *= 2;
    if (hi > 1e7) throw new RangeError(`target ARL0 ${request.arl0} not reachable`);
  }
  if (at(lo) >= request.arl0) hi = lo;
  while (hi - lo > 1) {
    const mid = floor((lo + hi) / 2);
    if (at(mid) >= request.arl0) hi = mid;
    else lo = mid;
  }
  const chart = chartFromLattice(request.p0, request.p1, resolution, scale, a, b, hi);
  return { ...chart, arl0: bernoulliCusumArl(chart, request.p0) };
}

// ---------------------------------------------------------------------------------------------------------------------
// Runners
// ---------------------------------------------------------------------------------------------------------------------

export interface ChartSignal {
  /** Index (0-based, in the order given — procedure date) of the observation that signalled. */
  readonly index: number;
  readonly side: 'upper' | 'lower';
  /** Statistic value at the signal (σ units for CUSUM/EWMA, log-likelihood ratio for Bernoulli). */
  readonly statistic: number;
  /**
   * CUSUM only: first index of the excursion that ended in the signal (the estimated change point is just before it)
   * and the estimated shifted mean μ0 ± σ·(k + C/N), N = index − excursionStart + 1 (Montgomery §9.1).
   */
  readonly excursionStart?: number;
  readonly shiftedMeanEstimate?: number;
}

export interface ChartRun {
  /** Signals in order (only the first with afterSignal 'stop'). */
  readonly signals: readonly ChartSignal[];
  /** Index of the first signal, null when none. */
  readonly firstSignal: number | null;
  /** Number of observations processed (< values.length only with 'stop'). */
  readonly processed: number;
}

export interface CusumRun extends ChartRun {
  /** C⁺ path (σ units), one per processed observation (record 'last': the last only); zeros for a 'lower' chart. */
  readonly upper: readonly number[];
  /** C⁻ path (σ units); all zeros for an 'upper' chart. */
  readonly lower: readonly number[];
}

export interface NormalBaseline {
  /** Known in-control mean (e.g. the residual bias of the pivotal data). */
  readonly mu0: number;
  /** Known in-control SD. */
  readonly sigma: number;
}

function assertBaseline(b: NormalBaseline): void {
  if (!Number.isFinite(b.mu0)) throw new RangeError(`μ0 must be finite, got ${b.mu0}`);
  if (!(b.sigma > 0 && Number.isFinite(b.sigma))) throw new RangeError(`σ must be > 0, got ${b.sigma}`);
}

function assertFinite(values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new RangeError(`observation ${i} is not finite: ${values[i]}`);
  }
}

/** Run a CUSUM over observations ordered by procedure date (file header for reset semantics). */
export function runCusum(
  values: ArrayLike<number>,
  design: CusumDesign & NormalBaseline & { readonly afterSignal?: AfterSignal; readonly record?: PathRecord },
): CusumRun {
  assertCusum(design);
  assertBaseline(design);
  assertFinite(values);
  const { k, h, mu0, sigma, sided } = design;
  const start = design.headStart ?? 0;
  const afterSignal = design.afterSignal ?? 'reset';
  const watchUpper = sided !== 'lower';
  const watchLower = sided !== 'upper';
  const upper: number[] = [];
  const lower: number[] = [];
  const signals: ChartSignal[] = [];
  let cPlus = watchUpper ? start : 0;
  let cMinus = watchLower ? start : 0;
  let plusStart = 0;
  let minusStart = 0;
  let processed = 0;
  const recordPath = (design.record ?? 'path') === 'path';
  for (let t = 0; t < values.length; t++) {
    const z = (values[t] - mu0) / sigma;
    if (watchUpper) {
      if (cPlus === 0) plusStart = t;
      cPlus = max(0, cPlus + z - k);
    }
    if (watchLower) {
      if (cMinus === 0) minusStart = t;
      cMinus = max(0, cMinus - z - k);
    }
    if (recordPath || t === values.length - 1) {
      upper.push(cPlus);
      lower.push(cMinus);
    }
    processed = t + 1;
    const upSignal = watchUpper && cPlus > h;
    const downSignal = watchLower && cMinus > h;
    if (upSignal) {
      const runLength = t - plusStart + 1;
      signals.push({
        index: t,
        side: 'upper',
        statistic: cPlus,
        excursionStart: plusStart,
        shiftedMeanEstimate: mu0 + sigma * (k + cPlus / runLength),
      });
    }
    if (downSignal) {
      const runLength = t - minusStart + 1;
      signals.push({
        index: t,
        side: 'lower',
        statistic: cMinus,
        excursionStart: minusStart,
        shiftedMeanEstimate: mu0 - sigma * (k + cMinus / runLength),
      });
    }
    if (upSignal || downSignal) {
      if (afterSignal === 'stop') {
        if (!recordPath && t < values.length - 1) {
          upper.push(cPlus);
          lower.push(cMinus);
        }
        break;
      }
      if (afterSignal === 'reset') {
        cPlus = watchUpper ? start : 0;
        cMinus = watchLower ? start : 0;
        if (start > 0) {
          plusStart = t + 1;
          minusStart = t + 1;
        }
      }
    }
  }
  return { upper, lower, signals, firstSignal: signals.length ? signals[0].index : null, processed };
}

export type EwmaLimits = 'asymptotic' | 'time-varying';

/**
 * What a runner keeps of its statistic: the whole path (one value per processed observation, the default) or only the
 * value at the last processed observation — an evaluation over millions of vessels reads the last value and the
 * signals, and a path per chart and segment was most of its allocation.
 */
export type PathRecord = 'path' | 'last';

export interface EwmaRun extends ChartRun {
  /** EWMA path in the observations' units: μ0 + σ·w_t (record 'last': the last processed value only, as below). */
  readonly ewma: readonly number[];
  /** Control limits in the observations' units at each step. */
  readonly lowerLimit: readonly number[];
  readonly upperLimit: readonly number[];
}

/** Run a two-sided EWMA over observations ordered by procedure date. */
export function runEwma(
  values: ArrayLike<number>,
  design: EwmaDesign &
    NormalBaseline & {
      readonly limits?: EwmaLimits;
      readonly afterSignal?: AfterSignal;
      readonly record?: PathRecord;
    },
): EwmaRun {
  assertEwma(design);
  assertBaseline(design);
  assertFinite(values);
  const { lambda, L, mu0, sigma } = design;
  const limits = design.limits ?? 'asymptotic';
  const afterSignal = design.afterSignal ?? 'reset';
  const asymptoticVariance = lambda / (2 - lambda);
  const ewma: number[] = [];
  const lowerLimit: number[] = [];
  const upperLimit: number[] = [];
  const signals: ChartSignal[] = [];
  let w = 0;
  let sinceStart = 0;
  let processed = 0;
  const recordPath = (design.record ?? 'path') === 'path';
  for (let t = 0; t < values.length; t++) {
    const z = (values[t] - mu0) / sigma;
    w = lambda * z + (1 - lambda) * w;
    sinceStart++;
    const variance =
      limits === 'asymptotic'
        ? asymptoticVariance
        : asymptoticVariance * (1 - (1 - lambda) ** (2 * sinceStart));
    const half = L * sqrt(variance);
    const signalled = abs(w) > half;
    if (recordPath || t === values.length - 1 || (signalled && afterSignal === 'stop')) {
      ewma.push(mu0 + sigma * w);
      lowerLimit.push(mu0 - sigma * half);
      upperLimit.push(mu0 + sigma * half);
    }
    processed = t + 1;
    if (signalled) {
      signals.push({ index: t, side: w > 0 ? 'upper' : 'lower', statistic: w });
      if (afterSignal === 'stop') break;
      if (afterSignal === 'reset') {
        w = 0;
        sinceStart = 0;
      }
    }
  }
  return {
    ewma,
    lowerLimit,
    upperLimit,
    signals,
    firstSignal: signals.length ? signals[0].index : null,
    processed,
  };
}

export interface BernoulliCusumRun extends ChartRun {
  /** S path on the log-likelihood-ratio scale (lattice value / scale); record 'last': the last value only. */
  readonly statistic: readonly number[];
}

/** Run a Bernoulli CUSUM over outcomes (1/true = event, e.g. discordant) ordered by procedure date. */
export function runBernoulliCusum(
  outcomes: ArrayLike<boolean | number>,
  chart: BernoulliCusumChart,
  options: { readonly afterSignal?: AfterSignal; readonly record?: PathRecord } = {},
): BernoulliCusumRun {
  const afterSignal = options.afterSignal ?? 'reset';
  const recordPath = (options.record ?? 'path') === 'path';
  const statistic: number[] = [];
  const signals: ChartSignal[] = [];
  let s = 0;
  let processed = 0;
  for (let t = 0; t < outcomes.length; t++) {
    const y = outcomes[t];
    if (!(y === true || y === false || y === 0 || y === 1)) {
      throw new RangeError(`outcome ${t} must be 0/1 or a boolean, got ${String(y)}`);
    }
    s = max(0, s + (y === true || y === 1 ? chart.stepEvent : chart.stepNonEvent));
    const signalled = s > chart.limit;
    if (recordPath || t === outcomes.length - 1 || (signalled && afterSignal === 'stop')) {
      statistic.push(s / chart.scale);
    }
    processed = t + 1;
    if (signalled) {
      signals.push({ index: t, side: chart.p1 > chart.p0 ? 'upper' : 'lower', statistic: s / chart.scale });
      if (afterSignal === 'stop') break;
      if (afterSignal === 'reset') s = 0;
    }
  }
  return { statistic, signals, firstSignal: signals.length ? signals[0].index : null, processed };
}
