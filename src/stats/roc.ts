/**
 * ROC analysis of CT-FFR against invasive FFR: the ROC curve, the AUC with its DeLong (1988) variance computed by the
 * fast midrank algorithm of Sun & Xu (2014), Obuchowski's (1997) clustered AUC (patient = cluster), a paired DeLong
 * comparison of two model versions, and the `auc` block of `GET /api/v1/performance` (DESIGN.md §5).
 * Formulas: reference/statistics.md §3 (DeLong, fast midrank form) and §4 (Obuchowski).
 *
 * Conventions pinned here (and checked against R pROC 1.18.0 in roc.spec.ts):
 *  - Orientation: a LOWER CT-FFR predicts disease. A vessel is diseased (reference positive) when its invasive
 *    FFR ≤ threshold (0.80, inclusive). The AUC is
 *        AUC = P(CT-FFR of a diseased vessel < CT-FFR of a non-diseased vessel) + ½·P(equal),
 *    i.e. the score is s = −CT-FFR (statistics.md §1) and ties count ½ (midranks). pROC equivalent:
 *    `roc(truth, ctffr, levels = c(0, 1), direction = ">")`.
 *  - DeLong interval: Wald on the plain (AUC) scale, AUC ± z·√Var, truncated to [0, 1] — exactly
 *    `pROC::ci.auc(method = "delong")`. The untruncated interval and a logit-scale interval
 *    (logit AUC ± z·SE/(AUC(1 − AUC)), back-transformed; statistics.md §3 "alternative") are reported beside it.
 *  - Obuchowski interval: the same Wald form with the clustered variance; `ci` is truncated to [0, 1] like DeLong,
 *    `ciUncapped` is what reference/oracle/oracle.R prints.
 *  - z = Φ⁻¹(1 − α/2) (1.959964 for 95%), as pROC's `qnorm`.
 *  - Not estimable (typed result with a reason, never NaN): no vessels, no diseased or no non-diseased vessel
 *    (AUC undefined); fewer than two diseased or non-diseased vessels (DeLong variance has an (m − 1) or (n − 1)
 *    divisor — pROC returns NA); for Obuchowski also fewer than two patients, or all diseased (or all
 *    non-diseased) vessels in one patient (I10 − 1 or I01 − 1 divisor).
 */
import { normalCdf, twoSidedNormalCritical } from './distributions';

/** A two-sided interval `[lower, upper]` (JSON: a two-element array). */
export type Interval = readonly [lower: number, upper: number];

/** A figure that cannot be computed from the data at hand, with a machine-readable reason and a sentence. */
export interface NotEstimable<Reason extends string = string> {
  readonly estimable: false;
  readonly reason: Reason;
  readonly detail: string;
}

/** One vessel with a CT-FFR result and an invasive FFR reference measurement. */
export interface VesselReading {
  readonly patientId: string;
  readonly ctffr: number;
  readonly ffr: number;
}

/** One vessel with its CT-FFR and its reference class (diseased = invasive FFR ≤ threshold). */
export interface ClassifiedVessel {
  readonly patientId: string;
  readonly ctffr: number;
  readonly diseased: boolean;
}

export type AucNotEstimableReason = 'no-vessels' | 'no-diseased-vessels' | 'no-non-diseased-vessels';

export type AucVarianceNotEstimableReason =
  | 'fewer-than-two-diseased'
  | 'fewer-than-two-non-diseased'
  | 'single-patient'
  | 'diseased-vessels-in-one-patient'
  | 'non-diseased-vessels-in-one-patient';

/** A variance-based AUC interval. */
export interface AucInterval {
  readonly estimable: true;
  readonly method: 'delong' | 'obuchowski';
  readonly variance: number;
  readonly standardError: number;
  readonly confidenceLevel: number;
  /** AUC ± z·SE truncated to [0, 1] (pROC `ci.auc(method = "delong")` convention). */
  readonly ci: Interval;
  /** AUC ± z·SE without truncation. */
  readonly ciUncapped: Interval;
  /** Logit-scale Wald interval back-transformed; not estimable when the AUC is 0 or 1. */
  readonly ciLogit: Interval | NotEstimable<'auc-at-boundary'>;
}

