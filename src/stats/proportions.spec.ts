/**
 * proportions.ts — where the expected values come from:
 *  - statistics.md §14.1 (vector A) and §14.4 (vector D), printed digits: R 4.2.2 `prop.test`/`binom.test` via
 *    reference/oracle/oracle.R; asserted to the printed digits (toFixed equality = "exactly as printed").
 *  - fixtures/proportions-oracle-r.json: `Rscript src/stats/fixtures/oracle/proportions-oracle.R src/stats/fixtures`
 *    (prop.test, binom.test, and oracle.R's ratio estimator with z = qnorm(0.975)), 17 significant digits.
 *  - fixtures/proportions-oracle-python.json: `/usr/bin/python3 src/stats/fixtures/oracle/proportions-oracle.py
 *    src/stats/fixtures` (statsmodels proportion_confint wilson/beta, scipy binomtest, statsmodels GEE robust SE).
 *  Inputs: fixtures/proportions-vector-a.csv (= reference/oracle/vessels.csv) and fixtures/proportions-vessels.csv
 *  (436 vessels / 300 patients, `oracle/proportions-dataset.R`, seed 20251128).
 *  Tolerance for the full-precision fixtures: 1e-12 absolute (same formulas in floating point; Clopper–Pearson goes
 *  through two independent beta-quantile solvers). Provenance: fixtures/README-proportions.md.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type ClusterCount,
  type ClusterProportion,
  type ConfusionMatrix,
  type LinkedVessel,
  type ProportionResult,
  clopperPearsonInterval,
  clusterProportion,
  collapseToPatients,
  confusionMatrix,
  countByCluster,
  perPatientConfusionMatrix,
  predictiveValuesAtPrevalence,
  proportion,
  proportionFromClusters,
  waldInterval,
  wilsonInterval,
} from './proportions';
import rOracle from './fixtures/proportions-oracle-r.json';
import pyOracle from './fixtures/proportions-oracle-python.json';

const FULL = 1e-12;

function readVessels(file: string): LinkedVessel[] {
  const [header, ...rows] = readFileSync(join(__dirname, 'fixtures', file), 'utf8')
    .trim()
    .split('\n');
  const cols = header.split(',');
  return rows.map((row) => {
    const cells = row.split(',');
    return {
      patientId: cells[cols.indexOf('patient')],
      invasiveFfr: Number(cells[cols.indexOf('ffr')]),
      ctFfr: Number(cells[cols.indexOf('ctffr')]),
    };
  });
}

const vectorA = readVessels('proportions-vector-a.csv');
const synthetic = readVessels('proportions-vessels.csv');

function expectClose(actual: number, expected: number, tolerance = FULL, label = ''): void {
  if (!(Math.abs(actual - expected) <= tolerance)) {
    throw new Error(`${label}: |${actual} − ${expected}| = ${Math.abs(actual - expected)} > ${tolerance}`);
  }
}

function expectInterval(
  actual: readonly number[],
  expected: readonly number[],
  tolerance = FULL,
  label = '',
): void {
  expectClose(actual[0], expected[0], tolerance, `${label} lower`);
  expectClose(actual[1], expected[1], tolerance, `${label} upper`);
}

/** Interval printed to 4 decimals, as statistics.md prints it. */
function printed(interval: readonly number[]): string {
  return `[${interval[0].toFixed(4)}, ${interval[1].toFixed(4)}]`;
}

function estimated(result: ProportionResult): Extract<ProportionResult, { estimable: true }> {
  if (!result.estimable) throw new Error(`expected an estimate, got not estimable: ${result.detail}`);
  return result;
}

function clusterOf(result: ProportionResult): ClusterProportion {
  const adjustment = estimated(result).clusterAdjustment;
  if (!adjustment.estimable) throw new Error(`cluster not estimable: ${adjustment.detail}`);
  return adjustment;
}

const METRICS = ['sensitivity', 'specificity', 'ppv', 'npv', 'accuracy'] as const;

