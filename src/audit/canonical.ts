import { createHash } from 'node:crypto';

/**
 * Canonical JSON of an object's state, so that one state always gives one digest: object keys in
 * UTF-16 code-unit order, no whitespace, numbers as ECMAScript prints them, dates as ISO-8601 UTC
 * with milliseconds, `undefined` members left out. For the values the registry holds this is RFC 8785
 * (JSON Canonicalization Scheme). Buffers are refused: a state containing bytes is most likely
 * carrying key material, which never belongs in the audit trail, even digested.
 */
export function canonicalJson(value: unknown): string {
  const out = canonical(value);
  if (out === undefined) throw new TypeError('canonicalJson: the value is undefined');
  return out;
}

function canonical(value: unknown): string | undefined {
  if (value === null) return 'null';
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new TypeError('canonicalJson: invalid Date');
    return JSON.stringify(value.toISOString());
  }
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) {
    throw new TypeError(
      'canonicalJson: binary values (possible key material) are not allowed in audited state',
    );
  }
  switch (typeof value) {
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'boolean':
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonicalJson: non-finite number');
      return JSON.stringify(value);
    case 'bigint':
      throw new TypeError('canonicalJson: bigint has no JSON form; convert it to a string first');
    default:
      break;
  }
  if (Array.isArray(value)) {
    return `[${value.map((item: unknown) => canonical(item) ?? 'null').join(',')}]`;
  }
  const record = value as Record<string, unknown>;
  const members: string[] = [];
  for (const key of Object.keys(record).sort()) {
    const member = canonical(record[key]);
    if (member !== undefined) members.push(`${JSON.stringify(key)}:${member}`);
  }
  return `{${members.join(',')}}`;
}

/** sha256 of the canonical JSON of a state; null stays null (no state before a create). */
export function stateDigest(state: object | null | undefined): Buffer | null {
  if (state === null || state === undefined) return null;
  return createHash('sha256').update(canonicalJson(state), 'utf8').digest();
}