/**
 * DeLong structural components ("placements"): for each diseased vessel i, V10_i = fraction of non-diseased vessels
 * with a higher CT-FFR (ties ½); for each non-diseased vessel j, V01_j = fraction of diseased vessels with a lower
 * CT-FFR (ties ½). Same order as the input arrays. pROC: `delongPlacements(roc)$X` and `$Y`.
 */
export interface StructuralComponents {
  readonly diseased: readonly number[];
  readonly nonDiseased: readonly number[];
}

export interface DeLongAuc {
  readonly estimable: true;
  readonly auc: number;
  readonly diseasedCount: number;
  readonly nonDiseasedCount: number;
  readonly structuralComponents: StructuralComponents;
  readonly delong: AucInterval | NotEstimable<AucVarianceNotEstimableReason>;
}

export interface ObuchowskiAuc {
  readonly estimable: true;
  readonly auc: number;
  readonly diseasedVessels: number;
  readonly nonDiseasedVessels: number;
  readonly patients: number;
  /** I10: patients with at least one diseased vessel. */
  readonly patientsWithDiseased: number;
  /** I01: patients with at least one non-diseased vessel. */
  readonly patientsWithNonDiseased: number;
  readonly obuchowski:
    | (AucInterval & { readonly s10: number; readonly s01: number; readonly s11: number })
    | NotEstimable<AucVarianceNotEstimableReason>;
}

/** One operating point. Vessels are called positive when CT-FFR ≤ `threshold`. */
export interface RocPoint {
  /** CT-FFR cut-off (an observed value); `null` for the corner where no vessel is called positive. */
  readonly threshold: number | null;
  readonly sensitivity: number;
  readonly specificity: number;
  readonly truePositives: number;
  readonly falsePositives: number;
}

export interface RocCurve {
  readonly estimable: true;
  readonly diseasedCount: number;
  readonly nonDiseasedCount: number;
  /** From (sensitivity 0, specificity 1) to (1, 0), by increasing threshold: one point per distinct CT-FFR + 1. */
  readonly points: readonly RocPoint[];
}

/** A vessel scored by two CT-FFR model versions (paired comparison). */
export interface PairedVessel {
  readonly diseased: boolean;
  readonly ctffrA: number;
  readonly ctffrB: number;
}

export interface PairedAucComparison {
  readonly estimable: true;
  readonly diseasedCount: number;
  readonly nonDiseasedCount: number;
  readonly aucA: number;
  readonly aucB: number;
  /** aucA − aucB. */
  readonly difference: number;
  readonly varianceA: number;
  readonly varianceB: number;
  readonly covariance: number;
  readonly standardError: number;
  readonly z: number;
  /** Two-sided, normal reference distribution. */
  readonly pValue: number;
  readonly confidenceLevel: number;
  readonly ciDifference: Interval;
}

/** `auc` block of the performance report (DESIGN.md §5); intervals truncated to [0, 1]. */
export interface VesselAucReport {
  readonly estimable: true;
  readonly estimate: number;
  readonly vessels: number;
  readonly diseasedVessels: number;
  readonly nonDiseasedVessels: number;
  readonly patients: number;
  readonly ci95: { readonly delong: Interval | null; readonly obuchowski: Interval | null };
  /** Standard errors behind the intervals (null with the interval). */
  readonly standardError: { readonly delong: number | null; readonly obuchowski: number | null };
  /** Why an interval is null. */
  readonly notEstimable: { readonly delong?: string; readonly obuchowski?: string };
  readonly method: string;
}

