import { FeistelPermutation, Random } from './random';
import { betaQuantile, normalCdf, regularizedBeta } from '../stats/distributions';
import { BetaCopulaQuantiles } from './special-functions';

function moments(values: number[]): { mean: number; variance: number } {
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1);
  return { mean, variance };
}

function draws<T>(n: number, draw: () => T): T[] {
  return Array.from({ length: n }, draw);
}

describe('Random', () => {
  it('is deterministic per seed and differs between seeds', () => {
    const a = Random.fromSeed('fieldwatch');
    const b = Random.fromSeed('fieldwatch');
    const c = Random.fromSeed('fieldwatch2');
    const sequenceA = draws(100, () => a.nextUint32());
    expect(draws(100, () => b.nextUint32())).toEqual(sequenceA);
    expect(draws(100, () => c.nextUint32())).not.toEqual(sequenceA);
  });

  it('forks streams by label, independently of draws already taken from the parent', () => {
    const fresh = Random.fromSeed(1);
    const used = Random.fromSeed(1);
    draws(1000, () => used.uniform());
    expect(used.fork('patient', 3, 17).uniform()).toBe(fresh.fork('patient', 3, 17).uniform());
    expect(fresh.fork('patient', 3, 17).uniform()).not.toBe(fresh.fork('patient', 3, 18).uniform());
    expect(fresh.fork('a', 'b').uniform()).not.toBe(fresh.fork('ab').uniform());
  });

  it('draws uniform, normal, gamma, beta, Student-t, lognormal and Poisson with the right moments', () => {
    const rng = Random.fromSeed('moments');
    const n = 60_000;
    const uniform = moments(draws(n, () => rng.uniform()));
    expect(uniform.mean).toBeCloseTo(0.5, 2);
    expect(uniform.variance).toBeCloseTo(1 / 12, 3);

    const normal = moments(draws(n, () => rng.normal(2, 3)));
    expect(normal.mean).toBeCloseTo(2, 1);
    expect(Math.sqrt(normal.variance)).toBeCloseTo(3, 1);

    const gamma = moments(draws(n, () => rng.gamma(2.5, 2))); // mean kθ = 5, variance kθ² = 10
    expect(gamma.mean).toBeCloseTo(5, 1);
    expect(gamma.variance / 10).toBeCloseTo(1, 1);
    const smallShape = moments(draws(n, () => rng.gamma(0.4)));
    expect(smallShape.mean).toBeCloseTo(0.4, 1);

    const beta = moments(draws(n, () => rng.beta(7.6, 1.67))); // ctffr-evidence §4.1: 0.82 ± 0.12
    expect(beta.mean).toBeCloseTo(0.82, 2);
    expect(Math.sqrt(beta.variance)).toBeCloseTo(0.12, 2);

    const t = moments(draws(n, () => rng.studentT(10))); // variance ν/(ν−2) = 1.25
    expect(t.mean).toBeCloseTo(0, 1);
    expect(t.variance).toBeCloseTo(1.25, 1);

    const lognormal = draws(n, () => rng.lognormalFromMedian(14, 1.1)).sort((x, y) => x - y);
    expect(lognormal[n / 2] / 14).toBeCloseTo(1, 1);

    for (const lambda of [0.3, 4, 12, 45, 400]) {
      const poisson = moments(draws(20_000, () => rng.poisson(lambda)));
      expect(poisson.mean / lambda).toBeCloseTo(1, 1);
      expect(poisson.variance / lambda).toBeCloseTo(1, 1);
    }
  });

  it('draws categorical indices in proportion to their weights', () => {
    const rng = Random.fromSeed('categorical');
    const counts = [0, 0, 0];
    for (let i = 0; i < 50_000; i++) counts[rng.categorical([0.88, 0.1, 0.02])]++;
    expect(counts[0] / 50_000).toBeCloseTo(0.88, 2);
    expect(counts[1] / 50_000).toBeCloseTo(0.1, 2);
    expect(counts[2] / 50_000).toBeCloseTo(0.02, 2);
  });

  it('formats RFC 4122 version-4 UUIDs', () => {
    const rng = Random.fromSeed('uuid');
    const ids = draws(1000, () => rng.uuidV4());
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('FeistelPermutation', () => {
  it('is a bijection (exhaustive on 12 bits) and keyed by its stream', () => {
    const permutation = new FeistelPermutation(12, Random.fromSeed('feistel'));
    const images = new Set<number>();
    for (let i = 0; i < 4096; i++) {
      const image = permutation.apply(i);
      expect(image).toBeGreaterThanOrEqual(0);
      expect(image).toBeLessThan(4096);
      images.add(image);
    }
    expect(images.size).toBe(4096);
    const other = new FeistelPermutation(12, Random.fromSeed('other'));
    expect([0, 1, 2, 3].map((i) => other.apply(i))).not.toEqual(
      [0, 1, 2, 3].map((i) => permutation.apply(i)),
    );
  });
});

describe('Gaussian-copula quantile table', () => {
  // The special functions themselves are checked against R and scipy in src/stats/distributions.spec.ts.
  it('reproduces the Beta(7.6, 1.67) marginal of ctffr-evidence.md §4.1 and the direct quantile', () => {
    // P(FFR ≤ 0.80) ≈ 0.37 under Beta(7.6, 1.67).
    expect(regularizedBeta(0.8, 7.6, 1.67)).toBeCloseTo(0.369, 2);
    const table = BetaCopulaQuantiles.for(7.6, 1.67);
    for (const z of [-4, -1.3, 0, 0.77, 3]) {
      expect(table.quantileOfNormal(z)).toBeCloseTo(betaQuantile(normalCdf(z), 7.6, 1.67), 5);
    }
  });
});
