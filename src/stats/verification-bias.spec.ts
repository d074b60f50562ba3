/**
 * verification-bias.ts — expected values:
 *  - statistics.md §14.6 vector F (printed digits): Begg–Greenes 0.788732 / 0.813953, naive 0.965517 / 0.368421,
 *    IPW weights 1.6667 / 12.5, IPW = Begg–Greenes.
 *  - fixtures/verification-bias-oracle-python.json: `/usr/bin/python3 src/stats/fixtures/oracle/verification-bias-oracle.py
 *    src/stats/fixtures` — the ctffr-evidence.md §5 simulation (50,000 patients, seed 11; committed as counts), the
 *    record-level set fixtures/verification-bias-records.csv (3,000 patients, referral depending on CT-FFR and site,
 *    seed 12), statsmodels GLM propensities, numpy bootstraps.
 *  - fixtures/verification-bias-oracle-r.json: `Rscript src/stats/fixtures/oracle/verification-bias-oracle.R
 *    src/stats/fixtures` — glm() propensity, IPW and Begg–Greenes on the same record-level set.
 * Tolerances: closed forms 1e-12; IRLS coefficients 1e-8 and IPW estimates from them 1e-10 (all three fits stop at a
 * 1e-14 deviance tolerance, so they agree to ~1e-9 in the coefficients); bootstrap intervals against numpy's
 * bootstraps (a different RNG) within Monte Carlo error: 4 Monte Carlo SEs of a 2.5% / 97.5% percentile
 * (≈ 0.25 bootstrap SD) for the bounds, 8% for the bootstrap SD.
 * Commands, tool versions and oracle limits: fixtures/README-proportions.md.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type AnalysedUnit,
  type CorrectedProportion,
  type VerificationBiasEstimate,
  type VerificationBiasResult,
  type VerificationCounts,
  analysedUnitsFromCtFfr,
  beggGreenes,
  beggGreenesFromCounts,
  countVerification,
  inverseProbabilityWeighting,
  logisticRegression,
} from './verification-bias';
import pyOracle from './fixtures/verification-bias-oracle-python.json';
import rOracle from './fixtures/verification-bias-oracle-r.json';

function expectClose(actual: number, expected: number, tolerance: number, label: string): void {
  if (!(Math.abs(actual - expected) <= tolerance)) {
    throw new Error(`${label}: |${actual} − ${expected}| = ${Math.abs(actual - expected)} > ${tolerance}`);
  }
}

function estimate(result: VerificationBiasResult): VerificationBiasEstimate {
  if (!result.estimable) throw new Error(`not estimable: ${result.detail}`);
  return result;
}

function corrected(value: VerificationBiasEstimate['sensitivity']): CorrectedProportion {
  if ('estimable' in value) throw new Error(`not estimable: ${value.detail}`);
  return value;
}

function interval(value: CorrectedProportion['ci95']['bootstrap'] | undefined): readonly [number, number] {
  if (value === undefined || 'estimable' in value) throw new Error('interval not estimable');
  return value;
}

/** Cells [T+ unverified, T− unverified, T+D+, T+D−, T−D+, T−D−] → counts. */
function countsOf(cells: readonly number[]): VerificationCounts {
  return {
    testPositive: cells[0] + cells[2] + cells[3],
    testNegative: cells[1] + cells[4] + cells[5],
    verifiedTestPositiveDiseased: cells[2],
    verifiedTestPositiveNonDiseased: cells[3],
    verifiedTestNegativeDiseased: cells[4],
    verifiedTestNegativeNonDiseased: cells[5],
  };
}

/** Units in cell order, as numpy's `expand` in the oracle. */
function unitsOf(cells: readonly number[]): AnalysedUnit[] {
  const make = (count: number, unit: AnalysedUnit): AnalysedUnit[] =>
    Array.from({ length: count }, () => unit);
  return [
    ...make(cells[0], { testPositive: true, verified: false }),
    ...make(cells[1], { testPositive: false, verified: false }),
    ...make(cells[2], { testPositive: true, verified: true, diseased: true }),
    ...make(cells[3], { testPositive: true, verified: true, diseased: false }),
    ...make(cells[4], { testPositive: false, verified: true, diseased: true }),
    ...make(cells[5], { testPositive: false, verified: true, diseased: false }),
  ];
}

