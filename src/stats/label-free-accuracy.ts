/**
 * Accuracy before the labels arrive (issue 4 §4; reference/drift-methods.md §5): estimate the current period's expected
 * absolute error |CT-FFR − invasive FFR| and discordance rate at 0.80 from its **inputs** only, by importance weighting
 * of the labelled reference cases for covariate shift (Shimodaira 2000), and later compare the estimate with what the
 * labels showed.
 *
 * Estimand. θ_cur = E_cur[loss] with loss = |CT-FFR − FFR| (absolute error) or 1{(CT-FFR ≤ 0.80) ≠ (FFR ≤ 0.80)}
 * (discordance; inclusive thresholds, statistics.md §1). Under covariate shift — P(x) changes, P(loss | x) does not
 * ("no concept drift") — θ_cur = E_ref[w(x)·loss] with w(x) = p_cur(x)/p_ref(x).
 *
 * Density ratio: a **logistic-regression domain classifier** (current = 1 vs reference = 0) on the covariates, so
 * w(x) = [P(cur | x)/P(ref | x)]·(n_ref/n_cur) = exp(η(x))·n_ref/n_cur (drift-methods.md §5). Why this and not
 * histogram ratios: the monitored shifts are joint (a protocol change moves heart rate and image quality together; a
 * scanner change moves vendor, slice thickness and kV together), histogram ratios on more than two covariates leave
 * most cells empty at CT-FFR window sizes (a few hundred vessels), while the logistic model is exact for the most
 * common shift — an exponential tilt, e.g. a normal covariate whose mean moves with its SD unchanged (a heart-rate
 * shift) — and degrades gracefully otherwise. Design: numeric covariates standardised on the pooled sample (constant
 * columns dropped and reported), categorical ones one-hot against the reference's most frequent level. A small L2
 * penalty (`ridge`, default 1, on the standardised scale, intercept unpenalised) keeps the coefficients finite when a
 * category occurs in one sample only; at n in the hundreds its effect on a real shift is negligible (ridge 0 reproduces
 * statsmodels `Logit`; fixtures/README-label-free-accuracy.md).
 *
 * Support. A category level that the reference never saw (a new scanner vendor) has no reference cases to weight:
 * importance weighting cannot estimate accuracy there. Current cases carrying such a level are left out of the
 * classifier and their share is reported as `unsupportedCurrentShare`; the estimate then describes the supported
 * part only and says so (`extrapolating`). Numeric values outside the reference range are reported the same way
 * (`outsideReferenceRangeShare`), but still weighted (the logistic model extrapolates smoothly).
 *
 * Verification bias. Reference labels (invasive FFR) exist for a minority, chosen largely by the CT-FFR result
 * (ctffr-evidence.md §4.7). Each reference case may carry a `verificationStratum` (e.g. "ctffr<=0.80" / "ctffr>0.80");
 * π = labelled / all reference cases of the stratum, and labelled cases are weighted by w/π (inverse-probability
 * weighting, statistics.md §9; MAR given the stratum). Without strata π = 1 (a fully labelled pivotal dataset).
 *
 * Estimator (self-normalised, a Hájek ratio): θ̂ = Σ_L v_i·loss_i / Σ_L v_i, v_i = w_i/π_i over labelled reference
 * cases L. Uncertainty:
 *  - Kish effective sample size n_eff = (Σ v)²/Σ v² — the estimate is unstable when n_eff is small (extreme weights);
 *  - linearisation (sandwich) SE with weights held fixed, clustered by patient/analysis:
 *      SE² = C/(C−1)·Σ_c (Σ_{i∈c} v_i(loss_i − θ̂))² / (Σ v)²   (C = clusters with a labelled case);
 *  - a cluster bootstrap (default, `bootstrap` replicates): clusters resampled with replacement within the reference
 *    and within the current sample, the classifier refitted and π re-derived in every replicate, so the CI carries the
 *    uncertainty of the estimated weights; percentile interval. Reproducible from its seed.
 * The reported CI is the bootstrap percentile interval when bootstrap > 0, else θ̂ ± z·SE (clipped to the loss's range).
 *
 * Comparison with the labels (`realisedAccuracy`, `compareWithLabels`, `coverageSummary`): once the current period's
 * labels are mature, its realised accuracy is the same estimator with w = 1 on the current cases (IPW for the current
 * period's own verification); the comparison reports the difference with a CI (independent samples: SEs added in
 * quadrature), whether the realised value lies inside the estimate's CI, and across periods the coverage with a
 * Wilson interval — the evidence that the label-free estimate can be trusted.
 */
import { normalCdf, normalQuantile, seededRandom, type SeededRandom } from './distributions';
import { isPositive, wilsonInterval } from './proportions';

const { abs, exp, floor, log1p, max, min, sqrt } = Math;

export const FFR_THRESHOLD = 0.8;
export const DEFAULT_RIDGE = 1;
export const DEFAULT_BOOTSTRAP = 200;
export const DEFAULT_BOOTSTRAP_SEED = 1;

// ---------------------------------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------------------------------

