import { BadRequestException, Injectable, NotFoundException } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { actorOf, AuditService } from '../audit/audit.service';
import { Principal } from '../auth/roles';
import { requireTenant } from '../auth/tenant-scope';
import { RegistryService } from '../registry/registry.service';
import { DEFAULT_DETECTION_PARAMETERS, DETECTION_RULES, detectionParameters } from './detection-rules';
import { IncidentsService } from './incidents.service';
import { buildMir, mirXml, type MirJson } from './mir-export';
import { jurisdictionOfCountry } from './reporting-clock-rules';
import { DEFAULT_TREND_METHOD, trendMethod } from './trends';
import { TrendReport, TrendsService } from './trends.service';
import { AggregatesQueryDto, PutVigilanceMethodsDto, TrendQueryDto } from './vigilance-analytics.dto';

/** Region of a country for periodic-report aggregation: the platform's jurisdictions, else 'other'. */
export function regionOf(country: string): string {
  return jurisdictionOfCountry(country.trim()) ?? 'other';
}

/**
 * Detection/trend methods per product, trend reports, periodic-report aggregates and MIR exports (issue 5 §1, §4, §5).
 * Request code: row-level security scopes every query to the caller's tenant; requireProduct makes another tenant's
 * product a 404.
 */
@Injectable()
export class VigilanceAnalyticsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly registry: RegistryService,
    private readonly incidents: IncidentsService,
    private readonly trends: TrendsService,
    private readonly audit: AuditService,
  ) {}

  async methods(principal: Principal, productId: string) {
    const product = await this.registry.requireProduct(principal, productId);
    const [row] = await this.dataSource.query<
      Array<{ detection: unknown; trend: unknown; version: number; updated_at: string }>
    >(
      `SELECT detection, trend, version,
              to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS updated_at
         FROM vigilance_methods WHERE product_id = $1`,
      [product.id],
    );
    return {
      productId: product.id,
      threshold: product.ffrThreshold,
      detection: detectionParameters(row?.detection).parameters,
      trend: trendMethod(row?.trend).method,
      overrides: { detection: row?.detection ?? {}, trend: row?.trend ?? {} },
      defaults: { detection: DEFAULT_DETECTION_PARAMETERS, trend: DEFAULT_TREND_METHOD },
      rules: DETECTION_RULES,
      version: row?.version ?? 0,
      updatedAt: row?.updated_at ?? null,
    };
  }

  async putMethods(principal: Principal, dto: PutVigilanceMethodsDto) {
    const tenant = requireTenant(principal);
    const product = await this.registry.requireProduct(principal, dto.productId);
    const problems = [
      ...detectionParameters(dto.detection ?? {}).problems,
      ...trendMethod(dto.trend ?? {}).problems,
    ];
    if (problems.length > 0) throw new BadRequestException(problems);
    await this.dataSource.transaction(async (manager) => {
      const [before] = await manager.query<Array<{ detection: unknown; trend: unknown }>>(
        `SELECT detection, trend FROM vigilance_methods WHERE product_id = $1 FOR UPDATE`,
        [product.id],
      );
      const after = { detection: dto.detection ?? {}, trend: dto.trend ?? {} };
      await manager.query(
        `INSERT INTO vigilance_methods (product_id, manufacturer_id, detection, trend)
         VALUES ($1, $2, $3::jsonb, $4::jsonb)
         ON CONFLICT (product_id) DO UPDATE SET detection = EXCLUDED.detection, trend = EXCLUDED.trend,
                                                version = vigilance_methods.version + 1, updated_at = now()`,
        [product.id, tenant, JSON.stringify(after.detection), JSON.stringify(after.trend)],
      );
      await this.audit.record(
        {
          actor: actorOf(principal),
          action: 'vigilance_method.update',
          entityId: product.id,
          manufacturerId: tenant,
          before: before ?? undefined,
          after,
          reason: dto.reason,
        },
        manager,
      );
    });
    return this.methods(principal, product.id);
  }

  async trendReport(principal: Principal, query: TrendQueryDto): Promise<TrendReport> {
    const product = await this.registry.requireProduct(principal, query.productId);
    const [row] = await this.dataSource.query<Array<{ trend: unknown }>>(
      `SELECT trend FROM vigilance_methods WHERE product_id = $1`,
      [product.id],
    );
    const to = query.to ?? new Date().toISOString().slice(0, 7);
    if (query.from && query.from > to) throw new BadRequestException('from must not be after to');
    return this.trends.compute(
      { id: product.id, manufacturerId: product.manufacturerId, trend: row?.trend },
      to,
      query.from,
    );
  }

  /**
   * Counts and rates by IMDRF code per rolling 12-month window (awareness date in (to − 12 months, to]) and region
   * (the incident's countries: EU/EEA, US, CN, other), with analyses in the same window and region as denominator.
   */
  async aggregates(principal: Principal, query: AggregatesQueryDto) {
    const product = await this.registry.requireProduct(principal, query.productId);
    const to = query.to ?? new Date().toISOString().slice(0, 10);
    if (Number.isNaN(Date.parse(`${to}T00:00:00Z`)))
      throw new BadRequestException('to is not a calendar date');
    const [{ from }] = await this.dataSource.query<Array<{ from: string }>>(
      `SELECT (($1::date - interval '12 months')::date + 1)::text AS from`,
      [to],
    );
    const incidents = await this.dataSource.query<
      Array<{
        countries: string[];
        seriousness: string;
        imdrf: Record<string, string[]>;
        suggested: Record<string, string[]> | null;
      }>
    >(
      `SELECT i.countries, i.seriousness, i.imdrf,
              (SELECT d.imdrf FROM incident_detections d WHERE d.incident_id = i.id LIMIT 1) AS suggested
         FROM incidents i WHERE i.product_id = $1 AND i.awareness_date BETWEEN $2::date AND $3::date`,
      [product.id, from, to],
    );
    const analyses = await this.dataSource.query<Array<{ country: string; analyses: number }>>(
      `SELECT s.country, count(*)::int AS analyses FROM analyses a JOIN sites s ON s.id = a.site_id
        WHERE a.product_id = $1 AND a.occurred_at >= $2::date AND a.occurred_at < $3::date + 1
        GROUP BY s.country`,
      [product.id, from, to],
    );
    const exposure = new Map<string, number>();
    for (const row of analyses)
      exposure.set(regionOf(row.country), (exposure.get(regionOf(row.country)) ?? 0) + row.analyses);
    const cells = new Map<
      string,
      { region: string; annex: string; code: string; total: number; serious: number; codedBy: Set<string> }
    >();
    for (const incident of incidents) {
      const validated = Object.keys(incident.imdrf).length > 0;
      const coding = validated ? incident.imdrf : (incident.suggested ?? {});
      const entries = Object.entries(coding).flatMap(([annex, codes]) =>
        codes.map((code) => [annex, code] as const),
      );
      if (entries.length === 0) entries.push(['-', 'uncoded']);
      for (const region of new Set(incident.countries.map(regionOf))) {
        for (const [annex, code] of entries) {
          const key = `${region}|${code}`;
          const cell = cells.get(key) ?? {
            region,
            annex,
            code,
            total: 0,
            serious: 0,
            codedBy: new Set<string>(),
          };
          cell.total++;
          if (incident.seriousness !== 'non_serious') cell.serious++;
          cell.codedBy.add(validated ? 'triage' : 'detection-suggestion');
          cells.set(key, cell);
        }
      }
    }
    const rows = [...cells.values()]
      .sort((a, b) => (a.region + a.code < b.region + b.code ? -1 : 1))
      .map((cell) => {
        const denominator = exposure.get(cell.region) ?? 0;
        return {
          region: cell.region,
          annex: cell.annex,
          code: cell.code,
          incidents: cell.total,
          serious: cell.serious,
          nonSerious: cell.total - cell.serious,
          analyses: denominator,
          ratePer1000Analyses: denominator > 0 ? (1000 * cell.total) / denominator : null,
          codedBy: [...cell.codedBy].sort(),
        };
      });
    return {
      productId: product.id,
      window: { from, to, months: 12 },
      regions: Object.fromEntries([...exposure.entries()].sort()),
      incidents: incidents.length,
      rows,
    };
  }

  async mir(
    principal: Principal,
    incidentId: string,
  ): Promise<{ mir: Record<string, MirJson>; notHeld: string[] }> {
    const tenant = requireTenant(principal);
    const incident = await this.incidents.get(principal, incidentId);
    const product = await this.registry.requireProduct(principal, incident.productId);
    const [manufacturer] = await this.dataSource.query<Array<{ name: string }>>(
      `SELECT name FROM manufacturers WHERE id = $1`,
      [tenant],
    );
    if (!manufacturer) throw new NotFoundException(`Incident ${incidentId} does not exist`);
    const [detection] = await this.dataSource.query<
      Array<{
        rule_id: string;
        evidence: Record<string, unknown>;
        device_code: string | null;
        software_version: string | null;
        model_version: string | null;
        site_code: string | null;
        country: string | null;
        age_years: number | null;
        sex: string | null;
      }>
    >(
      `SELECT d.rule_id, d.evidence, dv.device_code, dv.software_version, dv.model_version, s.site_code,
              trim(s.country) AS country, a.age_years, a.sex
         FROM incident_detections d
         LEFT JOIN devices dv ON dv.id = d.device_id
         LEFT JOIN sites s ON s.id = d.site_id
         LEFT JOIN analyses a ON a.event_id::text = d.evidence->>'analysisEventId'
        WHERE d.incident_id = $1 LIMIT 1`,
      [incident.id],
    );
    return buildMir(
      {
        incident: {
          ...incident,
          nextDeadline: incident.nextDeadline
            ? { rule: incident.nextDeadline.rule, dueAt: incident.nextDeadline.dueAt }
            : null,
        },
        manufacturer: { id: tenant, name: manufacturer.name },
        product: { id: product.id, name: product.name, udiDi: product.udiDi, riskClass: product.riskClass },
        detection: detection
          ? {
              ruleId: detection.rule_id,
              evidence: detection.evidence,
              device: detection.device_code
                ? {
                    code: detection.device_code,
                    // The analysis's own versions when the evidence names them, else the device's current ones.
                    softwareVersion: textOr(detection.evidence.softwareVersion, detection.software_version),
                    modelVersion: textOr(detection.evidence.modelVersion, detection.model_version),
                  }
                : null,
              site: detection.site_code
                ? { code: detection.site_code, country: detection.country ?? '' }
                : null,
            }
          : null,
        patient:
          detection && (detection.age_years !== null || detection.sex !== null)
            ? { ageYears: detection.age_years, sex: detection.sex }
            : null,
      },
      new Date().toISOString(),
    );
  }

  async mirXml(principal: Principal, incidentId: string): Promise<string> {
    const { mir, notHeld } = await this.mir(principal, incidentId);
    return mirXml(mir, notHeld);
  }
}

function textOr(value: unknown, fallback: string | null): string {
  return typeof value === 'string' ? value : (fallback ?? '');
}
