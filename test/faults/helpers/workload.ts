import { createHash, randomUUID } from 'node:crypto';
import { Message } from 'kafkajs';
import { analysisEvent, signedMessage } from '../../helpers/events';

/** The dead-letter codes a fault workload produces (README "Event contracts": the DLQ table). */
export const MALFORMED_KINDS = [
  'json_invalid',
  'schema_unsupported',
  'field_missing',
  'field_type_invalid',
  'value_out_of_range',
  'field_value_invalid',
  'unknown_sender',
  'signature_missing',
  'signature_invalid',
  'site_mismatch',
  'occurred_at_implausible',
] as const;
export type MalformedKind = (typeof MALFORMED_KINDS)[number] | 'message_too_large';

export interface WorkloadFleet {
  site: string;
  /** A registered site with no devices: a device claiming it is a site_mismatch. */
  otherSite: string;
  /** deviceId → signing secret. */
  devices: Record<string, string>;
}

export interface WorkloadOptions {
  unique: number;
  /** Byte-identical second copies of that many unique events (a sender's retry). */
  duplicateCopies: number;
  /** Malformed messages as a share of all messages sent (0.1: one in ten). */
  malformedShare: number;
  /** How many of the malformed messages are over FW_MAX_MESSAGE_BYTES (300 KiB each, so kept few). */
  oversized?: number;
  /** Partitions of the analyses topic: messages are spread over all of them, round-robin. */
  partitions: number;
}

/**
 * A fault test's input and the exact outcome it must end in. Every message is distinguishable by its
 * bytes (each carries its own eventId), so a dead letter can be traced back to the message that caused it.
 */
export interface Workload {
  /** In sending order: good, duplicate and malformed messages shuffled together, so batches mix them. */
  messages: Message[];
  uniqueEventIds: string[];
  deviceIds: string[];
  duplicateCopies: number;
  /** sha256(value) of each malformed message → the code the DLQ must give it. */
  malformed: Map<string, MalformedKind>;
  malformedByCode: Record<string, number>;
  total: number;
}

export const valueDigest = (value: Buffer | string | null | undefined): string =>
  createHash('sha256')
    .update(value ?? '')
    .digest('hex');

/** Deterministic shuffle (mulberry32): a failing run can be replayed with the same order. */
function shuffle<T>(items: T[], seed: number): T[] {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const result = [...items];
  for (let i = result.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [result[i], result[j]] = [result[j], result[i]];
  }
  return result;
}

function malformedMessage(kind: MalformedKind, fleet: WorkloadFleet, deviceId: string): Message {
  const secret = fleet.devices[deviceId];
  const event = (overrides: Record<string, unknown> = {}) =>
    analysisEvent(deviceId, fleet.site, { patientRef: `p-bad-${randomUUID()}`, ...overrides });
  switch (kind) {
    case 'json_invalid':
      // Cut off mid-object, as a truncated write would leave it.
      return {
        key: deviceId,
        value: Buffer.from(`{"schema":"fieldwatch.analysis/1","eventId":"${randomUUID()}",`),
      };
    case 'schema_unsupported':
      return signedMessage(deviceId, event({ schema: 'fieldwatch.analysis/2' }), secret);
    case 'field_missing': {
      const withoutTime: Record<string, unknown> = event();
      delete withoutTime.occurredAt;
      return signedMessage(deviceId, withoutTime, secret);
    }
    case 'field_type_invalid':
      return signedMessage(deviceId, event({ processingSeconds: 'slow' }), secret);
    case 'value_out_of_range':
      return signedMessage(deviceId, event({ vessels: [{ vessel: 'LAD', ctFfr: 1.2 }] }), secret);
    case 'field_value_invalid':
      return signedMessage(deviceId, event({ status: 'half-done' }), secret);
    case 'unknown_sender': {
      const stranger = `DEV-UNKNOWN-${randomUUID().slice(0, 8)}`;
      return signedMessage(stranger, analysisEvent(stranger, fleet.site), secret);
    }
    case 'signature_missing':
      return { key: deviceId, value: Buffer.from(JSON.stringify(event())) };
    case 'signature_invalid':
      return signedMessage(deviceId, event(), 'fws_not-the-secret');
    case 'site_mismatch':
      return signedMessage(deviceId, analysisEvent(deviceId, fleet.otherSite), secret);
    case 'occurred_at_implausible':
      return signedMessage(deviceId, event({ occurredAt: '2099-01-01T00:00:00Z' }), secret);
    case 'message_too_large':
      return signedMessage(deviceId, event({ padding: 'x'.repeat(300 * 1024) }), secret);
  }
}

export function buildWorkload(fleet: WorkloadFleet, options: WorkloadOptions, seed = 20251127): Workload {
  const deviceIds = Object.keys(fleet.devices);
  const good: Message[] = [];
  const uniqueEventIds: string[] = [];
  for (let index = 0; index < options.unique; index++) {
    const deviceId = deviceIds[index % deviceIds.length];
    const event = analysisEvent(deviceId, fleet.site, { patientRef: `p-${index}` });
    uniqueEventIds.push(event.eventId);
    good.push(signedMessage(deviceId, event, fleet.devices[deviceId]));
  }
  const copies = good.slice(0, options.duplicateCopies).map((message) => ({ ...message }));
  // malformed / (good + copies + malformed) = share
  const goodCount = good.length + copies.length;
  const malformedCount = Math.round((options.malformedShare * goodCount) / (1 - options.malformedShare));
  const oversized = Math.min(options.oversized ?? 0, malformedCount);
  const malformed = new Map<string, MalformedKind>();
  const malformedByCode: Record<string, number> = {};
  const bad: Message[] = [];
  for (let index = 0; index < malformedCount; index++) {
    const kind: MalformedKind =
      index < oversized ? 'message_too_large' : MALFORMED_KINDS[index % MALFORMED_KINDS.length];
    const message = malformedMessage(kind, fleet, deviceIds[index % deviceIds.length]);
    malformed.set(valueDigest(message.value), kind);
    malformedByCode[kind] = (malformedByCode[kind] ?? 0) + 1;
    bad.push(message);
  }
  if (malformed.size !== malformedCount) throw new Error('two malformed messages share their bytes');
  const messages = shuffle([...good, ...copies, ...bad], seed).map((message, index) => ({
    ...message,
    partition: index % options.partitions,
  }));
  return {
    messages,
    uniqueEventIds,
    deviceIds,
    duplicateCopies: copies.length,
    malformed,
    malformedByCode,
    total: messages.length,
  };
}
