import type { EntityManager } from 'typeorm';
import {
  type SegmentKind,
  ANALYSIS_FEATURES,
  NUMERIC_FEATURE_NAMES,
  NUMERIC_FEATURES,
  type NumericFeature,
} from './drift-config';
import type {
  DailyBinCounts,
  LabelledVessel,
  NumericReference,
  ResidualBaseline,
  SegmentAggregates,
  SegmentReference,
  SegmentRef,
} from './drift-evaluator';

/**
 * Window aggregates in SQL (issue 4 §6): evaluations never pull analyses into Node. One pass over a window's analyses
 * returns, per cell (site × scanner vendor × model version — the finest grain of every segment kind), the counts the
 * monitors need: status counts, sex tally, and every numeric feature's counts on the reference's frozen bins; one
 * join pass over the window's vessels does the same for CT-FFR. Segments are sums of cells (drift.service.ts), so
 * the four segment kinds cost one pass, not four. Only the accuracy charts read rows — one small row per labelled
 * vessel (residual, discordance, CTA day), which a sequential chart needs in order.
 *
 * Bins are right-closed, (e_{i−1}, e_i], as src/stats/drift-statistics.ts `binIndex` (the number of edges strictly
 * below the value): in SQL, #edges − width_bucket(−v, −edges reversed), since width_bucket counts the thresholds ≤ its
 * operand. Values compare as stored (real → float8 exactly); reference datasets are rounded to float32 on import.
 */

/** A query runner: the TypeORM data source or a transaction's manager (both have `query`). */
export type Queryable = Pick<EntityManager, 'query'>;

/** The window's rows to aggregate: one product, a time range, optionally one model version. */
export interface WindowFilter {
  readonly manufacturerId: string;
  readonly productId: string;
  readonly from: Date;
  readonly to: Date;
  readonly modelVersion?: string | null;
}

/** Current-window counts of one cell. */
export interface CellAggregates {
  readonly siteId: string;
  readonly siteCode: string;
  readonly scannerVendor: string;
  readonly modelVersion: string;
  readonly analyses: number;
  readonly rejected: number;
  readonly failed: number;
  readonly sex: Record<string, number>;
  readonly numeric: Partial<Record<NumericFeature, number[]>>;
  readonly vessels: number;
  readonly vesselsAtOrBelow: number;
  readonly deviceErrorsByKind: Record<string, number>;
}

export type Edges = Partial<Record<NumericFeature, readonly number[]>>;

/** A cell with nothing counted yet: where the window's analyses, vessels and device errors are added. */
export function emptyCell(
  siteId: string,
  siteCode: string,
  scannerVendor: string,
  modelVersion: string,
): CellAggregates & { numeric: Partial<Record<NumericFeature, number[]>> } {
  return {
    siteId,
    siteCode,
    scannerVendor,
    modelVersion,
    analyses: 0,
    rejected: 0,
    failed: 0,
    sex: {},
    numeric: {},
    vessels: 0,
    vesselsAtOrBelow: 0,
    deviceErrorsByKind: {},
  };
}

/** SQL of the right-closed bin index of `column` on the edges in parameter `$param` (edges negated and reversed). */
export function binSql(column: string, param: number, edgeCount: number): string {
  if (edgeCount === 0) return `CASE WHEN ${column} IS NULL THEN NULL ELSE 0 END`;
  return `(${edgeCount} - width_bucket(-(${column})::float8, $${param}::float8[]))`;
}

export const negatedReversed = (edges: readonly number[]): number[] => [...edges].reverse().map((e) => -e);

export function countsArraySql(bucket: string, bins: number): string {
  const cells = Array.from({ length: bins }, (_, i) => `count(*) FILTER (WHERE ${bucket} = ${i})`);
  return `ARRAY[${cells.join(', ')}]::int[]`;
}

