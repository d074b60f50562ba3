/**
 * What the simulation engine produces before anything is encoded: outbound messages (genuine events and injected bad
 * ones) and device upgrades the runner records through the REST API. Encoding to bytes and signatures happens later
 * (encoding.ts), once the senders' secrets are known.
 */
import type { TopicRole } from '../kafka/topics';
import type { FieldwatchEvent, HyperemiaProtocol } from './contracts';

/** Kinds of deliberately bad messages (`--*-rate` switches). */
export const INJECTED_KINDS = [
  'malformed',
  'schemaInvalid',
  'unsigned',
  'forged',
  'tampered',
  'duplicate',
] as const;
export type InjectedKind = (typeof INJECTED_KINDS)[number];

export type SenderKind = 'device' | 'dataSource';

export type MessageBody =
  /** A contract event, serialised with JSON.stringify at encoding time. */
  | { kind: 'event'; event: FieldwatchEvent }
  /** Exact text to send (malformed JSON, schema-invalid or tampered events). */
  | { kind: 'raw'; text: string };

export type MessageSigning =
  /** HMAC with the sender's secret over the value bytes (every genuine message). */
  | { mode: 'sender' }
  /** No signature header at all. */
  | { mode: 'none' }
  /** HMAC with a secret the platform never issued (forgery). */
  | { mode: 'secret'; secret: string }
  /** HMAC with the sender's secret over *other* bytes: the value was changed after signing. */
  | { mode: 'sender-over'; signedText: string };

/** Latent truth behind an analysis, for calibration tests; never published. */
export interface AnalysisTruth {
  /** True FFR of each reported vessel (same order as `vessels`). */
  trueFfr: number[];
  /** The invasive FFR a wire would read in each vessel at this site (noise and hyperaemia protocol included). */
  invasiveFfr: number[];
  hyperemia: HyperemiaProtocol;
}

export interface OutboundMessage {
  topic: Exclude<TopicRole, 'deadLetter'>;
  key: string;
  /** Simulated time at which the message is published (epoch ms). */
  at: number;
  sender: { kind: SenderKind; id: string };
  body: MessageBody;
  signing: MessageSigning;
  /** null for a genuine message. */
  injected: InjectedKind | null;
  truth?: AnalysisTruth;
}

/** Registry fields of an installation that change during a run (PATCH /api/v1/devices/:deviceId). */
export interface DeviceRegistryFields {
  softwareVersion: string;
  modelVersion: string;
  scannerVendor: string;
  scannerModel: string;
}

/** A device upgraded to a new model/software version, or its site's scanner replaced; the runner records it. */
export interface DeviceUpdate {
  deviceId: string;
  siteId: string;
  at: number;
  reason: 'upgrade' | 'scanner-change';
  fields: Partial<DeviceRegistryFields>;
}

export type SimulationItem =
  { type: 'message'; message: OutboundMessage } | { type: 'device-update'; update: DeviceUpdate };
