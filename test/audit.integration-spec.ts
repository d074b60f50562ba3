import type { AuditEntryView as AuditEntry } from '../src/audit/audit.service';
import { INestApplication } from '@nestjs/common';
import { generateKeyPairSync, sign } from 'node:crypto';
import { Client } from 'pg';
import request from 'supertest';
import { checkpointMessage, entryHash, GENESIS_HASH } from '../src/audit/audit-chain';
import { keyFingerprint } from '../src/audit/audit-signer';
import { stateDigest } from '../src/audit/canonical';
import { registerFleet, RegisteredFleet, startApp } from './helpers/app';
import { isolatedEnvironment, TEST_ADMIN_TOKEN, TEST_DATABASE_URL } from './helpers/test-environment';

const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

/** Rows as the chain hashes them (same SQL rendering as the verifier). */
const CHAIN_COLUMNS = `id::text AS id, ((extract(epoch FROM recorded_at) * 1000000)::bigint)::text AS recorded_us,
  actor_type, actor_api_key_id::text AS actor_api_key_id, actor_role, actor_manufacturer_id::text AS actor_manufacturer_id,
  action, entity_type, entity_id, manufacturer_id::text AS manufacturer_id, encode(before_digest, 'hex') AS before_digest,
  encode(after_digest, 'hex') AS after_digest, reason, details, prev_hash, entry_hash`;

