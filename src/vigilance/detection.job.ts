import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { runAsSystem } from '../database/tenant-context';
import {
  AdvisoryLockWait,
  runsBackgroundWork,
  runWithAdvisoryLock,
  scheduleUtcCron,
} from '../common/singleton-schedule';
import { DetectionRunSummary, DetectionService } from './detection.service';
import { TrendsService } from './trends.service';

export const DETECTION_JOB = 'vigilance-detection';
const LOCK_KEY = `fieldwatch:${DETECTION_JOB}`;
/**
 * How long an on-demand run waits for a scheduled one to finish before its request is answered 503: the wait ended
 * at the connection's 30 s statement timeout when it blocked in PostgreSQL, and keeps that bound.
 */
const ON_DEMAND_LOCK_WAIT_MS = 30_000;

export interface DetectionJobResult {
  /** False when the scheduled run found another instance holding the lock. */
  ran: boolean;
  detectedAt: string;
  products: Array<DetectionRunSummary & { trendSignalsCreated: number }>;
}

/**
 * Candidate detection and trend evaluation (issue 5 §1, §4) on FW_VIGILANCE_DETECTION_CRON (UTC), in processes that run
 * background work, as system work across tenants (runAsSystem). One instance at a time: a session advisory lock (the
 * schedule skips when it is held; POST /incidents/detections waits for it). Idempotent: every candidate has a unique
 * (product, rule, subject) key and every trend signal a unique (product, month, unit, group) key.
 */
@Injectable()
export class VigilanceDetectionJob implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(VigilanceDetectionJob.name);
  private current: Promise<unknown> | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly scheduler: SchedulerRegistry,
    private readonly detection: DetectionService,
    private readonly trends: TrendsService,
  ) {}

  onApplicationBootstrap(): void {
    if (!runsBackgroundWork(this.config.FW_PROCESS_ROLE)) return;
    scheduleUtcCron(this.scheduler, DETECTION_JOB, this.config.FW_VIGILANCE_DETECTION_CRON, () =>
      this.tick(),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.current?.catch(() => undefined);
  }

  /** The schedule's run: every product of every tenant. */
  runOnce(now: Date = new Date()): Promise<DetectionJobResult> {
    const run = runAsSystem(() => this.locked(now, { wait: false }, undefined));
    this.current = run;
    return run.finally(() => {
      if (this.current === run) this.current = null;
    });
  }

  /**
   * On demand (POST /incidents/detections), in the caller's tenant scope: one product, waiting for the lock if the
   * schedule holds it.
   */
  runForProduct(productId: string, now: Date = new Date()): Promise<DetectionJobResult> {
    return this.locked(now, { wait: true, timeoutMs: ON_DEMAND_LOCK_WAIT_MS }, productId);
  }

  private async tick(): Promise<void> {
    try {
      const result = await this.runOnce();
      const created = result.products.reduce((sum, p) => sum + p.incidentIds.length, 0);
      const signals = result.products.reduce((sum, p) => sum + p.trendSignalsCreated, 0);
      if (created > 0 || signals > 0) {
        this.logger.log(`Vigilance detection: ${created} candidate incidents, ${signals} trend signals`);
      }
    } catch (error) {
      this.logger.error(`Vigilance detection failed: ${error instanceof Error ? error.name : typeof error}`);
    }
  }

  private async locked(
    now: Date,
    wait: AdvisoryLockWait,
    productId: string | undefined,
  ): Promise<DetectionJobResult> {
    const result: DetectionJobResult = { ran: false, detectedAt: now.toISOString(), products: [] };
    const locked = await runWithAdvisoryLock(this.dataSource, LOCK_KEY, wait, async () => {
      const toMonth = now.toISOString().slice(0, 7);
      for (const product of await this.detection.products(productId)) {
        const summary = await this.detection.detect(product, now);
        const trendProduct = {
          id: product.id,
          manufacturerId: product.manufacturerId,
          trend: product.trend,
        };
        const report = await this.trends.compute(trendProduct, toMonth);
        const trendSignalsCreated = await this.trends.store(trendProduct, report, now);
        result.products.push({ ...summary, trendSignalsCreated });
      }
    });
    result.ran = locked.ran;
    return result;
  }
}
