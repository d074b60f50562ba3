import {
  Body,
  Controller,
  Get,
  Header,
  HttpCode,
  Param,
  ParseUUIDPipe,
  Post,
  Put,
  Query,
} from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, RequirePermission } from '../auth/decorators';
import { BusyException, LOCK_BUSY_RETRY_AFTER_SECONDS } from '../common/busy.exception';
import { Principal } from '../auth/roles';
import { requireTenant } from '../auth/tenant-scope';
import { RegistryService } from '../registry/registry.service';
import { VigilanceDetectionJob } from './detection.job';
import {
  AggregatesQueryDto,
  ProductQueryDto,
  PutVigilanceMethodsDto,
  RunDetectionDto,
  TrendQueryDto,
} from './vigilance-analytics.dto';
import { VigilanceAnalyticsService } from './vigilance-analytics.service';

@ApiTags('vigilance')
@ApiBearerAuth()
@Controller('api/v1')
export class VigilanceAnalyticsController {
  constructor(
    private readonly analytics: VigilanceAnalyticsService,
    private readonly job: VigilanceDetectionJob,
    private readonly registry: RegistryService,
  ) {}

  @Post('incidents/detections')
  @HttpCode(200)
  @RequirePermission('vigilance:detect')
  @ApiOperation({
    summary:
      'Run candidate detection (rules in src/vigilance/detection-rules.ts) and trend evaluation for one product now; ' +
      'idempotent: a subject already detected opens nothing new. `{ ran, detectedAt, products: [{ productId, created, ' +
      'incidentIds, trendSignalsCreated }] }`',
  })
  async detect(@CurrentPrincipal() principal: Principal, @Body() dto: RunDetectionDto) {
    requireTenant(principal);
    const product = await this.registry.requireProduct(principal, dto.productId);
    const result = await this.job.runForProduct(product.id);
    if (!result.ran) {
      throw new BusyException('A detection run is in progress; retry shortly', LOCK_BUSY_RETRY_AFTER_SECONDS);
    }
    return result;
  }

  @Get('incidents/:id/mir.json')
  @RequirePermission('vigilance:read')
  @ApiOperation({
    summary:
      'The incident as the EU MIR 7.3.1 form’s sections (administrative, manufacturer, device, incident, patient without ' +
      'identifiers, preliminary comments, IMDRF codes); fields the platform does not hold are null and listed in `notHeld`',
  })
  mirJson(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string) {
    return this.analytics.mir(principal, id);
  }

  @Get('incidents/:id/mir.xml')
  @RequirePermission('vigilance:read')
  @Header('Content-Type', 'application/xml; charset=utf-8')
  @ApiProduces('application/xml')
  @ApiOperation({
    summary: 'The same report as well-formed XML (not validated against the EUDAMED or EC MIR XSDs)',
  })
  mirXml(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string) {
    return this.analytics.mirXml(principal, id);
  }

  @Get('vigilance/methods')
  @RequirePermission('vigilance:read')
  @ApiOperation({
    summary: 'The product’s detection parameters and trend method (defaults merged with its overrides)',
  })
  methods(@CurrentPrincipal() principal: Principal, @Query() query: ProductQueryDto) {
    return this.analytics.methods(principal, query.productId);
  }

  @Put('vigilance/methods')
  @RequirePermission('vigilance:configure')
  @ApiOperation({
    summary:
      'Pre-specify the product’s detection parameters and trend method (MDR Art. 88); reason required (audit)',
  })
  putMethods(@CurrentPrincipal() principal: Principal, @Body() dto: PutVigilanceMethodsDto) {
    return this.analytics.putMethods(principal, dto);
  }

  @Get('vigilance/trends')
  @RequirePermission('vigilance:read')
  @ApiOperation({
    summary:
      'Trend report (MDR Art. 88) computed now with the product’s method: monthly rate of non-serious incidents per ' +
      '1,000 analyses by rule or IMDRF code against the baseline, exact one-sided test; `signals` carry their stored id',
  })
  trends(@CurrentPrincipal() principal: Principal, @Query() query: TrendQueryDto) {
    return this.analytics.trendReport(principal, query);
  }

  @Get('vigilance/aggregates')
  @RequirePermission('vigilance:read')
  @ApiOperation({
    summary:
      'Counts and rates per 1,000 analyses by IMDRF code and region over the rolling 12 months ending `to` (periodic reports)',
  })
  aggregates(@CurrentPrincipal() principal: Principal, @Query() query: AggregatesQueryDto) {
    return this.analytics.aggregates(principal, query);
  }
}
