import { Injectable, Logger, NotFoundException } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuditActor, SYSTEM_ACTOR } from '../audit/audit.service';
import { runWithAdvisoryLockOrBusy } from '../common/singleton-schedule';
import { DriftConfiguration, isLabelledChartMonitor, type SegmentKind } from './drift-config';
import { DriftConfigurationsService } from './drift-configurations.service';
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
  notEstimable,
  outputChartAllocation,
  outputChartShare,
  referenceForSegment,
  segmentId,
  type DailyBinCounts,
  type LabelledVessel,
  type MonitorOutcome,
  type ReferenceSummary,
  type SegmentAggregates,
  type SegmentRef,
} from './drift-evaluator';
import {
  dailySegmentCounts,
  highWaterMark,
  segmentAggregates,
  HighWaterMark,
  LabelledVesselRow,
  Queryable,
  type Edges,
} from './drift-queries';
import {
  refreshDriftRollups,
  refreshLabelledDays,
  rolledUpLabelledStream,
  rolledUpAnalysisMark,
  rolledUpDailyCtFfrCells,
  rolledUpWindowCells,
  type RollupReference,
} from './drift-rollups';
import { DriftAlertsService } from './drift-alerts.service';
import { ReferenceWindowsService, type ReferenceWindowView } from './reference-windows.service';

export type EvaluationTrigger = 'schedule' | 'on_demand' | 'late_labels';
export type EvaluationScope = 'all' | 'accuracy';

export interface EvaluateOptions {
  readonly trigger?: EvaluationTrigger;
  /** 'accuracy': only the accuracy charts (a re-run after late labels). */
  readonly scope?: EvaluationScope;
  /** Who asked (recorded in the audit trail of alerts it opens); the system by default. */
  readonly actor?: AuditActor;
}

export interface EvaluationResultView {
  monitorId: string;
  family: string;
  segment: { kind: SegmentKind; key: string };
  estimable: boolean;
  alarm: boolean;
  statistic: number | null;
  threshold: number | null;
  pValue: number | null;
  n: { reference: number | null; current: number | null };
  evidence: Record<string, unknown>;
}

export interface EvaluationSummary {
  id: string;
  productId: string;
  trigger: EvaluationTrigger;
  scope: EvaluationScope;
  evaluatedAt: string;
  window: { from: string; to: string };
  configuration: { version: number; hash: string };
  referenceIds: string[];
  highWater: HighWaterMark;
  budget: Record<string, unknown>;
  counts: {
    results: number;
    estimable: number;
    alarms: number;
    notEstimable: number;
    /** Wall time of each phase of the run (high-water mark, window aggregates, labelled stream, tests). */
    phasesMs?: Record<string, number>;
  };
  alerts: { opened: string[]; updated: string[]; cleared: string[] };
  supersedes: string | null;
  durationMs: number;
}

export interface EvaluationView extends EvaluationSummary {
  results: EvaluationResultView[];
}

const DAY_MS = 86_400_000;
/**
 * How long an evaluation waits for another of the same product (another instance's, or the schedule's) before it
 * is answered 503: the wait ended at the connection's 30 s statement timeout when it blocked in PostgreSQL.
 */
const EVALUATION_LOCK_WAIT_MS = 30_000;
const utcDay = (d: Date): string => d.toISOString().slice(0, 10);

interface SegmentPlan {
  readonly segment: SegmentRef;
  readonly reference: ReferenceWindowView;
  readonly aggregates: SegmentAggregates | null;
  readonly stream: readonly LabelledVessel[];
  /** Completed vessels per day on the reference's CT-FFR bins since the monitoring start (location charts). */
  readonly days: readonly DailyBinCounts[];
  readonly vessels: number;
}

/**
 * Drift evaluation (issue 4 §3, §5): every monitor of the product's configuration over every segment (overall, site,
 * scanner vendor, model version), the current window against the active reference, thresholds from the configuration's
 * false-alarm budget split over the tests actually run; the run and each result are stored as an append-only snapshot,
 * and alerts are opened or updated with hysteresis (drift-alerts.service.ts).
 *
 * `evaluateProduct(productId, now)` is the one entry point — the schedule, the on-demand route and tests call it. It
 * runs in the caller's tenant scope (the schedule wraps it in runAsSystem) and holds a per-product advisory lock, so
 * two instances never evaluate the same product at once.
 */
