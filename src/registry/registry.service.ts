import { ConflictException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, EntityManager, Repository, SelectQueryBuilder, ObjectLiteral } from 'typeorm';
import { actorOf, AuditService } from '../audit/audit.service';
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
  RotateSecretDto,
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
  /** Non-secret id of the current signing secret (the secret itself is shown once, when issued). */
  secretKeyId: string;
  /** Id of the secret the last rotation replaced, and until when its events are accepted (null: none). */
  previousSecretKeyId: string | null;
  previousSecretValidUntil: Date | null;
  createdAt: Date;
  updatedAt: Date;
  /** When the device was revoked; its events are then dead-lettered as revoked_sender. */
  revokedAt: Date | null;
}

export interface DataSourceView {
  id: string;
  sourceId: string;
  manufacturerId: string;
  siteId: string;
  name: string;
  kind: string;
  secretRotatedAt: Date;
  secretKeyId: string;
  previousSecretKeyId: string | null;
  previousSecretValidUntil: Date | null;
  createdAt: Date;
  /** When the data source was revoked; its events are then dead-lettered as revoked_sender. */
  revokedAt: Date | null;
}

export interface SiteView {
  id: string;
  siteId: string;
  manufacturerId: string;
  name: string;
  country: string;
  createdAt: Date;
}

/**
 * The state of each registry object that the audit trail digests (before/after): what the API shows
 * of it, never a secret or its ciphertext (README, "Audit trail").
 */
export function manufacturerState(manufacturer: Manufacturer): object {
  return { id: manufacturer.id, name: manufacturer.name, createdAt: manufacturer.createdAt };
}

export function productState(product: Product): object {
  return {
    id: product.id,
    manufacturerId: product.manufacturerId,
    name: product.name,
    udiDi: product.udiDi,
    riskClass: product.riskClass,
    jurisdictions: product.jurisdictions,
    ffrThreshold: product.ffrThreshold,
    premarketClaims: product.premarketClaims,
    createdAt: product.createdAt,
  };
}

export function modelVersionState(version: ModelVersion): object {
  return {
    id: version.id,
    productId: version.productId,
    version: version.version,
    releasedAt: version.releasedAt,
    notes: version.notes ?? null,
    createdAt: version.createdAt,
  };
}

/** Names of the fields whose values differ between two states (for the audit entry's details). */
function changedFields(before: object, after: object): string[] {
  const a = before as Record<string, unknown>;
  const b = after as Record<string, unknown>;
  return [...new Set([...Object.keys(a), ...Object.keys(b)])]
    .filter((key) => JSON.stringify(a[key]) !== JSON.stringify(b[key]))
    .sort();
}

/** Revocation is final: a revoked sender is neither changed nor given a new secret. */
function refuseIfRevoked(kind: string, code: string, revokedAt: Date | null): void {
  if (revokedAt) throw new ConflictException(`${kind} ${code} was revoked on ${revokedAt.toISOString()}`);
}

/**
 * A new signing secret's key id: random and not derived from the secret, so it can be shown, logged and
 * audited freely. Returned with the secret, so whoever installs it can tell which one a sender holds.
 */
export function newSecretKeyId(): string {
  return 'sk_' + randomBytes(16).toString('hex');
}

/** What a rotation answers (once): the new secret and how the old one is phased out. */
export interface SecretRotation {
  /** Key id of the new secret. */
  keyId: string;
  /** The new secret; in this response only. */
  secret: string;
  rotatedAt: Date;
  /** Key id of the secret replaced; it is accepted until previousSecretValidUntil, then retired. */
  previousKeyId: string;
  previousSecretValidUntil: Date;
  overlapHours: number;
}

type SenderTable = 'devices' | 'data_sources';

/** The AAD a sender's sealed secret is bound to (see SecretBox). */
export function secretBinding(kind: 'device' | 'data-source', code: string): string {
  return `${kind}:${code}`;
}