function readRecords(): { units: AnalysedUnit[]; site: string[]; ctffr: number[] } {
  const [header, ...rows] = readFileSync(join(__dirname, 'fixtures', 'verification-bias-records.csv'), 'utf8')
    .trim()
    .split('\n');
  const cols = header.split(',');
  const site: string[] = [];
  const ctffr: number[] = [];
  const units = rows.map((row) => {
    const cells = row.split(',');
    const get = (name: string): string => cells[cols.indexOf(name)] ?? '';
    const ct = Number(get('ctffr'));
    site.push(get('site'));
    ctffr.push(ct);
    const verified = get('verified') === '1';
    return {
      testPositive: ct <= 0.8,
      verified,
      diseased: verified ? get('diseased') === '1' : null,
      clusterId: get('patient'),
      stratum: get('site'),
      covariates: [ct],
    };
  });
  return { units, site, ctffr };
}

/** Monte Carlo tolerance for a percentile bound: 4 SEs of the 2.5% quantile of B draws, in units of the SD. */
function percentileTolerance(sd: number, replicates: number): number {
  // SE of the p-quantile ≈ √(p(1 − p)/B)/φ(z_p)·SD; p = 0.025, φ(1.96) = 0.0584.
  return (4 * Math.sqrt((0.025 * 0.975) / replicates) * sd) / 0.0584;
}

describe('statistics.md §14.6 vector F (1000 analysed; 240/400 T+ and 48/600 T− verified)', () => {
  const cells = pyOracle.vectorF.cells;
  const counts = countsOf(cells);

  it('Begg–Greenes 0.788732 / 0.813953 and naive 0.965517 / 0.368421, as printed; = R and Python to 1e-12', () => {
    const result = estimate(beggGreenesFromCounts(counts, { bootstrap: { replicates: 200 } }));
    const se = corrected(result.sensitivity);
    const sp = corrected(result.specificity);
    expect([se.estimate.toFixed(6), sp.estimate.toFixed(6)]).toEqual(['0.788732', '0.813953']);
    expectClose(se.estimate, rOracle.vectorF.beggGreenes[0], 1e-12, 'Se vs R');
    expectClose(sp.estimate, pyOracle.vectorF.beggGreenes[1], 1e-12, 'Sp vs Python');
    const naiveSe = result.naive.sensitivity;
    const naiveSp = result.naive.specificity;
    expect(naiveSe.estimable && [naiveSe.successes, naiveSe.n, naiveSe.estimate.toFixed(6)]).toEqual([
      168,
      174,
      '0.965517',
    ]);
    expect(naiveSp.estimable && [naiveSp.successes, naiveSp.n, naiveSp.estimate.toFixed(6)]).toEqual([
      42,
      114,
      '0.368421',
    ]);
    expect([result.analysed, result.verified]).toEqual([1000, 288]);
    expect(result.verifiedFraction.estimable && result.verifiedFraction.estimate).toBe(0.288);
  });

  it('IPW with π = verification share in T+ / T− equals Begg–Greenes exactly; weights 1.6667 and 12.5; = statsmodels GLM IPW', () => {
    const units = unitsOf(cells);
    const ipw = estimate(inverseProbabilityWeighting(units, { bootstrap: { replicates: 50 } }));
    const bg = estimate(beggGreenesFromCounts(counts, { bootstrap: { replicates: 50 } }));
    expectClose(
      corrected(ipw.sensitivity).estimate,
      corrected(bg.sensitivity).estimate,
      1e-15,
      'IPW = BG (Se)',
    );
    expectClose(
      corrected(ipw.specificity).estimate,
      corrected(bg.specificity).estimate,
      1e-15,
      'IPW = BG (Sp)',
    );
    expect(ipw.maxWeight).toBe(12.5);
    expect((1 / (240 / 400)).toFixed(4)).toBe('1.6667');
    expectClose(corrected(ipw.sensitivity).estimate, pyOracle.vectorF.ipwGlm[0], 1e-12, 'Se vs statsmodels');
    expectClose(corrected(ipw.specificity).estimate, pyOracle.vectorF.ipwGlm[1], 1e-12, 'Sp vs statsmodels');
    // A logistic propensity on [1, T] is saturated: its fitted π are the same shares.
    const logistic = estimate(
      inverseProbabilityWeighting(units, { propensity: 'logistic', bootstrap: { replicates: 20 } }),
    );
    expectClose(
      corrected(logistic.sensitivity).estimate,
      corrected(bg.sensitivity).estimate,
      1e-10,
      'logistic IPW = BG',
    );
  });

  it('records and counts give the same Begg–Greenes result', () => {
    const units = unitsOf(cells);
    expect(countVerification(units)).toEqual(counts);
    const fromUnits = estimate(beggGreenes(units, { bootstrap: { replicates: 100 } }));
    expect(corrected(fromUnits.sensitivity).estimate).toBe(
      corrected(estimate(beggGreenesFromCounts(counts, { bootstrap: { replicates: 100 } })).sensitivity)
        .estimate,
    );
  });
});

