/**
 * Wilcoxon–Mann–Whitney rank-sum test on two samples given as counts on the same ordered bins (e.g. a reference's
 * frozen decile bins and a window's counts on them), the location test of a numeric drift monitor.
 *
 * Why. The χ² homogeneity test on 10 bins spends its 9 degrees of freedom on every kind of change; a shift of the
 * whole distribution (a +0.03 CT-FFR bias at one site: about 0.25 SD of the site's CT-FFR) is one direction among
 * them, and at the per-test levels of a Bonferroni budget (≈ 10⁻⁴) the omnibus test found it in 2 of 4 scenario seeds.
 * A rank test is the efficient test for that direction, and it needs nothing the aggregates do not hold: within a bin
 * the values are ties, so each bin gets its midrank (N = n + m, t_i = r_i + c_i, R_i = Σ_{j<i} t_j + (t_i + 1)/2).
 *
 *   W = Σ c_i·R_i                     (rank sum of the current sample)
 *   E[W] = m(N + 1)/2,   Var[W] = n·m/12 · ((N + 1) − Σ(t_i³ − t_i)/(N(N − 1)))    (tie-corrected)
 *   z = (W − E[W])/√Var[W],   p = 2·Φ(−|z|)  (two-sided; no continuity correction)
 *
 * = scipy.stats.mannwhitneyu(current, reference, alternative='two-sided', method='asymptotic',
 * use_continuity=False) on the samples expanded from the counts (oracle values in rank-sum.spec.ts). The effect size
 * is the probability of superiority AUC = (W − m(m + 1)/2)/(n·m) = P(current > reference) + ½·P(tie in bin), 0.5
 * without shift; its sign says which way the distribution moved.
 */
import { normalSurvival } from './distributions';

export interface RankSumResult {
  readonly n: { readonly reference: number; readonly current: number };
  readonly rankSum: number;
  readonly z: number;
  /** Two-sided p-value (normal approximation, tie-corrected variance). */
  readonly pValue: number;
  /** P(current > reference) + ½·P(same bin). */
  readonly probabilityOfSuperiority: number;
}

export function rankSumFromCounts(reference: readonly number[], current: readonly number[]): RankSumResult {
  if (reference.length !== current.length) {
    throw new RangeError(`bin counts differ in length: ${reference.length} and ${current.length}`);
  }
  let n = 0;
  let m = 0;
  for (let i = 0; i < reference.length; i++) {
    if (!(reference[i] >= 0 && current[i] >= 0 && Number.isFinite(reference[i] + current[i]))) {
      throw new RangeError('bin counts must be finite and ≥ 0');
    }
    n += reference[i];
    m += current[i];
  }
  if (n === 0 || m === 0) throw new RangeError('both samples need at least one value');
  const total = n + m;
  let below = 0;
  let rankSum = 0;
  let ties = 0;
  for (let i = 0; i < reference.length; i++) {
    const t = reference[i] + current[i];
    rankSum += current[i] * (below + (t + 1) / 2);
    ties += t * t * t - t;
    below += t;
  }
  const expected = (m * (total + 1)) / 2;
  const variance = ((n * m) / 12) * (total + 1 - ties / (total * (total - 1 || 1)));
  const z = variance > 0 ? (rankSum - expected) / Math.sqrt(variance) : 0;
  return {
    n: { reference: n, current: m },
    rankSum,
    z,
    pValue: variance > 0 ? Math.min(1, 2 * normalSurvival(Math.abs(z))) : 1,
    probabilityOfSuperiority: (rankSum - (m * (m + 1)) / 2) / (n * m),
  };
}
