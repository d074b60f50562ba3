/**
 * Expected values and where they come from:
 *  - statistics.md §14.1 (printed digits): reference/oracle/oracle.R (BA classic and 2007) and the "additional
 *    values" table (R 4.2.2 formulas, z = 1.959964). Tolerance: half a unit in the last printed digit.
 *  - fixtures/agreement-oracle-r.json: `Rscript src/stats/fixtures/oracle/agreement-oracle.R src/stats/fixtures`
 *    (base R mean/sd/qnorm/qt, anova(lm()), lm()/summary()/confint()), 17 significant digits.
 *  - fixtures/agreement-oracle-python.json: `/usr/bin/python3 src/stats/fixtures/oracle/agreement-oracle.py
 *    src/stats/fixtures` (statsmodels 0.13.5 OLS, anova_lm, OLS cov_type="cluster").
 *  - Zou (2013) MOVER CIs of the repeated-measures limits (`zou2013` keys of both files): written from the published
 *    formulas in base R (tapply/var/ave/qchisq/qnorm) and in pandas/scipy.stats.chi2, independently of agreement.ts.
 *  Full-precision fixtures are compared at 1e-12 absolute (p-values at 1e-10: they pass through the t CDF).
 *  See fixtures/README-roc-agreement.md.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type RegressionBlandAltman,
  blandAltmanReport,
  classicBlandAltman,
  regressionBlandAltman,
  regressionLimitsAt,
  repeatedMeasuresBlandAltman,
  zouRepeatedMeasuresLimits,
} from './agreement';
import type { Interval, VesselReading } from './roc';
import rOracle from './fixtures/agreement-oracle-r.json';
import pyOracle from './fixtures/agreement-oracle-python.json';

const FULL = 1e-12;

function readVessels(file: string): VesselReading[] {
  const [header, ...rows] = readFileSync(join(__dirname, 'fixtures', file), 'utf8')
    .trim()
    .split('\n');
  const cols = header.split(',');
  return rows.map((row) => {
    const cells = row.split(',');
    return {
      patientId: cells[cols.indexOf('patient')],
      ffr: Number(cells[cols.indexOf('ffr')]),
      ctffr: Number(cells[cols.indexOf('ctffr')]),
    };
  });
}

const vectorA = readVessels('roc-agreement-vector-a.csv');
const large = readVessels('roc-agreement-large-vessels.csv');

function expectNear(actual: number, expected: number, tol: number, label = ''): void {
  const diff = Math.abs(actual - expected);
  if (!(diff <= tol))
    throw new Error(`${label}: expected ${expected} ± ${tol}, got ${actual} (|Δ| = ${diff})`);
}

function expectAllNear(
  actual: readonly number[],
  expected: readonly number[],
  tol: number,
  label = '',
): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((a, i) => expectNear(a, expected[i], tol, `${label}[${i}]`));
}

const printed = (digits: number): number => 0.5 * 10 ** -digits + 1e-15;

function classicOf(readings: readonly VesselReading[]) {
  const r = classicBlandAltman(readings);
  if (!r.estimable) throw new Error(r.detail);
  return r;
}
function repeatedOf(readings: readonly VesselReading[]) {
  const r = repeatedMeasuresBlandAltman(readings);
  if (!r.estimable) throw new Error(r.detail);
  return r;
}
function regressionOf(readings: readonly VesselReading[]): RegressionBlandAltman {
  const r = regressionBlandAltman(readings);
  if (!r.estimable) throw new Error(r.detail);
  return r;
}
function slopeTestOf(fit: RegressionBlandAltman['biasLine']) {
  if (!fit.slopeTest.estimable) throw new Error(fit.slopeTest.detail);
  return fit.slopeTest;
}
function zouOf(readings: readonly VesselReading[], options = {}) {
  const r = zouRepeatedMeasuresLimits(readings, options);
  if (!r.estimable) throw new Error(r.detail);
  return r;
}
function components(r: ReturnType<typeof repeatedOf>) {
  if (!r.components.estimable) throw new Error(r.components.detail);
  return r.components;
}

describe('difference convention', () => {
  it('d = CT-FFR − invasive FFR: P02 (FFR 0.71, CT-FFR 0.79) contributes +0.08', () => {
    const r = classicOf([
      { patientId: 'P02', ffr: 0.71, ctffr: 0.79 },
      { patientId: 'P02', ffr: 0.71, ctffr: 0.79 },
    ]);
    expectNear(r.bias, 0.08, 1e-15, 'bias');
    expect(r.differenceConvention).toBe('CT-FFR − invasive FFR');
    expect(r.sd).toBe(0);
    expect(r.limitsOfAgreement).toEqual([r.bias, r.bias]);
  });
});

describe('classic Bland–Altman — test vector A', () => {
  const r = classicOf(vectorA);
  const R = rOracle.vectorA.classic;

  it('reproduces oracle.R: bias −0.00350, SD 0.04133, LoA [−0.08451, 0.07751] (statistics.md §14.1)', () => {
    expect(r.pairs).toBe(20);
    expectNear(r.bias, -0.0035, printed(5), 'bias');
    expectNear(r.sd, 0.04133, printed(5), 'sd');
    expectAllNear(r.limitsOfAgreement, [-0.08451, 0.07751], printed(5), 'LoA');
    // oracle.R multiplies by the literal 1.96; z = 1.959964 moves the limits by 0.000036·SD ≈ 1.5e-6
    expectAllNear(r.limitsOfAgreement, R.loaWith196, 2e-6, 'LoA vs 1.96');
  });

  it('reproduces the additional values: SE(d̄) 0.00924, CI(d̄), SE(limit) 0.01607, limit CIs, 1986 SE 0.01601', () => {
    expectNear(r.biasStandardError, 0.00924, printed(5), 'SE bias');
    expectAllNear(r.biasCi, [-0.02284, 0.01584], printed(5), 'CI bias');
    expectNear(r.limitStandardError, 0.01607, printed(5), 'SE limit');
    expectAllNear(r.lowerLimitCi, [-0.11813, -0.05088], printed(5), 'CI lower');
    expectAllNear(r.upperLimitCi, [0.04388, 0.11113], printed(5), 'CI upper');
    expectNear(r.limitStandardError1986, 0.01601, printed(5), '1986');
    expectNear(r.z, 1.959964, printed(6), 'z');
  });

  it('equals base R and numpy to full precision', () => {
    expectNear(r.bias, R.bias, FULL, 'bias');
    expectNear(r.sd, R.sd, FULL, 'sd');
    expectAllNear(r.limitsOfAgreement, R.loa, FULL, 'LoA');
    expectNear(r.biasStandardError, R.seBias, FULL, 'SE bias');
    expectAllNear(r.biasCi, R.ciBias, FULL, 'CI bias');
    expectNear(r.limitStandardError, R.seLimit, FULL, 'SE limit');
    expectAllNear(r.lowerLimitCi, R.ciLower, FULL, 'CI lower');
    expectAllNear(r.upperLimitCi, R.ciUpper, FULL, 'CI upper');
    expectNear(r.limitStandardError1986, R.seLimit1986, FULL, '1986');
    const P = pyOracle.vectorA.classic;
    expectAllNear(
      [r.bias, r.sd, ...r.limitsOfAgreement, ...r.biasCi, ...r.lowerLimitCi, ...r.upperLimitCi],
      [P.bias, P.sd, ...P.loa, ...P.ciBias, ...P.ciLower, ...P.ciUpper],
      FULL,
      'numpy',
    );
  });
});

describe('Bland & Altman 2007 repeated measures — test vector A', () => {
  const r = repeatedOf(vectorA);
  const c = components(r);
  const R = rOracle.vectorA.repeated2007;

  it('reproduces oracle.R: MSb, MSw, divisor, s²_between, SD_total, LoA (statistics.md §14.1)', () => {
    expect(r).toMatchObject({ patients: 12, pairs: 20 });
    expectNear(r.msBetween, 0.0022656, printed(7), 'MSb');
    expectNear(c.msWithin, 0.0009417, printed(7), 'MSw');
    expectNear(c.divisor, 1.63636, printed(5), 'divisor');
    expectNear(c.varianceBetween, 0.0008091, printed(7), 's2b');
    expectNear(c.varianceWithin, 0.0009417, printed(7), 's2w');
    expectNear(r.sdTotal, 0.04184, printed(5), 'SD total');
    expectNear(r.bias, -0.0035, printed(5), 'bias');
    expectAllNear(r.limitsOfAgreement, [-0.08551, 0.07851], printed(5), 'LoA');
    expect(c.betweenTruncatedAtZero).toBe(false);
  });

  it('equals R anova(lm()) and statsmodels anova_lm / cluster-robust OLS to full precision', () => {
    expectNear(r.msBetween, R.msBetween, FULL, 'MSb');
    expectNear(c.msWithin, R.msWithin, FULL, 'MSw');
    expectNear(c.divisor, R.divisor, FULL, 'divisor');
    expectNear(r.varianceTotal, R.varianceTotal, FULL, 'var total');
    expectAllNear(r.limitsOfAgreement, R.loa, FULL, 'LoA');
    expectAllNear(r.limitsOfAgreement, R.loaWith196, 3e-6, 'LoA (oracle.R, 1.96)');
    expectNear(r.biasStandardErrorClusterRobust, R.seBiasClusterRobust, FULL, 'cluster SE');
    expectAllNear(r.biasCiClusterRobust, R.ciBiasClusterRobust, FULL, 'cluster CI');
    const P = pyOracle.vectorA.repeated2007;
    expectNear(r.msBetween, P.msBetween, FULL, 'MSb statsmodels');
    expectNear(c.msWithin, P.msWithin, FULL, 'MSw statsmodels');
    expectNear(r.biasStandardErrorClusterRobust, P.seBiasClusterRobust, FULL, 'cluster SE statsmodels');
    expectAllNear(r.biasCiClusterRobust, P.ciBiasClusterRobust, FULL, 'cluster CI statsmodels');
  });

  it('the REML random-intercept model is a different estimator (documented, not asserted equal)', () => {
    // statistics.md §14.1: REML bias −0.00137 (patient-weighted) vs −0.00350 (mean of all pairs) reported here.
    expectNear(pyOracle.vectorA.repeated2007.remlCrossCheck.bias, -0.00137, printed(5), 'REML bias');
    expect(Math.abs(r.bias - pyOracle.vectorA.repeated2007.remlCrossCheck.bias)).toBeGreaterThan(1e-3);
  });
});

describe('Bland & Altman 2007 — edge cases', () => {
  const B = rOracle.oneVesselPerPatient;
  const vectorB: VesselReading[] = [0.62, 0.71, 0.78, 0.8, 0.83, 0.86, 0.88, 0.91, 0.94, 0.97].map(
    (ffr, i) => ({
      patientId: `B${i}`,
      ffr,
      ctffr: [0.66, 0.79, 0.74, 0.84, 0.78, 0.88, 0.81, 0.93, 0.9, 0.95][i],
    }),
  );

  it('one vessel per patient: reduces to the classic limits; components not separable', () => {
    const r = repeatedOf(vectorB);
    const classic = classicOf(vectorB);
    expect(r.components).toMatchObject({ estimable: false, reason: 'no-patient-with-several-vessels' });
    expectNear(r.msBetween, B.repeated2007MsBetween, FULL, 'MSb = R');
    expectNear(r.sdTotal, classic.sd, 1e-15, 'SD');
    expectAllNear(r.limitsOfAgreement, classic.limitsOfAgreement, 1e-15, 'LoA');
    expectAllNear(r.limitsOfAgreement, B.classic.loa, FULL, 'LoA R');
    expectNear(r.biasStandardErrorClusterRobust, classic.biasStandardError, 1e-15, 'SE');
    expectAllNear(r.biasCiClusterRobust, classic.biasCi, 1e-15, 'CI');
  });

  it('MSb < MSw: between-patient variance truncated at 0 (R fixture betweenTruncated)', () => {
    const T = rOracle.betweenTruncated;
    const readings = T.patient.map((patientId, i) => ({ patientId, ffr: T.ffr[i], ctffr: T.ctffr[i] }));
    const r = repeatedOf(readings);
    const c = components(r);
    expect(c.betweenTruncatedAtZero).toBe(true);
    expect(c.varianceBetween).toBe(0);
    expectNear(r.varianceTotal, T.repeated2007.varianceTotal, FULL, 'var total');
    expectAllNear(r.limitsOfAgreement, T.repeated2007.loa, FULL, 'LoA');
    expectAllNear(r.biasCiClusterRobust, T.repeated2007.ciBiasClusterRobust, FULL, 'CI');
  });

  it('one patient (one cluster) or no data: not estimable', () => {
    expect(repeatedMeasuresBlandAltman(vectorA.map((v) => ({ ...v, patientId: 'P00' })))).toMatchObject({
      estimable: false,
      reason: 'fewer-than-two-patients',
    });
    expect(repeatedMeasuresBlandAltman([])).toMatchObject({
      estimable: false,
      reason: 'fewer-than-two-patients',
    });
  });
});

interface ZouOracle {
  bias: number;
  variancePatientMeans: number;
  varianceWithin: number | null;
  harmonicMeanVessels: number;
  varianceTotal: number;
  sdTotal: number;
  varianceTotalCi: number[];
  biasCi: number[];
  loa: number[];
  ciLower: number[];
  ciUpper: number[];
}

/** Every Zou (2013) field against one oracle; returns the largest absolute difference. */
function expectZou(r: ReturnType<typeof zouOf>, o: ZouOracle, tol: number, label: string): number {
  const pairs: [number, number, string][] = [
    [r.bias, o.bias, 'bias'],
    [r.variancePatientMeans, o.variancePatientMeans, 's2 patient means'],
    [r.harmonicMeanVessels, o.harmonicMeanVessels, 'm_h'],
    [r.varianceTotal, o.varianceTotal, 'var total'],
    [r.sdTotal, o.sdTotal, 'sd total'],
    ...[
      [r.varianceTotalCi, o.varianceTotalCi, 'var CI'] as const,
      [r.biasCi, o.biasCi, 'bias CI'] as const,
      [r.limitsOfAgreement, o.loa, 'LoA'] as const,
      [r.lowerLimitCi, o.ciLower, 'CI lower'] as const,
      [r.upperLimitCi, o.ciUpper, 'CI upper'] as const,
    ].flatMap(([a, e, name]) => {
      expect(e).toHaveLength(2);
      return [
        [a[0], e[0], `${name}[0]`],
        [a[1], e[1], `${name}[1]`],
      ] as [number, number, string][];
    }),
  ];
  if (o.varianceWithin === null) expect(r.varianceWithin).toBeNull();
  else pairs.push([r.varianceWithin as number, o.varianceWithin, 'MSw']);
  let worst = 0;
  for (const [actual, expected, name] of pairs) {
    expectNear(actual, expected, tol, `${label} ${name}`);
    worst = Math.max(worst, Math.abs(actual - expected));
  }
  return worst;
}

