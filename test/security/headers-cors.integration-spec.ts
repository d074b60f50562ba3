import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { startApp } from '../helpers/app';
import { isolatedEnvironment, TEST_ADMIN_TOKEN } from '../helpers/test-environment';

const ALLOWED = 'https://dashboards.fieldwatch.example';
const API_CSP = "default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none'";

/** Headers every answer carries, whatever the route or status. */
function expectHardened(headers: Record<string, string>): void {
  expect(headers['x-content-type-options']).toBe('nosniff');
  expect(headers['x-frame-options']).toBe('DENY');
  expect(headers['referrer-policy']).toBe('no-referrer');
  expect(headers['strict-transport-security']).toMatch(/^max-age=\d{8,}/);
  expect(headers['cross-origin-opener-policy']).toBe('same-origin');
  expect(headers['cross-origin-resource-policy']).toBe('same-origin');
  expect(headers['x-powered-by']).toBeUndefined();
  expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
  expect(headers['content-security-policy']).not.toContain('upgrade-insecure-requests');
}

describe('confidentiality: security headers on every answer', () => {
  let app: INestApplication;
  let server: ReturnType<INestApplication['getHttpServer']>;

  beforeAll(async () => {
    app = await startApp({ ...isolatedEnvironment('headers'), FW_PROCESS_ROLE: 'api', FW_CORS_ORIGINS: '' });
    server = app.getHttpServer();
  });

  afterAll(async () => {
    await app?.close();
  });

  it('sends the strict API policy and no-store on API answers, errors included', async () => {
    const answers = [
      await request(server).get('/api/v1/products').expect(401),
      await request(server)
        .get('/api/v1/products')
        .set('Authorization', `Bearer ${TEST_ADMIN_TOKEN}`)
        .expect(200),
      await request(server).get('/api/v1/no-such-route').expect(404),
      await request(server)
        .post('/api/v1/manufacturers')
        .set('Authorization', `Bearer ${TEST_ADMIN_TOKEN}`)
        .send({ name: 'x'.repeat(300 * 1024) })
        .expect(413),
    ];
    for (const answer of answers) {
      expectHardened(answer.headers);
      expect(answer.headers['content-security-policy']).toBe(API_CSP);
      expect(answer.headers['cache-control']).toBe('no-store');
      expect(answer.headers['access-control-allow-origin']).toBeUndefined();
    }
  });

  it('keeps health public and answering under the same headers', async () => {
    const live = await request(server).get('/health/live').expect(200);
    expect(live.body).toEqual({ status: 'ok' });
    expectHardened(live.headers);
    expect(live.headers['content-security-policy']).toBe(API_CSP);
    const health = await request(server).get('/health').expect(200);
    expect(health.body.components.database).toBe('up');
    expectHardened(health.headers);
  });

  it('gives the Swagger UI page a CSP that admits its own assets and no inline or foreign script', async () => {
    const page = await request(server).get('/api/docs').expect(200);
    expectHardened(page.headers);
    const csp = page.headers['content-security-policy'];
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*'unsafe-(inline|eval)'/);
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("object-src 'none'");
    const html = page.text;
    // Every script is an external file of this origin (an inline one would be blocked by the CSP).
    const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, body] of scripts) {
      expect(body.trim()).toBe('');
      expect(attributes).toMatch(/src="\.\/docs\//);
    }
    // The page's scripts and styles load, from this origin, under the same policy.
    const assets = [...html.matchAll(/(?:src|href)="\.\/(docs\/[^"]+)"/g)].map((match) => `/api/${match[1]}`);
    expect(assets).toEqual(
      expect.arrayContaining(['/api/docs/swagger-ui-init.js', '/api/docs/swagger-ui.css']),
    );
    for (const asset of assets) {
      const answer = await request(server).get(asset);
      expect({ asset, status: answer.status }).toEqual({ asset, status: 200 });
      expect(answer.headers['content-security-policy']).toBe(csp);
    }
    const document = await request(server).get('/api/docs/openapi.json').expect(200);
    expect(document.body.openapi).toMatch(/^3\./);
  });
});

describe('confidentiality: strict CORS', () => {
  it('lets no origin in when FW_CORS_ORIGINS is unset', async () => {
    const app = await startApp({
      ...isolatedEnvironment('cors-none'),
      FW_PROCESS_ROLE: 'api',
      FW_CORS_ORIGINS: '',
    });
    try {
      const server = app.getHttpServer();
      const preflight = await request(server)
        .options('/api/v1/products')
        .set('Origin', ALLOWED)
        .set('Access-Control-Request-Method', 'GET')
        .set('Access-Control-Request-Headers', 'authorization');
      expect(preflight.status).not.toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
      expect(preflight.headers['access-control-allow-credentials']).toBeUndefined();
      const simple = await request(server)
        .get('/api/v1/products')
        .set('Origin', ALLOWED)
        .set('Authorization', `Bearer ${TEST_ADMIN_TOKEN}`)
        .expect(200);
      expect(simple.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await app.close();
    }
  });

  it('answers exactly the configured origins, never with * or credentials', async () => {
    const app = await startApp({
      ...isolatedEnvironment('cors-list'),
      FW_PROCESS_ROLE: 'api',
      FW_CORS_ORIGINS: `${ALLOWED}, http://localhost:5173`,
    });
    try {
      const server = app.getHttpServer();
      const preflight = await request(server)
        .options('/api/v1/products')
        .set('Origin', ALLOWED)
        .set('Access-Control-Request-Method', 'GET')
        .set('Access-Control-Request-Headers', 'authorization')
        .expect(204);
      expect(preflight.headers['access-control-allow-origin']).toBe(ALLOWED);
      expect(preflight.headers['access-control-allow-credentials']).toBeUndefined();
      expect(preflight.headers['access-control-allow-headers']).toBe('Authorization,Content-Type');
      expect(preflight.headers.vary).toMatch(/Origin/);
      const simple = await request(server)
        .get('/api/v1/products')
        .set('Origin', 'http://localhost:5173')
        .set('Authorization', `Bearer ${TEST_ADMIN_TOKEN}`)
        .expect(200);
      expect(simple.headers['access-control-allow-origin']).toBe('http://localhost:5173');
      expect(simple.headers['access-control-expose-headers']).toContain('X-RateLimit-Remaining');

      for (const origin of [
        'https://evil.example',
        `${ALLOWED}.evil.example`,
        ALLOWED.replace('https:', 'http:'),
        'http://localhost:5174',
        'null',
      ]) {
        const refused = await request(server)
          .options('/api/v1/products')
          .set('Origin', origin)
          .set('Access-Control-Request-Method', 'DELETE');
        expect({ origin, allow: refused.headers['access-control-allow-origin'] }).toEqual({
          origin,
          allow: undefined,
        });
        const read = await request(server)
          .get('/api/v1/products')
          .set('Origin', origin)
          .set('Authorization', `Bearer ${TEST_ADMIN_TOKEN}`);
        expect(read.headers['access-control-allow-origin']).toBeUndefined();
      }
    } finally {
      await app.close();
    }
  });
});