describe('audit trail: append-only, hash-chained, signed checkpoints (real PostgreSQL)', () => {
  const CHECKPOINT_EVERY = 5;
  let app: INestApplication;
  let server: ReturnType<INestApplication['getHttpServer']>;
  let database: Client;
  let tenantA: RegisteredFleet;
  let tenantB: RegisteredFleet;
  const run = Date.now().toString(36);
  const deviceA = `AUD-DEV-${run}`;
  const sourceA = `AUD-CATH-${run}`;
  const siteA = `AUD-SITE-${run}`;

  const list = async (key: string, query: Record<string, string | number> = {}) =>
    (await request(server).get('/api/v1/audit').query(query).set(bearer(key)).expect(200)).body as {
      total: number;
      items: AuditEntry[];
      nextCursor: string | null;
    };
  const verify = async () =>
    (await request(server).get('/api/v1/audit/verify').set(bearer(TEST_ADMIN_TOKEN)).expect(200)).body;
  /** What a superuser could do: switch the append-only trigger off, change a row, switch it on again. */
  const superuserUpdate = async (sql: string, parameters: unknown[]) => {
    await database.query('BEGIN');
    try {
      await database.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
      await database.query(sql, parameters);
      await database.query('ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only');
      await database.query('COMMIT');
    } catch (error) {
      await database.query('ROLLBACK');
      throw error;
    }
  };

  beforeAll(async () => {
    app = await startApp({
      ...isolatedEnvironment('audit'),
      FW_PROCESS_ROLE: 'api',
      FW_AUDIT_CHECKPOINT_EVERY: String(CHECKPOINT_EVERY),
    });
    server = app.getHttpServer();
    database = new Client({ connectionString: TEST_DATABASE_URL });
    await database.connect();
    tenantA = await registerFleet(app, `Audit-A-${run}`, [
      { siteId: siteA, devices: [deviceA], dataSources: [sourceA] },
    ]);
    tenantB = await registerFleet(app, `Audit-B-${run}`, [
      { siteId: `AUD-B-${run}`, devices: [`AUD-B-DEV-${run}`], dataSources: [] },
    ]);
  });

  afterAll(async () => {
    await database?.end();
    await app?.close();
  });

  it('records every registry write with actor, tenant, digests of the state and (where needed) a reason', async () => {
    await request(server)
      .post('/api/v1/model-versions')
      .set(bearer(tenantA.manufacturerKey))
      .send({ productId: tenantA.productId, version: 'ffrnet-2026.1', releasedAt: '2026-01-15T00:00:00Z' })
      .expect(201);
    const updated = await request(server)
      .patch(`/api/v1/devices/${deviceA}`)
      .set(bearer(tenantA.manufacturerKey))
      .send({ softwareVersion: '1.5.0' })
      .expect(200);
    const rotated = await request(server)
      .post(`/api/v1/devices/${deviceA}/secret`)
      .set(bearer(tenantA.manufacturerKey))
      .send({ reason: 'technician laptop lost' })
      .expect(200);
    await request(server)
      .post(`/api/v1/data-sources/${sourceA}/secret`)
      .set(bearer(tenantA.manufacturerKey))
      .send({ reason: 'annual rotation' })
      .expect(200);

    const page = await list(tenantA.manufacturerKey, { limit: 100 });
    const actions = page.items.map((entry) => entry.action).reverse();
    expect(actions).toEqual([
      'manufacturer.create',
      'api_key.issue',
      'product.create',
      'site.create',
      'device.create',
      'data_source.create',
      'model_version.create',
      'device.update',
      'device.secret_rotate',
      'data_source.secret_rotate',
    ]);
    expect(page.total).toBe(10);
    // Newest first, ids increasing with time, times from the database clock with microseconds.
    const ids = page.items.map((entry) => BigInt(entry.id));
    expect(ids).toEqual([...ids].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)));
    expect(page.items[0].recordedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);

    const byAction = new Map(page.items.map((entry) => [entry.action, entry]));
    const rotation = byAction.get('device.secret_rotate') as AuditEntry;
    const keyId = (byAction.get('api_key.issue') as AuditEntry).entityId;
    expect(rotation).toMatchObject({
      actor: {
        type: 'api_key',
        apiKeyId: keyId,
        role: 'manufacturer',
        manufacturerId: tenantA.manufacturerId,
      },
      entityType: 'device',
      entityId: deviceA,
      manufacturerId: tenantA.manufacturerId,
      reason: 'technician laptop lost',
    });
    expect(rotation.beforeDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(rotation.afterDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(rotation.afterDigest).not.toBe(rotation.beforeDigest);
    // The admin acted for the tenant when it created the manufacturer and issued the key.
    expect(byAction.get('manufacturer.create')?.actor).toMatchObject({
      type: 'api_key',
      role: 'admin',
      manufacturerId: null,
    });

    // A digest is sha256 of the canonical JSON of the object as the API shows it: anyone can recompute it.
    const update = byAction.get('device.update') as AuditEntry;
    expect(update.details).toEqual({ changed: ['softwareVersion'] });
    const { secret: _secret, ...rotatedView } = rotated.body as Record<string, unknown>;
    expect(_secret).toBeDefined();
    expect(rotatedView).toEqual({ deviceId: deviceA });
    expect(update.afterDigest).toBe(stateDigest(updated.body as object)?.toString('hex'));
    const current = await request(server)
      .get(`/api/v1/devices/${deviceA}`)
      .set(bearer(tenantA.manufacturerKey))
      .expect(200);
    expect(rotation.afterDigest).toBe(stateDigest(current.body as object)?.toString('hex'));
    expect(rotation.beforeDigest).toBe(update.afterDigest);

    // No secret, key or ciphertext appears anywhere in the trail.
    const everything =
      JSON.stringify(page) + JSON.stringify((await database.query(`SELECT * FROM audit_log`)).rows);
    for (const secret of [
      tenantA.devices[deviceA],
      tenantA.dataSources[sourceA],
      tenantA.manufacturerKey,
      rotated.body.secret,
    ]) {
      expect(everything).not.toContain(secret);
    }
  });

  it('refuses a rotation without a reason, and a failed write leaves no entry', async () => {
    const before = (await list(tenantA.manufacturerKey)).total;
    const missing = await request(server)
      .post(`/api/v1/devices/${deviceA}/secret`)
      .set(bearer(tenantA.manufacturerKey))
      .send({})
      .expect(400);
    expect(missing.body.message).toEqual(expect.arrayContaining([expect.stringContaining('reason')]));
    await request(server)
      .post(`/api/v1/devices/${deviceA}/secret`)
      .set(bearer(tenantA.manufacturerKey))
      .send({ reason: '   ' })
      .expect(400);
    // A duplicate site fails in the database: the change and its audit entry roll back together.
    await request(server)
      .post('/api/v1/sites')
      .set(bearer(tenantA.manufacturerKey))
      .send({ siteId: siteA, name: 'again', country: 'CN' })
      .expect(409);
    expect((await list(tenantA.manufacturerKey)).total).toBe(before);
  });

  it("scopes the trail to the key's tenant, filters and pages it; admin sees every tenant; researchers none", async () => {
    const b = await list(tenantB.manufacturerKey, { limit: 100 });
    expect(b.items.every((entry) => entry.manufacturerId === tenantB.manufacturerId)).toBe(true);
    expect(b.items.some((entry) => entry.entityId === deviceA)).toBe(false);
    expect((await list(tenantB.manufacturerKey, { entityType: 'device', entityId: deviceA })).total).toBe(0);

    const deviceTrail = await list(tenantA.manufacturerKey, { entityType: 'device', entityId: deviceA });
    expect(deviceTrail.items.map((entry) => entry.action)).toEqual([
      'device.secret_rotate',
      'device.update',
      'device.create',
    ]);

    const admin = await list(TEST_ADMIN_TOKEN, { entityType: 'manufacturer', limit: 500 });
    const tenants = new Set(admin.items.map((entry) => entry.manufacturerId));
    expect(tenants.has(tenantA.manufacturerId) && tenants.has(tenantB.manufacturerId)).toBe(true);

    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await list(tenantA.manufacturerKey, { limit: 3, ...(cursor ? { cursor } : {}) });
      expect(page.total).toBe(10);
      seen.push(...page.items.map((entry) => entry.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(new Set(seen).size).toBe(10);

    const now = new Date();
    expect(
      (await list(tenantA.manufacturerKey, { from: new Date(now.getTime() + 60_000).toISOString() })).total,
    ).toBe(0);
    expect((await list(tenantA.manufacturerKey, { to: now.toISOString() })).total).toBe(10);
    await request(server)
      .get('/api/v1/audit')
      .query({ cursor: 'garbage' })
      .set(bearer(tenantA.manufacturerKey))
      .expect(400);
    await request(server)
      .get('/api/v1/audit')
      .query({ entityType: 'patients' })
      .set(bearer(tenantA.manufacturerKey))
      .expect(400);

    const issue = async (role: string) =>
      (
        await request(server)
          .post('/api/v1/api-keys')
          .set(bearer(TEST_ADMIN_TOKEN))
          .send({ manufacturerId: tenantA.manufacturerId, role, name: `${role} ${run}` })
          .expect(201)
      ).body.key as string;
    const researcher = await issue('researcher');
    await request(server).get('/api/v1/audit').set(bearer(researcher)).expect(403);
    await request(server).get('/api/v1/audit/verify').set(bearer(researcher)).expect(403);
    for (const role of ['auditor', 'quality']) {
      const key = await issue(role);
      expect((await list(key)).items.every((entry) => entry.manufacturerId === tenantA.manufacturerId)).toBe(
        true,
      );
      await request(server).get('/api/v1/audit/verify').set(bearer(key)).expect(200);
      await request(server).post('/api/v1/audit/checkpoints').set(bearer(key)).expect(403);
    }
  });

  it('refuses UPDATE, DELETE and TRUNCATE of entries, checkpoints and the chain head, even for a superuser', async () => {
    const [{ id }] = (await database.query(`SELECT max(id)::text AS id FROM audit_log`)).rows;
    const refusals: Array<[string, RegExp]> = [
      [`UPDATE audit_log SET reason = 'edited' WHERE id = ${id}`, /audit_log is append-only: UPDATE refused/],
      [`DELETE FROM audit_log WHERE id = ${id}`, /audit_log is append-only: DELETE refused/],
      ['TRUNCATE audit_log CASCADE', /append-only: TRUNCATE refused/],
      [
        `UPDATE audit_checkpoints SET signature = signature`,
        /audit_checkpoints is append-only: UPDATE refused/,
      ],
      ['DELETE FROM audit_checkpoints', /audit_checkpoints is append-only: DELETE refused/],
      [
        `UPDATE audit_chain_head SET last_id = last_id - 1`,
        /audit_chain_head moves only when audit_log is appended to/,
      ],
      ['DELETE FROM audit_chain_head', /audit_chain_head moves only when audit_log is appended to/],
    ];
    for (const [sql, message] of refusals) {
      await expect(database.query(sql)).rejects.toThrow(message);
    }
    // A direct INSERT cannot choose its place, time or hash: the database chains it.
    const [inserted] = (
      await database.query(
        `INSERT INTO audit_log (id, recorded_at, actor_type, action, entity_type, entity_id, prev_hash, entry_hash)
         VALUES (1, '2000-01-01', 'system', 'site.create', 'site', 'forged', '\\x00', '\\x00')
         RETURNING id::text AS id, recorded_at, prev_hash, entry_hash`,
      )
    ).rows;
    expect(BigInt(inserted.id)).toBe(BigInt(id) + 1n);
    expect((inserted.recorded_at as Date).getFullYear()).toBeGreaterThan(2020);
    expect((inserted.entry_hash as Buffer).length).toBe(32);
    expect((await verify()).ok).toBe(true);
  });

  it('never forks under concurrent writers: ids stay gapless and the chain verifies', async () => {
    const before = BigInt(
      (await database.query(`SELECT last_id::text AS id FROM audit_chain_head`)).rows[0].id,
    );
    await Promise.all(
      Array.from({ length: 24 }, (_, index) =>
        request(server)
          .post('/api/v1/sites')
          .set(bearer(index % 2 === 0 ? tenantA.manufacturerKey : tenantB.manufacturerKey))
          .send({ siteId: `AUD-PAR-${index}`, name: `Parallel ${index}`, country: 'DE' })
          .expect(201),
      ),
    );
    const rows = (
      await database.query(`SELECT id::text AS id FROM audit_log WHERE id > $1 ORDER BY audit_log.id`, [
        before.toString(),
      ])
    ).rows;
    expect(rows.map((row) => BigInt(row.id))).toEqual(
      Array.from({ length: 24 }, (_, i) => before + 1n + BigInt(i)),
    );
    const result = await verify();
    expect(result).toMatchObject({ ok: true, firstBrokenEntryId: null, reason: null });
    expect(result.entries).toBe(Number(result.head.lastEntryId));

    // Automatic checkpoints at every multiple of FW_AUDIT_CHECKPOINT_EVERY that this app wrote.
    const multiples = (
      await database.query(
        `SELECT count(*)::int AS n FROM generate_series($1::bigint + 1, $2::bigint) g
          WHERE g % $3 = 0 AND NOT EXISTS (SELECT 1 FROM audit_checkpoints c WHERE c.last_entry_id = g)`,
        [before.toString(), (before + 24n).toString(), CHECKPOINT_EVERY],
      )
    ).rows[0].n;
    expect(multiples).toBe(0);
    expect(result.checkpoints.verified).toBeGreaterThanOrEqual(4);
  });

  it('finds an entry altered directly in SQL at exactly that entry, and verifies again once it is restored', async () => {
    const rotation = (await list(tenantA.manufacturerKey, { entityType: 'device', entityId: deviceA }))
      .items[0];
    expect(rotation.action).toBe('device.secret_rotate');
    const healthy = await verify();
    expect(healthy.ok).toBe(true);

    await superuserUpdate(`UPDATE audit_log SET reason = 'scheduled rotation' WHERE id = $1`, [rotation.id]);
    try {
      const broken = await verify();
      expect(broken).toMatchObject({ ok: false, firstBrokenEntryId: rotation.id });
      expect(broken.reason).toContain(`entry ${rotation.id}`);
      expect(broken.reason).toContain('altered');
      expect(broken.entries).toBe(Number(rotation.id) - 1);

      // Also through a tenant auditor's eyes: the same finding.
      const auditor = (
        await request(server)
          .post('/api/v1/api-keys')
          .set(bearer(TEST_ADMIN_TOKEN))
          .send({ manufacturerId: tenantA.manufacturerId, role: 'auditor', name: 'inspection' })
          .expect(201)
      ).body.key as string;
      const seenByAuditor = await request(server)
        .get('/api/v1/audit/verify')
        .set(bearer(auditor))
        .expect(200);
      expect(seenByAuditor.body.firstBrokenEntryId).toBe(rotation.id);
    } finally {
      await superuserUpdate(`UPDATE audit_log SET reason = $2 WHERE id = $1`, [rotation.id, rotation.reason]);
    }
    expect(await verify()).toMatchObject({ ok: true, firstBrokenEntryId: null });
  });

  it('catches a rewrite that re-hashes the rest of the chain, through the signed checkpoints', async () => {
    const rotation = (await list(tenantA.manufacturerKey, { entityType: 'device', entityId: deviceA }))
      .items[0];
    const signed = await request(server)
      .post('/api/v1/audit/checkpoints')
      .set(bearer(TEST_ADMIN_TOKEN))
      .expect(201);
    expect(signed.body).toMatchObject({
      algorithm: 'ed25519',
      lastEntryHash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(BigInt(signed.body.lastEntryId)).toBeGreaterThanOrEqual(BigInt(rotation.id));

    const original = (
      await database.query(`SELECT ${CHAIN_COLUMNS} FROM audit_log WHERE id >= $1 ORDER BY audit_log.id`, [
        rotation.id,
      ])
    ).rows;
    const [head] = (await database.query(`SELECT last_id::text AS last_id, last_hash FROM audit_chain_head`))
      .rows;
    const originalCheckpoints = (
      await database.query(
        `SELECT id::text AS id, last_entry_id::text AS last_entry_id, last_entry_hash, public_key, key_fingerprint, signature
           FROM audit_checkpoints WHERE last_entry_id >= $1`,
        [rotation.id],
      )
    ).rows;
    const [{ last_good: lastGood }] = (
      await database.query(
        `SELECT coalesce(max(last_entry_id), 0)::text AS last_good FROM audit_checkpoints WHERE last_entry_id < $1`,
        [rotation.id],
      )
    ).rows;

    /** Rewrites the rows from `rows[0]` on, re-hashing each one and the head, as an attacker with SQL could. */
    const rewrite = async (reasonOf: (row: (typeof original)[number]) => string | null) => {
      await database.query('BEGIN');
      await database.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
      await database.query('ALTER TABLE audit_chain_head DISABLE TRIGGER audit_chain_head_guard');
      let previous: Buffer = original[0].prev_hash;
      for (const row of original) {
        const reason = reasonOf(row);
        const hash = entryHash(previous, {
          id: row.id,
          recordedAtMicros: row.recorded_us,
          actorType: row.actor_type,
          actorApiKeyId: row.actor_api_key_id,
          actorRole: row.actor_role,
          actorManufacturerId: row.actor_manufacturer_id,
          action: row.action,
          entityType: row.entity_type,
          entityId: row.entity_id,
          manufacturerId: row.manufacturer_id,
          beforeDigest: row.before_digest,
          afterDigest: row.after_digest,
          reason,
          details: row.details,
        });
        await database.query(
          `UPDATE audit_log SET reason = $2, prev_hash = $3, entry_hash = $4 WHERE id = $1`,
          [row.id, reason, previous, hash],
        );
        previous = hash;
      }
      await database.query(`UPDATE audit_chain_head SET last_hash = $1`, [previous]);
      await database.query('ALTER TABLE audit_chain_head ENABLE TRIGGER audit_chain_head_guard');
      await database.query('ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only');
      await database.query('COMMIT');
    };
    /** Replaces the checkpoints covering the rewritten range (hash, key, signature). */
    const resign = async (
      values: (checkpoint: (typeof originalCheckpoints)[number]) => unknown[] | Promise<unknown[]>,
    ) => {
      await database.query('BEGIN');
      await database.query('ALTER TABLE audit_checkpoints DISABLE TRIGGER audit_checkpoints_append_only');
      for (const checkpoint of originalCheckpoints) {
        await database.query(
          `UPDATE audit_checkpoints SET last_entry_hash = $2, public_key = $3, key_fingerprint = $4, signature = $5
            WHERE id = $1`,
          [checkpoint.id, ...(await values(checkpoint))],
        );
      }
      await database.query('ALTER TABLE audit_checkpoints ENABLE TRIGGER audit_checkpoints_append_only');
      await database.query('COMMIT');
    };

    try {
      // 1. The attacker changes the reason and re-hashes every later entry and the head: the chain is
      //    self-consistent, but the checkpoint signed before no longer matches.
      await rewrite((row) => (row.id === rotation.id ? 'scheduled rotation' : row.reason));
      const rehashed = await verify();
      expect(rehashed.ok).toBe(false);
      expect(rehashed.firstBrokenEntryId).toBe((BigInt(lastGood) + 1n).toString());
      expect(rehashed.reason).toContain('rewritten after they were checkpointed');

      // 2. …and re-signs those checkpoints over the new hashes with a key of their own: not trusted.
      const attacker = generateKeyPairSync('ed25519');
      const attackerPublic = attacker.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
      await resign(async (checkpoint) => {
        const [entry] = (
          await database.query(`SELECT entry_hash FROM audit_log WHERE id = $1`, [checkpoint.last_entry_id])
        ).rows;
        return [
          entry.entry_hash,
          attackerPublic,
          keyFingerprint(attackerPublic),
          sign(null, checkpointMessage(checkpoint.last_entry_id, entry.entry_hash), attacker.privateKey),
        ];
      });
      const resigned = await verify();
      expect(resigned.ok).toBe(false);
      expect(resigned.reason).toContain(`signed by key ${keyFingerprint(attackerPublic)}`);
      expect(resigned.reason).toContain('FW_AUDIT_TRUSTED_PUBLIC_KEYS');
      expect(resigned.firstBrokenCheckpointId).not.toBeNull();

      // 3. A checkpoint whose signature was tampered with is reported as such.
      await resign((checkpoint) => [
        checkpoint.last_entry_hash,
        checkpoint.public_key,
        checkpoint.key_fingerprint,
        Buffer.alloc(64, 7),
      ]);
      await rewrite((row) => row.reason);
      const forged = await verify();
      expect(forged.ok).toBe(false);
      expect(forged.reason).toContain('signature does not verify');
      expect(forged.firstBrokenEntryId).toBeNull();
    } finally {
      await rewrite((row) => row.reason);
      await resign((checkpoint) => [
        checkpoint.last_entry_hash,
        checkpoint.public_key,
        checkpoint.key_fingerprint,
        checkpoint.signature,
      ]);
    }
    expect((await database.query(`SELECT last_hash FROM audit_chain_head`)).rows[0].last_hash).toEqual(
      head.last_hash,
    );
    expect(await verify()).toMatchObject({
      ok: true,
      firstBrokenEntryId: null,
      firstBrokenCheckpointId: null,
    });
  });

  it('walks from the genesis hash', async () => {
    const [first] = (await database.query(`SELECT prev_hash FROM audit_log WHERE id = 1`)).rows;
    expect(first.prev_hash).toEqual(GENESIS_HASH);
  });
});
