import { INestApplication } from '@nestjs/common';
import { Producer } from 'kafkajs';
import { Client } from 'pg';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ensureTopics } from '../scripts/kafka-admin';
import { IngestionConsumer } from '../src/ingestion/ingestion.consumer';
import { allTopics, topicsFor, Topics } from '../src/kafka/topics';
import { ingestionStatsByTopic, registerFleet, RegisteredFleet, startApp } from './helpers/app';
import { analysisEvent, connectedProducer, signedMessage } from './helpers/events';
import { pollUntil, sleep } from './helpers/poll';
import { isolatedEnvironment, TEST_DATABASE_URL, TEST_KAFKA_BROKERS } from './helpers/test-environment';

// Live heap, measured after a full collection, so the figures are what is retained rather than garbage not yet swept.
setFlagsFromString('--expose_gc');
const collectGarbage = runInNewContext('gc') as () => void;
const liveHeapMb = (): number => {
  collectGarbage();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

/**
 * Backpressure (issue 9 §4, src/ingestion/backpressure.ts): while PostgreSQL cannot take writes (a lock held on the
 * table every analysis write needs), events keep arriving in Kafka; the consumer pauses fetching, holds no more than
 * its bound of messages, keeps its heap flat — and once the database answers again, stores every event exactly once.
 */
describe('ingestion backpressure: a stalled database pauses consumption instead of filling memory', () => {
  const maxHeld = 1_000;
  const environment: Record<string, string> = {
    ...isolatedEnvironment('backpressure'),
    FW_INGEST_SLOW_WRITE_MS: '1000',
    FW_INGEST_MAX_BUFFERED_MESSAGES: String(maxHeld),
  };
  const topics: Topics = topicsFor(environment.KAFKA_TOPIC_PREFIX);
  const run = environment.KAFKA_CONSUMER_GROUP.slice(-10);
  const site = `BP-S-${run}`;
  const device = `BP-D-${run}`;
  let app: INestApplication;
  let fleet: RegisteredFleet;
  let producer: Producer;
  let database: Client;
  let locker: Client;

  beforeAll(async () => {
    await ensureTopics(TEST_KAFKA_BROKERS.split(','), allTopics(topics), 3);
    app = await startApp(environment);
    fleet = await registerFleet(app, `Backpressure-${run}`, [
      { siteId: site, devices: [device], dataSources: [] },
    ]);
    ({ producer } = await connectedProducer(TEST_KAFKA_BROKERS));
    database = new Client({ connectionString: TEST_DATABASE_URL });
    await database.connect();
    locker = new Client({ connectionString: TEST_DATABASE_URL });
    await locker.connect();
  });

  afterAll(async () => {
    await locker?.query('ROLLBACK').catch(() => undefined);
    await locker?.end();
    await producer?.disconnect();
    await database?.end();
    await app?.close();
  });

  const produce = async (count: number, offset: number): Promise<void> => {
    const secret = fleet.devices[device];
    for (let start = 0; start < count; start += 500) {
      const messages = Array.from({ length: Math.min(500, count - start) }, (_, index) =>
        signedMessage(
          device,
          analysisEvent(device, site, {
            patientRef: `p-${run}-${offset + start + index}`,
            occurredAt: new Date(Date.UTC(2026, 1, 1) + (offset + start + index) * 60_000).toISOString(),
          }),
          secret,
        ),
      );
      await producer.send({ topic: topics.analyses, messages });
    }
  };

  it('pauses while writes stall, holds at most its bound, keeps the heap flat, then stores every event once', async () => {
    const consumer = app.get(IngestionConsumer);
    // Warm up: the consumer has joined and written once, so what follows measures the stall, not start-up.
    await produce(200, 0);
    await pollUntil(
      () => ingestionStatsByTopic(app.getHttpServer()),
      (stats) => (stats[topics.analyses]?.stored ?? 0) === 200,
      { what: 'the warm-up analyses stored', timeoutMs: 120_000 },
    );

    // Every analysis write claims its eventId in analysis_event_ids first: with that table locked, writes wait.
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE analysis_event_ids IN ACCESS EXCLUSIVE MODE');
    const heapAtStall = liveHeapMb();
    const heapDuringStall: number[] = [];
    const rounds = 8;
    const perRound = 1_500;
    for (let round = 0; round < rounds; round++) {
      await produce(perRound, 200 + round * perRound);
      await sleep(1_000);
      heapDuringStall.push(liveHeapMb());
    }
    const status = consumer.status.backpressure;
    const stored = await database.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM analyses a JOIN devices d ON d.id = a.device_id WHERE d.device_code = $1`,
      [device],
    );
    await locker.query('COMMIT');

    const produced = 200 + rounds * perRound;
    const growth = Math.max(...heapDuringStall) - heapAtStall;
    console.log(
      `backpressure: ${rounds * perRound} events produced during the stall; live heap ${heapAtStall.toFixed(1)} MB at ` +
        `the stall, max ${Math.max(...heapDuringStall).toFixed(1)} MB during it (growth ${growth.toFixed(1)} MB); ` +
        `held high-water ${status.heldMessagesHighWater}, largest batch ${status.largestBatch}, pauses ${status.pauses}`,
    );
    // Nothing was written while the table was locked, and the consumer had paused fetching for the slow write.
    expect(stored.rows[0].n).toBe(200);
    expect(status.pauses).toBeGreaterThanOrEqual(1);
    // The bound on held messages held (a single batch larger than the bound may enter alone).
    expect(status.heldMessagesHighWater).toBeLessThanOrEqual(Math.max(maxHeld, status.largestBatch));
    // 12,000 events (~10 MB of JSON) arrived meanwhile; they stayed in Kafka, not in this process.
    expect(growth).toBeLessThan(48);

    // The database answers again: fetching resumes and every event is stored exactly once.
    const after = await pollUntil(
      () => ingestionStatsByTopic(app.getHttpServer()),
      (stats) => (stats[topics.analyses]?.received ?? 0) >= produced,
      { what: `${produced} analyses received`, timeoutMs: 300_000, intervalMs: 1_000 },
    );
    expect(after[topics.analyses]).toMatchObject({
      received: produced,
      stored: produced,
      duplicates: 0,
      deadLettered: 0,
    });
    const count = await database.query<{ n: number; distinct_ids: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT a.event_id)::int AS distinct_ids
         FROM analyses a JOIN devices d ON d.id = a.device_id WHERE d.device_code = $1`,
      [device],
    );
    expect(count.rows[0]).toEqual({ n: produced, distinct_ids: produced });
    await pollUntil(
      () => Promise.resolve(consumer.status.backpressure),
      (current) => !current.paused && current.heldMessages === 0,
      { what: 'fetching resumed and nothing held' },
    );
  });
});
