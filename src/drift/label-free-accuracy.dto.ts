import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsISO8601, IsOptional, IsString, IsUUID, Length, Max, Min } from 'class-validator';

export class LabelFreeAccuracyQueryDto {
  @ApiProperty({ description: 'A product of the caller’s manufacturer' })
  @IsUUID()
  productId: string;

  @ApiPropertyOptional({
    description:
      'Only this model version’s analyses, against its own active reference (else the product’s default reference)',
  })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  modelVersion?: string;

  @ApiPropertyOptional({ description: 'End of the last period (exclusive), ISO 8601; default now' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;

  @ApiPropertyOptional({ default: 30, minimum: 7, maximum: 365, description: 'Length of each period, days' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(7)
  @Max(365)
  periodDays?: number;

  @ApiPropertyOptional({
    default: 6,
    minimum: 1,
    maximum: 12,
    description: 'How many consecutive periods, ending at `to`',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(12)
  periods?: number;

  @ApiPropertyOptional({
    default: 60,
    minimum: 0,
    maximum: 365,
    description:
      'A period’s labels count as mature this many days after it ended (invasive FFR follows the CTA by weeks): only then is its realised accuracy compared with the estimate',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(365)
  labelMaturityDays?: number;

  @ApiPropertyOptional({
    default: 200,
    minimum: 0,
    maximum: 1000,
    description: 'Cluster-bootstrap replicates of the estimate’s CI (0: linearisation CI only)',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(1000)
  bootstrap?: number;
}
