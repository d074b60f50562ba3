import { ServiceUnavailableException } from '@nestjs/common';

/** Retry-After of a request whose lock another run held past its wait: that run is long, so not at once. */
export const LOCK_BUSY_RETRY_AFTER_SECONDS = 10;

/**
 * A 503 that is backpressure, not a failure: the request was refused before any work because the capacity for it
 * (worker places, a lock held by another run) is taken. The answer carries `Retry-After` (RFC 9110 §10.2.3), so a
 * client backs off instead of retrying at once, and it is not logged as an error (http-exception.filter.ts).
 */
export class BusyException extends ServiceUnavailableException {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}
