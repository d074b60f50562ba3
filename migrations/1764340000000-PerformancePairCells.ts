import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * (CT-FFR, invasive FFR) histograms of the linked vessels per month and per year (issue 3 §5, "Scale").
 *
 * detail=summary built its exact histogram by scanning performance_linked_vessels for the period on every request:
 * O(linked vessels), about 1 s at 2,000,000 of them. performance_pair_cells holds the same counts per product, span
 * ('month' or 'year', starting at `period`: UTC, of the CTA) and one grouping dimension ('overall', 'site',
 * 'modelVersion', 'scannerVendor', 'vessel'; member = the group's value, '' for overall). A request reads whole years
 * and whole months from here and only the days of partial or not-yet-rolled-up months from the per-day pairs
 * (src/performance/performance-pair-cells.ts). Years as well as months because a grouped histogram (50 sites ×
 * the distinct pairs of each) repeats per month: a year of months is twelve times the rows of its year.
 *
 * Values are the exact float8 of performance_linked_vessels, not bins: the counts are a lossless regrouping, so every
 * statistic from them (DeLong AUC with midranks, Bland–Altman, correlations) is unchanged. The table stays small
 * because devices report CT-FFR and invasive FFR at 0.01, so a span has at most a few thousand distinct pairs.
 *
 * The roll-up worker keeps it in step by adding each rebuilt day's new pairs and subtracting its old ones in the same
 * transaction (mergeable counts). Here it is filled from the pairs already stored.
 */
export class PerformancePairCells1764340000000 implements MigrationInterface {
  name = 'PerformancePairCells1764340000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE performance_pair_cells (
        product_id       uuid NOT NULL,
        dimension        text NOT NULL,
        span             text NOT NULL CHECK (span IN ('month', 'year')),
        period           date NOT NULL,
        member           text NOT NULL,
        ct_ffr           double precision NOT NULL,
        invasive_ffr     double precision NOT NULL,
        manufacturer_id  uuid NOT NULL,
        vessels          integer NOT NULL,
        -- Dimension and span before the period: a request reads one dimension's years and months.
        PRIMARY KEY (product_id, dimension, span, period, member, ct_ffr, invasive_ffr)
      );
      ALTER TABLE performance_pair_cells ENABLE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON performance_pair_cells
        USING (fieldwatch_tenant_visible(manufacturer_id)) WITH CHECK (fieldwatch_tenant_visible(manufacturer_id));
      GRANT SELECT, INSERT, UPDATE, DELETE ON performance_pair_cells TO fieldwatch_app;

      INSERT INTO performance_pair_cells
      SELECT product_id,
             CASE WHEN GROUPING(site_id) = 0 THEN 'site' WHEN GROUPING(model_version) = 0 THEN 'modelVersion'
                  WHEN GROUPING(scanner_vendor) = 0 THEN 'scannerVendor' WHEN GROUPING(vessel) = 0 THEN 'vessel'
                  ELSE 'overall' END,
             span, date_trunc(span, day)::date,
             coalesce(site_id::text, model_version, scanner_vendor, vessel, ''),
             ct_ffr, invasive_ffr, manufacturer_id, count(*)
        FROM performance_linked_vessels CROSS JOIN (VALUES ('month'), ('year')) AS spans(span)
       GROUP BY product_id, manufacturer_id, span, date_trunc(span, day), ct_ffr, invasive_ffr,
                GROUPING SETS ((), (site_id), (model_version), (scanner_vendor), (vessel));
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE performance_pair_cells`);
  }
}
