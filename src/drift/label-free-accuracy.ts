/**
 * Accuracy before the labels arrive, per period (issue 4 §4): the label-free estimate of src/stats/label-free-accuracy.ts
 * applied to a product's field data. Pure: the service reads the rows, this turns them into the report, and a worker
 * thread runs it (label-free-accuracy.task.ts) because the cluster bootstrap refits the domain classifier hundreds of
 * times.
 *
 * For each period the estimate uses only what is known when the period ends — its analyses' covariates — and the
 * reference's labelled vessels. The same period's realised accuracy (its own invasive FFR) is reported beside it once
 * its labels are mature, with the comparison; across mature periods, how often the realised value fell inside the
 * estimate's CI (coverage). A realised value outside the CI is evidence of concept drift — the error given the
 * covariates changed (a bad model version, a site-specific bias) — which covariate shift alone cannot produce.
 */
import {
  AccuracyMetric,
  ACCURACY_METRICS,
  CaseCovariates,
  compareWithLabels,
  CovariateSpec,
  coverageSummary,
  CoverageSummary,
  estimateLabelFreeAccuracy,
  LabelComparison,
  LabelFreeEstimate,
  LabelledCase,
  realisedAccuracy,
} from '../stats/label-free-accuracy';
import { isPositive } from '../stats/proportions';

/** One analysed vessel with its analysis's covariates and, when linked, its invasive FFR. */
export interface VesselCaseRow {
  /** The patient (or, for an imported dataset, the case): vessels of one patient share errors. */
  readonly cluster: string;
  readonly ctFfr: number;
  readonly invasiveFfr: number | null;
  readonly heartRateBpm: number | null;
  readonly sliceThicknessMm: number | null;
  readonly tubeVoltageKv: number | null;
  readonly agatstonScore: number | null;
  readonly bmi: number | null;
  readonly ageYears: number | null;
  readonly imageQualityScore: number | null;
  readonly sex: string | null;
  readonly scannerVendor: string | null;
}

/**
 * The covariates of the density ratio. CT-FFR itself is one: it is known before the label, and the discordance risk
 * depends on it (a vessel near the 0.80 cut-off is far likelier to be discordant), so a period with more vessels near the
 * threshold must weigh the reference's near-threshold vessels up. The Agatston score enters as log(1 + score): it is
 * heavily right-skewed (zero for many patients, thousands for a few), and the logistic tilt is far closer to exact on
 * the log scale.
 */
const NUMERIC_COVARIATES: ReadonlyArray<{ name: string; read: (row: VesselCaseRow) => number | null }> = [
  { name: 'ctFfr', read: (r) => r.ctFfr },
  { name: 'heartRateBpm', read: (r) => r.heartRateBpm },
  { name: 'sliceThicknessMm', read: (r) => r.sliceThicknessMm },
  { name: 'tubeVoltageKv', read: (r) => r.tubeVoltageKv },
  {
    name: 'log1pAgatston',
    read: (r) => (r.agatstonScore === null ? null : Math.log1p(Math.max(0, r.agatstonScore))),
  },
  { name: 'bmi', read: (r) => r.bmi },
  { name: 'ageYears', read: (r) => r.ageYears },
  { name: 'imageQualityScore', read: (r) => r.imageQualityScore },
];
const CATEGORICAL_COVARIATES: ReadonlyArray<{ name: string; read: (row: VesselCaseRow) => string | null }> = [
  { name: 'sex', read: (r) => r.sex },
  { name: 'scannerVendor', read: (r) => r.scannerVendor },
];

/**
 * A numeric covariate is used when at least this share of the reference's vessels carry it: an imported pivotal
 * dataset may lack a column entirely, and a covariate missing for most cases would exclude most cases.
 */
export const MINIMUM_COVARIATE_PRESENCE = 0.95;
/** Realised accuracy needs this many labelled vessels in the period (else `too_few_labels`). */
export const MINIMUM_LABELLED_FOR_REALISED = 30;

export interface PeriodInput {
  readonly from: string;
  readonly to: string;
  /** The period ended at least the label maturity before now: its labels are (nearly) all in. */
  readonly labelsMature: boolean;
  readonly rows: readonly VesselCaseRow[];
}

export interface LabelFreeRequest {
  readonly threshold: number;
  readonly reference: readonly VesselCaseRow[];
  readonly periods: readonly PeriodInput[];
  readonly bootstrap: number;
  readonly seed: number;
}

type Interval = { lower: number | null; upper: number | null };

export interface PeriodMetricEstimate {
  readonly estimate: number | null;
  readonly ci95: Interval & { method: 'bootstrap-percentile' | 'linearisation' };
  readonly standardError: number | null;
  /** What the reference's labelled vessels show without the shift weights: the "nothing changed" value. */
  readonly referenceValue: number | null;
}

