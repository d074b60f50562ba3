import { Producer } from 'kafkajs';
import { AppProcess } from '../helpers/app-process';
import { connectedProducer } from '../helpers/events';
import { isolatedEnvironment } from '../helpers/test-environment';
import { expectExact, measureOutcome, produce, settle, summarise } from './helpers/ledger';
import { freePort, prepareScenario, Scenario } from './helpers/scenario';
import { MALFORMED_KINDS } from './helpers/workload';

jest.setTimeout(600_000);

/**
 * A storm of malformed messages: one in ten of the traffic is bad, of every kind the contracts name
 * (including a few over the size limit), shuffled among good messages and duplicates so nearly every
 * batch mixes them. Nothing good may be dead-lettered, nothing bad stored, each bad one gets its own code.
 */
describe('fault: a storm of 10% malformed messages', () => {
  const environment = isolatedEnvironment('fault-storm');
  let scenario: Scenario;
  let producer: Producer;

  beforeAll(async () => {
    scenario = await prepareScenario(environment, 'Storm', {
      unique: 10_000,
      duplicateCopies: 500,
      malformedShare: 0.1,
      oversized: 3,
    });
    ({ producer } = await connectedProducer(environment.KAFKA_BROKERS));
  });

  afterAll(async () => {
    await producer?.disconnect();
    await scenario?.database.end();
  });

  it('dead-letters exactly the malformed tenth, each with its reason code, and stores the rest once', async () => {
    const { database, topics, workload } = scenario;
    expect(workload.malformed.size / workload.total).toBeCloseTo(0.1, 3);
    expect(Object.keys(workload.malformedByCode).sort()).toEqual(
      [...MALFORMED_KINDS, 'message_too_large'].sort(),
    );
    const app = new AppProcess(environment, await freePort());
    await app.start({ timeoutMs: 240_000 });
    await produce(producer, topics.analyses, workload.messages);
    await settle(database, environment.KAFKA_CONSUMER_GROUP, topics.analyses, workload.total, {
      log: () => app.log,
    });
    // The consumer survived the storm: it is still running and healthy.
    const health = (await (await fetch(`${app.baseUrl}/health`)).json()) as { status: string };
    expect(health.status).toBe('ok');
    await app.stop();

    const outcome = await measureOutcome(
      database,
      environment.KAFKA_BROKERS,
      environment.KAFKA_CONSUMER_GROUP,
      topics,
      workload,
    );
    console.log(summarise('10% malformed', outcome));
    expectExact(outcome, workload, { maxRepeats: 0 });
  });
});
