import { Pool, PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { copyLine } from './copy-text';
import { AcceptedEvent, RejectedEvent } from './event-decoder';
import { IngestTopicRole } from './event-validation';
import { TABLE_SPECS, TableSpec } from './ingestion-tables';
import { Pseudonymiser } from './pseudonymiser';

export interface BatchToWrite<R extends IngestTopicRole> {
  role: R;
  topic: string;
  partition: number;
  /** Offset of the batch's last message: progress moves past it once the transaction commits. */
  lastOffset: string;
  accepted: AcceptedEvent<R>[];
  rejected: RejectedEvent[];
  /**
   * Called inside the transaction, before commit, with events the database refused despite passing
   * validation: they must reach the DLQ before their offsets are recorded as done.
   */
  deadLetterStorageRejects(rejects: RejectedEvent[]): Promise<void>;
}

export interface BatchWriteResult {
  received: number;
  stored: number;
  duplicates: number;
  deadLettered: number;
  /** Messages at offsets this consumer group had already accounted for (a redelivery). */
  alreadyProcessed: number;
}

const offsetOf = (event: { message: { offset: string } }): bigint => BigInt(event.message.offset);

/** A second copy of an eventId inside one batch is a duplicate too; the first is kept. */
function uniqueByEventId<R extends IngestTopicRole>(events: AcceptedEvent<R>[]): AcceptedEvent<R>[] {
  const seen = new Set<string>();
  return events.filter(
    (event) => !seen.has(event.event.eventId) && seen.add(event.event.eventId) !== undefined,
  );
}

/** SQLSTATE classes 22 (data exception) and 23 (integrity violation): the row is at fault, not the database. */
function isRowFault(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

/**
 * Writes one consumed batch in one transaction: the new rows (COPY into session-local staging,
 * then INSERT … ON CONFLICT DO NOTHING on eventId), the dead-letter records, and the partition's
 * progress and counters. Because progress commits with the rows, a batch replayed after a crash or a
 * rebalance is recognised by offset and neither stored nor counted twice.
 */
export class IngestionWriter {
  private readonly preparedClients = new WeakSet<PoolClient>();
  /** Months whose partitions this process has seen exist (created ahead by the schedule, or ensured here). */
  private readonly knownMonths = new Set<string>();

  constructor(
    private readonly pool: Pool,
    private readonly pseudonymiser: Pseudonymiser,
    private readonly consumerGroup: string,
  ) {}

  /** Progress already committed for a partition (null when none): lets the consumer skip a replay early. */
  async committedNextOffset(topic: string, partition: number): Promise<bigint | null> {
    const result = await this.pool.query<{ next_offset: string }>(
      'SELECT next_offset FROM ingestion_partition_progress WHERE consumer_group = $1 AND topic = $2 AND kafka_partition = $3',
      [this.consumerGroup, topic, partition],
    );
    return result.rows[0] ? BigInt(result.rows[0].next_offset) : null;
  }

  async write<R extends IngestTopicRole>(batch: BatchToWrite<R>): Promise<BatchWriteResult> {
    // The COPY text (pseudonymisation included) is built before the transaction opens, so the
    // transaction holds its locks only while PostgreSQL works, not while this process computes.
    const unique = uniqueByEventId(batch.accepted);
    const prepared = { events: unique, copyTexts: this.copyTexts(batch.role, unique, batch.partition) };
    await this.ensurePartitions((TABLE_SPECS[batch.role] as TableSpec<R>).partitionMonths(unique));
    const client = await this.pool.connect();
    try {
      await this.prepareSession(client);
      await client.query('BEGIN');
      try {
        const result = await this.writeInTransaction(client, batch, prepared);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    } finally {
      client.release();
    }
  }

  private async writeInTransaction<R extends IngestTopicRole>(
    client: PoolClient,
    batch: BatchToWrite<R>,
    prepared: { events: AcceptedEvent<R>[]; copyTexts: string[] },
  ): Promise<BatchWriteResult> {
    // The row lock serialises two consumers that briefly own the same partition during a rebalance.
    await client.query(
      `INSERT INTO ingestion_partition_progress (consumer_group, topic, kafka_partition, next_offset)
       VALUES ($1, $2, $3, 0) ON CONFLICT DO NOTHING`,
      [this.consumerGroup, batch.topic, batch.partition],
    );
    const locked = await client.query<{ next_offset: string }>(
      `SELECT next_offset FROM ingestion_partition_progress
        WHERE consumer_group = $1 AND topic = $2 AND kafka_partition = $3 FOR UPDATE`,
      [this.consumerGroup, batch.topic, batch.partition],
    );
    const nextOffset = BigInt(locked.rows[0].next_offset);
    const accepted = batch.accepted.filter((event) => offsetOf(event) >= nextOffset);
    const rejected = batch.rejected.filter((event) => offsetOf(event) >= nextOffset);
    const alreadyProcessed =
      batch.accepted.length + batch.rejected.length - accepted.length - rejected.length;
    if (BigInt(batch.lastOffset) < nextOffset) {
      return { received: 0, stored: 0, duplicates: 0, deadLettered: 0, alreadyProcessed };
    }

    // Usually nothing was filtered and the prepared text is used as is; after a replay, only the rest.
    const unique = accepted.length === batch.accepted.length ? prepared.events : uniqueByEventId(accepted);
    const copyTexts =
      unique === prepared.events ? prepared.copyTexts : this.copyTexts(batch.role, unique, batch.partition);

    const storageRejects: RejectedEvent[] = [];
    const stored =
      unique.length > 0
        ? await this.writeIsolatingFaults(client, batch, unique, storageRejects, false, copyTexts)
        : 0;
    if (storageRejects.length > 0) await batch.deadLetterStorageRejects(storageRejects);
    const deadLetters = [...rejected, ...storageRejects];
    if (deadLetters.length > 0)
      await this.recordDeadLetters(client, batch.topic, batch.partition, deadLetters);

    const received = accepted.length + rejected.length;
    const duplicates = accepted.length - storageRejects.length - stored;
    await client.query(
      `UPDATE ingestion_partition_progress
          SET next_offset = $4, received = received + $5, stored = stored + $6, duplicates = duplicates + $7,
              dead_lettered = dead_lettered + $8, updated_at = now()
        WHERE consumer_group = $1 AND topic = $2 AND kafka_partition = $3`,
      [
        this.consumerGroup,
        batch.topic,
        batch.partition,
        (BigInt(batch.lastOffset) + 1n).toString(),
        received,
        stored,
        duplicates,
        deadLetters.length,
      ],
    );
    return { received, stored, duplicates, deadLettered: deadLetters.length, alreadyProcessed };
  }

  /**
   * Writes all events in one COPY + merge; if the database refuses a row (a constraint the schema
   * could not express), bisects under savepoints until the offending events are isolated, so one bad
   * row neither blocks the partition forever nor takes the good rows with it.
   */
  private async writeIsolatingFaults<R extends IngestTopicRole>(
    client: PoolClient,
    batch: BatchToWrite<R>,
    events: AcceptedEvent<R>[],
    storageRejects: RejectedEvent[],
    bisecting: boolean,
    copyTexts: string[] = this.copyTexts(batch.role, events, batch.partition),
  ): Promise<number> {
    const spec = TABLE_SPECS[batch.role] as TableSpec<R>;
    await client.query('SAVEPOINT ingest_chunk');
    try {
      const stored = await this.copyAndMerge(client, spec, copyTexts);
      // A failed chunk's staging rows vanish with its savepoint; a successful one's stay until commit
      // (ON COMMIT DELETE ROWS), so only a bisection, where another chunk follows, must clear them.
      if (bisecting) await client.query(`TRUNCATE ${spec.tables.map((table) => table.stage).join(', ')}`);
      await client.query('RELEASE SAVEPOINT ingest_chunk');
      return stored;
    } catch (error) {
      await client.query('ROLLBACK TO SAVEPOINT ingest_chunk');
      await client.query('RELEASE SAVEPOINT ingest_chunk');
      if (!isRowFault(error)) throw error;
      if (events.length === 1) {
        const [event] = events;
        storageRejects.push({
          outcome: 'rejected',
          message: event.message,
          code: 'storage_rejected',
          reason: `database refused the event (SQLSTATE ${String((error as { code: string }).code)})`,
          senderCode: event.sender.code,
        });
        return 0;
      }
      const middle = Math.ceil(events.length / 2);
      return (
        (await this.writeIsolatingFaults(client, batch, events.slice(0, middle), storageRejects, true)) +
        (await this.writeIsolatingFaults(client, batch, events.slice(middle), storageRejects, true))
      );
    }
  }

  /** COPY text per staged table of the role, in `spec.tables` order. */
  private copyTexts<R extends IngestTopicRole>(
    role: R,
    events: AcceptedEvent<R>[],
    partition: number,
  ): string[] {
    const spec = TABLE_SPECS[role] as TableSpec<R>;
    return spec.toRows(events, partition, this.pseudonymiser).map((rows) => {
      let text = '';
      for (const row of rows) text += copyLine(row);
      return text;
    });
  }

  private async copyAndMerge<R extends IngestTopicRole>(
    client: PoolClient,
    spec: TableSpec<R>,
    copyTexts: string[],
  ): Promise<number> {
    for (const [index, table] of spec.tables.entries()) {
      if (copyTexts[index].length === 0) continue;
      const copyStream = client.query(
        copyFrom(`COPY ${table.stage} (${table.columns.join(', ')}) FROM STDIN`),
      );
      await pipeline(Readable.from([copyTexts[index]]), copyStream);
    }
    const merged = await client.query<{ stored: number }>(spec.mergeSql);
    return merged.rows[0].stored;
  }

  private async recordDeadLetters(
    client: PoolClient,
    topic: string,
    partition: number,
    events: RejectedEvent[],
  ) {
    await client.query(
      `INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, error_code, reason, sender_code)
       SELECT $1, $2, offset_, code, reason, sender
         FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[]) AS d(offset_, code, reason, sender)
       ON CONFLICT (topic, kafka_partition, kafka_offset) DO NOTHING`,
      [
        topic,
        partition,
        events.map((event) => event.message.offset),
        events.map((event) => event.code),
        events.map((event) => event.reason),
        events.map((event) => event.senderCode),
      ],
    );
  }

  /**
   * Makes sure the months' partitions exist before the batch's transaction opens (a backfill may reach a month the
   * schedule never created: docs/storage/partitioning.md). Its own short transaction, so the lock that attaching a
   * partition takes on the parent is never held together with a batch's locks. A month the function refuses (outside
   * the plausibility window, or retired by retention) is left to the insert, which refuses its rows: they are
   * isolated and dead-lettered as `storage_rejected`, never lost silently.
   */
  private async ensurePartitions(months: string[]): Promise<void> {
    const missing = months.filter((month) => !this.knownMonths.has(month));
    if (missing.length === 0) return;
    try {
      await this.pool.query('SELECT fieldwatch_ensure_event_partitions($1::date[])', [missing]);
    } catch (error) {
      if (isRowFault(error)) return;
      throw error;
    }
    for (const month of missing) this.knownMonths.add(month);
  }

  /** Session-local staging tables, created once per pooled connection. */
  private async prepareSession(client: PoolClient): Promise<void> {
    if (this.preparedClients.has(client)) return;
    const statements = Object.values(TABLE_SPECS).flatMap((spec) =>
      spec.tables.map(
        (table) =>
          `CREATE TEMP TABLE IF NOT EXISTS ${table.stage} (LIKE ${table.target} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`,
      ),
    );
    await client.query(statements.join(';\n'));
    this.preparedClients.add(client);
  }
}
