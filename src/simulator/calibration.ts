/**
 * Plain per-vessel agreement figures, used to check the simulator against the calibration table of
 * ctffr-evidence.md §4.3. Deliberately naive (no CIs, no clustering): the platform's `stats` module is the reference
 * implementation for reported figures; this only tells whether the generator reproduces its targets.
 */

// Math functions bound once per module: hot loops then avoid a global lookup per call, which is costly in the
// sandboxed module context jest runs code in (and free elsewhere).
const { sqrt } = Math;

export interface VesselAgreement {
  vessels: number;
  prevalence: number;
  sensitivity: number;
  specificity: number;
  /** Bland–Altman mean of CT-FFR − invasive FFR, and SD of the differences. */
  bias: number;
  sdOfDifferences: number;
  pearson: number;
}

/** Agreement of paired CT-FFR / invasive FFR values; positive means ≤ threshold (inclusive), for both. */
export function vesselAgreement(
  ctFfr: readonly number[],
  invasiveFfr: readonly number[],
  threshold = 0.8,
): VesselAgreement {
  const n = ctFfr.length;
  if (n !== invasiveFfr.length || n < 2) throw new RangeError('need at least two pairs of equal length');
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  let sumX = 0;
  let sumY = 0;
  for (let i = 0; i < n; i++) {
    const testPositive = ctFfr[i] <= threshold;
    const referencePositive = invasiveFfr[i] <= threshold;
    if (testPositive && referencePositive) tp++;
    else if (testPositive) fp++;
    else if (referencePositive) fn++;
    else tn++;
    sumX += ctFfr[i];
    sumY += invasiveFfr[i];
  }
  const meanX = sumX / n;
  const meanY = sumY / n;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  let sdd = 0;
  const bias = meanX - meanY;
  for (let i = 0; i < n; i++) {
    const dx = ctFfr[i] - meanX;
    const dy = invasiveFfr[i] - meanY;
    sxx += dx * dx;
    syy += dy * dy;
    sxy += dx * dy;
    const d = ctFfr[i] - invasiveFfr[i] - bias;
    sdd += d * d;
  }
  return {
    vessels: n,
    prevalence: (tp + fn) / n,
    sensitivity: tp / (tp + fn),
    specificity: tn / (tn + fp),
    bias,
    sdOfDifferences: sqrt(sdd / (n - 1)),
    pearson: sxy / sqrt(sxx * syy),
  };
}
