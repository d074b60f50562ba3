import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Linkage of invasive FFR to CT-FFR vessels (DESIGN.md §4, "Linkage").
 *
 * - `outcomes.recorded_at`: when the data source recorded (or corrected) the measurement. A later
 *   record for the same site, patient, vessel, segment and measurement time supersedes an earlier
 *   one; ordering by content, not arrival, keeps linkage independent of arrival order.
 * - `linkage_pending`: the outcomes module's inbox. Ingestion adds the (site, patient) keys it touched
 *   in the same transaction as the rows; the linker re-evaluates those keys after commit, so it always
 *   sees both sides however they arrived.
 * - `ffr_links`: the current result per invasive-FFR outcome, a pure function of the stored events.
 * - `ffr_link_history`: every change of a link's result, kept (nothing is overwritten silently).
 */
export class OutcomeLinkage1764252000000 implements MigrationInterface {
  name = 'OutcomeLinkage1764252000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE outcomes ADD COLUMN recorded_at timestamptz;

      CREATE TABLE linkage_pending (
        site_id      uuid NOT NULL,
        patient_key  bytea NOT NULL,
        queued_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (site_id, patient_key)
      );

      CREATE TABLE ffr_links (
        outcome_event_id     uuid PRIMARY KEY REFERENCES outcomes(event_id),
        manufacturer_id      uuid NOT NULL,
        site_id              uuid NOT NULL,
        patient_key          bytea NOT NULL,
        status               text NOT NULL CHECK (status IN (
                               'linked', 'no_analysis_in_window', 'intervening_revascularization', 'superseded')),
        superseded_by        uuid,
        analysis_event_id    uuid REFERENCES analyses(event_id),
        vessel_index         smallint,
        vessel               text NOT NULL,
        measured_at          timestamptz NOT NULL,
        invasive_ffr         real NOT NULL,
        ct_ffr               real,
        analysis_occurred_at timestamptz,
        lag_days             real,
        window_days          smallint NOT NULL,
        evaluated_at         timestamptz NOT NULL DEFAULT now(),
        CHECK ((status = 'linked') = (analysis_event_id IS NOT NULL)),
        CHECK ((status = 'superseded') = (superseded_by IS NOT NULL))
      );
      CREATE INDEX ffr_links_patient ON ffr_links (site_id, patient_key);
      CREATE INDEX ffr_links_tenant_linked ON ffr_links (manufacturer_id, measured_at) WHERE status = 'linked';
      CREATE INDEX ffr_links_analysis ON ffr_links (analysis_event_id) WHERE analysis_event_id IS NOT NULL;

      CREATE TABLE ffr_link_history (
        id                       bigserial PRIMARY KEY,
        outcome_event_id         uuid NOT NULL,
        changed_at               timestamptz NOT NULL DEFAULT now(),
        previous_status          text,
        previous_analysis_event_id uuid,
        previous_vessel_index    smallint,
        status                   text NOT NULL,
        analysis_event_id        uuid,
        vessel_index             smallint,
        superseded_by            uuid
      );
      CREATE INDEX ffr_link_history_outcome ON ffr_link_history (outcome_event_id, changed_at);
      -- Link history is evidence: once written it is never updated or deleted.
      CREATE FUNCTION ffr_link_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'ffr_link_history is append-only';
      END $$;
      CREATE TRIGGER ffr_link_history_no_change BEFORE UPDATE OR DELETE ON ffr_link_history
        FOR EACH ROW EXECUTE FUNCTION ffr_link_history_append_only();
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      DROP TABLE ffr_link_history, ffr_links, linkage_pending;
      DROP FUNCTION ffr_link_history_append_only();
      ALTER TABLE outcomes DROP COLUMN recorded_at;
    `);
  }
}
