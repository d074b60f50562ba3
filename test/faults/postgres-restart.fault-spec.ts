import { Producer } from 'kafkajs';
import { AppProcess } from '../helpers/app-process';
import { connectedProducer } from '../helpers/events';
import { pollUntil, sleep } from '../helpers/poll';
import { isolatedEnvironment } from '../helpers/test-environment';
import { expectExact, measureOutcome, produce, progressOf, settle, summarise } from './helpers/ledger';
import { PrivatePostgres } from './helpers/private-services';
import { freePort, prepareScenario, Scenario } from './helpers/scenario';

jest.setTimeout(900_000);

const DOWN_MS = 10_000;

/**
 * PostgreSQL restarted twice while the app ingests — once as a crash (`pg_ctl stop -m immediate`: every
 * connection cut mid-transaction, WAL replayed at start) while the first half is ingested, and once as a clean
 * restart (`-m fast`) with the second half arriving while the server is down — each time down for 10 s. The app
 * stays up (/health answers 503 `down` meanwhile), its failed batches are retried, and nothing is lost or stored
 * twice. The server is this test's own cluster (initdb + pg_ctl on its
 * own port): the PostgreSQL everyone else's tests use is never restarted.
 */
describe('fault: PostgreSQL restarted during ingestion', () => {
  let postgres: PrivatePostgres;
  let environment: Record<string, string>;
  let scenario: Scenario;
  let producer: Producer;

  beforeAll(async () => {
    postgres = await PrivatePostgres.create();
    await postgres.start();
    const base = isolatedEnvironment('fault-pg');
    const databaseUrl = await postgres.createMigratedDatabase('fieldwatch_fault_pg');
    environment = { ...base, DATABASE_URL: databaseUrl };
    scenario = await prepareScenario(environment, 'PgRestart', {
      unique: 12_000,
      duplicateCopies: 600,
      malformedShare: 0.02,
    });
    ({ producer } = await connectedProducer(environment.KAFKA_BROKERS));
  });

  afterAll(async () => {
    await producer?.disconnect();
    await scenario?.database.end().catch(() => undefined);
    await postgres?.destroy();
  });

  it('retries the failed batches after each restart and ends exact', async () => {
    const { database, topics, workload } = scenario;
    const progress = () => progressOf(database, environment.KAFKA_CONSUMER_GROUP, topics.analyses);
    const half = Math.floor(workload.total / 2);
    const [firstHalf, secondHalf] = [workload.messages.slice(0, half), workload.messages.slice(half)];
    const app = new AppProcess(environment, await freePort());
    const pid: Array<number | undefined> = [];
    const restart = async (
      mode: 'immediate' | 'fast',
      whileDown: () => Promise<void> = () => Promise.resolve(),
    ) => {
      await postgres.stop(mode);
      const stoppedAt = Date.now();
      // Down: readiness fails (503, database down), liveness holds (no orchestrator restart).
      const down = await fetch(`${app.baseUrl}/health`);
      expect(down.status).toBe(503);
      expect(((await down.json()) as { components: { database: string } }).components.database).toBe('down');
      expect((await fetch(`${app.baseUrl}/health/live`)).ok).toBe(true);
      await whileDown();
      await sleep(Math.max(0, DOWN_MS - (Date.now() - stoppedAt)));
      await postgres.start();
    };

    // 1. A crash while the first half is being ingested: the batches in flight lose their transactions.
    await produce(producer, topics.analyses, firstHalf);
    await app.start({ timeoutMs: 240_000 });
    pid.push(app.pid);
    const atCrash = await pollUntil(progress, (p) => p.received > 0, {
      timeoutMs: 240_000,
      intervalMs: 20,
      what: 'ingestion to begin',
    }).catch((error: Error) => {
      throw new Error(`${error.message}\n--- app log ---\n${app.log}`);
    });
    await restart('immediate');
    const firstDone = await settle(database, environment.KAFKA_CONSUMER_GROUP, topics.analyses, half, {
      log: () => app.log,
    });
    expect(firstDone.received).toBe(half);

    // 2. A clean restart with the second half arriving while the server is down: every batch of it fails at
    //    least once and is retried when the server is back.
    await restart('fast', () => produce(producer, topics.analyses, secondHalf));
    pid.push(app.pid);
    const restartedAt = [atCrash.received, firstDone.received];
    await settle(database, environment.KAFKA_CONSUMER_GROUP, topics.analyses, workload.total, {
      log: () => app.log,
    });
    // One process throughout: it retried by itself.
    expect(app.running).toBe(true);
    expect(new Set([...pid, app.pid]).size).toBe(1);
    const health = await pollUntil(
      async () => (await fetch(`${app.baseUrl}/health`)).json() as Promise<{ status: string }>,
      (h) => h.status === 'ok',
      { timeoutMs: 60_000, intervalMs: 1_000, what: '/health to report ok again' },
    );
    expect(health.status).toBe('ok');
    await app.stop();

    const outcome = await measureOutcome(
      database,
      environment.KAFKA_BROKERS,
      environment.KAFKA_CONSUMER_GROUP,
      topics,
      workload,
    );
    console.log(
      `${summarise('PostgreSQL restarted (immediate, fast)', outcome)}; received at the crash=${restartedAt[0]}, at the clean restart=${restartedAt[1]} (second half sent while down)`,
    );
    // A batch whose transaction the restart cut off is retried until the server is back, and each attempt
    // publishes its dead letters before the transaction fails: the DLQ holds repeats (every one a copy of a
    // malformed message with its right code, checked above), never a loss. DLQ readers de-duplicate by source
    // topic, partition and offset (README, Delivery).
    expectExact(outcome, workload, { maxRepeats: Number.POSITIVE_INFINITY });
  });
});