@Injectable()
export class DriftEvaluationService {
  private readonly logger = new Logger(DriftEvaluationService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly configurations: DriftConfigurationsService,
    private readonly references: ReferenceWindowsService,
    private readonly alerts: DriftAlertsService,
  ) {}

  async evaluateProduct(
    productId: string,
    now: Date = new Date(),
    options: EvaluateOptions = {},
  ): Promise<EvaluationView> {
    return runWithAdvisoryLockOrBusy(
      this.dataSource,
      `fieldwatch:drift:${productId}`,
      EVALUATION_LOCK_WAIT_MS,
      'A drift evaluation of this product is in progress; retry shortly',
      () => this.evaluate(productId, now, options),
    );
  }

  private async evaluate(productId: string, now: Date, options: EvaluateOptions): Promise<EvaluationView> {
    const started = Date.now();
    const phases: Record<string, number> = {};
    let mark = started;
    const lap = (name: string): void => {
      const t = Date.now();
      phases[name] = t - mark;
      mark = t;
    };
    const trigger = options.trigger ?? 'on_demand';
    const scope = options.scope ?? 'all';
    const db: Queryable = this.dataSource;
    const product = await this.references.productRef(productId, db);
    const effective = await this.configurations.effective(productId, db);
    const configuration = effective.configuration;
    const references = await this.references.active(productId, db);
    const windowTo = now;
    const windowFrom = new Date(now.getTime() - configuration.windowDays * DAY_MS);
    const defaultReference = references.get('') ?? latest(references);
    // Day roll-ups of every active reference brought up to date (drift-rollups.ts): the window and the location
    // charts then read days, not analyses.
    const rollupOf = (reference: ReferenceWindowView): RollupReference => ({
      id: reference.id,
      edges: edgesOf(reference.summary),
    });
    const activeRollups = [...new Map([...references.values()].map((r) => [r.id, rollupOf(r)])).values()];
    const rollupProduct = { manufacturerId: product.manufacturerId, productId, threshold: product.threshold };
    await this.dataSource.transaction(async (manager) => {
      await refreshDriftRollups(manager, rollupProduct, activeRollups);
      await refreshLabelledDays(manager, rollupProduct);
    });
    lap('rollupRefreshMs');
    const highWater = await highWaterMark(
      db,
      product.manufacturerId,
      productId,
      defaultReference ? await rolledUpAnalysisMark(db, defaultReference.id) : undefined,
    );
    lap('highWaterMs');

    const referenceFor = (segment: SegmentRef): ReferenceWindowView | null =>
      (segment.kind === 'modelVersion' ? references.get(segment.key) : undefined) ?? defaultReference ?? null;

    const kinds = configuration.segments.length
      ? [...new Set(configuration.monitors.flatMap((m) => m.segments ?? configuration.segments))]
      : [];
    const plans: SegmentPlan[] = [];

    // Batch aggregates: one SQL pass per reference binning in use (the default for every segment; a version with its
    // own reference is aggregated again on that reference's bins, for its model-version segment only).
    const batchAggregates = new Map<string, { segment: SegmentRef; aggregates: SegmentAggregates }>();
    if (scope === 'all' && defaultReference) {
      const cells = await rolledUpWindowCells(
        db,
        rollupOf(defaultReference),
        { manufacturerId: product.manufacturerId, productId, from: windowFrom, to: windowTo },
        product.threshold,
      );
      for (const [id, entry] of segmentAggregates(cells, kinds)) batchAggregates.set(id, entry);
      for (const [version, reference] of references) {
        if (version === '' || reference.id === defaultReference.id || !kinds.includes('modelVersion'))
          continue;
        const versionCells = await rolledUpWindowCells(
          db,
          rollupOf(reference),
          {
            manufacturerId: product.manufacturerId,
            productId,
            from: windowFrom,
            to: windowTo,
            modelVersion: version,
          },
          product.threshold,
        );
        const entry = segmentAggregates(versionCells, ['modelVersion']).get(`modelVersion:${version}`);
        if (entry) batchAggregates.set(`modelVersion:${version}`, entry);
        else batchAggregates.delete(`modelVersion:${version}`);
      }
    }

    lap('windowAggregatesMs');
    // Accuracy charts: the labelled stream since the earliest monitoring start, split by segment.
    const streams = new Map<string, { segment: SegmentRef; stream: LabelledVessel[] }>();
    const chartMonitors = configuration.monitors.filter(isLabelledChartMonitor);
    if (chartMonitors.length && references.size) {
      const earliest = new Date(Math.min(...[...references.values()].map((r) => Date.parse(r.monitorFrom))));
      const rows = await rolledUpLabelledStream(db, productId, earliest, windowTo, product.threshold);
      // The segments a cell (site × vendor × version) feeds, resolved once per cell, not per vessel (1.9M labelled
      // vessels at 10M analyses): each target is a segment's stream and its monitoring start.
      type Target = { stream: LabelledVessel[]; start: string };
      const targets = new Map<string, Target | null>();
      const targetOf = (segment: SegmentRef): Target | null => {
        const id = segmentId(segment);
        let target = targets.get(id);
        if (target === undefined) {
          const reference = referenceFor(segment);
          target = reference ? { stream: [], start: utcDay(new Date(reference.monitorFrom)) } : null;
          targets.set(id, target);
          if (target) streams.set(id, { segment, stream: target.stream });
        }
        return target;
      };
      const byCell = new Map<string, Map<string, Map<string, Target[]>>>();
      for (const row of rows) {
        let byVendor = byCell.get(row.siteCode);
        if (!byVendor) byCell.set(row.siteCode, (byVendor = new Map<string, Map<string, Target[]>>()));
        let byVersion = byVendor.get(row.scannerVendor);
        if (!byVersion) byVendor.set(row.scannerVendor, (byVersion = new Map<string, Target[]>()));
        let cellTargets = byVersion.get(row.modelVersion);
        if (!cellTargets) {
          cellTargets = [];
          for (const kind of kinds) {
            const target = targetOf(segmentOf(kind, row));
            if (target) cellTargets.push(target);
          }
          byVersion.set(row.modelVersion, cellTargets);
        }
        for (const target of cellTargets) if (row.day >= target.start) target.stream.push(row);
      }
      for (const [id, entry] of streams) if (entry.stream.length === 0) streams.delete(id);
    }

    lap('labelledStreamMs');
    // Output location charts: completed vessels per day and cell since the earliest monitoring start, on the
    // reference's CT-FFR bins (one pass per binning in use, as the window aggregates).
    const outputDays = new Map<string, { segment: SegmentRef; days: DailyBinCounts[]; vessels: number }>();
    const wantsOutputCharts = configuration.monitors.some((m) => m.kind === 'locationCusum');
    if (scope === 'all' && wantsOutputCharts && defaultReference?.summary.numeric.ctFfr) {
      const monitorFromDay = (segment: SegmentRef): string | null => {
        const reference = referenceFor(segment);
        return reference ? utcDay(new Date(reference.monitorFrom)) : null;
      };
      const earliest = new Date(Math.min(...[...references.values()].map((r) => Date.parse(r.monitorFrom))));
      // From the UTC midnight of the earliest start: the charts count whole days (as the labelled stream does).
      const from = new Date(`${utcDay(earliest)}T00:00:00.000Z`);
      const filter = { manufacturerId: product.manufacturerId, productId, from, to: windowTo };
      const cells = await rolledUpDailyCtFfrCells(db, rollupOf(defaultReference), filter);
      for (const [id, entry] of dailySegmentCounts(cells, kinds, monitorFromDay)) outputDays.set(id, entry);
      for (const [version, reference] of references) {
        if (version === '' || reference.id === defaultReference.id || !kinds.includes('modelVersion'))
          continue;
        const versionCells = await rolledUpDailyCtFfrCells(db, rollupOf(reference), {
          ...filter,
          modelVersion: version,
        });
        const entry = dailySegmentCounts(versionCells, ['modelVersion'], monitorFromDay).get(
          `modelVersion:${version}`,
        );
        if (entry) outputDays.set(`modelVersion:${version}`, entry);
        else outputDays.delete(`modelVersion:${version}`);
      }
    }

    lap('outputStreamMs');
    const segmentIds = new Set([...batchAggregates.keys(), ...streams.keys(), ...outputDays.keys()]);
    for (const id of segmentIds) {
      const segment =
        batchAggregates.get(id)?.segment ?? streams.get(id)?.segment ?? outputDays.get(id)?.segment;
      if (!segment) continue;
      const reference = referenceFor(segment);
      if (!reference) continue;
      plans.push({
        segment,
        reference,
        aggregates: batchAggregates.get(id)?.aggregates ?? null,
        stream: streams.get(id)?.stream ?? [],
        days: outputDays.get(id)?.days ?? [],
        vessels: outputDays.get(id)?.vessels ?? 0,
      });
    }
    plans.sort((a, b) => segmentId(a.segment).localeCompare(segmentId(b.segment)));

    // The budget is split over the (monitor, segment) pairs that will actually be tested this run.
    const tested = new Map<string, number>();
    const minimum = configuration.minimumWindow;
    for (const plan of plans) {
      const { batch } = monitorsFor(configuration, plan.segment.kind);
      if (scope === 'all' && plan.aggregates) {
        for (const m of batch) {
          if (batchWindowSize(m, plan.aggregates) >= minimum.batch)
            tested.set(m.id, (tested.get(m.id) ?? 0) + 1);
        }
      }
    }
    const charted = chartedPairs(
      configuration,
      defaultReference?.summary ?? null,
      plans
        .filter((plan) => plan.reference.summary.residuals)
        .map((plan) => ({ segment: plan.segment, length: plan.stream.length })),
      plans.map((plan) => ({ segment: plan.segment, vessels: plan.vessels })),
    );
    const batch = scope === 'all' ? batchBudget(configuration, tested) : null;
    const charts = chartBudget(configuration, charted);
    const overallStream = streams.get('overall:*')?.stream.length ?? 0;
    const pooled = Math.max(overallStream, ...[...streams.values()].map((s) => s.stream.length), 1);

    const suppress = await this.alerts.resolvedSignalDays(productId, db);
    const results: EvaluationResultView[] = [];
    const windowFromDay = utcDay(windowFrom);
    for (const plan of plans) {
      const {
        batch: batchMonitors,
        charts: chartMonitorsHere,
        outputCharts,
      } = monitorsFor(configuration, plan.segment.kind);
      const own = referenceForSegment(plan.reference.summary, plan.segment, minimum.batch);
      const summary = own.summary;
      if (scope === 'all' && plan.aggregates) {
        for (const m of batchMonitors) {
          const alpha = batch?.allocations.find((a) => a.id === m.id)?.alphaPerTest;
          // Not in the split only when no segment of this monitor reaches the minimum size: then the result is
          // "window too small" and the level is never used.
          const outcome: MonitorOutcome = evaluateBatchMonitor(m, summary, plan.aggregates, {
            alpha: alpha ?? configuration.batch.familyAlpha,
            permutations: configuration.batch.permutations,
            seed: configuration.batch.seed,
            minimumWindow: minimum.batch,
          });
          results.push(resultView(m.id, m.family, plan, outcome, effective, plan.reference, own.scope));
        }
      }
      for (const m of chartMonitorsHere) {
        const outcome = evaluateChartMonitor(m, summary, plan.stream, {
          ...chartAllocation(
            configuration,
            charts,
            m.id,
            chartShare(plan.reference.summary, plan.segment, plan.stream.length, pooled),
          ),
          windowFromDay,
          suppressThroughDay: suppress.get(`${m.id}|${segmentId(plan.segment)}`) ?? null,
          minimumWindow: minimum.chart,
        });
        results.push(resultView(m.id, m.family, plan, outcome, effective, plan.reference, own.residualScope));
      }
      if (scope === 'all') {
        for (const m of outputCharts) {
          const ratio = outputChartShare(plan.reference.summary, plan.segment, plan.vessels, pooled);
          const applies = locationChartApplies(plan.reference.summary, plan.segment, minimum.batch);
          const outcome: MonitorOutcome = !applies
            ? {
                ...notEstimable('segment-has-no-own-reference', {
                  detail:
                    'a segment the reference holds no CT-FFR values of its own for is compared only when it is new ' +
                    'since a period reference (case mix differs between sites)',
                }),
                nCurrent: plan.vessels,
              }
            : ratio === null
              ? {
                  ...notEstimable('reference-has-no-labelled-vessels', {
                    detail: 'the sequential budget is stated in labelled vessels of the pooled stream',
                  }),
                  nCurrent: plan.vessels,
                }
              : evaluateLocationChart(m, summary, plan.days, {
                  ...outputChartAllocation(configuration, charts, m.id, ratio),
                  windowFromDay,
                  suppressThroughDay: suppress.get(`${m.id}|${segmentId(plan.segment)}`) ?? null,
                  minimumWindow: minimum.chart,
                });
          results.push(resultView(m.id, m.family, plan, outcome, effective, plan.reference, own.scope));
        }
      }
    }

    lap('testsMs');
    const previous = scope === 'accuracy' ? await this.latestEvaluationId(productId, db) : null;
    const budget = {
      batch: batch ?? null,
      sequential: charts
        ? { ...charts, clock: 'labelled vessels of the pooled product stream', pooledStream: pooled }
        : null,
    };
    const counts = {
      phasesMs: phases,
      results: results.length,
      estimable: results.filter((r) => r.estimable).length,
      alarms: results.filter((r) => r.alarm).length,
      notEstimable: results.filter((r) => !r.estimable).length,
    };
    const referenceIds = [...new Set(plans.map((p) => p.reference.id))];
    const durationMs = Date.now() - started;

    return this.dataSource.transaction(async (manager) => {
      const [row] = await manager.query<Array<{ id: string }>>(
        `INSERT INTO drift_evaluations (manufacturer_id, product_id, trigger, scope, configuration_version,
                    configuration_hash, evaluated_at, window_from, window_to, reference_ids, high_water, budget,
                    summary, duration_ms, supersedes)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::uuid[], $11::jsonb, $12::jsonb, $13::jsonb, $14, $15)
         RETURNING id::text AS id`,
        [
          product.manufacturerId,
          productId,
          trigger,
          scope,
          effective.version,
          effective.configurationHash,
          now.toISOString(),
          windowFrom.toISOString(),
          windowTo.toISOString(),
          referenceIds,
          JSON.stringify(highWater),
          JSON.stringify(budget),
          JSON.stringify(counts),
          durationMs,
          previous,
        ],
      );
      for (let i = 0; i < results.length; i += 500) {
        const chunk = results.slice(i, i + 500).map((r) => ({
          monitor_id: r.monitorId,
          segment_kind: r.segment.kind,
          segment_key: r.segment.key,
          estimable: r.estimable,
          alarm: r.alarm,
          statistic: finiteOrNull(r.statistic),
          threshold: finiteOrNull(r.threshold),
          p_value: finiteOrNull(r.pValue),
          n_reference: r.n.reference,
          n_current: r.n.current,
          evidence: r.evidence,
        }));
        await manager.query(
          `INSERT INTO drift_evaluation_results (evaluation_id, manufacturer_id, monitor_id, segment_kind, segment_key,
                      estimable, alarm, statistic, threshold, p_value, n_reference, n_current, evidence)
           SELECT $1, $2, r.monitor_id, r.segment_kind, r.segment_key, r.estimable, r.alarm, r.statistic, r.threshold,
                  r.p_value, r.n_reference, r.n_current, r.evidence
             FROM jsonb_to_recordset($3::jsonb) AS r(monitor_id text, segment_kind text, segment_key text,
                  estimable boolean, alarm boolean, statistic float8, threshold float8, p_value float8,
                  n_reference int, n_current int, evidence jsonb)`,
          [row.id, product.manufacturerId, JSON.stringify(chunk)],
        );
      }
      const alertChanges = await this.alerts.applyEvaluation(manager, {
        evaluationId: row.id,
        product,
        evaluatedAt: now,
        scope,
        configuration,
        configurationHash: effective.configurationHash,
        configurationVersion: effective.version,
        highWater,
        results,
        actor: options.actor ?? SYSTEM_ACTOR,
      });
      if (alertChanges.opened.length) {
        this.logger.log(
          `Drift evaluation of product ${productId}: ${alertChanges.opened.length} alert(s) opened`,
        );
      }
      return {
        id: row.id,
        productId,
        trigger,
        scope,
        evaluatedAt: now.toISOString(),
        window: { from: windowFrom.toISOString(), to: windowTo.toISOString() },
        configuration: { version: effective.version, hash: effective.configurationHash },
        referenceIds,
        highWater,
        budget,
        counts,
        alerts: alertChanges,
        supersedes: previous,
        durationMs,
        results,
      };
    });
  }

