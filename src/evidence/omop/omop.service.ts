import { BadRequestException, Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { stringify } from 'csv-stringify/sync';
import { createHmac } from 'node:crypto';
import { DataSource } from 'typeorm';
import { actorOf, AuditService } from '../../audit/audit.service';
import { Principal } from '../../auth/roles';
import { AppConfig, decodeKey } from '../../config/config';
import { APP_CONFIG } from '../../config/config.module';
import { RegistryService } from '../../registry/registry.service';
import { monthAfter, monthStart } from '../cohort';
import { canonicalJson, sha256Hex } from '../evidence-result';
import { CDM_V54_TABLES, CdmTable } from './cdm-v54';
import { SOURCE_TO_CONCEPT_MAP_COLUMNS, sourceToConceptMapRows } from './concepts';
import { buildOmopExport, OmopExport, SourceAnalysis, SourceInvasiveFfr } from './omop-export';

export const OMOP_FILES = [...(Object.keys(CDM_V54_TABLES) as CdmTable[]), 'source_to_concept_map'] as const;
export type OmopFile = (typeof OMOP_FILES)[number];

export interface OmopRequest {
  productId: string;
  /** Names one export: the same id (and asOf) gives the same person ids and date shifts in every table. */
  exportId: string;
  /** Rows received up to this instant: the same for every table of one export, so the tables join. */
  asOf: string;
  fromMonth?: string;
  toMonth?: string;
}

/**
 * OMOP CDM v5.4 export of one product's de-identified data, one CSV per table (issue 7 §3). The export key is
 * derived from the platform master key, the tenant and the caller's exportId (HMAC, domain-separated), and is never
 * stored or returned: asking again with the same exportId and asOf gives byte-identical files (so the five tables
 * of an export join), and a new exportId gives person ids and date shifts that cannot be joined to any other export.
 */
@Injectable()
export class OmopService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly registry: RegistryService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly audit: AuditService,
  ) {}

  /**
   * One table, recorded in the audit trail before it is returned (row-level data leaving the platform): the export's
   * definition (product, exportId, asOf, months) by its sha256, the table, its row count and the file's sha256 — so
   * an export found outside can be traced to who took it, and checked byte for byte by asking again.
   */
  async csv(principal: Principal, file: OmopFile, request: OmopRequest): Promise<string> {
    const product = await this.registry.requireProduct(principal, request.productId);
    let csv: string;
    let rows: number;
    if (file === 'source_to_concept_map') {
      const mapRows = sourceToConceptMapRows();
      rows = mapRows.length;
      csv = stringify(mapRows, { header: true, columns: [...SOURCE_TO_CONCEPT_MAP_COLUMNS] });
    } else {
      const table = (await this.build(principal, request)).tables[file];
      rows = table.length;
      csv = stringify(table, { header: true, columns: CDM_V54_TABLES[file].map((column) => column.name) });
    }
    const definition = {
      productId: product.id,
      exportId: request.exportId,
      asOf: request.asOf,
      fromMonth: request.fromMonth ?? null,
      toMonth: request.toMonth ?? null,
    };
    await this.audit.record({
      actor: actorOf(principal),
      action: 'omop.export',
      entityId: request.exportId,
      manufacturerId: product.manufacturerId,
      details: {
        ...definition,
        definitionSha256: sha256Hex(canonicalJson(definition)),
        table: file,
        rows,
        csvSha256: sha256Hex(csv),
      },
    });
    return csv;
  }

  async build(principal: Principal, request: OmopRequest): Promise<OmopExport> {
    const product = await this.registry.requireProduct(principal, request.productId);
    const asOf = new Date(request.asOf);
    if (Number.isNaN(asOf.getTime()) || asOf.getTime() > Date.now()) {
      throw new BadRequestException(
        'asOf must be an instant in the past (the same for every table of one export)',
      );
    }
    if (request.fromMonth && request.toMonth && request.fromMonth > request.toMonth) {
      throw new BadRequestException('fromMonth is after toMonth');
    }
    const from = request.fromMonth ? monthStart(request.fromMonth) : null;
    const to = request.toMonth ? monthAfter(request.toMonth) : null;
    const analysisRows = await this.dataSource.query<
      Array<{
        event_id: string;
        patient_id: string;
        occurred_at: Date;
        age_years: number | null;
        sex: string | null;
        status: string;
        software_version: string;
        model_version: string;
        vessels: Array<{ vessel: string; ctFfr: number }>;
      }>
    >(
      `SELECT a.event_id, a.site_id::text || ':' || encode(a.patient_key, 'hex') AS patient_id, a.occurred_at,
              a.age_years, a.sex, a.status, a.software_version, a.model_version,
              coalesce((SELECT json_agg(json_build_object('vessel', v.vessel, 'ctFfr', v.ct_ffr) ORDER BY v.vessel_index)
                          FROM analysis_vessels v WHERE v.analysis_event_id = a.event_id), '[]'::json) AS vessels
         FROM analyses a
        WHERE a.manufacturer_id = $1 AND a.product_id = $2 AND a.received_at <= $3
          AND ($4::timestamptz IS NULL OR a.occurred_at >= $4) AND ($5::timestamptz IS NULL OR a.occurred_at < $5)
        ORDER BY a.event_id`,
      [product.manufacturerId, product.id, asOf, from, to],
    );
    // The cohort's invasive FFR, from its first CTA to the end of the period plus the linkage window; a record a
    // later correction superseded is left out (ffr_links status 'superseded').
    const invasiveRows = await this.dataSource.query<
      Array<{
        event_id: string;
        patient_id: string;
        measured_at: Date;
        vessel: string;
        invasive_ffr: number;
        hyperemia: string | null;
      }>
    >(
      `WITH persons AS (
         SELECT a.site_id, a.patient_key, min(a.occurred_at) AS first_cta FROM analyses a
          WHERE a.manufacturer_id = $1 AND a.product_id = $2 AND a.received_at <= $3
            AND ($4::timestamptz IS NULL OR a.occurred_at >= $4) AND ($5::timestamptz IS NULL OR a.occurred_at < $5)
          GROUP BY a.site_id, a.patient_key)
       SELECT o.event_id, o.site_id::text || ':' || encode(o.patient_key, 'hex') AS patient_id, o.measured_at,
              o.vessel, o.invasive_ffr, o.hyperemia
         FROM outcomes o JOIN persons p ON p.site_id = o.site_id AND p.patient_key = o.patient_key
         LEFT JOIN ffr_links l ON l.outcome_event_id = o.event_id
        WHERE o.manufacturer_id = $1 AND o.type = 'invasive_ffr' AND o.received_at <= $3
          AND o.measured_at >= p.first_cta
          AND ($5::timestamptz IS NULL OR o.measured_at < $5::timestamptz + make_interval(days => $6))
          AND (l.status IS NULL OR l.status <> 'superseded')
        ORDER BY o.event_id`,
      [product.manufacturerId, product.id, asOf, from, to, this.config.FW_LINKAGE_WINDOW_DAYS],
    );
    const analyses: SourceAnalysis[] = analysisRows.map((row) => ({
      eventId: row.event_id,
      patientId: row.patient_id,
      occurredAt: new Date(row.occurred_at),
      ageYears: row.age_years === null ? null : Number(row.age_years),
      sex: row.sex,
      status: row.status,
      softwareVersion: row.software_version,
      modelVersion: row.model_version,
      vessels: row.vessels.map((vessel) => ({ vessel: vessel.vessel, ctFfr: Number(vessel.ctFfr) })),
    }));
    const invasiveFfr: SourceInvasiveFfr[] = invasiveRows.map((row) => ({
      eventId: row.event_id,
      patientId: row.patient_id,
      measuredAt: new Date(row.measured_at),
      vessel: row.vessel,
      value: Number(row.invasive_ffr),
      hyperemia: row.hyperemia,
    }));
    return buildOmopExport({
      key: this.exportKey(product.manufacturerId, request.exportId),
      product: { udiDi: product.udiDi, name: product.name },
      analyses,
      invasiveFfr,
    });
  }

  private exportKey(manufacturerId: string, exportId: string): Buffer {
    return createHmac('sha256', decodeKey(this.config.FW_MASTER_KEY))
      .update('fieldwatch/omop-export/v1')
      .update('\u0000')
      .update(manufacturerId)
      .update('\u0000')
      .update(exportId)
      .digest();
  }
}
