import { signMessageValue, SIGNATURE_HEADER } from '../kafka/signature';
import { ConsumedMessage, EventDecoder, RejectedEvent } from './event-decoder';
import { EventValidator } from './event-validation';
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

async function decodeOne(input: ConsumedMessage, maxBytes = 4096) {
  const decoder = new EventDecoder(new EventValidator(), new FixedSenders([device]), maxBytes);
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
    const decoder = new EventDecoder(new EventValidator(), senders, 4096);
    const results = await decoder.decodeBatch(
      'analyses',
      Array.from({ length: 50 }, () => message(JSON.stringify(analysis()))),
    );
    expect(results.every((result) => result.outcome === 'accepted')).toBe(true);
    expect(senders.loads).toBe(1);
  });
});
