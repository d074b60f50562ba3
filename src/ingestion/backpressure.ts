/**
 * Ingestion backpressure (issue 9 §4): when PostgreSQL slows down, the consumer stops taking data from Kafka instead
 * of holding more and more of it in memory. The data waits in Kafka, which is built to hold it.
 *
 * - Bounded held messages: a batch enters the pipeline (decode → write) only when the messages already held between
 *   fetch and commit, plus its own, stay within `maxHeldMessages` (a single batch larger than the bound enters alone).
 *   kafkajs itself fetches again only after the batches of the previous fetch are done, so what is in memory is at
 *   most one fetch (maxBytes) per broker plus the held messages' decoded form.
 * - Pause on a slow write: a write still running after `slowWriteMs` pauses fetching of every ingest topic (the
 *   database is shared, so a slow write for one partition predicts slow writes for all); fetching resumes when no
 *   write is slow any more.
 * - Heartbeats while writing: kafkajs sends heartbeats only when asked, so a write longer than the session timeout
 *   would get this member evicted, its partitions fetched again by another member (or itself) while the first write
 *   still holds its batch — the one way a slow database multiplied memory. The write heartbeats every few seconds.
 */
export interface BackpressureStatus {
  paused: boolean;
  pausedSince: string | null;
  /** Times fetching was paused for a slow write, since start. */
  pauses: number;
  /** Messages between fetch and commit now, and the most there have been. */
  heldMessages: number;
  heldMessagesHighWater: number;
  /** The largest single batch seen (it may exceed the bound alone). */
  largestBatch: number;
  /** Batches that waited for room before entering. */
  batchesWaited: number;
}

export interface BackpressureOptions {
  maxHeldMessages: number;
  slowWriteMs: number;
  heartbeatMs: number;
  pause(): void;
  resume(): void;
}

export class IngestionBackpressure {
  private held = 0;
  private slowWrites = 0;
  private readonly waiting: Array<{ count: number; enter: () => void }> = [];
  readonly status: BackpressureStatus = {
    paused: false,
    pausedSince: null,
    pauses: 0,
    heldMessages: 0,
    heldMessagesHighWater: 0,
    largestBatch: 0,
    batchesWaited: 0,
  };

  constructor(private readonly options: BackpressureOptions) {}

  /**
   * Holds `count` messages for the duration of `work` (decode, write, commit), waiting first for room if the bound
   * would be exceeded; `keepAlive` is called every heartbeatMs while waiting and working.
   */
  async hold<T>(count: number, keepAlive: () => Promise<void>, work: () => Promise<T>): Promise<T> {
    this.status.largestBatch = Math.max(this.status.largestBatch, count);
    const heartbeat = setInterval(() => void keepAlive().catch(() => undefined), this.options.heartbeatMs);
    try {
      if (this.waiting.length === 0 && this.fits(count)) {
        this.take(count);
      } else {
        // Admitted by release(), which takes the room on this batch's behalf.
        this.status.batchesWaited++;
        await new Promise<void>((enter) => this.waiting.push({ count, enter }));
      }
      try {
        return await work();
      } finally {
        this.release(count);
      }
    } finally {
      clearInterval(heartbeat);
    }
  }

  /** Runs one database write; past slowWriteMs it pauses fetching until no write is slow. */
  async write<T>(work: () => Promise<T>): Promise<T> {
    let slow = false;
    const timer = setTimeout(() => {
      slow = true;
      this.slowWrites++;
      if (!this.status.paused) {
        this.status.paused = true;
        this.status.pausedSince = new Date().toISOString();
        this.status.pauses++;
        this.options.pause();
      }
    }, this.options.slowWriteMs);
    try {
      return await work();
    } finally {
      clearTimeout(timer);
      if (slow && --this.slowWrites === 0 && this.status.paused) {
        this.status.paused = false;
        this.status.pausedSince = null;
        this.options.resume();
      }
    }
  }

  private fits(count: number): boolean {
    return this.held === 0 || this.held + count <= this.options.maxHeldMessages;
  }

  private take(count: number): void {
    this.held += count;
    this.status.heldMessages = this.held;
    this.status.heldMessagesHighWater = Math.max(this.status.heldMessagesHighWater, this.held);
  }

  private release(count: number): void {
    this.held -= count;
    this.status.heldMessages = this.held;
    // First come, first served: a large batch is not overtaken for ever by small ones.
    while (this.waiting.length > 0 && this.fits(this.waiting[0].count)) {
      const next = this.waiting.shift() as { count: number; enter: () => void };
      this.take(next.count);
      next.enter();
    }
  }
}
