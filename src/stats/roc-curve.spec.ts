/**
 * The chart data of GET /performance against the oracle-checked statistics of the same vessels: the ROC curve's
 * trapezoid area equals the DeLong AUC (roc.ts, pROC-checked in roc.spec.ts) and its points equal rocCurve's (pROC
 * `coords`), on every committed oracle fixture; the Bland–Altman density releases no bin under k.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { aucFromPairCells, PairCell } from './pair-histogram';
import { LinkedVessel } from './proportions';
import { classifyByInvasiveFfr, deLongAuc, rocCurve } from './roc';
import { blandAltmanDensity, rocCurveFromPairCells, trapezoidArea } from './roc-curve';
import rOracle from './fixtures/roc-oracle-r.json';

const FIXTURES: Array<[string, string]> = [
  ['roc-agreement-vector-a.csv', join(__dirname, 'fixtures', 'roc-agreement-vector-a.csv')],
  ['roc-agreement-large-vessels.csv', join(__dirname, 'fixtures', 'roc-agreement-large-vessels.csv')],
  ['proportions-vessels.csv', join(__dirname, 'fixtures', 'proportions-vessels.csv')],
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

describe.each(FIXTURES)('empirical ROC curve from the histogram of %s', (_name, path) => {
  const vessels = loadVessels(path);
  const cells = histogram(vessels);
  const classified = classifyByInvasiveFfr(
    vessels.map((v) => ({ patientId: v.patientId, ctffr: v.ctFfr, ffr: v.invasiveFfr })),
  );
  const diseased = classified.filter((v) => v.diseased).map((v) => v.ctffr);
  const nonDiseased = classified.filter((v) => !v.diseased).map((v) => v.ctffr);

  it('has a trapezoid area equal to the DeLong AUC of the same vessels (and of the histogram)', () => {
    const curve = rocCurveFromPairCells(cells, 0.8);
    const delong = deLongAuc(diseased, nonDiseased);
    const fromCells = aucFromPairCells(cells, 0.8);
    if (!curve.estimable || !delong.estimable || !fromCells.estimable) throw new Error('estimable');
    expect(Math.abs(curve.area - delong.auc)).toBeLessThanOrEqual(1e-12);
    expect(Math.abs(trapezoidArea(curve.points) - fromCells.auc)).toBeLessThanOrEqual(1e-12);
    expect(curve.diseasedVessels).toBe(diseased.length);
    expect(curve.nonDiseasedVessels).toBe(nonDiseased.length);
  });

  it('has the operating points of rocCurve (pROC coords), from (0, 0) to (1, 1)', () => {
    const curve = rocCurveFromPairCells(cells, 0.8);
    const reference = rocCurve(diseased, nonDiseased);
    if (!curve.estimable || !reference.estimable) throw new Error('estimable');
    expect(curve.points).toHaveLength(reference.points.length);
    curve.points.forEach((point, i) => {
      const expected = reference.points[i];
      expect(point.cutOff).toBe(expected.threshold);
      expect(point.truePositives).toBe(expected.truePositives);
      expect(point.falsePositives).toBe(expected.falsePositives);
      expect(Math.abs(point.sensitivity - expected.sensitivity)).toBeLessThanOrEqual(1e-12);
      expect(Math.abs(point.falsePositiveRate - (1 - expected.specificity))).toBeLessThanOrEqual(1e-12);
    });
    expect(curve.points[0]).toMatchObject({ cutOff: null, sensitivity: 0, falsePositiveRate: 0 });
    expect(curve.points[curve.points.length - 1]).toMatchObject({ sensitivity: 1, falsePositiveRate: 1 });
  });
});

describe('empirical ROC curve — oracle values and edge cases', () => {
  it.each([
    ['vector A', FIXTURES[0][1], rOracle.vectorA.auc],
    ['500 vessels', FIXTURES[1][1], rOracle.large.auc],
  ])('%s: area = pROC auc (R oracle)', (_name, path, auc) => {
    const curve = rocCurveFromPairCells(histogram(loadVessels(path)), 0.8);
    if (!curve.estimable) throw new Error('estimable');
    expect(Math.abs(curve.area - auc)).toBeLessThanOrEqual(1e-12);
  });

  it('tied CT-FFR across classes is one diagonal segment worth ½ per tied pair', () => {
    // diseased {0.70, 0.75}, non-diseased {0.75, 0.90}: pairs (0.70<0.75)=1, (0.70<0.90)=1, (0.75=0.75)=½,
    // (0.75<0.90)=1 → AUC 3.5/4.
    const curve = rocCurveFromPairCells(
      [
        { ctFfr: 0.7, invasiveFfr: 0.7, vessels: 1 },
        { ctFfr: 0.75, invasiveFfr: 0.72, vessels: 1 },
        { ctFfr: 0.75, invasiveFfr: 0.85, vessels: 1 },
        { ctFfr: 0.9, invasiveFfr: 0.88, vessels: 1 },
      ],
      0.8,
    );
    if (!curve.estimable) throw new Error('estimable');
    expect(curve.area).toBeCloseTo(0.875, 15);
    expect(curve.points.map((p) => p.cutOff)).toEqual([null, 0.7, 0.75, 0.9]);
  });

  it('is not estimable without both classes', () => {
    expect(rocCurveFromPairCells([], 0.8)).toMatchObject({ estimable: false, reason: 'no-vessels' });
    expect(rocCurveFromPairCells([{ ctFfr: 0.7, invasiveFfr: 0.9, vessels: 3 }], 0.8)).toMatchObject({
      estimable: false,
      reason: 'no-diseased-vessels',
    });
    expect(rocCurveFromPairCells([{ ctFfr: 0.7, invasiveFfr: 0.7, vessels: 3 }], 0.8)).toMatchObject({
      estimable: false,
      reason: 'no-non-diseased-vessels',
    });
  });
});

describe('Bland–Altman density', () => {
  const grid = { meanBinWidth: 0.05, differenceBinWidth: 0.05, minimumCell: 11 };

  it('counts every vessel of the large fixture once and releases no bin of 1 … k − 1 vessels', () => {
    const vessels = loadVessels(FIXTURES[1][1]);
    const density = blandAltmanDensity(histogram(vessels), grid);
    expect(density.vessels).toBe(vessels.length);
    const released = density.bins.reduce((sum, bin) => sum + bin.vessels, 0);
    expect(released + density.withheldVessels).toBe(vessels.length);
    expect(density.bins.length).toBeGreaterThan(0);
    expect(density.withheldVessels).toBeGreaterThan(0);
    for (const bin of density.bins) {
      expect(bin.vessels).toBeGreaterThanOrEqual(11);
      // Each released count is the number of vessels whose (mean, difference) falls in the half-open bin.
      const inBin = vessels.filter((v) => {
        const mean = (v.ctFfr + v.invasiveFfr) / 2;
        const difference = v.ctFfr - v.invasiveFfr;
        return (
          mean >= bin.meanFrom - 1e-9 &&
          mean < bin.meanTo - 1e-9 &&
          difference >= bin.differenceFrom - 1e-9 &&
          difference < bin.differenceTo - 1e-9
        );
      }).length;
      expect(bin.vessels).toBe(inBin);
    }
  });

  it('puts a value on a bin edge in the bin it starts, and prints edges without binary noise', () => {
    // mean 0.75 (0.75 / 0.05 = 14.999… in floating point), difference 0.
    const density = blandAltmanDensity([{ ctFfr: 0.75, invasiveFfr: 0.75, vessels: 12 }], grid);
    expect(density.bins).toEqual([
      { meanFrom: 0.75, meanTo: 0.8, differenceFrom: 0, differenceTo: 0.05, vessels: 12 },
    ]);
    const negative = blandAltmanDensity([{ ctFfr: 0.7, invasiveFfr: 0.75, vessels: 11 }], grid);
    expect(negative.bins[0]).toMatchObject({ differenceFrom: -0.05, differenceTo: 0 });
  });

  it('withholds a bin of k − 1 vessels without saying where it lies', () => {
    const density = blandAltmanDensity(
      [
        { ctFfr: 0.85, invasiveFfr: 0.86, vessels: 40 },
        { ctFfr: 0.55, invasiveFfr: 0.85, vessels: 10 },
      ],
      grid,
    );
    expect(density.bins).toHaveLength(1);
    expect(density.bins[0].vessels).toBe(40);
    expect(density.withheldVessels).toBe(10);
    expect(JSON.stringify(density)).not.toContain('-0.3');
  });

  it('refuses a grid without a positive width or an integer k', () => {
    expect(() => blandAltmanDensity([], { ...grid, meanBinWidth: 0 })).toThrow(RangeError);
    expect(() => blandAltmanDensity([], { ...grid, minimumCell: 0.5 })).toThrow(RangeError);
  });
});
