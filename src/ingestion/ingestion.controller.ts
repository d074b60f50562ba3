import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, RequirePermission } from '../auth/decorators';
import { Principal } from '../auth/roles';
import { requirePlatform, requireTenant } from '../auth/tenant-scope';
import { AnalysesQueryDto } from './analyses.dto';
import { AnalysesService } from './analyses.service';
import { IngestionStatsService } from './ingestion-stats.service';

@ApiTags('ingestion')
@ApiBearerAuth()
@Controller('api/v1')
export class IngestionController {
  constructor(
    private readonly analyses: AnalysesService,
    private readonly stats: IngestionStatsService,
  ) {}

  @Get('analyses')
  @RequirePermission('analyses:read')
  @ApiOperation({ summary: "Stored CT-FFR analyses of the caller's manufacturer, newest first" })
  listAnalyses(@CurrentPrincipal() principal: Principal, @Query() query: AnalysesQueryDto) {
    return this.analyses.list(requireTenant(principal), query);
  }

  @Get('ingestion/stats')
  @RequirePermission('ingestion:read')
  @ApiOperation({
    summary: 'Per-topic counts (received, stored, duplicates, dead-lettered) and consumer lag',
  })
  ingestionStats(@CurrentPrincipal() principal: Principal) {
    requirePlatform(principal);
    return this.stats.stats();
  }
}
