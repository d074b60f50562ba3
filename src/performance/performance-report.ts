import { blandAltmanReport } from '../stats/agreement';
import { calibration } from '../stats/calibration';
import { vesselCorrelation } from '../stats/correlation';
import { accuracyByCtFfrBand, BandAccuracy, grayZoneAccuracy } from '../stats/gray-zone';
import { collapseToPatients, confusionMatrix, LinkedVessel, ProportionResult } from '../stats/proportions';
import { Interval, vesselAucReport, VesselReading } from '../stats/roc';
import { PERFORMANCE_RULES } from './performance-rules';

/** `{ estimate: null, reason, n }`: what the API prints instead of a number that would mislead. */
export interface InsufficientData {
  estimate: null;
  reason: 'insufficient_data';
  n: number;
  detail?: string;
}

export interface ProportionFigure {
  estimate: number;
  n: number;
  successes: number;
  ci95: { wilson: Interval; clopperPearson: Interval; cluster: Interval | null };
}

export interface AccuracyFigures {
  vessels: number;
  patients: number;
  tp: number;
  fp: number;
  tn: number;
  fn: number;
  sensitivity: ProportionFigure | InsufficientData;
  specificity: ProportionFigure | InsufficientData;
  ppv: ProportionFigure | InsufficientData;
  npv: ProportionFigure | InsufficientData;
  accuracy: ProportionFigure | InsufficientData;
}

export interface PerformanceFigures extends AccuracyFigures {
  threshold: number;
  auc:
    | { estimate: number; n: number; ci95: { delong: Interval | null; obuchowski: Interval | null } }
    | InsufficientData;
  blandAltman:
    | {
        n: number;
        bias: number;
        biasCi95: Interval;
        sd: number;
        loa: Interval;
        loaCi95: { lower: Interval; upper: Interval };
        /** Bland & Altman 2007 limits, vessels clustered in patients. */
        loaRepeated: Interval | null;
        /**
         * Zou (2013) MOVER 95% CIs of the repeated-measures limits; `limits` are Zou's estimates of those limits, which
         * the CIs surround (= loaRepeated when every patient has the same number of vessels). See methods.blandAltman.
         */
        loaRepeatedCi95: { limits: Interval; lower: Interval; upper: Interval } | null;
        /** 95% CI of `bias` with the patient-clustered (sandwich) SE, t(patients − 1). */
        biasCi95Clustered: Interval | null;
        proportionalBias: { slope: number; ci95: Interval; pValue: number } | null;
      }
    | InsufficientData;
  pearson: CorrelationFigure | InsufficientData;
  spearman: CorrelationFigure | InsufficientData;
  calibration:
    | {
        n: number;
        intercept: { estimate: number; ci95: Interval; ci95Clustered: Interval | null };
        slope: { estimate: number; ci95: Interval; ci95Clustered: Interval | null };
        model: string;
      }
    | InsufficientData;
  grayZone: {
    low: number;
    high: number;
    vessels: number;
    accuracy: number | null;
    accuracyFigure: ProportionFigure | InsufficientData;
  };
  accuracyByCtFfrBand: Array<{
    band: string;
    vessels: number;
    accuracy: ProportionFigure | InsufficientData;
  }>;
  perPatient: AccuracyFigures;
  methods: Record<string, string>;
}

export interface CorrelationFigure {
  estimate: number;
  n: number;
  ci95: Interval;
}

export interface ReportingMinimums {
  minimumProportionN: number;
  minimumAucPerClass: number;
  minimumPairs: number;
}

export function proportionFigure(
  result: ProportionResult,
  minimums: ReportingMinimums,
): ProportionFigure | InsufficientData {
  if (!result.estimable || result.n < minimums.minimumProportionN) {
    return { estimate: null, reason: 'insufficient_data', n: result.n };
  }
  const cluster = result.ci95.cluster;
  return {
    estimate: result.estimate,
    n: result.n,
    successes: result.successes,
    ci95: {
      wilson: result.ci95.wilson,
      clopperPearson: result.ci95.clopperPearson,
      cluster: 'estimable' in cluster ? null : cluster,
    },
  };
}

function accuracyFigures(
  vessels: readonly LinkedVessel[],
  threshold: number,
  minimums: ReportingMinimums,
): AccuracyFigures {
  const matrix = confusionMatrix(vessels, threshold);
  return {
    vessels: matrix.vessels,
    patients: matrix.patients,
    tp: matrix.tp,
    fp: matrix.fp,
    tn: matrix.tn,
    fn: matrix.fn,
    sensitivity: proportionFigure(matrix.sensitivity, minimums),
    specificity: proportionFigure(matrix.specificity, minimums),
    ppv: proportionFigure(matrix.ppv, minimums),
    npv: proportionFigure(matrix.npv, minimums),
    accuracy: proportionFigure(matrix.accuracy, minimums),
  };
}

/**
 * Diagnostic performance of CT-FFR against invasive FFR on a set of linked vessels, in the shape of
 * DESIGN.md §5 (`overall` / `groups[i]`). Pure: every figure comes from src/stats, which is checked
 * against R and Python oracles; this function only chooses what to print and what to withhold.
 */
