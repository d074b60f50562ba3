import { Body, Controller, Get, Header, HttpCode, Param, ParseUUIDPipe, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, RequirePermission } from '../auth/decorators';
import { Principal } from '../auth/roles';
import { EvidenceListQueryDto, EvidenceQueryDto } from './evidence.dto';
import { EvidenceService } from './evidence.service';

@ApiTags('evidence')
@ApiBearerAuth()
@Controller('api/v1/evidence/queries')
export class EvidenceController {
  constructor(private readonly evidence: EvidenceService) {}

  @Post()
  @RequirePermission('evidence:query')
  @ApiOperation({
    summary:
      'Run a cohort query: counts, distributions and stratified accuracy with 95% CIs, cells under k suppressed (with complements); stored and re-runnable',
  })
  create(@CurrentPrincipal() principal: Principal, @Body() body: EvidenceQueryDto) {
    return this.evidence.create(principal, body);
  }

  @Get()
  @RequirePermission('evidence:read')
  @ApiOperation({
    summary:
      "The tenant's stored evidence queries, newest first (200 at most): definitions and digests, not results (GET …/:id, audited, gives a result)",
  })
  list(@Query() query: EvidenceListQueryDto) {
    return this.evidence.list(query.productId);
  }

  @Get(':id.csv')
  @RequirePermission('evidence:read')
  @Header('Content-Type', 'text/csv; charset=utf-8')
  @ApiProduces('text/csv')
  @ApiOperation({
    summary:
      'A stored evidence query as CSV (one figure per line, with its provenance); each export is audited',
  })
  csv(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string) {
    return this.evidence.exportCsv(principal, id);
  }

  @Get(':id')
  @RequirePermission('evidence:read')
  @ApiOperation({
    summary:
      'A stored evidence query: definition, high-water mark, k, and what was released; each read is audited',
  })
  find(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string) {
    return this.evidence.find(principal, id);
  }

  @Post(':id/rerun')
  @HttpCode(200)
  @RequirePermission('evidence:read')
  @ApiOperation({
    summary:
      'Re-run a stored query at its high-water mark against the releases before it; reports whether the sha256 of the result is reproduced',
  })
  rerun(@CurrentPrincipal() principal: Principal, @Param('id', new ParseUUIDPipe()) id: string) {
    return this.evidence.rerun(principal, id);
  }
}
