import { rankSumFromCounts } from './rank-sum';

/**
 * Oracle: scipy 1.17.1, mannwhitneyu(current, reference, alternative='two-sided', method='asymptotic',
 * use_continuity=False) on the samples expanded from the counts (value = bin index); U / (n·m) for the effect size.
 */
const ORACLE = [
  {
    reference: [12, 30, 25, 8, 5],
    current: [3, 10, 20, 15, 12],
    u: 3373,
    p: 2.2887100447139843e-5,
    superiority: 0.7027083333333334,
  },
  {
    reference: [100, 100, 100, 100, 100, 100, 100, 100, 100, 100],
    current: [8, 9, 10, 11, 12, 10, 9, 11, 10, 10],
    u: 51100,
    p: 0.7151241665176595,
    superiority: 0.511,
  },
  {
    reference: [80, 85, 90, 95, 100, 100, 95, 90, 85, 80],
    current: [5, 6, 8, 9, 12, 14, 15, 14, 12, 10],
    u: 53690,
    p: 0.021456126612884464,
    superiority: 0.5681481481481482,
  },
];

describe('rankSumFromCounts (Wilcoxon–Mann–Whitney on ordered bins)', () => {
  it.each(ORACLE)('matches scipy mannwhitneyu on the expanded samples (%#)', (c) => {
    const r = rankSumFromCounts(c.reference, c.current);
    const m = c.current.reduce((a, b) => a + b, 0);
    expect(r.rankSum - (m * (m + 1)) / 2).toBeCloseTo(c.u, 9);
    expect(r.pValue).toBeCloseTo(c.p, 12);
    expect(r.probabilityOfSuperiority).toBeCloseTo(c.superiority, 12);
  });

  it('gives the shift its sign (z and superiority mirror when the bins are reversed), and p = 1 without one', () => {
    const up = rankSumFromCounts([10, 20, 30], [5, 20, 35]);
    const down = rankSumFromCounts([30, 20, 10], [35, 20, 5]);
    expect(up.z).toBeGreaterThan(0);
    expect(down.z).toBeCloseTo(-up.z, 12);
    expect(down.probabilityOfSuperiority).toBeCloseTo(1 - up.probabilityOfSuperiority, 12);
    expect(rankSumFromCounts([10, 20, 30], [10, 20, 30]).pValue).toBeCloseTo(1, 12);
  });

  it('refuses counts of different lengths and an empty sample', () => {
    expect(() => rankSumFromCounts([1, 2], [1, 2, 3])).toThrow(RangeError);
    expect(() => rankSumFromCounts([0, 0], [1, 2])).toThrow(RangeError);
  });
});
