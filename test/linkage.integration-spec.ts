import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { AnalysisEventV1, OutcomeEventV1 } from '../src/ingestion/contracts';
import { AcceptedEvent } from '../src/ingestion/event-decoder';
import { IngestionWriter } from '../src/ingestion/ingestion-writer';
import { Pseudonymiser } from '../src/ingestion/pseudonymiser';
import { Sender } from '../src/ingestion/sender-directory';
import { OutcomeLinker } from '../src/outcomes/outcome-linker';
import { TEST_DATABASE_URL, TEST_PSEUDONYM_KEY } from './helpers/test-environment';

/**
 * Linkage is a pure function of the stored events: the same events fed in many orders — outcomes
 * before analyses, weeks late, twice, corrected — through the real ingestion writer and linker on
 * real PostgreSQL end with identical links.
 */

type Logical =
  | {
      label: string;
      kind: 'analysis';
      patient: string;
      day: number;
      status?: 'completed' | 'rejected';
      vessels: Array<{ vessel: 'LAD' | 'LCX' | 'RCA'; segment?: number; ctFfr: number }>;
    }
  | {
      label: string;
      kind: 'ffr';
      patient: string;
      day: number;
      vessel: 'LAD' | 'LCX' | 'RCA';
      segment?: number;
      value: number;
      recordedDay?: number;
    }
  | { label: string; kind: 'clinical'; patient: string; day: number; event: string };

const DAY = 86_400_000;
const EPOCH = Date.UTC(2026, 0, 5, 9, 0, 0);
const at = (day: number) => new Date(EPOCH + day * DAY).toISOString();

const SCENARIO: Logical[] = [
  // P1: two analyses before the wire; the later one in the window wins; the measurement is then corrected.
  {
    label: 'A1',
    kind: 'analysis',
    patient: 'P1',
    day: 0,
    vessels: [
      { vessel: 'LAD', segment: 7, ctFfr: 0.74 },
      { vessel: 'RCA', ctFfr: 0.88 },
    ],
  },
  {
    label: 'A2',
    kind: 'analysis',
    patient: 'P1',
    day: 20,
    vessels: [{ vessel: 'LAD', segment: 7, ctFfr: 0.7 }],
  },
  {
    label: 'O1',
    kind: 'ffr',
    patient: 'P1',
    day: 30,
    vessel: 'LAD',
    segment: 7,
    value: 0.78,
    recordedDay: 30,
  },
  {
    label: 'O1-corrected',
    kind: 'ffr',
    patient: 'P1',
    day: 30,
    vessel: 'LAD',
    segment: 7,
    value: 0.76,
    recordedDay: 31,
  },
  { label: 'O1-RCA', kind: 'ffr', patient: 'P1', day: 30, vessel: 'RCA', value: 0.9 },
  // P2: an analysis too early for the window, then one inside it.
  { label: 'A3', kind: 'analysis', patient: 'P2', day: 50, vessels: [{ vessel: 'LCX', ctFfr: 0.81 }] },
  { label: 'O2', kind: 'ffr', patient: 'P2', day: 200, vessel: 'LCX', value: 0.83 },
  { label: 'A4', kind: 'analysis', patient: 'P2', day: 150, vessels: [{ vessel: 'LCX', ctFfr: 0.79 }] },
  { label: 'O2-early', kind: 'ffr', patient: 'P2', day: 145, vessel: 'LCX', value: 0.8 },
  // P3: a PCI between CTA and wire invalidates the pair.
  { label: 'A5', kind: 'analysis', patient: 'P3', day: 0, vessels: [{ vessel: 'LAD', ctFfr: 0.65 }] },
  { label: 'PCI', kind: 'clinical', patient: 'P3', day: 10, event: 'pci' },
  { label: 'O3', kind: 'ffr', patient: 'P3', day: 30, vessel: 'LAD', value: 0.7 },
  // P4: the segment decides between two LAD readings of one analysis.
  {
    label: 'A6',
    kind: 'analysis',
    patient: 'P4',
    day: 3,
    vessels: [
      { vessel: 'LAD', segment: 7, ctFfr: 0.72 },
      { vessel: 'LAD', segment: 6, ctFfr: 0.85 },
    ],
  },
  { label: 'O4', kind: 'ffr', patient: 'P4', day: 9, vessel: 'LAD', segment: 6, value: 0.86 },
  // P5: a rejected analysis is never linked, the earlier completed one is.
  { label: 'A7', kind: 'analysis', patient: 'P5', day: 1, vessels: [{ vessel: 'RCA', ctFfr: 0.77 }] },
  { label: 'A8', kind: 'analysis', patient: 'P5', day: 25, status: 'rejected', vessels: [] },
  { label: 'O5', kind: 'ffr', patient: 'P5', day: 40, vessel: 'RCA', value: 0.75 },
];

