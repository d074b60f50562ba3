import { INestApplication } from '@nestjs/common';
import { Producer } from 'kafkajs';
import request from 'supertest';
import { ensureTopics } from '../scripts/kafka-admin';
import { allTopics, topicsFor } from '../src/kafka/topics';
import { registerFleet, RegisteredFleet, startApp } from './helpers/app';
import { analysisEvent, connectedProducer, signedMessage } from './helpers/events';
import { pollUntil } from './helpers/poll';
import { isolatedEnvironment, TEST_KAFKA_BROKERS } from './helpers/test-environment';

/*
 * detail=full runs in a bounded worker-thread pool (src/performance/full-detail.pool.ts) and reads at most
 * FW_PERFORMANCE_FULL_MAX_VESSELS analysed vessels: above that it is refused with a 422 that names the roll-ups,
 * `auto` answers from the roll-ups instead, and a request beyond the pool's capacity gets a 503 JSON, never a stack.
 */
describe('performance detail=full in the worker pool, bounded', () => {
  const environment = Object.assign(isolatedEnvironment('perffull'), {
    FW_PERFORMANCE_FULL_MAX_VESSELS: '6',
    FW_PERFORMANCE_FULL_WORKERS: '1',
    FW_PERFORMANCE_FULL_QUEUE: '0',
  });
  const topics = topicsFor(environment.KAFKA_TOPIC_PREFIX);
  const run = environment.KAFKA_CONSUMER_GROUP.slice(-12);
  const site = `PFULL-${run}`;
  const device = `PFULL-DEV-${run}`;
  let app: INestApplication;
  let fleet: RegisteredFleet;
  let producer: Producer;

  beforeAll(async () => {
    await ensureTopics(TEST_KAFKA_BROKERS.split(','), allTopics(topics), 3);
    app = await startApp(environment);
    fleet = await registerFleet(app, `PerfFull-${run}`, [
      { siteId: site, devices: [device], dataSources: [] },
    ]);
    ({ producer } = await connectedProducer(TEST_KAFKA_BROKERS));
    // Three analyses of three vessels each, one per day: nine analysed vessels in all, three per day.
    const analyses = [0, 1, 2].map((day) =>
      analysisEvent(device, site, {
        occurredAt: new Date(Date.UTC(2026, 1, 1 + day, 10)).toISOString(),
        vessels: ['LAD', 'LCX', 'RCA'].map((vessel, index) => ({ vessel, ctFfr: 0.7 + index * 0.05 })),
      }),
    );
    await producer.send({
      topic: topics.analyses,
      messages: analyses.map((event) => signedMessage(device, event, fleet.devices[device])),
    });
    await pollUntil(
      async () =>
        (
          await request(app.getHttpServer())
            .get('/api/v1/analyses')
            .set({ Authorization: `Bearer ${fleet.manufacturerKey}` })
        ).body.total as number,
      (total) => total === 3,
      { timeoutMs: 90_000, what: 'the three analyses to be stored' },
    );
  });

  afterAll(async () => {
    await producer?.disconnect();
    await app?.close();
  });

  const performance = (query: Record<string, string>) =>
    request(app.getHttpServer())
      .get('/api/v1/performance')
      .query({ productId: fleet.productId, ...query })
      .set({ Authorization: `Bearer ${fleet.manufacturerKey}` });

  it('computes a period within the limit in the worker: the same vessels the period holds', async () => {
    const response = await performance({
      detail: 'full',
      from: '2026-02-01T00:00:00Z',
      to: '2026-02-03T00:00:00Z',
    }).expect(200);
    expect(response.body.detail).toBe('full');
    expect(response.body.verificationBias.analysedVessels).toBe(6);
    expect(response.body.linkage.linkedVessels).toBe(0);
  });

  it('refuses detail=full over more analysed vessels than FW_PERFORMANCE_FULL_MAX_VESSELS, pointing to the roll-ups', async () => {
    const response = await performance({ detail: 'full' }).expect(422);
    expect(response.body.message).toMatch(/at most 6 analysed vessels/);
    expect(response.body.message).toMatch(/detail=summary/);
    expect(JSON.stringify(response.body)).not.toMatch(/\bat .*\.ts:\d+/);
  });

  it('lets auto answer from the roll-ups when the product has more analysed vessels than detail=full reads', async () => {
    const response = await pollUntil(
      () => performance({}),
      (answer) => answer.status === 200 && answer.body.detail === 'summary',
      { timeoutMs: 60_000, what: 'auto to resolve to the roll-ups once they count nine analysed vessels' },
    );
    expect(response.body.detail).toBe('summary');
  });

  it('answers requests beyond the pool capacity with 503 JSON at once, and serves the others', async () => {
    const answers = await Promise.all(
      Array.from({ length: 6 }, () =>
        performance({ detail: 'full', from: '2026-02-01T00:00:00Z', to: '2026-02-02T00:00:00Z' }),
      ),
    );
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.every((status) => status === 200 || status === 503)).toBe(true);
    expect(statuses).toContain(200);
    for (const refused of answers.filter((answer) => answer.status === 503)) {
      expect(refused.body.message).toMatch(/detail=summary/);
      expect(refused.headers['content-type']).toMatch(/json/);
    }
  });
});
