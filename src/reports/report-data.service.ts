import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { Principal } from '../auth/roles';
import { PerformanceQueryDto } from '../performance/performance.dto';
import { PerformanceService } from '../performance/performance.service';
import { RegistryService } from '../registry/registry.service';
import { PairCell } from '../stats/pair-histogram';
import { IncidentsService } from '../vigilance/incidents.service';
import { VigilanceAnalyticsService } from '../vigilance/vigilance-analytics.service';
import { ReportConfiguration } from './report-configuration';
import {
  DriftInputs,
  DriftSeries,
  IncidentInput,
  PopulationInputs,
  ReportInputs,
  TrendInputs,
  VolumeRow,
  VolumeWindow,
} from './report-inputs';
import { addDays, rollingWindows } from './report-period';
import { EEA_TR_XI, ReportType } from './report-rules';

/** Region of a site's country in the MDCG 2022-21 tables; CN and US apart for the NMPA and FDA readers. */
export function reportRegionOf(country: string): string {
  const code = country.trim().toUpperCase();
  if (EEA_TR_XI.includes(code)) return 'EEA+TR+XI';
  if (code === 'CN' || code === 'US') return code;
  return 'other';
}

/** Statement timeout of the period's aggregate queries (volume, population, the linked-pair histogram). */
const AGGREGATE_STATEMENT_TIMEOUT = '300s';
/**
 * Memory of each sort or hash of those queries (the server's default is 4 MB): grouping a year of a large product's
 * analyses by patient (a million of them at 1M analyses) then stays in memory instead of spilling to temporary files in
 * some eighty batches. A report runs four such queries at once, each with one or two sorts or hashes.
 */
const AGGREGATE_WORK_MEM = '64MB';

/** The period's analyses of one product: $1 manufacturer, $2 product, $3 from, $4 to (exclusive), UTC dates. */
const PERIOD_SCOPE = `a.manufacturer_id = $1 AND a.product_id = $2 AND a.occurred_at >= $3::date AND a.occurred_at < $4::date`;

/**
 * One pass: the period's analyses by age band, by sex, by scanner vendor, and all of them with their latest arrival.
 * Labels ordered by the database (its collation), as the tables always were: sexes by label, vendors by count
 * descending then label.
 */
const COUNTS_SQL = `SELECT CASE WHEN grouping(b.band) = 0 THEN 'band' WHEN grouping(b.sex) = 0 THEN 'sex'
                   WHEN grouping(b.vendor) = 0 THEN 'vendor' ELSE 'all' END AS kind,
              coalesce(b.band, b.sex, b.vendor) AS label, count(*)::int AS analyses,
              to_char(max(b.received_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS latest
         FROM (SELECT CASE WHEN a.age_years IS NULL THEN 'not recorded'
                           WHEN a.age_years < 40 THEN '<40' WHEN a.age_years < 50 THEN '40–49'
                           WHEN a.age_years < 60 THEN '50–59' WHEN a.age_years < 70 THEN '60–69'
                           WHEN a.age_years < 80 THEN '70–79' ELSE '≥80' END AS band,
                      coalesce(a.sex, 'not recorded') AS sex, coalesce(a.scanner_vendor, 'not recorded') AS vendor,
                      a.received_at
                 FROM analyses a WHERE ${PERIOD_SCOPE}) b
        GROUP BY GROUPING SETS ((b.band), (b.sex), (b.vendor), ())
        ORDER BY 1, CASE WHEN grouping(b.vendor) = 0 THEN count(*) END DESC, 2`;

export const REGION_ORDER = ['EEA+TR+XI', 'CN', 'US', 'other', 'Worldwide'] as const;

const NO_DRIFT_DATA =
  'No drift monitoring data exists for this period: the platform holds no drift evaluations or drift alerts for this ' +
  'product in the data collection period.';

/**
 * Gathers a report's inputs from the modules that own them: performance (PerformanceService, every figure with its n
 * and 95% CI), vigilance (incidents, trend reports), registry. Volume of use and population are read-only aggregates
 * of the stored analyses (no module offers them); the (CT-FFR, FFR) histogram for the charts is read the way the
 * performance module pairs vessels. Every query is tenant-scoped twice: by the caller's manufacturer and by row-level
 * security.
 */
