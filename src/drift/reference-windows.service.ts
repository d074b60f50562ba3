import { createHash } from 'node:crypto';
import { BadRequestException, Injectable, NotFoundException } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { actorOf, AuditService } from '../audit/audit.service';
import { Principal } from '../auth/roles';
import {
  DEVICE_ERROR_KINDS,
  NUMERIC_FEATURE_NAMES,
  SEGMENT_KINDS,
  type NumericFeature,
} from './drift-config';
import {
  kurtosisFromRawMoments,
  REFERENCE_BINS,
  referenceSummaryOf,
  summarizeReferenceRows,
  type NumericReference,
  type ReferenceSummary,
  type ResidualBaseline,
} from './drift-evaluator';
import {
  Queryable,
  segmentReferences,
  totalOfCells,
  windowCells,
  windowQuantileEdges,
} from './drift-queries';
import { parseReferenceCsv, ReferenceCsvError } from './reference-csv';

/** A stored reference window, as the API shows it (the frozen summary included). */
export interface ReferenceWindowView {
  id: string;
  productId: string;
  /** null: the product's default reference (every segment without a version-specific one). */
  modelVersion: string | null;
  kind: 'dataset' | 'period';
  label: string;
  periodFrom: string | null;
  periodTo: string | null;
  /** Accuracy charts run over labelled vessels with a CTA on or after this instant. */
  monitorFrom: string;
  sourceSha256: string | null;
  cases: number;
  vessels: number;
  labelledVessels: number;
  active: boolean;
  replacedBy: string | null;
  createdAt: string;
  summary: ReferenceSummary;
}

interface ReferenceRowDb {
  id: string;
  product_id: string;
  model_version: string | null;
  kind: 'dataset' | 'period';
  label: string;
  period_from: Date | null;
  period_to: Date | null;
  monitor_from: Date;
  source_sha256: string | null;
  cases: number;
  vessels: number;
  labelled_vessels: number;
  active: boolean;
  replaced_by: string | null;
  created_at: Date;
  summary: ReferenceSummary;
}

const COLUMNS = `id::text AS id, product_id::text AS product_id, model_version, kind, label, period_from, period_to,
  monitor_from, source_sha256, cases, vessels, labelled_vessels, active, replaced_by::text AS replaced_by, created_at,
  summary`;

const iso = (d: Date | null): string | null => (d ? new Date(d).toISOString() : null);

function view(row: ReferenceRowDb): ReferenceWindowView {
  return {
    id: row.id,
    productId: row.product_id,
    modelVersion: row.model_version,
    kind: row.kind,
    label: row.label,
    periodFrom: iso(row.period_from),
    periodTo: iso(row.period_to),
    monitorFrom: new Date(row.monitor_from).toISOString(),
    sourceSha256: row.source_sha256,
    cases: row.cases,
    vessels: row.vessels,
    labelledVessels: row.labelled_vessels,
    active: row.active,
    replacedBy: row.replaced_by,
    createdAt: new Date(row.created_at).toISOString(),
    summary: row.summary,
  };
}

/** Where monitoring starts when a dataset reference names no date and no model version: all field data. */
const ALL_FIELD_DATA = new Date('2000-01-01T00:00:00Z');

export interface ProductRef {
  readonly id: string;
  readonly manufacturerId: string;
  /** The product's FFR threshold as stored (numeric text, e.g. "0.800"). */
  readonly threshold: string;
}

/**
 * Reference windows per product and model version (issue 4 §1): an imported premarket / pivotal dataset, or a chosen
 * period of the product's own analyses (e.g. the first three months after a version's release). Either way the
 * reference's summary — what every monitor compares with — is computed once here and frozen.
 */
