import { Client } from 'pg';
import { ensureTopics } from '../scripts/kafka-admin';
import { allTopics, topicsFor } from '../src/kafka/topics';
import { registerFleet, startApp } from './helpers/app';
import { AppProcess } from './helpers/app-process';
import { analysisEvent, connectedProducer, signedMessage } from './helpers/events';
import { pollUntil } from './helpers/poll';
import { isolatedEnvironment, TEST_DATABASE_URL, TEST_KAFKA_BROKERS } from './helpers/test-environment';

/**
 * The exactly-once effect: the app is SIGKILLed while it is ingesting, restarted, and must end with
 * every unique event stored once and every message counted once — received, stored and duplicates
 * exact, not merely "at least".
 */
describe('kill -9 mid-ingestion and restart', () => {
  const environment = isolatedEnvironment('crash');
  const topics = topicsFor(environment.KAFKA_TOPIC_PREFIX);
  const run = environment.KAFKA_CONSUMER_GROUP.slice(-12);
  const site = `SITE-${run}`;
  const devices = [`DEV-A-${run}`, `DEV-B-${run}`, `DEV-C-${run}`];
  const uniqueEvents = 24_000;
  const duplicateCopies = 1_200;
  let database: Client;

  beforeAll(async () => {
    await ensureTopics(TEST_KAFKA_BROKERS.split(','), allTopics(topics), 3);
    // Register the fleet through an in-process API, then leave ingestion to the separate process.
    const registrar = await startApp({ ...environment, FW_PROCESS_ROLE: 'api' });
    const fleet = await registerFleet(registrar, `Crash-${run}`, [
      { siteId: site, devices, dataSources: [] },
    ]);
    await registrar.close();

    const { producer } = await connectedProducer(TEST_KAFKA_BROKERS);
    const events = Array.from({ length: uniqueEvents }, (_, index) => {
      const deviceId = devices[index % devices.length];
      return { deviceId, event: analysisEvent(deviceId, site, { patientRef: `p-${index}` }) };
    });
    const copies = events.slice(0, duplicateCopies);
    const all = [...events, ...copies];
    for (let start = 0; start < all.length; start += 500) {
      await producer.send({
        topic: topics.analyses,
        messages: all
          .slice(start, start + 500)
          .map(({ deviceId, event }) => signedMessage(deviceId, event, fleet.devices[deviceId])),
      });
    }
    await producer.disconnect();
    database = new Client({ connectionString: TEST_DATABASE_URL });
    await database.connect();
  });

  afterAll(async () => {
    await database?.end();
  });

  const progress = async () => {
    const result = await database.query(
      `SELECT coalesce(sum(received), 0)::int AS received, coalesce(sum(stored), 0)::int AS stored,
              coalesce(sum(duplicates), 0)::int AS duplicates, coalesce(sum(dead_lettered), 0)::int AS "deadLettered"
         FROM ingestion_partition_progress WHERE consumer_group = $1`,
      [environment.KAFKA_CONSUMER_GROUP],
    );
    return result.rows[0] as { received: number; stored: number; duplicates: number; deadLettered: number };
  };

  it('stores every unique event exactly once and counts every message exactly once', async () => {
    const total = uniqueEvents + duplicateCopies;
    const app = new AppProcess(environment, 39_000 + Math.floor(Math.random() * 1000));
    await app.start();
    // Kill as soon as ingestion is under way but far from done: batches are in flight.
    const partial = await pollUntil(progress, (p) => p.received > 0, {
      intervalMs: 20,
      what: 'ingestion to begin',
    }).catch((error: Error) => {
      throw new Error(`${error.message}\n--- app log ---\n${app.log}`);
    });
    await app.kill();
    const atKill = await progress();
    expect(partial.received).toBeLessThan(total);
    expect(atKill.received).toBeLessThan(total);

    await app.start();
    const final = await pollUntil(progress, (p) => p.received >= total, {
      timeoutMs: 120_000,
      what: 'all messages to be accounted for after restart',
    });
    await app.stop();

    expect(final).toEqual({
      received: total,
      stored: uniqueEvents,
      duplicates: duplicateCopies,
      deadLettered: 0,
    });
    const rows = await database.query(
      `SELECT count(*)::int AS analyses, count(DISTINCT event_id)::int AS distinct_ids
         FROM analyses a JOIN devices d ON d.id = a.device_id WHERE d.device_code = ANY($1)`,
      [devices],
    );
    expect(rows.rows[0].analyses).toBe(uniqueEvents);
    expect(rows.rows[0].distinct_ids).toBe(uniqueEvents);
    const vessels = await database.query(
      `SELECT count(*)::int AS n FROM analysis_vessels v JOIN analyses a ON a.event_id = v.analysis_event_id
         JOIN devices d ON d.id = a.device_id WHERE d.device_code = ANY($1)`,
      [devices],
    );
    expect(vessels.rows[0].n).toBe(uniqueEvents);
  });
});
