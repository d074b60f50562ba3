import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Tenant isolation enforced by PostgreSQL itself (issue 8 §1): row-level security on every table that
 * holds a manufacturer's rows, so that a query which forgets `WHERE manufacturer_id = …` still sees only
 * the caller's tenant.
 *
 * - Role `fieldwatch_app` (no login, no superuser, no BYPASSRLS): the running app switches to it at
 *   connection start-up (src/database/tenant-context.ts). Superusers and table owners bypass RLS, so the
 *   login role keeps owning the schema and running migrations, and the app never acts as it.
 * - Setting `fieldwatch.tenant` on each connection taken from the pool: a manufacturer's uuid, '*' for
 *   background work and platform admins, '' (or unset) for anything else — which sees no rows.
 * - Policy `tenant_isolation` on every table with a `manufacturer_id` column (found from the catalogue,
 *   so none is forgotten; test/security/row-level-security.integration-spec.ts fails if a later table
 *   with that column has no policy), and on `manufacturers` by `id`. WITH CHECK stops a write into
 *   another tenant as well as a read.
 * Tables without the column (analysis_vessels, ffr_link_history, queues, ingestion progress) hold no
 * tenant data that can be reached without their tenant-scoped parent, or are written only by workers.
 */
export class RowLevelSecurity1764277200000 implements MigrationInterface {
  name = 'RowLevelSecurity1764277200000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      DO $$
      BEGIN
        CREATE ROLE fieldwatch_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
      EXCEPTION
        -- Roles are shared by every database of the server (test databases, a second clone).
        WHEN duplicate_object OR unique_violation THEN NULL;
      END
      $$;
      DO $$
      BEGIN
        EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO fieldwatch_app', current_database());
      END
      $$;
      GRANT USAGE ON SCHEMA public TO fieldwatch_app;
      GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO fieldwatch_app;
      GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO fieldwatch_app;
      ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO fieldwatch_app;
      ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO fieldwatch_app;

      -- CASE, not OR: '*'::uuid would fail if evaluated, and SQL does not promise to short-circuit.
      CREATE FUNCTION fieldwatch_tenant_visible(owner uuid) RETURNS boolean LANGUAGE sql STABLE AS $$
        SELECT CASE coalesce(current_setting('fieldwatch.tenant', true), '')
                 WHEN '*' THEN true
                 WHEN '' THEN false
                 ELSE owner = current_setting('fieldwatch.tenant', true)::uuid
               END
      $$;

      DO $$
      DECLARE
        tenant_table text;
      BEGIN
        FOR tenant_table IN
          SELECT c.table_name FROM information_schema.columns c
            JOIN pg_tables t ON t.schemaname = c.table_schema AND t.tablename = c.table_name
           WHERE c.table_schema = 'public' AND c.column_name = 'manufacturer_id'
        LOOP
          EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', tenant_table);
          EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (fieldwatch_tenant_visible(manufacturer_id)) '
            'WITH CHECK (fieldwatch_tenant_visible(manufacturer_id))',
            tenant_table);
        END LOOP;
      END
      $$;
      ALTER TABLE manufacturers ENABLE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON manufacturers
        USING (fieldwatch_tenant_visible(id)) WITH CHECK (fieldwatch_tenant_visible(id));
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      DO $$
      DECLARE
        tenant_table text;
      BEGIN
        FOR tenant_table IN
          SELECT tablename FROM pg_policies WHERE schemaname = 'public' AND policyname = 'tenant_isolation'
        LOOP
          EXECUTE format('DROP POLICY tenant_isolation ON %I', tenant_table);
          EXECUTE format('ALTER TABLE %I DISABLE ROW LEVEL SECURITY', tenant_table);
        END LOOP;
      END
      $$;
      DROP FUNCTION fieldwatch_tenant_visible(uuid);
      REVOKE ALL ON ALL TABLES IN SCHEMA public FROM fieldwatch_app;
      REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM fieldwatch_app;
      ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM fieldwatch_app;
      ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM fieldwatch_app;
      REVOKE ALL ON SCHEMA public FROM fieldwatch_app;
    `);
  }
}
