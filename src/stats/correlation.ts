/**
 * Correlation of CT-FFR with invasive FFR (statistics.md §7). Reported because papers report it, never as a measure
 * of agreement: r depends on the spread of FFR in the population (use Bland–Altman, agreement.ts, for agreement).
 *
 *  - Pearson r with the Fisher-z interval tanh(atanh(r) ± z/√(n − 3)) (= R `cor.test`, scipy `pearsonr`);
 *  - Spearman ρ = Pearson r of the midranks (ties get the average rank, statistics.md §3 midranks), with a Fisher-z
 *    interval whose SE convention is explicit in the result. Default `fieller`: SE = √(1.06/(n − 3)) (Fieller,
 *    Hartley & Pearson 1957, Biometrika 44:470 — the variant statistics.md §7 gives for ρ); `fisher` uses 1/√(n − 3)
 *    (optimistic for ρ), `bonett-wright` √((1 + ρ²/2)/(n − 3)) (Bonett & Wright 2000, Psychometrika 65:23; wider when
 *    |ρ| is large, as it is for CT-FFR).
 *
 * Units are vessels and n − 3 counts vessels, so with several vessels per patient the interval is optimistic
 * (statistics.md §7); the result says so in `method`.
 * Not estimable: fewer than 4 pairs (n − 3 ≤ 0), or no variation in either variable (r = 0/0).
 */
import { twoSidedNormalCritical } from './distributions';
import { type Interval, type NotEstimable, midranks } from './roc';
import type { LinkedVessel } from './proportions';

export type SpearmanStandardError = 'fieller' | 'fisher' | 'bonett-wright';

export type CorrelationNotEstimableReason = 'too-few-pairs' | 'constant-values';

export interface CorrelationEstimate {
  readonly estimable: true;
  readonly method: 'pearson' | 'spearman';
  readonly estimate: number;
  readonly n: number;
  readonly ci95: Interval;
  /** SE of atanh(estimate) used for the interval. */
  readonly standardErrorZ: number;
  /** The interval method, in words (SE convention and the clustering caveat). */
  readonly interval: string;
}

export interface CorrelationNotEstimable extends NotEstimable<CorrelationNotEstimableReason> {
  readonly method: 'pearson' | 'spearman';
  readonly estimate: null;
  readonly n: number;
  readonly ci95: null;
}

export type CorrelationResult = CorrelationEstimate | CorrelationNotEstimable;

export interface CorrelationOptions {
  readonly confidenceLevel?: number;
}

export interface SpearmanOptions extends CorrelationOptions {
  /** SE convention of the Fisher-z interval for ρ. Default 'fieller'. */
  readonly standardError?: SpearmanStandardError;
}

function assertPairs(x: readonly number[], y: readonly number[]): void {
  if (x.length !== y.length) throw new RangeError(`x and y differ in length: ${x.length} vs ${y.length}`);
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i]) || !Number.isFinite(y[i])) {
      throw new RangeError(`non-finite value at index ${i}: ${x[i]}, ${y[i]}`);
    }
  }
}

/** Pearson r by centred sums (two passes; no cancellation of Σxy − n·x̄ȳ). null when a variable is constant. */
function pearsonR(x: ArrayLike<number>, y: ArrayLike<number>): number | null {
  const n = x.length;
  let meanX = 0;
  let meanY = 0;
  for (let i = 0; i < n; i++) {
    meanX += x[i];
    meanY += y[i];
  }
  meanX /= n;
  meanY /= n;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - meanX;
    const dy = y[i] - meanY;
    sxx += dx * dx;
    syy += dy * dy;
    sxy += dx * dy;
  }
  if (sxx === 0 || syy === 0) return null;
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/** Fisher-z interval tanh(atanh(r) ± z·se); |r| = 1 gives the degenerate [r, r]. */
export function fisherZInterval(r: number, se: number, confidenceLevel: number): Interval {
  const z = twoSidedNormalCritical(confidenceLevel);
  const centre = Math.atanh(r);
  return [Math.tanh(centre - z * se), Math.tanh(centre + z * se)];
}

function notEstimable(
  method: 'pearson' | 'spearman',
  n: number,
  reason: CorrelationNotEstimableReason,
): CorrelationNotEstimable {
  const detail =
    reason === 'too-few-pairs'
      ? `n = ${n} pairs: the Fisher-z interval needs at least 4 (SE = 1/√(n − 3))`
      : 'one of the variables is constant: the correlation is 0/0';
  return { estimable: false, method, estimate: null, n, ci95: null, reason, detail };
}

const CLUSTER_CAVEAT = 'vessels counted as independent units (optimistic with several vessels per patient)';

/** Pearson correlation with its Fisher-z 95% interval (statistics.md §7; R `cor.test`). */
export function pearsonCorrelation(
  x: readonly number[],
  y: readonly number[],
  options: CorrelationOptions = {},
): CorrelationResult {
  assertPairs(x, y);
  const n = x.length;
  if (n < 4) return notEstimable('pearson', n, 'too-few-pairs');
  const r = pearsonR(x, y);
  if (r === null) return notEstimable('pearson', n, 'constant-values');
  const se = 1 / Math.sqrt(n - 3);
  return {
    estimable: true,
    method: 'pearson',
    estimate: r,
    n,
    ci95: fisherZInterval(r, se, options.confidenceLevel ?? 0.95),
    standardErrorZ: se,
    interval: `Fisher z, SE = 1/√(n − 3); ${CLUSTER_CAVEAT}`,
  };
}

/** Spearman rank correlation (midranks) with a Fisher-z 95% interval; SE convention per `options.standardError`. */
export function spearmanCorrelation(
  x: readonly number[],
  y: readonly number[],
  options: SpearmanOptions = {},
): CorrelationResult {
  assertPairs(x, y);
  const n = x.length;
  if (n < 4) return notEstimable('spearman', n, 'too-few-pairs');
  const rho = pearsonR(midranks(x), midranks(y));
  if (rho === null) return notEstimable('spearman', n, 'constant-values');
  const convention = options.standardError ?? 'fieller';
  let se: number;
  let described: string;
  switch (convention) {
    case 'fieller':
      se = Math.sqrt(1.06 / (n - 3));
      described = 'Fisher z, SE = √(1.06/(n − 3)) (Fieller, Hartley & Pearson 1957)';
      break;
    case 'fisher':
      se = 1 / Math.sqrt(n - 3);
      described = 'Fisher z, SE = 1/√(n − 3)';
      break;
    case 'bonett-wright':
      se = Math.sqrt((1 + (rho * rho) / 2) / (n - 3));
      described = 'Fisher z, SE = √((1 + ρ²/2)/(n − 3)) (Bonett & Wright 2000)';
      break;
  }
  return {
    estimable: true,
    method: 'spearman',
    estimate: rho,
    n,
    ci95: fisherZInterval(rho, se, options.confidenceLevel ?? 0.95),
    standardErrorZ: se,
    interval: `${described}; midranks for ties; ${CLUSTER_CAVEAT}`,
  };
}

/** Pearson and Spearman correlation of CT-FFR (x) with invasive FFR (y) over linked vessels. */
export function vesselCorrelation(
  vessels: readonly LinkedVessel[],
  options: SpearmanOptions = {},
): { pearson: CorrelationResult; spearman: CorrelationResult } {
  const ctFfr = vessels.map((v) => v.ctFfr);
  const invasiveFfr = vessels.map((v) => v.invasiveFfr);
  return {
    pearson: pearsonCorrelation(ctFfr, invasiveFfr, options),
    spearman: spearmanCorrelation(ctFfr, invasiveFfr, options),
  };
}
