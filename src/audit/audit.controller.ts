import { ConflictException, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, RequirePermission } from '../auth/decorators';
import { Principal } from '../auth/roles';
import { requirePlatform } from '../auth/tenant-scope';
import { AuditQueryDto } from './audit.dto';
import { AuditService } from './audit.service';

@ApiTags('audit')
@ApiBearerAuth()
@Controller('api/v1/audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @RequirePermission('audit:read')
  @ApiOperation({
    summary: "Audit trail entries, newest first, of the caller's tenant (a platform admin sees all)",
  })
  list(@CurrentPrincipal() principal: Principal, @Query() query: AuditQueryDto) {
    return this.audit.list(principal, query);
  }

  @Get('verify')
  @RequirePermission('audit:read')
  @ApiOperation({
    summary:
      'Walk the whole hash chain and its signed checkpoints; returns { ok, entries, firstBrokenEntryId, reason }',
  })
  verify() {
    return this.audit.verify();
  }

  @Post('checkpoints')
  @HttpCode(201)
  @RequirePermission('audit:checkpoint')
  @ApiOperation({ summary: 'Sign the current head of the chain now (Ed25519, FW_AUDIT_SIGNING_KEY)' })
  async checkpoint(@CurrentPrincipal() principal: Principal) {
    requirePlatform(principal);
    const checkpoint = await this.audit.checkpoint();
    if (!checkpoint) throw new ConflictException('The audit trail is empty; there is nothing to sign');
    return checkpoint;
  }
}
