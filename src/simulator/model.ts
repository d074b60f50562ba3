/**
 * The CT-FFR generative model (pure: no I/O, no clock). Every parameter comes from
 * /work/shared/reference/ctffr-evidence.md — cited by section next to each default — so a reviewer can check the
 * simulator against the evidence line by line.
 *
 * Conventions (ctffr-evidence.md, "Conventions"): positive means FFR ≤ 0.80, thresholds inclusive; values are reported
 * to two decimals, as devices and cath-lab systems do.
 */
import { Random } from './random';
import { BetaCopulaQuantiles } from './special-functions';
import type {
  ClinicalEventType,
  HyperemiaProtocol,
  MeasurementPoint,
  RejectionReason,
  Vessel,
} from './contracts';

// Math functions bound once per module: hot loops then avoid a global lookup per call, which is costly in the
// sandboxed module context jest runs code in (and free elsewhere).
const { SQRT2, exp, log, max, min, round, sqrt } = Math;
const NEVER = Number.POSITIVE_INFINITY;

// ---------------------------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------------------------

export interface TrueFfrParameters {
  /** Beta(alpha, beta) marginal of true FFR per vessel (§4.1). */
  alpha: number;
  beta: number;
  /** Correlation of the Gaussian copula between vessels of one patient (§4.1: ICC ≈ 0.2). */
  withinPatientCorrelation: number;
}

export interface CtFfrErrorParameters {
  /** Shrinkage toward the mean, s (§4.3). */
  shrink: number;
  /** Systematic bias b (§4.3; CT-FFR − FFR, negative = underestimates). */
  bias: number;
  /** σ_u of the per-patient (per-scan) random effect (§4.3). */
  patientSd: number;
  /** Heteroscedastic error SD = e · (sd0 + slope · (1 − FFR)) (§4.3). */
  sd0: number;
  slope: number;
  /** Gaussian errors, or Student-t with ν = 4 scaled to unit variance for heavy tails (§4.3, Cook's extreme bands). */
  errors: 'normal' | 'student-t4';
  /** CT-FFR is clipped to this range (§4.3). */
  min: number;
  max: number;
}

export interface InvasiveFfrParameters {
  /** Per-measurement wire SD, VERIFY test–retest 0.018/√2 (§4.2). */
  wireSd: number;
  min: number;
  max: number;
  /** Intracoronary adenosine reads higher than IV by ≈ 0.02 (§4.2, 11-study meta-analysis). */
  intracoronaryAdenosineBias: number;
}

/**
 * Effect modifiers of §4.4. They are stated as deviations from a *reference population* (REFERENCE_POPULATION): the
 * §4.3 defaults reproduce the literature averages, which were observed on patients with the usual mix of heart rates,
 * calcium and BMI, so an average fleet reproduces §4.3 and only a shifted population (older, faster heart rates, a
 * site without nitrates) moves the accuracy. The centring constants are computed, not hard-coded
 * (`referenceModifierMoments`).
 */
export interface EffectModifierParameters {
  /** Error SD grows by `heartRateSdSlopePerBpm` per bpm above this (§4.4: inflate above 65–70 bpm). */
  heartRateThresholdBpm: number;
  heartRateSdSlopePerBpm: number;
  /** CAC > 400: SD × 1.3–1.5 and a downward bias from blooming (§4.4). */
  severeCalciumAgatston: number;
  severeCalciumSdFactor: number;
  severeCalciumBias: number;
  /** BMI: negative bias growing with BMI (§4.4, Kawaguchi 2019 OR 1.33/unit for false positives). */
  bmiReference: number;
  bmiBiasPerUnit: number;
  /** No nitrates → smaller lumen → lower CT-FFR (§4.4, NXT vs DeFACTO protocol adherence). */
  noNitratesBias: number;
  /** Reading convention: the vessel tip reads lower than 10–20 mm distal to the lesion (§2, §4.4). */
  measurementPointBias: Record<MeasurementPoint, number>;
}

export interface RejectionParameters {
  /** Logit of P(reject) for a reference scan; calibrated so the fleet rejects ≈ 5% (§3: 2.9% trial – 8.4% clinical). */
  interceptLogit: number;
  heartRateReferenceBpm: number;
  /** ln OR per bpm (§3: OR 1.05 ADVANCE / 1.06 clinical). */
  logOddsPerBpm: number;
  sliceThicknessReferenceMm: number;
  /** ln OR per 0.1 mm of section thickness (§3: OR 1.04 / 1.03 "per unit as reported"; we read the unit as 0.1 mm). */
  logOddsPerTenthMm: number;
  /** Reason mix at the reference heart rate (§3: motion caused 78% / 64% of rejections); motion grows with HR. */
  reasonWeights: Record<RejectionReason, number>;
  motionLogWeightPerBpm: number;
}

