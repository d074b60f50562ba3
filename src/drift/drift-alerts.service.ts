import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { actorOf, AuditActor, AuditService } from '../audit/audit.service';
import { Principal } from '../auth/roles';
import { DriftConfiguration, isLabelledChartMonitor, type SegmentKind } from './drift-config';
import type { EvaluationResultView, EvaluationScope } from './drift-evaluation.service';
import type { HighWaterMark, Queryable } from './drift-queries';
import type { ProductRef } from './reference-windows.service';

export type AlertStatus = 'open' | 'acknowledged' | 'resolved';

export interface DriftAlertView {
  id: string;
  productId: string;
  monitorId: string;
  family: string;
  segment: { kind: SegmentKind; key: string };
  status: AlertStatus;
  /** 'active' while evaluations keep signalling; 'cleared' after the configured number of quiet runs. */
  condition: 'active' | 'cleared';
  openedAt: string;
  openedEvaluationId: string;
  /** Evidence of the run that opened the alert: statistic, threshold, window sizes, configuration hash, high-water mark. */
  evidence: Record<string, unknown>;
  lastSignalAt: string;
  lastSignalEvaluationId: string;
  lastEvidence: Record<string, unknown>;
  signalRuns: number;
  quietRuns: number;
  clearedAt: string | null;
  acknowledged: { at: string; by: string; reason: string } | null;
  resolved: { at: string; by: string; reason: string } | null;
  version: number;
}

interface AlertRow {
  id: string;
  product_id: string;
  monitor_id: string;
  family: string;
  segment_kind: SegmentKind;
  segment_key: string;
  status: AlertStatus;
  condition: 'active' | 'cleared';
  opened_at: Date;
  opened_evaluation_id: string;
  evidence: Record<string, unknown>;
  last_signal_at: Date;
  last_signal_evaluation_id: string;
  last_evidence: Record<string, unknown>;
  signal_runs: number;
  quiet_runs: number;
  cleared_at: Date | null;
  acknowledged_at: Date | null;
  acknowledged_by: string | null;
  acknowledge_reason: string | null;
  resolved_at: Date | null;
  resolved_by: string | null;
  resolve_reason: string | null;
  version: number;
  manufacturer_id: string;
}

const COLUMNS = `id::text AS id, product_id::text AS product_id, manufacturer_id::text AS manufacturer_id, monitor_id,
  family, segment_kind, segment_key, status, condition, opened_at, opened_evaluation_id::text AS opened_evaluation_id,
  evidence, last_signal_at, last_signal_evaluation_id::text AS last_signal_evaluation_id, last_evidence, signal_runs,
  quiet_runs, cleared_at, acknowledged_at, acknowledged_by, acknowledge_reason, resolved_at, resolved_by,
  resolve_reason, version`;

const iso = (d: Date | null): string | null => (d ? new Date(d).toISOString() : null);

function view(row: AlertRow): DriftAlertView {
  return {
    id: row.id,
    productId: row.product_id,
    monitorId: row.monitor_id,
    family: row.family,
    segment: { kind: row.segment_kind, key: row.segment_key },
    status: row.status,
    condition: row.condition,
    openedAt: new Date(row.opened_at).toISOString(),
    openedEvaluationId: row.opened_evaluation_id,
    evidence: row.evidence,
    lastSignalAt: new Date(row.last_signal_at).toISOString(),
    lastSignalEvaluationId: row.last_signal_evaluation_id,
    lastEvidence: row.last_evidence,
    signalRuns: row.signal_runs,
    quietRuns: row.quiet_runs,
    clearedAt: iso(row.cleared_at),
    acknowledged: row.acknowledged_at
      ? {
          at: iso(row.acknowledged_at) as string,
          by: row.acknowledged_by ?? '',
          reason: row.acknowledge_reason ?? '',
        }
      : null,
    resolved: row.resolved_at
      ? { at: iso(row.resolved_at) as string, by: row.resolved_by ?? '', reason: row.resolve_reason ?? '' }
      : null,
    version: row.version,
  };
}

const alertKey = (monitorId: string, kind: string, key: string): string => `${monitorId}|${kind}:${key}`;

export interface AlertChanges {
  opened: string[];
  updated: string[];
  cleared: string[];
}

/**
 * Drift alerts: open → acknowledged → resolved, with hysteresis — one alert per ongoing drift of a monitor × segment
 * (the partial unique index drift_alerts_one_ongoing), later signalling runs update it (latest evidence, signal count),
 * and its condition clears after `hysteresis.clearAfterQuietRuns` consecutive runs without a signal (it stays open
 * until a person resolves it, with a reason). A signal after resolution opens a new alert. Acknowledge and resolve
 * require a reason and go to the audit trail; opening is recorded there too, as the actor that ran the evaluation.
 */
