/**
 * One false-alarm budget for a whole monitoring configuration, split across monitors × segments
 * (reference/drift-methods.md §6). The monitor configuration states the family's budget once; these helpers give each
 * (monitor, segment) its share, and the split is stored with the configuration version.
 *
 * Two kinds of monitor, two currencies:
 *
 * 1. **Batch tests** (PSI, KS, JS, W1, χ², proportion shift — evaluated once per evaluation run on a window): the
 *    budget is a family-wise false-alarm probability **per evaluation run**, α_family.
 *    - Bonferroni: α_i = α_family·w_i/Σw. Valid under any dependence (the union bound), slightly conservative.
 *    - Šidák: α_i = 1 − (1 − α_family)^{w_i/Σw}. Exact when the tests are independent (then P(no false alarm) =
 *      Π(1 − α_i) = 1 − α_family), and valid under positive dependence of the usual kind; marginally larger shares.
 *    With equal weights these are α/d and 1 − (1 − α)^{1/d}. A batch test run every period at level α has, with
 *    non-overlapping windows, an in-control run length that is geometric with mean 1/α evaluations — the link to (2).
 *
 * 2. **Sequential charts** (CUSUM, EWMA, Bernoulli CUSUM — one update per observation): the budget is a family
 *    in-control ARL0 (mean number of time steps to the first false alarm of any chart). With roughly geometric run
 *    lengths the hazards add, 1/ARL_family ≈ Σ 1/ARL_i, so
 *    - 'rate' split (Bonferroni on hazards): ARL_i = ARL_family·Σw/w_i — equal weights give d × target
 *      (10 sites, family 500 → 5,000 each; drift-methods.md §6);
 *    - 'sidak' split (per-step level, alibi-detect's β = 1 − (1 − 1/ERT)^{1/d}): β_i = 1 − (1 − 1/ARL_family)^{w_i/Σw},
 *      ARL_i = 1/β_i — exact for independent geometric run lengths on one clock; differs from 'rate' by < 1 step.
 *    Both assume the charts share a time index (one step = one evaluation day or one observation of the pooled
 *    stream). A segment chart that ticks only on its own segment's observations runs on a slower clock: convert with
 *    its expected share of observations (ARL in the common clock = ARL in own observations / share).
 *
 * Weights let a configuration give, e.g., the global chart half of the budget and split the rest over sites.
 */

export type BatchSplitMethod = 'bonferroni' | 'sidak';
export type ArlSplitMethod = 'rate' | 'sidak';

/** One monitor of the configuration and how many segments it is evaluated over (overall, per site, …). */
export interface BudgetMonitor {
  readonly id: string;
  /** Number of segments (e.g. 1 overall + 12 sites = 13). */
  readonly segments: number;
  /** Relative share of the budget per segment of this monitor (default 1). */
  readonly weight?: number;
}

export interface BatchAllocation {
  readonly id: string;
  readonly segments: number;
  /** Level of each single test (each segment) of this monitor per evaluation run. */
  readonly alphaPerTest: number;
}

export interface BatchBudget {
  readonly familyAlpha: number;
  readonly method: BatchSplitMethod;
  readonly totalTests: number;
  readonly allocations: readonly BatchAllocation[];
  /** Upper bound on the family's false-alarm probability per run: Σ α_i (Bonferroni) or 1 − Π(1 − α_i) (independence). */
  readonly achievedFamilyAlpha: number;
}

export interface ArlAllocation {
  readonly id: string;
  readonly segments: number;
  /** In-control ARL0 each chart of this monitor must be designed for. */
  readonly arl0PerChart: number;
}

export interface ArlBudget {
  readonly familyArl0: number;
  readonly method: ArlSplitMethod;
  readonly totalCharts: number;
  readonly allocations: readonly ArlAllocation[];
  /** Family ARL0 implied by the allocation under independence: 1/Σ(1/ARL_i) ('rate') or 1/(1 − Π(1 − 1/ARL_i)). */
  readonly achievedFamilyArl0: number;
}

