import { INestApplication } from '@nestjs/common';
import { Producer } from 'kafkajs';
import { Client } from 'pg';
import { ensureTopics } from '../scripts/kafka-admin';
import { allTopics, topicsFor, Topics } from '../src/kafka/topics';
import { PartitionMaintenanceJob, utcMonth } from '../src/storage/partition-maintenance.job';
import { ingestionStatsByTopic, registerFleet, RegisteredFleet, startApp } from './helpers/app';
import { analysisEvent, connectedProducer, deviceEvent, signedMessage } from './helpers/events';
import { pollUntil } from './helpers/poll';
import { isolatedEnvironment, TEST_DATABASE_URL, TEST_KAFKA_BROKERS } from './helpers/test-environment';

/**
 * Time-partitioned storage (docs/storage/partitioning.md, migration 1764330000000-PartitionedEventStorage):
 * idempotency by eventId across months, partitions created for a backfilled month and ahead of time, row-level
 * security on every partition, and retention that keeps what a device in service needs and refuses what it retired.
 */
describe('time-partitioned event storage', () => {
  const environment: Record<string, string> = {
    ...isolatedEnvironment('storage'),
    FW_RETENTION_MONTHS: '60',
  };
  const topics: Topics = topicsFor(environment.KAFKA_TOPIC_PREFIX);
  const run = environment.KAFKA_CONSUMER_GROUP.slice(-10);
  const site = `ST-S-${run}`;
  const retiredDevice = `ST-D1-${run}`;
  const liveDevice = `ST-D2-${run}`;
  // Six and a half years ago: inside the 10-year plausibility window, outside a 60-month retention.
  const oldMonth = new Date(Date.UTC(new Date().getUTCFullYear() - 7, 5, 15, 9, 30));
  const oldPartition = `analyses_p${oldMonth.getUTCFullYear()}06`;
  let app: INestApplication;
  let fleet: RegisteredFleet;
  let producer: Producer;
  let database: Client;

  const stats = () => ingestionStatsByTopic(app.getHttpServer());
  const until = (
    topic: string,
    done: (c: { received: number; stored: number; duplicates: number; deadLettered: number }) => boolean,
    what: string,
  ) => pollUntil(stats, (s) => (s[topic] ? done(s[topic]) : false), { what, timeoutMs: 120_000 });

  beforeAll(async () => {
    await ensureTopics(TEST_KAFKA_BROKERS.split(','), allTopics(topics), 2);
    app = await startApp(environment);
    fleet = await registerFleet(app, `Storage-${run}`, [
      { siteId: site, devices: [retiredDevice, liveDevice], dataSources: [] },
    ]);
    ({ producer } = await connectedProducer(TEST_KAFKA_BROKERS));
    database = new Client({ connectionString: TEST_DATABASE_URL });
    await database.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    await database?.end();
    await app?.close();
  });

  const maintain = (now = new Date()) =>
    pollUntil(
      () => app.get(PartitionMaintenanceJob).runOnce(now),
      (result) => result.ran,
      { what: 'a maintenance run that got the lock' },
    );

  it('stores a backfilled month in a partition created on demand, and a second copy of an eventId is a duplicate whatever its occurredAt', async () => {
    const original = analysisEvent(retiredDevice, site, { occurredAt: oldMonth.toISOString() });
    await producer.send({
      topic: topics.analyses,
      messages: [signedMessage(retiredDevice, original, fleet.devices[retiredDevice])],
    });
    await producer.send({
      topic: topics.deviceEvents,
      messages: [
        signedMessage(
          retiredDevice,
          deviceEvent(retiredDevice, { occurredAt: oldMonth.toISOString() }),
          fleet.devices[retiredDevice],
        ),
      ],
    });
    await until(topics.analyses, (c) => c.stored === 1, 'the backfilled analysis stored');
    await until(topics.deviceEvents, (c) => c.stored === 1, 'the backfilled device event stored');

    // The same eventId a month later (a corrected clock, a rewritten replay): another partition, still a duplicate.
    const moved = { ...original, occurredAt: new Date(oldMonth.getTime() + 31 * 86_400_000).toISOString() };
    await producer.send({
      topic: topics.analyses,
      messages: [signedMessage(retiredDevice, moved, fleet.devices[retiredDevice])],
    });
    const counters = await until(topics.analyses, (c) => c.received === 2, 'the second copy received');
    expect(counters[topics.analyses]).toMatchObject({
      received: 2,
      stored: 1,
      duplicates: 1,
      deadLettered: 0,
    });
    const stored = await database.query<{ partition: string }>(
      `SELECT tableoid::regclass::text AS partition FROM analyses WHERE event_id = $1`,
      [original.eventId],
    );
    expect(stored.rows).toEqual([{ partition: oldPartition }]);
    const vessels = await database.query<{ partition: string }>(
      `SELECT tableoid::regclass::text AS partition FROM analysis_vessels WHERE analysis_event_id = $1`,
      [original.eventId],
    );
    expect(vessels.rows).toEqual([{ partition: oldPartition.replace('analyses', 'analysis_vessels') }]);
  });

  it('protects every partition with the tenant policy, also when a partition is queried by name', async () => {
    const partitions = await database.query<{ relname: string; relrowsecurity: boolean; policies: number }>(
      `SELECT c.relname, c.relrowsecurity,
              (SELECT count(*)::int FROM pg_policies p WHERE p.tablename = c.relname AND p.policyname = 'tenant_isolation') AS policies
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class parent ON parent.oid = i.inhparent
        WHERE parent.relname IN ('analyses', 'device_events')`,
    );
    expect(partitions.rows.length).toBeGreaterThan(0);
    expect(partitions.rows.filter((row) => !row.relrowsecurity || row.policies !== 1)).toEqual([]);
    const other = await registerFleet(app, `StorageOther-${run}`, [
      { siteId: `ST-O-${run}`, devices: [], dataSources: [] },
    ]);
    // As the app's role in the other tenant's scope: the partition named directly shows none of this tenant's rows.
    await database.query('BEGIN');
    try {
      await database.query('SET LOCAL ROLE fieldwatch_app');
      await database.query(`SELECT set_config('fieldwatch.tenant', $1, true)`, [other.manufacturerId]);
      const seen = await database.query(`SELECT count(*)::int AS n FROM ${oldPartition}`);
      expect(seen.rows[0].n).toBe(0);
      await database.query(`SELECT set_config('fieldwatch.tenant', $1, true)`, [fleet.manufacturerId]);
      const own = await database.query(`SELECT count(*)::int AS n FROM ${oldPartition}`);
      expect(own.rows[0].n).toBe(1);
    } finally {
      await database.query('ROLLBACK');
    }
  });

  it('creates partitions ahead of time, and retention keeps a month while its device is in service', async () => {
    const now = new Date();
    await maintain(now);
    const ahead = await database.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class parent ON parent.oid = i.inhparent WHERE parent.relname = 'analyses'`,
    );
    for (let offset = 0; offset <= 3; offset++) {
      expect(ahead.rows.map((row) => row.name)).toContain(
        `analyses_p${utcMonth(now, offset).slice(0, 7).replace('-', '')}`,
      );
    }
    const result = await maintain(now);
    const decision = result.retention.find(
      (d) => d.table === 'analyses' && d.month === `${oldMonth.getUTCFullYear()}-06-01`,
    );
    expect(decision).toMatchObject({ retired: false, keptBecause: 'device_in_service_or_recently_retired' });
    expect((await database.query(`SELECT count(*)::int AS n FROM ${oldPartition}`)).rows[0].n).toBe(1);
  });

  it('retires the month once its device was retired over 24 months ago, records it, and refuses a late event for it', async () => {
    await database.query(
      `UPDATE devices SET revoked_at = now() - interval '25 months' WHERE device_code = $1`,
      [retiredDevice],
    );
    // A drift day roll-up of the month (and one of the month after) — it summarises the analyses being retired.
    const [{ id: referenceId }] = (
      await database.query<{ id: string }>(
        `INSERT INTO drift_reference_windows (manufacturer_id, product_id, kind, label, monitor_from, source_sha256,
                                              cases, vessels, labelled_vessels, summary, active, created_by)
         VALUES ($1, $2, 'dataset', 'retention test', $3, repeat('a', 64), 0, 0, 0, '{}', false, 'test')
         RETURNING id::text AS id`,
        [fleet.manufacturerId, fleet.productId, oldMonth.toISOString()],
      )
    ).rows;
    for (const day of [`${oldMonth.getUTCFullYear()}-06-15`, `${oldMonth.getUTCFullYear()}-07-15`]) {
      await database.query(
        `INSERT INTO drift_daily_cells (reference_id, day, site_id, scanner_vendor, model_version, manufacturer_id,
                                        product_id, analyses, rejected, failed, sex_f, sex_m, sex_x, numeric_bins,
                                        vessels, vessels_at_or_below)
         SELECT $1, $2::date, s.id, 'GE', 'v1', $3, $4, 1, 0, 0, 0, 1, 0, '{}', 0, 0
           FROM sites s WHERE s.manufacturer_id = $3 AND s.site_code = $5`,
        [referenceId, day, fleet.manufacturerId, fleet.productId, site],
      );
    }
    const result = await maintain();
    const monthKey = `${oldMonth.getUTCFullYear()}-06-01`;
    const rollupDays = await database.query<{ day: string }>(
      `SELECT to_char(day, 'YYYY-MM-DD') AS day FROM drift_daily_cells WHERE reference_id = $1`,
      [referenceId],
    );
    expect(rollupDays.rows).toEqual([{ day: `${oldMonth.getUTCFullYear()}-07-15` }]);
    expect(result.retention.find((d) => d.table === 'analyses' && d.month === monthKey)).toMatchObject({
      retired: true,
      rows: 1,
      vesselRows: 1,
    });
    expect(result.retention.find((d) => d.table === 'device_events' && d.month === monthKey)).toMatchObject({
      retired: true,
      rows: 1,
    });
    expect((await database.query(`SELECT to_regclass($1) AS t`, [oldPartition])).rows[0].t).toBeNull();
    const retired = await database.query(
      `SELECT table_name, rows_removed::int AS rows FROM retired_event_partitions WHERE month = $1 ORDER BY table_name`,
      [monthKey],
    );
    expect(retired.rows).toEqual([
      { table_name: 'analyses', rows: 1 },
      { table_name: 'analysis_vessels', rows: 1 },
      { table_name: 'device_events', rows: 1 },
    ]);
    const audit = await database.query<{ entity_id: string }>(
      `SELECT entity_id FROM audit_log WHERE action = 'storage.partition_retire' AND entity_id LIKE $1`,
      [`%:${monthKey.slice(0, 7)}`],
    );
    expect(audit.rows.map((row) => row.entity_id).sort()).toEqual([
      `analyses:${monthKey.slice(0, 7)}`,
      `device_events:${monthKey.slice(0, 7)}`,
    ]);

    // A device still in service sends an analysis of the retired month: refused by storage, dead-lettered, not lost.
    await producer.send({
      topic: topics.analyses,
      messages: [
        signedMessage(
          liveDevice,
          analysisEvent(liveDevice, site, {
            occurredAt: new Date(oldMonth.getTime() + 86_400_000).toISOString(),
          }),
          fleet.devices[liveDevice],
        ),
      ],
    });
    const counters = await until(topics.analyses, (c) => c.received === 3, 'the late analysis received');
    expect(counters[topics.analyses]).toMatchObject({
      received: 3,
      stored: 1,
      duplicates: 1,
      deadLettered: 1,
    });
    expect((await database.query(`SELECT to_regclass($1) AS t`, [oldPartition])).rows[0].t).toBeNull();
  });
});
