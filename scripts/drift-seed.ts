/**
 * Synthetic CT-FFR field data for drift monitoring, generated **inside PostgreSQL** (generate_series; random() after
 * setseed, so a seed gives the same rows): analyses, their vessels, device error events, and labelled vessels
 * (performance_linked_vessels: CT-FFR with its first invasive FFR, as the performance roll-ups store them). Used by
 * test/drift.integration-spec.ts and `npm run bench:drift`. Distributions are plausible, not calibrated: the
 * simulator (src/simulator) is the calibrated source; this exists to write millions of rows in seconds.
 *
 * Injections (each from an instant, at one site index): a heart-rate shift (bpm), a CT-FFR bias (moves CT-FFR, so
 * the output distribution and the residual both shift), a residual bias in the labels only (accuracy drift without
 * any input or output change).
 */
import type { Client, PoolClient } from 'pg';

export interface SeedSite {
  readonly siteId: string;
  readonly deviceId: string;
  readonly scannerVendor: string;
}

export interface DriftSeed {
  readonly manufacturerId: string;
  readonly productId: string;
  readonly modelVersion: string;
  readonly sites: readonly SeedSite[];
  readonly from: Date;
  readonly to: Date;
  readonly analyses: number;
  /** Share of vessels with an invasive FFR (default 0.25). */
  readonly labelledShare?: number;
  /** Device error events per analysis (default 0.01). */
  readonly errorRate?: number;
  readonly seed?: number;
  /** First kafka_offset (keeps (partition, offset) distinct across several seeds of one database). */
  readonly offsetBase?: number;
  readonly heartRateShift?: { readonly site: number; readonly from: Date; readonly bpm: number };
  readonly ctFfrBias?: { readonly site: number; readonly from: Date; readonly bias: number };
  readonly residualBias?: { readonly site: number; readonly from: Date; readonly bias: number };
}

type Db = Pick<Client | PoolClient, 'query'>;

const NORMAL = `(sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))`;

/** Creates monthly partitions when the event tables are partitioned (migration 1764330000000), else nothing. */
async function ensurePartitions(db: Db, from: Date, to: Date): Promise<void> {
  const { rows } = await db.query(
    `SELECT to_regprocedure('fieldwatch_create_event_partition(text, date)') IS NOT NULL AS partitioned`,
  );
  if (!(rows[0] as { partitioned: boolean }).partitioned) return;
  await db.query(
    `SELECT fieldwatch_create_event_partition(t, m::date)
       FROM unnest(ARRAY['analyses', 'analysis_vessels', 'device_events']) AS t,
            generate_series(date_trunc('month', $1::timestamptz AT TIME ZONE 'UTC'),
                            date_trunc('month', $2::timestamptz AT TIME ZONE 'UTC'), interval '1 month') AS m`,
    [from.toISOString(), to.toISOString()],
  );
}

async function hasColumn(db: Db, table: string, column: string): Promise<boolean> {
  const { rows } = await db.query(
    `SELECT 1 FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 AND column_name = $2`,
    [table, column],
  );
  return rows.length > 0;
}