/** Names of the covariates, in the order of each case's `numeric` / `categorical` arrays. */
export interface CovariateSpec {
  readonly numeric: readonly string[];
  readonly categorical: readonly string[];
}

export interface CaseCovariates {
  /** Aligned with `CovariateSpec.numeric`; every value finite. */
  readonly numeric: readonly number[];
  /** Aligned with `CovariateSpec.categorical`. */
  readonly categorical?: readonly string[];
  /** Cluster key (patient or analysis): vessels of one scan share errors, so resampling and SEs are by cluster. */
  readonly cluster?: string;
}

export interface FfrLabel {
  readonly ctFfr: number;
  readonly invasiveFfr: number;
}

export interface LabelledCase extends CaseCovariates {
  /** The paired invasive FFR, or null when the case was not (yet) verified. */
  readonly label: FfrLabel | null;
  /** Verification stratum (IPW for verification bias); omitted: every case is in one stratum. */
  readonly verificationStratum?: string;
}

export type AccuracyMetric = 'meanAbsoluteError' | 'discordanceRate';
export const ACCURACY_METRICS: readonly AccuracyMetric[] = ['meanAbsoluteError', 'discordanceRate'];

export function caseLoss(label: FfrLabel, metric: AccuracyMetric, threshold = FFR_THRESHOLD): number {
  if (metric === 'meanAbsoluteError') return abs(label.ctFfr - label.invasiveFfr);
  return isPositive(label.ctFfr, threshold) === isPositive(label.invasiveFfr, threshold) ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------------------------------
// Design matrix and the domain classifier
// ---------------------------------------------------------------------------------------------------------------------

export interface DesignColumn {
  readonly name: string;
  readonly kind: 'numeric' | 'level';
  /** numeric: pooled mean and population SD used to standardise; level: the covariate and level. */
  readonly centre?: number;
  readonly scale?: number;
  readonly covariate?: string;
  readonly level?: string;
}

export interface DesignInfo {
  readonly columns: readonly DesignColumn[];
  /** Numeric covariates with zero pooled variance (no information on the shift), left out. */
  readonly droppedConstant: readonly string[];
  /** Baseline level of each categorical covariate (most frequent in the reference). */
  readonly baselineLevels: Readonly<Record<string, string>>;
  /** Levels seen in the current sample but never in the reference: no support, left out ("covariate=level"). */
  readonly unsupportedLevels: readonly string[];
}

function checkCases(spec: CovariateSpec, cases: readonly CaseCovariates[], label: string): void {
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i];
    if (c.numeric.length !== spec.numeric.length) {
      throw new RangeError(
        `${label} case ${i}: ${c.numeric.length} numeric covariates, spec has ${spec.numeric.length}`,
      );
    }
    for (let j = 0; j < c.numeric.length; j++) {
      if (!Number.isFinite(c.numeric[j])) {
        throw new RangeError(
          `${label} case ${i}: covariate ${spec.numeric[j]} is not finite (${c.numeric[j]})`,
        );
      }
    }
    const cats = c.categorical ?? [];
    if (cats.length !== spec.categorical.length) {
      throw new RangeError(
        `${label} case ${i}: ${cats.length} categorical covariates, spec has ${spec.categorical.length}`,
      );
    }
  }
}

/** Build the design (standardisation and one-hot levels) from the pooled reference and current cases. */
export function buildDesign(
  spec: CovariateSpec,
  reference: readonly CaseCovariates[],
  current: readonly CaseCovariates[],
): DesignInfo {
  const columns: DesignColumn[] = [];
  const droppedConstant: string[] = [];
  const n = reference.length + current.length;
  spec.numeric.forEach((name, j) => {
    let sum = 0;
    for (const c of reference) sum += c.numeric[j];
    for (const c of current) sum += c.numeric[j];
    const mean = sum / n;
    let ss = 0;
    for (const c of reference) ss += (c.numeric[j] - mean) ** 2;
    for (const c of current) ss += (c.numeric[j] - mean) ** 2;
    const sd = sqrt(ss / n);
    // Relative tolerance: a column that differs only by rounding noise carries no information.
    if (!(sd > 1e-12 * max(1, abs(mean)))) droppedConstant.push(name);
    else columns.push({ name, kind: 'numeric', centre: mean, scale: sd });
  });
  const baselineLevels: Record<string, string> = {};
  const unsupportedLevels: string[] = [];
  spec.categorical.forEach((name, j) => {
    const refCounts = new Map<string, number>();
    for (const c of reference) {
      const level = c.categorical![j];
      refCounts.set(level, (refCounts.get(level) ?? 0) + 1);
    }
    const curLevels = new Set<string>();
    for (const c of current) curLevels.add(c.categorical![j]);
    // Baseline: most frequent reference level (ties: lexicographically first, so the design is deterministic).
    const ordered = [...refCounts.entries()].sort(
      (a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0),
    );
    if (ordered.length === 0) return;
    baselineLevels[name] = ordered[0][0];
    const levels = [...new Set([...refCounts.keys(), ...curLevels])].sort();
    for (const level of levels) {
      if (level === baselineLevels[name]) continue;
      if (!refCounts.has(level)) {
        unsupportedLevels.push(`${name}=${level}`);
        continue;
      }
      columns.push({ name: `${name}=${level}`, kind: 'level', covariate: name, level });
    }
  });
  return { columns, droppedConstant, baselineLevels, unsupportedLevels };
}

