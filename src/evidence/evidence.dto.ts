import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsISO8601,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  MaxLength,
} from 'class-validator';
import {
  AGATSTON_BANDS,
  AGE_BANDS,
  bandKeys,
  BMI_BANDS,
  SEXES,
  STATUSES,
  STRATIFY_BY,
  StratifyBy,
  VESSELS,
} from './cohort';

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

/**
 * A cohort on the fixed lattice of src/evidence/cohort.ts: calendar months and fixed bands; each filter a set of
 * values (leave it out for every value).
 */
export class EvidenceQueryDto {
  @ApiProperty() @IsUUID() productId: string;

  @ApiPropertyOptional({
    description: 'first calendar month of the CTA (UTC), inclusive',
    example: '2026-01',
  })
  @IsOptional()
  @Matches(MONTH, { message: 'fromMonth must be YYYY-MM' })
  fromMonth?: string;

  @ApiPropertyOptional({ description: 'last calendar month of the CTA (UTC), inclusive', example: '2026-06' })
  @IsOptional()
  @Matches(MONTH, { message: 'toMonth must be YYYY-MM' })
  toMonth?: string;

  @ApiPropertyOptional({ type: [String] })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @MaxLength(100, { each: true })
  modelVersions?: string[];

  @ApiPropertyOptional({ type: [String], description: 'site codes' })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(500)
  @IsString({ each: true })
  @MaxLength(100, { each: true })
  sites?: string[];

  @ApiPropertyOptional({ type: [String], description: "scanner vendors ('unknown' when not reported)" })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @MaxLength(100, { each: true })
  scannerVendors?: string[];

  @ApiPropertyOptional({ enum: bandKeys(AGE_BANDS), isArray: true })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @IsIn(bandKeys(AGE_BANDS), { each: true })
  ageBands?: string[];

  @ApiPropertyOptional({ enum: SEXES, isArray: true })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @IsIn(SEXES, { each: true })
  sexes?: string[];

  @ApiPropertyOptional({ enum: bandKeys(BMI_BANDS), isArray: true, description: 'WHO adult BMI classes' })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @IsIn(bandKeys(BMI_BANDS), { each: true })
  bmiBands?: string[];

  @ApiPropertyOptional({ enum: bandKeys(AGATSTON_BANDS), isArray: true })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @IsIn(bandKeys(AGATSTON_BANDS), { each: true })
  agatstonBands?: string[];

  @ApiPropertyOptional({ enum: VESSELS, isArray: true })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @IsIn(VESSELS, { each: true })
  vessels?: string[];

  @ApiPropertyOptional({ enum: STATUSES, isArray: true })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @IsIn(STATUSES, { each: true })
  statuses?: string[];

  @ApiPropertyOptional({ enum: STRATIFY_BY, description: 'stratify the accuracy table by one dimension' })
  @IsOptional()
  @IsIn(STRATIFY_BY)
  stratifyBy?: StratifyBy;
}

export class EvidenceListQueryDto {
  @ApiPropertyOptional() @IsOptional() @IsUUID() productId?: string;
}

export class OmopExportQueryDto {
  @ApiProperty() @IsUUID() productId: string;

  @ApiProperty({
    description:
      'any UUID naming this export: the same exportId and asOf give the same person ids and date shifts in every table; a new one gives tables that cannot be joined to any other export',
  })
  @IsUUID()
  exportId: string;

  @ApiProperty({
    description:
      'rows received up to this instant (ISO 8601, in the past); the same for every table of one export',
    example: '2026-07-01T00:00:00Z',
  })
  @IsISO8601({ strict: true })
  asOf: string;

  @ApiPropertyOptional({
    description: 'first calendar month of the CTA (UTC), inclusive',
    example: '2026-01',
  })
  @IsOptional()
  @Matches(MONTH, { message: 'fromMonth must be YYYY-MM' })
  fromMonth?: string;

  @ApiPropertyOptional({ description: 'last calendar month of the CTA (UTC), inclusive', example: '2026-06' })
  @IsOptional()
  @Matches(MONTH, { message: 'toMonth must be YYYY-MM' })
  toMonth?: string;
}
