/**
 * Bland–Altman agreement of CT-FFR with invasive FFR (reference/statistics.md §6): the classic limits of agreement
 * with their confidence intervals, Bland & Altman (2007) limits for several vessels per patient, and the
 * regression-based limits of Bland & Altman (1999) when bias or spread depends on the FFR level, with a test of
 * proportional bias. Also the `blandAltman` block of `GET /api/v1/performance` (DESIGN.md §5).
 *
 * Conventions pinned here:
 *  - Difference d = CT-FFR − invasive FFR (positive = CT-FFR overestimates FFR); mean A = (CT-FFR + FFR)/2.
 *  - Limits of agreement d̄ ± z·s with z = Φ⁻¹(1 − (1 − coverage)/2) = 1.959964 for 95% coverage (statistics.md §1;
 *    reference/oracle/oracle.R prints the same limits with the literal 1.96 — 1.5e-6 apart on vector A).
 *  - Classic CIs (statistics.md §6): bias d̄ ± t_{n−1}·s/√n; each limit ± t_{n−1}·s·√(1/n + z²/(2(n−1)))
 *    (Bland & Altman 1999 SMMR 8:135 §4.2, the approximate SE; not Carkeet's exact non-central-t interval).
 *    The Bland & Altman (1986) shortcut SE √(3s²/n) is reported alongside for comparison only.
 *  - Repeated measures (Bland & Altman 2007, J Biopharm Stat 17:571, "true value varies"): one-way ANOVA of d by
 *    patient; s²_total = max(0, (MSb − MSw)/divisor) + MSw, divisor = (N² − Σm_i²)/((n − 1)N); the bias is the mean
 *    of all N differences (not the REML, patient-weighted mean). Its CI uses the cluster-robust (sandwich) SE
 *    √(G/(G − 1)·Σ_i(Σ_j(d_ij − d̄))²)/N with t_{G−1} (statsmodels OLS cov_type="cluster" with use_t=True).
 *  - CIs of the repeated-measures limits (statistics.md specifies none): Zou GY (2013) "Confidence interval estimation
 *    for the Bland–Altman limits of agreement with multiple observations per individual", Stat Methods Med Res
 *    22(6):630–642, the "true value varies" (one-way random-effects, unequal vessels per patient) case — MOVER
 *    (method of variance estimates recovery, Zou & Donner 2008 Stat Med 27:1693) on Zou's own estimates of the same
 *    limits μ ± z·√(σ²_between + σ²_within), see `zouRepeatedMeasuresLimits`. Zou's estimates equal the Bland & Altman
 *    2007 ones when every patient has the same number of vessels; otherwise they differ slightly (equally weighted
 *    patient means vs all pairs), so the report gives the limits the CIs belong to beside them.
 *  - Regression limits: d = b0 + b1·A; |e| = c0 + c1·A on the residuals e; LoA(A) = b0 + b1·A ± z·√(π/2)·(c0 + c1·A)
 *    (E|e| = σ√(2/π) for normal e). Proportional bias = t-test of b1 with n − 2 df; the same test of c1 flags
 *    spread that depends on the level (approximate: e are estimated residuals).
 *  - Too few data give a typed NotEstimable with a reason, never NaN.
 */
import { chiSquareQuantile, studentTCdf, studentTQuantile, twoSidedNormalCritical } from './distributions';
import type { Interval, NotEstimable, VesselReading } from './roc';

export const DIFFERENCE_CONVENTION = 'CT-FFR − invasive FFR';

export interface AgreementOptions {
  /** Share of differences the limits of agreement should contain (default 0.95 → z = 1.959964). */
  readonly coverage?: number;
  /** Confidence level of the intervals around bias, limits and slopes (default 0.95). */
  readonly confidenceLevel?: number;
}

