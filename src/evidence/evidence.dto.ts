import { applyDecorators } from '@nestjs/common';
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
  DISTRIBUTION_TABLES,
  DistributionTable,
  SEXES,
  STATUSES,
  STRATIFY_BY,
  StratifyBy,
  VESSELS,
} from './cohort';

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

/** An optional filter: a non-empty list of at most `maxItems` codes (site, model version, vendor). */
const CodeList = (maxItems: number, documentation: { description?: string } = {}) =>
  applyDecorators(
    ApiPropertyOptional({ type: [String], ...documentation }),
    IsOptional(),
    IsArray(),
    ArrayMinSize(1),
    ArrayMaxSize(maxItems),
    IsString({ each: true }),
    MaxLength(100, { each: true }),
  );

/** An optional filter: a non-empty list of the lattice's own values (bands, sexes, vessels, statuses). */
const ChoiceList = (values: readonly string[], documentation: { description?: string } = {}) =>
  applyDecorators(
    ApiPropertyOptional({ enum: [...values], isArray: true, ...documentation }),
    IsOptional(),
    IsArray(),
    ArrayMinSize(1),
    IsIn([...values], { each: true }),
  );

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

  @CodeList(100)
  modelVersions?: string[];

  @CodeList(500, { description: 'site codes' })
  sites?: string[];

  @CodeList(100, { description: "scanner vendors ('unknown' when not reported)" })
  scannerVendors?: string[];

  @ChoiceList(bandKeys(AGE_BANDS))
  ageBands?: string[];

  @ChoiceList(SEXES)
  sexes?: string[];

  @ChoiceList(bandKeys(BMI_BANDS), { description: 'WHO adult BMI classes' })
  bmiBands?: string[];

  @ChoiceList(bandKeys(AGATSTON_BANDS))
  agatstonBands?: string[];

  @ChoiceList(VESSELS)
  vessels?: string[];

  @ChoiceList(STATUSES)
  statuses?: string[];

  @ApiPropertyOptional({ enum: STRATIFY_BY, description: 'stratify the accuracy table by one dimension' })
  @IsOptional()
  @IsIn(STRATIFY_BY)
  stratifyBy?: StratifyBy;

  @ApiPropertyOptional({
    enum: [...DISTRIBUTION_TABLES],
    isArray: true,
    description:
      'the distributions to release (leave it out for all; [] for the cohort counts and the accuracy table only). Each table released spends some of the releases the product can still answer under disclosure control: ask for what the analysis needs',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(DISTRIBUTION_TABLES.length)
  @IsIn([...DISTRIBUTION_TABLES], { each: true })
  tables?: DistributionTable[];
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
