import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { join } from 'node:path';
import { BoundedWorkerPool } from '../common/bounded-worker-pool';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { FullDetailRequest, FullDetailResult } from './full-detail';
import { FullDetailWorkerData } from './full-detail.task';

/** Matches the app's own connections (src/database/data-source.ts): a runaway read ends, not the service. */
const STATEMENT_TIMEOUT_MS = 30_000;

/**
 * The worker threads of `detail=full` (full-detail.ts): at most FW_PERFORMANCE_FULL_WORKERS such requests compute at
 * once and FW_PERFORMANCE_FULL_QUEUE more wait; beyond that the request is answered 503 at once.
 */
@Injectable()
export class FullDetailPool implements OnModuleDestroy {
  private readonly pool: BoundedWorkerPool<FullDetailRequest, FullDetailResult>;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    const workerData: FullDetailWorkerData = {
      databaseUrl: config.DATABASE_URL,
      statementTimeoutMs: STATEMENT_TIMEOUT_MS,
    };
    this.pool = new BoundedWorkerPool({
      task: join(__dirname, 'full-detail.task'),
      threads: config.FW_PERFORMANCE_FULL_WORKERS,
      queue: config.FW_PERFORMANCE_FULL_QUEUE,
      workerData,
      busyMessage:
        'Too many detail=full performance requests are in progress; retry shortly, or use detail=summary (the same figures from the roll-ups)',
    });
  }

  run(request: FullDetailRequest): Promise<FullDetailResult> {
    return this.pool.run(request);
  }

  async onModuleDestroy(): Promise<void> {
    await this.pool.destroy();
  }
}
