import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The ingestion write path, measured (`npm run bench:ingest`): per-row foreign-key checks on the event
 * tables cost more than the rows themselves — each check is an index probe plus a FOR KEY SHARE
 * lock on the parent row, for every analysis, vessel and outcome. Integrity is kept where it is
 * decided instead: ingestion stores an event only for a sender it resolved from the registry
 * (devices, data sources and sites are never deleted: no route deletes them), and a vessel only in
 * the same statement as its analysis. The registry tables keep their foreign keys.
 *
 * `analyses_device_time` is dropped: per-device listings filter the tenant/time index, and every
 * extra index is maintained on each of millions of inserts.
 */
export class IngestionWritePath1764255600000 implements MigrationInterface {
  name = 'IngestionWritePath1764255600000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE analyses DROP CONSTRAINT analyses_device_id_fkey, DROP CONSTRAINT analyses_site_id_fkey;
      ALTER TABLE analysis_vessels DROP CONSTRAINT analysis_vessels_analysis_event_id_fkey;
      ALTER TABLE outcomes DROP CONSTRAINT outcomes_data_source_id_fkey, DROP CONSTRAINT outcomes_site_id_fkey;
      ALTER TABLE device_events DROP CONSTRAINT device_events_device_id_fkey;
      ALTER TABLE ffr_links DROP CONSTRAINT ffr_links_outcome_event_id_fkey, DROP CONSTRAINT ffr_links_analysis_event_id_fkey;
      DROP INDEX analyses_device_time;
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE INDEX analyses_device_time ON analyses (device_id, occurred_at DESC);
      ALTER TABLE ffr_links ADD FOREIGN KEY (outcome_event_id) REFERENCES outcomes(event_id),
                            ADD FOREIGN KEY (analysis_event_id) REFERENCES analyses(event_id);
      ALTER TABLE device_events ADD FOREIGN KEY (device_id) REFERENCES devices(id);
      ALTER TABLE outcomes ADD FOREIGN KEY (data_source_id) REFERENCES data_sources(id),
                           ADD FOREIGN KEY (site_id) REFERENCES sites(id);
      ALTER TABLE analysis_vessels ADD FOREIGN KEY (analysis_event_id) REFERENCES analyses(event_id);
      ALTER TABLE analyses ADD FOREIGN KEY (device_id) REFERENCES devices(id),
                           ADD FOREIGN KEY (site_id) REFERENCES sites(id);
    `);
  }
}
