import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Periodic regulator-facing reports (issue 6): the EU PSUR (MDR Art. 86, MDCG 2022-21) and the NMPA periodic risk
 * evaluation report. One `periodic_reports` row per product, type and data collection period (its reference number is
 * stable across versions, MDCG 2022-21 Annex I §1); each generation adds a `periodic_report_versions` row holding the
 * artefacts exactly as served (canonical JSON, HTML, PDF), their sha256, the configuration and its hash, and the data
 * high-water marks it was built on. Finalising signs the current version (Ed25519) and freezes the report: the
 * triggers below refuse any later change even to code that forgets to check (defence in depth behind the service's 409).
 * Row-level security as in 1764277200000-RowLevelSecurity.
 */
export class PeriodicReports1764310000000 implements MigrationInterface {
  name = 'PeriodicReports1764310000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE periodic_reports (
        id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        manufacturer_id   uuid NOT NULL REFERENCES manufacturers(id),
        product_id        uuid NOT NULL REFERENCES products(id),
        type              text NOT NULL CHECK (type IN ('psur', 'nmpa-periodic-risk')),
        period_from       date NOT NULL,
        period_to         date NOT NULL,
        reference         text NOT NULL,
        status            text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'final')),
        current_version   integer NOT NULL DEFAULT 0 CHECK (current_version >= 0),
        created_at        timestamptz NOT NULL DEFAULT now(),
        updated_at        timestamptz NOT NULL DEFAULT now(),
        finalized_at      timestamptz,
        finalized_by      jsonb,
        CHECK (period_from <= period_to),
        CHECK ((status = 'final') = (finalized_at IS NOT NULL)),
        UNIQUE (product_id, type, period_from, period_to),
        UNIQUE (id, manufacturer_id)
      );
      CREATE INDEX periodic_reports_tenant_product ON periodic_reports (manufacturer_id, product_id, type, period_to DESC);

      CREATE TABLE periodic_report_versions (
        report_id              uuid NOT NULL,
        manufacturer_id        uuid NOT NULL,
        version                integer NOT NULL CHECK (version >= 1),
        generated_at           timestamptz NOT NULL DEFAULT now(),
        trigger                text NOT NULL CHECK (trigger IN ('on_demand', 'schedule')),
        configuration          jsonb NOT NULL,
        configuration_sha256   text NOT NULL CHECK (configuration_sha256 ~ '^[0-9a-f]{64}$'),
        data_marks             jsonb NOT NULL,
        content_json           text NOT NULL,
        content_html           text NOT NULL,
        content_pdf            bytea NOT NULL,
        json_sha256            text NOT NULL CHECK (json_sha256 ~ '^[0-9a-f]{64}$'),
        html_sha256            text NOT NULL CHECK (html_sha256 ~ '^[0-9a-f]{64}$'),
        pdf_sha256             text NOT NULL CHECK (pdf_sha256 ~ '^[0-9a-f]{64}$'),
        render_millis          integer NOT NULL,
        signed_message         text,
        signature              bytea,
        signing_public_key     bytea,
        signing_key_fingerprint text,
        signed_at              timestamptz,
        PRIMARY KEY (report_id, version),
        FOREIGN KEY (report_id, manufacturer_id) REFERENCES periodic_reports(id, manufacturer_id)
      );

      -- A final report never changes: no update of its row (but the one that finalises it), no new or changed version.
      CREATE FUNCTION periodic_report_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_TABLE_NAME = 'periodic_reports' THEN
          IF OLD.status = 'final' THEN
            RAISE EXCEPTION 'periodic report % is final and cannot change', OLD.id USING ERRCODE = 'object_not_in_prerequisite_state';
          END IF;
          IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'periodic reports are never deleted' USING ERRCODE = 'object_not_in_prerequisite_state';
          END IF;
          RETURN NEW;
        END IF;
        IF EXISTS (SELECT 1 FROM periodic_reports r
                    WHERE r.id = (CASE WHEN TG_OP = 'INSERT' THEN NEW.report_id ELSE OLD.report_id END)
                      AND r.status = 'final') THEN
          RAISE EXCEPTION 'periodic report % is final and cannot change', coalesce(NEW.report_id, OLD.report_id)
            USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        IF TG_OP = 'DELETE' THEN
          RAISE EXCEPTION 'periodic report versions are never deleted' USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        IF TG_OP = 'UPDATE' AND (NEW.content_json IS DISTINCT FROM OLD.content_json
             OR NEW.content_html IS DISTINCT FROM OLD.content_html OR NEW.content_pdf IS DISTINCT FROM OLD.content_pdf
             OR NEW.json_sha256 IS DISTINCT FROM OLD.json_sha256 OR NEW.configuration IS DISTINCT FROM OLD.configuration) THEN
          RAISE EXCEPTION 'a generated report version is never rewritten' USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        RETURN NEW;
      END
      $$;
      CREATE TRIGGER periodic_reports_frozen BEFORE UPDATE OR DELETE ON periodic_reports
        FOR EACH ROW EXECUTE FUNCTION periodic_report_frozen();
      CREATE TRIGGER periodic_report_versions_frozen BEFORE INSERT OR UPDATE OR DELETE ON periodic_report_versions
        FOR EACH ROW EXECUTE FUNCTION periodic_report_frozen();

      ALTER TABLE periodic_reports ENABLE ROW LEVEL SECURITY;
      ALTER TABLE periodic_reports FORCE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON periodic_reports
        USING (fieldwatch_tenant_visible(manufacturer_id)) WITH CHECK (fieldwatch_tenant_visible(manufacturer_id));
      ALTER TABLE periodic_report_versions ENABLE ROW LEVEL SECURITY;
      ALTER TABLE periodic_report_versions FORCE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON periodic_report_versions
        USING (fieldwatch_tenant_visible(manufacturer_id)) WITH CHECK (fieldwatch_tenant_visible(manufacturer_id));
      GRANT SELECT, INSERT, UPDATE ON periodic_reports, periodic_report_versions TO fieldwatch_app;
      REVOKE DELETE, TRUNCATE ON periodic_reports, periodic_report_versions FROM fieldwatch_app;
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      DROP TABLE periodic_report_versions;
      DROP TABLE periodic_reports;
      DROP FUNCTION periodic_report_frozen();
    `);
  }
}
