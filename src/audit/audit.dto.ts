import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsISO8601, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';
import { AUDIT_ENTITY_TYPES } from './audit-actions';

export const AUDIT_MAX_PAGE = 500;

export class AuditQueryDto {
  @ApiPropertyOptional({ enum: AUDIT_ENTITY_TYPES })
  @IsOptional()
  @IsIn(AUDIT_ENTITY_TYPES)
  entityType?: string;

  @ApiPropertyOptional({ description: 'id or code of the entity (e.g. a deviceId, a product UUID)' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  entityId?: string;

  @ApiPropertyOptional({ example: '2026-01-01T00:00:00Z', description: 'recorded at or after (server time)' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ example: '2026-02-01T00:00:00Z', description: 'recorded before (server time)' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;

  @ApiPropertyOptional({ default: 100, maximum: AUDIT_MAX_PAGE })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(AUDIT_MAX_PAGE)
  limit?: number;

  @ApiPropertyOptional({ description: 'opaque cursor from a previous page' })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,40}$/, { message: 'cursor is not one this API issued; start again without it' })
  cursor?: string;
}

/** Body of the writes that need a reason in the audit trail (secret rotation, revocation). */
export class ReasonDto {
  @ApiProperty({ example: 'device decommissioned at site', description: 'why; kept in the audit trail' })
  @IsString()
  @Length(3, 2000)
  @Matches(/\S/, { message: 'reason must not be blank' })
  reason: string;
}
