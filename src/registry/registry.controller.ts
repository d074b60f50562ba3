import {
  Body,
  Controller,
  Delete,
  Get,
  ForbiddenException,
  HttpCode,
  Param,
  ParseUUIDPipe,
  Patch,
  Post,
  Query,
} from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ReasonDto } from '../audit/audit.dto';
import { ApiKeyService } from '../auth/api-key.service';
import { CurrentPrincipal, RequirePermission } from '../auth/decorators';
import { Principal } from '../auth/roles';
import { tenantForWrite } from '../auth/tenant-scope';
import {
  CreateApiKeyDto,
  CreateDataSourceDto,
  CreateDeviceDto,
  CreateManufacturerDto,
  CreateModelVersionDto,
  CreateProductDto,
  CreateSiteDto,
  ListQueryDto,
  RotateSecretDto,
  UpdateDeviceDto,
} from './registry.dto';
import { RegistryService } from './registry.service';

const ROTATION_SUMMARY =
  'Rotate the signing secret (reason required, audited). The new secret is in this response only; the ' +
  'previous one is still accepted for overlapHours (default FW_SECRET_ROTATION_OVERLAP_HOURS), after ' +
  'which its events go to the DLQ as retired_secret. A secret still in the overlap of an earlier rotation ' +
  'stops verifying at once.';

const IMMEDIATE_ROTATION_SUMMARY =
  'Rotate the signing secret with no overlap (reason required, audited): the same as secret-rotations ' +
  'with overlapHours 0, answering only { deviceId | sourceId, secret }. The previous secret is retired at once (within ' +
  "the consumers' 30 s sender cache).";

@ApiTags('registry')
@ApiBearerAuth()
@Controller('api/v1')
export class RegistryController {
  constructor(
    private readonly registry: RegistryService,
    private readonly apiKeys: ApiKeyService,
  ) {}

  @Post('manufacturers')
  @RequirePermission('tenants:manage')
  @ApiOperation({ summary: 'Register a manufacturer (tenant)' })
  async createManufacturer(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: CreateManufacturerDto,
  ): Promise<{ id: string; name: string }> {
    requirePlatformAdmin(principal);
    const saved = await this.registry.createManufacturer(principal, dto);
    return { id: saved.id, name: saved.name };
  }

  @Get('manufacturers')
  @RequirePermission('tenants:manage')
  listManufacturers(@CurrentPrincipal() principal: Principal, @Query() query: ListQueryDto) {
    requirePlatformAdmin(principal);
    return this.registry.listManufacturers(query);
  }

  @Post('api-keys')
  @RequirePermission('tenants:manage')
  @ApiOperation({ summary: 'Issue an API key; the key is in this response only, and stored hashed' })
  async createApiKey(@CurrentPrincipal() principal: Principal, @Body() dto: CreateApiKeyDto) {
    const manufacturerId =
      dto.role === 'admin' && !dto.manufacturerId ? null : tenantForWrite(principal, dto.manufacturerId);
    if (manufacturerId) await this.registry.requireManufacturer(manufacturerId);
    const { apiKey, key } = await this.apiKeys.issue(principal, manufacturerId, dto.role, dto.name);
    return {
      id: apiKey.id,
      key,
      role: apiKey.role,
      manufacturerId: apiKey.manufacturerId,
      name: apiKey.name,
    };
  }

  @Delete('api-keys/:id')
  @RequirePermission('tenants:manage')
  @ApiOperation({
    summary:
      'Revoke an API key for good (reason required as ?reason=, audited); it stops working within 30 s',
  })
  async revokeApiKey(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Query() query: ReasonDto,
  ) {
    const revoked = await this.apiKeys.revoke(principal, id, query.reason);
    return {
      id: revoked.id,
      role: revoked.role,
      manufacturerId: revoked.manufacturerId,
      name: revoked.name,
      revokedAt: revoked.revokedAt,
    };
  }

  @Post('products')
  @RequirePermission('registry:write')
  createProduct(@CurrentPrincipal() principal: Principal, @Body() dto: CreateProductDto) {
    return this.registry.createProduct(principal, dto);
  }

  @Get('products')
  @RequirePermission('registry:read')
  listProducts(@CurrentPrincipal() principal: Principal, @Query() query: ListQueryDto) {
    return this.registry.listProducts(principal, query);
  }

  @Get('products/:productId')
  @RequirePermission('registry:read')
  getProduct(
    @CurrentPrincipal() principal: Principal,
    @Param('productId', new ParseUUIDPipe()) productId: string,
  ) {
    return this.registry.requireProduct(principal, productId);
  }

  @Post('model-versions')
  @RequirePermission('registry:write')
  createModelVersion(@CurrentPrincipal() principal: Principal, @Body() dto: CreateModelVersionDto) {
    return this.registry.createModelVersion(principal, dto);
  }

  @Get('model-versions')
  @RequirePermission('registry:read')
  listModelVersions(@CurrentPrincipal() principal: Principal, @Query() query: ListQueryDto) {
    return this.registry.listModelVersions(principal, query);
  }

  @Post('sites')
  @RequirePermission('registry:write')
  createSite(@CurrentPrincipal() principal: Principal, @Body() dto: CreateSiteDto) {
    return this.registry.createSite(principal, dto);
  }

  @Get('sites')
  @RequirePermission('registry:read')
  listSites(@CurrentPrincipal() principal: Principal, @Query() query: ListQueryDto) {
    return this.registry.listSites(principal, query);
  }

