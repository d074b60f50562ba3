import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Principal } from '../auth/roles';
import { RegistryService } from '../registry/registry.service';
import { LinkedVessel } from '../stats/proportions';
import { ClaimComparison, compareWithClaims } from './claims';
import { GroupBy, PerformanceQueryDto } from './performance.dto';
import { PerformanceFigures, performanceFigures } from './performance-report';
import { VerificationBiasFigures, verificationBiasFigures } from './verification-bias-report';
import { PERFORMANCE_RULES } from './performance-rules';

interface LinkedVesselRow {
  patient_id: string;
  ct_ffr: number;
  invasive_ffr: number;
  site: string;
  model_version: string;
  scanner_vendor: string;
  vessel: string;
  month: string;
  quarter: string;
}

const GROUP_COLUMN: Record<GroupBy, keyof LinkedVesselRow> = {
  site: 'site',
  modelVersion: 'model_version',
  scannerVendor: 'scanner_vendor',
  vessel: 'vessel',
  month: 'month',
  quarter: 'quarter',
};

export interface PerformanceResponse {
  productId: string;
  period: { from: string | null; to: string | null };
  threshold: number;
  linkage: { linkedVessels: number; rule: string };
  overall: PerformanceFigures;
  verificationBias: VerificationBiasFigures;
  claims: ClaimComparison[];
  groupBy?: GroupBy;
  groups?: Array<PerformanceFigures & { key: string; claims?: ClaimComparison[] }>;
}

/**
 * Real-world accuracy of a product against invasive FFR, from the linked vessels (src/outcomes).
 * The figures come from performanceFigures (pure, oracle-checked); this service only selects the
 * tenant's linked vessels and groups them.
 */
@Injectable()
export class PerformanceService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly registry: RegistryService,
  ) {}

  async performance(principal: Principal, query: PerformanceQueryDto): Promise<PerformanceResponse> {
    const product = await this.registry.requireProduct(principal, query.productId);
    const threshold = query.threshold ?? product.ffrThreshold ?? PERFORMANCE_RULES.defaultThreshold;
    const margin = query.margin ?? PERFORMANCE_RULES.defaultNonInferiorityMargin;
    const period = [product.manufacturerId, product.id, query.from ?? null, query.to ?? null];
    // One pair per CT-FFR vessel: when a vessel was wired twice, the first measurement after the CTA
    // counts (a later one may follow treatment decided on the first).
    const rows = await this.dataSource.query<LinkedVesselRow[]>(
      `SELECT DISTINCT ON (l.analysis_event_id, l.vessel_index)
              l.site_id::text || ':' || encode(l.patient_key, 'hex') AS patient_id, l.ct_ffr, l.invasive_ffr,
              s.site_code AS site, a.model_version, coalesce(a.scanner_vendor, 'unknown') AS scanner_vendor, l.vessel,
              to_char(a.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM') AS month,
              to_char(a.occurred_at AT TIME ZONE 'UTC', 'YYYY-"Q"Q') AS quarter
         FROM ffr_links l
         JOIN analyses a ON a.event_id = l.analysis_event_id
         JOIN sites s ON s.id = l.site_id
        WHERE l.manufacturer_id = $1 AND l.status = 'linked' AND a.product_id = $2
          AND ($3::timestamptz IS NULL OR a.occurred_at >= $3) AND ($4::timestamptz IS NULL OR a.occurred_at < $4)
        ORDER BY l.analysis_event_id, l.vessel_index, l.measured_at, l.outcome_event_id`,
      period,
    );
    // Every analysed vessel, verified or not: the denominator of the partial-verification correction.
    const analysed = await this.dataSource.query<
      Array<{ patient_id: string; ct_ffr: number; invasive_ffr: number | null }>
    >(
      `SELECT a.site_id::text || ':' || encode(a.patient_key, 'hex') AS patient_id, v.ct_ffr, first_link.invasive_ffr
         FROM analyses a
         JOIN analysis_vessels v ON v.analysis_event_id = a.event_id
         LEFT JOIN LATERAL (
           SELECT l.invasive_ffr FROM ffr_links l
            WHERE l.analysis_event_id = a.event_id AND l.vessel_index = v.vessel_index AND l.status = 'linked'
            ORDER BY l.measured_at, l.outcome_event_id LIMIT 1) first_link ON true
        WHERE a.manufacturer_id = $1 AND a.product_id = $2 AND a.status = 'completed'
          AND ($3::timestamptz IS NULL OR a.occurred_at >= $3) AND ($4::timestamptz IS NULL OR a.occurred_at < $4)`,
      period,
    );
    const toVessel = (row: LinkedVesselRow): LinkedVessel => ({
      patientId: row.patient_id,
      ctFfr: row.ct_ffr,
      invasiveFfr: row.invasive_ffr,
    });
    const overall = performanceFigures(rows.map(toVessel), threshold);
    const response: PerformanceResponse = {
      productId: product.id,
      period: { from: query.from ?? null, to: query.to ?? null },
      threshold,
      linkage: {
        linkedVessels: rows.length,
        rule: 'invasive FFR linked to the latest completed analysis of the same site and patient within the linkage window, same vessel (and segment when both give one)',
      },
      overall,
      verificationBias: verificationBiasFigures(
        analysed.map((row) => ({
          patientId: row.patient_id,
          ctFfr: row.ct_ffr,
          invasiveFfr: row.invasive_ffr,
        })),
        threshold,
      ),
      claims: compareWithClaims(overall, product.premarketClaims, margin),
    };
    if (query.groupBy) {
      const column = GROUP_COLUMN[query.groupBy];
      const groups = new Map<string, LinkedVessel[]>();
      for (const row of rows) {
        const key = String(row[column]);
        const members = groups.get(key) ?? [];
        members.push(toVessel(row));
        groups.set(key, members);
      }
      response.groupBy = query.groupBy;
      response.groups = [...groups.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([key, vessels]) => {
          const figures = performanceFigures(vessels, threshold);
          return {
            key,
            ...figures,
            ...(query.groupBy === 'modelVersion'
              ? { claims: compareWithClaims(figures, product.premarketClaims, margin) }
              : {}),
          };
        });
    }
    return response;
  }
}
