import { Injectable, NotFoundException, OnModuleDestroy, UnprocessableEntityException } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { BoundedWorkerPool } from '../common/bounded-worker-pool';
import { LabelFreeReport, LabelFreeRequest, PeriodInput, VesselCaseRow } from './label-free-accuracy';
import { LabelFreeAccuracyQueryDto } from './label-free-accuracy.dto';
import { ProductRef, ReferenceWindowsService, ReferenceWindowView } from './reference-windows.service';

const DAY_MS = 86_400_000;
/** Seed of the cluster bootstrap: the same data give the same CIs on every call. */
const BOOTSTRAP_SEED = 1;
/**
 * Vessels one request may read (reference and periods together). The bootstrap refits the domain classifier on all
 * of them per replicate; beyond this a request would hold a worker for minutes — narrow the periods instead.
 */
export const MAX_LABEL_FREE_VESSELS = 300_000;
/** One worker computes at a time and a few requests wait; more are refused at once (503), never queued unbounded. */
const WORKERS = 1;
const QUEUE = 4;

const COVARIATE_COLUMNS = `a.heart_rate_bpm::float8 AS heart_rate_bpm, a.slice_thickness_mm::float8 AS slice_thickness_mm,
  a.tube_voltage_kv::float8 AS tube_voltage_kv, a.agatston_score::float8 AS agatston_score, a.bmi::float8 AS bmi,
  a.age_years::float8 AS age_years, a.image_quality_score::float8 AS image_quality_score, a.sex, a.scanner_vendor`;

interface CaseRowDb {
  cluster: string;
  ct_ffr: number;
  invasive_ffr: number | null;
  heart_rate_bpm: number | null;
  slice_thickness_mm: number | null;
  tube_voltage_kv: number | null;
  agatston_score: number | null;
  bmi: number | null;
  age_years: number | null;
  image_quality_score: number | null;
  sex: string | null;
  scanner_vendor: string | null;
}

function caseRow(row: CaseRowDb): VesselCaseRow {
  return {
    cluster: row.cluster,
    ctFfr: row.ct_ffr,
    invasiveFfr: row.invasive_ffr,
    heartRateBpm: row.heart_rate_bpm,
    sliceThicknessMm: row.slice_thickness_mm,
    tubeVoltageKv: row.tube_voltage_kv,
    agatstonScore: row.agatston_score,
    bmi: row.bmi,
    ageYears: row.age_years,
    imageQualityScore: row.image_quality_score,
    sex: row.sex,
    scannerVendor: row.scanner_vendor,
  };
}

export interface LabelFreeAccuracyView extends LabelFreeReport {
  productId: string;
  modelVersion: string | null;
  threshold: number;
  referenceWindow: { id: string; kind: 'dataset' | 'period'; label: string; modelVersion: string | null };
  parameters: {
    to: string;
    periodDays: number;
    periods: number;
    labelMaturityDays: number;
    bootstrap: number;
  };
  method: string;
}

/**
 * Label-free accuracy per period against the product's active reference (issue 4 §4; label-free-accuracy.ts).
 * Rows are read here, in the caller's tenant (row-level security); the computation runs in a worker thread.
 */