export type VesselAucNotEstimable = NotEstimable<AucNotEstimableReason> & {
  readonly vessels: number;
  readonly diseasedVessels: number;
  readonly nonDiseasedVessels: number;
  readonly patients: number;
};

const REPORT_METHOD =
  'AUC = P(CT-FFR diseased < CT-FFR non-diseased) + ½ P(tie), diseased = invasive FFR ≤ threshold; ' +
  '95% Wald intervals AUC ± 1.959964·SE truncated to [0, 1]: DeLong (1988) ignoring clustering (pROC ci.auc), ' +
  'Obuchowski (1997) with patient as cluster';

function notEstimable<R extends string>(reason: R, detail: string): NotEstimable<R> {
  return { estimable: false, reason, detail };
}

function assertFinite(values: readonly number[], what: string): void {
  for (const value of values) {
    if (!Number.isFinite(value)) throw new RangeError(`${what} must be finite numbers, got ${value}`);
  }
}

/**
 * Midranks (1-based; a run of equal values occupying sorted positions i..j−1, 0-based, gets (i + j − 1)/2 + 1) —
 * statistics.md §3, Sun & Xu (2014) eq. for T_Z. O(n log n).
 */
export function midranks(values: readonly number[]): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const ranks = new Float64Array(n);
  let i = 0;
  while (i < n) {
    let j = i + 1;
    while (j < n && values[order[j]] === values[order[i]]) j++;
    const rank = (i + j - 1) / 2 + 1;
    for (let k = i; k < j; k++) ranks[order[k]] = rank;
    i = j;
  }
  return ranks;
}

/**
 * Fast DeLong structural components (Sun & Xu 2014, statistics.md §3) on the score s = −CT-FFR:
 *   T_Z = midranks of pooled [X; Y], T_X = midranks(X), T_Y = midranks(Y)
 *   V10(X_i) = (T_Z,i − T_X,i)/n,  V01(Y_j) = 1 − (T_Z,m+j − T_Y,j)/m,  AUC = mean V10.
 * Requires m ≥ 1 and n ≥ 1.
 */
function structuralComponents(
  diseasedCtffr: readonly number[],
  nonDiseasedCtffr: readonly number[],
): { auc: number; diseased: number[]; nonDiseased: number[] } {
  const m = diseasedCtffr.length;
  const n = nonDiseasedCtffr.length;
  const x = diseasedCtffr.map((v) => -v);
  const y = nonDiseasedCtffr.map((v) => -v);
  const pooled = midranks([...x, ...y]);
  const tx = midranks(x);
  const ty = midranks(y);
  const diseased = new Array<number>(m);
  const nonDiseased = new Array<number>(n);
  let rankSum = 0;
  for (let i = 0; i < m; i++) {
    rankSum += pooled[i];
    diseased[i] = (pooled[i] - tx[i]) / n;
  }
  for (let j = 0; j < n; j++) nonDiseased[j] = 1 - (pooled[m + j] - ty[j]) / m;
  // Mann–Whitney form of the AUC: (Σ T_Z,i − m(m+1)/2)/(m n) — exact for half-integer ranks.
  const auc = (rankSum - (m * (m + 1)) / 2) / (m * n);
  return { auc, diseased, nonDiseased };
}

function sumOfSquaredDeviations(values: readonly number[], centre: number): number {
  let total = 0;
  for (const v of values) total += (v - centre) * (v - centre);
  return total;
}

