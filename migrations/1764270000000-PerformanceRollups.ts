import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Mergeable roll-ups for real-world performance at scale (issue 3 §5): 10,000,000 analyses and
 * 2,000,000 linked vessels must answer in seconds, so the performance API reads sums kept per day
 * instead of the base tables.
 *
 * - performance_linked_vessels: one row per analysed vessel with its first invasive FFR (the pair the
 *   API counts), values as the float8 the API sees. The API's exact (CT-FFR, FFR) histogram comes from
 *   here with one index range scan (src/stats/pair-histogram.ts).
 * - performance_rollups: per product, UTC day of the CTA, site, model version, scanner vendor and
 *   vessel ('*' = all vessels, patients as clusters across their vessels), at the product's threshold:
 *   the verification-bias counts, the 2×2 table, the ratio-estimator sums of each proportion
 *   (K, Σm², Σx², Σxm), Bland–Altman 2007 sums and the per-patient 2×2. Sums add across rows.
 * - performance_rollup_dirty: an append-only log of (product, day) slices whose base rows changed,
 *   written in the same transaction as the change (ingestion, linkage). No unique key, so writers
 *   never wait on each other; the roll-up worker recomputes a slice and deletes the log rows it saw.
 */
export class PerformanceRollups1764270000000 implements MigrationInterface {
  name = 'PerformanceRollups1764270000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE performance_linked_vessels (
        product_id         uuid NOT NULL,
        day                date NOT NULL,
        analysis_event_id  uuid NOT NULL,
        vessel_index       smallint NOT NULL,
        manufacturer_id    uuid NOT NULL,
        site_id            uuid NOT NULL,
        model_version      text NOT NULL,
        scanner_vendor     text NOT NULL,
        vessel             text NOT NULL,
        ct_ffr             double precision NOT NULL,
        invasive_ffr       double precision NOT NULL,
        PRIMARY KEY (product_id, day, analysis_event_id, vessel_index)
      );

      CREATE TABLE performance_rollups (
        product_id                  uuid NOT NULL,
        day                         date NOT NULL,
        site_id                     uuid NOT NULL,
        model_version               text NOT NULL,
        scanner_vendor              text NOT NULL,
        vessel                      text NOT NULL,
        manufacturer_id             uuid NOT NULL,
        threshold                   real NOT NULL,
        analysed_positive           integer NOT NULL,
        analysed_negative           integer NOT NULL,
        linked                      integer NOT NULL,
        tp                          integer NOT NULL,
        fp                          integer NOT NULL,
        tn                          integer NOT NULL,
        fn                          integer NOT NULL,
        sensitivity_clusters        integer NOT NULL,
        sensitivity_trials2         double precision NOT NULL,
        sensitivity_successes2      double precision NOT NULL,
        sensitivity_cross           double precision NOT NULL,
        specificity_clusters        integer NOT NULL,
        specificity_trials2         double precision NOT NULL,
        specificity_successes2      double precision NOT NULL,
        specificity_cross           double precision NOT NULL,
        ppv_clusters                integer NOT NULL,
        ppv_trials2                 double precision NOT NULL,
        ppv_successes2              double precision NOT NULL,
        ppv_cross                   double precision NOT NULL,
        npv_clusters                integer NOT NULL,
        npv_trials2                 double precision NOT NULL,
        npv_successes2              double precision NOT NULL,
        npv_cross                   double precision NOT NULL,
        accuracy_clusters           integer NOT NULL,
        accuracy_trials2            double precision NOT NULL,
        accuracy_successes2         double precision NOT NULL,
        accuracy_cross              double precision NOT NULL,
        patients                    integer NOT NULL,
        pairs_squared               double precision NOT NULL,
        sum_difference              double precision NOT NULL,
        sum_squared_difference      double precision NOT NULL,
        sum_patient_total2_per_size double precision NOT NULL,
        sum_patient_total2          double precision NOT NULL,
        sum_size_times_total        double precision NOT NULL,
        patient_tp                  integer NOT NULL,
        patient_fp                  integer NOT NULL,
        patient_tn                  integer NOT NULL,
        patient_fn                  integer NOT NULL,
        PRIMARY KEY (product_id, day, site_id, model_version, scanner_vendor, vessel)
      );

      CREATE TABLE performance_rollup_dirty (
        id          bigserial PRIMARY KEY,
        product_id  uuid NOT NULL,
        day         date NOT NULL,
        marked_at   timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX performance_rollup_dirty_slice ON performance_rollup_dirty (product_id, day);

      -- Everything stored before this migration is one dirty slice per (product, day).
      INSERT INTO performance_rollup_dirty (product_id, day)
      SELECT DISTINCT product_id, (occurred_at AT TIME ZONE 'UTC')::date FROM analyses WHERE status = 'completed';
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      DROP TABLE performance_rollup_dirty, performance_rollups, performance_linked_vessels;
    `);
  }
}
