import { Piscina } from 'piscina';
import { AdmissionGate } from './admission-gate';

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
  private readonly admission: AdmissionGate;

  constructor(options: BoundedWorkerPoolOptions) {
    // Under ts-node / ts-jest the task is TypeScript: the thread registers the same transpiler.
    const typescript = __filename.endsWith('.ts');
    this.admission = new AdmissionGate(options.threads + options.queue, options.busyMessage);
    this.pool = new Piscina({
      filename: `${options.task}.${typescript ? 'ts' : 'js'}`,
      execArgv: typescript ? ['--require', 'ts-node/register/transpile-only'] : [],
      minThreads: 0,
      maxThreads: options.threads,
      // Admission is run()'s; the pool's own queue only needs room for every admitted request.
      maxQueue: this.admission.capacity,
      // A thread with nothing to do ends after a minute (and with it any connection it holds).
      idleTimeout: 60_000,
      workerData: options.workerData,
    });
  }

  run(request: Request): Promise<Result> {
    return this.admission.run(() => this.pool.run(request));
  }

  destroy(): Promise<void> {
    return this.pool.destroy();
  }
}
