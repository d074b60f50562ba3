import { Producer } from 'kafkajs';
import { AppProcess } from '../helpers/app-process';
import { connectedProducer } from '../helpers/events';
import { isolatedEnvironment } from '../helpers/test-environment';
import { expectExact, measureOutcome, produce, settle, summarise } from './helpers/ledger';
import {
  describeGroup,
  FAULT_PARTITIONS,
  freePort,
  prepareScenario,
  Scenario,
  waitForMembers,
} from './helpers/scenario';

jest.setTimeout(900_000);

/**
 * Scale-out: two app processes in one consumer group (as README "Scaling out" starts them: one `all`, one
 * `ingest`) split the partitions between them — parallel up to the partition count — and the counts stay exact.
 * The group is stable before anything is sent and still has the same members afterwards, so every partition was
 * ingested by the one process the coordinator assigned it to.
 */
describe('scale-out: two instances in one consumer group', () => {
  const environment = isolatedEnvironment('fault-scale');
  let scenario: Scenario;
  let producer: Producer;

  beforeAll(async () => {
    scenario = await prepareScenario(environment, 'Scale', {
      unique: 9_000,
      duplicateCopies: 450,
      malformedShare: 0.02,
    });
    ({ producer } = await connectedProducer(environment.KAFKA_BROKERS));
  });

  afterAll(async () => {
    await producer?.disconnect();
    await scenario?.database.end();
  });

  it('splits the partitions between the instances and stores every event once', async () => {
    const { database, topics, workload } = scenario;
    const first = new AppProcess({ ...environment, FW_PROCESS_ROLE: 'all' }, await freePort());
    const second = new AppProcess({ ...environment, FW_PROCESS_ROLE: 'ingest' }, await freePort());
    await Promise.all([first.start({ timeoutMs: 300_000 }), second.start({ timeoutMs: 300_000 })]);
    const members = await waitForMembers(environment.KAFKA_BROKERS, environment.KAFKA_CONSUMER_GROUP, [
      first.pid,
      second.pid,
    ]);
    // Disjoint, complete, and the analyses topic itself is split: both instances ingest it.
    const owners = new Map<string, string>();
    for (const member of members) {
      for (const [topic, partitions] of Object.entries(member.assignment)) {
        for (const partition of partitions) {
          expect(owners.has(`${topic}:${partition}`)).toBe(false);
          owners.set(`${topic}:${partition}`, member.clientId);
        }
      }
    }
    expect(owners.size).toBe(3 * FAULT_PARTITIONS);
    const analysesOwners = new Set(
      Array.from({ length: FAULT_PARTITIONS }, (_, partition) =>
        owners.get(`${topics.analyses}:${partition}`),
      ),
    );
    expect(analysesOwners.size).toBe(2);

    await produce(producer, topics.analyses, workload.messages);
    await settle(database, environment.KAFKA_CONSUMER_GROUP, topics.analyses, workload.total, {
      log: () => `${first.log}\n--- second ---\n${second.log}`,
    });
    const after = await describeGroup(environment.KAFKA_BROKERS, environment.KAFKA_CONSUMER_GROUP);
    expect(after.members.map((m) => m.memberId).sort()).toEqual(members.map((m) => m.memberId).sort());
    // Every analyses partition carried work: each instance stored part of the workload.
    const perPartition = await database.query<{ kafka_partition: number; stored: number }>(
      `SELECT kafka_partition, stored::int AS stored FROM ingestion_partition_progress WHERE consumer_group = $1 AND topic = $2
        ORDER BY kafka_partition`,
      [environment.KAFKA_CONSUMER_GROUP, topics.analyses],
    );
    expect(perPartition.rows).toHaveLength(FAULT_PARTITIONS);
    for (const row of perPartition.rows) expect(row.stored).toBeGreaterThan(0);
    await Promise.all([first.stop(), second.stop()]);

    const outcome = await measureOutcome(
      database,
      environment.KAFKA_BROKERS,
      environment.KAFKA_CONSUMER_GROUP,
      topics,
      workload,
    );
    const split = members
      .map((m) => `${m.clientId}: ${(m.assignment[topics.analyses] ?? []).join(',') || '-'}`)
      .join('; ');
    console.log(`${summarise('two instances', outcome)}; analyses partitions ${split}`);
    expectExact(outcome, workload, { maxRepeats: 0 });
  });
});
