import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsDefined,
  IsIn,
  IsInt,
  IsISO8601,
  IsNumber,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Matches,
  Max,
  Min,
  ValidateNested,
} from 'class-validator';
import { ReasonDto } from '../audit/audit.dto';
import { ROLES, Role } from '../auth/roles';
import { SECRET_ROTATION_MAX_OVERLAP_HOURS } from '../config/config';

/** Codes that travel in events (deviceId, sourceId, siteId): printable, no spaces, bounded. */
const EXTERNAL_CODE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const EXTERNAL_CODE_MESSAGE = '$property must be 1–64 letters, digits, dot, dash or underscore';

export class CreateManufacturerDto {
  @ApiProperty({ example: 'Shukun Technology' })
  @IsString()
  @Length(1, 200)
  name: string;
}

export class CreateApiKeyDto {
  @ApiPropertyOptional({ description: 'Tenant of the key; omit only for a platform admin key' })
  @IsOptional()
  @IsUUID()
  manufacturerId?: string;

  @ApiProperty({ enum: ROLES })
  @IsIn(ROLES)
  role: Role;

  @ApiProperty({ example: 'quality team laptop' })
  @IsString()
  @Length(1, 200)
  name: string;
}

export class ClaimDto {
  @ApiProperty({ example: 0.86 })
  @IsNumber()
  @Min(0)
  @Max(1)
  estimate: number;

  @ApiProperty({ example: [0.8, 0.91], type: [Number] })
  @IsArray()
  @ArrayMinSize(2)
  @ArrayMaxSize(2)
  @IsNumber({}, { each: true })
  @Min(0, { each: true })
  @Max(1, { each: true })
  ci95: [number, number];

  @ApiProperty({
    example: 400,
    description: 'vessels (or patients) in the pivotal study behind the estimate',
  })
  @IsInt()
  @Min(1)
  n: number;
}

/**
 * `@ValidateNested` alone lets an absent object through, so each claim is also `@IsDefined`: a product without its
 * three claims would pass here and break every comparison with them later (GET /performance, the reports).
 */
export class PremarketClaimsDto {
  @ApiProperty() @IsDefined() @ValidateNested() @Type(() => ClaimDto) sensitivity: ClaimDto;
  @ApiProperty() @IsDefined() @ValidateNested() @Type(() => ClaimDto) specificity: ClaimDto;
  @ApiProperty() @IsDefined() @ValidateNested() @Type(() => ClaimDto) auc: ClaimDto;

  @ApiPropertyOptional({ example: 'Pivotal multicentre study, 2019, per-vessel analysis' })
  @IsOptional()
  @IsString()
  @Length(1, 500)
  source?: string;
}

export const JURISDICTIONS = ['EU', 'US', 'CN'] as const;

export class CreateProductDto {
  @ApiPropertyOptional({ description: 'Required for platform admin keys; tenant keys act for their own' })
  @IsOptional()
  @IsUUID()
  manufacturerId?: string;

  @ApiProperty({ example: 'DeepFFR CT-FFR' }) @IsString() @Length(1, 200) name: string;

  @ApiProperty({
    example: '06970000000017',
    description: 'UDI device identifier (GS1 GTIN-14 or HIBCC/ICCBBA)',
  })
  @IsString()
  @Matches(/^[A-Za-z0-9+\-./]{6,40}$/, { message: 'udiDi must be 6–40 characters of a UDI-DI' })
  udiDi: string;

  @ApiProperty({ example: 'III', enum: ['I', 'II', 'IIa', 'IIb', 'III'] })
  @IsIn(['I', 'II', 'IIa', 'IIb', 'III'])
  riskClass: string;

