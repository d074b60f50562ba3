import {
  BadRequestException,
  Body,
  Controller,
  Get,
  HttpCode,
  Param,
  ParseUUIDPipe,
  Post,
  Put,
  Query,
  Req,
} from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { actorOf } from '../audit/audit.service';
import { CurrentPrincipal, RequirePermission } from '../auth/decorators';
import { Principal } from '../auth/roles';
import { requireTenant } from '../auth/tenant-scope';
import { RegistryService } from '../registry/registry.service';
import { DRIFT_CONFIGURATION_JSON_SCHEMA } from './drift-config';
import { describeMonitors, DriftConfigurationsService } from './drift-configurations.service';
import { DriftAlertsService } from './drift-alerts.service';
import { DriftEvaluationService } from './drift-evaluation.service';
import {
  DatasetReferenceQueryDto,
  DriftAlertsQueryDto,
  DriftAlertTransitionDto,
  DriftEvaluationsQueryDto,
  DriftMonitorsQueryDto,
  DriftProductDto,
  PeriodReferenceDto,
  PutDriftMonitorsDto,
} from './drift.dto';
import { ReferenceWindowsService } from './reference-windows.service';

@ApiTags('drift')
@ApiBearerAuth()
@Controller('api/v1/drift')
export class DriftController {
  constructor(
    private readonly registry: RegistryService,
    private readonly configurations: DriftConfigurationsService,
    private readonly references: ReferenceWindowsService,
    private readonly evaluations: DriftEvaluationService,
    private readonly alerts: DriftAlertsService,
  ) {}

  /** The caller's product (404 for another tenant's), as the drift services need it. */
  private async product(principal: Principal, productId: string) {
    requireTenant(principal);
    const product = await this.registry.requireProduct(principal, productId);
    return this.references.productRef(product.id);
  }

  @Get('monitors')
  @RequirePermission('drift:read')
  @ApiOperation({
    summary:
      'The monitor configuration in force per product (version, SHA-256 configuration hash, the document) and its ' +
      'monitors with their segments and budget; without productId, every product of the caller’s manufacturer',
  })
  async monitors(@CurrentPrincipal() principal: Principal, @Query() query: DriftMonitorsQueryDto) {
    const manufacturerId = requireTenant(principal);
    const productIds = query.productId
      ? [(await this.product(principal, query.productId)).id]
      : await this.configurations.productIds(manufacturerId);
    const items = [];
    for (const productId of productIds) {
      const effective = await this.configurations.effective(productId);
      items.push({ ...effective, monitors: describeMonitors(effective.configuration) });
    }
    return { items, configurationSchema: DRIFT_CONFIGURATION_JSON_SCHEMA };
  }

  @Put('monitors')
  @RequirePermission('drift:manage')
  @ApiOperation({
    summary:
      'Store a new version of the product’s monitor configuration (validated against the schema in GET /drift/monitors; ' +
      'an identical document is not stored twice); reason required (audit)',
  })
  async putMonitors(@CurrentPrincipal() principal: Principal, @Body() dto: PutDriftMonitorsDto) {
    const product = await this.product(principal, dto.productId);
    const effective = await this.configurations.put(
      principal,
      product.manufacturerId,
      product.id,
      dto.configuration,
      dto.reason,
    );
    return { ...effective, monitors: describeMonitors(effective.configuration) };
  }

  @Get('reference-windows')
  @RequirePermission('drift:read')
  @ApiOperation({
    summary:
      'The product’s reference windows (active and replaced), newest first, with their frozen summaries',
  })
  async referenceWindows(@CurrentPrincipal() principal: Principal, @Query() query: DriftProductDto) {
    const product = await this.product(principal, query.productId);
    return { items: await this.references.list(product.id) };
  }

  @Post('reference-windows/period')
  @RequirePermission('drift:manage')
  @ApiOperation({
    summary:
      'Make a period of the product’s own analyses [from, to) — optionally of one model version — its active reference ' +
      '(e.g. the first three months after the version’s release); the summary is computed now and frozen',
  })
  async periodReference(@CurrentPrincipal() principal: Principal, @Body() dto: PeriodReferenceDto) {
    const product = await this.product(principal, dto.productId);
    return this.references.createPeriod(principal, product, dto);
  }

