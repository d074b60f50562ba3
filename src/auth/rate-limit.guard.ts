import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  normalizeIp,
  ThrottlerGuard,
  ThrottlerLimitDetail,
  ThrottlerModuleOptions,
  ThrottlerStorage,
} from '@nestjs/throttler';
import { AppConfig } from '../config/config';
import { BEARER } from './api-key.guard';
import { ApiKeyService } from './api-key.service';
import { AuthenticatedRequest, PUBLIC_ROUTE } from './decorators';

/** The single throttler: named `default` so the headers are the standard Retry-After / X-RateLimit-*. */
export function rateLimitOptions(config: AppConfig): ThrottlerModuleOptions {
  return {
    throttlers: [
      {
        name: 'default',
        limit: config.FW_RATE_LIMIT_REQUESTS,
        ttl: config.FW_RATE_LIMIT_WINDOW_SECONDS * 1000,
      },
    ],
  };
}

/**
 * Per-key rate limit (issue 8 §6, availability): one budget per API key across every route, so a
 * busy integration cannot starve the others sharing an address, and a key cannot escape its budget by
 * spreading over routes or addresses. Requests without a valid key (which the ApiKeyGuard then
 * refuses) share a budget per client address, which bounds key guessing. Public routes (/health) are
 * exempt. Runs before the ApiKeyGuard; it resolves the key through the same short-lived cache.
 */
@Injectable()
export class ApiKeyThrottlerGuard extends ThrottlerGuard {
  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    private readonly apiKeys: ApiKeyService,
  ) {
    super(options, storage, reflector);
  }

  protected override shouldSkip(context: ExecutionContext): Promise<boolean> {
    return Promise.resolve(
      this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [context.getHandler(), context.getClass()]) ===
        true,
    );
  }

  protected override async getTracker(req: Record<string, unknown>): Promise<string> {
    const request = req as unknown as AuthenticatedRequest;
    if (request.principal) return `key:${request.principal.apiKeyId}`;
    const match = BEARER.exec(request.headers.authorization ?? '');
    const principal = match ? await this.apiKeys.authenticate(match[1]) : null;
    if (principal) return `key:${principal.apiKeyId}`;
    return `address:${normalizeIp(request.ip ?? 'unknown', 64)}`;
  }

  /** One budget per key (or address), whatever the route: the default key is per route. */
  protected override generateKey(_context: ExecutionContext, tracker: string, name: string): string {
    return `${name}:${tracker}`;
  }

  protected override getErrorMessage(
    _context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<string> {
    const who = detail.tracker.startsWith('key:')
      ? 'this API key'
      : 'requests without a valid API key from this address';
    return Promise.resolve(
      `Rate limit exceeded for ${who}: at most ${detail.limit} requests per ${detail.ttl / 1000} s; ` +
        `retry after ${detail.timeToBlockExpire} s`,
    );
  }
}
