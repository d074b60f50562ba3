/**
 * Label-free accuracy (label-free-accuracy.ts) against an independent oracle:
 *  - fixtures/label-free-oracle-python.json: `/usr/bin/python3 src/stats/fixtures/oracle/label-free-oracle.py
 *    src/stats/fixtures` (statsmodels 0.13.5 Logit for ridge 0, scipy 1.10.1 BFGS on the penalised likelihood for
 *    ridge 1, numpy weights / Hájek ratio / clustered SE, scipy mannwhitneyu AUC);
 *  - inputs: fixtures/label-free-samples.csv (`oracle/label-free-dataset.py`, numpy seed 20261127).
 * Tolerances: coefficients 1e-6 absolute (BFGS stops at gradient 1e-10; statsmodels Newton at 1e-12), weights and
 * estimates 1e-6 relative, shares exact. A seeded Monte Carlo checks the bootstrap CI's coverage of the true current
 * expected error. Provenance: fixtures/README-label-free-accuracy.md.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sampleBeta, sampleStandardNormal, seededRandom } from './distributions';
import {
  buildDesign,
  compareWithLabels,
  coverageSummary,
  estimateLabelFreeAccuracy,
  realisedAccuracy,
  type CaseCovariates,
  type CovariateSpec,
  type LabelledCase,
} from './label-free-accuracy';

interface OracleRun {
  case: string;
  spec: 'small' | 'full';
  ridge: number;
  columns: string[];
  droppedConstant: string[];
  baselineLevels: Record<string, string>;
  unsupportedLevels: string[];
  coefficients: number[];
  referenceWeights: number[];
  effectiveSampleSize: number;
  labelledReferenceCases: number;
  metrics: Record<
    'meanAbsoluteError' | 'discordanceRate',
    { estimate: number; standardError: number | null; referenceValue: number }
  >;
  realisedOnReference: Record<
    'meanAbsoluteError' | 'discordanceRate',
    { estimate: number; standardError: number | null }
  >;
  domainAuc: number;
  unsupportedCurrentShare: number;
  outsideReferenceRangeShare: number;
  weightMaxShare: number;
}

const fixtures = join(__dirname, 'fixtures');
const oracle = JSON.parse(readFileSync(join(fixtures, 'label-free-oracle-python.json'), 'utf8')) as {
  runs: OracleRun[];
};
const csvRows = readFileSync(join(fixtures, 'label-free-samples.csv'), 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((line) => {
    const [caseName, group, cluster, hr, slice, age, kv, vendor, stratum, ct, inv] = line.split(',');
    return { caseName, group, cluster, hr, slice, age, kv, vendor, stratum, ct, inv };
  });

const SPECS: Record<'small' | 'full', CovariateSpec> = {
  small: { numeric: ['hr', 'age'], categorical: ['vendor'] },
  full: { numeric: ['hr', 'slice', 'age', 'kv'], categorical: ['vendor'] },
};

function casesOf(caseName: string, specName: 'small' | 'full') {
  const spec = SPECS[specName];
  const toCase = (r: (typeof csvRows)[number]): LabelledCase => ({
    numeric: spec.numeric.map((n) => Number(r[n as 'hr' | 'slice' | 'age' | 'kv'])),
    categorical: [r.vendor],
    cluster: r.cluster,
    verificationStratum: r.stratum,
    label: r.inv === '' ? null : { ctFfr: Number(r.ct), invasiveFfr: Number(r.inv) },
  });
  const reference = csvRows.filter((r) => r.caseName === caseName && r.group === 'reference').map(toCase);
  const current: CaseCovariates[] = csvRows
    .filter((r) => r.caseName === caseName && r.group === 'current')
    .map((r) => {
      const { numeric, categorical, cluster } = toCase(r);
      return { numeric, categorical, cluster };
    });
  return { spec, reference, current };
}

function relClose(actual: number, expected: number, tolerance: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(expected)));
}

describe('label-free accuracy vs the Python oracle', () => {
  it.each(oracle.runs.map((r) => [`${r.case} / ${r.spec} / ridge ${r.ridge}`, r] as const))(
    '%s',
    (_, run) => {
      const { spec, reference, current } = casesOf(run.case, run.spec);
      const result = estimateLabelFreeAccuracy(spec, reference, current, { ridge: run.ridge, bootstrap: 0 });
      expect(result.notEstimable).toBeNull();
      expect(result.classifier.columns).toEqual(run.columns);
      expect(result.design.droppedConstant).toEqual(run.droppedConstant);
      expect(result.design.baselineLevels).toEqual(run.baselineLevels);
      expect(result.design.unsupportedLevels).toEqual(run.unsupportedLevels);
      expect(result.classifier.converged).toBe(true);
      result.classifier.coefficients.forEach((b, j) =>
        expect(Math.abs(b - run.coefficients[j])).toBeLessThan(1e-6),
      );
      expect(result.labelledReferenceCases).toBe(run.labelledReferenceCases);
      relClose(result.effectiveSampleSize, run.effectiveSampleSize, 1e-6);
      for (const metric of ['meanAbsoluteError', 'discordanceRate'] as const) {
        relClose(result.metrics[metric].estimate, run.metrics[metric].estimate, 1e-6);
        relClose(result.metrics[metric].referenceValue, run.metrics[metric].referenceValue, 1e-9);
        const se = run.metrics[metric].standardError;
        if (se === null) expect(result.metrics[metric].standardError).toBeNaN();
        else relClose(result.metrics[metric].standardError, se, 1e-6);
      }
      relClose(result.classifier.domainAuc, run.domainAuc, 1e-9);
      expect(result.unsupportedCurrentShare).toBeCloseTo(run.unsupportedCurrentShare, 15);
      expect(result.outsideReferenceRangeShare).toBeCloseTo(run.outsideReferenceRangeShare, 15);
      expect(result.extrapolating).toBe(run.unsupportedCurrentShare > 0);
      relClose(result.weightSummary.maxShare, run.weightMaxShare, 1e-6);

      const realised = realisedAccuracy(reference);
      for (const metric of ['meanAbsoluteError', 'discordanceRate'] as const) {
        relClose(realised.metrics[metric].estimate, run.realisedOnReference[metric].estimate, 1e-12);
        const se = run.realisedOnReference[metric].standardError;
        if (se === null) expect(realised.metrics[metric].standardError).toBeNaN();
        else relClose(realised.metrics[metric].standardError, se, 1e-9);
      }
    },
  );
});

describe('label-free accuracy: edge cases', () => {
  it('no shift (current = the reference covariates): every weight is 1 and the estimate is the reference value', () => {
    const { spec, reference, current } = casesOf('identical', 'full');
    const result = estimateLabelFreeAccuracy(spec, reference, current, { bootstrap: 0 });
    result.classifier.coefficients.forEach((b) => expect(Math.abs(b)).toBeLessThan(1e-12));
    expect(result.weightSummary.min).toBeCloseTo(1, 12);
    expect(result.weightSummary.max).toBeCloseTo(1, 12);
    expect(result.classifier.domainAuc).toBeCloseTo(0.5, 12);
    for (const metric of ['meanAbsoluteError', 'discordanceRate'] as const) {
      expect(result.metrics[metric].estimate).toBeCloseTo(result.metrics[metric].referenceValue, 12);
    }
  });

  it('n = 0 and no labels are reported as not estimable, never as a number', () => {
    const { spec, reference, current } = casesOf('hr-shift', 'small');
    expect(estimateLabelFreeAccuracy(spec, [], current).notEstimable).toBe('empty-reference');
    expect(estimateLabelFreeAccuracy(spec, reference, []).notEstimable).toBe('empty-current');
    const unlabelled = reference.map((c) => ({ ...c, label: null }));
    const none = estimateLabelFreeAccuracy(spec, unlabelled, current);
    expect(none.notEstimable).toBe('no-labelled-reference');
    expect(none.metrics.meanAbsoluteError.estimate).toBeNaN();
  });

  it('a current sample made only of an unseen vendor has no support at all', () => {
    const { spec, reference, current } = casesOf('new-vendor', 'full');
    const onlyNew = current.filter((c) => c.categorical![0] === 'Neusoft');
    expect(onlyNew.length).toBeGreaterThan(0);
    const result = estimateLabelFreeAccuracy(spec, reference, onlyNew);
    expect(result.notEstimable).toBe('no-supported-current');
  });

  it('degenerate covariates: a constant column is dropped, a single-level categorical adds no column', () => {
    const { spec, reference, current } = casesOf('single-level', 'full');
    const design = buildDesign(spec, reference, current);
    expect(design.droppedConstant).toEqual(['slice', 'kv']);
    expect(design.columns.map((c) => c.name)).toEqual(['hr', 'age']);
    const result = estimateLabelFreeAccuracy(spec, reference, current, { bootstrap: 50 });
    // One labelled case: the estimate is its loss, ESS 1, no SE (one cluster); the bootstrap CI collapses on it.
    expect(result.effectiveSampleSize).toBeCloseTo(1, 12);
    expect(result.metrics.meanAbsoluteError.standardError).toBeNaN();
  });

  it('rejects misaligned or non-finite covariates', () => {
    const spec: CovariateSpec = { numeric: ['hr'], categorical: [] };
    const ok: LabelledCase = { numeric: [60], label: { ctFfr: 0.8, invasiveFfr: 0.82 } };
    expect(() => estimateLabelFreeAccuracy(spec, [ok], [{ numeric: [Number.NaN] }])).toThrow(/not finite/);
    expect(() => estimateLabelFreeAccuracy(spec, [ok], [{ numeric: [60, 1] }])).toThrow(/numeric covariates/);
  });

  it('the bootstrap is reproducible from its seed and its CI brackets the estimate', () => {
    const { spec, reference, current } = casesOf('hr-shift', 'small');
    const a = estimateLabelFreeAccuracy(spec, reference, current, { bootstrap: 100, seed: 7 });
    const b = estimateLabelFreeAccuracy(spec, reference, current, { bootstrap: 100, seed: 7 });
    expect(a.metrics).toEqual(b.metrics);
    const mae = a.metrics.meanAbsoluteError;
    expect(mae.ci.method).toBe('bootstrap-percentile');
    expect(mae.ci.lower).toBeLessThan(mae.estimate);
    expect(mae.ci.upper).toBeGreaterThan(mae.estimate);
    // The shifted population has faster heart rates and larger errors: the estimate moves up from the reference value.
    expect(mae.estimate).toBeGreaterThan(mae.referenceValue);
    expect(a.classifier.domainAuc).toBeGreaterThan(0.7);
  });
});

// ---------------------------------------------------------------------------------------------------------------------
// Coverage of the bootstrap CI (the property the estimate's users rely on)
// ---------------------------------------------------------------------------------------------------------------------

/**
 * A heart-rate shift as in ctffr-evidence.md §4.4: error SD × (1 + 0.04·max(0, HR − 65)); §4.3 error model otherwise;
 * the reference is fully labelled here (a pivotal dataset), the current period's labels are drawn for the comparison.
 */
