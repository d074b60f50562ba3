/**
 * Monthly and yearly (CT-FFR, invasive FFR) histograms of the linked vessels (migration
 * 1764340000000-PerformancePairCells).
 *
 * Why: the exact histogram behind AUC (DeLong, midranks), Bland–Altman, correlations and calibration used to be
 * built per request by scanning every linked vessel of the period, O(linked vessels). Counts of equal pairs add,
 * so they are kept per month, per year and per grouping dimension as data arrives; a request reads whole years and
 * months from here (O(spans × distinct pairs)) and only the days of partial or not-yet-rolled-up months from the
 * per-day pairs.
 *
 * No binning: a cell is one exact float8 pair as stored in performance_linked_vessels, so the histogram a request
 * assembles is the one a scan would give, and sorted the same way, so every figure is bit-identical. Its size is
 * small because devices report CT-FFR and FFR at 0.01; values at a finer resolution stay exact and only make more
 * cells (the ingestion schema accepts any value in [0, 1]).
 */
import { PoolClient } from 'pg';
import { PairCell } from '../stats/pair-histogram';
import { GroupBy } from './performance.dto';

type CellGrouping = GroupBy | 'overall';

/** The dimension whose member a group key is read from; month and quarter come from the month itself. */
const DIMENSION: Record<CellGrouping, string> = {
  overall: 'overall',
  site: 'site',
  modelVersion: 'modelVersion',
  scannerVendor: 'scannerVendor',
  vessel: 'vessel',
  month: 'overall',
  quarter: 'overall',
};

const CELL_DIMENSIONS = [...new Set(Object.values(DIMENSION))];

/** Group keys as full-detail.ts GROUP_KEY_SQL names them (site code, YYYY-MM, YYYY-"Q"Q). */
const CELL_KEY_SQL: Record<CellGrouping, string> = {
  overall: `'overall'`,
  site: 's.site_code',
  modelVersion: 'c.member',
  scannerVendor: 'c.member',
  vessel: 'c.member',
  month: `to_char(c.period, 'YYYY-MM')`,
  quarter: `to_char(c.period, 'YYYY-"Q"Q')`,
};

/**
 * Adds ($3 = 1) or removes ($3 = −1) the stored pairs of days $2 of product $1 to or from their months' and years'
 * cells. The worker calls it with −1 before it replaces those days' pairs and with +1 after, in one transaction, so
 * the cells always equal the sum of performance_linked_vessels over their span.
 */
const APPLY_DAYS_SQL = `
  INSERT INTO performance_pair_cells AS c
         (product_id, dimension, span, period, member, ct_ffr, invasive_ffr, manufacturer_id, vessels)
  SELECT product_id,
         CASE WHEN GROUPING(site_id) = 0 THEN 'site' WHEN GROUPING(model_version) = 0 THEN 'modelVersion'
              WHEN GROUPING(scanner_vendor) = 0 THEN 'scannerVendor' WHEN GROUPING(vessel) = 0 THEN 'vessel'
              ELSE 'overall' END,
         span, date_trunc(span, day)::date,
         coalesce(site_id::text, model_version, scanner_vendor, vessel, ''),
         ct_ffr, invasive_ffr, manufacturer_id, $3::int * count(*)::int
    FROM performance_linked_vessels CROSS JOIN (VALUES ('month'), ('year')) AS spans(span)
   WHERE product_id = $1 AND day = ANY($2::date[])
   GROUP BY product_id, manufacturer_id, span, date_trunc(span, day), ct_ffr, invasive_ffr,
            GROUPING SETS ((), (site_id), (model_version), (scanner_vendor), (vessel))
  ON CONFLICT (product_id, dimension, span, period, member, ct_ffr, invasive_ffr)
  DO UPDATE SET vessels = c.vessels + excluded.vessels`;

export async function applyDaysToPairCells(
  client: PoolClient,
  productId: string,
  days: readonly string[],
  sign: 1 | -1,
): Promise<void> {
  await client.query(APPLY_DAYS_SQL, [productId, days, sign]);
  if (sign === -1) return;
  // Pairs that no longer occur once the days are replaced go, so the table stays as small as the spans' distinct
  // pairs. A count below zero means the cells had lost step with the pairs: the pass fails and its slices stay
  // dirty (requests compute them from the base tables) rather than a wrong histogram being stored.
  const emptied = await client.query<{ vessels: number }>(
    `DELETE FROM performance_pair_cells
      WHERE product_id = $1 AND dimension = ANY($3::text[]) AND span = ANY(ARRAY['month', 'year'])
        AND period = ANY(ARRAY(SELECT date_trunc(span, d)::date
                                 FROM unnest($2::date[]) AS d, unnest(ARRAY['month', 'year']) AS span))
        AND vessels <= 0
      RETURNING vessels`,
    [productId, days, CELL_DIMENSIONS],
  );
  if (emptied.rows.some((row) => row.vessels < 0)) {
    throw new Error(`performance_pair_cells of product ${productId} went negative: cells and pairs disagree`);
  }
}

const isoDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
const utc = (day: string): [number, number] => [Number(day.slice(0, 4)), Number(day.slice(5, 7)) - 1];
const monthOf = (day: string): string => isoDay(Date.UTC(...utc(day), 1));
const addMonths = (month: string, count: number): string =>
  isoDay(Date.UTC(utc(month)[0], utc(month)[1] + count, 1));
/** ISO dates and PostgreSQL's '-infinity'/'infinity' compare as strings ('-' < digits < 'i'). */
const later = (a: string, b: string): string => (a > b ? a : b);
const earlier = (a: string, b: string): string => (a < b ? a : b);

