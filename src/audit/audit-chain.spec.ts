import { checkpointMessage, encodeField, entryHash, GENESIS_HASH, ChainedFields } from './audit-chain';

/**
 * Expected hashes were computed independently with Python's hashlib and struct from the encoding
 * documented in migrations/1764259200000-AuditTrail.ts:
 *   f = lambda v: b'\xff\xff\xff\xff' if v is None else struct.pack('>i', len(v.encode())) + v.encode()
 *   sha256(f('fieldwatch-audit/1') + prev_hash + b''.join(f(x) for x in fields))
 * The database trigger computes the same bytes; test/audit.integration-spec.ts checks the two agree.
 */
const fields: ChainedFields = {
  id: '1',
  recordedAtMicros: '1764259200123456',
  actorType: 'api_key',
  actorApiKeyId: '0f0e0d0c-0b0a-4908-8706-050403020100',
  actorRole: 'manufacturer',
  actorManufacturerId: null,
  action: 'device.secret_rotate',
  entityType: 'device',
  entityId: 'DVF-SH-0001',
  manufacturerId: '8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d',
  beforeDigest: 'ab'.repeat(32),
  afterDigest: 'cd'.repeat(32),
  reason: 'rotation after staff change — 更换',
  details: '{"changed":[]}',
};

describe('audit hash chain encoding', () => {
  it('length-prefixes UTF-8 bytes and keeps NULL apart from the empty string', () => {
    expect(encodeField(null).toString('hex')).toBe('ffffffff');
    expect(encodeField('').toString('hex')).toBe('00000000');
    expect(encodeField('é').toString('hex')).toBe('00000002c3a9');
  });

  it('matches independently computed vectors', () => {
    expect(entryHash(GENESIS_HASH, fields).toString('hex')).toBe(
      'f074d643c5eab85013511be859d1a0d09aa3081a0028befb5d4035858fa64d3a',
    );
    expect(entryHash(Buffer.alloc(32, 0x11), fields).toString('hex')).toBe(
      '451495ee104eb708ad07ff93af966740a8483a10d7a67a8f776cbb19421ca95e',
    );
  });

  it('changes with any field, including moving text between adjacent fields', () => {
    const base = entryHash(GENESIS_HASH, fields).toString('hex');
    for (const key of Object.keys(fields) as Array<keyof ChainedFields>) {
      const altered = { ...fields, [key]: fields[key] === null ? '' : `${fields[key]}x` };
      expect(entryHash(GENESIS_HASH, altered).toString('hex')).not.toBe(base);
    }
    // "device" + "DVF" vs "deviceD" + "VF": the length prefix keeps field boundaries in the hash.
    const shifted = { ...fields, entityType: 'deviceD', entityId: 'VF-SH-0001' };
    expect(entryHash(GENESIS_HASH, shifted).toString('hex')).not.toBe(base);
  });

  it('signs position and hash of the last entry', () => {
    expect(checkpointMessage('42', Buffer.alloc(32, 1)).toString('utf8')).toBe(
      `fieldwatch-audit-checkpoint/1\n42\n${'01'.repeat(32)}`,
    );
  });
});