const EXPECTED = {
  O1: { status: 'superseded', analysis: null, vesselIndex: null, supersededBy: 'O1-corrected' },
  'O1-corrected': { status: 'linked', analysis: 'A2', vesselIndex: 0, supersededBy: null },
  'O1-RCA': { status: 'linked', analysis: 'A1', vesselIndex: 1, supersededBy: null },
  O2: { status: 'linked', analysis: 'A4', vesselIndex: 0, supersededBy: null },
  'O2-early': { status: 'no_analysis_in_window', analysis: null, vesselIndex: null, supersededBy: null },
  O3: { status: 'intervening_revascularization', analysis: null, vesselIndex: null, supersededBy: null },
  O4: { status: 'linked', analysis: 'A6', vesselIndex: 1, supersededBy: null },
  O5: { status: 'linked', analysis: 'A7', vesselIndex: 0, supersededBy: null },
};

/** Deterministic shuffle (mulberry32) so a failing order can be replayed. */
function shuffled<T>(items: T[], seed: number): T[] {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}

describe('linkage of invasive FFR to CT-FFR vessels', () => {
  const pool = new Pool({ connectionString: TEST_DATABASE_URL, max: 4 });
  const pseudonymiser = new Pseudonymiser(Buffer.from(TEST_PSEUDONYM_KEY, 'hex'));
  const linker = new OutcomeLinker(pool, 90);
  let manufacturerId: string;
  let productId: string;

  beforeAll(async () => {
    const manufacturer = await pool.query(`INSERT INTO manufacturers (name) VALUES ($1) RETURNING id`, [
      `Linkage ${randomUUID()}`,
    ]);
    manufacturerId = manufacturer.rows[0].id;
    const product = await pool.query(
      `INSERT INTO products (manufacturer_id, name, udi_di, risk_class, jurisdictions, ffr_threshold, premarket_claims)
       VALUES ($1, 'Linkage CT-FFR', $2, 'III', '{EU}', 0.8, '{}') RETURNING id`,
      [manufacturerId, randomUUID().slice(0, 14)],
    );
    productId = product.rows[0].id;
  });

  afterAll(async () => {
    await pool.end();
  });

  /** One arrival order, on a site of its own; returns the final links by label. */
  async function ingestInOrder(order: Logical[], seed: number) {
    const siteCode = `LINK-${seed}-${randomUUID().slice(0, 6)}`;
    const site = await pool.query(
      `INSERT INTO sites (manufacturer_id, site_code, name, country) VALUES ($1, $2, 'Linkage site', 'CN') RETURNING id`,
      [manufacturerId, siteCode],
    );
    const siteId: string = site.rows[0].id;
    const device = await pool.query(
      `INSERT INTO devices (manufacturer_id, product_id, site_id, device_code, software_version, model_version,
                            secret_ciphertext, secret_key_id)
       VALUES ($1, $2, $3, $4, '1.4.2', 'ffrnet-2025.1', '\\x00', 'sk_' || md5($4)) RETURNING id`,
      [manufacturerId, productId, siteId, `DEV-${siteCode}`],
    );
    const source = await pool.query(
      `INSERT INTO data_sources (manufacturer_id, site_id, source_code, name, kind, secret_ciphertext, secret_key_id)
       VALUES ($1, $2, $3, 'cath', 'cath_lab', '\\x00', 'sk_' || md5($3)) RETURNING id`,
      [manufacturerId, siteId, `CATH-${siteCode}`],
    );
    const base = { manufacturerId, siteId, siteCode, secret: 'unused' };
    const deviceSender: Sender = {
      ...base,
      kind: 'device',
      id: device.rows[0].id,
      code: `DEV-${siteCode}`,
      productId,
    };
    const sourceSender: Sender = {
      ...base,
      kind: 'data-source',
      id: source.rows[0].id,
      code: `CATH-${siteCode}`,
      productId: null,
    };
    const eventIds = new Map(SCENARIO.map((event) => [event.label, randomUUID()]));
    const labels = new Map([...eventIds].map(([label, id]) => [id, label]));
    const writer = new IngestionWriter(pool, pseudonymiser, `linkage-${siteCode}`);
    let offset = 0;
    // Shuffled coin flips decide when the linker runs between arrivals.
    const runLinkerAfter = shuffled(
      order.map((_, index) => index % 2 === 0),
      seed + 1,
    );

    for (const [index, logical] of order.entries()) {
      const eventId = eventIds.get(logical.label) as string;
      const message = { offset: String(offset++), key: null, value: null };
      if (logical.kind === 'analysis') {
        const event: AnalysisEventV1 = {
          schema: 'fieldwatch.analysis/1',
          eventId,
          deviceId: deviceSender.code,
          siteId: siteCode,
          occurredAt: at(logical.day),
          softwareVersion: '1.4.2',
          modelVersion: 'ffrnet-2025.1',
          patientRef: logical.patient,
          studyRef: `${logical.label}-study`,
          status: logical.status ?? 'completed',
          rejectionReason: logical.status === 'rejected' ? 'motion_artifact' : null,
          vessels: logical.vessels,
        };
        const accepted: AcceptedEvent<'analyses'> = {
          outcome: 'accepted',
          message,
          event,
          sender: deviceSender,
          unknownFields: null,
        };
        await writer.write({
          role: 'analyses',
          topic: 't.analyses',
          partition: 0,
          lastOffset: message.offset,
          accepted: [accepted],
          rejected: [],
          deadLetterStorageRejects: () => Promise.resolve(),
        });
      } else {
        const event: OutcomeEventV1 =
          logical.kind === 'ffr'
            ? {
                schema: 'fieldwatch.outcome/1',
                eventId,
                sourceId: sourceSender.code,
                siteId: siteCode,
                patientRef: logical.patient,
                type: 'invasive_ffr',
                measuredAt: at(logical.day),
                vessel: logical.vessel,
                segment: logical.segment ?? null,
                value: logical.value,
                hyperemia: 'adenosine_iv',
                ...(logical.recordedDay !== undefined ? { recordedAt: at(logical.recordedDay) } : {}),
              }
            : {
                schema: 'fieldwatch.outcome/1',
                eventId,
                sourceId: sourceSender.code,
                siteId: siteCode,
                patientRef: logical.patient,
                type: 'clinical_event',
                event: logical.event,
                occurredAt: at(logical.day),
              };
        const accepted: AcceptedEvent<'outcomes'> = {
          outcome: 'accepted',
          message,
          event,
          sender: sourceSender,
          unknownFields: null,
        };
        await writer.write({
          role: 'outcomes',
          topic: 't.outcomes',
          partition: 0,
          lastOffset: message.offset,
          accepted: [accepted],
          rejected: [],
          deadLetterStorageRejects: () => Promise.resolve(),
        });
      }
      if (runLinkerAfter[index]) await linker.drain();
    }
    await linker.drain();

    const links = await pool.query(
      `SELECT outcome_event_id, status, analysis_event_id, vessel_index, superseded_by FROM ffr_links WHERE site_id = $1`,
      [siteId],
    );
    const byLabel = Object.fromEntries(
      links.rows.map((row) => [
        labels.get(row.outcome_event_id),
        {
          status: row.status,
          analysis: row.analysis_event_id ? labels.get(row.analysis_event_id) : null,
          vesselIndex: row.vessel_index,
          supersededBy: row.superseded_by ? labels.get(row.superseded_by) : null,
        },
      ]),
    );
    return { byLabel, siteId, eventIds };
  }

  it('gives identical links for every arrival order, with duplicates and late corrections', async () => {
    const orders: Logical[][] = [SCENARIO, [...SCENARIO].reverse()];
    for (let seed = 1; seed <= 8; seed++) {
      // Some events arrive twice (redelivery or a resend): the copy must change nothing.
      const withCopies = [...SCENARIO, ...shuffled(SCENARIO, seed * 31).slice(0, 4)];
      orders.push(shuffled(withCopies, seed));
    }
    for (const [index, order] of orders.entries()) {
      const { byLabel } = await ingestInOrder(order, index + 1);
      expect({ order: index, links: byLabel }).toEqual({ order: index, links: EXPECTED });
    }
  });

  it('keeps every change of a link in an append-only history', async () => {
    // The correction arrives after the original was linked: the history shows linked → superseded.
    const order = SCENARIO.filter((event) => event.label !== 'O1-corrected');
    const corrected = SCENARIO.find((event) => event.label === 'O1-corrected') as Logical;
    const { siteId, eventIds } = await ingestInOrder([...order, corrected], 99);
    const history = await pool.query(
      `SELECT h.status, h.previous_status FROM ffr_link_history h JOIN ffr_links l ON l.outcome_event_id = h.outcome_event_id
        WHERE l.site_id = $1 AND h.outcome_event_id = $2 ORDER BY h.id`,
      [siteId, eventIds.get('O1')],
    );
    expect(history.rows).toEqual([
      { previous_status: null, status: 'linked' },
      { previous_status: 'linked', status: 'superseded' },
    ]);
    await expect(pool.query(`UPDATE ffr_link_history SET status = 'linked'`)).rejects.toThrow('append-only');
    await expect(pool.query(`DELETE FROM ffr_link_history`)).rejects.toThrow('append-only');
  });
});
