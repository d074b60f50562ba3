import { BadRequestException, Inject, Injectable, UnprocessableEntityException } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Pool, PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { Principal } from '../auth/roles';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { Product } from '../registry/registry.entities';
import { RegistryService } from '../registry/registry.service';
import { PairCell } from '../stats/pair-histogram';
import { ClaimComparison, compareWithClaims } from './claims';
import { GROUP_KEY_SQL, GroupFigures } from './full-detail';
import { FullDetailPool } from './full-detail.pool';
import { Detail, GroupBy, PerformanceQueryDto } from './performance.dto';
import { PerformanceFigures } from './performance-report';
import { chartsBlock, PerformanceChartsBlock } from './performance-charts';
import { CellReadPlan, planCellRead, readStoredCells, storedMonths } from './performance-pair-cells';
import { ROLLUP_SUM_COLUMNS, SLICE_ROWS_AND_PAIRS_SQL, sliceParameters } from './performance-rollups';
import { RollupSums, summaryFigures } from './performance-summary';
import { VerificationBiasFigures, verificationBiasFromCounts } from './verification-bias-report';
import { PERFORMANCE_RULES } from './performance-rules';

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
  /** ROC curve and Bland–Altman density of `overall` and each group, beside them (performance-charts.ts says why). */
  charts?: PerformanceChartsBlock;
  /** detail=summary: how the roll-ups were read. */
  rollups?: { slicesComputedAtRequest: number; daysFromLastPass: string[]; note: string };
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
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly registry: RegistryService,
    private readonly fullDetail: FullDetailPool,
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
      charts: chartsBlock(
        computed.overall,
        query.groupBy ? computed.groups : null,
        threshold,
        this.config.FW_EVIDENCE_MIN_CELL,
      ),
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
   * PERFORMANCE_RULES.fullDetailMaxLinkedVessels, or more analysed vessels than detail=full may read
   * (FW_PERFORMANCE_FULL_MAX_VESSELS), and the request fits them (the product's threshold, whole
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
    const [{ linked, analysed }] = await this.dataSource.query<Array<{ linked: number; analysed: number }>>(
      `SELECT coalesce(sum(linked), 0)::float8 AS linked,
              coalesce(sum(analysed_positive + analysed_negative), 0)::float8 AS analysed
         FROM performance_rollups
        WHERE product_id = $1 AND manufacturer_id = $2 AND vessel = '*'`,
      [product.id, product.manufacturerId],
    );
    const tooManyForFull =
      linked > PERFORMANCE_RULES.fullDetailMaxLinkedVessels ||
      analysed > this.config.FW_PERFORMANCE_FULL_MAX_VESSELS;
    return tooManyForFull ? 'summary' : 'full';
  }

  /** Every figure, vessel by vessel (the oracle-checked path), computed in a worker thread (full-detail.ts). */
  private async fromVessels(
    product: Product,
    query: PerformanceQueryDto,
    threshold: number,
  ): Promise<{ overall: GroupFigures; groups: GroupFigures[]; rollups?: undefined }> {
    const result = await this.fullDetail.run({
      manufacturerId: product.manufacturerId,
      productId: product.id,
      from: query.from ?? null,
      to: query.to ?? null,
      threshold,
      groupBy: query.groupBy ?? null,
      maxAnalysedVessels: this.config.FW_PERFORMANCE_FULL_MAX_VESSELS,
    });
    if (result.kind === 'too_many_vessels') {
      throw new UnprocessableEntityException(
        `detail=full reads at most ${result.limit} analysed vessels (FW_PERFORMANCE_FULL_MAX_VESSELS) and this request ` +
          `covers more: use detail=summary (the same figures from the roll-ups, for whole UTC days at the product's ` +
          `threshold) or a shorter period`,
      );
    }
    return { overall: result.overall, groups: result.groups };
  }

  /**
   * Changed days read as of their last roll-up pass instead of computed now: recomputing a day per request is O(the
   * day), and bench:soak measured summary requests timing out when every batch re-dirtied some 70 days at once. The
   * changed days computed now hold at most FW_PERFORMANCE_LIVE_MAX_VESSELS analysed vessels together (as of their last
   * pass); beyond that the busiest are read from that pass, like clean days. The worker writes a pass's day rows, month
   * and year sums and pair cells in one transaction, so such a day is whole, only older. A day never rolled up has no
   * last pass to serve and is always computed.
   */
  private async daysFromLastPass(
    client: PoolClient,
    product: Product,
    changedDays: string[],
  ): Promise<string[]> {
    if (changedDays.length === 0) return [];
    const lastPass = await client.query<{ day: string; vessels: number }>(
      `SELECT day::text AS day, sum(analysed_positive + analysed_negative)::float8 AS vessels FROM performance_rollups
        WHERE product_id = $1 AND manufacturer_id = $2 AND day = ANY($3::date[]) AND vessel = '*'
        GROUP BY day ORDER BY vessels DESC, day`,
      [product.id, product.manufacturerId, changedDays],
    );
    let live = lastPass.rows.reduce((total, row) => total + row.vessels, 0);
    const served: string[] = [];
    for (const row of lastPass.rows) {
      if (live <= this.config.FW_PERFORMANCE_LIVE_MAX_VESSELS) break;
      served.push(row.day);
      live -= row.vessels;
    }
    return served.sort();
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
      // Every query here reads little (cells, period sums, a few days); JIT compilation is pure cost for it. A dirty
      // day's base-table pass was estimated above jit_optimize_above_cost at 10M analyses and spent 4.7 of its 6.7 s
      // compiling (EXPLAIN ANALYZE, bench:performance).
      await client.query('SET LOCAL jit = off');
      const dirty = await client.query<{ days: string[] | null }>(
        `SELECT array_agg(DISTINCT day::text) AS days FROM performance_rollup_dirty
          WHERE product_id = $1 AND day >= $2::date AND day < $3::date`,
        [product.id, fromDay, toDay],
      );
      const changedDays = dirty.rows[0].days ?? [];
      const daysFromLastPass = await this.daysFromLastPass(client, product, changedDays);
      const dirtyDays = changedDays.filter((day) => !daysFromLastPass.includes(day));
      // The dirty days computed from the base tables once, for the sums and the cells alike.
      const live = await computeDirtyDays(client, product, dirtyDays, threshold);
      const parameters: RollupQueryParameters = [
        product.id,
        product.manufacturerId,
        dirtyDays,
        live,
        fromDay,
        toDay,
      ];
      // Month and quarter groups need the months apart: no year spans for them.
      const byTime = query.groupBy === 'month' || query.groupBy === 'quarter';
      const sumsPlan = planCellRead(
        fromDay,
        toDay,
        dirtyDays,
        await storedMonths(client, 'performance_rollup_periods', product.id),
        { useYears: !byTime, dirty: 'by-day' },
      );
      const overallSums = await readSums(client, 'overall', parameters, sumsPlan);
      // One histogram query: the overall cells are the groups' cells merged.
      const groupCells = await readCells(client, query.groupBy ?? 'overall', parameters);
      const overallCells = mergeCells([...groupCells.values()].flat());
      const groupSums = query.groupBy
        ? await readSums(client, query.groupBy, parameters, sumsPlan)
        : new Map<string, RollupSums>();
      await client.query('COMMIT');
      const figuresOf = (key: string, cells: PairCell[], sums: RollupSums | undefined): GroupFigures => {
        const totals = sums ?? emptySums();
        return {
          key,
          figures: summaryFigures(cells, totals, threshold),
          pairCells: cells,
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
          daysFromLastPass,
          note:
            'days whose data changed since the last roll-up pass were computed from the base tables for this request, ' +
            'except daysFromLastPass: the busiest changed days, beyond FW_PERFORMANCE_LIVE_MAX_VESSELS analysed vessels ' +
            'together at their last pass, given as of that pass',
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
const KEYS_AND_SUMS = ['site_id', 'model_version', 'scanner_vendor', 'vessel', ...ROLLUP_SUM_COLUMNS].join(
  ', ',
);
const ROW_COLUMNS = `day, ${KEYS_AND_SUMS}`;

/**
 * The dirty days' roll-up rows and linked pairs, computed from the base tables in one pass (SLICE_ROWS_AND_PAIRS_SQL):
 * readSums and readCells read them back from the JSON rather than each computing the days again.
 */
async function computeDirtyDays(
  client: PoolClient,
  product: Product,
  dirtyDays: readonly string[],
  threshold: number,
): Promise<LiveSlices> {
  if (dirtyDays.length === 0) return { rollupRows: '[]', pairs: '[]' };
  const result = await client.query<{ rollup_rows: string; pairs: string }>(
    SLICE_ROWS_AND_PAIRS_SQL,
    sliceParameters(product.id, product.manufacturerId, dirtyDays, threshold),
  );
  return { rollupRows: result.rows[0].rollup_rows, pairs: result.rows[0].pairs };
}

/**
 * Roll-up sums per group key: whole clean years and months from performance_rollup_periods (a period's `period` is
 * its first day, so month and quarter keys read it as the day), the plan's day ranges (edges, months with a dirty
 * day) from the day rows of clean days, and the dirty days computed for this request.
 */
async function readSums(
  client: PoolClient,
  groupBy: GroupBy | 'overall',
  parameters: RollupQueryParameters,
  plan: CellReadPlan,
): Promise<Map<string, RollupSums>> {
  const [productId, manufacturerId, dirtyDays, live] = parameters;
  // Per-vessel rows when grouping by vessel (patients as clusters within the vessel), else the '*' rows.
  const vesselRows = groupBy === 'vessel' ? `r.vessel <> '*'` : `r.vessel = '*'`;
  const result = await client.query<{ key: string } & RollupSums>(
    `SELECT ${GROUP_KEY_SQL[groupBy]} AS key, ${SUM_SELECT}
       FROM (SELECT period AS day, ${KEYS_AND_SUMS} FROM performance_rollup_periods
              WHERE product_id = $1 AND manufacturer_id = $2
                AND ((span = 'year' AND period = ANY($5::date[])) OR (span = 'month' AND period = ANY($6::date[])))
             UNION ALL
             SELECT ${ROW_COLUMNS} FROM performance_rollups
               JOIN unnest($7::date[], $8::date[]) AS span(lo, hi) ON day >= span.lo AND day < span.hi
              WHERE product_id = $1 AND manufacturer_id = $2 AND NOT (day = ANY($3::date[]))
             UNION ALL
             SELECT ${ROW_COLUMNS} FROM json_populate_recordset(NULL::performance_rollups, $4::json)) r
       ${siteJoin(groupBy)}
      WHERE ${vesselRows}
      GROUP BY 1`,
    [
      productId,
      manufacturerId,
      dirtyDays,
      live.rollupRows,
      plan.years,
      plan.months,
      plan.dayRanges.map(([lo]) => lo),
      plan.dayRanges.map(([, hi]) => hi),
    ],
  );
  return new Map(result.rows.map(({ key, ...sums }) => [key, sums]));
}

/**
 * The exact (CT-FFR, FFR) histogram per group key: whole years and months from the stored cells less their dirty
 * days' stored pairs, the period's edges from the per-day pairs, dirty days from the base tables
 * (performance-pair-cells.ts).
 */
async function readCells(
  client: PoolClient,
  groupBy: GroupBy | 'overall',
  parameters: RollupQueryParameters,
): Promise<Map<string, PairCell[]>> {
  const [productId, manufacturerId, dirtyDays, live, fromDay, toDay] = parameters;
  // Month and quarter groups need the months apart: no year cells for them.
  const byTime = groupBy === 'month' || groupBy === 'quarter';
  const plan = planCellRead(
    fromDay,
    toDay,
    dirtyDays,
    await storedMonths(client, 'performance_pair_cells', productId),
    { useYears: !byTime, dirty: 'subtract' },
  );
  const cells = await readStoredCells(client, groupBy, productId, manufacturerId, plan);
  if (plan.dayRanges.length > 0 || dirtyDays.length > 0) {
    const columns = 'day, site_id, model_version, scanner_vendor, vessel, ct_ffr, invasive_ffr';
    // One index range scan per day range ($5, $6: the ranges' first and after-last days); the dirty days' pairs, counted
    // per value, from computeDirtyDays ($4).
    const result = await client.query<{ key: string; ct_ffr: number; invasive_ffr: number; vessels: number }>(
      `SELECT ${GROUP_KEY_SQL[groupBy]} AS key, r.ct_ffr, r.invasive_ffr, sum(r.vessels)::int AS vessels
         FROM (SELECT ${columns}, 1 AS vessels FROM performance_linked_vessels
                 JOIN unnest($5::date[], $6::date[]) AS span(lo, hi) ON day >= span.lo AND day < span.hi
                WHERE product_id = $1 AND manufacturer_id = $2 AND NOT (day = ANY($3::date[]))
               UNION ALL
               SELECT ${columns}, vessels
                 FROM json_to_recordset($4::json) AS live(day date, site_id uuid, model_version text,
                                                          scanner_vendor text, vessel text, ct_ffr float8,
                                                          invasive_ffr float8, vessels int)) r
         ${siteJoin(groupBy)}
        GROUP BY 1, 2, 3`,
      [
        productId,
        manufacturerId,
        dirtyDays,
        live.pairs,
        plan.dayRanges.map(([lo]) => lo),
        plan.dayRanges.map(([, hi]) => hi),
      ],
    );
    for (const row of result.rows) {
      cells.push({ key: row.key, ctFfr: row.ct_ffr, invasiveFfr: row.invasive_ffr, vessels: row.vessels });
    }
  }
  const byKey = new Map<string, PairCell[]>();
  for (const { key, ...cell } of cells) {
    const members = byKey.get(key);
    if (members) members.push(cell);
    else byKey.set(key, [cell]);
  }
  // Merged and in (CT-FFR, FFR) order: the figures' floating-point sums then do not depend on which rows came
  // from months, days or the base tables, nor on the plan's row order.
  return new Map([...byKey].map(([key, members]) => [key, mergeCells(members)]));
}

/** Sites are joined only to name them: every other key is on the rows themselves. */
const siteJoin = (groupBy: GroupBy | 'overall'): string =>
  groupBy === 'site' ? 'JOIN sites s ON s.id = r.site_id' : '';

/** The dirty days computed at request (SLICE_ROWS_AND_PAIRS_SQL): roll-up rows and counted pairs, JSON text. */
interface LiveSlices {
  rollupRows: string;
  pairs: string;
}

/** Product, manufacturer, dirty days (computed from the base tables), those days' computed rows, period. */
type RollupQueryParameters = [string, string, string[], LiveSlices, string, string];

function mergeCells(cells: readonly PairCell[]): PairCell[] {
  const merged = new Map<string, PairCell>();
  for (const cell of cells) {
    const key = `${cell.ctFfr}|${cell.invasiveFfr}`;
    const existing = merged.get(key);
    merged.set(key, { ...cell, vessels: (existing?.vessels ?? 0) + cell.vessels });
  }
  return [...merged.values()]
    .filter((cell) => cell.vessels !== 0)
    .sort((a, b) => a.ctFfr - b.ctFfr || a.invasiveFfr - b.invasiveFfr);
}

function emptySums(): RollupSums {
  return Object.fromEntries(ROLLUP_SUM_COLUMNS.map((column) => [column, 0]));
}
