import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, RequirePermission } from '../auth/decorators';
import { Permission, PERMISSIONS, Principal, Role, roleHasPermission } from '../auth/roles';

export interface SessionView {
  role: Role;
  /** null for a platform admin key (no tenant). */
  manufacturerId: string | null;
  /** Every permission of the roles matrix this key holds, so a client shows only what it may call. */
  permissions: Permission[];
}

/** What a key is allowed to do, for the dashboards' sign-in and for any client that adapts to its role. */
export function sessionView(principal: Principal): SessionView {
  return {
    role: principal.role,
    manufacturerId: principal.manufacturerId,
    permissions: (Object.keys(PERMISSIONS) as Permission[]).filter((permission) =>
      roleHasPermission(principal.role, permission),
    ),
  };
}

@ApiTags('session')
@ApiBearerAuth()
@Controller('api/v1')
export class SessionController {
  @Get('session')
  @RequirePermission('session:read')
  @ApiOperation({
    summary:
      'The calling key’s role, manufacturer and permissions (the roles matrix applied to it). The dashboards check a ' +
      'typed key with it and show only the panels its role may read; nothing here is secret',
  })
  @ApiOkResponse({
    schema: {
      example: {
        role: 'quality',
        manufacturerId: '0b6c…',
        permissions: ['registry:read', 'performance:read'],
      },
    },
  })
  session(@CurrentPrincipal() principal: Principal): SessionView {
    return sessionView(principal);
  }
}
