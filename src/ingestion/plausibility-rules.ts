import type { IngestTopicRole, ValidationFailure } from './event-validation';

/**
 * When an event may say it happened, relative to the platform's clock at decoding. Outside this window
 * the sender's clock is wrong, or the event is forged or replayed from long ago, and the event goes to
 * the dead-letter topic as `occurred_at_implausible` (checked after the signature and the contract,
 * before storage). Rules are data (DESIGN.md §7), each limit with where it comes from.
 */
export const TIMESTAMP_PLAUSIBILITY = {
  maxAheadMinutes: {
    value: 10,
    source:
      'Issue 8 §5 ("a plausibility window on occurredAt: future or ancient events rejected with a reason"); ' +
      'FDA premarket cybersecurity guidance (2026 rev.), Appendix 1 "Code, data and execution integrity": ' +
      'validate that external data are well-formed and in safe ranges (../shared/reference/regulatory.md §6.1). ' +
      'Ten minutes tolerates the clock skew of a hospital workstation that lost time sync for a while; an ' +
      'analysis cannot have happened after it was received.',
  },
  maxAgeYears: {
    value: 10,
    source:
      'Two NMPA 5-year registration cycles (regulatory.md §3.2: one periodic risk evaluation report per ' +
      'registration cycle, certificates valid 5 years) and twice the 5-year record retention for devices ' +
      'without expiry (§3.1; 21 CFR 803.18 asks ≥ 2 years): no periodic report the platform produces ' +
      'reaches further back, so an older event is either a replay or a broken clock.',
  },
} as const;

/** The timestamp fields checked on each topic (each only when the event carries it). */
export const TIMESTAMP_FIELDS: Record<IngestTopicRole, readonly string[]> = {
  analyses: ['occurredAt'],
  deviceEvents: ['occurredAt'],
  // invasive FFR has measuredAt, clinical events occurredAt; recordedAt (optional) orders corrections,
  // so a far-future recordedAt would make a record impossible to supersede.
  outcomes: ['measuredAt', 'occurredAt', 'recordedAt'],
};

const MINUTE_MS = 60_000;

/** The earliest plausible instant: the same calendar day and time, maxAgeYears earlier (UTC). */
function earliestPlausible(now: number): number {
  const earliest = new Date(now);
  earliest.setUTCFullYear(earliest.getUTCFullYear() - TIMESTAMP_PLAUSIBILITY.maxAgeYears.value);
  return earliest.getTime();
}

/**
 * First timestamp of the event outside the plausibility window, as a dead-letter failure; null when
 * all are plausible. `event` has passed the JSON-Schema contract (fields are RFC 3339 date-times).
 */
export function implausibleTimestamp(
  role: IngestTopicRole,
  event: Record<string, unknown>,
  now: number,
): ValidationFailure | null {
  const latest = now + TIMESTAMP_PLAUSIBILITY.maxAheadMinutes.value * MINUTE_MS;
  const earliest = earliestPlausible(now);
  for (const field of TIMESTAMP_FIELDS[role]) {
    const value = event[field];
    if (typeof value !== 'string') continue;
    const at = Date.parse(value);
    if (Number.isNaN(at)) {
      return {
        code: 'field_value_invalid',
        reason: `${field} "${value}" is not a date-time this platform can place`,
      };
    }
    if (at > latest) {
      return {
        code: 'occurred_at_implausible',
        reason:
          `${field} ${value} is more than ${TIMESTAMP_PLAUSIBILITY.maxAheadMinutes.value} minutes ahead of the ` +
          `platform clock (${new Date(now).toISOString()})`,
      };
    }
    if (at < earliest) {
      return {
        code: 'occurred_at_implausible',
        reason:
          `${field} ${value} is more than ${TIMESTAMP_PLAUSIBILITY.maxAgeYears.value} years before the ` +
          `platform clock (${new Date(now).toISOString()})`,
      };
    }
  }
  return null;
}
