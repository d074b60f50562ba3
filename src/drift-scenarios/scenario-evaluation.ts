/**
 * Drift scenarios, statistics side: evaluate a scenario's data exactly as the database-backed DriftEvaluationService
 * (src/drift/drift-evaluation.service.ts) evaluates a product, with the built-in configuration
 * (DEFAULT_DRIFT_CONFIGURATION, version 0) and the same pure functions — no formula, threshold or budget rule of its
 * own. What is shared, and what stands in for the SQL:
 *  - the reference: the first `referenceDays` of the simulation as a period reference. Its summary is built as
 *    ReferenceWindowsService.periodSummary builds one — type-7 decile edges of every numeric input (analyses) and of
 *    CT-FFR (completed vessels), counts per site × vendor × version cell on those edges, summed by the service's
 *    `totalOfCells` / `segmentAggregates` (src/drift/drift-queries.ts), residual baselines by `residualBaseline`
 *    (src/drift/drift-evaluator.ts) per segment; the cells come from the simulated analyses instead of SQL;
 *  - every weekly run (cadence 7 days, as FW_DRIFT_EVALUATION_CRON would run it) on the window of the last
 *    `windowDays`: segments, `referenceForSegment`, `monitorsFor`, the batch budget (`batchBudget`, Bonferroni over
 *    the tests run), `evaluateBatchMonitor`; the labelled stream since the reference's end with the labels arrived by
 *    the run (CTA-date order), `chartBudget`, `chartAllocation`, `evaluateChartMonitor` (alarm on a signal inside the
 *    window), i.e. the calibrated charts of src/stats/chart-calibration.ts; the output location charts on every
 *    completed vessel by analysis day since the reference's end (`dailySegmentCounts`, `outputChartShare`,
 *    `outputChartAllocation`, `evaluateLocationChart`), in the same sequential budget;
 *  - an alert is counted once per monitor × segment (the service's hysteresis keeps one alert per ongoing drift).
 * What the simulator does not produce and how the budget accounts for it: sex, BMI, age, Agatston, image quality,
 * processing time and device error events are not in the scenario data. Their monitors are not evaluated, but they
 * are counted in the batch split wherever the segment's window would reach the minimum size — as they would run on a
 * real fleet — so each test that does run gets the level the product would give it (not a larger one).
 * The budget the control is held to over the monitoring period: expected false alarms ≤ family α × runs + labelled
 * vessels / family ARL0 (`falseAlarmBudget`); the charts are designed for that rate over the configuration's horizon
 * of pooled labelled vessels (5,000; the 182 monitoring days hold about 3,300).
 */
import {
  DEFAULT_DRIFT_CONFIGURATION,
  isChartMonitor,
  SEGMENT_KINDS,
  type BatchMonitor,
  type DriftConfiguration,
  type NumericFeature,
} from '../drift/drift-config';
import {
  batchBudget,
  chartAllocation,
  chartBudget,
  chartedPairs,
  chartShare,
  evaluateBatchMonitor,
  evaluateChartMonitor,
  evaluateLocationChart,
  locationChartApplies,
  monitorsFor,
  outputChartAllocation,
  outputChartShare,
  numericReference,
  referenceSummaryOf,
  referenceForSegment,
  residualBaseline,
  segmentId,
  type LabelledVessel,
  type ReferenceSummary,
  type SegmentAggregates,
  type SegmentRef,
} from '../drift/drift-evaluator';
import {
  dailySegmentCounts,
  emptyCell,
  segmentAggregates,
  segmentReferences,
  totalOfCells,
  type CellAggregates,
  type DailyCtFfrCell,
  type Edges,
} from '../drift/drift-queries';
import { binIndex } from '../stats/drift';
import type { ScenarioAnalysis, ScenarioData, ScenarioLabelledVessel } from './scenario-data';

const DAY_MS = 86_400_000;

export const EVALUATION = {
  configuration: DEFAULT_DRIFT_CONFIGURATION,
  cadenceDays: 7,
  threshold: 0.8,
} as const;

