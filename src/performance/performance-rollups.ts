/**
 * Mergeable roll-ups of real-world performance (issue 3 §5; migration 1764270000000-PerformanceRollups).
 *
 * A slice is one product's analyses of one UTC day. Its rows in performance_rollups hold, per site ×
 * model version × scanner vendor × vessel ('*' = all vessels), sums that add across slices: counts, the
 * 2×2 table at the product's threshold, and each proportion's ratio-estimator sums with the patient as
 * cluster. performance_linked_vessels holds the slice's (CT-FFR, FFR) pairs for the exact histogram, and
 * performance_pair_cells their counts per month and year (performance-pair-cells.ts); performance_rollup_periods
 * adds the day rows up per month and year. Requests read whole years and months from those two.
 *
 * Consistency: ingestion and linkage append (product, day) to performance_rollup_dirty in the same
 * transaction as their change. The worker recomputes dirty slices; a request treats the slices that
 * are still dirty by computing them from the base tables in its own snapshot, so an answer never
 * depends on how far the worker has got.
 *
 * The one approximation, stated in the response: a patient's vessels are one cluster within a slice.
 * A patient with linked vessels in two slices (CTAs on different days, or on two scanners the same
 * day) counts as two clusters. Linkage ties an invasive FFR to the patient's latest CTA, so this takes
 * two linked CTAs in one period; the full path (`detail=full`) clusters across the whole period.
 */
import { PoolClient } from 'pg';
import { applyDaysToPairCells } from './performance-pair-cells';

/** Ratio-estimator sums kept per proportion (src/stats/proportions.ts ClusterSums), over per-patient 2×2 counts. */
export const ROLLUP_PROPORTIONS = {
  sensitivity: { trials: 'tp + fn', successes: 'tp' },
  specificity: { trials: 'tn + fp', successes: 'tn' },
  ppv: { trials: 'tp + fp', successes: 'tp' },
  npv: { trials: 'tn + fn', successes: 'tn' },
  accuracy: { trials: 'linked', successes: 'tp + tn' },
} as const;
export type RollupProportion = keyof typeof ROLLUP_PROPORTIONS;
export const ROLLUP_PROPORTION_NAMES = Object.keys(ROLLUP_PROPORTIONS) as RollupProportion[];

/** Additive columns of performance_rollups, in table order after the key and threshold. */
export const ROLLUP_SUM_COLUMNS = [
  'analysed_positive',
  'analysed_negative',
  'linked',
  'tp',
  'fp',
  'tn',
  'fn',
  ...ROLLUP_PROPORTION_NAMES.flatMap((name) => [
    `${name}_clusters`,
    `${name}_trials2`,
    `${name}_successes2`,
    `${name}_cross`,
  ]),
  'patients',
  'pairs_squared',
  'sum_difference',
  'sum_squared_difference',
  'sum_patient_total2_per_size',
  'sum_patient_total2',
  'sum_size_times_total',
  'patient_tp',
  'patient_fp',
  'patient_tn',
  'patient_fn',
] as const;
export type RollupSumColumn = (typeof ROLLUP_SUM_COLUMNS)[number];

const KEY_COLUMNS = ['product_id', 'day', 'site_id', 'model_version', 'scanner_vendor', 'vessel'] as const;

/**
 * The analysed vessels of a product's slices ($1 product, $2 manufacturer, $3 days, $5–$6 the runs of consecutive days
 * as instants: sliceParameters) with their first invasive FFR, classified at $4. Values go through text so that they
 * equal, as float8, what the API's row path parses from the `real` columns (PostgreSQL prints a real in its
 * shortest exact form).
 */