@Injectable()
export class DriftAlertsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
  ) {}

  /**
   * Per monitor × segment, the last signal day of the most recently resolved alert of a chart: a chart re-run over the
   * same labelled stream finds the same old signal again, which must not reopen what a person resolved.
   */
  async resolvedSignalDays(productId: string, db: Queryable): Promise<Map<string, string>> {
    const rows = await db.query<
      Array<{ monitor_id: string; segment_kind: string; segment_key: string; day: string | null }>
    >(
      `SELECT DISTINCT ON (monitor_id, segment_kind, segment_key) monitor_id, segment_kind, segment_key,
              last_evidence #>> '{signals,last,day}' AS day
         FROM drift_alerts WHERE product_id = $1 AND status = 'resolved' AND family = 'accuracy'
        ORDER BY monitor_id, segment_kind, segment_key, resolved_at DESC`,
      [productId],
    );
    const out = new Map<string, string>();
    for (const r of rows) if (r.day) out.set(alertKey(r.monitor_id, r.segment_kind, r.segment_key), r.day);
    return out;
  }

  /** Opens, updates and clears alerts from one evaluation's results, in the evaluation's transaction. */
  async applyEvaluation(
    manager: EntityManager,
    input: {
      evaluationId: string;
      product: ProductRef;
      evaluatedAt: Date;
      scope: EvaluationScope;
      configuration: DriftConfiguration;
      configurationHash: string;
      configurationVersion: number;
      highWater: HighWaterMark;
      results: readonly EvaluationResultView[];
      actor: AuditActor;
    },
  ): Promise<AlertChanges> {
    const changes: AlertChanges = { opened: [], updated: [], cleared: [] };
    const ongoing = await manager.query<AlertRow[]>(
      `SELECT ${COLUMNS} FROM drift_alerts WHERE product_id = $1 AND status <> 'resolved' FOR UPDATE`,
      [input.product.id],
    );
    const byKey = new Map(ongoing.map((a) => [alertKey(a.monitor_id, a.segment_kind, a.segment_key), a]));
    const chartIds = new Set(input.configuration.monitors.filter(isLabelledChartMonitor).map((m) => m.id));
    const signalled = new Set<string>();
    const at = input.evaluatedAt.toISOString();
    for (const result of input.results) {
      if (!result.alarm) continue;
      const key = alertKey(result.monitorId, result.segment.kind, result.segment.key);
      signalled.add(key);
      const evidence = {
        evaluationId: input.evaluationId,
        evaluatedAt: at,
        monitorId: result.monitorId,
        segment: result.segment,
        statistic: result.statistic,
        threshold: result.threshold,
        pValue: result.pValue,
        windowSizes: result.n,
        configuration: { version: input.configurationVersion, hash: input.configurationHash },
        highWater: input.highWater,
        ...result.evidence,
      };
      const existing = byKey.get(key);
      if (existing) {
        await manager.query(
          `UPDATE drift_alerts SET last_signal_at = $2, last_signal_evaluation_id = $3, last_evidence = $4::jsonb,
                  signal_runs = signal_runs + 1, quiet_runs = 0, condition = 'active', cleared_at = NULL,
                  version = version + 1
            WHERE id = $1`,
          [existing.id, at, input.evaluationId, JSON.stringify(evidence)],
        );
        changes.updated.push(existing.id);
        continue;
      }
      const [row] = await manager.query<Array<{ id: string }>>(
        `INSERT INTO drift_alerts (manufacturer_id, product_id, monitor_id, family, segment_kind, segment_key, status,
                    condition, opened_at, opened_evaluation_id, evidence, last_signal_at, last_signal_evaluation_id,
                    last_evidence)
         VALUES ($1, $2, $3, $4, $5, $6, 'open', 'active', $7, $8, $9::jsonb, $7, $8, $9::jsonb)
         RETURNING id::text AS id`,
        [
          input.product.manufacturerId,
          input.product.id,
          result.monitorId,
          result.family,
          result.segment.kind,
          result.segment.key,
          at,
          input.evaluationId,
          JSON.stringify(evidence),
        ],
      );
      await this.audit.record(
        {
          actor: input.actor,
          action: 'drift_alert.open',
          entityId: row.id,
          manufacturerId: input.product.manufacturerId,
          after: evidence,
          details: {
            productId: input.product.id,
            monitorId: result.monitorId,
            segment: result.segment,
            evaluationId: input.evaluationId,
            configurationHash: input.configurationHash,
          },
        },
        manager,
      );
      changes.opened.push(row.id);
    }
    const clearAfter = input.configuration.hysteresis.clearAfterQuietRuns;
    for (const [key, alert] of byKey) {
      if (signalled.has(key)) continue;
      // An accuracy-only re-run says nothing about the batch monitors' or the output location charts' alerts.
      if (input.scope === 'accuracy' && !chartIds.has(alert.monitor_id)) continue;
      const quiet = alert.quiet_runs + 1;
      const clears = alert.condition === 'active' && quiet >= clearAfter;
      await manager.query(
        `UPDATE drift_alerts SET quiet_runs = $2,
                condition = CASE WHEN $3 THEN 'cleared' ELSE condition END,
                cleared_at = CASE WHEN $3 THEN $4::timestamptz ELSE cleared_at END,
                version = version + 1
          WHERE id = $1`,
        [alert.id, quiet, clears, at],
      );
      if (clears) changes.cleared.push(alert.id);
    }
    return changes;
  }

  async list(productId: string, status?: AlertStatus, limit = 200): Promise<DriftAlertView[]> {
    const params: unknown[] = [productId];
    let where = 'product_id = $1';
    if (status) {
      params.push(status);
      where += ` AND status = $${params.length}`;
    }
    params.push(limit);
    const rows = await this.dataSource.query<AlertRow[]>(
      `SELECT ${COLUMNS} FROM drift_alerts WHERE ${where} ORDER BY opened_at DESC, id LIMIT $${params.length}`,
      params,
    );
    return rows.map(view);
  }

  /** One alert of the caller's tenant (row-level security hides the others: 404). */
  async get(
    id: string,
    db: Queryable = this.dataSource,
  ): Promise<DriftAlertView & { manufacturerId: string }> {
    const rows = await db.query<AlertRow[]>(`SELECT ${COLUMNS} FROM drift_alerts WHERE id = $1`, [id]);
    if (rows.length === 0) throw new NotFoundException(`Drift alert ${id} does not exist`);
    return { ...view(rows[0]), manufacturerId: rows[0].manufacturer_id };
  }

  acknowledge(principal: Principal, id: string, reason: string): Promise<DriftAlertView> {
    return this.transition(principal, id, 'acknowledged', reason);
  }

  resolve(principal: Principal, id: string, reason: string): Promise<DriftAlertView> {
    return this.transition(principal, id, 'resolved', reason);
  }

  private async transition(
    principal: Principal,
    id: string,
    to: 'acknowledged' | 'resolved',
    reason: string,
  ): Promise<DriftAlertView> {
    return this.dataSource.transaction(async (manager) => {
      const rows = await manager.query<AlertRow[]>(
        `SELECT ${COLUMNS} FROM drift_alerts WHERE id = $1 FOR UPDATE`,
        [id],
      );
      if (rows.length === 0) throw new NotFoundException(`Drift alert ${id} does not exist`);
      const before = view(rows[0]);
      if (before.status === 'resolved') throw new ConflictException(`Drift alert ${id} is already resolved`);
      if (to === 'acknowledged' && before.status === 'acknowledged') {
        throw new ConflictException(`Drift alert ${id} is already acknowledged`);
      }
      if (to === 'acknowledged') {
        await manager.query(
          `UPDATE drift_alerts SET status = 'acknowledged', acknowledged_at = now(), acknowledged_by = $2,
                  acknowledge_reason = $3, version = version + 1 WHERE id = $1`,
          [id, principal.apiKeyId, reason],
        );
      } else {
        await manager.query(
          `UPDATE drift_alerts SET status = 'resolved', resolved_at = now(), resolved_by = $2, resolve_reason = $3,
                  version = version + 1 WHERE id = $1`,
          [id, principal.apiKeyId, reason],
        );
      }
      const after = await this.get(id, manager);
      await this.audit.record(
        {
          actor: actorOf(principal),
          action: to === 'acknowledged' ? 'drift_alert.acknowledge' : 'drift_alert.resolve',
          entityId: id,
          manufacturerId: rows[0].manufacturer_id,
          before: { status: before.status, condition: before.condition, version: before.version },
          after: { status: after.status, condition: after.condition, version: after.version },
          reason,
          details: {
            productId: before.productId,
            monitorId: before.monitorId,
            segment: before.segment,
            from: before.status,
            to,
          },
        },
        manager,
      );
      const { manufacturerId: _omit, ...rest } = after;
      void _omit;
      return rest;
    });
  }
}