@Injectable()
export class ReferenceWindowsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
  ) {}

  async productRef(productId: string, db: Queryable = this.dataSource): Promise<ProductRef> {
    const rows = await db.query<Array<{ id: string; manufacturer_id: string; threshold: string }>>(
      `SELECT id::text AS id, manufacturer_id::text AS manufacturer_id, ffr_threshold::text AS threshold
         FROM products WHERE id = $1`,
      [productId],
    );
    if (rows.length === 0) throw new NotFoundException(`Product ${productId} does not exist`);
    return { id: rows[0].id, manufacturerId: rows[0].manufacturer_id, threshold: rows[0].threshold };
  }

  private async releasedAt(productId: string, modelVersion: string): Promise<Date> {
    const rows = await this.dataSource.query<Array<{ released_at: Date }>>(
      `SELECT released_at FROM model_versions WHERE product_id = $1 AND version = $2`,
      [productId, modelVersion],
    );
    if (rows.length === 0) {
      throw new NotFoundException(`Model version ${modelVersion} of product ${productId} is not registered`);
    }
    return new Date(rows[0].released_at);
  }

  /** Imports a dataset (CSV text, reference-csv.ts) as the active reference of the product / model version. */
  async importDataset(
    principal: Principal,
    product: ProductRef,
    input: { modelVersion?: string | null; label: string; monitorFrom?: string | null; csv: string },
  ): Promise<ReferenceWindowView> {
    const modelVersion = input.modelVersion ?? null;
    const released = modelVersion ? await this.releasedAt(product.id, modelVersion) : null;
    let rows;
    try {
      rows = parseReferenceCsv(input.csv);
    } catch (error) {
      if (error instanceof ReferenceCsvError) throw new BadRequestException(error.problems);
      throw error;
    }
    const threshold = Math.fround(Number(product.threshold));
    const summary = summarizeReferenceRows(rows, threshold);
    const monitorFrom = input.monitorFrom ? new Date(input.monitorFrom) : (released ?? ALL_FIELD_DATA);
    const sha256 = createHash('sha256').update(input.csv, 'utf8').digest('hex');
    return this.store(principal, product, {
      modelVersion,
      kind: 'dataset',
      label: input.label,
      periodFrom: null,
      periodTo: null,
      monitorFrom,
      sha256,
      summary,
      cases: summary.analyses,
      vessels: summary.vessels,
      labelledVessels: summary.residuals?.n ?? 0,
      insertRows: async (manager, referenceId) => {
        // In chunks, as JSON records: one statement per 5,000 rows.
        for (let i = 0; i < rows.length; i += 5000) {
          const chunk = rows.slice(i, i + 5000).map((r) => ({
            line: r.line,
            case_id: r.caseId,
            procedure_date: r.procedureDate,
            status: r.status,
            vessel: r.vessel,
            ct_ffr: r.ctFfr,
            invasive_ffr: r.invasiveFfr,
            age_years: r.age,
            sex: r.sex,
            bmi: r.bmi,
            scanner_vendor: r.scannerVendor,
            slice_thickness_mm: r.sliceThickness,
            tube_voltage_kv: r.tubeVoltage,
            heart_rate_bpm: r.heartRate,
            agatston_score: r.agatston,
            image_quality_score: r.imageQuality,
            processing_seconds: r.processingTime,
          }));
          await manager.query(
            `INSERT INTO drift_reference_cases (reference_id, manufacturer_id, line, case_id, procedure_date, status,
                      vessel, ct_ffr, invasive_ffr, age_years, sex, bmi, scanner_vendor, slice_thickness_mm,
                      tube_voltage_kv, heart_rate_bpm, agatston_score, image_quality_score, processing_seconds)
             SELECT $1, $2, r.line, r.case_id, r.procedure_date, r.status, r.vessel, r.ct_ffr, r.invasive_ffr,
                    r.age_years, r.sex, r.bmi, r.scanner_vendor, r.slice_thickness_mm, r.tube_voltage_kv,
                    r.heart_rate_bpm, r.agatston_score, r.image_quality_score, r.processing_seconds
               FROM json_to_recordset($3::json) AS r(line int, case_id text, procedure_date date, status text,
                      vessel text, ct_ffr real, invasive_ffr real, age_years smallint, sex text, bmi real,
                      scanner_vendor text, slice_thickness_mm real, tube_voltage_kv real, heart_rate_bpm real,
                      agatston_score real, image_quality_score real, processing_seconds real)`,
            [referenceId, product.manufacturerId, JSON.stringify(chunk)],
          );
        }
      },
    });
  }

  /** A period of the product's own analyses [from, to) (optionally one model version's) as the active reference. */
  async createPeriod(
    principal: Principal,
    product: ProductRef,
    input: { modelVersion?: string | null; label: string; from: string; to: string },
  ): Promise<ReferenceWindowView> {
    const modelVersion = input.modelVersion ?? null;
    if (modelVersion) await this.releasedAt(product.id, modelVersion);
    const from = new Date(input.from);
    const to = new Date(input.to);
    if (!(from < to)) throw new BadRequestException('from must be before to');
    const summary = await this.periodSummary(this.dataSource, product, { from, to, modelVersion });
    if (summary.analyses === 0) {
      throw new BadRequestException(
        `the period ${from.toISOString()} – ${to.toISOString()} holds no analyses of this product` +
          (modelVersion ? ` with model version ${modelVersion}` : ''),
      );
    }
    return this.store(principal, product, {
      modelVersion,
      kind: 'period',
      label: input.label,
      periodFrom: from,
      periodTo: to,
      monitorFrom: to,
      sha256: null,
      summary,
      cases: summary.analyses,
      vessels: summary.vessels,
      labelledVessels: summary.residuals?.n ?? 0,
    });
  }

  /** The summary of a period, computed in SQL (deciles by percentile_cont, counts on them, residual moments). */
  async periodSummary(
    db: Queryable,
    product: ProductRef,
    period: { from: Date; to: Date; modelVersion: string | null },
  ): Promise<ReferenceSummary> {
    const filter = {
      manufacturerId: product.manufacturerId,
      productId: product.id,
      from: period.from,
      to: period.to,
      modelVersion: period.modelVersion,
    };
    const edges = await windowQuantileEdges(db, filter, REFERENCE_BINS);
    const cells = await windowCells(db, filter, edges, product.threshold);
    const total = totalOfCells(cells, edges);
    const numeric = {} as Record<NumericFeature, NumericReference | null>;
    for (const feature of NUMERIC_FEATURE_NAMES) numeric[feature] = total.numeric[feature] ?? null;
    const params: unknown[] = [
      product.id,
      period.from.toISOString(),
      period.to.toISOString(),
      product.threshold,
    ];
    if (period.modelVersion) params.push(period.modelVersion);
    // Labelled vessels whose CTA falls in the period (the performance module's first-label pairs), pooled and per
    // segment (grouping sets: one pass).
    const residualRows = await db.query<
      Array<{
        segment: string;
        n: number;
        mean_residual: number | null;
        sd_residual: number | null;
        mean_abs: number | null;
        sd_abs: number | null;
        discordant: number;
        // Raw moments E[d²], E[d³], E[d⁴], E[√|d|], E[|d|^1.5]: kurtosis of d and mean, SD, kurtosis of √|d|.
        d2: number | null;
        d3: number | null;
        d4: number | null;
        root1: number | null;
        root3: number | null;
      }>
    >(
      `SELECT CASE WHEN grouping(s.site_code) = 0 THEN 'site:' || s.site_code
                   WHEN grouping(x.scanner_vendor) = 0 THEN 'scannerVendor:' || x.scanner_vendor
                   WHEN grouping(x.model_version) = 0 THEN 'modelVersion:' || x.model_version
                   ELSE 'overall:*' END AS segment,
              count(*)::int AS n, avg(d) AS mean_residual, stddev_samp(d) AS sd_residual,
              avg(abs(d)) AS mean_abs, stddev_samp(abs(d)) AS sd_abs,
              avg(d * d) AS d2, avg(d * d * d) AS d3, avg(d * d * d * d) AS d4,
              avg(sqrt(abs(d))) AS root1, avg(abs(d) * sqrt(abs(d))) AS root3,
              count(*) FILTER (WHERE (ct_ffr <= $4::float8) <> (invasive_ffr <= $4::float8))::int AS discordant
         FROM (SELECT site_id, scanner_vendor, model_version, ct_ffr, invasive_ffr, ct_ffr - invasive_ffr AS d
                 FROM performance_linked_vessels
                WHERE product_id = $1 AND day >= ($2::timestamptz AT TIME ZONE 'UTC')::date
                  AND day < ($3::timestamptz AT TIME ZONE 'UTC')::date
                  ${period.modelVersion ? 'AND model_version = $5' : ''}) x
         JOIN sites s ON s.id = x.site_id
        GROUP BY GROUPING SETS ((), (s.site_code), (x.scanner_vendor), (x.model_version))`,
      params,
    );
    const baselines = new Map<string, ResidualBaseline>();
    for (const r of residualRows) {
      if (r.n < 2) continue;
      const [e1, e2, e3, e4] = [r.mean_residual, r.d2, r.d3, r.d4].map(Number);
      // √|d|: its moments 1–4 are E[√|d|], E[|d|], E[|d|^1.5], E[d²].
      const [q1, q2, q3, q4] = [r.root1, r.mean_abs, r.root3, r.d2].map(Number);
      baselines.set(r.segment, {
        n: r.n,
        meanResidual: e1,
        sdResidual: Number(r.sd_residual),
        meanAbsoluteError: Number(r.mean_abs),
        sdAbsoluteError: Number(r.sd_abs),
        discordant: r.discordant,
        kurtosisResidual: kurtosisFromRawMoments(e1, e2, e3, e4),
        meanRootAbsoluteError: q1,
        sdRootAbsoluteError: Math.sqrt((Math.max(0, q2 - q1 * q1) * r.n) / (r.n - 1)),
        kurtosisRootAbsoluteError: kurtosisFromRawMoments(q1, q2, q3, q4),
      });
    }
    const residuals = baselines.get('overall:*') ?? null;
    const segments = segmentReferences(cells, SEGMENT_KINDS, (id) => baselines.get(id) ?? null);
    const byKind: Record<string, number> = {};
    for (const kind of DEVICE_ERROR_KINDS) byKind[kind] = total.deviceErrorsByKind[kind] ?? 0;
    return referenceSummaryOf(total, {
      threshold: Number(product.threshold),
      numeric,
      deviceErrors: { byKind, analyses: total.analyses },
      residuals,
      segments,
    });
  }

  private async store(
    principal: Principal,
    product: ProductRef,
    input: {
      modelVersion: string | null;
      kind: 'dataset' | 'period';
      label: string;
      periodFrom: Date | null;
      periodTo: Date | null;
      monitorFrom: Date;
      sha256: string | null;
      summary: ReferenceSummary;
      cases: number;
      vessels: number;
      labelledVessels: number;
      insertRows?: (manager: EntityManager, referenceId: string) => Promise<void>;
    },
  ): Promise<ReferenceWindowView> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query(`SELECT pg_advisory_xact_lock(hashtextextended('drift_reference:' || $1, 0))`, [
        product.id,
      ]);
      const previous = await manager.query<[Array<{ id: string }>, number]>(
        `UPDATE drift_reference_windows SET active = false
          WHERE product_id = $1 AND coalesce(model_version, '') = coalesce($2, '') AND active
          RETURNING id::text AS id`,
        [product.id, input.modelVersion],
      );
      const [inserted] = await manager.query<Array<{ id: string }>>(
        `INSERT INTO drift_reference_windows (manufacturer_id, product_id, model_version, kind, label, period_from,
                   period_to, monitor_from, source_sha256, cases, vessels, labelled_vessels, summary, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb, $14)
         RETURNING id::text AS id`,
        [
          product.manufacturerId,
          product.id,
          input.modelVersion,
          input.kind,
          input.label,
          iso(input.periodFrom),
          iso(input.periodTo),
          input.monitorFrom.toISOString(),
          input.sha256,
          input.cases,
          input.vessels,
          input.labelledVessels,
          JSON.stringify(input.summary),
          principal.apiKeyId,
        ],
      );
      const replaced = previous[0] ?? [];
      if (replaced.length) {
        await manager.query(
          `UPDATE drift_reference_windows SET replaced_by = $1 WHERE id = ANY($2::uuid[])`,
          [inserted.id, replaced.map((p) => p.id)],
        );
      }
      if (input.insertRows) await input.insertRows(manager, inserted.id);
      await this.audit.record(
        {
          actor: actorOf(principal),
          action: 'drift_reference.create',
          entityId: inserted.id,
          manufacturerId: product.manufacturerId,
          after: { ...input, insertRows: undefined, summary: undefined },
          details: {
            productId: product.id,
            modelVersion: input.modelVersion,
            kind: input.kind,
            cases: input.cases,
            labelledVessels: input.labelledVessels,
            sourceSha256: input.sha256,
            replaced: replaced.map((p) => p.id),
          },
        },
        manager,
      );
      return this.get(inserted.id, manager);
    });
  }

  async get(id: string, db: Queryable = this.dataSource): Promise<ReferenceWindowView> {
    const rows = await db.query<ReferenceRowDb[]>(
      `SELECT ${COLUMNS} FROM drift_reference_windows WHERE id = $1`,
      [id],
    );
    if (rows.length === 0) throw new NotFoundException(`Reference window ${id} does not exist`);
    return view(rows[0]);
  }

  async list(productId: string): Promise<ReferenceWindowView[]> {
    const rows = await this.dataSource.query<ReferenceRowDb[]>(
      `SELECT ${COLUMNS} FROM drift_reference_windows WHERE product_id = $1 ORDER BY created_at DESC, id LIMIT 200`,
      [productId],
    );
    return rows.map(view);
  }

  /** The active references of a product: by model version, and the default (key ''). */
  async active(
    productId: string,
    db: Queryable = this.dataSource,
  ): Promise<Map<string, ReferenceWindowView>> {
    const rows = await db.query<ReferenceRowDb[]>(
      `SELECT ${COLUMNS} FROM drift_reference_windows WHERE product_id = $1 AND active ORDER BY created_at`,
      [productId],
    );
    return new Map(rows.map((r) => [r.model_version ?? '', view(r)]));
  }
}
