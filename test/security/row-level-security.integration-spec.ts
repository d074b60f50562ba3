import { INestApplication } from '@nestjs/common';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { getDataSourceToken } from '@nestjs/typeorm';
import { runAsSystem, runAsTenant } from '../../src/database/tenant-context';
import { registerFleet, RegisteredFleet, startApp } from '../helpers/app';
import { isolatedEnvironment, TEST_DATABASE_URL } from '../helpers/test-environment';

/**
 * Row-level security (migration 1764277200000-RowLevelSecurity, src/database/tenant-context.ts): the
 * app's own connections, given a query that forgets its tenant filter on purpose, return only the
 * caller's tenant — and nothing at all outside any scope.
 */
describe('confidentiality: row-level security holds when a query forgets its tenant filter', () => {
  const environment: Record<string, string> = { ...isolatedEnvironment('rls'), FW_PROCESS_ROLE: 'api' };
  const run = environment.KAFKA_CONSUMER_GROUP.slice(-10);
  let app: INestApplication;
  let dataSource: DataSource;
  let tenantA: RegisteredFleet;
  let tenantB: RegisteredFleet;
  let database: Client;

  beforeAll(async () => {
    app = await startApp(environment);
    dataSource = app.get<DataSource>(getDataSourceToken());
    tenantA = await registerFleet(app, `RlsA-${run}`, [
      { siteId: `RLSA-${run}`, devices: [`RLSA-D-${run}`], dataSources: [] },
    ]);
    tenantB = await registerFleet(app, `RlsB-${run}`, [
      { siteId: `RLSB-${run}`, devices: [`RLSB-D-${run}`], dataSources: [] },
    ]);
    database = new Client({ connectionString: TEST_DATABASE_URL });
    await database.connect();
  });

  afterAll(async () => {
    await database?.end();
    await app?.close();
  });

  const ids = (rows: Array<{ id: string }>) => rows.map((row) => row.id);

  it('runs the app as a role that cannot bypass row-level security', async () => {
    const [role] = await runAsSystem(() =>
      dataSource.query<Array<{ current_user: string; rolsuper: boolean; rolbypassrls: boolean }>>(
        `SELECT current_user, r.rolsuper, r.rolbypassrls FROM pg_roles r WHERE r.rolname = current_user`,
      ),
    );
    expect(role).toEqual({ current_user: 'fieldwatch_app', rolsuper: false, rolbypassrls: false });
  });

  it("returns only the scope's tenant from an unfiltered query, through the query runner and the raw pool", async () => {
    const products = (tenant: string) =>
      runAsTenant(tenant, () =>
        dataSource.query<Array<{ id: string }>>('SELECT id::text AS id FROM products'),
      );
    expect(ids(await products(tenantA.manufacturerId))).toEqual([tenantA.productId]);
    expect(ids(await products(tenantB.manufacturerId))).toEqual([tenantB.productId]);
    for (const table of ['devices', 'sites', 'audit_log', 'api_keys', 'manufacturers']) {
      const column = table === 'manufacturers' ? 'id' : 'manufacturer_id';
      const owners = await runAsTenant(tenantA.manufacturerId, () =>
        dataSource.query<Array<{ owner: string | null }>>(
          `SELECT DISTINCT ${column}::text AS owner FROM ${table}`,
        ),
      );
      expect({ table, owners: owners.map((row) => row.owner) }).toEqual({
        table,
        owners: [tenantA.manufacturerId],
      });
    }
    const pool = (
      dataSource.driver as unknown as {
        master: { query: (sql: string) => Promise<{ rows: Array<{ id: string }> }> };
      }
    ).master;
    const viaPool = await runAsTenant(tenantB.manufacturerId, () =>
      pool.query('SELECT id::text AS id FROM products'),
    );
    expect(ids(viaPool.rows)).toEqual([tenantB.productId]);
  });

  it('shows nothing outside a scope, and everything to background work', async () => {
    expect(await dataSource.query('SELECT id FROM products')).toEqual([]);
    expect(await dataSource.query('SELECT id FROM api_keys')).toEqual([]);
    const all = ids(
      await runAsSystem(() => dataSource.query<Array<{ id: string }>>('SELECT id::text AS id FROM products')),
    );
    expect(all).toEqual(expect.arrayContaining([tenantA.productId, tenantB.productId]));
  });

  it("refuses to write into another tenant's rows", async () => {
    await expect(
      runAsTenant(tenantA.manufacturerId, () =>
        dataSource.query(
          `INSERT INTO sites (manufacturer_id, site_code, name, country) VALUES ($1, $2, 'forged', 'DE')`,
          [tenantB.manufacturerId, `FORGED-${run}`],
        ),
      ),
    ).rejects.toThrow(/row-level security/);
    const updated = await runAsTenant(tenantA.manufacturerId, () =>
      dataSource.query(`UPDATE products SET name = 'taken over' WHERE id = $1`, [tenantB.productId]),
    );
    expect(updated[1]).toBe(0);
    const name = await database.query('SELECT name FROM products WHERE id = $1', [tenantB.productId]);
    expect(name.rows[0].name).not.toBe('taken over');
  });

  it('has a policy on every table that holds a manufacturer_id, so new tables are born protected', async () => {
    const unprotected = await database.query<{ table_name: string }>(
      `SELECT c.table_name FROM information_schema.columns c
         JOIN pg_class k ON k.relname = c.table_name AND k.relkind IN ('r', 'p')
         JOIN pg_namespace n ON n.oid = k.relnamespace AND n.nspname = 'public'
        WHERE c.table_schema = 'public' AND c.column_name = 'manufacturer_id'
          AND (NOT k.relrowsecurity
               OR NOT EXISTS (SELECT 1 FROM pg_policies p WHERE p.schemaname = 'public' AND p.tablename = c.table_name))`,
    );
    expect(unprotected.rows.map((row) => row.table_name)).toEqual([]);
  });
});
