/**
 * Proportions of CT-FFR diagnostic performance — sensitivity, specificity, PPV, NPV, accuracy — with three 95%
 * intervals each (statistics.md §2, §5; DESIGN.md §5 `performance` shape):
 *
 *  - `wilson`: Wilson score interval without continuity correction (R `prop.test(x, n, correct = FALSE)`);
 *  - `clopperPearson`: exact interval from beta quantiles (R `binom.test`);
 *  - `cluster`: patient-as-cluster interval — the ratio estimator of statistics.md §5 (= GEE independence sandwich
 *    with the small-sample factor K/(K−1)), turned into a bounded interval as Wilson with n = n_eff = Σm/deff
 *    (Rao–Scott type; statistics.md §5 "preferred bounded CI"). 21 CFR 870.1415 forbids treating the vessels of one
 *    patient as independent, so this is the interval a regulatory report should lead with.
 *
 * Conventions pinned here (and stated in every result):
 *  - a vessel is positive when its value is ≤ the threshold (default 0.80), for CT-FFR and invasive FFR alike; the
 *    stored decimal is compared directly, never a value that went through arithmetic (statistics.md §1);
 *  - design effect floored at 1 by default (`floorDesignEffect`): a cluster interval is never narrower than the
 *    independence interval. deff < 1 would mean negative correlation between vessels of one scan, which is not
 *    plausible; the estimate is then sampling noise (vector A sensitivity: 0.889 from 8 patients). With the floor
 *    off the interval reproduces statistics.md's [0.4703, 0.9324];
 *  - the K/(K−1) small-sample factor is applied (statistics.md §5 formula). Consequence: with one vessel per patient
 *    the variance is p(1−p)/(n−1), deff = n/(n−1) and the cluster interval is Wilson at n − 1, not n. Without the
 *    factor (`smallSampleFactor: false`) singletons reduce exactly to the plain Wilson interval (deff = 1);
 *  - p̂ = 0 or 1: the ratio-estimator variance is 0 and deff = 0/0. The cluster interval then takes the worst case of
 *    perfect within-patient correlation — each patient counted once, n_eff = K — which with one vessel per patient is
 *    the plain Wilson interval;
 *  - fewer than 2 patients: no between-patient variance — the cluster interval is "not estimable";
 *  - n = 0 (or n below `minimumN`): the proportion itself is "not estimable", never NaN.
 */
import { betaQuantile, twoSidedNormalCritical } from './distributions';
import type { Interval, NotEstimable } from './roc';

/** Why a proportion or its cluster interval has no value. */
export type ProportionNotEstimableReason = 'no-eligible-vessels' | 'below-minimum-n' | 'single-patient';

/** One linked vessel: the device's CT-FFR and the invasive (wire) FFR of the same vessel, and its patient. */
export interface LinkedVessel {
  /** Pseudonymised patient key — the cluster (vessels of one patient are correlated). */
  readonly patientId: string;
  readonly ctFfr: number;
  readonly invasiveFfr: number;
}

/** Successes among the eligible vessels of one patient (one cluster). */
export interface ClusterCount {
  readonly successes: number;
  readonly trials: number;
}

function assertCounts(successes: number, n: number): void {
  if (!(Number.isFinite(n) && n > 0)) throw new RangeError(`n must be > 0, got ${n}`);
  if (!(Number.isFinite(successes) && successes >= 0 && successes <= n)) {
    throw new RangeError(`successes must be in [0, n], got ${successes} of ${n}`);
  }
}

/**
 * Wilson score interval, no continuity correction (statistics.md §2; Wilson 1927):
 * centre = (p̂ + z²/2n)/(1 + z²/n), half = z/(1 + z²/n)·√(p̂(1−p̂)/n + z²/4n²). n may be non-integer (n_eff).
 * Bounds are exactly 0 at x = 0 and 1 at x = n (as R `prop.test`).
 */
export function wilsonInterval(successes: number, n: number, confidenceLevel = 0.95): Interval {
  assertCounts(successes, n);
  const z = twoSidedNormalCritical(confidenceLevel);
  const p = successes / n;
  const z2n = (z * z) / n;
  const centre = (p + z2n / 2) / (1 + z2n);
  const half = (z / (1 + z2n)) * Math.sqrt((p * (1 - p)) / n + z2n / (4 * n));
  const lower = successes === 0 ? 0 : Math.max(0, centre - half);
  const upper = successes === n ? 1 : Math.min(1, centre + half);
  return [lower, upper];
}

