import 'reflect-metadata';
import { join } from 'node:path';
import { DataSource, DataSourceOptions } from 'typeorm';
import { AppConfig } from '../config/config';
import { ENTITIES } from './entities';
import { APP_CONNECTION_OPTIONS } from './tenant-context';

/**
 * The one TypeORM options object, used by the Nest module and the migration CLI alike (twenty's
 * core.datasource.ts shape). `synchronize` is off for good: the schema changes only through
 * reviewed migrations in migrations/.
 */
export function dataSourceOptions(
  config: Pick<AppConfig, 'DATABASE_URL'>,
  /** The running app's connections take the tenant-scoped role; migrations keep the login role (they own the schema). */
  { tenantScoped = false }: { tenantScoped?: boolean } = {},
): DataSourceOptions {
  return {
    type: 'postgres',
    url: config.DATABASE_URL,
    entities: ENTITIES,
    migrations: [join(__dirname, '..', '..', 'migrations', '*.{ts,js}')],
    migrationsTableName: 'typeorm_migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    migrationsRun: false,
    // Off: TypeORM's error log prints SQL with its parameters (values, ciphertexts); the HTTP filter
    // logs the SQLSTATE instead.
    logging: false,
    extra: {
      max: 12,
      application_name: 'fieldwatch',
      // A runaway API query must not hold connections that ingestion needs.
      statement_timeout: 30_000,
      idle_in_transaction_session_timeout: 60_000,
      ...(tenantScoped ? { options: APP_CONNECTION_OPTIONS } : {}),
    },
  };
}

export function createDataSource(config: Pick<AppConfig, 'DATABASE_URL'>): DataSource {
  return new DataSource(dataSourceOptions(config));
}