@Injectable()
export class RegistryService {
  private readonly secretBox: SecretBox;
  private readonly defaultOverlapHours: number;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectRepository(Manufacturer) private readonly manufacturers: Repository<Manufacturer>,
    @InjectRepository(Product) private readonly products: Repository<Product>,
    @InjectRepository(ModelVersion) private readonly modelVersions: Repository<ModelVersion>,
    @InjectRepository(Site) private readonly sites: Repository<Site>,
    @InjectRepository(Device) private readonly devices: Repository<Device>,
    @InjectRepository(ClinicalDataSource) private readonly dataSources: Repository<ClinicalDataSource>,
    private readonly audit: AuditService,
  ) {
    this.secretBox = new SecretBox(decodeKey(config.FW_MASTER_KEY));
    this.defaultOverlapHours = config.FW_SECRET_ROTATION_OVERLAP_HOURS;
  }

  // ── manufacturers (tenants) ──────────────────────────────────────────────────────────────
  createManufacturer(principal: Principal, dto: CreateManufacturerDto): Promise<Manufacturer> {
    return this.dataSource.transaction(async (manager) => {
      const manufacturers = manager.getRepository(Manufacturer);
      const saved = await manufacturers.save(manufacturers.create({ name: dto.name }));
      await this.audit.record(
        {
          actor: actorOf(principal),
          action: 'manufacturer.create',
          entityId: saved.id,
          manufacturerId: saved.id,
          after: manufacturerState(saved),
        },
        manager,
      );
      return saved;
    });
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
    return this.dataSource.transaction(async (manager) => {
      const products = manager.getRepository(Product);
      const saved = await products.save(
        products.create({
          manufacturerId,
          name: dto.name,
          udiDi: dto.udiDi,
          riskClass: dto.riskClass,
          jurisdictions: dto.jurisdictions,
          ffrThreshold: dto.ffrThreshold,
          premarketClaims: dto.premarketClaims,
        }),
      );
      await this.audit.record(
        {
          actor: actorOf(principal),
          action: 'product.create',
          entityId: saved.id,
          manufacturerId,
          after: productState(saved),
        },
        manager,
      );
      return saved;
    });
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
    return this.dataSource.transaction(async (manager) => {
      const versions = manager.getRepository(ModelVersion);
      const saved = await versions.save(
        versions.create({
          productId: product.id,
          version: dto.version,
          releasedAt: new Date(dto.releasedAt),
          notes: dto.notes ?? null,
        }),
      );
      await this.audit.record(
        {
          actor: actorOf(principal),
          action: 'model_version.create',
          entityId: saved.id,
          manufacturerId: product.manufacturerId,
          after: modelVersionState(saved),
          details: { productId: product.id, version: saved.version },
        },
        manager,
      );
      return saved;
    });
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
    return this.dataSource.transaction(async (manager) => {
      const sites = manager.getRepository(Site);
      const view = this.siteView(
        await sites.save(
          sites.create({ manufacturerId, siteCode: dto.siteId, name: dto.name, country: dto.country }),
        ),
      );
      await this.audit.record(
        {
          actor: actorOf(principal),
          action: 'site.create',
          entityId: view.id,
          manufacturerId,
          after: view,
          details: { siteId: view.siteId },
        },
        manager,
      );
      return view;
    });
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
  async createDevice(
    principal: Principal,
    dto: CreateDeviceDto,
  ): Promise<{ device: DeviceView; secret: string }> {
    const product = await this.requireProduct(principal, dto.productId);
    const site = await this.requireSite(product.manufacturerId, dto.siteId);
    const secret = newSigningSecret();
    const device = await this.dataSource.transaction(async (manager) => {
      const devices = manager.getRepository(Device);
      const view = this.deviceView(
        await devices.save(
          devices.create({
            manufacturerId: product.manufacturerId,
            productId: product.id,
            siteId: site.id,
            deviceCode: dto.deviceId,
            softwareVersion: dto.softwareVersion,
            modelVersion: dto.modelVersion,
            scannerVendor: dto.scannerVendor ?? null,
            scannerModel: dto.scannerModel ?? null,
            secretCiphertext: this.secretBox.seal(secret, secretBinding('device', dto.deviceId)),
            secretKeyId: newSecretKeyId(),
            secretRotatedAt: new Date(),
          }),
        ),
        site,
      );
      await this.audit.record(
        {
          actor: actorOf(principal),
          action: 'device.create',
          entityId: view.deviceId,
          manufacturerId: view.manufacturerId,
          after: view,
        },
        manager,
      );
      return view;
    });
    return { device, secret };
  }

  async listDevices(principal: Principal, query: ListQueryDto): Promise<Page<DeviceView>> {
    const builder = this.scoped(this.devices.createQueryBuilder('e'), principal);
    const page = await this.page(builder, query);
    const siteCodes = await this.siteCodesById(page.items.map((device) => device.siteId));
    return {
      ...page,
      items: page.items.map((device) =>
        this.deviceView(device, { siteCode: siteCodes.get(device.siteId) ?? '' }),
      ),
    };
  }

  /**
   * A device the caller may see; another tenant's device is "not found". Inside a transaction
   * (`manager`), the row is locked until it ends, so concurrent writes to one device serialise.
   */
  async requireDevice(principal: Principal, deviceCode: string, manager?: EntityManager): Promise<Device> {
    const builder = this.scoped(
      (manager ? manager.getRepository(Device) : this.devices).createQueryBuilder('e'),
      principal,
    ).andWhere('e.device_code = :deviceCode', { deviceCode });
    const found = await (manager ? builder.setLock('pessimistic_write') : builder).getOne();
    if (!found) throw new NotFoundException(`Device ${deviceCode} does not exist`);
    return found;
  }

  async getDevice(principal: Principal, deviceCode: string, manager?: EntityManager): Promise<DeviceView> {
    const device = await this.requireDevice(principal, deviceCode, manager);
    const siteCodes = await this.siteCodesById([device.siteId], manager);
    return this.deviceView(device, { siteCode: siteCodes.get(device.siteId) ?? '' });
  }

  async updateDevice(principal: Principal, deviceCode: string, dto: UpdateDeviceDto): Promise<DeviceView> {
    return this.dataSource.transaction(async (manager) => {
      const device = await this.requireDevice(principal, deviceCode, manager);
      refuseIfRevoked('Device', deviceCode, device.revokedAt);
      const before = await this.getDevice(principal, deviceCode, manager);
      Object.assign(
        device,
        Object.fromEntries(Object.entries(dto).filter(([, value]) => value !== undefined)),
      );
      await manager.getRepository(Device).save(device);
      const after = await this.getDevice(principal, deviceCode, manager);
      await this.audit.record(
        {
          actor: actorOf(principal),
          action: 'device.update',
          entityId: deviceCode,
          manufacturerId: device.manufacturerId,
          before,
          after,
          details: { changed: changedFields(before, after).filter((field) => field !== 'updatedAt') },
        },
        manager,
      );
      return after;
    });
  }

  /**
   * Issues a new signing secret. The previous one stays valid for `overlapHours` (default
   * FW_SECRET_ROTATION_OVERLAP_HOURS), so the device can be given the new one without losing events;
   * afterwards its events go to the DLQ as retired_secret. A sender holds at most two secrets: a secret
   * still in the overlap of an earlier rotation stops verifying at once.
   */
  async rotateDeviceSecret(
    principal: Principal,
    deviceCode: string,
    dto: RotateSecretDto,
  ): Promise<{ deviceId: string } & SecretRotation> {
    const rotation = await this.dataSource.transaction(async (manager) => {
      const lock = () => this.getDevice(principal, deviceCode, manager);
      const before = await lock();
      refuseIfRevoked('Device', deviceCode, before.revokedAt);
      return this.rotateSecret(principal, manager, 'device', before, lock, dto);
    });
    return { deviceId: deviceCode, ...rotation };
  }

  /**
   * Revokes a device for good: it stays in the registry (its analyses refer to it) but every event it
   * sends from now on is dead-lettered as revoked_sender (within the consumers' sender cache TTL).
   */
  async revokeDevice(principal: Principal, deviceCode: string, reason: string): Promise<DeviceView> {
    return this.dataSource.transaction(async (manager) => {
      const before = await this.getDevice(principal, deviceCode, manager);
      refuseIfRevoked('Device', deviceCode, before.revokedAt);
      await manager.query(`UPDATE devices SET revoked_at = now(), updated_at = now() WHERE id = $1`, [
        before.id,
      ]);
      const after = await this.getDevice(principal, deviceCode, manager);
      await this.audit.record(
        {
          actor: actorOf(principal),
          action: 'device.revoke',
          entityId: deviceCode,
          manufacturerId: before.manufacturerId,
          before,
          after,
          reason,
        },
        manager,
      );
      return after;
    });
  }

  // ── data sources ─────────────────────────────────────────────────────────────────────────
  async createDataSource(
    principal: Principal,
    dto: CreateDataSourceDto,
  ): Promise<{ dataSource: DataSourceView; secret: string }> {
    const manufacturerId = tenantForWrite(principal, dto.manufacturerId);
    const site = await this.requireSite(manufacturerId, dto.siteId);
    const secret = newSigningSecret();
    const dataSource = await this.dataSource.transaction(async (manager) => {
      const sources = manager.getRepository(ClinicalDataSource);
      const view = this.dataSourceView(
        await sources.save(
          sources.create({
            manufacturerId,
            siteId: site.id,
            sourceCode: dto.sourceId,
            name: dto.name,
            kind: dto.kind,
            secretCiphertext: this.secretBox.seal(secret, secretBinding('data-source', dto.sourceId)),
            secretKeyId: newSecretKeyId(),
            secretRotatedAt: new Date(),
          }),
        ),
        site,
      );
      await this.audit.record(
        {
          actor: actorOf(principal),
          action: 'data_source.create',
          entityId: view.sourceId,
          manufacturerId,
          after: view,
        },
        manager,
      );
      return view;
    });
    return { dataSource, secret };
  }

  async listDataSources(principal: Principal, query: ListQueryDto): Promise<Page<DataSourceView>> {
    const page = await this.page(this.scoped(this.dataSources.createQueryBuilder('e'), principal), query);
    const siteCodes = await this.siteCodesById(page.items.map((source) => source.siteId));
    return {
      ...page,
      items: page.items.map((source) =>
        this.dataSourceView(source, { siteCode: siteCodes.get(source.siteId) ?? '' }),
      ),
    };
  }

  /** A data source the caller may see, locked until the transaction of `manager` ends. */
  private async lockDataSource(
    principal: Principal,
    sourceCode: string,
    manager: EntityManager,
  ): Promise<DataSourceView> {
    const found = await this.scoped(
      manager.getRepository(ClinicalDataSource).createQueryBuilder('e'),
      principal,
    )
      .andWhere('e.source_code = :sourceCode', { sourceCode })
      .setLock('pessimistic_write')
      .getOne();
    if (!found) throw new NotFoundException(`Data source ${sourceCode} does not exist`);
    const siteCodes = await this.siteCodesById([found.siteId], manager);
    return this.dataSourceView(found, { siteCode: siteCodes.get(found.siteId) ?? '' });
  }

  /** As rotateDeviceSecret, for a data source. */
  async rotateDataSourceSecret(
    principal: Principal,
    sourceCode: string,
    dto: RotateSecretDto,
  ): Promise<{ sourceId: string } & SecretRotation> {
    const rotation = await this.dataSource.transaction(async (manager) => {
      const lock = () => this.lockDataSource(principal, sourceCode, manager);
      const before = await lock();
      refuseIfRevoked('Data source', sourceCode, before.revokedAt);
      return this.rotateSecret(principal, manager, 'data-source', before, lock, dto);
    });
    return { sourceId: sourceCode, ...rotation };
  }

  /** Revokes a data source for good; its events are dead-lettered as revoked_sender from then on. */
  async revokeDataSource(principal: Principal, sourceCode: string, reason: string): Promise<DataSourceView> {
    return this.dataSource.transaction(async (manager) => {
      const before = await this.lockDataSource(principal, sourceCode, manager);
      refuseIfRevoked('Data source', sourceCode, before.revokedAt);
      await manager.query(`UPDATE data_sources SET revoked_at = now() WHERE id = $1`, [before.id]);
      const after = await this.lockDataSource(principal, sourceCode, manager);
      await this.audit.record(
        {
          actor: actorOf(principal),
          action: 'data_source.revoke',
          entityId: sourceCode,
          manufacturerId: before.manufacturerId,
          before,
          after,
          reason,
        },
        manager,
      );
      return after;
    });
  }

  // ── shared ───────────────────────────────────────────────────────────────────────────────
  /**
   * The rotation itself, inside the caller's transaction with the sender's row locked: the current
   * secret (ciphertext and key id, moved as they are, still bound to the sender) becomes the previous
   * one with its deadline on the database clock, a new secret is sealed in its place, and the audit
   * entry names key ids and the deadline — never a secret.
   */
  private async rotateSecret<V extends DeviceView | DataSourceView>(
    principal: Principal,
    manager: EntityManager,
    kind: 'device' | 'data-source',
    before: V,
    reread: () => Promise<V>,
    dto: RotateSecretDto,
  ): Promise<SecretRotation> {
    const code = 'deviceId' in before ? before.deviceId : before.sourceId;
    const table: SenderTable = kind === 'device' ? 'devices' : 'data_sources';
    const overlapHours = dto.overlapHours ?? this.defaultOverlapHours;
    const secret = newSigningSecret();
    const keyId = newSecretKeyId();
    await manager.query(
      `UPDATE ${table}
          SET previous_secret_ciphertext = secret_ciphertext,
              previous_secret_key_id = secret_key_id,
              previous_secret_valid_until = now() + make_interval(secs => $3::float8),
              secret_ciphertext = $1,
              secret_key_id = $2,
              secret_rotated_at = now()${table === 'devices' ? ', updated_at = now()' : ''}
        WHERE id = $4`,
      [
        this.secretBox.seal(secret, secretBinding(kind, code)),
        keyId,
        Math.round(overlapHours * 3_600_000) / 1000,
        before.id,
      ],
    );
    const after = await reread();
    const previousSecretValidUntil = after.previousSecretValidUntil as Date;
    await this.audit.record(
      {
        actor: actorOf(principal),
        action: kind === 'device' ? 'device.secret_rotate' : 'data_source.secret_rotate',
        entityId: code,
        manufacturerId: before.manufacturerId,
        before,
        after,
        reason: dto.reason,
        details: {
          keyId,
          previousKeyId: before.secretKeyId,
          previousSecretValidUntil: previousSecretValidUntil.toISOString(),
          overlapHours,
          // The secret of the rotation before this one, which no longer verifies at all (null: none).
          droppedKeyId: before.previousSecretKeyId,
        },
      },
      manager,
    );
    return {
      keyId,
      secret,
      rotatedAt: after.secretRotatedAt,
      previousKeyId: before.secretKeyId,
      previousSecretValidUntil,
      overlapHours,
    };
  }

  /** Restricts a query on a table with manufacturer_id to the caller's tenant (none for platform admins). */
  private scoped<T extends ObjectLiteral>(
    builder: SelectQueryBuilder<T>,
    principal: Principal,
  ): SelectQueryBuilder<T> {
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

  private async siteCodesById(siteIds: string[], manager?: EntityManager): Promise<Map<string, string>> {
    if (siteIds.length === 0) return new Map();
    const rows = await (manager ?? this.dataSource)
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
      secretKeyId: device.secretKeyId,
      previousSecretKeyId: device.previousSecretKeyId ?? null,
      previousSecretValidUntil: device.previousSecretValidUntil ?? null,
      createdAt: device.createdAt,
      updatedAt: device.updatedAt,
      revokedAt: device.revokedAt ?? null,
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
      secretKeyId: source.secretKeyId,
      previousSecretKeyId: source.previousSecretKeyId ?? null,
      previousSecretValidUntil: source.previousSecretValidUntil ?? null,
      createdAt: source.createdAt,
      revokedAt: source.revokedAt ?? null,
    };
  }
}