export interface ClassicBlandAltman {
  readonly estimable: true;
  readonly pairs: number;
  readonly differenceConvention: typeof DIFFERENCE_CONVENTION;
  readonly coverage: number;
  readonly confidenceLevel: number;
  /** z multiplying the SD in the limits. */
  readonly z: number;
  /** Mean difference d̄. */
  readonly bias: number;
  /** SD of differences (n − 1 denominator). */
  readonly sd: number;
  readonly limitsOfAgreement: Interval;
  readonly biasStandardError: number;
  readonly biasCi: Interval;
  /** s·√(1/n + z²/(2(n − 1))). */
  readonly limitStandardError: number;
  readonly lowerLimitCi: Interval;
  readonly upperLimitCi: Interval;
  /** Bland & Altman (1986) shortcut √(3s²/n), for comparison only. */
  readonly limitStandardError1986: number;
}

/** Variance components of the one-way ANOVA, available when at least one patient has several vessels. */
export interface WithinPatientComponents {
  readonly estimable: true;
  readonly msWithin: number;
  readonly divisor: number;
  readonly varianceBetween: number;
  readonly varianceWithin: number;
  /** True when MSb < MSw and the between-patient variance was set to 0. */
  readonly betweenTruncatedAtZero: boolean;
}

export interface RepeatedMeasuresBlandAltman {
  readonly estimable: true;
  readonly patients: number;
  readonly pairs: number;
  readonly differenceConvention: typeof DIFFERENCE_CONVENTION;
  readonly coverage: number;
  readonly confidenceLevel: number;
  readonly z: number;
  /** Mean of all N differences. */
  readonly bias: number;
  readonly msBetween: number;
  /** Not estimable when every patient has one vessel: then varianceTotal = MSb = classic variance. */
  readonly components: WithinPatientComponents | NotEstimable<'no-patient-with-several-vessels'>;
  readonly varianceTotal: number;
  readonly sdTotal: number;
  readonly limitsOfAgreement: Interval;
  readonly biasStandardErrorClusterRobust: number;
  readonly biasCiClusterRobust: Interval;
}

/**
 * Zou (2013) MOVER confidence intervals for the repeated-measures limits of agreement, with the point estimates they are
 * built around (n patients, m_i vessels of patient i, N = Σm_i pairs, d̄_i = mean difference of patient i).
 */
export interface ZouRepeatedMeasuresLimits {
  readonly estimable: true;
  readonly method: 'zou-2013-mover';
  readonly patients: number;
  readonly pairs: number;
  readonly differenceConvention: typeof DIFFERENCE_CONVENTION;
  readonly coverage: number;
  readonly confidenceLevel: number;
  readonly z: number;
  /** Mean of the n patient means d̄_i (each patient weighted equally; not the mean of all N pairs). */
  readonly bias: number;
  /** Sample variance of the patient means, n − 1 denominator (n − 1 df). */
  readonly variancePatientMeans: number;
  /** Pooled within-patient variance MSw (N − n df); null when every patient has one vessel (0 df). */
  readonly varianceWithin: number | null;
  /** Harmonic mean of the vessels per patient, m_h = n / Σ(1/m_i). */
  readonly harmonicMeanVessels: number;
  /** s²(patient means) + (1 − 1/m_h)·MSw: estimates σ²_between + σ²_within (Zou 2013; never negative). */
  readonly varianceTotal: number;
  readonly sdTotal: number;
  /** MOVER interval of varianceTotal from the χ² intervals of its two pieces (n − 1 and N − n df). */
  readonly varianceTotalCi: Interval;
  /** √(s²(patient means)/n). */
  readonly biasStandardError: number;
  /** bias ± z_{1−α/2}·biasStandardError (normal quantile, as in Zou's method). */
  readonly biasCi: Interval;
  /** bias ± z·sdTotal: the limits the two CIs below belong to. */
  readonly limitsOfAgreement: Interval;
  readonly lowerLimitCi: Interval;
  readonly upperLimitCi: Interval;
}

export interface SlopeTest {
  readonly estimable: true;
  readonly t: number;
  readonly degreesOfFreedom: number;
  /** Two-sided p of H0: slope = 0. */
  readonly pValue: number;
  readonly ci: Interval;
  /** p < 1 − confidenceLevel (equivalently: ci excludes 0). */
  readonly significant: boolean;
}

/** Ordinary least-squares line y = intercept + slope·A. */
export interface LinearFit {
  readonly intercept: number;
  readonly slope: number;
  readonly interceptStandardError: number;
  readonly slopeStandardError: number;
  readonly residualStandardError: number;
  readonly slopeTest: SlopeTest | NotEstimable<'zero-residual-variance'>;
}

