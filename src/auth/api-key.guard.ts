import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { bindTenant } from '../database/tenant-context';
import { ApiKeyService } from './api-key.service';
import { AuthenticatedRequest, PUBLIC_ROUTE, REQUIRED_PERMISSION } from './decorators';
import { Permission, roleHasPermission } from './roles';

/** `Authorization: Bearer <key>`; group 1 is the key. */
export const BEARER = /^Bearer ([A-Za-z0-9_\-.~+/=]{16,200})$/;

/**
 * Global guard, deny by default: a route passes only if it is marked @Public() or names a permission
 * that the caller's role holds in the roles matrix. A route someone forgot to annotate is closed.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly apiKeys: ApiKeyService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;

    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const header = request.headers.authorization ?? '';
    const match = BEARER.exec(header);
    if (!match) throw new UnauthorizedException('Send an API key as "Authorization: Bearer <key>"');
    const principal = await this.apiKeys.authenticate(match[1]);
    if (!principal) throw new UnauthorizedException('API key is unknown or revoked');
    request.principal = principal;
    // From here on, every connection this request takes sees only the caller's manufacturer (RLS).
    bindTenant(principal.manufacturerId);

    const permission = this.reflector.getAllAndOverride<Permission | undefined>(REQUIRED_PERMISSION, targets);
    if (!permission || !roleHasPermission(principal.role, permission)) {
      throw new ForbiddenException(`Role "${principal.role}" may not perform this action`);
    }
    return true;
  }
}
