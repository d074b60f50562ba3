/**
 * drift-statistics.ts, drift-ks.ts, drift.ts, drift-budget.ts — where the expected values come from:
 *  - fixtures/drift-oracle-r.json: `Rscript src/stats/fixtures/oracle/drift-oracle.R src/stats/fixtures` (base R 4.2.2:
 *    quantile(type = 7), findInterval(left.open = TRUE), ecdf, ks.test, chisq.test, prop.test, fisher.test, qchisq);
 *  - fixtures/drift-oracle-python.json: `/usr/bin/python3 src/stats/fixtures/oracle/drift-oracle.py src/stats/fixtures`
 *    (scipy 1.10.1 ks_2samp / kstwo / smirnov / wasserstein_distance / jensenshannon / chi2_contingency /
 *    fisher_exact, statsmodels 0.13.5 proportions_ztest / confint_proportions_2indep, numpy 1.24.2 quantile);
 *  - inputs: fixtures/drift-samples.csv (`oracle/drift-dataset.R`, seed 20251201); statistics.md §13 (PSI threshold
 *    example) and drift-methods.md §3 (fixed thresholds at small windows).
 * Tolerances: 1e-12 absolute where both sides evaluate the same closed form (bins, PSI, JS, W1, χ², z, Newcombe,
 * asymptotic thresholds); 1e-10 for the KS p-values (lattice recursion / Durbin matrix vs scipy's own arrangements;
 * observed ≤ 1e-13); resampling thresholds are tested for reproducibility and for their calibration property.
 * Provenance and commands: fixtures/README-drift.md.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sampleStandardNormal, seededRandom } from './distributions';
import {
  type DriftTestOutcome,
  type DriftTestResult,
  alignCategories,
  batchTestArl0,
  calibratedThreshold,
  categoricalDriftTest,
  chiSquareHomogeneity,
  countsDriftTest,
  driftTest,
  jensenShannon,
  jensenShannonFromCounts,
  kolmogorovSmirnovSf,
  ksCriticalValue,
  ksTwoSample,
  normalizedWasserstein,
  proportionShift,
  psi,
  psiAsymptoticThreshold,
  psiFromCounts,
  referenceQuantileBins,
  binCounts,
  resamplingPValue,
  resamplingRandom,
  sampleHypergeometric,
  smirnovSf,
  splitArlBudget,
  splitBatchBudget,
} from './drift';

const FULL = 1e-12;
const KS_P = 1e-10;

interface RBins {
  edges: number[];
  referenceCounts: number[];
  currentCounts: number[];
  effectiveBins: number;
  psiFloor: number;
  psiJeffreys: number;
  jsE: number;
  js2: number;
  psiAsymptoticThreshold: number;
  psiAsymptoticP: number;
  jsAsymptoticThreshold: number;
  jsAsymptoticP: number;
}
interface RNumeric {
  case: string;
  n: number;
  m: number;
  bins: { B10: RBins; B5: RBins };
  w1: number;
  referenceSd: number;
  wassersteinNormalized: number;
  ksStatistic: number;
  ksExactP: number | null;
}
interface RCategorical {
  name: string;
  categories: string[] | string;
  referenceCounts: number[] | number;
  currentCounts: number[] | number;
  psiFloor: number;
  jsE: number;
  chiSquare?: number;
  df?: number;
  pValue?: number;
  minExpected?: number;
}
interface OracleProportion {
  reference: number[];
  current: number[];
  zTwoSidedP?: number;
  zIncreaseP?: number;
  z?: number;
  fisherTwoSidedP: number;
  fisherIncreaseP: number;
  newcombe: number[];
}
interface ROracle {
  numeric: RNumeric[];
  categorical: RCategorical[];
  proportions: OracleProportion[];
  asymptoticThresholds: { n: number; m: number; bins: number; alpha: number; psi: number; js: number }[];
}
interface PyKs {
  statistic: number;
  /** null where scipy returns NaN (asymptotic with N = round(n·m/(n+m)) = 0). */
  pValue: number | null;
}
interface PyNumeric {
  case: string;
  n: number;
  m: number;
  ks_auto: PyKs;
  ks_exact: PyKs;
  ks_asymp: PyKs;
  w1: number;
  referenceSd: number;
  wassersteinNormalized: number;
  B10: {
    edges: number[];
    referenceCounts: number[];
    currentCounts: number[];
    psiFloor: number;
    jsE: number;
    js2: number;
  };
  B5: {
    edges: number[];
    referenceCounts: number[];
    currentCounts: number[];
    psiFloor: number;
    jsE: number;
    js2: number;
  };
}
interface PyOracle {
  numeric: PyNumeric[];
  ksCritical: { n: number; m: number; alpha: number; critical: number | string; pAtCritical?: number }[];
  kstwo: { n: number; x: number; sf: number; smirnov: number }[];
  categorical: {
    name: string;
    categories: string[];
    chiSquare: number;
    df: number;
    pValue: number;
    psiFloor: number;
    jsE: number;
  }[];
  proportions: OracleProportion[];
}

