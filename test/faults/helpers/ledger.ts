import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, Message, Producer } from 'kafkajs';
import { Pool } from 'pg';
import { pollUntil } from '../../helpers/poll';
import { valueDigest, Workload } from './workload';

export interface Progress {
  received: number;
  stored: number;
  duplicates: number;
  deadLettered: number;
}

/** The consumer group's counters (ingestion_partition_progress), summed over one topic's partitions. */
export async function progressOf(database: Pool, consumerGroup: string, topic: string): Promise<Progress> {
  const result = await database.query<Progress>(
    `SELECT coalesce(sum(received), 0)::int AS received, coalesce(sum(stored), 0)::int AS stored,
            coalesce(sum(duplicates), 0)::int AS duplicates, coalesce(sum(dead_lettered), 0)::int AS "deadLettered"
       FROM ingestion_partition_progress WHERE consumer_group = $1 AND topic = $2`,
    [consumerGroup, topic],
  );
  return result.rows[0];
}

/** Sends in chunks of 500 with an idempotent producer (a retried send is not a second copy). */
export async function produce(producer: Producer, topic: string, messages: Message[]): Promise<void> {
  for (let start = 0; start < messages.length; start += 500) {
    await producer.send({ topic, messages: messages.slice(start, start + 500) });
  }
}

/** Waits until every sent message is accounted for: the counters never pass the total, so this is the end. */
export async function settle(
  database: Pool,
  consumerGroup: string,
  topic: string,
  total: number,
  { timeoutMs = 300_000, log = () => '' }: { timeoutMs?: number; log?: () => string } = {},
): Promise<Progress> {
  return pollUntil(
    () => progressOf(database, consumerGroup, topic),
    (progress) => progress.received >= total,
    { timeoutMs, intervalMs: 500, what: `all ${total} messages to be accounted for` },
  ).catch((error: Error) => {
    throw new Error(`${error.message}\n--- app log ---\n${log()}`);
  });
}

export interface DeadLetterRead {
  sourceTopic: string;
  sourcePartition: number;
  sourceOffset: string;
  code: string;
  reason: string;
  digest: string;
}

/**
 * Reads a whole topic (every partition up to its end offset at the time of the call) with a throw-away
 * group: the DLQ as a downstream consumer would see it, repeats included.
 */
export async function readWholeTopic(brokers: string, topic: string): Promise<DeadLetterRead[]> {
  const kafka = new Kafka({
    clientId: 'fieldwatch-fault-dlq-reader',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const remaining = new Map(
    ends.filter((end) => BigInt(end.high) > BigInt(end.low)).map((end) => [end.partition, BigInt(end.high)]),
  );
  const letters: DeadLetterRead[] = [];
  if (remaining.size === 0) return letters;
  const consumer = kafka.consumer({ groupId: `fault-dlq-reader-${randomUUID()}`, maxWaitTimeInMs: 100 });
  const header = (value: unknown): string =>
    Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    // eslint-disable-next-line @typescript-eslint/require-await -- kafkajs expects a promise-returning handler
    eachMessage: async ({ partition, message }) => {
      const headers = message.headers ?? {};
      letters.push({
        sourceTopic: header(headers['x-fw-source-topic']),
        sourcePartition: Number(header(headers['x-fw-source-partition'])),
        sourceOffset: header(headers['x-fw-source-offset']),
        code: header(headers['x-fw-error']),
        reason: header(headers['x-fw-reason']),
        digest: valueDigest(message.value),
      });
      const end = remaining.get(partition);
      if (end !== undefined && BigInt(message.offset) + 1n >= end) remaining.delete(partition);
    },
  });
  await pollUntil(
    () => Promise.resolve(remaining.size),
    (left) => left === 0,
    { timeoutMs: 120_000, intervalMs: 100, what: `the whole of ${topic} to be read` },
  ).finally(() => consumer.disconnect());
  return letters;
}

/** What a fault test measured at the end, for its exact assertions and for the README's table. */
export interface Outcome {
  progress: Progress;
  analyses: { rows: number; distinctEventIds: number; ofWorkload: number; vessels: number };
  /** dead_letters table, per error code. */
  deadLettersByCode: Record<string, number>;
  dlq: {
    /** Distinct source messages in the DLQ topic, per code. */
    byCode: Record<string, number>;
    /** Letters whose bytes are not one of the workload's malformed messages (a good event dead-lettered). */
    strangers: number;
    /** Letters whose code differs from the one their message must get. */
    wrongCode: number;
    /** Extra copies of a dead letter (allowed after a crash between DLQ publish and commit; never a loss). */
    repeats: number;
    /** Source (partition, offset) pairs in the table and the topic agree. */
    tableMatchesTopic: boolean;
  };
}

