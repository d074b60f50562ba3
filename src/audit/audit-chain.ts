import { createHash } from 'node:crypto';

/** Domain separator hashed first, so an audit hash can never be confused with another sha256. */
export const AUDIT_HASH_DOMAIN = 'fieldwatch-audit/1';
/** prev_hash of entry 1. */
export const GENESIS_HASH = Buffer.alloc(32);

/**
 * The hashed fields of an audit entry, as text exactly as PostgreSQL renders them (uuid::text,
 * bigint::text, hex digests). Order matters and matches audit_log_chain() in
 * migrations/1764259200000-AuditTrail.ts.
 */
export interface ChainedFields {
  id: string;
  /** recorded_at as whole microseconds since 1970-01-01T00:00:00Z. */
  recordedAtMicros: string;
  actorType: string;
  actorApiKeyId: string | null;
  actorRole: string | null;
  actorManufacturerId: string | null;
  action: string;
  entityType: string;
  entityId: string;
  manufacturerId: string | null;
  beforeDigest: string | null;
  afterDigest: string | null;
  reason: string | null;
  details: string | null;
}

const FIELD_ORDER: ReadonlyArray<keyof ChainedFields> = [
  'id',
  'recordedAtMicros',
  'actorType',
  'actorApiKeyId',
  'actorRole',
  'actorManufacturerId',
  'action',
  'entityType',
  'entityId',
  'manufacturerId',
  'beforeDigest',
  'afterDigest',
  'reason',
  'details',
];

const NULL_FIELD = Buffer.from([0xff, 0xff, 0xff, 0xff]);

/** One field: 4-byte big-endian length of its UTF-8 bytes, then the bytes; NULL is 0xFFFFFFFF. */
export function encodeField(value: string | null): Buffer {
  if (value === null) return NULL_FIELD;
  const bytes = Buffer.from(value, 'utf8');
  const length = Buffer.alloc(4);
  length.writeInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** entry_hash = sha256(f(domain) || prev_hash || f(field) for each field in order). */
export function entryHash(prevHash: Buffer, fields: ChainedFields): Buffer {
  const hash = createHash('sha256');
  hash.update(encodeField(AUDIT_HASH_DOMAIN));
  hash.update(prevHash);
  for (const name of FIELD_ORDER) hash.update(encodeField(fields[name]));
  return hash.digest();
}

/** What a checkpoint signs: the position and hash of the last entry it covers. */
export function checkpointMessage(lastEntryId: string, lastEntryHash: Buffer): Buffer {
  return Buffer.from(
    `fieldwatch-audit-checkpoint/1\n${lastEntryId}\n${lastEntryHash.toString('hex')}`,
    'utf8',
  );
}
