import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { loggableError } from '../common/logging';
import { runAsSystem } from '../database/tenant-context';
import { OutcomeLinker } from './outcome-linker';

/** How long the worker rests when the inbox is empty: the linkage delay after an event arrives. */
const IDLE_MS = 500;

/**
 * Runs the linker in ingest processes. Several instances share the inbox safely (each pass takes
 * its keys with SKIP LOCKED), so linkage scales out with ingestion.
 */
@Injectable()
export class LinkageWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(LinkageWorker.name);
  readonly linker: OutcomeLinker;
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() dataSource: DataSource,
  ) {
    this.linker = new OutcomeLinker(
      (dataSource.driver as PostgresDriver).master as Pool,
      config.FW_LINKAGE_WINDOW_DAYS,
    );
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

  private async run(): Promise<void> {
    while (this.running) {
      let keys = 0;
      try {
        keys = (await this.linker.runPass()).keys;
      } catch (error) {
        // The keys of a failed pass stay queued (its transaction rolled back); try again later.
        // Class and SQLSTATE only: a database error's message can quote row values.
        this.logger.error({ error: loggableError(error) }, 'Linkage pass failed');
      }
      if (keys === 0 && this.running) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, IDLE_MS);
        });
      }
    }
  }
}
