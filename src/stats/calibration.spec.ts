/**
 * calibration.ts — expected values:
 *  - fixtures/calibration-oracle-r.json: `Rscript src/stats/fixtures/oracle/calibration-oracle.R src/stats/fixtures`
 *    (lm(ffr ~ ctffr): coef/SE/confint, sigma, r.squared, t-test p-values; CR1 cluster sandwich written out),
 *    17 significant digits — compared at 1e-12.
 *  - fixtures/calibration-oracle-python.json: `/usr/bin/python3 src/stats/fixtures/oracle/calibration-oracle.py
 *    src/stats/fixtures` (statsmodels OLS, cov_type="cluster", use_t=True). Estimates and SEs at 1e-12; intervals at
 *    1e-8 because statsmodels takes its t quantiles from scipy's t.ppf, accurate only to ~2e-9 relative (see
 *    distributions-oracle.py; R's qt and ours agree to 1e-14 on the same quantiles).
 *  statistics.md has no calibration test vector; vector A values are printed here for the report only.
 * Commands, tool versions and oracle limits: fixtures/README-proportions.md.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CalibrationFit, type CalibrationResult, calibration } from './calibration';
import type { LinkedVessel } from './proportions';
import rOracle from './fixtures/calibration-oracle-r.json';
import pyOracle from './fixtures/calibration-oracle-python.json';

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

function fitted(result: CalibrationResult): CalibrationFit {
  if (!result.estimable) throw new Error(`not estimable: ${result.detail}`);
  return result;
}

function expectClose(actual: number, expected: number, tolerance: number, label: string): void {
  if (!(Math.abs(actual - expected) <= tolerance)) {
    throw new Error(`${label}: |${actual} − ${expected}| = ${Math.abs(actual - expected)} > ${tolerance}`);
  }
}

function clusterOf(c: CalibrationFit['slope']): { standardError: number; ci95: readonly [number, number] } {
  if ('estimable' in c.clusterRobust) throw new Error(c.clusterRobust.detail);
  return c.clusterRobust;
}

const vectorA = readVessels('proportions-vector-a.csv');
const synthetic = readVessels('proportions-vessels.csv');
const ffrB = [0.62, 0.71, 0.78, 0.8, 0.83, 0.86, 0.88, 0.91, 0.94, 0.97];
const ctB = [0.66, 0.79, 0.74, 0.84, 0.78, 0.88, 0.81, 0.93, 0.9, 0.95];
const vectorB: LinkedVessel[] = ffrB.map((f, i) => ({
  patientId: `B${i + 1}`,
  invasiveFfr: f,
  ctFfr: ctB[i],
}));

interface ExpectedCoefficient {
  estimate: number;
  standardError: number;
  ci95: number[];
  clusterStandardError: number;
  clusterCi95: number[];
}
interface Expected {
  n: number;
  patients: number;
  intercept: ExpectedCoefficient;
  slope: ExpectedCoefficient;
  residualSd: number;
  rSquared: number;
}

function compare(
  actual: CalibrationFit,
  expected: Expected,
  estimateTolerance: number,
  ciTolerance: number,
): void {
  expect([actual.n, actual.patients]).toEqual([expected.n, expected.patients]);
  for (const name of ['intercept', 'slope'] as const) {
    const a = actual[name];
    const e = expected[name];
    expectClose(a.estimate, e.estimate, estimateTolerance, `${name}`);
    expectClose(a.standardError, e.standardError, estimateTolerance, `${name} SE`);
    expectClose(a.ci95[0], e.ci95[0], ciTolerance, `${name} CI lower`);
    expectClose(a.ci95[1], e.ci95[1], ciTolerance, `${name} CI upper`);
    const c = clusterOf(a);
    expectClose(c.standardError, e.clusterStandardError, estimateTolerance, `${name} cluster SE`);
    expectClose(c.ci95[0], e.clusterCi95[0], ciTolerance, `${name} cluster CI lower`);
    expectClose(c.ci95[1], e.clusterCi95[1], ciTolerance, `${name} cluster CI upper`);
  }
  expectClose(actual.residualSd, expected.residualSd, estimateTolerance, 'residual SD');
  expectClose(actual.rSquared ?? Number.NaN, expected.rSquared, estimateTolerance, 'R²');
}

describe('calibration (OLS invasive FFR on CT-FFR)', () => {
  const sets = [
    ['vector A (20 vessels / 12 patients)', vectorA, rOracle.vectorA, pyOracle.vectorA],
    ['synthetic (436 vessels / 300 patients)', synthetic, rOracle.synthetic, pyOracle.synthetic],
    ['vector B (10 singletons)', vectorB, rOracle.vectorB, pyOracle.vectorB],
  ] as const;

  it.each(sets)('%s matches R lm/confint and the CR1 sandwich within 1e-12', (_label, vessels, r) => {
    const fit = fitted(calibration(vessels));
    compare(fit, r, 1e-12, 1e-12);
    expectClose(fit.slopeOnePValue, r.slope.pValueOne, 1e-12, 'p(slope = 1)');
    expectClose(fit.interceptZeroPValue, r.intercept.pValueZero, 1e-12, 'p(intercept = 0)');
  });

  it.each(sets)(
    '%s matches statsmodels OLS and cov_type="cluster" (SEs 1e-12, intervals 1e-8)',
    (_label, vessels, _r, py) => {
      compare(fitted(calibration(vessels)), py, 1e-12, 1e-8);
    },
  );

  it('vector A: slope 1.02776 [0.8100, 1.2456], clustered [0.8473, 1.2082]; intercept −0.01893 [−0.1960, 0.1582]', () => {
    const fit = fitted(calibration(vectorA));
    const p = (i: readonly number[]): string => `[${i[0].toFixed(4)}, ${i[1].toFixed(4)}]`;
    expect(fit.slope.estimate.toFixed(5)).toBe('1.02776');
    expect(p(fit.slope.ci95)).toBe('[0.8100, 1.2456]');
    expect(p(clusterOf(fit.slope).ci95)).toBe('[0.8473, 1.2082]');
    expect(fit.intercept.estimate.toFixed(5)).toBe('-0.01893');
    expect(p(fit.intercept.ci95)).toBe('[-0.1960, 0.1582]');
    expect(fit.model).toContain('intercept 0, slope 1');
  });

  it('3 vessels in 2 patients (smallest estimable case: t with 1 df both ways) matches R', () => {
    const t = rOracle.threeVesselsTwoPatients;
    const vessels = t.patient.map((patientId, i) => ({
      patientId,
      invasiveFfr: t.ffr[i],
      ctFfr: t.ctffr[i],
    }));
    compare(fitted(calibration(vessels)), t, 1e-12, 1e-10);
  });

  it('one vessel per patient: the patient-clustered SE reduces to the plain heteroscedasticity-robust HC1 SE (statsmodels)', () => {
    const fit = fitted(calibration(vectorB));
    expect(fit.patients).toBe(fit.n);
    expectClose(
      clusterOf(fit.intercept).standardError,
      pyOracle.vectorB.hc1StandardErrors[0],
      1e-12,
      'HC1 intercept',
    );
    expectClose(
      clusterOf(fit.slope).standardError,
      pyOracle.vectorB.hc1StandardErrors[1],
      1e-12,
      'HC1 slope',
    );
  });

  it('not estimable: n < 3, constant CT-FFR; one patient gives no cluster interval', () => {
    expect(calibration([])).toEqual(
      expect.objectContaining({ estimable: false, reason: 'too-few-vessels', n: 0 }),
    );
    expect(calibration(vectorA.slice(0, 2))).toEqual(
      expect.objectContaining({ estimable: false, reason: 'too-few-vessels' }),
    );
    const constant = vectorA.slice(0, 5).map((v) => ({ ...v, ctFfr: 0.8 }));
    expect(calibration(constant)).toEqual(
      expect.objectContaining({ estimable: false, reason: 'constant-ct-ffr' }),
    );
    const onePatient = fitted(calibration(vectorA.filter((v) => v.patientId === 'P12')));
    expect(onePatient.slope.clusterRobust).toEqual(
      expect.objectContaining({ estimable: false, reason: 'single-patient' }),
    );
  });

  it('perfect calibration on exact data: slope 1, intercept 0, zero SE, p = 1; constant invasive FFR gives R² = null', () => {
    const exact = [0.6, 0.7, 0.8, 0.9].map((x, i) => ({ patientId: `E${i}`, ctFfr: x, invasiveFfr: x }));
    const fit = fitted(calibration(exact));
    expect(fit.slope.estimate).toBeCloseTo(1, 14);
    expect(fit.intercept.estimate).toBeCloseTo(0, 14);
    expect(fit.residualSd).toBeLessThan(1e-15);
    const flat = fitted(calibration(exact.map((v) => ({ ...v, invasiveFfr: 0.85 }))));
    expect(flat.rSquared).toBeNull();
    expect(JSON.stringify(flat)).not.toContain('NaN');
  });
});
