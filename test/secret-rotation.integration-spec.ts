import { INestApplication } from '@nestjs/common';
import { Kafka, Message, Producer } from 'kafkajs';
import fs from 'node:fs';
import { Client } from 'pg';
import request from 'supertest';
import { ensureTopics } from '../scripts/kafka-admin';
import { allTopics, Topics, topicsFor } from '../src/kafka/topics';
import { registerFleet, RegisteredFleet, startApp } from './helpers/app';
import {
  analysisEvent,
  connectedProducer,
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
const KEY_ID = /^sk_[0-9a-f]{32}$/;
const HOUR_MS = 3_600_000;

/**
 * Everything this process writes to stdout and stderr while the app runs: pino's JSON lines (written to
 * fd 1 with fs.write / fs.writeSync) and anything printed through process.stdout / console. Lines below
 * warn are kept here only, so LOG_LEVEL=debug does not flood the test output.
 */
class LogCapture {
  text = '';
  private readonly undo: Array<() => void> = [];

  start(): void {
    const keep = (data: unknown): boolean => {
      const text = Buffer.isBuffer(data) ? data.toString('utf8') : typeof data === 'string' ? data : '';
      this.text += text;
      return /"level":(40|50|60)\b/.test(text) || !text.startsWith('{"level"');
    };
    const length = (data: unknown): number =>
      Buffer.isBuffer(data) ? data.length : typeof data === 'string' ? Buffer.byteLength(data) : 0;
    type Anything = (...args: unknown[]) => unknown;
    const patch = (target: object, name: string, wrap: (original: Anything) => Anything) => {
      const record = target as Record<string, Anything>;
      const original = record[name];
      record[name] = wrap(original.bind(target));
      this.undo.push(() => {
        record[name] = original;
      });
    };
    patch(
      fs,
      'writeSync',
      (original) =>
        (fd, data, ...rest) =>
          (fd === 1 || fd === 2) && !keep(data) ? length(data) : original(fd, data, ...rest),
    );
    patch(fs, 'write', (original) => (fd, data, ...rest) => {
      if ((fd === 1 || fd === 2) && !keep(data)) {
        const callback = rest[rest.length - 1];
        if (typeof callback === 'function') process.nextTick(() => callback(null, length(data)));
        return undefined;
      }
      return original(fd, data, ...rest);
    });
    for (const stream of [process.stdout, process.stderr]) {
      patch(stream, 'write', (original) => (data, ...rest) => {
        if (keep(data)) return original(data, ...rest);
        const callback = rest[rest.length - 1];
        if (typeof callback === 'function') process.nextTick(() => callback(null));
        return true;
      });
    }
    for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      patch(console, level, (original) => (...args) => {
        keep(args.map((arg) => (typeof arg === 'string' ? arg : JSON.stringify(arg))).join(' ') + '\n');
        return original(...args);
      });
    }
  }

  stop(): void {
    for (const undo of this.undo.splice(0).reverse()) undo();
  }
}

interface RotationBody {
  deviceId?: string;
  sourceId?: string;
  keyId: string;
  secret: string;
  rotatedAt: string;
  previousKeyId: string;
  previousSecretValidUntil: string;
  overlapHours: number;
}

