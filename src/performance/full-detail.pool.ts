import { Inject, Injectable, OnModuleDestroy, ServiceUnavailableException } from '@nestjs/common';
import { join } from 'node:path';
import { Piscina } from 'piscina';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { FullDetailRequest, FullDetailResult } from './full-detail';
import { FullDetailWorkerData } from './full-detail.task';

/** Matches the app's own connections (src/database/data-source.ts): a runaway read ends, not the service. */
const STATEMENT_TIMEOUT_MS = 30_000;

/**
 * A bounded pool of worker threads for `detail=full` (full-detail.ts). At most FW_PERFORMANCE_FULL_WORKERS such
 * requests compute at once and FW_PERFORMANCE_FULL_QUEUE more wait; beyond that the request is answered 503 at once
 * rather than queued without bound — a burst of heavy reports must not take memory or connections from ingestion.
 */
@Injectable()
export class FullDetailPool implements OnModuleDestroy {
  private readonly pool: Piscina<FullDetailRequest, FullDetailResult>;
  /** Requests computing or waiting; admission is decided here so that a refusal is immediate and exact. */
  private inFlight = 0;
  private readonly capacity: number;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    // Under ts-node / ts-jest the task is TypeScript: the thread registers the same transpiler.
    const typescript = __filename.endsWith('.ts');
    const workerData: FullDetailWorkerData = {
      databaseUrl: config.DATABASE_URL,
      statementTimeoutMs: STATEMENT_TIMEOUT_MS,
    };
    this.capacity = config.FW_PERFORMANCE_FULL_WORKERS + config.FW_PERFORMANCE_FULL_QUEUE;
    this.pool = new Piscina({
      filename: join(__dirname, `full-detail.task.${typescript ? 'ts' : 'js'}`),
      execArgv: typescript ? ['--require', 'ts-node/register/transpile-only'] : [],
      minThreads: 0,
      maxThreads: config.FW_PERFORMANCE_FULL_WORKERS,
      // Admission is run()'s; the pool's own queue only needs room for every admitted request.
      maxQueue: config.FW_PERFORMANCE_FULL_WORKERS + config.FW_PERFORMANCE_FULL_QUEUE,
      // A thread with nothing to do closes its connection after a minute.
      idleTimeout: 60_000,
      workerData,
    });
  }

  async run(request: FullDetailRequest): Promise<FullDetailResult> {
    if (this.inFlight >= this.capacity) {
      throw new ServiceUnavailableException(
        'Too many detail=full performance requests are in progress; retry shortly, or use detail=summary (the same figures from the roll-ups)',
      );
    }
    this.inFlight += 1;
    try {
      return await this.pool.run(request);
    } finally {
      this.inFlight -= 1;
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.pool.destroy();
  }
}