export function waldAucInterval(
  method: 'delong' | 'obuchowski',
  auc: number,
  variance: number,
  confidenceLevel: number,
): AucInterval {
  const z = twoSidedNormalCritical(confidenceLevel);
  // Round-off can leave a variance of −1e-18 when every structural component equals the AUC.
  const v = variance < 0 && variance > -1e-15 ? 0 : variance;
  const se = Math.sqrt(v);
  const lower = auc - z * se;
  const upper = auc + z * se;
  let ciLogit: AucInterval['ciLogit'];
  if (auc <= 0 || auc >= 1) {
    ciLogit = notEstimable('auc-at-boundary', `the logit of an AUC of ${auc} is infinite`);
  } else {
    const centre = Math.log(auc / (1 - auc));
    const seLogit = se / (auc * (1 - auc)); // delta method
    const expit = (t: number): number => 1 / (1 + Math.exp(-t));
    ciLogit = [expit(centre - z * seLogit), expit(centre + z * seLogit)];
  }
  return {
    estimable: true,
    method,
    variance: v,
    standardError: se,
    confidenceLevel,
    ci: [Math.max(0, lower), Math.min(1, upper)],
    ciUncapped: [lower, upper],
    ciLogit,
  };
}

function aucNotEstimable(m: number, n: number): NotEstimable<AucNotEstimableReason> | null {
  if (m === 0 && n === 0) return notEstimable('no-vessels', 'no vessel with both CT-FFR and invasive FFR');
  if (m === 0) {
    return notEstimable(
      'no-diseased-vessels',
      `all ${n} vessels are non-diseased; the AUC needs both classes`,
    );
  }
  if (n === 0) {
    return notEstimable(
      'no-non-diseased-vessels',
      `all ${m} vessels are diseased; the AUC needs both classes`,
    );
  }
  return null;
}

/**
 * AUC and DeLong (1988) variance and interval from the CT-FFR values of diseased and non-diseased units (vessels,
 * or patients after collapsing to the minimum per patient, statistics.md §8). O((m + n) log(m + n)).
 *
 *   S10 = Σ (V10_i − AUC)²/(m − 1),  S01 = Σ (V01_j − AUC)²/(n − 1),  Var = S10/m + S01/n   (statistics.md §3)
 *
 * Equals pROC `auc()`, `var(method = "delong")`, `ci.auc(method = "delong")` with `direction = ">"`.
 */
export function deLongAuc(
  diseasedCtffr: readonly number[],
  nonDiseasedCtffr: readonly number[],
  confidenceLevel = 0.95,
): DeLongAuc | NotEstimable<AucNotEstimableReason> {
  assertFinite(diseasedCtffr, 'CT-FFR values');
  assertFinite(nonDiseasedCtffr, 'CT-FFR values');
  twoSidedNormalCritical(confidenceLevel); // validates the level before any early return
  const m = diseasedCtffr.length;
  const n = nonDiseasedCtffr.length;
  const missing = aucNotEstimable(m, n);
  if (missing) return missing;
  const { auc, diseased, nonDiseased } = structuralComponents(diseasedCtffr, nonDiseasedCtffr);
  let delong: DeLongAuc['delong'];
  if (m < 2) {
    delong = notEstimable('fewer-than-two-diseased', 'the DeLong variance needs at least 2 diseased units');
  } else if (n < 2) {
    delong = notEstimable(
      'fewer-than-two-non-diseased',
      'the DeLong variance needs at least 2 non-diseased units',
    );
  } else {
    const s10 = sumOfSquaredDeviations(diseased, auc) / (m - 1);
    const s01 = sumOfSquaredDeviations(nonDiseased, auc) / (n - 1);
    delong = waldAucInterval('delong', auc, s10 / m + s01 / n, confidenceLevel);
  }
  return {
    estimable: true,
    auc,
    diseasedCount: m,
    nonDiseasedCount: n,
    structuralComponents: { diseased, nonDiseased },
    delong,
  };
}

/**
 * Obuchowski (1997, Biometrics 53:567) clustered AUC with the patient as cluster (statistics.md §4):
 *   V10_i = Σ_j V10(X_ij), V01_i = Σ_k V01(Y_ik) (components against ALL opposite-class vessels, as in DeLong)
 *   S10 = I10/((I10 − 1) M) Σ_i (V10_i − m_i AUC)²,  S01 = I01/((I01 − 1) N) Σ_i (V01_i − n_i AUC)²
 *   S11 = I/(I − 1) Σ_i (V10_i − m_i AUC)(V01_i − n_i AUC)
 *   Var = S10/M + S01/N + 2 S11/(M N)
 * With one vessel per patient it equals the DeLong variance exactly. The structural components come from the fast
 * midrank algorithm, so this is O(V log V) too. pROC has no clustered AUC (its `var(method = "obuchowski")` is
 * Obuchowski–McClish, a different method); the oracle is reference/oracle/oracle.R's `obuchowski()`.
 */
