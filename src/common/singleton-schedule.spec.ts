/**
 * The lock discipline of scheduled runs, without a database: a fake query runner records the lock calls, and fake
 * timers show when the lock is released. That two real processes run each tick once is shown against PostgreSQL in
 * test/faults/singleton-schedule.fault-spec.ts.
 */
import { SchedulerRegistry } from '@nestjs/schedule';
import type { DataSource } from 'typeorm';
import { BusyException } from './busy.exception';
import {
  runWithAdvisoryLock,
  runWithAdvisoryLockOrBusy,
  scheduleUtcCron,
  TICK_SPREAD_GUARD_MS,
} from './singleton-schedule';

/** `lockFree`: whether each try finds the lock free, in turn (the last answer repeats). */
function fakeDataSource(lockFree: boolean | boolean[] = true) {
  const answers = Array.isArray(lockFree) ? [...lockFree] : [lockFree];
  const calls: string[] = [];
  const runner = {
    connect: () => Promise.resolve(),
    release: () => {
      calls.push('release');
      return Promise.resolve();
    },
    query: (sql: string) => {
      const call = /pg_(try_)?advisory_(un)?lock/.exec(sql)?.[0] ?? sql;
      calls.push(call);
      const locked = answers.length > 1 ? answers.shift() : answers[0];
      return Promise.resolve(call === 'pg_try_advisory_lock' ? [{ locked }] : []);
    },
  };
  return { calls, dataSource: { createQueryRunner: () => runner } as unknown as DataSource };
}

describe('runWithAdvisoryLock in and out of a scheduled tick', () => {
  const scheduler = new SchedulerRegistry();

  beforeEach(() => {
    jest.useFakeTimers();
    jest.setSystemTime(new Date('2026-01-01T00:00:00.100Z'));
  });

  afterEach(() => {
    for (const name of scheduler.getCronJobs().keys()) scheduler.deleteCronJob(name);
    jest.useRealTimers();
  });

  /** Registers `cronTime`, fires one tick by hand, and lets the run take the lock and do its (instant) work. */
  async function tick(cronTime: string, wait: boolean, lockFree = true) {
    const fake = fakeDataSource(lockFree);
    let ran: boolean | undefined;
    scheduleUtcCron(scheduler, `job-${cronTime}-${String(wait)}`, cronTime, async () => {
      const options = wait ? { wait, timeoutMs: 60_000 } : { wait };
      ran = (await runWithAdvisoryLock(fake.dataSource, 'k', options, () => Promise.resolve(1))).ran;
    });
    void scheduler.getCronJob(`job-${cronTime}-${String(wait)}`).fireOnTick();
    await jest.advanceTimersByTimeAsync(0);
    return { ...fake, ran: () => ran };
  }

  it('releases at once outside a schedule (a direct call or an on-demand run)', async () => {
    const { calls, dataSource } = fakeDataSource();
    await expect(
      runWithAdvisoryLock(dataSource, 'k', { wait: false }, () => Promise.resolve(7)),
    ).resolves.toEqual({
      ran: true,
      value: 7,
    });
    expect(calls).toEqual(['pg_try_advisory_lock', 'pg_advisory_unlock', 'release']);
  });

  it('holds a scheduled run’s lock until the guard after the tick, for a 15-minute schedule', async () => {
    const { calls, ran } = await tick('0 */15 * * * *', false);
    expect(calls).toEqual(['pg_try_advisory_lock']);
    await jest.advanceTimersByTimeAsync(TICK_SPREAD_GUARD_MS - 1);
    expect(calls).toEqual(['pg_try_advisory_lock']);
    await jest.advanceTimersByTimeAsync(1);
    expect(calls).toEqual(['pg_try_advisory_lock', 'pg_advisory_unlock', 'release']);
    expect(ran()).toBe(true);
  });

  it('holds for half the time to the next tick on a schedule shorter than twice the guard', async () => {
    // Fired at 00:00:00.100, next tick at 00:00:04.000: held for 1,950 ms.
    const { calls } = await tick('*/4 * * * * *', false);
    await jest.advanceTimersByTimeAsync(1_949);
    expect(calls).toEqual(['pg_try_advisory_lock']);
    await jest.advanceTimersByTimeAsync(1);
    expect(calls).toEqual(['pg_try_advisory_lock', 'pg_advisory_unlock', 'release']);
  });

  it('does not hold a waiting (on-demand) lock taken inside a tick, nor a lock it did not get', async () => {
    const waiting = await tick('0 */15 * * * *', true);
    expect(waiting.calls).toEqual(['pg_try_advisory_lock', 'pg_advisory_unlock', 'release']);
    const skipped = await tick('0 */30 * * * *', false, false);
    expect(skipped.calls).toEqual(['pg_try_advisory_lock', 'release']);
    expect(skipped.ran()).toBe(false);
  });

  it('waits for a busy lock without holding a connection, retrying until it is free', async () => {
    const { calls, dataSource } = fakeDataSource([false, false, false, true]);
    const run = runWithAdvisoryLock(dataSource, 'k', { wait: true, timeoutMs: 60_000 }, () =>
      Promise.resolve(3),
    );
    await jest.advanceTimersByTimeAsync(0);
    // Each failed try gives its connection back before the pause: none is held while the holder runs.
    expect(calls).toEqual(['pg_try_advisory_lock', 'release']);
    await jest.advanceTimersByTimeAsync(50 + 100 + 200);
    await expect(run).resolves.toEqual({ ran: true, value: 3 });
    expect(calls).toEqual([
      ...Array<string[]>(3).fill(['pg_try_advisory_lock', 'release']).flat(),
      'pg_try_advisory_lock',
      'pg_advisory_unlock',
      'release',
    ]);
  });

  it('gives up a wait at its deadline, without running and without holding anything', async () => {
    const { calls, dataSource } = fakeDataSource(false);
    let ran = false;
    const run = runWithAdvisoryLock(dataSource, 'k', { wait: true, timeoutMs: 5_000 }, () => {
      ran = true;
      return Promise.resolve(0);
    });
    // Pauses of 50, 100, 200, 400, 800 and 1,000 ms: tries at 0, 50, 150, 350, 750, 1,550, 2,550, 3,550 and 4,550 ms;
    // the next pause would pass the deadline.
    await jest.advanceTimersByTimeAsync(5_000);
    await expect(run).resolves.toEqual({ ran: false });
    expect(ran).toBe(false);
    expect(calls).toEqual(Array<string[]>(9).fill(['pg_try_advisory_lock', 'release']).flat());
  });

  it('answers an on-demand request 503 with Retry-After when the lock stays taken past its wait', async () => {
    const { calls, dataSource } = fakeDataSource(false);
    const run = runWithAdvisoryLockOrBusy(dataSource, 'k', 1_000, 'busy; retry shortly', () =>
      Promise.resolve(1),
    );
    const settled = run.catch((error: unknown) => error);
    await jest.advanceTimersByTimeAsync(1_000);
    const error = await settled;
    expect(error).toBeInstanceOf(BusyException);
    expect(error).toMatchObject({ message: 'busy; retry shortly', retryAfterSeconds: 10 });
    expect(calls.filter((call) => call === 'pg_try_advisory_lock').length).toBe(
      calls.filter((call) => call === 'release').length,
    );
  });

  it('returns the work’s value when the lock is free', async () => {
    const { dataSource } = fakeDataSource(true);
    await expect(
      runWithAdvisoryLockOrBusy(dataSource, 'k', 1_000, 'busy', () => Promise.resolve(7)),
    ).resolves.toBe(7);
  });
});
