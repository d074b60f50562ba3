import { Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentPrincipal, RequirePermission } from '../auth/decorators';
import { Principal } from '../auth/roles';
import { reportJsonSchema } from './report-schema';
import { ArtefactKind, ReportsService } from './reports.service';
import { ArtefactQueryDto, CreateReportDto, ListReportsQueryDto, ReportTypeParamDto } from './reports.dto';

/** The HTML artefact is self-contained: its inline styles and data: images are all it may load. */
const HTML_CSP =
  "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

@ApiTags('reports')
@ApiBearerAuth()
@Controller('api/v1/reports')
export class ReportsController {
  constructor(private readonly reports: ReportsService) {}

  @Post()
  @RequirePermission('reports:generate')
  @ApiOperation({
    summary:
      'Generate a PSUR (MDCG 2022-21 order) or NMPA periodic risk evaluation report for a product and period: a new ' +
      'report, or the next version of the draft for the same period; 409 when that report is final',
  })
  create(@CurrentPrincipal() principal: Principal, @Body() dto: CreateReportDto) {
    return this.reports.generate(principal, dto);
  }

  @Get()
  @RequirePermission('reports:read')
  @ApiOperation({ summary: 'The tenant’s reports, latest period first' })
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListReportsQueryDto) {
    return this.reports.list(principal, query.productId);
  }

  @Get('signing-key')
  @RequirePermission('reports:read')
  @ApiOperation({
    summary: 'The Ed25519 public key that signs final reports (hex and base64) and its fingerprint',
  })
  signingKey() {
    return this.reports.signingKey();
  }

  @Get('schemas/:type')
  @RequirePermission('reports:read')
  @ApiOperation({ summary: 'The published JSON Schema (draft-07) of a report type’s JSON' })
  schema(@Param() params: ReportTypeParamDto) {
    return reportJsonSchema(params.type);
  }

  @Get(':id.json')
  @RequirePermission('reports:read')
  @ApiProduces('application/json')
  @ApiOperation({
    summary: 'The report’s canonical JSON (the hashed and signed artefact), byte for byte as stored',
  })
  json(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Query() query: ArtefactQueryDto,
    @Res() response: Response,
  ) {
    return this.send(principal, id, 'json', query.version, response);
  }

  @Get(':id.html')
  @RequirePermission('reports:read')
  @ApiProduces('text/html')
  @ApiOperation({ summary: 'Self-contained HTML rendering (charts inline)' })
  html(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Query() query: ArtefactQueryDto,
    @Res() response: Response,
  ) {
    return this.send(principal, id, 'html', query.version, response);
  }

  @Get(':id.pdf')
  @RequirePermission('reports:read')
  @ApiProduces('application/pdf')
  @ApiOperation({ summary: 'PDF rendering: table of contents, page numbers, tables, server-rendered charts' })
  pdf(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Query() query: ArtefactQueryDto,
    @Res() response: Response,
  ) {
    return this.send(principal, id, 'pdf', query.version, response);
  }

  @Get(':id/verify')
  @RequirePermission('reports:read')
  @ApiOperation({
    summary:
      'Recompute the report from the stored data with its stored configuration: does it still match byte for byte ' +
      '(and which sections differ), are the stored artefacts intact, is the signature valid',
  })
  verify(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string) {
    return this.reports.verify(principal, id);
  }

  @Get(':id')
  @RequirePermission('reports:read')
  @ApiOperation({ summary: 'Status, versions, sha256 of each artefact, and the signature once final' })
  get(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string) {
    return this.reports.get(principal, id);
  }

  @Post(':id/versions')
  @RequirePermission('reports:generate')
  @ApiOperation({ summary: 'Regenerate a draft from the current data as a new version; 409 when final' })
  regenerate(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string) {
    return this.reports.regenerate(principal, id);
  }

  @Post(':id/finalize')
  @HttpCode(200)
  @RequirePermission('reports:finalize')
  @ApiOperation({
    summary: 'Sign the current version (Ed25519) and freeze the report: every later write is 409',
  })
  finalize(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string) {
    return this.reports.finalize(principal, id);
  }

  private async send(
    principal: Principal,
    id: string,
    kind: ArtefactKind,
    version: number | undefined,
    response: Response,
  ) {
    const artefact = await this.reports.artefact(principal, id, kind, version);
    response.setHeader('Content-Type', artefact.contentType);
    response.setHeader(
      'Content-Disposition',
      `${kind === 'html' ? 'inline' : 'attachment'}; filename="${artefact.filename}"`,
    );
    response.setHeader('X-Content-SHA256', artefact.sha256);
    response.setHeader('X-Report-Version', String(artefact.version));
    if (kind === 'html') response.setHeader('Content-Security-Policy', HTML_CSP);
    response.status(200).end(artefact.body);
  }
}