export interface ProcessingParameters {
  /** Lognormal processing time: median 5–10 min for a completed analysis. */
  completedMedianSeconds: number;
  /** Rejections are decided at the image-quality gate, before the solver runs. */
  rejectedMedianSeconds: number;
  failedMedianSeconds: number;
  sigmaLog: number;
  /** Each further vessel adds this fraction of the single-vessel time. */
  perExtraVesselFraction: number;
}

export interface ReferralParameters {
  /** P(invasive FFR | min CT-FFR ≤ threshold) and P(… > threshold) (§4.7 simulator default). */
  probabilityIfPositive: number;
  probabilityIfNegative: number;
  /** Non-evaluable CT-FFR leaves the clinical question open; many go straight to the cath lab (assumption). */
  probabilityIfNotEvaluable: number;
  threshold: number;
  /** At catheterisation, each analysed vessel is wired with this probability (at least one always is). */
  vesselMeasuredProbability: number;
  /** CTA → invasive lag, lognormal: median 14 days, 90th percentile ≈ 60 days (§4.6). */
  lagMedianDays: number;
  lagP90Days: number;
}

export interface RevascularizationParameters {
  /** Share of patients with an invasive FFR ≤ threshold who are revascularised (FFR-guided strategy). */
  probabilityIfIschaemic: number;
  /** CABG rather than PCI for left-main or multivessel disease, and rarely for single-vessel disease. */
  cabgShareMultivessel: number;
  cabgShareSingleVessel: number;
  /** Ad-hoc PCI in the same session as the FFR; the rest are staged within `stagedMaxDays`. */
  adHocShare: number;
  stagedMaxDays: number;
}

export type HazardEvent = Exclude<ClinicalEventType, 'pci' | 'cabg'>;

export interface ClinicalOutcomeParameters {
  /** Annual hazards for a reference-age patient without ischaemia (stable chest-pain cohorts, PROMISE-like). */
  annualRates: Record<HazardEvent, number>;
  /** Hazard multipliers while ischaemia (any true FFR ≤ 0.80) is untreated — e.g. a false-negative CT-FFR. */
  untreatedIschaemiaMultipliers: Record<HazardEvent, number>;
  /** Multipliers once ischaemia has been revascularised (residual risk, restenosis). */
  treatedIschaemiaMultipliers: Record<HazardEvent, number>;
  referenceAgeYears: number;
  /** log-hazard per year of age for death / cardiac death, and for the other events. */
  mortalityLogHazardPerYear: number;
  morbidityLogHazardPerYear: number;
  /** P(urgent revascularisation on the day of an MI). */
  revascularizationAfterMi: number;
  /** Registries report clinical events late: lognormal delay from the event to its message. */
  reportingDelayMedianDays: number;
  reportingDelaySigma: number;
}

export interface CtFfrModelParameters {
  trueFfr: TrueFfrParameters;
  /** P(1, 2, 3 analysed vessels) (§4.5: post-market (0.88, 0.10, 0.02)). */
  vesselsPerPatient: readonly number[];
  /** Territory shares (§4.5: LAD 55–65%, LCX 15–20%, RCA 20–25% — an assumption; LM rare). */
  territoryShares: Record<Vessel, number>;
  error: CtFfrErrorParameters;
  invasive: InvasiveFfrParameters;
  modifiers: EffectModifierParameters;
  rejection: RejectionParameters;
  /** Software failures (status "failed"), 0.5–1% of analyses. */
  failureProbability: number;
  processing: ProcessingParameters;
  referral: ReferralParameters;
  revascularization: RevascularizationParameters;
  clinical: ClinicalOutcomeParameters;
}

/** Beta marginals of true FFR (§4.1): trial-like wide (default) and cath-lab-like narrow (FAST II). */
export const TRUE_FFR_DISTRIBUTIONS = {
  wide: { alpha: 7.6, beta: 1.67 },
  narrow: { alpha: 13.6, beta: 2.8 },
} as const;
export type TrueFfrDistributionName = keyof typeof TRUE_FFR_DISTRIBUTIONS;

/** Vessels-per-patient mixes (§4.5). */
export const VESSEL_MIXES = {
  'post-market': [0.88, 0.1, 0.02],
  trial: [0.62, 0.28, 0.1],
} as const;
export type VesselMixName = keyof typeof VESSEL_MIXES;

