import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, Repository, SelectQueryBuilder, ObjectLiteral } from 'typeorm';
import { AppConfig, decodeKey } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { newSigningSecret, SecretBox } from '../auth/secret-box';
import { Principal } from '../auth/roles';
import { tenantForRead, tenantForWrite } from '../auth/tenant-scope';
import { decodeCursor, DEFAULT_PAGE_SIZE, encodeCursor, Page } from '../common/pagination';
import {
  CreateDataSourceDto,
  CreateDeviceDto,
  CreateManufacturerDto,
  CreateModelVersionDto,
  CreateProductDto,
  CreateSiteDto,
  ListQueryDto,
  UpdateDeviceDto,
} from './registry.dto';
import { ClinicalDataSource, Device, Manufacturer, ModelVersion, Product, Site } from './registry.entities';

/** What the API shows of a device: its registry row in event vocabulary, never its secret. */
export interface DeviceView {
  id: string;
  deviceId: string;
  manufacturerId: string;
  productId: string;
  siteId: string;
  softwareVersion: string;
  modelVersion: string;
  scannerVendor: string | null;
  scannerModel: string | null;
  secretRotatedAt: Date;
  createdAt: Date;
  updatedAt: Date;
}

export interface DataSourceView {
  id: string;
  sourceId: string;
  manufacturerId: string;
  siteId: string;
  name: string;
  kind: string;
  secretRotatedAt: Date;
  createdAt: Date;
}

export interface SiteView {
  id: string;
  siteId: string;
  manufacturerId: string;
  name: string;
  country: string;
  createdAt: Date;
}

/** The AAD a sender's sealed secret is bound to (see SecretBox). */
export function secretBinding(kind: 'device' | 'data-source', code: string): string {
  return `${kind}:${code}`;
}

