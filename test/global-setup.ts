import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Client } from 'pg';
import { createDataSource } from '../src/database/data-source';
import { TEST_DATABASE_URL } from './helpers/test-environment';

/**
 * Once per `jest` run: make sure a real Kafka broker answers (starting the local one if needed) and
 * give the run a freshly migrated PostgreSQL database. Topics are created per test file, with a
 * unique prefix (test/helpers/test-environment.ts).
 */
export default async function globalSetup(): Promise<void> {
  execFileSync('bash', [join(__dirname, '..', 'scripts', 'kafka-local.sh'), 'start'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, KAFKA_TOPIC_PREFIX: '' },
  });

  const databaseName = new URL(TEST_DATABASE_URL).pathname.slice(1);
  const maintenance = new URL(TEST_DATABASE_URL);
  maintenance.pathname = '/postgres';
  const client = new Client({ connectionString: maintenance.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${databaseName}" WITH (FORCE)`);
    await client.query(`CREATE DATABASE "${databaseName}"`);
  } finally {
    await client.end();
  }
  const dataSource = createDataSource({ DATABASE_URL: TEST_DATABASE_URL });
  await dataSource.initialize();
  await dataSource.runMigrations({ transaction: 'each' });
  await dataSource.destroy();
}
