import { INestApplication } from '@nestjs/common';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import request from 'supertest';
import { ensureTopics } from '../scripts/kafka-admin';
import { allTopics, topicsFor } from '../src/kafka/topics';
import { parseSimulatorArgs, runSimulator } from '../src/simulator';
import { startApp, ingestionStatsByTopic } from './helpers/app';
import { pollUntil } from './helpers/poll';
import { isolatedEnvironment, TEST_ADMIN_TOKEN, TEST_KAFKA_BROKERS } from './helpers/test-environment';

interface TopicExpectation {
  messages: number;
  genuine: number;
  duplicates: number;
  deadLetterExpected: number;
}

/**
 * The simulator against the real platform: it registers its fleet through the API, publishes a
 * month of signed traffic with injected faults to real Kafka, and the platform's counters must
 * converge to exactly what the simulator says it sent. A second run reuses the registrations.
 */
describe('fleet simulator → Kafka → ingestion', () => {
  const environment = isolatedEnvironment('sim');
  const topics = topicsFor(environment.KAFKA_TOPIC_PREFIX);
  const stateDirectory = mkdtempSync(join(tmpdir(), 'fw-sim-'));
  let app: INestApplication;
  let apiUrl: string;

  beforeAll(async () => {
    await ensureTopics(TEST_KAFKA_BROKERS.split(','), allTopics(topics), 3);
    app = await startApp(environment);
    await app.listen(0, '127.0.0.1');
    apiUrl = await app.getUrl();
  });

  afterAll(async () => {
    await app?.close();
    rmSync(stateDirectory, { recursive: true, force: true });
  });

  const simulate = async (seed: string) => {
    const options = parseSimulatorArgs(
      [
        '--api-url',
        apiUrl,
        '--brokers',
        TEST_KAFKA_BROKERS,
        '--topic-prefix',
        environment.KAFKA_TOPIC_PREFIX,
        '--state-file',
        join(stateDirectory, 'state.json'),
        '--seed',
        seed,
        '--sites',
        '3',
        '--months',
        '1',
        '--heartbeat-minutes',
        '360',
        '--as-fast-as-possible',
        '--quiet',
        '--malformed-rate',
        '0.01',
        '--unsigned-rate',
        '0.01',
        '--forged-rate',
        '0.01',
        '--tampered-rate',
        '0.01',
        '--duplicate-rate',
        '0.02',
      ],
      { FW_BOOTSTRAP_ADMIN_TOKEN: TEST_ADMIN_TOKEN },
      Date.now(),
    );
    const { summary } = await runSimulator(options, {
      stdout: new PassThrough(),
      stderr: new PassThrough(),
      stderrIsTty: false,
      stop: new AbortController().signal,
    });
    return summary as {
      topics: Record<string, TopicExpectation>;
      counts: { analyses: number; vessels: number };
    };
  };

  const stats = () => ingestionStatsByTopic(app.getHttpServer());

  it('ends with the platform counting exactly what the simulator sent, twice over', async () => {
    const expected: Record<string, TopicExpectation> = {};
    for (const seed of ['first', 'second']) {
      const summary = await simulate(seed);
      expect(summary.counts.analyses).toBeGreaterThan(100);
      for (const [topic, counts] of Object.entries(summary.topics)) {
        const sum = expected[topic] ?? { messages: 0, genuine: 0, duplicates: 0, deadLetterExpected: 0 };
        expected[topic] = {
          messages: sum.messages + counts.messages,
          genuine: sum.genuine + counts.genuine,
          duplicates: sum.duplicates + counts.duplicates,
          deadLetterExpected: sum.deadLetterExpected + counts.deadLetterExpected,
        };
      }
    }
    const final = await pollUntil(
      stats,
      (s) => Object.entries(expected).every(([topic, e]) => (s[topic]?.received ?? 0) >= e.messages),
      { timeoutMs: 120_000, what: 'the platform to receive everything the simulator sent' },
    );
    for (const [topic, e] of Object.entries(expected)) {
      expect(final[topic]).toMatchObject({
        received: e.messages,
        stored: e.genuine,
        duplicates: e.duplicates,
        deadLettered: e.deadLetterExpected,
      });
    }
    // The second run reused the fleet registered by the first: one manufacturer, 3 sites.
    const manufacturers = await request(app.getHttpServer())
      .get('/api/v1/manufacturers')
      .set({ Authorization: `Bearer ${TEST_ADMIN_TOKEN}` })
      .expect(200);
    const simulated = manufacturers.body.items.filter(
      (m: { name: string }) => m.name === 'Simulated CT-FFR Manufacturer',
    );
    expect(simulated).toHaveLength(1);
  });
});
