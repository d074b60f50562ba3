import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Per-day drift roll-ups (issue 4 §6: every monitor over 10,000,000 analyses in under 60 s; drift-methods.md §8).
 *
 * An evaluation used to bin every analysis and vessel of its window on the reference's edges at each run, tens of µs
 * per analysis. drift_daily_cells holds those very counts per active reference, UTC day of the analysis and cell
 * (site × scanner vendor × model version): an evaluation adds up O(days × cells) rows, and bins live only the partial
 * days at its window's edges (src/drift/drift-rollups.ts). The counts are the window query's own, binned on the
 * reference's frozen edges, so a window summed from days is exactly the window binned at once.
 *
 * - drift_rollup_dirty: an append-only log of (product, day) whose analyses changed. Written by statement triggers
 *   on analyses (insert, update, delete), so every writer marks — ingestion, seeds, corrections — in its own
 *   transaction. Vessels are written only with their analysis (ingestion's one transaction), so the analysis's mark
 *   covers them. The evaluation (holding the product's advisory lock) rebuilds marked days of every active reference
 *   and deletes the marks it saw; a mark committed meanwhile stays for the next run.
 * - drift_rollup_state: which references are built, at which FFR threshold (a changed threshold rebuilds).
 */
export class DriftDailyRollups1764360000000 implements MigrationInterface {
  name = 'DriftDailyRollups1764360000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE drift_rollup_dirty (
        id          bigserial PRIMARY KEY,
        product_id  uuid NOT NULL,
        day         date NOT NULL
      );
      CREATE INDEX drift_rollup_dirty_product ON drift_rollup_dirty (product_id, id);

      CREATE TABLE drift_rollup_state (
        reference_id     uuid PRIMARY KEY REFERENCES drift_reference_windows(id),
        manufacturer_id  uuid NOT NULL,
        product_id       uuid NOT NULL,
        threshold        real NOT NULL,
        built_at         timestamptz NOT NULL,
        refreshed_at     timestamptz NOT NULL
      );
      CREATE INDEX drift_rollup_state_product ON drift_rollup_state (product_id);

      CREATE TABLE drift_daily_cells (
        reference_id         uuid NOT NULL REFERENCES drift_reference_windows(id),
        day                  date NOT NULL,
        site_id              uuid NOT NULL,
        scanner_vendor       text NOT NULL,
        model_version        text NOT NULL,
        manufacturer_id      uuid NOT NULL,
        product_id           uuid NOT NULL,
        analyses             integer NOT NULL,
        rejected             integer NOT NULL,
        failed               integer NOT NULL,
        sex_f                integer NOT NULL,
        sex_m                integer NOT NULL,
        sex_x                integer NOT NULL,
        -- feature → counts on the reference's edges (right-closed bins, as drift-queries.ts windowCells)
        numeric_bins         jsonb NOT NULL,
        -- vessels of completed analyses, those at or below the threshold, and their CT-FFR counts on the edges
        vessels              integer NOT NULL,
        vessels_at_or_below  integer NOT NULL,
        ct_ffr_bins          integer[],
        last_received_at     timestamptz,
        PRIMARY KEY (reference_id, day, site_id, scanner_vendor, model_version)
      );

      CREATE FUNCTION drift_mark_analyses_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
          INSERT INTO drift_rollup_dirty (product_id, day)
          SELECT DISTINCT product_id, (occurred_at AT TIME ZONE 'UTC')::date FROM changed_rows;
        END IF;
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
          INSERT INTO drift_rollup_dirty (product_id, day)
          SELECT DISTINCT product_id, (occurred_at AT TIME ZONE 'UTC')::date FROM previous_rows;
        END IF;
        RETURN NULL;
      END $$;
      CREATE TRIGGER analyses_drift_dirty_insert AFTER INSERT ON analyses
        REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION drift_mark_analyses_dirty();
      CREATE TRIGGER analyses_drift_dirty_update AFTER UPDATE ON analyses
        REFERENCING OLD TABLE AS previous_rows NEW TABLE AS changed_rows
        FOR EACH STATEMENT EXECUTE FUNCTION drift_mark_analyses_dirty();
      CREATE TRIGGER analyses_drift_dirty_delete AFTER DELETE ON analyses
        REFERENCING OLD TABLE AS previous_rows FOR EACH STATEMENT EXECUTE FUNCTION drift_mark_analyses_dirty();

      ALTER TABLE drift_daily_cells ENABLE ROW LEVEL SECURITY;
      ALTER TABLE drift_daily_cells FORCE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON drift_daily_cells
        USING (fieldwatch_tenant_visible(manufacturer_id)) WITH CHECK (fieldwatch_tenant_visible(manufacturer_id));
      ALTER TABLE drift_rollup_state ENABLE ROW LEVEL SECURITY;
      ALTER TABLE drift_rollup_state FORCE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON drift_rollup_state
        USING (fieldwatch_tenant_visible(manufacturer_id)) WITH CHECK (fieldwatch_tenant_visible(manufacturer_id));
      GRANT SELECT, INSERT, UPDATE, DELETE ON drift_daily_cells, drift_rollup_state, drift_rollup_dirty
        TO fieldwatch_app;
      GRANT USAGE, SELECT, UPDATE ON SEQUENCE drift_rollup_dirty_id_seq TO fieldwatch_app;
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      DROP TRIGGER analyses_drift_dirty_insert ON analyses;
      DROP TRIGGER analyses_drift_dirty_update ON analyses;
      DROP TRIGGER analyses_drift_dirty_delete ON analyses;
      DROP FUNCTION drift_mark_analyses_dirty();
      DROP TABLE drift_daily_cells, drift_rollup_state, drift_rollup_dirty;
    `);
  }
}
