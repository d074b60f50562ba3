/**
 * The pure part of a drift evaluation (no Nest, no I/O): given a reference summary, a segment's current-window
 * aggregates (computed in SQL) or its labelled-vessel stream, and the monitor's share of the false-alarm budget, decide
 * whether the monitor alarms and say why. Every formula lives in src/stats (drift.ts, drift-statistics.ts, poisson.ts,
 * control-charts.ts, drift-budget.ts); this file only chooses which one applies and records the evidence.
 */
import {
  estimatedBaselineBernoulliDesign,
  estimatedBaselineCusumDesign,
  estimatedBaselineEwmaDesign,
} from '../stats/chart-calibration';
import {
  cusumArl,
  ewmaArl,
  ewmaAsymptoticLimit,
  runBernoulliCusum,
  runCusum,
  runEwma,
  type ChartSignal,
} from '../stats/control-charts';
import {
  binCounts,
  alignCategories,
  countsDriftTest,
  DEFAULT_BINS,
  DEFAULT_PSI_SMOOTHING,
  jensenShannonFromCounts,
  proportionShift,
  psiFromCounts,
  quantileBinsSorted,
  sortedSample,
  splitArlBudget,
  splitBatchBudget,
  type ArlBudget,
  type BatchBudget,
  type DriftTestResult,
} from '../stats/drift';
import { midRankScores, runGroupedCusum, scoreGroup } from '../stats/location-cusum';
import { conditionalPoissonRateTest } from '../stats/poisson';
import { rankSumFromCounts } from '../stats/rank-sum';
import {
  CATEGORICAL_FEATURES,
  DEVICE_ERROR_KINDS,
  DriftConfiguration,
  isChartMonitor,
  isLabelledChartMonitor,
  monitorSegments,
  NUMERIC_FEATURE_NAMES,
  sequentialHorizon,
  type BatchMonitor,
  type LabelledChartMonitor,
  type LocationCusumMonitor,
  type MonitorConfig,
  type NumericFeature,
  type SegmentKind,
} from './drift-config';

export const REFERENCE_SUMMARY_SCHEMA = 'fieldwatch.drift-reference/1';
/** Numeric features are binned on this many reference quantiles (deciles), frozen with the reference. */
export const REFERENCE_BINS = DEFAULT_BINS;
/** Upper bound of permutations of a fallback resampling test (keeps one test under about a second). */
export const MAX_PERMUTATIONS = 99_999;

export interface NumericReference {
  /** Non-missing values. */
  readonly n: number;
  /** Distinct interior cut points, ascending; bins (−∞, e1], (e1, e2], …, (ek, ∞). */
  readonly edges: readonly number[];
  readonly counts: readonly number[];
}

export interface ResidualBaseline {
  /** Labelled vessels. */
  readonly n: number;
  readonly meanResidual: number;
  /** SD with n − 1 in the denominator. */
  readonly sdResidual: number;
  readonly meanAbsoluteError: number;
  readonly sdAbsoluteError: number;
  /** Vessels whose CT-FFR and invasive FFR fall on opposite sides of the threshold. */
  readonly discordant: number;
  /**
   * Shape of the residual (standardised fourth moment) and mean, SD and kurtosis of √|residual|, the near-normal
   * statistic the |error| chart monitors (src/stats/chart-calibration.ts). Absent in summaries frozen before they
   * were recorded: the charts then assume κ = 3 and monitor |residual| itself.
   */
  readonly kurtosisResidual?: number;
  readonly meanRootAbsoluteError?: number;
  readonly sdRootAbsoluteError?: number;
  readonly kurtosisRootAbsoluteError?: number;
}

/**
 * Kurtosis m4/m2² from raw moments E[x], E[x²], E[x³], E[x⁴] (population moments; what SQL aggregates give). Returns
 * 3 (normal) when the spread is zero.
 */
export function kurtosisFromRawMoments(e1: number, e2: number, e3: number, e4: number): number {
  const m2 = e2 - e1 * e1;
  const m4 = e4 - 4 * e1 * e3 + 6 * e1 * e1 * e2 - 3 * e1 ** 4;
  return m2 > 0 ? Math.max(1, m4 / (m2 * m2)) : 3;
}

/** What a reference window contributes to every monitor, computed once and frozen. */
export interface ReferenceSummary {
  readonly schema: typeof REFERENCE_SUMMARY_SCHEMA;
  readonly threshold: number;
  readonly analyses: number;
  readonly rejected: number;
  readonly failed: number;
  readonly numeric: Readonly<Record<NumericFeature, NumericReference | null>>;
  readonly categorical: {
    readonly sex: Readonly<Record<string, number>>;
    readonly scannerVendor: Readonly<Record<string, number>>;
  };
  readonly vessels: number;
  readonly vesselsAtOrBelow: number;
  /** Device error events by kind over the reference's analyses; null when the reference holds none (a dataset). */
  readonly deviceErrors: {
    readonly byKind: Readonly<Record<string, number>>;
    readonly analyses: number;
  } | null;
  readonly residuals: ResidualBaseline | null;
  /**
   * Period references only: the same quantities per segment of the reference period (`overall:*`, `site:<code>`,
   * `scannerVendor:<name>`, `modelVersion:<v>`), counted on the pooled reference's bin edges. Sites and scanners differ
   * in case mix by nature; a segment is compared with its own reference period when it has one, so what alarms is a
   * change, not a difference between sites.
   */
  readonly segments?: Readonly<Record<string, SegmentReference>>;
}

/**
 * A reference summary from the reference's totals and its parts: one constructor for the stored references
 * (reference-windows.service.ts) and the drift scenarios' in-memory ones, so the two cannot drift apart.
 */
export function referenceSummaryOf(
  total: {
    readonly analyses: number;
    readonly rejected: number;
    readonly failed: number;
    readonly sex: Readonly<Record<string, number>>;
    readonly scannerVendor: Readonly<Record<string, number>>;
    readonly vessels: number;
    readonly vesselsAtOrBelow: number;
  },
  parts: Pick<ReferenceSummary, 'threshold' | 'numeric' | 'deviceErrors' | 'residuals' | 'segments'>,
): ReferenceSummary {
  return {
    schema: REFERENCE_SUMMARY_SCHEMA,
    threshold: parts.threshold,
    analyses: total.analyses,
    rejected: total.rejected,
    failed: total.failed,
    numeric: parts.numeric,
    categorical: { sex: total.sex, scannerVendor: total.scannerVendor },
    vessels: total.vessels,
    vesselsAtOrBelow: total.vesselsAtOrBelow,
    deviceErrors: parts.deviceErrors,
    residuals: parts.residuals,
    segments: parts.segments,
  };
}

/** A segment's own reference quantities (bins are the pooled reference's edges). */
export interface SegmentReference {
  readonly analyses: number;
  readonly rejected: number;
  readonly failed: number;
  /** Counts per numeric feature on the pooled edges. */
  readonly numericCounts: Readonly<Partial<Record<NumericFeature, readonly number[]>>>;
  readonly sex: Readonly<Record<string, number>>;
  readonly scannerVendor: Readonly<Record<string, number>>;
  readonly vessels: number;
  readonly vesselsAtOrBelow: number;
  readonly deviceErrorsByKind: Readonly<Record<string, number>>;
  readonly residuals: ResidualBaseline | null;
}