  /** Evaluation snapshots of a product, newest first (results not included). */
  async listEvaluations(productId: string, limit = 50): Promise<EvaluationSummary[]> {
    const rows = await this.dataSource.query<EvaluationRow[]>(
      `SELECT ${EVALUATION_COLUMNS} FROM drift_evaluations WHERE product_id = $1
        ORDER BY evaluated_at DESC, created_at DESC LIMIT $2`,
      [productId, limit],
    );
    return rows.map(evaluationSummary);
  }

  /** One evaluation snapshot with every result (row-level security hides other tenants': 404). */
  async getEvaluation(id: string): Promise<EvaluationView> {
    const rows = await this.dataSource.query<EvaluationRow[]>(
      `SELECT ${EVALUATION_COLUMNS} FROM drift_evaluations WHERE id = $1`,
      [id],
    );
    if (rows.length === 0) throw new NotFoundException(`Drift evaluation ${id} does not exist`);
    const results = await this.dataSource.query<
      Array<{
        monitor_id: string;
        segment_kind: SegmentKind;
        segment_key: string;
        estimable: boolean;
        alarm: boolean;
        statistic: number | null;
        threshold: number | null;
        p_value: number | null;
        n_reference: number | null;
        n_current: number | null;
        evidence: Record<string, unknown>;
        family: string;
      }>
    >(
      `SELECT r.monitor_id, r.segment_kind, r.segment_key, r.estimable, r.alarm, r.statistic, r.threshold, r.p_value,
              r.n_reference, r.n_current, r.evidence,
              r.evidence ->> 'family' AS family
         FROM drift_evaluation_results r WHERE r.evaluation_id = $1
        ORDER BY r.monitor_id, r.segment_kind, r.segment_key`,
      [id],
    );
    return {
      ...evaluationSummary(rows[0]),
      results: results.map((r) => ({
        monitorId: r.monitor_id,
        family: r.family,
        segment: { kind: r.segment_kind, key: r.segment_key },
        estimable: r.estimable,
        alarm: r.alarm,
        statistic: r.statistic,
        threshold: r.threshold,
        pValue: r.p_value,
        n: { reference: r.n_reference, current: r.n_current },
        evidence: r.evidence,
      })),
    };
  }