export interface PeriodReport {
  readonly from: string;
  readonly to: string;
  /** Completed analyses' vessels of the period, and how many lacked a covariate the estimate uses. */
  readonly vessels: number;
  readonly excludedMissingCovariates: number;
  readonly labelledVessels: number;
  readonly labelsMature: boolean;
  readonly estimate:
    | {
        readonly notEstimable: null;
        readonly meanAbsoluteError: PeriodMetricEstimate;
        readonly discordanceRate: PeriodMetricEstimate;
        readonly effectiveSampleSize: number;
        readonly domainAuc: number | null;
        readonly extrapolating: boolean;
        readonly unsupportedCurrentShare: number | null;
        readonly outsideReferenceRangeShare: number | null;
        readonly maxWeightShare: number | null;
        readonly bootstrap: { replicates: number; failed: number; seed: number };
      }
    | { readonly notEstimable: string };
  readonly realised:
    | {
        readonly labelledVessels: number;
        readonly meanAbsoluteError: { estimate: number | null; ci95: Interval };
        readonly discordanceRate: { estimate: number | null; ci95: Interval };
      }
    | { readonly reason: 'labels_immature' | 'too_few_labels'; readonly labelledVessels: number };
  readonly comparison: Record<AccuracyMetric, ComparisonReport> | null;
}

export interface ComparisonReport {
  readonly estimated: number | null;
  readonly realised: number | null;
  readonly difference: number | null;
  readonly differenceCi95: Interval;
  readonly pValue: number | null;
  /** The realised value lies inside the estimate's 95% CI. */
  readonly covered: boolean;
  /**
   * The difference's 95% CI contains 0: the labels do not contradict the estimate once their own sampling error is
   * counted. `covered` ignores that error, so with a few hundred labels it misses more often than 5% when nothing
   * changed; this is the verdict to act on.
   */
  readonly consistent: boolean;
}

export interface LabelFreeReport {
  readonly covariates: { readonly used: string[]; readonly dropped: string[] };
  readonly reference: {
    readonly vessels: number;
    readonly labelledVessels: number;
    readonly excluded: number;
  };
  readonly periods: PeriodReport[];
  readonly coverage: Record<AccuracyMetric, CoverageReport>;
}

export interface CoverageReport {
  readonly periods: number;
  readonly covered: number;
  /** Periods whose labels were consistent with the estimate (ComparisonReport.consistent). */
  readonly consistent: number;
  readonly coverage: number | null;
  readonly ci95Wilson: Interval;
  readonly meanDifference: number | null;
}

const finite = (value: number): number | null => (Number.isFinite(value) ? value : null);
const interval = (lower: number, upper: number): Interval => ({ lower: finite(lower), upper: finite(upper) });

/** The covariates the reference supports: numeric ones present often enough, every categorical one. */
export function chooseCovariates(reference: readonly VesselCaseRow[]): {
  spec: CovariateSpec;
  dropped: string[];
} {
  const numeric: string[] = [];
  const dropped: string[] = [];
  for (const covariate of NUMERIC_COVARIATES) {
    const present = reference.filter((row) => {
      const value = covariate.read(row);
      return value !== null && Number.isFinite(value);
    }).length;
    if (reference.length > 0 && present / reference.length >= MINIMUM_COVARIATE_PRESENCE)
      numeric.push(covariate.name);
    else dropped.push(covariate.name);
  }
  return { spec: { numeric, categorical: CATEGORICAL_COVARIATES.map((c) => c.name) }, dropped };
}

/**
 * Cases of the estimator. Verification stratum: CT-FFR at or below the threshold or above it — invasive FFR is
 * measured mostly where CT-FFR was low (ctffr-evidence.md §4.7), so labels are missing at random given that stratum,
 * not completely at random (inverse-probability weighting, statistics.md §9). A missing categorical value is its own
 * level; a case missing a numeric covariate in use is left out and counted.
 */
export function toCases(
  rows: readonly VesselCaseRow[],
  spec: CovariateSpec,
  threshold: number,
): { cases: LabelledCase[]; excluded: number } {
  const numericReaders = spec.numeric.map((name) => NUMERIC_COVARIATES.find((c) => c.name === name)!.read);
  const categoricalReaders = spec.categorical.map(
    (name) => CATEGORICAL_COVARIATES.find((c) => c.name === name)!.read,
  );
  const cases: LabelledCase[] = [];
  let excluded = 0;
  for (const row of rows) {
    const numeric = numericReaders.map((read) => read(row));
    if (numeric.some((value) => value === null || !Number.isFinite(value))) {
      excluded += 1;
      continue;
    }
    cases.push({
      numeric: numeric as number[],
      categorical: categoricalReaders.map((read) => read(row) ?? 'unknown'),
      cluster: row.cluster,
      label: row.invasiveFfr === null ? null : { ctFfr: row.ctFfr, invasiveFfr: row.invasiveFfr },
      verificationStratum: isPositive(row.ctFfr, threshold) ? 'ct-ffr-positive' : 'ct-ffr-negative',
    });
  }
  return { cases, excluded };
}

function metricEstimate(estimate: LabelFreeEstimate, metric: AccuracyMetric): PeriodMetricEstimate {
  const m = estimate.metrics[metric];
  return {
    estimate: finite(m.estimate),
    ci95: { ...interval(m.ci.lower, m.ci.upper), method: m.ci.method },
    standardError: finite(m.standardError),
    referenceValue: finite(m.referenceValue),
  };
}