export const BATCH_MONITORS: readonly string[] = DEFAULT_DRIFT_CONFIGURATION.monitors
  .filter((m) => !isChartMonitor(m))
  .map((m) => m.id);
export const CHART_MONITORS: readonly string[] = DEFAULT_DRIFT_CONFIGURATION.monitors
  .filter(isChartMonitor)
  .map((m) => m.id);
export type MonitorId = string;

/** Numeric features the simulator's analyses carry (the rest of the configuration's are not simulated). */
const SIMULATED: Partial<Record<NumericFeature, (a: ScenarioAnalysis) => number>> = {
  heartRate: (a) => a.heartRateBpm,
  sliceThickness: (a) => a.sliceThicknessMm,
  tubeVoltage: (a) => a.tubeVoltageKv,
};

export interface Alert {
  readonly monitor: MonitorId;
  readonly segment: string;
  /** Day (since the simulation start) of the evaluation run that raised the alert. */
  readonly day: number;
  /** Evidence: p-value and α (batch) or the chart's signal statistic and limit. */
  readonly evidence: Readonly<Record<string, number | null>>;
}

const parseSegment = (id: string): SegmentRef => {
  const i = id.indexOf(':');
  return i < 0
    ? { kind: 'overall', key: '*' }
    : ({ kind: id.slice(0, i), key: id.slice(i + 1) } as SegmentRef);
};
const segmentKey = (id: string): string => (id === 'overall' ? 'overall:*' : id);

/** Cells (site × vendor × version) of a set of analyses, counted on the reference's edges. */
function cellsOf(analyses: readonly ScenarioAnalysis[], edges: Edges, threshold: number): CellAggregates[] {
  const cells = new Map<string, CellAggregates & { numeric: Partial<Record<NumericFeature, number[]>> }>();
  for (const a of analyses) {
    const key = `${a.siteId}|${a.scannerVendor}|${a.modelVersion}`;
    let cell = cells.get(key);
    if (!cell) {
      cell = emptyCell(a.siteId, a.siteId, a.scannerVendor, a.modelVersion);
      for (const feature of Object.keys(edges) as NumericFeature[]) {
        cell.numeric[feature] = new Array<number>((edges[feature] as number[]).length + 1).fill(0);
      }
      cells.set(key, cell);
    }
    const mutable = cell as {
      analyses: number;
      rejected: number;
      failed: number;
      vessels: number;
      vesselsAtOrBelow: number;
    };
    mutable.analyses++;
    if (a.status === 'rejected') mutable.rejected++;
    if (a.status === 'failed') mutable.failed++;
    for (const [feature, pick] of Object.entries(SIMULATED) as [
      NumericFeature,
      (a: ScenarioAnalysis) => number,
    ][]) {
      const e = edges[feature];
      if (e) cell.numeric[feature]![binIndex(e, pick(a))]++;
    }
    if (a.status === 'completed') {
      for (const ct of a.ctFfr) {
        mutable.vessels++;
        if (ct <= threshold) mutable.vesselsAtOrBelow++;
        if (edges.ctFfr) cell.numeric.ctFfr![binIndex(edges.ctFfr, ct)]++;
      }
    }
  }
  return [...cells.values()];
}

function pairs(vessels: readonly ScenarioLabelledVessel[]) {
  return vessels.map((v) => ({ ctFfr: v.ctFfr, invasiveFfr: v.invasiveFfr }));
}