/**
 * Clopper–Pearson exact interval (statistics.md §2; Clopper & Pearson 1934):
 * L = BetaInv(α/2; x, n − x + 1) (0 if x = 0), U = BetaInv(1 − α/2; x + 1, n − x) (1 if x = n). Integer counts.
 */
export function clopperPearsonInterval(successes: number, n: number, confidenceLevel = 0.95): Interval {
  assertCounts(successes, n);
  if (!Number.isInteger(successes) || !Number.isInteger(n)) {
    throw new RangeError(`Clopper–Pearson needs integer counts, got ${successes}/${n}`);
  }
  if (!(confidenceLevel > 0 && confidenceLevel < 1))
    throw new RangeError(`bad confidence level ${confidenceLevel}`);
  const alpha = 1 - confidenceLevel;
  const lower = successes === 0 ? 0 : betaQuantile(alpha / 2, successes, n - successes + 1);
  const upper = successes === n ? 1 : betaQuantile(1 - alpha / 2, successes + 1, n - successes);
  return [lower, upper];
}

/**
 * Wald interval p̂ ± z√(p̂(1−p̂)/n), unclipped — only to reproduce published CIs (statistics.md §2, §14.4: Coenen
 * 2015's accuracy CI). Never the reported interval of a Fieldwatch figure.
 */
export function waldInterval(successes: number, n: number, confidenceLevel = 0.95): Interval {
  assertCounts(successes, n);
  const z = twoSidedNormalCritical(confidenceLevel);
  const p = successes / n;
  const half = z * Math.sqrt((p * (1 - p)) / n);
  return [p - half, p + half];
}

export interface ClusterProportionOptions {
  readonly confidenceLevel?: number;
  /** Apply K/(K−1) to the sandwich variance (statistics.md §5 formula). Default true. */
  readonly smallSampleFactor?: boolean;
  /** Floor the design effect at 1 for the Wilson(n_eff) interval. Default true (see the file header). */
  readonly floorDesignEffect?: boolean;
}

/** Cluster-adjusted proportion by the ratio estimator (statistics.md §5). */
export interface ClusterProportion {
  readonly estimable: true;
  readonly estimate: number;
  /** K: patients with at least one eligible vessel. */
  readonly clusters: number;
  /** Σm_k: eligible vessels. */
  readonly trials: number;
  readonly successes: number;
  /** Var(p̂) = K/(K−1)·Σ(x_k − p̂m_k)²/(Σm_k)² (factor omitted when `smallSampleFactor` is false). */
  readonly variance: number;
  readonly standardError: number;
  /** deff = Var(p̂)/(p̂(1−p̂)/Σm); null when p̂ is 0 or 1 (0/0). Unfloored. */
  readonly designEffect: number | null;
  /** n used for the Wilson interval: Σm/max(1, deff) (floored) or Σm/deff; K when p̂ is 0 or 1. */
  readonly effectiveN: number;
  /** Wilson interval with n = effectiveN — the reported `cluster` interval. */
  readonly interval: Interval;
  /** p̂ ± z·SE, unclipped (statistics.md §14.1 prints it; it can leave [0, 1]). */
  readonly waldInterval: Interval;
  /** GEE-style logit interval expit(logit p̂ ± z·SE/(p̂(1−p̂))); null when p̂ is 0 or 1. */
  readonly logitInterval: Interval | null;
  readonly method: string;
}

/**
 * Ratio estimator for a proportion with clustered binary outcomes (statistics.md §5; Genders et al. 2012 Radiology
 * 265:226; Rao & Scott 1992 Biometrics 48:577 for the n_eff interval):
 *
 *   p̂ = Σx_k/Σm_k,  Var(p̂) = K/(K−1)·Σ(x_k − p̂·m_k)²/(Σm_k)²,  deff = Var(p̂)/(p̂(1−p̂)/Σm_k),  n_eff = Σm_k/deff.
 *
 * Patients with no eligible vessel (m_k = 0) are not clusters of this proportion and are dropped.
 */
