import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsUUID, Matches, Min } from 'class-validator';
import { REPORT_TYPES, ReportType } from './report-rules';

const DATE = /^\d{4}-\d{2}-\d{2}$/;

export class CreateReportDto {
  @ApiProperty({ enum: REPORT_TYPES })
  @IsIn(REPORT_TYPES)
  type: ReportType;

  @ApiProperty() @IsUUID() productId: string;

  @ApiProperty({
    description: 'first day of the data collection period (YYYY-MM-DD, UTC, inclusive)',
    example: '2025-01-01',
  })
  @Matches(DATE, { message: 'from must be a date written YYYY-MM-DD' })
  from: string;

  @ApiProperty({
    description: 'last day of the data collection period, the reporting day (inclusive)',
    example: '2025-12-31',
  })
  @Matches(DATE, { message: 'to must be a date written YYYY-MM-DD' })
  to: string;
}

export class ListReportsQueryDto {
  @ApiPropertyOptional() @IsOptional() @IsUUID() productId?: string;
}

export class ArtefactQueryDto {
  @ApiPropertyOptional({ description: 'a version of the report (default: the current one)' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  version?: number;
}

export class ReportTypeParamDto {
  @ApiProperty({ enum: REPORT_TYPES })
  @IsIn(REPORT_TYPES)
  type: ReportType;
}