  @Post('reference-windows/dataset')
  @RequirePermission('drift:manage')
  @ApiConsumes('text/csv')
  @ApiBody({
    description:
      'CSV, one row per vessel (one row for a rejected or failed analysis), header with columns caseId, ctFfr (required), ' +
      'status, procedureDate, vessel, invasiveFfr, ageYears, sex, bmi, scannerVendor, sliceThicknessMm, tubeVoltageKv, ' +
      'heartRateBpm, agatstonScore, imageQualityScore, processingSeconds. Problems are answered 400 with line numbers.',
    schema: { type: 'string' },
  })
  @ApiOperation({
    summary:
      'Import a premarket / pivotal dataset (CSV) as the product’s (or one model version’s) active reference',
  })
  async datasetReference(
    @CurrentPrincipal() principal: Principal,
    @Query() query: DatasetReferenceQueryDto,
    @Req() request: Request,
  ) {
    const product = await this.product(principal, query.productId);
    const body: unknown = request.body;
    if (typeof body !== 'string' || body.length === 0) {
      throw new BadRequestException('send the dataset as the request body with Content-Type: text/csv');
    }
    return this.references.importDataset(principal, product, { ...query, csv: body });
  }

  @Post('evaluations')
  @HttpCode(200)
  @RequirePermission('drift:evaluate')
  @ApiOperation({
    summary:
      'Evaluate every monitor of the product now (the schedule does the same): stores an evaluation snapshot and opens ' +
      'or updates alerts; answers the evaluation with every result',
  })
  async evaluate(@CurrentPrincipal() principal: Principal, @Body() dto: DriftProductDto) {
    const product = await this.product(principal, dto.productId);
    return this.evaluations.evaluateProduct(product.id, new Date(), {
      trigger: 'on_demand',
      actor: actorOf(principal),
    });
  }

  @Get('evaluations')
  @RequirePermission('drift:read')
  @ApiOperation({
    summary: 'Evaluation snapshots of the product, newest first (kept for audit, never changed)',
  })
  async listEvaluations(@CurrentPrincipal() principal: Principal, @Query() query: DriftEvaluationsQueryDto) {
    const product = await this.product(principal, query.productId);
    return { items: await this.evaluations.listEvaluations(product.id, query.limit ?? 50) };
  }

  @Get('evaluations/:id')
  @RequirePermission('drift:read')
  @ApiOperation({ summary: 'One evaluation snapshot with every monitor × segment result and its evidence' })
  async getEvaluation(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
  ) {
    requireTenant(principal);
    return this.evaluations.getEvaluation(id);
  }

  @Get('alerts')
  @RequirePermission('drift:read')
  @ApiOperation({
    summary: 'Drift alerts of the product, newest first, optionally by status (open, acknowledged, resolved)',
  })
  async listAlerts(@CurrentPrincipal() principal: Principal, @Query() query: DriftAlertsQueryDto) {
    const product = await this.product(principal, query.productId);
    return { items: await this.alerts.list(product.id, query.status, query.limit ?? 200) };
  }

  @Get('alerts/:id')
  @RequirePermission('drift:read')
  @ApiOperation({
    summary: 'One drift alert with the evidence of the run that opened it and of its latest signal',
  })
  async getAlert(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string) {
    requireTenant(principal);
    const { manufacturerId: _tenant, ...alert } = await this.alerts.get(id);
    void _tenant;
    return alert;
  }

  @Post('alerts/:id/acknowledge')
  @HttpCode(200)
  @RequirePermission('drift:manage')
  @ApiOperation({
    summary: 'Acknowledge an open alert (someone is looking into it); reason required (audit)',
  })
  acknowledge(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() dto: DriftAlertTransitionDto,
  ) {
    requireTenant(principal);
    return this.alerts.acknowledge(principal, id, dto.reason);
  }

  @Post('alerts/:id/resolve')
  @HttpCode(200)
  @RequirePermission('drift:manage')
  @ApiOperation({
    summary:
      'Resolve an open or acknowledged alert; reason required (audit). A later signal of the same monitor and segment ' +
      'opens a new alert',
  })
  resolve(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() dto: DriftAlertTransitionDto,
  ) {
    requireTenant(principal);
    return this.alerts.resolve(principal, id, dto.reason);
  }
}