export function clusterProportion(
  clusters: readonly ClusterCount[],
  options: ClusterProportionOptions = {},
): ClusterProportion | NotEstimable<ProportionNotEstimableReason> {
  return clusterProportionFromSums(sumClusters(clusters), options);
}

/** Validates per-patient counts and adds them up; patients with m_k = 0 are not clusters of the proportion. */
export function sumClusters(clusters: readonly ClusterCount[]): ClusterSums {
  let eligible = 0;
  let successes = 0;
  let trials = 0;
  let trialsSquared = 0;
  let successesSquared = 0;
  let crossProducts = 0;
  for (const c of clusters) {
    if (!(Number.isInteger(c.trials) && c.trials >= 0 && Number.isInteger(c.successes))) {
      throw new RangeError(`cluster counts must be integers, got ${c.successes}/${c.trials}`);
    }
    if (c.successes < 0 || c.successes > c.trials) {
      throw new RangeError(`cluster successes must be in [0, trials], got ${c.successes}/${c.trials}`);
    }
    if (c.trials === 0) continue;
    eligible++;
    successes += c.successes;
    trials += c.trials;
    trialsSquared += c.trials * c.trials;
    successesSquared += c.successes * c.successes;
    crossProducts += c.successes * c.trials;
  }
  return { clusters: eligible, trials, successes, trialsSquared, successesSquared, crossProducts };
}

/**
 * What the ratio estimator needs of the clusters with m_k > 0: K, Σm_k, Σx_k, Σm_k², Σx_k², Σx_k·m_k. Sums add, so
 * per-slice sums kept by the performance roll-ups (src/performance) merge into any union of slices whose patients do
 * not span slices.
 */
export interface ClusterSums {
  readonly clusters: number;
  readonly trials: number;
  readonly successes: number;
  readonly trialsSquared: number;
  readonly successesSquared: number;
  readonly crossProducts: number;
}

/** {@link clusterProportion} from its sufficient statistics: Σ(x_k − p̂m_k)² = Σx² − 2p̂Σxm + p̂²Σm². */
export function clusterProportionFromSums(
  sums: ClusterSums,
  options: ClusterProportionOptions = {},
): ClusterProportion | NotEstimable<ProportionNotEstimableReason> {
  const confidenceLevel = options.confidenceLevel ?? 0.95;
  const smallSampleFactor = options.smallSampleFactor ?? true;
  const floorDesignEffect = options.floorDesignEffect ?? true;
  const k = sums.clusters;
  if (k === 0)
    return { estimable: false, reason: 'no-eligible-vessels', detail: 'no eligible vessels (n = 0)' };
  if (k < 2) {
    return {
      estimable: false,
      reason: 'single-patient',
      detail: 'one patient only: the between-patient variance needs at least 2 patients (K/(K−1) undefined)',
    };
  }
  const { successes, trials } = sums;
  const p = successes / trials;
  // Round-off can leave −1e-17 when every cluster has x_k = p̂·m_k exactly.
  const sumSquares = Math.max(
    0,
    sums.successesSquared - 2 * p * sums.crossProducts + p * p * sums.trialsSquared,
  );
  const factor = smallSampleFactor ? k / (k - 1) : 1;
  const variance = (factor * sumSquares) / (trials * trials);
  const standardError = Math.sqrt(variance);
  const z = twoSidedNormalCritical(confidenceLevel);
  const degenerate = successes === 0 || successes === trials;
  const designEffect = degenerate ? null : variance / ((p * (1 - p)) / trials);
  const effectiveN =
    designEffect === null ? k : trials / (floorDesignEffect ? Math.max(1, designEffect) : designEffect);
  const interval = wilsonInterval(p * effectiveN, effectiveN, confidenceLevel);
  let logitInterval: Interval | null = null;
  if (!degenerate) {
    const logit = Math.log(p / (1 - p));
    const seLogit = standardError / (p * (1 - p));
    const expit = (v: number): number => 1 / (1 + Math.exp(-v));
    logitInterval = [expit(logit - z * seLogit), expit(logit + z * seLogit)];
  }
  const nEffRule =
    designEffect === null
      ? 'n_eff = K patients (deff undefined at p̂ ∈ {0, 1})'
      : `n_eff = Σm/${floorDesignEffect ? 'max(1, deff)' : 'deff'}`;
  const method = `ratio estimator, patient as cluster${smallSampleFactor ? ', K/(K−1) factor' : ''}; Wilson with ${nEffRule}`;
  return {
    estimable: true,
    estimate: p,
    clusters: k,
    trials,
    successes,
    variance,
    standardError,
    designEffect,
    effectiveN,
    interval,
    waldInterval: [p - z * standardError, p + z * standardError],
    logitInterval,
    method,
  };
}