  @ApiProperty({ enum: JURISDICTIONS, isArray: true, example: ['EU', 'CN'] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayUnique()
  @IsIn(JURISDICTIONS, { each: true })
  jurisdictions: string[];

  @ApiProperty({ example: 0.8, description: 'A vessel is positive when its FFR is at or below this value' })
  @IsNumber({ maxDecimalPlaces: 3 })
  @Min(0.5)
  @Max(0.95)
  ffrThreshold: number;

  @ApiProperty()
  @IsDefined()
  @ValidateNested()
  @Type(() => PremarketClaimsDto)
  premarketClaims: PremarketClaimsDto;
}

export class CreateModelVersionDto {
  @ApiProperty() @IsUUID() productId: string;
  @ApiProperty({ example: 'ffrnet-2025.1' })
  @IsString()
  @Matches(EXTERNAL_CODE, { message: EXTERNAL_CODE_MESSAGE })
  version: string;
  @ApiProperty({ example: '2025-01-15T00:00:00Z' }) @IsISO8601({ strict: true }) releasedAt: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @Length(0, 2000) notes?: string;
}

export class CreateSiteDto {
  @ApiPropertyOptional() @IsOptional() @IsUUID() manufacturerId?: string;
  @ApiProperty({ example: 'SH-RJ' })
  @IsString()
  @Matches(EXTERNAL_CODE, { message: EXTERNAL_CODE_MESSAGE })
  siteId: string;
  @ApiProperty({ example: 'Ruijin Hospital, Shanghai' }) @IsString() @Length(1, 200) name: string;
  @ApiProperty({ example: 'CN', description: 'ISO 3166-1 alpha-2' })
  @Matches(/^[A-Z]{2}$/, { message: 'country must be an ISO 3166-1 alpha-2 code such as CN or DE' })
  country: string;
}

export class CreateDeviceDto {
  @ApiProperty({ example: 'DVF-SH-0001' })
  @IsString()
  @Matches(EXTERNAL_CODE, { message: EXTERNAL_CODE_MESSAGE })
  deviceId: string;
  @ApiProperty() @IsUUID() productId: string;
  @ApiProperty({ example: 'SH-RJ', description: 'siteId of a registered site' }) @IsString() siteId: string;
  @ApiProperty({ example: '1.4.2' }) @IsString() @Length(1, 64) softwareVersion: string;
  @ApiProperty({ example: 'ffrnet-2025.1' }) @IsString() @Length(1, 64) modelVersion: string;
  @ApiPropertyOptional({ example: 'GE' }) @IsOptional() @IsString() @Length(1, 64) scannerVendor?: string;
  @ApiPropertyOptional({ example: 'Revolution CT' })
  @IsOptional()
  @IsString()
  @Length(1, 128)
  scannerModel?: string;
}

export class UpdateDeviceDto {
  @ApiPropertyOptional() @IsOptional() @IsString() @Length(1, 64) softwareVersion?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @Length(1, 64) modelVersion?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @Length(1, 64) scannerVendor?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @Length(1, 128) scannerModel?: string;
}

export class CreateDataSourceDto {
  @ApiPropertyOptional() @IsOptional() @IsUUID() manufacturerId?: string;
  @ApiProperty({ example: 'CATH-SH-RJ' })
  @IsString()
  @Matches(EXTERNAL_CODE, { message: EXTERNAL_CODE_MESSAGE })
  sourceId: string;
  @ApiProperty({ example: 'SH-RJ' }) @IsString() siteId: string;
  @ApiProperty({ example: 'Ruijin cath lab' }) @IsString() @Length(1, 200) name: string;
  @ApiProperty({ enum: ['cath_lab', 'his', 'registry'] }) @IsIn(['cath_lab', 'his', 'registry']) kind: string;
}

export class ListQueryDto {
  @ApiPropertyOptional({ default: 100, maximum: 500 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;

  @ApiPropertyOptional({ description: 'opaque cursor from a previous page' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  cursor?: string;
}

/** Body of POST /devices/:deviceId/secret-rotations and /data-sources/:sourceId/secret-rotations. */
export class RotateSecretDto extends ReasonDto {
  @ApiPropertyOptional({
    example: 24,
    minimum: 0,
    maximum: SECRET_ROTATION_MAX_OVERLAP_HOURS,
    description:
      'How long events signed with the previous secret are still accepted, in hours (fractions allowed); ' +
      'default FW_SECRET_ROTATION_OVERLAP_HOURS (24). 0 retires it at once, e.g. when it leaked.',
  })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(SECRET_ROTATION_MAX_OVERLAP_HOURS)
  overlapHours?: number;
}
