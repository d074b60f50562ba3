import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, RequirePermission } from '../auth/decorators';
import { Principal } from '../auth/roles';
import { PerformanceQueryDto } from './performance.dto';
import { PerformanceService } from './performance.service';

@ApiTags('performance')
@ApiBearerAuth()
@Controller('api/v1/performance')
export class PerformanceController {
  constructor(private readonly performance: PerformanceService) {}

  @Get()
  @RequirePermission('performance:read')
  @ApiOperation({
    summary:
      'Real-world diagnostic performance of CT-FFR against invasive FFR, per vessel and per patient, with 95% CIs, vs the premarket claims',
  })
  get(@CurrentPrincipal() principal: Principal, @Query() query: PerformanceQueryDto) {
    return this.performance.performance(principal, query);
  }
}
