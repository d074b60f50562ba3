import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LinkedVessel } from '../stats/proportions';
import { performanceFigures, ProportionFigure } from './performance-report';

/**
 * The performance report on test vector A (statistics.md §14.1, reference/oracle/vessels.csv) must
 * print exactly what R computed: expected values are the committed oracle outputs in
 * src/stats/fixtures (made by the scripts in src/stats/fixtures/oracle, see the READMEs there).
 */
const fixtures = join(__dirname, '..', 'stats', 'fixtures');
type Pair = [number, number];
interface ProportionOracle {
  n: number;
  estimate: number;
  wilson: Pair;
  clopperPearson: Pair;
  cluster: { wilsonEffectiveFloored: Pair };
}
interface VectorAOracles {
  proportions: {
    perVessel: Record<'vessels' | 'patients' | 'tp' | 'fp' | 'tn' | 'fn', number> &
      Record<'sensitivity' | 'specificity' | 'ppv' | 'npv' | 'accuracy', ProportionOracle>;
    perPatient: { vessels?: number; patients: number };
  };
  roc: { auc: number; ciDelongCapped: Pair };
  agreement: {
    classic: { bias: number; sd: number; loa: Pair };
    repeated2007: { loa: Pair; ciBiasClusterRobust: Pair };
    zou2013: { loa: Pair; ciLower: Pair; ciUpper: Pair };
  };
}
const vectorAOf = (name: string): unknown =>
  (JSON.parse(readFileSync(join(fixtures, name), 'utf8')) as { vectorA: unknown }).vectorA;
const oracles = {
  proportions: vectorAOf('proportions-oracle-r.json'),
  roc: vectorAOf('roc-oracle-r.json'),
  agreement: vectorAOf('agreement-oracle-r.json'),
} as VectorAOracles;
const proportionsR = oracles.proportions;
const rocR = oracles.roc;
const agreementR = oracles.agreement;

const vectorA: LinkedVessel[] = readFileSync(join(fixtures, 'proportions-vector-a.csv'), 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((line) => {
    const [patientId, , ffr, ctffr] = line.split(',');
    return { patientId, invasiveFfr: Number(ffr), ctFfr: Number(ctffr) };
  });

const everything = { minimumProportionN: 1, minimumAucPerClass: 1, minimumPairs: 2 };
const TOLERANCE = 1e-9;

function expectInterval(actual: readonly number[] | null, expected: number[]) {
  expect(actual).not.toBeNull();
  expect(Math.abs((actual as number[])[0] - expected[0])).toBeLessThan(TOLERANCE);
  expect(Math.abs((actual as number[])[1] - expected[1])).toBeLessThan(TOLERANCE);
}

describe('performanceFigures on test vector A', () => {
  const report = performanceFigures(vectorA, 0.8, everything);

  it('counts the 2×2 table per vessel and per patient as R does', () => {
    expect({
      vessels: report.vessels,
      patients: report.patients,
      tp: report.tp,
      fp: report.fp,
      tn: report.tn,
      fn: report.fn,
    }).toEqual({
      vessels: proportionsR.perVessel.vessels,
      patients: proportionsR.perVessel.patients,
      tp: proportionsR.perVessel.tp,
      fp: proportionsR.perVessel.fp,
      tn: proportionsR.perVessel.tn,
      fn: proportionsR.perVessel.fn,
    });
    expect(report.perPatient.vessels).toBe(
      proportionsR.perPatient.vessels ?? proportionsR.perPatient.patients,
    );
  });

  it.each(['sensitivity', 'specificity', 'ppv', 'npv', 'accuracy'] as const)(
    '%s: estimate and Wilson, Clopper–Pearson and cluster intervals equal the oracle',
    (metric) => {
      const figure = report[metric] as ProportionFigure;
      const expected = proportionsR.perVessel[metric];
      expect(figure.n).toBe(expected.n);
      expect(Math.abs(figure.estimate - expected.estimate)).toBeLessThan(TOLERANCE);
      expectInterval(figure.ci95.wilson, expected.wilson);
      expectInterval(figure.ci95.clopperPearson, expected.clopperPearson);
      expectInterval(figure.ci95.cluster, expected.cluster.wilsonEffectiveFloored);
    },
  );

  it('AUC with DeLong (pROC) interval', () => {
    if (report.auc.estimate === null) throw new Error('AUC withheld');
    expect(Math.abs(report.auc.estimate - rocR.auc)).toBeLessThan(TOLERANCE);
    expectInterval(report.auc.ci95.delong, rocR.ciDelongCapped);
  });

  it('Bland–Altman bias, SD, limits and 2007 limits', () => {
    if ('estimate' in report.blandAltman) throw new Error('Bland–Altman withheld');
    expect(Math.abs(report.blandAltman.bias - agreementR.classic.bias)).toBeLessThan(TOLERANCE);
    expect(Math.abs(report.blandAltman.sd - agreementR.classic.sd)).toBeLessThan(TOLERANCE);
    expectInterval(report.blandAltman.loa, agreementR.classic.loa);
    expectInterval(report.blandAltman.loaRepeated, agreementR.repeated2007.loa);
    expectInterval(report.blandAltman.biasCi95Clustered, agreementR.repeated2007.ciBiasClusterRobust);
  });

  it('Bland–Altman repeated-measures limits: Zou (2013) MOVER 95% CIs with the limits they surround', () => {
    if ('estimate' in report.blandAltman) throw new Error('Bland–Altman withheld');
    const ci = report.blandAltman.loaRepeatedCi95;
    if (ci === null) throw new Error('loaRepeatedCi95 withheld');
    expectInterval(ci.limits, agreementR.zou2013.loa);
    expectInterval(ci.lower, agreementR.zou2013.ciLower);
    expectInterval(ci.upper, agreementR.zou2013.ciUpper);
    expect(report.methods.blandAltman).toContain('loaRepeatedCi95: Zou 2013');
    // one patient: no repeated-measures limits, so no CIs either
    const onePatient = performanceFigures(
      vectorA.map((v) => ({ ...v, patientId: 'P00' })),
      0.8,
      everything,
    );
    if ('estimate' in onePatient.blandAltman) throw new Error('Bland–Altman withheld');
    expect(onePatient.blandAltman.loaRepeated).toBeNull();
    expect(onePatient.blandAltman.loaRepeatedCi95).toBeNull();
    expect(onePatient.blandAltman.biasCi95Clustered).toBeNull();
  });

  it('withholds figures below the reporting minimums instead of printing them', () => {
    const strict = performanceFigures(vectorA, 0.8);
    expect(strict.sensitivity).toEqual({ estimate: null, reason: 'insufficient_data', n: 9 });
    // 9 diseased and 11 non-diseased vessels are enough for an AUC under the default minimums.
    expect(strict.auc.estimate).not.toBeNull();
    expect(performanceFigures(vectorA.slice(0, 6), 0.8).auc).toMatchObject({
      estimate: null,
      reason: 'insufficient_data',
      n: 6,
    });
    const empty = performanceFigures([], 0.8);
    expect(empty.accuracy).toEqual({ estimate: null, reason: 'insufficient_data', n: 0 });
    expect(empty.blandAltman).toEqual({ estimate: null, reason: 'insufficient_data', n: 0 });
  });
});
