import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Consumer, EachBatchPayload, Kafka, Partitioners, Producer } from 'kafkajs';
import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { SecretBox } from '../auth/secret-box';
import { AppConfig, decodeKey } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { runAsSystem } from '../database/tenant-context';
import { createKafka } from '../kafka/kafka-client';
import { ingestTopics, TopicRole, Topics, topicsFor } from '../kafka/topics';
import { DeadLetterPublisher } from './dead-letter-publisher';
import { BackpressureStatus, IngestionBackpressure } from './backpressure';
import { AcceptedEvent, EventDecoder, RejectedEvent } from './event-decoder';
import { EventValidator, IngestTopicRole } from './event-validation';
import { IngestionWriter } from './ingestion-writer';
import { Pseudonymiser } from './pseudonymiser';
import { SenderDirectory } from './sender-directory';

/** How the consumer is doing, for /health and the stats endpoint. */
export interface ConsumerStatus {
  enabled: boolean;
  running: boolean;
  lastBatchAt: string | null;
  lastError: string | null;
  restarts: number;
  /** Whether fetching is paused for a slow database, and how many messages are held (src/ingestion/backpressure.ts). */
  backpressure: BackpressureStatus;
}

/**
 * The ingestion consumer: kafkajs directly (Nest's Kafka transport dispatches one message at a time
 * and blocks heartbeats, see reference/kafka-local.md §2.1), `eachBatch`, offsets committed to Kafka
 * only after the database transaction that stored the batch.
 */
