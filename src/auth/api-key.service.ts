import {
  ConflictException,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { createHash, randomBytes } from 'node:crypto';
import { DataSource, Repository } from 'typeorm';
import { actorOf, AuditService, SYSTEM_ACTOR } from '../audit/audit.service';
import { APP_CONFIG } from '../config/config.module';
import { AppConfig } from '../config/config';
import { runAsSystem } from '../database/tenant-context';
import { ApiKey } from './api-key.entity';
import { Principal, Role } from './roles';

const KEY_PREFIX = 'fwk_';
/** Positive lookups are cached briefly; a revoked key stops working within this time on every instance. */
const CACHE_TTL_MS = 30_000;

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** What the audit trail digests of a key: its registry facts, never the key or its hash. */
export function apiKeyState(key: ApiKey): object {
  return {
    id: key.id,
    manufacturerId: key.manufacturerId,
    role: key.role,
    name: key.name,
    keyPrefix: key.keyPrefix,
    createdAt: key.createdAt,
    revokedAt: key.revokedAt ?? null,
  };
}

/**
 * API keys are 256-bit random tokens, so a plain SHA-256 at rest is enough (no password stretching
 * needed); the key itself is returned exactly once, at creation. Issuing and revoking are audited in
 * the same transaction as the change.
 */
@Injectable()
export class ApiKeyService implements OnApplicationBootstrap {
  private readonly logger = new Logger(ApiKeyService.name);
  private readonly cache = new Map<string, { principal: Principal | null; expiresAt: number }>();

  constructor(
    @InjectRepository(ApiKey) private readonly apiKeys: Repository<ApiKey>,
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly audit: AuditService,
  ) {}

  onApplicationBootstrap(): Promise<void> {
    return runAsSystem(() => this.registerBootstrapAdmin());
  }

  private async registerBootstrapAdmin(): Promise<void> {
    const token = this.config.FW_BOOTSTRAP_ADMIN_TOKEN;
    if (!token) return;
    const inserted = await this.dataSource.transaction(async (manager) => {
      const result = await manager
        .createQueryBuilder()
        .insert()
        .into(ApiKey)
        .values({
          manufacturerId: null,
          role: 'admin',
          name: 'bootstrap admin (FW_BOOTSTRAP_ADMIN_TOKEN)',
          keyPrefix: token.slice(0, 8),
          keySha256: sha256(token),
        })
        .orIgnore()
        .returning(['id'])
        .execute();
      const id = (result.raw as Array<{ id: string }>)[0]?.id;
      if (!id) return false;
      const saved = await manager.getRepository(ApiKey).findOneByOrFail({ id });
      await this.audit.record(
        {
          actor: SYSTEM_ACTOR,
          action: 'api_key.issue',
          entityId: id,
          manufacturerId: null,
          after: apiKeyState(saved),
          details: { source: 'FW_BOOTSTRAP_ADMIN_TOKEN' },
        },
        manager,
      );
      return true;
    });
    this.logger.log(inserted ? 'Bootstrap admin key registered' : 'Bootstrap admin key is registered');
  }

  async issue(
    principal: Principal,
    manufacturerId: string | null,
    role: Role,
    name: string,
  ): Promise<{ apiKey: ApiKey; key: string }> {
    const key = KEY_PREFIX + randomBytes(32).toString('base64url');
    const apiKey = await this.dataSource.transaction(async (manager) => {
      const keys = manager.getRepository(ApiKey);
      const saved = await keys.save(
        keys.create({ manufacturerId, role, name, keyPrefix: key.slice(0, 12), keySha256: sha256(key) }),
      );
      await this.audit.record(
        {
          actor: actorOf(principal),
          action: 'api_key.issue',
          entityId: saved.id,
          manufacturerId,
          after: apiKeyState(saved),
        },
        manager,
      );
      return saved;
    });
    return { apiKey, key };
  }

  list(manufacturerId: string | null): Promise<ApiKey[]> {
    return this.apiKeys.find({
      where: manufacturerId ? { manufacturerId } : {},
      order: { createdAt: 'ASC' },
    });
  }

  /**
   * Revokes a key for good (there is no un-revoke: issue a new key). A tenant-scoped admin may revoke
   * only its own tenant's keys; another tenant's key is "not found".
   */
  async revoke(principal: Principal, id: string, reason: string): Promise<ApiKey> {
    const revoked = await this.dataSource.transaction(async (manager) => {
      const keys = manager.getRepository(ApiKey);
      const found = await keys
        .createQueryBuilder('k')
        .setLock('pessimistic_write')
        .where('k.id = :id', { id })
        .getOne();
      if (!found || (principal.manufacturerId && found.manufacturerId !== principal.manufacturerId)) {
        throw new NotFoundException(`API key ${id} does not exist`);
      }
      if (found.revokedAt) throw new ConflictException(`API key ${id} was already revoked`);
      const before = apiKeyState(found);
      // TypeORM returns [rows, affected] for an UPDATE … RETURNING.
      const [rows] = await manager.query<[Array<{ revoked_at: Date }>, number]>(
        `UPDATE api_keys SET revoked_at = now() WHERE id = $1 RETURNING revoked_at`,
        [id],
      );
      const after = Object.assign(new ApiKey(), found, { revokedAt: rows[0].revoked_at });
      await this.audit.record(
        {
          actor: actorOf(principal),
          action: 'api_key.revoke',
          entityId: id,
          manufacturerId: found.manufacturerId,
          before,
          after: apiKeyState(after),
          reason,
        },
        manager,
      );
      return after;
    });
    this.cache.clear();
    return revoked;
  }

  async authenticate(presentedKey: string): Promise<Principal | null> {
    const digest = sha256(presentedKey);
    const cacheKey = digest.toString('base64');
    const cached = this.cache.get(cacheKey);
    if (cached && cached.expiresAt > Date.now()) return cached.principal;

    // Keys of every tenant: the caller's tenant is what this lookup finds out (row-level security).
    const found = await runAsSystem(() =>
      this.apiKeys
        .createQueryBuilder('k')
        .where('k.key_sha256 = :digest AND k.revoked_at IS NULL', { digest })
        .getOne(),
    );
    const principal: Principal | null = found
      ? { apiKeyId: found.id, role: found.role, manufacturerId: found.manufacturerId }
      : null;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(cacheKey, { principal, expiresAt: Date.now() + CACHE_TTL_MS });
    return principal;
  }
}
