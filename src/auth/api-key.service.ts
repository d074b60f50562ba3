import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { createHash, randomBytes } from 'node:crypto';
import { IsNull, Repository } from 'typeorm';
import { APP_CONFIG } from '../config/config.module';
import { AppConfig } from '../config/config';
import { ApiKey } from './api-key.entity';
import { Principal, Role } from './roles';

const KEY_PREFIX = 'fwk_';
/** Positive lookups are cached briefly; a revoked key stops working within this time on every instance. */
const CACHE_TTL_MS = 30_000;

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * API keys are 256-bit random tokens, so a plain SHA-256 at rest is enough (no password stretching
 * needed); the key itself is returned exactly once, at creation.
 */
@Injectable()
export class ApiKeyService implements OnApplicationBootstrap {
  private readonly logger = new Logger(ApiKeyService.name);
  private readonly cache = new Map<string, { principal: Principal | null; expiresAt: number }>();

  constructor(
    @InjectRepository(ApiKey) private readonly apiKeys: Repository<ApiKey>,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const token = this.config.FW_BOOTSTRAP_ADMIN_TOKEN;
    if (!token) return;
    await this.apiKeys
      .createQueryBuilder()
      .insert()
      .values({
        manufacturerId: null,
        role: 'admin',
        name: 'bootstrap admin (FW_BOOTSTRAP_ADMIN_TOKEN)',
        keyPrefix: token.slice(0, 8),
        keySha256: sha256(token),
      })
      .orIgnore()
      .execute();
    this.logger.log('Bootstrap admin key is registered');
  }

  async issue(manufacturerId: string | null, role: Role, name: string): Promise<{ apiKey: ApiKey; key: string }> {
    const key = KEY_PREFIX + randomBytes(32).toString('base64url');
    const saved = await this.apiKeys.save(
      this.apiKeys.create({ manufacturerId, role, name, keyPrefix: key.slice(0, 12), keySha256: sha256(key) }),
    );
    return { apiKey: saved, key };
  }

  list(manufacturerId: string | null): Promise<ApiKey[]> {
    return this.apiKeys.find({
      where: manufacturerId ? { manufacturerId } : {},
      order: { createdAt: 'ASC' },
    });
  }

  async revoke(id: string): Promise<boolean> {
    const result = await this.apiKeys.update({ id, revokedAt: IsNull() }, { revokedAt: new Date() });
    this.cache.clear();
    return (result.affected ?? 0) > 0;
  }

  async authenticate(presentedKey: string): Promise<Principal | null> {
    const digest = sha256(presentedKey);
    const cacheKey = digest.toString('base64');
    const cached = this.cache.get(cacheKey);
    if (cached && cached.expiresAt > Date.now()) return cached.principal;

    const found = await this.apiKeys
      .createQueryBuilder('k')
      .where('k.key_sha256 = :digest AND k.revoked_at IS NULL', { digest })
      .getOne();
    const principal: Principal | null = found
      ? { apiKeyId: found.id, role: found.role, manufacturerId: found.manufacturerId }
      : null;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(cacheKey, { principal, expiresAt: Date.now() + CACHE_TTL_MS });
    return principal;
  }
}
