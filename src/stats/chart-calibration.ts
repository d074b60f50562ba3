/**
 * Control charts whose in-control parameters are estimated from a reference, designed so that the false-alarm
 * contract holds for the chart that actually runs (statistics.md §10 "Estimated baseline"; drift-methods.md §4.3).
 *
 * Why the textbook design is not enough. cusumDesign / ewmaDesign / bernoulliCusumDesign (control-charts.ts) give h
 * or L for a target ARL0 when the observations are N(μ0, σ²) (or Bernoulli(p0)) with μ0, σ, p0 **known**. A drift
 * monitor plugs in a reference's estimates μ̂0, σ̂, p̂0 from n labelled vessels (a site: 70–300), and the per-chart
 * ARL0s of a shared budget are 10⁴–10⁵ observations. Two things then break the contract:
 *  1. estimation error: the chart runs on z = (x − μ̂0)/σ̂ = (u − d)/r with u the truly standardised observation,
 *     d = (μ̂0 − μ0)/σ ~ N(0, 1/n) and r = σ̂/σ; a d of 2–3 standard errors is a permanent shift of 0.15–0.35 σ at a
 *     site, which a chart tuned to 0.5 σ with h ≈ 15 signals within a few hundred observations (the drift-scenarios
 *     control measured 3 chart alarms against a budget of 1.64 with a one-sided 95% guard band, 12 without);
 *  2. shape: |CT-FFR − invasive FFR| is skewed (half-normal-like) and the residual is a scale mixture (heteroscedastic
 *     error, ctffr-evidence.md §4.3), so normal-theory ARL0s of 10⁴⁺ — set by the far tail — are optimistic.
 *
 * What is done instead (one design per chart, deterministic, recorded in the evidence):
 *  - **shape**: every chart runs on an observation that is close to normal in control, so that the normal-theory
 *    integral equations of control-charts.ts (spc-checked) apply: the residual itself, and for the |error| chart not
 *    |e| but √|e| (Hawkins 1981, J Qual Technol 13:228: the square root of an absolute normal deviate is close to
 *    normal — skewness 0.1–0.3 in the drift scenarios' references against 1.0 for |e|), standardised by the
 *    reference's mean and SD of √|e|. The sample kurtosis κ of the reference enters the spread of σ̂ (below). An
 *    empirical (kernel-smoothed) law of the reference was tried first: its bumps, one per isolated tail observation,
 *    make the ARL integral equation ill-conditioned at the limits these budgets need (h = 20–35: negative "ARLs");
 *  - **estimation error**: the false-alarm probability within the contract's horizon T (own observations) is averaged
 *    over the sampling distribution of the estimates — d ~ N(0, deff/n) (deff = 3: REFERENCE_MEAN_DESIGN_EFFECT),
 *    log r ~ N(0, (κ − 1)/(4n)) with κ the reference sample's kurtosis (the delta-method variance of log s) — by
 *    7 × 3-point Gauss–Hermite quadrature, with
 *    P(false alarm by T | d, r) = 1 − exp(−T/ARL(d, r)) (run lengths of charts with large ARL are close to geometric;
 *    for small ARLs the zero-state start makes the true probability smaller, so the design errs on the safe side);
 *  - **the contract**: h (CUSUM), the half-width (EWMA) or the lattice limit (Bernoulli CUSUM) is the smallest one
 *    whose averaged probability is ≤ 1 − exp(−T/ARL0), the probability a chart with the budget's ARL0 and known
 *    parameters would have. This is the unconditional ("marginal") in-control performance of Jones, Champ & Rigdon
 *    (2004, Technometrics 46:168) stated over a finite horizon: with an estimated baseline the ARL itself is not the
 *    right target (a chart with an unlucky d alarms for sure in the long run, so the marginal ARL0 of a small
 *    reference cannot reach 10⁵), while the expected number of false alarms within the horizon is exactly what the
 *    drift budget promises (src/stats/drift-budget.ts). Compared with the former one-sided 95% guard band
 *    (k' = k + 1.645/√n), k stays at the configured value — the band moved k to 0.37 at a site of 180 reference
 *    vessels, so a 0.375 σ bias (+0.03 CT-FFR) could never be signalled — and h grows instead.
 *
 * Checks (chart-calibration.spec.ts): with n = ∞ and a horizon of 1 observation the designs reduce to cusumDesign /
 * ewmaDesign / bernoulliCusumDesign; the averaged false-alarm probability agrees with a Monte Carlo of charts run on
 * baselines re-estimated from simulated references.
 */
