import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { startApp } from './helpers/app';
import { sleep } from './helpers/poll';
import { isolatedEnvironment, TEST_ADMIN_TOKEN } from './helpers/test-environment';

const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

describe('per-API-key rate limits', () => {
  const LIMIT = 6;
  const WINDOW_SECONDS = 2;
  let app: INestApplication;
  let server: ReturnType<INestApplication['getHttpServer']>;
  let keyA: string;
  let keyB: string;

  beforeAll(async () => {
    app = await startApp({
      ...isolatedEnvironment('ratelimit'),
      FW_PROCESS_ROLE: 'api',
      FW_RATE_LIMIT_REQUESTS: String(LIMIT),
      FW_RATE_LIMIT_WINDOW_SECONDS: String(WINDOW_SECONDS),
    });
    server = app.getHttpServer();
    // Three admin requests: within the admin key's own budget.
    const manufacturer = await request(server)
      .post('/api/v1/manufacturers')
      .set(bearer(TEST_ADMIN_TOKEN))
      .send({ name: `Throttled ${Date.now().toString(36)}` })
      .expect(201);
    const issue = async (name: string) =>
      (
        await request(server)
          .post('/api/v1/api-keys')
          .set(bearer(TEST_ADMIN_TOKEN))
          .send({ manufacturerId: manufacturer.body.id, role: 'quality', name })
          .expect(201)
      ).body.key as string;
    keyA = await issue('busy integration');
    keyB = await issue('quiet dashboard');
  });

  afterAll(async () => {
    await app?.close();
  });

  it('answers 429 JSON once a key exceeds its budget, across routes, and leaves other keys alone', async () => {
    // The budget is per key, not per route: spread the requests over two routes.
    for (let index = 0; index < LIMIT; index++) {
      const response = await request(server)
        .get(index % 2 === 0 ? '/api/v1/products' : '/api/v1/sites')
        .set(bearer(keyA))
        .expect(200);
      expect(response.headers['x-ratelimit-limit']).toBe(String(LIMIT));
      expect(response.headers['x-ratelimit-remaining']).toBe(String(LIMIT - index - 1));
    }
    const refused = await request(server).get('/api/v1/audit').set(bearer(keyA)).expect(429);
    expect(refused.body).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      message: expect.stringMatching(
        new RegExp(
          `^Rate limit exceeded for this API key: at most ${LIMIT} requests per ${WINDOW_SECONDS} s; retry after \\d+ s$`,
        ),
      ),
    });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(JSON.stringify(refused.body)).not.toContain(keyA);

    // Same client address, another key: its own budget.
    await request(server).get('/api/v1/products').set(bearer(keyB)).expect(200);
    // Health is exempt.
    for (let index = 0; index < LIMIT * 3; index++) await request(server).get('/health/live').expect(200);

    // Once the window (and the block, as long) has passed, the key works again.
    await sleep(2 * WINDOW_SECONDS * 1000 + 200);
    await request(server).get('/api/v1/products').set(bearer(keyA)).expect(200);
  });

  it('counts requests without a valid key per address, so key guessing is bounded too', async () => {
    const statuses: number[] = [];
    for (let index = 0; index <= LIMIT; index++) {
      statuses.push(
        (
          await request(server)
            .get('/api/v1/products')
            .set(bearer(`fwk_guess-${index}-0123456789abcdef`))
        ).status,
      );
    }
    expect(statuses).toEqual([...Array<number>(LIMIT).fill(401), 429]);
    const refused = await request(server).get('/api/v1/products').expect(429);
    expect(refused.body.message).toMatch(
      /^Rate limit exceeded for requests without a valid API key from this address/,
    );
    // A valid key from the same address is unaffected.
    await request(server).get('/api/v1/products').set(bearer(keyB)).expect(200);
  });
});
