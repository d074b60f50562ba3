/**
 * The figures of performance-report.ts from the roll-ups (`detail=summary`): an exact (CT-FFR, FFR)
 * histogram of the linked vessels plus the per-slice sums of performance_rollups. Pure.
 *
 * Everything that depends only on the pairs is exact (AUC and DeLong, Bland–Altman, correlations,
 * calibration, gray zone, bands); the patient-clustered figures come from ratio-estimator and
 * Bland–Altman 2007 sums with the patient as cluster within a slice (see performance-rollups.ts).
 * Figures that need every patient's vessels together at request time — Obuchowski's AUC interval,
 * cluster-robust calibration intervals, clustered intervals of the gray zone and bands, the patient
 * bootstrap of the verification-bias correction — are null here and given by `detail=full`.
 */
import { bandLabel } from '../stats/gray-zone';
import {
  aucFromPairCells,
  blandAltmanFromPairCells,
  calibrationFromPairCells,
  PairCell,
  pearsonFromPairCells,
  proportionalBiasFromPairCells,
  spearmanFromPairCells,
} from '../stats/pair-histogram';
import { repeatedMeasuresLimitsFromSums } from '../stats/patient-sums';
import {
  clopperPearsonInterval,
  independentUnitsProportion,
  isPositive,
  ProportionResult,
  proportionFromSums,
  wilsonInterval,
} from '../stats/proportions';
import {
  AccuracyFigures,
  CorrelationFigure,
  InsufficientData,
  PerformanceFigures,
  ProportionFigure,
  proportionFigure,
  ReportingMinimums,
} from './performance-report';
import { PERFORMANCE_RULES } from './performance-rules';
import {
  ROLLUP_PROPORTION_NAMES,
  ROLLUP_PROPORTIONS,
  RollupProportion,
  RollupSumColumn,
} from './performance-rollups';

export type RollupSums = Record<RollupSumColumn, number>;

export const SUMMARY_METHOD_NOTE =
  'detail=summary: from the daily roll-ups; patients are clusters within a day, site, model version and scanner ' +
  '(a patient with linked CTAs on two such slices counts twice); Obuchowski, cluster-robust calibration, clustered ' +
  'gray-zone/band intervals and the patient bootstrap are in detail=full';

const successesOf: Record<RollupProportion, (s: RollupSums) => number> = {
  sensitivity: (s) => s.tp,
  specificity: (s) => s.tn,
  ppv: (s) => s.tp,
  npv: (s) => s.tn,
  accuracy: (s) => s.tp + s.tn,
};
const trialsOf: Record<RollupProportion, (s: RollupSums) => number> = {
  sensitivity: (s) => s.tp + s.fn,
  specificity: (s) => s.tn + s.fp,
  ppv: (s) => s.tp + s.fp,
  npv: (s) => s.tn + s.fn,
  accuracy: (s) => s.linked,
};

function rollupProportion(sums: RollupSums, name: RollupProportion): ProportionResult {
  return proportionFromSums({
    clusters: sums[`${name}_clusters`],
    trials: trialsOf[name](sums),
    successes: successesOf[name](sums),
    trialsSquared: sums[`${name}_trials2`],
    successesSquared: sums[`${name}_successes2`],
    crossProducts: sums[`${name}_cross`],
  });
}

/** A proportion whose clusters the histogram does not know: Wilson and Clopper–Pearson only. */
function unclusteredFigure(
  successes: number,
  n: number,
  minimums: ReportingMinimums,
): ProportionFigure | InsufficientData {
  if (n === 0 || n < minimums.minimumProportionN) return { estimate: null, reason: 'insufficient_data', n };
  return {
    estimate: successes / n,
    n,
    successes,
    ci95: {
      wilson: wilsonInterval(successes, n),
      clopperPearson: clopperPearsonInterval(successes, n),
      cluster: null,
    },
  };
}

function perPatientFigures(sums: RollupSums, minimums: ReportingMinimums): AccuracyFigures {
  const { patient_tp: tp, patient_fp: fp, patient_tn: tn, patient_fn: fn } = sums;
  return {
    vessels: sums.patients,
    patients: sums.patients,
    tp,
    fp,
    tn,
    fn,
    sensitivity: proportionFigure(independentUnitsProportion(tp, tp + fn), minimums),
    specificity: proportionFigure(independentUnitsProportion(tn, tn + fp), minimums),
    ppv: proportionFigure(independentUnitsProportion(tp, tp + fp), minimums),
    npv: proportionFigure(independentUnitsProportion(tn, tn + fn), minimums),
    accuracy: proportionFigure(independentUnitsProportion(tp + tn, tp + fp + tn + fn), minimums),
  };
}

function bandAccuracy(
  cells: readonly PairCell[],
  low: number | null,
  high: number | null,
  threshold: number,
): { vessels: number; correct: number } {
  let vessels = 0;
  let correct = 0;
  for (const cell of cells) {
    if ((low !== null && !(cell.ctFfr > low)) || (high !== null && !(cell.ctFfr <= high))) continue;
    vessels += cell.vessels;
    if (isPositive(cell.ctFfr, threshold) === isPositive(cell.invasiveFfr, threshold))
      correct += cell.vessels;
  }
  return { vessels, correct };
}