import {
  bernoulliCusumArl,
  bernoulliCusumArlByLimit,
  bernoulliCusumChart,
  cusumArl,
  cusumDesign,
  ewmaArl,
  ewmaDesign,
  EWMA_NODES,
  siegmundArl,
  type BernoulliCusumChart,
  type CusumSide,
} from './control-charts';

const { exp, floor, max, min, sqrt } = Math;

// ---------------------------------------------------------------------------------------------------------------------
// Estimation error: quadrature over (d, r)
// ---------------------------------------------------------------------------------------------------------------------

/** Probabilists' Gauss–Hermite rules (nodes for N(0, 1), weights summing to 1): 7 and 3 points. */
const HERMITE_7 = {
  nodes: [0, 0.8162878828589647, 1.6735516287674714, 2.6519613568352334].flatMap((t) =>
    t === 0 ? [0] : [-t * Math.SQRT2, t * Math.SQRT2],
  ),
  weights: [0.8102646175568073, 0.4256072526101278, 0.05451558281912703, 0.000971781245099519].flatMap(
    (w, i) => (i === 0 ? [w / sqrt(Math.PI)] : [w / sqrt(Math.PI), w / sqrt(Math.PI)]),
  ),
};
const HERMITE_3 = {
  nodes: [0, -1.224744871391589 * Math.SQRT2, 1.224744871391589 * Math.SQRT2],
  weights: [1.1816359006036772, 0.2954089751509193, 0.2954089751509193].map((w) => w / sqrt(Math.PI)),
};

export interface EstimationScenario {
  /** (μ̂0 − μ0)/σ. */
  readonly d: number;
  /** σ̂/σ. */
  readonly r: number;
  readonly weight: number;
}

/**
 * Design effect on the variance of a reference's mean. Labelled vessels are not independent draws: vessels share a
 * patient, and a segment's residual mean wanders from month to month (case mix, operators). In the drift-scenarios
 * control (seed ci-control-1) the 30-day residual means of a site varied 1.8 times as much (SD) as independent
 * vessels would make them — a variance ratio of about 3 — and a site's monitoring mean sat 4.0 independent-vessel
 * standard errors from its reference's, where the charts designed with 1/n alarmed 6 times against a budget of 0.34.
 */
export const REFERENCE_MEAN_DESIGN_EFFECT = 3;

/**
 * Quadrature over the estimation error of a reference of n observations with kurtosis κ: d ~ N(0, deff/n) with deff
 * = `designEffect` (default REFERENCE_MEAN_DESIGN_EFFECT), log r ~ N(0, (κ − 1)/(4n)). n = Infinity gives the single
 * point (0, 1).
 */
export function estimationScenarios(
  n: number,
  kurtosis: number,
  designEffect: number = REFERENCE_MEAN_DESIGN_EFFECT,
): EstimationScenario[] {
  if (!Number.isFinite(n)) return [{ d: 0, r: 1, weight: 1 }];
  if (!(n >= 2)) throw new RangeError(`reference size must be ≥ 2, got ${n}`);
  if (!(designEffect > 0 && Number.isFinite(designEffect)))
    throw new RangeError(`design effect must be > 0, got ${designEffect}`);
  const sdD = sqrt(designEffect / n);
  const sdLogR = sqrt(max(0, kurtosis - 1) / (4 * n));
  const out: EstimationScenario[] = [];
  for (let i = 0; i < HERMITE_7.nodes.length; i++) {
    for (let j = 0; j < HERMITE_3.nodes.length; j++) {
      out.push({
        d: HERMITE_7.nodes[i] * sdD,
        r: exp(HERMITE_3.nodes[j] * sdLogR),
        weight: HERMITE_7.weights[i] * HERMITE_3.weights[j],
      });
    }
  }
  return out;
}