/**
 * How a period [fromDay, toDay) of whole days splits: calendar years and months read from the stored spans (those
 * wholly inside the period), and day ranges [lo, hi) read from the day rows. `stored` is the product's first and last
 * stored month (the period is clipped to it: day rows exist only in months that have spans). A dirty day inside a
 * span is handled one of two ways:
 * - 'subtract' (the pair cells): the span is kept, the day's stored pairs are listed in `staleDays` to be taken back
 *   out, and the day is computed from the base tables: a fresh day costs that day, not its month. Exact, as counts.
 * - 'by-day' (the sums): the dirty day's month is read from the day rows of its clean days instead, so a dirty day's
 *   stored row is never read (its float sums are not subtracted, and a row spoiled before its rebuild cannot leak).
 *   A month of day rows is small (sites × versions × vessels × 31).
 * Years are not used when the groups are months or quarters.
 */
export interface CellReadPlan {
  readonly years: string[];
  readonly months: string[];
  readonly dayRanges: Array<[string, string]>;
  readonly staleDays: string[];
}

export function planCellRead(
  fromDay: string,
  toDay: string,
  dirtyDays: readonly string[],
  stored: { first: string; last: string } | null,
  options: { useYears: boolean; dirty: 'subtract' | 'by-day' },
): CellReadPlan {
  const plan: CellReadPlan = { years: [], months: [], dayRanges: [], staleDays: [] };
  if (stored === null) return plan;
  const lo = later(fromDay, stored.first);
  const hi = earlier(toDay, addMonths(stored.last, 1));
  if (lo >= hi) return plan;
  const firstWhole = monthOf(lo) === lo ? lo : addMonths(monthOf(lo), 1);
  const afterWhole = monthOf(hi);
  if (firstWhole >= afterWhole) return { ...plan, dayRanges: [[lo, hi]] };
  if (lo < firstWhole) plan.dayRanges.push([lo, firstWhole]);
  const byDay = new Set(options.dirty === 'by-day' ? dirtyDays.map(monthOf) : []);
  for (let month = firstWhole; month < afterWhole;) {
    const yearEnd = addMonths(month, 12);
    const wholeYear =
      options.useYears &&
      month.endsWith('-01-01') &&
      yearEnd <= afterWhole &&
      ![...byDay].some((dirty) => dirty >= month && dirty < yearEnd);
    if (wholeYear) {
      plan.years.push(month);
      month = yearEnd;
      continue;
    }
    if (byDay.has(month)) plan.dayRanges.push([month, addMonths(month, 1)]);
    else plan.months.push(month);
    month = addMonths(month, 1);
  }
  if (afterWhole < hi) plan.dayRanges.push([afterWhole, hi]);
  if (options.dirty === 'subtract') {
    plan.staleDays.push(...dirtyDays.filter((day) => day >= firstWhole && day < afterWhole).sort());
  }
  return plan;
}

/**
 * The product's first and last month stored in a span table (one probe each way on its primary key): cells exist
 * for the months with linked vessels, period sums for the months with analyses.
 */
export async function storedMonths(
  client: PoolClient,
  table: 'performance_pair_cells' | 'performance_rollup_periods',
  productId: string,
): Promise<{ first: string; last: string } | null> {
  const result = await client.query<{ first: string | null; last: string | null }>(
    `SELECT min(period)::text AS first, max(period)::text AS last FROM ${table}
      WHERE product_id = $1 AND span = 'month'
        ${table === 'performance_pair_cells' ? `AND dimension = 'overall'` : ''}`,
    [productId],
  );
  const { first, last } = result.rows[0];
  return first === null || last === null ? null : { first, last };
}

/** A stored pair's member in each dimension (as APPLY_DAYS_SQL writes it). */
const PAIR_MEMBER_SQL: Record<string, string> = {
  overall: `''`,
  site: 'site_id::text',
  modelVersion: 'model_version',
  scannerVendor: 'scanner_vendor',
  vessel: 'vessel',
};

/**
 * The planned years' and months' cells per group key, less the stored pairs of their stale days (counted −1 each;
 * the caller adds those days computed from the base tables). $1 product, $2 manufacturer (row-level security is the
 * guard; the predicate keeps the primary key's order).
 */
export async function readStoredCells(
  client: PoolClient,
  groupBy: CellGrouping,
  productId: string,
  manufacturerId: string,
  plan: CellReadPlan,
): Promise<Array<{ key: string } & PairCell>> {
  if (plan.years.length === 0 && plan.months.length === 0) return [];
  const result = await client.query<{ key: string; ct_ffr: number; invasive_ffr: number; vessels: number }>(
    `SELECT ${CELL_KEY_SQL[groupBy]} AS key, c.ct_ffr, c.invasive_ffr, sum(c.vessels)::int AS vessels
       FROM (SELECT member, period, ct_ffr, invasive_ffr, vessels FROM performance_pair_cells
              WHERE product_id = $1 AND manufacturer_id = $2 AND dimension = $3
                AND ((span = 'year' AND period = ANY($4::date[])) OR (span = 'month' AND period = ANY($5::date[])))
             UNION ALL
             SELECT ${PAIR_MEMBER_SQL[DIMENSION[groupBy]]}, date_trunc('month', day)::date, ct_ffr, invasive_ffr, -1
               FROM performance_linked_vessels
              WHERE product_id = $1 AND manufacturer_id = $2 AND day = ANY($6::date[])) c
       ${groupBy === 'site' ? 'JOIN sites s ON s.id = c.member::uuid' : ''}
      GROUP BY 1, 2, 3
     HAVING sum(c.vessels) <> 0`,
    [productId, manufacturerId, DIMENSION[groupBy], plan.years, plan.months, plan.staleDays],
  );
  return result.rows.map((row) => ({
    key: row.key,
    ctFfr: row.ct_ffr,
    invasiveFfr: row.invasive_ffr,
    vessels: row.vessels,
  }));
}
