/**
 * Exact upper-tail tests for counts (trend reporting, MDR Art. 88; src/vigilance/trends.ts).
 *
 * - `poissonUpperTail(x, mu)` = P(X ≥ x) for X ~ Poisson(mu) = P(x, mu), the regularised lower incomplete gamma
 *   (the Poisson–gamma identity); 1 for x ≤ 0. Oracle: scipy.stats.poisson.sf(x − 1, mu) and R ppois(x − 1, mu,
 *   lower.tail = FALSE) (src/stats/fixtures/oracle/poisson-oracle.py, .R).
 * - `binomialUpperTail(k, n, p)` = P(X ≥ k) for X ~ Binomial(n, p) = I_p(k, n − k + 1), the regularised incomplete
 *   beta; 1 for k ≤ 0, 0 for k > n. Oracle: scipy.stats.binom.sf(k − 1, n, p), R pbinom(k − 1, n, p, lower.tail = FALSE).
 * - `conditionalPoissonRateTest` — the exact conditional test of H0: rate1 ≤ rate0 for two Poisson counts with
 *   exposures (Przyborowski & Wilenski 1940): given x1 + x0 = m, x1 ~ Binomial(m, e1 / (e1 + e0)) under equal rates,
 *   so the one-sided p-value is binomialUpperTail(x1, m, e1 / (e1 + e0)). Unlike a Poisson test against an estimated
 *   baseline rate, it accounts for the baseline's own sampling error. Oracle: R poisson.test(c(x1, x0), c(e1, e0),
 *   alternative = "greater") and scipy.stats.binomtest(x1, m, p, alternative='greater').
 */
import { regularizedBeta, regularizedGammaP } from './distributions';

function assertCount(value: number, name: string): void {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer`);
}

export function poissonUpperTail(x: number, mu: number): number {
  assertCount(x, 'x');
  if (!(mu >= 0) || !Number.isFinite(mu)) throw new RangeError('mu must be a finite number ≥ 0');
  if (x === 0) return 1;
  if (mu === 0) return 0;
  return regularizedGammaP(x, mu);
}

export function binomialUpperTail(k: number, n: number, p: number): number {
  assertCount(k, 'k');
  assertCount(n, 'n');
  if (!(p >= 0 && p <= 1)) throw new RangeError('p must be in [0, 1]');
  if (k === 0) return 1;
  if (k > n) return 0;
  if (p === 0) return 0;
  if (p === 1) return 1;
  return regularizedBeta(p, k, n - k + 1);
}

export interface RateComparison {
  /** One-sided p-value of H0: rate1 ≤ rate0 against rate1 > rate0. */
  pValue: number;
  /** x1 / e1 ÷ x0 / e0 (Infinity when x0 = 0 < x1; NaN when both are 0). */
  rateRatio: number;
}

export function conditionalPoissonRateTest(x1: number, e1: number, x0: number, e0: number): RateComparison {
  assertCount(x1, 'x1');
  assertCount(x0, 'x0');
  if (!(e1 > 0) || !(e0 > 0)) throw new RangeError('exposures must be > 0');
  const rateRatio = x1 / e1 / (x0 / e0);
  return { pValue: binomialUpperTail(x1, x1 + x0, e1 / (e1 + e0)), rateRatio };
}