/** P(a chart with run length ~ geometric(ARL) signals within T observations). */
export function falseAlarmWithin(horizon: number, arl: number): number {
  return -Math.expm1(-horizon / arl);
}

/**
 * An ARL from a linear solve, or Infinity when the system is numerically singular: at ARLs beyond ~10¹⁰ (d = 0 with
 * h = 30) the integral equation is ill-conditioned and can return a value below 1 or throw; such a chart contributes
 * nothing to a false-alarm probability within any horizon of interest.
 */
function solvedArl(solve: () => number): number {
  let arl: number;
  try {
    arl = solve();
  } catch {
    return Infinity;
  }
  return arl >= 1 && Number.isFinite(arl) ? arl : Infinity;
}

/** Relative precision of a designed h or L (0.02 at h = 20: far below what the estimates' error moves). */
export const DESIGN_TOLERANCE = 1e-3;

/**
 * Smallest x > 0 at which the decreasing function `probability` is ≤ target, to a relative DESIGN_TOLERANCE (or to 1
 * for an integer x): bracketed from a first guess (the known-parameter design) by factors of 2, then the Illinois
 * variant of regula falsi on log P − log target against log x (nearly linear there: a handful of evaluations, each of
 * which solves a few dozen integral equations).
 */
function smallestMeeting(
  probability: (x: number) => number,
  target: number,
  guess: number,
  integer = false,
): number {
  const f = (x: number): number => {
    const p = probability(x);
    return p > 0 ? Math.log(p) - Math.log(target) : -50;
  };
  const step = (x: number, up: boolean): number =>
    integer ? Math.max(1, up ? 2 * x : floor(x / 2)) : up ? 2 * x : x / 2;
  let lo = integer ? Math.max(1, Math.round(guess)) : guess;
  let fLo = f(lo);
  let hi: number;
  let fHi: number;
  if (fLo <= 0) {
    hi = lo;
    fHi = fLo;
    for (let i = 0; ; i++) {
      lo = step(hi, false);
      if (lo === hi || i > 40) return hi;
      fLo = f(lo);
      if (fLo > 0) break;
      hi = lo;
      fHi = fLo;
    }
  } else {
    for (let i = 0; ; i++) {
      if (i > 40) throw new RangeError(`false-alarm target ${target} not reachable`);
      hi = step(lo, true);
      fHi = f(hi);
      if (fHi <= 0) break;
      lo = hi;
      fLo = fHi;
    }
  }
  let side = 0;
  const done = (): boolean => (integer ? hi - lo <= 1 : hi / lo <= 1 + DESIGN_TOLERANCE);
  while (!done()) {
    const uLo = Math.log(lo);
    const uHi = Math.log(hi);
    let u = uLo - (fLo * (uHi - uLo)) / (fHi - fLo);
    if (!(u > uLo && u < uHi)) u = 0.5 * (uLo + uHi);
    let x = Math.exp(u);
    if (integer) x = Math.min(hi - 1, Math.max(lo + 1, Math.round(x)));
    const fx = f(x);
    if (fx > 0) {
      lo = x;
      fLo = fx;
      if (side === -1) fHi /= 2;
      side = -1;
    } else {
      hi = x;
      fHi = fx;
      if (side === 1) fLo /= 2;
      side = 1;
    }
  }
  return hi;
}

/**
 * A scenario whose false-alarm probability, even at the largest quadrature weight, is below this fraction of the
 * target is not computed further (the ones beyond it on the same side are better still): it cannot move the design.
 */
const NEGLIGIBLE = 1e-6;