export const DEFAULT_MODEL: CtFfrModelParameters = {
  trueFfr: { ...TRUE_FFR_DISTRIBUTIONS.wide, withinPatientCorrelation: 0.2 },
  vesselsPerPatient: VESSEL_MIXES['post-market'],
  territoryShares: { LAD: 0.595, LCX: 0.18, RCA: 0.215, LM: 0.01 },
  error: {
    shrink: 0.85,
    bias: -0.025,
    patientSd: 0.02,
    sd0: 0.035,
    slope: 0.2,
    errors: 'normal',
    min: 0.3,
    max: 1.0,
  },
  invasive: { wireSd: 0.0127, min: 0.3, max: 1.0, intracoronaryAdenosineBias: 0.02 },
  modifiers: {
    heartRateThresholdBpm: 65,
    heartRateSdSlopePerBpm: 0.015,
    severeCalciumAgatston: 400,
    severeCalciumSdFactor: 1.4,
    severeCalciumBias: -0.02,
    bmiReference: 25,
    bmiBiasPerUnit: -0.002,
    noNitratesBias: -0.015,
    measurementPointBias: { distal_20mm: 0, distal_10mm: -0.005, vessel_tip: -0.02 },
  },
  rejection: {
    interceptLogit: -3.05,
    heartRateReferenceBpm: 64,
    logOddsPerBpm: log(1.055),
    sliceThicknessReferenceMm: 0.625,
    logOddsPerTenthMm: log(1.035),
    reasonWeights: { motion_artifact: 0.7, insufficient_contrast: 0.13, misregistration: 0.09, other: 0.08 },
    motionLogWeightPerBpm: 0.04,
  },
  failureProbability: 0.007,
  processing: {
    completedMedianSeconds: 420,
    rejectedMedianSeconds: 150,
    failedMedianSeconds: 600,
    sigmaLog: 0.35,
    perExtraVesselFraction: 0.15,
  },
  referral: {
    probabilityIfPositive: 0.6,
    probabilityIfNegative: 0.08,
    probabilityIfNotEvaluable: 0.35,
    threshold: 0.8,
    vesselMeasuredProbability: 0.85,
    lagMedianDays: 14,
    lagP90Days: 60,
  },
  revascularization: {
    probabilityIfIschaemic: 0.9,
    cabgShareMultivessel: 0.45,
    cabgShareSingleVessel: 0.04,
    adHocShare: 0.65,
    stagedMaxDays: 30,
  },
  clinical: {
    annualRates: {
      death: 0.007,
      cardiac_death: 0.002,
      myocardial_infarction: 0.005,
      urgent_revascularization: 0.004,
      hospitalization_chest_pain: 0.03,
    },
    // Untreated ischaemia: MI ≈ 2.5%/yr, urgent revascularisation ≈ 3.2%/yr, cardiac death ≈ 0.8%/yr.
    untreatedIschaemiaMultipliers: {
      death: 1.2,
      cardiac_death: 4,
      myocardial_infarction: 5,
      urgent_revascularization: 8,
      hospitalization_chest_pain: 2,
    },
    treatedIschaemiaMultipliers: {
      death: 1.1,
      cardiac_death: 1.5,
      myocardial_infarction: 1.6,
      urgent_revascularization: 2.5,
      hospitalization_chest_pain: 1.3,
    },
    referenceAgeYears: 62,
    mortalityLogHazardPerYear: 0.07,
    morbidityLogHazardPerYear: 0.03,
    revascularizationAfterMi: 0.6,
    reportingDelayMedianDays: 5,
    reportingDelaySigma: 1.0,
  },
};

/** Deep-partial override of the model, as the CLI and tests pass it. */
export type ModelOverrides = {
  [K in keyof CtFfrModelParameters]?: CtFfrModelParameters[K] extends readonly number[]
    ? CtFfrModelParameters[K]
    : Partial<CtFfrModelParameters[K]>;
};

export function resolveModel(overrides: ModelOverrides = {}): CtFfrModelParameters {
  const merged: CtFfrModelParameters = {
    trueFfr: { ...DEFAULT_MODEL.trueFfr, ...overrides.trueFfr },
    vesselsPerPatient: overrides.vesselsPerPatient ?? DEFAULT_MODEL.vesselsPerPatient,
    territoryShares: { ...DEFAULT_MODEL.territoryShares, ...overrides.territoryShares },
    error: { ...DEFAULT_MODEL.error, ...overrides.error },
    invasive: { ...DEFAULT_MODEL.invasive, ...overrides.invasive },
    modifiers: { ...DEFAULT_MODEL.modifiers, ...overrides.modifiers },
    rejection: { ...DEFAULT_MODEL.rejection, ...overrides.rejection },
    failureProbability: overrides.failureProbability ?? DEFAULT_MODEL.failureProbability,
    processing: { ...DEFAULT_MODEL.processing, ...overrides.processing },
    referral: { ...DEFAULT_MODEL.referral, ...overrides.referral },
    revascularization: { ...DEFAULT_MODEL.revascularization, ...overrides.revascularization },
    clinical: { ...DEFAULT_MODEL.clinical, ...overrides.clinical },
  };
  return merged;
}