/** Seeds the rows; returns the counts written. Runs as the login (owner) role: row-level security does not apply. */
export async function seedDriftData(
  db: Db,
  seed: DriftSeed,
): Promise<{ analyses: number; vessels: number; labelled: number; deviceErrors: number }> {
  await ensurePartitions(db, seed.from, seed.to);
  const vesselTime = (await hasColumn(db, 'analysis_vessels', 'analysis_occurred_at'))
    ? ', analysis_occurred_at'
    : '';
  const vesselTimeValue = vesselTime ? ', a.occurred_at' : '';
  const sites = seed.sites;
  const hr = seed.heartRateShift;
  const ct = seed.ctFfrBias;
  const rb = seed.residualBias;
  await db.query(`SELECT setseed($1)`, [((seed.seed ?? 42) % 1000) / 1000]);
  const params = [
    seed.manufacturerId, // 1
    seed.productId, // 2
    seed.modelVersion, // 3
    sites.map((s) => s.siteId), // 4
    sites.map((s) => s.deviceId), // 5
    sites.map((s) => s.scannerVendor), // 6
    seed.from.toISOString(), // 7
    seed.to.toISOString(), // 8
    seed.analyses, // 9
    hr ? hr.site : -1, // 10
    hr ? hr.from.toISOString() : seed.to.toISOString(), // 11
    hr ? hr.bpm : 0, // 12
    seed.offsetBase ?? 0, // 13
  ];
  const inserted = await db.query(
    `INSERT INTO analyses (event_id, manufacturer_id, product_id, device_id, site_id, occurred_at, software_version,
                           model_version, patient_key, study_key, age_years, sex, bmi, scanner_vendor, scanner_model,
                           slice_thickness_mm, tube_voltage_kv, heart_rate_bpm, agatston_score, nitrates,
                           image_quality_score, status, rejection_reason, processing_seconds, vessel_count,
                           kafka_partition, kafka_offset)
     SELECT gen_random_uuid(), $1, $2, ($5::uuid[])[s + 1], ($4::uuid[])[s + 1], t, '1.4.2', $3,
            decode(md5('p' || g), 'hex'), decode(md5('s' || g), 'hex'),
            least(95, greatest(25, round(62 + 10 * ${NORMAL})))::smallint,
            CASE WHEN random() < 0.38 THEN 'F' ELSE 'M' END,
            least(60, greatest(15, round((26 + 4 * ${NORMAL})::numeric, 1)))::real,
            ($6::text[])[s + 1], 'Model ' || ($6::text[])[s + 1],
            (ARRAY[0.5, 0.625, 0.625, 0.625, 1.0])[1 + floor(random() * 5)::int]::real,
            (ARRAY[80, 100, 100, 120, 120])[1 + floor(random() * 5)::int]::real,
            least(150, greatest(35, round(62 + 9 * ${NORMAL} + CASE WHEN s = $10 AND t >= $11::timestamptz THEN $12::float8 ELSE 0 END)))::real,
            round(exp(4.5 + 1.5 * ${NORMAL}))::real,
            random() < 0.8,
            least(1, greatest(0, round((0.85 + 0.08 * ${NORMAL})::numeric, 2)))::real,
            st, CASE WHEN st = 'rejected' THEN 'motion_artifact' END,
            CASE WHEN st = 'failed' THEN NULL ELSE round((400 + 60 * ${NORMAL})::numeric, 1) END::real,
            CASE WHEN st = 'completed' THEN 1 + floor(random() * 3)::int ELSE 0 END,
            0, $13 + g
       FROM (SELECT g, g % ${sites.length} AS s,
                    $7::timestamptz + (($8::timestamptz - $7::timestamptz) * (g::float8 / $9)) AS t,
                    CASE WHEN random() < 0.05 THEN 'rejected' WHEN random() < 0.01 THEN 'failed' ELSE 'completed' END AS st
               FROM generate_series(0, $9 - 1) AS g) x`,
    params,
  );
  const ctParams = [
    seed.manufacturerId,
    seed.productId,
    seed.from.toISOString(),
    seed.to.toISOString(),
    ct ? sites[ct.site].siteId : null,
    ct ? ct.from.toISOString() : seed.to.toISOString(),
    ct ? ct.bias : 0,
  ];
  const vessels = await db.query(
    `INSERT INTO analysis_vessels (analysis_event_id, vessel_index, vessel, segment, ct_ffr, stenosis_percent,
                                   measurement_point${vesselTime})
     SELECT a.event_id, i - 1, (ARRAY['LAD', 'LCX', 'RCA'])[i], NULL,
            least(1, greatest(0.3, round((0.84 + 0.08 * ${NORMAL}
              + CASE WHEN a.site_id = $5::uuid AND a.occurred_at >= $6::timestamptz THEN $7::float8 ELSE 0 END)::numeric, 2)))::real,
            NULL, 'distal_20mm'${vesselTimeValue}
       FROM analyses a CROSS JOIN LATERAL generate_series(1, a.vessel_count) AS i
      WHERE a.manufacturer_id = $1 AND a.product_id = $2 AND a.occurred_at >= $3::timestamptz
        AND a.occurred_at < $4::timestamptz AND a.status = 'completed'`,
    ctParams,
  );
  const labelled = await db.query(
    `INSERT INTO performance_linked_vessels (product_id, day, analysis_event_id, vessel_index, manufacturer_id, site_id,
                                            model_version, scanner_vendor, vessel, ct_ffr, invasive_ffr)
     SELECT a.product_id, (a.occurred_at AT TIME ZONE 'UTC')::date, a.event_id, v.vessel_index, a.manufacturer_id,
            a.site_id, a.model_version, coalesce(a.scanner_vendor, 'unknown'), v.vessel, v.ct_ffr::text::float8,
            least(1, greatest(0.3, round((v.ct_ffr - 0.01 - 0.07 * ${NORMAL}
              - CASE WHEN a.site_id = $5::uuid AND a.occurred_at >= $6::timestamptz THEN $7::float8 ELSE 0 END)::numeric, 2)))::float8
       FROM analyses a JOIN analysis_vessels v ON v.analysis_event_id = a.event_id
      WHERE a.manufacturer_id = $1 AND a.product_id = $2 AND a.occurred_at >= $3::timestamptz
        AND a.occurred_at < $4::timestamptz AND random() < $8::float8`,
    [
      seed.manufacturerId,
      seed.productId,
      seed.from.toISOString(),
      seed.to.toISOString(),
      rb ? sites[rb.site].siteId : null,
      rb ? rb.from.toISOString() : seed.to.toISOString(),
      rb ? rb.bias : 0,
      seed.labelledShare ?? 0.25,
    ],
  );
  const errors = await db.query(
    `INSERT INTO device_events (event_id, manufacturer_id, device_id, occurred_at, kind, code, message,
                                software_version, kafka_partition, kafka_offset)
     SELECT gen_random_uuid(), $1, ($2::uuid[])[1 + (g % cardinality($2::uuid[]))],
            $3::timestamptz + (($4::timestamptz - $3::timestamptz) * random()),
            (ARRAY['error', 'timeout', 'crash'])[1 + floor(random() * 3)::int], 'SEG-TIMEOUT', 'synthetic', '1.4.2',
            0, $6 + g
       FROM generate_series(0, $5 - 1) AS g`,
    [
      seed.manufacturerId,
      sites.map((s) => s.deviceId),
      seed.from.toISOString(),
      seed.to.toISOString(),
      Math.round(seed.analyses * (seed.errorRate ?? 0.01)),
      (seed.offsetBase ?? 0) + seed.analyses,
    ],
  );
  return {
    analyses: inserted.rowCount ?? 0,
    vessels: vessels.rowCount ?? 0,
    labelled: labelled.rowCount ?? 0,
    deviceErrors: errors.rowCount ?? 0,
  };
}