function windowWhere(alias: string, filter: WindowFilter, params: unknown[]): string {
  params.push(filter.manufacturerId, filter.productId, filter.from.toISOString(), filter.to.toISOString());
  const base = params.length - 4;
  let where =
    `${alias}.manufacturer_id = $${base + 1} AND ${alias}.product_id = $${base + 2} ` +
    `AND ${alias}.occurred_at >= $${base + 3}::timestamptz AND ${alias}.occurred_at < $${base + 4}::timestamptz`;
  if (filter.modelVersion) {
    params.push(filter.modelVersion);
    where += ` AND ${alias}.model_version = $${params.length}`;
  }
  return where;
}

export interface AnalysisCellRow {
  site_id: string;
  scanner_vendor: string;
  model_version: string;
  analyses: number;
  rejected: number;
  failed: number;
  sex_f: number;
  sex_m: number;
  sex_x: number;
  [bins: `bins_${string}`]: number[];
}

export interface VesselCellRow {
  site_id: string;
  scanner_vendor: string;
  model_version: string;
  vessels: number;
  at_or_below: number;
  bins_ctFfr: number[];
}

export interface DeviceErrorRow {
  site_id: string;
  scanner_vendor: string;
  model_version: string;
  kind: string;
  events: number;
}

export const cellKey = (siteId: string, vendor: string, version: string): string =>
  `${siteId}\u0000${vendor}\u0000${version}`;

/**
 * Device errors per cell over a window: the device's site, its registered scanner vendor and model version (device
 * events carry no analysis); the device belongs to the product.
 */
export function deviceErrorRows(db: Queryable, filter: WindowFilter): Promise<DeviceErrorRow[]> {
  const deviceParams: unknown[] = [
    filter.manufacturerId,
    filter.productId,
    filter.from.toISOString(),
    filter.to.toISOString(),
  ];
  let versionClause = '';
  if (filter.modelVersion) {
    deviceParams.push(filter.modelVersion);
    versionClause = ` AND d.model_version = $${deviceParams.length}`;
  }
  return db.query<DeviceErrorRow[]>(
    `SELECT d.site_id::text AS site_id, coalesce(d.scanner_vendor, 'unknown') AS scanner_vendor, d.model_version,
            e.kind, count(*)::int AS events
       FROM device_events e
       JOIN devices d ON d.id = e.device_id
      WHERE e.manufacturer_id = $1 AND d.product_id = $2 AND e.occurred_at >= $3::timestamptz
        AND e.occurred_at < $4::timestamptz AND e.kind <> 'heartbeat'${versionClause}
      GROUP BY 1, 2, 3, 4`,
    deviceParams,
  );
}

/** The SQL of a window's analysis counts per cell (and per UTC day when `byDay`), with its parameters. */
export function analysisCellsSql(
  filter: WindowFilter,
  edges: Edges,
  byDay = false,
): { sql: string; params: unknown[]; features: NumericFeature[] } {
  const params: unknown[] = [];
  const where = windowWhere('a', filter, params);
  const buckets: string[] = [];
  const arrays: string[] = [];
  const features: NumericFeature[] = [];
  for (const feature of ANALYSIS_FEATURES) {
    const e = edges[feature];
    if (!e) continue;
    features.push(feature);
    params.push(negatedReversed(e));
    buckets.push(
      `${binSql(`a.${NUMERIC_FEATURES[feature].column}`, params.length, e.length)} AS b_${feature}`,
    );
    arrays.push(`${countsArraySql(`b_${feature}`, e.length + 1)} AS "bins_${feature}"`);
  }
  const day = byDay ? `(a.occurred_at AT TIME ZONE 'UTC')::date AS day, a.received_at, ` : '';
  const sql = `
        SELECT ${byDay ? 'day, max(received_at) AS last_received_at, ' : ''}site_id, scanner_vendor, model_version,
               count(*)::int AS analyses,
               count(*) FILTER (WHERE status = 'rejected')::int AS rejected,
               count(*) FILTER (WHERE status = 'failed')::int AS failed,
               count(*) FILTER (WHERE sex = 'F')::int AS sex_f,
               count(*) FILTER (WHERE sex = 'M')::int AS sex_m,
               count(*) FILTER (WHERE sex = 'X')::int AS sex_x
               ${arrays.length ? ', ' + arrays.join(', ') : ''}
          FROM (
            -- OFFSET 0 keeps the bin of each feature computed once per row, not once per FILTER.
            SELECT ${day}a.site_id, coalesce(a.scanner_vendor, 'unknown') AS scanner_vendor, a.model_version,
                   a.status, a.sex ${buckets.length ? ', ' + buckets.join(', ') : ''}
              FROM analyses a
             WHERE ${where}
            OFFSET 0) x
         GROUP BY ${byDay ? 'day, ' : ''}site_id, scanner_vendor, model_version`;
  return { sql, params, features };
}