// ---------------------------------------------------------------------------------------------------------------
// Small numeric helpers
// ---------------------------------------------------------------------------------------------------------------

export function clamp(value: number, low: number, high: number): number {
  return value < low ? low : value > high ? high : value;
}

/** Two-decimal reporting, as CT-FFR software and cath-lab systems print FFR. */
export function roundFfr(value: number): number {
  return round(value * 100) / 100;
}

function expit(x: number): number {
  return 1 / (1 + exp(-x));
}

/** z-score of the 90th percentile of the standard normal. */
const Z_90 = 1.2815515655446004;

// ---------------------------------------------------------------------------------------------------------------
// Patients and vessels
// ---------------------------------------------------------------------------------------------------------------

/** Demographics and habitus of the patients a site scans. */
export interface PopulationProfile {
  ageMeanYears: number;
  ageSdYears: number;
  maleShare: number;
  bmiMean: number;
  bmiSd: number;
  heartRateMeanBpm: number;
  heartRateSdBpm: number;
  /** Share of scans given sublingual nitrates (site protocol adherence, §4.4). */
  nitrateShare: number;
}

/**
 * The population the effect modifiers are centred on: a mixed post-market fleet of CN, EU and US sites (the fleet
 * catalogue averages to roughly this).
 */
export const REFERENCE_POPULATION: PopulationProfile & {
  measurementPointShares: Record<MeasurementPoint, number>;
} = {
  ageMeanYears: 60,
  ageSdYears: 10,
  maleShare: 0.58,
  bmiMean: 26.5,
  bmiSd: 4.6,
  heartRateMeanBpm: 64,
  heartRateSdBpm: 8.5,
  nitrateShare: 0.88,
  measurementPointShares: { distal_20mm: 0.7, distal_10mm: 0.2, vessel_tip: 0.1 },
};

export interface PatientCovariates {
  ageYears: number;
  sex: 'F' | 'M';
  bmi: number;
  /** Agatston calcium score: zero in a large share of chest-pain patients, otherwise right-skewed, rising with age. */
  agatstonScore: number;
}

export function samplePatientCovariates(rng: Random, population: PopulationProfile): PatientCovariates {
  const ageYears = round(clamp(rng.normal(population.ageMeanYears, population.ageSdYears), 25, 92));
  const sex = rng.bernoulli(population.maleShare) ? 'M' : 'F';
  const bmi = round(clamp(rng.normal(population.bmiMean, population.bmiSd), 16, 55) * 10) / 10;
  const zeroCalciumProbability = clamp(0.45 - 0.012 * (ageYears - 60), 0.1, 0.7);
  let agatstonScore = 0;
  const zeroDraw = rng.uniform();
  const severityDraw = rng.normal();
  if (zeroDraw >= zeroCalciumProbability) {
    const median = 150 * exp(0.035 * (ageYears - 60)) * (sex === 'M' ? 1.3 : 0.8);
    agatstonScore = min(6000, max(1, round(median * exp(1.3 * severityDraw))));
  }
  return { ageYears, sex, bmi, agatstonScore };
}

/** Heart rate during acquisition (after any β-blocker), integer bpm. */
export function sampleHeartRate(rng: Random, meanBpm: number, sdBpm: number): number {
  return round(clamp(rng.normal(meanBpm, sdBpm), 42, 125));
}

export function sampleVesselCount(rng: Random, mix: readonly number[]): number {
  return 1 + rng.categorical(mix);
}

const TERRITORY_ORDER: readonly Vessel[] = ['LM', 'LAD', 'LCX', 'RCA'];

/** Distinct territories drawn by weight without replacement, reported in anatomical order. */
export function sampleTerritories(rng: Random, count: number, shares: Record<Vessel, number>): Vessel[] {
  const remaining = TERRITORY_ORDER.slice();
  const chosen: Vessel[] = [];
  for (let i = 0; i < count && remaining.length > 0; i++) {
    const index = rng.categorical(remaining.map((vessel) => shares[vessel]));
    chosen.push(remaining[index]);
    remaining.splice(index, 1);
  }
  return TERRITORY_ORDER.filter((vessel) => chosen.includes(vessel));
}

