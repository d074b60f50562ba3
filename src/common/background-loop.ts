import { Logger } from '@nestjs/common';
import { runAsSystem } from '../database/tenant-context';
import { loggableError } from './logging';

/**
 * A worker loop for ingest processes (linkage, performance roll-ups): runs `pass` again at once while it
 * finds work, rests `idleMs` when it finds none, and on shutdown wakes from its rest and waits for the pass
 * in flight. Passes run as system work (row-level security: they span tenants). A failed pass is logged by
 * class and SQLSTATE only — a database error's message can quote row values — and retried after a rest;
 * each pass is one transaction, so its work stays queued.
 */
export class BackgroundLoop {
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;

  constructor(
    private readonly logger: Logger,
    private readonly failureMessage: string,
    private readonly idleMs: number,
    /** Returns how much work the pass did; 0 means rest. */
    private readonly pass: () => Promise<number>,
  ) {}

  start(): void {
    this.running = true;
    this.loop = runAsSystem(() => this.run());
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      let done = 0;
      try {
        done = await this.pass();
      } catch (error) {
        this.logger.error({ error: loggableError(error) }, this.failureMessage);
      }
      if (done === 0 && this.running) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, this.idleMs);
        });
      }
    }
  }
}
