import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsOptional, IsString, Length } from 'class-validator';
import { ListQueryDto } from '../registry/registry.dto';

/** `status` of an analysis event (DESIGN.md §4). */
export const ANALYSIS_STATUSES = ['completed', 'rejected', 'failed'] as const;

export class AnalysesQueryDto extends ListQueryDto {
  @ApiPropertyOptional({ example: 'DVF-SH-0001' }) @IsOptional() @IsString() @Length(1, 64) deviceId?: string;
  @ApiPropertyOptional({ example: 'SH-RJ' }) @IsOptional() @IsString() @Length(1, 64) siteId?: string;
  @ApiPropertyOptional({ description: 'occurredAt ≥ from (ISO 8601)' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;
  @ApiPropertyOptional({ description: 'occurredAt < to (ISO 8601)' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;
  @ApiPropertyOptional({
    enum: ANALYSIS_STATUSES,
    description: 'only analyses with this status (`total` then counts them: rejection and failure rates)',
  })
  @IsOptional()
  @IsIn(ANALYSIS_STATUSES)
  status?: (typeof ANALYSIS_STATUSES)[number];
}
