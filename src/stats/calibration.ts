/**
 * Calibration of CT-FFR against invasive FFR: ordinary least squares of the reference on the device output,
 *
 *   invasive FFR = intercept + slope × CT-FFR + ε,
 *
 * the linear calibration model for a continuous prediction (Cox 1958 calibration slope; Van Calster et al. 2016,
 * J Clin Epidemiol 74:167 "weak calibration"). Perfect calibration: intercept 0 and slope 1; slope < 1 means the device
 * spreads values too widely (values far from the mean are too extreme), slope > 1 too narrowly. statistics.md gives no
 * calibration model; it is silent on logistic calibration for the binary outcome too, so only the linear model of the
 * measured value is implemented here (the binary outcome is covered by sensitivity/specificity and ROC).
 *
 * Intervals:
 *  - `ci95`: classical OLS, t with n − 2 df (= R `confint(lm(ffr ~ ctffr))`);
 *  - `clusterRobust.ci95`: patient-clustered sandwich CR1, (X'X)⁻¹ Σ_g X_g'e_g e_g'X_g (X'X)⁻¹ · G/(G−1)·(N−1)/(N−2),
 *    t with G − 1 df (Liang & Zeger 1986; the Stata / statsmodels `cov_type="cluster", use_t=True` convention).
 *    Vessels of one patient share a scan, so this is the interval to quote when patients have several vessels.
 * Not estimable: fewer than 3 vessels (no residual df) or a constant CT-FFR (slope 0/0); the cluster interval needs
 * 2 patients.
 */
import { studentTCdf, studentTQuantile } from './distributions';
import type { Interval, NotEstimable } from './roc';
import type { LinkedVessel } from './proportions';

export type CalibrationNotEstimableReason = 'too-few-vessels' | 'constant-ct-ffr' | 'single-patient';

export interface CalibrationCoefficient {
  readonly estimate: number;
  readonly standardError: number;
  /** OLS t interval, n − 2 df. */
  readonly ci95: Interval;
  /** Patient-clustered CR1 sandwich SE and t(G − 1) interval. */
  readonly clusterRobust:
    { readonly standardError: number; readonly ci95: Interval } | NotEstimable<CalibrationNotEstimableReason>;
}

export interface CalibrationFit {
  readonly estimable: true;
  readonly model: string;
  readonly n: number;
  readonly patients: number;
  readonly intercept: CalibrationCoefficient;
  readonly slope: CalibrationCoefficient;
  /** Two-sided OLS t-test p-value of intercept = 0. */
  readonly interceptZeroPValue: number;
  /** Two-sided OLS t-test p-value of slope = 1. */
  readonly slopeOnePValue: number;
  /** √(RSS/(n − 2)). */
  readonly residualSd: number;
  /** 1 − RSS/Σ(y − ȳ)²; null when invasive FFR is constant (0/0). */
  readonly rSquared: number | null;
}

export interface CalibrationNotEstimable extends NotEstimable<CalibrationNotEstimableReason> {
  readonly n: number;
}

export type CalibrationResult = CalibrationFit | CalibrationNotEstimable;

export interface CalibrationOptions {
  readonly confidenceLevel?: number;
}