/** The three 95% intervals of a proportion (DESIGN.md §5: `ci95: { wilson, clopperPearson, cluster }`). */
export interface ProportionCi95 {
  readonly wilson: Interval;
  readonly clopperPearson: Interval;
  readonly cluster: Interval | NotEstimable<ProportionNotEstimableReason>;
}

export interface ProportionEstimate {
  readonly estimable: true;
  readonly estimate: number;
  readonly successes: number;
  readonly n: number;
  readonly ci95: ProportionCi95;
  /** Ratio-estimator details behind `ci95.cluster` (patients, design effect, effective n, SE). */
  readonly clusterAdjustment: ClusterProportion | NotEstimable<ProportionNotEstimableReason>;
}

export interface ProportionNotEstimable extends NotEstimable<ProportionNotEstimableReason> {
  readonly estimate: null;
  readonly successes: number;
  readonly n: number;
  readonly ci95: null;
}

export type ProportionResult = ProportionEstimate | ProportionNotEstimable;

export interface ProportionOptions {
  /** Below this n the proportion is reported as not estimable. Default 1 (exact intervals are valid at any n ≥ 1). */
  readonly minimumN?: number;
  /** Cluster-interval conventions; see {@link ClusterProportionOptions}. */
  readonly cluster?: Omit<ClusterProportionOptions, 'confidenceLevel'>;
}

/** One binary outcome of one vessel, with its patient. */
export interface ClusteredOutcome {
  readonly clusterId: string;
  readonly success: boolean;
}

/** Groups outcomes into per-cluster counts, in order of first appearance. */
export function countByCluster(outcomes: readonly ClusteredOutcome[]): ClusterCount[] {
  const index = new Map<string, { successes: number; trials: number }>();
  for (const o of outcomes) {
    let c = index.get(o.clusterId);
    if (!c) {
      c = { successes: 0, trials: 0 };
      index.set(o.clusterId, c);
    }
    c.trials++;
    if (o.success) c.successes++;
  }
  return [...index.values()];
}

/**
 * A proportion with its Wilson, Clopper–Pearson and cluster 95% intervals, from per-patient counts. The counts
 * define x = Σ successes and n = Σ trials.
 */
export function proportionFromClusters(
  clusters: readonly ClusterCount[],
  options: ProportionOptions = {},
): ProportionResult {
  return proportionFromSums(sumClusters(clusters), options);
}

/** {@link proportionFromClusters} from the clusters' sufficient statistics (see {@link ClusterSums}). */
export function proportionFromSums(sums: ClusterSums, options: ProportionOptions = {}): ProportionResult {
  const { successes, trials: n } = sums;
  const minimumN = options.minimumN ?? 1;
  if (n === 0 || n < minimumN) {
    return {
      estimable: false,
      estimate: null,
      successes,
      n,
      ci95: null,
      reason: n === 0 ? 'no-eligible-vessels' : 'below-minimum-n',
      detail:
        n === 0 ? 'n = 0: no eligible vessels' : `n = ${n} is below the reporting minimum of ${minimumN}`,
    };
  }
  const clusterAdjustment = clusterProportionFromSums(sums, { ...options.cluster, confidenceLevel: 0.95 });
  return {
    estimable: true,
    estimate: successes / n,
    successes,
    n,
    ci95: {
      wilson: wilsonInterval(successes, n),
      clopperPearson: clopperPearsonInterval(successes, n),
      cluster: clusterAdjustment.estimable
        ? clusterAdjustment.interval
        : { estimable: false, reason: clusterAdjustment.reason, detail: clusterAdjustment.detail },
    },
    clusterAdjustment,
  };
}

