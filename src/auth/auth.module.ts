import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { ApiKeyGuard } from './api-key.guard';
import { ApiKey } from './api-key.entity';
import { ApiKeyService } from './api-key.service';
import { ApiKeyThrottlerGuard, rateLimitOptions } from './rate-limit.guard';

@Global()
@Module({
  imports: [
    TypeOrmModule.forFeature([ApiKey]),
    ThrottlerModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => rateLimitOptions(config),
    }),
  ],
  providers: [
    ApiKeyService,
    // Global guards run in this order: the rate limit first (so floods of bad keys are cut off per
    // address before they reach the database), then authentication and the roles matrix.
    { provide: APP_GUARD, useClass: ApiKeyThrottlerGuard },
    { provide: APP_GUARD, useClass: ApiKeyGuard },
  ],
  exports: [ApiKeyService],
})
export class AuthModule {}