export function obuchowskiAuc(
  vessels: readonly ClassifiedVessel[],
  confidenceLevel = 0.95,
): ObuchowskiAuc | NotEstimable<AucNotEstimableReason> {
  twoSidedNormalCritical(confidenceLevel);
  const diseasedCtffr: number[] = [];
  const nonDiseasedCtffr: number[] = [];
  for (const v of vessels) (v.diseased ? diseasedCtffr : nonDiseasedCtffr).push(v.ctffr);
  assertFinite(diseasedCtffr, 'CT-FFR values');
  assertFinite(nonDiseasedCtffr, 'CT-FFR values');
  const bigM = diseasedCtffr.length;
  const bigN = nonDiseasedCtffr.length;
  const missing = aucNotEstimable(bigM, bigN);
  if (missing) return missing;
  const { auc, diseased, nonDiseased } = structuralComponents(diseasedCtffr, nonDiseasedCtffr);

  // Per-patient sums of structural components and counts, in order of first appearance.
  const clusters = new Map<string, { v10: number; v01: number; m: number; n: number }>();
  let di = 0;
  let ni = 0;
  for (const v of vessels) {
    let c = clusters.get(v.patientId);
    if (!c) {
      c = { v10: 0, v01: 0, m: 0, n: 0 };
      clusters.set(v.patientId, c);
    }
    if (v.diseased) {
      c.v10 += diseased[di++];
      c.m++;
    } else {
      c.v01 += nonDiseased[ni++];
      c.n++;
    }
  }
  const patients = clusters.size;
  let i10 = 0;
  let i01 = 0;
  for (const c of clusters.values()) {
    if (c.m > 0) i10++;
    if (c.n > 0) i01++;
  }
  const base = {
    estimable: true as const,
    auc,
    diseasedVessels: bigM,
    nonDiseasedVessels: bigN,
    patients,
    patientsWithDiseased: i10,
    patientsWithNonDiseased: i01,
  };
  if (patients < 2) {
    return {
      ...base,
      obuchowski: notEstimable(
        'single-patient',
        'the clustered variance needs at least 2 patients (I − 1 divisor)',
      ),
    };
  }
  if (i10 < 2) {
    return {
      ...base,
      obuchowski: notEstimable(
        'diseased-vessels-in-one-patient',
        'all diseased vessels belong to one patient; S10 has an (I10 − 1) divisor',
      ),
    };
  }
  if (i01 < 2) {
    return {
      ...base,
      obuchowski: notEstimable(
        'non-diseased-vessels-in-one-patient',
        'all non-diseased vessels belong to one patient; S01 has an (I01 − 1) divisor',
      ),
    };
  }
  let sum10 = 0;
  let sum01 = 0;
  let sum11 = 0;
  for (const c of clusters.values()) {
    const e10 = c.v10 - c.m * auc; // 0 when m_i = 0
    const e01 = c.v01 - c.n * auc;
    sum10 += e10 * e10;
    sum01 += e01 * e01;
    sum11 += e10 * e01;
  }
  const s10 = (i10 / ((i10 - 1) * bigM)) * sum10;
  const s01 = (i01 / ((i01 - 1) * bigN)) * sum01;
  const s11 = (patients / (patients - 1)) * sum11;
  const variance = s10 / bigM + s01 / bigN + (2 * s11) / (bigM * bigN);
  return {
    ...base,
    obuchowski: { ...waldAucInterval('obuchowski', auc, variance, confidenceLevel), s10, s01, s11 },
  };
}