function designRow(spec: CovariateSpec, design: DesignInfo, c: CaseCovariates, out: Float64Array): void {
  out[0] = 1;
  let k = 1;
  for (const col of design.columns) {
    if (col.kind === 'numeric') {
      const j = spec.numeric.indexOf(col.name);
      out[k++] = (c.numeric[j] - col.centre!) / col.scale!;
    } else {
      const j = spec.categorical.indexOf(col.covariate!);
      out[k++] = c.categorical![j] === col.level ? 1 : 0;
    }
  }
}

/** Dense row-major design matrix with an intercept column. */
export function designMatrix(
  spec: CovariateSpec,
  design: DesignInfo,
  cases: readonly CaseCovariates[],
): { x: Float64Array; p: number } {
  const p = design.columns.length + 1;
  const x = new Float64Array(cases.length * p);
  const row = new Float64Array(p);
  cases.forEach((c, i) => {
    designRow(spec, design, c, row);
    x.set(row, i * p);
  });
  return { x, p };
}

export interface LogisticFit {
  /** Coefficients: intercept first, then the design columns. */
  readonly coefficients: readonly number[];
  readonly iterations: number;
  readonly converged: boolean;
  /** Penalised log-likelihood at the solution. */
  readonly objective: number;
}

function log1pExp(eta: number): number {
  return eta > 0 ? eta + log1p(exp(-eta)) : log1p(exp(eta));
}

function sigmoid(eta: number): number {
  if (eta >= 0) return 1 / (1 + exp(-eta));
  const e = exp(eta);
  return e / (1 + e);
}

/** Solve the symmetric positive-definite system A·b = g in place by Cholesky (A is p×p row-major). */
function choleskySolve(a: Float64Array, g: Float64Array, p: number): Float64Array | null {
  const l = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * p + j];
      for (let k = 0; k < j; k++) s -= l[i * p + k] * l[j * p + k];
      if (i === j) {
        if (!(s > 0)) return null;
        l[i * p + i] = sqrt(s);
      } else l[i * p + j] = s / l[j * p + j];
    }
  }
  const y = new Float64Array(p);
  for (let i = 0; i < p; i++) {
    let s = g[i];
    for (let k = 0; k < i; k++) s -= l[i * p + k] * y[k];
    y[i] = s / l[i * p + i];
  }
  const b = new Float64Array(p);
  for (let i = p - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < p; k++) s -= l[k * p + i] * b[k];
    b[i] = s / l[i * p + i];
  }
  return b;
}

/**
 * L2-penalised logistic regression by Newton–Raphson with step halving: maximise
 * Σ_i [y_i·η_i − log(1 + e^{η_i})] − (ridge/2)·Σ_{j≥1} β_j² (intercept unpenalised). Rows are weighted by `rowWeights`
 * (bootstrap multiplicities; default 1). Converged when the largest Newton step is below 1e-10.
 */
export function fitLogistic(
  x: Float64Array,
  p: number,
  y: ArrayLike<number>,
  ridge: number,
  rowWeights?: ArrayLike<number>,
  maxIterations = 100,
): LogisticFit {
  const n = y.length;
  if (x.length !== n * p) throw new RangeError('design and response sizes differ');
  if (!(ridge >= 0 && Number.isFinite(ridge))) throw new RangeError(`ridge must be ≥ 0, got ${ridge}`);
  const beta = new Float64Array(p);
  const objectiveAt = (b: Float64Array): number => {
    let ll = 0;
    for (let i = 0; i < n; i++) {
      const wi = rowWeights ? rowWeights[i] : 1;
      if (wi === 0) continue;
      let eta = 0;
      for (let j = 0; j < p; j++) eta += x[i * p + j] * b[j];
      ll += wi * (y[i] * eta - log1pExp(eta));
    }
    let pen = 0;
    for (let j = 1; j < p; j++) pen += b[j] * b[j];
    return ll - 0.5 * ridge * pen;
  };
  let objective = objectiveAt(beta);
  const gradient = new Float64Array(p);
  const hessian = new Float64Array(p * p);
  let iterations = 0;
  let converged = false;
  while (iterations < maxIterations) {
    iterations++;
    gradient.fill(0);
    hessian.fill(0);
    for (let i = 0; i < n; i++) {
      const wi = rowWeights ? rowWeights[i] : 1;
      if (wi === 0) continue;
      const off = i * p;
      let eta = 0;
      for (let j = 0; j < p; j++) eta += x[off + j] * beta[j];
      const mu = sigmoid(eta);
      const r = wi * (y[i] - mu);
      const v = wi * mu * (1 - mu);
      for (let j = 0; j < p; j++) {
        const xj = x[off + j];
        gradient[j] += r * xj;
        const vx = v * xj;
        for (let k = 0; k <= j; k++) hessian[j * p + k] += vx * x[off + k];
      }
    }
    for (let j = 0; j < p; j++) for (let k = 0; k < j; k++) hessian[k * p + j] = hessian[j * p + k];
    for (let j = 1; j < p; j++) {
      gradient[j] -= ridge * beta[j];
      hessian[j * p + j] += ridge;
    }
    // Guard against a singular information matrix (e.g. separation with ridge 0): a tiny diagonal load.
    let step = choleskySolve(hessian, gradient, p);
    if (!step) {
      for (let j = 0; j < p; j++) hessian[j * p + j] += 1e-8;
      step = choleskySolve(hessian, gradient, p);
      if (!step) break;
    }
    let scale = 1;
    let next = new Float64Array(p);
    let nextObjective = -Infinity;
    for (let half = 0; half < 40; half++) {
      for (let j = 0; j < p; j++) next[j] = beta[j] + scale * step[j];
      nextObjective = objectiveAt(next);
      if (nextObjective >= objective - 1e-12 * abs(objective)) break;
      scale /= 2;
    }
    let largest = 0;
    for (let j = 0; j < p; j++) largest = max(largest, abs(next[j] - beta[j]));
    beta.set(next);
    objective = nextObjective;
    next = new Float64Array(p);
    if (largest < 1e-10) {
      converged = true;
      break;
    }
  }
  return { coefficients: [...beta], iterations, converged, objective };
}