const fixtures = join(__dirname, 'fixtures');
const rOracle = JSON.parse(readFileSync(join(fixtures, 'drift-oracle-r.json'), 'utf8')) as ROracle;
const pyOracle = JSON.parse(readFileSync(join(fixtures, 'drift-oracle-python.json'), 'utf8')) as PyOracle;

const samples = new Map<string, { reference: number[]; current: number[] }>();
for (const line of readFileSync(join(fixtures, 'drift-samples.csv'), 'utf8').trim().split('\n').slice(1)) {
  const [name, group, value] = line.split(',');
  const entry = samples.get(name) ?? { reference: [], current: [] };
  (group === 'reference' ? entry.reference : entry.current).push(Number(value));
  samples.set(name, entry);
}
function sample(name: string): { reference: number[]; current: number[] } {
  const s = samples.get(name);
  if (!s) throw new Error(`no sample ${name}`);
  return s;
}

function close(actual: number, expected: number, tolerance: number, label: string): void {
  const ok =
    (Number.isNaN(actual) && Number.isNaN(expected)) ||
    actual === expected ||
    Math.abs(actual - expected) <= tolerance;
  if (!ok)
    throw new Error(`${label}: got ${actual}, expected ${expected} (|Δ| = ${Math.abs(actual - expected)})`);
}

function asArray(x: number[] | number): number[] {
  return Array.isArray(x) ? x : [x];
}

function outcome(result: DriftTestResult): DriftTestOutcome {
  if (!result.estimable) throw new Error(`not estimable: ${result.reason} (${result.detail})`);
  return result;
}

