import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Vigilance detection, trend reporting and per-product methods (issue 5 §1, §4; src/vigilance/README.md).
 *
 * - `vigilance_methods`: a product's pre-specified detection parameters and trend method (MDR Art. 88 requires the
 *   method to be set out in advance, in the PMS plan); absent: the documented defaults apply.
 * - `incident_detections`: one row per (product, rule, subject) — the unique key that makes detection idempotent — with
 *   the candidate incident it opened and the evidence (rule id, values, linked ids; never pseudonyms or their hashes).
 *   `subject_at` (the CTA or the window start) and `site_id` place it in a month and a site for trend reporting.
 * - `vigilance_trend_signals`: one row per (product, month, unit, site) whose rate rose significantly above the
 *   baseline under the product's method, with the evidence (counts, exposure, baseline, p-value, method).
 *
 * Row-level security: this migration runs after 1764277200000-RowLevelSecurity, so it adds the tenant_isolation policy
 * itself (default privileges already grant the app role).
 */
export class VigilanceDetection1764280800000 implements MigrationInterface {
  name = 'VigilanceDetection1764280800000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE vigilance_methods (
        product_id       uuid PRIMARY KEY REFERENCES products(id),
        manufacturer_id  uuid NOT NULL REFERENCES manufacturers(id),
        detection        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(detection) = 'object'),
        trend            jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(trend) = 'object'),
        version          integer NOT NULL DEFAULT 1,
        updated_at       timestamptz NOT NULL DEFAULT now()
      );

      CREATE TABLE incident_detections (
        id               bigserial PRIMARY KEY,
        manufacturer_id  uuid NOT NULL REFERENCES manufacturers(id),
        product_id       uuid NOT NULL REFERENCES products(id),
        rule_id          text NOT NULL,
        subject_key      text NOT NULL,
        incident_id      uuid NOT NULL REFERENCES incidents(id),
        seriousness      text NOT NULL,
        site_id          uuid,
        device_id        uuid,
        subject_at       timestamptz NOT NULL,
        imdrf            jsonb NOT NULL DEFAULT '{}',
        evidence         jsonb NOT NULL,
        detected_at      timestamptz NOT NULL DEFAULT now(),
        UNIQUE (product_id, rule_id, subject_key)
      );
      CREATE INDEX incident_detections_trend ON incident_detections (product_id, subject_at);
      CREATE INDEX incident_detections_incident ON incident_detections (incident_id);

      CREATE TABLE vigilance_trend_signals (
        id               bigserial PRIMARY KEY,
        manufacturer_id  uuid NOT NULL REFERENCES manufacturers(id),
        product_id       uuid NOT NULL REFERENCES products(id),
        month            date NOT NULL,
        unit             text NOT NULL,
        site_id          uuid,
        group_key        text NOT NULL,
        evidence         jsonb NOT NULL,
        detected_at      timestamptz NOT NULL DEFAULT now(),
        UNIQUE (product_id, month, unit, group_key)
      );

      DO $$
      DECLARE
        tenant_table text;
      BEGIN
        IF to_regprocedure('fieldwatch_tenant_visible(uuid)') IS NOT NULL THEN
          FOREACH tenant_table IN ARRAY ARRAY['vigilance_methods', 'incident_detections', 'vigilance_trend_signals'] LOOP
            EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', tenant_table);
            EXECUTE format(
              'CREATE POLICY tenant_isolation ON %I USING (fieldwatch_tenant_visible(manufacturer_id)) '
              'WITH CHECK (fieldwatch_tenant_visible(manufacturer_id))',
              tenant_table);
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO fieldwatch_app', tenant_table);
          END LOOP;
          GRANT USAGE, SELECT, UPDATE ON SEQUENCE incident_detections_id_seq, vigilance_trend_signals_id_seq
            TO fieldwatch_app;
        END IF;
      END
      $$;
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE vigilance_trend_signals, incident_detections, vigilance_methods`);
  }
}
