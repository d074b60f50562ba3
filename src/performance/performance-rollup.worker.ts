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
/** Days rebuilt per transaction: bounds a transaction to about a month of one product's analyses. */
const SLICES_PER_PASS = 31;

/**
 * Keeps performance_rollups in step with ingestion and linkage (performance-rollups.ts). Runs in ingest
 * processes; several instances share the work through a per-product advisory lock.
 */
@Injectable()
export class PerformanceRollupWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly pool: Pool;
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
}