/**
 * Empirical ROC curve for a chart. A vessel is called positive when CT-FFR ≤ threshold; thresholds are the distinct
 * observed CT-FFR values (plus a first point, threshold null, where nothing is positive). The (sensitivity,
 * specificity) pairs are those of pROC `coords(roc, "all")` (which uses midpoints between observed values as
 * thresholds and lists them in the opposite order). O(V log V).
 */
export function rocCurve(
  diseasedCtffr: readonly number[],
  nonDiseasedCtffr: readonly number[],
): RocCurve | NotEstimable<AucNotEstimableReason> {
  assertFinite(diseasedCtffr, 'CT-FFR values');
  assertFinite(nonDiseasedCtffr, 'CT-FFR values');
  const m = diseasedCtffr.length;
  const n = nonDiseasedCtffr.length;
  const missing = aucNotEstimable(m, n);
  if (missing) return missing;
  const labelled = [
    ...diseasedCtffr.map((ctffr) => ({ ctffr, diseased: true })),
    ...nonDiseasedCtffr.map((ctffr) => ({ ctffr, diseased: false })),
  ].sort((a, b) => a.ctffr - b.ctffr);
  const points: RocPoint[] = [
    { threshold: null, sensitivity: 0, specificity: 1, truePositives: 0, falsePositives: 0 },
  ];
  let tp = 0;
  let fp = 0;
  let k = 0;
  while (k < labelled.length) {
    const threshold = labelled[k].ctffr;
    while (k < labelled.length && labelled[k].ctffr === threshold) {
      if (labelled[k].diseased) tp++;
      else fp++;
      k++;
    }
    points.push({
      threshold,
      sensitivity: tp / m,
      specificity: (n - fp) / n,
      truePositives: tp,
      falsePositives: fp,
    });
  }
  return { estimable: true, diseasedCount: m, nonDiseasedCount: n, points };
}

/**
 * Paired DeLong test of two CT-FFR model versions on the same vessels (DeLong 1988; pROC
 * `roc.test(method = "delong", paired = TRUE)`):
 *   Cov = Σ_i (V10A_i − A_A)(V10B_i − A_B)/((m − 1) m) + Σ_j (V01A_j − A_A)(V01B_j − A_B)/((n − 1) n)
 *   z = (A_A − A_B)/√(Var_A + Var_B − 2 Cov),  two-sided p from N(0, 1),  CI = (A_A − A_B) ± z_{α/2}·SE.
 * Vessels are treated as independent (no clustering).
 */
export function compareAucsPaired(
  vessels: readonly PairedVessel[],
  confidenceLevel = 0.95,
):
  | PairedAucComparison
  | NotEstimable<AucNotEstimableReason | AucVarianceNotEstimableReason | 'zero-variance'> {
  const z = twoSidedNormalCritical(confidenceLevel);
  const diseased = vessels.filter((v) => v.diseased);
  const nonDiseased = vessels.filter((v) => !v.diseased);
  const a = deLongAuc(
    diseased.map((v) => v.ctffrA),
    nonDiseased.map((v) => v.ctffrA),
    confidenceLevel,
  );
  const b = deLongAuc(
    diseased.map((v) => v.ctffrB),
    nonDiseased.map((v) => v.ctffrB),
    confidenceLevel,
  );
  if (!a.estimable) return a;
  if (!b.estimable) return b;
  if (!a.delong.estimable) return a.delong;
  if (!b.delong.estimable) return b.delong;
  const m = a.diseasedCount;
  const n = a.nonDiseasedCount;
  const crossProducts = (u: readonly number[], v: readonly number[]): number => {
    let total = 0;
    for (let i = 0; i < u.length; i++) total += (u[i] - a.auc) * (v[i] - b.auc);
    return total;
  };
  const covariance =
    crossProducts(a.structuralComponents.diseased, b.structuralComponents.diseased) / ((m - 1) * m) +
    crossProducts(a.structuralComponents.nonDiseased, b.structuralComponents.nonDiseased) / ((n - 1) * n);
  const difference = a.auc - b.auc;
  const varianceDifference = a.delong.variance + b.delong.variance - 2 * covariance;
  const standardError = Math.sqrt(Math.max(0, varianceDifference));
  let statistic: number;
  if (standardError > 0) statistic = difference / standardError;
  else if (difference === 0)
    statistic = 0; // pROC: identical curves give Z = 0
  else {
    return notEstimable('zero-variance', 'the AUCs differ but the variance of their difference is 0');
  }
  return {
    estimable: true,
    diseasedCount: m,
    nonDiseasedCount: n,
    aucA: a.auc,
    aucB: b.auc,
    difference,
    varianceA: a.delong.variance,
    varianceB: b.delong.variance,
    covariance,
    standardError,
    z: statistic,
    pValue: 2 * normalCdf(-Math.abs(statistic)),
    confidenceLevel,
    ciDifference: [difference - z * standardError, difference + z * standardError],
  };
}

