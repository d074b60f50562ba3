import { normalQuantile, seededRandom } from '../stats/distributions';
import {
  chooseCovariates,
  labelFreeAccuracyReport,
  MINIMUM_COVARIATE_PRESENCE,
  toCases,
  VesselCaseRow,
} from './label-free-accuracy';

/**
 * A heart-rate shift with an error that grows with heart rate (motion artefacts): the reference's accuracy no longer
 * describes the period, the label-free estimate must, and the period's labels — verified mostly where CT-FFR was low,
 * as in the field — must agree with it.
 */
function simulate(
  seed: number,
  count: number,
  heartRateMean: number,
  options: { newVendorShare?: number; verifyAll?: boolean; missingBmiShare?: number } = {},
): VesselCaseRow[] {
  const random = seededRandom(seed);
  const normal = () => normalQuantile(Math.min(1 - 1e-12, Math.max(1e-12, random.nextUniform())));
  const rows: VesselCaseRow[] = [];
  for (let i = 0; i < count; i += 1) {
    const heartRateBpm = heartRateMean + 8 * normal();
    const errorSd = Math.max(0.01, 0.04 + 0.003 * (heartRateBpm - 65));
    const invasiveFfr = Math.min(1, Math.max(0.4, 0.6 + 0.35 * random.nextUniform()));
    const ctFfr = Math.round(Math.min(1, Math.max(0, invasiveFfr + errorSd * normal())) * 100) / 100;
    const referred = random.nextUniform() < (ctFfr <= 0.8 ? 0.7 : 0.2);
    rows.push({
      cluster: `p${seed}-${i}`,
      ctFfr,
      invasiveFfr: options.verifyAll || referred ? Math.round(invasiveFfr * 100) / 100 : null,
      heartRateBpm,
      sliceThicknessMm: 0.5 + 0.125 * random.nextInt(3),
      tubeVoltageKv: 100 + 20 * random.nextInt(2),
      agatstonScore: Math.floor(400 * random.nextUniform() ** 3),
      bmi: random.nextUniform() < (options.missingBmiShare ?? 0) ? null : 27 + 4 * normal(),
      ageYears: Math.round(60 + 9 * normal()),
      imageQualityScore: 3 + random.nextInt(3),
      sex: random.nextUniform() < 0.6 ? 'M' : 'F',
      scannerVendor:
        random.nextUniform() < (options.newVendorShare ?? 0)
          ? 'Neusoft'
          : random.nextUniform() < 0.5
            ? 'Siemens'
            : 'GE',
    });
  }
  return rows;
}

/** What every vessel's invasive FFR would show: the period's true mean absolute error. */
const meanAbsoluteError = (rows: readonly VesselCaseRow[]) =>
  rows.reduce((sum, r) => sum + Math.abs(r.ctFfr - (r.invasiveFfr as number)), 0) / rows.length;