describe('rotation of signing secrets with an overlap period (real Kafka, real PostgreSQL)', () => {
  // debug: the most the platform ever logs, all of it scanned for secrets at the end.
  const environment: Record<string, string> = { ...isolatedEnvironment('rotate'), LOG_LEVEL: 'debug' };
  const topics: Topics = topicsFor(environment.KAFKA_TOPIC_PREFIX);
  const run = environment.KAFKA_CONSUMER_GROUP.slice(-12);
  const site = `RT-SITE-${run}`;
  const steadyDevice = `RT-STEADY-${run}`;
  const shortDevice = `RT-SHORT-${run}`;
  const twiceDevice = `RT-TWICE-${run}`;
  const legacyDevice = `RT-LEGACY-${run}`;
  const source = `RT-CATH-${run}`;
  const logs = new LogCapture();
  /** Every signing secret this test saw issued: none may appear in a log, the audit trail or a listing. */
  const secrets: string[] = [];
  let app: INestApplication;
  let server: ReturnType<INestApplication['getHttpServer']>;
  let fleet: RegisteredFleet;
  let other: RegisteredFleet;
  let kafka: Kafka;
  let producer: Producer;
  let database: Client;

  const rotate = (
    kind: 'devices' | 'data-sources',
    code: string,
    body: object,
    key = fleet.manufacturerKey,
  ) => request(server).post(`/api/v1/${kind}/${code}/secret-rotations`).set(bearer(key)).send(body);

  const rotated = async (kind: 'devices' | 'data-sources', code: string, body: object) => {
    const response = await rotate(kind, code, body).expect(201);
    const rotation = response.body as RotationBody;
    secrets.push(rotation.secret);
    return rotation;
  };

  /** What became of one message: 'stored', or its dead-letter code once the consumer has decided. */
  const fateOf = async (
    topic: string,
    partition: number,
    offset: string,
    eventId: string,
  ): Promise<string | null> => {
    const rows = await database.query<{ fate: string }>(
      `SELECT 'stored' AS fate FROM analyses WHERE event_id = $1
       UNION ALL SELECT 'stored' FROM outcomes WHERE event_id = $1
       UNION ALL SELECT error_code FROM dead_letters
                  WHERE topic = $2 AND kafka_partition = $3 AND kafka_offset = $4`,
      [eventId, topic, partition, offset],
    );
    return rows.rows[0]?.fate ?? null;
  };

  const deliver = async (topic: string, message: Message, eventId: string): Promise<string> => {
    const [sent] = await producer.send({ topic, messages: [message] });
    const fate = await pollUntil(
      () => fateOf(topic, sent.partition, sent.baseOffset as string, eventId),
      (value) => value !== null,
      { timeoutMs: 30_000, intervalMs: 100, what: `the consumer to store or dead-letter ${eventId}` },
    );
    if (fate === null) throw new Error(`no fate for ${eventId}`);
    return fate;
  };

  /** Sends one analysis of `device` signed with `secret`; resolves to 'stored' or the DLQ code. */
  const analysisSignedWith = (device: string, secret: string) => {
    const event = analysisEvent(device, site);
    return deliver(topics.analyses, signedMessage(device, event, secret), event.eventId);
  };

  const outcomeSignedWith = (secret: string) => {
    const event = invasiveFfrEvent(source, site, `p-rt-${Math.random().toString(36).slice(2, 8)}`);
    return deliver(topics.outcomes, signedMessage(site, event, secret), event.eventId);
  };

  const deviceView = async (deviceId: string) =>
    (await request(server).get(`/api/v1/devices/${deviceId}`).set(bearer(fleet.manufacturerKey)).expect(200))
      .body as Record<string, unknown>;

  const auditTrail = async (entityType: string, entityId: string) =>
    (
      await request(server)
        .get('/api/v1/audit')
        .query({ entityType, entityId })
        .set(bearer(fleet.manufacturerKey))
        .expect(200)
    ).body as { items: Array<Record<string, unknown>>; total: number };

  beforeAll(async () => {
    logs.start();
    await ensureTopics(TEST_KAFKA_BROKERS.split(','), allTopics(topics), 3);
    app = await startApp(environment);
    server = app.getHttpServer();
    fleet = await registerFleet(app, `Rotate-${run}`, [
      {
        siteId: site,
        devices: [steadyDevice, shortDevice, twiceDevice, legacyDevice],
        dataSources: [source],
      },
    ]);
    other = await registerFleet(app, `Rotate-Other-${run}`, []);
    secrets.push(...Object.values(fleet.devices), ...Object.values(fleet.dataSources));
    ({ kafka, producer } = await connectedProducer(TEST_KAFKA_BROKERS));
    database = new Client({ connectionString: TEST_DATABASE_URL });
    await database.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    await database?.end();
    await app?.close();
    logs.stop();
  });

  it('issues a new secret once, keeps the previous one valid for the default 24 h, and accepts both at once', async () => {
    const oldSecret = fleet.devices[steadyDevice];
    // The consumer holds the device (and its only secret) in its cache before the rotation.
    expect(await analysisSignedWith(steadyDevice, oldSecret)).toBe('stored');
    const registered = await deviceView(steadyDevice);
    expect(registered).toMatchObject({
      secretKeyId: expect.stringMatching(KEY_ID),
      previousSecretKeyId: null,
    });

    const rotation = await rotated('devices', steadyDevice, { reason: 'annual rotation' });
    expect(rotation).toEqual({
      deviceId: steadyDevice,
      keyId: expect.stringMatching(KEY_ID),
      secret: expect.stringMatching(/^fws_[A-Za-z0-9_-]{43}$/),
      rotatedAt: expect.any(String),
      previousKeyId: registered.secretKeyId,
      previousSecretValidUntil: expect.any(String),
      overlapHours: 24,
    });
    expect(rotation.keyId).not.toBe(registered.secretKeyId);
    expect(rotation.secret).not.toBe(oldSecret);
    expect(Date.parse(rotation.previousSecretValidUntil) - Date.parse(rotation.rotatedAt)).toBe(24 * HOUR_MS);
    expect(JSON.stringify(rotation)).not.toContain(oldSecret);

    // The new secret works at once: the failed check re-reads the sender instead of waiting for the
    // 30 s cache to expire. The old one keeps working during the overlap.
    const started = Date.now();
    expect(await analysisSignedWith(steadyDevice, rotation.secret)).toBe('stored');
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(await analysisSignedWith(steadyDevice, oldSecret)).toBe('stored');
    expect(await analysisSignedWith(steadyDevice, 'fws_not-the-secret')).toBe('signature_invalid');

    const view = await deviceView(steadyDevice);
    expect(view).toMatchObject({
      secretKeyId: rotation.keyId,
      previousSecretKeyId: registered.secretKeyId,
      previousSecretValidUntil: rotation.previousSecretValidUntil,
      secretRotatedAt: rotation.rotatedAt,
    });
    expect(view).not.toHaveProperty('secret');
    for (const secret of [oldSecret, rotation.secret]) expect(JSON.stringify(view)).not.toContain(secret);

    // Both secrets are stored only as ciphertext, bound to the device.
    const stored = await database.query<{ current: Buffer; previous: Buffer }>(
      `SELECT secret_ciphertext AS current, previous_secret_ciphertext AS previous
         FROM devices WHERE device_code = $1`,
      [steadyDevice],
    );
    const { current, previous } = stored.rows[0];
    expect(current.length).toBe(12 + 16 + Buffer.byteLength(rotation.secret));
    expect(previous.length).toBe(12 + 16 + Buffer.byteLength(oldSecret));
    for (const bytes of [current, previous]) {
      for (const secret of [oldSecret, rotation.secret]) {
        expect(bytes.includes(Buffer.from(secret))).toBe(false);
        expect(bytes.toString('latin1')).not.toContain(secret);
      }
    }
  });

  it('dead-letters events signed with the previous secret as retired_secret once a short overlap has ended', async () => {
    const oldSecret = fleet.devices[shortDevice];
    expect(await analysisSignedWith(shortDevice, oldSecret)).toBe('stored');

    // 0.003 h = 10.8 s: long enough to see the old secret accepted, short enough not to wait long.
    const rotation = await rotated('devices', shortDevice, {
      reason: 'new workstation',
      overlapHours: 0.003,
    });
    expect(rotation.overlapHours).toBe(0.003);
    const deadline = Date.parse(rotation.previousSecretValidUntil);
    expect(deadline - Date.parse(rotation.rotatedAt)).toBe(10_800);

    expect(await analysisSignedWith(shortDevice, rotation.secret)).toBe('stored');
    expect(await analysisSignedWith(shortDevice, oldSecret)).toBe('stored');
    expect(Date.now()).toBeLessThan(deadline);

    await pollUntil(
      () => Promise.resolve(Date.now()),
      (now) => now > deadline + 100,
      { timeoutMs: 15_000, intervalMs: 250, what: 'the end of the overlap' },
    );
    expect(await analysisSignedWith(shortDevice, oldSecret)).toBe('retired_secret');
    expect(await analysisSignedWith(shortDevice, rotation.secret)).toBe('stored');
    // A forgery is still a forgery, not a retired secret.
    expect(await analysisSignedWith(shortDevice, 'fws_forged')).toBe('signature_invalid');

    // So far: the forgery of the first test, and the retired and the forged message above.
    const letters = await readDeadLetters(kafka, topics.deadLetter, 3);
    const retired = letters.filter((letter) => letter.error === 'retired_secret');
    expect(retired).toHaveLength(1);
    expect(retired[0]).toMatchObject({ sourceTopic: topics.analyses, key: shortDevice });
    expect(retired[0].reason).toBe(
      `deviceId "${shortDevice}" signed with secret ${rotation.previousKeyId}, which a rotation replaced and ` +
        `which stopped being accepted on ${new Date(deadline).toISOString()}; sign with the current secret ` +
        rotation.keyId,
    );
  });

  it('retires the previous secret at once with overlapHours 0, for a data source', async () => {
    const oldSecret = fleet.dataSources[source];
    expect(await outcomeSignedWith(oldSecret)).toBe('stored');
    const rotation = await rotated('data-sources', source, {
      reason: 'HIS interface credentials leaked',
      overlapHours: 0,
    });
    expect(rotation).toMatchObject({ sourceId: source, overlapHours: 0 });
    expect(rotation.previousSecretValidUntil).toBe(rotation.rotatedAt);
    expect(JSON.stringify(rotation)).not.toContain(oldSecret);

    expect(await outcomeSignedWith(rotation.secret)).toBe('stored');
    expect(await outcomeSignedWith(oldSecret)).toBe('retired_secret');

    const listed = await request(server)
      .get('/api/v1/data-sources')
      .set(bearer(fleet.manufacturerKey))
      .expect(200);
    const mine = (listed.body.items as Array<Record<string, unknown>>).find(
      (item) => item.sourceId === source,
    );
    expect(mine).toMatchObject({
      secretKeyId: rotation.keyId,
      previousSecretKeyId: rotation.previousKeyId,
      previousSecretValidUntil: rotation.rotatedAt,
    });
    for (const secret of [oldSecret, rotation.secret])
      expect(JSON.stringify(listed.body)).not.toContain(secret);
  });

  it('keeps at most two secrets: a second rotation drops the one still in its overlap', async () => {
    const original = fleet.devices[twiceDevice];
    const first = await rotated('devices', twiceDevice, { reason: 'first rotation', overlapHours: 48 });
    const second = await rotated('devices', twiceDevice, { reason: 'second rotation' });
    expect(second.previousKeyId).toBe(first.keyId);

    expect(await analysisSignedWith(twiceDevice, second.secret)).toBe('stored');
    expect(await analysisSignedWith(twiceDevice, first.secret)).toBe('stored');
    expect(await analysisSignedWith(twiceDevice, original)).toBe('signature_invalid');

    const [latest] = (await auditTrail('device', twiceDevice)).items;
    expect(latest).toMatchObject({
      action: 'device.secret_rotate',
      reason: 'second rotation',
      details: {
        keyId: second.keyId,
        previousKeyId: first.keyId,
        droppedKeyId: expect.stringMatching(KEY_ID),
      },
    });
  });

  it('keeps the immediate POST …/secret working as a rotation with no overlap', async () => {
    const oldSecret = fleet.devices[legacyDevice];
    const response = await request(server)
      .post(`/api/v1/devices/${legacyDevice}/secret`)
      .set(bearer(fleet.manufacturerKey))
      .send({ reason: 'simulator lost its state' })
      .expect(200);
    expect(Object.keys(response.body as object).sort()).toEqual(['deviceId', 'secret']);
    secrets.push(response.body.secret as string);
    const view = await deviceView(legacyDevice);
    expect(view.previousSecretValidUntil).toBe(view.secretRotatedAt);
    expect(await analysisSignedWith(legacyDevice, response.body.secret as string)).toBe('stored');
    expect(await analysisSignedWith(legacyDevice, oldSecret)).toBe('retired_secret');
  });

  it('bounds the overlap, requires a reason, and refuses other tenants (404), other roles (403) and revoked senders (409)', async () => {
    const before = (await auditTrail('device', steadyDevice)).total;
    const keyBefore = (await deviceView(steadyDevice)).secretKeyId;

    for (const overlapHours of [-1, 168.01, 1e9, 'soon', '24', true]) {
      await rotate('devices', steadyDevice, { reason: 'bad overlap', overlapHours }).expect(400);
    }
    const missing = await rotate('devices', steadyDevice, { overlapHours: 1 }).expect(400);
    expect(missing.body.message).toEqual(expect.arrayContaining([expect.stringContaining('reason')]));
    await rotate('devices', steadyDevice, { reason: 'a valid reason', extra: true }).expect(400);

    // Another tenant's device or data source does not exist for this key.
    const foreign = await rotate(
      'devices',
      steadyDevice,
      { reason: 'competitor' },
      other.manufacturerKey,
    ).expect(404);
    expect(JSON.stringify(foreign.body)).not.toMatch(/fws_|sk_/);
    await rotate('data-sources', source, { reason: 'competitor' }, other.manufacturerKey).expect(404);
    await rotate('devices', `RT-NOPE-${run}`, { reason: 'typo' }).expect(404);

    // registry:write only (roles.ts): quality, auditor and researcher keys are refused.
    for (const role of ['quality', 'auditor', 'researcher']) {
      const issued = await request(server)
        .post('/api/v1/api-keys')
        .set(bearer(TEST_ADMIN_TOKEN))
        .send({ manufacturerId: fleet.manufacturerId, role, name: `${role} ${run}` })
        .expect(201);
      await rotate('devices', steadyDevice, { reason: 'not mine' }, issued.body.key as string).expect(403);
    }

    // Nothing of the above changed the device or left an audit entry.
    expect((await deviceView(steadyDevice)).secretKeyId).toBe(keyBefore);
    expect((await auditTrail('device', steadyDevice)).total).toBe(before);

    await request(server)
      .post(`/api/v1/devices/${legacyDevice}/revoke`)
      .set(bearer(fleet.manufacturerKey))
      .send({ reason: 'decommissioned' })
      .expect(200);
    const refused = await rotate('devices', legacyDevice, { reason: 'revive it' }).expect(409);
    expect(refused.body.message).toContain('was revoked on');
    // A revoked sender stays revoked, whichever of its secrets signs.
    const view = await deviceView(legacyDevice);
    expect(view.revokedAt).toEqual(expect.any(String));
  });

  it('audits every rotation with key ids, overlap and deadline, in the trail that verifies, never a secret', async () => {
    const trail = await auditTrail('device', steadyDevice);
    const rotation = trail.items[0];
    const view = await deviceView(steadyDevice);
    expect(rotation).toMatchObject({
      action: 'device.secret_rotate',
      entityType: 'device',
      entityId: steadyDevice,
      manufacturerId: fleet.manufacturerId,
      reason: 'annual rotation',
      actor: { type: 'api_key', role: 'manufacturer', manufacturerId: fleet.manufacturerId },
      details: {
        keyId: view.secretKeyId,
        previousKeyId: view.previousSecretKeyId,
        previousSecretValidUntil: view.previousSecretValidUntil,
        overlapHours: 24,
        droppedKeyId: null,
      },
    });
    expect(rotation.beforeDigest).not.toBe(rotation.afterDigest);

    const sourceTrail = await auditTrail('data_source', source);
    expect(sourceTrail.items[0]).toMatchObject({
      action: 'data_source.secret_rotate',
      reason: 'HIS interface credentials leaked',
      details: { overlapHours: 0 },
    });

    const everything =
      JSON.stringify(trail) +
      JSON.stringify(sourceTrail) +
      JSON.stringify((await database.query(`SELECT * FROM audit_log`)).rows);
    expect(secrets.length).toBeGreaterThanOrEqual(10);
    for (const secret of secrets) expect(everything).not.toContain(secret);

    const verified = await request(server)
      .get('/api/v1/audit/verify')
      .set(bearer(TEST_ADMIN_TOKEN))
      .expect(200);
    expect(verified.body.ok).toBe(true);
  });

  it('never writes a signing secret to the log', () => {
    // The capture is real: it holds the request lines of the rotations above.
    expect(logs.text).toContain('secret-rotations');
    expect(logs.text.length).toBeGreaterThan(1000);
    for (const secret of secrets) expect(logs.text).not.toContain(secret);
  });
});