describe('Zou (2013) MOVER CIs of the repeated-measures limits', () => {
  it('vector A (12 patients, 20 vessels): equals the base R and pandas/scipy oracles to 1e-12', () => {
    const r = zouOf(vectorA);
    expect(r).toMatchObject({ patients: 12, pairs: 20, method: 'zou-2013-mover' });
    expectZou(r, rOracle.vectorA.zou2013, FULL, 'R');
    expectZou(r, pyOracle.vectorA.zou2013, FULL, 'Python');
    // printed digits (agreement-oracle.R console line)
    expectNear(r.harmonicMeanVessels, 1.384615, printed(6), 'm_h');
    expectAllNear(r.lowerLimitCi, [-0.144356, -0.054248], printed(6), 'CI lower');
    expectAllNear(r.upperLimitCi, [0.054248, 0.144356], printed(6), 'CI upper');
    // each CI contains its limit, and is wider outwards (the variance CI is right-skewed)
    const [lo, hi] = r.limitsOfAgreement;
    expect(r.lowerLimitCi[0] < lo && lo < r.lowerLimitCi[1]).toBe(true);
    expect(r.upperLimitCi[0] < hi && hi < r.upperLimitCi[1]).toBe(true);
    expect(hi - r.upperLimitCi[0]).toBeLessThan(r.upperLimitCi[1] - hi);
  });

  it('vector A: Zou estimates the same limits as Bland & Altman 2007 with equally weighted patients', () => {
    const zou = zouOf(vectorA);
    const ba = repeatedOf(vectorA);
    // mean of the 12 patient means is 0 (to round-off) vs −0.0035 for the mean of the 20 pairs
    expectNear(zou.bias, 0, 1e-15, 'bias');
    expectNear(ba.bias, -0.0035, 1e-15, 'BA bias');
    expectAllNear(zou.limitsOfAgreement, [-0.085568, 0.085568], printed(6), 'Zou LoA');
    expect(
      zou.lowerLimitCi[0] < ba.limitsOfAgreement[0] && ba.limitsOfAgreement[0] < zou.lowerLimitCi[1],
    ).toBe(true);
    expect(
      zou.upperLimitCi[0] < ba.limitsOfAgreement[1] && ba.limitsOfAgreement[1] < zou.upperLimitCi[1],
    ).toBe(true);
  });

  it('500 vessels / 350 patients: equals both oracles to 1e-12', () => {
    const r = zouOf(large);
    expect(r).toMatchObject({ patients: 350, pairs: 500 });
    expectZou(r, rOracle.large.zou2013, FULL, 'R');
    expectZou(r, pyOracle.large.zou2013, FULL, 'Python');
  });

  it('one vessel per patient: the classic bias, SD and limits; CIs are the MOVER CIs of the classic limits', () => {
    const B = rOracle.oneVesselPerPatient;
    const readings: VesselReading[] = [0.62, 0.71, 0.78, 0.8, 0.83, 0.86, 0.88, 0.91, 0.94, 0.97].map(
      (ffr, i) => ({
        patientId: `B${i}`,
        ffr,
        ctffr: [0.66, 0.79, 0.74, 0.84, 0.78, 0.88, 0.81, 0.93, 0.9, 0.95][i],
      }),
    );
    const r = zouOf(readings);
    const classic = classicOf(readings);
    expect(r.varianceWithin).toBeNull();
    expect(r.harmonicMeanVessels).toBe(1);
    expectNear(r.bias, classic.bias, 1e-15, 'bias');
    expectNear(r.sdTotal, classic.sd, 1e-15, 'SD');
    expectAllNear(r.limitsOfAgreement, classic.limitsOfAgreement, 1e-15, 'LoA');
    expectNear(r.biasStandardError, classic.biasStandardError, 1e-15, 'SE');
    expectZou(r, B.zou2013, FULL, 'R');
    expectZou(r, pyOracle.oneVesselPerPatient.zou2013, FULL, 'Python');
    // variance CI = the exact χ² interval s²(n − 1)/χ²_{0.975, 9}, s²(n − 1)/χ²_{0.025, 9} (qchisq in R: 19.0228, 2.7004)
    expectNear(r.varianceTotalCi[0], (classic.sd ** 2 * 9) / 19.022767798641635, 1e-15, 'var CI lower');
    expectNear(r.varianceTotalCi[1], (classic.sd ** 2 * 9) / 2.7003894999803579, 1e-15, 'var CI upper');
    // compared with the Bland & Altman 1999 t-intervals: narrower towards the bias, wider outwards
    expectAllNear(r.upperLimitCi, [0.0511, 0.1779], printed(4), 'MOVER upper');
    expectAllNear(classic.upperLimitCi, [0.0318, 0.1552], printed(4), 'BA 1999 upper');
    expect(r.upperLimitCi[0]).toBeGreaterThan(classic.upperLimitCi[0]);
    expect(r.upperLimitCi[1]).toBeGreaterThan(classic.upperLimitCi[1]);
    expect(r.lowerLimitCi[0]).toBeLessThan(classic.lowerLimitCi[0]);
    expect(r.lowerLimitCi[1]).toBeLessThan(classic.lowerLimitCi[1]);
  });

  it('two vessels in every patient: Zou bias and limits equal Bland & Altman 2007; SE = cluster-robust SE', () => {
    const S = rOracle.balancedSubsetA;
    const readings = vectorA.filter((v) => S.patients.includes(v.patientId));
    expect(readings).toHaveLength(8);
    const r = zouOf(readings);
    const ba = repeatedOf(readings);
    expect(r.harmonicMeanVessels).toBe(2);
    expectNear(r.bias, ba.bias, 1e-15, 'bias');
    expectNear(r.varianceTotal, ba.varianceTotal, 1e-15, 'variance');
    expectAllNear(r.limitsOfAgreement, ba.limitsOfAgreement, 1e-15, 'LoA');
    expectNear(r.biasStandardError, ba.biasStandardErrorClusterRobust, 1e-15, 'SE');
    expectAllNear(ba.limitsOfAgreement, S.repeated2007.loa, FULL, 'BA 2007 LoA R');
    expectZou(r, S.zou2013, FULL, 'R');
  });

  it('MSb < MSw: no truncation — s²(patient means) + (1 − 1/m_h)·MSw < MSw (Bland & Altman 2007 total)', () => {
    const T = rOracle.betweenTruncated;
    const readings = T.patient.map((patientId, i) => ({ patientId, ffr: T.ffr[i], ctffr: T.ctffr[i] }));
    const r = zouOf(readings);
    expectZou(r, T.zou2013, FULL, 'R');
    expect(r.varianceTotal).toBeLessThan(repeatedOf(readings).varianceTotal);
    expect(r.varianceTotalCi[0]).toBeGreaterThan(0);
  });

  it('all differences identical: SD 0 and every interval has zero width at the bias', () => {
    const same = ['p1', 'p1', 'p2', 'p3', 'p3', 'p3'].map((patientId) => ({
      patientId,
      ffr: 0.8,
      ctffr: 0.84,
    }));
    const r = zouOf(same);
    const d = 0.84 - 0.8;
    expect(r.sdTotal).toBe(0);
    expect(r.varianceWithin).toBe(0);
    for (const interval of [r.biasCi, r.limitsOfAgreement, r.lowerLimitCi, r.upperLimitCi])
      expect(interval).toEqual([d, d]);
    expect(r.varianceTotalCi).toEqual([0, 0]);
  });

  it('one patient (one cluster) or no data: not estimable', () => {
    expect(zouRepeatedMeasuresLimits(vectorA.map((v) => ({ ...v, patientId: 'P00' })))).toMatchObject({
      estimable: false,
      reason: 'fewer-than-two-patients',
    });
    expect(zouRepeatedMeasuresLimits([])).toMatchObject({
      estimable: false,
      reason: 'fewer-than-two-patients',
    });
    expect(zouRepeatedMeasuresLimits(vectorA.slice(0, 2))).toMatchObject({ estimable: false });
  });

  it('two patients (1 df): estimable, very wide', () => {
    const r = zouOf(vectorA.slice(0, 3)); // P01 (2 vessels), P02 (1 vessel)
    expect(r).toMatchObject({ patients: 2, pairs: 3 });
    expect(r.upperLimitCi[1] - r.upperLimitCi[0]).toBeGreaterThan(10 * r.sdTotal);
  });

  it('confidence level and coverage are separate options', () => {
    const r95 = zouOf(vectorA);
    const r90 = zouOf(vectorA, { confidenceLevel: 0.9 });
    expectAllNear(r90.limitsOfAgreement, r95.limitsOfAgreement, 0, 'limits do not depend on the CI level');
    expect(r90.upperLimitCi[1]).toBeLessThan(r95.upperLimitCi[1]);
    expect(r90.upperLimitCi[0]).toBeGreaterThan(r95.upperLimitCi[0]);
    const c90 = zouOf(vectorA, { coverage: 0.9 });
    expectNear(c90.limitsOfAgreement[1], c90.bias + 1.6448536269514722 * c90.sdTotal, 1e-15, '90% limit');
    expect(() => zouRepeatedMeasuresLimits(vectorA, { confidenceLevel: 1 })).toThrow(RangeError);
  });
});