/**
 * Smallest labelled reference a segment needs for its own chart baseline. The charts' designs account for the
 * estimation error of a small baseline (src/stats/chart-calibration.ts: a larger h), whereas the pooled baseline at a
 * site carries the site's own offset (site effects, ctffr-evidence.md §4.4) as a permanent shift no design covers; so
 * a segment uses its own baseline from 50 labelled vessels (below that h would exceed what the integral equation
 * resolves), else the pooled one.
 */
export const MIN_SEGMENT_BASELINE = 50;

/**
 * The reference a segment is compared with: its own reference-period quantities when the reference has them and the
 * segment's reference holds at least `minimumBatch` analyses (batch) / MIN_SEGMENT_BASELINE labelled vessels
 * (charts); otherwise the pooled reference. Returns which was used, for the evidence.
 */
export function referenceForSegment(
  summary: ReferenceSummary,
  segment: SegmentRef,
  minimumBatch: number,
): { summary: ReferenceSummary; scope: 'segment' | 'pooled'; residualScope: 'segment' | 'pooled' } {
  const own = summary.segments?.[segmentId(segment)];
  if (!own || segment.kind === 'overall' || own.analyses < minimumBatch) {
    return { summary, scope: 'pooled', residualScope: 'pooled' };
  }
  const numeric = {} as Record<NumericFeature, NumericReference | null>;
  for (const feature of NUMERIC_FEATURE_NAMES) {
    const pooled = summary.numeric[feature];
    const counts = own.numericCounts[feature];
    const n = counts ? counts.reduce((a, b) => a + b, 0) : 0;
    numeric[feature] = pooled && counts && n > 0 ? { n, edges: pooled.edges, counts } : null;
  }
  const ownBaseline = own.residuals !== null && own.residuals.n >= MIN_SEGMENT_BASELINE;
  const residuals = ownBaseline ? own.residuals : summary.residuals;
  return {
    scope: 'segment',
    residualScope: ownBaseline ? 'segment' : 'pooled',
    summary: {
      schema: summary.schema,
      threshold: summary.threshold,
      analyses: own.analyses,
      rejected: own.rejected,
      failed: own.failed,
      numeric,
      categorical: { sex: own.sex, scannerVendor: own.scannerVendor },
      vessels: own.vessels,
      vesselsAtOrBelow: own.vesselsAtOrBelow,
      deviceErrors: summary.deviceErrors ? { byKind: own.deviceErrorsByKind, analyses: own.analyses } : null,
      residuals,
    },
  };
}

/** Current-window aggregates of one segment (sums over its cells). */
export interface SegmentAggregates {
  readonly analyses: number;
  readonly rejected: number;
  readonly failed: number;
  /** Bin counts on the reference's edges, per numeric feature. */
  readonly numeric: Readonly<Partial<Record<NumericFeature, readonly number[]>>>;
  readonly sex: Readonly<Record<string, number>>;
  readonly scannerVendor: Readonly<Record<string, number>>;
  readonly vessels: number;
  readonly vesselsAtOrBelow: number;
  readonly deviceErrorsByKind: Readonly<Record<string, number>>;
}

/** One labelled vessel of a segment's stream, in CTA-date order. */
export interface LabelledVessel {
  /** UTC day of the CT angiography (YYYY-MM-DD). */
  readonly day: string;
  readonly residual: number;
  readonly discordant: boolean;
}