describe('wilsonInterval and clopperPearsonInterval', () => {
  it('match R prop.test / binom.test on 30 (x, n) cases from 0/1 to 50000/50000 within 1e-12', () => {
    for (const row of rOracle.intervals) {
      expectInterval(wilsonInterval(row.x, row.n), row.wilson, FULL, `Wilson ${row.x}/${row.n}`);
      expectInterval(clopperPearsonInterval(row.x, row.n), row.clopperPearson, FULL, `CP ${row.x}/${row.n}`);
      expectInterval(waldInterval(row.x, row.n), row.wald, FULL, `Wald ${row.x}/${row.n}`);
    }
  });

  it('match statsmodels proportion_confint and scipy binomtest within 1e-12', () => {
    for (const row of pyOracle.intervals) {
      expectInterval(wilsonInterval(row.x, row.n), row.wilson, FULL, `statsmodels Wilson ${row.x}/${row.n}`);
      expectInterval(wilsonInterval(row.x, row.n), row.scipyWilson, FULL, `scipy Wilson ${row.x}/${row.n}`);
      expectInterval(
        clopperPearsonInterval(row.x, row.n),
        row.clopperPearson,
        FULL,
        `statsmodels CP ${row.x}/${row.n}`,
      );
      expectInterval(
        clopperPearsonInterval(row.x, row.n),
        row.scipyExact,
        FULL,
        `scipy exact ${row.x}/${row.n}`,
      );
    }
  });

  it.each([
    // statistics.md §14.4 vector D: x, n, Wilson, Clopper–Pearson, Wald ('' = not printed)
    [69, 80, '[0.7703, 0.9215]', '[0.7673, 0.9293]', ''],
    [10, 10, '[0.7225, 1.0000]', '[0.6915, 1.0000]', ''],
    [0, 12, '[0.0000, 0.2425]', '[0.0000, 0.2646]', ''],
    [70, 80, '[0.7850, 0.9307]', '[0.7821, 0.9384]', '[0.8025, 0.9475]'],
    [71, 109, '[0.5581, 0.7343]', '[0.5542, 0.7401]', '[0.5619, 0.7408]'],
    [141, 189, '[0.6795, 0.8028]', '[0.6778, 0.8064]', '[0.6840, 0.8081]'],
  ])('vector D %i/%i reproduces statistics.md §14.4 to the printed digits', (x, n, wilson, cp, wald) => {
    expect(printed(wilsonInterval(x, n))).toBe(wilson);
    expect(printed(clopperPearsonInterval(x, n))).toBe(cp);
    if (wald) expect(printed(waldInterval(x, n))).toBe(wald);
  });

  it('reproduces the published Coenen 2015 CIs (CP for sens/spec, Wald for accuracy; statistics.md §14.4)', () => {
    const pct = (i: readonly number[]): string => `${(100 * i[0]).toFixed(1)}–${(100 * i[1]).toFixed(1)}`;
    expect(pct(clopperPearsonInterval(70, 80))).toBe('78.2–93.8');
    expect(pct(clopperPearsonInterval(71, 109))).toBe('55.4–74.0');
    expect(pct(waldInterval(141, 189))).toBe('68.4–80.8');
  });

  it('degenerate x = 0 and x = n: bounds exactly 0 and 1', () => {
    expect(wilsonInterval(0, 7)[0]).toBe(0);
    expect(wilsonInterval(7, 7)[1]).toBe(1);
    expect(clopperPearsonInterval(0, 7)[0]).toBe(0);
    expect(clopperPearsonInterval(7, 7)[1]).toBe(1);
    // CP at x = 0 has the closed form 1 − (α/2)^{1/n}.
    expect(clopperPearsonInterval(0, 7)[1]).toBeCloseTo(1 - Math.pow(0.025, 1 / 7), 14);
  });

  it('rejects impossible counts instead of returning NaN', () => {
    expect(() => wilsonInterval(0, 0)).toThrow(RangeError);
    expect(() => wilsonInterval(3, 2)).toThrow(RangeError);
    expect(() => clopperPearsonInterval(-1, 2)).toThrow(RangeError);
    expect(() => clopperPearsonInterval(1.5, 2)).toThrow(RangeError);
  });
});