/**
 * The SQL of a window's vessel counts per cell (and per UTC day of the analysis when `byDay`): vessels of completed
 * analyses, those at or below `threshold` (numeric text, compared as real like the performance module), and their
 * CT-FFR counts on the edges.
 */
export function vesselCellsSql(
  filter: WindowFilter,
  ctEdges: readonly number[] | undefined,
  threshold: string,
  byDay = false,
): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const where = windowWhere('a', filter, params);
  params.push(threshold);
  const thresholdParam = params.length;
  let ctBins = '';
  let ctBucket = '';
  if (ctEdges) {
    params.push(negatedReversed(ctEdges));
    ctBucket = `, ${binSql('v.ct_ffr', params.length, ctEdges.length)} AS b_ct`;
    ctBins = `, ${countsArraySql('b_ct', ctEdges.length + 1)} AS "bins_ctFfr"`;
  }
  const sql = `SELECT ${byDay ? 'day, ' : ''}site_id, scanner_vendor, model_version, count(*)::int AS vessels,
            count(*) FILTER (WHERE at_or_below)::int AS at_or_below ${ctBins}
       FROM (
         SELECT ${byDay ? "(a.occurred_at AT TIME ZONE 'UTC')::date AS day, " : ''}a.site_id,
                coalesce(a.scanner_vendor, 'unknown') AS scanner_vendor, a.model_version,
                v.ct_ffr <= $${thresholdParam}::real AS at_or_below ${ctBucket}
           FROM analyses a
           JOIN analysis_vessels v ON v.analysis_event_id = a.event_id
          WHERE ${where} AND a.status = 'completed'
            AND v.analysis_occurred_at >= $3::timestamptz AND v.analysis_occurred_at < $4::timestamptz
         OFFSET 0) x
      GROUP BY ${byDay ? 'day, ' : ''}site_id, scanner_vendor, model_version`;
  return { sql, params };
}

/**
 * Counts per cell over the window, binned on `edges` (the reference's). `threshold` is the product's FFR threshold
 * (numeric text, compared as real like the performance module). Features without edges are not binned.
 */
export async function windowCells(
  db: Queryable,
  filter: WindowFilter,
  edges: Edges,
  threshold: string,
): Promise<CellAggregates[]> {
  const analyses = analysisCellsSql(filter, edges);
  const analysisRows = await db.query<AnalysisCellRow[]>(analyses.sql, analyses.params);
  const vessels = vesselCellsSql(filter, edges.ctFfr, threshold);
  const vesselRows = await db.query<VesselCellRow[]>(vessels.sql, vessels.params);
  const deviceRows = await deviceErrorRows(db, filter);
  return assembleCells(db, analysisRows, vesselRows, deviceRows);
}

/**
 * Cells from counted rows: analysis rows, vessel rows and device-error rows of one window, possibly several rows per
 * cell (a window summed from day roll-ups and live edge days) — rows of the same cell add up. Site codes are looked
 * up once.
 */