  private async latestEvaluationId(productId: string, db: Queryable): Promise<string | null> {
    const rows = await db.query<Array<{ id: string }>>(
      `SELECT id::text AS id FROM drift_evaluations WHERE product_id = $1 ORDER BY evaluated_at DESC, created_at DESC LIMIT 1`,
      [productId],
    );
    return rows[0]?.id ?? null;
  }

  /** The label mark recorded by the product's latest evaluation (null when never evaluated). */
  async lastLabelMark(
    productId: string,
  ): Promise<Pick<HighWaterMark, 'labelledVessels' | 'labelChecksum'> | null> {
    const rows = await this.dataSource.query<Array<{ high_water: HighWaterMark }>>(
      `SELECT high_water FROM drift_evaluations WHERE product_id = $1 ORDER BY evaluated_at DESC, created_at DESC LIMIT 1`,
      [productId],
    );
    return rows[0]?.high_water ?? null;
  }
}

const EVALUATION_COLUMNS = `id::text AS id, product_id::text AS product_id, trigger, scope, configuration_version,
  configuration_hash, evaluated_at, window_from, window_to, reference_ids::text[] AS reference_ids, high_water, budget,
  summary, duration_ms, supersedes::text AS supersedes`;

interface EvaluationRow {
  id: string;
  product_id: string;
  trigger: EvaluationTrigger;
  scope: EvaluationScope;
  configuration_version: number;
  configuration_hash: string;
  evaluated_at: Date;
  window_from: Date;
  window_to: Date;
  reference_ids: string[];
  high_water: HighWaterMark;
  budget: Record<string, unknown>;
  summary: EvaluationSummary['counts'];
  duration_ms: number;
  supersedes: string | null;
}

