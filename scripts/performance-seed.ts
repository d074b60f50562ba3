/**
 * Linked CT-FFR field data at surveillance scale, generated **inside PostgreSQL** (generate_series, random() after
 * setseed: the same options give the same rows). Used by `npm run bench:performance` and
 * test/performance-rollups.integration-spec.ts. It writes what ingestion and linkage would write for one product:
 * analyses (1–3 vessels each) with their eventId keys (migration 1764330000000-PartitionedEventStorage), their vessels
 * (CT-FFR on the devices' 0.01 grid) and, for the vessels referred to the cath lab, the `linked` invasive FFR
 * (0.01 grid, CT-FFR + N(0, 0.06)). Referral follows low CT-FFR as in the field: a vessel at or below 0.80 is wired
 * three times as often as one above.
 *
 * Rows are computed from the row number g (time, site, patient, vessel count) so that analyses, keys, vessels and
 * links are written by separate statements without joining each other back: one pass each, which keeps 10M
 * analyses to a few minutes of PostgreSQL time rather than the hour COPY from Node took. Foreign-key triggers are
 * bypassed (session_replication_role = replica); the rows are consistent by construction.
 */
import type { Client, PoolClient } from 'pg';

type Db = Pick<Client | PoolClient, 'query'>;

export interface PerformanceSeed {
  readonly manufacturerId: string;
  readonly productId: string;
  /** Registered site ids; site k uses scanner vendor k mod |vendors| and rolls versions out at its own pace. */
  readonly siteIds: readonly string[];
  readonly analyses: number;
  /** Target number of linked vessels (about; referral is random). */
  readonly linked: number;
  readonly from: Date;
  readonly days: number;
  readonly seed?: number;
  /** Progress per chunk of analyses. */
  readonly onProgress?: (analysesWritten: number) => void;
}

export const SEED_VENDORS = ['GE', 'Siemens', 'Philips', 'Canon'];
export const SEED_MODEL_VERSIONS = ['ffrnet-2024.2', 'ffrnet-2025.1', 'ffrnet-2025.2'];
const CHUNK = 1_000_000;
const MEAN_VESSELS = 2;
// Share of analysed vessels with CT-FFR ≤ 0.80 under N(0.84, 0.09) on [0.40, 0.99]: P(Z ≤ −0.44) ≈ 0.33.
const SHARE_POSITIVE = 0.33;

/**
 * Per row g of the chunk: the analysis's instant, site, model version and vessel count, all functions of g. The
 * vessel count uses a multiplicative hash of g so that it does not follow the site (g mod sites) pattern. Ids and
 * pseudonyms are md5 of the product ($4) and g: unique across products seeded into one database.
 */
const ANALYSIS_ROWS = `
  SELECT g, md5($4::uuid::text || ':a' || g)::uuid AS event_id,
         $3::timestamptz + ((g - 1)::float8 / $5) * ($6 * interval '1 day') AS occurred_at,
         (g % $7)::int AS site,
         decode(md5($4::uuid::text || ':p' || g), 'hex') AS patient_key,
         1 + ((g * 2654435761) % 4294967296 % 3)::int AS vessel_count,
         (g - 1)::float8 / $5 AS elapsed
    FROM generate_series($1::bigint, $2::bigint) AS g`;

const NORMAL = `sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())`;

async function chunked(
  analyses: number,
  work: (first: number, last: number) => Promise<void>,
): Promise<void> {
  for (let first = 1; first <= analyses; first += CHUNK) {
    await work(first, Math.min(analyses, first + CHUNK - 1));
  }
}

