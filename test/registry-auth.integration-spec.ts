import { INestApplication } from '@nestjs/common';
import { Client } from 'pg';
import request from 'supertest';
import { registerFleet, RegisteredFleet, startApp } from './helpers/app';
import { isolatedEnvironment, TEST_ADMIN_TOKEN, TEST_DATABASE_URL } from './helpers/test-environment';

const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

describe('registry and API keys (real PostgreSQL)', () => {
  let app: INestApplication;
  let server: ReturnType<INestApplication['getHttpServer']>;
  let tenantA: RegisteredFleet;
  let tenantB: RegisteredFleet;
  const suffix = Date.now().toString(36);

  beforeAll(async () => {
    app = await startApp({ ...isolatedEnvironment('registry'), FW_PROCESS_ROLE: 'api' });
    server = app.getHttpServer();
    tenantA = await registerFleet(app, `Alpha-${suffix}`, [
      { siteId: `A-SITE-${suffix}`, devices: [`A-DEV-${suffix}`], dataSources: [`A-CATH-${suffix}`] },
    ]);
    tenantB = await registerFleet(app, `Beta-${suffix}`, [
      { siteId: `B-SITE-${suffix}`, devices: [`B-DEV-${suffix}`], dataSources: [] },
    ]);
  });

  afterAll(async () => {
    await app?.close();
  });

  it('denies every API route without a key, and health stays public', async () => {
    for (const path of [
      '/api/v1/products',
      '/api/v1/devices',
      '/api/v1/analyses',
      '/api/v1/ingestion/stats',
    ]) {
      const response = await request(server).get(path).expect(401);
      expect(response.body).toEqual({
        statusCode: 401,
        error: 'Unauthorized',
        message: 'Send an API key as "Authorization: Bearer <key>"',
      });
    }
    await request(server).get('/api/v1/products').set(bearer('fwk_not-a-real-key-at-all')).expect(401);
    await request(server).get('/health/live').expect(200);
  });

  it('applies the roles matrix: a manufacturer key cannot create tenants or read platform stats', async () => {
    await request(server)
      .post('/api/v1/manufacturers')
      .set(bearer(tenantA.manufacturerKey))
      .send({ name: 'X' })
      .expect(403);
    await request(server).get('/api/v1/ingestion/stats').set(bearer(tenantA.manufacturerKey)).expect(403);
    const researcher = await request(server)
      .post('/api/v1/api-keys')
      .set(bearer(TEST_ADMIN_TOKEN))
      .send({ manufacturerId: tenantA.manufacturerId, role: 'researcher', name: 'study' })
      .expect(201);
    await request(server).get('/api/v1/analyses').set(bearer(researcher.body.key)).expect(403);
    await request(server).get('/api/v1/devices').set(bearer(researcher.body.key)).expect(403);
    // The platform admin runs the service but reads no patient-level analyses.
    await request(server).get('/api/v1/analyses').set(bearer(TEST_ADMIN_TOKEN)).expect(403);
  });

  it("scopes every registry read to the key's tenant", async () => {
    const products = await request(server)
      .get('/api/v1/products')
      .set(bearer(tenantA.manufacturerKey))
      .expect(200);
    expect(products.body.items.map((p: { id: string }) => p.id)).toEqual([tenantA.productId]);
    expect(products.body.total).toBe(1);
    await request(server)
      .get(`/api/v1/products/${tenantB.productId}`)
      .set(bearer(tenantA.manufacturerKey))
      .expect(404);
    const devices = await request(server)
      .get('/api/v1/devices')
      .set(bearer(tenantA.manufacturerKey))
      .expect(200);
    expect(devices.body.items.map((d: { deviceId: string }) => d.deviceId)).toEqual([`A-DEV-${suffix}`]);
    await request(server)
      .get(`/api/v1/devices/B-DEV-${suffix}`)
      .set(bearer(tenantA.manufacturerKey))
      .expect(404);
    await request(server)
      .post(`/api/v1/devices/B-DEV-${suffix}/secret`)
      .set(bearer(tenantA.manufacturerKey))
      .send({ reason: 'cross-tenant attempt' })
      .expect(404);
    // Registering a device on another tenant's product is refused as "not found".
    await request(server)
      .post('/api/v1/devices')
      .set(bearer(tenantA.manufacturerKey))
      .send({
        deviceId: `A-INTRUDER-${suffix}`,
        productId: tenantB.productId,
        siteId: `B-SITE-${suffix}`,
        softwareVersion: '1',
        modelVersion: 'm',
      })
      .expect(404);
    // A tenant key cannot act for another manufacturer by naming it.
    await request(server)
      .post('/api/v1/sites')
      .set(bearer(tenantA.manufacturerKey))
      .send({ manufacturerId: tenantB.manufacturerId, siteId: 'X-1', name: 'x', country: 'DE' })
      .expect(403);
  });

  it('shows signing secrets once and stores only ciphertext, and API keys only as hashes', async () => {
    const secret = tenantA.devices[`A-DEV-${suffix}`];
    expect(secret).toMatch(/^fws_[A-Za-z0-9_-]{43}$/);
    const listed = await request(server)
      .get('/api/v1/devices')
      .set(bearer(tenantA.manufacturerKey))
      .expect(200);
    expect(JSON.stringify(listed.body)).not.toContain(secret);
    expect(listed.body.items[0]).not.toHaveProperty('secret');

    const client = new Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    try {
      const stored = await client.query(
        `SELECT encode(secret_ciphertext, 'escape') AS raw, secret_ciphertext FROM devices WHERE device_code = $1`,
        [`A-DEV-${suffix}`],
      );
      expect(stored.rows[0].raw).not.toContain(secret);
      expect((stored.rows[0].secret_ciphertext as Buffer).length).toBe(12 + 16 + Buffer.byteLength(secret));
      const keys = await client.query(`SELECT count(*)::int AS n FROM api_keys WHERE key_prefix = $1`, [
        tenantA.manufacturerKey.slice(0, 12),
      ]);
      expect(keys.rows[0].n).toBe(1);
      const leaked = await client.query(
        `SELECT count(*)::int AS n FROM api_keys WHERE encode(key_sha256, 'escape') LIKE '%' || $1 || '%'`,
        [tenantA.manufacturerKey],
      );
      expect(leaked.rows[0].n).toBe(0);
    } finally {
      await client.end();
    }

    const rotated = await request(server)
      .post(`/api/v1/devices/A-DEV-${suffix}/secret`)
      .set(bearer(tenantA.manufacturerKey))
      .send({ reason: 'scheduled rotation' })
      .expect(200);
    expect(rotated.body.deviceId).toBe(`A-DEV-${suffix}`);
    expect(rotated.body.secret).not.toBe(secret);
  });

  it('answers bad input with 4xx JSON a user can act on', async () => {
    const invalid = await request(server)
      .post('/api/v1/products')
      .set(bearer(tenantA.manufacturerKey))
      .send({
        name: 'Bad',
        udiDi: 'x',
        riskClass: 'IV',
        jurisdictions: ['MARS'],
        ffrThreshold: 2,
        premarketClaims: {},
      })
      .expect(400);
    expect(invalid.body.statusCode).toBe(400);
    expect(invalid.body.error).toBe('Bad Request');
    const messages = (invalid.body.message as string[]).join(' | ');
    expect(messages).toContain('udiDi must be 6–40 characters of a UDI-DI');
    expect(messages).toContain('riskClass must be one of the following values');
    expect(messages).toContain('ffrThreshold must not be greater than 0.95');
    expect(messages).toContain('premarketClaims.sensitivity should not be null or undefined');
    expect(messages).toContain('premarketClaims.auc should not be null or undefined');

    // Without its claims a product used to pass validation (500 on insert, or a TypeError in every later
    // comparison with the claims): now a 400 naming the field.
    const withoutClaims = {
      name: 'No claims',
      udiDi: '06970000000099',
      riskClass: 'III',
      jurisdictions: ['EU'],
      ffrThreshold: 0.8,
    };
    const noClaims = await request(server)
      .post('/api/v1/products')
      .set(bearer(tenantA.manufacturerKey))
      .send(withoutClaims)
      .expect(400);
    expect((noClaims.body.message as string[]).join(' | ')).toContain(
      'premarketClaims should not be null or undefined',
    );

    const duplicate = await request(server)
      .post('/api/v1/sites')
      .set(bearer(tenantA.manufacturerKey))
      .send({ siteId: `A-SITE-${suffix}`, name: 'again', country: 'CN' })
      .expect(409);
    expect(duplicate.body).toEqual({
      statusCode: 409,
      error: 'Conflict',
      message: 'An object with this identifier already exists',
    });

    const unknownField = await request(server)
      .post('/api/v1/manufacturers')
      .set(bearer(TEST_ADMIN_TOKEN))
      .send({ name: 'Gamma', isAdmin: true })
      .expect(400);
    expect(unknownField.body.message).toContain('property isAdmin should not exist');

    const badJson = await request(server)
      .post('/api/v1/manufacturers')
      .set(bearer(TEST_ADMIN_TOKEN))
      .set('Content-Type', 'application/json')
      .send('{"name": ')
      .expect(400);
    expect(badJson.body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'Request body is not valid JSON',
    });

    const oversized = await request(server)
      .post('/api/v1/manufacturers')
      .set(bearer(TEST_ADMIN_TOKEN))
      .send({ name: 'x'.repeat(300 * 1024) })
      .expect(413);
    expect(oversized.body).toEqual({
      statusCode: 413,
      error: 'Payload Too Large',
      message: 'Request body is too large',
    });

    await request(server)
      .get('/api/v1/products')
      .query({ cursor: 'garbage' })
      .set(bearer(tenantA.manufacturerKey))
      .expect(400);
    await request(server).get('/api/v1/products/not-a-uuid').set(bearer(tenantA.manufacturerKey)).expect(400);
  });

  it('registers model versions of its own products and lists them per tenant', async () => {
    await request(server)
      .post('/api/v1/model-versions')
      .set(bearer(tenantA.manufacturerKey))
      .send({ productId: tenantA.productId, version: 'ffrnet-2025.1', releasedAt: '2025-01-15T00:00:00Z' })
      .expect(201);
    await request(server)
      .post('/api/v1/model-versions')
      .set(bearer(tenantA.manufacturerKey))
      .send({ productId: tenantB.productId, version: 'ffrnet-2025.1', releasedAt: '2025-01-15T00:00:00Z' })
      .expect(404);
    const listed = await request(server)
      .get('/api/v1/model-versions')
      .set(bearer(tenantA.manufacturerKey))
      .expect(200);
    expect(listed.body.total).toBe(1);
    expect(listed.body.items[0]).toMatchObject({ productId: tenantA.productId, version: 'ffrnet-2025.1' });
    const other = await request(server)
      .get('/api/v1/model-versions')
      .set(bearer(tenantB.manufacturerKey))
      .expect(200);
    expect(other.body.total).toBe(0);
  });

  it('pages registry lists with a stable cursor', async () => {
    for (let index = 0; index < 5; index++) {
      await request(server)
        .post('/api/v1/sites')
        .set(bearer(tenantB.manufacturerKey))
        .send({ siteId: `B-PAGE-${index}`, name: `Page ${index}`, country: 'DE' })
        .expect(201);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await request(server)
        .get('/api/v1/sites')
        .query({ limit: 2, ...(cursor ? { cursor } : {}) })
        .set(bearer(tenantB.manufacturerKey))
        .expect(200);
      expect(page.body.total).toBe(6);
      seen.push(...page.body.items.map((site: { siteId: string }) => site.siteId));
      cursor = page.body.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toHaveLength(6);
    expect(new Set(seen).size).toBe(6);
  });
});