describe('drift statistics vs R and scipy (fixtures/drift-samples.csv)', () => {
  const pyByCase = new Map(pyOracle.numeric.map((c) => [c.case, c]));

  it.each(rOracle.numeric.map((c) => [c.case, c] as const))('%s: bins, PSI, JS, W1', (name, r) => {
    const py = pyByCase.get(name);
    if (!py) throw new Error(`python oracle lacks ${name}`);
    const { reference, current } = sample(name);
    expect([reference.length, current.length]).toEqual([r.n, r.m]);
    for (const B of [10, 5] as const) {
      const rb = r.bins[`B${B}`];
      const pb = py[`B${B}`];
      const binning = referenceQuantileBins(reference, B);
      const edges = asArray(rb.edges);
      expect(binning.edges.length).toBe(edges.length);
      binning.edges.forEach((e, i) => {
        close(e, edges[i], FULL, `${name} B${B} edge ${i} (R)`);
        close(e, pb.edges[i], FULL, `${name} B${B} edge ${i} (numpy)`);
      });
      expect(binCounts(reference, binning)).toEqual(asArray(rb.referenceCounts));
      expect(binCounts(current, binning)).toEqual(asArray(rb.currentCounts));
      expect(binCounts(current, binning)).toEqual(pb.currentCounts);
      close(psi(reference, current, { bins: B }), rb.psiFloor, FULL, `${name} B${B} PSI (R)`);
      close(psi(reference, current, { bins: B }), pb.psiFloor, FULL, `${name} B${B} PSI (numpy)`);
      close(
        psi(reference, current, { bins: B, smoothing: { kind: 'pseudocount', value: 0.5 } }),
        rb.psiJeffreys,
        FULL,
        `${name} B${B} PSI Jeffreys`,
      );
      close(jensenShannon(reference, current, { bins: B }), rb.jsE, FULL, `${name} B${B} JS (R)`);
      close(jensenShannon(reference, current, { bins: B }), pb.jsE, FULL, `${name} B${B} JS (scipy)`);
      close(jensenShannon(reference, current, { bins: B, base: 2 }), rb.js2, FULL, `${name} B${B} JS₂ (R)`);
      close(
        jensenShannon(reference, current, { bins: B, base: 2 }),
        pb.js2,
        FULL,
        `${name} B${B} JS₂ (scipy)`,
      );
      const n = reference.length;
      const m = current.length;
      const psiAsym = outcome(
        driftTest(reference, current, { statistic: 'psi', bins: B, calibration: 'asymptotic' }),
      );
      close(psiAsym.threshold, rb.psiAsymptoticThreshold, FULL, `${name} B${B} PSI χ² threshold`);
      close(psiAsym.pValue, rb.psiAsymptoticP, FULL, `${name} B${B} PSI χ² p`);
      expect(psiAsym.df).toBe(rb.effectiveBins - 1);
      expect(psiAsym.conventions.bins).toEqual({ requested: B, effective: rb.effectiveBins });
      expect(psiAsym.alarm).toBe(psiAsym.pValue <= 0.05);
      if (rb.effectiveBins >= 2) {
        const t = calibratedThreshold('jensenShannon', n, m, 0.05, {
          method: 'asymptotic',
          cells: rb.effectiveBins,
        });
        close(t.threshold, rb.jsAsymptoticThreshold, FULL, `${name} B${B} JS χ² threshold`);
        const js = outcome(
          driftTest(reference, current, { statistic: 'jensenShannon', bins: B, calibration: 'asymptotic' }),
        );
        close(js.pValue, rb.jsAsymptoticP, FULL, `${name} B${B} JS χ² p`);
      }
    }
    const w = normalizedWasserstein(reference, current);
    close(w.w1, r.w1, FULL, `${name} W1 (R)`);
    close(w.w1, py.w1, FULL, `${name} W1 (scipy)`);
    close(w.referenceSd, py.referenceSd, FULL, `${name} SD`);
    close(w.normalized, r.wassersteinNormalized, FULL, `${name} normalised W1 (R)`);
    close(w.normalized, py.wassersteinNormalized, FULL, `${name} normalised W1 (scipy)`);
  });

  it.each(pyOracle.numeric.map((c) => [c.case, c] as const))(
    '%s: KS as scipy ks_2samp (auto, exact, asymp)',
    (name, py) => {
      const { reference, current } = sample(name);
      const r = rOracle.numeric.find((c) => c.case === name);
      const auto = ksTwoSample(reference, current);
      close(auto.statistic, py.ks_auto.statistic, FULL, `${name} D`);
      close(auto.statistic, r?.ksStatistic ?? Number.NaN, FULL, `${name} D (R ks.test)`);
      close(auto.pValue, py.ks_auto.pValue ?? Number.NaN, KS_P, `${name} p auto`);
      const exact = ksTwoSample(reference, current, { method: 'exact' });
      expect(exact.method).toBe('exact');
      close(exact.pValue, py.ks_exact.pValue ?? Number.NaN, KS_P, `${name} p exact`);
      if (r?.ksExactP !== null && r?.ksExactP !== undefined)
        close(exact.pValue, r.ksExactP, 1e-8, `${name} p exact (R)`);
      const asymptotic = ksTwoSample(reference, current, { method: 'asymptotic' });
      expect(asymptotic.method).toBe('asymptotic');
      close(asymptotic.pValue, py.ks_asymp.pValue ?? Number.NaN, KS_P, `${name} p asymp`);
    },
  );

  it('kstwo.sf and smirnov on a grid (every branch of scipy _kolmogn)', () => {
    for (const g of pyOracle.kstwo) {
      close(kolmogorovSmirnovSf(g.x, g.n), g.sf, KS_P, `kstwo.sf(${g.x}, ${g.n})`);
      close(smirnovSf(g.n, g.x), g.smirnov, KS_P, `smirnov(${g.n}, ${g.x})`);
    }
  });

  it('exact KS critical values: smallest lattice D with p ≤ α', () => {
    for (const c of pyOracle.ksCritical) {
      const expected = c.critical === 'Infinity' ? Number.POSITIVE_INFINITY : Number(c.critical);
      expect(ksCriticalValue(c.n, c.m, c.alpha, 'exact')).toBe(expected);
      const t = calibratedThreshold('ks', c.n, c.m, c.alpha, { method: 'exact' });
      expect([t.threshold, t.rule, t.method]).toEqual([expected, '>=', 'ks-exact']);
    }
  });

  it('χ² homogeneity, PSI and JS on category counts', () => {
    for (const r of rOracle.categorical) {
      const py = pyOracle.categorical.find((c) => c.name === r.name);
      if (!py) throw new Error(`python lacks ${r.name}`);
      const ref = asArray(r.referenceCounts);
      const cur = asArray(r.currentCounts);
      const chi = chiSquareHomogeneity(ref, cur);
      close(chi.statistic, py.chiSquare, FULL, `${r.name} χ² (scipy)`);
      expect(chi.df).toBe(py.df);
      close(chi.pValue, py.pValue, FULL, `${r.name} p (scipy)`);
      if (r.chiSquare !== undefined) {
        close(chi.statistic, r.chiSquare, FULL, `${r.name} χ² (R)`);
        close(chi.pValue, r.pValue ?? Number.NaN, FULL, `${r.name} p (R)`);
        close(chi.minExpected, r.minExpected ?? Number.NaN, FULL, `${r.name} min expected`);
      }
      close(psiFromCounts(ref, cur), r.psiFloor, FULL, `${r.name} PSI (R)`);
      close(psiFromCounts(ref, cur), py.psiFloor, FULL, `${r.name} PSI (numpy)`);
      close(jensenShannonFromCounts(ref, cur), r.jsE, FULL, `${r.name} JS (R)`);
      close(jensenShannonFromCounts(ref, cur), py.jsE, FULL, `${r.name} JS (scipy)`);
    }
  });

  it('categorical tallies are aligned on the union of categories (a new vendor in the current window counts)', () => {
    const aligned = alignCategories({ B: 50, A: 100, Z: 0 }, { A: 20, C: 3, B: 10 });
    expect(aligned).toEqual({ categories: ['A', 'B', 'C'], reference: [100, 50, 0], current: [20, 10, 3] });
    const result = outcome(
      categoricalDriftTest({ A: 100, B: 50 }, { A: 20, B: 10, C: 3 }, { statistic: 'chiSquare' }),
    );
    const py = pyOracle.categorical.find((c) => c.name === 'new-vendor');
    close(result.statistic, py?.chiSquare ?? Number.NaN, FULL, 'new vendor χ²');
    expect([result.df, result.alarm, result.conventions.categories]).toEqual([2, true, ['A', 'B', 'C']]);
  });

  it('proportion shift: z (pooled), Fisher exact, Newcombe interval', () => {
    rOracle.proportions.forEach((r, i) => {
      const py = pyOracle.proportions[i];
      const reference = { successes: r.reference[0], trials: r.reference[1] };
      const current = { successes: r.current[0], trials: r.current[1] };
      const label = `${reference.successes}/${reference.trials} → ${current.successes}/${current.trials}`;
      const z = proportionShift(reference, current, { method: 'z' });
      const zUp = proportionShift(reference, current, { method: 'z', alternative: 'increase' });
      if (r.zTwoSidedP !== undefined) {
        close(z.pValue, r.zTwoSidedP, FULL, `${label} z p (R)`);
        close(z.pValue, py.zTwoSidedP ?? Number.NaN, FULL, `${label} z p (statsmodels)`);
        close(zUp.pValue, r.zIncreaseP ?? Number.NaN, FULL, `${label} z one-sided p (R)`);
        close(zUp.pValue, py.zIncreaseP ?? Number.NaN, FULL, `${label} z one-sided p (statsmodels)`);
        close(z.z, py.z ?? Number.NaN, FULL, `${label} z`);
      } else {
        expect([z.z, z.pValue]).toEqual([0, 1]);
      }
      const fisher = proportionShift(reference, current, { method: 'fisher' });
      close(fisher.pValue, r.fisherTwoSidedP, FULL, `${label} Fisher p (R)`);
      close(fisher.pValue, py.fisherTwoSidedP, FULL, `${label} Fisher p (scipy)`);
      const fisherUp = proportionShift(reference, current, { method: 'fisher', alternative: 'increase' });
      close(fisherUp.pValue, r.fisherIncreaseP, FULL, `${label} Fisher one-sided p (R)`);
      close(fisherUp.pValue, py.fisherIncreaseP, FULL, `${label} Fisher one-sided p (scipy)`);
      close(z.differenceCi95[0], r.newcombe[0], FULL, `${label} Newcombe lower (R)`);
      close(z.differenceCi95[1], r.newcombe[1], FULL, `${label} Newcombe upper (R)`);
      close(z.differenceCi95[0], py.newcombe[0], FULL, `${label} Newcombe lower (statsmodels)`);
      close(z.differenceCi95[1], py.newcombe[1], FULL, `${label} Newcombe upper (statsmodels)`);
      const auto = proportionShift(reference, current);
      expect(auto.method).toBe(auto.minExpected < 5 ? 'fisher' : 'z');
    });
  });

  it('asymptotic PSI and JS thresholds on a grid, and the statistics.md §13 example (0.178)', () => {
    for (const t of rOracle.asymptoticThresholds) {
      close(psiAsymptoticThreshold(t.n, t.m, t.alpha, t.bins), t.psi, FULL, `PSI_crit ${JSON.stringify(t)}`);
      const js = calibratedThreshold('jensenShannon', t.n, t.m, t.alpha, {
        method: 'asymptotic',
        cells: t.bins,
      });
      close(js.threshold, t.js, FULL, `JS_crit ${JSON.stringify(t)}`);
    }
    expect(psiAsymptoticThreshold(2000, 100, 0.05, 10).toFixed(3)).toBe('0.178');
  });
});