/** Mann–Whitney AUC of the classifier's scores (current vs reference); 0.5 = indistinguishable, ties count ½. */
export function domainAuc(referenceScores: readonly number[], currentScores: readonly number[]): number {
  const all = [
    ...referenceScores.map((s) => ({ s, cur: 0 })),
    ...currentScores.map((s) => ({ s, cur: 1 })),
  ].sort((a, b) => a.s - b.s);
  let rankSum = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j + 1 < all.length && all[j + 1].s === all[i].s) j++;
    const midRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (all[k].cur) rankSum += midRank;
    i = j + 1;
  }
  const m = currentScores.length;
  const n = referenceScores.length;
  return (rankSum - (m * (m + 1)) / 2) / (m * n);
}

// ---------------------------------------------------------------------------------------------------------------------
// Weighted loss (the Hájek ratio) and its linearisation SE
// ---------------------------------------------------------------------------------------------------------------------

export interface WeightedLoss {
  readonly estimate: number;
  readonly standardError: number;
  readonly effectiveSampleSize: number;
  readonly labelledCases: number;
  readonly clusters: number;
}

/**
 * θ̂ = Σ v_i·loss_i / Σ v_i and its clustered linearisation SE (file header). NaN estimate when Σ v = 0; SE NaN with
 * fewer than two clusters.
 */
export function weightedLoss(
  losses: readonly number[],
  weights: readonly number[],
  clusters?: readonly (string | undefined)[],
): WeightedLoss {
  let sw = 0;
  let swl = 0;
  let sw2 = 0;
  for (let i = 0; i < losses.length; i++) {
    sw += weights[i];
    swl += weights[i] * losses[i];
    sw2 += weights[i] * weights[i];
  }
  if (!(sw > 0)) {
    return {
      estimate: NaN,
      standardError: NaN,
      effectiveSampleSize: 0,
      labelledCases: losses.length,
      clusters: 0,
    };
  }
  const theta = swl / sw;
  const byCluster = new Map<string, number>();
  for (let i = 0; i < losses.length; i++) {
    const key = clusters?.[i] ?? `#${i}`;
    byCluster.set(key, (byCluster.get(key) ?? 0) + weights[i] * (losses[i] - theta));
  }
  const c = byCluster.size;
  let ss = 0;
  for (const r of byCluster.values()) ss += r * r;
  const standardError = c >= 2 ? sqrt((c / (c - 1)) * ss) / sw : NaN;
  return {
    estimate: theta,
    standardError,
    effectiveSampleSize: (sw * sw) / sw2,
    labelledCases: losses.length,
    clusters: c,
  };
}

/** π per stratum: labelled / all cases of the stratum (cases without a stratum share one). */
export function verificationProbabilities(
  cases: readonly LabelledCase[],
  rowWeights?: ArrayLike<number>,
): Map<string, number> {
  const all = new Map<string, number>();
  const labelled = new Map<string, number>();
  cases.forEach((c, i) => {
    const wi = rowWeights ? rowWeights[i] : 1;
    const key = c.verificationStratum ?? '';
    all.set(key, (all.get(key) ?? 0) + wi);
    if (c.label) labelled.set(key, (labelled.get(key) ?? 0) + wi);
  });
  const pi = new Map<string, number>();
  for (const [key, total] of all) pi.set(key, total > 0 ? (labelled.get(key) ?? 0) / total : 0);
  return pi;
}

// ---------------------------------------------------------------------------------------------------------------------
// The estimate
// ---------------------------------------------------------------------------------------------------------------------

