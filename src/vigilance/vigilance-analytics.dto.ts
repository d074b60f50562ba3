import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsObject, IsOptional, IsString, IsUUID, Length, Matches } from 'class-validator';

export class RunDetectionDto {
  @ApiProperty({ description: 'A product of the caller’s manufacturer' })
  @IsUUID()
  productId: string;
}

export class ProductQueryDto {
  @ApiProperty()
  @IsUUID()
  productId: string;
}

export class PutVigilanceMethodsDto {
  @ApiProperty()
  @IsUUID()
  productId: string;

  @ApiPropertyOptional({
    description:
      'Detection parameters overriding the defaults (src/vigilance/detection-rules.ts): seriousOutcomeWindowDays, ' +
      'deviceWindowHours, minFailedAnalyses, maxFailedRate, maxErrorEvents, maxOutOfRangeOutputs, silentAfterHours',
    example: { seriousOutcomeWindowDays: 365 },
  })
  @IsOptional()
  @IsObject()
  detection?: Record<string, unknown>;

  @ApiPropertyOptional({
    description:
      'Trend method overriding the defaults (src/vigilance/trends.ts): unit, groupBy, baseline, baselineMonths, test, ' +
      'alpha, minCount, rules',
    example: { baseline: { from: '2025-01', to: '2025-03' }, alpha: 0.01 },
  })
  @IsOptional()
  @IsObject()
  trend?: Record<string, unknown>;

  @ApiProperty({ description: 'Why the method changes (audit trail)' })
  @IsString()
  @Length(1, 2000)
  reason: string;
}

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

export class TrendQueryDto {
  @ApiProperty()
  @IsUUID()
  productId: string;

  @ApiPropertyOptional({ description: 'first month evaluated, YYYY-MM (default: the first month with data)' })
  @IsOptional()
  @Matches(MONTH, { message: 'from must be a month written YYYY-MM' })
  from?: string;

  @ApiPropertyOptional({ description: 'last month evaluated, YYYY-MM (default: this month)' })
  @IsOptional()
  @Matches(MONTH, { message: 'to must be a month written YYYY-MM' })
  to?: string;
}

export class AggregatesQueryDto {
  @ApiProperty()
  @IsUUID()
  productId: string;

  @ApiPropertyOptional({
    description: 'end of the 12-month window, YYYY-MM-DD inclusive (default: today, UTC)',
  })
  @IsOptional()
  @Matches(/^\d{4}-\d{2}-\d{2}$/, { message: 'to must be a date written YYYY-MM-DD' })
  to?: string;
}