describe('calibrated thresholds by resampling', () => {
  const rng = seededRandom(42);
  const reference = Array.from({ length: 500 }, () => sampleStandardNormal(rng));
  const current = Array.from({ length: 60 }, () => sampleStandardNormal(rng));

  it.each(['psi', 'jensenShannon', 'wasserstein', 'ks'] as const)(
    '%s: the same seed gives the same threshold; another seed a different draw of the same null',
    (statistic) => {
      const options = { method: 'permutation', reference, current, permutations: 199, seed: 7 } as const;
      const a = calibratedThreshold(statistic, 500, 60, 0.05, options);
      const b = calibratedThreshold(statistic, 500, 60, 0.05, options);
      const c = calibratedThreshold(statistic, 500, 60, 0.05, { ...options, seed: 8 });
      expect(a).toEqual(b);
      // (KS's D lives on the lattice 1/lcm(n, m), so two seeds can give the same threshold; their null draws differ.)
      expect(c.resampling?.nullMean).not.toBe(a.resampling?.nullMean);
      expect(Math.abs(c.threshold - a.threshold) / a.threshold).toBeLessThan(0.25);
      expect(a.resampling).toMatchObject({ draws: 199, seed: 7, thresholdRank: 190 });
      expect(a.rule).toBe('>');
      const test = outcome(
        driftTest(reference, current, { statistic, calibration: 'permutation', permutations: 199, seed: 7 }),
      );
      expect(test.threshold).toBe(a.threshold);
      expect(test.alarm).toBe(test.statistic > test.threshold);
      expect(test.alarm).toBe(test.pValue <= 0.05);
    },
  );

  it('resamplingRandom reproduces the seededRandom stream bit for bit', () => {
    for (const seed of [0, 1, 42, -5, 2 ** 40 + 3]) {
      const a = seededRandom(seed);
      const b = resamplingRandom(seed);
      let mismatches = 0;
      for (let i = 0; i < 5000; i++) {
        const x = i % 3 === 0 ? a.nextUniform() : a.nextInt(1 + (i % 1000));
        const y = i % 3 === 0 ? b.nextUniform() : b.nextInt(1 + (i % 1000));
        if (x !== y) mismatches++;
      }
      expect(mismatches).toBe(0);
    }
  });

  it('p ≤ α ⟺ statistic > threshold, for every possible statistic value', () => {
    // P = 19 sorted null values (with a tie), α = 0.1 → c = ⌊0.1·20⌋ − 1 = 1 → threshold = 18th smallest = 1.7.
    const nullValues = Float64Array.from([
      0.1, 0.2, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.7,
    ]);
    for (const v of [0, 0.2, 1.6, 1.7, 1.70001, 1.9, 5]) {
      expect(resamplingPValue(v, nullValues) <= 0.1).toBe(v > nullValues[17]);
    }
    expect(resamplingPValue(1.7, nullValues)).toBeCloseTo(3 / 20, 15);
    expect(resamplingPValue(1.8, nullValues)).toBeCloseTo(1 / 20, 15);
  });

  it('KS with heavy ties (tube voltage): the no-ties p-value is conservative, the permutation p-value is not', () => {
    const { reference, current } = sample('tube-kv');
    const exact = outcome(driftTest(reference, current, { statistic: 'ks' }));
    const permuted = outcome(
      driftTest(reference, current, {
        statistic: 'ks',
        calibration: 'permutation',
        permutations: 9999,
        seed: 1,
      }),
    );
    expect(exact.statistic).toBeCloseTo(permuted.statistic, 12); // exact mode reports D on the 1/lcm lattice, as scipy
    expect([exact.pValue > 0.1, exact.alarm]).toEqual([true, false]); // scipy: 0.1439
    expect([permuted.pValue < 0.05, permuted.alarm]).toEqual([true, true]); // ≈ 0.035
    expect(permuted.threshold).toBeLessThan(exact.threshold);
  });

  it('the bootstrap threshold needs the reference only and is reproducible', () => {
    const options = { method: 'bootstrap', reference, permutations: 199, seed: 3 } as const;
    const a = calibratedThreshold('psi', 500, 60, 0.05, options);
    expect(calibratedThreshold('psi', 500, 60, 0.05, options)).toEqual(a);
    expect(a.method).toBe('bootstrap');
    // Same null as the permutation one, up to resampling noise (both estimate the 95th percentile of PSI at 500/60).
    const p = calibratedThreshold('psi', 500, 60, 0.05, {
      method: 'permutation',
      reference,
      current,
      permutations: 199,
    });
    expect(Math.abs(a.threshold - p.threshold) / p.threshold).toBeLessThan(0.3);
  });

  it('counts: permutation by multivariate hypergeometric re-allocation, reproducible', () => {
    const ref = [420, 380, 150, 50];
    const cur = [30, 45, 20, 5];
    const t1 = countsDriftTest(ref, cur, {
      statistic: 'chiSquare',
      calibration: 'permutation',
      permutations: 999,
      seed: 5,
    });
    const t2 = countsDriftTest(ref, cur, {
      statistic: 'chiSquare',
      calibration: 'permutation',
      permutations: 999,
      seed: 5,
    });
    expect(t1).toEqual(t2);
    const asymptotic = outcome(countsDriftTest(ref, cur, { statistic: 'chiSquare' }));
    // Monte Carlo p of the same statistic (as R's chisq.test(simulate.p.value = TRUE)) ≈ asymptotic p = 0.1205.
    expect(Math.abs(outcome(t1).pValue - asymptotic.pValue)).toBeLessThan(0.03);
    const psiCounts = outcome(countsDriftTest(ref, cur, { statistic: 'psi' }));
    expect(psiCounts.method).toBe('permutation');
    expect(psiCounts.alarm).toBe(psiCounts.statistic > psiCounts.threshold);
  });

  it('hypergeometric sampler: support, mean and variance', () => {
    const random = seededRandom(11);
    const [draws, good, total] = [40, 30, 100];
    let s = 0;
    let s2 = 0;
    const reps = 20000;
    let outside = 0;
    for (let i = 0; i < reps; i++) {
      const x = sampleHypergeometric(random, draws, good, total);
      if (!(Number.isInteger(x) && x >= 0 && x <= 30)) outside++;
      s += x;
      s2 += x * x;
    }
    expect(outside).toBe(0);
    const mean = s / reps;
    const variance = s2 / reps - mean * mean;
    const expectedMean = (draws * good) / total; // 12
    const expectedVariance =
      (draws * good * (total - good) * (total - draws)) / (total * total * (total - 1)); // 5.09
    expect(Math.abs(mean - expectedMean)).toBeLessThan(4 * Math.sqrt(expectedVariance / reps));
    expect(Math.abs(variance / expectedVariance - 1)).toBeLessThan(0.05);
    expect(sampleHypergeometric(random, 5, 0, 10)).toBe(0);
    expect(sampleHypergeometric(random, 10, 4, 10)).toBe(4);
  });
});