describe('label-free accuracy per period', () => {
  const reference = simulate(1, 700, 65);
  const shifted = simulate(2, 500, 75);
  // The same vessels, every one verified: the truth the estimate is for.
  const truth = meanAbsoluteError(simulate(2, 500, 75, { verifyAll: true }));

  it('estimates a shifted period’s error from its covariates, and its labels later agree', () => {
    const report = labelFreeAccuracyReport({
      threshold: 0.8,
      reference,
      periods: [
        {
          from: '2026-01-01T00:00:00.000Z',
          to: '2026-01-31T00:00:00.000Z',
          labelsMature: true,
          rows: shifted,
        },
        {
          from: '2026-01-31T00:00:00.000Z',
          to: '2026-03-02T00:00:00.000Z',
          labelsMature: false,
          rows: shifted,
        },
      ],
      bootstrap: 60,
      seed: 1,
    });
    expect(report.covariates.dropped).toEqual([]);
    expect(report.covariates.used).toEqual(
      expect.arrayContaining(['ctFfr', 'heartRateBpm', 'sex', 'scannerVendor']),
    );
    const [mature, immature] = report.periods;
    if (mature.estimate.notEstimable !== null) throw new Error('not estimable');
    const mae = mature.estimate.meanAbsoluteError;
    // The reference alone understates the period's error (it lies below the truth's CI); the weighted estimate
    // covers the truth.
    expect(mae.referenceValue as number).toBeLessThan(mae.ci95.lower as number);
    expect(mae.ci95.lower as number).toBeLessThanOrEqual(truth);
    expect(mae.ci95.upper as number).toBeGreaterThanOrEqual(truth);
    expect(mae.ci95.method).toBe('bootstrap-percentile');
    expect(mature.estimate.domainAuc).toBeGreaterThan(0.65);
    expect(mature.labelledVessels).toBe(shifted.filter((r) => r.invasiveFfr !== null).length);
    if (!('meanAbsoluteError' in mature.realised)) throw new Error('no realised accuracy');
    expect(mature.comparison?.meanAbsoluteError).toMatchObject({ covered: true, consistent: true });
    expect(mature.comparison?.meanAbsoluteError.differenceCi95.lower).toBeLessThan(0);
    expect(mature.comparison?.meanAbsoluteError.differenceCi95.upper).toBeGreaterThan(0);
    // Immature labels: the estimate stands alone, and coverage counts only the mature period.
    expect(immature.realised).toEqual({ reason: 'labels_immature', labelledVessels: mature.labelledVessels });
    expect(immature.comparison).toBeNull();
    expect(report.coverage.meanAbsoluteError).toMatchObject({
      periods: 1,
      covered: 1,
      consistent: 1,
      coverage: 1,
    });
  });

  it('reproduces itself exactly (seeded bootstrap) and leaves the period’s labels out of the estimate', () => {
    const request = {
      threshold: 0.8,
      reference,
      periods: [{ from: 'a', to: 'b', labelsMature: false, rows: shifted }],
      bootstrap: 20,
      seed: 3,
    };
    const once = labelFreeAccuracyReport(request);
    expect(labelFreeAccuracyReport(request)).toEqual(once);
    const unlabelled = shifted.map((r) => ({ ...r, invasiveFfr: null }));
    const blind = labelFreeAccuracyReport({
      ...request,
      periods: [{ ...request.periods[0], rows: unlabelled }],
    });
    expect(blind.periods[0].estimate).toEqual(once.periods[0].estimate);
  });

  it('flags a period with a scanner vendor the reference never saw as extrapolating', () => {
    const report = labelFreeAccuracyReport({
      threshold: 0.8,
      reference,
      periods: [
        { from: 'a', to: 'b', labelsMature: true, rows: simulate(4, 300, 65, { newVendorShare: 0.3 }) },
      ],
      bootstrap: 0,
      seed: 1,
    });
    expect(report.periods[0].estimate).toMatchObject({ notEstimable: null, extrapolating: true });
    const share = (report.periods[0].estimate as { unsupportedCurrentShare: number }).unsupportedCurrentShare;
    expect(share).toBeGreaterThan(0.2);
    expect(share).toBeLessThan(0.4);
  });

  it('says why a period has no realised accuracy, and what an empty period cannot estimate', () => {
    const report = labelFreeAccuracyReport({
      threshold: 0.8,
      reference,
      periods: [
        { from: 'a', to: 'b', labelsMature: true, rows: simulate(5, 20, 65) },
        { from: 'b', to: 'c', labelsMature: true, rows: [] },
      ],
      bootstrap: 0,
      seed: 1,
    });
    expect(report.periods[0].realised).toMatchObject({ reason: 'too_few_labels' });
    expect(report.periods[1].estimate).toEqual({ notEstimable: 'empty-current' });
    expect(report.coverage.discordanceRate).toMatchObject({ periods: 0, coverage: null });
  });

  it('uses a numeric covariate only when the reference carries it, and leaves out cases missing one in use', () => {
    const patchy = simulate(6, 400, 65, { missingBmiShare: 0.2 });
    const { spec, dropped } = chooseCovariates(patchy);
    expect(dropped).toEqual(['bmi']);
    expect(spec.numeric).not.toContain('bmi');
    const complete = chooseCovariates(simulate(7, 400, 65, { missingBmiShare: 0 })).spec;
    const { cases, excluded } = toCases(patchy, complete, 0.8);
    expect(excluded).toBe(patchy.filter((r) => r.bmi === null).length);
    expect(cases).toHaveLength(patchy.length - excluded);
    expect(excluded / patchy.length).toBeGreaterThan(1 - MINIMUM_COVARIATE_PRESENCE);
    // Verification strata by CT-FFR at the threshold (inclusive), for inverse-probability weighting.
    expect(new Set(cases.map((c) => c.verificationStratum))).toEqual(
      new Set(['ct-ffr-positive', 'ct-ffr-negative']),
    );
  });
});