export function performanceFigures(
  vessels: readonly LinkedVessel[],
  threshold: number,
  minimums: ReportingMinimums = PERFORMANCE_RULES,
): PerformanceFigures {
  const readings: VesselReading[] = vessels.map((v) => ({
    patientId: v.patientId,
    ctffr: v.ctFfr,
    ffr: v.invasiveFfr,
  }));
  const perVessel = accuracyFigures(vessels, threshold, minimums);

  const aucReport = vesselAucReport(readings, threshold);
  const auc: PerformanceFigures['auc'] =
    aucReport.estimable &&
    aucReport.diseasedVessels >= minimums.minimumAucPerClass &&
    aucReport.nonDiseasedVessels >= minimums.minimumAucPerClass
      ? { estimate: aucReport.estimate, n: aucReport.vessels, ci95: aucReport.ci95 }
      : {
          estimate: null,
          reason: 'insufficient_data',
          n: aucReport.vessels,
          detail: `needs ≥ ${minimums.minimumAucPerClass} diseased and non-diseased vessels`,
        };

  const agreement = blandAltmanReport(readings);
  const blandAltman: PerformanceFigures['blandAltman'] =
    agreement.estimable && agreement.pairs >= minimums.minimumPairs
      ? {
          n: agreement.pairs,
          bias: agreement.bias,
          biasCi95: agreement.biasCi95,
          sd: agreement.sd,
          loa: agreement.loa,
          loaCi95: agreement.loaCi95,
          loaRepeated: agreement.loaRepeated,
          loaRepeatedCi95: agreement.loaRepeatedCi95,
          biasCi95Clustered: agreement.biasCi95Clustered,
          proportionalBias: agreement.proportionalBias
            ? {
                slope: agreement.proportionalBias.slope,
                ci95: agreement.proportionalBias.ci95,
                pValue: agreement.proportionalBias.pValue,
              }
            : null,
        }
      : { estimate: null, reason: 'insufficient_data', n: vessels.length };

  const correlations = vesselCorrelation(vessels);
  const correlationFigure = (
    result: (typeof correlations)['pearson'],
  ): CorrelationFigure | InsufficientData =>
    result.estimable && result.n >= minimums.minimumPairs
      ? { estimate: result.estimate, n: result.n, ci95: result.ci95 }
      : { estimate: null, reason: 'insufficient_data', n: result.n };
  const calibrationFit = calibration(vessels);
  const clusteredInterval = (coefficient: { clusterRobust: { ci95: Interval } | { estimable: false } }) =>
    'ci95' in coefficient.clusterRobust ? coefficient.clusterRobust.ci95 : null;
  const grayZone = grayZoneAccuracy(vessels, { ...PERFORMANCE_RULES.grayZone, threshold });
  const grayZoneFigure = proportionFigure(grayZone.accuracy, minimums);
  const bandFigure = (band: BandAccuracy) => ({
    band: band.label,
    vessels: band.vessels,
    accuracy: proportionFigure(band.accuracy, minimums),
  });

  return {
    threshold,
    ...perVessel,
    auc,
    blandAltman,
    pearson: correlationFigure(correlations.pearson),
    spearman: correlationFigure(correlations.spearman),
    calibration:
      calibrationFit.estimable && calibrationFit.n >= minimums.minimumPairs
        ? {
            n: calibrationFit.n,
            intercept: {
              estimate: calibrationFit.intercept.estimate,
              ci95: calibrationFit.intercept.ci95,
              ci95Clustered: clusteredInterval(calibrationFit.intercept),
            },
            slope: {
              estimate: calibrationFit.slope.estimate,
              ci95: calibrationFit.slope.ci95,
              ci95Clustered: clusteredInterval(calibrationFit.slope),
            },
            model: calibrationFit.model,
          }
        : { estimate: null, reason: 'insufficient_data', n: calibrationFit.n },
    grayZone: {
      low: PERFORMANCE_RULES.grayZone.low,
      high: PERFORMANCE_RULES.grayZone.high,
      vessels: grayZone.vessels,
      accuracy: grayZoneFigure.estimate,
      accuracyFigure: grayZoneFigure,
    },
    accuracyByCtFfrBand: accuracyByCtFfrBand(vessels, {
      edges: PERFORMANCE_RULES.ctFfrBands,
      threshold,
    }).bands.map(bandFigure),
    perPatient: accuracyFigures(collapseToPatients(vessels), threshold, minimums),
    methods: {
      positive: `a vessel is positive when its value ≤ ${threshold}, for CT-FFR and invasive FFR alike; a patient when any vessel is`,
      proportions:
        'Wilson score; Clopper–Pearson exact; cluster: ratio estimator with the patient as cluster (21 CFR 870.1415)',
      auc: aucReport.estimable ? aucReport.method : 'not estimable',
      blandAltman: agreement.estimable ? agreement.method : 'not estimable',
      correlation:
        'Pearson and Spearman with Fisher-z 95% CIs (vessels treated as independent; see blandAltman.loaRepeated)',
      grayZone: `accuracy among vessels with CT-FFR in (${PERFORMANCE_RULES.grayZone.low}, ${PERFORMANCE_RULES.grayZone.high}]`,
      minimumN: `proportions need n ≥ ${minimums.minimumProportionN}; AUC ≥ ${minimums.minimumAucPerClass} per class; agreement ≥ ${minimums.minimumPairs} pairs`,
    },
  };
}
