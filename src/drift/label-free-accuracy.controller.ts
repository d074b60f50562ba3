import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, RequirePermission } from '../auth/decorators';
import { Principal } from '../auth/roles';
import { requireTenant } from '../auth/tenant-scope';
import { RegistryService } from '../registry/registry.service';
import { LabelFreeAccuracyQueryDto } from './label-free-accuracy.dto';
import { LabelFreeAccuracyService } from './label-free-accuracy.service';
import { ReferenceWindowsService } from './reference-windows.service';

@ApiTags('drift')
@ApiBearerAuth()
@Controller('api/v1/drift')
export class LabelFreeAccuracyController {
  constructor(
    private readonly registry: RegistryService,
    private readonly references: ReferenceWindowsService,
    private readonly labelFree: LabelFreeAccuracyService,
  ) {}

  @Get('label-free-accuracy')
  @RequirePermission('drift:read')
  @ApiOperation({
    summary:
      'Accuracy before the labels arrive: per period, the expected absolute error and discordance rate estimated from ' +
      'the period’s covariates alone (importance weighting of the active reference’s labelled vessels) with 95% CIs, ' +
      'and — once the period’s labels are mature — what its invasive FFR showed, the comparison and the coverage',
  })
  async labelFreeAccuracy(
    @CurrentPrincipal() principal: Principal,
    @Query() query: LabelFreeAccuracyQueryDto,
  ) {
    requireTenant(principal);
    const product = await this.registry.requireProduct(principal, query.productId);
    return this.labelFree.report(await this.references.productRef(product.id), query);
  }
}
