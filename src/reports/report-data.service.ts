import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { Principal } from '../auth/roles';
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

    // The period's aggregates scan every analysis of the product: a batch job's queries, given more than an API
    // request's 30 s statement timeout (src/database/data-source.ts) on a loaded server.
    const { volume, installedBase, population, pairCells } = await this.dataSource.transaction(
      async (manager) => {
        await manager.query(`SET LOCAL statement_timeout = '${AGGREGATE_STATEMENT_TIMEOUT}'`);
        return {
          volume: await this.volume(manager, tenant, product.id, windows),
          installedBase: await this.installedBase(manager, tenant, product.id),
          population: await this.population(manager, tenant, product.id, input.from, toExclusive),
          pairCells: await this.pairCells(manager, tenant, product.id, input.from, toExclusive),
        };
      },
    );
    const incidents = await this.incidentsSince(principal, product.id, earliest, input.to);
    const trend = await this.trend(principal, product.id, input.from, input.to);

    const query = {
      productId: product.id,
      from: input.from,
      to: toExclusive,
      threshold: configuration.threshold,
      margin: configuration.nonInferiorityMargin,
      detail,
    };
    const overall = await this.performance.performance(principal, query);
    const bySite = await this.performance.performance(principal, { ...query, groupBy: 'site' });
    const byModelVersion = await this.performance.performance(principal, {
      ...query,
      groupBy: 'modelVersion',
    });
    const byScannerVendor = await this.performance.performance(principal, {
      ...query,
      groupBy: 'scannerVendor',
    });
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

    const [marks] = await this.dataSource.query<Array<{ analyses: number; latest: string | null }>>(
      `SELECT count(*)::int AS analyses,
              to_char(max(received_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS latest
         FROM analyses WHERE manufacturer_id = $1 AND product_id = $2 AND occurred_at >= $3::date AND occurred_at < $4::date`,
      [tenant, product.id, input.from, toExclusive],
    );
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
      drift: await this.drift(tenant, product.id, input.from, toExclusive),
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
      `SELECT w.idx, trim(s.country) AS country, count(*)::int AS analyses,
              count(*) FILTER (WHERE a.status = 'completed')::int AS completed,
              count(*) FILTER (WHERE a.status = 'rejected')::int AS rejected,
              count(*) FILTER (WHERE a.status = 'failed')::int AS failed,
              count(DISTINCT a.device_id)::int AS devices, count(DISTINCT a.site_id)::int AS sites
         FROM unnest($3::date[], $4::date[]) WITH ORDINALITY AS w(wfrom, wto, idx)
         JOIN analyses a ON a.manufacturer_id = $1 AND a.product_id = $2
                        AND a.occurred_at >= w.wfrom AND a.occurred_at < w.wto + 1
         JOIN sites s ON s.id = a.site_id
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

  /** Patients exposed (distinct site-scoped pseudonym hashes) and their characteristics (Tables 2–3). */
  private async population(
    manager: EntityManager,
    tenant: string,
    productId: string,
    from: string,
    toExclusive: string,
  ) {
    const parameters = [tenant, productId, from, toExclusive];
    const scope = `a.manufacturer_id = $1 AND a.product_id = $2 AND a.occurred_at >= $3::date AND a.occurred_at < $4::date`;
    const regions = await manager.query<Array<{ country: string; patients: number; analyses: number }>>(
      `SELECT trim(s.country) AS country, count(DISTINCT (a.site_id, a.patient_key))::int AS patients,
              count(*)::int AS analyses
         FROM analyses a JOIN sites s ON s.id = a.site_id WHERE ${scope} GROUP BY 1`,
      parameters,
    );
    const [totals] = await manager.query<
      Array<{ patients: number; analyses: number; max_per_patient: number | null }>
    >(
      `SELECT count(*)::int AS patients, coalesce(sum(n), 0)::int AS analyses, max(n)::int AS max_per_patient
         FROM (SELECT count(*) AS n FROM analyses a WHERE ${scope} GROUP BY a.site_id, a.patient_key) p`,
      parameters,
    );
    const ages = await manager.query<Array<{ band: string; analyses: number }>>(
      `SELECT CASE WHEN a.age_years IS NULL THEN 'not recorded'
                   WHEN a.age_years < 40 THEN '<40' WHEN a.age_years < 50 THEN '40–49'
                   WHEN a.age_years < 60 THEN '50–59' WHEN a.age_years < 70 THEN '60–69'
                   WHEN a.age_years < 80 THEN '70–79' ELSE '≥80' END AS band, count(*)::int AS analyses
         FROM analyses a WHERE ${scope} GROUP BY 1`,
      parameters,
    );
    const sex = await manager.query<Array<{ sex: string; analyses: number }>>(
      `SELECT coalesce(a.sex, 'not recorded') AS sex, count(*)::int AS analyses FROM analyses a WHERE ${scope}
        GROUP BY 1 ORDER BY 1`,
      parameters,
    );
    const vendors = await manager.query<Array<{ vendor: string; analyses: number }>>(
      `SELECT coalesce(a.scanner_vendor, 'not recorded') AS vendor, count(*)::int AS analyses FROM analyses a
        WHERE ${scope} GROUP BY 1 ORDER BY 2 DESC, 1`,
      parameters,
    );
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
    return {
      analyses: totals.analyses,
      patients: totals.patients,
      byRegion: REGION_ORDER.map((region) => byRegion.get(region) ?? { region, patients: 0, analyses: 0 }),
      ageBands: bandOrder.map((band) => ({
        band,
        analyses: ages.find((row) => row.band === band)?.analyses ?? 0,
      })),
      sex,
      scannerVendors: vendors,
      analysesPerPatient: {
        mean: totals.patients > 0 ? totals.analyses / totals.patients : null,
        max: totals.max_per_patient,
      },
    };
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
           JOIN analyses a ON a.event_id = l.analysis_event_id
          WHERE l.manufacturer_id = $1 AND l.status = 'linked' AND a.product_id = $2
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