@Injectable()
export class IngestionConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(IngestionConsumer.name);
  private readonly topics: Topics;
  private readonly roleByTopic: Map<string, IngestTopicRole>;
  private readonly kafka: Kafka;
  private readonly decoder: EventDecoder;
  private readonly writer: IngestionWriter;
  private readonly backpressure: IngestionBackpressure;
  private consumer: Consumer | null = null;
  private producer: Producer | null = null;
  private deadLetters: DeadLetterPublisher | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private shuttingDown = false;
  /** Next offset this process committed to the database, per partition, since the last rebalance. */
  private readonly knownNextOffset = new Map<string, bigint | null>();
  readonly status: ConsumerStatus;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() dataSource: DataSource,
  ) {
    this.topics = topicsFor(config.KAFKA_TOPIC_PREFIX);
    this.roleByTopic = new Map(
      (Object.entries(this.topics) as [TopicRole, string][])
        .filter(([role]) => role !== 'deadLetter')
        .map(([role, topic]) => [topic, role as IngestTopicRole]),
    );
    this.kafka = createKafka(config.KAFKA_BROKERS, `fieldwatch-ingest-${process.pid}`);
    const pool = (dataSource.driver as PostgresDriver).master as Pool;
    const senders = new SenderDirectory(dataSource, new SecretBox(decodeKey(config.FW_MASTER_KEY)));
    this.decoder = new EventDecoder(new EventValidator(), senders, config.FW_MAX_MESSAGE_BYTES);
    this.writer = new IngestionWriter(
      pool,
      new Pseudonymiser(decodeKey(config.FW_PSEUDONYM_KEY)),
      config.KAFKA_CONSUMER_GROUP,
    );
    const ingestTopicList = () => ingestTopics(this.topics).map((topic) => ({ topic }));
    this.backpressure = new IngestionBackpressure({
      maxHeldMessages: config.FW_INGEST_MAX_BUFFERED_MESSAGES,
      slowWriteMs: config.FW_INGEST_SLOW_WRITE_MS,
      // A third of the session timeout, as kafkajs's own heartbeatInterval below.
      heartbeatMs: 3_000,
      pause: () => {
        this.logger.warn(`Database write slower than ${config.FW_INGEST_SLOW_WRITE_MS} ms: fetching paused`);
        this.consumer?.pause(ingestTopicList());
      },
      resume: () => {
        this.logger.log('Database writes caught up: fetching resumed');
        this.consumer?.resume(ingestTopicList());
      },
    });
    this.status = {
      enabled: config.FW_PROCESS_ROLE !== 'api',
      running: false,
      lastBatchAt: null,
      lastError: null,
      restarts: 0,
      backpressure: this.backpressure.status,
    };
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.status.enabled) return;
    // Consumers store every tenant's events; their callbacks inherit this scope.
    await runAsSystem(() => this.start());
  }

  async onApplicationShutdown(): Promise<void> {
    this.shuttingDown = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    // disconnect() waits for the batch in flight, so its transaction and offset commit complete.
    await this.consumer?.disconnect().catch(() => undefined);
    await this.producer?.disconnect().catch(() => undefined);
    this.status.running = false;
  }

  private async start(): Promise<void> {
    this.producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    this.deadLetters = new DeadLetterPublisher(this.producer, this.topics.deadLetter);
    const consumer = this.kafka.consumer({
      groupId: this.config.KAFKA_CONSUMER_GROUP,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      rebalanceTimeout: 60_000,
      maxBytesPerPartition: 4 * 1024 * 1024,
      maxBytes: 16 * 1024 * 1024,
      maxWaitTimeInMs: 250,
      retry: { initialRetryTime: 500, maxRetryTime: 30_000, retries: 8 },
    });
    this.consumer = consumer;
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.status.running = false;
      this.status.lastError = `${payload.error.name}: ${payload.error.message}`;
      if (!payload.restart && !this.shuttingDown) this.scheduleRestart();
    });
    consumer.on(consumer.events.GROUP_JOIN, () => {
      // New assignment: another instance may have moved any partition on meanwhile.
      this.knownNextOffset.clear();
      this.status.running = true;
    });
    try {
      await this.producer.connect();
      await consumer.connect();
      await consumer.subscribe({ topics: ingestTopics(this.topics), fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.config.FW_INGEST_CONCURRENCY,
        eachBatch: (payload) => this.handleBatch(payload),
      });
      this.logger.log(
        `Consuming ${ingestTopics(this.topics).join(', ')} as group ${this.config.KAFKA_CONSUMER_GROUP}`,
      );
    } catch (error) {
      // Kafka unreachable at start must not take the API down: report it and keep trying.
      this.status.lastError = error instanceof Error ? error.message : String(error);
      this.logger.error(`Kafka consumer could not start: ${this.status.lastError}`);
      this.scheduleRestart();
    }
  }

  /** kafkajs restarts itself after retriable errors; anything else lands here and is retried too. */
  private scheduleRestart(): void {
    if (this.shuttingDown || this.restartTimer) return;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      this.status.restarts += 1;
      void (async () => {
        await this.consumer?.disconnect().catch(() => undefined);
        await this.producer?.disconnect().catch(() => undefined);
        await this.start();
      })();
    }, 5_000);
  }

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    if (payload.batch.messages.length === 0) return;
    await this.backpressure.hold(
      payload.batch.messages.length,
      () => payload.heartbeat(),
      () => this.processBatch(payload),
    );
  }

  private async processBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const heartbeat = () => payload.heartbeat();
    const isStale = () => payload.isStale();
    const role = this.roleByTopic.get(batch.topic);
    if (!role || batch.messages.length === 0 || !payload.isRunning() || isStale()) return;
    const lastOffset = batch.messages[batch.messages.length - 1].offset;

    // Skip what an earlier delivery already committed to the database (a replay after a crash or a
    // rebalance). Asked once per partition assignment; afterwards this process knows its own progress.
    // The writer re-checks under a row lock, so the cache only saves repeating dead letters, never counts.
    const partitionKey = `${batch.topic}:${batch.partition}`;
    let committed = this.knownNextOffset.get(partitionKey);
    if (committed === undefined) {
      committed = await this.writer.committedNextOffset(batch.topic, batch.partition);
    }
    const fresh =
      committed === null ? batch.messages : batch.messages.filter((m) => BigInt(m.offset) >= committed);

    if (fresh.length > 0) {
      const decoded = await this.decoder.decodeBatch(role, fresh);
      const accepted: AcceptedEvent[] = [];
      const rejected: RejectedEvent[] = [];
      for (const item of decoded) {
        if (item.outcome === 'accepted') accepted.push(item);
        else rejected.push(item);
      }
      await heartbeat();
      if (isStale()) return;

      // Dead letters go out before the transaction records their offsets as done: a crash between
      // the two replays the batch (a DLQ copy may repeat; nothing is lost).
      const deadLetters = this.deadLetters as DeadLetterPublisher;
      await deadLetters.publish(batch.topic, batch.partition, rejected);
      await this.backpressure.write(() =>
        this.writer.write({
          role,
          topic: batch.topic,
          partition: batch.partition,
          lastOffset,
          accepted,
          rejected,
          deadLetterStorageRejects: (rejects) => deadLetters.publish(batch.topic, batch.partition, rejects),
        }),
      );
    }

    this.knownNextOffset.set(partitionKey, BigInt(lastOffset) + 1n);
    payload.resolveOffset(lastOffset);
    await (this.consumer as Consumer).commitOffsets([
      { topic: batch.topic, partition: batch.partition, offset: (BigInt(lastOffset) + 1n).toString() },
    ]);
    await heartbeat();
    this.status.lastBatchAt = new Date().toISOString();
    this.status.lastError = null;
  }

  /** Consumer lag per topic: log-end offsets minus the group's committed offsets. */
  async lagByTopic(): Promise<Record<string, number | null>> {
    // Few, short retries: this answers an HTTP request, and a topic that does not exist must not keep
    // kafkajs retrying metadata in the background long after the response was sent.
    const admin = this.kafka.admin({ retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 1_000 } });
    const lag: Record<string, number | null> = {};
    try {
      await admin.connect();
      const existing = new Set(await admin.listTopics());
      for (const topic of ingestTopics(this.topics)) {
        if (!existing.has(topic)) {
          lag[topic] = null;
          continue;
        }
        const ends = await admin.fetchTopicOffsets(topic);
        const committed = await admin.fetchOffsets({
          groupId: this.config.KAFKA_CONSUMER_GROUP,
          topics: [topic],
        });
        const committedByPartition = new Map(
          (committed[0]?.partitions ?? [])
            .filter((p) => p.offset !== '-1')
            .map((p) => [p.partition, BigInt(p.offset)]),
        );
        lag[topic] = ends.reduce((sum, end) => {
          const done = committedByPartition.get(end.partition) ?? BigInt(end.low);
          return sum + Number(BigInt(end.high) - done);
        }, 0);
      }
    } catch {
      for (const topic of ingestTopics(this.topics)) lag[topic] ??= null;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    return lag;
  }

  async isKafkaReachable(): Promise<boolean> {
    const admin = this.kafka.admin({ retry: { retries: 0 } });
    try {
      await admin.connect();
      await admin.listTopics();
      return true;
    } catch {
      return false;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}
