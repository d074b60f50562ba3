/**
 * Correction of sensitivity and specificity for partial verification (referral) bias, statistics.md §9.
 *
 * Only analyses whose patient went on to invasive FFR are verified, and referral depends on the CT-FFR result
 * (ctffr-evidence.md §4.7: P(verified | CT-FFR ≤ 0.80) ≈ 0.60 vs 0.08 above), so sensitivity and specificity computed on
 * the verified subset alone are badly biased (§5 example: naive 0.97 / 0.33 against a truth of 0.83 / 0.78). Both
 * corrections below assume verification is missing at random given the observed variables (MAR):
 *
 *  - Begg & Greenes (1983, Biometrics 39:207): verification depends on the test result only.
 *      Se = P(T+)·PPV_v / (P(T+)·PPV_v + P(T−)·FOR_v),  Sp = P(T−)(1−FOR_v) / (P(T−)(1−FOR_v) + P(T+)(1−PPV_v))
 *    with P(T±) from ALL analyses and PPV_v = P(D | T+, V), FOR_v = P(D | T−, V) from the verified ones;
 *  - inverse probability weighting (Alonzo & Pepe 2005, Stat Med 24:1079): π_i = P(V = 1 | T_i, X_i) fitted on all
 *    analyses, w_i = V_i/π_i, Se = Σw·T·D/Σw·D, Sp = Σw(1−T)(1−D)/Σw(1−D). With π = the empirical verification share in
 *    T+ and T− it equals Begg–Greenes exactly (statistics.md §14.6, checked). Propensity models: `test-result`
 *    (default), `test-result-by-stratum` (empirical share per test result × stratum, e.g. site), `logistic` (logistic
 *    regression of V on [1, T, covariates] by IRLS), `given` (caller-supplied π_i).
 *
 * Intervals (statistics.md §9: "CIs: bootstrap over all analysed patients"): seeded nonparametric bootstrap that
 * resamples all analysed units — patients (`clusterId`) when given, otherwise each analysis — with replacement,
 * re-estimating the propensity in every replicate; 95% percentile interval (type-7 quantiles, as R's default and
 * numpy's `percentile`). Default 2000 replicates, seed 20240601, both recorded in the result. Replicates in which
 * the estimator is undefined (e.g. no verified test-negative in the resample) are dropped and counted; more than 1%
 * of them makes the interval "not estimable". For Begg–Greenes a delta-method interval on the logit scale is given as
 * an analytic cross-check (independent multinomial parts, Begg & Greenes 1983 §3):
 *   Var(logit Se) = 1/(n·P(T+)P(T−)) + (1−PPV_v)/(n_{T+,V}·PPV_v) + (1−FOR_v)/(n_{T−,V}·FOR_v),
 *   Var(logit Sp) = 1/(n·P(T+)P(T−)) + PPV_v/(n_{T+,V}(1−PPV_v)) + FOR_v/(n_{T−,V}(1−FOR_v)).
 * The uncorrected (verified-only) estimates are reported beside the corrected ones, as ctffr-evidence.md §5 asks.
 */
import { type SeededRandom, sampleMultinomial, seededRandom, twoSidedNormalCritical } from './distributions';
import type { Interval, NotEstimable } from './roc';
import { type ProportionResult, independentUnitsProportion, isPositive, proportion } from './proportions';

export type VerificationNotEstimableReason =
  | 'no-analyses'
  | 'no-verified-test-positive'
  | 'no-verified-test-negative'
  | 'no-verified-diseased'
  | 'no-verified-non-diseased'
  | 'positivity-violation'
  | 'propensity-not-estimable'
  | 'boundary-estimate'
  | 'unstable-bootstrap'
  | 'bootstrap-not-run';

/** One analysed unit (per statistics.md §9 a patient; vessels may be used with `clusterId` = patient). */
export interface AnalysedUnit {
  /** CT-FFR ≤ threshold. */
  readonly testPositive: boolean;
  /** Got an invasive FFR (reference standard). */
  readonly verified: boolean;
  /** Invasive FFR ≤ threshold; required when verified, ignored otherwise. */
  readonly diseased?: boolean | null;
  /** Bootstrap resampling unit (patient). Default: each analysed unit on its own. */
  readonly clusterId?: string;
  /** Stratum of the `test-result-by-stratum` propensity (e.g. site). */
  readonly stratum?: string;
  /** Extra covariates of the `logistic` propensity (e.g. the CT-FFR value). */
  readonly covariates?: readonly number[];
  /** π_i for the `given` propensity, in (0, 1]. */
  readonly verificationProbability?: number;
}

/** Sufficient statistics of Begg–Greenes: test results of all analyses, 2×2 of the verified ones. */
export interface VerificationCounts {
  readonly testPositive: number;
  readonly testNegative: number;
  readonly verifiedTestPositiveDiseased: number;
  readonly verifiedTestPositiveNonDiseased: number;
  readonly verifiedTestNegativeDiseased: number;
  readonly verifiedTestNegativeNonDiseased: number;
}

export type PropensityModel = 'test-result' | 'test-result-by-stratum' | 'logistic' | 'given';

export interface BootstrapOptions {
  /** Replicates. Default 2000 (statistics.md §5: B ≥ 2000); 0 runs none (delta-method interval only). */
  readonly replicates?: number;
  /** Seed of the resampling stream. Default 20240601. */
  readonly seed?: number;
}

