import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { AnalysisEventV1 } from '../src/ingestion/contracts';
import { AcceptedEvent, RejectedEvent } from '../src/ingestion/event-decoder';
import { IngestionWriter } from '../src/ingestion/ingestion-writer';
import { Pseudonymiser } from '../src/ingestion/pseudonymiser';
import { Sender } from '../src/ingestion/sender-directory';
import { TEST_DATABASE_URL, TEST_PSEUDONYM_KEY } from './helpers/test-environment';

/**
 * The writer against real PostgreSQL: a row the database refuses although it passed validation is
 * isolated by bisection and dead-lettered as storage_rejected, the rest of its batch is stored, and a
 * replayed batch is neither stored nor counted again.
 */
describe('IngestionWriter', () => {
  const pool = new Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
  const writer = new IngestionWriter(
    pool,
    new Pseudonymiser(Buffer.from(TEST_PSEUDONYM_KEY, 'hex')),
    `writer-${randomUUID()}`,
  );
  const constraint = `test_poison_${randomUUID().slice(0, 8)}`;
  let sender: Sender;

  beforeAll(async () => {
    const manufacturer = await pool.query(`INSERT INTO manufacturers (name) VALUES ($1) RETURNING id`, [
      `Writer ${randomUUID()}`,
    ]);
    const manufacturerId: string = manufacturer.rows[0].id;
    const product = await pool.query(
      `INSERT INTO products (manufacturer_id, name, udi_di, risk_class, jurisdictions, ffr_threshold, premarket_claims)
       VALUES ($1, 'W', $2, 'III', '{CN}', 0.8, '{}') RETURNING id`,
      [manufacturerId, randomUUID().slice(0, 14)],
    );
    const site = await pool.query(
      `INSERT INTO sites (manufacturer_id, site_code, name, country) VALUES ($1, $2, 'W', 'CN') RETURNING id`,
      [manufacturerId, `W-${randomUUID().slice(0, 6)}`],
    );
    sender = {
      kind: 'device',
      id: randomUUID(),
      code: 'W-DEV',
      manufacturerId,
      productId: product.rows[0].id,
      siteId: site.rows[0].id,
      siteCode: 'W',
      secret: 'unused',
    };
    // A rule only the database knows, standing in for any constraint the JSON Schema cannot express.
    await pool.query(
      `ALTER TABLE analyses ADD CONSTRAINT ${constraint} CHECK (software_version <> 'poison') NOT VALID`,
    );
  });

  afterAll(async () => {
    await pool.query(`ALTER TABLE analyses DROP CONSTRAINT IF EXISTS ${constraint}`);
    await pool.end();
  });

  const accepted = (offset: number, softwareVersion: string): AcceptedEvent<'analyses'> => {
    const event: AnalysisEventV1 = {
      schema: 'fieldwatch.analysis/1',
      eventId: randomUUID(),
      deviceId: 'W-DEV',
      siteId: 'W',
      occurredAt: '2026-03-01T10:00:00Z',
      softwareVersion,
      modelVersion: 'm',
      patientRef: `p-${offset}`,
      studyRef: `s-${offset}`,
      status: 'completed',
      vessels: [{ vessel: 'LAD', ctFfr: 0.8 }],
    };
    return {
      outcome: 'accepted',
      message: { offset: String(offset), key: null, value: null },
      event,
      sender,
      unknownFields: null,
    };
  };

  it('isolates rows the database refuses and stores the rest, exactly once', async () => {
    const events = Array.from({ length: 37 }, (_, index) =>
      accepted(index, [5, 17, 30].includes(index) ? 'poison' : '1.0'),
    );
    const deadLettered: RejectedEvent[] = [];
    const batch = {
      role: 'analyses' as const,
      topic: 'writer.analyses',
      partition: 0,
      lastOffset: '36',
      accepted: events,
      rejected: [],
      deadLetterStorageRejects: (rejects: RejectedEvent[]) => {
        deadLettered.push(...rejects);
        return Promise.resolve();
      },
    };
    const result = await writer.write(batch);
    expect(result).toEqual({ received: 37, stored: 34, duplicates: 0, deadLettered: 3, alreadyProcessed: 0 });
    expect(deadLettered.map((reject) => [reject.message.offset, reject.code])).toEqual([
      ['5', 'storage_rejected'],
      ['17', 'storage_rejected'],
      ['30', 'storage_rejected'],
    ]);
    const stored = await pool.query(`SELECT count(*)::int AS n FROM analyses WHERE event_id = ANY($1)`, [
      events.map((e) => e.event.eventId),
    ]);
    expect(stored.rows[0].n).toBe(34);
    const vessels = await pool.query(
      `SELECT count(*)::int AS n FROM analysis_vessels WHERE analysis_event_id = ANY($1)`,
      [events.map((e) => e.event.eventId)],
    );
    expect(vessels.rows[0].n).toBe(34);

    // The same batch again (a redelivery after a crash before the Kafka commit): nothing changes.
    const replay = await writer.write(batch);
    expect(replay).toEqual({ received: 0, stored: 0, duplicates: 0, deadLettered: 0, alreadyProcessed: 37 });
  });
});