/** SCCT segments where a lesion is read (proximal/mid dominate): LM 5; LAD 6–8; LCX 11, 13; RCA 1–3. */
const SEGMENTS: Record<Vessel, { segments: readonly number[]; weights: readonly number[] }> = {
  LM: { segments: [5], weights: [1] },
  LAD: { segments: [6, 7, 8], weights: [0.35, 0.55, 0.1] },
  LCX: { segments: [11, 13], weights: [0.6, 0.4] },
  RCA: { segments: [1, 2, 3], weights: [0.35, 0.5, 0.15] },
};

export function sampleSegment(rng: Random, vessel: Vessel): number {
  const { segments, weights } = SEGMENTS[vessel];
  return segments[rng.categorical(weights)];
}

/**
 * True FFR of a patient's vessels: Beta(alpha, beta) marginals joined by a Gaussian copula with exchangeable
 * correlation ρ (§4.1): z_ij = √ρ·z_i + √(1−ρ)·e_ij, FFR_ij = F⁻¹_Beta(Φ(z_ij)).
 */
export function sampleTrueFfr(rng: Random, vesselCount: number, parameters: TrueFfrParameters): number[] {
  const table = BetaCopulaQuantiles.for(parameters.alpha, parameters.beta);
  const rho = parameters.withinPatientCorrelation;
  const shared = rng.normal() * sqrt(rho);
  const own = sqrt(1 - rho);
  const values: number[] = [];
  for (let j = 0; j < vesselCount; j++) values.push(table.quantileOfNormal(shared + own * rng.normal()));
  return values;
}

/** CTA stenosis grade, loosely tied to FFR (diameter stenosis predicts FFR poorly — hence CT-FFR). */
export function sampleStenosisPercent(rng: Random, trueFfr: number): number {
  return round(clamp(25 + 190 * (0.92 - trueFfr) + rng.normal(0, 14), 0, 99));
}

// ---------------------------------------------------------------------------------------------------------------
// CT-FFR error model (§4.3) and effect modifiers (§4.4)
// ---------------------------------------------------------------------------------------------------------------

export interface ScanCovariates {
  heartRateBpm: number;
  agatstonScore: number;
  bmi: number;
  nitrates: boolean;
  measurementPoint: MeasurementPoint;
}

/** Bias shift and error-SD factor of one scan from its covariates, before centring. */
export function rawEffectModifiers(
  covariates: ScanCovariates,
  modifiers: EffectModifierParameters,
): { bias: number; sdFactor: number } {
  const severeCalcium = covariates.agatstonScore > modifiers.severeCalciumAgatston;
  const heartRateExcess = max(0, covariates.heartRateBpm - modifiers.heartRateThresholdBpm);
  const sdFactor =
    (1 + modifiers.heartRateSdSlopePerBpm * heartRateExcess) *
    (severeCalcium ? modifiers.severeCalciumSdFactor : 1);
  const bias =
    (severeCalcium ? modifiers.severeCalciumBias : 0) +
    modifiers.bmiBiasPerUnit * max(0, covariates.bmi - modifiers.bmiReference) +
    (covariates.nitrates ? 0 : modifiers.noNitratesBias) +
    modifiers.measurementPointBias[covariates.measurementPoint];
  return { bias, sdFactor };
}

export interface ModifierMoments {
  /** E[bias shift] over the reference population. */
  meanBias: number;
  /** sqrt(E[sdFactor²]): dividing by it keeps the population-average error variance at the §4.3 value. */
  rmsSdFactor: number;
}

const momentCache = new WeakMap<EffectModifierParameters, ModifierMoments>();

/**
 * Moments of the effect modifiers over REFERENCE_POPULATION, by a fixed-seed Monte Carlo (100,000 scans; the
 * standard error of the mean bias is < 1e-4). Memoised per parameter object.
 */