export interface RegressionBlandAltman {
  readonly estimable: true;
  readonly pairs: number;
  readonly differenceConvention: typeof DIFFERENCE_CONVENTION;
  readonly coverage: number;
  readonly confidenceLevel: number;
  /** Range of the observed means A; limits outside it are extrapolations. */
  readonly meanRange: Interval;
  /** d = intercept + slope·A; its slope test is the test of proportional bias. */
  readonly biasLine: LinearFit;
  /** |residual| = intercept + slope·A; its slope test flags spread that changes with the FFR level. */
  readonly absoluteResidualLine: LinearFit;
  /** z·√(π/2): half-width of the limits = multiplier × predicted |residual|. */
  readonly multiplier: number;
}

export interface RegressionLimits {
  readonly estimable: true;
  readonly mean: number;
  readonly bias: number;
  readonly limitsOfAgreement: Interval;
  readonly extrapolated: boolean;
}

/** `blandAltman` block of `GET /api/v1/performance` (DESIGN.md §5), 95% coverage and 95% intervals. */
export interface BlandAltmanReport {
  readonly estimable: true;
  readonly pairs: number;
  readonly patients: number;
  readonly differenceConvention: typeof DIFFERENCE_CONVENTION;
  readonly bias: number;
  readonly biasCi95: Interval;
  readonly sd: number;
  readonly loa: Interval;
  readonly loaCi95: { readonly lower: Interval; readonly upper: Interval };
  /** Bland & Altman 2007 limits (vessels clustered in patients); null with a reason in notEstimable. */
  readonly loaRepeated: Interval | null;
  /**
   * Zou (2013) MOVER 95% CIs of the repeated-measures limits (null exactly when loaRepeated is). `limits` are Zou's
   * estimates of the same limits, the ones the CIs are built around: equal to loaRepeated when every patient has the
   * same number of vessels, slightly different otherwise.
   */
  readonly loaRepeatedCi95: {
    readonly limits: Interval;
    readonly lower: Interval;
    readonly upper: Interval;
  } | null;
  readonly sdRepeated: number | null;
  /** CI of the bias with the patient-clustered (sandwich) SE. */
  readonly biasCi95Clustered: Interval | null;
  /** Slope of d on the mean (Bland & Altman 1999) with its 95% CI and p-value. */
  readonly proportionalBias: {
    readonly slope: number;
    readonly ci95: Interval;
    readonly pValue: number;
    readonly significant: boolean;
  } | null;
  readonly notEstimable: {
    readonly loaRepeated?: string;
    readonly proportionalBias?: string;
  };
  readonly method: string;
}

const REPORT_METHOD =
  'd = CT-FFR − invasive FFR; LoA = bias ± 1.959964·SD; bias CI t(n−1); limit CIs t(n−1)·SD·√(1/n + z²/(2(n−1))) ' +
  '(Bland & Altman 1999); loaRepeated: Bland & Altman 2007 one-way ANOVA by patient, bias = mean of all pairs, ' +
  'bias CI clustered by patient (sandwich SE, t(G−1)); loaRepeatedCi95: Zou 2013 (Stat Methods Med Res 22:630) ' +
  "MOVER CIs around Zou's estimates of the same limits (limits): bias = mean of the patient means ± z·SD(patient " +
  'means)/√n, variance = var(patient means) + (1 − 1/m_h)·MSw (m_h = harmonic mean of vessels per patient) with χ² ' +
  'limits on n−1 and N−n df; equal to loaRepeated when all patients have the same number of vessels; ' +
  'proportional bias: OLS slope of d on the mean, t(n−2)';

function notEstimable<R extends string>(reason: R, detail: string): NotEstimable<R> {
  return { estimable: false, reason, detail };
}

function differences(readings: readonly VesselReading[]): { d: number[]; mean: number[] } {
  const d: number[] = [];
  const mean: number[] = [];
  for (const r of readings) {
    if (!Number.isFinite(r.ctffr) || !Number.isFinite(r.ffr)) {
      throw new RangeError(`CT-FFR and FFR must be finite numbers, got ${r.ctffr} and ${r.ffr}`);
    }
    d.push(r.ctffr - r.ffr);
    mean.push((r.ctffr + r.ffr) / 2);
  }
  return { d, mean };
}