export interface VerificationBiasOptions {
  readonly bootstrap?: BootstrapOptions;
}

export interface IpwOptions extends VerificationBiasOptions {
  /** Default 'test-result' (then IPW = Begg–Greenes). */
  readonly propensity?: PropensityModel;
}

export interface CorrectedProportion {
  readonly estimate: number;
  readonly ci95: {
    /** Percentile bootstrap over all analysed units (statistics.md §9). */
    readonly bootstrap: Interval | NotEstimable<VerificationNotEstimableReason>;
    /** Begg–Greenes only: delta method on the logit scale (analytic cross-check). */
    readonly deltaLogit?: Interval | NotEstimable<VerificationNotEstimableReason>;
  };
  /** SD of the bootstrap replicates; null when the bootstrap interval is not estimable. */
  readonly bootstrapStandardError: number | null;
  /** Begg–Greenes only: delta-method SE on the probability scale. */
  readonly deltaStandardError?: number | null;
}

export interface VerificationBiasEstimate {
  readonly estimable: true;
  readonly method: 'begg-greenes' | 'inverse-probability-weighting';
  readonly propensity: PropensityModel;
  /** All analyses — the denominator, verified or not. */
  readonly analysed: number;
  readonly verified: number;
  /** Share of analyses that got an invasive FFR (DESIGN.md §5), with its intervals. */
  readonly verifiedFraction: ProportionResult;
  readonly sensitivity: CorrectedProportion | NotEstimable<VerificationNotEstimableReason>;
  readonly specificity: CorrectedProportion | NotEstimable<VerificationNotEstimableReason>;
  /** Verified-only estimates — biased under referral; reported side by side (ctffr-evidence.md §5). */
  readonly naive: { readonly sensitivity: ProportionResult; readonly specificity: ProportionResult };
  /** IPW only: the largest weight 1/π among verified units (a large one signals an unstable estimate). */
  readonly maxWeight?: number;
  readonly bootstrap: {
    readonly replicates: number;
    readonly seed: number;
    readonly unit: 'cluster' | 'analysis';
    readonly failedReplicates: { readonly sensitivity: number; readonly specificity: number };
    readonly interval: string;
  };
  readonly assumption: string;
}

export type VerificationBiasResult =
  | VerificationBiasEstimate
  | (NotEstimable<VerificationNotEstimableReason> & { readonly analysed: number; readonly verified: number });

const DEFAULT_REPLICATES = 2000;
const DEFAULT_SEED = 20240601;
const MAX_FAILED_SHARE = 0.01;
/**
 * Above this many analyses a counts-only plan keeps no per-analysis index: a replicate then always draws a
 * multinomial over the six profiles (replicateWeights picks that path long before this size).
 */
const DIRECT_DRAW_PLAN_LIMIT = 1_000_000;
const MAR_ASSUMPTION =
  'verification missing at random given the test result (and the propensity covariates); every analysis, verified or not, is in the denominator';

function notEstimable<R extends VerificationNotEstimableReason>(reason: R, detail: string): NotEstimable<R> {
  return { estimable: false, reason, detail };
}

// ---------------------------------------------------------------------------------------------------------------------
// Begg–Greenes point estimate
// ---------------------------------------------------------------------------------------------------------------------

interface PointEstimate {
  readonly sensitivity: number | VerificationNotEstimableReason;
  readonly specificity: number | VerificationNotEstimableReason;
}

/** Begg–Greenes point estimates from the six counts; a reason string where a value is undefined. */
function beggGreenesPoint(c: VerificationCounts): PointEstimate {
  const n = c.testPositive + c.testNegative;
  if (n === 0) return { sensitivity: 'no-analyses', specificity: 'no-analyses' };
  const verifiedPositive = c.verifiedTestPositiveDiseased + c.verifiedTestPositiveNonDiseased;
  const verifiedNegative = c.verifiedTestNegativeDiseased + c.verifiedTestNegativeNonDiseased;
  // P(T+) = 0 or 1 needs no verified unit on the empty side: its term vanishes.
  if (verifiedPositive === 0 && c.testPositive > 0) {
    return { sensitivity: 'no-verified-test-positive', specificity: 'no-verified-test-positive' };
  }
  if (verifiedNegative === 0 && c.testNegative > 0) {
    return { sensitivity: 'no-verified-test-negative', specificity: 'no-verified-test-negative' };
  }
  const pPositive = c.testPositive / n;
  const pNegative = c.testNegative / n;
  const ppv = verifiedPositive > 0 ? c.verifiedTestPositiveDiseased / verifiedPositive : 0;
  const falseOmission = verifiedNegative > 0 ? c.verifiedTestNegativeDiseased / verifiedNegative : 0;
  const diseasedPositive = pPositive * ppv;
  const diseasedNegative = pNegative * falseOmission;
  const healthyNegative = pNegative * (1 - falseOmission);
  const healthyPositive = pPositive * (1 - ppv);
  return {
    sensitivity:
      diseasedPositive + diseasedNegative > 0
        ? diseasedPositive / (diseasedPositive + diseasedNegative)
        : 'no-verified-diseased',
    specificity:
      healthyNegative + healthyPositive > 0
        ? healthyNegative / (healthyNegative + healthyPositive)
        : 'no-verified-non-diseased',
  };
}

