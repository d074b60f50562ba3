import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { Pool } from 'pg';
import { pollUntil, sleep } from '../helpers/poll';
import { TEST_DATABASE_URL } from '../helpers/test-environment';

jest.setTimeout(600_000);

const ROOT = join(__dirname, '..', '..');
const CRON = '*/4 * * * * *';
const PERIOD_MS = 4_000;

interface Instance {
  name: string;
  child: ChildProcess;
  output: string;
}

/**
 * Scheduled jobs run once across instances (src/common/singleton-schedule.ts): two real processes register the same
 * schedule with the platform's helpers, as every scheduled job does, and each tick's run records itself. The run is
 * near-instant — the hardest case for a lock, since the later-firing instance tries it after the first has finished.
 * Every tick both instances fired must have exactly one run; then the instance holding the lock is killed with
 * SIGKILL and the survivor must take every later tick (the server frees a dead session's lock).
 */
describe('scale-out: a schedule on two instances runs once per tick', () => {
  const run = `${Date.now().toString(36)}`;
  const database = new Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
  const instances: Instance[] = [];

  const launch = (name: string): Instance => {
    const child = spawn(
      process.execPath,
      [
        '-r',
        'ts-node/register/transpile-only',
        'test/faults/fixtures/scheduled-instance.ts',
        name,
        '0',
        CRON,
      ],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          DATABASE_URL: TEST_DATABASE_URL,
          TS_NODE_PROJECT: join(ROOT, 'tsconfig.json'),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const instance: Instance = { name, child, output: '' };
    const capture = (chunk: Buffer) => (instance.output += chunk.toString('utf8'));
    child.stdout?.on('data', capture);
    child.stderr?.on('data', capture);
    instances.push(instance);
    return instance;
  };

  const ready = (instance: Instance) =>
    pollUntil(
      () => {
        if (instance.child.exitCode !== null) throw new Error(`${instance.name} exited:\n${instance.output}`);
        return Promise.resolve(instance.output.includes(`ready ${instance.name}`));
      },
      (isReady) => isReady,
      { timeoutMs: 240_000, intervalMs: 250, what: `${instance.name} to start` },
    );

  beforeAll(async () => {
    await database.query(`CREATE TABLE IF NOT EXISTS fault_schedule_runs (
      tick timestamptz NOT NULL, instance text NOT NULL, started_at timestamptz NOT NULL, ended_at timestamptz,
      PRIMARY KEY (tick, instance))`);
    await database.query(`CREATE TABLE IF NOT EXISTS fault_schedule_attempts (
      tick timestamptz NOT NULL, instance text NOT NULL, ran boolean NOT NULL)`);
  });

  afterAll(async () => {
    for (const { child } of instances) if (child.exitCode === null) child.kill('SIGKILL');
    await database.end();
  });

  it('runs each tick once while both instances fire it, and on the survivor after the holder is killed', async () => {
    const a = launch(`a-${run}`);
    const b = launch(`b-${run}`);
    await Promise.all([ready(a), ready(b)]);
    const names = [a.name, b.name];
    const bothFired = async () =>
      (
        await database.query<{ tick: Date; attempts: number; ran: number; runs: number }>(
          `SELECT t.tick, count(*)::int AS attempts, count(*) FILTER (WHERE t.ran)::int AS ran,
                  (SELECT count(*)::int FROM fault_schedule_runs r WHERE r.tick = t.tick AND r.instance = ANY($1)) AS runs
             FROM fault_schedule_attempts t WHERE t.instance = ANY($1)
            GROUP BY t.tick HAVING count(DISTINCT t.instance) = 2 ORDER BY t.tick`,
          [names],
        )
      ).rows;
    const shared = await pollUntil(bothFired, (ticks) => ticks.length >= 10, {
      timeoutMs: 240_000,
      intervalMs: 1_000,
      what: 'ten ticks fired by both instances',
    });
    for (const tick of shared) expect({ tick: tick.tick, attempts: 2, ran: 1, runs: 1 }).toEqual(tick);
    // Runs never overlap.
    const overlaps = await database.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM fault_schedule_runs x JOIN fault_schedule_runs y
          ON x.instance <> y.instance AND x.started_at < y.ended_at AND y.started_at < x.ended_at
        WHERE x.instance = ANY($1) AND y.instance = ANY($1)`,
      [names],
    );
    expect(overlaps.rows[0].n).toBe(0);

    // Kill the instance that ran the latest tick while it holds the lock (it keeps it for half a period after a tick).
    await pollUntil(
      () => {
        const sinceTick = Date.now() % PERIOD_MS;
        return Promise.resolve(sinceTick > 200 && sinceTick < 1_000);
      },
      (inWindow) => inWindow,
      { intervalMs: 20, what: 'the moment just after a tick' },
    );
    const latest = await database.query<{ instance: string; tick: Date }>(
      `SELECT instance, tick FROM fault_schedule_runs WHERE instance = ANY($1) ORDER BY tick DESC LIMIT 1`,
      [names],
    );
    const holder = latest.rows[0].instance === a.name ? a : b;
    const survivor = holder === a ? b : a;
    const killedAt = new Date();
    const exited = new Promise((resolve) => holder.child.once('exit', resolve));
    holder.child.kill('SIGKILL');
    await exited;
    await sleep(5 * PERIOD_MS);
    const afterKill = await database.query<{ tick: Date; instance: string; runs: number }>(
      `SELECT tick, min(instance) AS instance, count(*)::int AS runs FROM fault_schedule_runs
        WHERE instance = ANY($1) AND tick > $2 GROUP BY tick ORDER BY tick`,
      [names, killedAt],
    );
    expect(afterKill.rows.length).toBeGreaterThanOrEqual(3);
    for (const tick of afterKill.rows)
      expect(tick).toEqual({ tick: tick.tick, instance: survivor.name, runs: 1 });
    console.log(
      `schedule on two instances (run ~0 ms, every ${PERIOD_MS / 1000} s): ${shared.length} ticks fired by both, ` +
        `${shared.filter((t) => t.runs === 1).length} ran once; after SIGKILL of the lock holder, ` +
        `${afterKill.rows.length} ticks ran once on the survivor`,
    );
  });
});