export function summaryFigures(
  cells: readonly PairCell[],
  sums: RollupSums,
  threshold: number,
  minimums: ReportingMinimums = PERFORMANCE_RULES,
): PerformanceFigures {
  const proportions = Object.fromEntries(
    ROLLUP_PROPORTION_NAMES.map((name) => [name, proportionFigure(rollupProportion(sums, name), minimums)]),
  ) as Record<keyof typeof ROLLUP_PROPORTIONS, ProportionFigure | InsufficientData>;

  const aucResult = aucFromPairCells(cells, threshold);
  const auc: PerformanceFigures['auc'] =
    aucResult.estimable &&
    aucResult.diseasedCount >= minimums.minimumAucPerClass &&
    aucResult.nonDiseasedCount >= minimums.minimumAucPerClass
      ? {
          estimate: aucResult.auc,
          n: aucResult.diseasedCount + aucResult.nonDiseasedCount,
          ci95: { delong: aucResult.delong.estimable ? aucResult.delong.ci : null, obuchowski: null },
        }
      : {
          estimate: null,
          reason: 'insufficient_data',
          n: aucResult.estimable ? aucResult.diseasedCount + aucResult.nonDiseasedCount : sums.linked,
          detail: `needs ≥ ${minimums.minimumAucPerClass} diseased and non-diseased vessels`,
        };

  const classic = blandAltmanFromPairCells(cells);
  const repeated = repeatedMeasuresLimitsFromSums({
    patients: sums.patients,
    pairs: sums.linked,
    pairsSquared: sums.pairs_squared,
    sumDifference: sums.sum_difference,
    sumSquaredDifference: sums.sum_squared_difference,
    sumPatientTotal2PerSize: sums.sum_patient_total2_per_size,
    sumPatientTotal2: sums.sum_patient_total2,
    sumSizeTimesTotal: sums.sum_size_times_total,
  });
  const slope = proportionalBiasFromPairCells(cells);
  const blandAltman: PerformanceFigures['blandAltman'] =
    classic.estimable && classic.pairs >= minimums.minimumPairs
      ? {
          n: classic.pairs,
          bias: classic.bias,
          biasCi95: classic.biasCi,
          sd: classic.sd,
          loa: classic.limitsOfAgreement,
          loaCi95: { lower: classic.lowerLimitCi, upper: classic.upperLimitCi },
          loaRepeated: repeated.estimable ? repeated.limitsOfAgreement : null,
          // The 2007 limits' own CIs need each patient's variance components (detail=full).
          loaRepeatedCi95: null,
          biasCi95Clustered: repeated.estimable ? repeated.biasCiClusterRobust : null,
          proportionalBias: slope ? { slope: slope.slope, ci95: slope.ci, pValue: slope.pValue } : null,
        }
      : { estimate: null, reason: 'insufficient_data', n: sums.linked };

  const correlationFigure = (
    result: ReturnType<typeof pearsonFromPairCells>,
  ): CorrelationFigure | InsufficientData =>
    result.estimable && result.n >= minimums.minimumPairs
      ? { estimate: result.estimate, n: result.n, ci95: result.ci95 }
      : { estimate: null, reason: 'insufficient_data', n: result.n };

  const calibrationFit = calibrationFromPairCells(cells);
  const gray = bandAccuracy(
    cells,
    PERFORMANCE_RULES.grayZone.low,
    PERFORMANCE_RULES.grayZone.high,
    threshold,
  );
  const grayFigure = unclusteredFigure(gray.correct, gray.vessels, minimums);
  const bounds: (number | null)[] = [null, ...PERFORMANCE_RULES.ctFfrBands, null];

  return {
    threshold,
    vessels: sums.linked,
    patients: sums.patients,
    tp: sums.tp,
    fp: sums.fp,
    tn: sums.tn,
    fn: sums.fn,
    ...proportions,
    auc,
    blandAltman,
    pearson: correlationFigure(pearsonFromPairCells(cells)),
    spearman: correlationFigure(spearmanFromPairCells(cells)),
    calibration:
      calibrationFit.estimable && calibrationFit.n >= minimums.minimumPairs
        ? {
            n: calibrationFit.n,
            intercept: { ...calibrationFit.intercept, ci95Clustered: null },
            slope: { ...calibrationFit.slope, ci95Clustered: null },
            model: 'OLS of invasive FFR on CT-FFR (classical t intervals)',
          }
        : { estimate: null, reason: 'insufficient_data', n: calibrationFit.n },
    grayZone: {
      low: PERFORMANCE_RULES.grayZone.low,
      high: PERFORMANCE_RULES.grayZone.high,
      vessels: gray.vessels,
      accuracy: grayFigure.estimate,
      accuracyFigure: grayFigure,
    },
    accuracyByCtFfrBand: bounds.slice(0, -1).map((low, i) => {
      const band = bandAccuracy(cells, low, bounds[i + 1], threshold);
      return {
        band: bandLabel(low, bounds[i + 1]),
        vessels: band.vessels,
        accuracy: unclusteredFigure(band.correct, band.vessels, minimums),
      };
    }),
    perPatient: perPatientFigures(sums, minimums),
    methods: {
      positive: `a vessel is positive when its value ≤ ${threshold}, for CT-FFR and invasive FFR alike; a patient when any vessel is`,
      proportions:
        'Wilson score; Clopper–Pearson exact; cluster: ratio estimator with the patient as cluster (21 CFR 870.1415)',
      auc: 'AUC with DeLong variance from the exact (CT-FFR, FFR) histogram of all linked vessels',
      blandAltman:
        'bias and limits with exact-t CIs (Bland & Altman 1999); loaRepeated: Bland & Altman 2007 from per-patient sums',
      correlation: 'Pearson and Spearman (midranks) with Fisher-z 95% CIs (vessels treated as independent)',
      grayZone: `accuracy among vessels with CT-FFR in (${PERFORMANCE_RULES.grayZone.low}, ${PERFORMANCE_RULES.grayZone.high}]`,
      minimumN: `proportions need n ≥ ${minimums.minimumProportionN}; AUC ≥ ${minimums.minimumAucPerClass} per class; agreement ≥ ${minimums.minimumPairs} pairs`,
      summary: SUMMARY_METHOD_NOTE,
    },
  };
}
