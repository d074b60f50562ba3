import { BadRequestException, Inject, Injectable, NotFoundException, OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { join } from 'node:path';
import { DataSource, EntityManager } from 'typeorm';
import { actorOf, AuditService } from '../audit/audit.service';
import { AdmissionGate } from '../common/admission-gate';
import { BoundedWorkerPool } from '../common/bounded-worker-pool';
import { runWithAdvisoryLockOrBusy } from '../common/singleton-schedule';
import { Principal } from '../auth/roles';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { PERFORMANCE_RULES } from '../performance/performance-rules';
import { RegistryService } from '../registry/registry.service';
import { evidenceCsv } from './evidence-csv';
import {
  AGATSTON_BANDS,
  AGE_BANDS,
  bandCaseSql,
  bandKeys,
  BMI_BANDS,
  CohortDefinition,
  CohortInput,
  monthAfter,
  monthStart,
  normaliseDefinition,
  SET_DIMENSIONS,
  SEXES,
  STATUSES,
  UNKNOWN,
  VESSELS,
} from './cohort';
import {
  canonicalJson,
  CohortAnalysis,
  CohortVessel,
  DistributionUniverse,
  EarlierRelease,
  EvidenceOutcome,
  EvidenceResult,
  sha256Hex,
} from './evidence-result';
import { EvidenceOutcomeRequest } from './evidence-outcome.task';
import { AuditCoverage, ProductRecords } from './release-records';

export interface EvidenceQueryView {
  id: string;
  productId: string;
  status: 'released' | 'refused';
  definition: CohortDefinition;
  /** Rows received, and linkage decided, up to this instant are what the query saw. */
  highWaterMark: string;
  minCell: number;
  /** The disclosure audit's work limit the query ran under (operations); null: none (stored before it existed). */
  auditOperationLimit: number | null;
  /** How far the disclosure audit reached within a unit (release-records.ts AuditCoverage). */
  auditCoverage: AuditCoverage;
  createdAt: string;
  result: EvidenceResult | null;
  refusal: Extract<EvidenceOutcome, { status: 'refused' }>['refusal'] | null;
  resultSha256: string | null;
}

/** A list entry: the stored query without its released figures. */
export type EvidenceQueryIndexEntry = Omit<EvidenceQueryView, 'result'>;

export interface RerunView {
  id: string;
  reproduced: boolean;
  highWaterMark: string;
  storedSha256: string;
  rerunSha256: string;
  /** The stored result (or refusal), returned only when the re-run reproduced it. */
  query: EvidenceQueryView | null;
}

interface StoredRow {
  id: string;
  manufacturer_id: string;
  product_id: string;
  /** sha256 of the canonical JSON of the normalised definition, as stored when the query ran. */
  definition_sha256: string;
  status: 'released' | 'refused';
  definition: CohortDefinition;
  high_water_mark: string;
  min_cell: number;
  audit_operation_limit: string | null;
  audit_coverage: AuditCoverage;
  created_at: string;
  created_seq: string;
  result: EvidenceResult | null;
  refusal: EvidenceQueryView['refusal'];
  result_sha256: string | null;
}

/** Prefix of a product's evidence lock (its session advisory lock; the product id follows). */
const EVIDENCE_LOCK = 'fieldwatch:evidence:';
const EVIDENCE_BUSY = 'Too many evidence queries are in progress; retry shortly';

/** The lattice attributes of an analysis, as SQL over `a` (analyses) and `s` (sites). */
const ATTRIBUTES_SQL = `
  a.site_id::text || ':' || encode(a.patient_key, 'hex') AS patient_id,
  s.site_code AS site,
  a.model_version,
  coalesce(a.scanner_vendor, '${UNKNOWN}') AS scanner_vendor,
  ${bandCaseSql('a.age_years', AGE_BANDS)} AS age_band,
  (CASE WHEN a.sex IN ('F', 'M') THEN a.sex ELSE '${UNKNOWN}' END) AS sex,
  ${bandCaseSql('a.bmi', BMI_BANDS)} AS bmi_band,
  ${bandCaseSql('a.agatston_score', AGATSTON_BANDS)} AS agatston_band,
  a.status,
  to_char(a.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM') AS month`;

/**
 * Each vessel's first invasive FFR (by measurement time, as src/performance takes it) among the analyses $1, with
 * linkage as it stood at $2: the latest ffr_link_history entry of each outcome up to then.
 */
const FIRST_LINK_CTES = `
  candidates AS (
    SELECT DISTINCT h.outcome_event_id FROM ffr_link_history h
     WHERE h.analysis_event_id = ANY($1::uuid[]) AND h.changed_at <= $2::timestamptz),
  state AS (
    SELECT DISTINCT ON (h.outcome_event_id) h.outcome_event_id, h.status, h.analysis_event_id, h.vessel_index
      FROM ffr_link_history h JOIN candidates USING (outcome_event_id)
     WHERE h.changed_at <= $2::timestamptz
     ORDER BY h.outcome_event_id, h.changed_at DESC, h.id DESC),
  first_link AS (
    SELECT DISTINCT ON (st.analysis_event_id, st.vessel_index)
           st.analysis_event_id, st.vessel_index, o.invasive_ffr
      FROM state st JOIN outcomes o ON o.event_id = st.outcome_event_id
     WHERE st.status = 'linked' AND st.analysis_event_id = ANY($1::uuid[])
     ORDER BY st.analysis_event_id, st.vessel_index, o.measured_at, st.outcome_event_id)`;

/** Definition dimension → column of the attribute subquery. */
const FILTER_COLUMNS: Record<(typeof SET_DIMENSIONS)[number], string | null> = {
  modelVersions: 'model_version',
  sites: 'site',
  scannerVendors: 'scanner_vendor',
  ageBands: 'age_band',
  sexes: 'sex',
  bmiBands: 'bmi_band',
  agatstonBands: 'agatston_band',
  statuses: 'status',
  vessels: null,
};

interface AnalysisRow {
  event_id: string;
  patient_id: string;
  site: string;
  model_version: string;
  scanner_vendor: string;
  age_band: string;
  sex: string;
  bmi_band: string;
  agatston_band: string;
  status: string;
  month: string;
}

/**
 * Researcher cohort queries (issue 7 §2). Reads the tenant's rows as they stood at the query's high-water mark,
 * hands them to evidenceOutcome (pure: figures, disclosure control, differencing), and stores what was released —
 * append-only — so the same query can be re-run to the same digest. Row-level data and pseudonym hashes stay in
 * this process: only the released result leaves it.
 */
@Injectable()
export class EvidenceService implements OnModuleDestroy {
  /** Computes outcomes off the request thread (evidence-outcome.task.ts); beyond its queue a query is a 503. */
  private readonly outcomes: BoundedWorkerPool<EvidenceOutcomeRequest, EvidenceOutcome>;
  /**
   * New queries in this process, waiting for their product's lock or computing: as many as the pool admits, taken
   * before the lock, so that a burst of queries on one product is refused at once rather than left waiting.
   */
  private readonly admission: AdmissionGate;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly registry: RegistryService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly audit: AuditService,
  ) {
    this.outcomes = new BoundedWorkerPool({
      task: join(__dirname, 'evidence-outcome.task'),
      threads: config.FW_EVIDENCE_WORKERS,
      queue: config.FW_EVIDENCE_QUEUE,
      busyMessage: EVIDENCE_BUSY,
    });
    this.admission = new AdmissionGate(config.FW_EVIDENCE_WORKERS + config.FW_EVIDENCE_QUEUE, EVIDENCE_BUSY);
  }

  async onModuleDestroy(): Promise<void> {
    await this.outcomes.destroy();
  }

  create(principal: Principal, input: CohortInput): Promise<EvidenceQueryView> {
    return this.admission.run(() => this.createAdmitted(principal, input));
  }

  private async createAdmitted(principal: Principal, input: CohortInput): Promise<EvidenceQueryView> {
    const product = await this.registry.requireProduct(principal, input.productId);
    let definition: CohortDefinition;
    try {
      definition = normaliseDefinition({ ...input, productId: product.id });
    } catch (error) {
      throw new BadRequestException(
        error instanceof RangeError ? error.message : 'invalid cohort definition',
      );
    }
    const k = this.config.FW_EVIDENCE_MIN_CELL;
    const operationLimit = this.config.FW_EVIDENCE_AUDIT_OPERATIONS;
    // New queries: the deployment's coverage; `complete` and `pairs` remain only to re-run older queries as they ran.
    const coverage: AuditCoverage = this.config.FW_EVIDENCE_AUDIT_COVERAGE;
    // One query per product at a time: each is checked against every release before it, concurrent ones included.
    // The lock is the session's, held from the read to the store, so that no transaction stays open while the
    // audit computes (it can take longer than idle_in_transaction_session_timeout, and an open snapshot that long
    // would hold back vacuum).
    return runWithAdvisoryLockOrBusy(
      this.dataSource,
      `${EVIDENCE_LOCK}${product.id}`,
      this.config.FW_EVIDENCE_LOCK_WAIT_SECONDS * 1000,
      'Another evidence query of this product is being audited; retry shortly',
      async () => {
        const { hwm, input } = await this.dataSource.transaction(async (manager) => {
          const [{ hwm }] = await manager.query<Array<{ hwm: string }>>(
            `SELECT to_char((now() - make_interval(secs => $1)) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS hwm`,
            [this.config.FW_EVIDENCE_HWM_LAG_SECONDS],
          );
          const earlier = await this.earlierReleases(manager, product.manufacturerId, product.id, null);
          const input = await this.outcomeInput(
            manager,
            definition,
            product,
            hwm,
            k,
            earlier,
            operationLimit,
            coverage,
          );
          return { hwm, input };
        });
        const outcome = await this.outcomes.run(input);
        const sha = outcome.status === 'released' ? sha256Hex(canonicalJson(outcome.result)) : null;
        return this.dataSource.transaction(async (manager) => {
          const [row] = await manager.query<StoredRow[]>(
            `INSERT INTO evidence_queries (manufacturer_id, product_id, created_by_key_id, created_by_role,
                                           definition, definition_sha256, high_water_mark, min_cell,
                                           audit_operation_limit, audit_coverage, status, refusal, result,
                                           result_sha256)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             RETURNING ${STORED_COLUMNS}`,
            [
              product.manufacturerId,
              product.id,
              principal.apiKeyId,
              principal.role,
              JSON.stringify(definition),
              sha256Hex(canonicalJson(definition)),
              hwm,
              k,
              operationLimit,
              coverage,
              outcome.status,
              outcome.status === 'refused' ? JSON.stringify(outcome.refusal) : null,
              outcome.status === 'released' ? JSON.stringify(outcome.result) : null,
              sha,
            ],
          );
          // In the query's own transaction: a query is stored and released only together with its audit entry.
          await this.audit.record(
            {
              actor: actorOf(principal),
              action: 'evidence_query.run',
              entityId: row.id,
              manufacturerId: row.manufacturer_id,
              after: view(row),
              details: { ...provenance(row), status: row.status },
            },
            manager,
          );
          return view(row);
        });
      },
    );
  }

  /** The stored query as CSV (evidence-csv.ts); the export is recorded in the audit trail before it is returned. */
  async exportCsv(principal: Principal, id: string): Promise<string> {
    const row = await this.stored(this.dataSource.manager, id);
    const csv = evidenceCsv(view(row));
    await this.audit.record({
      actor: actorOf(principal),
      action: 'evidence_query.export_csv',
      entityId: row.id,
      manufacturerId: row.manufacturer_id,
      details: { ...provenance(row), csvSha256: sha256Hex(csv) },
    });
    return csv;
  }

  /** A stored query with its result; the read is recorded before the result is returned (as a CSV export is). */
  async find(principal: Principal, id: string): Promise<EvidenceQueryView> {
    const row = await this.stored(this.dataSource.manager, id);
    await this.audit.record({
      actor: actorOf(principal),
      action: 'evidence_query.read',
      entityId: row.id,
      manufacturerId: row.manufacturer_id,
      details: provenance(row),
    });
    return view(row);
  }

  /**
   * The index of stored queries: what was asked, when, and the digest of what was released — not the results, so
   * that every read of released figures goes through find (audited) or the CSV export (audited).
   */
  async list(productId?: string): Promise<{ items: EvidenceQueryIndexEntry[] }> {
    const rows = await this.dataSource.query<StoredRow[]>(
      `SELECT ${STORED_COLUMNS} FROM evidence_queries
        WHERE ($1::uuid IS NULL OR product_id = $1) ORDER BY created_at DESC, id LIMIT 200`,
      [productId ?? null],
    );
    return { items: rows.map((row) => indexEntry(view(row))) };
  }

  /** Recomputes a stored query at its high-water mark, against the releases that preceded it. */
  async rerun(principal: Principal, id: string): Promise<RerunView> {
    const row = await this.stored(this.dataSource.manager, id);
    const product = await this.registry.requireProduct(principal, row.product_id);
    // Read in one transaction, computed outside any (as a query is).
    const input = await this.dataSource.transaction(async (manager) => {
      const earlier = await this.earlierReleases(manager, product.manufacturerId, product.id, row);
      const limit = row.audit_operation_limit === null ? null : Number(row.audit_operation_limit);
      return this.outcomeInput(
        manager,
        row.definition,
        product,
        row.high_water_mark,
        row.min_cell,
        earlier,
        limit,
        row.audit_coverage,
      );
    });
    const outcome = await this.outcomes.run(input);
    const stored = digestOf(row.status === 'released' ? row.result : row.refusal);
    const rerun = digestOf(outcome.status === 'released' ? outcome.result : outcome.refusal);
    await this.audit.record({
      actor: actorOf(principal),
      action: 'evidence_query.rerun',
      entityId: row.id,
      manufacturerId: row.manufacturer_id,
      details: { ...provenance(row), reproduced: stored === rerun, storedSha256: stored, rerunSha256: rerun },
    });
    return {
      id: row.id,
      reproduced: stored === rerun,
      highWaterMark: row.high_water_mark,
      storedSha256: stored,
      rerunSha256: rerun,
      query: stored === rerun ? view(row) : null,
    };
  }

  private async stored(manager: EntityManager, id: string): Promise<StoredRow> {
    const [row] = await manager.query<StoredRow[]>(
      `SELECT ${STORED_COLUMNS} FROM evidence_queries WHERE id = $1`,
      [id],
    );
    if (!row) throw new NotFoundException(`Evidence query ${id} does not exist`);
    return row;
  }

  /** Every release of the product before `before` (all of them when null), oldest first. */
  private async earlierReleases(
    manager: EntityManager,
    manufacturerId: string,
    productId: string,
    before: StoredRow | null,
  ): Promise<EarlierRelease[]> {
    const rows = await manager.query<EarlierRelease[]>(
      `SELECT id, definition, result,
              to_char(high_water_mark AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "highWaterMark"
         FROM evidence_queries
        WHERE manufacturer_id = $1 AND product_id = $2 AND status = 'released'
          AND ($3::timestamptz IS NULL OR (created_at, id) < ($3::timestamptz, $4::uuid))
        ORDER BY created_at, id`,
      [manufacturerId, productId, before?.created_seq ?? null, before?.id ?? null],
    );
    return rows;
  }

  /** What evidenceOutcome needs for `definition` at `hwm`, read under the caller's tenant (row-level security). */
  private async outcomeInput(
    manager: EntityManager,
    definition: CohortDefinition,
    product: { id: string; manufacturerId: string; ffrThreshold: number },
    hwm: string,
    k: number,
    earlier: readonly EarlierRelease[],
    auditOperationLimit: number | null,
    auditCoverage: AuditCoverage,
  ): Promise<EvidenceOutcomeRequest> {
    const parameters: unknown[] = [product.manufacturerId, product.id, hwm];
    const where: string[] = [];
    for (const dimension of SET_DIMENSIONS) {
      const column = FILTER_COLUMNS[dimension];
      const values = definition[dimension];
      if (!column || !values) continue;
      parameters.push(values);
      where.push(`c.${column} = ANY($${parameters.length}::text[])`);
    }
    if (definition.fromMonth) {
      parameters.push(monthStart(definition.fromMonth));
      where.push(`c.occurred_at >= $${parameters.length}::timestamptz`);
    }
    if (definition.toMonth) {
      parameters.push(monthAfter(definition.toMonth));
      where.push(`c.occurred_at < $${parameters.length}::timestamptz`);
    }
    if (definition.vessels) {
      parameters.push(definition.vessels);
      where.push(
        `EXISTS (SELECT 1 FROM analysis_vessels v WHERE v.analysis_event_id = c.event_id AND v.vessel = ANY($${parameters.length}::text[]))`,
      );
    }
    const analysisRows = await manager.query<AnalysisRow[]>(
      `SELECT c.* FROM (
         SELECT a.event_id, a.occurred_at, ${ATTRIBUTES_SQL}
           FROM analyses a JOIN sites s ON s.id = a.site_id
          WHERE a.manufacturer_id = $1 AND a.product_id = $2 AND a.received_at <= $3::timestamptz) c
        ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY c.event_id`,
      parameters,
    );
    const analyses = new Map<string, CohortAnalysis>(
      analysisRows.map((row) => [row.event_id, cohortAnalysis(row)]),
    );
    const completed = analysisRows.filter((row) => row.status === 'completed').map((row) => row.event_id);
    // Each vessel's first invasive FFR (by measurement time, as src/performance takes it), with linkage as it stood
    // at the high-water mark: the latest ffr_link_history entry of each outcome up to then.
    const vesselRows = await manager.query<
      Array<{ analysis_event_id: string; vessel: string; ct_ffr: number; invasive_ffr: number | null }>
    >(
      `WITH ${FIRST_LINK_CTES}
       SELECT v.analysis_event_id, v.vessel, v.ct_ffr, f.invasive_ffr
         FROM analysis_vessels v
         LEFT JOIN first_link f ON f.analysis_event_id = v.analysis_event_id AND f.vessel_index = v.vessel_index
        WHERE v.analysis_event_id = ANY($1::uuid[]) AND ($3::text[] IS NULL OR v.vessel = ANY($3::text[]))
        ORDER BY v.analysis_event_id, v.vessel_index`,
      [completed, hwm, definition.vessels ?? null],
    );
    const vessels: CohortVessel[] = vesselRows.map((row) => ({
      analysis: analyses.get(row.analysis_event_id)!,
      vessel: row.vessel,
      ctFfr: Number(row.ct_ffr),
      invasiveFfr: row.invasive_ffr === null ? null : Number(row.invasive_ffr),
    }));
    const universe = await this.universe(manager, product, hwm, definition);
    const threshold = Number(product.ffrThreshold ?? PERFORMANCE_RULES.defaultThreshold);
    const records = await this.productRecords(manager, product, [
      hwm,
      ...earlier.map((release) => release.highWaterMark),
    ]);
    return {
      definition,
      highWaterMark: hwm,
      analyses: [...analyses.values()],
      vessels,
      universe,
      threshold,
      k,
      earlier,
      records,
      auditOperationLimit,
      auditCoverage,
    };
  }

  /**
   * The product's analyses and analysed vessels received up to the latest of `highWaterMarks`, and each vessel's
   * first linked invasive FFR as linkage stood at each of them — what the cross-release audit evaluates every
   * release's cells on (release-records.ts). One linkage read per distinct high-water mark.
   */
  private async productRecords(
    manager: EntityManager,
    product: { id: string; manufacturerId: string },
    highWaterMarks: readonly string[],
  ): Promise<ProductRecords> {
    const marks = [...new Set(highWaterMarks)].sort();
    const latest = marks.at(-1)!;
    const analysisRows = await manager.query<
      Array<AnalysisRow & { received_at: string; vessel_names: string[] }>
    >(
      `SELECT a.event_id, ${ATTRIBUTES_SQL},
              to_char(a.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS received_at,
              coalesce((SELECT array_agg(v.vessel) FROM analysis_vessels v WHERE v.analysis_event_id = a.event_id),
                       '{}') AS vessel_names
         FROM analyses a JOIN sites s ON s.id = a.site_id
        WHERE a.manufacturer_id = $1 AND a.product_id = $2 AND a.received_at <= $3::timestamptz
        ORDER BY a.event_id`,
      [product.manufacturerId, product.id, latest],
    );
    const indexOfAnalysis = new Map(analysisRows.map((row, index) => [row.event_id, index]));
    const completed = analysisRows.filter((row) => row.status === 'completed').map((row) => row.event_id);
    const vesselRows = await manager.query<
      Array<{ analysis_event_id: string; vessel_index: number; vessel: string; ct_ffr: number }>
    >(
      `SELECT v.analysis_event_id, v.vessel_index, v.vessel, v.ct_ffr FROM analysis_vessels v
        WHERE v.analysis_event_id = ANY($1::uuid[]) ORDER BY v.analysis_event_id, v.vessel_index`,
      [completed],
    );
    const indexOfVessel = new Map(
      vesselRows.map((row, index) => [`${row.analysis_event_id}|${row.vessel_index}`, index]),
    );
    const invasiveFfrAt = new Map<string, Float64Array>();
    for (const mark of marks) {
      const invasive = new Float64Array(vesselRows.length).fill(Number.NaN);
      for (const link of await this.firstLinks(manager, completed, mark)) {
        const index = indexOfVessel.get(`${link.analysis_event_id}|${link.vessel_index}`);
        if (index !== undefined) invasive[index] = Number(link.invasive_ffr);
      }
      invasiveFfrAt.set(mark, invasive);
    }
    return {
      analyses: analysisRows.map((row) => ({
        ...cohortAnalysis(row),
        receivedAt: row.received_at,
        vesselNames: row.vessel_names,
      })),
      vessels: vesselRows.map((row) => ({
        analysis: indexOfAnalysis.get(row.analysis_event_id)!,
        vessel: row.vessel,
        ctFfr: Number(row.ct_ffr),
      })),
      invasiveFfrAt,
    };
  }

  /** Each vessel's first invasive FFR (by measurement time) with linkage as it stood at `highWaterMark`. */
  private firstLinks(
    manager: EntityManager,
    analysisEventIds: readonly string[],
    highWaterMark: string,
  ): Promise<Array<{ analysis_event_id: string; vessel_index: number; invasive_ffr: number }>> {
    return manager.query(
      `WITH ${FIRST_LINK_CTES}
       SELECT analysis_event_id, vessel_index, invasive_ffr FROM first_link`,
      [analysisEventIds, highWaterMark],
    );
  }

  /** Distribution rows: fixed lattices, and the values the whole product has at the high-water mark. */
  private async universe(
    manager: EntityManager,
    product: { id: string; manufacturerId: string },
    hwm: string,
    definition: CohortDefinition,
  ): Promise<DistributionUniverse> {
    const [row] = await manager.query<
      Array<{
        sites: string[] | null;
        model_versions: string[] | null;
        vendors: string[] | null;
        first_month: string | null;
        last_month: string | null;
      }>
    >(
      `SELECT array_agg(DISTINCT s.site_code ORDER BY s.site_code) AS sites,
              array_agg(DISTINCT a.model_version ORDER BY a.model_version) AS model_versions,
              array_agg(DISTINCT coalesce(a.scanner_vendor, '${UNKNOWN}') ORDER BY coalesce(a.scanner_vendor, '${UNKNOWN}')) AS vendors,
              to_char(min(a.occurred_at) AT TIME ZONE 'UTC', 'YYYY-MM') AS first_month,
              to_char(max(a.occurred_at) AT TIME ZONE 'UTC', 'YYYY-MM') AS last_month
         FROM analyses a JOIN sites s ON s.id = a.site_id
        WHERE a.manufacturer_id = $1 AND a.product_id = $2 AND a.received_at <= $3::timestamptz`,
      [product.manufacturerId, product.id, hwm],
    );
    const first = definition.fromMonth ?? row.first_month;
    const last = definition.toMonth ?? row.last_month;
    return {
      sex: [...SEXES],
      ageBand: bandKeys(AGE_BANDS),
      bmiBand: bandKeys(BMI_BANDS),
      agatstonBand: bandKeys(AGATSTON_BANDS),
      scannerVendor: row.vendors ?? [],
      modelVersion: row.model_versions ?? [],
      site: row.sites ?? [],
      status: [...STATUSES],
      month: first && last ? monthsBetween(first, last) : [],
      vessel: [...VESSELS],
    };
  }
}