export async function assembleCells(
  db: Queryable,
  analysisRows: readonly AnalysisCellRow[],
  vesselRows: readonly VesselCellRow[],
  deviceRows: readonly DeviceErrorRow[],
): Promise<CellAggregates[]> {
  type MutableCell = {
    -readonly [K in keyof CellAggregates]: CellAggregates[K];
  } & { numeric: Partial<Record<NumericFeature, number[]>> };
  const cells = new Map<string, MutableCell>();
  const cellOf = (siteId: string, scannerVendor: string, modelVersion: string): MutableCell => {
    const key = cellKey(siteId, scannerVendor, modelVersion);
    let cell = cells.get(key);
    if (!cell) {
      cell = { ...emptyCell(siteId, siteId, scannerVendor, modelVersion), sex: { F: 0, M: 0, X: 0 } };
      cells.set(key, cell);
    }
    return cell;
  };
  const addCounts = (cell: MutableCell, feature: NumericFeature, counts: readonly number[]): void => {
    const target = (cell.numeric[feature] ??= new Array<number>(counts.length).fill(0));
    counts.forEach((c, i) => (target[i] += c));
  };
  const analysedCells = new Set<string>();
  for (const row of analysisRows) {
    analysedCells.add(cellKey(row.site_id, row.scanner_vendor, row.model_version));
    const cell = cellOf(row.site_id, row.scanner_vendor, row.model_version);
    cell.analyses += row.analyses;
    cell.rejected += row.rejected;
    cell.failed += row.failed;
    cell.sex.F += row.sex_f;
    cell.sex.M += row.sex_m;
    cell.sex.X += row.sex_x;
    for (const feature of ANALYSIS_FEATURES) {
      const counts = row[`bins_${feature}`];
      if (counts) addCounts(cell, feature, counts);
    }
  }
  for (const row of vesselRows) {
    // Vessels exist only for analyses of the same window.
    if (!analysedCells.has(cellKey(row.site_id, row.scanner_vendor, row.model_version))) continue;
    const cell = cellOf(row.site_id, row.scanner_vendor, row.model_version);
    cell.vessels += row.vessels;
    cell.vesselsAtOrBelow += row.at_or_below;
    if (row.bins_ctFfr) addCounts(cell, 'ctFfr', row.bins_ctFfr);
  }
  for (const row of deviceRows) {
    // Errors of a device whose cell had no analysis in the window still count for its site's exposure-free tally.
    const cell = cellOf(row.site_id, row.scanner_vendor, row.model_version);
    cell.deviceErrorsByKind[row.kind] = (cell.deviceErrorsByKind[row.kind] ?? 0) + row.events;
  }
  if (cells.size) {
    const rows = await db.query<Array<{ id: string; site_code: string }>>(
      `SELECT id::text AS id, site_code FROM sites WHERE id = ANY($1::uuid[])`,
      [[...new Set([...cells.values()].map((c) => c.siteId))]],
    );
    const codes = new Map(rows.map((r) => [r.id, r.site_code]));
    for (const cell of cells.values()) cell.siteCode = codes.get(cell.siteId) ?? cell.siteId;
  }
  return [...cells.values()];
}

/**
 * Reference-decile edges of every numeric feature over a window (type 7 quantiles: percentile_cont interpolates at
 * (n − 1)·p like R type 7 and numpy 'linear'), de-duplicated as quantileBinsSorted does.
 */
export async function windowQuantileEdges(
  db: Queryable,
  filter: WindowFilter,
  bins: number,
): Promise<Partial<Record<NumericFeature, number[]>>> {
  const probabilities = Array.from({ length: bins - 1 }, (_, i) => (i + 1) / bins);
  const params: unknown[] = [];
  const where = windowWhere('a', filter, params);
  params.push(probabilities);
  const p = params.length;
  const select = ANALYSIS_FEATURES.map(
    (f) =>
      `percentile_cont($${p}::float8[]) WITHIN GROUP (ORDER BY a.${NUMERIC_FEATURES[f].column}) AS "${f}"`,
  );
  const [row] = await db.query<Array<Record<string, number[] | null>>>(
    `SELECT ${select.join(', ')} FROM analyses a WHERE ${where}`,
    params,
  );
  const vesselParams: unknown[] = [];
  const vesselWhere = windowWhere('a', filter, vesselParams);
  vesselParams.push(probabilities);
  const [vessel] = await db.query<Array<Record<string, number[] | null>>>(
    `SELECT percentile_cont($${vesselParams.length}::float8[]) WITHIN GROUP (ORDER BY v.ct_ffr) AS "ctFfr"
       FROM analyses a JOIN analysis_vessels v ON v.analysis_event_id = a.event_id
      WHERE ${vesselWhere} AND a.status = 'completed'`,
    vesselParams,
  );
  const edges: Partial<Record<NumericFeature, number[]>> = {};
  for (const feature of NUMERIC_FEATURE_NAMES) {
    const quantiles = feature === 'ctFfr' ? vessel.ctFfr : row[feature];
    if (!quantiles) continue;
    const distinct: number[] = [];
    for (const q of quantiles)
      if (distinct.length === 0 || q > distinct[distinct.length - 1]) distinct.push(q);
    edges[feature] = distinct;
  }
  return edges;
}