/** The period reference's frozen summary (ReferenceWindowsService.periodSummary, from the simulated rows). */
export function scenarioReference(data: ScenarioData, threshold = EVALUATION.threshold): ReferenceSummary {
  const analyses = data.analyses.filter((a) => a.day < data.referenceDays);
  const labelled = data.labelled.filter(
    (v) => v.procedureDay < data.referenceDays && v.labelDay < data.referenceDays,
  );
  const edges: Edges = {};
  for (const [feature, pick] of Object.entries(SIMULATED) as [
    NumericFeature,
    (a: ScenarioAnalysis) => number,
  ][]) {
    const reference = numericReference(analyses.map(pick));
    if (reference) edges[feature] = reference.edges;
  }
  const ct = numericReference(analyses.filter((a) => a.status === 'completed').flatMap((a) => a.ctFfr));
  if (ct) edges.ctFfr = ct.edges;
  const cells = cellsOf(analyses, edges, threshold);
  const total = totalOfCells(cells, edges);
  const numeric = {} as Record<NumericFeature, ReferenceSummary['numeric'][NumericFeature]>;
  for (const feature of Object.keys(DEFAULT_NUMERIC) as NumericFeature[])
    numeric[feature] = total.numeric[feature] ?? null;
  const bySegment = new Map<string, ScenarioLabelledVessel[]>();
  for (const v of labelled) {
    for (const s of v.segments) {
      const id = segmentKey(s);
      const list = bySegment.get(id);
      if (list) list.push(v);
      else bySegment.set(id, [v]);
    }
  }
  const segments = segmentReferences(cells, SEGMENT_KINDS, (id) =>
    residualBaseline(pairs(bySegment.get(id) ?? []), threshold),
  );
  return referenceSummaryOf(total, {
    threshold,
    numeric,
    deviceErrors: null,
    residuals: residualBaseline(pairs(labelled), threshold),
    segments,
  });
}
const DEFAULT_NUMERIC: Record<NumericFeature, true> = {
  heartRate: true,
  sliceThickness: true,
  tubeVoltage: true,
  agatston: true,
  bmi: true,
  age: true,
  imageQuality: true,
  processingTime: true,
  ctFfr: true,
};

/** Window size the service would test a batch monitor on (its batchWindowSize), for a fleet with every input. */
function windowSize(m: BatchMonitor, a: SegmentAggregates): number {
  switch (m.kind) {
    case 'distribution':
      return m.feature === 'ctFfr' ? a.vessels : a.analyses;
    case 'categorical':
      return a.analyses;
    case 'proportion':
      return m.event === 'ctFfrAtOrBelowThreshold' ? a.vessels : a.analyses;
    case 'rate':
      return a.analyses;
  }
}

/** Whether the scenario data hold what a batch monitor reads. */
function simulated(m: BatchMonitor): boolean {
  switch (m.kind) {
    case 'distribution':
      return m.feature === 'ctFfr' || SIMULATED[m.feature] !== undefined;
    case 'categorical':
      return m.feature === 'scannerVendor';
    case 'proportion':
      return true;
    case 'rate':
      return false;
  }
}

export interface ScenarioEvaluation {
  readonly alerts: readonly Alert[];
  /** Evaluation runs over the monitoring period. */
  readonly runs: number;
  /** Labelled vessels (pooled stream) with a CTA date in the monitoring period and a label by its end. */
  readonly labelledInMonitoring: number;
  /** Expected false alarms over the horizon allowed by the configuration (module header). */
  readonly falseAlarmBudget: number;
}

