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