function emptyAggregates(): {
  analyses: number;
  rejected: number;
  failed: number;
  numeric: Record<string, number[]>;
  sex: Record<string, number>;
  scannerVendor: Record<string, number>;
  vessels: number;
  vesselsAtOrBelow: number;
  deviceErrorsByKind: Record<string, number>;
} {
  return {
    analyses: 0,
    rejected: 0,
    failed: 0,
    numeric: {},
    sex: {},
    scannerVendor: {},
    vessels: 0,
    vesselsAtOrBelow: 0,
    deviceErrorsByKind: {},
  };
}

/** The key of the segment of `kind` that a cell (site × scanner vendor × model version) belongs to. */
function segmentKeyOf(
  cell: { readonly siteCode: string; readonly scannerVendor: string; readonly modelVersion: string },
  kind: SegmentKind,
): string {
  if (kind === 'overall') return '*';
  if (kind === 'site') return cell.siteCode;
  return kind === 'scannerVendor' ? cell.scannerVendor : cell.modelVersion;
}

/** Sums cells into per-segment aggregates (every segment kind from one pass of cells). */
export function segmentAggregates(
  cells: readonly CellAggregates[],
  kinds: readonly SegmentKind[],
): Map<string, { segment: SegmentRef; aggregates: SegmentAggregates }> {
  const out = new Map<string, { segment: SegmentRef; aggregates: ReturnType<typeof emptyAggregates> }>();
  for (const cell of cells) {
    for (const kind of kinds) {
      const key = segmentKeyOf(cell, kind);
      const id = `${kind}:${key}`;
      let entry = out.get(id);
      if (!entry) {
        entry = { segment: { kind, key }, aggregates: emptyAggregates() };
        out.set(id, entry);
      }
      const a = entry.aggregates;
      a.analyses += cell.analyses;
      a.rejected += cell.rejected;
      a.failed += cell.failed;
      a.vessels += cell.vessels;
      a.vesselsAtOrBelow += cell.vesselsAtOrBelow;
      for (const [k, v] of Object.entries(cell.sex)) if (v > 0) a.sex[k] = (a.sex[k] ?? 0) + v;
      if (cell.analyses > 0)
        a.scannerVendor[cell.scannerVendor] = (a.scannerVendor[cell.scannerVendor] ?? 0) + cell.analyses;
      for (const [k, v] of Object.entries(cell.deviceErrorsByKind))
        a.deviceErrorsByKind[k] = (a.deviceErrorsByKind[k] ?? 0) + v;
      for (const [feature, counts] of Object.entries(cell.numeric)) {
        const target = (a.numeric[feature] ??= new Array<number>(counts.length).fill(0));
        counts.forEach((c, i) => (target[i] += c));
      }
    }
  }
  return out;
}

/**
 * A period reference's own quantities per segment (every segment but overall), from its cells and each segment's
 * residual baseline: what reference-windows.service.ts freezes and the drift scenarios rebuild from simulated rows.
 */
export function segmentReferences(
  cells: readonly CellAggregates[],
  kinds: readonly SegmentKind[],
  residualsOf: (segmentId: string) => ResidualBaseline | null,
): Record<string, SegmentReference> {
  const segments: Record<string, SegmentReference> = {};
  for (const [id, { aggregates: a }] of segmentAggregates(cells, kinds)) {
    if (id === 'overall:*') continue;
    segments[id] = {
      analyses: a.analyses,
      rejected: a.rejected,
      failed: a.failed,
      numericCounts: a.numeric,
      sex: a.sex,
      scannerVendor: a.scannerVendor,
      vessels: a.vessels,
      vesselsAtOrBelow: a.vesselsAtOrBelow,
      deviceErrorsByKind: a.deviceErrorsByKind,
      residuals: residualsOf(id),
    };
  }
  return segments;
}