function evaluationSummary(row: EvaluationRow): EvaluationSummary {
  return {
    id: row.id,
    productId: row.product_id,
    trigger: row.trigger,
    scope: row.scope,
    evaluatedAt: new Date(row.evaluated_at).toISOString(),
    window: { from: new Date(row.window_from).toISOString(), to: new Date(row.window_to).toISOString() },
    configuration: { version: row.configuration_version, hash: row.configuration_hash },
    referenceIds: row.reference_ids,
    highWater: row.high_water,
    budget: row.budget,
    counts: row.summary,
    // Alert changes are recorded on the alerts themselves (opened/last signal evaluation ids) and in the audit trail.
    alerts: { opened: [], updated: [], cleared: [] },
    supersedes: row.supersedes,
    durationMs: row.duration_ms,
  };
}

function latest(references: Map<string, ReferenceWindowView>): ReferenceWindowView | undefined {
  let found: ReferenceWindowView | undefined;
  for (const r of references.values()) if (!found || r.createdAt > found.createdAt) found = r;
  return found;
}

function edgesOf(summary: ReferenceSummary): Edges {
  const edges: Partial<Record<string, readonly number[]>> = {};
  for (const [feature, reference] of Object.entries(summary.numeric))
    if (reference) edges[feature] = reference.edges;
  return edges;
}

