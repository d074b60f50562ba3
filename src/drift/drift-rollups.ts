import {
  analysisCellsSql,
  assembleCells,
  dailyCtFfrCells,
  deviceErrorRows,
  vesselCellsSql,
  type AnalysisCellRow,
  type CellAggregates,
  type DailyCtFfrCell,
  type Edges,
  type LabelledVesselRow,
  type Queryable,
  type VesselCellRow,
  type WindowFilter,
  windowCells,
} from './drift-queries';
import { NUMERIC_FEATURE_NAMES, type NumericFeature } from './drift-config';

/**
 * Per-day drift roll-ups (issue 4 §6; migration 1764360000000-DriftDailyRollups): the window counts of
 * drift-queries.ts, kept per active reference, UTC day and cell, so that an evaluation adds up O(days × cells) rows
 * instead of binning every analysis of its window again. The roll-up SQL is the window SQL itself, grouped by day as
 * well (analysisCellsSql / vesselCellsSql with byDay), and a window's partial first and last days are binned live, so
 * a window read here equals the same window binned at once (test/drift-rollups.integration-spec.ts compares them).
 *
 * Every reference's roll-up covers all of the product's analyses, every model version: a version's own reference
 * then reads its version's cells, and a versioned reference serving as the default reads them all.
 */

const DAY_MS = 86_400_000;

/** What the roll-up needs of the product and of each active reference. */
export interface RollupProduct {
  readonly manufacturerId: string;
  readonly productId: string;
  /** The FFR threshold as numeric text (compared as real, as the window SQL does). */
  readonly threshold: string;
}

export interface RollupReference {
  readonly id: string;
  readonly edges: Edges;
}

/** Between the parts of a labelled day's cell key (chr(31), the unit separator: in no site id, vendor or version). */
const CELL_SEPARATOR = '\u001f';
const EVERY_ANALYSIS = {
  from: new Date('1900-01-01T00:00:00.000Z'),
  to: new Date('9999-01-01T00:00:00.000Z'),
};
const utcMidnight = (time: number): number => Math.floor(time / DAY_MS) * DAY_MS;
const isoDay = (time: number): string => new Date(time).toISOString().slice(0, 10);