/** Sums cells into one total (a reference period is one segment). */
export function totalOfCells(cells: readonly CellAggregates[], edges: Edges) {
  const numeric: Partial<Record<NumericFeature, NumericReference>> = {};
  for (const feature of NUMERIC_FEATURE_NAMES) {
    const e = edges[feature];
    if (!e) continue;
    const counts = new Array<number>(e.length + 1).fill(0);
    for (const cell of cells) cell.numeric[feature]?.forEach((c, i) => (counts[i] += c));
    const n = counts.reduce((s, c) => s + c, 0);
    if (n > 0) numeric[feature] = { n, edges: [...e], counts };
  }
  const add = (pick: (c: CellAggregates) => number) => cells.reduce((s, c) => s + pick(c), 0);
  const sex: Record<string, number> = {};
  const vendor: Record<string, number> = {};
  const errors: Record<string, number> = {};
  for (const c of cells) {
    for (const [k, v] of Object.entries(c.sex)) if (v > 0) sex[k] = (sex[k] ?? 0) + v;
    if (c.analyses > 0) vendor[c.scannerVendor] = (vendor[c.scannerVendor] ?? 0) + c.analyses;
    for (const [k, v] of Object.entries(c.deviceErrorsByKind)) errors[k] = (errors[k] ?? 0) + v;
  }
  return {
    analyses: add((c) => c.analyses),
    rejected: add((c) => c.rejected),
    failed: add((c) => c.failed),
    vessels: add((c) => c.vessels),
    vesselsAtOrBelow: add((c) => c.vesselsAtOrBelow),
    numeric,
    sex,
    scannerVendor: vendor,
    deviceErrorsByKind: errors,
  };
}

/** Completed vessels of one day and cell, counted on the reference's CT-FFR bins. */
export interface DailyCtFfrCell {
  readonly day: string;
  readonly siteCode: string;
  readonly scannerVendor: string;
  readonly modelVersion: string;
  readonly counts: readonly number[];
}

/**
 * The CT-FFR location chart's observations in SQL: completed vessels per UTC day of the analysis and cell (site ×
 * vendor × version), counted on the reference's frozen CT-FFR edges (right-closed, as windowCells) — O(days × cells)
 * rows, never the vessels themselves. Ordered by day.
 */
export async function dailyCtFfrCells(
  db: Queryable,
  filter: WindowFilter,
  ctFfrEdges: readonly number[],
): Promise<DailyCtFfrCell[]> {
  const params: unknown[] = [];
  const where = windowWhere('a', filter, params);
  params.push(negatedReversed(ctFfrEdges));
  const bucket = binSql('v.ct_ffr', params.length, ctFfrEdges.length);
  const rows = await db.query<
    Array<{ day: string; site_code: string; scanner_vendor: string; model_version: string; counts: number[] }>
  >(
    `SELECT x.day, s.site_code, x.scanner_vendor, x.model_version, x.counts
       FROM (SELECT to_char((a.occurred_at AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD') AS day, a.site_id,
                    coalesce(a.scanner_vendor, 'unknown') AS scanner_vendor, a.model_version,
                    ${countsArraySql('b', ctFfrEdges.length + 1)} AS counts
               FROM (SELECT a.occurred_at, a.site_id, a.scanner_vendor, a.model_version, ${bucket} AS b
                       FROM analyses a
                       JOIN analysis_vessels v ON v.analysis_event_id = a.event_id
                      WHERE ${where} AND a.status = 'completed' AND v.ct_ffr IS NOT NULL
                     OFFSET 0) a
              GROUP BY 1, 2, 3, 4) x
       JOIN sites s ON s.id = x.site_id
      ORDER BY x.day, s.site_code, x.scanner_vendor, x.model_version`,
    params,
  );
  return rows.map((r) => ({
    day: r.day,
    siteCode: r.site_code,
    scannerVendor: r.scanner_vendor,
    modelVersion: r.model_version,
    counts: r.counts,
  }));
}

/**
 * Daily cells summed per segment (every kind from one pass), each segment's days in order: the location chart's
 * input, shared by the drift service and the drift scenarios. `from(segment)`, when given, drops a segment's days
 * before its reference's monitoring start.
 */