function simulatePeriod(
  random: ReturnType<typeof seededRandom>,
  patients: number,
  hrMean: number,
  prefix: string,
) {
  const cases: LabelledCase[] = [];
  for (let i = 0; i < patients; i++) {
    const hr = hrMean + 8 * sampleStandardNormal(random);
    const ffr = Math.min(1, sampleBeta(random, 7.6, 1.67));
    const sd = (0.035 + 0.2 * (1 - ffr)) * (1 + 0.04 * Math.max(0, hr - 65));
    const ct = 0.82 + 0.85 * (ffr - 0.82) - 0.025 + sd * sampleStandardNormal(random);
    const inv = ffr + 0.0127 * sampleStandardNormal(random);
    cases.push({ numeric: [hr], cluster: `${prefix}${i}`, label: { ctFfr: ct, invasiveFfr: inv } });
  }
  return cases;
}

describe('label-free accuracy: coverage of the true current error (seeded Monte Carlo)', () => {
  it('the 95% bootstrap CI covers the current expected absolute error in most replicates, and compareWithLabels agrees', () => {
    const random = seededRandom(20261127);
    const spec: CovariateSpec = { numeric: ['hr'], categorical: [] };
    // The truth: a large current sample's mean absolute error.
    const truthSample = simulatePeriod(random, 20_000, 71, 't');
    const truth =
      truthSample.reduce((s, c) => s + Math.abs(c.label!.ctFfr - c.label!.invasiveFfr), 0) /
      truthSample.length;
    const replicates = 30;
    let covered = 0;
    const comparisons = [];
    for (let r = 0; r < replicates; r++) {
      const reference = simulatePeriod(random, 400, 63, 'r');
      const currentWithLabels = simulatePeriod(random, 300, 71, 'c');
      const current = currentWithLabels.map(({ numeric, cluster }) => ({ numeric, cluster }));
      const estimate = estimateLabelFreeAccuracy(spec, reference, current, { bootstrap: 100, seed: r + 1 });
      const ci = estimate.metrics.meanAbsoluteError.ci;
      if (truth >= ci.lower && truth <= ci.upper) covered++;
      comparisons.push(compareWithLabels(estimate, realisedAccuracy(currentWithLabels), 'meanAbsoluteError'));
    }
    // 95% nominal; with 30 replicates, P(fewer than 25 covered | coverage 0.95) = 0.003 (binomial).
    expect(covered).toBeGreaterThanOrEqual(25);
    const summary = coverageSummary(comparisons);
    expect(summary.periods).toBe(replicates);
    // The realised value has its own sampling error, so it falls inside the estimate's CI somewhat less often.
    expect(summary.coverage).toBeGreaterThan(0.7);
    expect(Math.abs(summary.meanDifference)).toBeLessThan(0.005);
    expect(summary.ci.lower).toBeLessThanOrEqual(summary.coverage);
  });
});
