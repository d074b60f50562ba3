import { SchedulerRegistry } from '@nestjs/schedule';
// @nestjs/schedule's own scheduler (its SchedulerRegistry takes `cron` CronJobs): the cron time comes from configuration.
import { CronJob } from 'cron';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/config';

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

/** Registers `onTick` on a UTC cron schedule; a tick that is still running when the next is due delays it. */
export function scheduleUtcCron(
  scheduler: SchedulerRegistry,
  name: string,
  cronTime: string,
  onTick: () => Promise<void>,
): void {
  const job = CronJob.from({ cronTime, onTick, timeZone: 'UTC', waitForCompletion: true, start: true });
  scheduler.addCronJob(name, job);
}

export type LockedRun<T> = { ran: true; value: T } | { ran: false };

/**
 * Runs `work` while holding the session advisory lock named `lockKey`. `wait: false` (a schedule's tick) skips when
 * another instance holds it; `wait: true` (an on-demand request) queues behind it.
 */
export async function runWithAdvisoryLock<T>(
  dataSource: DataSource,
  lockKey: string,
  options: { wait: boolean },
  work: () => Promise<T>,
): Promise<LockedRun<T>> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    if (options.wait) {
      await runner.query(`SELECT pg_advisory_lock(hashtextextended($1, 0))`, [lockKey]);
    } else {
      const [{ locked }] = (await runner.query(
        `SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked`,
        [lockKey],
      )) as Array<{ locked: boolean }>;
      if (!locked) return { ran: false };
    }
    try {
      return { ran: true, value: await work() };
    } finally {
      await runner.query(`SELECT pg_advisory_unlock(hashtextextended($1, 0))`, [lockKey]);
    }
  } finally {
    await runner.release();
  }
}