function checkedMonitors(monitors: readonly BudgetMonitor[]): {
  weights: number[];
  totalWeight: number;
  total: number;
} {
  if (monitors.length === 0) throw new RangeError('a budget needs at least one monitor');
  const ids = new Set<string>();
  let totalWeight = 0;
  let total = 0;
  const weights: number[] = [];
  for (const monitor of monitors) {
    if (ids.has(monitor.id)) throw new RangeError(`duplicate monitor id ${monitor.id}`);
    ids.add(monitor.id);
    if (!(Number.isSafeInteger(monitor.segments) && monitor.segments >= 1)) {
      throw new RangeError(`segments of ${monitor.id} must be a positive integer, got ${monitor.segments}`);
    }
    const w = monitor.weight ?? 1;
    if (!(w > 0 && Number.isFinite(w))) throw new RangeError(`weight of ${monitor.id} must be > 0, got ${w}`);
    weights.push(w);
    totalWeight += w * monitor.segments;
    total += monitor.segments;
  }
  return { weights, totalWeight, total };
}

/** Split a per-run family-wise false-alarm probability over monitors × segments (batch tests). */
export function splitBatchBudget(
  familyAlpha: number,
  monitors: readonly BudgetMonitor[],
  method: BatchSplitMethod = 'bonferroni',
): BatchBudget {
  if (!(familyAlpha > 0 && familyAlpha < 1))
    throw new RangeError(`family alpha must be in (0, 1), got ${familyAlpha}`);
  const { weights, totalWeight, total } = checkedMonitors(monitors);
  const allocations = monitors.map((monitor, i) => {
    const share = weights[i] / totalWeight;
    const alphaPerTest =
      method === 'bonferroni' ? familyAlpha * share : -Math.expm1(share * Math.log1p(-familyAlpha));
    return { id: monitor.id, segments: monitor.segments, alphaPerTest };
  });
  let sum = 0;
  let logNone = 0;
  for (const a of allocations) {
    sum += a.segments * a.alphaPerTest;
    logNone += a.segments * Math.log1p(-a.alphaPerTest);
  }
  return {
    familyAlpha,
    method,
    totalTests: total,
    allocations,
    achievedFamilyAlpha: method === 'bonferroni' ? sum : -Math.expm1(logNone),
  };
}

/** Split a family in-control ARL0 over monitors × segments (sequential charts). */
export function splitArlBudget(
  familyArl0: number,
  monitors: readonly BudgetMonitor[],
  method: ArlSplitMethod = 'rate',
): ArlBudget {
  if (!(familyArl0 > 1 && Number.isFinite(familyArl0))) {
    throw new RangeError(`family ARL0 must be a finite number > 1, got ${familyArl0}`);
  }
  const { weights, totalWeight, total } = checkedMonitors(monitors);
  const allocations = monitors.map((monitor, i) => {
    const share = weights[i] / totalWeight;
    const arl0PerChart =
      method === 'rate' ? familyArl0 / share : -1 / Math.expm1(share * Math.log1p(-1 / familyArl0));
    return { id: monitor.id, segments: monitor.segments, arl0PerChart };
  });
  let hazard = 0;
  let logNone = 0;
  for (const a of allocations) {
    hazard += a.segments / a.arl0PerChart;
    logNone += a.segments * Math.log1p(-1 / a.arl0PerChart);
  }
  return {
    familyArl0,
    method,
    totalCharts: total,
    allocations,
    achievedFamilyArl0: method === 'rate' ? 1 / hazard : -1 / Math.expm1(logNone),
  };
}

/** In-control ARL (in evaluation runs) of a batch test evaluated at level α on non-overlapping windows: 1/α. */
export function batchTestArl0(alphaPerRun: number): number {
  if (!(alphaPerRun > 0 && alphaPerRun <= 1))
    throw new RangeError(`alpha must be in (0, 1], got ${alphaPerRun}`);
  return 1 / alphaPerRun;
}