describe('classic — edge cases', () => {
  it('n = 0 and n = 1: not estimable', () => {
    expect(classicBlandAltman([])).toMatchObject({ estimable: false, reason: 'fewer-than-two-pairs' });
    expect(classicBlandAltman(vectorA.slice(0, 1))).toMatchObject({
      estimable: false,
      reason: 'fewer-than-two-pairs',
    });
  });

  it('rejects non-finite values and invalid levels', () => {
    expect(() => classicBlandAltman([{ patientId: 'x', ffr: Number.NaN, ctffr: 0.8 }])).toThrow(RangeError);
    expect(() => classicBlandAltman(vectorA, { confidenceLevel: 1.5 })).toThrow(RangeError);
    expect(() => classicBlandAltman(vectorA, { coverage: 0 })).toThrow(RangeError);
  });

  it('coverage and confidence level are separate options', () => {
    const r = classicBlandAltman(vectorA, { coverage: 0.9, confidenceLevel: 0.99 });
    if (!r.estimable) throw new Error('estimable');
    expectNear(r.z, 1.6448536269514722, 1e-14, 'z 90%');
    expect(r.confidenceLevel).toBe(0.99);
  });
});

describe('regression-based limits (Bland & Altman 1999) — test vector A', () => {
  const r = regressionOf(vectorA);
  const R = rOracle.vectorA.regression1999;

  it('reproduces statistics.md §14.1: b0, b1, c0, c1 and the limits at A = 0.70, 0.80, 0.90', () => {
    expectNear(r.biasLine.intercept, 0.09044066, printed(8), 'b0');
    expectNear(r.biasLine.slope, -0.11601193, printed(8), 'b1');
    expectNear(r.absoluteResidualLine.intercept, 0.05218385, printed(8), 'c0');
    expectNear(r.absoluteResidualLine.slope, -0.02200057, printed(8), 'c1');
    const expected = [
      { at: 0.7, bias: 0.00923, loa: [-0.08112, 0.09959] },
      { at: 0.8, bias: -0.00237, loa: [-0.08732, 0.08258] },
      { at: 0.9, bias: -0.01397, loa: [-0.09352, 0.06558] },
    ];
    for (const e of expected) {
      const at = regressionLimitsAt(r, e.at);
      if (!at.estimable) throw new Error(at.detail);
      expectNear(at.bias, e.bias, printed(5), `bias(${e.at})`);
      expectAllNear(at.limitsOfAgreement, e.loa, printed(5), `LoA(${e.at})`);
      expect(at.extrapolated).toBe(false);
    }
  });

  it('equals R lm()/summary()/confint() and statsmodels OLS: coefficients, slope SE, t, p, CI', () => {
    const bt = slopeTestOf(r.biasLine);
    const at = slopeTestOf(r.absoluteResidualLine);
    expectNear(r.biasLine.intercept, R.bias.intercept, FULL, 'b0');
    expectNear(r.biasLine.slope, R.bias.slope, FULL, 'b1');
    expectNear(r.biasLine.slopeStandardError, R.bias.slopeSe, FULL, 'SE b1');
    expectNear(r.biasLine.interceptStandardError, R.bias.interceptSe, FULL, 'SE b0');
    expectNear(bt.t, R.bias.slopeT, 1e-10, 't b1');
    expectNear(bt.pValue, R.bias.slopeP, 1e-10, 'p b1');
    expectAllNear(bt.ci, R.bias.slopeCi, FULL, 'CI b1');
    expect(bt.significant).toBe(false); // p = 0.244: no proportional bias in vector A
    expectNear(r.absoluteResidualLine.slope, R.absResidual.slope, FULL, 'c1');
    expectNear(at.pValue, R.absResidual.slopeP, 1e-10, 'p c1');
    expectAllNear(at.ci, R.absResidual.slopeCi, FULL, 'CI c1');
    expectNear(r.multiplier, R.multiplier, FULL, 'z√(π/2)');
    R.at.forEach((a, i) => {
      const lim = regressionLimitsAt(r, a);
      if (!lim.estimable) throw new Error(lim.detail);
      expectNear(lim.bias, R.biasAt[i], FULL, 'bias(A)');
      expectAllNear(lim.limitsOfAgreement, [R.lowerAt[i], R.upperAt[i]], FULL, 'LoA(A)');
    });
    const P = pyOracle.vectorA.regression1999;
    expectNear(bt.pValue, P.bias.slopeP, 1e-10, 'p statsmodels');
    expectAllNear(bt.ci, P.bias.slopeCi, FULL, 'CI statsmodels');
    expectNear(at.pValue, P.absResidual.slopeP, 1e-10, 'p c1 statsmodels');
  });

  it('marks extrapolation and refuses a non-positive fitted spread', () => {
    const far = regressionLimitsAt(r, 1.5);
    expect(far.estimable && far.extrapolated).toBe(true);
    expect(regressionLimitsAt(r, 3)).toMatchObject({ estimable: false, reason: 'non-positive-spread' });
  });
});

