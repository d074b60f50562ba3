import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsISO8601,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Max,
  Min,
} from 'class-validator';

export class DriftProductDto {
  @ApiProperty({ description: 'A product of the caller’s manufacturer' })
  @IsUUID()
  productId: string;
}

export class DriftMonitorsQueryDto {
  @ApiPropertyOptional({ description: 'One product; without it, every product of the caller’s manufacturer' })
  @IsOptional()
  @IsUUID()
  productId?: string;
}

export class PutDriftMonitorsDto {
  @ApiProperty()
  @IsUUID()
  productId: string;

  @ApiProperty({
    description:
      'The configuration document (schema fieldwatch.drift-config/1; src/drift/drift-config.ts and README "Drift ' +
      'monitoring"): windowDays, segments, minimumWindow, batch (familyAlpha, split, permutations, seed), sequential ' +
      '(familyArl0, split, horizon), hysteresis (clearAfterQuietRuns), monitors. GET /drift/monitors shows the one in force.',
  })
  @IsObject()
  configuration: Record<string, unknown>;

  @ApiProperty({ description: 'Why the configuration changes (audit trail)' })
  @IsString()
  @Length(1, 2000)
  reason: string;
}

export class PeriodReferenceDto {
  @ApiProperty()
  @IsUUID()
  productId: string;

  @ApiPropertyOptional({
    description: 'The model version this reference is for; absent: the product’s default reference',
  })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  modelVersion?: string;

  @ApiProperty({ example: 'First three months after release of ffrnet-2025.1' })
  @IsString()
  @Length(1, 200)
  label: string;

  @ApiProperty({ description: 'Start of the period (inclusive), ISO 8601', example: '2025-01-15T00:00:00Z' })
  @IsISO8601({ strict: true })
  from: string;

  @ApiProperty({ description: 'End of the period (exclusive); monitoring of accuracy starts here' })
  @IsISO8601({ strict: true })
  to: string;
}

export class DatasetReferenceQueryDto {
  @ApiProperty()
  @IsUUID()
  productId: string;

  @ApiPropertyOptional({
    description: 'The model version the dataset validated; absent: the product’s default',
  })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  modelVersion?: string;

  @ApiProperty({ example: 'Pivotal trial (premarket submission)' })
  @IsString()
  @Length(1, 200)
  label: string;

  @ApiPropertyOptional({
    description:
      'Accuracy charts run over labelled vessels with a CTA from this instant (default: the model version’s release, or all field data)',
  })
  @IsOptional()
  @IsISO8601({ strict: true })
  monitorFrom?: string;
}

export class DriftAlertsQueryDto {
  @ApiProperty()
  @IsUUID()
  productId: string;

  @ApiPropertyOptional({ enum: ['open', 'acknowledged', 'resolved'] })
  @IsOptional()
  @IsIn(['open', 'acknowledged', 'resolved'])
  status?: 'open' | 'acknowledged' | 'resolved';

  @ApiPropertyOptional({ default: 200, maximum: 1000 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
}

export class DriftEvaluationsQueryDto {
  @ApiProperty()
  @IsUUID()
  productId: string;

  @ApiPropertyOptional({ default: 50, maximum: 500 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;
}

export class DriftAlertTransitionDto {
  @ApiProperty({ description: 'Why (audit trail): what was found, what was done' })
  @IsString()
  @Length(1, 2000)
  reason: string;
}
