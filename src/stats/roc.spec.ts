/**
 * Expected values and where they come from:
 *  - statistics.md §14.1–§14.3 (printed digits): R 4.2.2 + pROC 1.18.0 via reference/oracle/oracle.R and the
 *    numpy midrank / Obuchowski code of reference/oracle/oracle.py. Tolerance: half a unit in the last printed digit.
 *  - fixtures/roc-oracle-r.json: `Rscript src/stats/fixtures/oracle/roc-oracle.R src/stats/fixtures` (pROC 1.18.0
 *    auc/var/ci.auc/coords/roc.test/cov, Obuchowski copied from oracle.R), 17 significant digits.
 *  - fixtures/roc-oracle-python.json: `/usr/bin/python3 src/stats/fixtures/oracle/roc-oracle.py src/stats/fixtures`
 *    (numpy midrank DeLong, Obuchowski, scipy.stats.mannwhitneyu), full double precision.
 *  Full-precision fixtures are compared at 1e-12 absolute (1e-10 relative for the large-vector variances): the
 *  algorithms differ (pROC's C++ placements and R's `outer()` vs our midranks), so only round-off separates them.
 *  See fixtures/README-roc-agreement.md.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type AucInterval,
  type ClassifiedVessel,
  type Interval,
  type VesselReading,
  classifyByInvasiveFfr,
  compareAucsPaired,
  deLongAuc,
  midranks,
  obuchowskiAuc,
  rocCurve,
  vesselAucReport,
} from './roc';
import rOracle from './fixtures/roc-oracle-r.json';
import pyOracle from './fixtures/roc-oracle-python.json';

const FULL = 1e-12;

function readVessels(file: string): (VesselReading & { ctffrAlt?: number })[] {
  const [header, ...rows] = readFileSync(join(__dirname, 'fixtures', file), 'utf8')
    .trim()
    .split('\n');
  const cols = header.split(',');
  return rows.map((row) => {
    const cells = row.split(',');
    const get = (name: string): string => cells[cols.indexOf(name)];
    return {
      patientId: get('patient'),
      ffr: Number(get('ffr')),
      ctffr: Number(get('ctffr')),
      ...(cols.includes('ctffr_alt') ? { ctffrAlt: Number(get('ctffr_alt')) } : {}),
    };
  });
}

const vectorA = readVessels('roc-agreement-vector-a.csv');
const large = readVessels('roc-agreement-large-vessels.csv');

function split(vessels: readonly ClassifiedVessel[]): [number[], number[]] {
  return [
    vessels.filter((v) => v.diseased).map((v) => v.ctffr),
    vessels.filter((v) => !v.diseased).map((v) => v.ctffr),
  ];
}

/** |actual − expected| ≤ tol, with a readable failure. */
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
): number {
  expect(actual).toHaveLength(expected.length);
  let worst = 0;
  actual.forEach((a, i) => {
    expectNear(a, expected[i], tol, `${label}[${i}]`);
    worst = Math.max(worst, Math.abs(a - expected[i]));
  });
  return worst;
}

/** Half a unit in the last printed digit of a value printed with `digits` decimals. */
const printed = (digits: number): number => 0.5 * 10 ** -digits + 1e-15;

function delongOf(vessels: readonly ClassifiedVessel[]): { auc: number; delong: AucInterval } {
  const [pos, neg] = split(vessels);
  const r = deLongAuc(pos, neg);
  if (!r.estimable || !r.delong.estimable) throw new Error('expected an estimable DeLong AUC');
  return { auc: r.auc, delong: r.delong };
}

function asNumbers(values: readonly (number | string | null)[]): number[] {
  return values.map((v) => (v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : Number(v)));
}

/** Naive O(m·n) DeLong (DeLong, DeLong & Clarke-Pearson 1988, statistics.md §3) on s = −CT-FFR. */
function naiveDeLong(pos: readonly number[], neg: readonly number[]) {
  const psi = (x: number, y: number): number => (x < y ? 1 : x === y ? 0.5 : 0); // CT-FFR: lower = diseased
  const v10 = pos.map((x) => neg.reduce((s, y) => s + psi(x, y), 0) / neg.length);
  const v01 = neg.map((y) => pos.reduce((s, x) => s + psi(x, y), 0) / pos.length);
  const auc = v10.reduce((s, v) => s + v, 0) / pos.length;
  const ss = (v: number[]): number => v.reduce((s, x) => s + (x - auc) ** 2, 0);
  const variance = ss(v10) / (pos.length - 1) / pos.length + ss(v01) / (neg.length - 1) / neg.length;
  return { auc, variance, v10, v01 };
}

