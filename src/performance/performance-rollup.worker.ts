import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { BackgroundLoop } from '../common/background-loop';
import { rebuildDirtySlices } from './performance-rollups';

/** How long the worker rests when nothing is dirty: requests compute dirty slices themselves meanwhile. */
const IDLE_MS = 1_000;
/** Days rebuilt per transaction at most: bounds a transaction to about a month of one product's analyses. */
const MAX_SLICES_PER_PASS = 31;
/**
 * A pass aims at this duration: the days per pass halve after a slower pass and double after a fast full one, so that
 * under heavy ingestion passes still commit (and requests see their days as rolled up) instead of growing until they
 * time out.
 */
const TARGET_PASS_MS = 5_000;
/**
 * Statement timeout inside a pass. The pool's 30 s is a request's budget; a pass is background work, and under load
 * (bench:soak at 5,000 events/s) its statements exceeded 30 s, every pass was cancelled and the roll-ups fell ever
 * further behind. Reports' aggregate reads use the same 300 s (src/reports/report-data.service.ts).
 */
const PASS_STATEMENT_TIMEOUT = '300s';

/**
 * Keeps performance_rollups in step with ingestion and linkage (performance-rollups.ts). Runs in ingest
 * processes; several instances share the work through a per-product advisory lock.
 */
@Injectable()
export class PerformanceRollupWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly pool: Pool;
  private slicesPerPass = MAX_SLICES_PER_PASS;
  // A failed pass leaves its slices in the dirty log; requests stay exact meanwhile.
  private readonly loop = new BackgroundLoop(
    new Logger(PerformanceRollupWorker.name),
    'Roll-up pass failed',
    IDLE_MS,
    () => this.runPass(),
  );

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() dataSource: DataSource,
  ) {
    this.pool = (dataSource.driver as PostgresDriver).master as Pool;
  }

  onApplicationBootstrap(): void {
    if (this.config.FW_PROCESS_ROLE !== 'api') this.loop.start();
  }

  onApplicationShutdown(): Promise<void> {
    return this.loop.stop();
  }

  /** One pass: rebuilds up to a month of one product's dirty slices. Returns the slices rebuilt. */
  async runPass(): Promise<number> {
    const client = await this.pool.connect();
    const started = Date.now();
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL statement_timeout = '${PASS_STATEMENT_TIMEOUT}'`);
      // JIT compiling dominated a day's pass when the planner counted every partition (16928af, the request path).
      await client.query('SET LOCAL jit = off');
      const slices = this.slicesPerPass;
      const rebuilt = await rebuildDirtySlices(client, slices);
      await client.query('COMMIT');
      const elapsed = Date.now() - started;
      if (elapsed > 2 * TARGET_PASS_MS) this.slicesPerPass = Math.max(1, Math.floor(slices / 2));
      else if (elapsed < TARGET_PASS_MS / 2 && rebuilt === slices)
        this.slicesPerPass = Math.min(MAX_SLICES_PER_PASS, slices * 2);
      return rebuilt;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      // A pass that failed (a timeout, a conflict) is retried smaller.
      this.slicesPerPass = Math.max(1, Math.floor(this.slicesPerPass / 2));
      throw error;
    } finally {
      client.release();
    }
  }
}
