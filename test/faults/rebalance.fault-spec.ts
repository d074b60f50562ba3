import { Producer } from 'kafkajs';
import { AppProcess } from '../helpers/app-process';
import { connectedProducer } from '../helpers/events';
import { pollUntil } from '../helpers/poll';
import { isolatedEnvironment } from '../helpers/test-environment';
import { expectExact, measureOutcome, produce, progressOf, settle, summarise } from './helpers/ledger';
import { freePort, prepareScenario, Scenario, waitForMembers } from './helpers/scenario';

jest.setTimeout(900_000);

/**
 * Rebalances while two app instances share the consumer group: a second instance joins while the first is
 * ingesting (partitions move away from the first mid-stream), then the first is stopped while both ingest (its
 * partitions move to the second, as in a rolling deploy). Partitions change hands with batches in flight; the
 * progress row lock and the offsets stored with the rows keep the counts exact.
 */
describe('fault: rebalances while two instances share the consumer group', () => {
  const environment = isolatedEnvironment('fault-rebalance');
  let scenario: Scenario;
  let producer: Producer;

  beforeAll(async () => {
    scenario = await prepareScenario(environment, 'Rebalance', {
      unique: 12_000,
      duplicateCopies: 600,
      malformedShare: 0.02,
    });
    ({ producer } = await connectedProducer(environment.KAFKA_BROKERS));
  });

  afterAll(async () => {
    await producer?.disconnect();
    await scenario?.database.end();
  });

  it('hands partitions over mid-ingestion, twice, and ends exact', async () => {
    const { database, topics, workload } = scenario;
    const progress = () => progressOf(database, environment.KAFKA_CONSUMER_GROUP, topics.analyses);
    const parts = [0.4, 0.7, 1].map((share) => Math.floor(workload.total * share));
    const [part1, part2, part3] = [
      workload.messages.slice(0, parts[0]),
      workload.messages.slice(parts[0], parts[1]),
      workload.messages.slice(parts[1]),
    ];
    const first = new AppProcess(environment, await freePort());
    const second = new AppProcess({ ...environment, FW_PROCESS_ROLE: 'ingest' }, await freePort());
    const logs = () => `${first.log}\n--- second ---\n${second.log}`;

    await first.start({ timeoutMs: 240_000 });
    await produce(producer, topics.analyses, part1);
    await pollUntil(progress, (p) => p.received > 0, {
      timeoutMs: 180_000,
      intervalMs: 50,
      what: 'ingestion to begin',
    });
    // Join: the group rebalances while the first instance has work in flight.
    await second.start({ timeoutMs: 300_000 });
    await produce(producer, topics.analyses, part2);
    const joined = await waitForMembers(environment.KAFKA_BROKERS, environment.KAFKA_CONSUMER_GROUP, [
      first.pid,
      second.pid,
    ]);
    const atJoin = await progress();
    // Leave: the first instance shuts down gracefully mid-stream; its partitions move to the second.
    await pollUntil(progress, (p) => p.received > atJoin.received, {
      timeoutMs: 180_000,
      intervalMs: 50,
      what: 'both instances to ingest',
    });
    await produce(producer, topics.analyses, part3);
    const atLeave = await progress();
    expect(atLeave.received).toBeLessThan(workload.total);
    // SIGTERM: Nest's shutdown hooks disconnect the consumer after its batch in flight, then re-raise the signal.
    await first.stop();
    await waitForMembers(environment.KAFKA_BROKERS, environment.KAFKA_CONSUMER_GROUP, [second.pid]);
    await settle(database, environment.KAFKA_CONSUMER_GROUP, topics.analyses, workload.total, { log: logs });
    await second.stop();

    const outcome = await measureOutcome(
      database,
      environment.KAFKA_BROKERS,
      environment.KAFKA_CONSUMER_GROUP,
      topics,
      workload,
    );
    console.log(
      `${summarise('rebalance (join, leave)', outcome)}; members while shared ${joined.length}, ` +
        `received at join=${atJoin.received}, at leave=${atLeave.received}`,
    );
    // Graceful hand-overs finish the batch in flight: no dead letter is published twice.
    expectExact(outcome, workload, { maxRepeats: 0 });
  });
});
