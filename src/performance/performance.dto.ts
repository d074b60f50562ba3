import { ApiPropertyOptional, ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsISO8601, IsNumber, IsOptional, IsUUID, Max, Min } from 'class-validator';

export const DETAIL = ['auto', 'full', 'summary'] as const;
export type Detail = (typeof DETAIL)[number];

export const GROUP_BY = ['site', 'modelVersion', 'scannerVendor', 'vessel', 'month', 'quarter'] as const;
export type GroupBy = (typeof GROUP_BY)[number];

export class PerformanceQueryDto {
  @ApiProperty() @IsUUID() productId: string;

  @ApiPropertyOptional({ description: 'CTA date ≥ from (ISO 8601)' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ description: 'CTA date < to (ISO 8601)' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;

  @ApiPropertyOptional({ description: "defaults to the product's FFR threshold", example: 0.8 })
  @IsOptional()
  @Type(() => Number)
  @IsNumber({ maxDecimalPlaces: 3 })
  @Min(0.5)
  @Max(0.95)
  threshold?: number;

  @ApiPropertyOptional({ enum: GROUP_BY })
  @IsOptional()
  @IsIn(GROUP_BY)
  groupBy?: GroupBy;

  @ApiPropertyOptional({ description: 'non-inferiority margin against the premarket claims', default: 0.05 })
  @IsOptional()
  @Type(() => Number)
  @IsNumber()
  @Min(0)
  @Max(0.3)
  margin?: number;

  @ApiPropertyOptional({
    enum: DETAIL,
    default: 'auto',
    description:
      "full: every figure, computed from each linked vessel. summary: from the daily roll-ups at the product's " +
      'threshold and whole UTC days, answering in seconds at millions of vessels; figures that need every patient ' +
      'together (Obuchowski, clustered calibration, the patient bootstrap) are null there. auto (default): full ' +
      'up to PERFORMANCE_RULES.fullDetailMaxLinkedVessels linked vessels, summary above when the request allows it. ' +
      'The response says which was used.',
  })
  @IsOptional()
  @IsIn(DETAIL)
  detail?: Detail;
}
