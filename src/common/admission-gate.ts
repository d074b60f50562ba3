import { BusyException } from './busy.exception';

/**
 * Admits at most `capacity` pieces of heavy request work at once in this process; one more is answered 503 at once
 * (retry shortly). A burst of heavy requests must not queue without bound and take memory or connections from
 * ingestion: the gate is taken before anything that waits (a lock, a worker thread), so waiting is bounded too.
 * The 503 asks the client to come back after `retryAfterSeconds` (a few seconds: one piece of work's typical time).
 */
export class AdmissionGate {
  private inFlight = 0;

  constructor(
    readonly capacity: number,
    private readonly busyMessage: string,
    private readonly retryAfterSeconds = 5,
  ) {}

  get admitted(): number {
    return this.inFlight;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.inFlight >= this.capacity) throw new BusyException(this.busyMessage, this.retryAfterSeconds);
    this.inFlight += 1;
    try {
      return await work();
    } finally {
      this.inFlight -= 1;
    }
  }
}