describe('ctffr-evidence.md §5: the corrected estimate recovers the truth, the naive one does not', () => {
  const s5 = pyOracle.section5;
  const counts = countsOf(s5.cells);
  // One run with the default 2000 replicates, reused by the assertions below.
  const result = estimate(beggGreenesFromCounts(counts));
  const se = corrected(result.sensitivity);
  const sp = corrected(result.specificity);

  it('simulation summary (50,000 patients, one vessel each; verified 31.8%; truth 0.831 / 0.782)', () => {
    expect(result.analysed).toBe(50_000);
    expect(result.verifiedFraction.estimable && result.verifiedFraction.estimate.toFixed(3)).toBe(
      s5.verifiedFraction.toFixed(3),
    );
    expect(s5.truth.map((v) => v.toFixed(3))).toEqual(['0.831', '0.782']);
    expect(s5.all2x2.tp + s5.all2x2.fn + s5.all2x2.fp + s5.all2x2.tn).toBe(50_000);
  });

  it('Begg–Greenes matches the Python oracle (1e-12) and its 95% bootstrap interval contains the truth', () => {
    expectClose(se.estimate, s5.beggGreenes[0], 1e-12, 'Se');
    expectClose(sp.estimate, s5.beggGreenes[1], 1e-12, 'Sp');
    const [seLow, seHigh] = interval(se.ci95.bootstrap);
    const [spLow, spHigh] = interval(sp.ci95.bootstrap);
    expect(seLow <= s5.truth[0] && s5.truth[0] <= seHigh).toBe(true);
    expect(spLow <= s5.truth[1] && s5.truth[1] <= spHigh).toBe(true);
    const [dLow, dHigh] = interval(se.ci95.deltaLogit);
    expect(dLow <= s5.truth[0] && s5.truth[0] <= dHigh).toBe(true);
  });

  it('the naive (verified-only) estimates miss the truth far outside their intervals', () => {
    const naiveSe = result.naive.sensitivity;
    const naiveSp = result.naive.specificity;
    if (!naiveSe.estimable || !naiveSp.estimable) throw new Error('naive not estimable');
    expectClose(naiveSe.estimate, s5.naive[0], 1e-12, 'naive Se');
    expectClose(naiveSp.estimate, s5.naive[1], 1e-12, 'naive Sp');
    expect(naiveSe.ci95.wilson[0]).toBeGreaterThan(s5.truth[0] + 0.1); // 0.974 vs 0.831
    expect(naiveSp.ci95.wilson[1]).toBeLessThan(s5.truth[1] - 0.4); // 0.340 vs 0.782
  });

  it('bootstrap interval and SD agree with numpy’s 20,000-replicate bootstrap within Monte Carlo error', () => {
    for (const [name, value, oracle] of [
      ['sensitivity', se, s5.bootstrap.sensitivity],
      ['specificity', sp, s5.bootstrap.specificity],
    ] as const) {
      const tolerance = percentileTolerance(oracle.sd, 2000);
      const [low, high] = interval(value.ci95.bootstrap);
      expectClose(low, oracle.percentile95[0], tolerance, `${name} lower`);
      expectClose(high, oracle.percentile95[1], tolerance, `${name} upper`);
      expectClose(value.bootstrapStandardError ?? 0, oracle.sd, 0.08 * oracle.sd, `${name} bootstrap SD`);
      // The analytic delta-method SE agrees with the bootstrap SD (a check of the variance formula).
      expectClose(
        value.deltaStandardError ?? 0,
        oracle.sd,
        0.05 * oracle.sd,
        `${name} delta SE vs bootstrap SD`,
      );
    }
    expect(result.bootstrap).toEqual(
      expect.objectContaining({
        replicates: 2000,
        seed: 20240601,
        unit: 'analysis',
        failedReplicates: { sensitivity: 0, specificity: 0 },
      }),
    );
  });

  it('IPW on the 50,000 records equals Begg–Greenes and the statsmodels-GLM IPW', () => {
    const ipw = estimate(inverseProbabilityWeighting(unitsOf(s5.cells), { bootstrap: { replicates: 20 } }));
    expectClose(corrected(ipw.sensitivity).estimate, se.estimate, 1e-13, 'IPW = BG');
    expectClose(corrected(ipw.sensitivity).estimate, s5.ipwGlm[0], 1e-10, 'IPW vs GLM');
    expectClose(corrected(ipw.specificity).estimate, s5.ipwGlm[1], 1e-10, 'IPW vs GLM (Sp)');
  });
});

