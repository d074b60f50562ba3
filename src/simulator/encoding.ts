/**
 * From planned messages to Kafka records: the value is the exact UTF-8 JSON bytes, the header
 * `x-fw-signature: sha256=<hex>` the HMAC of those bytes with the sender's secret (DESIGN.md §4, "Authenticity").
 */
import { SIGNATURE_HEADER, signMessageValue } from '../kafka/signature';
import { messageKeyFor, type FieldwatchEvent } from './contracts';
import type { OutboundMessage, SenderKind } from './messages';

export interface WireMessage {
  key: string;
  value: Buffer;
  headers: Record<string, string>;
}

/** Secrets by sender id, as issued at registration. */
export interface SenderSecrets {
  devices: ReadonlyMap<string, string>;
  dataSources: ReadonlyMap<string, string>;
}

export function secretFor(secrets: SenderSecrets, kind: SenderKind, id: string): string {
  const secret = (kind === 'device' ? secrets.devices : secrets.dataSources).get(id);
  if (secret === undefined)
    throw new Error(`no signing secret for ${kind === 'device' ? 'device' : 'data source'} ${id}`);
  return secret;
}

/**
 * One genuine event as a signed Kafka record: JSON bytes, key (deviceId or siteId), signature header. The fast path
 * for benchmarks: one JSON.stringify and one HMAC per event.
 */
export function encodeSignedMessage(event: FieldwatchEvent, secret: string): WireMessage {
  const value = Buffer.from(JSON.stringify(event), 'utf8');
  return {
    key: messageKeyFor(event),
    value,
    headers: { [SIGNATURE_HEADER]: signMessageValue(secret, value) },
  };
}

/** A planned message (genuine or injected) as a Kafka record, honouring its signing mode. */
export function encodeOutbound(message: OutboundMessage, secrets: SenderSecrets): WireMessage {
  const text = message.body.kind === 'event' ? JSON.stringify(message.body.event) : message.body.text;
  const value = Buffer.from(text, 'utf8');
  const headers: Record<string, string> = {};
  switch (message.signing.mode) {
    case 'sender':
      headers[SIGNATURE_HEADER] = signMessageValue(
        secretFor(secrets, message.sender.kind, message.sender.id),
        value,
      );
      break;
    case 'secret':
      headers[SIGNATURE_HEADER] = signMessageValue(message.signing.secret, value);
      break;
    case 'sender-over':
      headers[SIGNATURE_HEADER] = signMessageValue(
        secretFor(secrets, message.sender.kind, message.sender.id),
        Buffer.from(message.signing.signedText, 'utf8'),
      );
      break;
    case 'none':
      break;
  }
  return { key: message.key, value, headers };
}
