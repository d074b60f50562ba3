import { Producer } from 'kafkajs';
import { RejectedEvent } from './event-decoder';

/**
 * Publishes rejected messages to the DLQ unchanged (original key and value) with the headers of
 * DESIGN.md §4. acks=-1 on an idempotent producer: the consumer only moves past a message once
 * its dead letter is durably in Kafka.
 */
export class DeadLetterPublisher {
  constructor(
    private readonly producer: Producer,
    private readonly deadLetterTopic: string,
  ) {}

  async publish(sourceTopic: string, partition: number, rejected: RejectedEvent[]): Promise<void> {
    if (rejected.length === 0) return;
    const now = new Date().toISOString();
    await this.producer.send({
      topic: this.deadLetterTopic,
      acks: -1,
      messages: rejected.map(({ message, code, reason }) => ({
        key: message.key,
        value: message.value,
        headers: {
          'x-fw-error': code,
          'x-fw-reason': reason,
          'x-fw-source-topic': sourceTopic,
          'x-fw-source-partition': String(partition),
          'x-fw-source-offset': message.offset,
          'x-fw-dead-lettered-at': now,
        },
      })),
    });
  }
}
