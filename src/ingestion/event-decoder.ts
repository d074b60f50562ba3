import { IHeaders } from 'kafkajs';
import { SIGNATURE_HEADER } from '../kafka/signature';
import { DeadLetterCode } from './contracts';
import { EventOf, EventValidator, IngestTopicRole, TOPIC_CONTRACTS } from './event-validation';
import { implausibleTimestamp } from './plausibility-rules';
import { Sender, SenderLookup, verifySenderSignature } from './sender-directory';

/** The Kafka message as consumed, reduced to what decoding needs. */
export interface ConsumedMessage {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers?: IHeaders;
}

export interface AcceptedEvent<R extends IngestTopicRole = IngestTopicRole> {
  outcome: 'accepted';
  message: ConsumedMessage;
  event: EventOf<R>;
  sender: Sender;
  /** Top-level fields outside the contract: kept (DESIGN.md §4) but not interpreted. */
  unknownFields: Record<string, unknown> | null;
}

export interface RejectedEvent {
  outcome: 'rejected';
  message: ConsumedMessage;
  code: DeadLetterCode;
  reason: string;
  senderCode: string | null;
}

export type DecodedEvent<R extends IngestTopicRole = IngestTopicRole> = AcceptedEvent<R> | RejectedEvent;

interface Parsed {
  message: ConsumedMessage;
  event: Record<string, unknown> | null;
  senderCode: string | null;
  early: RejectedEvent | null;
}

function reject(
  message: ConsumedMessage,
  code: DeadLetterCode,
  reason: string,
  senderCode: string | null = null,
): RejectedEvent {
  return { outcome: 'rejected', message, code, reason, senderCode };
}

function headerText(headers: IHeaders | undefined, name: string): string | null {
  const raw = headers?.[name];
  const first = Array.isArray(raw) ? raw[0] : raw;
  if (first === undefined || first === null) return null;
  return Buffer.isBuffer(first) ? first.toString('utf8') : String(first);
}

/**
 * Turns one batch of raw messages into accepted events and dead letters. The order of checks is
 * deliberate: cheap structural checks first, then authenticity (nothing in an unsigned or forged
 * message is trusted, not even which rule it breaks) and revocation of the sender, then the full
 * contract, then the plausibility of its timestamps, then consistency with the registry.
 */
export class EventDecoder {
  constructor(
    private readonly validator: EventValidator,
    private readonly senders: SenderLookup,
    private readonly maxMessageBytes: number,
    /** The platform clock the timestamp plausibility window is measured from (injectable for tests). */
    private readonly now: () => number = Date.now,
  ) {}

  async decodeBatch<R extends IngestTopicRole>(
    role: R,
    messages: ConsumedMessage[],
  ): Promise<DecodedEvent<R>[]> {
    const contract = TOPIC_CONTRACTS[role];
    const parsed = messages.map((message) => this.parse(role, message));
    const senderCodes = parsed.filter((p) => p.early === null).map((p) => p.senderCode as string);
    await this.senders.load(contract.senderKind, senderCodes);

    let decoded = parsed.map((p) => (p.early ? p.early : this.verify(role, p)));
    // A signature failure may mean the secret was just rotated: re-read those senders once and retry.
    const suspect = decoded.filter((d) => d.outcome === 'rejected' && d.code === 'signature_invalid');
    if (suspect.length > 0) {
      await this.senders.load(
        contract.senderKind,
        suspect.map((d) => (d as RejectedEvent).senderCode as string),
        true,
      );
      decoded = decoded.map((d, index) =>
        d.outcome === 'rejected' && d.code === 'signature_invalid' ? this.verify(role, parsed[index]) : d,
      );
    }
    return decoded;
  }