/** OLS calibration of invasive FFR on CT-FFR with classical and patient-clustered intervals (see file header). */
export function calibration(
  vessels: readonly LinkedVessel[],
  options: CalibrationOptions = {},
): CalibrationResult {
  const confidenceLevel = options.confidenceLevel ?? 0.95;
  if (!(confidenceLevel > 0 && confidenceLevel < 1))
    throw new RangeError(`bad confidence level ${confidenceLevel}`);
  const n = vessels.length;
  for (const v of vessels) {
    if (!Number.isFinite(v.ctFfr) || !Number.isFinite(v.invasiveFfr)) {
      throw new RangeError(`non-finite FFR value for patient ${v.patientId}`);
    }
  }
  if (n < 3) {
    return {
      estimable: false,
      reason: 'too-few-vessels',
      detail: `n = ${n}: OLS needs 3 vessels (n − 2 residual df)`,
      n,
    };
  }
  let meanX = 0;
  let meanY = 0;
  for (const v of vessels) {
    meanX += v.ctFfr;
    meanY += v.invasiveFfr;
  }
  meanX /= n;
  meanY /= n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (const v of vessels) {
    const dx = v.ctFfr - meanX;
    const dy = v.invasiveFfr - meanY;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  if (sxx === 0) {
    return { estimable: false, reason: 'constant-ct-ffr', detail: 'CT-FFR is constant: the slope is 0/0', n };
  }
  const slope = sxy / sxx;
  const intercept = meanY - slope * meanX;
  const residuals = vessels.map((v) => v.invasiveFfr - intercept - slope * v.ctFfr);
  let rss = 0;
  for (const e of residuals) rss += e * e;
  const sigma2 = rss / (n - 2);
  const seSlope = Math.sqrt(sigma2 / sxx);
  const seIntercept = Math.sqrt(sigma2 * (1 / n + (meanX * meanX) / sxx));
  const upper = (1 + confidenceLevel) / 2;
  const t = studentTQuantile(upper, n - 2);

  // Cluster-robust CR1. (X'X)⁻¹ = [[Σx², −Σx], [−Σx, n]] / (n·Sxx), with Σx² = Sxx + n·x̄² (centred, no cancellation).
  const groups = new Map<string, [number, number]>();
  vessels.forEach((v, i) => {
    const u = groups.get(v.patientId) ?? [0, 0];
    u[0] += residuals[i];
    u[1] += v.ctFfr * residuals[i];
    groups.set(v.patientId, u);
  });
  const g = groups.size;
  let clusterRobust: { interceptSe: number; slopeSe: number; t: number } | null = null;
  if (g >= 2) {
    let m00 = 0;
    let m01 = 0;
    let m11 = 0;
    for (const [u0, u1] of groups.values()) {
      m00 += u0 * u0;
      m01 += u0 * u1;
      m11 += u1 * u1;
    }
    const sumX = n * meanX;
    const sumX2 = sxx + n * meanX * meanX;
    const det = n * sxx;
    const b00 = sumX2 / det;
    const b01 = -sumX / det;
    const b11 = n / det;
    // V = B M B with B symmetric: V00 = b00²m00 + 2 b00 b01 m01 + b01² m11, V11 = b01² m00 + 2 b01 b11 m01 + b11² m11.
    const correction = (g / (g - 1)) * ((n - 1) / (n - 2));
    const v00 = (b00 * b00 * m00 + 2 * b00 * b01 * m01 + b01 * b01 * m11) * correction;
    const v11 = (b01 * b01 * m00 + 2 * b01 * b11 * m01 + b11 * b11 * m11) * correction;
    clusterRobust = {
      interceptSe: Math.sqrt(v00),
      slopeSe: Math.sqrt(v11),
      t: studentTQuantile(upper, g - 1),
    };
  }
  const single: NotEstimable<CalibrationNotEstimableReason> = {
    estimable: false,
    reason: 'single-patient',
    detail: 'all vessels from one patient: a patient-clustered variance needs at least 2 patients',
  };
  const coefficient = (
    estimate: number,
    se: number,
    clusterSe: number | undefined,
  ): CalibrationCoefficient => ({
    estimate,
    standardError: se,
    ci95: [estimate - t * se, estimate + t * se],
    clusterRobust:
      clusterRobust && clusterSe !== undefined
        ? {
            standardError: clusterSe,
            ci95: [estimate - clusterRobust.t * clusterSe, estimate + clusterRobust.t * clusterSe],
          }
        : single,
  });
  // A perfect fit (RSS = 0) has SE 0: the test is then decided exactly (p = 1 at the null value, 0 elsewhere).
  const twoSided = (difference: number, se: number): number =>
    se > 0 ? 2 * studentTCdf(-Math.abs(difference / se), n - 2) : difference === 0 ? 1 : 0;
  return {
    estimable: true,
    model: 'invasive FFR = intercept + slope × CT-FFR (OLS); perfect calibration: intercept 0, slope 1',
    n,
    patients: g,
    intercept: coefficient(intercept, seIntercept, clusterRobust?.interceptSe),
    slope: coefficient(slope, seSlope, clusterRobust?.slopeSe),
    interceptZeroPValue: twoSided(intercept, seIntercept),
    slopeOnePValue: twoSided(slope - 1, seSlope),
    residualSd: Math.sqrt(sigma2),
    rSquared: syy > 0 ? 1 - rss / syy : null,
  };
}