export function referenceModifierMoments(modifiers: EffectModifierParameters): ModifierMoments {
  const cached = momentCache.get(modifiers);
  if (cached) return cached;
  const rng = Random.fromSeed('reference-population');
  const points = Object.keys(REFERENCE_POPULATION.measurementPointShares) as MeasurementPoint[];
  const pointWeights = points.map((point) => REFERENCE_POPULATION.measurementPointShares[point]);
  const draws = 100_000;
  let biasSum = 0;
  let sdSquareSum = 0;
  for (let i = 0; i < draws; i++) {
    const patient = samplePatientCovariates(rng, REFERENCE_POPULATION);
    const { bias, sdFactor } = rawEffectModifiers(
      {
        heartRateBpm: sampleHeartRate(
          rng,
          REFERENCE_POPULATION.heartRateMeanBpm,
          REFERENCE_POPULATION.heartRateSdBpm,
        ),
        agatstonScore: patient.agatstonScore,
        bmi: patient.bmi,
        nitrates: rng.bernoulli(REFERENCE_POPULATION.nitrateShare),
        measurementPoint: points[rng.categorical(pointWeights)],
      },
      modifiers,
    );
    biasSum += bias;
    sdSquareSum += sdFactor * sdFactor;
  }
  const moments = { meanBias: biasSum / draws, rmsSdFactor: sqrt(sdSquareSum / draws) };
  momentCache.set(modifiers, moments);
  return moments;
}

/** Error context of one scan: centred covariate effects, composed with site/vendor/model/injected effects. */
export interface ScanErrorContext {
  /** Added to every vessel's CT-FFR of the scan. */
  biasShift: number;
  /** Multiplies the heteroscedastic error ε (not the shared patient effect u_i). */
  sdFactor: number;
}

export const NEUTRAL_SCAN: ScanErrorContext = { biasShift: 0, sdFactor: 1 };

export function scanErrorContext(
  covariates: ScanCovariates,
  modifiers: EffectModifierParameters,
  extra: { biasShift: number; sdFactor: number } = NEUTRAL_SCAN,
): ScanErrorContext {
  const moments = referenceModifierMoments(modifiers);
  const raw = rawEffectModifiers(covariates, modifiers);
  return {
    biasShift: raw.bias - moments.meanBias + extra.biasShift,
    sdFactor: (raw.sdFactor / moments.rmsSdFactor) * extra.sdFactor,
  };
}

/**
 * Reported CT-FFR of each vessel of one scan (§4.3):
 *   CT_ij = μ + s·(FFR_ij − μ) + b + u_i + ε_ij,  u_i ~ N(0, σ_u²),  ε_ij = e_ij·(sd0 + k·(1 − FFR_ij))
 * with μ the mean of the true-FFR marginal, clipped to [min, max] and rounded to two decimals.
 */
export function sampleCtFfr(
  rng: Random,
  trueFfr: readonly number[],
  model: CtFfrModelParameters,
  context: ScanErrorContext = NEUTRAL_SCAN,
): number[] {
  const { error } = model;
  const mu = model.trueFfr.alpha / (model.trueFfr.alpha + model.trueFfr.beta);
  const patientEffect = rng.normal(0, error.patientSd);
  const values: number[] = [];
  for (const ffr of trueFfr) {
    // Student-t(4) has variance 2: scale by 1/√2 so only the tails change, not the overall SD.
    const e = error.errors === 'student-t4' ? rng.studentT(4) / SQRT2 : rng.normal();
    const epsilon = e * (error.sd0 + error.slope * (1 - ffr)) * context.sdFactor;
    const ct = mu + error.shrink * (ffr - mu) + error.bias + context.biasShift + patientEffect + epsilon;
    values.push(roundFfr(clamp(ct, error.min, error.max)));
  }
  return values;
}

/** Reported invasive FFR (§4.2): true FFR + wire noise (+0.02 with intracoronary adenosine), clipped, rounded. */
export function sampleInvasiveFfr(
  rng: Random,
  trueFfr: number,
  hyperemia: HyperemiaProtocol,
  invasive: InvasiveFfrParameters,
): number {
  const protocolBias = hyperemia === 'adenosine_ic' ? invasive.intracoronaryAdenosineBias : 0;
  return roundFfr(clamp(trueFfr + rng.normal(0, invasive.wireSd) + protocolBias, invasive.min, invasive.max));
}

// ---------------------------------------------------------------------------------------------------------------
// Non-evaluable scans, failures, processing time (§3)
// ---------------------------------------------------------------------------------------------------------------

export interface RejectionInput {
  heartRateBpm: number;
  sliceThicknessMm: number;
  /** Site-level random effect on the logit (acquisition practice). */
  siteLogitOffset: number;
  /** Multiplies the odds (e.g. a model version with better motion handling). */
  oddsFactor: number;
}

/** P(rejected): logistic in heart rate and section thickness (§3 multivariable predictors). */
export function rejectionProbability(input: RejectionInput, rejection: RejectionParameters): number {
  const logit =
    rejection.interceptLogit +
    rejection.logOddsPerBpm * (input.heartRateBpm - rejection.heartRateReferenceBpm) +
    rejection.logOddsPerTenthMm * ((input.sliceThicknessMm - rejection.sliceThicknessReferenceMm) / 0.1) +
    input.siteLogitOffset +
    log(input.oddsFactor);
  return expit(logit);
}