/**
 * The point of issue 4: fixed thresholds fire on most small no-drift windows; calibrated ones fire at ≈ α.
 * Reference N(0,1), n = 1000; current N(0,1) (no drift), m = 30 and 100; 400 seeded replicates each. Permutation tests
 * with P = 19 random splits (α·(P+1) = 1: a Monte Carlo permutation test has level exactly α whatever P; more splits
 * buy power, not level — scripts/drift-false-alarm-table.ts uses P = 99).
 * Binomial tolerance: |rate − α| ≤ 3·√(α(1−α)/400) = 0.0327.
 */
describe('false-alarm rate with no drift: fixed vs calibrated thresholds', () => {
  const alpha = 0.05;
  const reps = 400;
  const tolerance = 3 * Math.sqrt((alpha * (1 - alpha)) / reps);

  it.each([30, 100])('current window m = %i', (m) => {
    const counts = {
      psiFixed: 0,
      wassersteinFixed: 0,
      jsFixed: 0,
      psi: 0,
      wasserstein: 0,
      jensenShannon: 0,
      ks: 0,
      psiAsymptotic: 0,
    };
    for (let r = 0; r < reps; r++) {
      const random = seededRandom(10_000 + r);
      const reference = Array.from({ length: 1000 }, () => sampleStandardNormal(random));
      const current = Array.from({ length: m }, () => sampleStandardNormal(random));
      if (psi(reference, current) >= 0.1) counts.psiFixed++;
      if (normalizedWasserstein(reference, current).normalized >= 0.1) counts.wassersteinFixed++;
      if (jensenShannon(reference, current) >= 0.1) counts.jsFixed++;
      for (const statistic of ['psi', 'wasserstein', 'jensenShannon'] as const) {
        if (outcome(driftTest(reference, current, { statistic, alpha, permutations: 19, seed: r })).alarm)
          counts[statistic]++;
      }
      if (outcome(driftTest(reference, current, { statistic: 'ks', alpha })).alarm) counts.ks++;
      if (
        outcome(driftTest(reference, current, { statistic: 'psi', alpha, calibration: 'asymptotic' })).alarm
      ) {
        counts.psiAsymptotic++;
      }
    }
    const rate = Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v / reps])) as Record<
      keyof typeof counts,
      number
    >;
    process.stdout.write(
      `false-alarm rates, n = 1000, m = ${m}, ${reps} no-drift windows: ${JSON.stringify(rate)}\n`,
    );
    // Fixed thresholds: a large share of windows alarm with no drift at all.
    expect(rate.wassersteinFixed).toBeGreaterThan(m === 30 ? 0.9 : 0.5);
    expect(rate.jsFixed).toBeGreaterThan(m === 30 ? 0.9 : 0.4);
    expect(rate.psiFixed).toBeGreaterThan(m === 30 ? 0.9 : 0.25);
    // Calibrated thresholds: ≈ α.
    for (const statistic of ['psi', 'wasserstein', 'jensenShannon', 'ks'] as const) {
      expect(Math.abs(rate[statistic] - alpha)).toBeLessThanOrEqual(tolerance);
    }
    // The χ² approximation of PSI is anti-conservative at small m (the 1e-4 floor of empty bins).
    if (m === 30) expect(rate.psiAsymptotic).toBeGreaterThan(0.2);
  });
});