describe('record-level set: referral depends on the CT-FFR value and the site (3,000 patients)', () => {
  const { units } = readRecords();
  const py = pyOracle.records;
  const r = rOracle.records;

  it('Begg–Greenes and naive match R and Python (1e-12)', () => {
    expect(countVerification(units)).toEqual(countsOf(py.cells));
    const bg = estimate(beggGreenes(units, { bootstrap: { replicates: 100 } }));
    expectClose(corrected(bg.sensitivity).estimate, r.beggGreenes[0], 1e-12, 'Se vs R');
    expectClose(corrected(bg.specificity).estimate, py.beggGreenes[1], 1e-12, 'Sp vs Python');
    expect(bg.bootstrap.unit).toBe('cluster');
  });

  it('logistic propensity V ~ 1 + T + CT-FFR: coefficients = R glm and statsmodels GLM (1e-8), IPW (1e-10)', () => {
    const fit = logisticRegression(
      units.map((u) => [1, u.testPositive ? 1 : 0, ...(u.covariates ?? [])]),
      units.map((u) => u.verified),
    );
    expect(fit.converged).toBe(true);
    fit.coefficients.forEach((b, i) => {
      expectClose(b, r.logisticCoefficients[i], 1e-8, `coefficient ${i} vs R`);
      expectClose(b, py.logisticCoefficients[i], 1e-8, `coefficient ${i} vs statsmodels`);
    });
    const ipw = estimate(
      inverseProbabilityWeighting(units, {
        propensity: 'logistic',
        bootstrap: { replicates: 1000, seed: 7 },
      }),
    );
    expectClose(corrected(ipw.sensitivity).estimate, r.ipwLogistic[0], 1e-10, 'Se vs R');
    expectClose(corrected(ipw.specificity).estimate, py.ipwLogistic[1], 1e-10, 'Sp vs statsmodels');
    expectClose(ipw.maxWeight ?? 0, py.maxWeightLogistic, 1e-8, 'max weight');
    for (const [name, value, oracle] of [
      ['sensitivity', corrected(ipw.sensitivity), py.bootstrapLogistic.sensitivity],
      ['specificity', corrected(ipw.specificity), py.bootstrapLogistic.specificity],
    ] as const) {
      const tolerance = percentileTolerance(oracle.sd, 1000);
      const [low, high] = interval(value.ci95.bootstrap);
      expectClose(low, oracle.percentile95[0], tolerance, `${name} lower vs numpy bootstrap`);
      expectClose(high, oracle.percentile95[1], tolerance, `${name} upper vs numpy bootstrap`);
      expectClose(value.bootstrapStandardError ?? 0, oracle.sd, 0.1 * oracle.sd, `${name} SD`);
    }
  });

  it('IPW with empirical shares per test result × site matches R and Python (1e-12) and numpy’s bootstrap', () => {
    const ipw = estimate(
      inverseProbabilityWeighting(units, {
        propensity: 'test-result-by-stratum',
        bootstrap: { replicates: 1000, seed: 3 },
      }),
    );
    expectClose(corrected(ipw.sensitivity).estimate, r.ipwStrata[0], 1e-12, 'Se vs R');
    expectClose(corrected(ipw.specificity).estimate, py.ipwStrata[1], 1e-12, 'Sp vs Python');
    const value = corrected(ipw.sensitivity);
    const oracle = py.bootstrapStrata.sensitivity;
    const [low, high] = interval(value.ci95.bootstrap);
    expectClose(low, oracle.percentile95[0], percentileTolerance(oracle.sd, 1000), 'lower');
    expectClose(high, oracle.percentile95[1], percentileTolerance(oracle.sd, 1000), 'upper');
  });

  it('documented at scale (200,000 patients, Python): Begg–Greenes is biased here, IPW on CT-FFR + site is not', () => {
    const a = pyOracle.atScale;
    expect(Math.abs(a.beggGreenes[1] - a.truth[1])).toBeGreaterThan(0.05);
    expect(Math.abs(a.ipwLogisticWithSite[1] - a.truth[1])).toBeLessThan(0.01);
    expect(Math.abs(a.ipwLogisticWithSite[0] - a.truth[0])).toBeLessThan(0.01);
  });
});

