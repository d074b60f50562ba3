/**
 * Bland & Altman (2007) limits of agreement for several vessels per patient, from per-patient sums that add
 * across slices (the performance roll-ups keep them per day; src/performance/performance-rollups.ts).
 *
 * With m_i pairs, S_i = Σ_j d_ij and Q_i = Σ_j d_ij² for patient i, N = Σm_i pairs and P patients, the one-way
 * ANOVA of repeatedMeasuresBlandAltman (agreement.ts) needs only:
 *   SSb = Σ S_i²/m_i − N·d̄²,   SSw = Σ Q_i − Σ S_i²/m_i,   Σ m_i²
 * then MSb = SSb/(P − 1), MSw = SSw/(N − P), σ²_b = max(0, (MSb − MSw)/((N² − Σm_i²)/((P − 1)N))),
 * σ²_total = σ²_b + MSw (σ²_total = MSb when every patient has one pair), limits d̄ ± z·σ_total.
 * Checked against repeatedMeasuresBlandAltman on the oracle fixtures in patient-sums.spec.ts.
 */
import { studentTQuantile, twoSidedNormalCritical } from './distributions';
import type { Interval, NotEstimable } from './roc';

export interface PatientDifferenceSums {
  /** P: patients with at least one pair. */
  readonly patients: number;
  /** N = Σ m_i. */
  readonly pairs: number;
  /** Σ m_i². */
  readonly pairsSquared: number;
  /** Σ_i S_i = Σ d. */
  readonly sumDifference: number;
  /** Σ_i Q_i = Σ d². */
  readonly sumSquaredDifference: number;
  /** Σ_i S_i²/m_i. */
  readonly sumPatientTotal2PerSize: number;
  /** Σ_i S_i² (cluster-robust SE of the bias). */
  readonly sumPatientTotal2: number;
  /** Σ_i m_i·S_i. */
  readonly sumSizeTimesTotal: number;
}

export interface RepeatedMeasuresLimits {
  readonly estimable: true;
  readonly patients: number;
  readonly pairs: number;
  readonly bias: number;
  readonly sdTotal: number;
  readonly limitsOfAgreement: Interval;
  /** As repeatedMeasuresBlandAltman: SE = √(P/(P − 1)·Σ_i (S_i − m_i·d̄)²)/N, t on P − 1 df. */
  readonly biasCiClusterRobust: Interval;
}

export function repeatedMeasuresLimitsFromSums(
  sums: PatientDifferenceSums,
  coverage = 0.95,
  confidenceLevel = 0.95,
): RepeatedMeasuresLimits | NotEstimable<'fewer-than-two-patients'> {
  const { patients, pairs } = sums;
  if (patients < 2) {
    return {
      estimable: false,
      reason: 'fewer-than-two-patients',
      detail: `between-patient variance needs at least 2 patients, got ${patients}`,
    };
  }
  const z = twoSidedNormalCritical(coverage);
  const bias = sums.sumDifference / pairs;
  const ssBetween = Math.max(0, sums.sumPatientTotal2PerSize - pairs * bias * bias);
  const msBetween = ssBetween / (patients - 1);
  let varianceTotal = msBetween;
  if (pairs > patients) {
    const msWithin =
      Math.max(0, sums.sumSquaredDifference - sums.sumPatientTotal2PerSize) / (pairs - patients);
    const divisor = (pairs * pairs - sums.pairsSquared) / ((patients - 1) * pairs);
    varianceTotal = Math.max(0, (msBetween - msWithin) / divisor) + msWithin;
  }
  const sdTotal = Math.sqrt(varianceTotal);
  // Σ_i (S_i − m_i·d̄)² expanded into the kept sums.
  const clusterScores = Math.max(
    0,
    sums.sumPatientTotal2 - 2 * bias * sums.sumSizeTimesTotal + bias * bias * sums.pairsSquared,
  );
  const se = Math.sqrt((patients / (patients - 1)) * clusterScores) / pairs;
  const t = studentTQuantile(1 - (1 - confidenceLevel) / 2, patients - 1);
  return {
    estimable: true,
    patients,
    pairs,
    bias,
    sdTotal,
    limitsOfAgreement: [bias - z * sdTotal, bias + z * sdTotal],
    biasCiClusterRobust: [bias - t * se, bias + t * se],
  };
}
