import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuditService, SYSTEM_ACTOR } from '../audit/audit.service';
import { runsBackgroundWork, runWithAdvisoryLock, scheduleUtcCron } from '../common/singleton-schedule';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { runAsSystem } from '../database/tenant-context';

/** Name of the schedule, and of the advisory lock that lets one instance run it at a time. */
export const PARTITION_MAINTENANCE_JOB = 'storage-partition-maintenance';
const LOCK_KEY = `fieldwatch:${PARTITION_MAINTENANCE_JOB}`;
/**
 * A retired device's data is kept this long after its revocation before retention may remove it: 21 CFR 803.18 (two
 * years from the event or the expected device life) and SAMR/NHC Order No. 1 (until 2 years after device expiry).
 */
export const DEVICE_RETIREMENT_GRACE_MONTHS = 24;
/** The partitioned tables retention applies to (vessels go with their analyses). */
const RETAINED_TABLES = ['analyses', 'device_events'] as const;

export interface RetentionDecision {
  table: (typeof RETAINED_TABLES)[number];
  month: string;
  retired: boolean;
  rows?: number;
  vesselRows?: number;
  keptBecause?: string;
}

export interface PartitionMaintenanceResult {
  /** False when another instance held the lock (it is doing this run). */
  ran: boolean;
  /** Partitions created (all three tables count). */
  created: number;
  /** Months retention looked at (only when FW_RETENTION_MONTHS is set). */
  retention: RetentionDecision[];
}

/** 'YYYY-MM-01' of the month `offset` months from `now`'s month (UTC). */
export function utcMonth(now: Date, offset: number): string {
  const month = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
  return month.toISOString().slice(0, 10);
}

/**
 * Monthly event partitions ahead of time, and retention (docs/storage/partitioning.md). On FW_PARTITION_MAINTENANCE_CRON
 * (UTC) and once at start, in processes that run background work, one instance at a time (advisory lock):
 * partitions from the current month through FW_PARTITION_MONTHS_AHEAD months ahead are created if missing; when
 * FW_RETENTION_MONTHS is set, each month older than it is offered to fieldwatch_retire_event_partition, which keeps it
 * if any guard holds (device in service or retired < 24 months, open incident, draft report) and otherwise removes it
 * with its derived state queued for recomputation. Each removal is recorded in the audit trail with its reason.
 */
@Injectable()
export class PartitionMaintenanceJob implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(PartitionMaintenanceJob.name);
  private current: Promise<PartitionMaintenanceResult> | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly scheduler: SchedulerRegistry,
    private readonly audit: AuditService,
  ) {}

  onApplicationBootstrap(): void {
    if (!runsBackgroundWork(this.config.FW_PROCESS_ROLE)) return;
    scheduleUtcCron(
      this.scheduler,
      PARTITION_MAINTENANCE_JOB,
      this.config.FW_PARTITION_MAINTENANCE_CRON,
      () => this.tick(),
    );
    // A deployment that starts after the last scheduled run still gets its months ahead now.
    void this.tick();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.current?.catch(() => undefined);
  }

  /** One maintenance run at `now` (the schedule passes the current time; tests pass theirs). */
  runOnce(now: Date = new Date()): Promise<PartitionMaintenanceResult> {
    const run = runAsSystem(async () => {
      const locked = await runWithAdvisoryLock(this.dataSource, LOCK_KEY, { wait: false }, () =>
        this.maintain(now),
      );
      return locked.ran ? locked.value : { ran: false, created: 0, retention: [] };
    });
    this.current = run;
    return run.finally(() => {
      if (this.current === run) this.current = null;
    });
  }

  private async tick(): Promise<void> {
    try {
      const result = await this.runOnce();
      const retired = result.retention.filter((decision) => decision.retired);
      if (result.created > 0 || retired.length > 0) {
        this.logger.log(
          `Event partitions: ${result.created} created, ${retired.length} months retired ` +
            `(${retired.map((decision) => `${decision.table} ${decision.month}`).join(', ') || 'none'})`,
        );
      }
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      this.logger.error(
        `Partition maintenance failed: ${error instanceof Error ? error.name : typeof error}` +
          ` (SQLSTATE ${typeof code === 'string' ? code : 'n/a'})`,
      );
    }
  }

  private async maintain(now: Date): Promise<PartitionMaintenanceResult> {
    const months = Array.from({ length: this.config.FW_PARTITION_MONTHS_AHEAD + 1 }, (_, offset) =>
      utcMonth(now, offset),
    );
    const [{ created }] = await this.dataSource.query<Array<{ created: number }>>(
      'SELECT fieldwatch_ensure_event_partitions($1::date[]) AS created',
      [months],
    );
    const retention = this.config.FW_RETENTION_MONTHS > 0 ? await this.retire(now) : [];
    return { ran: true, created, retention };
  }

  /** Offers every month older than the retention period to the guarded retirement, oldest first. */
  private async retire(now: Date): Promise<RetentionDecision[]> {
    const cutoff = utcMonth(now, -this.config.FW_RETENTION_MONTHS);
    const candidates = await this.dataSource.query<
      Array<{ table: RetentionDecision['table']; month: string }>
    >(
      `SELECT parent.relname AS table, to_char(to_date(substring(child.relname FROM '_p([0-9]{6})$'), 'YYYYMM'),
                                               'YYYY-MM-DD') AS month
         FROM pg_inherits i
         JOIN pg_class parent ON parent.oid = i.inhparent
         JOIN pg_class child ON child.oid = i.inhrelid
        WHERE parent.relname = ANY($1::text[]) AND child.relname ~ '_p[0-9]{6}$'
          AND to_date(substring(child.relname FROM '_p([0-9]{6})$'), 'YYYYMM') < $2::date
        ORDER BY 2, 1`,
      [RETAINED_TABLES, cutoff],
    );
    const decisions: RetentionDecision[] = [];
    for (const { table, month } of candidates) {
      // The removal and its audit entry commit together.
      const decision = await this.dataSource.transaction(async (manager) => {
        const [{ outcome }] = await manager.query<
          Array<{ outcome: { retired: boolean; rows?: number; vesselRows?: number; keptBecause?: string } }>
        >('SELECT fieldwatch_retire_event_partition($1, $2::date, $3, $4) AS outcome', [
          table,
          month,
          this.config.FW_RETENTION_MONTHS,
          DEVICE_RETIREMENT_GRACE_MONTHS,
        ]);
        if (outcome.retired && table === 'analyses') {
          // The drift day roll-ups (src/drift/drift-rollups.ts) summarise these analyses: a retired month leaves them
          // too, or a window reaching back over it would still count what is gone.
          await manager.query(
            `DELETE FROM drift_daily_cells WHERE day >= $1::date AND day < ($1::date + interval '1 month')`,
            [month],
          );
        }
        if (outcome.retired) {
          await this.audit.record(
            {
              actor: SYSTEM_ACTOR,
              action: 'storage.partition_retire',
              entityId: `${table}:${month.slice(0, 7)}`,
              manufacturerId: null,
              reason: `older than FW_RETENTION_MONTHS=${this.config.FW_RETENTION_MONTHS}; no device in service or retired within ${DEVICE_RETIREMENT_GRACE_MONTHS} months, no open incident, no draft report`,
              details: { table, month, rows: outcome.rows, vesselRows: outcome.vesselRows },
            },
            manager,
          );
        }
        return { table, month, ...outcome };
      });
      decisions.push(decision);
    }
    return decisions;
  }
}