const REASON_DETAIL: Record<VerificationNotEstimableReason, string> = {
  'no-analyses': 'no analyses: the denominator is empty',
  'no-verified-test-positive': 'no test-positive analysis was verified: P(D | T+) cannot be estimated',
  'no-verified-test-negative': 'no test-negative analysis was verified: P(D | T−) cannot be estimated',
  'no-verified-diseased': 'no verified analysis is diseased: sensitivity is 0/0',
  'no-verified-non-diseased': 'no verified analysis is non-diseased: specificity is 0/0',
  'positivity-violation':
    'a propensity cell has analyses but no verified one (π = 0): IPW cannot reweight it',
  'propensity-not-estimable': 'the logistic propensity model did not converge (separation?)',
  'boundary-estimate': 'estimate at 0 or 1: the logit-scale delta interval is undefined',
  'unstable-bootstrap': 'more than 1% of bootstrap resamples had an undefined estimate',
  'bootstrap-not-run': 'no bootstrap was asked for (replicates = 0); see the delta-method interval',
};

// ---------------------------------------------------------------------------------------------------------------------
// Data as weighted profiles, and the resampling plan
// ---------------------------------------------------------------------------------------------------------------------

/**
 * A distinct analysed-unit profile: everything an estimator reads. Estimators work on profiles with frequency weights,
 * so a bootstrap replicate is just a new weight vector (exactly equivalent to resampling the units themselves).
 */
interface Profile {
  readonly testPositive: boolean;
  readonly verified: boolean;
  readonly diseased: boolean;
  readonly stratum: string;
  readonly covariates: readonly number[];
  readonly verificationProbability: number | undefined;
}

/** Clusters grouped by identical composition (profile index → count), with how many clusters share it. */
interface ResamplingPlan {
  readonly profiles: readonly Profile[];
  readonly weights: Float64Array;
  readonly compositions: readonly { readonly profileIndex: Int32Array; readonly count: Float64Array }[];
  readonly compositionFrequency: Float64Array;
  /** Composition of each cluster, for direct draws when compositions are many. */
  readonly compositionOfCluster: Int32Array;
  readonly clusters: number;
  readonly unit: 'cluster' | 'analysis';
}

function profileOf(u: AnalysedUnit): Profile {
  if (u.verified && (u.diseased === undefined || u.diseased === null)) {
    throw new RangeError('a verified unit needs its reference result (diseased: true/false)');
  }
  return {
    testPositive: u.testPositive,
    verified: u.verified,
    diseased: u.verified ? u.diseased === true : false,
    stratum: u.stratum ?? '',
    covariates: u.covariates ?? [],
    verificationProbability: u.verificationProbability,
  };
}

function profileKey(p: Profile): string {
  return JSON.stringify([
    p.testPositive,
    p.verified,
    p.diseased,
    p.stratum,
    p.covariates,
    p.verificationProbability ?? null,
  ]);
}

/** Builds the weighted profiles and groups clusters (patients, or single analyses) by composition. */
function resamplingPlan(units: readonly AnalysedUnit[]): ResamplingPlan {
  const profiles: Profile[] = [];
  const profileIndex = new Map<string, number>();
  const clusterMembers = new Map<string, number[]>();
  const clusterOrder: number[][] = [];
  let clustered = false;
  for (const u of units) {
    const profile = profileOf(u);
    const key = profileKey(profile);
    let index = profileIndex.get(key);
    if (index === undefined) {
      index = profiles.length;
      profiles.push(profile);
      profileIndex.set(key, index);
    }
    if (u.clusterId !== undefined) {
      clustered = true;
      let members = clusterMembers.get(u.clusterId);
      if (!members) {
        members = [];
        clusterMembers.set(u.clusterId, members);
        clusterOrder.push(members);
      }
      members.push(index);
    } else clusterOrder.push([index]);
  }
  const weights = new Float64Array(profiles.length);
  const compositionIndex = new Map<string, number>();
  const compositions: { profileIndex: Int32Array; count: Float64Array }[] = [];
  const frequency: number[] = [];
  const compositionOfCluster = new Int32Array(clusterOrder.length);
  clusterOrder.forEach((members, c) => {
    const tally = new Map<number, number>();
    for (const i of members) {
      weights[i]++;
      tally.set(i, (tally.get(i) ?? 0) + 1);
    }
    const entries = [...tally.entries()].sort((a, b) => a[0] - b[0]);
    const key = entries.map(([i, n]) => `${i}x${n}`).join(',');
    let index = compositionIndex.get(key);
    if (index === undefined) {
      index = compositions.length;
      compositions.push({
        profileIndex: Int32Array.from(entries.map(([i]) => i)),
        count: Float64Array.from(entries.map(([, n]) => n)),
      });
      frequency.push(0);
      compositionIndex.set(key, index);
    }
    frequency[index]++;
    compositionOfCluster[c] = index;
  });
  return {
    profiles,
    weights,
    compositions,
    compositionFrequency: Float64Array.from(frequency),
    compositionOfCluster,
    clusters: clusterOrder.length,
    unit: clustered ? 'cluster' : 'analysis',
  };
}

