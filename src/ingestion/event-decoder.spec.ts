import { signMessageValue, SIGNATURE_HEADER } from '../kafka/signature';
import { DEAD_LETTER_CODES } from './contracts';
import { ConsumedMessage, EventDecoder, RejectedEvent } from './event-decoder';
import { EventValidator, IngestTopicRole } from './event-validation';
import { TIMESTAMP_PLAUSIBILITY } from './plausibility-rules';
import { Sender, SenderKind, SenderLookup } from './sender-directory';

/** A fixed registry in memory: the decoder's logic is pure once senders are known. */
class FixedSenders implements SenderLookup {
  loads = 0;
  constructor(private readonly senders: Sender[]) {}
  load(): Promise<void> {
    this.loads += 1;
    return Promise.resolve();
  }
  get(kind: SenderKind, code: string): Sender | null {
    return this.senders.find((sender) => sender.kind === kind && sender.code === code) ?? null;
  }
}

const device: Sender = {
  kind: 'device',
  id: '00000000-0000-4000-8000-000000000001',
  code: 'DVF-1',
  manufacturerId: '00000000-0000-4000-8000-0000000000aa',
  productId: '00000000-0000-4000-8000-0000000000bb',
  siteId: '00000000-0000-4000-8000-0000000000cc',
  siteCode: 'SH-RJ',
  secret: 'fws_device-secret',
};

const analysis = (overrides: Record<string, unknown> = {}) => ({
  schema: 'fieldwatch.analysis/1',
  eventId: '6f1c1a8e-2b4b-4b7e-9a51-0c3f8f0f4b11',
  deviceId: 'DVF-1',
  siteId: 'SH-RJ',
  occurredAt: '2026-03-01T10:22:33Z',
  softwareVersion: '1.4.2',
  modelVersion: 'ffrnet-2025.1',
  patientRef: 'p-8c1f0e',
  studyRef: 's-77ab21',
  status: 'completed',
  vessels: [{ vessel: 'LAD', segment: 7, ctFfr: 0.74 }],
  ...overrides,
});

let offset = 0;
function message(value: string | Buffer | null, secret: string | null = device.secret): ConsumedMessage {
  const bytes = value === null ? null : Buffer.isBuffer(value) ? value : Buffer.from(value);
  return {
    offset: String(offset++),
    key: Buffer.from('DVF-1'),
    value: bytes,
    headers: secret && bytes ? { [SIGNATURE_HEADER]: signMessageValue(secret, bytes) } : {},
  };
}

/** The platform clock of these tests: fixtures are dated 2026-03-01, well inside the plausibility window. */
const NOW = Date.parse('2026-06-01T12:00:00Z');
const clock = () => NOW;

async function decodeOne(input: ConsumedMessage, maxBytes = 4096) {
  const decoder = new EventDecoder(new EventValidator(), new FixedSenders([device]), maxBytes, clock);
  const [result] = await decoder.decodeBatch('analyses', [input]);
  return result;
}

async function rejectionOf(
  input: ConsumedMessage,
  maxBytes?: number,
): Promise<Pick<RejectedEvent, 'code' | 'reason'>> {
  const result = await decodeOne(input, maxBytes);
  if (result.outcome !== 'rejected') throw new Error('expected a rejection');
  return { code: result.code, reason: result.reason };
}

