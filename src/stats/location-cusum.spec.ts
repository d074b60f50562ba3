import { runCusum } from './control-charts';
import { sampleStandardNormal, seededRandom } from './distributions';
import { midRankScores, runGroupedCusum, scoreGroup } from './location-cusum';

describe('midRankScores', () => {
  it('gives each bin its mid-rank proportion; mean ½ and SD √((1 − Σp³)/12) under the reference (brute force)', () => {
    for (const counts of [
      [70, 71, 69, 70, 72, 68, 70, 70, 71, 69],
      [5, 0, 12, 30, 1, 0, 2],
      [1, 1],
      [100, 3, 0, 0, 7],
    ]) {
      const ref = midRankScores(counts);
      const n = counts.reduce((a, b) => a + b, 0);
      // Expanded sample: the mid-rank of each value among the n reference values, divided by n.
      const values: number[] = [];
      let below = 0;
      counts.forEach((c, i) => {
        for (let j = 0; j < c; j++) values.push(ref.scores[i]);
        expect(ref.scores[i]).toBeCloseTo((below + c / 2) / n, 12);
        below += c;
      });
      const mean = values.reduce((a, b) => a + b, 0) / n;
      const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
      expect(mean).toBeCloseTo(0.5, 12);
      expect(ref.sd).toBeCloseTo(Math.sqrt(variance), 12);
      expect(ref.n).toBe(n);
    }
  });

  it('without ties (many equal bins) the SD tends to √(1/12)', () => {
    expect(midRankScores(new Array<number>(1000).fill(3)).sd).toBeCloseTo(Math.sqrt(1 / 12), 6);
  });

  it('rejects empty or invalid references', () => {
    expect(() => midRankScores([0, 0])).toThrow(RangeError);
    expect(() => midRankScores([1, -1, 3])).toThrow(RangeError);
    expect(() => scoreGroup([1], midRankScores([4]))).toThrow(/single bin/);
    expect(() => scoreGroup([1, 2], midRankScores([1, 2, 3]))).toThrow(/length/);
    expect(() => scoreGroup([1, 2], midRankScores([1, 2]), 0.5)).toThrow(/design effect/);
  });
});

describe('scoreGroup', () => {
  it('sums (u − ½)/(sd·√deff) over the counts', () => {
    const ref = midRankScores([10, 20, 30, 40]);
    const g = scoreGroup([1, 0, 2, 3], ref, 2);
    const z = (i: number) => (ref.scores[i] - 0.5) / (ref.sd * Math.SQRT2);
    expect(g.n).toBe(6);
    expect(g.sum).toBeCloseTo(z(0) + 2 * z(2) + 3 * z(3), 12);
  });
});

describe('runGroupedCusum', () => {
  const random = seededRandom(20261128);
  const stream = (length: number, shift: number) =>
    Array.from({ length }, () => sampleStandardNormal(random) + shift);

  it('with one observation per group is the standardised CUSUM of control-charts.ts (reset after a signal)', () => {
    const values = stream(3000, 0.3);
    for (const sided of ['two', 'upper', 'lower'] as const) {
      const design = { k: 0.25, h: 6, sided };
      const grouped = runGroupedCusum(
        values.map((v) => ({ n: 1, sum: v })),
        design,
      );
      const single = runCusum(values, { ...design, mu0: 0, sigma: 1, afterSignal: 'reset' });
      expect(grouped.upper).toEqual(single.upper);
      expect(grouped.lower).toEqual(single.lower);
      expect(grouped.signals.map((s) => [s.index, s.side, s.statistic])).toEqual(
        single.signals.map((s) => [s.index, s.side, s.statistic]),
      );
      for (const [g, s] of grouped.signals.map((x, i) => [x, single.signals[i]] as const)) {
        expect(g.excursionStart).toBe(s.excursionStart);
        expect(g.shiftEstimate).toBeCloseTo((s.shiftedMeanEstimate ?? NaN) - 0, 12);
      }
    }
  });

  it('grouped by day its statistic is at most the per-observation chart’s at every group end, so it signals no earlier', () => {
    for (let rep = 0; rep < 20; rep++) {
      const values = stream(2000, rep % 2 ? 0.2 : 0);
      const sizes: number[] = [];
      for (let total = 0; total < values.length;) {
        const size = Math.min(values.length - total, random.nextInt(12));
        sizes.push(size);
        total += size;
      }
      const groups: { n: number; sum: number }[] = [];
      const ends: number[] = [];
      let at = 0;
      for (const size of sizes) {
        let sum = 0;
        for (let j = 0; j < size; j++) sum += values[at + j];
        at += size;
        groups.push({ n: size, sum });
        ends.push(at - 1);
      }
      const design = { k: 0.125, h: 1e9, sided: 'two' as const };
      const grouped = runGroupedCusum(groups, design);
      const single = runCusum(values, { ...design, mu0: 0, sigma: 1 });
      ends.forEach((end, g) => {
        if (end < 0) return;
        expect(grouped.upper[g]).toBeLessThanOrEqual(single.upper[end] + 1e-9);
        expect(grouped.lower[g]).toBeLessThanOrEqual(single.lower[end] + 1e-9);
      });
      // With a finite limit: the first grouped signal's last observation is not before the first per-observation one.
      const h = 8;
      const firstGrouped = runGroupedCusum(groups, { ...design, h }).signals[0];
      const firstSingle = runCusum(values, {
        ...design,
        h,
        mu0: 0,
        sigma: 1,
        afterSignal: 'stop',
      }).firstSignal;
      if (firstGrouped) {
        expect(firstSingle).not.toBeNull();
        expect(ends[firstGrouped.index]).toBeGreaterThanOrEqual(firstSingle as number);
      }
    }
  });

  it('estimates the shift of a signalled excursion (k + C/N)', () => {
    const run = runGroupedCusum(
      Array.from({ length: 200 }, () => ({ n: 5, sum: 5 * 0.5 })),
      { k: 0.125, h: 20, sided: 'two' },
    );
    expect(run.signals[0].side).toBe('upper');
    expect(run.signals[0].shiftEstimate).toBeCloseTo(0.5, 12);
    expect(run.signals[0].excursionObservations).toBe(5 * (run.signals[0].index + 1));
  });
});
