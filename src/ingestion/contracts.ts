/**
 * Event contracts, version 1 (DESIGN.md §4), as TypeScript types matching the JSON Schemas in
 * ./schemas — the schemas are what is enforced; these types describe what passed them.
 */
export type VesselName = 'LM' | 'LAD' | 'LCX' | 'RCA';

export interface AnalysisEventV1 {
  schema: 'fieldwatch.analysis/1';
  eventId: string;
  deviceId: string;
  siteId: string;
  occurredAt: string;
  softwareVersion: string;
  modelVersion: string;
  patientRef: string;
  studyRef: string;
  patient?: { ageYears?: number; sex?: 'F' | 'M' | 'X'; bmi?: number };
  acquisition?: {
    scannerVendor?: string;
    scannerModel?: string;
    sliceThicknessMm?: number;
    tubeVoltageKv?: number;
    heartRateBpm?: number;
    agatstonScore?: number;
    nitrates?: boolean;
    imageQualityScore?: number;
  };
  status: 'completed' | 'rejected' | 'failed';
  rejectionReason?: string | null;
  processingSeconds?: number | null;
  vessels?: Array<{
    vessel: VesselName;
    segment?: number | null;
    ctFfr: number;
    stenosisPercent?: number | null;
    measurementPoint?: string | null;
  }>;
}

export interface OutcomeEventV1 {
  schema: 'fieldwatch.outcome/1';
  eventId: string;
  sourceId: string;
  siteId: string;
  patientRef: string;
  type: 'invasive_ffr' | 'clinical_event';
  measuredAt?: string;
  vessel?: VesselName;
  segment?: number | null;
  value?: number;
  hyperemia?: string | null;
  event?: string;
  occurredAt?: string;
  /** Optional: when the source recorded or corrected the value (a later record supersedes). */
  recordedAt?: string;
}

export interface DeviceEventV1 {
  schema: 'fieldwatch.device-event/1';
  eventId: string;
  deviceId: string;
  occurredAt: string;
  kind: 'error' | 'crash' | 'timeout' | 'out_of_range_output' | 'license' | 'heartbeat';
  code?: string | null;
  message?: string | null;
  softwareVersion?: string | null;
}

/**
 * Reason codes of the dead-letter topic (header x-fw-error). Stable: DLQ consumers and alerting
 * match on them, so a code is never renamed, only added.
 */
export const DEAD_LETTER_CODES = {
  message_too_large: 'value larger than FW_MAX_MESSAGE_BYTES',
  json_invalid: 'value is not a UTF-8 JSON object',
  schema_unsupported: 'schema is not the version this topic carries',
  field_missing: 'a required field is absent',
  field_type_invalid: 'a field has the wrong JSON type',
  value_out_of_range: 'a number lies outside its allowed range (e.g. ctFfr outside [0, 1])',
  field_value_invalid: 'a field has a value outside its allowed set or format',
  unknown_sender: 'deviceId / sourceId is not registered',
  signature_missing: 'no x-fw-signature header',
  signature_invalid: 'HMAC does not match the value bytes (wrong key, forged or tampered)',
  revoked_sender: 'the deviceId / sourceId was revoked (POST …/revoke); its events are no longer accepted',
  retired_secret:
    'signed with the secret a rotation replaced (POST …/secret-rotations), after its overlap ended: the ' +
    'sender still uses its old secret and must be given the new one (not a forgery: that is signature_invalid)',
  occurred_at_implausible:
    'occurredAt / measuredAt / recordedAt more than 10 minutes ahead of the platform clock or more than 10 years ' +
    'before it (src/ingestion/plausibility-rules.ts)',
  site_mismatch: 'the event names a site other than the sender’s registered one',
  storage_rejected: 'the database refused the row (constraint), though it passed validation',
} as const;

export type DeadLetterCode = keyof typeof DEAD_LETTER_CODES;