/**
 * Profile weights of one bootstrap replicate: K clusters drawn with replacement. Two exact ways, whichever is cheaper:
 * a multinomial over the distinct compositions (O(compositions·log K) variates) when they are few compared with K,
 * otherwise K direct draws.
 */
function replicateWeights(plan: ResamplingPlan, random: SeededRandom, out: Float64Array): void {
  out.fill(0);
  const add = (composition: number, times: number): void => {
    const { profileIndex, count } = plan.compositions[composition];
    for (let j = 0; j < profileIndex.length; j++) out[profileIndex[j]] += times * count[j];
  };
  const multinomialCost = plan.compositions.length * 10 * Math.max(1, Math.log2(plan.clusters / 32));
  if (multinomialCost < plan.clusters) {
    const draws = sampleMultinomial(random, plan.clusters, plan.compositionFrequency);
    for (let t = 0; t < draws.length; t++) if (draws[t] > 0) add(t, draws[t]);
  } else {
    if (plan.compositionOfCluster.length !== plan.clusters)
      throw new Error('resampling plan without cluster index');
    for (let k = 0; k < plan.clusters; k++) add(plan.compositionOfCluster[random.nextInt(plan.clusters)], 1);
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Bootstrap summaries
// ---------------------------------------------------------------------------------------------------------------------

/** Type-7 quantile (linear interpolation between order statistics; R default, numpy `percentile`). */
function quantileType7(sorted: Float64Array, p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

interface BootstrapSummary {
  readonly interval: Interval | NotEstimable<VerificationNotEstimableReason>;
  readonly standardError: number | null;
  readonly failed: number;
}

function summarise(values: number[], failed: number, replicates: number): BootstrapSummary {
  if (failed > MAX_FAILED_SHARE * replicates || values.length < 2) {
    return {
      interval: notEstimable(
        'unstable-bootstrap',
        `${failed} of ${replicates} bootstrap resamples had an undefined estimate`,
      ),
      standardError: null,
      failed,
    };
  }
  const sorted = Float64Array.from(values).sort();
  let mean = 0;
  for (const v of values) mean += v;
  mean /= values.length;
  let ss = 0;
  for (const v of values) ss += (v - mean) * (v - mean);
  return {
    interval: [quantileType7(sorted, 0.025), quantileType7(sorted, 0.975)],
    standardError: Math.sqrt(ss / (values.length - 1)),
    failed,
  };
}

/** Runs the bootstrap: `statistic` is evaluated on the profile weights of each replicate. */
function runBootstrap(
  plan: ResamplingPlan,
  replicates: number,
  seed: number,
  statistic: (weights: Float64Array) => PointEstimate,
): { sensitivity: BootstrapSummary; specificity: BootstrapSummary } {
  if (replicates === 0) {
    const skipped: BootstrapSummary = {
      interval: notEstimable('bootstrap-not-run', REASON_DETAIL['bootstrap-not-run']),
      standardError: null,
      failed: 0,
    };
    return { sensitivity: skipped, specificity: skipped };
  }
  const random = seededRandom(seed);
  const weights = new Float64Array(plan.profiles.length);
  const sensitivity: number[] = [];
  const specificity: number[] = [];
  let failedSensitivity = 0;
  let failedSpecificity = 0;
  for (let b = 0; b < replicates; b++) {
    replicateWeights(plan, random, weights);
    const estimate = statistic(weights);
    if (typeof estimate.sensitivity === 'number') sensitivity.push(estimate.sensitivity);
    else failedSensitivity++;
    if (typeof estimate.specificity === 'number') specificity.push(estimate.specificity);
    else failedSpecificity++;
  }
  return {
    sensitivity: summarise(sensitivity, failedSensitivity, replicates),
    specificity: summarise(specificity, failedSpecificity, replicates),
  };
}

function bootstrapSettings(options: VerificationBiasOptions): { replicates: number; seed: number } {
  const replicates = options.bootstrap?.replicates ?? DEFAULT_REPLICATES;
  const seed = options.bootstrap?.seed ?? DEFAULT_SEED;
  if (!(Number.isInteger(replicates) && (replicates === 0 || replicates >= 2)))
    throw new RangeError(`replicates must be 0 or an integer ≥ 2`);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
  return { replicates, seed };
}

function countsFromProfiles(profiles: readonly Profile[], weights: ArrayLike<number>): VerificationCounts {
  const cells = [0, 0, 0, 0, 0, 0];
  profiles.forEach((p, i) => {
    const cell = !p.verified
      ? p.testPositive
        ? 0
        : 1
      : p.testPositive
        ? p.diseased
          ? 2
          : 3
        : p.diseased
          ? 4
          : 5;
    cells[cell] += weights[i];
  });
  return {
    testPositive: cells[0] + cells[2] + cells[3],
    testNegative: cells[1] + cells[4] + cells[5],
    verifiedTestPositiveDiseased: cells[2],
    verifiedTestPositiveNonDiseased: cells[3],
    verifiedTestNegativeDiseased: cells[4],
    verifiedTestNegativeNonDiseased: cells[5],
  };
}

function assertCounts(c: VerificationCounts): void {
  const values = [
    c.testPositive - c.verifiedTestPositiveDiseased - c.verifiedTestPositiveNonDiseased,
    c.testNegative - c.verifiedTestNegativeDiseased - c.verifiedTestNegativeNonDiseased,
    c.verifiedTestPositiveDiseased,
    c.verifiedTestPositiveNonDiseased,
    c.verifiedTestNegativeDiseased,
    c.verifiedTestNegativeNonDiseased,
  ];
  for (const value of values) {
    if (!(Number.isInteger(value) && value >= 0)) {
      throw new RangeError(
        'verification counts must be non-negative integers with verified ≤ analysed per test result',
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Shared result assembly
// ---------------------------------------------------------------------------------------------------------------------

function naiveEstimates(units: readonly AnalysedUnit[]): VerificationBiasEstimate['naive'] {
  const verified = units
    .map((u, i) => ({ u, clusterId: u.clusterId ?? `#${i}` }))
    .filter(({ u }) => u.verified);
  return {
    sensitivity: proportion(
      verified
        .filter(({ u }) => u.diseased === true)
        .map(({ u, clusterId }) => ({ clusterId, success: u.testPositive })),
    ),
    specificity: proportion(
      verified
        .filter(({ u }) => u.diseased === false)
        .map(({ u, clusterId }) => ({ clusterId, success: !u.testPositive })),
    ),
  };
}

function corrected(
  point: number | VerificationNotEstimableReason,
  boot: BootstrapSummary,
  delta?: { interval: Interval | NotEstimable<VerificationNotEstimableReason>; standardError: number | null },
): CorrectedProportion | NotEstimable<VerificationNotEstimableReason> {
  if (typeof point !== 'number') return notEstimable(point, REASON_DETAIL[point]);
  return {
    estimate: point,
    ci95: delta ? { bootstrap: boot.interval, deltaLogit: delta.interval } : { bootstrap: boot.interval },
    bootstrapStandardError: boot.standardError,
    ...(delta ? { deltaStandardError: delta.standardError } : {}),
  };
}

type DeltaResult = {
  interval: Interval | NotEstimable<VerificationNotEstimableReason>;
  standardError: number | null;
};

/** Delta-method logit-scale intervals of the Begg–Greenes estimates (see the file header). */
function beggGreenesDelta(c: VerificationCounts): { sensitivity: DeltaResult; specificity: DeltaResult } {
  const point = beggGreenesPoint(c);
  const n = c.testPositive + c.testNegative;
  const verifiedPositive = c.verifiedTestPositiveDiseased + c.verifiedTestPositiveNonDiseased;
  const verifiedNegative = c.verifiedTestNegativeDiseased + c.verifiedTestNegativeNonDiseased;
  const ppv = c.verifiedTestPositiveDiseased / verifiedPositive;
  const falseOmission = c.verifiedTestNegativeDiseased / verifiedNegative;
  const pPositive = c.testPositive / n;
  const marginal = 1 / (n * pPositive * (1 - pPositive));
  const z = twoSidedNormalCritical(0.95);
  const build = (estimate: number | VerificationNotEstimableReason, logitVariance: number): DeltaResult => {
    if (typeof estimate !== 'number') {
      return { interval: notEstimable(estimate, REASON_DETAIL[estimate]), standardError: null };
    }
    if (!(estimate > 0 && estimate < 1) || !Number.isFinite(logitVariance)) {
      return {
        interval: notEstimable('boundary-estimate', REASON_DETAIL['boundary-estimate']),
        standardError: null,
      };
    }
    const logit = Math.log(estimate / (1 - estimate));
    const se = Math.sqrt(logitVariance);
    const expit = (v: number): number => 1 / (1 + Math.exp(-v));
    return {
      interval: [expit(logit - z * se), expit(logit + z * se)],
      standardError: se * estimate * (1 - estimate),
    };
  };
  return {
    sensitivity: build(
      point.sensitivity,
      marginal +
        (1 - ppv) / (verifiedPositive * ppv) +
        (1 - falseOmission) / (verifiedNegative * falseOmission),
    ),
    specificity: build(
      point.specificity,
      marginal +
        ppv / (verifiedPositive * (1 - ppv)) +
        falseOmission / (verifiedNegative * (1 - falseOmission)),
    ),
  };
}

function verifiedFractionOf(units: readonly AnalysedUnit[]): ProportionResult {
  return proportion(units.map((u, i) => ({ clusterId: u.clusterId ?? `#${i}`, success: u.verified })));
}

function bootstrapRecord(
  plan: ResamplingPlan,
  replicates: number,
  seed: number,
  boot: { sensitivity: BootstrapSummary; specificity: BootstrapSummary },
  refitted: boolean,
): VerificationBiasEstimate['bootstrap'] {
  return {
    replicates,
    seed,
    unit: plan.unit,
    failedReplicates: { sensitivity: boot.sensitivity.failed, specificity: boot.specificity.failed },
    interval: `percentile (type 7), resampling all analysed ${plan.unit === 'cluster' ? 'patients' : 'units'} with replacement${
      refitted ? ', propensity re-fitted in every replicate' : ''
    }`,
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// Begg–Greenes
// ---------------------------------------------------------------------------------------------------------------------

/** Begg–Greenes sufficient statistics of a set of analysed units. */
export function countVerification(units: readonly AnalysedUnit[]): VerificationCounts {
  return countsFromProfiles(units.map(profileOf), new Float64Array(units.length).fill(1));
}

function beggGreenesResult(
  plan: ResamplingPlan,
  naive: VerificationBiasEstimate['naive'],
  verifiedFraction: ProportionResult,
  options: VerificationBiasOptions,
): VerificationBiasResult {
  const counts = countsFromProfiles(plan.profiles, plan.weights);
  const analysed = counts.testPositive + counts.testNegative;
  const verified =
    counts.verifiedTestPositiveDiseased +
    counts.verifiedTestPositiveNonDiseased +
    counts.verifiedTestNegativeDiseased +
    counts.verifiedTestNegativeNonDiseased;
  if (analysed === 0)
    return { ...notEstimable('no-analyses', REASON_DETAIL['no-analyses']), analysed, verified };
  const { replicates, seed } = bootstrapSettings(options);
  const point = beggGreenesPoint(counts);
  const boot = runBootstrap(plan, replicates, seed, (weights) =>
    beggGreenesPoint(countsFromProfiles(plan.profiles, weights)),
  );
  const delta = beggGreenesDelta(counts);
  return {
    estimable: true,
    method: 'begg-greenes',
    propensity: 'test-result',
    analysed,
    verified,
    verifiedFraction,
    sensitivity: corrected(point.sensitivity, boot.sensitivity, delta.sensitivity),
    specificity: corrected(point.specificity, boot.specificity, delta.specificity),
    naive,
    bootstrap: bootstrapRecord(plan, replicates, seed, boot, false),
    assumption: MAR_ASSUMPTION,
  };
}

/**
 * Begg–Greenes correction from the six counts alone (every analysis its own resampling unit). For published or
 * aggregated data such as statistics.md §14.6 vector F and the ctffr-evidence.md §5 simulation.
 */
export function beggGreenesFromCounts(
  counts: VerificationCounts,
  options: VerificationBiasOptions = {},
): VerificationBiasResult {
  assertCounts(counts);
  const unverifiedPositive =
    counts.testPositive - counts.verifiedTestPositiveDiseased - counts.verifiedTestPositiveNonDiseased;
  const unverifiedNegative =
    counts.testNegative - counts.verifiedTestNegativeDiseased - counts.verifiedTestNegativeNonDiseased;
  const cells: [AnalysedUnit, number][] = [
    [{ testPositive: true, verified: false }, unverifiedPositive],
    [{ testPositive: false, verified: false }, unverifiedNegative],
    [{ testPositive: true, verified: true, diseased: true }, counts.verifiedTestPositiveDiseased],
    [{ testPositive: true, verified: true, diseased: false }, counts.verifiedTestPositiveNonDiseased],
    [{ testPositive: false, verified: true, diseased: true }, counts.verifiedTestNegativeDiseased],
    [{ testPositive: false, verified: true, diseased: false }, counts.verifiedTestNegativeNonDiseased],
  ];
  // The plan resamplingPlan would build from one unit per analysis, built from the counts directly so that
  // millions of analyses cost nothing (the performance roll-ups pass their counts here).
  const present = cells.filter(([, count]) => count > 0);
  const clusters = present.reduce((total, [, count]) => total + count, 0);
  const compositionOfCluster = new Int32Array(clusters <= DIRECT_DRAW_PLAN_LIMIT ? clusters : 0);
  let next = 0;
  present.forEach(([, count], index) => {
    if (compositionOfCluster.length > 0) compositionOfCluster.fill(index, next, next + count);
    next += count;
  });
  const plan: ResamplingPlan = {
    profiles: present.map(([unit]) => profileOf(unit)),
    weights: Float64Array.from(present.map(([, count]) => count)),
    compositions: present.map((_, index) => ({
      profileIndex: Int32Array.of(index),
      count: Float64Array.of(1),
    })),
    compositionFrequency: Float64Array.from(present.map(([, count]) => count)),
    compositionOfCluster,
    clusters,
    unit: 'analysis',
  };
  const verified =
    counts.verifiedTestPositiveDiseased +
    counts.verifiedTestPositiveNonDiseased +
    counts.verifiedTestNegativeDiseased +
    counts.verifiedTestNegativeNonDiseased;
  const naive: VerificationBiasEstimate['naive'] = {
    sensitivity: independentUnitsProportion(
      counts.verifiedTestPositiveDiseased,
      counts.verifiedTestPositiveDiseased + counts.verifiedTestNegativeDiseased,
    ),
    specificity: independentUnitsProportion(
      counts.verifiedTestNegativeNonDiseased,
      counts.verifiedTestNegativeNonDiseased + counts.verifiedTestPositiveNonDiseased,
    ),
  };
  return beggGreenesResult(plan, naive, independentUnitsProportion(verified, clusters), options);
}

/** Begg–Greenes correction from analysed units (bootstrap over patients when `clusterId` is given). */
export function beggGreenes(
  units: readonly AnalysedUnit[],
  options: VerificationBiasOptions = {},
): VerificationBiasResult {
  // Begg–Greenes reads the six cells only: profiles without the propensity inputs (stratum, covariates, π) are few, so
  // clusters fall into few compositions and a replicate is one multinomial over them instead of K direct draws. With
  // the CT-FFR as a covariate (analysedUnitsFromCtFfr), one week at 10M analyses (191,781 patients) spent 73 s drawing.
  const cellsOnly = units.map((u): AnalysedUnit => ({
    testPositive: u.testPositive,
    verified: u.verified,
    diseased: u.diseased,
    ...(u.clusterId !== undefined ? { clusterId: u.clusterId } : {}),
  }));
  return beggGreenesResult(
    resamplingPlan(cellsOnly),
    naiveEstimates(units),
    verifiedFractionOf(units),
    options,
  );
}

// ---------------------------------------------------------------------------------------------------------------------
// Logistic regression (IRLS) for the propensity
// ---------------------------------------------------------------------------------------------------------------------

export interface LogisticFit {
  readonly coefficients: readonly number[];
  readonly fitted: Float64Array;
  readonly iterations: number;
  readonly converged: boolean;
}

/** Solves the symmetric positive-definite system A x = b by Cholesky; null if A is not positive definite. */
function choleskySolve(a: number[][], b: number[]): number[] | null {
  const p = b.length;
  const l = a.map(() => new Array<number>(p).fill(0));
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i][j];
      for (let k = 0; k < j; k++) s -= l[i][k] * l[j][k];
      if (i === j) {
        if (!(s > 0)) return null;
        l[i][i] = Math.sqrt(s);
      } else l[i][j] = s / l[j][j];
    }
  }
  const y = new Array<number>(p);
  for (let i = 0; i < p; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= l[i][k] * y[k];
    y[i] = s / l[i][i];
  }
  const x = new Array<number>(p);
  for (let i = p - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < p; k++) s -= l[k][i] * x[k];
    x[i] = s / l[i][i];
  }
  return x;
}

/**
 * Maximum-likelihood logistic regression by iteratively reweighted least squares (Newton–Raphson; McCullagh & Nelder
 * 1989 §4.4), with optional frequency weights. `design` rows include the intercept column. Converges when the
 * deviance changes by < 1e-14 relative; `converged: false` after 100 iterations, on a singular information matrix, or
 * when fitted probabilities reach 0 or 1 (separation).
 */
export function logisticRegression(
  design: readonly (readonly number[])[],
  outcome: readonly boolean[],
  frequencyWeights?: ArrayLike<number>,
): LogisticFit {
  const n = design.length;
  if (n !== outcome.length || (frequencyWeights && frequencyWeights.length !== n)) {
    throw new RangeError('design, outcome and weights differ in length');
  }
  if (n === 0) throw new RangeError('logistic regression needs data');
  const p = design[0].length;
  const weightOf = (i: number): number => (frequencyWeights ? frequencyWeights[i] : 1);
  let beta = new Array<number>(p).fill(0);
  const fitted = new Float64Array(n);
  let previousDeviance = Number.POSITIVE_INFINITY;
  for (let iteration = 1; iteration <= 100; iteration++) {
    const xtwx = Array.from({ length: p }, () => new Array<number>(p).fill(0));
    const xtwz = new Array<number>(p).fill(0);
    let deviance = 0;
    let saturated = false;
    for (let i = 0; i < n; i++) {
      const f = weightOf(i);
      if (f === 0) continue;
      const row = design[i];
      let eta = 0;
      for (let j = 0; j < p; j++) eta += row[j] * beta[j];
      const mu = 1 / (1 + Math.exp(-eta));
      fitted[i] = mu;
      const w = mu * (1 - mu);
      if (!(w > 1e-300)) {
        saturated = true;
        continue;
      }
      const y = outcome[i] ? 1 : 0;
      deviance -= 2 * f * (y === 1 ? Math.log(mu) : Math.log1p(-mu));
      const zWorking = eta + (y - mu) / w;
      for (let j = 0; j < p; j++) {
        xtwz[j] += f * row[j] * w * zWorking;
        for (let k = 0; k <= j; k++) xtwx[j][k] += f * row[j] * w * row[k];
      }
    }
    if (saturated) break;
    for (let j = 0; j < p; j++) for (let k = j + 1; k < p; k++) xtwx[j][k] = xtwx[k][j];
    if (Math.abs(previousDeviance - deviance) <= 1e-14 * (Math.abs(deviance) + 1e-10)) {
      for (let i = 0; i < n; i++) {
        let eta = 0;
        for (let j = 0; j < p; j++) eta += design[i][j] * beta[j];
        fitted[i] = 1 / (1 + Math.exp(-eta)); // every row, zero-weight ones included
      }
      return { coefficients: beta, fitted, iterations: iteration - 1, converged: true };
    }
    previousDeviance = deviance;
    const next = choleskySolve(xtwx, xtwz);
    if (!next || next.some((v) => !Number.isFinite(v))) break;
    beta = next;
  }
  return { coefficients: beta, fitted, iterations: 100, converged: false };
}

// ---------------------------------------------------------------------------------------------------------------------
// Inverse probability weighting
// ---------------------------------------------------------------------------------------------------------------------

/** Propensities π per profile for the given frequency weights, or the reason they cannot be formed. */
function propensities(
  profiles: readonly Profile[],
  weights: ArrayLike<number>,
  model: PropensityModel,
): Float64Array | VerificationNotEstimableReason {
  const pi = new Float64Array(profiles.length);
  if (model === 'test-result' || model === 'test-result-by-stratum') {
    const keyOf = (p: Profile): string =>
      `${p.testPositive ? '+' : '-'}${model === 'test-result-by-stratum' ? `|${p.stratum}` : ''}`;
    const cells = new Map<string, [number, number]>();
    profiles.forEach((p, i) => {
      if (weights[i] === 0) return;
      const key = keyOf(p);
      const c = cells.get(key) ?? [0, 0];
      c[0] += weights[i];
      if (p.verified) c[1] += weights[i];
      cells.set(key, c);
    });
    for (const [total, verified] of cells.values())
      if (verified === 0 && total > 0) return 'positivity-violation';
    profiles.forEach((p, i) => {
      const c = cells.get(keyOf(p));
      pi[i] = c ? c[1] / c[0] : 0;
    });
    return pi;
  }
  if (model === 'given') {
    profiles.forEach((p, i) => {
      pi[i] = p.verificationProbability as number;
    });
    return pi;
  }
  const fit = logisticRegression(
    profiles.map((p) => [1, p.testPositive ? 1 : 0, ...p.covariates]),
    profiles.map((p) => p.verified),
    weights,
  );
  if (!fit.converged) return 'propensity-not-estimable';
  return fit.fitted;
}

function ipwPoint(
  profiles: readonly Profile[],
  weights: ArrayLike<number>,
  model: PropensityModel,
): { point: PointEstimate; maxWeight: number } {
  const pi = propensities(profiles, weights, model);
  if (typeof pi === 'string') return { point: { sensitivity: pi, specificity: pi }, maxWeight: 0 };
  let tpd = 0;
  let d = 0;
  let tnh = 0;
  let h = 0;
  let maxWeight = 0;
  profiles.forEach((p, i) => {
    if (!p.verified || weights[i] === 0) return;
    const w = 1 / pi[i];
    maxWeight = Math.max(maxWeight, w);
    const total = weights[i] * w;
    if (p.diseased) {
      d += total;
      if (p.testPositive) tpd += total;
    } else {
      h += total;
      if (!p.testPositive) tnh += total;
    }
  });
  return {
    point: {
      sensitivity: d > 0 ? tpd / d : 'no-verified-diseased',
      specificity: h > 0 ? tnh / h : 'no-verified-non-diseased',
    },
    maxWeight,
  };
}

/**
 * Inverse-probability-weighted sensitivity and specificity (statistics.md §9) with a seeded bootstrap over all
 * analysed units that re-fits the propensity in every replicate.
 */
export function inverseProbabilityWeighting(
  units: readonly AnalysedUnit[],
  options: IpwOptions = {},
): VerificationBiasResult {
  const model = options.propensity ?? 'test-result';
  const plan = resamplingPlan(units);
  const analysed = units.length;
  const verified = units.filter((u) => u.verified).length;
  if (analysed === 0)
    return { ...notEstimable('no-analyses', REASON_DETAIL['no-analyses']), analysed, verified };
  if (model === 'given') {
    for (const u of units) {
      const value = u.verificationProbability;
      if (!(value !== undefined && value > 0 && value <= 1)) {
        throw new RangeError(
          `'given' propensity needs verificationProbability in (0, 1] on every unit, got ${value}`,
        );
      }
    }
  }
  if (model === 'logistic') {
    const width = units[0].covariates?.length ?? 0;
    if (units.some((u) => (u.covariates?.length ?? 0) !== width)) {
      throw new RangeError('every unit needs the same number of covariates');
    }
  }
  const { replicates, seed } = bootstrapSettings(options);
  const { point, maxWeight } = ipwPoint(plan.profiles, plan.weights, model);
  const boot = runBootstrap(
    plan,
    replicates,
    seed,
    (weights) => ipwPoint(plan.profiles, weights, model).point,
  );
  return {
    estimable: true,
    method: 'inverse-probability-weighting',
    propensity: model,
    analysed,
    verified,
    verifiedFraction: verifiedFractionOf(units),
    sensitivity: corrected(point.sensitivity, boot.sensitivity),
    specificity: corrected(point.specificity, boot.specificity),
    naive: naiveEstimates(units),
    maxWeight,
    bootstrap: bootstrapRecord(plan, replicates, seed, boot, model !== 'given'),
    assumption: MAR_ASSUMPTION,
  };
}

/** One CT-FFR analysis with its invasive FFR when the patient was referred (null when not verified). */
export interface AnalysisWithOptionalReference {
  readonly patientId: string;
  readonly ctFfr: number;
  readonly invasiveFfr: number | null;
  readonly stratum?: string;
}

/**
 * Analysed units from CT-FFR analyses at a threshold (positive when ≤ threshold, statistics.md §1): verified when an
 * invasive FFR exists; clustered by patient; the CT-FFR value is the `logistic` propensity covariate.
 */
export function analysedUnitsFromCtFfr(
  analyses: readonly AnalysisWithOptionalReference[],
  threshold = 0.8,
): AnalysedUnit[] {
  return analyses.map((a) => {
    if (!Number.isFinite(a.ctFfr) || (a.invasiveFfr !== null && !Number.isFinite(a.invasiveFfr))) {
      throw new RangeError(`non-finite FFR value for patient ${a.patientId}`);
    }
    return {
      testPositive: isPositive(a.ctFfr, threshold),
      verified: a.invasiveFfr !== null,
      diseased: a.invasiveFfr === null ? null : isPositive(a.invasiveFfr, threshold),
      clusterId: a.patientId,
      ...(a.stratum !== undefined ? { stratum: a.stratum } : {}),
      covariates: [a.ctFfr],
    };
  });
}
