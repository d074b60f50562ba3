import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { runsBackgroundWork, runWithAdvisoryLock, scheduleUtcCron } from '../common/singleton-schedule';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { runAsSystem } from '../database/tenant-context';
import { DriftEvaluationService } from './drift-evaluation.service';
import { labelMark } from './drift-queries';

export const DRIFT_EVALUATION_JOB = 'drift-evaluation';
export const DRIFT_LATE_LABEL_JOB = 'drift-late-labels';

export interface DriftJobResult {
  /** False when another instance held the lock (it is doing this run). */
  ran: boolean;
  products: Array<{ productId: string; evaluationId?: string; alarms?: number; error?: string }>;
}

/**
 * Scheduled drift evaluation (issue 4 §5). In processes whose FW_PROCESS_ROLE runs background work, as system work
 * across tenants (runAsSystem), one instance at a time (a session advisory lock; the schedule skips when it is held):
 *  - FW_DRIFT_EVALUATION_CRON: every product with an active reference window is evaluated (every monitor);
 *  - FW_DRIFT_LATE_LABEL_CRON: a product whose labelled vessels changed since its latest evaluation (invasive FFR
 *    arrives weeks late) has its accuracy charts re-run; the earlier snapshot stays, the new one names it in
 *    `supersedes`.
 * A product's failure is logged by class and does not stop the others.
 */
@Injectable()
export class DriftEvaluationJob implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DriftEvaluationJob.name);
  private current: Promise<unknown> | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly scheduler: SchedulerRegistry,
    private readonly evaluations: DriftEvaluationService,
  ) {}

  onApplicationBootstrap(): void {
    if (!runsBackgroundWork(this.config.FW_PROCESS_ROLE)) return;
    scheduleUtcCron(this.scheduler, DRIFT_EVALUATION_JOB, this.config.FW_DRIFT_EVALUATION_CRON, () =>
      this.tick(() => this.runOnce()),
    );
    scheduleUtcCron(this.scheduler, DRIFT_LATE_LABEL_JOB, this.config.FW_DRIFT_LATE_LABEL_CRON, () =>
      this.tick(() => this.runLateLabels()),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.current?.catch(() => undefined);
  }

  /** Every product with an active reference, evaluated at `now`. */
  runOnce(now: Date = new Date()): Promise<DriftJobResult> {
    return this.track(
      runAsSystem(() =>
        this.locked(DRIFT_EVALUATION_JOB, async (products) => {
          for (const productId of await this.monitoredProducts()) {
            products.push(
              await this.guard(productId, async () => {
                const evaluation = await this.evaluations.evaluateProduct(productId, now, {
                  trigger: 'schedule',
                });
                return { evaluationId: evaluation.id, alarms: evaluation.counts.alarms };
              }),
            );
          }
        }),
      ),
    );
  }

  /** Accuracy re-runs for products whose labels changed since their latest evaluation. */
  runLateLabels(now: Date = new Date()): Promise<DriftJobResult> {
    return this.track(
      runAsSystem(() =>
        this.locked(DRIFT_LATE_LABEL_JOB, async (products) => {
          for (const productId of await this.monitoredProducts()) {
            const last = await this.evaluations.lastLabelMark(productId);
            if (!last) continue; // never evaluated: the scheduled evaluation comes first
            const mark = await labelMark(this.dataSource, productId);
            if (mark.labelledVessels === last.labelledVessels && mark.labelChecksum === last.labelChecksum)
              continue;
            products.push(
              await this.guard(productId, async () => {
                const evaluation = await this.evaluations.evaluateProduct(productId, now, {
                  trigger: 'late_labels',
                  scope: 'accuracy',
                });
                return { evaluationId: evaluation.id, alarms: evaluation.counts.alarms };
              }),
            );
          }
        }),
      ),
    );
  }

  private async monitoredProducts(): Promise<string[]> {
    const rows = await this.dataSource.query<Array<{ id: string }>>(
      `SELECT DISTINCT product_id::text AS id FROM drift_reference_windows WHERE active ORDER BY 1`,
    );
    return rows.map((r) => r.id);
  }

  private async guard(
    productId: string,
    work: () => Promise<{ evaluationId: string; alarms: number }>,
  ): Promise<DriftJobResult['products'][number]> {
    try {
      return { productId, ...(await work()) };
    } catch (error) {
      const kind = error instanceof Error ? error.name : typeof error;
      this.logger.error(`Drift evaluation of product ${productId} failed: ${kind}`);
      return { productId, error: kind };
    }
  }

  private async locked(
    name: string,
    work: (products: DriftJobResult['products']) => Promise<void>,
  ): Promise<DriftJobResult> {
    const products: DriftJobResult['products'] = [];
    const run = await runWithAdvisoryLock(this.dataSource, `fieldwatch:${name}`, { wait: false }, () =>
      work(products),
    );
    return { ran: run.ran, products };
  }

  private track<T>(run: Promise<T>): Promise<T> {
    this.current = run;
    return run.finally(() => {
      if (this.current === run) this.current = null;
    });
  }

  private async tick(run: () => Promise<DriftJobResult>): Promise<void> {
    try {
      const result = await run();
      const alarms = result.products.reduce((s, p) => s + (p.alarms ?? 0), 0);
      if (result.ran && result.products.length) {
        this.logger.log(`Drift: ${result.products.length} product(s) evaluated, ${alarms} alarm(s)`);
      }
    } catch (error) {
      this.logger.error(`Drift job failed: ${error instanceof Error ? error.name : typeof error}`);
    }
  }
}
