import { ClientBase } from 'pg';
import { LinkedVessel } from '../stats/proportions';
import { AnalysisWithOptionalReference } from '../stats/verification-bias';
import { PairCell } from '../stats/pair-histogram';
import { GroupBy } from './performance.dto';
import { pairCellsOf } from './performance-charts';
import { PerformanceFigures, performanceFigures } from './performance-report';
import { VerificationBiasFigures, verificationBiasFigures } from './verification-bias-report';

/**
 * `detail=full`: every figure computed vessel by vessel from the base tables (the oracle-checked path). It runs
 * in a worker thread (full-detail.pool.ts), reading with its own connection, so that neither parsing hundreds of
 * thousands of rows nor DeLong / cluster variances over them ever holds the event loop that serves requests and
 * ingests events (issue 8, availability).
 */

/** SQL of each grouping's key, over rows carrying site_id (joined to sites s), model_version, scanner_vendor, vessel, day. */
export const GROUP_KEY_SQL: Record<GroupBy | 'overall', string> = {
  overall: `'overall'`,
  site: 's.site_code',
  modelVersion: 'r.model_version',
  scannerVendor: 'r.scanner_vendor',
  vessel: 'r.vessel',
  month: `to_char(r.day, 'YYYY-MM')`,
  quarter: `to_char(r.day, 'YYYY-"Q"Q')`,
};

export interface FullDetailRequest {
  /** The tenant the request runs as (row-level security): the product's manufacturer. */
  manufacturerId: string;
  productId: string;
  from: string | null;
  to: string | null;
  threshold: number;
  groupBy: GroupBy | null;
  /** Refuse above this many analysed vessels (FW_PERFORMANCE_FULL_MAX_VESSELS): the roll-ups answer those. */
  maxAnalysedVessels: number;
}

export interface GroupFigures {
  key: string;
  figures: PerformanceFigures;
  verificationBias: VerificationBiasFigures;
  /** The linked vessels as a (CT-FFR, FFR) histogram: the response's `charts` (performance-charts.ts). */
  pairCells?: PairCell[];
}

export type FullDetailResult =
  | { kind: 'figures'; overall: GroupFigures; groups: GroupFigures[] }
  | { kind: 'too_many_vessels'; limit: number };

