import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { BackgroundLoop } from '../common/background-loop';
import { OutcomeLinker } from './outcome-linker';

/** How long the worker rests when the inbox is empty: the linkage delay after an event arrives. */
const IDLE_MS = 500;

/**
 * Runs the linker in ingest processes. Several instances share the inbox safely (each pass takes
 * its keys with SKIP LOCKED), so linkage scales out with ingestion.
 */
@Injectable()
export class LinkageWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly linker: OutcomeLinker;
  private readonly loop: BackgroundLoop;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() dataSource: DataSource,
  ) {
    this.linker = new OutcomeLinker(
      (dataSource.driver as PostgresDriver).master as Pool,
      config.FW_LINKAGE_WINDOW_DAYS,
    );
    // A failed pass's keys stay queued (its transaction rolled back).
    this.loop = new BackgroundLoop(
      new Logger(LinkageWorker.name),
      'Linkage pass failed',
      IDLE_MS,
      async () => {
        return (await this.linker.runPass()).keys;
      },
    );
  }

  onApplicationBootstrap(): void {
    if (this.config.FW_PROCESS_ROLE !== 'api') this.loop.start();
  }

  onApplicationShutdown(): Promise<void> {
    return this.loop.stop();
  }
}