/**
 * {@link proportionFromSums} when every unit is its own cluster (one patient, one analysis): K = n, Σm² = n,
 * Σx² = Σxm = x, so the cluster interval is the ratio estimator's for independent units.
 */
export function independentUnitsProportion(
  successes: number,
  trials: number,
  options: ProportionOptions = {},
): ProportionResult {
  return proportionFromSums(
    {
      clusters: trials,
      trials,
      successes,
      trialsSquared: trials,
      successesSquared: successes,
      crossProducts: successes,
    },
    options,
  );
}

/** {@link proportionFromClusters} from one outcome per vessel. */
export function proportion(
  outcomes: readonly ClusteredOutcome[],
  options: ProportionOptions = {},
): ProportionResult {
  return proportionFromClusters(countByCluster(outcomes), options);
}

/** Positive by the inclusive rule of statistics.md §1: value ≤ threshold (compared as stored, no arithmetic). */
export function isPositive(value: number, threshold: number): boolean {
  return value <= threshold;
}

function assertVessels(vessels: readonly LinkedVessel[], threshold: number): void {
  if (!Number.isFinite(threshold)) throw new RangeError(`threshold must be finite, got ${threshold}`);
  for (const v of vessels) {
    if (typeof v.patientId !== 'string' || v.patientId.length === 0) {
      throw new RangeError('every vessel needs a patientId (the cluster key)');
    }
    if (!Number.isFinite(v.ctFfr) || !Number.isFinite(v.invasiveFfr)) {
      throw new RangeError(`non-finite FFR value for patient ${v.patientId}: ${v.ctFfr} / ${v.invasiveFfr}`);
    }
  }
}

/** The 2×2 table of CT-FFR against invasive FFR and the five proportions (DESIGN.md §5 `performance`). */
export interface ConfusionMatrix {
  readonly threshold: number;
  readonly vessels: number;
  readonly patients: number;
  readonly tp: number;
  readonly fp: number;
  readonly tn: number;
  readonly fn: number;
  /** Share of vessels with invasive FFR ≤ threshold. */
  readonly prevalence: ProportionResult;
  /** TP/(TP + FN). */
  readonly sensitivity: ProportionResult;
  /** TN/(TN + FP). */
  readonly specificity: ProportionResult;
  /** TP/(TP + FP). */
  readonly ppv: ProportionResult;
  /** TN/(TN + FN). */
  readonly npv: ProportionResult;
  /** (TP + TN)/n. */
  readonly accuracy: ProportionResult;
  /** Interval methods, stated with every result (statistics.md §1 reporting rule). */
  readonly methods: {
    readonly positive: string;
    readonly wilson: string;
    readonly clopperPearson: string;
    readonly cluster: string;
  };
}

/**
 * Confusion matrix of CT-FFR against invasive FFR at `threshold` (default 0.80): a vessel is positive when its value
 * is ≤ threshold, for both measurements (DESIGN.md §5, statistics.md §1). Each proportion carries Wilson,
 * Clopper–Pearson and patient-cluster 95% intervals; the cluster of a vessel is its `patientId`.
 */