function resolveOptions(options: AgreementOptions): { coverage: number; confidenceLevel: number; z: number } {
  const coverage = options.coverage ?? 0.95;
  const confidenceLevel = options.confidenceLevel ?? 0.95;
  twoSidedNormalCritical(confidenceLevel); // validates (0, 1)
  return { coverage, confidenceLevel, z: twoSidedNormalCritical(coverage) };
}

/** t_{df, 1 − α/2}. */
function tCritical(confidenceLevel: number, df: number): number {
  return studentTQuantile(1 - (1 - confidenceLevel) / 2, df);
}

function average(values: readonly number[]): number {
  let total = 0;
  for (const v of values) total += v;
  return total / values.length;
}

/** The differences grouped by patient, in order of first appearance. */
function differencesByPatient(
  readings: readonly VesselReading[],
  d: readonly number[],
): Map<string, number[]> {
  const byPatient = new Map<string, number[]>();
  readings.forEach((r, i) => {
    const list = byPatient.get(r.patientId);
    if (list) list.push(d[i]);
    else byPatient.set(r.patientId, [d[i]]);
  });
  return byPatient;
}

/**
 * Classic Bland–Altman (one pair per unit; vessels treated as independent). Needs ≥ 2 pairs.
 * Oracle: base R mean/sd/qt (fixtures/oracle/agreement-oracle.R) and numpy/scipy (agreement-oracle.py).
 */
export function classicBlandAltman(
  readings: readonly VesselReading[],
  options: AgreementOptions = {},
): ClassicBlandAltman | NotEstimable<'fewer-than-two-pairs'> {
  const { coverage, confidenceLevel, z } = resolveOptions(options);
  const { d } = differences(readings);
  const n = d.length;
  if (n < 2) {
    return notEstimable('fewer-than-two-pairs', `the SD of differences needs at least 2 pairs, got ${n}`);
  }
  const bias = average(d);
  let ss = 0;
  for (const v of d) ss += (v - bias) * (v - bias);
  const sd = Math.sqrt(ss / (n - 1));
  const t = tCritical(confidenceLevel, n - 1);
  const biasStandardError = sd / Math.sqrt(n);
  const limitStandardError = sd * Math.sqrt(1 / n + (z * z) / (2 * (n - 1)));
  const lower = bias - z * sd;
  const upper = bias + z * sd;
  return {
    estimable: true,
    pairs: n,
    differenceConvention: DIFFERENCE_CONVENTION,
    coverage,
    confidenceLevel,
    z,
    bias,
    sd,
    limitsOfAgreement: [lower, upper],
    biasStandardError,
    biasCi: [bias - t * biasStandardError, bias + t * biasStandardError],
    limitStandardError,
    lowerLimitCi: [lower - t * limitStandardError, lower + t * limitStandardError],
    upperLimitCi: [upper - t * limitStandardError, upper + t * limitStandardError],
    limitStandardError1986: Math.sqrt((3 * sd * sd) / n),
  };
}

/**
 * Bland & Altman (2007) limits of agreement for several vessels per patient (statistics.md §6), where the true value
 * varies between a patient's vessels. Needs ≥ 2 patients. With one vessel per patient it reduces to the classic
 * limits (MSb = s², no within-patient component).
 * Oracle: R `anova(lm(d ~ factor(patient)))` and statsmodels `anova_lm` + OLS cluster-robust SE.
 */
