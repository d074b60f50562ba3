import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header carrying the sender's HMAC (DESIGN.md §4, "Authenticity"). */
export const SIGNATURE_HEADER = 'x-fw-signature';
const PREFIX = 'sha256=';

/**
 * HMAC-SHA256 over the exact bytes of the Kafka message value, keyed with the UTF-8 bytes of the
 * sender's secret. Signing the bytes (not a re-serialised object) means any change in transit —
 * even whitespace — breaks the signature.
 */
export function signMessageValue(secret: string, value: Buffer): string {
  return PREFIX + createHmac('sha256', Buffer.from(secret, 'utf8')).update(value).digest('hex');
}

/** Constant-time check, so response timing does not reveal how many leading bytes matched. */
export function isSignatureValid(secret: string, value: Buffer, header: string): boolean {
  const expected = Buffer.from(signMessageValue(secret, value), 'utf8');
  const received = Buffer.from(header, 'utf8');
  return expected.length === received.length && timingSafeEqual(expected, received);
}

/**
 * Which of a sender's secrets (at most the current and the previous one) signed `value`: its index, or
 * -1. Every candidate is computed and compared in constant time, without stopping at the first match,
 * so the time taken depends on the number of candidates only — not on which one matched or on how
 * many leading bytes of a forged signature happened to be right.
 */
export function matchingSecretIndex(secrets: readonly string[], value: Buffer, header: string): number {
  if (secrets.length > 2)
    throw new Error('A sender has at most two valid secrets: the current and the previous one');
  const received = Buffer.from(header, 'utf8');
  let match = -1;
  secrets.forEach((secret, index) => {
    const expected = Buffer.from(signMessageValue(secret, value), 'utf8');
    const equal = expected.length === received.length && timingSafeEqual(expected, received);
    if (equal && match === -1) match = index;
  });
  return match;
}
