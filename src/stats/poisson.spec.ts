import python from './fixtures/poisson-oracle-python.json';
import r from './fixtures/poisson-oracle-r.json';
import { binomialUpperTail, conditionalPoissonRateTest, poissonUpperTail } from './poisson';

/** Relative agreement with the oracle (absolute for values near 0). */
function expectClose(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-10 * Math.max(1, Math.abs(expected)) + 1e-300);
  if (expected > 0) expect(Math.abs(actual / expected - 1)).toBeLessThan(1e-9);
}

describe('exact count tests against scipy and R', () => {
  it.each(python.poissonUpperTail)('Poisson P(X ≥ $x | μ = $mu) = scipy', ({ x, mu, p }) => {
    expectClose(poissonUpperTail(x, mu), p);
  });
  it.each(r.poissonUpperTail)('Poisson P(X ≥ $x | μ = $mu) = R ppois', ({ x, mu, p }) => {
    expectClose(poissonUpperTail(x, mu), p);
  });
  it.each(python.binomialUpperTail)('Binomial P(X ≥ $k | n = $n, p = $prob) = scipy', ({ k, n, prob, p }) => {
    expectClose(binomialUpperTail(k, n, prob), p);
  });
  it.each(python.conditionalPoissonRateTest)('rate test $x1/$e1 vs $x0/$e0 = scipy binomtest', (row) => {
    expectClose(conditionalPoissonRateTest(row.x1, row.e1, row.x0, row.e0).pValue, row.p);
  });
  it.each(r.conditionalPoissonRateTest)('rate test $x1/$e1 vs $x0/$e0 = R poisson.test', (row) => {
    expectClose(conditionalPoissonRateTest(row.x1, row.e1, row.x0, row.e0).pValue, row.p);
  });
  it('refuses what is not a count or a rate', () => {
    expect(() => poissonUpperTail(1.5, 1)).toThrow(RangeError);
    expect(() => poissonUpperTail(1, -1)).toThrow(RangeError);
    expect(() => binomialUpperTail(1, 3, 1.2)).toThrow(RangeError);
    expect(() => conditionalPoissonRateTest(1, 0, 1, 1)).toThrow(RangeError);
    expect(binomialUpperTail(4, 3, 0.5)).toBe(0);
    expect(poissonUpperTail(3, 0)).toBe(0);
  });
});