export function dailySegmentCounts(
  cells: readonly DailyCtFfrCell[],
  kinds: readonly SegmentKind[],
  from?: (segment: SegmentRef) => string | null,
): Map<string, { segment: SegmentRef; days: DailyBinCounts[]; vessels: number }> {
  const out = new Map<
    string,
    { segment: SegmentRef; days: { day: string; counts: number[] }[]; vessels: number }
  >();
  const starts = new Map<string, string | null>();
  for (const cell of cells) {
    for (const kind of kinds) {
      const key = segmentKeyOf(cell, kind);
      const id = `${kind}:${key}`;
      let entry = out.get(id);
      if (!entry) {
        const segment: SegmentRef = { kind, key };
        starts.set(id, from ? from(segment) : null);
        entry = { segment, days: [], vessels: 0 };
        out.set(id, entry);
      }
      const start = starts.get(id);
      if (start === undefined || (start !== null && cell.day < start)) continue;
      let last = entry.days[entry.days.length - 1];
      if (!last || last.day !== cell.day) {
        if (last && last.day > cell.day) throw new RangeError('daily cells must be ordered by day');
        last = { day: cell.day, counts: new Array<number>(cell.counts.length).fill(0) };
        entry.days.push(last);
      }
      const target = last.counts;
      cell.counts.forEach((c, i) => (target[i] += c));
      for (const c of cell.counts) entry.vessels += c;
    }
  }
  for (const [id, entry] of out) if (entry.days.length === 0) out.delete(id);
  return out;
}

/** A labelled vessel with its segment keys, as the charts read them. */
export interface LabelledVesselRow extends LabelledVessel {
  readonly siteCode: string;
  readonly scannerVendor: string;
  readonly modelVersion: string;
}

/**
 * What the data looked like when an evaluation ran (its high-water mark): analyses and labels stored so far for the
 * product. A later evaluation whose label mark differs knows late labels arrived.
 */
export interface HighWaterMark {
  readonly analysesReceivedThrough: string | null;
  readonly analyses: number;
  readonly labelledVessels: number;
  /** Sum of the labelled pairs' invasive FFR: changes when a label is replaced, not only when one is added. */
  readonly labelChecksum: number;
  readonly labelledThroughDay: string | null;
}

/**
 * `rolledUp`: the analyses' part read from a current drift roll-up (drift-rollups.ts rolledUpAnalysisMark), which
 * covers every analysis of the product — counting the base table took 2 s at 1M analyses.
 */
export async function highWaterMark(
  db: Queryable,
  manufacturerId: string,
  productId: string,
  rolledUp?: { analyses: number; receivedThrough: string | null },
): Promise<HighWaterMark> {
  let analyses = rolledUp;
  if (!analyses) {
    const [row] = await db.query<Array<{ received: Date | null; n: string }>>(
      `SELECT max(received_at) AS received, count(*)::bigint::text AS n FROM analyses
        WHERE manufacturer_id = $1 AND product_id = $2`,
      [manufacturerId, productId],
    );
    analyses = {
      analyses: Number(row.n),
      receivedThrough: row.received ? new Date(row.received).toISOString() : null,
    };
  }
  const labels = await labelMark(db, productId);
  return { analysesReceivedThrough: analyses.receivedThrough, analyses: analyses.analyses, ...labels };
}

export async function labelMark(
  db: Queryable,
  productId: string,
): Promise<Pick<HighWaterMark, 'labelledVessels' | 'labelChecksum' | 'labelledThroughDay'>> {
  const [row] = await db.query<Array<{ n: number; checksum: number; through: string | null }>>(
    `SELECT count(*)::int AS n, coalesce(sum(invasive_ffr), 0)::float8 AS checksum,
            to_char(max(day), 'YYYY-MM-DD') AS through
       FROM performance_linked_vessels WHERE product_id = $1`,
    [productId],
  );
  return {
    labelledVessels: row.n,
    labelChecksum: Math.round(row.checksum * 1e6) / 1e6,
    labelledThroughDay: row.through,
  };
}