describe('edge cases, reproducibility, validation', () => {
  const base: AnalysedUnit[] = [
    { testPositive: true, verified: true, diseased: true, clusterId: 'A' },
    { testPositive: true, verified: true, diseased: false, clusterId: 'B' },
    { testPositive: true, verified: false, clusterId: 'C' },
    { testPositive: false, verified: true, diseased: false, clusterId: 'D' },
    { testPositive: false, verified: true, diseased: true, clusterId: 'E' },
    { testPositive: false, verified: false, clusterId: 'F' },
    { testPositive: false, verified: false, clusterId: 'G' },
  ];

  it('no analyses: not estimable (both methods)', () => {
    expect(beggGreenes([])).toEqual(
      expect.objectContaining({ estimable: false, reason: 'no-analyses', analysed: 0 }),
    );
    expect(inverseProbabilityWeighting([])).toEqual(
      expect.objectContaining({ estimable: false, reason: 'no-analyses' }),
    );
  });

  it('no verified test-negative: sensitivity and specificity not estimable with the reason, not NaN', () => {
    const units = base.filter((u) => u.testPositive || !u.verified);
    const bg = estimate(beggGreenes(units, { bootstrap: { replicates: 20 } }));
    expect(bg.sensitivity).toEqual(
      expect.objectContaining({ estimable: false, reason: 'no-verified-test-negative' }),
    );
    expect(bg.specificity).toEqual(
      expect.objectContaining({ estimable: false, reason: 'no-verified-test-negative' }),
    );
    const ipw = estimate(inverseProbabilityWeighting(units, { bootstrap: { replicates: 20 } }));
    expect(ipw.sensitivity).toEqual(
      expect.objectContaining({ estimable: false, reason: 'positivity-violation' }),
    );
    expect(JSON.stringify(bg)).not.toContain('NaN');
  });

  it('no verified diseased: sensitivity not estimable (0/0), specificity reported', () => {
    const units = base.map((u) => (u.verified ? { ...u, diseased: false } : u));
    const bg = estimate(beggGreenes(units, { bootstrap: { replicates: 20 } }));
    expect(bg.sensitivity).toEqual(
      expect.objectContaining({ estimable: false, reason: 'no-verified-diseased' }),
    );
    // Nobody diseased among the verified: FOR_v = PPV_v = 0, so Sp = P(T−) over all analyses = 4/7.
    expect(corrected(bg.specificity).estimate).toBe(4 / 7);
    expect(interval(corrected(bg.specificity).ci95.deltaLogit)[0]).toBeLessThan(4 / 7);
    const allPositive = estimate(
      beggGreenes(
        units.map((u) => ({ ...u, testPositive: false })),
        { bootstrap: { replicates: 20 } },
      ),
    );
    // Sp = 1 is on the boundary: no logit interval.
    expect(corrected(allPositive.specificity).estimate).toBe(1);
    expect(corrected(allPositive.specificity).ci95.deltaLogit).toEqual(
      expect.objectContaining({ reason: 'boundary-estimate' }),
    );
  });

  it('tiny data: too many undefined bootstrap resamples make the interval "not estimable" instead of a number', () => {
    const bg = estimate(beggGreenes(base, { bootstrap: { replicates: 200 } }));
    const se = corrected(bg.sensitivity);
    expect(se.ci95.bootstrap).toEqual(
      expect.objectContaining({ estimable: false, reason: 'unstable-bootstrap' }),
    );
    expect(se.bootstrapStandardError).toBeNull();
    expect(bg.bootstrap.failedReplicates.sensitivity).toBeGreaterThan(2);
  });

  it('a stratum with analyses but none verified violates positivity', () => {
    const units = [
      ...base.map((u) => ({ ...u, stratum: 'S1' })),
      { testPositive: true, verified: false, stratum: 'S2' },
    ];
    const ipw = estimate(
      inverseProbabilityWeighting(units, {
        propensity: 'test-result-by-stratum',
        bootstrap: { replicates: 10 },
      }),
    );
    expect(ipw.sensitivity).toEqual(
      expect.objectContaining({ estimable: false, reason: 'positivity-violation' }),
    );
  });

  it('given propensities are used as supplied; invalid ones throw', () => {
    const units = unitsOf(pyOracle.vectorF.cells).map((u) => ({
      ...u,
      verificationProbability: u.testPositive ? 240 / 400 : 48 / 600,
    }));
    const given = estimate(
      inverseProbabilityWeighting(units, { propensity: 'given', bootstrap: { replicates: 10 } }),
    );
    expectClose(corrected(given.sensitivity).estimate, pyOracle.vectorF.beggGreenes[0], 1e-12, 'given π');
    expect(() =>
      inverseProbabilityWeighting(
        units.map((u) => ({ ...u, verificationProbability: 0 })),
        { propensity: 'given', bootstrap: { replicates: 10 } },
      ),
    ).toThrow(RangeError);
  });

  it('complete separation in the logistic propensity: not estimable', () => {
    const separated: AnalysedUnit[] = [0.6, 0.65, 0.7, 0.9, 0.95, 0.97].map((ct, i) => ({
      testPositive: ct <= 0.8,
      verified: ct <= 0.8,
      diseased: ct <= 0.8 ? i % 2 === 0 : null,
      covariates: [ct],
    }));
    const ipw = estimate(
      inverseProbabilityWeighting(separated, { propensity: 'logistic', bootstrap: { replicates: 10 } }),
    );
    expect(ipw.sensitivity).toEqual(expect.objectContaining({ estimable: false }));
  });

  it('the same seed reproduces the interval exactly; another seed changes it', () => {
    const counts = countsOf(pyOracle.vectorF.cells);
    const run = (seed: number): unknown =>
      corrected(estimate(beggGreenesFromCounts(counts, { bootstrap: { replicates: 300, seed } })).sensitivity)
        .ci95.bootstrap;
    expect(run(5)).toEqual(run(5));
    expect(run(5)).not.toEqual(run(6));
  });

  it('one analysis per patient: the patient-cluster bootstrap has the same point estimates and (in law) the same interval', () => {
    const units = unitsOf(pyOracle.vectorF.cells);
    const clustered = estimate(
      beggGreenes(
        units.map((u, i) => ({ ...u, clusterId: `P${i}` })),
        { bootstrap: { replicates: 2000 } },
      ),
    );
    const plain = estimate(beggGreenesFromCounts(countsOf(pyOracle.vectorF.cells)));
    const a = corrected(clustered.sensitivity);
    const b = corrected(plain.sensitivity);
    expect(a.estimate).toBe(b.estimate);
    expect(clustered.bootstrap.unit).toBe('cluster');
    const [al, ah] = interval(a.ci95.bootstrap);
    const [bl, bh] = interval(b.ci95.bootstrap);
    const tolerance = 2 * percentileTolerance(b.bootstrapStandardError ?? 0, 2000);
    expectClose(al, bl, tolerance, 'lower');
    expectClose(ah, bh, tolerance, 'upper');
  });

  it('analysedUnitsFromCtFfr: inclusive threshold, verified iff an invasive FFR exists, CT-FFR as covariate', () => {
    expect(
      analysedUnitsFromCtFfr([
        { patientId: 'P1', ctFfr: 0.8, invasiveFfr: 0.8 },
        { patientId: 'P2', ctFfr: 0.81, invasiveFfr: null, stratum: 'S' },
      ]),
    ).toEqual([
      { testPositive: true, verified: true, diseased: true, clusterId: 'P1', covariates: [0.8] },
      {
        testPositive: false,
        verified: false,
        diseased: null,
        clusterId: 'P2',
        stratum: 'S',
        covariates: [0.81],
      },
    ]);
  });

  it('validation: a verified unit without its reference result, impossible counts, bad replicate counts', () => {
    expect(() => beggGreenes([{ testPositive: true, verified: true }])).toThrow(RangeError);
    expect(() =>
      beggGreenesFromCounts({ ...countsOf(pyOracle.vectorF.cells), verifiedTestPositiveDiseased: 10_000 }),
    ).toThrow(RangeError);
    expect(() => beggGreenes(base, { bootstrap: { replicates: 1 } })).toThrow(RangeError);
  });
});