/** Seeds the product's rows; returns the counts written. Runs as the database owner (row-level security off). */
export async function seedPerformanceData(
  db: Db,
  seed: PerformanceSeed,
): Promise<{ analyses: number; vessels: number; linked: number }> {
  const to = new Date(seed.from.getTime() + seed.days * 86_400_000);
  await db.query(
    `SELECT fieldwatch_ensure_event_partitions(ARRAY(
       SELECT generate_series(date_trunc('month', $1::timestamptz AT TIME ZONE 'UTC'),
                              date_trunc('month', $2::timestamptz AT TIME ZONE 'UTC'), interval '1 month')::date))`,
    [seed.from.toISOString(), to.toISOString()],
  );
  await db.query('SET session_replication_role = replica');
  await db.query(`SELECT setseed($1)`, [((seed.seed ?? 20261127) % 1000) / 1000]);
  // P(referred | CT-FFR > 0.80) = p, P(referred | ≤ 0.80) = 3p, so linked ≈ vessels × p × (3 × 0.33 + 0.67).
  const referral = Math.min(
    1 / 3,
    seed.linked / (seed.analyses * MEAN_VESSELS * (3 * SHARE_POSITIVE + 1 - SHARE_POSITIVE)),
  );
  let vessels = 0;
  let linked = 0;
  await chunked(seed.analyses, async (first, last) => {
    const common = [
      first,
      last,
      seed.from.toISOString(),
      seed.productId,
      seed.analyses,
      seed.days,
      seed.siteIds.length,
    ];
    // A site moves to the next model version a little earlier or later than the others (site mod 5 tenths of a third).
    await db.query(
      `INSERT INTO analyses (event_id, manufacturer_id, product_id, device_id, site_id, occurred_at, software_version,
                             model_version, patient_key, study_key, scanner_vendor, status, vessel_count,
                             kafka_partition, kafka_offset)
       SELECT r.event_id, $8, $4, md5($4::uuid::text || ':d' || r.site)::uuid, ($9::uuid[])[r.site + 1], r.occurred_at, '1.4.2',
              ($10::text[])[1 + least(2, floor(3 * r.elapsed + (r.site % 5) / 10.0)::int)],
              r.patient_key, decode(md5($4::uuid::text || ':s' || r.g), 'hex'),
              ($11::text[])[1 + r.site % cardinality($11::text[])], 'completed', r.vessel_count, 0, r.g
         FROM (${ANALYSIS_ROWS}) r`,
      [...common, seed.manufacturerId, seed.siteIds, SEED_MODEL_VERSIONS, SEED_VENDORS],
    );
    await db.query(
      `INSERT INTO analysis_event_ids (event_id, occurred_at)
       SELECT r.event_id, r.occurred_at FROM (${ANALYSIS_ROWS}) r`,
      common,
    );
    // Vessels and their links from one generated set (materialised once: the links must see the vessels' CT-FFR).
    const written = await db.query<{ vessels: string; linked: string }>(
      `WITH generated AS MATERIALIZED (
         SELECT r.event_id, r.occurred_at, r.site, r.patient_key, i AS vessel_index,
                (ARRAY['LAD', 'LCX', 'RCA'])[i + 1] AS vessel, x.ct_ffr,
                random() < $8::float8 * CASE WHEN x.ct_ffr <= 0.80 THEN 3 ELSE 1 END AS referred,
                round(least(1, greatest(0.30, x.ct_ffr + 0.06 * ${NORMAL}))::numeric, 2)::real AS invasive_ffr,
                7 + floor(random() * 30)::int AS lag_days
           FROM (${ANALYSIS_ROWS}) r
          CROSS JOIN LATERAL generate_series(0, r.vessel_count - 1) AS i
          CROSS JOIN LATERAL (
            SELECT round(least(0.99, greatest(0.40, 0.84 + 0.09 * ${NORMAL}))::numeric, 2)::real AS ct_ffr
             WHERE i >= 0) x
       ), stored_vessels AS (
         INSERT INTO analysis_vessels (analysis_event_id, vessel_index, vessel, ct_ffr, analysis_occurred_at)
         SELECT event_id, vessel_index, vessel, ct_ffr, occurred_at FROM generated
         RETURNING 1
       ), stored_links AS (
         INSERT INTO ffr_links (outcome_event_id, manufacturer_id, site_id, patient_key, status, analysis_event_id,
                                vessel_index, vessel, measured_at, invasive_ffr, ct_ffr, analysis_occurred_at,
                                lag_days, window_days)
         SELECT md5('o' || event_id::text || vessel_index)::uuid, $9, ($10::uuid[])[site + 1], patient_key, 'linked',
                event_id, vessel_index, vessel, occurred_at + lag_days * interval '1 day', invasive_ffr, ct_ffr,
                occurred_at, lag_days, 90
           FROM generated WHERE referred
         RETURNING 1
       )
       SELECT (SELECT count(*) FROM stored_vessels) AS vessels, (SELECT count(*) FROM stored_links) AS linked`,
      [...common, referral, seed.manufacturerId, seed.siteIds],
    );
    vessels += Number(written.rows[0].vessels);
    linked += Number(written.rows[0].linked);
    seed.onProgress?.(last);
  });
  await db.query('SET session_replication_role = DEFAULT');
  await db.query('ANALYZE analyses; ANALYZE analysis_event_ids; ANALYZE analysis_vessels; ANALYZE ffr_links');
  return { analyses: seed.analyses, vessels, linked };
}
