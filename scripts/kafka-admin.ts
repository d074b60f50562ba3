/**
 * Kafka readiness check and topic provisioning, shared by scripts/kafka-local.sh, the `kafka-init` service of
 * docker/compose.yml (compiled to dist/scripts/kafka-admin.js) and tests (import the functions).
 *
 *   node -r ts-node/register/transpile-only scripts/kafka-admin.ts wait [--timeout-ms N] [--pid N]
 *     until the cluster answers admin requests (waitForKafka), then consumer-group requests
 *     (waitForGroupCoordinator)
 *   node -r ts-node/register/transpile-only scripts/kafka-admin.ts create-topics
 *
 * Brokers: KAFKA_BROKERS (comma-separated), else 127.0.0.1:${KAFKA_LOCAL_PORT:-19092}.
 * Topics: allTopics(topicsFor(KAFKA_TOPIC_PREFIX)), each with KAFKA_TOPIC_PARTITIONS partitions (default 6).
 */
import { Kafka, logLevel } from 'kafkajs';
import { allTopics, topicsFor } from '../src/kafka/topics';

/** Partitions per topic: the upper bound on app instances consuming in parallel (DESIGN.md §8). */
export const DEFAULT_TOPIC_PARTITIONS = 6;
export const DEFAULT_WAIT_TIMEOUT_MS = 90_000;

export interface WaitOptions {
  /**
   * Process id of a broker this caller just launched: stop waiting as soon as it has exited (port already
   * taken, bad configuration, ...) instead of sitting out the whole timeout.
   */
  watchPid?: number;
}

export interface TopicState {
  topic: string;
  partitions: number;
  created: boolean;
}

/**
 * Resolves once the cluster answers admin requests. An open port is not enough (it opens before the broker
 * serves requests, or belongs to something else), so this connects an admin client and lists topics,
 * retrying every 500 ms until `timeoutMs` has passed.
 */
export async function waitForKafka(
  brokers: string[],
  timeoutMs: number,
  options: WaitOptions = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // kafkajs' own retries (with exponential back-off up to 30 s) would overshoot the deadline and log every
  // refused connection; this loop is the retry policy, so the client gets none and stays silent.
  const kafka = new Kafka({
    clientId: 'fieldwatch-kafka-wait',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 5_000,
    retry: { retries: 0 },
  });
  let lastError = 'no attempt made';
  for (;;) {
    if (options.watchPid !== undefined && !processAlive(options.watchPid)) {
      throw new Error(`broker process ${options.watchPid} exited before Kafka became ready`);
    }
    const admin = kafka.admin();
    try {
      await admin.connect();
      await admin.listTopics();
      return;
    } catch (err) {
      lastError = errorMessage(err);
    } finally {
      await admin.disconnect();
    }
    if (Date.now() >= deadline) {
      throw new Error(`Kafka at ${brokers.join(',')} not ready after ${timeoutMs} ms: ${lastError}`);
    }
    await sleep(500);
  }
}

/**
 * Resolves once the group coordinator serves offset fetches. A freshly formatted broker creates
 * __consumer_offsets only on the first group request, and until its partitions are loaded an offset fetch
 * fails with NOT_COORDINATOR: kafkajs consumers retry that, but admin calls (a consumer-lag query) do not,
 * so a test running first on a new broker would fail. Takes a few milliseconds once the coordinator is up.
 */
export async function waitForGroupCoordinator(brokers: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const kafka = new Kafka({ clientId: 'fieldwatch-kafka-wait', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    // kafkajs' connect() leaves the broker pool empty, and its coordinator lookup then sleeps a 350 ms retry
    // before refreshing metadata itself; listing the topics fills the pool first.
    await admin.listTopics();
    for (;;) {
      try {
        await admin.fetchOffsets({ groupId: 'fieldwatch-kafka-admin-probe', topics: [] });
        return;
      } catch (err) {
        if (Date.now() >= deadline) {
          throw new Error(`Kafka group coordinator not ready after ${timeoutMs} ms: ${errorMessage(err)}`);
        }
      }
      await sleep(200);
    }
  } finally {
    await admin.disconnect();
  }
}

/**
 * Creates the topics that do not exist yet with `partitions` partitions each; existing topics are left as
 * they are (their partition count is reported, never changed). Safe to run concurrently: a topic created
 * meanwhile by someone else is not an error.
 */
export async function ensureTopics(
  brokers: string[],
  topics: string[],
  partitions: number,
): Promise<TopicState[]> {
  const kafka = new Kafka({ clientId: 'fieldwatch-kafka-topics', brokers, logLevel: logLevel.ERROR });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const present = new Set(await admin.listTopics());
    const missing = topics.filter((topic) => !present.has(topic));
    if (missing.length > 0) {
      // No replicationFactor: the cluster's default.replication.factor applies (1 on the local single node,
      // the operator's choice on a shared cluster). The leaders are awaited below, not by kafkajs: its wait retries
      // LEADER_NOT_AVAILABLE only, and a broker that has not yet seen the new topic answers
      // UNKNOWN_TOPIC_OR_PARTITION ("This server does not host this topic-partition"), which then failed a CI run's
      // suite set-up while two test shards created topics at once (kafkajs issue #815 describes the same race).
      await admin.createTopics({
        topics: missing.map((topic) => ({ topic, numPartitions: partitions })),
        waitForLeaders: false,
      });
    }
    const metadata = await topicsWithLeaders(admin, topics, LEADER_WAIT_TIMEOUT_MS);
    const partitionCount = new Map(metadata.map((t) => [t.name, t.partitions.length]));
    return topics.map((topic) => ({
      topic,
      partitions: partitionCount.get(topic) ?? 0,
      created: missing.includes(topic),
    }));
  } finally {
    await admin.disconnect();
  }
}

