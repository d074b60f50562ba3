import { INestApplication } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { PERMISSION_EXTENSION } from '../src/auth/decorators';
import { Permission, PERMISSIONS, Role, ROLES } from '../src/auth/roles';
import { registerFleet, startApp } from './helpers/app';
import { isolatedEnvironment, TEST_ADMIN_TOKEN } from './helpers/test-environment';

interface Operation {
  method: 'get' | 'post' | 'patch' | 'delete' | 'put';
  path: string;
  permission: Permission | undefined;
}

/**
 * The roles matrix as the running API enforces it: every operation of the OpenAPI document, called
 * with a key of every role, is refused (403) exactly when the role lacks the operation's permission
 * in src/auth/roles.ts, and refused (401) without a key. A route without a permission is a failure
 * unless it is health.
 */
describe('roles matrix × every route of the OpenAPI document', () => {
  let app: INestApplication;
  let operations: Operation[];
  const keys = {} as Record<Role, string>;

  beforeAll(async () => {
    app = await startApp({ ...isolatedEnvironment('roles'), FW_PROCESS_ROLE: 'api' });
    const fleet = await registerFleet(app, `Roles-${randomUUID().slice(0, 8)}`, []);
    keys.admin = TEST_ADMIN_TOKEN;
    for (const role of ROLES.filter((r) => r !== 'admin')) {
      const issued = await request(app.getHttpServer())
        .post('/api/v1/api-keys')
        .set({ Authorization: `Bearer ${TEST_ADMIN_TOKEN}` })
        .send({ manufacturerId: fleet.manufacturerId, role, name: `${role} key` })
        .expect(201);
      keys[role] = issued.body.key;
    }
    const document = (await request(app.getHttpServer()).get('/api/docs/openapi.json').expect(200)).body as {
      paths: Record<string, Record<string, Record<string, unknown>>>;
    };
    operations = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({
        method: method as Operation['method'],
        path,
        permission: operation[PERMISSION_EXTENSION] as Permission | undefined,
      })),
    );
  });

  afterAll(async () => {
    await app?.close();
  });

  const concrete = (path: string) => path.replace(/\{[^}]+\}/g, randomUUID());

  it('documents a permission for every route except health', () => {
    expect(operations.length).toBeGreaterThan(20);
    const unguarded = operations.filter((op) => !op.permission).map((op) => `${op.method} ${op.path}`);
    expect(unguarded.sort()).toEqual(['get /health', 'get /health/live']);
    for (const op of operations.filter((o) => o.permission)) {
      expect(Object.keys(PERMISSIONS)).toContain(op.permission);
    }
  });

  it('covers the vigilance routes, with the intended roles (quality triages; researcher and admin denied)', () => {
    const vigilance = operations
      .filter((op) => /^\/api\/v1\/(incidents|complaints|vigilance)/.test(op.path))
      .map((op) => {
        const roles = PERMISSIONS[op.permission as Permission] as readonly Role[];
        return [`${op.method} ${op.path}`, op.permission, ROLES.filter((role) => roles.includes(role))];
      })
      .sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1));
    const readers = ['manufacturer', 'quality', 'auditor'];
    expect(vigilance).toEqual([
      ['get /api/v1/incidents', 'vigilance:read', readers],
      ['get /api/v1/incidents/alerts', 'vigilance:read', readers],
      ['get /api/v1/incidents/{id}', 'vigilance:read', readers],
      ['get /api/v1/incidents/{id}/mir.json', 'vigilance:read', readers],
      ['get /api/v1/incidents/{id}/mir.xml', 'vigilance:read', readers],
      ['get /api/v1/vigilance/aggregates', 'vigilance:read', readers],
      ['get /api/v1/vigilance/methods', 'vigilance:read', readers],
      ['get /api/v1/vigilance/trends', 'vigilance:read', readers],
      ['patch /api/v1/incidents/{id}', 'vigilance:triage', ['quality']],
      ['post /api/v1/complaints', 'complaints:create', ['manufacturer', 'quality']],
      ['post /api/v1/incidents', 'vigilance:write', ['manufacturer', 'quality']],
      ['post /api/v1/incidents/detections', 'vigilance:detect', ['quality']],
      ['put /api/v1/vigilance/methods', 'vigilance:configure', ['quality']],
    ]);
  });

  it('refuses every guarded route without a key', async () => {
    for (const op of operations.filter((o) => o.permission)) {
      const response = await request(app.getHttpServer())[op.method](concrete(op.path)).send({});
      expect({ route: `${op.method} ${op.path}`, status: response.status }).toEqual({
        route: `${op.method} ${op.path}`,
        status: 401,
      });
    }
  });

  it.each(ROLES)('lets %s through exactly the routes its permissions name', async (role) => {
    for (const op of operations.filter((o) => o.permission)) {
      const allowed = (PERMISSIONS[op.permission as Permission] as readonly Role[]).includes(role);
      const response = await request(app.getHttpServer())
        [op.method](concrete(op.path))
        .set({ Authorization: `Bearer ${keys[role]}` })
        .send({});
      const route = `${role}: ${op.method} ${op.path}`;
      if (allowed) {
        // Past the guard: the handler answers (validation, not found, or data), never 401/403 for the role.
        expect({ route, refused: response.status === 401 || response.status === 403 }).toEqual({
          route,
          refused: false,
        });
      } else {
        expect({ route, status: response.status }).toEqual({ route, status: 403 });
      }
    }
  });
});