export function confusionMatrix(
  vessels: readonly LinkedVessel[],
  threshold = 0.8,
  options: ProportionOptions = {},
): ConfusionMatrix {
  assertVessels(vessels, threshold);
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  const prevalence: ClusteredOutcome[] = [];
  const sensitivity: ClusteredOutcome[] = [];
  const specificity: ClusteredOutcome[] = [];
  const ppv: ClusteredOutcome[] = [];
  const npv: ClusteredOutcome[] = [];
  const accuracy: ClusteredOutcome[] = [];
  const patients = new Set<string>();
  for (const v of vessels) {
    const clusterId = v.patientId;
    patients.add(clusterId);
    const diseased = isPositive(v.invasiveFfr, threshold);
    const testPositive = isPositive(v.ctFfr, threshold);
    if (diseased && testPositive) tp++;
    else if (!diseased && testPositive) fp++;
    else if (!diseased && !testPositive) tn++;
    else fn++;
    prevalence.push({ clusterId, success: diseased });
    if (diseased) sensitivity.push({ clusterId, success: testPositive });
    else specificity.push({ clusterId, success: !testPositive });
    if (testPositive) ppv.push({ clusterId, success: diseased });
    else npv.push({ clusterId, success: !diseased });
    accuracy.push({ clusterId, success: diseased === testPositive });
  }
  const floor = options.cluster?.floorDesignEffect ?? true;
  const factor = options.cluster?.smallSampleFactor ?? true;
  return {
    threshold,
    vessels: vessels.length,
    patients: patients.size,
    tp,
    fp,
    tn,
    fn,
    prevalence: proportion(prevalence, options),
    sensitivity: proportion(sensitivity, options),
    specificity: proportion(specificity, options),
    ppv: proportion(ppv, options),
    npv: proportion(npv, options),
    accuracy: proportion(accuracy, options),
    methods: {
      positive: `value ≤ ${threshold} (CT-FFR and invasive FFR)`,
      wilson: 'Wilson score, no continuity correction',
      clopperPearson: 'Clopper–Pearson exact (beta quantiles)',
      cluster:
        `ratio estimator with patient as cluster${factor ? ' (K/(K−1) factor)' : ''}, Wilson with n_eff = Σm/` +
        `${floor ? 'max(1, deff)' : 'deff'}; n_eff = patients when p̂ is 0 or 1`,
    },
  };
}

/**
 * Collapses vessels to one record per patient for the per-patient analysis (statistics.md §1, §8): the patient's
 * minimum CT-FFR and minimum invasive FFR — so the patient is reference-positive when any vessel's FFR ≤ threshold and
 * test-positive when any vessel's CT-FFR ≤ threshold. Patients keep their order of first appearance.
 */
export function collapseToPatients(vessels: readonly LinkedVessel[]): LinkedVessel[] {
  const byPatient = new Map<string, { patientId: string; ctFfr: number; invasiveFfr: number }>();
  for (const v of vessels) {
    const current = byPatient.get(v.patientId);
    if (!current)
      byPatient.set(v.patientId, { patientId: v.patientId, ctFfr: v.ctFfr, invasiveFfr: v.invasiveFfr });
    else {
      current.ctFfr = Math.min(current.ctFfr, v.ctFfr);
      current.invasiveFfr = Math.min(current.invasiveFfr, v.invasiveFfr);
    }
  }
  return [...byPatient.values()];
}

/**
 * Per-patient confusion matrix (statistics.md §8): one unit per patient, so the `cluster` interval is the singleton
 * case (Wilson at n − 1 with the default K/(K−1) factor, see the file header).
 */
export function perPatientConfusionMatrix(
  vessels: readonly LinkedVessel[],
  threshold = 0.8,
  options: ProportionOptions = {},
): ConfusionMatrix {
  assertVessels(vessels, threshold);
  return confusionMatrix(collapseToPatients(vessels), threshold, options);
}

/**
 * PPV and NPV at another prevalence π from sensitivity and specificity (statistics.md §2; Bayes):
 * PPV = Se·π/(Se·π + (1−Sp)(1−π)), NPV = Sp(1−π)/(Sp(1−π) + (1−Se)π); null where the ratio is 0/0.
 */
export function predictiveValuesAtPrevalence(
  sensitivity: number,
  specificity: number,
  prevalence: number,
): { ppv: number | null; npv: number | null } {
  for (const [name, value] of [
    ['sensitivity', sensitivity],
    ['specificity', specificity],
    ['prevalence', prevalence],
  ] as const) {
    if (!(value >= 0 && value <= 1)) throw new RangeError(`${name} must be in [0, 1], got ${value}`);
  }
  const truePositive = sensitivity * prevalence;
  const falsePositive = (1 - specificity) * (1 - prevalence);
  const trueNegative = specificity * (1 - prevalence);
  const falseNegative = (1 - sensitivity) * prevalence;
  // 0/0 (e.g. Se = 0 at π = 1 for the PPV) has no value: null, not NaN.
  return {
    ppv: truePositive + falsePositive > 0 ? truePositive / (truePositive + falsePositive) : null,
    npv: trueNegative + falseNegative > 0 ? trueNegative / (trueNegative + falseNegative) : null,
  };
}