describe('clusterProportion (ratio estimator, statistics.md §5)', () => {
  type RCase = (typeof rOracle.clusterCases)[number];
  const rCase = (name: string): RCase => {
    const found = rOracle.clusterCases.find((c) => c.name === name);
    if (!found) throw new Error(name);
    return found;
  };
  const countsOf = (c: RCase): ClusterCount[] =>
    c.successes.map((successes, i) => ({ successes, trials: c.trials[i] }));
  // Vector A, diseased vessels per patient: P01 1/1, P02 1/1, P03 1/1, P04 0/1, P06 1/1, P08 1/2, P11 1/1, P12 1/1.
  const sensitivityCounts = countByCluster(
    vectorA
      .filter((v) => v.invasiveFfr <= 0.8)
      .map((v) => ({ clusterId: v.patientId, success: v.ctFfr <= 0.8 })),
  );

  it('vector A sensitivity reproduces statistics.md §14.1: SE 0.13065, deff 0.889, n_eff 10.1250, Wilson(n_eff) [0.4703, 0.9324]', () => {
    const sensitivity = clusterOf(confusionMatrix(vectorA).sensitivity);
    expect(sensitivity.clusters).toBe(8);
    expect(sensitivity.trials).toBe(9);
    expect(sensitivity.variance.toFixed(8)).toBe('0.01707057');
    expect(sensitivity.standardError.toFixed(5)).toBe('0.13065');
    expect(sensitivity.designEffect?.toFixed(6)).toBe('0.888889');
    expect(printed(sensitivity.waldInterval)).toBe('[0.5217, 1.0339]');
    // Default floors deff at 1 (n_eff = 9, the plain Wilson interval); unfloored = statistics.md's n_eff 10.125.
    expect(sensitivity.effectiveN).toBe(9);
    expect(printed(sensitivity.interval)).toBe('[0.4526, 0.9368]');
    const raw = clusterProportion(sensitivityCounts, { floorDesignEffect: false }) as ClusterProportion;
    expect(raw.effectiveN.toFixed(4)).toBe('10.1250');
    expect(printed(raw.interval)).toBe('[0.4703, 0.9324]');
  });

  it('vector A specificity reproduces statistics.md §14.1: SE 0.14025, deff 1.091, n_eff 10.0833, Wald [0.4524, 1.0022], Wilson(n_eff) [0.4224, 0.9068]', () => {
    const specificity = clusterOf(confusionMatrix(vectorA).specificity);
    expect([specificity.clusters, specificity.trials]).toEqual([8, 11]);
    expect(specificity.variance.toFixed(8)).toBe('0.01967079');
    expect(specificity.standardError.toFixed(5)).toBe('0.14025');
    expect(specificity.designEffect?.toFixed(6)).toBe('1.090909');
    expect(specificity.effectiveN.toFixed(4)).toBe('10.0833');
    expect(printed(specificity.waldInterval)).toBe('[0.4524, 1.0022]');
    expect(printed(specificity.interval)).toBe('[0.4224, 0.9068]');
  });

  it('GEE cross-check (statsmodels): SE(p, delta)·√(K/(K−1)) = ratio-estimator SE; logit CI without the factor = GEE logit CI', () => {
    const sensitivity = clusterOf(confusionMatrix(vectorA).sensitivity);
    const gee = pyOracle.vectorA.perVessel.sensitivity.gee;
    expect(gee.seLogit.toFixed(5)).toBe('0.70711'); // statistics.md §14.1
    expect(gee.seDelta.toFixed(5)).toBe('0.12222');
    expectClose(sensitivity.standardError, gee.standardError, FULL, 'ratio SE vs GEE');
    expectClose(sensitivity.standardError, gee.seDelta * Math.sqrt(8 / 7), FULL, 'GEE × √(K/(K−1))');
    const noFactor = clusterProportion(sensitivityCounts, { smallSampleFactor: false }) as ClusterProportion;
    expectClose(noFactor.standardError, gee.seDelta, FULL, 'no-factor SE = GEE delta SE');
    expectInterval(noFactor.logitInterval ?? [], gee.logitInterval, FULL, 'GEE logit CI');
    expect(printed(noFactor.logitInterval ?? [])).toBe('[0.4668, 0.9333]'); // statistics.md §14.1
  });

  it.each(['twoClusters', 'withEmptyPatients', 'unequal', 'singletons'])(
    'edge case %s matches R (variance, deff, n_eff, intervals) and the statsmodels GEE SE',
    (name) => {
      const c = rCase(name);
      const r = c.result as {
        estimate: number;
        variance: number;
        designEffect: number;
        effectiveN: number;
        wald: number[];
        wilsonEffectiveRaw: number[];
        wilsonEffectiveFloored: number[];
        varianceNoFactor: number;
        wilsonEffectiveNoFactorFloored: number[];
        clusters: number;
        trials: number;
      };
      const result = clusterProportion(countsOf(c)) as ClusterProportion;
      expect(result.clusters).toBe(r.clusters);
      expect(result.trials).toBe(r.trials);
      expectClose(result.estimate, r.estimate, FULL, 'estimate');
      expectClose(result.variance, r.variance, FULL, 'variance');
      expectClose(result.designEffect ?? Number.NaN, r.designEffect, 1e-10, 'deff');
      expectInterval(result.waldInterval, r.wald, FULL, 'Wald');
      expectInterval(result.interval, r.wilsonEffectiveFloored, FULL, 'Wilson(n_eff) floored');
      const raw = clusterProportion(countsOf(c), { floorDesignEffect: false }) as ClusterProportion;
      expectClose(raw.effectiveN, r.effectiveN, 1e-10, 'n_eff');
      expectInterval(raw.interval, r.wilsonEffectiveRaw, FULL, 'Wilson(n_eff) raw');
      const noFactor = clusterProportion(countsOf(c), { smallSampleFactor: false }) as ClusterProportion;
      expectClose(noFactor.variance, r.varianceNoFactor, FULL, 'variance without K/(K−1)');
      expectInterval(noFactor.interval, r.wilsonEffectiveNoFactorFloored, FULL, 'no-factor Wilson(n_eff)');
      const gee = pyOracle.clusterCases.find((g) => g.name === name)?.gee as {
        standardError: number;
        seDelta: number;
      };
      expectClose(result.standardError, gee.standardError, FULL, 'GEE·√(K/(K−1))');
      expectClose(noFactor.standardError, gee.seDelta, FULL, 'GEE sandwich');
    },
  );

  it('one vessel per patient reduces to the plain estimators (checked): Var = p(1−p)/(n−1), deff = n/(n−1); without the K/(K−1) factor the GEE sandwich is the binomial SE and the interval is exactly Wilson', () => {
    const counts = countsOf(rCase('singletons'));
    const n = counts.length;
    const withFactor = clusterProportion(counts) as ClusterProportion;
    const p = withFactor.estimate;
    expectClose(withFactor.variance, (p * (1 - p)) / (n - 1), 1e-15, 'Var = p(1−p)/(n−1)');
    expectClose(withFactor.designEffect ?? 0, n / (n - 1), 1e-14, 'deff = n/(n−1)');
    expectInterval(withFactor.interval, wilsonInterval(p * (n - 1), n - 1), 1e-15, 'Wilson at n − 1');
    const plain = clusterProportion(counts, { smallSampleFactor: false }) as ClusterProportion;
    expectClose(plain.standardError, Math.sqrt((p * (1 - p)) / n), 1e-15, 'binomial SE');
    expectClose(plain.designEffect ?? 0, 1, 1e-14, 'deff = 1');
    expectInterval(plain.interval, wilsonInterval(8, 10), 1e-15, 'plain Wilson');
  });

  it('one cluster: not estimable with the reason; n = 0: not estimable', () => {
    const one = clusterProportion(countsOf(rCase('oneCluster')));
    expect(one).toEqual(expect.objectContaining({ estimable: false, reason: 'single-patient' }));
    expect(rCase('oneCluster').result.estimable).toBe(false);
    expect(clusterProportion([])).toEqual(
      expect.objectContaining({ estimable: false, reason: 'no-eligible-vessels' }),
    );
    expect(clusterProportion([{ successes: 0, trials: 0 }])).toEqual(
      expect.objectContaining({ estimable: false, reason: 'no-eligible-vessels' }),
    );
  });

  it('p̂ = 1 or 0: variance 0, deff undefined (null), interval = Wilson with n_eff = K patients (worst case), as R', () => {
    for (const name of ['allSuccess', 'noSuccess']) {
      const c = rCase(name);
      const result = clusterProportion(countsOf(c)) as ClusterProportion;
      expect(result.variance).toBe(0);
      expect(result.designEffect).toBeNull();
      expect(result.logitInterval).toBeNull();
      expect(result.effectiveN).toBe(c.result.clusters);
      expectInterval(
        result.interval,
        (c.result as { wilsonEffectiveFloored: number[] }).wilsonEffectiveFloored,
      );
    }
  });

  it('rejects malformed cluster counts', () => {
    expect(() => clusterProportion([{ successes: 3, trials: 2 }])).toThrow(RangeError);
    expect(() => clusterProportion([{ successes: 0.5, trials: 2 }])).toThrow(RangeError);
  });
});

