/**
 * The histogram statistics must equal their vessel-list twins (themselves checked against R and Python oracles)
 * on the committed fixtures. Equal to 1e-12: both are exact, only the order of floating-point sums differs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { classicBlandAltman, regressionBlandAltman, repeatedMeasuresBlandAltman } from './agreement';
import { calibration } from './calibration';
import { pearsonCorrelation, spearmanCorrelation } from './correlation';
import {
  aucFromPairCells,
  blandAltmanFromPairCells,
  calibrationFromPairCells,
  PairCell,
  pearsonFromPairCells,
  proportionalBiasFromPairCells,
  spearmanFromPairCells,
} from './pair-histogram';
import { repeatedMeasuresLimitsFromSums } from './patient-sums';
import { LinkedVessel } from './proportions';
import { classifyByInvasiveFfr, deLongAuc } from './roc';

const FIXTURES: Array<[string, string]> = [
  ['roc-agreement-vector-a.csv', join(__dirname, 'fixtures', 'roc-agreement-vector-a.csv')],
  ['roc-agreement-large-vessels.csv', join(__dirname, 'fixtures', 'roc-agreement-large-vessels.csv')],
  ['proportions-vessels.csv', join(__dirname, 'fixtures', 'proportions-vessels.csv')],
  [
    'reference/oracle/vessels.csv',
    join(__dirname, '..', '..', '..', 'shared', 'reference', 'oracle', 'vessels.csv'),
  ],
];

function loadVessels(path: string): LinkedVessel[] {
  const [header, ...rows] = readFileSync(path, 'utf8').trim().split('\n');
  const columns = header.split(',');
  const at = (name: string) => columns.indexOf(name);
  return rows.map((row) => {
    const cells = row.split(',');
    return {
      patientId: cells[at('patient')],
      invasiveFfr: Number(cells[at('ffr')]),
      ctFfr: Number(cells[at('ctffr')]),
    };
  });
}

function histogram(vessels: readonly LinkedVessel[]): PairCell[] {
  const cells = new Map<string, PairCell>();
  for (const v of vessels) {
    const key = `${v.ctFfr}|${v.invasiveFfr}`;
    const cell = cells.get(key);
    cells.set(key, { ctFfr: v.ctFfr, invasiveFfr: v.invasiveFfr, vessels: (cell?.vessels ?? 0) + 1 });
  }
  return [...cells.values()];
}

const close = (actual: number, expected: number) =>
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-12);
const closeInterval = (actual: readonly number[], expected: readonly number[]) => {
  close(actual[0], expected[0]);
  close(actual[1], expected[1]);
};

const available = FIXTURES.filter(([, path]) => {
  try {
    readFileSync(path);
    return true;
  } catch {
    return false;
  }
});

describe.each(available)('histogram statistics equal the vessel-list ones on %s', (_name, path) => {
  const vessels = loadVessels(path);
  const cells = histogram(vessels);
  const readings = vessels.map((v) => ({ patientId: v.patientId, ctffr: v.ctFfr, ffr: v.invasiveFfr }));

  it('compresses the vessels into fewer cells', () => {
    expect(cells.reduce((n, c) => n + c.vessels, 0)).toBe(vessels.length);
  });

  it.each([0.75, 0.8, 0.85])('AUC and DeLong interval at threshold %s', (threshold) => {
    const classified = classifyByInvasiveFfr(readings, threshold);
    const expected = deLongAuc(
      classified.filter((v) => v.diseased).map((v) => v.ctffr),
      classified.filter((v) => !v.diseased).map((v) => v.ctffr),
    );
    const actual = aucFromPairCells(cells, threshold);
    if (!expected.estimable || !actual.estimable) {
      expect(actual.estimable).toBe(expected.estimable);
      return;
    }
    close(actual.auc, expected.auc);
    expect(actual.diseasedCount).toBe(expected.diseasedCount);
    if (!expected.delong.estimable || !actual.delong.estimable) throw new Error('DeLong not estimable');
    close(actual.delong.variance, expected.delong.variance);
    closeInterval(actual.delong.ci, expected.delong.ci);
  });

  it('classic and regression Bland–Altman', () => {
    const expected = classicBlandAltman(readings);
    const actual = blandAltmanFromPairCells(cells);
    if (!expected.estimable || !actual.estimable) throw new Error('not estimable');
    close(actual.bias, expected.bias);
    close(actual.sd, expected.sd);
    closeInterval(actual.biasCi, expected.biasCi);
    closeInterval(actual.limitsOfAgreement, expected.limitsOfAgreement);
    closeInterval(actual.lowerLimitCi, expected.lowerLimitCi);
    closeInterval(actual.upperLimitCi, expected.upperLimitCi);
    const regression = regressionBlandAltman(readings);
    const slope = proportionalBiasFromPairCells(cells);
    if (!regression.estimable || !regression.biasLine.slopeTest.estimable || slope === null)
      throw new Error('no slope');
    close(slope.slope, regression.biasLine.slope);
    closeInterval(slope.ci, regression.biasLine.slopeTest.ci);
    close(slope.pValue, regression.biasLine.slopeTest.pValue);
  });

  it('Pearson and Spearman with their Fisher-z intervals', () => {
    const x = vessels.map((v) => v.ctFfr);
    const y = vessels.map((v) => v.invasiveFfr);
    for (const [expected, actual] of [
      [pearsonCorrelation(x, y), pearsonFromPairCells(cells)],
      [spearmanCorrelation(x, y), spearmanFromPairCells(cells)],
    ] as const) {
      if (!expected.estimable || !actual.estimable) throw new Error('not estimable');
      close(actual.estimate, expected.estimate);
      closeInterval(actual.ci95, expected.ci95);
    }
  });

  it('calibration intercept and slope with classical intervals', () => {
    const expected = calibration(vessels);
    const actual = calibrationFromPairCells(cells);
    if (!expected.estimable || !actual.estimable) throw new Error('not estimable');
    close(actual.intercept.estimate, expected.intercept.estimate);
    close(actual.slope.estimate, expected.slope.estimate);
    closeInterval(actual.intercept.ci95, expected.intercept.ci95);
    closeInterval(actual.slope.ci95, expected.slope.ci95);
  });

  it('Bland–Altman 2007 limits from per-patient sums', () => {
    const expected = repeatedMeasuresBlandAltman(readings);
    const byPatient = new Map<string, number[]>();
    for (const r of readings)
      byPatient.set(r.patientId, [...(byPatient.get(r.patientId) ?? []), r.ctffr - r.ffr]);
    let pairsSquared = 0;
    let sumDifference = 0;
    let sumSquaredDifference = 0;
    let sumPatientTotal2PerSize = 0;
    let sumPatientTotal2 = 0;
    let sumSizeTimesTotal = 0;
    for (const differences of byPatient.values()) {
      const total = differences.reduce((a, b) => a + b, 0);
      pairsSquared += differences.length ** 2;
      sumDifference += total;
      sumSquaredDifference += differences.reduce((a, b) => a + b * b, 0);
      sumPatientTotal2PerSize += (total * total) / differences.length;
      sumPatientTotal2 += total * total;
      sumSizeTimesTotal += differences.length * total;
    }
    const actual = repeatedMeasuresLimitsFromSums({
      patients: byPatient.size,
      pairs: readings.length,
      pairsSquared,
      sumDifference,
      sumSquaredDifference,
      sumPatientTotal2PerSize,
      sumPatientTotal2,
      sumSizeTimesTotal,
    });
    if (!expected.estimable || !actual.estimable) throw new Error('not estimable');
    close(actual.bias, expected.bias);
    close(actual.sdTotal, expected.sdTotal);
    closeInterval(actual.limitsOfAgreement, expected.limitsOfAgreement);
    closeInterval(actual.biasCiClusterRobust, expected.biasCiClusterRobust);
  });
});

describe('histogram edge cases', () => {
  it('n = 0, one class only and a single pair say why instead of printing a number', () => {
    expect(aucFromPairCells([], 0.8)).toMatchObject({ estimable: false, reason: 'no-vessels' });
    expect(aucFromPairCells([{ ctFfr: 0.7, invasiveFfr: 0.7, vessels: 3 }], 0.8)).toMatchObject({
      estimable: false,
      reason: 'no-non-diseased-vessels',
    });
    expect(blandAltmanFromPairCells([{ ctFfr: 0.7, invasiveFfr: 0.72, vessels: 1 }])).toMatchObject({
      estimable: false,
    });
    expect(pearsonFromPairCells([{ ctFfr: 0.7, invasiveFfr: 0.72, vessels: 9 }])).toMatchObject({
      estimable: false,
      reason: 'constant-values',
    });
    expect(
      repeatedMeasuresLimitsFromSums({
        patients: 1,
        pairs: 3,
        pairsSquared: 9,
        sumDifference: 0.1,
        sumSquaredDifference: 0.01,
        sumPatientTotal2PerSize: 0.0033,
        sumPatientTotal2: 0.01,
        sumSizeTimesTotal: 0.3,
      }),
    ).toMatchObject({ estimable: false, reason: 'fewer-than-two-patients' });
  });

  it('rejects negative or fractional counts', () => {
    expect(() => aucFromPairCells([{ ctFfr: 0.7, invasiveFfr: 0.9, vessels: 1.5 }], 0.8)).toThrow(RangeError);
  });
});