describe('regression — edge cases', () => {
  it('fewer than 3 pairs, or all means equal: not estimable', () => {
    expect(regressionBlandAltman(vectorA.slice(0, 2))).toMatchObject({ reason: 'fewer-than-three-pairs' });
    const same = [0.7, 0.75, 0.8].map((ffr) => ({ patientId: 'p', ffr, ctffr: 1.5 - ffr }));
    expect(regressionBlandAltman(same)).toMatchObject({ reason: 'no-spread-in-means' });
  });

  it('differences exactly linear in the mean: slope tests and limits not estimable (zero residual variance)', () => {
    // dyadic values so that the arithmetic is exact: ctffr = 5/3·ffr gives d = 0.5·A with A = (ctffr + ffr)/2
    const exact = [
      { ffr: 0.375, ctffr: 0.625 },
      { ffr: 0.46875, ctffr: 0.78125 },
      { ffr: 0.5625, ctffr: 0.9375 },
    ].map((v) => ({ patientId: 'p', ...v }));
    const r = regressionOf(exact);
    expect(r.biasLine.slope).toBe(0.5);
    expect(r.biasLine.slopeTest).toMatchObject({ estimable: false, reason: 'zero-residual-variance' });
    expect(r.absoluteResidualLine.slopeTest).toMatchObject({
      estimable: false,
      reason: 'zero-residual-variance',
    });
    expect(regressionLimitsAt(r, 0.6)).toMatchObject({ estimable: false, reason: 'non-positive-spread' });
    expect(blandAltmanReport(exact)).toMatchObject({ proportionalBias: null });
  });
});

