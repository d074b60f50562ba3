import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuditService, SYSTEM_ACTOR } from '../audit/audit.service';
import { runsBackgroundWork, runWithAdvisoryLock, scheduleUtcCron } from '../common/singleton-schedule';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { runAsSystem } from '../database/tenant-context';
import { computeIncidentDeadlines, IncidentDeadline, nextDueBy, withStatus } from './incident-clocks';
import { factsOf, INCIDENT_COLUMNS, IncidentRow } from './incident-records';
import { IncidentsService } from './incidents.service';

/** Name of the schedule in the SchedulerRegistry, and of the advisory lock that lets one instance run it at a time. */
export const CLOCK_ALERTS_JOB = 'vigilance-clock-alerts';
const LOCK_KEY = `fieldwatch:${CLOCK_ALERTS_JOB}`;
/** Incidents per read, and per transaction that stores their alerts (keeps audit appends short). */
const PAGE = 500;

export interface ClockRunResult {
  /** False when another instance held the lock (it is doing this run). */
  ran: boolean;
  evaluatedAt: string;
  /** Incidents whose clocks were evaluated. */
  incidents: number;
  /** New alerts by urgency; an alert already raised for the same deadline and urgency is not raised again. */
  raised: { due_soon: number; overdue: number };
  /** Incidents whose cached earliest open deadline (ordering of lists) was out of date and was corrected. */
  refreshed: number;
  /** Incidents whose deadlines could not be computed (logged by id). */
  failures: number;
}

interface PendingAlert {
  readonly row: IncidentRow;
  readonly deadline: IncidentDeadline;
  readonly urgency: 'due_soon' | 'overdue';
}

/**
 * Due-soon and overdue alerts (issue 5 §3). On the FW_VIGILANCE_CLOCK_CRON schedule (UTC), in processes whose
 * FW_PROCESS_ROLE runs background work: every incident whose clocks may run is re-evaluated from the rules, and each
 * open deadline that is due soon (within FW_VIGILANCE_DUE_SOON_HOURS) or overdue gets one alert per urgency, stored in
 * incident_alerts and recorded in the audit trail as the system's. Several instances: a PostgreSQL advisory lock lets
 * one run at a time (the others skip), and the alerts' unique key makes a repeated run raise nothing new.
 */