@Injectable()
export class LabelFreeAccuracyService implements OnModuleDestroy {
  private readonly pool = new BoundedWorkerPool<LabelFreeRequest, LabelFreeReport>({
    task: join(__dirname, 'label-free-accuracy.task'),
    threads: WORKERS,
    queue: QUEUE,
    busyMessage: 'Too many label-free accuracy requests are in progress; retry shortly',
  });

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly references: ReferenceWindowsService,
  ) {}

  async report(
    product: ProductRef,
    query: LabelFreeAccuracyQueryDto,
    now = new Date(),
  ): Promise<LabelFreeAccuracyView> {
    const periodDays = query.periodDays ?? 30;
    const periodCount = query.periods ?? 6;
    const labelMaturityDays = query.labelMaturityDays ?? 60;
    const bootstrap = query.bootstrap ?? 200;
    const to = query.to ? new Date(query.to) : now;
    const modelVersion = query.modelVersion ?? null;
    const active = await this.references.active(product.id);
    const referenceWindow = (modelVersion !== null ? active.get(modelVersion) : undefined) ?? active.get('');
    if (!referenceWindow) {
      throw new NotFoundException(
        'The product has no active drift reference window: create one (POST /api/v1/drift/reference-windows/period or /dataset) first',
      );
    }
    const reference = await this.referenceRows(product, referenceWindow);
    const periods: PeriodInput[] = [];
    let vessels = reference.length;
    for (let index = periodCount - 1; index >= 0; index -= 1) {
      const periodTo = new Date(to.getTime() - index * periodDays * DAY_MS);
      const periodFrom = new Date(periodTo.getTime() - periodDays * DAY_MS);
      const rows = await this.fieldRows(product, periodFrom, periodTo, modelVersion);
      vessels += rows.length;
      if (vessels > MAX_LABEL_FREE_VESSELS) {
        throw new UnprocessableEntityException(
          `The reference and periods hold more than ${MAX_LABEL_FREE_VESSELS.toLocaleString('en')} vessels: ask for fewer or shorter periods`,
        );
      }
      periods.push({
        from: periodFrom.toISOString(),
        to: periodTo.toISOString(),
        labelsMature: periodTo.getTime() + labelMaturityDays * DAY_MS <= now.getTime(),
        rows,
      });
    }
    const threshold = Number(product.threshold);
    const computed = await this.pool.run({ threshold, reference, periods, bootstrap, seed: BOOTSTRAP_SEED });
    return {
      productId: product.id,
      modelVersion,
      threshold,
      referenceWindow: {
        id: referenceWindow.id,
        kind: referenceWindow.kind,
        label: referenceWindow.label,
        modelVersion: referenceWindow.modelVersion,
      },
      parameters: { to: to.toISOString(), periodDays, periods: periodCount, labelMaturityDays, bootstrap },
      ...computed,
      method:
        'Importance weighting of the reference’s labelled vessels by a logistic domain classifier (reference vs ' +
        'period) on the covariates listed, with inverse-probability weights for verification by CT-FFR stratum; ' +
        'Hájek estimate, cluster (patient) bootstrap percentile CI refitting the classifier. Realised: the period’s own ' +
        'labels, IPW by CT-FFR stratum, linearisation CI. Assumes the error given the covariates is unchanged: a ' +
        'realised value outside the CI is evidence that it changed (concept drift).',
    };
  }

  /** The reference's vessels: an imported dataset's rows, or the product's own analyses of the reference period. */
  private async referenceRows(product: ProductRef, window: ReferenceWindowView): Promise<VesselCaseRow[]> {
    if (window.kind === 'period') {
      return this.fieldRows(
        product,
        new Date(window.periodFrom as string),
        new Date(window.periodTo as string),
        window.modelVersion,
      );
    }
    const rows = await this.dataSource.query<CaseRowDb[]>(
      `SELECT c.case_id AS cluster, c.ct_ffr::text::float8 AS ct_ffr, c.invasive_ffr::text::float8 AS invasive_ffr,
              ${COVARIATE_COLUMNS.replace(/\ba\./g, 'c.')}
         FROM drift_reference_cases c
        WHERE c.reference_id = $1 AND c.status = 'completed' AND c.ct_ffr IS NOT NULL
        ORDER BY c.line`,
      [window.id],
    );
    return rows.map(caseRow);
  }

  /**
   * Vessels of the product's completed analyses with a CTA in [from, to), with the invasive FFR the performance module
   * paired with each (performance_linked_vessels), in a fixed order so the bootstrap is reproducible. The patient is
   * the cluster (its keyed hash, scoped by site; it never leaves the server).
   */
  private async fieldRows(
    product: ProductRef,
    from: Date,
    to: Date,
    modelVersion: string | null,
  ): Promise<VesselCaseRow[]> {
    const rows = await this.dataSource.query<CaseRowDb[]>(
      `SELECT a.site_id::text || ':' || encode(a.patient_key, 'hex') AS cluster, v.ct_ffr::text::float8 AS ct_ffr,
              l.invasive_ffr, ${COVARIATE_COLUMNS}
         FROM analyses a
         JOIN analysis_vessels v ON v.analysis_event_id = a.event_id AND v.analysis_occurred_at = a.occurred_at
         LEFT JOIN performance_linked_vessels l
           ON l.product_id = a.product_id AND l.day = (a.occurred_at AT TIME ZONE 'UTC')::date
          AND l.analysis_event_id = a.event_id AND l.vessel_index = v.vessel_index
        WHERE a.manufacturer_id = $1 AND a.product_id = $2 AND a.status = 'completed'
          AND a.occurred_at >= $3 AND a.occurred_at < $4 AND ($5::text IS NULL OR a.model_version = $5)
        ORDER BY a.occurred_at, a.event_id, v.vessel_index`,
      [product.manufacturerId, product.id, from.toISOString(), to.toISOString(), modelVersion],
    );
    return rows.map(caseRow);
  }

  async onModuleDestroy(): Promise<void> {
    await this.pool.destroy();
  }
}
