import { createHmac } from 'node:crypto';

/**
 * Replaces a site-issued pseudonym (patientRef, studyRef) by HMAC-SHA256 under the platform key,
 * scoped by site: the same patient at the same site always maps to the same key (so outcomes link
 * to analyses), the same string at two sites does not collide, and without FW_PSEUDONYM_KEY nobody
 * reading the database can test a guessed pseudonym. The field name is mixed in so a studyRef can
 * never equal a patientRef's key.
 */
export class Pseudonymiser {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('The pseudonymisation key must be 32 bytes');
  }

  keyFor(field: 'patientRef' | 'studyRef', siteId: string, pseudonym: string): Buffer {
    return createHmac('sha256', this.key)
      .update(`${field}\u001f${siteId}\u001f${pseudonym}`, 'utf8')
      .digest();
  }
}
