import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Storage that grows (issue 9 §3; the plan and its reasons: docs/storage/partitioning.md).
 *
 * `analyses`, `analysis_vessels` and `device_events` become PostgreSQL declarative partitioned tables, one range
 * partition per calendar month (UTC) of the event's time: `analyses.occurred_at`, `device_events.occurred_at`, and for
 * vessels the new column `analysis_vessels.analysis_occurred_at` (their analysis's time, so a month of analyses and
 * its vessels live, prune and retire together).
 *
 * - A unique constraint of a partitioned table must contain the partition key, so `event_id` alone can no longer be
 *   unique there. Idempotency by eventId (DESIGN.md §4) moves to the unpartitioned key tables `analysis_event_ids`
 *   and `device_event_ids` (event_id PRIMARY KEY): ingestion claims the key first and stores only the events whose
 *   key it claimed, so a second copy is a duplicate whatever `occurredAt` it carries.
 * - No foreign key references these tables (migration 1764255600000-IngestionWritePath dropped them for the write
 *   path's sake); references by value are kept consistent by retention, the one path that removes event rows.
 * - Partitions are created by `fieldwatch_ensure_event_partitions(months)`, a SECURITY DEFINER function: the app's
 *   role creates no tables itself, and the function creates nothing but month partitions inside the ingestion
 *   plausibility window (src/ingestion/plausibility-rules.ts: 10 years back, minutes ahead; months ahead for the
 *   schedule) and never a month retention has retired (`retired_event_partitions`). Each partition is created
 *   standalone and then ATTACHed: ATTACH takes SHARE UPDATE EXCLUSIVE on the parent, so reads and writes continue,
 *   where CREATE TABLE … PARTITION OF would take ACCESS EXCLUSIVE. Each partition carries the tenant policy itself,
 *   because a query that names a partition uses the partition's policies, not the parent's.
 *
 * Existing rows are converted, not dropped: the old tables are renamed, the partitioned ones created with the same
 * columns and constraints, every month from the earliest row through three months ahead created, the rows copied,
 * the counts checked, the indexes the old tables had recreated from their own definitions, the old tables dropped.
 * This runs in the migration's transaction; stop ingestion and the API while it runs (it rewrites the tables).
 */
export class PartitionedEventStorage1764330000000 implements MigrationInterface {
  name = 'PartitionedEventStorage1764330000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      -- Months retention removed; never recreated, so a late copy of a retired event is refused, not resurrected.
      CREATE TABLE retired_event_partitions (
        table_name      text NOT NULL,
        month           date NOT NULL CHECK (month = date_trunc('month', month)::date),
        retired_at      timestamptz NOT NULL DEFAULT now(),
        rows_removed    bigint NOT NULL,
        retention_months integer NOT NULL,
        PRIMARY KEY (table_name, month)
      );

      -- Creates one month's partition of one of the three event tables if missing (no checks: the migration's and
      -- the checked wrapper's helper; not executable by the app).
      CREATE FUNCTION fieldwatch_create_event_partition(parent text, month date) RETURNS boolean
        LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
      DECLARE
        first_day date := date_trunc('month', month::timestamp)::date;
        partition_name text := format('%s_p%s', parent, to_char(first_day, 'YYYYMM'));
        key_column text := CASE parent WHEN 'analysis_vessels' THEN 'analysis_occurred_at' ELSE 'occurred_at' END;
        -- Bounds are UTC instants whatever the session's TimeZone: months are calendar months in UTC.
        lower_bound text := to_char(first_day, 'YYYY-MM-DD') || ' 00:00:00+00';
        upper_bound text := to_char((first_day + interval '1 month')::date, 'YYYY-MM-DD') || ' 00:00:00+00';
      BEGIN
        IF parent NOT IN ('analyses', 'analysis_vessels', 'device_events') THEN
          RAISE EXCEPTION 'not a partitioned event table: %', parent;
        END IF;
        IF to_regclass(format('public.%I', partition_name)) IS NOT NULL THEN
          RETURN false;
        END IF;
        IF EXISTS (SELECT 1 FROM retired_event_partitions r WHERE r.table_name = parent AND r.month = first_day) THEN
          RETURN false;
        END IF;
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', partition_name, parent);
        -- The bound as a CHECK lets ATTACH skip its validation scan (the table is empty anyway) and documents it.
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (%I >= %L::timestamptz AND %I < %L::timestamptz)',
                       partition_name, partition_name || '_month', key_column, lower_bound, key_column, upper_bound);
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       parent, partition_name, lower_bound, upper_bound);
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', partition_name, partition_name || '_month');
        IF parent <> 'analysis_vessels' THEN
          EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', partition_name);
          EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', partition_name);
          EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (fieldwatch_tenant_visible(manufacturer_id)) '
            'WITH CHECK (fieldwatch_tenant_visible(manufacturer_id))', partition_name);
        END IF;
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO fieldwatch_app', partition_name);
        RETURN true;
      END $$;
      REVOKE ALL ON FUNCTION fieldwatch_create_event_partition(text, date) FROM PUBLIC;

      -- What the app may call (ingestion before a batch of a month it has not seen, the maintenance schedule): the
      -- months' partitions of all three tables, inside the plausibility window (10 years back, 25 months ahead at
      -- most). One caller at a time (transaction advisory lock), so two instances never race on a name.
      CREATE FUNCTION fieldwatch_ensure_event_partitions(months date[]) RETURNS integer
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
      DECLARE
        month date;
        parent text;
        created integer := 0;
      BEGIN
        PERFORM pg_advisory_xact_lock(hashtextextended('fieldwatch:event-partitions', 0));
        FOREACH month IN ARRAY coalesce(months, '{}') LOOP
          IF month < date_trunc('month', (now() AT TIME ZONE 'UTC') - interval '10 years 1 month')
             OR month > date_trunc('month', (now() AT TIME ZONE 'UTC') + interval '25 months') THEN
            RAISE EXCEPTION 'month % is outside the window partitions are created for', month
              USING ERRCODE = 'check_violation';
          END IF;
          FOREACH parent IN ARRAY ARRAY['analyses', 'analysis_vessels', 'device_events'] LOOP
            IF fieldwatch_create_event_partition(parent, month) THEN
              created := created + 1;
            END IF;
          END LOOP;
        END LOOP;
        RETURN created;
      END $$;
      REVOKE ALL ON FUNCTION fieldwatch_ensure_event_partitions(date[]) FROM PUBLIC;
      GRANT EXECUTE ON FUNCTION fieldwatch_ensure_event_partitions(date[]) TO fieldwatch_app;

      -- Retention (docs/storage/partitioning.md "Retention"): retires one month of analyses (with its vessels) or of
      -- device events, unless something still needs it. Regulator-facing records are kept for the device's lifetime and
      -- beyond: 21 CFR 803.18 (2 years from the event or the expected device life, whichever is greater), SAMR/NHC
      -- Order No. 1 (until 2 years after the device's expiry; at least 5 years without one), MDR Art. 86 (PSUR until
      -- the end of the device lifetime). So a month is kept while any device with rows in it is in service or was
      -- revoked less than device_grace_months ago, while an incident that is not closed has a detection in it, and
      -- while a draft (unfinalised) periodic report's period overlaps it. Returns what it did and why.
      CREATE FUNCTION fieldwatch_retire_event_partition(parent text, month date, retention_months integer,
                                                        device_grace_months integer) RETURNS jsonb
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
      DECLARE
        first_day date := date_trunc('month', month::timestamp)::date;
        month_start timestamptz := first_day::timestamp AT TIME ZONE 'UTC';
        month_end timestamptz := (first_day + interval '1 month')::timestamp AT TIME ZONE 'UTC';
        partition_name text := format('%s_p%s', parent, to_char(first_day, 'YYYYMM'));
        vessels_name text := format('analysis_vessels_p%s', to_char(first_day, 'YYYYMM'));
        key_table text := CASE parent WHEN 'analyses' THEN 'analysis_event_ids' ELSE 'device_event_ids' END;
        blocked boolean;
        removed bigint;
        removed_vessels bigint := 0;
      BEGIN
        IF parent NOT IN ('analyses', 'device_events') THEN
          RAISE EXCEPTION 'retention applies to analyses (with their vessels) and device_events, not %', parent;
        END IF;
        IF retention_months < 60 OR device_grace_months < 24 THEN
          RAISE EXCEPTION 'retention below the regulatory floor (60 months, 24 months after a device is retired)';
        END IF;
        IF month_end > (date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => retention_months))
                       AT TIME ZONE 'UTC' THEN
          RETURN jsonb_build_object('retired', false, 'keptBecause', 'within_retention');
        END IF;
        IF to_regclass(format('public.%I', partition_name)) IS NULL THEN
          RETURN jsonb_build_object('retired', false, 'keptBecause', 'no_partition');
        END IF;
        PERFORM pg_advisory_xact_lock(hashtextextended('fieldwatch:event-partitions', 0));

        EXECUTE format(
          'SELECT EXISTS (SELECT 1 FROM %I x JOIN devices d ON d.id = x.device_id
                           WHERE d.revoked_at IS NULL OR d.revoked_at > now() - make_interval(months => $1))',
          partition_name) INTO blocked USING device_grace_months;
        IF blocked THEN
          RETURN jsonb_build_object('retired', false, 'keptBecause', 'device_in_service_or_recently_retired');
        END IF;
        SELECT EXISTS (SELECT 1 FROM incident_detections dt JOIN incidents i ON i.id = dt.incident_id
                        WHERE i.state <> 'closed' AND dt.subject_at >= month_start AND dt.subject_at < month_end)
          INTO blocked;
        IF blocked THEN
          RETURN jsonb_build_object('retired', false, 'keptBecause', 'open_incident');
        END IF;
        IF to_regclass('public.periodic_reports') IS NOT NULL THEN
          EXECUTE 'SELECT EXISTS (SELECT 1 FROM periodic_reports WHERE status <> ''final''
                                   AND period_from < $2 AND period_to >= $1)'
            INTO blocked USING first_day, (first_day + interval '1 month')::date;
          IF blocked THEN
            RETURN jsonb_build_object('retired', false, 'keptBecause', 'draft_report');
          END IF;
        END IF;

        IF parent = 'analyses' THEN
          -- Derived state follows: links to these analyses are re-evaluated (their change kept in ffr_link_history),
          -- the roll-up slices recomputed without them.
          EXECUTE format(
            'INSERT INTO linkage_pending (site_id, patient_key)
             SELECT DISTINCT site_id, patient_key FROM %I WHERE status = ''completed'' ORDER BY 1, 2
             ON CONFLICT (site_id, patient_key) DO UPDATE SET queued_at = EXCLUDED.queued_at', partition_name);
          EXECUTE format(
            'INSERT INTO performance_rollup_dirty (product_id, day)
             SELECT DISTINCT product_id, (occurred_at AT TIME ZONE ''UTC'')::date FROM %I WHERE status = ''completed''',
            partition_name);
        END IF;
        EXECUTE format('DELETE FROM %I k USING %I x WHERE k.event_id = x.event_id', key_table, partition_name);
        EXECUTE format('SELECT count(*) FROM %I', partition_name) INTO removed;
        EXECUTE format('ALTER TABLE %I DETACH PARTITION %I', parent, partition_name);
        EXECUTE format('DROP TABLE %I', partition_name);
        INSERT INTO retired_event_partitions (table_name, month, rows_removed, retention_months)
          VALUES (parent, first_day, removed, retention_months);
        IF parent = 'analyses' AND to_regclass(format('public.%I', vessels_name)) IS NOT NULL THEN
          EXECUTE format('SELECT count(*) FROM %I', vessels_name) INTO removed_vessels;
          EXECUTE format('ALTER TABLE analysis_vessels DETACH PARTITION %I', vessels_name);
          EXECUTE format('DROP TABLE %I', vessels_name);
          INSERT INTO retired_event_partitions (table_name, month, rows_removed, retention_months)
            VALUES ('analysis_vessels', first_day, removed_vessels, retention_months);
        END IF;
        RETURN jsonb_build_object('retired', true, 'rows', removed, 'vesselRows', removed_vessels);
      END $$;
      REVOKE ALL ON FUNCTION fieldwatch_retire_event_partition(text, date, integer, integer) FROM PUBLIC;
      GRANT EXECUTE ON FUNCTION fieldwatch_retire_event_partition(text, date, integer, integer) TO fieldwatch_app;

      -- The old tables step aside, their indexes too (index names are schema-wide). Their secondary indexes'
      -- definitions are kept to be recreated on the partitioned tables, so an index a later migration added comes along.
      CREATE TEMP TABLE fw_event_index_definitions ON COMMIT DROP AS
        SELECT i.tablename, i.indexname, i.indexdef
          FROM pg_indexes i
         WHERE i.schemaname = 'public' AND i.tablename IN ('analyses', 'analysis_vessels', 'device_events')
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                            WHERE c.conname = i.indexname AND c.contype IN ('p', 'u', 'x'));
      DO $$
      DECLARE
        definition record;
      BEGIN
        FOR definition IN SELECT indexname FROM pg_indexes
                           WHERE schemaname = 'public' AND tablename IN ('analyses', 'analysis_vessels', 'device_events')
        LOOP
          EXECUTE format('ALTER INDEX %I RENAME TO %I', definition.indexname, definition.indexname || '_unpartitioned');
        END LOOP;
      END $$;
      ALTER TABLE analyses RENAME TO analyses_unpartitioned;
      ALTER TABLE analysis_vessels RENAME TO analysis_vessels_unpartitioned;
      ALTER TABLE device_events RENAME TO device_events_unpartitioned;

      CREATE TABLE analyses (LIKE analyses_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
        PARTITION BY RANGE (occurred_at);
      CREATE TABLE analysis_vessels (
        LIKE analysis_vessels_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
        analysis_occurred_at timestamptz NOT NULL
      ) PARTITION BY RANGE (analysis_occurred_at);
      CREATE TABLE device_events (LIKE device_events_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
        PARTITION BY RANGE (occurred_at);

      CREATE TABLE analysis_event_ids (
        event_id     uuid PRIMARY KEY,
        occurred_at  timestamptz NOT NULL
      );
      CREATE TABLE device_event_ids (
        event_id     uuid PRIMARY KEY,
        occurred_at  timestamptz NOT NULL
      );

      -- Every month that holds a row, and the current month through three ahead.
      SELECT fieldwatch_create_event_partition(parent, month::date)
        FROM unnest(ARRAY['analyses', 'analysis_vessels', 'device_events']) AS parent,
             generate_series(
               date_trunc('month', least(
                 (SELECT min(occurred_at) FROM analyses_unpartitioned),
                 (SELECT min(occurred_at) FROM device_events_unpartitioned),
                 now()) AT TIME ZONE 'UTC'),
               date_trunc('month', now() AT TIME ZONE 'UTC') + interval '3 months',
               interval '1 month') AS month;

      INSERT INTO analyses SELECT * FROM analyses_unpartitioned;
      INSERT INTO analysis_vessels
        SELECT v.*, a.occurred_at FROM analysis_vessels_unpartitioned v
          JOIN analyses_unpartitioned a ON a.event_id = v.analysis_event_id;
      INSERT INTO device_events SELECT * FROM device_events_unpartitioned;
      INSERT INTO analysis_event_ids (event_id, occurred_at) SELECT event_id, occurred_at FROM analyses_unpartitioned;
      INSERT INTO device_event_ids (event_id, occurred_at) SELECT event_id, occurred_at FROM device_events_unpartitioned;

      -- Nothing may be left behind (a vessel without its analysis would have been dropped by the join above).
      DO $$
      BEGIN
        IF (SELECT count(*) FROM analyses) <> (SELECT count(*) FROM analyses_unpartitioned)
           OR (SELECT count(*) FROM analysis_vessels) <> (SELECT count(*) FROM analysis_vessels_unpartitioned)
           OR (SELECT count(*) FROM device_events) <> (SELECT count(*) FROM device_events_unpartitioned) THEN
          RAISE EXCEPTION 'partitioned copy differs from the original tables; nothing converted';
        END IF;
      END $$;

      ALTER TABLE analyses ADD PRIMARY KEY (event_id, occurred_at);
      ALTER TABLE analysis_vessels ADD PRIMARY KEY (analysis_event_id, vessel_index, analysis_occurred_at);
      ALTER TABLE device_events ADD PRIMARY KEY (event_id, occurred_at);
      DO $$
      DECLARE
        definition record;
      BEGIN
        FOR definition IN SELECT indexdef FROM fw_event_index_definitions LOOP
          EXECUTE definition.indexdef;
        END LOOP;
      END $$;

      DROP TABLE analyses_unpartitioned, analysis_vessels_unpartitioned, device_events_unpartitioned;

      ALTER TABLE analyses ENABLE ROW LEVEL SECURITY;
      ALTER TABLE analyses FORCE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON analyses
        USING (fieldwatch_tenant_visible(manufacturer_id)) WITH CHECK (fieldwatch_tenant_visible(manufacturer_id));
      ALTER TABLE device_events ENABLE ROW LEVEL SECURITY;
      ALTER TABLE device_events FORCE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON device_events
        USING (fieldwatch_tenant_visible(manufacturer_id)) WITH CHECK (fieldwatch_tenant_visible(manufacturer_id));
      GRANT SELECT, INSERT, UPDATE, DELETE
        ON analyses, analysis_vessels, device_events, analysis_event_ids, device_event_ids TO fieldwatch_app;
      -- Retired months are written by the retention function (as the migration role) and listed by the app.
      GRANT SELECT ON retired_event_partitions TO fieldwatch_app;

      ANALYZE analyses, analysis_vessels, device_events, analysis_event_ids, device_event_ids;
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE analyses_flat (LIKE analyses INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
      CREATE TABLE analysis_vessels_flat (LIKE analysis_vessels INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
      ALTER TABLE analysis_vessels_flat DROP COLUMN analysis_occurred_at;
      CREATE TABLE device_events_flat (LIKE device_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
      INSERT INTO analyses_flat SELECT * FROM analyses;
      INSERT INTO analysis_vessels_flat
        SELECT analysis_event_id, vessel_index, vessel, segment, ct_ffr, stenosis_percent, measurement_point
          FROM analysis_vessels;
      INSERT INTO device_events_flat SELECT * FROM device_events;
      DROP TABLE analyses, analysis_vessels, device_events, analysis_event_ids, device_event_ids,
        retired_event_partitions;
      DROP FUNCTION fieldwatch_retire_event_partition(text, date, integer, integer);
      DROP FUNCTION fieldwatch_ensure_event_partitions(date[]);
      DROP FUNCTION fieldwatch_create_event_partition(text, date);
      ALTER TABLE analyses_flat RENAME TO analyses;
      ALTER TABLE analysis_vessels_flat RENAME TO analysis_vessels;
      ALTER TABLE device_events_flat RENAME TO device_events;
      ALTER TABLE analyses ADD PRIMARY KEY (event_id);
      ALTER TABLE analysis_vessels ADD PRIMARY KEY (analysis_event_id, vessel_index);
      ALTER TABLE device_events ADD PRIMARY KEY (event_id);
      CREATE INDEX analyses_tenant_time ON analyses (manufacturer_id, occurred_at DESC, event_id DESC);
      CREATE INDEX analyses_site_patient ON analyses (site_id, patient_key, occurred_at);
      CREATE INDEX device_events_device_time ON device_events (device_id, occurred_at DESC);
      ALTER TABLE analyses ENABLE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON analyses
        USING (fieldwatch_tenant_visible(manufacturer_id)) WITH CHECK (fieldwatch_tenant_visible(manufacturer_id));
      ALTER TABLE device_events ENABLE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON device_events
        USING (fieldwatch_tenant_visible(manufacturer_id)) WITH CHECK (fieldwatch_tenant_visible(manufacturer_id));
      GRANT SELECT, INSERT, UPDATE, DELETE ON analyses, analysis_vessels, device_events TO fieldwatch_app;
    `);
  }
}