const REJECTION_REASON_ORDER: readonly RejectionReason[] = [
  'motion_artifact',
  'insufficient_contrast',
  'misregistration',
  'other',
];

/** Reason of a rejection; motion's share grows with heart rate (§3: 78% of rejections in ADVANCE). */
export function sampleRejectionReason(
  rng: Random,
  heartRateBpm: number,
  rejection: RejectionParameters,
): RejectionReason {
  const weights = REJECTION_REASON_ORDER.map((reason) =>
    reason === 'motion_artifact'
      ? rejection.reasonWeights[reason] *
        exp(rejection.motionLogWeightPerBpm * (heartRateBpm - rejection.heartRateReferenceBpm))
      : rejection.reasonWeights[reason],
  );
  return REJECTION_REASON_ORDER[rng.categorical(weights)];
}

/** Wall time the device spent; `speedFactor` < 1 for faster software. */
export function sampleProcessingSeconds(
  rng: Random,
  status: 'completed' | 'rejected' | 'failed',
  vesselCount: number,
  speedFactor: number,
  processing: ProcessingParameters,
): number {
  const median =
    status === 'completed'
      ? processing.completedMedianSeconds * (1 + processing.perExtraVesselFraction * (vesselCount - 1))
      : status === 'rejected'
        ? processing.rejectedMedianSeconds
        : processing.failedMedianSeconds;
  return max(20, round(rng.lognormalFromMedian(median * speedFactor, processing.sigmaLog)));
}

/** A 0–1 image-quality score the device reports; lower with motion, habitus, calcium, and for rejected scans. */
export function sampleImageQualityScore(
  rng: Random,
  input: { heartRateBpm: number; bmi: number; agatstonScore: number; rejected: boolean },
): number {
  const logit =
    2.0 -
    0.05 * (input.heartRateBpm - 64) -
    0.04 * (input.bmi - 26.5) -
    (input.agatstonScore > 400 ? 0.4 : 0) -
    (input.rejected ? 2.2 : 0) +
    rng.normal(0, 0.45);
  return round(expit(logit) * 100) / 100;
}

// ---------------------------------------------------------------------------------------------------------------
// Referral, invasive FFR, revascularisation (§4.6, §4.7)
// ---------------------------------------------------------------------------------------------------------------

/** P(the patient gets an invasive FFR) given the minimum reported CT-FFR, or null when not evaluable (§4.7). */
export function referralProbability(minCtFfr: number | null, referral: ReferralParameters): number {
  if (minCtFfr === null) return referral.probabilityIfNotEvaluable;
  return minCtFfr <= referral.threshold ? referral.probabilityIfPositive : referral.probabilityIfNegative;
}

/** σ of log(lag) so that the lognormal has the stated median and 90th percentile (§4.6: 14 d, ≈ 60 d). */
export function referralLagSigma(referral: ReferralParameters): number {
  return log(referral.lagP90Days / referral.lagMedianDays) / Z_90;
}

export function sampleReferralLagDays(rng: Random, referral: ReferralParameters): number {
  return rng.lognormalFromMedian(referral.lagMedianDays, referralLagSigma(referral));
}

export interface RevascularizationPlan {
  procedure: 'pci' | 'cabg';
  /** Days after the invasive FFR: 0 for ad-hoc PCI, otherwise staged. */
  daysAfterInvasive: number;
}