export interface MetricEstimate {
  readonly metric: AccuracyMetric;
  /** NaN when not estimable (see `LabelFreeEstimate.notEstimable`). */
  readonly estimate: number;
  /** Linearisation SE with the weights held fixed. */
  readonly standardError: number;
  readonly ci: {
    readonly lower: number;
    readonly upper: number;
    readonly method: 'bootstrap-percentile' | 'linearisation';
  };
  /** The unweighted (IPW-only) reference value: what one would report ignoring the shift. */
  readonly referenceValue: number;
}

export interface LabelFreeOptions {
  /** L2 penalty of the domain classifier on the standardised scale (default 1). */
  readonly ridge?: number;
  /** Cluster-bootstrap replicates (default 200; 0 = linearisation CI only). */
  readonly bootstrap?: number;
  readonly seed?: number;
  readonly confidenceLevel?: number;
  readonly threshold?: number;
}

export type LabelFreeNotEstimableReason =
  'empty-reference' | 'empty-current' | 'no-labelled-reference' | 'no-supported-current';

export interface LabelFreeEstimate {
  readonly notEstimable: LabelFreeNotEstimableReason | null;
  readonly referenceCases: number;
  readonly currentCases: number;
  readonly labelledReferenceCases: number;
  /** Kish effective sample size of the labelled reference cases under the combined weights w/π. */
  readonly effectiveSampleSize: number;
  readonly metrics: Readonly<Record<AccuracyMetric, MetricEstimate>>;
  readonly classifier: {
    readonly columns: readonly string[];
    readonly coefficients: readonly number[];
    readonly converged: boolean;
    readonly ridge: number;
    /** AUC of reference-vs-current on the fitted scores (in-sample; 0.5 = no detectable shift). */
    readonly domainAuc: number;
  };
  readonly design: DesignInfo;
  /**
   * Covariate-shift weights w = exp(η)·n_ref/n_cur of the labelled reference cases (1 everywhere when nothing shifted),
   * and the largest share of Σ w/π carried by one case (a single case dominating the estimate).
   */
  readonly weightSummary: { readonly min: number; readonly max: number; readonly maxShare: number };
  /** Current cases with a category level the reference never saw (no support for importance weighting). */
  readonly unsupportedCurrentShare: number;
  /** Current cases with any numeric covariate outside the reference's [min, max]. */
  readonly outsideReferenceRangeShare: number;
  /** True when part of the current sample has no reference support: the estimate covers the supported part only. */
  readonly extrapolating: boolean;
  readonly bootstrap: { readonly replicates: number; readonly failed: number; readonly seed: number };
  readonly confidenceLevel: number;
}

interface CoreResult {
  metrics: Record<AccuracyMetric, WeightedLoss>;
  reference: Record<AccuracyMetric, number>;
  combinedWeights: number[];
  shiftWeights: number[];
  fit: LogisticFit;
  referenceEta: number[];
  currentEta: number[];
}

function estimateCore(
  reference: readonly LabelledCase[],
  refMatrix: Float64Array,
  curMatrix: Float64Array,
  p: number,
  ridge: number,
  threshold: number,
  refMultiplicity?: Float64Array,
  curMultiplicity?: Float64Array,
): CoreResult | null {
  const n = reference.length;
  const m = curMatrix.length / p;
  const x = new Float64Array((n + m) * p);
  x.set(refMatrix, 0);
  x.set(curMatrix, n * p);
  const y = new Float64Array(n + m);
  y.fill(1, n);
  let rowWeights: Float64Array | undefined;
  let nRef = n;
  let nCur = m;
  if (refMultiplicity && curMultiplicity) {
    rowWeights = new Float64Array(n + m);
    rowWeights.set(refMultiplicity, 0);
    rowWeights.set(curMultiplicity, n);
    nRef = refMultiplicity.reduce((s, v) => s + v, 0);
    nCur = curMultiplicity.reduce((s, v) => s + v, 0);
  }
  const fit = fitLogistic(x, p, y, ridge, rowWeights);
  const eta = (i: number): number => {
    let e = 0;
    for (let j = 0; j < p; j++) e += x[i * p + j] * fit.coefficients[j];
    return e;
  };
  const referenceEta = Array.from({ length: n }, (_, i) => eta(i));
  const currentEta = Array.from({ length: m }, (_, i) => eta(n + i));
  const pi = verificationProbabilities(reference, refMultiplicity);
  const losses: Record<AccuracyMetric, number[]> = { meanAbsoluteError: [], discordanceRate: [] };
  const weights: number[] = [];
  const shiftWeights: number[] = [];
  const ipwOnly: number[] = [];
  const clusters: (string | undefined)[] = [];
  const ratio = nRef / nCur;
  reference.forEach((c, i) => {
    const mult = refMultiplicity ? refMultiplicity[i] : 1;
    if (!c.label || mult === 0) return;
    const piI = pi.get(c.verificationStratum ?? '')!;
    // A bootstrap multiplicity k counts the case k times: the same as weight × k.
    const w = exp(referenceEta[i]) * ratio;
    shiftWeights.push(w);
    weights.push((mult * w) / piI);
    ipwOnly.push(mult / piI);
    clusters.push(c.cluster ?? `#${i}`);
    for (const metric of ACCURACY_METRICS) losses[metric].push(caseLoss(c.label, metric, threshold));
  });
  if (weights.length === 0) return null;
  const metrics = {
    meanAbsoluteError: weightedLoss(losses.meanAbsoluteError, weights, clusters),
    discordanceRate: weightedLoss(losses.discordanceRate, weights, clusters),
  };
  const referenceValues = {
    meanAbsoluteError: weightedLoss(losses.meanAbsoluteError, ipwOnly).estimate,
    discordanceRate: weightedLoss(losses.discordanceRate, ipwOnly).estimate,
  };
  return {
    metrics,
    reference: referenceValues,
    combinedWeights: weights,
    shiftWeights,
    fit,
    referenceEta,
    currentEta,
  };
}

