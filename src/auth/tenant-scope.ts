import { BadRequestException, ForbiddenException } from '@nestjs/common';
import { Principal } from './roles';

/**
 * The manufacturer a write acts for. Tenant keys always act for their own manufacturer (a different
 * manufacturerId in the body is refused, not silently replaced); a platform admin must name one.
 */
export function tenantForWrite(principal: Principal, requestedManufacturerId?: string): string {
  if (principal.manufacturerId) {
    if (requestedManufacturerId && requestedManufacturerId !== principal.manufacturerId) {
      throw new ForbiddenException('This API key may act only for its own manufacturer');
    }
    return principal.manufacturerId;
  }
  if (!requestedManufacturerId) {
    throw new BadRequestException('manufacturerId is required when a platform admin key registers objects');
  }
  return requestedManufacturerId;
}

/** The tenant filter for reads: a tenant key's manufacturer, or none for a platform admin. */
export function tenantForRead(principal: Principal): string | null {
  return principal.manufacturerId;
}

/** The caller's tenant, for data that exists only within one (analyses, outcomes). */
export function requireTenant(principal: Principal): string {
  if (!principal.manufacturerId) {
    throw new ForbiddenException('This data belongs to a manufacturer; use an API key issued for one');
  }
  return principal.manufacturerId;
}

/**
 * Data and operations that span every tenant (platform ingestion counters, signing the audit chain head):
 * platform admin keys only. An admin key issued for one manufacturer holds the same permissions but
 * administers that tenant alone, so it is refused here like any other tenant key.
 */
export function requirePlatform(principal: Principal): void {
  if (principal.manufacturerId) {
    throw new ForbiddenException('This route spans every tenant; use a platform admin key');
  }
}