/**
 * Reference class of each vessel: diseased when invasive FFR ≤ threshold (inclusive; DESIGN.md §5). The comparison
 * is on the parsed stored decimal, never on a value that went through arithmetic (statistics.md §1).
 */
export function classifyByInvasiveFfr(
  readings: readonly VesselReading[],
  ffrThreshold = 0.8,
): ClassifiedVessel[] {
  assertFinite(
    readings.map((r) => r.ffr),
    'invasive FFR values',
  );
  return readings.map((r) => ({ patientId: r.patientId, ctffr: r.ctffr, diseased: r.ffr <= ffrThreshold }));
}

/**
 * The `auc` block of `GET /api/v1/performance` (DESIGN.md §5): per-vessel AUC with 95% DeLong and Obuchowski
 * (patient-clustered) intervals, both truncated to [0, 1]. A null interval carries its reason in `notEstimable`.
 */
export function vesselAucReport(
  readings: readonly VesselReading[],
  ffrThreshold = 0.8,
): VesselAucReport | VesselAucNotEstimable {
  const vessels = classifyByInvasiveFfr(readings, ffrThreshold);
  const patients = new Set(readings.map((r) => r.patientId)).size;
  const diseasedVessels = vessels.filter((v) => v.diseased).length;
  const counts = {
    vessels: vessels.length,
    diseasedVessels,
    nonDiseasedVessels: vessels.length - diseasedVessels,
    patients,
  };
  const clustered = obuchowskiAuc(vessels, 0.95);
  if (!clustered.estimable) return { ...clustered, ...counts };
  const delong = deLongAuc(
    vessels.filter((v) => v.diseased).map((v) => v.ctffr),
    vessels.filter((v) => !v.diseased).map((v) => v.ctffr),
    0.95,
  );
  // obuchowskiAuc estimable ⇒ both classes present ⇒ deLongAuc estimable.
  if (!delong.estimable) return { ...delong, ...counts };
  const notEstimableReasons: { delong?: string; obuchowski?: string } = {};
  if (!delong.delong.estimable) notEstimableReasons.delong = delong.delong.detail;
  if (!clustered.obuchowski.estimable) notEstimableReasons.obuchowski = clustered.obuchowski.detail;
  return {
    estimable: true,
    estimate: delong.auc,
    ...counts,
    ci95: {
      delong: delong.delong.estimable ? delong.delong.ci : null,
      obuchowski: clustered.obuchowski.estimable ? clustered.obuchowski.ci : null,
    },
    standardError: {
      delong: delong.delong.estimable ? delong.delong.standardError : null,
      obuchowski: clustered.obuchowski.estimable ? clustered.obuchowski.standardError : null,
    },
    notEstimable: notEstimableReasons,
    method: REPORT_METHOD,
  };
}