export interface MonitorOutcome {
  readonly estimable: boolean;
  readonly alarm: boolean;
  readonly statistic: number | null;
  readonly threshold: number | null;
  readonly pValue: number | null;
  readonly nReference: number | null;
  readonly nCurrent: number | null;
  /** Everything needed to re-derive the decision (method, conventions, design, effect sizes, sizes). */
  readonly evidence: Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------------------------------
// Reference summaries
// ---------------------------------------------------------------------------------------------------------------------

/** One row of a reference dataset as validated (reference-csv.ts): one vessel, or an analysis without vessels. */
export interface ReferenceRow {
  readonly caseId: string;
  readonly status: 'completed' | 'rejected' | 'failed';
  readonly vessel: string | null;
  readonly ctFfr: number | null;
  readonly invasiveFfr: number | null;
  readonly heartRate: number | null;
  readonly sliceThickness: number | null;
  readonly tubeVoltage: number | null;
  readonly agatston: number | null;
  readonly bmi: number | null;
  readonly age: number | null;
  readonly imageQuality: number | null;
  readonly processingTime: number | null;
  readonly sex: string | null;
  readonly scannerVendor: string | null;
}

/** Bins and counts of a numeric reference sample (reference deciles, drift-statistics.ts conventions). */
export function numericReference(values: readonly number[], bins = REFERENCE_BINS): NumericReference | null {
  if (values.length === 0) return null;
  const sorted = sortedSample(values, 'reference');
  const binning = quantileBinsSorted(sorted, bins);
  return { n: values.length, edges: binning.edges, counts: binCounts(sorted, binning) };
}

/** Mean and SD (n − 1) of residuals and absolute errors, and the discordant count. */
export function residualBaseline(
  pairs: ReadonlyArray<{ ctFfr: number; invasiveFfr: number }>,
  threshold: number,
): ResidualBaseline | null {
  const n = pairs.length;
  if (n < 2) return null;
  let sr = 0;
  let sa = 0;
  let discordant = 0;
  for (const p of pairs) {
    const r = p.ctFfr - p.invasiveFfr;
    sr += r;
    sa += Math.abs(r);
    if (p.ctFfr <= threshold !== p.invasiveFfr <= threshold) discordant++;
  }
  const mr = sr / n;
  const ma = sa / n;
  const moments = { r: [0, 0, 0, 0], root: [0, 0, 0, 0] };
  let vr = 0;
  let va = 0;
  for (const p of pairs) {
    const r = p.ctFfr - p.invasiveFfr;
    vr += (r - mr) ** 2;
    va += (Math.abs(r) - ma) ** 2;
    const root = Math.sqrt(Math.abs(r));
    for (let k = 0; k < 4; k++) {
      moments.r[k] += r ** (k + 1) / n;
      moments.root[k] += root ** (k + 1) / n;
    }
  }
  const [r1, r2, r3, r4] = moments.r;
  const [q1, q2, q3, q4] = moments.root;
  return {
    n,
    meanResidual: mr,
    sdResidual: Math.sqrt(vr / (n - 1)),
    meanAbsoluteError: ma,
    sdAbsoluteError: Math.sqrt(va / (n - 1)),
    discordant,
    kurtosisResidual: kurtosisFromRawMoments(r1, r2, r3, r4),
    meanRootAbsoluteError: q1,
    sdRootAbsoluteError: Math.sqrt((Math.max(0, q2 - q1 * q1) * n) / (n - 1)),
    kurtosisRootAbsoluteError: kurtosisFromRawMoments(q1, q2, q3, q4),
  };
}

/**
 * Summary of an imported dataset. Analysis-level fields count once per case (the first row of the case; the CSV
 * validation has checked that the case's rows agree), vessel-level fields once per row.
 */
export function summarizeReferenceRows(rows: readonly ReferenceRow[], threshold: number): ReferenceSummary {
  const firstOfCase = new Map<string, ReferenceRow>();
  for (const row of rows) if (!firstOfCase.has(row.caseId)) firstOfCase.set(row.caseId, row);
  const cases = [...firstOfCase.values()];
  const numeric = {} as Record<NumericFeature, NumericReference | null>;
  for (const feature of NUMERIC_FEATURE_NAMES) {
    const source = feature === 'ctFfr' ? rows : cases;
    const values: number[] = [];
    for (const row of source) {
      const v = row[feature];
      if (v !== null) values.push(v);
    }
    numeric[feature] = numericReference(values);
  }
  const tally = (pick: (row: ReferenceRow) => string | null): Record<string, number> => {
    const counts: Record<string, number> = {};
    for (const row of cases) {
      const v = pick(row);
      if (v !== null) counts[v] = (counts[v] ?? 0) + 1;
    }
    return counts;
  };
  const vesselRows = rows.filter((r) => r.ctFfr !== null);
  const labelled = vesselRows
    .filter((r) => r.invasiveFfr !== null)
    .map((r) => ({ ctFfr: r.ctFfr as number, invasiveFfr: r.invasiveFfr as number }));
  return {
    schema: REFERENCE_SUMMARY_SCHEMA,
    threshold,
    analyses: cases.length,
    rejected: cases.filter((c) => c.status === 'rejected').length,
    failed: cases.filter((c) => c.status === 'failed').length,
    numeric,
    categorical: { sex: tally((r) => r.sex), scannerVendor: tally((r) => r.scannerVendor ?? 'unknown') },
    vessels: vesselRows.length,
    vesselsAtOrBelow: vesselRows.filter((r) => (r.ctFfr as number) <= threshold).length,
    deviceErrors: null,
    residuals: residualBaseline(labelled, threshold),
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// Budget
// ---------------------------------------------------------------------------------------------------------------------

export interface SegmentRef {
  readonly kind: SegmentKind;
  /** Site code, vendor name, model version, or '*' for overall. */
  readonly key: string;
}

export const segmentId = (s: SegmentRef): string => `${s.kind}:${s.key}`;

/** The batch budget split over the (monitor, segment) pairs that are actually tested this run. */
export function batchBudget(
  configuration: DriftConfiguration,
  tested: ReadonlyMap<string, number>,
): BatchBudget | null {
  const monitors = configuration.monitors
    .filter((m) => !isChartMonitor(m) && (tested.get(m.id) ?? 0) > 0)
    .map((m) => ({ id: m.id, segments: tested.get(m.id) as number, weight: m.weight }));
  if (monitors.length === 0) return null;
  return splitBatchBudget(configuration.batch.familyAlpha, monitors, configuration.batch.split);
}

/**
 * The (chart monitor, segment) pairs the sequential budget is split over: every segment the reference holds a
 * labelled baseline for (the charts that will run over the horizon — counted from the first evaluation, so the split
 * and each chart's design do not change while the streams grow past the minimum), plus every segment new since the
 * reference (a scanner vendor or model version) whose stream has reached the minimum. The drift service and the
 * drift scenarios both count with this.
 */
export function chartedPairs(
  configuration: DriftConfiguration,
  reference: ReferenceSummary | null,
  streams: Iterable<{ readonly segment: SegmentRef; readonly length: number }>,
  outputStreams: Iterable<{ readonly segment: SegmentRef; readonly vessels: number }> = [],
): Map<string, number> {
  const parse = (id: string): SegmentRef => {
    const i = id.indexOf(':');
    return { kind: id.slice(0, i) as SegmentKind, key: id.slice(i + 1) };
  };
  const segments = new Map<string, SegmentRef>();
  // Output location charts: every segment whose reference holds CT-FFR values, plus new segments with enough
  // vessels; they need the reference's labelled vessels as the budget's clock (outputChartShare).
  const outputs = new Map<string, SegmentRef>();
  if (reference?.residuals) {
    segments.set('overall:*', { kind: 'overall', key: '*' });
    for (const [id, own] of Object.entries(reference.segments ?? {})) {
      if (own.residuals) segments.set(id, parse(id));
    }
    if (reference.numeric.ctFfr) {
      outputs.set('overall:*', { kind: 'overall', key: '*' });
      for (const id of Object.keys(reference.segments ?? {})) {
        const segment = parse(id);
        if (locationChartApplies(reference, segment, configuration.minimumWindow.batch))
          outputs.set(id, segment);
      }
    }
  }
  for (const { segment, length } of streams) {
    if (length >= configuration.minimumWindow.chart) segments.set(segmentId(segment), segment);
  }
  if (reference?.residuals) {
    for (const { segment, vessels } of outputStreams) {
      if (
        vessels >= configuration.minimumWindow.chart &&
        locationChartApplies(reference, segment, configuration.minimumWindow.batch)
      )
        outputs.set(segmentId(segment), segment);
    }
  }
  const charted = new Map<string, number>();
  for (const segment of segments.values()) {
    for (const m of monitorsFor(configuration, segment.kind).charts)
      charted.set(m.id, (charted.get(m.id) ?? 0) + 1);
  }
  for (const segment of outputs.values()) {
    for (const m of monitorsFor(configuration, segment.kind).outputCharts)
      charted.set(m.id, (charted.get(m.id) ?? 0) + 1);
  }
  return charted;
}

/** The sequential budget split over the (chart, segment) pairs of `chartedPairs` (common clock). */
export function chartBudget(
  configuration: DriftConfiguration,
  charted: ReadonlyMap<string, number>,
): ArlBudget | null {
  const monitors = configuration.monitors
    .filter((m) => isChartMonitor(m) && (charted.get(m.id) ?? 0) > 0)
    .map((m) => ({ id: m.id, segments: charted.get(m.id) as number, weight: m.weight }));
  if (monitors.length === 0) return null;
  return splitArlBudget(configuration.sequential.familyArl0, monitors, configuration.sequential.split);
}

/** Permutations of a resampling test at level α: at least `configured`, and enough that α·(P + 1) ≥ 5. */
export function permutationsFor(alpha: number, configured: number): number {
  return Math.min(MAX_PERMUTATIONS, Math.max(configured, Math.ceil(5 / alpha) - 1));
}

// ---------------------------------------------------------------------------------------------------------------------
// Batch monitors
// ---------------------------------------------------------------------------------------------------------------------

/** An outcome that is not estimable, with why (`reason`) and its evidence. */
export const notEstimable = (reason: string, evidence: Record<string, unknown> = {}): MonitorOutcome => ({
  estimable: false,
  alarm: false,
  statistic: null,
  threshold: null,
  pValue: null,
  nReference: null,
  nCurrent: null,
  evidence: { reason, ...evidence },
});

function fromDriftTest(result: DriftTestResult, extra: Record<string, unknown>): MonitorOutcome {
  if (!result.estimable) {
    return {
      ...notEstimable(result.reason, { detail: result.detail, ...extra }),
      nReference: result.n.reference,
      nCurrent: result.n.current,
    };
  }
  return {
    estimable: true,
    alarm: result.alarm,
    statistic: result.statistic,
    threshold: result.threshold,
    pValue: result.pValue,
    nReference: result.n.reference,
    nCurrent: result.n.current,
    evidence: {
      test: result.name,
      rule: result.rule,
      alpha: result.alpha,
      method: result.method,
      df: result.df,
      resampling: result.resampling,
      conventions: result.conventions,
      ...extra,
    },
  };
}

/** Cochran's rule for the χ² approximation: every cell's expected count at least this. */
export const MIN_EXPECTED_COUNT = 5;

export interface MergedCells {
  readonly reference: number[];
  readonly current: number[];
  /** For each merged cell, the indices of the original cells it holds. */
  readonly groups: number[][];
}

/**
 * Merges cells until each expected count under the reference, m·p_i (m = current size), is ≥ MIN_EXPECTED_COUNT —
 * decided from the reference proportions and the window size only, never from the current counts, so the merged test
 * keeps its level. `ordered` (numeric bins): adjacent cells merge left to right, a short remainder joins the last
 * cell. Unordered (categories): cells the reference has but that are too rare pool into one cell; a category absent
 * from the reference is never pooled (its appearance — a new scanner vendor — is the signal).
 */
export function mergeSparseCells(
  reference: readonly number[],
  current: readonly number[],
  ordered: boolean,
): MergedCells {
  const n = sum(reference);
  const m = sum(current);
  const expected = reference.map((c) => (m * c) / n);
  const groups: number[][] = [];
  if (ordered) {
    let open: number[] = [];
    let acc = 0;
    for (let i = 0; i < reference.length; i++) {
      open.push(i);
      acc += expected[i];
      if (acc >= MIN_EXPECTED_COUNT) {
        groups.push(open);
        open = [];
        acc = 0;
      }
    }
    if (open.length) {
      if (groups.length) groups[groups.length - 1].push(...open);
      else groups.push(open);
    }
  } else {
    const rare: number[] = [];
    for (let i = 0; i < reference.length; i++) {
      if (reference[i] > 0 && expected[i] < MIN_EXPECTED_COUNT) rare.push(i);
      else groups.push([i]);
    }
    if (rare.length) groups.push(rare);
  }
  return {
    reference: groups.map((g) => g.reduce((s, i) => s + reference[i], 0)),
    current: groups.map((g) => g.reduce((s, i) => s + current[i], 0)),
    groups,
  };
}

interface CountsTestInput {
  readonly statistic: 'chiSquare' | 'psi' | 'jensenShannon';
  readonly alpha: number;
  readonly permutations: number;
  readonly seed: number;
  readonly ordered: boolean;
}

/**
 * χ² homogeneity on the counts, asymptotic; when a cell's expected count is below 5 the cells are merged first
 * (mergeSparseCells) so the χ² approximation holds — a permutation test at the family's tiny per-test α would need
 * ~5/α resamples per test. PSI and JS (configured as the test statistic) are calibrated by permutation at the
 * window's sizes, on the unmerged bins, with enough permutations for α (permutationsFor).
 */
function countsTest(
  reference: readonly number[],
  current: readonly number[],
  input: CountsTestInput,
): { result: DriftTestResult; merged: MergedCells | null } {
  if (input.statistic !== 'chiSquare') {
    return {
      result: countsDriftTest(reference, current, {
        statistic: input.statistic,
        alpha: input.alpha,
        calibration: 'permutation',
        permutations: permutationsFor(input.alpha, input.permutations),
        seed: input.seed,
      }),
      merged: null,
    };
  }
  const options = { statistic: 'chiSquare' as const, alpha: input.alpha, calibration: 'asymptotic' as const };
  const direct = countsDriftTest(reference, current, options);
  if (!direct.estimable || (direct.conventions.minExpected ?? 0) >= MIN_EXPECTED_COUNT) {
    return { result: direct, merged: null };
  }
  const merged = mergeSparseCells(reference, current, input.ordered);
  if (merged.groups.length < 2) {
    return {
      result: {
        estimable: false,
        reason: 'cannot-reach-alpha',
        detail: 'the window is too small for even two cells with an expected count of 5',
        n: direct.n,
      },
      merged,
    };
  }
  return { result: countsDriftTest(merged.reference, merged.current, options), merged };
}

function sum(values: Iterable<number>): number {
  let s = 0;
  for (const v of values) s += v;
  return s;
}

export interface BatchContext {
  readonly alpha: number;
  readonly permutations: number;
  readonly seed: number;
  readonly minimumWindow: number;
}

/** One batch monitor on one segment. */
export function evaluateBatchMonitor(
  monitor: BatchMonitor,
  reference: ReferenceSummary,
  current: SegmentAggregates,
  context: BatchContext,
): MonitorOutcome {
  const { alpha, minimumWindow } = context;
  switch (monitor.kind) {
    case 'distribution': {
      const ref = reference.numeric[monitor.feature];
      if (!ref) return notEstimable('reference-has-no-values', { feature: monitor.feature });
      const cur = current.numeric[monitor.feature] ?? new Array<number>(ref.counts.length).fill(0);
      const m = sum(cur);
      if (m < minimumWindow) {
        return { ...notEstimable('window-too-small', { minimumWindow }), nReference: ref.n, nCurrent: m };
      }
      if (monitor.statistic === 'rankSum') {
        const rank = rankSumFromCounts(ref.counts, cur);
        return {
          estimable: true,
          alarm: rank.pValue <= alpha,
          statistic: rank.z,
          threshold: null,
          pValue: rank.pValue,
          nReference: ref.n,
          nCurrent: m,
          evidence: {
            test: 'Wilcoxon–Mann–Whitney rank sum on the reference bins (bins as ties, tie-corrected, two-sided)',
            source: 'src/stats/rank-sum.ts',
            alpha,
            rule: 'p ≤ α',
            feature: monitor.feature,
            rankSum: rank.rankSum,
            z: rank.z,
            probabilityOfSuperiority: rank.probabilityOfSuperiority,
            binning: {
              kind: 'reference quantiles (type 7), right-closed',
              requested: REFERENCE_BINS,
              edges: ref.edges,
            },
            referenceCounts: ref.counts,
            currentCounts: cur,
          },
        };
      }
      const { result, merged } = countsTest(ref.counts, cur, {
        statistic: monitor.statistic ?? 'chiSquare',
        alpha,
        permutations: context.permutations,
        seed: context.seed,
        ordered: true,
      });
      return fromDriftTest(result, {
        feature: monitor.feature,
        mergedBins: merged?.groups,
        binning: {
          kind: 'reference quantiles (type 7), right-closed',
          requested: REFERENCE_BINS,
          edges: ref.edges,
        },
        referenceCounts: ref.counts,
        currentCounts: cur,
        effectSizes: {
          psi: psiFromCounts(ref.counts, cur, DEFAULT_PSI_SMOOTHING),
          psiSmoothing: DEFAULT_PSI_SMOOTHING,
          jensenShannon: jensenShannonFromCounts(ref.counts, cur, 'e'),
          jensenShannonLogBase: 'e',
        },
      });
    }
    case 'categorical': {
      const ref = reference.categorical[monitor.feature];
      const cur = current[monitor.feature];
      const n = sum(Object.values(ref));
      const m = sum(Object.values(cur));
      if (n === 0) return notEstimable('reference-has-no-values', { feature: monitor.feature });
      if (m < minimumWindow) {
        return { ...notEstimable('window-too-small', { minimumWindow }), nReference: n, nCurrent: m };
      }
      const aligned = alignCategories(ref, cur);
      const { result, merged } = countsTest(aligned.reference, aligned.current, {
        statistic: 'chiSquare',
        alpha,
        permutations: context.permutations,
        seed: context.seed,
        ordered: false,
      });
      return fromDriftTest(result, {
        feature: monitor.feature,
        declaredCategories: CATEGORICAL_FEATURES[monitor.feature].values,
        categories: aligned.categories,
        mergedCategories: merged?.groups.map((g) => g.map((i) => aligned.categories[i])),
        referenceCounts: ref,
        currentCounts: cur,
      });
    }
    case 'proportion': {
      const [refCount, curCount] =
        monitor.event === 'ctFfrAtOrBelowThreshold'
          ? [
              { successes: reference.vesselsAtOrBelow, trials: reference.vessels },
              { successes: current.vesselsAtOrBelow, trials: current.vessels },
            ]
          : monitor.event === 'rejected'
            ? [
                { successes: reference.rejected, trials: reference.analyses },
                { successes: current.rejected, trials: current.analyses },
              ]
            : [
                { successes: reference.failed, trials: reference.analyses },
                { successes: current.failed, trials: current.analyses },
              ];
      if (refCount.trials === 0) return notEstimable('reference-has-no-values', { event: monitor.event });
      if (curCount.trials < minimumWindow) {
        return {
          ...notEstimable('window-too-small', { minimumWindow }),
          nReference: refCount.trials,
          nCurrent: curCount.trials,
        };
      }
      const result = proportionShift(refCount, curCount, {
        method: 'auto',
        alternative: monitor.alternative ?? 'two-sided',
      });
      return {
        estimable: true,
        alarm: result.pValue <= alpha,
        statistic: result.difference,
        threshold: null,
        pValue: result.pValue,
        nReference: refCount.trials,
        nCurrent: curCount.trials,
        evidence: {
          test: result.method === 'z' ? 'two-proportion z (pooled)' : 'Fisher exact',
          event: monitor.event,
          threshold: monitor.event === 'ctFfrAtOrBelowThreshold' ? reference.threshold : undefined,
          alpha,
          rule: 'p ≤ α',
          alternative: result.alternative,
          reference: result.reference,
          current: result.current,
          difference: result.difference,
          differenceCi95: result.differenceCi95,
          z: result.z,
          minExpected: result.minExpected,
        },
      };
    }
    case 'rate': {
      if (!reference.deviceErrors) {
        return notEstimable('reference-has-no-device-events', {
          detail: 'an imported dataset holds no device events; use a period reference for this monitor',
        });
      }
      const kinds = monitor.deviceEventKinds ?? DEVICE_ERROR_KINDS;
      const x0 = sum(kinds.map((k) => reference.deviceErrors?.byKind[k] ?? 0));
      const e0 = reference.deviceErrors.analyses;
      const x1 = sum(kinds.map((k) => current.deviceErrorsByKind[k] ?? 0));
      const e1 = current.analyses;
      if (e0 === 0) return notEstimable('reference-has-no-values', { event: monitor.event });
      if (e1 < minimumWindow) {
        return { ...notEstimable('window-too-small', { minimumWindow }), nReference: e0, nCurrent: e1 };
      }
      if (x0 + x1 === 0) {
        return {
          estimable: true,
          alarm: false,
          statistic: 0,
          threshold: null,
          pValue: 1,
          nReference: e0,
          nCurrent: e1,
          evidence: {
            test: 'exact conditional Poisson (one-sided increase)',
            kinds,
            events: { reference: 0, current: 0 },
          },
        };
      }
      const result = conditionalPoissonRateTest(x1, e1, x0, e0);
      return {
        estimable: true,
        alarm: result.pValue <= alpha,
        statistic: Number.isFinite(result.rateRatio) ? result.rateRatio : null,
        threshold: null,
        pValue: result.pValue,
        nReference: e0,
        nCurrent: e1,
        evidence: {
          test: 'exact conditional Poisson (one-sided increase)',
          alpha,
          rule: 'p ≤ α',
          kinds,
          events: { reference: x0, current: x1 },
          exposure: { unit: 'analyses', reference: e0, current: e1 },
          ratePer1000: { reference: (1000 * x0) / e0, current: (1000 * x1) / e1 },
          rateRatio: Number.isFinite(result.rateRatio) ? result.rateRatio : 'infinite',
        },
      };
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Sequential charts
// ---------------------------------------------------------------------------------------------------------------------

export interface ChartContext {
  /** In-control ARL0 in this chart's own observations (labelled vessels of its segment). */
  readonly arl0: number;
  /** ARL0 in the pooled stream's clock, before conversion by the segment's share. */
  readonly arl0CommonClock: number;
  readonly share: number;
  /** Own observations over which the false-alarm contract is stated (the configuration's horizon × share). */
  readonly horizon: number;
  /** Alarm on signals at observations on or after this day (the current window). */
  readonly windowFromDay: string;
  /** Signals on or before this day belong to an alert already resolved: they do not alarm again. */
  readonly suppressThroughDay: string | null;
  readonly minimumWindow: number;
}

/**
 * A chart segment's share of the pooled labelled stream: its reference's share of the reference's labelled vessels
 * when the reference has the segment (a stable, expected share: the design stays the same from run to run), else its
 * share of the stream so far (a segment new since the reference, e.g. a new scanner vendor or model version).
 */
export function chartShare(
  reference: ReferenceSummary,
  segment: SegmentRef,
  streamLength: number,
  pooledLength: number,
): number {
  if (segment.kind === 'overall') return 1;
  const own = reference.segments?.[segmentId(segment)]?.residuals;
  const pooled = reference.residuals;
  if (own && pooled && pooled.n > 0) return Math.min(1, own.n / pooled.n);
  return Math.min(1, streamLength / Math.max(1, pooledLength));
}

/**
 * A chart's place in the sequential budget (the one function the service and the drift scenarios use): its ARL0 on its
 * own clock (the allocation's common-clock ARL0 × share) and its horizon (configuration.sequential.horizon × share).
 * The share is rounded up to a grid of ratio 2^(1/4) (at most +19%): ARL0 and horizon scale together, so the
 * false-alarm probability the chart is held to is unchanged, the horizon is only lengthened (conservative,
 * chart-calibration.ts), and charts of segments with similar shares share one design.
 */
export function chartAllocation(
  configuration: DriftConfiguration,
  budget: ArlBudget | null,
  monitorId: string,
  exactShare: number,
  capShareAtOne = true,
): Pick<ChartContext, 'arl0' | 'arl0CommonClock' | 'share' | 'horizon'> {
  const allocation = budget?.allocations.find((a) => a.id === monitorId);
  // Rounded up to the same grid (conservative: a smaller false-alarm probability), so that a segment appearing
  // mid-horizon (a new model version) changes few designs.
  const arl0CommonClock = roundUpOnGrid(allocation?.arl0PerChart ?? configuration.sequential.familyArl0);
  const rounded = roundUpOnGrid(Math.max(exactShare, 1e-4));
  const share = capShareAtOne ? Math.min(1, rounded) : rounded;
  return {
    arl0: arl0CommonClock * share,
    arl0CommonClock,
    share,
    horizon: sequentialHorizon(configuration) * share,
  };
}

const GRID_STEP = Math.log(2) / 4;
/** x rounded up / down to the grid 2^(i/4). */
const roundUpOnGrid = (x: number): number => Math.exp(Math.ceil(Math.log(x) / GRID_STEP - 1e-9) * GRID_STEP);
const roundDownOnGrid = (x: number): number =>
  Math.exp(Math.floor(Math.log(x) / GRID_STEP + 1e-9) * GRID_STEP);

/** Designs are deterministic functions of their inputs; cache them for the charts that share inputs. */
const designCache = new Map<string, unknown>();
function cached<T>(key: string, make: () => T): T {
  const hit = designCache.get(key);
  if (hit !== undefined) return hit as T;
  const value = make();
  if (designCache.size > 5000) designCache.clear();
  designCache.set(key, value);
  return value;
}

/** Smallest own-clock ARL0 a chart is designed for: below it the chart would alarm on noise within days. */
export const MIN_CHART_ARL0 = 20;

/**
 * The design inputs a chart uses, rounded so that charts of similar segments share one design and every rounding
 * errs on the safe side (chart-calibration.ts): the reference size down to the grid 2^(i/4), the kurtosis up to a
 * multiple of 0.25, the discordance rate p0 up to a multiple of 0.005 (the chart runs with that p0).
 */
export function designInputs(referenceSize: number, kurtosis: number): { n: number; kurtosis: number } {
  return { n: roundDownOnGrid(referenceSize), kurtosis: Math.ceil(Math.max(3, kurtosis) * 4 - 1e-9) / 4 };
}
export const DISCORDANCE_GRID = 0.005;
/**
 * Lattice resolution of the discordance chart (control-charts.ts: the larger weight as P/Q units, Q ≤ resolution).
 * 5 instead of the library's 20: the chart that runs is still exactly the designed one, its weights within a few % of
 * the log-likelihood ratios (p0 0.15 → 0.25: 4/1 against 4.08), and the lattice is about 4 times coarser in each
 * direction, which makes the averaged design (exact ARLs at limits of thousands of units for several quadrature
 * rates) cheap enough to redo for every segment of every evaluation.
 */
export const DISCORDANCE_RESOLUTION = 5;

/** One chart monitor on one segment's labelled stream (CTA-date order). */
/** What each stream column holds of a labelled vessel. */
const STREAM_COLUMNS = {
  residual: (vessel: LabelledVessel) => vessel.residual,
  absoluteResidual: (vessel: LabelledVessel) => Math.abs(vessel.residual),
  rootAbsoluteResidual: (vessel: LabelledVessel) => Math.sqrt(Math.abs(vessel.residual)),
  discordant: (vessel: LabelledVessel) => (vessel.discordant ? 1 : 0),
} as const;
type StreamColumn = keyof typeof STREAM_COLUMNS;
const streamColumns = new WeakMap<readonly LabelledVessel[], Partial<Record<StreamColumn, Float64Array>>>();

/**
 * A stream's observations as one typed column, computed once per stream and shared by its charts (bias CUSUM and EWMA
 * read the same residuals): at 10M analyses a segment's stream holds up to 1.9M vessels, and an array per chart was
 * most of an evaluation's garbage.
 */
function streamColumn(stream: readonly LabelledVessel[], column: StreamColumn): Float64Array {
  let columns = streamColumns.get(stream);
  if (!columns) streamColumns.set(stream, (columns = {}));
  let values = columns[column];
  // A stream that grew since (a caller appending the next day's vessels) is read again.
  if (!values || values.length !== stream.length) {
    values = new Float64Array(stream.length);
    const valueOf = STREAM_COLUMNS[column];
    for (let i = 0; i < stream.length; i++) values[i] = valueOf(stream[i]);
    columns[column] = values;
  }
  return values;
}

export function evaluateChartMonitor(
  monitor: LabelledChartMonitor,
  reference: ReferenceSummary,
  stream: readonly LabelledVessel[],
  context: ChartContext,
): MonitorOutcome {
  const baseline = reference.residuals;
  if (!baseline) return notEstimable('reference-has-no-labelled-vessels');
  const n = stream.length;
  if (n < context.minimumWindow) {
    return {
      ...notEstimable('window-too-small', { minimumWindow: context.minimumWindow }),
      nReference: baseline.n,
      nCurrent: n,
    };
  }
  const clamped = context.arl0 < MIN_CHART_ARL0;
  const arl0 = Math.max(MIN_CHART_ARL0, context.arl0);
  const horizon = clamped ? context.horizon * (MIN_CHART_ARL0 / context.arl0) : context.horizon;
  const budget = {
    arl0Target: arl0,
    arl0CommonClock: context.arl0CommonClock,
    segmentShare: context.share,
    horizon,
    clampedToMinimum: clamped,
  };
  const inWindow = (signal: ChartSignal): boolean => {
    const day = stream[signal.index].day;
    return (
      day >= context.windowFromDay &&
      (context.suppressThroughDay === null || day > context.suppressThroughDay)
    );
  };
  const describe = (signals: readonly ChartSignal[]) => {
    const current = signals.filter(inWindow);
    const last = current[current.length - 1];
    return {
      current,
      summary: {
        total: signals.length,
        inWindow: current.length,
        first: current[0] ? { day: stream[current[0].index].day, ...current[0] } : null,
        last: last ? { day: stream[last.index].day, ...last } : null,
      },
    };
  };
  const firstDay = stream[0].day;
  const lastDay = stream[n - 1].day;
  const common = {
    observations: n,
    firstDay,
    lastDay,
    order: 'CTA date, then analysis, then vessel',
    budget,
  };
  const inputs = designInputs(baseline.n, 3);
  const estimation = {
    method: 'false-alarm probability within the horizon averaged over the estimates’ sampling error',
    source: 'src/stats/chart-calibration.ts',
    referenceLabelledVessels: baseline.n,
    designReferenceSize: inputs.n,
  };

  if (monitor.kind === 'bernoulliCusum') {
    const p0Estimate = baseline.discordant / baseline.n;
    const p0 = Math.ceil(p0Estimate / DISCORDANCE_GRID - 1e-9) * DISCORDANCE_GRID;
    if (!(p0 > 0 && p0 + monitor.shift < 1 && p0 + monitor.shift > 0)) {
      return notEstimable('reference-discordance-degenerate', { p0, shift: monitor.shift });
    }
    const p1 = p0 + monitor.shift;
    const calibrated = cached(`b:${p0}:${monitor.shift}:${arl0}:${horizon}:${inputs.n}`, () =>
      estimatedBaselineBernoulliDesign({
        p0,
        shift: monitor.shift,
        arl0,
        horizon,
        referenceSize: inputs.n,
        resolution: DISCORDANCE_RESOLUTION,
      }),
    );
    const design = calibrated.chart;
    const run = runBernoulliCusum(streamColumn(stream, 'discordant'), design, {
      afterSignal: 'reset',
      record: 'last',
    });
    const { current, summary } = describe(run.signals);
    const lastValue = run.statistic[run.statistic.length - 1];
    return {
      estimable: true,
      alarm: current.length > 0,
      statistic: current.length ? Math.max(...current.map((s) => s.statistic)) : lastValue,
      threshold: design.h,
      pValue: null,
      nReference: baseline.n,
      nCurrent: n,
      evidence: {
        chart: 'Bernoulli CUSUM (integer lattice)',
        event: 'discordance',
        threshold: reference.threshold,
        p0,
        p0Estimate,
        p1,
        design: {
          h: design.h,
          limit: design.limit,
          scale: design.scale,
          stepEvent: design.stepEvent,
          stepNonEvent: design.stepNonEvent,
          weights: design.weights,
          arl0AtEstimate: calibrated.arl0AtEstimates,
          falseAlarmProbability: {
            target: calibrated.targetProbability,
            achieved: calibrated.achievedProbability,
          },
        },
        estimation,
        observedDiscordance: sum(streamColumn(stream, 'discordant')) / n,
        lastStatistic: lastValue,
        signals: summary,
        ...common,
      },
    };
  }

  // The |error| chart monitors √|residual| (Hawkins 1981; chart-calibration.ts) when the reference recorded its
  // moments, else |residual| itself (summaries frozen before).
  const absolute = monitor.quantity === 'absoluteError';
  const rooted = absolute && baseline.meanRootAbsoluteError !== undefined;
  const mu0 = rooted
    ? baseline.meanRootAbsoluteError
    : absolute
      ? baseline.meanAbsoluteError
      : baseline.meanResidual;
  const sigma = rooted
    ? (baseline.sdRootAbsoluteError as number)
    : absolute
      ? baseline.sdAbsoluteError
      : baseline.sdResidual;
  const kurtosis = rooted
    ? (baseline.kurtosisRootAbsoluteError ?? 3)
    : absolute
      ? 3
      : (baseline.kurtosisResidual ?? 3);
  if (!(sigma > 0)) return notEstimable('reference-sd-zero');
  const values = streamColumn(
    stream,
    rooted ? 'rootAbsoluteResidual' : absolute ? 'absoluteResidual' : 'residual',
  );
  let mean = 0;
  for (const v of values) mean += v;
  mean /= n;
  const rounded = designInputs(baseline.n, kurtosis);
  const baselineRecord = {
    quantity: monitor.quantity,
    transform: rooted ? 'sqrt(|residual|) (Hawkins 1981)' : absolute ? '|residual|' : 'none',
    mu0,
    sigma,
    kurtosis,
    designKurtosis: rounded.kurtosis,
    referenceLabelledVessels: baseline.n,
  };

  if (monitor.kind === 'cusum') {
    const calibrated = cached(
      `c:${monitor.k}:${monitor.sided}:${arl0}:${horizon}:${rounded.n}:${rounded.kurtosis}`,
      () =>
        estimatedBaselineCusumDesign({
          k: monitor.k,
          sided: monitor.sided,
          arl0,
          horizon,
          referenceSize: rounded.n,
          kurtosis: rounded.kurtosis,
        }),
    );
    const design = { k: calibrated.k, h: calibrated.h, sided: calibrated.sided };
    const run = runCusum(values, { ...design, mu0, sigma, afterSignal: 'reset', record: 'last' });
    const { current, summary } = describe(run.signals);
    const lastUpper = run.upper[run.upper.length - 1];
    const lastLower = run.lower[run.lower.length - 1];
    return {
      estimable: true,
      alarm: current.length > 0,
      statistic: current.length
        ? Math.max(...current.map((s) => s.statistic))
        : Math.max(lastUpper, lastLower),
      threshold: design.h,
      pValue: null,
      nReference: baseline.n,
      nCurrent: n,
      evidence: {
        chart: 'CUSUM (standardised, Page)',
        baseline: baselineRecord,
        design: {
          k: design.k,
          h: design.h,
          sided: design.sided,
          arl0AtEstimates: calibrated.arl0AtEstimates,
          arl1AtHalfSdAtEstimates: cusumArl(design, 0.5, { nodes: 60 }),
          falseAlarmProbability: {
            target: calibrated.targetProbability,
            achieved: calibrated.achievedProbability,
          },
        },
        estimation,
        lastStatistic: { upper: lastUpper, lower: lastLower },
        streamMean: mean,
        signals: summary,
        ...common,
      },
    };
  }

  const calibrated = cached(`e:${monitor.lambda}:${arl0}:${horizon}:${rounded.n}:${rounded.kurtosis}`, () =>
    estimatedBaselineEwmaDesign({
      lambda: monitor.lambda,
      arl0,
      horizon,
      referenceSize: rounded.n,
      kurtosis: rounded.kurtosis,
    }),
  );
  const design = { lambda: calibrated.lambda, L: calibrated.L };
  const run = runEwma(values, {
    ...design,
    mu0,
    sigma,
    limits: 'asymptotic',
    afterSignal: 'reset',
    record: 'last',
  });
  const { current, summary } = describe(run.signals);
  const lastEwma = run.ewma[run.ewma.length - 1];
  const halfWidth = ewmaAsymptoticLimit(design);
  return {
    estimable: true,
    alarm: current.length > 0,
    statistic: (lastEwma - mu0) / sigma,
    threshold: halfWidth,
    pValue: null,
    nReference: baseline.n,
    nCurrent: n,
    evidence: {
      chart: 'EWMA (two-sided, asymptotic limits)',
      baseline: baselineRecord,
      design: {
        lambda: design.lambda,
        L: design.L,
        halfWidthSd: halfWidth,
        arl0AtEstimates: calibrated.arl0AtEstimates,
        arl1AtHalfSdAtEstimates: ewmaArl(design, 0.5),
        falseAlarmProbability: {
          target: calibrated.targetProbability,
          achieved: calibrated.achievedProbability,
        },
      },
      estimation,
      lastEwma,
      limits: [mu0 - sigma * halfWidth, mu0 + sigma * halfWidth],
      streamMean: mean,
      signals: summary,
      ...common,
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// Output location chart (unlabelled stream)
// ---------------------------------------------------------------------------------------------------------------------

/** One day of a segment's output values counted on the reference's bins (the location chart's observations). */
export interface DailyBinCounts {
  /** UTC day of the analyses (YYYY-MM-DD). */
  readonly day: string;
  readonly counts: readonly number[];
}

/**
 * Whether a location chart runs on a segment: overall always; another segment when the reference holds its own CT-FFR
 * values (a period reference, at least `minimumBatch` analyses of the segment: the segment is compared with itself),
 * or when it is new since a period reference (a scanner vendor or model version the reference period never saw:
 * compared with the pooled reference, which is the point). Not otherwise: a site compared with the pooled reference (an
 * imported dataset has no per-segment quantities, or the site was too small in the reference period) differs by case
 * mix, not by drift, and an accumulating chart would eventually signal that difference.
 */
export function locationChartApplies(
  reference: ReferenceSummary,
  segment: SegmentRef,
  minimumBatch: number,
): boolean {
  if (segment.kind === 'overall') return true;
  if (!reference.segments) return false;
  const own = reference.segments[segmentId(segment)];
  if (!own) return true;
  return own.analyses >= minimumBatch && (own.numericCounts.ctFfr ?? []).some((c) => c > 0);
}

/**
 * The location chart's clock conversion: its own observations (completed vessels of its segment) per labelled vessel of
 * the pooled stream — the reference's ratio when the reference has the segment (stable from run to run), else the
 * streams' ratio so far (a segment new since the reference). Null when the reference holds no labelled vessels: the
 * sequential budget's clock is then undefined and the chart does not run.
 */
export function outputChartShare(
  reference: ReferenceSummary,
  segment: SegmentRef,
  streamVessels: number,
  pooledLabelled: number,
): number | null {
  const labelled = reference.residuals?.n ?? 0;
  if (labelled <= 0) return null;
  if (segment.kind === 'overall' && reference.vessels > 0) return reference.vessels / labelled;
  const own = reference.segments?.[segmentId(segment)];
  if (own && own.vessels > 0) return own.vessels / labelled;
  return streamVessels / Math.max(1, pooledLabelled);
}

/**
 * A location chart's place in the sequential budget: as chartAllocation, on its own clock (vessels of its segment;
 * `ratio` from outputChartShare, which may exceed 1), rounded up on the same grid.
 */
export function outputChartAllocation(
  configuration: DriftConfiguration,
  budget: ArlBudget | null,
  monitorId: string,
  ratio: number,
): Pick<ChartContext, 'arl0' | 'arl0CommonClock' | 'share' | 'horizon'> {
  return chartAllocation(configuration, budget, monitorId, ratio, false);
}

/**
 * The CT-FFR location CUSUM on one segment's days (src/stats/location-cusum.ts): mid-rank scores against the segment's
 * reference bins, the day's sum per update, h designed like the residual CUSUM for the chart's share of the
 * sequential budget over its horizon with the reference's estimation error (the reference mean's variance is
 * designEffect·sd²/n in score units, i.e. 1/n in the chart's standardised units: design effect 1 there).
 */
export function evaluateLocationChart(
  monitor: LocationCusumMonitor,
  reference: ReferenceSummary,
  days: readonly DailyBinCounts[],
  context: ChartContext,
): MonitorOutcome {
  const ref = reference.numeric[monitor.feature];
  if (!ref) return notEstimable('reference-has-no-values', { feature: monitor.feature });
  const scores = midRankScores(ref.counts);
  if (!(scores.sd > 0)) return notEstimable('reference-has-a-single-bin', { feature: monitor.feature });
  let n = 0;
  for (const d of days) for (const c of d.counts) n += c;
  if (n < context.minimumWindow || days.length === 0) {
    return {
      ...notEstimable('window-too-small', { minimumWindow: context.minimumWindow }),
      nReference: ref.n,
      nCurrent: n,
    };
  }
  const clamped = context.arl0 < MIN_CHART_ARL0;
  const arl0 = Math.max(MIN_CHART_ARL0, context.arl0);
  const horizon = clamped ? context.horizon * (MIN_CHART_ARL0 / context.arl0) : context.horizon;
  const inputs = designInputs(ref.n, 3);
  const calibrated = cached(`l:${monitor.k}:${monitor.sided}:${arl0}:${horizon}:${inputs.n}`, () =>
    estimatedBaselineCusumDesign({
      k: monitor.k,
      sided: monitor.sided,
      arl0,
      horizon,
      referenceSize: inputs.n,
      kurtosis: inputs.kurtosis,
      designEffect: 1,
    }),
  );
  const design = { k: calibrated.k, h: calibrated.h, sided: calibrated.sided };
  const groups = days.map((d) => scoreGroup(d.counts, scores, monitor.designEffect));
  const run = runGroupedCusum(groups, design);
  const inWindow = (index: number): boolean => {
    const day = days[index].day;
    return (
      day >= context.windowFromDay &&
      (context.suppressThroughDay === null || day > context.suppressThroughDay)
    );
  };
  const current = run.signals.filter((s) => inWindow(s.index));
  const last = current[current.length - 1];
  const lastUpper = run.upper[run.upper.length - 1];
  const lastLower = run.lower[run.lower.length - 1];
  let scoreSum = 0;
  for (const d of days) d.counts.forEach((c, i) => (scoreSum += c * scores.scores[i]));
  return {
    estimable: true,
    alarm: current.length > 0,
    statistic: current.length ? Math.max(...current.map((s) => s.statistic)) : Math.max(lastUpper, lastLower),
    threshold: design.h,
    pValue: null,
    nReference: ref.n,
    nCurrent: n,
    evidence: {
      chart:
        'CUSUM of mid-rank scores against the reference bins, updated per day (src/stats/location-cusum.ts)',
      feature: monitor.feature,
      baseline: {
        scores: scores.scores,
        scoreMean: 0.5,
        scoreSd: scores.sd,
        designEffect: monitor.designEffect,
        referenceValues: ref.n,
        edges: ref.edges,
        referenceCounts: ref.counts,
      },
      design: {
        k: design.k,
        h: design.h,
        sided: design.sided,
        arl0AtEstimates: calibrated.arl0AtEstimates,
        falseAlarmProbability: {
          target: calibrated.targetProbability,
          achieved: calibrated.achievedProbability,
        },
      },
      estimation: {
        method:
          'false-alarm probability within the horizon averaged over the reference mean’s sampling error',
        source: 'src/stats/chart-calibration.ts',
        referenceValues: ref.n,
        designReferenceSize: inputs.n,
      },
      budget: {
        arl0Target: arl0,
        arl0CommonClock: context.arl0CommonClock,
        clock: 'completed vessels of the segment',
        vesselsPerPooledLabelledVessel: context.share,
        horizon,
        clampedToMinimum: clamped,
      },
      // P(current > reference) + ½·P(same bin) over the whole stream: 0.5 without shift.
      streamMeanScore: scoreSum / n,
      lastStatistic: { upper: lastUpper, lower: lastLower },
      signals: {
        total: run.signals.length,
        inWindow: current.length,
        first: current[0] ? { day: days[current[0].index].day, ...current[0] } : null,
        last: last ? { day: days[last.index].day, ...last } : null,
      },
      observations: n,
      days: days.length,
      firstDay: days[0].day,
      lastDay: days[days.length - 1].day,
      order: 'analysis day (UTC)',
    },
  };
}

/** The monitors of a configuration that apply to a segment kind. */
export function monitorsFor(
  configuration: DriftConfiguration,
  kind: SegmentKind,
): { batch: BatchMonitor[]; charts: LabelledChartMonitor[]; outputCharts: LocationCusumMonitor[] } {
  const applies = (m: MonitorConfig) => monitorSegments(configuration, m).includes(kind);
  const all = configuration.monitors.filter(applies);
  return {
    batch: all.filter((m): m is BatchMonitor => !isChartMonitor(m)),
    charts: all.filter(isLabelledChartMonitor),
    outputCharts: all.filter((m): m is LocationCusumMonitor => m.kind === 'locationCusum'),
  };
}