export function repeatedMeasuresBlandAltman(
  readings: readonly VesselReading[],
  options: AgreementOptions = {},
): RepeatedMeasuresBlandAltman | NotEstimable<'fewer-than-two-patients'> {
  const { coverage, confidenceLevel, z } = resolveOptions(options);
  const { d } = differences(readings);
  const byPatient = differencesByPatient(readings, d);
  const patients = byPatient.size;
  const pairs = d.length;
  if (patients < 2) {
    return notEstimable(
      'fewer-than-two-patients',
      `between-patient variance needs at least 2 patients, got ${patients}`,
    );
  }
  const bias = average(d);
  let ssBetween = 0;
  let ssWithin = 0;
  let sumSquaredSizes = 0;
  let clusterScores = 0; // Σ_i (Σ_j (d_ij − d̄))²
  for (const values of byPatient.values()) {
    const mi = values.length;
    const patientMean = average(values);
    ssBetween += mi * (patientMean - bias) * (patientMean - bias);
    for (const v of values) ssWithin += (v - patientMean) * (v - patientMean);
    sumSquaredSizes += mi * mi;
    let score = 0;
    for (const v of values) score += v - bias;
    clusterScores += score * score;
  }
  const msBetween = ssBetween / (patients - 1);
  let components: RepeatedMeasuresBlandAltman['components'];
  let varianceTotal: number;
  if (pairs > patients) {
    const msWithin = ssWithin / (pairs - patients);
    const divisor = (pairs * pairs - sumSquaredSizes) / ((patients - 1) * pairs);
    const raw = (msBetween - msWithin) / divisor;
    const varianceBetween = Math.max(0, raw);
    varianceTotal = varianceBetween + msWithin;
    components = {
      estimable: true,
      msWithin,
      divisor,
      varianceBetween,
      varianceWithin: msWithin,
      betweenTruncatedAtZero: raw < 0,
    };
  } else {
    varianceTotal = msBetween;
    components = notEstimable(
      'no-patient-with-several-vessels',
      'every patient has one vessel: within- and between-patient variance cannot be separated; total = MSb',
    );
  }
  const sdTotal = Math.sqrt(varianceTotal);
  const se = Math.sqrt((patients / (patients - 1)) * clusterScores) / pairs;
  const t = tCritical(confidenceLevel, patients - 1);
  return {
    estimable: true,
    patients,
    pairs,
    differenceConvention: DIFFERENCE_CONVENTION,
    coverage,
    confidenceLevel,
    z,
    bias,
    msBetween,
    components,
    varianceTotal,
    sdTotal,
    limitsOfAgreement: [bias - z * sdTotal, bias + z * sdTotal],
    biasStandardErrorClusterRobust: se,
    biasCiClusterRobust: [bias - t * se, bias + t * se],
  };
}

/**
 * Confidence intervals for the limits of agreement with several vessels per patient whose true value varies:
 * Zou GY (2013), Stat Methods Med Res 22(6):630–642, "true value varies" case (one-way random-effects model
 * d_ij = μ + b_i + e_ij with unequal m_i), via MOVER (Zou & Donner 2008, Stat Med 27:1693). Chosen over a
 * patient bootstrap because it is closed-form (reproducible to 1e-12 by an independent oracle, no seed) and holds its
 * coverage with few patients; over applying the same MOVER to the Bland & Altman 2007 ANOVA pieces (MSb/divisor on
 * n − 1 df) because the χ² approximation of the weighted MSb fails in unbalanced designs. Simulation for this choice
 * (fixtures/oracle/agreement-zou-coverage.R, 4000 runs a cell, 95% CIs): Zou 94.1–96.3% per limit for the vessel
 * counts of vector A, of the 350-patient vector and of 10 × 1 + 5 × 6 vessels at between-patient variance shares
 * 0–0.95; the ANOVA-piece variant 90.3–93.1% for 10 × 1 + 5 × 6 at shares 0.7–0.95.
 *
 * With n patients, m_i vessels of patient i, N = Σm_i, d̄_i the mean difference of patient i, α = 1 − confidenceLevel:
 *   bias μ̂ = (1/n)Σd̄_i;  s²_m = Σ(d̄_i − μ̂)²/(n − 1);  MSw = ΣΣ(d_ij − d̄_i)²/(N − n);  m_h = n/Σ(1/m_i)
 *   σ̂² = s²_m + (1 − 1/m_h)·MSw                              (E s²_m = σ²_b + σ²_w/m_h, so E σ̂² = σ²_b + σ²_w)
 *   σ² CI: L = σ̂² − √(Σ_k [a_k(1 − ν_k/χ²_{1−α/2,ν_k})]²),  U = σ̂² + √(Σ_k [a_k(ν_k/χ²_{α/2,ν_k} − 1)]²)
 *          over the pieces a_1 = s²_m (ν_1 = n − 1) and a_2 = (1 − 1/m_h)·MSw (ν_2 = N − n; dropped when 0)
 *   μ CI:  μ̂ ± z_{1−α/2}·s_m/√n (normal quantile, as in the public implementations of Zou's method,
 *          SimplyAgree::agree_nest and blandxtr::ci_loa_mover)
 *   limits μ̂ ± z·σ̂ (z from `coverage`); with c = z_{1−α/2}·s_m/√n, the upper limit's CI is
 *          [μ̂ + zσ̂ − √(c² + z²(σ̂ − √L)²),  μ̂ + zσ̂ + √(c² + z²(√U − σ̂)²)], the lower limit's its mirror image.
 *
 * One vessel per patient: m_h = 1, the within piece vanishes, μ̂, σ̂ and the limits are the classic ones, and the CIs
 * become the MOVER CIs of the classic limits (Donner & Zou 2012, Stat Methods Med Res 21:347): variance limits
 * s²(n − 1)/χ², asymmetric (narrower towards the bias, wider outwards) where the Bland & Altman (1999) t-intervals of
 * `classicBlandAltman` are symmetric (vector B, 10 patients: upper limit 0.0935, MOVER [0.0511, 0.1779], Bland &
 * Altman 1999 [0.0318, 0.1552]).
 * Equal vessels per patient: μ̂ and σ̂² equal the Bland & Altman 2007 bias and s²_total (unless that truncated
 * s²_between at 0). All differences equal: σ̂ = 0 and every interval has zero width. Needs ≥ 2 patients (n − 1 df).
 * Oracle: base R tapply/var/qchisq/qnorm (agreement-oracle.R) and pandas/scipy.stats.chi2 (agreement-oracle.py).
 */
