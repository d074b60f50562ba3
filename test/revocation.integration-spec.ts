import { INestApplication } from '@nestjs/common';
import { Kafka, Producer } from 'kafkajs';
import { Client } from 'pg';
import request from 'supertest';
import { ensureTopics } from '../scripts/kafka-admin';
import { allTopics, Topics, topicsFor } from '../src/kafka/topics';
import { registerFleet, RegisteredFleet, startApp, ingestionStatsByTopic } from './helpers/app';
import {
  analysisEvent,
  connectedProducer,
  deviceEvent,
  invasiveFfrEvent,
  readDeadLetters,
  signedMessage,
} from './helpers/events';
import { pollUntil } from './helpers/poll';
import {
  isolatedEnvironment,
  TEST_ADMIN_TOKEN,
  TEST_DATABASE_URL,
  TEST_KAFKA_BROKERS,
} from './helpers/test-environment';

const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

describe('revocation of senders and API keys (real Kafka, real PostgreSQL)', () => {
  const environment = isolatedEnvironment('revoke');
  const topics: Topics = topicsFor(environment.KAFKA_TOPIC_PREFIX);
  const run = environment.KAFKA_CONSUMER_GROUP.slice(-12);
  const site = `RV-SITE-${run}`;
  const keptDevice = `RV-KEEP-${run}`;
  const revokedDevice = `RV-GONE-${run}`;
  const lateDevice = `RV-LATE-${run}`;
  const revokedSource = `RV-CATH-${run}`;
  let app: INestApplication;
  let server: ReturnType<INestApplication['getHttpServer']>;
  let fleet: RegisteredFleet;
  let kafka: Kafka;
  let producer: Producer;
  let database: Client;

  const stats = () => ingestionStatsByTopic(server);
  const waitForReceived = (topic: string, received: number) =>
    pollUntil(stats, (s) => (s[topic]?.received ?? 0) >= received, {
      what: `${received} received on ${topic}`,
    });
  const deadLetterCodes = async (sender: string) =>
    (
      await database.query(
        `SELECT error_code FROM dead_letters WHERE sender_code = $1 ORDER BY kafka_offset`,
        [sender],
      )
    ).rows.map((row: { error_code: string }) => row.error_code);

  beforeAll(async () => {
    await ensureTopics(TEST_KAFKA_BROKERS.split(','), allTopics(topics), 3);
    app = await startApp(environment);
    server = app.getHttpServer();
    fleet = await registerFleet(app, `Revoke-${run}`, [
      { siteId: site, devices: [keptDevice, revokedDevice, lateDevice], dataSources: [revokedSource] },
    ]);
    ({ kafka, producer } = await connectedProducer(TEST_KAFKA_BROKERS));
    database = new Client({ connectionString: TEST_DATABASE_URL });
    await database.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    await database?.end();
    await app?.close();
  });

  it('revokes a device and a data source with a reason, for good, and audits it', async () => {
    const key = fleet.manufacturerKey;
    const noReason = await request(server)
      .post(`/api/v1/devices/${revokedDevice}/revoke`)
      .set(bearer(key))
      .send({});
    expect(noReason.status).toBe(400);
    const revoked = await request(server)
      .post(`/api/v1/devices/${revokedDevice}/revoke`)
      .set(bearer(key))
      .send({ reason: 'scanner decommissioned; workstation wiped' })
      .expect(200);
    expect(revoked.body.deviceId).toBe(revokedDevice);
    expect(Date.parse(revoked.body.revokedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(revoked.body).not.toHaveProperty('secret');

    // Final: no second revocation, no new secret, no upgrade of a revoked installation.
    const again = await request(server)
      .post(`/api/v1/devices/${revokedDevice}/revoke`)
      .set(bearer(key))
      .send({ reason: 'again' })
      .expect(409);
    expect(again.body.message).toContain('was revoked on');
    await request(server)
      .post(`/api/v1/devices/${revokedDevice}/secret`)
      .set(bearer(key))
      .send({ reason: 'try to revive' })
      .expect(409);
    await request(server)
      .patch(`/api/v1/devices/${revokedDevice}`)
      .set(bearer(key))
      .send({ softwareVersion: '9' })
      .expect(409);
    const listed = await request(server).get(`/api/v1/devices/${revokedDevice}`).set(bearer(key)).expect(200);
    expect(listed.body.revokedAt).toBe(revoked.body.revokedAt);

    // Only registry writers may revoke, and only their own tenant's senders.
    const researcher = await request(server)
      .post('/api/v1/api-keys')
      .set(bearer(TEST_ADMIN_TOKEN))
      .send({ manufacturerId: fleet.manufacturerId, role: 'researcher', name: 'study' })
      .expect(201);
    await request(server)
      .post(`/api/v1/devices/${keptDevice}/revoke`)
      .set(bearer(researcher.body.key))
      .send({ reason: 'not mine to revoke' })
      .expect(403);
    const other = await registerFleet(app, `Revoke-Other-${run}`, []);
    await request(server)
      .post(`/api/v1/devices/${keptDevice}/revoke`)
      .set(bearer(other.manufacturerKey))
      .send({ reason: 'competitor' })
      .expect(404);
    await request(server)
      .post(`/api/v1/data-sources/${revokedSource}/revoke`)
      .set(bearer(other.manufacturerKey))
      .send({ reason: 'competitor' })
      .expect(404);

    const sourceRevoked = await request(server)
      .post(`/api/v1/data-sources/${revokedSource}/revoke`)
      .set(bearer(key))
      .send({ reason: 'cath lab replaced its HIS interface' })
      .expect(200);
    expect(sourceRevoked.body).toMatchObject({ sourceId: revokedSource, revokedAt: expect.any(String) });

    const trail = await request(server)
      .get('/api/v1/audit')
      .query({ entityType: 'device', entityId: revokedDevice })
      .set(bearer(key))
      .expect(200);
    expect(trail.body.items[0]).toMatchObject({
      action: 'device.revoke',
      reason: 'scanner decommissioned; workstation wiped',
      actor: { role: 'manufacturer' },
    });
    const sourceTrail = await request(server)
      .get('/api/v1/audit')
      .query({ entityType: 'data_source', entityId: revokedSource })
      .set(bearer(key))
      .expect(200);
    expect(sourceTrail.body.items[0]).toMatchObject({
      action: 'data_source.revoke',
      reason: 'cath lab replaced its HIS interface',
    });
  });

  it('dead-letters every event of a revoked sender as revoked_sender, through real Kafka, and stores the rest', async () => {
    const before = await stats();
    const revokedSecret = fleet.devices[revokedDevice];
    const analysesMessages = [
      signedMessage(revokedDevice, analysisEvent(revokedDevice, site), revokedSecret),
      signedMessage(keptDevice, analysisEvent(keptDevice, site), fleet.devices[keptDevice]),
      signedMessage(revokedDevice, analysisEvent(revokedDevice, site), revokedSecret),
      // A forger naming the revoked device learns nothing about the revocation.
      signedMessage(revokedDevice, analysisEvent(revokedDevice, site), 'fws_not-the-secret'),
    ];
    await producer.send({
      topic: topics.analyses,
      messages: analysesMessages.map((message) => ({ ...message, partition: 0 })),
    });
    await producer.send({
      topic: topics.deviceEvents,
      messages: [signedMessage(revokedDevice, deviceEvent(revokedDevice), revokedSecret)],
    });
    await producer.send({
      topic: topics.outcomes,
      messages: [
        signedMessage(site, invasiveFfrEvent(revokedSource, site, 'p-rv'), fleet.dataSources[revokedSource]),
      ],
    });

    await waitForReceived(topics.analyses, before[topics.analyses].received + 4);
    await waitForReceived(topics.deviceEvents, before[topics.deviceEvents].received + 1);
    await waitForReceived(topics.outcomes, before[topics.outcomes].received + 1);
    const after = await stats();
    expect(after[topics.analyses].stored - before[topics.analyses].stored).toBe(1);
    expect(after[topics.analyses].deadLettered - before[topics.analyses].deadLettered).toBe(3);
    expect(after[topics.deviceEvents].deadLettered - before[topics.deviceEvents].deadLettered).toBe(1);
    expect(after[topics.outcomes].deadLettered - before[topics.outcomes].deadLettered).toBe(1);
    expect(after[topics.outcomes].stored).toBe(before[topics.outcomes].stored);

    expect(await deadLetterCodes(revokedDevice)).toEqual(
      expect.arrayContaining(['revoked_sender', 'revoked_sender', 'revoked_sender', 'signature_invalid']),
    );
    expect(await deadLetterCodes(revokedDevice)).toHaveLength(4);
    expect(await deadLetterCodes(revokedSource)).toEqual(['revoked_sender']);

    const letters = await readDeadLetters(kafka, topics.deadLetter, 5);
    const revokedLetters = letters.filter((letter) => letter.error === 'revoked_sender');
    expect(revokedLetters).toHaveLength(4);
    expect(revokedLetters.map((letter) => letter.sourceTopic).sort()).toEqual(
      [topics.analyses, topics.analyses, topics.deviceEvents, topics.outcomes].sort(),
    );
    for (const letter of revokedLetters)
      expect(letter.reason).toMatch(/"RV-(GONE|CATH)-.*" was revoked on \d{4}-/);
    // The original bytes are kept, as for every dead letter.
    expect(revokedLetters.some((letter) => letter.value?.equals(analysesMessages[0].value as Buffer))).toBe(
      true,
    );
  });

  it('stops a sender that was accepted before its revocation once the sender cache refreshes', async () => {
    const secret = fleet.devices[lateDevice];
    const send = () =>
      producer.send({
        topic: topics.analyses,
        messages: [signedMessage(lateDevice, analysisEvent(lateDevice, site), secret)],
      });
    const first = await stats();
    await send();
    await waitForReceived(topics.analyses, first[topics.analyses].received + 1);
    expect((await stats())[topics.analyses].stored).toBe(first[topics.analyses].stored + 1);

    const revokedAt = Date.now();
    await request(server)
      .post(`/api/v1/devices/${lateDevice}/revoke`)
      .set(bearer(fleet.manufacturerKey))
      .send({ reason: 'credentials leaked' })
      .expect(200);
    // The consumers hold senders for at most 30 s; keep sending until the revocation bites.
    await pollUntil(
      async () => {
        await send();
        return deadLetterCodes(lateDevice);
      },
      (codes) => codes.includes('revoked_sender'),
      { timeoutMs: 45_000, intervalMs: 1_000, what: 'the revocation to reach the consumer' },
    );
    expect(Date.now() - revokedAt).toBeLessThan(45_000);
  });

  it('revokes an API key with a reason (admin only); the key stops working at once on this instance', async () => {
    const issued = await request(server)
      .post('/api/v1/api-keys')
      .set(bearer(TEST_ADMIN_TOKEN))
      .send({ manufacturerId: fleet.manufacturerId, role: 'quality', name: `qa ${run}` })
      .expect(201);
    await request(server).get('/api/v1/products').set(bearer(issued.body.key)).expect(200);

    await request(server)
      .delete(`/api/v1/api-keys/${issued.body.id}`)
      .set(bearer(fleet.manufacturerKey))
      .query({ reason: 'x-tenant' })
      .expect(403);
    await request(server)
      .delete(`/api/v1/api-keys/${issued.body.id}`)
      .set(bearer(TEST_ADMIN_TOKEN))
      .expect(400);
    await request(server)
      .delete('/api/v1/api-keys/00000000-0000-4000-8000-000000000000')
      .query({ reason: 'cleanup' })
      .set(bearer(TEST_ADMIN_TOKEN))
      .expect(404);
    const revoked = await request(server)
      .delete(`/api/v1/api-keys/${issued.body.id}`)
      .query({ reason: 'employee left the quality team' })
      .set(bearer(TEST_ADMIN_TOKEN))
      .expect(200);
    expect(revoked.body).toMatchObject({
      id: issued.body.id,
      role: 'quality',
      revokedAt: expect.any(String),
    });
    expect(JSON.stringify(revoked.body)).not.toContain(issued.body.key);

    const refused = await request(server).get('/api/v1/products').set(bearer(issued.body.key)).expect(401);
    expect(refused.body.message).toBe('API key is unknown or revoked');
    await request(server)
      .delete(`/api/v1/api-keys/${issued.body.id}`)
      .query({ reason: 'twice' })
      .set(bearer(TEST_ADMIN_TOKEN))
      .expect(409);

    const trail = await request(server)
      .get('/api/v1/audit')
      .query({ entityType: 'api_key', entityId: issued.body.id })
      .set(bearer(TEST_ADMIN_TOKEN))
      .expect(200);
    expect(trail.body.items.map((entry: { action: string }) => entry.action)).toEqual([
      'api_key.revoke',
      'api_key.issue',
    ]);
    expect(trail.body.items[0]).toMatchObject({
      reason: 'employee left the quality team',
      actor: { role: 'admin', manufacturerId: null },
      manufacturerId: fleet.manufacturerId,
    });
    expect(trail.body.items[0].beforeDigest).not.toBe(trail.body.items[0].afterDigest);
    const verified = await request(server)
      .get('/api/v1/audit/verify')
      .set(bearer(TEST_ADMIN_TOKEN))
      .expect(200);
    expect(verified.body.ok).toBe(true);
  });
});