// ---------------------------------------------------------------------------------------------------------------------
// Designs
// ---------------------------------------------------------------------------------------------------------------------

export interface EstimatedBaselineContract {
  /** The chart's share of the budget: in-control ARL in its own observations, as if the parameters were known. */
  readonly arl0: number;
  /** Own observations over which the contract is stated. */
  readonly horizon: number;
  /** Size of the reference the parameters are estimated from (Infinity: known parameters). */
  readonly referenceSize: number;
}

function checkContract(c: EstimatedBaselineContract): number {
  if (!(c.arl0 > 1 && Number.isFinite(c.arl0))) throw new RangeError(`ARL0 must be > 1, got ${c.arl0}`);
  if (!(c.horizon > 0 && Number.isFinite(c.horizon)))
    throw new RangeError(`horizon must be > 0, got ${c.horizon}`);
  return falseAlarmWithin(c.horizon, c.arl0);
}

export interface EstimatedBaselineDesign {
  /** P(false alarm within the horizon) the budget allows: 1 − exp(−T/ARL0). */
  readonly targetProbability: number;
  /** The design's averaged probability (≤ the target, by up to the search tolerance). */
  readonly achievedProbability: number;
  /** ARL under the reference law with the estimates taken as true (d = 0, r = 1). */
  readonly arl0AtEstimates: number;
  readonly quadrature: {
    readonly points: number;
    readonly referenceSize: number;
    readonly kurtosis?: number;
    readonly designEffect?: number;
  };
}

export interface EstimatedBaselineCusum extends EstimatedBaselineDesign {
  readonly k: number;
  readonly h: number;
  readonly sided: CusumSide;
}

/** Gauss–Legendre nodes for an ARL integral equation over a limit of `width` σ: 2.5 per σ (30 to 150). */
function nodesFor(width: number): number {
  return min(150, max(30, Math.ceil(2.5 * width)));
}

/**
 * h of a CUSUM (reference value k, `sided`) run on observations standardised by a reference's estimates, such that the
 * averaged probability of a false alarm within the horizon is ≤ 1 − exp(−T/ARL0) (module header). With z = (u − d)/r
 * the chart in u units has reference value r·k, limit r·h and observations shifted by −d (upper sum) or +d (lower
 * sum); the two sides' hazards add (1/ARL = 1/ARL⁺ + 1/ARL⁻, as cusumArl without head start).
 *
 * Each one-sided ARL in the quadrature is Siegmund's approximation (control-charts.ts `siegmundArl`; within a few %
 * of the integral equation for ARL ≥ 50, and below 50 the chart alarms within any horizon of interest whatever the
 * error), so that a design costs milliseconds: a drift evaluation designs one chart per monitor × segment, and the
 * drift-scenarios suite and OC table design thousands. chart-calibration.spec.ts checks the achieved probability
 * against the same quadrature over the integral-equation ARLs.
 */