  @Post('devices')
  @RequirePermission('registry:write')
  @ApiOperation({ summary: 'Register a device installation; its signing secret is in this response only' })
  async createDevice(@CurrentPrincipal() principal: Principal, @Body() dto: CreateDeviceDto) {
    const { device, secret } = await this.registry.createDevice(principal, dto);
    return { ...device, secret };
  }

  @Get('devices')
  @RequirePermission('registry:read')
  listDevices(@CurrentPrincipal() principal: Principal, @Query() query: ListQueryDto) {
    return this.registry.listDevices(principal, query);
  }

  @Get('devices/:deviceId')
  @RequirePermission('registry:read')
  getDevice(@CurrentPrincipal() principal: Principal, @Param('deviceId') deviceId: string) {
    return this.registry.getDevice(principal, deviceId);
  }

  @Patch('devices/:deviceId')
  @RequirePermission('registry:write')
  @ApiOperation({ summary: 'Record a software/model upgrade or scanner change of an installation' })
  updateDevice(
    @CurrentPrincipal() principal: Principal,
    @Param('deviceId') deviceId: string,
    @Body() dto: UpdateDeviceDto,
  ) {
    return this.registry.updateDevice(principal, deviceId, dto);
  }

  @Post('devices/:deviceId/secret-rotations')
  @RequirePermission('registry:write')
  @ApiOperation({ summary: ROTATION_SUMMARY })
  rotateDeviceSecret(
    @CurrentPrincipal() principal: Principal,
    @Param('deviceId') deviceId: string,
    @Body() dto: RotateSecretDto,
  ) {
    return this.registry.rotateDeviceSecret(principal, deviceId, dto);
  }

  @Post('devices/:deviceId/secret')
  @HttpCode(200)
  @RequirePermission('registry:write')
  @ApiOperation({ summary: IMMEDIATE_ROTATION_SUMMARY, deprecated: true })
  async rotateDeviceSecretNow(
    @CurrentPrincipal() principal: Principal,
    @Param('deviceId') deviceId: string,
    @Body() dto: ReasonDto,
  ) {
    const { secret } = await this.registry.rotateDeviceSecret(principal, deviceId, {
      reason: dto.reason,
      overlapHours: 0,
    });
    return { deviceId, secret };
  }

  @Post('devices/:deviceId/revoke')
  @HttpCode(200)
  @RequirePermission('registry:write')
  @ApiOperation({
    summary:
      'Revoke a device for good (reason required, audited): its events go to the DLQ as revoked_sender',
  })
  revokeDevice(
    @CurrentPrincipal() principal: Principal,
    @Param('deviceId') deviceId: string,
    @Body() dto: ReasonDto,
  ) {
    return this.registry.revokeDevice(principal, deviceId, dto.reason);
  }

  @Post('data-sources')
  @RequirePermission('registry:write')
  @ApiOperation({
    summary: 'Register a cath-lab / HIS data source; its signing secret is in this response only',
  })
  async createDataSource(@CurrentPrincipal() principal: Principal, @Body() dto: CreateDataSourceDto) {
    const { dataSource, secret } = await this.registry.createDataSource(principal, dto);
    return { ...dataSource, secret };
  }

  @Get('data-sources')
  @RequirePermission('registry:read')
  listDataSources(@CurrentPrincipal() principal: Principal, @Query() query: ListQueryDto) {
    return this.registry.listDataSources(principal, query);
  }

  @Post('data-sources/:sourceId/secret-rotations')
  @RequirePermission('registry:write')
  @ApiOperation({ summary: ROTATION_SUMMARY })
  rotateDataSourceSecret(
    @CurrentPrincipal() principal: Principal,
    @Param('sourceId') sourceId: string,
    @Body() dto: RotateSecretDto,
  ) {
    return this.registry.rotateDataSourceSecret(principal, sourceId, dto);
  }

  @Post('data-sources/:sourceId/secret')
  @HttpCode(200)
  @RequirePermission('registry:write')
  @ApiOperation({ summary: IMMEDIATE_ROTATION_SUMMARY, deprecated: true })
  async rotateDataSourceSecretNow(
    @CurrentPrincipal() principal: Principal,
    @Param('sourceId') sourceId: string,
    @Body() dto: ReasonDto,
  ) {
    const { secret } = await this.registry.rotateDataSourceSecret(principal, sourceId, {
      reason: dto.reason,
      overlapHours: 0,
    });
    return { sourceId, secret };
  }

  @Post('data-sources/:sourceId/revoke')
  @HttpCode(200)
  @RequirePermission('registry:write')
  @ApiOperation({
    summary:
      'Revoke a data source for good (reason required, audited): its events go to the DLQ as revoked_sender',
  })
  revokeDataSource(
    @CurrentPrincipal() principal: Principal,
    @Param('sourceId') sourceId: string,
    @Body() dto: ReasonDto,
  ) {
    return this.registry.revokeDataSource(principal, sourceId, dto.reason);
  }
}

/**
 * Tenants are created and listed by the platform's administrators only: an admin key issued for one
 * manufacturer manages that tenant's keys, never the set of tenants.
 */
function requirePlatformAdmin(principal: Principal): void {
  if (principal.manufacturerId !== null) {
    throw new ForbiddenException('Only a platform administrator (a key without a tenant) manages tenants');
  }
}
