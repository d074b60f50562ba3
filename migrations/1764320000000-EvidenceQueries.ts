import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Researcher evidence queries (issue 7 §2; src/evidence/README.md). One row per query as asked: its normalised
 * cohort definition, the data high-water mark it was evaluated at (rows received, and linkage decided, up to
 * then), the minimum cell k, and what was released — the result and its sha256 — or why it was refused. Re-running a
 * query recomputes at the stored high-water mark and must give the same sha256. Rows are evidence of what left the
 * platform, and the differencing check reads every earlier release: once written, a row never changes.
 * Row-level security as in 1764277200000-RowLevelSecurity.
 */
export class EvidenceQueries1764320000000 implements MigrationInterface {
  name = 'EvidenceQueries1764320000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE evidence_queries (
        id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        manufacturer_id    uuid NOT NULL REFERENCES manufacturers(id),
        product_id         uuid NOT NULL REFERENCES products(id),
        created_by_key_id  uuid REFERENCES api_keys(id),
        created_by_role    text NOT NULL,
        definition         jsonb NOT NULL CHECK (jsonb_typeof(definition) = 'object'),
        definition_sha256  text NOT NULL,
        high_water_mark    timestamptz NOT NULL,
        min_cell           integer NOT NULL CHECK (min_cell >= 2),
        status             text NOT NULL CHECK (status IN ('released', 'refused')),
        refusal            jsonb,
        result             jsonb,
        result_sha256      text,
        created_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
        CHECK ((status = 'released') = (result IS NOT NULL AND result_sha256 IS NOT NULL)),
        CHECK ((status = 'refused') = (refusal IS NOT NULL))
      );
      CREATE INDEX evidence_queries_tenant_product ON evidence_queries (manufacturer_id, product_id, created_at);

      CREATE FUNCTION evidence_queries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'evidence_queries is append-only';
      END $$;
      CREATE TRIGGER evidence_queries_no_change BEFORE UPDATE OR DELETE ON evidence_queries
        FOR EACH ROW EXECUTE FUNCTION evidence_queries_append_only();

      DO $$
      BEGIN
        IF to_regprocedure('fieldwatch_tenant_visible(uuid)') IS NOT NULL THEN
          ALTER TABLE evidence_queries ENABLE ROW LEVEL SECURITY;
          ALTER TABLE evidence_queries FORCE ROW LEVEL SECURITY;
          CREATE POLICY tenant_isolation ON evidence_queries
            USING (fieldwatch_tenant_visible(manufacturer_id)) WITH CHECK (fieldwatch_tenant_visible(manufacturer_id));
          GRANT SELECT, INSERT ON evidence_queries TO fieldwatch_app;
          REVOKE UPDATE, DELETE, TRUNCATE ON evidence_queries FROM fieldwatch_app;
        END IF;
      END
      $$;
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      DROP TABLE evidence_queries;
      DROP FUNCTION evidence_queries_append_only();
    `);
  }
}
