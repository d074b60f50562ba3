import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Drift monitoring with calibrated alarms (issue 4; src/drift/README.md).
 *
 * - `drift_monitor_configs`: a product's monitor configuration as versioned data (append-only): the JSON document, its
 *   SHA-256 over the canonical JSON (the "configuration hash" every evaluation and alert records), who set it and why.
 *   No row: the built-in default configuration (src/drift/drift-config.ts), version 0, with its own hash.
 * - `drift_reference_windows`: the reference a product (or one model version: `model_version`) is compared with —
 *   an imported premarket/pivotal dataset (`dataset`) or a chosen period of its own analyses (`period`). The
 *   reference's per-feature summary (reference-decile bin edges and counts, category tallies, proportions, residual
 *   moments) is computed once and frozen in `summary`, so later data arriving for the period cannot move the baseline
 *   silently. One active reference per (product, model version); a replaced one is kept, inactive.
 * - `drift_reference_cases`: the imported dataset's rows as validated (one per CSV line = one vessel), for audit and
 *   for label-free accuracy estimation (importance weighting of labelled reference cases).
 * - `drift_evaluations` / `drift_evaluation_results`: every evaluation run and the outcome of each monitor × segment
 *   (statistic, threshold, p, window sizes, conventions) — append-only snapshots, so an earlier run stays readable
 *   after late labels re-run the accuracy monitors.
 * - `drift_alerts`: one alert per ongoing drift of one monitor × segment (the partial unique index is the
 *   hysteresis: while an alert is open or acknowledged, later signals update it instead of opening another), with
 *   the evidence of the run that opened it and of the latest signalling run.
 *
 * Row-level security: every table carries manufacturer_id and gets the tenant_isolation policy (ENABLE + FORCE),
 * as migrations/1764277200000-RowLevelSecurity.ts.
 */