describe('EventDecoder', () => {
  it('accepts a signed, valid analysis and keeps unknown top-level fields aside', async () => {
    const result = await decodeOne(message(JSON.stringify(analysis({ vendorExtension: { a: 1 } }))));
    expect(result.outcome).toBe('accepted');
    if (result.outcome === 'accepted') {
      expect(result.sender).toBe(device);
      expect(result.unknownFields).toEqual({ vendorExtension: { a: 1 } });
      expect(result.event.vessels?.[0].ctFfr).toBe(0.74);
    }
  });

  it.each([
    ['json_invalid', message('{"schema":')],
    ['json_invalid', message('[1, 2]')],
    ['json_invalid', message(null)],
    ['schema_unsupported', message(JSON.stringify(analysis({ schema: 'fieldwatch.analysis/2' })))],
    ['field_missing', message(JSON.stringify(analysis({ deviceId: undefined })))],
    ['unknown_sender', message(JSON.stringify(analysis({ deviceId: 'DVF-404' })))],
    ['signature_missing', message(JSON.stringify(analysis()), null)],
    ['signature_invalid', message(JSON.stringify(analysis()), 'fws_other-secret')],
    ['field_missing', message(JSON.stringify(analysis({ occurredAt: undefined })))],
    ['field_missing', message(JSON.stringify(analysis({ vessels: undefined })))],
    ['field_type_invalid', message(JSON.stringify(analysis({ processingSeconds: '412' })))],
    ['value_out_of_range', message(JSON.stringify(analysis({ vessels: [{ vessel: 'LAD', ctFfr: -0.1 }] })))],
    [
      'value_out_of_range',
      message(JSON.stringify(analysis({ vessels: [{ vessel: 'LAD', ctFfr: 1.0001 }] }))),
    ],
    ['field_value_invalid', message(JSON.stringify(analysis({ vessels: [{ vessel: 'D1', ctFfr: 0.7 }] })))],
    ['field_value_invalid', message(JSON.stringify(analysis({ eventId: 'not-a-uuid' })))],
    ['field_value_invalid', message(JSON.stringify(analysis({ occurredAt: '01/03/2026' })))],
    ['field_missing', message(JSON.stringify(analysis({ status: 'rejected', vessels: [] })))],
    ['site_mismatch', message(JSON.stringify(analysis({ siteId: 'BJ-AZ' })))],
  ])('dead-letters %s', async (code, input) => {
    expect((await rejectionOf(input)).code).toBe(code);
  });

  it('rejects an oversized value before parsing it', async () => {
    const big = JSON.stringify(analysis({ padding: 'x'.repeat(5000) }));
    expect(await rejectionOf(message(big), 4096)).toEqual({
      code: 'message_too_large',
      reason: `value is ${Buffer.byteLength(big)} bytes; the limit is 4096`,
    });
  });

  it('detects a value changed after signing, even by one byte', async () => {
    const original = message(JSON.stringify(analysis()));
    const tampered = {
      ...original,
      value: Buffer.from((original.value as Buffer).toString().replace('0.74', '0.84')),
    };
    expect((await rejectionOf(tampered)).code).toBe('signature_invalid');
  });

  it('checks the signature before the contract, so a forged message reveals nothing about the rules', async () => {
    const forgedAndInvalid = message(
      JSON.stringify(analysis({ vessels: [{ vessel: 'LAD', ctFfr: 7 }] })),
      'fws_forger',
    );
    expect((await rejectionOf(forgedAndInvalid)).code).toBe('signature_invalid');
  });

  it('names the offending field in the reason', async () => {
    expect((await rejectionOf(message(JSON.stringify(analysis({ studyRef: undefined }))))).reason).toBe(
      'required field "studyRef" is missing at (root)',
    );
    expect(
      (await rejectionOf(message(JSON.stringify(analysis({ vessels: [{ vessel: 'LAD', ctFfr: 1.5 }] })))))
        .reason,
    ).toBe('/vessels/0/ctFfr must be <= 1');
  });

  it('loads the senders of a whole batch at once', async () => {
    const senders = new FixedSenders([device]);
    const decoder = new EventDecoder(new EventValidator(), senders, 4096, clock);
    const results = await decoder.decodeBatch(
      'analyses',
      Array.from({ length: 50 }, () => message(JSON.stringify(analysis()))),
    );
    expect(results.every((result) => result.outcome === 'accepted')).toBe(true);
    expect(senders.loads).toBe(1);
  });

  describe('revoked senders', () => {
    const revoked: Sender = { ...device, revokedAt: new Date('2026-05-01T12:00:00Z') };
    const decodeWith = async (input: ConsumedMessage) => {
      const decoder = new EventDecoder(new EventValidator(), new FixedSenders([revoked]), 4096, clock);
      const [result] = await decoder.decodeBatch('analyses', [input]);
      if (result.outcome !== 'rejected') throw new Error('expected a rejection');
      return result;
    };

    it("dead-letters a revoked sender's correctly signed event as revoked_sender, naming when", async () => {
      const result = await decodeWith(message(JSON.stringify(analysis())));
      expect(result.code).toBe('revoked_sender');
      expect(result.reason).toBe('deviceId "DVF-1" was revoked on 2026-05-01T12:00:00.000Z');
      expect(result.senderCode).toBe('DVF-1');
    });

    it('tells a forger or an unsigned message nothing about the revocation', async () => {
      expect((await decodeWith(message(JSON.stringify(analysis()), 'fws_forger'))).code).toBe(
        'signature_invalid',
      );
      expect((await decodeWith(message(JSON.stringify(analysis()), null))).code).toBe('signature_missing');
    });

    it('dead-letters even an otherwise invalid event as revoked_sender (revocation is checked first)', async () => {
      const invalid = analysis({ vessels: [{ vessel: 'LAD', ctFfr: 7 }] });
      expect((await decodeWith(message(JSON.stringify(invalid)))).code).toBe('revoked_sender');
    });
  });

  describe('rotated secrets (current + previous until its overlap ends)', () => {
    const rotated: Sender = {
      ...device,
      secret: 'fws_new-secret',
      secretKeyId: 'sk_' + 'a'.repeat(32),
      previousSecret: {
        secret: device.secret,
        keyId: 'sk_' + 'b'.repeat(32),
        validUntil: new Date(NOW + 60_000),
      },
    };
    const decodeAt = async (at: number, input: ConsumedMessage, sender: Sender = rotated) => {
      const decoder = new EventDecoder(new EventValidator(), new FixedSenders([sender]), 4096, () => at);
      const [result] = await decoder.decodeBatch('analyses', [input]);
      return result;
    };
    const oldSigned = () => message(JSON.stringify(analysis()), device.secret);
    const newSigned = () => message(JSON.stringify(analysis()), 'fws_new-secret');

    it('accepts the new secret at once and the previous one until its deadline, measured on the platform clock', async () => {
      expect((await decodeAt(NOW, newSigned())).outcome).toBe('accepted');
      expect((await decodeAt(NOW, oldSigned())).outcome).toBe('accepted');
      expect((await decodeAt(NOW + 59_999, oldSigned())).outcome).toBe('accepted');
      expect((await decodeAt(NOW + 60_000, newSigned())).outcome).toBe('accepted');
    });

    it('dead-letters the previous secret as retired_secret once the overlap is over, naming key ids, not secrets', async () => {
      const result = await decodeAt(NOW + 60_000, oldSigned());
      if (result.outcome !== 'rejected') throw new Error('expected a rejection');
      expect(result.code).toBe('retired_secret');
      expect(result.reason).toBe(
        `deviceId "DVF-1" signed with secret sk_${'b'.repeat(32)}, which a rotation replaced and which ` +
          `stopped being accepted on ${new Date(NOW + 60_000).toISOString()}; sign with the current secret ` +
          `sk_${'a'.repeat(32)}`,
      );
      expect(result.reason).not.toContain(device.secret);
      expect(result.reason).not.toContain('fws_new-secret');
    });

    it('still calls a forgery signature_invalid, and a revoked sender revoked_sender whatever secret it used', async () => {
      expect((await decodeAt(NOW, message(JSON.stringify(analysis()), 'fws_forger'))).outcome).toBe(
        'rejected',
      );
      const forged = await decodeAt(NOW + 60_000, message(JSON.stringify(analysis()), 'fws_forger'));
      expect(forged.outcome === 'rejected' && forged.code).toBe('signature_invalid');
      const revoked = { ...rotated, revokedAt: new Date(NOW) };
      for (const [at, input] of [
        [NOW, oldSigned()],
        [NOW + 60_000, oldSigned()],
        [NOW, newSigned()],
      ] as const) {
        const result = await decodeAt(at, input, revoked);
        expect(result.outcome === 'rejected' && result.code).toBe('revoked_sender');
      }
    });
  });

  describe('plausibility of timestamps', () => {
    const dataSource: Sender = {
      ...device,
      kind: 'data-source',
      id: '00000000-0000-4000-8000-000000000002',
      code: 'CATH-1',
      productId: null,
      secret: 'fws_source-secret',
    };
    const minutes = (n: number) => new Date(NOW + n * 60_000).toISOString();
    const yearsAgo = (years: number, plusMs = 0) => {
      const at = new Date(NOW);
      at.setUTCFullYear(at.getUTCFullYear() - years);
      return new Date(at.getTime() + plusMs).toISOString();
    };
    const decodeAs = async (role: IngestTopicRole, event: object, secret: string) => {
      const decoder = new EventDecoder(
        new EventValidator(),
        new FixedSenders([device, dataSource]),
        4096,
        clock,
      );
      const [result] = await decoder.decodeBatch(role, [message(JSON.stringify(event), secret)]);
      return result;
    };
    const codeOf = async (role: IngestTopicRole, event: object, secret = device.secret) => {
      const result = await decodeAs(role, event, secret);
      return result.outcome === 'rejected' ? result.code : 'accepted';
    };
    const deviceEvent = (occurredAt: string) => ({
      schema: 'fieldwatch.device-event/1',
      eventId: '9b2f3c4d-5e6f-4a1b-8c9d-0e1f2a3b4c5d',
      deviceId: 'DVF-1',
      occurredAt,
      kind: 'heartbeat',
    });
    const outcome = (fields: Record<string, unknown>) => ({
      schema: 'fieldwatch.outcome/1',
      eventId: '1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f',
      sourceId: 'CATH-1',
      siteId: 'SH-RJ',
      patientRef: 'p-1',
      ...fields,
    });
    const invasive = (measuredAt: string, extra: Record<string, unknown> = {}) =>
      outcome({ type: 'invasive_ffr', measuredAt, vessel: 'LAD', value: 0.78, ...extra });
    const clinical = (occurredAt: string) => outcome({ type: 'clinical_event', event: 'pci', occurredAt });

    it('holds its limits as a cited table, and the DLQ code is registered', () => {
      expect(TIMESTAMP_PLAUSIBILITY.maxAheadMinutes.value).toBe(10);
      expect(TIMESTAMP_PLAUSIBILITY.maxAgeYears.value).toBe(10);
      expect(TIMESTAMP_PLAUSIBILITY.maxAheadMinutes.source).toContain('regulatory.md');
      expect(TIMESTAMP_PLAUSIBILITY.maxAgeYears.source).toContain('regulatory.md');
      expect(DEAD_LETTER_CODES).toHaveProperty('occurred_at_implausible');
    });

    it.each([
      ['analysis 10 min ahead (the limit itself)', minutes(10), 'accepted'],
      ['analysis 10 min 1 s ahead', new Date(NOW + 601_000).toISOString(), 'occurred_at_implausible'],
      ['analysis a year ahead', minutes(365 * 24 * 60), 'occurred_at_implausible'],
      ['analysis exactly 10 years old', yearsAgo(10), 'accepted'],
      ['analysis 10 years and 1 s old', yearsAgo(10, -1_000), 'occurred_at_implausible'],
      ['analysis from 1970', '1970-01-01T00:00:00Z', 'occurred_at_implausible'],
      ['analysis 12 h ahead, with a +08:00 offset', '2026-06-02T08:00:00+08:00', 'occurred_at_implausible'],
      ['analysis now, written with a +08:00 offset', '2026-06-01T20:00:00+08:00', 'accepted'],
    ])('%s (%s) → %s', async (_, occurredAt, expected) => {
      expect(await codeOf('analyses', analysis({ occurredAt }))).toBe(expected);
    });

    it('applies to device events and to every timestamp of an outcome', async () => {
      expect(await codeOf('deviceEvents', deviceEvent(minutes(5)))).toBe('accepted');
      expect(await codeOf('deviceEvents', deviceEvent(minutes(30)))).toBe('occurred_at_implausible');
      expect(await codeOf('deviceEvents', deviceEvent(yearsAgo(11)))).toBe('occurred_at_implausible');
      const source = dataSource.secret;
      expect(await codeOf('outcomes', invasive(minutes(-60)), source)).toBe('accepted');
      expect(await codeOf('outcomes', invasive(minutes(60)), source)).toBe('occurred_at_implausible');
      expect(await codeOf('outcomes', invasive(yearsAgo(20)), source)).toBe('occurred_at_implausible');
      expect(await codeOf('outcomes', clinical(minutes(-60 * 24)), source)).toBe('accepted');
      expect(await codeOf('outcomes', clinical(minutes(11)), source)).toBe('occurred_at_implausible');
      expect(await codeOf('outcomes', clinical('2001-09-11T00:00:00Z'), source)).toBe(
        'occurred_at_implausible',
      );
      expect(await codeOf('outcomes', invasive(minutes(-60), { recordedAt: minutes(-30) }), source)).toBe(
        'accepted',
      );
      expect(
        await codeOf('outcomes', invasive(minutes(-60), { recordedAt: '2099-01-01T00:00:00Z' }), source),
      ).toBe('occurred_at_implausible');
    });

    it('names the field, its value, the limit and the platform clock in the reason', async () => {
      const result = await decodeAs(
        'analyses',
        analysis({ occurredAt: '2026-06-01T13:00:00Z' }),
        device.secret,
      );
      expect(result).toMatchObject({
        outcome: 'rejected',
        code: 'occurred_at_implausible',
        reason:
          'occurredAt 2026-06-01T13:00:00Z is more than 10 minutes ahead of the platform clock (2026-06-01T12:00:00.000Z)',
        senderCode: 'DVF-1',
      });
      const old = await decodeAs('outcomes', clinical('2010-01-01T00:00:00Z'), dataSource.secret);
      expect(old.outcome === 'rejected' && old.reason).toBe(
        'occurredAt 2010-01-01T00:00:00Z is more than 10 years before the platform clock (2026-06-01T12:00:00.000Z)',
      );
    });

    it('runs after the signature and the contract, before consistency with the registry', async () => {
      const future = minutes(60);
      // A forger learns nothing, not even that the date is wrong.
      expect(await codeOf('analyses', analysis({ occurredAt: future }), 'fws_forger')).toBe(
        'signature_invalid',
      );
      // A contract violation is reported as such first.
      expect(await codeOf('analyses', analysis({ occurredAt: future, processingSeconds: 'slow' }))).toBe(
        'field_type_invalid',
      );
      // An implausible date is reported before a site mismatch.
      expect(await codeOf('analyses', analysis({ occurredAt: future, siteId: 'BJ-AZ' }))).toBe(
        'occurred_at_implausible',
      );
      // A revoked sender is reported as revoked, whatever the date.
      const revoked = new EventDecoder(
        new EventValidator(),
        new FixedSenders([{ ...device, revokedAt: new Date(NOW) }]),
        4096,
        clock,
      );
      const [result] = await revoked.decodeBatch('analyses', [
        message(JSON.stringify(analysis({ occurredAt: future }))),
      ]);
      expect(result.outcome === 'rejected' && result.code).toBe('revoked_sender');
    });

    it('measures from the platform clock at decoding time, not from a fixed date', async () => {
      let now = NOW;
      const decoder = new EventDecoder(new EventValidator(), new FixedSenders([device]), 4096, () => now);
      const event = message(JSON.stringify(analysis({ occurredAt: minutes(20) })));
      expect((await decoder.decodeBatch('analyses', [event]))[0].outcome).toBe('rejected');
      now = NOW + 15 * 60_000;
      expect((await decoder.decodeBatch('analyses', [event]))[0].outcome).toBe('accepted');
    });
  });
});