@Injectable()
export class VigilanceClockJob implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(VigilanceClockJob.name);
  private current: Promise<ClockRunResult> | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly scheduler: SchedulerRegistry,
    private readonly incidents: IncidentsService,
    private readonly audit: AuditService,
  ) {}

  onApplicationBootstrap(): void {
    if (!runsBackgroundWork(this.config.FW_PROCESS_ROLE)) return;
    scheduleUtcCron(this.scheduler, CLOCK_ALERTS_JOB, this.config.FW_VIGILANCE_CLOCK_CRON, () => this.tick());
  }

  /** The schedule itself is stopped by ScheduleModule before shutdown; a run in progress is let finish. */
  async onApplicationShutdown(): Promise<void> {
    await this.current?.catch(() => undefined);
  }

  /** One evaluation of every incident's clocks at `now` (the schedule passes the current time; tests pass theirs). */
  runOnce(now: Date = new Date()): Promise<ClockRunResult> {
    // Spans every tenant (row-level security, src/database/tenant-context.ts), as background work does.
    const run = runAsSystem(() => this.runLocked(now));
    this.current = run;
    return run.finally(() => {
      if (this.current === run) this.current = null;
    });
  }

  private async tick(): Promise<void> {
    try {
      const result = await this.runOnce();
      if (result.ran && (result.raised.due_soon > 0 || result.raised.overdue > 0 || result.failures > 0)) {
        this.logger.log(
          `Vigilance clocks: ${result.incidents} incidents, ${result.raised.due_soon} due-soon and ` +
            `${result.raised.overdue} overdue alerts raised, ${result.failures} failures`,
        );
      }
    } catch (error) {
      this.logger.error(`Vigilance clock run failed: ${error instanceof Error ? error.name : typeof error}`);
    }
  }

  private async runLocked(now: Date): Promise<ClockRunResult> {
    const result: ClockRunResult = {
      ran: false,
      evaluatedAt: now.toISOString(),
      incidents: 0,
      raised: { due_soon: 0, overdue: 0 },
      refreshed: 0,
      failures: 0,
    };
    const locked = await runWithAdvisoryLock(this.dataSource, LOCK_KEY, { wait: false }, () =>
      this.evaluate(now, result),
    );
    result.ran = locked.ran;
    return result;
  }

  private async evaluate(now: Date, result: ClockRunResult): Promise<void> {
    const jurisdictions = new Map<string, Promise<string[]>>();
    const jurisdictionsOf = (row: IncidentRow): Promise<string[]> => {
      let found = jurisdictions.get(row.product_id);
      if (!found) {
        found = this.incidents.productJurisdictions(row.manufacturer_id, row.product_id);
        jurisdictions.set(row.product_id, found);
      }
      return found;
    };
    let afterId = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      // Closed incidents with no open deadline are done; every other incident may have a clock running.
      const rows = await this.dataSource.query<IncidentRow[]>(
        `SELECT ${INCIDENT_COLUMNS} FROM incidents i
          WHERE (i.state <> 'closed' OR i.next_due_by IS NOT NULL) AND i.id > $1
          ORDER BY i.id LIMIT ${PAGE}`,
        [afterId],
      );
      if (rows.length === 0) return;
      afterId = rows[rows.length - 1].id;
      const pending: PendingAlert[] = [];
      const refresh: Array<{ id: string; version: number; dueBy: string | null }> = [];
      for (const row of rows) {
        try {
          const facts = factsOf(row);
          const { deadlines } = computeIncidentDeadlines(facts, await jurisdictionsOf(row));
          const dueBy = nextDueBy(deadlines, facts.settledDeadlines);
          if (dueBy !== row.next_due_by) refresh.push({ id: row.id, version: row.version, dueBy });
          for (const deadline of withStatus(
            deadlines,
            facts.settledDeadlines,
            now,
            this.incidents.dueSoonWithinHours,
          )) {
            if (
              deadline.status === 'open' &&
              (deadline.urgency === 'due_soon' || deadline.urgency === 'overdue')
            ) {
              pending.push({ row, deadline, urgency: deadline.urgency });
            }
          }
          result.incidents++;
        } catch (error) {
          result.failures++;
          this.logger.warn(
            `Incident ${row.id}: deadlines not computed (${error instanceof Error ? error.name : typeof error})`,
          );
        }
      }
      await this.store(pending, refresh, now, result);
    }
  }

  private async store(
    pending: readonly PendingAlert[],
    refresh: ReadonlyArray<{ id: string; version: number; dueBy: string | null }>,
    now: Date,
    result: ClockRunResult,
  ): Promise<void> {
    if (pending.length === 0 && refresh.length === 0) return;
    await this.dataSource.transaction(async (manager) => {
      for (const { row, deadline, urgency } of pending) {
        const inserted = await manager.query<Array<{ id: string }>>(
          `INSERT INTO incident_alerts (manufacturer_id, product_id, incident_id, urgency, jurisdiction, rule_id, rule,
                                        country, due_at, due_by, hours_remaining, evaluated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::timestamptz, $11, $12::timestamptz)
           ON CONFLICT (incident_id, rule_id, country, due_by, urgency) DO NOTHING
           RETURNING id::text AS id`,
          [
            row.manufacturer_id,
            row.product_id,
            row.id,
            urgency,
            deadline.jurisdiction,
            deadline.ruleId,
            deadline.rule,
            deadline.country,
            deadline.dueAt,
            deadline.dueBy,
            deadline.hoursRemaining ?? 0,
            now.toISOString(),
          ],
        );
        if (inserted.length === 0) continue;
        await this.audit.record(
          {
            actor: SYSTEM_ACTOR,
            action: 'incident.alert_raise',
            entityId: row.id,
            manufacturerId: row.manufacturer_id,
            details: {
              alertId: inserted[0].id,
              urgency,
              ruleId: deadline.ruleId,
              country: deadline.country,
              dueAt: deadline.dueAt,
              dueBy: deadline.dueBy,
              evaluatedAt: now.toISOString(),
            },
          },
          manager,
        );
        result.raised[urgency]++;
      }
      for (const { id, version, dueBy } of refresh) {
        // Only if unchanged since read: a triage change in between wrote a fresh value itself.
        const [, affected] = await manager.query<[unknown[], number]>(
          `UPDATE incidents SET next_due_by = $3::timestamptz WHERE id = $1 AND version = $2`,
          [id, version, dueBy],
        );
        result.refreshed += affected;
      }
    });
  }
}
