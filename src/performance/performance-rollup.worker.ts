import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { loggableError } from '../common/logging';
import { runAsSystem } from '../database/tenant-context';
import { rebuildDirtySlices } from './performance-rollups';

/** How long the worker rests when nothing is dirty: requests compute dirty slices themselves meanwhile. */
const IDLE_MS = 1_000;
/** Days rebuilt per transaction: bounds a transaction to about a month of one product's analyses. */
const SLICES_PER_PASS = 31;

/**
 * Keeps performance_rollups in step with ingestion and linkage (performance-rollups.ts). Runs in ingest
 * processes; several instances share the work through a per-product advisory lock.
 */
@Injectable()
export class PerformanceRollupWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(PerformanceRollupWorker.name);
  private readonly pool: Pool;
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() dataSource: DataSource,
  ) {
    this.pool = (dataSource.driver as PostgresDriver).master as Pool;
  }

  onApplicationBootstrap(): void {
    if (this.config.FW_PROCESS_ROLE === 'api') return;
    this.running = true;
    this.loop = runAsSystem(() => this.run());
  }

  async onApplicationShutdown(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  /** One pass: rebuilds up to a month of one product's dirty slices. Returns the slices rebuilt. */
  async runPass(): Promise<number> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const rebuilt = await rebuildDirtySlices(client, SLICES_PER_PASS);
      await client.query('COMMIT');
      return rebuilt;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      let rebuilt = 0;
      try {
        rebuilt = await this.runPass();
      } catch (error) {
        // The slices stay in the dirty log (the transaction rolled back); requests stay exact meanwhile.
        // Class and SQLSTATE only: a database error's message can quote row values.
        this.logger.error({ error: loggableError(error) }, 'Roll-up pass failed');
      }
      if (rebuilt === 0 && this.running) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, IDLE_MS);
        });
      }
    }
  }
}