const SLICE_VESSELS_CTE = `
  slice_analysed AS (
    -- One index range per run of consecutive days. A single range from the first day to the last read every analysis
    -- in between: bench:soak at 5,000/s had dirty days spread over nine months, and a request computing two days 8
    -- days apart read 86,000 analyses to keep 21,600 (a few scattered days: the whole table).
    SELECT x.*
      FROM unnest($5::timestamptz[], $6::timestamptz[]) AS run(lo, hi)
     CROSS JOIN LATERAL (
      SELECT a.event_id, a.manufacturer_id, a.site_id, a.patient_key, a.model_version,
             coalesce(a.scanner_vendor, 'unknown') AS scanner_vendor,
             (a.occurred_at AT TIME ZONE 'UTC')::date AS day, v.vessel_index, v.vessel, v.ct_ffr
        FROM analyses a
        -- The partition key too: vessels live in their analysis's month (docs/storage/partitioning.md).
        JOIN analysis_vessels v ON v.analysis_event_id = a.event_id AND v.analysis_occurred_at = a.occurred_at
       -- The bounds are plain values, compared with a leakproof operator: under row-level security only such a
       -- condition may run before the policy, so only then does the (manufacturer_id, occurred_at) index serve the
       -- range (bounds computed in SQL, through AT TIME ZONE, made every request scan the whole month's partition).
       WHERE a.manufacturer_id = $2 AND a.product_id = $1 AND a.status = 'completed'
         AND a.occurred_at >= run.lo AND a.occurred_at < run.hi
         AND (a.occurred_at AT TIME ZONE 'UTC')::date = ANY($3::date[])
         -- The same range on the vessels' partition key, so only the run's months of vessels are read.
         AND v.analysis_occurred_at >= run.lo AND v.analysis_occurred_at < run.hi
      -- Not flattened into a join: a range per run, partitions pruned at run time.
      OFFSET 0) x
  ), slice_vessels AS (
    -- As the row path: when a vessel was wired twice, the first measurement after the CTA counts. A lateral
    -- probe of ffr_links_first_link per vessel (one descent, migration 1764350000000): a join would let the planner
    -- scan every link of the tenant.
    SELECT x.*, f.invasive_ffr AS invasive_ffr_real,
           x.ct_ffr::text::float8 AS ct, f.invasive_ffr::text::float8 AS ffr,
           x.ct_ffr <= $4::real AS test_positive,
           f.invasive_ffr <= $4::real AS diseased
      FROM slice_analysed x
      LEFT JOIN LATERAL (
        SELECT l.invasive_ffr FROM ffr_links l
         WHERE l.analysis_event_id = x.event_id AND l.vessel_index = x.vessel_index AND l.status = 'linked'
         ORDER BY l.measured_at, l.outcome_event_id
         LIMIT 1) f ON true
  )`;

const DAY_MS = 86_400_000;

/**
 * The parameters of the slice SQL: product, manufacturer, days (YYYY-MM-DD), threshold, and the runs of consecutive
 * days as [start, end) instants (starts, ends).
 */
export function sliceParameters(
  productId: string,
  manufacturerId: string,
  days: readonly string[],
  threshold: number,
): [string, string, string[], number, string[], string[]] {
  const sorted = [...new Set(days)].sort();
  const starts: string[] = [];
  const ends: string[] = [];
  for (const day of sorted) {
    const start = Date.parse(`${day}T00:00:00Z`);
    const end = new Date(start + DAY_MS).toISOString();
    if (ends.length > 0 && Date.parse(ends[ends.length - 1]) === start) ends[ends.length - 1] = end;
    else {
      starts.push(new Date(start).toISOString());
      ends.push(end);
    }
  }
  return [productId, manufacturerId, sorted, threshold, starts, ends];
}

/** Per patient within a slice key, once per vessel and once across vessels ('*'). */
const PER_PATIENT_CTE = `
  per_patient AS (
    SELECT manufacturer_id, day, site_id, model_version, scanner_vendor, coalesce(vessel, '*') AS vessel,
           count(*) FILTER (WHERE test_positive) AS analysed_positive,
           count(*) FILTER (WHERE NOT test_positive) AS analysed_negative,
           count(ffr) AS linked,
           count(*) FILTER (WHERE test_positive AND diseased) AS tp,
           count(*) FILTER (WHERE test_positive AND NOT diseased) AS fp,
           count(*) FILTER (WHERE NOT test_positive AND NOT diseased) AS tn,
           count(*) FILTER (WHERE NOT test_positive AND diseased) AS fn,
           coalesce(sum(ct - ffr), 0) AS total_difference,
           coalesce(sum((ct - ffr) * (ct - ffr)), 0) AS total_squared_difference
      FROM slice_vessels
     GROUP BY GROUPING SETS ((manufacturer_id, day, site_id, model_version, scanner_vendor, vessel, patient_key),
                             (manufacturer_id, day, site_id, model_version, scanner_vendor, patient_key))
  )`;

const proportionAggregates = ROLLUP_PROPORTION_NAMES.map((name) => {
  const { trials, successes } = ROLLUP_PROPORTIONS[name];
  return `count(*) FILTER (WHERE ${trials} > 0)::int AS ${name}_clusters,
           coalesce(sum((${trials})::float8 * (${trials})), 0) AS ${name}_trials2,
           coalesce(sum((${successes})::float8 * (${successes})), 0) AS ${name}_successes2,
           coalesce(sum((${successes})::float8 * (${trials})), 0) AS ${name}_cross`;
}).join(',\n           ');