/** Group case indices by cluster (cases without a cluster are their own cluster). */
function clusterIndex(cases: readonly CaseCovariates[]): number[][] {
  const groups = new Map<string, number[]>();
  cases.forEach((c, i) => {
    const key = c.cluster ?? `#${i}`;
    const g = groups.get(key);
    if (g) g.push(i);
    else groups.set(key, [i]);
  });
  return [...groups.values()];
}

function resampleClusters(groups: number[][], size: number, random: SeededRandom): Float64Array {
  const multiplicity = new Float64Array(size);
  for (let draw = 0; draw < groups.length; draw++) {
    for (const i of groups[random.nextInt(groups.length)]) multiplicity[i] += 1;
  }
  return multiplicity;
}

/** Type-7 quantile of a sorted array. */
function quantile(sorted: readonly number[], q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = floor(h);
  const hi = lo + 1 < sorted.length ? lo + 1 : lo;
  return h === lo ? sorted[lo] : sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

function notEstimable(
  reason: LabelFreeNotEstimableReason,
  reference: readonly LabelledCase[],
  current: readonly CaseCovariates[],
  design: DesignInfo,
  ridge: number,
  seed: number,
  confidenceLevel: number,
): LabelFreeEstimate {
  const empty = (metric: AccuracyMetric): MetricEstimate => ({
    metric,
    estimate: NaN,
    standardError: NaN,
    ci: { lower: NaN, upper: NaN, method: 'linearisation' },
    referenceValue: NaN,
  });
  return {
    notEstimable: reason,
    referenceCases: reference.length,
    currentCases: current.length,
    labelledReferenceCases: reference.filter((c) => c.label).length,
    effectiveSampleSize: 0,
    metrics: { meanAbsoluteError: empty('meanAbsoluteError'), discordanceRate: empty('discordanceRate') },
    classifier: { columns: [], coefficients: [], converged: false, ridge, domainAuc: NaN },
    design,
    weightSummary: { min: NaN, max: NaN, maxShare: NaN },
    unsupportedCurrentShare: NaN,
    outsideReferenceRangeShare: NaN,
    extrapolating: false,
    bootstrap: { replicates: 0, failed: 0, seed },
    confidenceLevel,
  };
}

/**
 * Label-free accuracy of the current period: importance-weighted labelled reference losses (file header).
 * `reference`: every reference case (labelled or not — the unlabelled ones still inform the density ratio and π);
 * `current`: the current period's cases (covariates only).
 */
export function estimateLabelFreeAccuracy(
  spec: CovariateSpec,
  reference: readonly LabelledCase[],
  current: readonly CaseCovariates[],
  options: LabelFreeOptions = {},
): LabelFreeEstimate {
  const ridge = options.ridge ?? DEFAULT_RIDGE;
  const replicates = options.bootstrap ?? DEFAULT_BOOTSTRAP;
  const seed = options.seed ?? DEFAULT_BOOTSTRAP_SEED;
  const confidenceLevel = options.confidenceLevel ?? 0.95;
  const threshold = options.threshold ?? FFR_THRESHOLD;
  if (!(confidenceLevel > 0 && confidenceLevel < 1))
    throw new RangeError(`confidence level must be in (0, 1)`);
  if (!(Number.isInteger(replicates) && replicates >= 0))
    throw new RangeError(`bootstrap must be an integer ≥ 0`);
  checkCases(spec, reference, 'reference');
  checkCases(spec, current, 'current');
  for (const c of reference) {
    if (c.label && !(Number.isFinite(c.label.ctFfr) && Number.isFinite(c.label.invasiveFfr))) {
      throw new RangeError('a reference label has a non-finite CT-FFR or invasive FFR');
    }
  }
  const emptyDesign: DesignInfo = {
    columns: [],
    droppedConstant: [],
    baselineLevels: {},
    unsupportedLevels: [],
  };
  if (reference.length === 0)
    return notEstimable('empty-reference', reference, current, emptyDesign, ridge, seed, confidenceLevel);
  if (current.length === 0)
    return notEstimable('empty-current', reference, current, emptyDesign, ridge, seed, confidenceLevel);
  if (!reference.some((c) => c.label)) {
    return notEstimable(
      'no-labelled-reference',
      reference,
      current,
      emptyDesign,
      ridge,
      seed,
      confidenceLevel,
    );
  }

  // Current cases with a level the reference never saw cannot be weighted: they are left out of the density ratio
  // (the estimate describes the supported part) and counted. The design is then rebuilt on the supported cases, so
  // their standardisation does not depend on the unsupported ones.
  const unsupportedLevels = buildDesign(spec, reference, current).unsupportedLevels;
  const unsupported = new Set(unsupportedLevels);
  const isUnsupported = (c: CaseCovariates): boolean =>
    spec.categorical.some((name, j) => unsupported.has(`${name}=${c.categorical![j]}`));
  const supported = current.filter((c) => !isUnsupported(c));
  if (supported.length === 0) {
    return notEstimable(
      'no-supported-current',
      reference,
      current,
      emptyDesign,
      ridge,
      seed,
      confidenceLevel,
    );
  }
  const design: DesignInfo = { ...buildDesign(spec, reference, supported), unsupportedLevels };
  const { x: refMatrix, p } = designMatrix(spec, design, reference);
  const { x: curMatrix } = designMatrix(spec, design, supported);
  const core = estimateCore(reference, refMatrix, curMatrix, p, ridge, threshold)!;

  // Numeric support: current values outside the reference range (still weighted; the logistic model extrapolates).
  const ranges = spec.numeric.map((_, j) => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const c of reference) {
      lo = min(lo, c.numeric[j]);
      hi = max(hi, c.numeric[j]);
    }
    return [lo, hi] as const;
  });
  let outsideCount = 0;
  for (const c of current) {
    if (c.numeric.some((v, j) => v < ranges[j][0] || v > ranges[j][1])) outsideCount++;
  }
  const unsupportedCount = current.length - supported.length;

  // Cluster bootstrap (refit in every replicate).
  const z = normalQuantile(1 - (1 - confidenceLevel) / 2);
  const draws: Record<AccuracyMetric, number[]> = { meanAbsoluteError: [], discordanceRate: [] };
  let failed = 0;
  if (replicates > 0) {
    const random = seededRandom(seed);
    const refGroups = clusterIndex(reference);
    const curGroups = clusterIndex(supported);
    for (let b = 0; b < replicates; b++) {
      const refMult = resampleClusters(refGroups, reference.length, random);
      const curMult = resampleClusters(curGroups, supported.length, random);
      const rep = estimateCore(reference, refMatrix, curMatrix, p, ridge, threshold, refMult, curMult);
      if (!rep || !Number.isFinite(rep.metrics.meanAbsoluteError.estimate)) {
        failed++;
        continue;
      }
      for (const metric of ACCURACY_METRICS) draws[metric].push(rep.metrics[metric].estimate);
    }
  }
  const alpha = 1 - confidenceLevel;
  const metricEstimate = (metric: AccuracyMetric): MetricEstimate => {
    const w = core.metrics[metric];
    const upperBound = metric === 'discordanceRate' ? 1 : Infinity;
    if (draws[metric].length >= 2) {
      const sorted = [...draws[metric]].sort((a, b) => a - b);
      return {
        metric,
        estimate: w.estimate,
        standardError: w.standardError,
        ci: {
          lower: quantile(sorted, alpha / 2),
          upper: quantile(sorted, 1 - alpha / 2),
          method: 'bootstrap-percentile',
        },
        referenceValue: core.reference[metric],
      };
    }
    const half = Number.isFinite(w.standardError) ? z * w.standardError : NaN;
    return {
      metric,
      estimate: w.estimate,
      standardError: w.standardError,
      ci: {
        lower: max(0, w.estimate - half),
        upper: min(upperBound, w.estimate + half),
        method: 'linearisation',
      },
      referenceValue: core.reference[metric],
    };
  };

  const sumW = core.combinedWeights.reduce((s, v) => s + v, 0);
  const auc = domainAuc(core.referenceEta, core.currentEta);
  return {
    notEstimable: null,
    referenceCases: reference.length,
    currentCases: current.length,
    labelledReferenceCases: core.combinedWeights.length,
    effectiveSampleSize: core.metrics.meanAbsoluteError.effectiveSampleSize,
    metrics: {
      meanAbsoluteError: metricEstimate('meanAbsoluteError'),
      discordanceRate: metricEstimate('discordanceRate'),
    },
    classifier: {
      columns: ['(intercept)', ...design.columns.map((c) => c.name)],
      coefficients: core.fit.coefficients,
      converged: core.fit.converged,
      ridge,
      domainAuc: auc,
    },
    design,
    weightSummary: {
      min: core.shiftWeights.reduce((a, b) => min(a, b), Infinity),
      max: core.shiftWeights.reduce((a, b) => max(a, b), -Infinity),
      maxShare: core.combinedWeights.reduce((a, b) => max(a, b), 0) / sumW,
    },
    unsupportedCurrentShare: unsupportedCount / current.length,
    outsideReferenceRangeShare: outsideCount / current.length,
    extrapolating: unsupportedCount > 0,
    bootstrap: { replicates, failed, seed },
    confidenceLevel,
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// Later: what the labels showed
// ---------------------------------------------------------------------------------------------------------------------

export interface RealisedAccuracy {
  readonly labelledCases: number;
  readonly metrics: Readonly<
    Record<AccuracyMetric, { estimate: number; standardError: number; ci: { lower: number; upper: number } }>
  >;
}

/**
 * Realised accuracy of a period from its own labels: the same Hájek estimator with shift weight 1, IPW by the period's
 * own verification strata (all the period's cases, labelled or not, define π). Linearisation CI (Wald, clipped).
 */
export function realisedAccuracy(
  cases: readonly LabelledCase[],
  options: { readonly confidenceLevel?: number; readonly threshold?: number } = {},
): RealisedAccuracy {
  const confidenceLevel = options.confidenceLevel ?? 0.95;
  const threshold = options.threshold ?? FFR_THRESHOLD;
  const z = normalQuantile(1 - (1 - confidenceLevel) / 2);
  const pi = verificationProbabilities(cases);
  const weights: number[] = [];
  const clusters: (string | undefined)[] = [];
  const losses: Record<AccuracyMetric, number[]> = { meanAbsoluteError: [], discordanceRate: [] };
  cases.forEach((c, i) => {
    if (!c.label) return;
    weights.push(1 / pi.get(c.verificationStratum ?? '')!);
    clusters.push(c.cluster ?? `#${i}`);
    for (const metric of ACCURACY_METRICS) losses[metric].push(caseLoss(c.label, metric, threshold));
  });
  const summarise = (metric: AccuracyMetric) => {
    const w = weightedLoss(losses[metric], weights, clusters);
    const half = z * w.standardError;
    const upperBound = metric === 'discordanceRate' ? 1 : Infinity;
    return {
      estimate: w.estimate,
      standardError: w.standardError,
      ci: { lower: max(0, w.estimate - half), upper: min(upperBound, w.estimate + half) },
    };
  };
  return {
    labelledCases: weights.length,
    metrics: {
      meanAbsoluteError: summarise('meanAbsoluteError'),
      discordanceRate: summarise('discordanceRate'),
    },
  };
}

export interface LabelComparison {
  readonly metric: AccuracyMetric;
  readonly estimated: number;
  readonly realised: number;
  /** realised − estimated. */
  readonly difference: number;
  readonly differenceCi: { readonly lower: number; readonly upper: number };
  /** Two-sided p of H0: the estimate is unbiased for the realised value (normal approximation). */
  readonly pValue: number;
  /** The realised value lies inside the estimate's CI. */
  readonly covered: boolean;
  readonly realisedLabelledCases: number;
}

/** Compare a label-free estimate with the period's realised accuracy once its labels are mature. */
export function compareWithLabels(
  estimate: LabelFreeEstimate,
  realised: RealisedAccuracy,
  metric: AccuracyMetric,
  confidenceLevel = 0.95,
): LabelComparison {
  const e = estimate.metrics[metric];
  const r = realised.metrics[metric];
  const z = normalQuantile(1 - (1 - confidenceLevel) / 2);
  // SE of the estimate: from the bootstrap interval when it exists (it carries the weight-estimation error), else the
  // linearisation SE; the two samples are independent, so variances add.
  const estimateSe =
    e.ci.method === 'bootstrap-percentile'
      ? (e.ci.upper - e.ci.lower) / (2 * normalQuantile(1 - (1 - estimate.confidenceLevel) / 2))
      : e.standardError;
  const se = sqrt(estimateSe ** 2 + r.standardError ** 2);
  const difference = r.estimate - e.estimate;
  const zStat = difference / se;
  const pValue = Number.isFinite(zStat) ? 2 * (1 - normalCdf(abs(zStat))) : NaN;
  return {
    metric,
    estimated: e.estimate,
    realised: r.estimate,
    difference,
    differenceCi: { lower: difference - z * se, upper: difference + z * se },
    pValue,
    covered: r.estimate >= e.ci.lower && r.estimate <= e.ci.upper,
    realisedLabelledCases: realised.labelledCases,
  };
}

export interface CoverageSummary {
  readonly periods: number;
  readonly covered: number;
  readonly coverage: number;
  /** Wilson 95% interval of the coverage (statistics.md §2). */
  readonly ci: { readonly lower: number; readonly upper: number };
  readonly meanDifference: number;
}

/** Across periods: how often the realised accuracy fell inside the label-free estimate's CI. */
export function coverageSummary(comparisons: readonly LabelComparison[]): CoverageSummary {
  const valid = comparisons.filter((c) => Number.isFinite(c.realised) && Number.isFinite(c.estimated));
  const covered = valid.filter((c) => c.covered).length;
  const n = valid.length;
  const [lower, upper] = n > 0 ? wilsonInterval(covered, n) : [NaN, NaN];
  return {
    periods: n,
    covered,
    coverage: n > 0 ? covered / n : NaN,
    ci: { lower, upper },
    meanDifference: n > 0 ? valid.reduce((s, c) => s + c.difference, 0) / n : NaN,
  };
}