@Injectable()
export class RegistryService {
  private readonly secretBox: SecretBox;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectRepository(Manufacturer) private readonly manufacturers: Repository<Manufacturer>,
    @InjectRepository(Product) private readonly products: Repository<Product>,
    @InjectRepository(ModelVersion) private readonly modelVersions: Repository<ModelVersion>,
    @InjectRepository(Site) private readonly sites: Repository<Site>,
    @InjectRepository(Device) private readonly devices: Repository<Device>,
    @InjectRepository(ClinicalDataSource) private readonly dataSources: Repository<ClinicalDataSource>,
  ) {
    this.secretBox = new SecretBox(decodeKey(config.FW_MASTER_KEY));
  }

  // ── manufacturers (tenants) ──────────────────────────────────────────────────────────────
  createManufacturer(dto: CreateManufacturerDto): Promise<Manufacturer> {
    return this.manufacturers.save(this.manufacturers.create({ name: dto.name }));
  }

  async requireManufacturer(id: string): Promise<Manufacturer> {
    const found = await this.manufacturers.findOneBy({ id });
    if (!found) throw new NotFoundException(`Manufacturer ${id} does not exist`);
    return found;
  }

  listManufacturers(query: ListQueryDto): Promise<Page<Manufacturer>> {
    return this.page(this.manufacturers.createQueryBuilder('e'), query);
  }

  // ── products and model versions ──────────────────────────────────────────────────────────
  async createProduct(principal: Principal, dto: CreateProductDto): Promise<Product> {
    const manufacturerId = tenantForWrite(principal, dto.manufacturerId);
    await this.requireManufacturer(manufacturerId);
    return this.products.save(
      this.products.create({
        manufacturerId,
        name: dto.name,
        udiDi: dto.udiDi,
        riskClass: dto.riskClass,
        jurisdictions: dto.jurisdictions,
        ffrThreshold: dto.ffrThreshold,
        premarketClaims: dto.premarketClaims,
      }),
    );
  }

  listProducts(principal: Principal, query: ListQueryDto): Promise<Page<Product>> {
    return this.page(this.scoped(this.products.createQueryBuilder('e'), principal), query);
  }

  /** A product the caller may see; another tenant's product is "not found", not "forbidden". */
  async requireProduct(principal: Principal, productId: string): Promise<Product> {
    const found = await this.scoped(this.products.createQueryBuilder('e'), principal)
      .andWhere('e.id = :productId', { productId })
      .getOne();
    if (!found) throw new NotFoundException(`Product ${productId} does not exist`);
    return found;
  }

  async createModelVersion(principal: Principal, dto: CreateModelVersionDto): Promise<ModelVersion> {
    const product = await this.requireProduct(principal, dto.productId);
    return this.modelVersions.save(
      this.modelVersions.create({
        productId: product.id,
        version: dto.version,
        releasedAt: new Date(dto.releasedAt),
        notes: dto.notes ?? null,
      }),
    );
  }

  listModelVersions(principal: Principal, query: ListQueryDto): Promise<Page<ModelVersion>> {
    const builder = this.modelVersions.createQueryBuilder('e').innerJoin(Product, 'p', 'p.id = e.product_id');
    const tenant = tenantForRead(principal);
    if (tenant) builder.andWhere('p.manufacturer_id = :tenant', { tenant });
    return this.page(builder, query);
  }

  // ── sites ────────────────────────────────────────────────────────────────────────────────
  async createSite(principal: Principal, dto: CreateSiteDto): Promise<SiteView> {
    const manufacturerId = tenantForWrite(principal, dto.manufacturerId);
    await this.requireManufacturer(manufacturerId);
    const saved = await this.sites.save(
      this.sites.create({ manufacturerId, siteCode: dto.siteId, name: dto.name, country: dto.country }),
    );
    return this.siteView(saved);
  }

  async listSites(principal: Principal, query: ListQueryDto): Promise<Page<SiteView>> {
    const page = await this.page(this.scoped(this.sites.createQueryBuilder('e'), principal), query);
    return { ...page, items: page.items.map((site) => this.siteView(site)) };
  }

  private async requireSite(manufacturerId: string, siteCode: string): Promise<Site> {
    const found = await this.sites.findOneBy({ manufacturerId, siteCode });
    if (!found) throw new NotFoundException(`Site ${siteCode} is not registered for this manufacturer`);
    return found;
  }

  // ── devices ──────────────────────────────────────────────────────────────────────────────
  async createDevice(principal: Principal, dto: CreateDeviceDto): Promise<{ device: DeviceView; secret: string }> {
    const product = await this.requireProduct(principal, dto.productId);
    const site = await this.requireSite(product.manufacturerId, dto.siteId);
    const secret = newSigningSecret();
    const saved = await this.devices.save(
      this.devices.create({
        manufacturerId: product.manufacturerId,
        productId: product.id,
        siteId: site.id,
        deviceCode: dto.deviceId,
        softwareVersion: dto.softwareVersion,
        modelVersion: dto.modelVersion,
        scannerVendor: dto.scannerVendor ?? null,
        scannerModel: dto.scannerModel ?? null,
        secretCiphertext: this.secretBox.seal(secret, secretBinding('device', dto.deviceId)),
        secretRotatedAt: new Date(),
      }),
    );
    return { device: this.deviceView(saved, site), secret };
  }

  async listDevices(principal: Principal, query: ListQueryDto): Promise<Page<DeviceView>> {
    const builder = this.scoped(this.devices.createQueryBuilder('e'), principal);
    const page = await this.page(builder, query);
    const siteCodes = await this.siteCodesById(page.items.map((device) => device.siteId));
    return {
      ...page,
      items: page.items.map((device) => this.deviceView(device, { siteCode: siteCodes.get(device.siteId) ?? '' })),
    };
  }

  async requireDevice(principal: Principal, deviceCode: string): Promise<Device> {
    const found = await this.scoped(this.devices.createQueryBuilder('e'), principal)
      .andWhere('e.device_code = :deviceCode', { deviceCode })
      .getOne();
    if (!found) throw new NotFoundException(`Device ${deviceCode} does not exist`);
    return found;
  }

  async getDevice(principal: Principal, deviceCode: string): Promise<DeviceView> {
    const device = await this.requireDevice(principal, deviceCode);
    const siteCodes = await this.siteCodesById([device.siteId]);
    return this.deviceView(device, { siteCode: siteCodes.get(device.siteId) ?? '' });
  }

  async updateDevice(principal: Principal, deviceCode: string, dto: UpdateDeviceDto): Promise<DeviceView> {
    const device = await this.requireDevice(principal, deviceCode);
    Object.assign(device, Object.fromEntries(Object.entries(dto).filter(([, value]) => value !== undefined)));
    await this.devices.save(device);
    return this.getDevice(principal, deviceCode);
  }

  /** Issues a new secret; the old one stops verifying once consumers refresh (within their cache TTL). */
  async rotateDeviceSecret(principal: Principal, deviceCode: string): Promise<{ deviceId: string; secret: string }> {
    const device = await this.requireDevice(principal, deviceCode);
    const secret = newSigningSecret();
    await this.devices.update(
      { id: device.id },
      { secretCiphertext: this.secretBox.seal(secret, secretBinding('device', deviceCode)), secretRotatedAt: new Date() },
    );
    return { deviceId: deviceCode, secret };
  }

  // ── data sources ─────────────────────────────────────────────────────────────────────────
  async createDataSource(
    principal: Principal,
    dto: CreateDataSourceDto,
  ): Promise<{ dataSource: DataSourceView; secret: string }> {
    const manufacturerId = tenantForWrite(principal, dto.manufacturerId);
    const site = await this.requireSite(manufacturerId, dto.siteId);
    const secret = newSigningSecret();
    const saved = await this.dataSources.save(
      this.dataSources.create({
        manufacturerId,
        siteId: site.id,
        sourceCode: dto.sourceId,
        name: dto.name,
        kind: dto.kind,
        secretCiphertext: this.secretBox.seal(secret, secretBinding('data-source', dto.sourceId)),
        secretRotatedAt: new Date(),
      }),
    );
    return { dataSource: this.dataSourceView(saved, site), secret };
  }

  async listDataSources(principal: Principal, query: ListQueryDto): Promise<Page<DataSourceView>> {
    const page = await this.page(this.scoped(this.dataSources.createQueryBuilder('e'), principal), query);
    const siteCodes = await this.siteCodesById(page.items.map((source) => source.siteId));
    return {
      ...page,
      items: page.items.map((source) => this.dataSourceView(source, { siteCode: siteCodes.get(source.siteId) ?? '' })),
    };
  }

  async rotateDataSourceSecret(principal: Principal, sourceCode: string): Promise<{ sourceId: string; secret: string }> {
    const found = await this.scoped(this.dataSources.createQueryBuilder('e'), principal)
      .andWhere('e.source_code = :sourceCode', { sourceCode })
      .getOne();
    if (!found) throw new NotFoundException(`Data source ${sourceCode} does not exist`);
    const secret = newSigningSecret();
    await this.dataSources.update(
      { id: found.id },
      {
        secretCiphertext: this.secretBox.seal(secret, secretBinding('data-source', sourceCode)),
        secretRotatedAt: new Date(),
      },
    );
    return { sourceId: sourceCode, secret };
  }

  // ── shared ───────────────────────────────────────────────────────────────────────────────
  /** Restricts a query on a table with manufacturer_id to the caller's tenant (none for platform admins). */
  private scoped<T extends ObjectLiteral>(builder: SelectQueryBuilder<T>, principal: Principal): SelectQueryBuilder<T> {
    const tenant = tenantForRead(principal);
    return tenant ? builder.andWhere('e.manufacturer_id = :tenant', { tenant }) : builder;
  }

  private async page<T extends ObjectLiteral & { id: string; createdAt: Date }>(
    builder: SelectQueryBuilder<T>,
    query: ListQueryDto,
  ): Promise<Page<T>> {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const total = await builder.clone().getCount();
    const position = decodeCursor(query.cursor);
    if (position) {
      // created_at has microseconds and the cursor milliseconds: compare at the cursor's precision.
      builder.andWhere(`(date_trunc('milliseconds', e.created_at), e.id) > (:at, :id)`, {
        at: position.at,
        id: position.id,
      });
    }
    const rows = await builder
      .orderBy(`date_trunc('milliseconds', e.created_at)`, 'ASC')
      .addOrderBy('e.id', 'ASC')
      .limit(limit + 1)
      .getMany();
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    const nextCursor =
      rows.length > limit && last ? encodeCursor({ at: last.createdAt.toISOString(), id: last.id }) : null;
    return { total, items, nextCursor };
  }

  private async siteCodesById(siteIds: string[]): Promise<Map<string, string>> {
    if (siteIds.length === 0) return new Map();
    const rows = await this.dataSource
      .createQueryBuilder()
      .select(['s.id AS id', 's.site_code AS code'])
      .from(Site, 's')
      .where('s.id IN (:...siteIds)', { siteIds: [...new Set(siteIds)] })
      .getRawMany<{ id: string; code: string }>();
    return new Map(rows.map((row) => [row.id, row.code]));
  }

  private siteView(site: Site): SiteView {
    return {
      id: site.id,
      siteId: site.siteCode,
      manufacturerId: site.manufacturerId,
      name: site.name,
      country: site.country,
      createdAt: site.createdAt,
    };
  }

  private deviceView(device: Device, site: Pick<Site, 'siteCode'>): DeviceView {
    return {
      id: device.id,
      deviceId: device.deviceCode,
      manufacturerId: device.manufacturerId,
      productId: device.productId,
      siteId: site.siteCode,
      softwareVersion: device.softwareVersion,
      modelVersion: device.modelVersion,
      scannerVendor: device.scannerVendor,
      scannerModel: device.scannerModel,
      secretRotatedAt: device.secretRotatedAt,
      createdAt: device.createdAt,
      updatedAt: device.updatedAt,
    };
  }

  private dataSourceView(source: ClinicalDataSource, site: Pick<Site, 'siteCode'>): DataSourceView {
    return {
      id: source.id,
      sourceId: source.sourceCode,
      manufacturerId: source.manufacturerId,
      siteId: site.siteCode,
      name: source.name,
      kind: source.kind,
      secretRotatedAt: source.secretRotatedAt,
      createdAt: source.createdAt,
    };
  }
}
