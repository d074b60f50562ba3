import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { LoggerModule } from 'nestjs-pino';
import { AuditModule } from './audit/audit.module';
import { AuthModule } from './auth/auth.module';
import { loggerParams } from './common/logging';
import { AppConfig } from './config/config';
import { APP_CONFIG, ConfigModule } from './config/config.module';
import { DashboardsModule } from './dashboards/dashboards.module';
import { dataSourceOptions } from './database/data-source';
import { DriftModule } from './drift/drift.module';
import { EvidenceModule } from './evidence/evidence.module';
import { enforceTenantScope } from './database/tenant-context';
import { HealthModule } from './health/health.module';
import { IngestionModule } from './ingestion/ingestion.module';
import { OutcomesModule } from './outcomes/outcomes.module';
import { PerformanceModule } from './performance/performance.module';
import { RegistryModule } from './registry/registry.module';
import { ReportsModule } from './reports/reports.module';
import { StorageModule } from './storage/storage.module';
import { VigilanceModule } from './vigilance/vigilance.module';

@Module({
  imports: [
    ConfigModule,
    LoggerModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => loggerParams(config),
    }),
    TypeOrmModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => dataSourceOptions(config, { tenantScoped: true }),
      // Row-level security (src/database/tenant-context.ts): every connection taken carries its tenant.
      dataSourceFactory: async (options) => {
        const dataSource = await new DataSource(options!).initialize();
        enforceTenantScope((dataSource.driver as PostgresDriver).master as Pool);
        return dataSource;
      },
    }),
    AuditModule,
    AuthModule,
    RegistryModule,
    IngestionModule,
    OutcomesModule,
    PerformanceModule,
    ScheduleModule.forRoot(),
    VigilanceModule,
    DriftModule,
    EvidenceModule,
    ReportsModule,
    StorageModule,
    HealthModule,
    DashboardsModule,
  ],
})
export class AppModule {}