function comparisonReport(comparison: LabelComparison): ComparisonReport {
  return {
    estimated: finite(comparison.estimated),
    realised: finite(comparison.realised),
    difference: finite(comparison.difference),
    differenceCi95: interval(comparison.differenceCi.lower, comparison.differenceCi.upper),
    pValue: finite(comparison.pValue),
    covered: comparison.covered,
    consistent: comparison.differenceCi.lower <= 0 && comparison.differenceCi.upper >= 0,
  };
}

function coverageReport(summary: CoverageSummary, comparisons: readonly LabelComparison[]): CoverageReport {
  return {
    periods: summary.periods,
    covered: summary.covered,
    consistent: comparisons.filter((c) => comparisonReport(c).consistent).length,
    coverage: finite(summary.coverage),
    ci95Wilson: interval(summary.ci.lower, summary.ci.upper),
    meanDifference: finite(summary.meanDifference),
  };
}

export function labelFreeAccuracyReport(request: LabelFreeRequest): LabelFreeReport {
  const { spec, dropped } = chooseCovariates(request.reference);
  const reference = toCases(request.reference, spec, request.threshold);
  const comparisons: Record<AccuracyMetric, LabelComparison[]> = {
    meanAbsoluteError: [],
    discordanceRate: [],
  };
  const periods = request.periods.map((period): PeriodReport => {
    const current = toCases(period.rows, spec, request.threshold);
    const labelledVessels = current.cases.filter((c) => c.label !== null).length;
    // The estimator sees the period's covariates only: its labels are stripped before the call.
    const covariatesOnly: CaseCovariates[] = current.cases.map(({ numeric, categorical, cluster }) => ({
      numeric,
      categorical,
      cluster,
    }));
    const estimate = estimateLabelFreeAccuracy(spec, reference.cases, covariatesOnly, {
      bootstrap: request.bootstrap,
      seed: request.seed,
      threshold: request.threshold,
    });
    let realised: PeriodReport['realised'];
    let comparison: PeriodReport['comparison'] = null;
    if (!period.labelsMature) realised = { reason: 'labels_immature', labelledVessels };
    else if (labelledVessels < MINIMUM_LABELLED_FOR_REALISED)
      realised = { reason: 'too_few_labels', labelledVessels };
    else {
      const shown = realisedAccuracy(current.cases, { threshold: request.threshold });
      realised = {
        labelledVessels: shown.labelledCases,
        meanAbsoluteError: {
          estimate: finite(shown.metrics.meanAbsoluteError.estimate),
          ci95: interval(shown.metrics.meanAbsoluteError.ci.lower, shown.metrics.meanAbsoluteError.ci.upper),
        },
        discordanceRate: {
          estimate: finite(shown.metrics.discordanceRate.estimate),
          ci95: interval(shown.metrics.discordanceRate.ci.lower, shown.metrics.discordanceRate.ci.upper),
        },
      };
      if (estimate.notEstimable === null) {
        const byMetric = {} as Record<AccuracyMetric, ComparisonReport>;
        for (const metric of ACCURACY_METRICS) {
          const compared = compareWithLabels(estimate, shown, metric);
          comparisons[metric].push(compared);
          byMetric[metric] = comparisonReport(compared);
        }
        comparison = byMetric;
      }
    }
    return {
      from: period.from,
      to: period.to,
      vessels: period.rows.length,
      excludedMissingCovariates: current.excluded,
      labelledVessels,
      labelsMature: period.labelsMature,
      estimate:
        estimate.notEstimable !== null
          ? { notEstimable: estimate.notEstimable }
          : {
              notEstimable: null,
              meanAbsoluteError: metricEstimate(estimate, 'meanAbsoluteError'),
              discordanceRate: metricEstimate(estimate, 'discordanceRate'),
              effectiveSampleSize: estimate.effectiveSampleSize,
              domainAuc: finite(estimate.classifier.domainAuc),
              extrapolating: estimate.extrapolating,
              unsupportedCurrentShare: finite(estimate.unsupportedCurrentShare),
              outsideReferenceRangeShare: finite(estimate.outsideReferenceRangeShare),
              maxWeightShare: finite(estimate.weightSummary.maxShare),
              bootstrap: estimate.bootstrap,
            },
      realised,
      comparison,
    };
  });
  return {
    covariates: { used: [...spec.numeric, ...spec.categorical], dropped },
    reference: {
      vessels: request.reference.length,
      labelledVessels: reference.cases.filter((c) => c.label !== null).length,
      excluded: reference.excluded,
    },
    periods,
    coverage: {
      meanAbsoluteError: coverageReport(
        coverageSummary(comparisons.meanAbsoluteError),
        comparisons.meanAbsoluteError,
      ),
      discordanceRate: coverageReport(
        coverageSummary(comparisons.discordanceRate),
        comparisons.discordanceRate,
      ),
    },
  };
}