/** Evaluate every monitor × segment over the monitoring period, one run every `cadenceDays` (module header). */
export function evaluateScenario(
  data: ScenarioData,
  configuration: DriftConfiguration = EVALUATION.configuration,
): ScenarioEvaluation {
  const threshold = EVALUATION.threshold;
  const reference = scenarioReference(data, threshold);
  const edges: Edges = {};
  for (const [feature, ref] of Object.entries(reference.numeric))
    if (ref) edges[feature as NumericFeature] = ref.edges;
  const referenceEnd = data.referenceDays;
  const monitoringEnd = data.referenceDays + data.monitoringDays;
  const minimum = configuration.minimumWindow;
  const kinds = [...new Set(configuration.monitors.flatMap((m) => m.segments ?? configuration.segments))];
  const dayString = (day: number): string => new Date(data.start + day * DAY_MS).toISOString().slice(0, 10);

  const monitoring = data.analyses.filter((a) => a.day >= referenceEnd);
  // Completed vessels per day and cell on the reference's CT-FFR bins (the SQL's dailyCtFfrCells), in day order.
  const dailyCells: DailyCtFfrCell[] = [];
  const ctEdges = edges.ctFfr;
  if (ctEdges) {
    const byKey = new Map<
      string,
      { day: string; siteCode: string; scannerVendor: string; modelVersion: string; counts: number[] }
    >();
    for (const a of monitoring) {
      if (a.status !== 'completed' || a.ctFfr.length === 0) continue;
      const key = `${a.day}|${a.siteId}|${a.scannerVendor}|${a.modelVersion}`;
      let cell = byKey.get(key);
      if (!cell) {
        cell = {
          day: dayString(a.day),
          siteCode: a.siteId,
          scannerVendor: a.scannerVendor,
          modelVersion: a.modelVersion,
          counts: new Array<number>(ctEdges.length + 1).fill(0),
        };
        byKey.set(key, cell);
      }
      for (const ct of a.ctFfr) cell.counts[binIndex(ctEdges, ct)]++;
    }
    dailyCells.push(...[...byKey.values()].sort((x, y) => (x.day < y.day ? -1 : x.day > y.day ? 1 : 0)));
  }
  const monitoringLabelled = data.labelled
    .filter((v) => v.procedureDay >= referenceEnd)
    .sort((a, b) => a.procedureAt - b.procedureAt);

  const alerts: Alert[] = [];
  const alerted = new Set<string>();
  const raise = (monitor: MonitorId, segment: string, day: number, evidence: Alert['evidence']): void => {
    const key = `${monitor}|${segment}`;
    if (alerted.has(key)) return;
    alerted.add(key);
    alerts.push({ monitor, segment, day, evidence });
  };
  const alertSegment = (ref: SegmentRef): string => (ref.kind === 'overall' ? 'overall' : segmentId(ref));

  let runs = 0;
  for (let day = referenceEnd + EVALUATION.cadenceDays; day <= monitoringEnd; day += EVALUATION.cadenceDays) {
    runs++;
    // ---- batch monitors on the window [day − windowDays, day) ----------------------------------------------------
    const windowFrom = day - configuration.windowDays;
    const cells = cellsOf(
      monitoring.filter((a) => a.day >= windowFrom && a.day < day),
      edges,
      threshold,
    );
    const aggregates = segmentAggregates(cells, kinds);
    const tested = new Map<string, number>();
    for (const { segment, aggregates: a } of aggregates.values()) {
      for (const m of monitorsFor(configuration, segment.kind).batch) {
        if (windowSize(m, a) >= minimum.batch) tested.set(m.id, (tested.get(m.id) ?? 0) + 1);
      }
    }
    const batch = batchBudget(configuration, tested);
    for (const { segment, aggregates: a } of aggregates.values()) {
      const own = referenceForSegment(reference, segment, minimum.batch);
      for (const m of monitorsFor(configuration, segment.kind).batch) {
        if (!simulated(m)) continue;
        const alpha =
          batch?.allocations.find((x) => x.id === m.id)?.alphaPerTest ?? configuration.batch.familyAlpha;
        const outcome = evaluateBatchMonitor(m, own.summary, a, {
          alpha,
          permutations: configuration.batch.permutations,
          seed: configuration.batch.seed,
          minimumWindow: minimum.batch,
        });
        if (outcome.alarm) raise(m.id, alertSegment(segment), day, { pValue: outcome.pValue, alpha });
      }
    }

    // ---- charts on the labels arrived by the run ------------------------------------------------------------------
    const streams = new Map<string, { segment: SegmentRef; stream: LabelledVessel[] }>();
    for (const v of monitoringLabelled) {
      if (v.procedureDay >= day || v.labelDay >= day) continue;
      const row: LabelledVessel = {
        day: dayString(v.procedureDay),
        residual: v.ctFfr - v.invasiveFfr,
        discordant: v.ctFfr <= threshold !== v.invasiveFfr <= threshold,
      };
      for (const s of v.segments) {
        const segment = parseSegment(s);
        if (!kinds.includes(segment.kind)) continue;
        const id = segmentId(segment);
        let entry = streams.get(id);
        if (!entry) streams.set(id, (entry = { segment, stream: [] }));
        entry.stream.push(row);
      }
    }
    const runDay = dayString(day);
    const outputs = dailySegmentCounts(
      dailyCells.filter((c) => c.day < runDay),
      kinds,
    );
    const charted = chartedPairs(
      configuration,
      reference,
      [...streams.values()].map(({ segment, stream }) => ({ segment, length: stream.length })),
      [...outputs.values()].map(({ segment, vessels }) => ({ segment, vessels })),
    );
    const charts = chartBudget(configuration, charted);
    const pooled = Math.max(streams.get('overall:*')?.stream.length ?? 0, 1);
    for (const { segment, stream } of streams.values()) {
      const own = referenceForSegment(reference, segment, minimum.batch);
      for (const m of monitorsFor(configuration, segment.kind).charts) {
        const outcome = evaluateChartMonitor(m, own.summary, stream, {
          ...chartAllocation(
            configuration,
            charts,
            m.id,
            chartShare(reference, segment, stream.length, pooled),
          ),
          windowFromDay: dayString(windowFrom),
          suppressThroughDay: null,
          minimumWindow: minimum.chart,
        });
        if (outcome.alarm) {
          raise(m.id, alertSegment(segment), day, { statistic: outcome.statistic, h: outcome.threshold });
        }
      }
    }
    for (const { segment, days, vessels } of outputs.values()) {
      const own = referenceForSegment(reference, segment, minimum.batch);
      for (const m of monitorsFor(configuration, segment.kind).outputCharts) {
        const ratio = outputChartShare(reference, segment, vessels, pooled);
        if (ratio === null || !locationChartApplies(reference, segment, minimum.batch)) continue;
        const outcome = evaluateLocationChart(m, own.summary, days, {
          ...outputChartAllocation(configuration, charts, m.id, ratio),
          windowFromDay: dayString(windowFrom),
          suppressThroughDay: null,
          minimumWindow: minimum.chart,
        });
        if (outcome.alarm) {
          raise(m.id, alertSegment(segment), day, { statistic: outcome.statistic, h: outcome.threshold });
        }
      }
    }
  }

  const labelledInMonitoring = monitoringLabelled.filter((v) => v.labelDay < monitoringEnd).length;
  return {
    alerts,
    runs,
    labelledInMonitoring,
    falseAlarmBudget:
      configuration.batch.familyAlpha * runs + labelledInMonitoring / configuration.sequential.familyArl0,
  };
}