export function zouRepeatedMeasuresLimits(
  readings: readonly VesselReading[],
  options: AgreementOptions = {},
): ZouRepeatedMeasuresLimits | NotEstimable<'fewer-than-two-patients'> {
  const { coverage, confidenceLevel, z } = resolveOptions(options);
  const { d } = differences(readings);
  const byPatient = differencesByPatient(readings, d);
  const patients = byPatient.size;
  const pairs = d.length;
  if (patients < 2) {
    return notEstimable(
      'fewer-than-two-patients',
      `the variance of the patient means needs at least 2 patients, got ${patients}`,
    );
  }
  const patientMeans: number[] = [];
  let ssWithin = 0;
  let sumInverseSizes = 0;
  for (const values of byPatient.values()) {
    const patientMean = average(values);
    patientMeans.push(patientMean);
    for (const v of values) ssWithin += (v - patientMean) * (v - patientMean);
    sumInverseSizes += 1 / values.length;
  }
  const bias = average(patientMeans);
  let ssMeans = 0;
  for (const m of patientMeans) ssMeans += (m - bias) * (m - bias);
  const variancePatientMeans = ssMeans / (patients - 1);
  const harmonicMeanVessels = patients / sumInverseSizes;
  const withinDf = pairs - patients;
  const varianceWithin = withinDf > 0 ? ssWithin / withinDf : null;
  const pieces: { value: number; df: number }[] = [{ value: variancePatientMeans, df: patients - 1 }];
  if (varianceWithin !== null)
    pieces.push({ value: (1 - 1 / harmonicMeanVessels) * varianceWithin, df: withinDf });
  let varianceTotal = 0;
  let lowerSquares = 0;
  let upperSquares = 0;
  const alpha = 1 - confidenceLevel;
  for (const { value, df } of pieces) {
    varianceTotal += value;
    lowerSquares += (value * (1 - df / chiSquareQuantile(1 - alpha / 2, df))) ** 2;
    upperSquares += (value * (df / chiSquareQuantile(alpha / 2, df) - 1)) ** 2;
  }
  // L ≥ Σ a_k·ν_k/χ²_{1−α/2,ν_k} > 0 (√ of a sum of squares ≤ sum), so no truncation is needed.
  const varianceTotalCi: Interval = [
    varianceTotal - Math.sqrt(lowerSquares),
    varianceTotal + Math.sqrt(upperSquares),
  ];
  const sdTotal = Math.sqrt(varianceTotal);
  const zConfidence = twoSidedNormalCritical(confidenceLevel);
  const biasStandardError = Math.sqrt(variancePatientMeans / patients);
  const biasMargin = zConfidence * biasStandardError;
  // MOVER margins of μ + z·σ: towards smaller values uses the lower ends of both CIs, towards larger the upper ends.
  const sdDown = sdTotal - Math.sqrt(varianceTotalCi[0]);
  const sdUp = Math.sqrt(varianceTotalCi[1]) - sdTotal;
  const inner = Math.sqrt(biasMargin * biasMargin + z * z * sdDown * sdDown);
  const outer = Math.sqrt(biasMargin * biasMargin + z * z * sdUp * sdUp);
  const lower = bias - z * sdTotal;
  const upper = bias + z * sdTotal;
  return {
    estimable: true,
    method: 'zou-2013-mover',
    patients,
    pairs,
    differenceConvention: DIFFERENCE_CONVENTION,
    coverage,
    confidenceLevel,
    z,
    bias,
    variancePatientMeans,
    varianceWithin,
    harmonicMeanVessels,
    varianceTotal,
    sdTotal,
    varianceTotalCi,
    biasStandardError,
    biasCi: [bias - biasMargin, bias + biasMargin],
    limitsOfAgreement: [lower, upper],
    lowerLimitCi: [lower - outer, lower + inner],
    upperLimitCi: [upper - inner, upper + outer],
  };
}

