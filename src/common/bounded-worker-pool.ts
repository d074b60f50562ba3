import { ServiceUnavailableException } from '@nestjs/common';
import { Piscina } from 'piscina';

export interface BoundedWorkerPoolOptions {
  /** The task module's absolute path without its extension: `.ts` under ts-node / ts-jest, `.js` once built. */
  readonly task: string;
  readonly threads: number;
  /** Requests that may wait for a thread; one more is refused at once. */
  readonly queue: number;
  readonly workerData?: unknown;
  /** The 503's message when every thread and queue place is taken. */
  readonly busyMessage: string;
}

/**
 * Worker threads for request work too heavy for the thread that serves requests and ingests events (detail=full
 * statistics, the label-free accuracy bootstrap). Admission is decided here, before the pool: at most `threads`
 * compute and `queue` wait, and a request beyond that is answered 503 at once — a burst of heavy requests must not
 * queue without bound and take memory or connections from ingestion.
 */
export class BoundedWorkerPool<Request, Result> {
  private readonly pool: Piscina<Request, Result>;
  private inFlight = 0;
  private readonly capacity: number;

  constructor(private readonly options: BoundedWorkerPoolOptions) {
    // Under ts-node / ts-jest the task is TypeScript: the thread registers the same transpiler.
    const typescript = __filename.endsWith('.ts');
    this.capacity = options.threads + options.queue;
    this.pool = new Piscina({
      filename: `${options.task}.${typescript ? 'ts' : 'js'}`,
      execArgv: typescript ? ['--require', 'ts-node/register/transpile-only'] : [],
      minThreads: 0,
      maxThreads: options.threads,
      // Admission is run()'s; the pool's own queue only needs room for every admitted request.
      maxQueue: this.capacity,
      // A thread with nothing to do ends after a minute (and with it any connection it holds).
      idleTimeout: 60_000,
      workerData: options.workerData,
    });
  }

  async run(request: Request): Promise<Result> {
    if (this.inFlight >= this.capacity) throw new ServiceUnavailableException(this.options.busyMessage);
    this.inFlight += 1;
    try {
      return await this.pool.run(request);
    } finally {
      this.inFlight -= 1;
    }
  }

  destroy(): Promise<void> {
    return this.pool.destroy();
  }
}