export interface Detection {
  readonly detected: boolean;
  readonly monitor: MonitorId | null;
  readonly segment: string | null;
  /** Days from the drift's onset to the alert. */
  readonly delayDays: number | null;
  /** Labelled vessels of the detecting segment with a CTA on/after the onset whose label had arrived by the alert. */
  readonly delayLabelledVessels: number | null;
  /** Alerts raised before the onset (false alarms by definition). */
  readonly falseAlarmsBeforeOnset: number;
}

/** The first alert on a target segment at or after the onset. */
export function detectionOf(
  data: ScenarioData,
  evaluation: ScenarioEvaluation,
  targets: readonly string[],
  onsetDay: number,
): Detection {
  const falseAlarmsBeforeOnset = evaluation.alerts.filter((a) => a.day < onsetDay).length;
  const hits = evaluation.alerts
    .filter((a) => a.day >= onsetDay && targets.includes(a.segment))
    .sort((a, b) => a.day - b.day);
  if (hits.length === 0) {
    return {
      detected: false,
      monitor: null,
      segment: null,
      delayDays: null,
      delayLabelledVessels: null,
      falseAlarmsBeforeOnset,
    };
  }
  const first = hits[0];
  const delayLabelledVessels = data.labelled.filter(
    (v) => v.segments.includes(first.segment) && v.procedureDay >= onsetDay && v.labelDay < first.day,
  ).length;
  return {
    detected: true,
    monitor: first.monitor,
    segment: first.segment,
    delayDays: first.day - onsetDay,
    delayLabelledVessels,
    falseAlarmsBeforeOnset,
  };
}
