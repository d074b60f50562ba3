/**
 * Where encoded records go: Kafka (an idempotent kafkajs producer, batched `sendBatch`, acks from all in-sync
 * replicas) or, with `--dry-run`, NDJSON on stdout.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { Kafka, logLevel, Partitioners, type LogEntry, type Producer, type TopicMessages } from 'kafkajs';
import type { WireMessage } from './encoding';
import type { InjectedKind } from './messages';

export interface OutboundRecord {
  topic: string;
  message: WireMessage;
  injected: InjectedKind | null;
}

export interface RecordSink {
  send(records: readonly OutboundRecord[]): Promise<void>;
  close(): Promise<void>;
}

/** kafkajs logs to stdout by default; stdout belongs to the summary JSON, so logs go to stderr. */
function stderrLogCreator(write: (line: string) => void) {
  return () =>
    ({ namespace, level, log }: LogEntry): void => {
      // Retries are capped on purpose (a dead cluster should fail the run, not hang it); kafkajs warns that capped
      // retries weaken exactly-once only once they are exhausted — and then the run fails anyway.
      if (log.message.startsWith('Limiting retries for the idempotent producer')) return;
      const label = level === logLevel.ERROR ? 'ERROR' : level === logLevel.WARN ? 'WARN' : 'INFO';
      write(`[kafkajs ${label}] ${namespace}: ${log.message}\n`);
    };
}

export class KafkaSink implements RecordSink {
  private constructor(private readonly producer: Producer) {}

  /**
   * Connects an idempotent producer (exactly-once per partition across retries: with maxInFlightRequests 1 and acks
   * -1 a retried batch is never written twice — so every duplicate the platform counts is one we injected on
   * purpose). Fails fast, naming the missing topics, if the platform's topics do not exist.
   */
  static async connect(
    brokers: string[],
    topics: string[],
    writeLog: (line: string) => void,
  ): Promise<KafkaSink> {
    const kafka = new Kafka({
      clientId: 'fieldwatch-simulator',
      brokers,
      logLevel: logLevel.WARN,
      logCreator: stderrLogCreator(writeLog),
      retry: { retries: 8, initialRetryTime: 300 },
      connectionTimeout: 5000,
    });
    const admin = kafka.admin();
    try {
      await admin.connect();
      const existing = new Set(await admin.listTopics());
      const missing = topics.filter((topic) => !existing.has(topic));
      if (missing.length > 0) {
        throw new Error(
          `Kafka topic(s) ${missing.join(', ')} do not exist on ${brokers.join(',')}: start the platform's Kafka ` +
            '(it creates them) or check --topic-prefix',
        );
      }
    } finally {
      await admin.disconnect();
    }
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    return new KafkaSink(producer);
  }

  async send(records: readonly OutboundRecord[]): Promise<void> {
    if (records.length === 0) return;
    // Group by topic, keeping each topic's order (per-key order is what consumers rely on).
    const byTopic = new Map<string, TopicMessages>();
    for (const { topic, message } of records) {
      let group = byTopic.get(topic);
      if (!group) {
        group = { topic, messages: [] };
        byTopic.set(topic, group);
      }
      group.messages.push({ key: message.key, value: message.value, headers: message.headers });
    }
    await this.producer.sendBatch({ topicMessages: [...byTopic.values()], acks: -1 });
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }
}

/** `--dry-run`: one JSON line per record — {topic, key, headers, injected, value} (or valueText when not JSON). */
export class NdjsonSink implements RecordSink {
  constructor(private readonly out: Writable) {}

  async send(records: readonly OutboundRecord[]): Promise<void> {
    let chunk = '';
    for (const { topic, message, injected } of records) {
      const text = message.value.toString('utf8');
      let value: unknown;
      let parsed = true;
      try {
        value = JSON.parse(text);
      } catch {
        parsed = false;
      }
      const envelope = {
        topic,
        key: message.key,
        headers: message.headers,
        injected,
        ...(parsed ? { value } : { valueText: text }),
      };
      chunk += JSON.stringify(envelope) + '\n';
    }
    if (!this.out.write(chunk)) await once(this.out, 'drain');
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