function segmentOf(kind: SegmentKind, row: LabelledVesselRow): SegmentRef {
  switch (kind) {
    case 'overall':
      return { kind, key: '*' };
    case 'site':
      return { kind, key: row.siteCode };
    case 'scannerVendor':
      return { kind, key: row.scannerVendor };
    case 'modelVersion':
      return { kind, key: row.modelVersion };
  }
}

function batchWindowSize(m: ReturnType<typeof monitorsFor>['batch'][number], a: SegmentAggregates): number {
  switch (m.kind) {
    case 'distribution': {
      const counts = a.numeric[m.feature];
      return counts ? counts.reduce((s, c) => s + c, 0) : 0;
    }
    case 'categorical':
      return Object.values(a[m.feature]).reduce((s, c) => s + c, 0);
    case 'proportion':
      return m.event === 'ctFfrAtOrBelowThreshold' ? a.vessels : a.analyses;
    case 'rate':
      return a.analyses;
  }
}

const finiteOrNull = (x: number | null): number | null => (x !== null && Number.isFinite(x) ? x : null);

function resultView(
  monitorId: string,
  family: string,
  plan: SegmentPlan,
  outcome: MonitorOutcome,
  effective: { version: number; configurationHash: string },
  reference: ReferenceWindowView,
  referenceScope: 'segment' | 'pooled',
): EvaluationResultView {
  return {
    monitorId,
    family,
    segment: plan.segment,
    estimable: outcome.estimable,
    alarm: outcome.alarm,
    statistic: outcome.statistic,
    threshold: outcome.threshold,
    pValue: outcome.pValue,
    n: { reference: outcome.nReference, current: outcome.nCurrent },
    evidence: {
      family,
      ...outcome.evidence,
      // 'segment': compared with this segment's own reference period; 'pooled': with the whole reference.
      reference: {
        id: reference.id,
        kind: reference.kind,
        modelVersion: reference.modelVersion,
        scope: referenceScope,
      },
      configuration: { version: effective.version, hash: effective.configurationHash },
    },
  };
}

export type { DriftConfiguration };