/** Renumbers `$n` parameters of a SQL text by `offset` (to put two parameterised queries in one statement). */
function shiftParams(sql: string, offset: number): string {
  return sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`);
}

/** Consecutive runs of days ('YYYY-MM-DD', any order, repeats allowed) as [first, last] pairs. */
export function dayRuns(days: readonly string[]): Array<[string, string]> {
  const sorted = [...new Set(days)].sort();
  const runs: Array<[string, string]> = [];
  for (const day of sorted) {
    const last = runs[runs.length - 1];
    if (last && Date.parse(`${day}T00:00:00Z`) - Date.parse(`${last[1]}T00:00:00Z`) === DAY_MS) last[1] = day;
    else runs.push([day, day]);
  }
  return runs;
}

/**
 * Inserts the day cells of one reference for the analyses of [from, to) (whole UTC days) — one statement: the analysis counts joined with the vessel counts per day and
 * cell.
 */
async function insertDayCells(
  db: Queryable,
  product: RollupProduct,
  reference: RollupReference,
  from: Date,
  to: Date,
): Promise<void> {
  const filter: WindowFilter = {
    manufacturerId: product.manufacturerId,
    productId: product.productId,
    from,
    to,
  };
  const analyses = analysisCellsSql(filter, reference.edges, true);
  const vessels = vesselCellsSql(filter, reference.edges.ctFfr, product.threshold, true);
  const params: unknown[] = [...analyses.params, ...vessels.params, reference.id];
  const referenceParam = params.length;
  const numericBins = analyses.features.length
    ? `jsonb_build_object(${analyses.features.map((f) => `'${f}', ac."bins_${f}"`).join(', ')})`
    : `'{}'::jsonb`;
  await db.query(
    `INSERT INTO drift_daily_cells (reference_id, day, site_id, scanner_vendor, model_version, manufacturer_id,
                                    product_id, analyses, rejected, failed, sex_f, sex_m, sex_x, numeric_bins,
                                    vessels, vessels_at_or_below, ct_ffr_bins, last_received_at)
     SELECT $${referenceParam}::uuid, ac.day, ac.site_id, ac.scanner_vendor, ac.model_version, $1::uuid, $2::uuid,
            ac.analyses, ac.rejected, ac.failed, ac.sex_f, ac.sex_m, ac.sex_x, ${numericBins},
            coalesce(vc.vessels, 0), coalesce(vc.at_or_below, 0),
            ${reference.edges.ctFfr ? 'vc."bins_ctFfr"' : 'NULL::int[]'}, ac.last_received_at
       FROM (${analyses.sql}) ac
       LEFT JOIN (${shiftParams(vessels.sql, analyses.params.length)}) vc
         ON vc.day = ac.day AND vc.site_id = ac.site_id AND vc.scanner_vendor = ac.scanner_vendor
        AND vc.model_version = ac.model_version`,
    params,
  );
}

/**
 * Takes the product's change marks out of `table` in the caller's transaction and returns their distinct days. The
 * DELETE removes exactly the marks committed before it (a writer committing later keeps its mark for the next
 * refresh) and is undone with the rebuild if the transaction fails; under ingestion a day collects a mark per batch,
 * so only the days come back, not every mark.
 */
async function takeMarkedDays(
  manager: Queryable,
  table: 'drift_rollup_dirty' | 'drift_label_dirty',
  productId: string,
): Promise<string[]> {
  const rows = await manager.query<Array<{ day: string }>>(
    `WITH taken AS (DELETE FROM ${table} WHERE product_id = $1 RETURNING day)
     SELECT DISTINCT to_char(day, 'YYYY-MM-DD') AS day FROM taken ORDER BY day`,
    [productId],
  );
  return rows.map((r) => r.day);
}

/**
 * Brings the day cells of the product's active references up to date, in one transaction of `manager`. The caller
 * holds the product's drift advisory lock (drift-evaluation.service.ts), so no two refreshes of a product overlap.
 *
 * - A reference without a roll-up (new, or its threshold changed) is built from every analysis of the product.
 * - Days marked in drift_rollup_dirty are rebuilt for every built reference, their marks taken in the same
 *   transaction (takeMarkedDays); a mark committed meanwhile stays for the next refresh (a day rebuilt twice is the
 *   same day).
 * - Roll-ups of references no longer active are dropped: nothing would keep them current.
 */
export async function refreshDriftRollups(
  manager: Queryable,
  product: RollupProduct,
  references: readonly RollupReference[],
): Promise<void> {
  // The first build of a reference reads every analysis of the product: minutes at 10M, longer than a request's 30 s.
  await manager.query(`SET LOCAL statement_timeout = '30min'`);
  // JIT compiling dominated small day passes over partitioned tables (as in the performance roll-ups, 16928af).
  await manager.query('SET LOCAL jit = off');
  const markedDays = await takeMarkedDays(manager, 'drift_rollup_dirty', product.productId);
  const states = await manager.query<Array<{ reference_id: string; current: boolean }>>(
    `SELECT reference_id::text AS reference_id, threshold = $2::real AS current
       FROM drift_rollup_state WHERE product_id = $1`,
    [product.productId, product.threshold],
  );
  const activeIds = new Set(references.map((r) => r.id));
  const stale = states.filter((s) => !activeIds.has(s.reference_id) || !s.current).map((s) => s.reference_id);
  if (stale.length) {
    await manager.query(`DELETE FROM drift_daily_cells WHERE reference_id = ANY($1::uuid[])`, [stale]);
    await manager.query(`DELETE FROM drift_rollup_state WHERE reference_id = ANY($1::uuid[])`, [stale]);
  }
  const built = new Set(
    states.filter((s) => activeIds.has(s.reference_id) && s.current).map((s) => s.reference_id),
  );
  const runs = dayRuns(markedDays);
  for (const reference of references) {
    if (!built.has(reference.id)) {
      // Every analysis the product has: the bounds only keep the window SQL's shape (every partition is read).
      await insertDayCells(manager, product, reference, EVERY_ANALYSIS.from, EVERY_ANALYSIS.to);
      continue;
    }
    for (const [first, last] of runs) {
      const from = new Date(`${first}T00:00:00.000Z`);
      const to = new Date(Date.parse(`${last}T00:00:00.000Z`) + DAY_MS);
      await manager.query(
        `DELETE FROM drift_daily_cells WHERE reference_id = $1 AND day >= $2 AND day <= $3`,
        [reference.id, first, last],
      );
      await insertDayCells(manager, product, reference, from, to);
    }
  }
  for (const reference of references) {
    await manager.query(
      `INSERT INTO drift_rollup_state (reference_id, manufacturer_id, product_id, threshold, built_at, refreshed_at)
       VALUES ($1, $2, $3, $4::real, now(), now())
       ON CONFLICT (reference_id) DO UPDATE SET refreshed_at = now()`,
      [reference.id, product.manufacturerId, product.productId, product.threshold],
    );
  }
}

/** A drift_daily_cells row: the window's analysis counts of one day and cell, with the vessel counts beside them. */
interface DayCellRow extends Omit<AnalysisCellRow, `bins_${string}`> {
  numeric_bins: Partial<Record<NumericFeature, number[]>>;
  vessels: number;
  vessels_at_or_below: number;
  ct_ffr_bins: number[] | null;
}

/**
 * The whole UTC days inside [from, to), and the partial days at either end: a window is read from the roll-up for the
 * former and binned live for the latter.
 */
function splitWindow(from: Date, to: Date): { whole: [Date, Date] | null; partial: Array<[Date, Date]> } {
  const firstWhole = utcMidnight(from.getTime() + DAY_MS - 1);
  const wholeEnd = utcMidnight(to.getTime());
  if (firstWhole >= wholeEnd) return { whole: null, partial: [[from, to]] };
  const partial: Array<[Date, Date]> = [];
  if (from.getTime() < firstWhole) partial.push([from, new Date(firstWhole)]);
  if (wholeEnd < to.getTime()) partial.push([new Date(wholeEnd), to]);
  return { whole: [new Date(firstWhole), new Date(wholeEnd)], partial };
}

/**
 * drift-queries.ts windowCells for a reference whose roll-up is current (refreshDriftRollups in this evaluation):
 * whole days summed from drift_daily_cells, the partial days at the window's ends binned live, device errors live
 * (they carry no analysis and are few).
 */
export async function rolledUpWindowCells(
  db: Queryable,
  reference: RollupReference,
  filter: WindowFilter,
  threshold: string,
): Promise<CellAggregates[]> {
  const { whole, partial } = splitWindow(filter.from, filter.to);
  if (!whole) return windowCells(db, filter, reference.edges, threshold);
  const params: unknown[] = [reference.id, isoDay(whole[0].getTime()), isoDay(whole[1].getTime())];
  if (filter.modelVersion) params.push(filter.modelVersion);
  const dayRows = await db.query<DayCellRow[]>(
    `SELECT site_id::text AS site_id, scanner_vendor, model_version, analyses, rejected, failed, sex_f, sex_m, sex_x,
            numeric_bins, vessels, vessels_at_or_below, ct_ffr_bins
       FROM drift_daily_cells
      WHERE reference_id = $1 AND day >= $2::date AND day < $3::date${filter.modelVersion ? ' AND model_version = $4' : ''}`,
    params,
  );
  const analysisRows: AnalysisCellRow[] = [];
  const vesselRows: VesselCellRow[] = [];
  for (const row of dayRows) {
    const analysisRow: AnalysisCellRow = {
      site_id: row.site_id,
      scanner_vendor: row.scanner_vendor,
      model_version: row.model_version,
      analyses: row.analyses,
      rejected: row.rejected,
      failed: row.failed,
      sex_f: row.sex_f,
      sex_m: row.sex_m,
      sex_x: row.sex_x,
    };
    for (const feature of NUMERIC_FEATURE_NAMES) {
      const counts = row.numeric_bins[feature];
      if (counts) analysisRow[`bins_${feature}`] = counts;
    }
    analysisRows.push(analysisRow);
    if (row.vessels > 0) {
      vesselRows.push({
        site_id: row.site_id,
        scanner_vendor: row.scanner_vendor,
        model_version: row.model_version,
        vessels: row.vessels,
        at_or_below: row.vessels_at_or_below,
        ...(row.ct_ffr_bins ? { bins_ctFfr: row.ct_ffr_bins } : {}),
      } as VesselCellRow);
    }
  }
  for (const [from, to] of partial) {
    const range = { ...filter, from, to };
    const analyses = analysisCellsSql(range, reference.edges);
    analysisRows.push(...(await db.query<AnalysisCellRow[]>(analyses.sql, analyses.params)));
    const vessels = vesselCellsSql(range, reference.edges.ctFfr, threshold);
    vesselRows.push(...(await db.query<VesselCellRow[]>(vessels.sql, vessels.params)));
  }
  return assembleCells(db, analysisRows, vesselRows, await deviceErrorRows(db, filter));
}

/**
 * drift-queries.ts dailyCtFfrCells for a reference whose roll-up is current: the completed vessels' CT-FFR counts of
 * whole days from drift_daily_cells, the last partial day binned live. Ordered by day, as the location chart reads
 * them.
 */
export async function rolledUpDailyCtFfrCells(
  db: Queryable,
  reference: RollupReference,
  filter: WindowFilter,
): Promise<DailyCtFfrCell[]> {
  const ctEdges = reference.edges.ctFfr;
  if (!ctEdges) return [];
  const { whole, partial } = splitWindow(filter.from, filter.to);
  if (!whole) return dailyCtFfrCells(db, filter, ctEdges);
  const params: unknown[] = [reference.id, isoDay(whole[0].getTime()), isoDay(whole[1].getTime())];
  if (filter.modelVersion) params.push(filter.modelVersion);
  const rows = await db.query<
    Array<{ day: string; site_code: string; scanner_vendor: string; model_version: string; counts: number[] }>
  >(
    `SELECT to_char(c.day, 'YYYY-MM-DD') AS day, s.site_code, c.scanner_vendor, c.model_version,
            c.ct_ffr_bins AS counts
       FROM drift_daily_cells c
       JOIN sites s ON s.id = c.site_id
      WHERE c.reference_id = $1 AND c.day >= $2::date AND c.day < $3::date AND c.ct_ffr_bins IS NOT NULL
            ${filter.modelVersion ? ' AND c.model_version = $4' : ''}
      ORDER BY c.day, s.site_code, c.scanner_vendor, c.model_version`,
    params,
  );
  // A day whose vessels all lack a CT-FFR has no observation (the live query counts only vessels with one).
  const cells: DailyCtFfrCell[] = rows
    .filter((r) => r.counts.some((c) => c > 0))
    .map((r) => ({
      day: r.day,
      siteCode: r.site_code,
      scannerVendor: r.scanner_vendor,
      modelVersion: r.model_version,
      counts: r.counts,
    }));
  const before = partial.filter(([, to]) => to.getTime() <= whole[0].getTime());
  const after = partial.filter(([from]) => from.getTime() >= whole[1].getTime());
  const live = async (ranges: Array<[Date, Date]>): Promise<DailyCtFfrCell[]> => {
    const out: DailyCtFfrCell[] = [];
    for (const [from, to] of ranges)
      out.push(...(await dailyCtFfrCells(db, { ...filter, from, to }, ctEdges)));
    return out;
  };
  return [...(await live(before)), ...cells, ...(await live(after))];
}

/** Analyses stored for the product and the latest receipt, from a current roll-up (every analysis of the product). */
export async function rolledUpAnalysisMark(
  db: Queryable,
  referenceId: string,
): Promise<{ analyses: number; receivedThrough: string | null }> {
  const [row] = await db.query<Array<{ analyses: string; received: Date | null }>>(
    `SELECT coalesce(sum(analyses), 0)::bigint::text AS analyses, max(last_received_at) AS received
       FROM drift_daily_cells WHERE reference_id = $1`,
    [referenceId],
  );
  return {
    analyses: Number(row.analyses),
    receivedThrough: row.received ? new Date(row.received).toISOString() : null,
  };
}

/**
 * Brings the product's labelled days (migration 1764360000001) up to date, in the caller's transaction and under the
 * product's drift lock: built from every linked pair the first time, then the days marked in drift_label_dirty.
 */
export async function refreshLabelledDays(
  manager: Queryable,
  product: Pick<RollupProduct, 'manufacturerId' | 'productId'>,
): Promise<void> {
  const markedDays = await takeMarkedDays(manager, 'drift_label_dirty', product.productId);
  const state = await manager.query<unknown[]>(`SELECT 1 FROM drift_label_state WHERE product_id = $1`, [
    product.productId,
  ]);
  const firstBuild = state.length === 0;
  const runs: Array<[string, string]> = firstBuild ? [['1900-01-01', '9999-01-01']] : dayRuns(markedDays);
  for (const [first, last] of runs) {
    await manager.query(`DELETE FROM drift_labelled_days WHERE product_id = $1 AND day >= $2 AND day <= $3`, [
      product.productId,
      first,
      last,
    ]);
    // The cell key of a pair, and each day's vessels in the order the charts read them (CTA day, analysis, vessel).
    const key = `l.site_id::text || chr(31) || l.scanner_vendor || chr(31) || l.model_version`;
    const order = 'ORDER BY l.analysis_event_id, l.vessel_index';
    await manager.query(
      `INSERT INTO drift_labelled_days (product_id, day, manufacturer_id, vessels, cells, cell_index, ct_ffr,
                                        invasive_ffr)
       SELECT l.product_id, l.day, l.manufacturer_id, count(*)::int, c.cells,
              string_agg(int2send((array_position(c.cells, ${key}) - 1)::int2), ''::bytea ${order}),
              string_agg(float8send(l.ct_ffr), ''::bytea ${order}),
              string_agg(float8send(l.invasive_ffr), ''::bytea ${order})
         FROM performance_linked_vessels l
         JOIN (SELECT l.day, array_agg(DISTINCT ${key} ORDER BY ${key}) AS cells
                 FROM performance_linked_vessels l
                WHERE l.product_id = $1 AND l.day >= $2::date AND l.day <= $3::date
                GROUP BY l.day) c ON c.day = l.day
        WHERE l.product_id = $1 AND l.day >= $2::date AND l.day <= $3::date
        GROUP BY l.product_id, l.day, l.manufacturer_id, c.cells`,
      [product.productId, first, last],
    );
  }
  if (firstBuild) {
    await manager.query(
      `INSERT INTO drift_label_state (product_id, manufacturer_id, built_at) VALUES ($1, $2, now())`,
      [product.productId, product.manufacturerId],
    );
  }
}

/**
 * The labelled stream (drift-queries.ts LabelledVesselRow) from current labelled days: vessels with a CTA day in
 * [from's UTC day, to's UTC day], in CTA order. Residual and discordance are computed here from the stored doubles —
 * IEEE subtraction and comparison with the threshold parsed as a double, as PostgreSQL's float8 would.
 */
export async function rolledUpLabelledStream(
  db: Queryable,
  productId: string,
  from: Date,
  to: Date,
  threshold: string,
): Promise<LabelledVesselRow[]> {
  const days = await db.query<
    Array<{ day: string; cells: string[]; cell_index: Buffer; ct_ffr: Buffer; invasive_ffr: Buffer }>
  >(
    `SELECT to_char(day, 'YYYY-MM-DD') AS day, cells, cell_index, ct_ffr, invasive_ffr
       FROM drift_labelled_days
      WHERE product_id = $1 AND day >= ($2::timestamptz AT TIME ZONE 'UTC')::date
        AND day < ($3::timestamptz AT TIME ZONE 'UTC')::date + 1
      ORDER BY day`,
    [productId, from.toISOString(), to.toISOString()],
  );
  const siteIds = new Set<string>();
  for (const row of days) for (const cell of row.cells) siteIds.add(cell.split(CELL_SEPARATOR, 1)[0]);
  const sites = siteIds.size
    ? await db.query<Array<{ id: string; site_code: string }>>(
        `SELECT id::text AS id, site_code FROM sites WHERE id = ANY($1::uuid[])`,
        [[...siteIds]],
      )
    : [];
  const siteCodes = new Map(sites.map((s) => [s.id, s.site_code]));
  const limit = Number(threshold);
  const out: LabelledVesselRow[] = [];
  for (const row of days) {
    const cells = row.cells.map((cell) => {
      const [siteId, scannerVendor, modelVersion] = cell.split(CELL_SEPARATOR);
      return { siteCode: siteCodes.get(siteId) ?? siteId, scannerVendor, modelVersion };
    });
    const vessels = row.ct_ffr.length / 8;
    for (let i = 0; i < vessels; i++) {
      const cell = cells[row.cell_index.readInt16BE(2 * i)];
      const ctFfr = row.ct_ffr.readDoubleBE(8 * i);
      const invasiveFfr = row.invasive_ffr.readDoubleBE(8 * i);
      out.push({
        day: row.day,
        siteCode: cell.siteCode,
        scannerVendor: cell.scannerVendor,
        modelVersion: cell.modelVersion,
        residual: ctFfr - invasiveFfr,
        discordant: ctFfr <= limit !== invasiveFfr <= limit,
      });
    }
  }
  return out;
}