  private parse(role: IngestTopicRole, message: ConsumedMessage): Parsed {
    const contract = TOPIC_CONTRACTS[role];
    const value = message.value;
    const fail = (code: DeadLetterCode, reason: string): Parsed => ({
      message,
      event: null,
      senderCode: null,
      early: reject(message, code, reason),
    });
    if (value === null) return fail('json_invalid', 'message has no value (tombstone)');
    if (value.length > this.maxMessageBytes) {
      return fail(
        'message_too_large',
        `value is ${value.length} bytes; the limit is ${this.maxMessageBytes}`,
      );
    }
    let event: unknown;
    try {
      event = JSON.parse(value.toString('utf8'));
    } catch {
      return fail('json_invalid', 'value is not valid JSON');
    }
    if (typeof event !== 'object' || event === null || Array.isArray(event)) {
      return fail('json_invalid', 'value is JSON but not an object');
    }
    const record = event as Record<string, unknown>;
    if (record.schema === undefined) return fail('field_missing', 'required field "schema" is missing');
    if (record.schema !== contract.schemaId) {
      return fail(
        'schema_unsupported',
        `schema ${JSON.stringify(record.schema)} is not carried on this topic; expected "${contract.schemaId}"`,
      );
    }
    const senderCode = record[contract.senderField];
    if (senderCode === undefined)
      return fail('field_missing', `required field "${contract.senderField}" is missing`);
    if (typeof senderCode !== 'string' || senderCode.length === 0 || senderCode.length > 64) {
      return fail(
        'field_type_invalid',
        `${contract.senderField} must be a non-empty string of at most 64 characters`,
      );
    }
    return { message, event: record, senderCode, early: null };
  }

  private verify<R extends IngestTopicRole>(role: R, parsed: Parsed): DecodedEvent<R> {
    const contract = TOPIC_CONTRACTS[role];
    const { message } = parsed;
    const event = parsed.event as Record<string, unknown>;
    const senderCode = parsed.senderCode as string;
    const sender = this.senders.get(contract.senderKind, senderCode);
    if (!sender)
      return reject(
        message,
        'unknown_sender',
        `${contract.senderField} "${senderCode}" is not registered`,
        senderCode,
      );

    const signature = headerText(message.headers, SIGNATURE_HEADER);
    if (signature === null)
      return reject(message, 'signature_missing', `header ${SIGNATURE_HEADER} is missing`, senderCode);
    // The current secret and, after a rotation, the previous one (accepted until its overlap ends).
    const signed = verifySenderSignature(sender, message.value as Buffer, signature, this.now());
    if (signed.verdict === 'invalid') {
      return reject(message, 'signature_invalid', 'signature does not match the message bytes', senderCode);
    }
    // After the signature: only a message that really comes from the sender learns it was revoked.
    if (sender.revokedAt) {
      return reject(
        message,
        'revoked_sender',
        `${contract.senderField} "${senderCode}" was revoked on ${sender.revokedAt.toISOString()}`,
        senderCode,
      );
    }
    if (signed.verdict === 'retired') {
      return reject(
        message,
        'retired_secret',
        `${contract.senderField} "${senderCode}" signed with secret ${signed.keyId}, which a rotation ` +
          `replaced and which stopped being accepted on ${signed.validUntil.toISOString()}; ` +
          `sign with the current secret${sender.secretKeyId ? ` ${sender.secretKeyId}` : ''}`,
        senderCode,
      );
    }

    const failure = this.validator.validate(role, event) ?? implausibleTimestamp(role, event, this.now());
    if (failure) return reject(message, failure.code, failure.reason, senderCode);

    // Devices are installed at one site, and data sources serve one site: an event naming another
    // site is either misconfigured or an attempt to inject data into someone else's records.
    if ('siteId' in event && event.siteId !== sender.siteCode) {
      return reject(
        message,
        'site_mismatch',
        `siteId "${String(event.siteId)}" differs from the sender's registered site "${sender.siteCode}"`,
        senderCode,
      );
    }

    return {
      outcome: 'accepted',
      message,
      event: event as unknown as EventOf<R>,
      sender,
      unknownFields: unknownTopLevelFields(event, contract.jsonSchema.properties),
    };
  }
}

function unknownTopLevelFields(
  event: Record<string, unknown>,
  known: object,
): Record<string, unknown> | null {
  let unknown: Record<string, unknown> | null = null;
  for (const key of Object.keys(event)) {
    if (!(key in known)) {
      unknown ??= {};
      unknown[key] = event[key];
    }
  }
  return unknown;
}
