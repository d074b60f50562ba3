import {
  BadRequestException,
  ConflictException,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { actorOf, AuditService, SYSTEM_ACTOR } from '../audit/audit.service';
import { AuditSigner, verifySignature } from '../audit/audit-signer';
import { canonicalJson } from '../audit/canonical';
import { Principal } from '../auth/roles';
import { requireTenant } from '../auth/tenant-scope';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { RegistryService } from '../registry/registry.service';
import { buildReport } from './report-builder';
import { renderChartPng } from './report-charts';
import {
  configurationHash,
  defaultConfiguration,
  ReportConfiguration,
  sha256Hex,
} from './report-configuration';
import { ReportDataService } from './report-data.service';
import { ReportDocument } from './report-document';
import { isCalendarDate } from './report-period';
import { ReportType } from './report-rules';
import { validateReport } from './report-schema';
import { renderHtml } from './render-html';
import { renderPdf } from './render-pdf';

export type ArtefactKind = 'json' | 'html' | 'pdf';

export const ARTEFACT_CONTENT_TYPES: Record<ArtefactKind, string> = {
  json: 'application/json; charset=utf-8',
  html: 'text/html; charset=utf-8',
  pdf: 'application/pdf',
};

/** Longest data collection period a report may cover (an NMPA renewal cycle is five years). */
const MAX_PERIOD_DAYS = 5 * 366;

interface ReportRow {
  id: string;
  manufacturer_id: string;
  product_id: string;
  type: ReportType;
  period_from: string;
  period_to: string;
  reference: string;
  status: 'draft' | 'final';
  current_version: number;
  created_at: string;
  updated_at: string;
  finalized_at: string | null;
  finalized_by: Record<string, unknown> | null;
}

interface VersionRow {
  version: number;
  generated_at: string;
  trigger: string;
  configuration: ReportConfiguration;
  configuration_sha256: string;
  data_marks: Record<string, unknown>;
  json_sha256: string;
  html_sha256: string;
  pdf_sha256: string;
  render_millis: number;
  signed_message: string | null;
  signature: Buffer | null;
  signing_public_key: Buffer | null;
  signing_key_fingerprint: string | null;
  signed_at: string | null;
}

const REPORT_COLUMNS = `id, manufacturer_id, product_id, type, period_from::text, period_to::text, reference, status,
  current_version, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at,
  to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS updated_at,
  to_char(finalized_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS finalized_at, finalized_by`;

const VERSION_COLUMNS = `version, to_char(generated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS generated_at,
  trigger, configuration, configuration_sha256, data_marks, json_sha256, html_sha256, pdf_sha256, render_millis,
  signed_message, signature, signing_public_key, signing_key_fingerprint,
  to_char(signed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS signed_at`;

/** PostgreSQL's answer when the freeze triggers refuse a change to a final report. */
const FROZEN_SQLSTATE = '55000';

export interface GenerateRequest {
  type: ReportType;
  productId: string;
  from: string;
  to: string;
}

/**
 * Periodic reports (issue 6): generate (a new version of a draft), serve the stored artefacts, finalise (sign and
 * freeze), verify (recompute from the stored data with the stored configuration and check the signature).
 */
@Injectable()
export class ReportsService {
  private readonly logger = new Logger(ReportsService.name);
  private readonly signer: AuditSigner;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly registry: RegistryService,
    private readonly data: ReportDataService,
    private readonly audit: AuditService,
  ) {
    // The audit trail's Ed25519 key (FW_AUDIT_SIGNING_KEY, required in production) signs final reports too: one
    // platform key to publish and keep. Unset in development: an ephemeral key, and verify says it is not the
    // published one after a restart.
    this.signer = AuditSigner.fromConfig(config.FW_AUDIT_SIGNING_KEY);
    if (this.signer.ephemeral) {
      this.logger.warn(
        `FW_AUDIT_SIGNING_KEY is not set: final reports are signed with an ephemeral key (${this.signer.fingerprint})`,
      );
    }
  }

  signingKey() {
    return {
      algorithm: 'Ed25519',
      publicKeyHex: this.signer.publicKey.toString('hex'),
      publicKeyBase64: this.signer.publicKey.toString('base64'),
      fingerprint: this.signer.fingerprint,
      ephemeral: this.signer.ephemeral,
      signedMessage:
        'the UTF-8 bytes of `signature.signedMessage` (canonical JSON naming the report, its version and the sha256 of each artefact)',
    };
  }

  /** POST /reports: the first version of a new report, or the next version of a draft for the same period. */
  async generate(
    principal: Principal,
    request: GenerateRequest,
    trigger: 'on_demand' | 'schedule' = 'on_demand',
  ) {
    const tenant = requireTenant(principal);
    if (!isCalendarDate(request.from) || !isCalendarDate(request.to)) {
      throw new BadRequestException('from and to must be calendar dates written YYYY-MM-DD');
    }
    if (request.from > request.to) throw new BadRequestException('from must not be after to');
    const days = (Date.parse(request.to) - Date.parse(request.from)) / 86_400_000 + 1;
    if (days > MAX_PERIOD_DAYS) throw new BadRequestException('a report covers at most five years');
    const product = await this.registry.requireProduct(principal, request.productId);
    const reference = `${request.type === 'psur' ? 'PSUR' : 'PRER'}-${product.udiDi}-${request.from}-${request.to}`;
    const [existing] = await this.dataSource.query<ReportRow[]>(
      `SELECT ${REPORT_COLUMNS} FROM periodic_reports
        WHERE manufacturer_id = $1 AND product_id = $2 AND type = $3 AND period_from = $4 AND period_to = $5`,
      [tenant, product.id, request.type, request.from, request.to],
    );
    if (existing?.status === 'final') {
      throw new ConflictException(`Report ${existing.id} for this period is final; it can never change`);
    }
    const started = Date.now();
    const built = await this.build(
      principal,
      { reportId: existing?.id ?? null, ...request, reference },
      defaultConfiguration(request.type, product, 'full'),
      'auto',
    );
    // Rendered before the transaction (seconds of CPU must not hold a connection idle in a transaction); the
    // transaction then checks that no other generation took this version number meanwhile.
    const version = (existing?.current_version ?? 0) + 1;
    const charts = renderCharts(built.document);
    const html = renderHtml(built.document, { version, charts });
    const pdf = await renderPdf(built.document, { version, charts });
    const renderMillis = Date.now() - started;
    const id = await this.dataSource.transaction(async (manager) => {
      // One writer per report key at a time: versions are numbered without gaps.
      await manager.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [
        `fieldwatch:report:${product.id}:${request.type}:${request.from}:${request.to}`,
      ]);
      const [report] = await manager.query<ReportRow[]>(
        `INSERT INTO periodic_reports (manufacturer_id, product_id, type, period_from, period_to, reference)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (product_id, type, period_from, period_to) DO UPDATE SET updated_at = periodic_reports.updated_at
         RETURNING ${REPORT_COLUMNS}`,
        [tenant, product.id, request.type, request.from, request.to, reference],
      );
      if (report.status === 'final') {
        throw new ConflictException(`Report ${report.id} for this period is final; it can never change`);
      }
      if (report.current_version + 1 !== version) {
        throw new ConflictException(
          `Another generation of report ${report.id} finished first; request it again`,
        );
      }
      await manager.query(
        `INSERT INTO periodic_report_versions (report_id, manufacturer_id, version, trigger, configuration,
           configuration_sha256, data_marks, content_json, content_html, content_pdf, json_sha256, html_sha256,
           pdf_sha256, render_millis)
         VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7::jsonb, $8, $9, $10, $11, $12, $13, $14)`,
        [
          report.id,
          tenant,
          version,
          trigger,
          JSON.stringify(built.configuration),
          configurationHash(built.configuration),
          JSON.stringify(built.document.dataBasis),
          built.json,
          html,
          pdf,
          sha256Hex(built.json),
          sha256Hex(html),
          sha256Hex(pdf),
          renderMillis,
        ],
      );
      await manager.query(
        `UPDATE periodic_reports SET current_version = $2, updated_at = now() WHERE id = $1`,
        [report.id, version],
      );
      await this.audit.record(
        {
          actor: trigger === 'schedule' ? SYSTEM_ACTOR : actorOf(principal),
          action: 'report.generate',
          entityId: report.id,
          manufacturerId: tenant,
          after: { reportId: report.id, version, jsonSha256: sha256Hex(built.json) },
          details: {
            type: request.type,
            version,
            trigger,
            jsonSha256: sha256Hex(built.json),
            htmlSha256: sha256Hex(html),
            pdfSha256: sha256Hex(pdf),
            configurationSha256: configurationHash(built.configuration),
          },
        },
        manager,
      );
      return report.id;
    });
    return this.get(principal, id);
  }

  /** POST /reports/:id/versions: regenerate a draft from the current data (409 when final). */
  async regenerate(principal: Principal, id: string) {
    const report = await this.requireReport(principal, id);
    if (report.status === 'final') throw new ConflictException(`Report ${id} is final; it can never change`);
    return this.generate(principal, {
      type: report.type,
      productId: report.product_id,
      from: report.period_from,
      to: report.period_to,
    });
  }

  async list(principal: Principal, productId?: string) {
    const tenant = requireTenant(principal);
    const rows = await this.dataSource.query<ReportRow[]>(
      `SELECT ${REPORT_COLUMNS} FROM periodic_reports WHERE manufacturer_id = $1 AND ($2::uuid IS NULL OR product_id = $2)
        ORDER BY period_to DESC, type, id LIMIT 500`,
      [tenant, productId ?? null],
    );
    return { total: rows.length, items: rows.map((row) => reportSummary(row)) };
  }

  async get(principal: Principal, id: string) {
    const report = await this.requireReport(principal, id);
    const versions = await this.dataSource.query<VersionRow[]>(
      `SELECT ${VERSION_COLUMNS} FROM periodic_report_versions WHERE report_id = $1 ORDER BY version`,
      [report.id],
    );
    const current = versions.find((v) => v.version === report.current_version);
    return {
      ...reportSummary(report),
      sha256: current
        ? { json: current.json_sha256, html: current.html_sha256, pdf: current.pdf_sha256 }
        : null,
      signature: current?.signature
        ? {
            algorithm: 'Ed25519',
            signature: current.signature.toString('base64'),
            publicKey: current.signing_public_key!.toString('hex'),
            keyFingerprint: current.signing_key_fingerprint,
            signedMessage: current.signed_message,
            signedAt: current.signed_at,
          }
        : null,
      versions: versions.map((v) => ({
        version: v.version,
        generatedAt: v.generated_at,
        trigger: v.trigger,
        configurationSha256: v.configuration_sha256,
        dataBasis: v.data_marks,
        sha256: { json: v.json_sha256, html: v.html_sha256, pdf: v.pdf_sha256 },
        renderMillis: v.render_millis,
      })),
    };
  }

  /** The stored bytes of one artefact (current version unless `version` is given), exactly as hashed. */
  async artefact(principal: Principal, id: string, kind: ArtefactKind, version?: number) {
    const report = await this.requireReport(principal, id);
    const wanted = version ?? report.current_version;
    const column = kind === 'json' ? 'content_json' : kind === 'html' ? 'content_html' : 'content_pdf';
    const [row] = await this.dataSource.query<Array<{ content: string | Buffer; sha256: string }>>(
      `SELECT ${column} AS content, ${kind}_sha256 AS sha256 FROM periodic_report_versions
        WHERE report_id = $1 AND version = $2`,
      [report.id, wanted],
    );
    if (!row) throw new NotFoundException(`Report ${id} has no version ${wanted}`);
    const body = typeof row.content === 'string' ? Buffer.from(row.content, 'utf8') : row.content;
    return {
      body,
      sha256: row.sha256,
      version: wanted,
      filename: `${report.reference}-v${wanted}.${kind}`,
      contentType: ARTEFACT_CONTENT_TYPES[kind],
    };
  }

  /** POST /reports/:id/finalize: sign the current version and freeze the report for good. */
  async finalize(principal: Principal, id: string) {
    const tenant = requireTenant(principal);
    try {
      await this.dataSource.transaction(async (manager) => {
        const [report] = await manager.query<ReportRow[]>(
          `SELECT ${REPORT_COLUMNS} FROM periodic_reports WHERE id = $1 AND manufacturer_id = $2 FOR UPDATE`,
          [id, tenant],
        );
        if (!report) throw new NotFoundException(`Report ${id} does not exist`);
        if (report.status === 'final') throw new ConflictException(`Report ${id} is already final`);
        if (report.current_version < 1) throw new ConflictException(`Report ${id} has no generated version`);
        const [version] = await manager.query<VersionRow[]>(
          `SELECT ${VERSION_COLUMNS} FROM periodic_report_versions WHERE report_id = $1 AND version = $2`,
          [id, report.current_version],
        );
        const [{ now }] = await manager.query<Array<{ now: string }>>(
          `SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS now`,
        );
        const message = canonicalJson({
          reportId: report.id,
          reference: report.reference,
          type: report.type,
          productId: report.product_id,
          period: { from: report.period_from, to: report.period_to },
          version: version.version,
          sha256: { json: version.json_sha256, html: version.html_sha256, pdf: version.pdf_sha256 },
          configurationSha256: version.configuration_sha256,
          finalizedAt: now,
        });
        const signature = this.signer.sign(Buffer.from(message, 'utf8'));
        await manager.query(
          `UPDATE periodic_report_versions SET signed_message = $3, signature = $4, signing_public_key = $5,
                  signing_key_fingerprint = $6, signed_at = $7::timestamptz
            WHERE report_id = $1 AND version = $2`,
          [id, version.version, message, signature, this.signer.publicKey, this.signer.fingerprint, now],
        );
        const finalizedBy = actorOf(principal);
        await manager.query(
          `UPDATE periodic_reports SET status = 'final', finalized_at = $2::timestamptz, finalized_by = $3::jsonb,
                  updated_at = $2::timestamptz WHERE id = $1`,
          [id, now, JSON.stringify(finalizedBy)],
        );
        await this.audit.record(
          {
            actor: finalizedBy,
            action: 'report.finalize',
            entityId: id,
            manufacturerId: tenant,
            before: { status: 'draft', version: version.version },
            after: { status: 'final', version: version.version, signedMessage: message },
            details: {
              version: version.version,
              jsonSha256: version.json_sha256,
              signingKeyFingerprint: this.signer.fingerprint,
            },
          },
          manager,
        );
      });
    } catch (error) {
      throw frozenAsConflict(error);
    }
    return this.get(principal, id);
  }

  /**
   * Recomputes the report's current version from the stored data with its stored configuration, compares the JSON
   * byte for byte (and section by section), checks the stored artefacts against their recorded sha256 and, when
   * final, the Ed25519 signature.
   */
  async verify(principal: Principal, id: string) {
    const report = await this.requireReport(principal, id);
    if (report.current_version < 1) throw new ConflictException(`Report ${id} has no generated version`);
    const [version] = await this.dataSource.query<
      Array<VersionRow & { content_json: string; content_html: string; content_pdf: Buffer }>
    >(
      `SELECT ${VERSION_COLUMNS}, content_json, content_html, content_pdf FROM periodic_report_versions
        WHERE report_id = $1 AND version = $2`,
      [report.id, report.current_version],
    );
    const rebuilt = await this.build(
      principal,
      {
        reportId: report.id,
        type: report.type,
        productId: report.product_id,
        from: report.period_from,
        to: report.period_to,
        reference: report.reference,
      },
      version.configuration,
      version.configuration.performanceDetail,
    );
    const recomputedSha256 = sha256Hex(rebuilt.json);
    const stored = JSON.parse(version.content_json) as ReportDocument;
    const differences = [
      ...(['dataBasis', 'configuration'] as const).filter(
        (key) => canonicalJson(stored[key]) !== canonicalJson(rebuilt.document[key]),
      ),
      ...stored.sections
        .filter(
          (section, index) =>
            canonicalJson(section) !== canonicalJson(rebuilt.document.sections[index] ?? null),
        )
        .map((section) => `sections.${section.key}`),
    ];
    const artefacts = {
      json: sha256Hex(version.content_json) === version.json_sha256,
      html: sha256Hex(version.content_html) === version.html_sha256,
      pdf: sha256Hex(version.content_pdf) === version.pdf_sha256,
    };
    let signature: {
      valid: boolean;
      keyFingerprint: string | null;
      publishedKey: boolean;
      messageMatches: boolean;
    } | null = null;
    if (version.signature && version.signing_public_key && version.signed_message) {
      const message = JSON.parse(version.signed_message) as { sha256: Record<ArtefactKind, string> };
      signature = {
        valid: verifySignature(
          version.signing_public_key,
          Buffer.from(version.signed_message, 'utf8'),
          version.signature,
        ),
        keyFingerprint: version.signing_key_fingerprint,
        publishedKey: version.signing_public_key.equals(this.signer.publicKey),
        messageMatches:
          message.sha256.json === version.json_sha256 &&
          message.sha256.html === version.html_sha256 &&
          message.sha256.pdf === version.pdf_sha256,
      };
    }
    return {
      reportId: report.id,
      status: report.status,
      version: version.version,
      matches: recomputedSha256 === version.json_sha256,
      storedSha256: version.json_sha256,
      recomputedSha256,
      differences,
      artefactsIntact: artefacts,
      signature,
      verifiedAt: new Date().toISOString(),
    };
  }

  /** Gathers the inputs and builds the document; its canonical JSON is validated against the published schema. */
  private async build(
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
    detail: 'auto' | 'full' | 'summary',
  ) {
    const inputs = await this.data.gather(principal, input, configuration, detail);
    const resolved: ReportConfiguration = {
      ...configuration,
      performanceDetail: inputs.performance.detail === 'summary' ? 'summary' : 'full',
    };
    const document = buildReport(inputs, resolved);
    const json = canonicalJson(document);
    const problems = validateReport(input.type, JSON.parse(json));
    if (problems.length > 0) {
      // A builder bug, never a user error: the report would not match its published schema.
      this.logger.error(`Report document fails its schema: ${JSON.stringify(problems.slice(0, 5))}`);
      throw new Error('report document does not match its schema');
    }
    return { document, json, configuration: resolved };
  }

  private async requireReport(principal: Principal, id: string): Promise<ReportRow> {
    const tenant = requireTenant(principal);
    const [report] = await this.dataSource.query<ReportRow[]>(
      `SELECT ${REPORT_COLUMNS} FROM periodic_reports WHERE id = $1 AND manufacturer_id = $2`,
      [id, tenant],
    );
    if (!report) throw new NotFoundException(`Report ${id} does not exist`);
    return report;
  }

  /** For the schedule: the products that may need a report, with their tenant (runs as system). */
  async scheduledProducts(manager: EntityManager | DataSource = this.dataSource) {
    return manager.query<
      Array<{
        id: string;
        manufacturer_id: string;
        risk_class: string;
        jurisdictions: string[];
        created_at: string;
      }>
    >(
      `SELECT id, manufacturer_id, risk_class, jurisdictions, created_at::date::text AS created_at FROM products ORDER BY id`,
    );
  }

  async reportExists(
    tenant: string,
    productId: string,
    type: ReportType,
    from: string,
    to: string,
  ): Promise<boolean> {
    const rows = await this.dataSource.query<Array<{ id: string }>>(
      `SELECT id FROM periodic_reports WHERE manufacturer_id = $1 AND product_id = $2 AND type = $3
          AND period_from = $4 AND period_to = $5`,
      [tenant, productId, type, from, to],
    );
    return rows.length > 0;
  }
}

function renderCharts(document: ReportDocument): Map<string, Buffer> {
  const charts = new Map<string, Buffer>();
  for (const section of document.sections) {
    for (const figure of section.figures) charts.set(figure.id, renderChartPng(figure));
  }
  return charts;
}

function reportSummary(row: ReportRow) {
  return {
    id: row.id,
    type: row.type,
    productId: row.product_id,
    period: { from: row.period_from, to: row.period_to },
    reference: row.reference,
    status: row.status,
    version: row.current_version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finalizedAt: row.finalized_at,
    finalizedBy: row.finalized_by,
  };
}

function frozenAsConflict(error: unknown): unknown {
  const code =
    (error as { code?: string; driverError?: { code?: string } }).driverError?.code ??
    (error as { code?: string }).code;
  return code === FROZEN_SQLSTATE ? new ConflictException('The report is final; it can never change') : error;
}