describe('Begg–Greenes without a bootstrap (replicates = 0)', () => {
  it('gives the same point estimates and delta interval, and says why the bootstrap interval is absent', () => {
    const counts = {
      testPositive: 3000,
      testNegative: 5000,
      verifiedTestPositiveDiseased: 400,
      verifiedTestPositiveNonDiseased: 300,
      verifiedTestNegativeDiseased: 50,
      verifiedTestNegativeNonDiseased: 300,
    };
    const withBootstrap = beggGreenesFromCounts(counts, { bootstrap: { replicates: 200 } });
    const without = beggGreenesFromCounts(counts, { bootstrap: { replicates: 0 } });
    if (!withBootstrap.estimable || !without.estimable) throw new Error('not estimable');
    if (!('estimate' in without.sensitivity) || !('estimate' in withBootstrap.sensitivity))
      throw new Error('no estimate');
    expect(without.sensitivity.estimate).toBe(withBootstrap.sensitivity.estimate);
    expect(without.sensitivity.ci95.deltaLogit).toEqual(withBootstrap.sensitivity.ci95.deltaLogit);
    expect(without.sensitivity.ci95.bootstrap).toMatchObject({
      estimable: false,
      reason: 'bootstrap-not-run',
    });
    expect(() => beggGreenesFromCounts(counts, { bootstrap: { replicates: 1 } })).toThrow(RangeError);
  });
});