describe('500 vessels / 350 patients (roc-agreement-dataset.R, seed 20251127)', () => {
  const R = rOracle.large;
  const P = pyOracle.large;

  it('classic limits and CIs equal base R and numpy', () => {
    const r = classicOf(large);
    expectNear(r.bias, R.classic.bias, FULL, 'bias');
    expectNear(r.sd, R.classic.sd, FULL, 'sd');
    expectAllNear(r.lowerLimitCi, R.classic.ciLower, FULL, 'CI lower');
    expectAllNear(r.upperLimitCi, P.classic.ciUpper, FULL, 'CI upper numpy');
  });

  it('2007 limits equal R anova(lm()); clustered bias CI equals statsmodels cluster-robust OLS', () => {
    const r = repeatedOf(large);
    const c = components(r);
    expect(r).toMatchObject({ patients: 350, pairs: 500 });
    expectNear(r.msBetween, R.repeated2007.msBetween, FULL, 'MSb');
    expectNear(c.msWithin, R.repeated2007.msWithin, FULL, 'MSw');
    expectNear(c.varianceBetween, P.repeated2007.varianceBetween, FULL, 's2b');
    expectAllNear(r.limitsOfAgreement, R.repeated2007.loa, FULL, 'LoA');
    expectNear(r.biasStandardErrorClusterRobust, P.repeated2007.seBiasClusterRobust, FULL, 'SE');
    expectAllNear(r.biasCiClusterRobust, P.repeated2007.ciBiasClusterRobust, FULL, 'CI');
  });

  it('proportional bias (p ≈ 0.00016) and level-dependent spread are detected; equal R and statsmodels', () => {
    const r = regressionOf(large);
    const bt = slopeTestOf(r.biasLine);
    const at = slopeTestOf(r.absoluteResidualLine);
    expectNear(r.biasLine.slope, R.regression1999.bias.slope, FULL, 'b1');
    expectNear(bt.pValue, R.regression1999.bias.slopeP, 1e-10, 'p b1');
    expectNear(bt.pValue, P.regression1999.bias.slopeP, 1e-10, 'p b1 statsmodels');
    expectAllNear(bt.ci, R.regression1999.bias.slopeCi, FULL, 'CI b1');
    expect(bt.significant).toBe(true);
    expectNear(at.pValue, R.regression1999.absResidual.slopeP, 1e-10, 'p c1');
    expect(at.significant).toBe(true);
    R.regression1999.at.forEach((a, i) => {
      const lim = regressionLimitsAt(r, a);
      if (!lim.estimable) throw new Error(lim.detail);
      expectAllNear(
        lim.limitsOfAgreement,
        [R.regression1999.lowerAt[i], R.regression1999.upperAt[i]],
        FULL,
        'LoA',
      );
    });
  });
});

