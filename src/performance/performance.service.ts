import { BadRequestException, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Pool, PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { Principal } from '../auth/roles';
import { Product } from '../registry/registry.entities';
import { RegistryService } from '../registry/registry.service';
import { PairCell } from '../stats/pair-histogram';
import { LinkedVessel } from '../stats/proportions';
import { AnalysisWithOptionalReference } from '../stats/verification-bias';
import { ClaimComparison, compareWithClaims } from './claims';
import { Detail, GroupBy, PerformanceQueryDto } from './performance.dto';
import { PerformanceFigures, performanceFigures } from './performance-report';
import { ROLLUP_SUM_COLUMNS, SLICE_LINKED_VESSELS_SQL, SLICE_ROLLUP_ROWS_SQL } from './performance-rollups';
import { RollupSums, summaryFigures } from './performance-summary';
import {
  VerificationBiasFigures,
  verificationBiasFigures,
  verificationBiasFromCounts,
} from './verification-bias-report';
import { PERFORMANCE_RULES } from './performance-rules';

/** SQL of each grouping's key, over rows carrying site_id (joined to sites s), model_version, scanner_vendor, vessel, day. */
const GROUP_KEY_SQL: Record<GroupBy | 'overall', string> = {
  overall: `'overall'`,
  site: 's.site_code',
  modelVersion: 'r.model_version',
  scannerVendor: 'r.scanner_vendor',
  vessel: 'r.vessel',
  month: `to_char(r.day, 'YYYY-MM')`,
  quarter: `to_char(r.day, 'YYYY-"Q"Q')`,
};

export interface PerformanceResponse {
  productId: string;
  period: { from: string | null; to: string | null };
  threshold: number;
  /** Which path answered: `auto` resolves to one of these. */
  detail: Exclude<Detail, 'auto'>;
  linkage: { linkedVessels: number; rule: string };
  overall: PerformanceFigures;
  verificationBias: VerificationBiasFigures;
  claims: ClaimComparison[];
  /** detail=summary: how the roll-ups were read. */
  rollups?: { slicesComputedAtRequest: number; note: string };
  groupBy?: GroupBy;
  groups?: Array<
    PerformanceFigures & {
      key: string;
      verificationBias: VerificationBiasFigures;
      claims?: ClaimComparison[];
    }
  >;
}

const LINKAGE_RULE =
  'invasive FFR linked to the latest completed analysis of the same site and patient within the linkage window, same vessel (and segment when both give one)';

interface GroupFigures {
  key: string;
  figures: PerformanceFigures;
  verificationBias: VerificationBiasFigures;
}

/**
 * Real-world accuracy of a product against invasive FFR, from the linked vessels (src/outcomes).
 * The figures come from src/stats (pure, oracle-checked); this service selects the tenant's data and
 * groups it — vessel by vessel (`detail=full`) or from the roll-ups (`detail=summary`,
 * performance-rollups.ts), which give the same figures where both have them.
 */
@Injectable()
export class PerformanceService {
  private readonly pool: Pool;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly registry: RegistryService,
  ) {
    this.pool = (dataSource.driver as PostgresDriver).master as Pool;
  }

  async performance(principal: Principal, query: PerformanceQueryDto): Promise<PerformanceResponse> {
    const product = await this.registry.requireProduct(principal, query.productId);
    const threshold = query.threshold ?? product.ffrThreshold ?? PERFORMANCE_RULES.defaultThreshold;
    const margin = query.margin ?? PERFORMANCE_RULES.defaultNonInferiorityMargin;
    const detail = await this.resolveDetail(product, query, threshold);
    const computed =
      detail === 'summary'
        ? await this.fromRollups(product, query, threshold)
        : await this.fromVessels(product, query, threshold);
    const response: PerformanceResponse = {
      productId: product.id,
      period: { from: query.from ?? null, to: query.to ?? null },
      threshold,
      detail,
      linkage: { linkedVessels: computed.overall.figures.vessels, rule: LINKAGE_RULE },
      overall: computed.overall.figures,
      verificationBias: computed.overall.verificationBias,
      claims: compareWithClaims(computed.overall.figures, product.premarketClaims, margin),
      ...(computed.rollups ? { rollups: computed.rollups } : {}),
    };
    if (query.groupBy) {
      response.groupBy = query.groupBy;
      response.groups = computed.groups.map(({ key, figures, verificationBias }) => ({
        key,
        ...figures,
        verificationBias,
        ...(query.groupBy === 'modelVersion'
          ? { claims: compareWithClaims(figures, product.premarketClaims, margin) }
          : {}),
      }));
    }
    return response;
  }

  /**
   * `auto`: every vessel while that is cheap, the roll-ups when the product has more linked vessels than
   * PERFORMANCE_RULES.fullDetailMaxLinkedVessels and the request fits them (the product's threshold, whole
   * days). The roll-ups' own count decides (dirty days may lag it by seconds, which only moves the switch).
   */
  private async resolveDetail(
    product: Product,
    query: PerformanceQueryDto,
    threshold: number,
  ): Promise<Exclude<Detail, 'auto'>> {
    const requested = query.detail ?? 'auto';
    if (requested !== 'auto') return requested;
    const fitsRollups =
      threshold === product.ffrThreshold &&
      [query.from, query.to].every((value) => value === undefined || isWholeUtcDay(value));
    if (!fitsRollups) return 'full';
    const [{ linked }] = await this.dataSource.query<Array<{ linked: number }>>(
      `SELECT coalesce(sum(linked), 0)::float8 AS linked FROM performance_rollups
        WHERE product_id = $1 AND manufacturer_id = $2 AND vessel = '*'`,
      [product.id, product.manufacturerId],
    );
    return linked > PERFORMANCE_RULES.fullDetailMaxLinkedVessels ? 'summary' : 'full';
  }

  /** Every figure, vessel by vessel (the oracle-checked path). */
  private async fromVessels(
    product: Product,
    query: PerformanceQueryDto,
    threshold: number,
  ): Promise<{ overall: GroupFigures; groups: GroupFigures[]; rollups?: undefined }> {
    const keySql = GROUP_KEY_SQL[query.groupBy ?? 'overall'];
    const parameters = [product.manufacturerId, product.id, query.from ?? null, query.to ?? null];
    // One pair per CT-FFR vessel: when a vessel was wired twice, the first measurement after the CTA
    // counts (a later one may follow treatment decided on the first).
    const linked = await this.dataSource.query<
      Array<{ key: string; patient_id: string; ct_ffr: number; invasive_ffr: number }>
    >(
      `SELECT ${keySql} AS key, r.patient_id, r.ct_ffr, r.invasive_ffr FROM (
         SELECT DISTINCT ON (l.analysis_event_id, l.vessel_index)
                l.site_id, l.site_id::text || ':' || encode(l.patient_key, 'hex') AS patient_id, l.ct_ffr, l.invasive_ffr,
                a.model_version, coalesce(a.scanner_vendor, 'unknown') AS scanner_vendor, l.vessel,
                (a.occurred_at AT TIME ZONE 'UTC')::date AS day
           FROM ffr_links l
           JOIN analyses a ON a.event_id = l.analysis_event_id
          WHERE l.manufacturer_id = $1 AND l.status = 'linked' AND a.product_id = $2
            AND ($3::timestamptz IS NULL OR a.occurred_at >= $3) AND ($4::timestamptz IS NULL OR a.occurred_at < $4)
          ORDER BY l.analysis_event_id, l.vessel_index, l.measured_at, l.outcome_event_id) r
       JOIN sites s ON s.id = r.site_id`,
      parameters,
    );
    // Every analysed vessel, verified or not: the denominator of the partial-verification correction.
    const analysed = await this.dataSource.query<
      Array<{ key: string; patient_id: string; ct_ffr: number; invasive_ffr: number | null }>
    >(
      `SELECT ${keySql} AS key, r.patient_id, r.ct_ffr, r.invasive_ffr FROM (
         SELECT a.site_id, a.site_id::text || ':' || encode(a.patient_key, 'hex') AS patient_id, v.ct_ffr,
                first_link.invasive_ffr, a.model_version, coalesce(a.scanner_vendor, 'unknown') AS scanner_vendor,
                v.vessel, (a.occurred_at AT TIME ZONE 'UTC')::date AS day
           FROM analyses a
           JOIN analysis_vessels v ON v.analysis_event_id = a.event_id
           LEFT JOIN LATERAL (
             SELECT l.invasive_ffr FROM ffr_links l
              WHERE l.analysis_event_id = a.event_id AND l.vessel_index = v.vessel_index AND l.status = 'linked'
              ORDER BY l.measured_at, l.outcome_event_id LIMIT 1) first_link ON true
          WHERE a.manufacturer_id = $1 AND a.product_id = $2 AND a.status = 'completed'
            AND ($3::timestamptz IS NULL OR a.occurred_at >= $3) AND ($4::timestamptz IS NULL OR a.occurred_at < $4)) r
       JOIN sites s ON s.id = r.site_id`,
      parameters,
    );
    const linkedByKey = groupRows(linked, (row): LinkedVessel => ({
      patientId: row.patient_id,
      ctFfr: row.ct_ffr,
      invasiveFfr: row.invasive_ffr,
    }));
    const analysedByKey = groupRows(analysed, (row): AnalysisWithOptionalReference => ({
      patientId: row.patient_id,
      ctFfr: row.ct_ffr,
      invasiveFfr: row.invasive_ffr,
    }));
    const figuresOf = (key: string, vessels: LinkedVessel[], analyses: AnalysisWithOptionalReference[]) => ({
      key,
      figures: performanceFigures(vessels, threshold),
      verificationBias: verificationBiasFigures(analyses, threshold),
    });
    const keys = [...new Set([...linkedByKey.keys(), ...analysedByKey.keys()])].sort((a, b) =>
      a.localeCompare(b),
    );
    return {
      overall: figuresOf('overall', [...linkedByKey.values()].flat(), [...analysedByKey.values()].flat()),
      groups: query.groupBy
        ? keys.map((key) => figuresOf(key, linkedByKey.get(key) ?? [], analysedByKey.get(key) ?? []))
        : [],
    };
  }

  /**
   * The roll-up path: sums of performance_rollups and the (CT-FFR, FFR) histogram of
   * performance_linked_vessels, with slices still in the dirty log computed from the base tables in
   * the same snapshot — so the answer is as current as the full path's.
   */
  private async fromRollups(
    product: Product,
    query: PerformanceQueryDto,
    threshold: number,
  ): Promise<{ overall: GroupFigures; groups: GroupFigures[]; rollups: PerformanceResponse['rollups'] }> {
    if (threshold !== product.ffrThreshold) {
      throw new BadRequestException(
        `detail=summary is kept at the product's threshold ${product.ffrThreshold}; use detail=full for threshold ${threshold}`,
      );
    }
    const fromDay = wholeUtcDay(query.from, 'from') ?? '-infinity';
    const toDay = wholeUtcDay(query.to, 'to') ?? 'infinity';
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const dirty = await client.query<{ days: string[] | null }>(
        `SELECT array_agg(DISTINCT day::text) AS days FROM performance_rollup_dirty
          WHERE product_id = $1 AND day >= $2::date AND day < $3::date`,
        [product.id, fromDay, toDay],
      );
      const dirtyDays = dirty.rows[0].days ?? [];
      const parameters: RollupQueryParameters = [
        product.id,
        product.manufacturerId,
        dirtyDays,
        threshold,
        fromDay,
        toDay,
      ];
      const overallSums = await readSums(client, 'overall', parameters);
      // One histogram query: the overall cells are the groups' cells merged.
      const groupCells = await readCells(client, query.groupBy ?? 'overall', parameters);
      const overallCells = mergeCells([...groupCells.values()].flat());
      const groupSums = query.groupBy
        ? await readSums(client, query.groupBy, parameters)
        : new Map<string, RollupSums>();
      await client.query('COMMIT');
      const figuresOf = (key: string, cells: PairCell[], sums: RollupSums | undefined): GroupFigures => {
        const totals = sums ?? emptySums();
        return {
          key,
          figures: summaryFigures(cells, totals, threshold),
          verificationBias: verificationBiasFromCounts({
            testPositive: totals.analysed_positive,
            testNegative: totals.analysed_negative,
            verifiedTestPositiveDiseased: totals.tp,
            verifiedTestPositiveNonDiseased: totals.fp,
            verifiedTestNegativeDiseased: totals.fn,
            verifiedTestNegativeNonDiseased: totals.tn,
          }),
        };
      };
      const keys = [...new Set([...groupCells.keys(), ...groupSums.keys()])].sort((a, b) =>
        a.localeCompare(b),
      );
      return {
        overall: figuresOf('overall', overallCells, overallSums.get('overall')),
        groups: query.groupBy
          ? keys.map((key) => figuresOf(key, groupCells.get(key) ?? [], groupSums.get(key)))
          : [],
        rollups: {
          slicesComputedAtRequest: dirtyDays.length,
          note: 'days whose data changed since the last roll-up pass were computed from the base tables for this request',
        },
      };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }
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

function isWholeUtcDay(value: string): boolean {
  const instant = new Date(value);
  return !Number.isNaN(instant.getTime()) && instant.getTime() % 86_400_000 === 0;
}

/** The roll-ups are daily: summary periods are whole UTC days (`2026-03-01` or `2026-03-01T00:00:00Z`). */
function wholeUtcDay(value: string | undefined, name: string): string | null {
  if (value === undefined) return null;
  const instant = new Date(value);
  if (!isWholeUtcDay(value)) {
    throw new BadRequestException(
      `detail=summary needs ${name} at a UTC day boundary (YYYY-MM-DD); use detail=full otherwise`,
    );
  }
  return instant.toISOString().slice(0, 10);
}

const SUM_SELECT = ROLLUP_SUM_COLUMNS.map((column) => `sum(r.${column})::float8 AS ${column}`).join(', ');
const ROW_COLUMNS = [
  'day',
  'site_id',
  'model_version',
  'scanner_vendor',
  'vessel',
  ...ROLLUP_SUM_COLUMNS,
].join(', ');

/** Roll-up sums per group key: stored rows of clean days plus the dirty days computed now. */
async function readSums(
  client: PoolClient,
  groupBy: GroupBy | 'overall',
  parameters: RollupQueryParameters,
): Promise<Map<string, RollupSums>> {
  // Per-vessel rows when grouping by vessel (patients as clusters within the vessel), else the '*' rows.
  const vesselRows = groupBy === 'vessel' ? `r.vessel <> '*'` : `r.vessel = '*'`;
  const live =
    parameters[2].length > 0 ? `UNION ALL SELECT ${ROW_COLUMNS} FROM (${SLICE_ROLLUP_ROWS_SQL}) live` : '';
  const result = await client.query<{ key: string } & RollupSums>(
    `SELECT ${GROUP_KEY_SQL[groupBy]} AS key, ${SUM_SELECT}
       FROM (SELECT ${ROW_COLUMNS} FROM performance_rollups
              WHERE product_id = $1 AND manufacturer_id = $2 AND day >= $5::date AND day < $6::date
                AND NOT (day = ANY($3::date[]))
             ${live}) r
       ${siteJoin(groupBy)}
      WHERE ${vesselRows} AND $4::real IS NOT NULL
      GROUP BY 1`,
    parameters,
  );
  return new Map(result.rows.map(({ key, ...sums }) => [key, sums]));
}

/** The exact (CT-FFR, FFR) histogram per group key. */
async function readCells(
  client: PoolClient,
  groupBy: GroupBy | 'overall',
  parameters: RollupQueryParameters,
): Promise<Map<string, PairCell[]>> {
  const columns = 'day, site_id, model_version, scanner_vendor, vessel, ct_ffr, invasive_ffr';
  const live =
    parameters[2].length > 0 ? `UNION ALL SELECT ${columns} FROM (${SLICE_LINKED_VESSELS_SQL}) live` : '';
  const result = await client.query<{ key: string; ct_ffr: number; invasive_ffr: number; vessels: number }>(
    `SELECT ${GROUP_KEY_SQL[groupBy]} AS key, r.ct_ffr, r.invasive_ffr, count(*)::int AS vessels
       FROM (SELECT ${columns} FROM performance_linked_vessels
              WHERE product_id = $1 AND manufacturer_id = $2 AND day >= $5::date AND day < $6::date
                AND NOT (day = ANY($3::date[]))
             ${live}) r
       ${siteJoin(groupBy)}
      WHERE $4::real IS NOT NULL
      GROUP BY 1, 2, 3`,
    parameters,
  );
  const cells = new Map<string, PairCell[]>();
  for (const row of result.rows) {
    const members = cells.get(row.key) ?? [];
    members.push({ ctFfr: row.ct_ffr, invasiveFfr: row.invasive_ffr, vessels: row.vessels });
    cells.set(row.key, members);
  }
  return cells;
}

/** Sites are joined only to name them: every other key is on the rows themselves. */
const siteJoin = (groupBy: GroupBy | 'overall'): string =>
  groupBy === 'site' ? 'JOIN sites s ON s.id = r.site_id' : '';

/** $1 product, $2 manufacturer, $3 dirty days (computed from the base tables), $4 threshold, $5–$6 period. */
type RollupQueryParameters = [string, string, string[], number, string, string];

function mergeCells(cells: readonly PairCell[]): PairCell[] {
  const merged = new Map<string, PairCell>();
  for (const cell of cells) {
    const key = `${cell.ctFfr}|${cell.invasiveFfr}`;
    const existing = merged.get(key);
    merged.set(key, { ...cell, vessels: (existing?.vessels ?? 0) + cell.vessels });
  }
  return [...merged.values()];
}

function emptySums(): RollupSums {
  return Object.fromEntries(ROLLUP_SUM_COLUMNS.map((column) => [column, 0]));
}