const STORED_COLUMNS = `id, manufacturer_id, product_id, status, definition, definition_sha256, min_cell,
  audit_operation_limit::text AS audit_operation_limit, audit_coverage, result,
  refusal, result_sha256,
  to_char(high_water_mark AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS high_water_mark,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at,
  created_at::text AS created_seq`;

function cohortAnalysis(row: AnalysisRow): CohortAnalysis {
  return {
    patientId: row.patient_id,
    site: row.site,
    modelVersion: row.model_version,
    scannerVendor: row.scanner_vendor,
    ageBand: row.age_band,
    sex: row.sex,
    bmiBand: row.bmi_band,
    agatstonBand: row.agatston_band,
    status: row.status,
    month: row.month,
  };
}

function view(row: StoredRow): EvidenceQueryView {
  return {
    id: row.id,
    productId: row.product_id,
    status: row.status,
    definition: row.definition,
    highWaterMark: row.high_water_mark,
    minCell: row.min_cell,
    auditOperationLimit: row.audit_operation_limit === null ? null : Number(row.audit_operation_limit),
    auditCoverage: row.audit_coverage,
    createdAt: row.created_at,
    result: row.result,
    refusal: row.refusal,
    resultSha256: row.result_sha256,
  };
}

function indexEntry(query: EvidenceQueryView): EvidenceQueryIndexEntry {
  return {
    id: query.id,
    productId: query.productId,
    status: query.status,
    definition: query.definition,
    highWaterMark: query.highWaterMark,
    minCell: query.minCell,
    auditOperationLimit: query.auditOperationLimit,
    auditCoverage: query.auditCoverage,
    createdAt: query.createdAt,
    refusal: query.refusal,
    resultSha256: query.resultSha256,
  };
}

/** What every evidence audit entry names: the product, the definition's digest, the high-water mark, k, the result. */
function provenance(row: StoredRow): Record<string, string | number | null> {
  return {
    productId: row.product_id,
    definitionSha256: row.definition_sha256,
    highWaterMark: row.high_water_mark,
    minCell: row.min_cell,
    auditOperationLimit: row.audit_operation_limit === null ? null : Number(row.audit_operation_limit),
    auditCoverage: row.audit_coverage,
    resultSha256: row.result_sha256,
  };
}

function digestOf(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}

function monthsBetween(first: string, last: string): string[] {
  const months: string[] = [];
  let [year, month] = first.split('-').map(Number);
  const [lastYear, lastMonth] = last.split('-').map(Number);
  while (year < lastYear || (year === lastYear && month <= lastMonth)) {
    months.push(`${year}-${String(month).padStart(2, '0')}`);
    month++;
    if (month > 12) {
      month = 1;
      year++;
    }
  }
  return months;
}
