import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The accuracy charts' labelled stream kept per product and UTC day of the CTA (issue 4 §6; src/drift/drift-rollups.ts).
 *
 * A sequential chart reads every labelled vessel in order — 1.9M at 10,000,000 analyses. Read from
 * performance_linked_vessels one row per vessel, that was 20–30 s of an evaluation on a loaded 2-core machine. Here a
 * day is one row: the day's vessels in CTA order (analysis, then vessel, as before), each as an index into the day's
 * cells (site × scanner vendor × model version; int2 big-endian) and its CT-FFR and invasive FFR (float8 big-endian,
 * the very doubles of performance_linked_vessels, so residual and discordance are computed from the same values).
 *
 * - drift_label_dirty: (product, day) whose linked pairs changed, written by statement triggers on
 *   performance_linked_vessels (the performance roll-up worker deletes and re-inserts a day there).
 * - drift_label_state: the products whose days are built.
 */
export class DriftLabelledDays1764360000001 implements MigrationInterface {
  name = 'DriftLabelledDays1764360000001';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE drift_label_dirty (
        id          bigserial PRIMARY KEY,
        product_id  uuid NOT NULL,
        day         date NOT NULL
      );
      CREATE INDEX drift_label_dirty_product ON drift_label_dirty (product_id, id);

      CREATE TABLE drift_label_state (
        product_id       uuid PRIMARY KEY,
        manufacturer_id  uuid NOT NULL,
        built_at         timestamptz NOT NULL
      );

      CREATE TABLE drift_labelled_days (
        product_id       uuid NOT NULL,
        day              date NOT NULL,
        manufacturer_id  uuid NOT NULL,
        vessels          integer NOT NULL,
        -- the day's cells: site_id, scanner_vendor, model_version joined by chr(31)
        cells            text[] NOT NULL,
        cell_index       bytea NOT NULL,
        ct_ffr           bytea NOT NULL,
        invasive_ffr     bytea NOT NULL,
        PRIMARY KEY (product_id, day)
      );

      CREATE FUNCTION drift_mark_labels_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
          INSERT INTO drift_label_dirty (product_id, day) SELECT DISTINCT product_id, day FROM changed_rows;
        END IF;
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
          INSERT INTO drift_label_dirty (product_id, day) SELECT DISTINCT product_id, day FROM previous_rows;
        END IF;
        RETURN NULL;
      END $$;
      CREATE TRIGGER performance_linked_vessels_drift_insert AFTER INSERT ON performance_linked_vessels
        REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION drift_mark_labels_dirty();
      CREATE TRIGGER performance_linked_vessels_drift_update AFTER UPDATE ON performance_linked_vessels
        REFERENCING OLD TABLE AS previous_rows NEW TABLE AS changed_rows
        FOR EACH STATEMENT EXECUTE FUNCTION drift_mark_labels_dirty();
      CREATE TRIGGER performance_linked_vessels_drift_delete AFTER DELETE ON performance_linked_vessels
        REFERENCING OLD TABLE AS previous_rows FOR EACH STATEMENT EXECUTE FUNCTION drift_mark_labels_dirty();

      ALTER TABLE drift_labelled_days ENABLE ROW LEVEL SECURITY;
      ALTER TABLE drift_labelled_days FORCE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON drift_labelled_days
        USING (fieldwatch_tenant_visible(manufacturer_id)) WITH CHECK (fieldwatch_tenant_visible(manufacturer_id));
      ALTER TABLE drift_label_state ENABLE ROW LEVEL SECURITY;
      ALTER TABLE drift_label_state FORCE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON drift_label_state
        USING (fieldwatch_tenant_visible(manufacturer_id)) WITH CHECK (fieldwatch_tenant_visible(manufacturer_id));
      GRANT SELECT, INSERT, UPDATE, DELETE ON drift_labelled_days, drift_label_state, drift_label_dirty
        TO fieldwatch_app;
      GRANT USAGE, SELECT, UPDATE ON SEQUENCE drift_label_dirty_id_seq TO fieldwatch_app;
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      DROP TRIGGER performance_linked_vessels_drift_insert ON performance_linked_vessels;
      DROP TRIGGER performance_linked_vessels_drift_update ON performance_linked_vessels;
      DROP TRIGGER performance_linked_vessels_drift_delete ON performance_linked_vessels;
      DROP FUNCTION drift_mark_labels_dirty();
      DROP TABLE drift_labelled_days, drift_label_state, drift_label_dirty;
    `);
  }
}