/** How long ensureTopics waits for every partition of the new topics to have a leader. */
const LEADER_WAIT_TIMEOUT_MS = 60_000;
/** Metadata errors of a topic that is being created: the broker asked has not caught up yet. */
const TRANSIENT_METADATA_ERRORS = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);

/** The topics' metadata once each has partitions and every partition a leader; transient errors are retried. */
async function topicsWithLeaders(
  admin: ReturnType<Kafka['admin']>,
  topics: string[],
  timeoutMs: number,
): Promise<Array<{ name: string; partitions: Array<{ leader: number }> }>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let pending: string;
    try {
      const { topics: metadata } = await admin.fetchTopicMetadata({ topics });
      const leaderless = metadata.find(
        (topic) =>
          topic.partitions.length === 0 || topic.partitions.some((partition) => partition.leader < 0),
      );
      if (!leaderless) return metadata;
      pending = `${leaderless.name} has a partition without a leader`;
    } catch (err) {
      // kafkajs rethrows the protocol error, or wraps it once its own retries of LEADER_NOT_AVAILABLE run out.
      const failure = err as { type?: string; originalError?: { type?: string } };
      const type = failure.type ?? failure.originalError?.type;
      if (type === undefined || !TRANSIENT_METADATA_ERRORS.has(type)) throw err;
      pending = errorMessage(err);
    }
    if (Date.now() >= deadline) throw new Error(`Kafka topics not ready after ${timeoutMs} ms: ${pending}`);
    await sleep(200);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function brokersFromEnv(): string[] {
  const list = process.env.KAFKA_BROKERS ?? `127.0.0.1:${process.env.KAFKA_LOCAL_PORT ?? '19092'}`;
  return list
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b.length > 0);
}

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${name} must be a positive integer, got "${raw}"`);
  }
  return value;
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i === -1) return undefined;
  const value = args[i + 1];
  if (value === undefined) throw new Error(`${name} needs a value`);
  return value;
}

async function main(args: string[]): Promise<void> {
  const brokers = brokersFromEnv();
  const [command, ...rest] = args;
  switch (command) {
    case 'wait': {
      const timeoutMs = positiveInt('--timeout-ms', flag(rest, '--timeout-ms'), DEFAULT_WAIT_TIMEOUT_MS);
      const pid = flag(rest, '--pid');
      const started = Date.now();
      await waitForKafka(brokers, timeoutMs, {
        watchPid: pid === undefined ? undefined : positiveInt('--pid', pid, 0),
      });
      await waitForGroupCoordinator(brokers, Math.max(started + timeoutMs - Date.now(), 1_000));
      console.log(
        `Kafka at ${brokers.join(',')} answers admin and consumer-group requests (waited ${Date.now() - started} ms)`,
      );
      return;
    }
    case 'create-topics': {
      const partitions = positiveInt(
        'KAFKA_TOPIC_PARTITIONS',
        process.env.KAFKA_TOPIC_PARTITIONS,
        DEFAULT_TOPIC_PARTITIONS,
      );
      const topics = allTopics(topicsFor(process.env.KAFKA_TOPIC_PREFIX ?? ''));
      for (const t of await ensureTopics(brokers, topics, partitions)) {
        const note =
          t.created || t.partitions === partitions
            ? ''
            : ` (KAFKA_TOPIC_PARTITIONS=${partitions} not applied)`;
        console.log(`${t.created ? 'created' : 'exists '} ${t.topic}: ${t.partitions} partitions${note}`);
      }
      return;
    }
    default:
      throw new Error('usage: kafka-admin.ts wait [--timeout-ms N] [--pid N] | create-topics');
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(`kafka-admin: ${errorMessage(err)}`);
    process.exit(1);
  });
}