/** Slice rows in the column order of performance_rollups. */
const ROLLUP_ROWS_SELECT = `
  SELECT $1::uuid AS product_id, day, site_id, model_version, scanner_vendor, vessel, manufacturer_id,
         $4::real AS threshold,
         sum(analysed_positive)::int AS analysed_positive, sum(analysed_negative)::int AS analysed_negative,
         sum(linked)::int AS linked, sum(tp)::int AS tp, sum(fp)::int AS fp, sum(tn)::int AS tn, sum(fn)::int AS fn,
         ${proportionAggregates},
         count(*) FILTER (WHERE linked > 0)::int AS patients,
         coalesce(sum(linked::float8 * linked), 0) AS pairs_squared,
         coalesce(sum(total_difference), 0) AS sum_difference,
         coalesce(sum(total_squared_difference), 0) AS sum_squared_difference,
         coalesce(sum(total_difference * total_difference / linked) FILTER (WHERE linked > 0), 0)
           AS sum_patient_total2_per_size,
         coalesce(sum(total_difference * total_difference), 0) AS sum_patient_total2,
         coalesce(sum(linked * total_difference), 0) AS sum_size_times_total,
         -- Per patient: positive when any linked vessel is (DESIGN.md §5), diseased likewise.
         count(*) FILTER (WHERE tp + fp > 0 AND tp + fn > 0)::int AS patient_tp,
         count(*) FILTER (WHERE tp + fp > 0 AND tp + fn = 0)::int AS patient_fp,
         count(*) FILTER (WHERE linked > 0 AND tp + fp = 0 AND tp + fn = 0)::int AS patient_tn,
         count(*) FILTER (WHERE tp + fp = 0 AND tp + fn > 0)::int AS patient_fn
    FROM per_patient
   GROUP BY manufacturer_id, day, site_id, model_version, scanner_vendor, vessel`;

/**
 * The request path for dirty slices, in one pass over the base tables: their roll-up rows (the columns of
 * performance_rollups) and their linked pairs counted per slice key and (CT-FFR, FFR) value, each as a JSON array
 * (text) that the request's sums and cells queries read back with json_populate_recordset / json_to_recordset.
 * float8 prints in its shortest exact form, so the values read back are the computed ones, bit for bit.
 */
export const SLICE_ROWS_AND_PAIRS_SQL = `WITH ${SLICE_VESSELS_CTE}, ${PER_PATIENT_CTE}
  SELECT (SELECT coalesce(json_agg(r), '[]')::text FROM (${ROLLUP_ROWS_SELECT}) r) AS rollup_rows,
         (SELECT coalesce(json_agg(p), '[]')::text FROM (
            SELECT day, site_id, model_version, scanner_vendor, vessel, ct AS ct_ffr, ffr AS invasive_ffr,
                   count(*)::int AS vessels
              FROM slice_vessels WHERE ffr IS NOT NULL
             GROUP BY day, site_id, model_version, scanner_vendor, vessel, ct, ffr) p) AS pairs`;

/** The slices' linked pairs, in the columns of performance_linked_vessels. */
export const SLICE_LINKED_VESSELS_SQL = `WITH ${SLICE_VESSELS_CTE}
  SELECT $1::uuid AS product_id, day, event_id AS analysis_event_id, vessel_index, manufacturer_id, site_id,
         model_version, scanner_vendor, vessel, ct AS ct_ffr, ffr AS invasive_ffr
    FROM slice_vessels WHERE ffr IS NOT NULL`;

const STORE_SLICES_SQL = `WITH ${SLICE_VESSELS_CTE}, ${PER_PATIENT_CTE},
  stored_pairs AS (
    INSERT INTO performance_linked_vessels
    SELECT $1::uuid, day, event_id, vessel_index, manufacturer_id, site_id, model_version, scanner_vendor, vessel, ct, ffr
      FROM slice_vessels WHERE ffr IS NOT NULL
  )
  INSERT INTO performance_rollups (${[...KEY_COLUMNS, 'manufacturer_id', 'threshold', ...ROLLUP_SUM_COLUMNS].join(', ')})
  ${ROLLUP_ROWS_SELECT}`;

/** The calendar months and years ($2: days) whose period sums a rebuild of those days changes. */
const PERIODS_OF_DAYS = `
  SELECT DISTINCT span, date_trunc(span, d)::date FROM unnest($2::date[]) AS d, unnest(ARRAY['month', 'year']) AS span`;

/**
 * The months' and years' sums (performance_rollup_periods, migration 1764340000001) recomputed from their day rows
 * rather than adjusted by differences: float sums then carry no error from earlier updates.
 */
