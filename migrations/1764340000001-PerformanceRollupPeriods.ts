import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The daily roll-up sums of performance_rollups added up per calendar month and year (issue 3 §5, "Scale").
 *
 * A detail=summary request summed every stored day row of its period: days × sites × model versions × vessels,
 * about 95,000 rows for a year of 50 sites, read once per request and again per grouping. performance_rollup_periods
 * holds the same sums per span ('month' or 'year', starting at `period`) and the same keys, so a request reads whole
 * years and months here and day rows only for partial or dirty months (src/performance/performance-pair-cells.ts
 * plans both reads). The roll-up worker recomputes a rebuilt day's month and year from the day rows in the same
 * transaction; here they are filled from the day rows already stored.
 */
export class PerformanceRollupPeriods1764340000001 implements MigrationInterface {
  name = 'PerformanceRollupPeriods1764340000001';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE performance_rollup_periods (LIKE performance_rollups INCLUDING DEFAULTS);
      ALTER TABLE performance_rollup_periods RENAME COLUMN day TO period;
      ALTER TABLE performance_rollup_periods ADD COLUMN span text NOT NULL CHECK (span IN ('month', 'year'));
      ALTER TABLE performance_rollup_periods
        ADD PRIMARY KEY (product_id, span, period, site_id, model_version, scanner_vendor, vessel);
      ALTER TABLE performance_rollup_periods ENABLE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON performance_rollup_periods
        USING (fieldwatch_tenant_visible(manufacturer_id)) WITH CHECK (fieldwatch_tenant_visible(manufacturer_id));
      GRANT SELECT, INSERT, UPDATE, DELETE ON performance_rollup_periods TO fieldwatch_app;
    `);
    // The sums' column list is the day table's, read from the catalogue: the two tables cannot drift apart.
    const columns = (await queryRunner.query(
      `SELECT column_name FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = 'performance_rollups'
          AND column_name NOT IN ('product_id', 'day', 'site_id', 'model_version', 'scanner_vendor', 'vessel',
                                  'manufacturer_id', 'threshold')
        ORDER BY ordinal_position`,
    )) as Array<{ column_name: string }>;
    const names = columns.map((column) => column.column_name);
    await queryRunner.query(`
      INSERT INTO performance_rollup_periods
             (product_id, span, period, site_id, model_version, scanner_vendor, vessel, manufacturer_id, threshold,
              ${names.join(', ')})
      SELECT product_id, span, date_trunc(span, day)::date, site_id, model_version, scanner_vendor, vessel,
             manufacturer_id, min(threshold), ${names.map((name) => `sum(${name})`).join(', ')}
        FROM performance_rollups CROSS JOIN (VALUES ('month'), ('year')) AS spans(span)
       GROUP BY product_id, span, date_trunc(span, day), site_id, model_version, scanner_vendor, vessel,
                manufacturer_id`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE performance_rollup_periods`);
  }
}