describe('confusionMatrix (DESIGN.md §5 shape)', () => {
  type ROracleAnalysis = typeof rOracle.vectorA.perVessel;
  type PyOracleAnalysis = typeof pyOracle.vectorA.perVessel;

  function compareWithOracles(actual: ConfusionMatrix, r: ROracleAnalysis, py: PyOracleAnalysis): void {
    expect([actual.vessels, actual.patients, actual.tp, actual.fp, actual.tn, actual.fn]).toEqual([
      r.vessels,
      r.patients,
      r.tp,
      r.fp,
      r.tn,
      r.fn,
    ]);
    for (const name of METRICS) {
      const result = estimated(actual[name]);
      const rm = r[name];
      const pm = py[name];
      expect([result.successes, result.n]).toEqual([rm.x, rm.n]);
      expectClose(result.estimate, rm.estimate, FULL, `${name} estimate`);
      expectInterval(result.ci95.wilson, rm.wilson, FULL, `${name} Wilson (R)`);
      expectInterval(result.ci95.clopperPearson, rm.clopperPearson, FULL, `${name} CP (R)`);
      expectInterval(result.ci95.wilson, pm.wilson, FULL, `${name} Wilson (statsmodels)`);
      expectInterval(result.ci95.clopperPearson, pm.clopperPearson, FULL, `${name} CP (statsmodels)`);
      const cluster = clusterOf(result);
      const rc = rm.cluster as { variance: number; designEffect?: number; wilsonEffectiveFloored: number[] };
      expectClose(cluster.variance, rc.variance, FULL, `${name} ratio variance`);
      expectInterval(
        result.ci95.cluster as readonly number[],
        rc.wilsonEffectiveFloored,
        FULL,
        `${name} cluster`,
      );
      const gee = pm.gee as { standardError?: number; wilsonEffectiveFloored?: number[] };
      if (gee.standardError !== undefined) {
        expectClose(cluster.standardError, gee.standardError, FULL, `${name} SE vs GEE`);
        expectInterval(
          cluster.interval,
          gee.wilsonEffectiveFloored ?? [],
          FULL,
          `${name} Wilson(n_eff) via GEE`,
        );
      }
    }
  }

  it('vector A per vessel: TP 7, FN 2, FP 3, TN 8 and the R/Python intervals of statistics.md §14.1', () => {
    const m = confusionMatrix(vectorA, 0.8);
    expect({ tp: m.tp, fn: m.fn, fp: m.fp, tn: m.tn, vessels: m.vessels, patients: m.patients }).toEqual({
      tp: 7,
      fn: 2,
      fp: 3,
      tn: 8,
      vessels: 20,
      patients: 12,
    });
    expect(estimated(m.prevalence).estimate.toFixed(4)).toBe('0.4500');
    const expected: Record<(typeof METRICS)[number], [string, string, string]> = {
      sensitivity: ['0.7778', '[0.4526, 0.9368]', '[0.3999, 0.9719]'],
      specificity: ['0.7273', '[0.4344, 0.9025]', '[0.3903, 0.9398]'],
      ppv: ['0.7000', '[0.3968, 0.8922]', '[0.3475, 0.9333]'],
      npv: ['0.8000', '[0.4902, 0.9433]', '[0.4439, 0.9748]'],
      accuracy: ['0.7500', '[0.5313, 0.8881]', '[0.5090, 0.9134]'],
    };
    for (const name of METRICS) {
      const result = estimated(m[name]);
      expect([
        result.estimate.toFixed(4),
        printed(result.ci95.wilson),
        printed(result.ci95.clopperPearson),
      ]).toEqual(expected[name]);
    }
    compareWithOracles(m, rOracle.vectorA.perVessel, pyOracle.vectorA.perVessel);
  });

  it('the inclusive boundary: FFR = 0.80 is reference-positive (P04 → FN), CT-FFR = 0.80 is test-positive (P09 → FP)', () => {
    const p04 = confusionMatrix(vectorA.filter((v) => v.patientId === 'P04'));
    expect([p04.tp, p04.fn, p04.fp, p04.tn]).toEqual([0, 1, 0, 0]);
    const p09 = confusionMatrix(vectorA.filter((v) => v.patientId === 'P09'));
    expect([p09.tp, p09.fn, p09.fp, p09.tn]).toEqual([0, 0, 1, 0]);
  });

  it('synthetic 436 vessels / 300 patients (ties, 25 values exactly at 0.80): all counts and intervals match R and statsmodels', () => {
    compareWithOracles(confusionMatrix(synthetic), rOracle.synthetic.perVessel, pyOracle.synthetic.perVessel);
  });

  it('per patient (min FFR, min CT-FFR; statistics.md §8): vector A sensitivity 7/8, specificity 2/4 as printed', () => {
    const m = perPatientConfusionMatrix(vectorA);
    expect([m.vessels, m.patients, m.tp, m.fn, m.fp, m.tn]).toEqual([12, 12, 7, 1, 2, 2]);
    const sensitivity = estimated(m.sensitivity);
    const specificity = estimated(m.specificity);
    expect([sensitivity.successes, sensitivity.n, sensitivity.estimate.toFixed(4)]).toEqual([7, 8, '0.8750']);
    expect(printed(sensitivity.ci95.wilson)).toBe('[0.5291, 0.9776]');
    expect(printed(sensitivity.ci95.clopperPearson)).toBe('[0.4735, 0.9968]');
    expect([specificity.successes, specificity.n, specificity.estimate.toFixed(4)]).toEqual([2, 4, '0.5000']);
    expect(printed(specificity.ci95.wilson)).toBe('[0.1500, 0.8500]');
    expect(printed(specificity.ci95.clopperPearson)).toBe('[0.0676, 0.9324]');
    compareWithOracles(m, rOracle.vectorA.perPatient, pyOracle.vectorA.perPatient);
  });

  it('per patient on the synthetic set matches R and statsmodels', () => {
    compareWithOracles(
      perPatientConfusionMatrix(synthetic),
      rOracle.synthetic.perPatient,
      pyOracle.synthetic.perPatient,
    );
  });

  it('collapseToPatients keeps first-appearance order and takes minima', () => {
    expect(
      collapseToPatients([
        { patientId: 'B', ctFfr: 0.9, invasiveFfr: 0.7 },
        { patientId: 'A', ctFfr: 0.8, invasiveFfr: 0.9 },
        { patientId: 'B', ctFfr: 0.75, invasiveFfr: 0.85 },
      ]),
    ).toEqual([
      { patientId: 'B', ctFfr: 0.75, invasiveFfr: 0.7 },
      { patientId: 'A', ctFfr: 0.8, invasiveFfr: 0.9 },
    ]);
  });

  it('n = 0: every proportion is "not estimable" with its reason, never NaN', () => {
    const m = confusionMatrix([]);
    expect([m.vessels, m.patients, m.tp, m.fp, m.tn, m.fn]).toEqual([0, 0, 0, 0, 0, 0]);
    for (const name of METRICS) {
      expect(m[name]).toEqual({
        estimable: false,
        estimate: null,
        successes: 0,
        n: 0,
        ci95: null,
        reason: 'no-eligible-vessels',
        detail: 'n = 0: no eligible vessels',
      });
    }
    expect(JSON.stringify(m)).not.toContain('NaN');
  });

  it('all vessels diseased: specificity not estimable (n = 0); sensitivity, PPV, NPV reported', () => {
    const allDiseased: LinkedVessel[] = [
      { patientId: 'X1', ctFfr: 0.7, invasiveFfr: 0.6 },
      { patientId: 'X1', ctFfr: 0.85, invasiveFfr: 0.7 },
      { patientId: 'X2', ctFfr: 0.79, invasiveFfr: 0.8 },
      { patientId: 'X3', ctFfr: 0.62, invasiveFfr: 0.55 },
    ];
    const m = confusionMatrix(allDiseased);
    expect([m.tp, m.fn, m.fp, m.tn]).toEqual([3, 1, 0, 0]);
    expect(m.specificity.estimable).toBe(false);
    expect(m.npv.estimable).toBe(true); // the one FN is a test negative: NPV = 0/1
    expect(estimated(m.npv).estimate).toBe(0);
    const sensitivity = estimated(m.sensitivity);
    expect(sensitivity.estimate).toBe(0.75);
    expect(printed(sensitivity.ci95.wilson)).toBe(printed(wilsonInterval(3, 4)));
    expect(estimated(m.ppv).estimate).toBe(1);
    expect(estimated(m.prevalence).estimate).toBe(1);
  });

  it('all vessels negative (reference and test): sensitivity and PPV not estimable, specificity = 1 with n_eff = patients', () => {
    const allNegative: LinkedVessel[] = [
      { patientId: 'N1', ctFfr: 0.9, invasiveFfr: 0.92 },
      { patientId: 'N1', ctFfr: 0.88, invasiveFfr: 0.95 },
      { patientId: 'N2', ctFfr: 0.95, invasiveFfr: 0.9 },
    ];
    const m = confusionMatrix(allNegative);
    expect(m.sensitivity.estimable).toBe(false);
    expect(m.ppv.estimable).toBe(false);
    const specificity = estimated(m.specificity);
    expect(specificity.estimate).toBe(1);
    expect(specificity.ci95.wilson).toEqual(wilsonInterval(3, 3));
    expect(specificity.ci95.cluster).toEqual(wilsonInterval(2, 2)); // each patient counted once
  });

  it('one patient: Wilson and Clopper–Pearson reported, the cluster interval says why it is missing', () => {
    const m = confusionMatrix(vectorA.filter((v) => v.patientId === 'P03'));
    const accuracy = estimated(m.accuracy);
    expect(accuracy.n).toBe(3);
    expect(accuracy.ci95.cluster).toEqual(
      expect.objectContaining({ estimable: false, reason: 'single-patient' }),
    );
  });

  it('minimumN turns a too-small n into "not estimable" with the minimum in the message', () => {
    const m = confusionMatrix(vectorA, 0.8, { minimumN: 10 });
    expect(m.sensitivity).toEqual(
      expect.objectContaining({ estimable: false, reason: 'below-minimum-n', n: 9 }),
    );
    expect(estimated(m.specificity).n).toBe(11);
    expect(m.sensitivity.estimable === false && m.sensitivity.detail).toBe(
      'n = 9 is below the reporting minimum of 10',
    );
  });

  it('another threshold changes the classification (value ≤ threshold)', () => {
    const m = confusionMatrix(vectorA, 0.75);
    const truth = vectorA.filter((v) => v.invasiveFfr <= 0.75).length;
    expect(m.tp + m.fn).toBe(truth);
  });

  it('states its methods; rejects non-finite values and missing patient ids', () => {
    expect(confusionMatrix(vectorA).methods.cluster).toContain('patient as cluster');
    expect(() => confusionMatrix([{ patientId: 'P', ctFfr: Number.NaN, invasiveFfr: 0.8 }])).toThrow(
      RangeError,
    );
    expect(() => confusionMatrix([{ patientId: '', ctFfr: 0.7, invasiveFfr: 0.8 }])).toThrow(RangeError);
    expect(() => confusionMatrix(vectorA, Number.NaN)).toThrow(RangeError);
  });
});

describe('proportion helpers', () => {
  it('proportion() and proportionFromClusters() agree', () => {
    const outcomes = vectorA.map((v) => ({
      clusterId: v.patientId,
      success: v.ctFfr <= 0.8 === v.invasiveFfr <= 0.8,
    }));
    expect(proportion(outcomes)).toEqual(proportionFromClusters(countByCluster(outcomes)));
  });

  it('predictiveValuesAtPrevalence: Bayes (statistics.md §2), null for 0/0', () => {
    const { ppv, npv } = predictiveValuesAtPrevalence(0.8, 0.9, 0.3);
    expect(ppv).toBeCloseTo((0.8 * 0.3) / (0.8 * 0.3 + 0.1 * 0.7), 15);
    expect(npv).toBeCloseTo((0.9 * 0.7) / (0.9 * 0.7 + 0.2 * 0.3), 15);
    expect(predictiveValuesAtPrevalence(0, 1, 0.5).ppv).toBeNull();
    expect(() => predictiveValuesAtPrevalence(1.2, 0.5, 0.5)).toThrow(RangeError);
  });
});