export function estimatedBaselineCusumDesign(
  request: EstimatedBaselineContract & {
    readonly k: number;
    readonly sided: CusumSide;
    /** Kurtosis of the reference sample (3 if unknown): widens the spread of σ̂/σ. */
    readonly kurtosis?: number;
    /**
     * Variance of the reference mean as a multiple of σ²/n (default REFERENCE_MEAN_DESIGN_EFFECT): 1 for a reference
     * whose mean is known to have the independent-observation error in the chart's own units (the CT-FFR location
     * chart, src/stats/location-cusum.ts).
     */
    readonly designEffect?: number;
    /** ARL of each quadrature point: 'siegmund' (default) or 'integral-equation' (the check). */
    readonly arlMethod?: 'siegmund' | 'integral-equation';
  },
): EstimatedBaselineCusum {
  const target = checkContract(request);
  const { k, sided } = request;
  if (!(k >= 0)) throw new RangeError(`k must be ≥ 0, got ${k}`);
  const kurtosis = request.kurtosis ?? 3;
  const method = request.arlMethod ?? 'siegmund';
  const scenarios = estimationScenarios(request.referenceSize, kurtosis, request.designEffect);
  // One-sided upper ARL at reference value k, limit h, observation mean `shift` (σ units).
  const upperArl = (kr: number, hr: number, shift: number): number =>
    method === 'siegmund'
      ? max(1, siegmundArl(kr, hr, shift))
      : solvedArl(() =>
          cusumArl({ k: kr, h: hr, sided: 'upper' }, shift, {
            method: 'integral-equation',
            nodes: nodesFor(hr),
          }),
        );
  const probability = (h: number): number => {
    let p = 0;
    for (const s of scenarios) {
      const up = sided === 'lower' ? 0 : 1 / upperArl(k * s.r, h * s.r, -s.d);
      const down = sided === 'upper' ? 0 : 1 / upperArl(k * s.r, h * s.r, s.d);
      p += s.weight * -Math.expm1(-request.horizon * (up + down));
    }
    return p;
  };
  const guess = cusumDesign({ k, arl0: request.arl0, sided }).h;
  const h = smallestMeeting(probability, target, guess);
  return {
    k,
    h,
    sided,
    targetProbability: target,
    achievedProbability: probability(h),
    arl0AtEstimates: solvedArl(() =>
      cusumArl({ k, h, sided }, 0, { method: 'integral-equation', nodes: nodesFor(h) }),
    ),
    quadrature: {
      points: scenarios.length,
      referenceSize: request.referenceSize,
      kurtosis,
      designEffect: request.designEffect ?? REFERENCE_MEAN_DESIGN_EFFECT,
    },
  };
}

export interface EstimatedBaselineEwma extends EstimatedBaselineDesign {
  readonly lambda: number;
  /** Limit width in units of the EWMA's asymptotic SD (as ewmaDesign's L). */
  readonly L: number;
  /** Half-width of the asymptotic limits in σ̂ units: L·√(λ/(2 − λ)). */
  readonly halfWidth: number;
}

/**
 * L of a two-sided EWMA (asymptotic limits) on observations standardised by a reference's estimates (module header):
 * in u units the EWMA is r·w with limits ±r·L and observations shifted by −d, i.e. ewmaArl at L·r and shift −d.
 */
export function estimatedBaselineEwmaDesign(
  request: EstimatedBaselineContract & { readonly lambda: number; readonly kurtosis?: number },
): EstimatedBaselineEwma {
  const target = checkContract(request);
  const { lambda } = request;
  if (!(lambda > 0 && lambda <= 1)) throw new RangeError(`λ must be in (0, 1], got ${lambda}`);
  const kurtosis = request.kurtosis ?? 3;
  const scenarios = estimationScenarios(request.referenceSize, kurtosis);
  const arlAt = (L: number, s: EstimationScenario): number =>
    solvedArl(() =>
      ewmaArl({ lambda, L: L * s.r }, -s.d, { method: 'integral-equation', nodes: EWMA_NODES }),
    );
  // The two-sided EWMA of normal observations is symmetric: ARL(−d) = ARL(d), so each ±d pair is solved once.
  const probability = (L: number): number => {
    const solved = new Map<string, number>();
    let p = 0;
    for (const s of scenarios) {
      const key = `${Math.abs(s.d)}:${s.r}`;
      let arl = solved.get(key);
      if (arl === undefined) solved.set(key, (arl = arlAt(L, s)));
      p += s.weight * falseAlarmWithin(request.horizon, arl);
    }
    return p;
  };
  const L = smallestMeeting(probability, target, ewmaDesign({ lambda, arl0: request.arl0 }).L);
  return {
    lambda,
    L,
    halfWidth: L * sqrt(lambda / (2 - lambda)),
    targetProbability: target,
    achievedProbability: probability(L),
    arl0AtEstimates: arlAt(L, { d: 0, r: 1, weight: 1 }),
    quadrature: { points: scenarios.length, referenceSize: request.referenceSize, kurtosis },
  };
}

