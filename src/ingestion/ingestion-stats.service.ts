import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { ingestTopics, topicsFor } from '../kafka/topics';
import { IngestionConsumer } from './ingestion.consumer';

export interface TopicStats {
  topic: string;
  received: number;
  stored: number;
  duplicates: number;
  deadLettered: number;
  /** Messages in Kafka not yet committed by the consumer group; null when Kafka cannot be asked. */
  consumerLag: number | null;
}

@Injectable()
export class IngestionStatsService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly consumer: IngestionConsumer,
  ) {}

  async stats(): Promise<{
    consumerGroup: string;
    topics: TopicStats[];
    deadLettersByCode: Record<string, number>;
    consumer: IngestionConsumer['status'];
    /** Memory of the process answering (for soak runs and operators: does it stay flat under load?). */
    process: {
      role: AppConfig['FW_PROCESS_ROLE'];
      heapUsedBytes: number;
      rssBytes: number;
      uptimeSeconds: number;
    };
  }> {
    const [counters, byCode, lag] = await Promise.all([
      this.dataSource.query<Array<Omit<TopicStats, 'consumerLag'>>>(
        `SELECT topic, sum(received)::bigint::text AS received, sum(stored)::bigint::text AS stored,
                sum(duplicates)::bigint::text AS duplicates, sum(dead_lettered)::bigint::text AS "deadLettered"
           FROM ingestion_partition_progress WHERE consumer_group = $1 GROUP BY topic`,
        [this.config.KAFKA_CONSUMER_GROUP],
      ),
      this.dataSource.query<Array<{ error_code: string; count: string }>>(
        `SELECT error_code, count(*)::text AS count FROM dead_letters WHERE topic = ANY($1) GROUP BY error_code`,
        [ingestTopics(topicsFor(this.config.KAFKA_TOPIC_PREFIX))],
      ),
      this.consumer.lagByTopic(),
    ]);
    const byTopic = new Map(counters.map((row) => [row.topic, row]));
    return {
      consumerGroup: this.config.KAFKA_CONSUMER_GROUP,
      topics: ingestTopics(topicsFor(this.config.KAFKA_TOPIC_PREFIX)).map((topic) => {
        const row = byTopic.get(topic);
        return {
          topic,
          received: Number(row?.received ?? 0),
          stored: Number(row?.stored ?? 0),
          duplicates: Number(row?.duplicates ?? 0),
          deadLettered: Number(row?.deadLettered ?? 0),
          consumerLag: lag[topic] ?? null,
        };
      }),
      deadLettersByCode: Object.fromEntries(byCode.map((row) => [row.error_code, Number(row.count)])),
      consumer: this.consumer.status,
      process: {
        role: this.config.FW_PROCESS_ROLE,
        heapUsedBytes: process.memoryUsage().heapUsed,
        rssBytes: process.memoryUsage().rss,
        uptimeSeconds: Math.round(process.uptime()),
      },
    };
  }
}
