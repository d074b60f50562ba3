import { randomBytes } from 'node:crypto';

/** Where the integration tests find PostgreSQL and Kafka (the local services by default). */
export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/fieldwatch_test';
export const TEST_KAFKA_BROKERS =
  process.env.KAFKA_BROKERS ?? `127.0.0.1:${process.env.KAFKA_LOCAL_PORT ?? '19092'}`;

/** Fixed test keys (32 bytes hex): only ever used against the throw-away test database. */
export const TEST_PSEUDONYM_KEY = '11'.repeat(32);
export const TEST_MASTER_KEY = '22'.repeat(32);
export const TEST_ADMIN_TOKEN = 'test-bootstrap-admin-token-0123456789';
/** Ed25519 seed that signs audit checkpoints in tests: one key for the whole run, so every checkpoint is trusted. */
export const TEST_AUDIT_SIGNING_KEY = '33'.repeat(32);

/**
 * Environment for one test file: its own topic prefix and consumer group, so test files sharing the
 * broker never read each other's events and every run starts from empty topics.
 */
export function isolatedEnvironment(label: string): Record<string, string> {
  const run = `${label}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  return {
    DATABASE_URL: TEST_DATABASE_URL,
    KAFKA_BROKERS: TEST_KAFKA_BROKERS,
    KAFKA_TOPIC_PREFIX: `test.${run}.`,
    KAFKA_CONSUMER_GROUP: `fieldwatch-test-${run}`,
    KAFKA_TOPIC_PARTITIONS: '3',
    FW_PSEUDONYM_KEY: TEST_PSEUDONYM_KEY,
    FW_MASTER_KEY: TEST_MASTER_KEY,
    FW_BOOTSTRAP_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    FW_AUDIT_SIGNING_KEY: TEST_AUDIT_SIGNING_KEY,
    LOG_LEVEL: 'warn',
  };
}

export function applyEnvironment(environment: Record<string, string>): void {
  Object.assign(process.env, environment);
}