export interface EstimatedBaselineBernoulli extends EstimatedBaselineDesign {
  readonly chart: BernoulliCusumChart;
}

/**
 * Lattice limit of a Bernoulli CUSUM designed at p0 = p̂0 (`events` of `referenceSize`), p1 = p̂0 + shift, such that
 * the false-alarm probability within the horizon averaged over p ~ N(p̂0, p̂0(1 − p̂0)/n) (7-point Gauss–Hermite,
 * clipped to (0, 1)) is ≤ 1 − exp(−T/ARL0). `referenceSize` Infinity: p0 known.
 */
export function estimatedBaselineBernoulliDesign(
  request: EstimatedBaselineContract & {
    readonly p0: number;
    readonly shift: number;
    readonly resolution?: number;
  },
): EstimatedBaselineBernoulli {
  const target = checkContract(request);
  const { p0, shift } = request;
  const p1 = p0 + shift;
  if (!(p0 > 0 && p0 < 1 && p1 > 0 && p1 < 1))
    throw new RangeError(`p0 ${p0} and p1 ${p1} must be in (0, 1)`);
  const se = Number.isFinite(request.referenceSize)
    ? sqrt((REFERENCE_MEAN_DESIGN_EFFECT * p0 * (1 - p0)) / request.referenceSize)
    : 0;
  const rates =
    se === 0
      ? [{ p: p0, weight: 1 }]
      : HERMITE_7.nodes.map((z, i) => ({
          p: min(1 - 1e-6, max(1e-6, p0 + z * se)),
          weight: HERMITE_7.weights[i],
        }));
  const unit = bernoulliCusumChart({ p0, p1, h: 1, resolution: request.resolution });
  const chartAt = (limit: number): BernoulliCusumChart =>
    bernoulliCusumChart({ p0, p1, h: (limit + 0.5) / unit.scale, resolution: request.resolution });
  // Highest rate first (for an increase; lowest for a decrease): the ARL falls as the rate moves towards p1.
  const ordered = [...rates].sort((a, b) => (shift > 0 ? b.p - a.p : a.p - b.p));
  const maxWeight = Math.max(...rates.map((r) => r.weight));
  // One factorisation per rate serves every limit up to its size (bernoulliCusumArlByLimit); grown by doubling.
  const factored = new Map<number, { limit: number; arl: (limit: number) => number }>();
  const arlAt = (rate: number, limit: number): number => {
    let entry = factored.get(rate);
    if (!entry || entry.limit < limit) {
      const size = max(limit, 2 * (entry?.limit ?? 0), 64);
      entry = { limit: size, arl: bernoulliCusumArlByLimit(chartAt(size), rate) };
      factored.set(rate, entry);
    }
    return solvedArl(() => (entry as { arl: (limit: number) => number }).arl(limit));
  };
  const probability = (limit: number): number => {
    let p = 0;
    for (const r of ordered) {
      const q = falseAlarmWithin(request.horizon, arlAt(r.p, limit));
      p += r.weight * q;
      if (q * maxWeight < NEGLIGIBLE * target) break;
    }
    return p;
  };
  // Smallest integer limit meeting the target, searched from the known-p0 design (ARL at p0 ≥ ARL0; as
  // bernoulliCusumDesign, on the factorisation already kept for p0, the quadrature's centre).
  let high = 64;
  while (arlAt(p0, high) < request.arl0) high *= 2;
  let low = high / 2;
  while (high - low > 1) {
    const mid = floor((low + high) / 2);
    if (arlAt(p0, mid) >= request.arl0) high = mid;
    else low = mid;
  }
  const start = high;
  const limit = smallestMeeting(probability, target, start, true);
  const chart = chartAt(limit);
  return {
    chart,
    targetProbability: target,
    achievedProbability: probability(limit),
    arl0AtEstimates: solvedArl(() => bernoulliCusumArl(chart, p0)),
    quadrature: { points: rates.length, referenceSize: request.referenceSize },
  };
}
