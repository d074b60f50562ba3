import { INestApplication } from '@nestjs/common';
import { Producer } from 'kafkajs';
import request from 'supertest';
import { ensureTopics } from '../scripts/kafka-admin';
import { allTopics, topicsFor } from '../src/kafka/topics';
import { registerFleet, RegisteredFleet, startApp } from './helpers/app';
import { analysisEvent, connectedProducer, deviceEvent, signedMessage } from './helpers/events';
import { pollUntil } from './helpers/poll';
import { isolatedEnvironment, TEST_ADMIN_TOKEN, TEST_KAFKA_BROKERS } from './helpers/test-environment';

const HOUR_MS = 3_600_000;
const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

/*
 * The device-malfunction rules (src/vigilance/detection-rules.ts) over real device events and analyses that went
 * through Kafka and ingestion: one device with a failed-analysis window, an error burst and an out-of-range output;
 * one healthy device that sent a heartbeat an hour ago; one that has been silent for five days. Default parameters:
 * 24-hour windows, ≥ 3 failed analyses and > 10% failed, ≥ 10 error/crash/timeout events, every out-of-range output,
 * silent after 72 hours.
 */
describe('vigilance: device-malfunction rules over ingested device events', () => {
  const environment = isolatedEnvironment('vigdev');
  const topics = topicsFor(environment.KAFKA_TOPIC_PREFIX);
  const run = environment.KAFKA_CONSUMER_GROUP.slice(-12);
  const site = `VDEV-${run}`;
  const [faulty, healthy, silent] = ['A', 'B', 'C'].map((letter) => `VDEV-${letter}-${run}`);
  // Yesterday's UTC day: one 24-hour window, wholly in the past.
  const yesterday = Math.floor(Date.now() / (24 * HOUR_MS)) * 24 * HOUR_MS - 24 * HOUR_MS;
  const at = (ms: number) => new Date(ms).toISOString();
  let app: INestApplication;
  let fleet: RegisteredFleet;
  let producer: Producer;
  let qualityKey: string;

  beforeAll(async () => {
    await ensureTopics(TEST_KAFKA_BROKERS.split(','), allTopics(topics), 3);
    app = await startApp(environment);
    fleet = await registerFleet(app, `VigDev-${run}`, [
      { siteId: site, devices: [faulty, healthy, silent], dataSources: [] },
    ]);
    qualityKey = (
      await request(app.getHttpServer())
        .post('/api/v1/api-keys')
        .set(bearer(TEST_ADMIN_TOKEN))
        .send({ manufacturerId: fleet.manufacturerId, role: 'quality', name: 'device rules test' })
        .expect(201)
    ).body.key as string;
    ({ producer } = await connectedProducer(TEST_KAFKA_BROKERS));

    const analyses = [
      ...[1, 2, 3].map((hour) =>
        analysisEvent(faulty, site, {
          occurredAt: at(yesterday + hour * HOUR_MS),
          status: 'failed',
          vessels: [],
        }),
      ),
      ...[4, 5].map((hour) => analysisEvent(faulty, site, { occurredAt: at(yesterday + hour * HOUR_MS) })),
    ];
    const faultyEvents = [
      ...Array.from({ length: 6 }, (_, index) =>
        deviceEvent(faulty, { occurredAt: at(yesterday + (6 + index * 0.5) * HOUR_MS), kind: 'error' }),
      ),
      ...Array.from({ length: 3 }, (_, index) =>
        deviceEvent(faulty, { occurredAt: at(yesterday + (10 + index) * HOUR_MS), kind: 'timeout' }),
      ),
      deviceEvent(faulty, { occurredAt: at(yesterday + 14 * HOUR_MS), kind: 'crash', code: 'SIGSEGV' }),
      deviceEvent(faulty, {
        occurredAt: at(yesterday + 15 * HOUR_MS),
        kind: 'out_of_range_output',
        code: 'CTFFR-RANGE',
        message: 'CT-FFR 1.07 suppressed',
      }),
    ];
    await producer.send({
      topic: topics.analyses,
      messages: analyses.map((event) => signedMessage(faulty, event, fleet.devices[faulty])),
    });
    await producer.send({
      topic: topics.deviceEvents,
      messages: [
        ...faultyEvents.map((event) => signedMessage(faulty, event, fleet.devices[faulty])),
        signedMessage(
          healthy,
          deviceEvent(healthy, {
            occurredAt: at(Date.now() - HOUR_MS),
            kind: 'heartbeat',
            code: null,
            message: null,
          }),
          fleet.devices[healthy],
        ),
        signedMessage(
          silent,
          deviceEvent(silent, {
            occurredAt: at(Date.now() - 5 * 24 * HOUR_MS),
            kind: 'heartbeat',
            code: null,
            message: null,
          }),
          fleet.devices[silent],
        ),
      ],
    });
  });

  afterAll(async () => {
    await producer?.disconnect();
    await app?.close();
  });

  const detect = async () =>
    (
      await request(app.getHttpServer())
        .post('/api/v1/incidents/detections')
        .set(bearer(qualityKey))
        .send({ productId: fleet.productId })
        .expect(200)
    ).body as { products: Array<{ created: Record<string, number>; incidentIds: string[] }> };

  it('opens one candidate per rule and device window, none for the healthy device, and none twice', async () => {
    const created: Record<string, number> = {};
    await pollUntil(
      async () => {
        const result = await detect();
        for (const [rule, count] of Object.entries(result.products[0]?.created ?? {})) {
          created[rule] = (created[rule] ?? 0) + count;
        }
        return { ...created };
      },
      (counts) =>
        counts['device-failed-analyses-rate'] === 1 &&
        counts['device-error-burst'] === 1 &&
        counts['device-out-of-range-output'] === 1 &&
        counts['device-silent'] === 1,
      { timeoutMs: 120_000, what: 'the four device rules to fire once each' },
    );
    expect(created).toEqual({
      'device-failed-analyses-rate': 1,
      'device-error-burst': 1,
      'device-out-of-range-output': 1,
      'device-silent': 1,
    });

    const incidents = (
      await request(app.getHttpServer())
        .get('/api/v1/incidents')
        .query({ productId: fleet.productId, limit: 50 })
        .set(bearer(qualityKey))
        .expect(200)
    ).body.items as Array<{ title: string; seriousness: string; imdrf: Record<string, string[]> }>;
    expect(incidents).toHaveLength(4);
    const titled = (pattern: RegExp) => incidents.filter((incident) => pattern.test(incident.title));
    expect(titled(new RegExp(`^Failed analyses above the limit in a window: device ${faulty}`))).toHaveLength(
      1,
    );
    expect(
      titled(new RegExp(`^Error, crash and timeout events above the limit .*device ${faulty}`)),
    ).toHaveLength(1);
    expect(titled(new RegExp(`^Out-of-range output reported by the device: device ${faulty}`))).toHaveLength(
      1,
    );
    expect(titled(new RegExp(`^Silent device ${silent}`))).toHaveLength(1);
    expect(incidents.some((incident) => incident.title.includes(healthy))).toBe(false);
    expect(incidents.every((incident) => incident.seriousness === 'non_serious')).toBe(true);

    // Nothing new on a second run: every (rule, device window) subject is detected once.
    expect((await detect()).products[0].incidentIds).toEqual([]);
  });
});