/** OLS of y on x with t-test of the slope (n − 2 df). Caller guarantees n ≥ 3 and Sxx > 0. */
function fitLine(x: readonly number[], y: readonly number[], confidenceLevel: number): LinearFit {
  const n = x.length;
  const xBar = average(x);
  const yBar = average(y);
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (x[i] - xBar) * (x[i] - xBar);
    sxy += (x[i] - xBar) * (y[i] - yBar);
  }
  const slope = sxy / sxx;
  const intercept = yBar - slope * xBar;
  let rss = 0;
  for (let i = 0; i < n; i++) {
    const e = y[i] - intercept - slope * x[i];
    rss += e * e;
  }
  const df = n - 2;
  const residualStandardError = Math.sqrt(rss / df);
  const slopeStandardError = residualStandardError / Math.sqrt(sxx);
  const interceptStandardError = residualStandardError * Math.sqrt(1 / n + (xBar * xBar) / sxx);
  let slopeTest: LinearFit['slopeTest'];
  if (slopeStandardError > 0) {
    const t = slope / slopeStandardError;
    const pValue = 2 * studentTCdf(-Math.abs(t), df);
    const tc = tCritical(confidenceLevel, df);
    slopeTest = {
      estimable: true,
      t,
      degreesOfFreedom: df,
      pValue,
      ci: [slope - tc * slopeStandardError, slope + tc * slopeStandardError],
      significant: pValue < 1 - confidenceLevel,
    };
  } else {
    slopeTest = notEstimable(
      'zero-residual-variance',
      'the points lie exactly on a line; the slope has no SE',
    );
  }
  return { intercept, slope, interceptStandardError, slopeStandardError, residualStandardError, slopeTest };
}

/**
 * Regression-based limits of agreement (Bland & Altman 1999 SMMR 8:135 §3.2, statistics.md §6): regress d on the
 * mean A, then the absolute residuals on A. Needs ≥ 3 pairs and means that are not all equal.
 * Oracle: R `lm()`/`summary()`/`confint()` and statsmodels OLS.
 */
export function regressionBlandAltman(
  readings: readonly VesselReading[],
  options: AgreementOptions = {},
): RegressionBlandAltman | NotEstimable<'fewer-than-three-pairs' | 'no-spread-in-means'> {
  const { coverage, confidenceLevel, z } = resolveOptions(options);
  const { d, mean } = differences(readings);
  const n = d.length;
  if (n < 3) {
    return notEstimable(
      'fewer-than-three-pairs',
      `a slope with a standard error needs at least 3 pairs, got ${n}`,
    );
  }
  let low = mean[0];
  let high = mean[0];
  for (const a of mean) {
    if (a < low) low = a;
    if (a > high) high = a;
  }
  if (low === high) {
    return notEstimable('no-spread-in-means', 'all pairs have the same mean; no slope can be fitted');
  }
  const biasLine = fitLine(mean, d, confidenceLevel);
  const absoluteResiduals = d.map((v, i) => Math.abs(v - biasLine.intercept - biasLine.slope * mean[i]));
  const absoluteResidualLine = fitLine(mean, absoluteResiduals, confidenceLevel);
  return {
    estimable: true,
    pairs: n,
    differenceConvention: DIFFERENCE_CONVENTION,
    coverage,
    confidenceLevel,
    meanRange: [low, high],
    biasLine,
    absoluteResidualLine,
    multiplier: z * Math.sqrt(Math.PI / 2),
  };
}