/** FFR-guided revascularisation of the vessels whose invasive FFR is ≤ threshold (null: none indicated / done). */
export function planRevascularization(
  rng: Random,
  measurements: readonly { vessel: Vessel; value: number }[],
  threshold: number,
  parameters: RevascularizationParameters,
): RevascularizationPlan | null {
  const positive = measurements.filter((m) => m.value <= threshold);
  const treatDraw = rng.uniform();
  const procedureDraw = rng.uniform();
  const timingDraw = rng.uniform();
  const stagedDraw = rng.uniform();
  if (positive.length === 0 || treatDraw >= parameters.probabilityIfIschaemic) return null;
  const complex = positive.length >= 2 || positive.some((m) => m.vessel === 'LM');
  const cabg = procedureDraw < (complex ? parameters.cabgShareMultivessel : parameters.cabgShareSingleVessel);
  // CABG is never ad hoc; PCI is ad hoc in `adHocShare` of cases.
  const adHoc = !cabg && timingDraw < parameters.adHocShare;
  return {
    procedure: cabg ? 'cabg' : 'pci',
    daysAfterInvasive: adHoc ? 0 : 3 + stagedDraw * (parameters.stagedMaxDays - 3),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Clinical events after the CTA
// ---------------------------------------------------------------------------------------------------------------

export interface FollowUpInput {
  ageYears: number;
  /** Any vessel with true FFR ≤ 0.80: the patient has ischaemia whatever the tests said. */
  ischaemic: boolean;
  /** Day (after the CTA) of a planned elective revascularisation, or null. */
  revascularizedAtDay: number | null;
  /** Days of follow-up to simulate (up to the end of the simulated period). */
  horizonDays: number;
}

export interface ClinicalOccurrence {
  event: HazardEvent;
  /** Days after the CTA. */
  day: number;
}

const HAZARD_EVENTS: readonly HazardEvent[] = [
  'death',
  'cardiac_death',
  'myocardial_infarction',
  'urgent_revascularization',
  'hospitalization_chest_pain',
];

/**
 * Clinical events as competing exponential clocks with piecewise-constant hazards: ischaemia left untreated (a false
 * negative that was not referred, or a positive the patient declined) multiplies the cardiac hazards; an elective
 * revascularisation, an MI followed by urgent revascularisation, or an urgent revascularisation switches the patient
 * to the "treated" multipliers. Death ends follow-up. Memorylessness lets us redraw at each state change.
 */
export function sampleClinicalEvents(
  rng: Random,
  input: FollowUpInput,
  clinical: ClinicalOutcomeParameters,
): ClinicalOccurrence[] {
  const occurrences: ClinicalOccurrence[] = [];
  const ageOffset = input.ageYears - clinical.referenceAgeYears;
  const mortalityAge = exp(clinical.mortalityLogHazardPerYear * ageOffset);
  const morbidityAge = exp(clinical.morbidityLogHazardPerYear * ageOffset);
  let treated = false;
  let day = 0;
  for (let guard = 0; guard < 100 && day < input.horizonDays; guard++) {
    const plannedSwitch =
      !treated && input.revascularizedAtDay !== null && input.revascularizedAtDay > day
        ? input.revascularizedAtDay
        : NEVER;
    const dailyHazards = HAZARD_EVENTS.map((event) => {
      const multiplier = !input.ischaemic
        ? 1
        : treated
          ? clinical.treatedIschaemiaMultipliers[event]
          : clinical.untreatedIschaemiaMultipliers[event];
      const age = event === 'death' || event === 'cardiac_death' ? mortalityAge : morbidityAge;
      return (clinical.annualRates[event] * multiplier * age) / 365.25;
    });
    const total = dailyHazards.reduce((sum, hazard) => sum + hazard, 0);
    const wait = rng.exponential(total);
    const which = rng.categorical(dailyHazards);
    const candidate = day + wait;
    if (candidate >= plannedSwitch) {
      // Memoryless: restart the clocks at the planned revascularisation with the treated hazards.
      day = plannedSwitch;
      treated = true;
      continue;
    }
    if (candidate >= input.horizonDays) break;
    day = candidate;
    const event = HAZARD_EVENTS[which];
    occurrences.push({ event, day });
    if (event === 'death' || event === 'cardiac_death') break;
    if (event === 'myocardial_infarction' && rng.bernoulli(clinical.revascularizationAfterMi)) {
      occurrences.push({ event: 'urgent_revascularization', day });
      treated = true;
    }
    if (event === 'urgent_revascularization') treated = true;
  }
  return occurrences;
}

// ---------------------------------------------------------------------------------------------------------------
// The bare §4.3 model, for calibration
// ---------------------------------------------------------------------------------------------------------------

export interface ReferencePatient {
  trueFfr: number[];
  ctFfr: number[];
  invasiveFfr: number[];
}

/**
 * One patient under the bare §4.3 model (no site, scanner or covariate effects, IV adenosine): the setting in which
 * ctffr-evidence.md reports its calibration table.
 */
export function simulateReferencePatient(
  rng: Random,
  model: CtFfrModelParameters = DEFAULT_MODEL,
): ReferencePatient {
  const count = sampleVesselCount(rng, model.vesselsPerPatient);
  const trueFfr = sampleTrueFfr(rng, count, model.trueFfr);
  const ctFfr = sampleCtFfr(rng, trueFfr, model);
  const invasiveFfr = trueFfr.map((ffr) => sampleInvasiveFfr(rng, ffr, 'adenosine_iv', model.invasive));
  return { trueFfr, ctFfr, invasiveFfr };
}