describe('edge cases', () => {
  it('empty windows are not estimable, never "no drift"', () => {
    for (const statistic of ['psi', 'jensenShannon', 'wasserstein', 'ks'] as const) {
      expect(driftTest([], [1, 2], { statistic })).toMatchObject({
        estimable: false,
        reason: 'empty-reference',
      });
      expect(driftTest([1, 2], [], { statistic })).toMatchObject({
        estimable: false,
        reason: 'empty-current',
      });
    }
    expect(countsDriftTest([0, 0], [1, 2], { statistic: 'chiSquare' })).toMatchObject({
      reason: 'empty-reference',
    });
    expect(categoricalDriftTest({ A: 3 }, {}, { statistic: 'chiSquare' })).toMatchObject({
      reason: 'empty-current',
    });
    expect(() => psi([], [1])).toThrow(RangeError);
    expect(() => ksTwoSample([1], [])).toThrow(RangeError);
  });

  it('n = 1 in both windows: too small to ever reach α', () => {
    for (const statistic of ['psi', 'jensenShannon', 'wasserstein', 'ks'] as const) {
      expect(driftTest([0.5], [1.25], { statistic })).toMatchObject({
        estimable: false,
        reason: 'cannot-reach-alpha',
      });
    }
    expect(ksTwoSample([0.5], [1.25])).toEqual({
      statistic: 1,
      pValue: 1,
      method: 'exact',
      n: { reference: 1, current: 1 },
    });
    // Statistics themselves are defined: one reference value gives one edge, two bins.
    expect(referenceQuantileBins([0.5]).edges).toEqual([0.5]);
    expect(psi([0.5], [1.25])).toBeCloseTo(2 * (1 - 1e-4) * Math.log(1 / 1e-4), 12);
  });

  it('identical windows: every statistic 0, p = 1, no alarm', () => {
    const { reference, current } = sample('identical');
    for (const statistic of ['psi', 'jensenShannon', 'wasserstein', 'ks'] as const) {
      const r = outcome(driftTest(reference, current, { statistic, permutations: 199 }));
      expect(r.statistic).toBe(0);
      expect(r.alarm).toBe(false);
      expect(r.pValue).toBe(1);
    }
  });

  it('all observations in one category: χ² = 0, df = 0, p = 1; no alarm', () => {
    const r = outcome(categoricalDriftTest({ GE: 100 }, { GE: 20 }, { statistic: 'chiSquare' }));
    expect([r.statistic, r.df, r.pValue, r.alarm]).toEqual([0, 0, 1, false]);
    const j = outcome(categoricalDriftTest({ GE: 100 }, { GE: 20 }, { statistic: 'jensenShannon' }));
    expect([j.statistic, j.alarm]).toEqual([0, false]);
  });

  it('counts: a cell empty in both windows does not count towards df; counts must be integers', () => {
    const r = outcome(countsDriftTest([10, 0, 5], [3, 0, 2], { statistic: 'chiSquare' }));
    expect(r.df).toBe(1);
    const p = outcome(
      countsDriftTest([10, 0, 5], [3, 0, 2], { statistic: 'psi', calibration: 'asymptotic' }),
    );
    expect(p.df).toBe(1);
    expect(() => countsDriftTest([1.5, 2], [1, 2], { statistic: 'chiSquare' })).toThrow(RangeError);
    expect(
      outcome(driftTest([1, 2, 3, 4, 5, 6], [7, 8, 9], { statistic: 'psi', calibration: 'auto' })).method,
    ).toBe('permutation');
  });

  it('a constant reference: one bin edge, W1 normalised by the 0.001 floor', () => {
    const w = normalizedWasserstein([2, 2, 2], [2, 2.001]);
    expect(w.referenceSd).toBe(0);
    expect(w.normalized).toBeCloseTo(0.0005 / 0.001, 9);
  });

  it('a rejection-rate shift with rare events uses Fisher automatically', () => {
    const r = proportionShift(
      { successes: 20, trials: 1000 },
      { successes: 6, trials: 60 },
      { alternative: 'increase' },
    );
    expect(r.method).toBe('fisher');
    expect(r.pValue).toBeLessThan(0.01);
    expect(r.difference).toBeCloseTo(0.08, 12);
  });

  it('rejects invalid input', () => {
    expect(() => psi([1, Number.NaN], [1])).toThrow(RangeError);
    expect(() => driftTest([1, 2], [1, 2], { statistic: 'psi', alpha: 1 })).toThrow(RangeError);
    expect(() =>
      calibratedThreshold('psi', 10, 5, 0.05, {
        method: 'permutation',
        reference: [1, 2, 3],
        current: [1, 2],
        permutations: 99,
      }),
    ).toThrow(/differ/);
    expect(() =>
      calibratedThreshold('psi', 3, 2, 0.01, {
        method: 'permutation',
        reference: [1, 2, 3],
        current: [1, 2],
        permutations: 19,
      }),
    ).toThrow(/cannot reach/);
    expect(() => calibratedThreshold('wasserstein', 10, 5, 0.05, { method: 'asymptotic' })).toThrow(
      RangeError,
    );
    expect(() => proportionShift({ successes: 5, trials: 4 }, { successes: 1, trials: 2 })).toThrow(
      RangeError,
    );
  });
});