/**
 * Limits of agreement of a regression fit at a given mean A = (CT-FFR + FFR)/2:
 * bias(A) = b0 + b1·A, limits = bias(A) ± z·√(π/2)·(c0 + c1·A). Not estimable where the fitted spread c0 + c1·A ≤ 0
 * (only possible when extrapolating).
 */
export function regressionLimitsAt(
  fit: RegressionBlandAltman,
  mean: number,
): RegressionLimits | NotEstimable<'non-positive-spread'> {
  const bias = fit.biasLine.intercept + fit.biasLine.slope * mean;
  const spread = fit.absoluteResidualLine.intercept + fit.absoluteResidualLine.slope * mean;
  if (!(spread > 0)) {
    return notEstimable(
      'non-positive-spread',
      `the fitted mean absolute residual at A = ${mean} is ${spread}`,
    );
  }
  const half = fit.multiplier * spread;
  return {
    estimable: true,
    mean,
    bias,
    limitsOfAgreement: [bias - half, bias + half],
    extrapolated: mean < fit.meanRange[0] || mean > fit.meanRange[1],
  };
}

/**
 * The `blandAltman` block of the performance report (DESIGN.md §5): classic bias, SD and limits with 95% CIs, the
 * Bland & Altman 2007 limits for vessels clustered in patients, and the proportional-bias slope.
 */
export function blandAltmanReport(
  readings: readonly VesselReading[],
):
  | BlandAltmanReport
  | (NotEstimable<'fewer-than-two-pairs'> & { readonly pairs: number; readonly patients: number }) {
  const patients = new Set(readings.map((r) => r.patientId)).size;
  const classic = classicBlandAltman(readings);
  if (!classic.estimable) return { ...classic, pairs: readings.length, patients };
  const repeated = repeatedMeasuresBlandAltman(readings);
  const zou = zouRepeatedMeasuresLimits(readings);
  const regression = regressionBlandAltman(readings);
  const reasons: { loaRepeated?: string; proportionalBias?: string } = {};
  if (!repeated.estimable) reasons.loaRepeated = repeated.detail;
  let proportionalBias: BlandAltmanReport['proportionalBias'] = null;
  if (!regression.estimable) reasons.proportionalBias = regression.detail;
  else if (!regression.biasLine.slopeTest.estimable)
    reasons.proportionalBias = regression.biasLine.slopeTest.detail;
  else {
    const test = regression.biasLine.slopeTest;
    proportionalBias = {
      slope: regression.biasLine.slope,
      ci95: test.ci,
      pValue: test.pValue,
      significant: test.significant,
    };
  }
  return {
    estimable: true,
    pairs: classic.pairs,
    patients,
    differenceConvention: DIFFERENCE_CONVENTION,
    bias: classic.bias,
    biasCi95: classic.biasCi,
    sd: classic.sd,
    loa: classic.limitsOfAgreement,
    loaCi95: { lower: classic.lowerLimitCi, upper: classic.upperLimitCi },
    loaRepeated: repeated.estimable ? repeated.limitsOfAgreement : null,
    loaRepeatedCi95: zou.estimable
      ? { limits: zou.limitsOfAgreement, lower: zou.lowerLimitCi, upper: zou.upperLimitCi }
      : null,
    sdRepeated: repeated.estimable ? repeated.sdTotal : null,
    biasCi95Clustered: repeated.estimable ? repeated.biasCiClusterRobust : null,
    proportionalBias,
    notEstimable: reasons,
    method: REPORT_METHOD,
  };
}
