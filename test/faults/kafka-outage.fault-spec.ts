import { Kafka, logLevel, Producer } from 'kafkajs';
import { AppProcess } from '../helpers/app-process';
import { pollUntil, sleep } from '../helpers/poll';
import { isolatedEnvironment } from '../helpers/test-environment';
import { expectExact, measureOutcome, produce, progressOf, settle, summarise } from './helpers/ledger';
import { PrivateKafka } from './helpers/private-services';
import { freePort, prepareScenario, Scenario } from './helpers/scenario';

jest.setTimeout(900_000);

const OUTAGE_MS = 30_000;

interface Health {
  status: string;
  components: { database: string; kafka: string; consumer: string };
}

/**
 * The Kafka broker stopped for 30 s while the app ingests, killed with SIGKILL so the batches in flight lose their
 * offset commits and dead-letter sends (a controlled shutdown would serve them first). The app stays up, /health
 * says `degraded` (Kafka down, the database and the API still serving), and once the broker is back ingestion
 * resumes by itself, without a restart of the app. The broker is this test's own (its own ports and data
 * directory): the broker the other tests share is never stopped.
 */
describe('fault: the Kafka broker stopped for 30 s during ingestion', () => {
  let kafka: PrivateKafka;
  let environment: Record<string, string>;
  let scenario: Scenario;
  let producer: Producer;

  beforeAll(async () => {
    kafka = await PrivateKafka.create();
    await kafka.start();
    environment = { ...isolatedEnvironment('fault-kafka'), KAFKA_BROKERS: kafka.brokers };
    scenario = await prepareScenario(environment, 'KafkaOutage', {
      unique: 12_000,
      duplicateCopies: 600,
      malformedShare: 0.02,
    });
    producer = new Kafka({
      clientId: 'fieldwatch-fault-sender',
      brokers: [kafka.brokers],
      logLevel: logLevel.NOTHING,
    }).producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect().catch(() => undefined);
    await scenario?.database.end();
    await kafka?.destroy();
  });

  it('keeps the app up and degraded while Kafka is away, then resumes by itself and loses nothing', async () => {
    const { database, topics, workload } = scenario;
    const progress = () => progressOf(database, environment.KAFKA_CONSUMER_GROUP, topics.analyses);
    const health = async (app: AppProcess): Promise<{ code: number; body: Health }> => {
      const response = await fetch(`${app.baseUrl}/health`);
      return { code: response.status, body: (await response.json()) as Health };
    };
    // The first part is in Kafka before the outage, the rest is sent after it (senders buffer meanwhile).
    const beforeOutage = workload.messages.slice(0, Math.floor(workload.total * 0.6));
    const afterOutage = workload.messages.slice(beforeOutage.length);
    await produce(producer, topics.analyses, beforeOutage);
    await producer.disconnect();

    const app = new AppProcess(environment, await freePort());
    await app.start({ timeoutMs: 240_000 });
    const pid = app.pid;
    const atStop = await pollUntil(progress, (p) => p.received > 0, {
      timeoutMs: 180_000,
      intervalMs: 20,
      what: 'ingestion to begin',
    });
    const stopping = Date.now();
    await kafka.kill();
    const stoppedAt = Date.now();
    expect(atStop.received).toBeLessThan(beforeOutage.length);

    const degraded = await pollUntil(
      () => health(app),
      (h) => h.body.status === 'degraded',
      { timeoutMs: OUTAGE_MS, intervalMs: 500, what: '/health to report degraded' },
    );
    expect(degraded.code).toBe(200);
    expect(degraded.body.components.database).toBe('up');
    expect(degraded.body.components.kafka).toBe('down');
    const stalled = await progress();
    // The rest of the outage: the process stays alive and serves.
    while (Date.now() - stoppedAt < OUTAGE_MS) {
      expect((await fetch(`${app.baseUrl}/health/live`)).ok).toBe(true);
      expect((await health(app)).body.status).toBe('degraded');
      await sleep(2_000);
    }
    expect((await progress()).received).toBeLessThan(workload.total);

    const restarting = Date.now();
    await kafka.start();
    const brokerBack = Date.now();
    producer = new Kafka({
      clientId: 'fieldwatch-fault-sender',
      brokers: [kafka.brokers],
      logLevel: logLevel.NOTHING,
    }).producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await produce(producer, topics.analyses, afterOutage);
    const resumed = await pollUntil(progress, (p) => p.received > stalled.received, {
      timeoutMs: 300_000,
      intervalMs: 200,
      what: 'ingestion to resume',
    });
    const resumedAt = Date.now();
    await settle(database, environment.KAFKA_CONSUMER_GROUP, topics.analyses, workload.total, {
      log: () => app.log,
    });
    // Same process throughout: it resumed by itself.
    expect(app.running).toBe(true);
    expect(app.pid).toBe(pid);
    const recovered = await pollUntil(
      () => health(app),
      (h) => h.body.status === 'ok',
      { timeoutMs: 120_000, intervalMs: 1_000, what: '/health to report ok again' },
    );
    expect(recovered.body.components).toEqual({ database: 'up', kafka: 'up', consumer: 'up' });
    await app.stop();

    const outcome = await measureOutcome(
      database,
      kafka.brokers,
      environment.KAFKA_CONSUMER_GROUP,
      topics,
      workload,
    );
    console.log(
      `${summarise('Kafka stopped 30 s', outcome)}; stopped at received=${atStop.received}, stalled at ` +
        `${stalled.received}, resumed at ${resumed.received}; broker kill took ${stoppedAt - stopping} ms, ` +
        `its start ${brokerBack - restarting} ms, ingestion resumed ${resumedAt - brokerBack} ms after the broker was back`,
    );
    // A dead-letter batch whose acknowledgement the broker's shutdown cut off is sent again.
    expectExact(outcome, workload, { maxRepeats: workload.malformed.size });
  });
});