const STORE_PERIODS_SQL = `
  INSERT INTO performance_rollup_periods (product_id, span, period, ${KEY_COLUMNS.slice(2).join(', ')}, manufacturer_id,
                                          threshold, ${ROLLUP_SUM_COLUMNS.join(', ')})
  SELECT r.product_id, p.span, p.period, ${KEY_COLUMNS.slice(2)
    .map((column) => `r.${column}`)
    .join(', ')}, r.manufacturer_id, min(r.threshold),
         ${ROLLUP_SUM_COLUMNS.map((column) => `sum(r.${column})`).join(', ')}
    FROM (${PERIODS_OF_DAYS}) AS p(span, period)
    JOIN performance_rollups r
      ON r.product_id = $1 AND r.day >= p.period
     AND r.day < (p.period + CASE p.span WHEN 'month' THEN interval '1 month' ELSE interval '1 year' END)::date
   GROUP BY r.product_id, p.span, p.period, ${KEY_COLUMNS.slice(2)
     .map((column) => `r.${column}`)
     .join(', ')}, r.manufacturer_id`;

/**
 * Recomputes up to `maxSlices` dirty slices of one product in the caller's transaction. Returns how
 * many slices it rebuilt (0 when nothing is dirty or other instances hold every dirty product's lock).
 */
export async function rebuildDirtySlices(client: PoolClient, maxSlices: number): Promise<number> {
  // Products with dirty slices, oldest mark first; another instance may be rebuilding some of them.
  const candidates = await client.query<{ product_id: string; manufacturer_id: string; threshold: string }>(
    `SELECT d.product_id, p.manufacturer_id, p.ffr_threshold::text AS threshold
       FROM (SELECT product_id, min(id) AS first_mark FROM performance_rollup_dirty GROUP BY product_id) d
       JOIN products p ON p.id = d.product_id
      ORDER BY d.first_mark
      LIMIT 16`,
  );
  for (const product of candidates.rows) {
    // One rebuilder per product at a time across instances.
    const locked = await client.query<{ locked: boolean }>(
      `SELECT pg_try_advisory_xact_lock(hashtextextended('performance_rollups:' || $1, 0)) AS locked`,
      [product.product_id],
    );
    if (!locked.rows[0].locked) continue;
    // The day with the oldest mark first, then the dirty days after it in date order. Taking the earliest days
    // instead starved the latest: under bench:soak every batch re-dirtied the early ones, so the same days were
    // rebuilt pass after pass while the newest days kept their first marks for the whole run and every request
    // computed them live. Consecutive days make few index ranges (sliceParameters).
    const marks = await client.query<{ day: string; mark_ids: string[] }>(
      `SELECT day::text AS day, array_agg(id)::text[] AS mark_ids FROM performance_rollup_dirty
        WHERE product_id = $1
          AND day >= (SELECT day FROM performance_rollup_dirty WHERE product_id = $1 ORDER BY id LIMIT 1)
        GROUP BY day ORDER BY day LIMIT $2`,
      [product.product_id, maxSlices],
    );
    if (marks.rowCount === 0) continue;
    const days = marks.rows.map((mark) => mark.day);
    await client.query(`DELETE FROM performance_rollups WHERE product_id = $1 AND day = ANY($2::date[])`, [
      product.product_id,
      days,
    ]);
    // The monthly histograms lose these days' old pairs and gain their new ones in this transaction.
    await applyDaysToPairCells(client, product.product_id, days, -1);
    await client.query(
      `DELETE FROM performance_linked_vessels WHERE product_id = $1 AND day = ANY($2::date[])`,
      [product.product_id, days],
    );
    await client.query(
      STORE_SLICES_SQL,
      sliceParameters(product.product_id, product.manufacturer_id, days, Number(product.threshold)),
    );
    await applyDaysToPairCells(client, product.product_id, days, 1);
    await client.query(
      `DELETE FROM performance_rollup_periods WHERE product_id = $1 AND (span, period) IN (${PERIODS_OF_DAYS})`,
      [product.product_id, days],
    );
    await client.query(STORE_PERIODS_SQL, [product.product_id, days]);
    // Only the marks this rebuild saw (their changes were committed before the rebuild's snapshot). A mark
    // committed later — even one with a lower id from a slower transaction — keeps its day dirty.
    await client.query(`DELETE FROM performance_rollup_dirty WHERE id = ANY($1::bigint[])`, [
      marks.rows.flatMap((mark) => mark.mark_ids),
    ]);
    return days.length;
  }
  return 0;
}
