import { AsyncLocalStorage } from 'node:async_hooks';
import { SchedulerRegistry } from '@nestjs/schedule';
// @nestjs/schedule's own scheduler (its SchedulerRegistry takes `cron` CronJobs): the cron time comes from configuration.
import { CronJob } from 'cron';
import { DataSource, QueryRunner } from 'typeorm';
import { AppConfig } from '../config/config';
import { BusyException, LOCK_BUSY_RETRY_AFTER_SECONDS } from './busy.exception';

/**
 * Scheduled jobs that must run once across instances (DESIGN.md §8, scale-out): every instance that runs background
 * work registers the schedule, and a PostgreSQL session advisory lock lets one of them do each run. A session lock on
 * one dedicated connection is held across the run's own short transactions and released when the run ends — or by
 * the server when a crashed process's connection drops, so a dead instance never blocks the others.
 */

/** Process roles that run background work (consumers, workers, schedules); `api` serves requests only. */
export function runsBackgroundWork(role: AppConfig['FW_PROCESS_ROLE']): boolean {
  return role !== 'api';
}

/**
 * Every instance's timer fires the same tick, but not at the same instant (a busy event loop, clock drift), and a
 * lock only excludes runs that overlap: a run shorter than that spread would end before a later-firing instance
 * tries the lock, and the tick would run twice (measured: 3 of 61 ticks of a near-instant run, two instances, a
 * loaded 2-core machine; test/faults/singleton-schedule.fault-spec.ts). So the lock of a scheduled run is held
 * until this long after its tick fired — or half the time to the next tick, for schedules shorter than twice it.
 * The connection stays checked out meanwhile, and a shutdown in that window waits for the hold to end (the jobs
 * await their run in progress).
 */
export const TICK_SPREAD_GUARD_MS = 10_000;

/** The scheduled tick the current work runs for (none for on-demand runs and direct calls). */
const scheduledTicks = new AsyncLocalStorage<{ holdLockUntil: number }>();

/** Registers `onTick` on a UTC cron schedule; a tick that is still running when the next is due delays it. */
export function scheduleUtcCron(
  scheduler: SchedulerRegistry,
  name: string,
  cronTime: string,
  onTick: () => Promise<void>,
): void {
  const job: CronJob = CronJob.from({
    cronTime,
    onTick: () => {
      const firedAt = Date.now();
      const untilNext = job.nextDate().toMillis() - firedAt;
      const holdLockUntil = firedAt + Math.max(0, Math.min(TICK_SPREAD_GUARD_MS, untilNext / 2));
      return scheduledTicks.run({ holdLockUntil }, onTick);
    },
    timeZone: 'UTC',
    waitForCompletion: true,
    start: true,
  });
  scheduler.addCronJob(name, job);
}

export type LockedRun<T> = { ran: true; value: T } | { ran: false };

/**
 * How to take the lock: `wait: false` (a schedule's tick) skips when another instance holds it; `wait: true` (an
 * on-demand request) retries until it is free, for at most `timeoutMs`, and then does not run.
 */
export type AdvisoryLockWait = { readonly wait: false } | { readonly wait: true; readonly timeoutMs: number };

/** First pause between attempts to take a busy lock; it doubles up to LOCK_RETRY_MAX_MS. */
const LOCK_RETRY_FIRST_MS = 50;
const LOCK_RETRY_MAX_MS = 1_000;

/**
 * Runs `work` while holding the session advisory lock named `lockKey`, on one connection checked out for the run.
 * A waiting caller does not block in `pg_advisory_lock`: each attempt is a `pg_try_advisory_lock` on a connection
 * returned to the pool between attempts. Blocked waiters would each hold a pooled connection for as long as the
 * holder runs (a burst of on-demand requests for one lock could take every connection from ingestion), and their
 * wait would end in the statement timeout, not in a deadline of the caller's.
 */
export async function runWithAdvisoryLock<T>(
  dataSource: DataSource,
  lockKey: string,
  options: AdvisoryLockWait,
  work: () => Promise<T>,
): Promise<LockedRun<T>> {
  const deadline = options.wait ? Date.now() + options.timeoutMs : 0;
  let pause = LOCK_RETRY_FIRST_MS;
  for (;;) {
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    try {
      const [{ locked }] = (await runner.query(
        `SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked`,
        [lockKey],
      )) as Array<{ locked: boolean }>;
      if (locked) return { ran: true, value: await runLocked(runner, lockKey, options, work) };
    } finally {
      await runner.release();
    }
    if (!options.wait || Date.now() + pause > deadline) return { ran: false };
    await new Promise((resolve) => setTimeout(resolve, pause));
    pause = Math.min(pause * 2, LOCK_RETRY_MAX_MS);
  }
}

/**
 * An on-demand request's run under `lockKey`: waits up to `timeoutMs` for the lock, and past that answers 503 with
 * Retry-After (BusyException, `busyMessage`) — another run of the same subject holds it.
 */
export async function runWithAdvisoryLockOrBusy<T>(
  dataSource: DataSource,
  lockKey: string,
  timeoutMs: number,
  busyMessage: string,
  work: () => Promise<T>,
): Promise<T> {
  const locked = await runWithAdvisoryLock(dataSource, lockKey, { wait: true, timeoutMs }, work);
  if (!locked.ran) throw new BusyException(busyMessage, LOCK_BUSY_RETRY_AFTER_SECONDS);
  return locked.value;
}

async function runLocked<T>(
  runner: QueryRunner,
  lockKey: string,
  options: AdvisoryLockWait,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } finally {
    // A scheduled run keeps the lock until every instance's timer has fired this tick (TICK_SPREAD_GUARD_MS).
    const tick = options.wait ? undefined : scheduledTicks.getStore();
    const hold = tick ? tick.holdLockUntil - Date.now() : 0;
    if (hold > 0) await new Promise((resolve) => setTimeout(resolve, hold));
    await runner.query(`SELECT pg_advisory_unlock(hashtextextended($1, 0))`, [lockKey]);
  }
}