/** Small seeded LCG (Numerical Recipes constants) so the randomised comparisons are reproducible. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('orientation and reference class', () => {
  it('counts a vessel with invasive FFR exactly 0.80 as diseased (statistics.md §1: P04)', () => {
    const classified = classifyByInvasiveFfr(vectorA);
    const p04 = classified.find((v) => v.patientId === 'P04');
    expect(p04?.diseased).toBe(true);
    expect(classified.filter((v) => v.diseased)).toHaveLength(9);
  });

  it('AUC = P(CT-FFR diseased < CT-FFR non-diseased) + ½ P(tie): lower CT-FFR predicts disease', () => {
    const r = deLongAuc([0.7], [0.9]);
    expect(r.estimable && r.auc).toBe(1);
    const tie = deLongAuc([0.8], [0.8]);
    expect(tie.estimable && tie.auc).toBe(0.5);
  });
});

describe('midranks', () => {
  it('gives runs of equal values their average 1-based rank (statistics.md §3)', () => {
    expect(Array.from(midranks([0.75, 0.7, 0.75, 0.8, 0.75]))).toEqual([3, 1, 3, 5, 3]);
    expect(Array.from(midranks([]))).toEqual([]);
  });
});

describe('DeLong AUC — test vector A (statistics.md §14.1, pROC 1.18.0)', () => {
  const { auc, delong } = delongOf(classifyByInvasiveFfr(vectorA));
  const A = rOracle.vectorA;

  it('reproduces the printed oracle values', () => {
    expectNear(auc, 0.89899, printed(6), 'AUC');
    expectNear(delong.variance, 0.00475462, printed(8), 'var');
    expectNear(delong.standardError, 0.068954, printed(6), 'SE');
    expectNear(delong.ci[0], 0.7638, printed(4), 'ci lower');
    expect(delong.ci[1]).toBe(1); // capped, as pROC
    expectNear(delong.ciUncapped[1], 1.0341, printed(4), 'uncapped upper');
    const logit = delong.ciLogit as Interval;
    expectNear(logit[0], 0.6677, printed(4), 'logit lower');
    expectNear(logit[1], 0.9753, printed(4), 'logit upper');
  });

  it('equals pROC auc/var/ci.auc and delongPlacements to full precision', () => {
    expectNear(auc, A.auc, FULL, 'AUC');
    expectNear(delong.variance, A.delongVariance, FULL, 'var');
    expectAllNear(delong.ci, A.ciDelongCapped, FULL, 'ci');
    expectAllNear(delong.ciUncapped, A.ciDelongUncapped, FULL, 'ci uncapped');
    expectAllNear(delong.ciLogit as Interval, A.ciLogitFormula, FULL, 'ci logit');
    const r = deLongAuc(A.diseasedCtffr, A.nonDiseasedCtffr);
    if (!r.estimable) throw new Error('estimable');
    expectAllNear(r.structuralComponents.diseased, A.structuralComponentsDiseased, FULL, 'V10');
    expectAllNear(r.structuralComponents.nonDiseased, A.structuralComponentsNonDiseased, FULL, 'V01');
  });

  it('equals the numpy midrank oracle (oracle.py)', () => {
    expectNear(auc, pyOracle.vectorA.auc, FULL, 'AUC');
    expectNear(delong.variance, pyOracle.vectorA.delongVariance, FULL, 'var');
  });

  it('per-patient AUC (min FFR, min CT-FFR per patient, §8) = 0.9062, DeLong CI [0.7320, 1.0000]', () => {
    const minimum = new Map<string, { ffr: number; ctffr: number }>();
    for (const v of vectorA) {
      const m = minimum.get(v.patientId);
      minimum.set(v.patientId, m ? { ffr: Math.min(m.ffr, v.ffr), ctffr: Math.min(m.ctffr, v.ctffr) } : v);
    }
    const patients = [...minimum].map(([patientId, m]) => ({ patientId, ...m }));
    const { auc: pAuc, delong: pDelong } = delongOf(classifyByInvasiveFfr(patients));
    expectNear(pAuc, 0.9062, printed(4), 'AUC');
    expectAllNear(pDelong.ci, [0.732, 1], printed(4), 'ci');
    expectNear(pAuc, rOracle.vectorA.perPatient.auc, FULL, 'AUC full');
    expectNear(pDelong.variance, rOracle.vectorA.perPatient.delongVariance, FULL, 'var full');
  });
});

describe('DeLong AUC — vectors B (independent) and C (ties)', () => {
  it('vector B: AUC 0.875, Var 0.01365741, CI [0.6459, 1] (statistics.md §14.2)', () => {
    const r = deLongAuc(rOracle.vectorB.diseasedCtffr, rOracle.vectorB.nonDiseasedCtffr);
    if (!r.estimable || !r.delong.estimable) throw new Error('estimable');
    expectNear(r.auc, 0.875, FULL, 'AUC');
    expectNear(r.delong.variance, 0.01365741, printed(8), 'var');
    expectAllNear(r.delong.ci, [0.6459, 1], printed(4), 'ci');
    expectNear(r.delong.variance, rOracle.vectorB.delongVariance, FULL, 'var pROC');
    expectNear(r.delong.variance, pyOracle.vectorB.delongVariance, FULL, 'var numpy');
  });

  it('vector C: ties count ½ — V10 (1, .9, .9, .7), V01 (.5, .875, 1, 1, 1), AUC .875, Var .01333333 (§14.3)', () => {
    const r = deLongAuc([0.7, 0.75, 0.75, 0.8], [0.75, 0.8, 0.85, 0.9, 0.9]);
    if (!r.estimable || !r.delong.estimable) throw new Error('estimable');
    expectAllNear(r.structuralComponents.diseased, [1, 0.9, 0.9, 0.7], FULL, 'V10');
    expectAllNear(r.structuralComponents.nonDiseased, [0.5, 0.875, 1, 1, 1], FULL, 'V01');
    expectNear(r.auc, 0.875, FULL, 'AUC');
    expectNear(r.delong.variance, 0.01333333, printed(8), 'var');
    expectAllNear(r.delong.ci, [0.6487, 1], printed(4), 'ci');
    expectNear(r.delong.variance, rOracle.vectorC.delongVariance, FULL, 'var pROC');
    expectAllNear(
      r.structuralComponents.diseased,
      rOracle.vectorC.structuralComponentsDiseased,
      FULL,
      'V10 pROC',
    );
  });
});

describe('DeLong AUC — edge cases', () => {
  it('n = 0, all diseased, all non-diseased: not estimable with a reason (pROC stops with an error)', () => {
    expect(deLongAuc([], [])).toMatchObject({ estimable: false, reason: 'no-vessels' });
    expect(deLongAuc([0.7, 0.75], [])).toMatchObject({ estimable: false, reason: 'no-non-diseased-vessels' });
    expect(deLongAuc([], [0.85, 0.9])).toMatchObject({ estimable: false, reason: 'no-diseased-vessels' });
    expect(rocCurve([], [0.9])).toMatchObject({ estimable: false, reason: 'no-diseased-vessels' });
    expect(obuchowskiAuc([])).toMatchObject({ estimable: false, reason: 'no-vessels' });
  });

  it('one diseased vessel: AUC estimable (= pROC), variance not (pROC ci.auc returns NA)', () => {
    const E = rOracle.singleDiseased;
    const r = deLongAuc(E.diseasedCtffr, E.nonDiseasedCtffr);
    if (!r.estimable) throw new Error('estimable');
    expectNear(r.auc, E.auc, FULL, 'AUC');
    expect(E.ciDelongCapped).toEqual([null, null]);
    expect(r.delong).toMatchObject({ estimable: false, reason: 'fewer-than-two-diseased' });
    const s = deLongAuc([0.7, 0.72], [0.9]);
    expect(s.estimable && s.delong).toMatchObject({
      estimable: false,
      reason: 'fewer-than-two-non-diseased',
    });
  });

  it('perfect separation: AUC 1, Var 0, CI [1, 1] (pROC); logit interval not estimable', () => {
    const E = rOracle.perfectSeparation;
    const r = deLongAuc(E.diseasedCtffr, E.nonDiseasedCtffr);
    if (!r.estimable || !r.delong.estimable) throw new Error('estimable');
    expect(r.auc).toBe(1);
    expect(r.delong.variance).toBe(0);
    expect(r.delong.ci).toEqual([1, 1]);
    expect(E.ciDelongCapped).toEqual([1, 1]);
    expect(r.delong.ciLogit).toMatchObject({ estimable: false, reason: 'auc-at-boundary' });
  });

  it('reversed separation: AUC 0, CI [0, 0] (pROC)', () => {
    const E = rOracle.reversedSeparation;
    const r = deLongAuc(E.diseasedCtffr, E.nonDiseasedCtffr);
    if (!r.estimable || !r.delong.estimable) throw new Error('estimable');
    expect(r.auc).toBe(E.auc);
    expect(r.delong.ci).toEqual(E.ciDelongCapped);
  });

  it('all CT-FFR tied: AUC 0.5 with zero DeLong variance (pROC)', () => {
    const E = rOracle.allTied;
    const r = deLongAuc(E.diseasedCtffr, E.nonDiseasedCtffr);
    if (!r.estimable || !r.delong.estimable) throw new Error('estimable');
    expect(r.auc).toBe(0.5);
    expect(r.delong.variance).toBe(E.delongVariance);
    expect(r.delong.ci).toEqual(E.ciDelongCapped);
  });

  it('rejects non-finite CT-FFR and invalid confidence levels', () => {
    expect(() => deLongAuc([Number.NaN], [0.9])).toThrow(RangeError);
    expect(() => deLongAuc([0.7], [Infinity])).toThrow(RangeError);
    expect(() => deLongAuc([0.7, 0.8], [0.9, 0.95], 1)).toThrow(RangeError);
  });
});

describe('fast DeLong (Sun & Xu 2014) equals a naive O(n²) DeLong', () => {
  it('on 200 random data sets with heavy ties (CT-FFR rounded to 0.01 or 0.05)', () => {
    const random = lcg(20251127);
    let worst = 0;
    for (let trial = 0; trial < 200; trial++) {
      const step = trial % 2 ? 0.01 : 0.05;
      const m = 2 + Math.floor(random() * 40);
      const n = 2 + Math.floor(random() * 40);
      const round = (x: number): number => Math.round(x / step) * step;
      const pos = Array.from({ length: m }, () => round(0.55 + 0.35 * random()));
      const neg = Array.from({ length: n }, () => round(0.7 + 0.3 * random()));
      const naive = naiveDeLong(pos, neg);
      const fast = deLongAuc(pos, neg);
      if (!fast.estimable || !fast.delong.estimable) throw new Error('estimable');
      worst = Math.max(
        worst,
        Math.abs(fast.auc - naive.auc),
        Math.abs(fast.delong.variance - naive.variance),
        expectAllNear(fast.structuralComponents.diseased, naive.v10, 1e-13, 'V10'),
        expectAllNear(fast.structuralComponents.nonDiseased, naive.v01, 1e-13, 'V01'),
      );
    }
    expect(worst).toBeLessThan(1e-13);
  });

  it('on the 500-vessel vector', () => {
    const [pos, neg] = split(classifyByInvasiveFfr(large));
    const naive = naiveDeLong(pos, neg);
    const fast = deLongAuc(pos, neg);
    if (!fast.estimable || !fast.delong.estimable) throw new Error('estimable');
    expectNear(fast.auc, naive.auc, 1e-13, 'AUC');
    expectNear(fast.delong.variance, naive.variance, 1e-15, 'var');
  });

  it('scales as O(n log n): 200,000 vessels in well under a few seconds', () => {
    const random = lcg(7);
    const pos = Array.from({ length: 80000 }, () => Math.round(100 * (0.55 + 0.35 * random())) / 100);
    const neg = Array.from({ length: 120000 }, () => Math.round(100 * (0.7 + 0.3 * random())) / 100);
    const started = process.hrtime.bigint();
    const r = deLongAuc(pos, neg);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    expect(r.estimable).toBe(true);
    expect(seconds).toBeLessThan(5);
  });
});

describe('Obuchowski clustered AUC (statistics.md §4)', () => {
  const A = rOracle.vectorA;

  it('vector A: Var 0.00375591, SE 0.061285, uncapped CI [0.7789, 1.0191] (oracle.R / oracle.py)', () => {
    const r = obuchowskiAuc(classifyByInvasiveFfr(vectorA));
    if (!r.estimable || !r.obuchowski.estimable) throw new Error('estimable');
    expect(r).toMatchObject({ patients: 12, diseasedVessels: 9, nonDiseasedVessels: 11 });
    expectNear(r.obuchowski.variance, 0.00375591, printed(8), 'var');
    expectNear(r.obuchowski.standardError, 0.061285, printed(6), 'SE');
    expectAllNear(r.obuchowski.ciUncapped, [0.7789, 1.0191], printed(4), 'ci');
    expectNear(r.obuchowski.ci[1], 1, 0, 'capped upper');
    expectNear(r.obuchowski.variance, A.obuchowski.variance, FULL, 'var R');
    expectAllNear(r.obuchowski.ciUncapped, A.obuchowski.ciUncapped, FULL, 'ci R');
    expectAllNear(r.obuchowski.ciLogit as Interval, A.obuchowski.ciLogitFormula, FULL, 'logit R');
    expectNear(r.obuchowski.variance, pyOracle.vectorA.obuchowski.variance, FULL, 'var numpy');
    expectNear(r.auc, A.obuchowski.auc, FULL, 'AUC');
  });

  it('one vessel per patient reduces to DeLong exactly (vector A: 0.00475462 = 0.00475462)', () => {
    const singletons = classifyByInvasiveFfr(vectorA).map((v, i) => ({ ...v, patientId: `V${i}` }));
    const r = obuchowskiAuc(singletons);
    if (!r.estimable || !r.obuchowski.estimable) throw new Error('estimable');
    const { delong } = delongOf(singletons);
    expectNear(r.obuchowski.variance, delong.variance, 1e-17, 'Obuchowski = DeLong');
    expectNear(r.obuchowski.variance, A.obuchowskiSingletonClusters.variance, FULL, 'oracle singleton');
    expectNear(r.obuchowski.variance, 0.00475462, printed(8), 'printed');
  });

  it('one patient: not estimable (I − 1 = 0)', () => {
    const onePatient = classifyByInvasiveFfr(vectorA).map((v) => ({ ...v, patientId: 'P00' }));
    const r = obuchowskiAuc(onePatient);
    expect(r.estimable && r.obuchowski).toMatchObject({ estimable: false, reason: 'single-patient' });
    expect(r.estimable && r.auc).toBeCloseTo(0.89899, 5); // the AUC itself is still estimable
  });

  it('all diseased (or non-diseased) vessels in one patient: not estimable', () => {
    const v = (patientId: string, ctffr: number, diseased: boolean) => ({ patientId, ctffr, diseased });
    expect(
      obuchowskiAuc([v('a', 0.7, true), v('a', 0.72, true), v('b', 0.9, false), v('c', 0.85, false)]),
    ).toMatchObject({ obuchowski: { estimable: false, reason: 'diseased-vessels-in-one-patient' } });
    expect(
      obuchowskiAuc([v('a', 0.7, true), v('b', 0.72, true), v('c', 0.9, false), v('c', 0.85, false)]),
    ).toMatchObject({ obuchowski: { estimable: false, reason: 'non-diseased-vessels-in-one-patient' } });
  });

  it('perfect separation: variance 0, CI [1, 1]', () => {
    const v = (patientId: string, ctffr: number, diseased: boolean) => ({ patientId, ctffr, diseased });
    const r = obuchowskiAuc([v('a', 0.6, true), v('a', 0.9, false), v('b', 0.7, true), v('c', 0.95, false)]);
    if (!r.estimable || !r.obuchowski.estimable) throw new Error('estimable');
    expect(r.auc).toBe(1);
    expect(r.obuchowski.variance).toBe(0);
    expect(r.obuchowski.ci).toEqual([1, 1]);
  });
});

describe('500 vessels / 350 patients (roc-agreement-dataset.R, seed 20251127)', () => {
  const L = rOracle.large;
  const vessels = classifyByInvasiveFfr(large);

  it('DeLong equals pROC; AUC equals numpy midrank and scipy Mann–Whitney U/(mn)', () => {
    const { auc, delong } = delongOf(vessels);
    expectNear(auc, L.auc, FULL, 'AUC');
    expectNear(auc, pyOracle.large.aucMannWhitney, FULL, 'Mann–Whitney');
    expectNear(delong.variance, L.delongVariance, 1e-10 * L.delongVariance, 'var');
    expectNear(delong.variance, pyOracle.large.delongVariance, 1e-10 * L.delongVariance, 'var numpy');
    expectAllNear(delong.ci, L.ciDelongCapped, FULL, 'ci');
    expectAllNear(delong.ciLogit as Interval, L.ciLogitFormula, FULL, 'logit');
    const [pos, neg] = split(vessels);
    const r = deLongAuc(pos, neg);
    if (!r.estimable) throw new Error('estimable');
    expectAllNear(r.structuralComponents.diseased, L.structuralComponentsDiseased, FULL, 'V10');
    expectAllNear(r.structuralComponents.nonDiseased, L.structuralComponentsNonDiseased, FULL, 'V01');
  });

  it('Obuchowski equals oracle.R / oracle.py; singleton clusters equal DeLong', () => {
    const r = obuchowskiAuc(vessels);
    if (!r.estimable || !r.obuchowski.estimable) throw new Error('estimable');
    expect(r).toMatchObject({ patients: L.patients, diseasedVessels: L.diseasedVessels });
    expectNear(r.obuchowski.variance, L.obuchowski.variance, 1e-10 * L.obuchowski.variance, 'var');
    expectNear(
      r.obuchowski.variance,
      pyOracle.large.obuchowski.variance,
      1e-10 * L.obuchowski.variance,
      'numpy',
    );
    expectAllNear(r.obuchowski.ciUncapped, L.obuchowski.ciUncapped, FULL, 'ci');
    const singles = obuchowskiAuc(vessels.map((v, i) => ({ ...v, patientId: String(i) })));
    if (!singles.estimable || !singles.obuchowski.estimable) throw new Error('estimable');
    expectNear(
      singles.obuchowski.variance,
      L.obuchowskiSingletonClusters.variance,
      1e-10 * L.delongVariance,
      'single',
    );
    expectNear(singles.obuchowski.variance, delongOf(vessels).delong.variance, 1e-18, 'single = DeLong');
  });

  it('ROC curve points equal pROC coords (reverse order)', () => {
    const [pos, neg] = split(vessels);
    const curve = rocCurve(pos, neg);
    if (!curve.estimable) throw new Error('estimable');
    const sens = [...L.coords.sensitivity].reverse();
    const spec = [...L.coords.specificity].reverse();
    expectAllNear(
      curve.points.map((p) => p.sensitivity),
      sens,
      FULL,
      'sensitivity',
    );
    expectAllNear(
      curve.points.map((p) => p.specificity),
      spec,
      FULL,
      'specificity',
    );
    // pROC's coords tp is sensitivity × cases in floating point (118.99999999999999), hence the rounding
    expect(curve.points.map((p) => p.truePositives)).toEqual([...L.coords.tp].reverse().map(Math.round));
    // each CT-FFR cut-off lies between pROC's neighbouring midpoint thresholds
    const thresholds = asNumbers(L.coords.threshold).reverse();
    curve.points.forEach((p, i) => {
      if (p.threshold === null) return expect(i).toBe(0);
      expect(p.threshold).toBeGreaterThan(thresholds[i - 1]);
      expect(p.threshold).toBeLessThan(thresholds[i]);
    });
  });

  it('paired DeLong test vs a second model version equals pROC roc.test(paired = TRUE)', () => {
    const P = L.pairedAlt;
    const r = compareAucsPaired(
      large.map((v) => ({ diseased: v.ffr <= 0.8, ctffrA: v.ctffr, ctffrB: v.ctffrAlt as number })),
    );
    if (!r.estimable) throw new Error('estimable');
    expectNear(r.aucA, P.aucA, FULL, 'aucA');
    expectNear(r.aucB, P.aucB, FULL, 'aucB');
    expectNear(r.covariance, P.covariance, 1e-10 * P.covariance, 'cov');
    expectNear(r.covariance, pyOracle.large.pairedAltCovariance, 1e-10 * P.covariance, 'cov numpy');
    expectNear(r.z, P.z, 1e-9, 'z');
    expectNear(r.pValue, P.pValue, 1e-9, 'p');
    expectAllNear(r.ciDifference, P.ciDifference, FULL, 'ci');
  });

  it('paired test of a model with itself: difference 0, z 0, p 1 (pROC convention)', () => {
    const r = compareAucsPaired(
      vectorA.map((v) => ({ diseased: v.ffr <= 0.8, ctffrA: v.ctffr, ctffrB: v.ctffr })),
    );
    expect(r).toMatchObject({ estimable: true, difference: 0, z: 0, pValue: 1 });
  });
});

describe('ROC curve — vector A and ties', () => {
  it('vector A: (sensitivity, specificity) pairs equal pROC coords, thresholds are observed CT-FFR values', () => {
    const [pos, neg] = split(classifyByInvasiveFfr(vectorA));
    const curve = rocCurve(pos, neg);
    if (!curve.estimable) throw new Error('estimable');
    const C = rOracle.vectorA.coords;
    expect(curve.points).toHaveLength(21);
    expectAllNear(
      curve.points.map((p) => p.sensitivity),
      [...C.sensitivity].reverse(),
      FULL,
      'sens',
    );
    expectAllNear(
      curve.points.map((p) => p.specificity),
      [...C.specificity].reverse(),
      FULL,
      'spec',
    );
    // the operating point at the clinical cut-off CT-FFR ≤ 0.80 is the 2×2 table of §14.1 (TP 7, FP 3)
    expect(curve.points.find((p) => p.threshold === 0.8)).toMatchObject({
      truePositives: 7,
      falsePositives: 3,
    });
    expect(curve.points[0]).toMatchObject({ threshold: null, sensitivity: 0, specificity: 1 });
    expect(curve.points[20]).toMatchObject({ threshold: 0.95, sensitivity: 1, specificity: 0 });
  });

  it('vector C: tied CT-FFR values form one point (pROC coords)', () => {
    const curve = rocCurve([0.7, 0.75, 0.75, 0.8], [0.75, 0.8, 0.85, 0.9, 0.9]);
    if (!curve.estimable) throw new Error('estimable');
    const C = rOracle.vectorC.coords;
    expect(curve.points.map((p) => p.threshold)).toEqual([null, 0.7, 0.75, 0.8, 0.85, 0.9]);
    expectAllNear(
      curve.points.map((p) => p.sensitivity),
      [...C.sensitivity].reverse(),
      FULL,
      'sens',
    );
    expectAllNear(
      curve.points.map((p) => p.specificity),
      [...C.specificity].reverse(),
      FULL,
      'spec',
    );
  });
});

describe('vesselAucReport — the auc block of GET /performance (DESIGN.md §5)', () => {
  it('vector A: estimate with DeLong and Obuchowski 95% intervals truncated to [0, 1]', () => {
    const report = vesselAucReport(vectorA);
    if (!report.estimable) throw new Error('estimable');
    expect(report).toMatchObject({ vessels: 20, diseasedVessels: 9, nonDiseasedVessels: 11, patients: 12 });
    expectNear(report.estimate, 0.89899, printed(6), 'estimate');
    expectAllNear(report.ci95.delong as Interval, [0.7638, 1], printed(4), 'delong');
    expectAllNear(report.ci95.obuchowski as Interval, [0.7789, 1], printed(4), 'obuchowski');
    expect(report.notEstimable).toEqual({});
    expect(JSON.parse(JSON.stringify(report))).toEqual(report); // plain JSON, no NaN/Infinity
  });

  it('all vessels non-diseased: typed not-estimable result with counts', () => {
    const report = vesselAucReport(vectorA.filter((v) => v.ffr > 0.8));
    expect(report).toMatchObject({
      estimable: false,
      reason: 'no-diseased-vessels',
      vessels: 11,
      diseasedVessels: 0,
      patients: 8,
    });
  });

  it('one patient: AUC and DeLong interval, Obuchowski interval null with its reason', () => {
    const report = vesselAucReport(vectorA.map((v) => ({ ...v, patientId: 'P00' })));
    if (!report.estimable) throw new Error('estimable');
    expect(report.ci95.delong).not.toBeNull();
    expect(report.ci95.obuchowski).toBeNull();
    expect(report.notEstimable.obuchowski).toMatch(/at least 2 patients/);
  });

  it('uses the threshold given (FFR ≤ 0.75 as reference)', () => {
    const report = vesselAucReport(vectorA, 0.75);
    expect(report).toMatchObject({ estimable: true, diseasedVessels: 5 });
  });
});