export async function measureOutcome(
  database: Pool,
  brokers: string,
  consumerGroup: string,
  topics: { analyses: string; deadLetter: string },
  workload: Workload,
): Promise<Outcome> {
  const progress = await progressOf(database, consumerGroup, topics.analyses);
  // Every analysis of the workload's devices (the devices are this test's own): extra rows would show here.
  const rows = await database.query<{ rows: number; distinct_ids: number }>(
    `SELECT count(*)::int AS rows, count(DISTINCT a.event_id)::int AS distinct_ids
       FROM analyses a JOIN devices d ON d.id = a.device_id WHERE d.device_code = ANY($1)`,
    [workload.deviceIds],
  );
  const stored = await database.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM analyses WHERE event_id = ANY($1::uuid[])`,
    [workload.uniqueEventIds],
  );
  const vessels = await database.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM analysis_vessels WHERE analysis_event_id = ANY($1::uuid[])`,
    [workload.uniqueEventIds],
  );
  const table = await database.query<{ kafka_partition: number; kafka_offset: string; error_code: string }>(
    `SELECT kafka_partition, kafka_offset::text AS kafka_offset, error_code FROM dead_letters WHERE topic = $1`,
    [topics.analyses],
  );
  const deadLettersByCode: Record<string, number> = {};
  for (const row of table.rows)
    deadLettersByCode[row.error_code] = (deadLettersByCode[row.error_code] ?? 0) + 1;

  const letters = (await readWholeTopic(brokers, topics.deadLetter)).filter(
    (letter) => letter.sourceTopic === topics.analyses,
  );
  const bySource = new Map<string, DeadLetterRead>();
  let strangers = 0;
  let wrongCode = 0;
  for (const letter of letters) {
    const expected = workload.malformed.get(letter.digest);
    if (expected === undefined) strangers++;
    else if (expected !== letter.code) wrongCode++;
    bySource.set(`${letter.sourcePartition}:${letter.sourceOffset}`, letter);
  }
  const byCode: Record<string, number> = {};
  for (const letter of bySource.values()) byCode[letter.code] = (byCode[letter.code] ?? 0) + 1;
  const tableSources = new Set(table.rows.map((row) => `${row.kafka_partition}:${row.kafka_offset}`));
  const tableMatchesTopic =
    tableSources.size === bySource.size && [...bySource.keys()].every((source) => tableSources.has(source));
  // Distinct messages by bytes must equal distinct sources: one message, one source offset.
  const distinctDigests = new Set(letters.map((letter) => letter.digest)).size;
  if (distinctDigests !== bySource.size) wrongCode++;
  return {
    progress,
    analyses: {
      rows: rows.rows[0].rows,
      distinctEventIds: rows.rows[0].distinct_ids,
      ofWorkload: stored.rows[0].n,
      vessels: vessels.rows[0].n,
    },
    deadLettersByCode,
    dlq: { byCode, strangers, wrongCode, repeats: letters.length - bySource.size, tableMatchesTopic },
  };
}

/** The outcome a workload must end in, whatever fault it went through. */
export function expectedOutcome(
  workload: Workload,
): Omit<Outcome, 'dlq'> & { dlq: Omit<Outcome['dlq'], 'repeats'> } {
  const malformed = workload.malformed.size;
  const unique = workload.uniqueEventIds.length;
  return {
    progress: {
      received: workload.total,
      stored: unique,
      duplicates: workload.duplicateCopies,
      deadLettered: malformed,
    },
    analyses: { rows: unique, distinctEventIds: unique, ofWorkload: unique, vessels: unique },
    deadLettersByCode: workload.malformedByCode,
    dlq: { byCode: workload.malformedByCode, strangers: 0, wrongCode: 0, tableMatchesTopic: true },
  };
}

/** One line for the test log (and the README's table). */
export function summarise(label: string, outcome: Outcome): string {
  const { progress, dlq } = outcome;
  return (
    `${label}: received ${progress.received}, stored ${progress.stored}, duplicates ${progress.duplicates}, ` +
    `dead-lettered ${progress.deadLettered} (${Object.keys(dlq.byCode).length} codes), DLQ repeats ${dlq.repeats}`
  );
}

/** The exact assertion every fault test ends in; DLQ repeats are reported (bounded by `maxRepeats`), never a loss. */
export function expectExact(outcome: Outcome, workload: Workload, { maxRepeats = 0 } = {}): void {
  const { repeats, ...dlq } = outcome.dlq;
  expect({ ...outcome, dlq }).toEqual(expectedOutcome(workload));
  expect(repeats).toBeLessThanOrEqual(maxRepeats);
}
