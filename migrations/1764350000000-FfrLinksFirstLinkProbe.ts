import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One index for "the first linked invasive FFR of this analysed vessel" (issue 9, performance summary under load).
 *
 * The roll-up slices (src/performance/performance-rollups.ts) and detail=full (src/performance/full-detail.ts) probe
 * ffr_links once per analysed vessel: status 'linked', this analysis and vessel index, earliest measurement first.
 * With no index on all of that, a planner without fresh statistics (autovacuum had not analysed the table, as on the
 * project's CI server where it is off) combined ffr_links_analysis with ffr_links_tenant_linked in a BitmapAnd, and
 * the second reads every linked row of the tenant: each probe cost O(the tenant's links). bench:soak at 500 events/s
 * spent 0.33 ms per vessel with 12,100 links (3.7 s for 9,717 vessels under EXPLAIN ANALYZE), a dirty-day request
 * computing 20,000 vessels as the links grew reached the 30 s statement timeout, and the worker's passes slowed the
 * same way. This index answers the probe's equality, partial predicate and ORDER BY in one descent whatever the
 * statistics say (the same 9,717 vessels: 0.32 s), and carries the measurement so the heap is read only for
 * visibility.
 */
export class FfrLinksFirstLinkProbe1764350000000 implements MigrationInterface {
  name = 'FfrLinksFirstLinkProbe1764350000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE INDEX ffr_links_first_link ON ffr_links (analysis_event_id, vessel_index, measured_at, outcome_event_id)
        INCLUDE (invasive_ffr) WHERE status = 'linked'`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX ffr_links_first_link`);
  }
}