@Injectable()
export class ReportDataService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly registry: RegistryService,
    private readonly performance: PerformanceService,
    private readonly incidents: IncidentsService,
    private readonly analytics: VigilanceAnalyticsService,
  ) {}

  async gather(
    principal: Principal,
    input: {
      reportId: string | null;
      type: ReportType;
      productId: string;
      from: string;
      to: string;
      reference: string;
    },
    configuration: ReportConfiguration,
    /** The performance module's path: `auto` on a first generation, the stored one when verifying. */
    detail: 'auto' | 'full' | 'summary',
  ): Promise<ReportInputs> {
    const product = await this.registry.requireProduct(principal, input.productId);
    const manufacturer = await this.registry.requireManufacturer(product.manufacturerId);
    const tenant = product.manufacturerId;
    const toExclusive = addDays(input.to, 1);
    const windows = rollingWindows(input.to, configuration.windowMonths, configuration.rollingWindows);
    const earliest = windows[windows.length - 1].from;

    const modelVersions = await this.dataSource.query<
      Array<{ version: string; released_at: string; notes: string | null }>
    >(
      `SELECT version, to_char(released_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS released_at, notes
         FROM model_versions WHERE product_id = $1 ORDER BY released_at, version`,
      [product.id],
    );
    const [previous] = await this.dataSource.query<
      Array<{ reference: string; period_from: string; period_to: string; finalized_at: string }>
    >(
      `SELECT reference, period_from::text, period_to::text,
              to_char(finalized_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS finalized_at
         FROM periodic_reports
        WHERE manufacturer_id = $1 AND product_id = $2 AND type = $3 AND status = 'final' AND period_to < $4::date
          AND ($5::uuid IS NULL OR id <> $5)
        ORDER BY period_to DESC LIMIT 1`,
      [tenant, product.id, input.type, input.from, input.reportId],
    );
    const [first] = await this.dataSource.query<Array<{ first: string | null }>>(
      `SELECT to_char(min(occurred_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS first
         FROM analyses WHERE manufacturer_id = $1 AND product_id = $2`,
      [tenant, product.id],
    );

    const query = {
      productId: product.id,
      from: input.from,
      to: toExclusive,
      threshold: configuration.threshold,
      margin: configuration.nonInferiorityMargin,
      detail,
    };
    // At once, each on its own connection: the period's scans of the stored analyses (PostgreSQL's CPU), the performance
    // module's answers (partly this process's CPU), the vigilance and drift reads. Nothing in one reads what another
    // computes, so the figures are those of a sequential build.
    const [aggregates, reads] = await Promise.all([
      this.aggregates(tenant, product.id, windows, input.from, toExclusive),
      this.moduleReads(
        principal,
        product.id,
        query,
        { earliest, from: input.from, to: input.to, toExclusive },
        tenant,
      ),
    ]);
    const { volume, installedBase, population, pairCells, marks } = aggregates;
    const { overall, bySite, byModelVersion, byScannerVendor, incidents, trend, drift } = reads;
    const overallOnly: ReportInputs['performance']['overall'] = {
      productId: overall.productId,
      period: overall.period,
      threshold: overall.threshold,
      detail: overall.detail,
      linkage: overall.linkage,
      overall: overall.overall,
      verificationBias: overall.verificationBias,
      claims: overall.claims,
    };

    const incidentUpdates = incidents.updatedAt.sort();

    return {
      type: input.type,
      reference: input.reference,
      period: { from: input.from, to: input.to },
      manufacturer: { name: manufacturer.name },
      product: {
        id: product.id,
        name: product.name,
        udiDi: product.udiDi,
        riskClass: product.riskClass,
        jurisdictions: [...product.jurisdictions].sort(),
        ffrThreshold: product.ffrThreshold,
        premarketClaims: product.premarketClaims,
      },
      modelVersions: modelVersions.map((row) => ({
        version: row.version,
        releasedAt: row.released_at,
        notes: row.notes,
      })),
      previousReport: previous
        ? {
            reference: previous.reference,
            from: previous.period_from,
            to: previous.period_to,
            finalizedAt: previous.finalized_at,
          }
        : null,
      firstAnalysisAt: first?.first ?? null,
      volume,
      installedBase,
      population,
      incidents: incidents.items,
      trend,
      performance: {
        detail: overall.detail,
        overall: overallOnly,
        bySite: bySite.groups ?? [],
        byModelVersion: byModelVersion.groups ?? [],
        byScannerVendor: byScannerVendor.groups ?? [],
        pairCells,
      },
      drift,
      dataMarks: {
        analysesInPeriod: marks.analyses,
        analysesLatestReceivedAt: marks.latest,
        incidentsInWindows: incidents.items.length,
        incidentsLatestUpdatedAt:
          incidentUpdates.length > 0 ? incidentUpdates[incidentUpdates.length - 1] : null,
        linkedVesselsInPeriod: overall.overall.vessels,
      },
    };
  }

  /**
   * The period's aggregates, each query a scan of the product's analyses: four at once on their own connections, so
   * that the server's cores share them (a report takes at most six of the app's pool of twelve connections: four
   * here, one for the performance answers, one for vigilance and drift).
   */
  private async aggregates(
    tenant: string,
    productId: string,
    windows: Array<{ label: string; from: string; to: string }>,
    from: string,
    toExclusive: string,
  ) {
    const [devices, { population, marks }, pairCells] = await Promise.all([
      this.batch(async (manager) => ({
        volume: await this.volume(manager, tenant, productId, windows),
        installedBase: await this.installedBase(manager, tenant, productId),
      })),
      this.population(tenant, productId, from, toExclusive),
      this.batch((manager) => this.pairCells(manager, tenant, productId, from, toExclusive)),
    ]);
    return { ...devices, population, pairCells, marks };
  }

  /**
   * A batch job's read transaction: more than an API request's 30 s statement timeout (src/database/data-source.ts)
   * for scans of every analysis of a product on a loaded server, and more memory per sort or hash.
   */
  private batch<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query(`SET LOCAL statement_timeout = '${AGGREGATE_STATEMENT_TIMEOUT}'`);
      await manager.query(`SET LOCAL work_mem = '${AGGREGATE_WORK_MEM}'`);
      return work(manager);
    });
  }

  /**
   * Performance overall and by site, model version and scanner vendor (four answers of the performance module: a
   * grouped answer's own overall is not the ungrouped one on the vessel-level path, whose seeded patient bootstrap
   * depends on the vessels' order), one after another — the vessel-level path runs them in a bounded worker pool
   * whose queue other users share; meanwhile incidents, trend and drift.
   */
  private async moduleReads(
    principal: Principal,
    productId: string,
    query: PerformanceQueryDto,
    period: { earliest: string; from: string; to: string; toExclusive: string },
    tenant: string,
  ) {
    const performance = async () => ({
      overall: await this.performance.performance(principal, query),
      bySite: await this.performance.performance(principal, { ...query, groupBy: 'site' }),
      byModelVersion: await this.performance.performance(principal, { ...query, groupBy: 'modelVersion' }),
      byScannerVendor: await this.performance.performance(principal, { ...query, groupBy: 'scannerVendor' }),
    });
    const surveillance = async () => ({
      incidents: await this.incidentsSince(principal, productId, period.earliest, period.to),
      trend: await this.trend(principal, productId, period.from, period.to),
      drift: await this.drift(tenant, productId, period.from, period.toExclusive),
    });
    const [answers, others] = await Promise.all([performance(), surveillance()]);
    return { ...answers, ...others };
  }

  /** Episodes of use (analyses) and active installed base per rolling window and region (MDCG 2022-21 Table 1). */
  private async volume(
    manager: EntityManager,

    tenant: string,
    productId: string,
    windows: Array<{ label: string; from: string; to: string }>,
  ) {
    const rows = await manager.query<
      Array<{
        idx: number;
        country: string;
        analyses: number;
        completed: number;
        rejected: number;
        failed: number;
        devices: number;
        sites: number;
      }>
    >(
      // Distinct devices and sites per window and country from one hash aggregate per (window, device, site) — a few
      // hundred rows — instead of two DISTINCT counts that sort every analysis of the window.
      `SELECT d.idx, trim(s.country) AS country, sum(d.analyses)::int AS analyses,
              sum(d.completed)::int AS completed, sum(d.rejected)::int AS rejected, sum(d.failed)::int AS failed,
              count(DISTINCT d.device_id)::int AS devices, count(DISTINCT d.site_id)::int AS sites
         FROM (SELECT w.idx, a.device_id, a.site_id, count(*) AS analyses,
                      count(*) FILTER (WHERE a.status = 'completed') AS completed,
                      count(*) FILTER (WHERE a.status = 'rejected') AS rejected,
                      count(*) FILTER (WHERE a.status = 'failed') AS failed
                 FROM unnest($3::date[], $4::date[]) WITH ORDINALITY AS w(wfrom, wto, idx)
                 JOIN analyses a ON a.manufacturer_id = $1 AND a.product_id = $2
                                AND a.occurred_at >= w.wfrom AND a.occurred_at < w.wto + 1
                GROUP BY 1, 2, 3) d
         JOIN sites s ON s.id = d.site_id
        GROUP BY 1, 2`,
      [tenant, productId, windows.map((w) => w.from), windows.map((w) => w.to)],
    );
    return windows.map((window, index): VolumeWindow => {
      const byRegion = new Map<string, VolumeRow>();
      const add = (region: string, row: (typeof rows)[number]) => {
        const current = byRegion.get(region) ?? {
          region,
          analyses: 0,
          completed: 0,
          rejected: 0,
          failed: 0,
          activeDevices: 0,
          activeSites: 0,
        };
        // A device and a site stand in one country: distinct counts per country add up to the region's.
        current.analyses += row.analyses;
        current.completed += row.completed;
        current.rejected += row.rejected;
        current.failed += row.failed;
        current.activeDevices += row.devices;
        current.activeSites += row.sites;
        byRegion.set(region, current);
      };
      for (const row of rows.filter((r) => Number(r.idx) === index + 1)) {
        add(reportRegionOf(row.country), row);
        add('Worldwide', row);
      }
      return {
        ...window,
        regions: REGION_ORDER.map(
          (region) =>
            byRegion.get(region) ?? {
              region,
              analyses: 0,
              completed: 0,
              rejected: 0,
              failed: 0,
              activeDevices: 0,
              activeSites: 0,
            },
        ),
      };
    });
  }

  private async installedBase(
    manager: EntityManager,
    tenant: string,
    productId: string,
  ): Promise<ReportInputs['installedBase']> {
    const rows = await manager.query<
      Array<{ country: string; sites: number; devices: number; revoked: number }>
    >(
      `SELECT trim(s.country) AS country, count(DISTINCT d.site_id)::int AS sites, count(*)::int AS devices,
              count(*) FILTER (WHERE d.revoked_at IS NOT NULL)::int AS revoked
         FROM devices d JOIN sites s ON s.id = d.site_id
        WHERE d.manufacturer_id = $1 AND d.product_id = $2
        GROUP BY 1 ORDER BY 1`,
      [tenant, productId],
    );
    return {
      devicesRegistered: rows.reduce((sum, row) => sum + row.devices, 0),
      devicesRevoked: rows.reduce((sum, row) => sum + row.revoked, 0),
      byCountry: rows.map(({ country, sites, devices }) => ({ country, sites, devices })),
    };
  }

  /**
   * Patients exposed (distinct site-scoped pseudonym hashes) and their characteristics (Tables 2–3), and the period's
   * data marks (analyses, latest arrival). Two passes over the period's analyses: one groups them by patient (a
   * patient key is scoped to its site, so a patient stands in one country), one counts them by age band, sex and
   * scanner vendor at once (grouping sets). Both at once, on two connections.
   */
  private async population(
    tenant: string,
    productId: string,
    from: string,
    toExclusive: string,
  ): Promise<{ population: PopulationInputs; marks: { analyses: number; latest: string | null } }> {
    const parameters = [tenant, productId, from, toExclusive];
    // country is null for analyses whose site this tenant cannot see: counted in the totals, in no region.
    const patientsQuery = this.batch((manager) =>
      manager.query<
        Array<{ country: string | null; patients: number; analyses: number; max_per_patient: number }>
      >(
        `SELECT trim(s.country) AS country, count(*)::int AS patients, sum(p.n)::int AS analyses,
              max(p.n)::int AS max_per_patient
         FROM (SELECT a.site_id, count(*) AS n FROM analyses a WHERE ${PERIOD_SCOPE} GROUP BY a.site_id, a.patient_key) p
         LEFT JOIN sites s ON s.id = p.site_id
        GROUP BY 1`,
        parameters,
      ),
    );
    const countsQuery = this.batch((manager) =>
      manager.query<
        Array<{
          kind: 'all' | 'band' | 'sex' | 'vendor';
          label: string | null;
          analyses: number;
          latest: string | null;
        }>
      >(COUNTS_SQL, parameters),
    );
    const [patientsByCountry, counts] = await Promise.all([patientsQuery, countsQuery]);
    const regions = patientsByCountry.filter(
      (row): row is (typeof patientsByCountry)[number] & { country: string } => row.country !== null,
    );
    const totals = {
      patients: patientsByCountry.reduce((sum, row) => sum + row.patients, 0),
      analyses: patientsByCountry.reduce((sum, row) => sum + row.analyses, 0),
      max_per_patient:
        patientsByCountry.length > 0
          ? Math.max(...patientsByCountry.map((row) => row.max_per_patient))
          : null,
    };
    const ages = counts.filter((row) => row.kind === 'band');
    const sex = counts
      .filter((row) => row.kind === 'sex')
      .map((row) => ({ sex: row.label!, analyses: row.analyses }));
    const vendors = counts
      .filter((row) => row.kind === 'vendor')
      .map((row) => ({ vendor: row.label!, analyses: row.analyses }));
    const all = counts.find((row) => row.kind === 'all');
    const byRegion = new Map<string, { region: string; patients: number; analyses: number }>();
    for (const row of regions) {
      for (const region of [reportRegionOf(row.country), 'Worldwide']) {
        const current = byRegion.get(region) ?? { region, patients: 0, analyses: 0 };
        current.patients += row.patients;
        current.analyses += row.analyses;
        byRegion.set(region, current);
      }
    }
    const bandOrder = ['<40', '40–49', '50–59', '60–69', '70–79', '≥80', 'not recorded'];
    const population: PopulationInputs = {
      analyses: totals.analyses,
      patients: totals.patients,
      byRegion: REGION_ORDER.map((region) => byRegion.get(region) ?? { region, patients: 0, analyses: 0 }),
      ageBands: bandOrder.map((band) => ({
        band,
        analyses: ages.find((row) => row.label === band)?.analyses ?? 0,
      })),
      sex,
      scannerVendors: vendors,
      analysesPerPatient: {
        mean: totals.patients > 0 ? totals.analyses / totals.patients : null,
        max: totals.max_per_patient,
      },
    };
    return { population, marks: { analyses: all?.analyses ?? 0, latest: all?.latest ?? null } };
  }

  /** Every incident of the product with awareness in the rolling windows, through the vigilance service. */
  private async incidentsSince(principal: Principal, productId: string, from: string, to: string) {
    const items: IncidentInput[] = [];
    const updatedAt: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.incidents.list(principal, { productId, limit: 500, cursor });
      for (const incident of page.items) {
        if (incident.awarenessDate < from || incident.awarenessDate > to) continue;
        items.push({
          id: incident.id,
          awarenessDate: incident.awarenessDate,
          seriousness: incident.seriousness,
          state: incident.state,
          causality: incident.causality,
          source: incident.source,
          countries: [...incident.countries].map((c) => c.trim()).sort(),
          imdrf: Object.fromEntries(
            Object.entries(incident.imdrf)
              .sort(([a], [b]) => a.localeCompare(b))
              .map(([annex, codes]) => [annex, [...codes].sort()]),
          ),
        });
        updatedAt.push(incident.updatedAt);
      }
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    items.sort((a, b) => a.awarenessDate.localeCompare(b.awarenessDate) || a.id.localeCompare(b.id));
    return { items, updatedAt };
  }

  /** The product's Art. 88 trend evaluation over the period's months, with its pre-specified method. */
  private async trend(
    principal: Principal,
    productId: string,
    from: string,
    to: string,
  ): Promise<TrendInputs | null> {
    const report = await this.analytics.trendReport(principal, {
      productId,
      from: from.slice(0, 7),
      to: to.slice(0, 7),
    });
    return {
      method: report.method,
      falseAlarm: report.falseAlarm,
      months: report.months,
      cellsTested: report.cells.filter((cell) => cell.tested).length,
      // The stored signal's id and detection time depend on when the schedule ran, not on the data: left out.
      signals: report.signals.map((signal) => ({
        month: signal.month,
        unit: signal.unit,
        group: signal.group,
        count: signal.count,
        exposure: signal.exposure,
        ratePer1000: signal.ratePer1000,
        baselineRatePer1000: signal.baseline.ratePer1000,
        rateRatio: signal.rateRatio,
        pValue: signal.pValue,
      })),
    };
  }

  /**
   * The (CT-FFR, invasive FFR) histogram of the period's linked vessels for the Bland–Altman and ROC charts: one pair
   * per CT-FFR vessel, the first measurement after the CTA — the pairing of src/performance (performance.service.ts
   * fromVessels), so the charts show the vessels the figures were computed on.
   */
  private async pairCells(
    manager: EntityManager,

    tenant: string,
    productId: string,
    from: string,
    toExclusive: string,
  ): Promise<PairCell[]> {
    const rows = await manager.query<Array<{ ct_ffr: number; invasive_ffr: number; vessels: number }>>(
      `SELECT r.ct_ffr, r.invasive_ffr, count(*)::int AS vessels FROM (
         SELECT DISTINCT ON (l.analysis_event_id, l.vessel_index) l.ct_ffr, l.invasive_ffr
           FROM ffr_links l
           -- With the partition key, as src/performance reads links (docs/storage/partitioning.md): each analysis is
           -- looked up in its own month only, not in every monthly partition.
           JOIN analyses a ON a.event_id = l.analysis_event_id AND a.occurred_at = l.analysis_occurred_at
          WHERE l.manufacturer_id = $1 AND l.status = 'linked' AND a.product_id = $2
            AND l.analysis_occurred_at >= $3::date AND l.analysis_occurred_at < $4::date
            AND a.occurred_at >= $3::date AND a.occurred_at < $4::date
          ORDER BY l.analysis_event_id, l.vessel_index, l.measured_at, l.outcome_event_id) r
       GROUP BY 1, 2 ORDER BY 1, 2`,
      [tenant, productId, from, toExclusive],
    );
    return rows.map((row) => ({ ctFfr: row.ct_ffr, invasiveFfr: row.invasive_ffr, vessels: row.vessels }));
  }

  /**
   * Drift monitoring (src/drift): alerts of the product that were open at some time in the period, with their state
   * at the period's end, and each monitor's statistic against its calibrated threshold per evaluation (control
   * charts). The drift tables are probed, not assumed: where the platform holds no drift data, the report says so.
   */
  private async drift(
    tenant: string,
    productId: string,
    from: string,
    toExclusive: string,
  ): Promise<DriftInputs> {
    const [probe] = await this.dataSource.query<Array<{ alerts: string | null; results: string | null }>>(
      `SELECT to_regclass('public.drift_alerts')::text AS alerts, to_regclass('public.drift_evaluation_results')::text AS results`,
    );
    if (!probe?.alerts || !probe.results) return { available: false, statement: NO_DRIFT_DATA };
    const alerts = await this.dataSource.query<
      Array<{
        id: string;
        monitor_id: string;
        family: string;
        segment: string;
        opened_at: string;
        resolved_at: string | null;
        acknowledged_at: string | null;
        resolve_reason: string | null;
      }>
    >(
      `SELECT id, monitor_id, family, segment_kind || ':' || segment_key AS segment,
              to_char(opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS opened_at,
              CASE WHEN resolved_at < $4::date THEN to_char(resolved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') END AS resolved_at,
              CASE WHEN acknowledged_at < $4::date THEN to_char(acknowledged_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') END AS acknowledged_at,
              CASE WHEN resolved_at < $4::date THEN resolve_reason END AS resolve_reason
         FROM drift_alerts
        WHERE manufacturer_id = $1 AND product_id = $2 AND opened_at < $4::date
          AND (resolved_at IS NULL OR resolved_at >= $3::date)
        ORDER BY opened_at, id`,
      [tenant, productId, from, toExclusive],
    );
    const points = await this.dataSource.query<
      Array<{ monitor_id: string; at: string; statistic: number; threshold: number | null; alarm: boolean }>
    >(
      `SELECT r.monitor_id, to_char(e.evaluated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS at,
              r.statistic, r.threshold, r.alarm
         FROM drift_evaluations e
         JOIN drift_evaluation_results r ON r.evaluation_id = e.id
        WHERE e.manufacturer_id = $1 AND e.product_id = $2 AND e.evaluated_at >= $3::date AND e.evaluated_at < $4::date
          AND r.segment_kind = 'overall' AND r.estimable AND r.statistic IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM drift_evaluations later WHERE later.supersedes = e.id)
        ORDER BY r.monitor_id, e.evaluated_at, e.id`,
      [tenant, productId, from, toExclusive],
    );
    if (alerts.length === 0 && points.length === 0) return { available: false, statement: NO_DRIFT_DATA };
    const series = new Map<string, DriftSeries>();
    for (const point of points) {
      const current = series.get(point.monitor_id) ?? { monitor: point.monitor_id, points: [] };
      current.points.push({
        at: point.at,
        value: point.statistic,
        threshold: point.threshold,
        alarm: point.alarm,
      });
      series.set(point.monitor_id, current);
    }
    return {
      available: true,
      alerts: alerts.map((alert) => ({
        id: alert.id,
        monitor: alert.monitor_id,
        family: alert.family,
        segment: alert.segment,
        openedAt: alert.opened_at,
        statusAtPeriodEnd: alert.resolved_at ? 'resolved' : alert.acknowledged_at ? 'acknowledged' : 'open',
        resolvedAt: alert.resolved_at,
        resolution: alert.resolve_reason,
      })),
      series: [...series.values()],
    };
  }
}