describe('blandAltmanReport — the blandAltman block of GET /performance (DESIGN.md §5)', () => {
  it('vector A', () => {
    const report = blandAltmanReport(vectorA);
    if (!report.estimable) throw new Error('estimable');
    expect(report).toMatchObject({ pairs: 20, patients: 12, differenceConvention: 'CT-FFR − invasive FFR' });
    expectNear(report.bias, -0.0035, printed(5), 'bias');
    expectNear(report.sd, 0.04133, printed(5), 'sd');
    expectAllNear(report.loa, [-0.08451, 0.07751], printed(5), 'loa');
    expectAllNear(report.loaRepeated as Interval, [-0.08551, 0.07851], printed(5), 'loaRepeated');
    expectAllNear(report.loaCi95.lower, [-0.11813, -0.05088], printed(5), 'loa CI');
    const Z = rOracle.vectorA.zou2013;
    expect(report.loaRepeatedCi95).not.toBeNull();
    expectAllNear(report.loaRepeatedCi95?.limits ?? [], Z.loa, FULL, 'loaRepeatedCi95.limits');
    expectAllNear(report.loaRepeatedCi95?.lower ?? [], Z.ciLower, FULL, 'loaRepeatedCi95.lower');
    expectAllNear(report.loaRepeatedCi95?.upper ?? [], Z.ciUpper, FULL, 'loaRepeatedCi95.upper');
    expect(report.method).toContain('loaRepeatedCi95: Zou 2013');
    expect(report.proportionalBias).toMatchObject({ significant: false });
    expect(report.notEstimable).toEqual({});
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it('one pair: not estimable with counts; two pairs in one patient: no repeated limits, no slope', () => {
    expect(blandAltmanReport(vectorA.slice(0, 1))).toMatchObject({ estimable: false, pairs: 1, patients: 1 });
    const report = blandAltmanReport(vectorA.slice(0, 2));
    if (!report.estimable) throw new Error('estimable');
    expect(report.loaRepeated).toBeNull();
    expect(report.loaRepeatedCi95).toBeNull();
    expect(report.proportionalBias).toBeNull();
    expect(Object.keys(report.notEstimable).sort()).toEqual(['loaRepeated', 'proportionalBias']);
  });
});