export class DriftMonitoring1764300000000 implements MigrationInterface {
  name = 'DriftMonitoring1764300000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE drift_monitor_configs (
        id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        manufacturer_id     uuid NOT NULL REFERENCES manufacturers(id),
        product_id          uuid NOT NULL REFERENCES products(id),
        version             integer NOT NULL CHECK (version >= 1),
        configuration       jsonb NOT NULL CHECK (jsonb_typeof(configuration) = 'object'),
        configuration_hash  text NOT NULL CHECK (configuration_hash ~ '^[0-9a-f]{64}$'),
        reason              text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
        created_by          text NOT NULL,
        created_at          timestamptz NOT NULL DEFAULT now(),
        UNIQUE (product_id, version)
      );

      CREATE TABLE drift_reference_windows (
        id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        manufacturer_id   uuid NOT NULL REFERENCES manufacturers(id),
        product_id        uuid NOT NULL REFERENCES products(id),
        model_version     text,
        kind              text NOT NULL CHECK (kind IN ('dataset', 'period')),
        label             text NOT NULL CHECK (length(label) BETWEEN 1 AND 200),
        period_from       timestamptz,
        period_to         timestamptz,
        monitor_from      timestamptz NOT NULL,
        source_sha256     text CHECK (source_sha256 ~ '^[0-9a-f]{64}$'),
        cases             integer NOT NULL CHECK (cases >= 0),
        vessels           integer NOT NULL CHECK (vessels >= 0),
        labelled_vessels  integer NOT NULL CHECK (labelled_vessels >= 0),
        summary           jsonb NOT NULL,
        active            boolean NOT NULL DEFAULT true,
        replaced_by       uuid REFERENCES drift_reference_windows(id),
        created_by        text NOT NULL,
        created_at        timestamptz NOT NULL DEFAULT now(),
        CHECK ((kind = 'period') = (period_from IS NOT NULL AND period_to IS NOT NULL)),
        CHECK (period_from IS NULL OR period_from < period_to),
        CHECK ((kind = 'dataset') = (source_sha256 IS NOT NULL))
      );
      CREATE UNIQUE INDEX drift_reference_windows_active
        ON drift_reference_windows (product_id, coalesce(model_version, '')) WHERE active;
      CREATE INDEX drift_reference_windows_product ON drift_reference_windows (manufacturer_id, product_id, created_at DESC);

      CREATE TABLE drift_reference_cases (
        reference_id         uuid NOT NULL REFERENCES drift_reference_windows(id),
        line                 integer NOT NULL,
        manufacturer_id      uuid NOT NULL REFERENCES manufacturers(id),
        case_id              text NOT NULL,
        procedure_date       date,
        status               text NOT NULL CHECK (status IN ('completed', 'rejected', 'failed')),
        vessel               text CHECK (vessel IN ('LM', 'LAD', 'LCX', 'RCA')),
        ct_ffr               real CHECK (ct_ffr >= 0 AND ct_ffr <= 1),
        invasive_ffr         real CHECK (invasive_ffr >= 0 AND invasive_ffr <= 1),
        age_years            smallint,
        sex                  text,
        bmi                  real,
        scanner_vendor       text,
        slice_thickness_mm   real,
        tube_voltage_kv      real,
        heart_rate_bpm       real,
        agatston_score       real,
        image_quality_score  real,
        processing_seconds   real,
        PRIMARY KEY (reference_id, line)
      );

      CREATE TABLE drift_evaluations (
        id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        manufacturer_id        uuid NOT NULL REFERENCES manufacturers(id),
        product_id             uuid NOT NULL REFERENCES products(id),
        trigger                text NOT NULL CHECK (trigger IN ('schedule', 'on_demand', 'late_labels')),
        scope                  text NOT NULL CHECK (scope IN ('all', 'accuracy')),
        configuration_version  integer NOT NULL CHECK (configuration_version >= 0),
        configuration_hash     text NOT NULL CHECK (configuration_hash ~ '^[0-9a-f]{64}$'),
        evaluated_at           timestamptz NOT NULL,
        window_from            timestamptz NOT NULL,
        window_to              timestamptz NOT NULL,
        reference_ids          uuid[] NOT NULL,
        high_water             jsonb NOT NULL,
        budget                 jsonb NOT NULL,
        summary                jsonb NOT NULL,
        duration_ms            integer NOT NULL,
        supersedes             uuid REFERENCES drift_evaluations(id),
        created_at             timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX drift_evaluations_product ON drift_evaluations (manufacturer_id, product_id, evaluated_at DESC);

      CREATE TABLE drift_evaluation_results (
        evaluation_id    uuid NOT NULL REFERENCES drift_evaluations(id),
        monitor_id       text NOT NULL,
        segment_kind     text NOT NULL CHECK (segment_kind IN ('overall', 'site', 'scannerVendor', 'modelVersion')),
        segment_key      text NOT NULL,
        manufacturer_id  uuid NOT NULL REFERENCES manufacturers(id),
        estimable        boolean NOT NULL,
        alarm            boolean NOT NULL,
        statistic        double precision,
        threshold        double precision,
        p_value          double precision,
        n_reference      integer,
        n_current        integer,
        evidence         jsonb NOT NULL,
        PRIMARY KEY (evaluation_id, monitor_id, segment_kind, segment_key)
      );

      CREATE TABLE drift_alerts (
        id                         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        manufacturer_id            uuid NOT NULL REFERENCES manufacturers(id),
        product_id                 uuid NOT NULL REFERENCES products(id),
        monitor_id                 text NOT NULL,
        family                     text NOT NULL CHECK (family IN ('input', 'output', 'operations', 'accuracy')),
        segment_kind               text NOT NULL CHECK (segment_kind IN ('overall', 'site', 'scannerVendor', 'modelVersion')),
        segment_key                text NOT NULL,
        status                     text NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
        condition                  text NOT NULL CHECK (condition IN ('active', 'cleared')),
        opened_at                  timestamptz NOT NULL,
        opened_evaluation_id       uuid NOT NULL REFERENCES drift_evaluations(id),
        evidence                   jsonb NOT NULL,
        last_signal_at             timestamptz NOT NULL,
        last_signal_evaluation_id  uuid NOT NULL REFERENCES drift_evaluations(id),
        last_evidence              jsonb NOT NULL,
        signal_runs                integer NOT NULL DEFAULT 1,
        quiet_runs                 integer NOT NULL DEFAULT 0,
        cleared_at                 timestamptz,
        acknowledged_at            timestamptz,
        acknowledged_by            text,
        acknowledge_reason         text,
        resolved_at                timestamptz,
        resolved_by                text,
        resolve_reason             text,
        version                    integer NOT NULL DEFAULT 1,
        CHECK ((status = 'resolved') = (resolved_at IS NOT NULL)),
        CHECK (status = 'open' OR acknowledged_at IS NOT NULL OR resolved_at IS NOT NULL)
      );
      -- Hysteresis: one alert per ongoing drift of a monitor × segment.
      CREATE UNIQUE INDEX drift_alerts_one_ongoing
        ON drift_alerts (product_id, monitor_id, segment_kind, segment_key) WHERE status <> 'resolved';
      CREATE INDEX drift_alerts_list ON drift_alerts (manufacturer_id, product_id, status, opened_at DESC);

      -- Configurations, references' rows, evaluation snapshots are evidence: never updated or deleted.
      CREATE FUNCTION drift_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
      END $$;
      CREATE TRIGGER drift_monitor_configs_append_only BEFORE UPDATE OR DELETE ON drift_monitor_configs
        FOR EACH ROW EXECUTE FUNCTION drift_append_only();
      CREATE TRIGGER drift_reference_cases_append_only BEFORE UPDATE OR DELETE ON drift_reference_cases
        FOR EACH ROW EXECUTE FUNCTION drift_append_only();
      CREATE TRIGGER drift_evaluations_append_only BEFORE UPDATE OR DELETE ON drift_evaluations
        FOR EACH ROW EXECUTE FUNCTION drift_append_only();
      CREATE TRIGGER drift_evaluation_results_append_only BEFORE UPDATE OR DELETE ON drift_evaluation_results
        FOR EACH ROW EXECUTE FUNCTION drift_append_only();

      DO $$
      DECLARE
        tenant_table text;
      BEGIN
        IF to_regprocedure('fieldwatch_tenant_visible(uuid)') IS NOT NULL THEN
          FOREACH tenant_table IN ARRAY ARRAY['drift_monitor_configs', 'drift_reference_windows', 'drift_reference_cases',
                                              'drift_evaluations', 'drift_evaluation_results', 'drift_alerts'] LOOP
            EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', tenant_table);
            EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', tenant_table);
            EXECUTE format(
              'CREATE POLICY tenant_isolation ON %I USING (fieldwatch_tenant_visible(manufacturer_id)) '
              'WITH CHECK (fieldwatch_tenant_visible(manufacturer_id))',
              tenant_table);
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO fieldwatch_app', tenant_table);
          END LOOP;
        END IF;
      END
      $$;
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      DROP TABLE drift_alerts, drift_evaluation_results, drift_evaluations, drift_reference_cases,
                 drift_reference_windows, drift_monitor_configs;
      DROP FUNCTION drift_append_only();
    `);
  }
}