describe('false-alarm budget', () => {
  const monitors = [
    { id: 'ctffr-distribution', segments: 13 },
    { id: 'heart-rate', segments: 13 },
    { id: 'vendor-mix', segments: 1, weight: 2 },
  ];

  it('Bonferroni: shares sum to the family α; Šidák: the independent-tests complement is exact', () => {
    const b = splitBatchBudget(0.05, monitors, 'bonferroni');
    expect(b.totalTests).toBe(27);
    close(b.allocations[0].alphaPerTest, 0.05 / 28, FULL, 'Bonferroni share');
    close(b.allocations[2].alphaPerTest, (2 * 0.05) / 28, FULL, 'weighted share');
    close(b.achievedFamilyAlpha, 0.05, FULL, 'Σα');
    const s = splitBatchBudget(0.05, monitors, 'sidak');
    close(s.achievedFamilyAlpha, 0.05, FULL, 'Šidák family');
    expect(s.allocations[0].alphaPerTest).toBeGreaterThan(b.allocations[0].alphaPerTest);
    close(
      splitBatchBudget(0.05, [{ id: 'x', segments: 10 }], 'sidak').allocations[0].alphaPerTest,
      1 - 0.95 ** 0.1,
      FULL,
      'Šidák 10',
    );
  });

  it('ARL split: 10 site charts sharing a family ARL0 of 500 → 5,000 each (drift-methods.md §6)', () => {
    const r = splitArlBudget(500, [{ id: 'residual-cusum', segments: 10 }]);
    close(r.allocations[0].arl0PerChart, 5000, 1e-9, 'rate split');
    close(r.achievedFamilyArl0, 500, 1e-9, 'family');
    const s = splitArlBudget(500, [{ id: 'residual-cusum', segments: 10 }], 'sidak');
    close(s.achievedFamilyArl0, 500, 1e-9, 'sidak family');
    expect(Math.abs(s.allocations[0].arl0PerChart - 5000)).toBeLessThan(5);
    expect(batchTestArl0(0.05)).toBe(20);
    expect(() =>
      splitArlBudget(500, [
        { id: 'a', segments: 1 },
        { id: 'a', segments: 2 },
      ]),
    ).toThrow(/duplicate/);
    expect(() => splitBatchBudget(0.05, [])).toThrow(RangeError);
  });
});
