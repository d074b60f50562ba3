/**
 * The version-1 event contracts of DESIGN.md §4, as the simulator emits them. Property order in these types is the
 * order of the JSON on the wire (the builders construct objects in this order), which keeps the bytes — and so the
 * signatures — reproducible from the seed.
 *
 * `validateEvent` checks the *required* fields and enumerations of §4; the simulator's tests run every generated event
 * through it, so a generator change cannot silently start feeding the platform's dead-letter queue.
 */

export const VESSELS = ['LM', 'LAD', 'LCX', 'RCA'] as const;
export type Vessel = (typeof VESSELS)[number];

export const ANALYSIS_STATUSES = ['completed', 'rejected', 'failed'] as const;
export type AnalysisStatus = (typeof ANALYSIS_STATUSES)[number];

export const REJECTION_REASONS = [
  'motion_artifact',
  'insufficient_contrast',
  'misregistration',
  'other',
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

export const CLINICAL_EVENT_TYPES = [
  'death',
  'cardiac_death',
  'myocardial_infarction',
  'urgent_revascularization',
  'pci',
  'cabg',
  'hospitalization_chest_pain',
] as const;
export type ClinicalEventType = (typeof CLINICAL_EVENT_TYPES)[number];

export const DEVICE_EVENT_KINDS = [
  'error',
  'crash',
  'timeout',
  'out_of_range_output',
  'license',
  'heartbeat',
] as const;
export type DeviceEventKind = (typeof DEVICE_EVENT_KINDS)[number];

export const HYPEREMIA_PROTOCOLS = ['adenosine_iv', 'adenosine_ic'] as const;
export type HyperemiaProtocol = (typeof HYPEREMIA_PROTOCOLS)[number];

/** Where along the vessel the CT-FFR was read (ctffr-evidence.md §2: consensus is 10–20 mm distal to the lesion). */
export const MEASUREMENT_POINTS = ['distal_20mm', 'distal_10mm', 'vessel_tip'] as const;
export type MeasurementPoint = (typeof MEASUREMENT_POINTS)[number];

export const SCHEMAS = {
  analysis: 'fieldwatch.analysis/1',
  outcome: 'fieldwatch.outcome/1',
  deviceEvent: 'fieldwatch.device-event/1',
} as const;

export interface AnalysisVessel {
  vessel: Vessel;
  segment: number;
  ctFfr: number;
  stenosisPercent: number;
  measurementPoint: MeasurementPoint;
}

export interface AnalysisEvent {
  schema: typeof SCHEMAS.analysis;
  eventId: string;
  deviceId: string;
  siteId: string;
  occurredAt: string;
  softwareVersion: string;
  modelVersion: string;
  patientRef: string;
  studyRef: string;
  patient: { ageYears: number; sex: 'F' | 'M'; bmi: number };
  acquisition: {
    scannerVendor: string;
    scannerModel: string;
    sliceThicknessMm: number;
    tubeVoltageKv: number;
    heartRateBpm: number;
    agatstonScore: number;
    nitrates: boolean;
    imageQualityScore: number;
  };
  status: AnalysisStatus;
  rejectionReason: RejectionReason | null;
  processingSeconds: number;
  vessels: AnalysisVessel[];
}

export interface InvasiveFfrOutcome {
  schema: typeof SCHEMAS.outcome;
  eventId: string;
  sourceId: string;
  siteId: string;
  patientRef: string;
  type: 'invasive_ffr';
  measuredAt: string;
  vessel: Vessel;
  segment: number;
  value: number;
  hyperemia: HyperemiaProtocol;
}

export interface ClinicalEventOutcome {
  schema: typeof SCHEMAS.outcome;
  eventId: string;
  sourceId: string;
  siteId: string;
  patientRef: string;
  type: 'clinical_event';
  event: ClinicalEventType;
  occurredAt: string;
}

export type OutcomeEvent = InvasiveFfrOutcome | ClinicalEventOutcome;

export interface DeviceEvent {
  schema: typeof SCHEMAS.deviceEvent;
  eventId: string;
  deviceId: string;
  occurredAt: string;
  kind: DeviceEventKind;
  code: string;
  message: string;
  softwareVersion: string;
}

export type FieldwatchEvent = AnalysisEvent | OutcomeEvent | DeviceEvent;

/** ISO-8601 UTC with second precision ("2026-03-01T10:22:33Z"), the form used throughout DESIGN.md §4. */
export function isoSeconds(epochMs: number): string {
  const iso = new Date(epochMs).toISOString();
  return iso.slice(0, 19) + 'Z';
}

/** Kafka message key of an event (DESIGN.md §4): analyses and device events by device, outcomes by site. */
export function messageKeyFor(event: FieldwatchEvent): string {
  return event.schema === SCHEMAS.outcome ? event.siteId : event.deviceId;
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ISO_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function requireString(event: Record<string, unknown>, field: string, errors: string[]): void {
  const value = event[field];
  if (typeof value !== 'string' || value.length === 0) errors.push(`${field}: non-empty string required`);
}

function requireTimestamp(event: Record<string, unknown>, field: string, errors: string[]): void {
  const value = event[field];
  if (typeof value !== 'string' || !ISO_PATTERN.test(value) || Number.isNaN(Date.parse(value))) {
    errors.push(`${field}: ISO-8601 UTC timestamp required`);
  }
}

function requireEnum(value: unknown, allowed: readonly string[], field: string, errors: string[]): void {
  if (typeof value !== 'string' || !allowed.includes(value))
    errors.push(`${field}: one of ${allowed.join(', ')}`);
}

function checkSegment(value: unknown, field: string, errors: string[]): void {
  if (
    value !== undefined &&
    !(Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 18)
  ) {
    errors.push(`${field}: SCCT segment 1–18`);
  }
}

/** Contract violations of one decoded event (empty when it satisfies DESIGN.md §4). */
export function validateEvent(value: unknown): string[] {
  const errors: string[] = [];
  if (!isRecord(value)) return ['event: JSON object required'];
  if (typeof value.eventId !== 'string' || !UUID_PATTERN.test(value.eventId))
    errors.push('eventId: RFC 4122 v4 UUID required');
  switch (value.schema) {
    case SCHEMAS.analysis:
      validateAnalysis(value, errors);
      break;
    case SCHEMAS.outcome:
      validateOutcome(value, errors);
      break;
    case SCHEMAS.deviceEvent:
      requireString(value, 'deviceId', errors);
      requireTimestamp(value, 'occurredAt', errors);
      requireEnum(value.kind, DEVICE_EVENT_KINDS, 'kind', errors);
      requireString(value, 'softwareVersion', errors);
      break;
    default:
      errors.push(`schema: unknown ${String(value.schema)}`);
  }
  return errors;
}

function validateAnalysis(event: Record<string, unknown>, errors: string[]): void {
  for (const field of ['deviceId', 'siteId', 'softwareVersion', 'modelVersion', 'patientRef', 'studyRef']) {
    requireString(event, field, errors);
  }
  requireTimestamp(event, 'occurredAt', errors);
  requireEnum(event.status, ANALYSIS_STATUSES, 'status', errors);
  if (!Array.isArray(event.vessels)) {
    errors.push('vessels: array required');
    return;
  }
  const vessels = event.vessels as unknown[];
  if (event.status === 'completed') {
    if (vessels.length === 0) errors.push('vessels: a completed analysis reports at least one vessel');
    if (event.rejectionReason !== null && event.rejectionReason !== undefined)
      errors.push('rejectionReason: only for rejected');
  } else {
    if (vessels.length > 0) errors.push(`vessels: a ${String(event.status)} analysis reports none`);
    if (event.status === 'rejected')
      requireEnum(event.rejectionReason, REJECTION_REASONS, 'rejectionReason', errors);
  }
  vessels.forEach((vessel, i) => {
    if (!isRecord(vessel)) {
      errors.push(`vessels[${i}]: object required`);
      return;
    }
    requireEnum(vessel.vessel, VESSELS, `vessels[${i}].vessel`, errors);
    checkSegment(vessel.segment, `vessels[${i}].segment`, errors);
    const ctFfr = vessel.ctFfr;
    if (typeof ctFfr !== 'number' || !(ctFfr >= 0 && ctFfr <= 1))
      errors.push(`vessels[${i}].ctFfr: number in [0, 1]`);
  });
}

function validateOutcome(event: Record<string, unknown>, errors: string[]): void {
  for (const field of ['sourceId', 'siteId', 'patientRef']) requireString(event, field, errors);
  if (event.type === 'invasive_ffr') {
    requireTimestamp(event, 'measuredAt', errors);
    requireEnum(event.vessel, VESSELS, 'vessel', errors);
    checkSegment(event.segment, 'segment', errors);
    const value = event.value;
    if (typeof value !== 'number' || !(value >= 0 && value <= 1))
      errors.push('value: invasive FFR in [0, 1]');
    if (event.hyperemia !== undefined) requireEnum(event.hyperemia, HYPEREMIA_PROTOCOLS, 'hyperemia', errors);
  } else if (event.type === 'clinical_event') {
    requireEnum(event.event, CLINICAL_EVENT_TYPES, 'event', errors);
    requireTimestamp(event, 'occurredAt', errors);
  } else {
    errors.push('type: invasive_ffr or clinical_event');
  }
}