/** Reads the request's vessels in one snapshot (the caller's transaction) and computes every figure. */
export async function computeFullDetail(
  client: ClientBase,
  request: FullDetailRequest,
): Promise<FullDetailResult> {
  const keySql = GROUP_KEY_SQL[request.groupBy ?? 'overall'];
  const parameters = [request.manufacturerId, request.productId, request.from, request.to];
  // Rows in a fixed order (analysis, vessel): the seeded patient bootstrap resamples what it is given in order, so the
  // same data must give the same figures — byte-identical reports — whatever plan the database chooses.
  // Every analysed vessel, verified or not (the denominator of the partial-verification correction), read first and
  // capped: a request over more vessels than the limit is refused before its linked vessels are read.
  const analysed = await client.query<{
    key: string;
    patient_id: string;
    ct_ffr: number;
    invasive_ffr: number | null;
  }>(
    `SELECT ${keySql} AS key, r.patient_id, r.ct_ffr, r.invasive_ffr FROM (
       SELECT a.event_id, v.vessel_index,
              a.site_id, a.site_id::text || ':' || encode(a.patient_key, 'hex') AS patient_id, v.ct_ffr,
              first_link.invasive_ffr, a.model_version, coalesce(a.scanner_vendor, 'unknown') AS scanner_vendor,
              v.vessel, (a.occurred_at AT TIME ZONE 'UTC')::date AS day
         FROM analyses a
         -- With the partition key (docs/storage/partitioning.md): each vessel is read from its analysis's month only.
         JOIN analysis_vessels v ON v.analysis_event_id = a.event_id AND v.analysis_occurred_at = a.occurred_at
         LEFT JOIN LATERAL (
           SELECT l.invasive_ffr FROM ffr_links l
            WHERE l.analysis_event_id = a.event_id AND l.vessel_index = v.vessel_index AND l.status = 'linked'
            ORDER BY l.measured_at, l.outcome_event_id LIMIT 1) first_link ON true
        WHERE a.manufacturer_id = $1 AND a.product_id = $2 AND a.status = 'completed'
          AND ($3::timestamptz IS NULL OR a.occurred_at >= $3) AND ($4::timestamptz IS NULL OR a.occurred_at < $4)
          -- The same bounds on the vessels' partition key: without them the planner hash-joined every vessel partition
          -- (one week at 10M analyses: 20M vessels scanned, past the statement timeout).
          AND ($3::timestamptz IS NULL OR v.analysis_occurred_at >= $3)
          AND ($4::timestamptz IS NULL OR v.analysis_occurred_at < $4)
        LIMIT ${request.maxAnalysedVessels + 1}) r
     JOIN sites s ON s.id = r.site_id
     ORDER BY r.event_id, r.vessel_index`,
    parameters,
  );
  if (analysed.rows.length > request.maxAnalysedVessels) {
    return { kind: 'too_many_vessels', limit: request.maxAnalysedVessels };
  }
  // One pair per CT-FFR vessel: when a vessel was wired twice, the first measurement after the CTA counts (a later
  // one may follow treatment decided on the first).
  const linked = await client.query<{
    key: string;
    patient_id: string;
    ct_ffr: number;
    invasive_ffr: number;
  }>(
    `SELECT ${keySql} AS key, r.patient_id, r.ct_ffr, r.invasive_ffr FROM (
       SELECT DISTINCT ON (l.analysis_event_id, l.vessel_index)
              l.analysis_event_id, l.vessel_index, l.site_id, l.site_id::text || ':' || encode(l.patient_key, 'hex') AS patient_id, l.ct_ffr, l.invasive_ffr,
              a.model_version, coalesce(a.scanner_vendor, 'unknown') AS scanner_vendor, l.vessel,
              (a.occurred_at AT TIME ZONE 'UTC')::date AS day
         FROM ffr_links l
         JOIN analyses a ON a.event_id = l.analysis_event_id AND a.occurred_at = l.analysis_occurred_at
        WHERE l.manufacturer_id = $1 AND l.status = 'linked' AND a.product_id = $2
          AND ($3::timestamptz IS NULL OR l.analysis_occurred_at >= $3) AND ($4::timestamptz IS NULL OR l.analysis_occurred_at < $4)
          AND ($3::timestamptz IS NULL OR a.occurred_at >= $3) AND ($4::timestamptz IS NULL OR a.occurred_at < $4)
        ORDER BY l.analysis_event_id, l.vessel_index, l.measured_at, l.outcome_event_id) r
     JOIN sites s ON s.id = r.site_id
     ORDER BY r.analysis_event_id, r.vessel_index`,
    parameters,
  );
  const linkedByKey = groupRows(linked.rows, (row): LinkedVessel => ({
    patientId: row.patient_id,
    ctFfr: row.ct_ffr,
    invasiveFfr: row.invasive_ffr,
  }));
  const analysedByKey = groupRows(analysed.rows, (row): AnalysisWithOptionalReference => ({
    patientId: row.patient_id,
    ctFfr: row.ct_ffr,
    invasiveFfr: row.invasive_ffr,
  }));
  const figuresOf = (
    key: string,
    vessels: LinkedVessel[],
    analyses: AnalysisWithOptionalReference[],
  ): GroupFigures => ({
    key,
    figures: performanceFigures(vessels, request.threshold),
    verificationBias: verificationBiasFigures(analyses, request.threshold),
    pairCells: pairCellsOf(vessels),
  });
  const keys = [...new Set([...linkedByKey.keys(), ...analysedByKey.keys()])].sort((a, b) =>
    a.localeCompare(b),
  );
  return {
    kind: 'figures',
    overall: figuresOf('overall', [...linkedByKey.values()].flat(), [...analysedByKey.values()].flat()),
    groups: request.groupBy
      ? keys.map((key) => figuresOf(key, linkedByKey.get(key) ?? [], analysedByKey.get(key) ?? []))
      : [],
  };
}

function groupRows<Row extends { key: string }, Item>(
  rows: readonly Row[],
  map: (row: Row) => Item,
): Map<string, Item[]> {
  const groups = new Map<string, Item[]>();
  for (const row of rows) {
    const members = groups.get(row.key) ?? [];
    members.push(map(row));
    groups.set(row.key, members);
  }
  return groups;
}
