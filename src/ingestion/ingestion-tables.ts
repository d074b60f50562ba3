import { CopyValue } from './copy-text';
import { AcceptedEvent } from './event-decoder';
import { IngestTopicRole } from './event-validation';
import { Pseudonymiser } from './pseudonymiser';

/** One staging table filled by COPY, then merged into its target by the role's merge statement. */
export interface StagedTable {
  stage: string;
  target: string;
  columns: readonly string[];
}

export interface TableSpec<R extends IngestTopicRole> {
  tables: readonly StagedTable[];
  /** Rows per staged table, in `tables` order, for a set of accepted events. */
  toRows(events: AcceptedEvent<R>[], partition: number, pseudonymiser: Pseudonymiser): CopyValue[][][];
  /** Merges staging into the targets idempotently and returns the number of new events as `stored`. */
  mergeSql: string;
  /**
   * The calendar months (UTC, 'YYYY-MM-01') whose partitions the events' rows go to; empty for a role whose table
   * is not partitioned (migration 1764330000000-PartitionedEventStorage).
   */
  partitionMonths(events: AcceptedEvent<R>[]): string[];
}

/** 'YYYY-MM-01' of an RFC 3339 instant, in UTC (partitions are UTC calendar months). */
export function utcMonthOf(instant: string): string {
  const at = new Date(instant);
  return `${at.getUTCFullYear().toString().padStart(4, '0')}-${(at.getUTCMonth() + 1).toString().padStart(2, '0')}-01`;
}

const monthsOf = (instants: Iterable<string>): string[] => [...new Set([...instants].map(utcMonthOf))].sort();

const ANALYSIS_COLUMNS = [
  'event_id',
  'manufacturer_id',
  'product_id',
  'device_id',
  'site_id',
  'occurred_at',
  'software_version',
  'model_version',
  'patient_key',
  'study_key',
  'age_years',
  'sex',
  'bmi',
  'scanner_vendor',
  'scanner_model',
  'slice_thickness_mm',
  'tube_voltage_kv',
  'heart_rate_bpm',
  'agatston_score',
  'nitrates',
  'image_quality_score',
  'status',
  'rejection_reason',
  'processing_seconds',
  'vessel_count',
  'unknown_fields',
  'kafka_partition',
  'kafka_offset',
] as const;
const VESSEL_COLUMNS = [
  'analysis_event_id',
  'vessel_index',
  'vessel',
  'segment',
  'ct_ffr',
  'stenosis_percent',
  'measurement_point',
  // The analysis's occurred_at: vessels are partitioned by their analysis's month (docs/storage/partitioning.md).
  'analysis_occurred_at',
] as const;
const OUTCOME_COLUMNS = [
  'event_id',
  'manufacturer_id',
  'data_source_id',
  'site_id',
  'patient_key',
  'type',
  'measured_at',
  'vessel',
  'segment',
  'invasive_ffr',
  'hyperemia',
  'clinical_event',
  'occurred_at',
  'recorded_at',
  'unknown_fields',
  'kafka_partition',
  'kafka_offset',
] as const;
const DEVICE_EVENT_COLUMNS = [
  'event_id',
  'manufacturer_id',
  'device_id',
  'occurred_at',
  'kind',
  'code',
  'message',
  'software_version',
  'unknown_fields',
  'kafka_partition',
  'kafka_offset',
] as const;

/**
 * Queues the (site, patient) keys a batch touched for linkage (src/outcomes), in the batch's own
 * transaction: the linker runs after commit and so always sees both sides, whatever their order of
 * arrival. Keys are inserted in sorted order so two batches never wait on each other in a cycle.
 *
 * DO UPDATE, not DO NOTHING: DO NOTHING takes no lock, so a key the linker had already picked (and
 * would delete after linking without this batch's rows) counted as queued and the batch's event was
 * never linked. DO UPDATE waits for the linker's lock and, once the linker has deleted the key,
 * inserts it again; a key the batch holds is skipped by the linker until the batch commits.
 */
const LINKAGE_INBOX_CTE = (source: string): string => `
    queued AS (
      INSERT INTO linkage_pending (site_id, patient_key)
      SELECT DISTINCT site_id, patient_key FROM ${source}
      ORDER BY site_id, patient_key
      ON CONFLICT (site_id, patient_key) DO UPDATE SET queued_at = EXCLUDED.queued_at
    )`;

/**
 * Marks the performance roll-up slices (product, UTC day of the CTA) that a batch's analyses fall in
 * (src/performance/performance-rollups.ts), in the batch's transaction. An append-only log, so
 * concurrent batches never wait on one another's marks.
 */
const ROLLUP_DIRTY_CTE = `
    rollup_dirty AS (
      INSERT INTO performance_rollup_dirty (product_id, day)
      SELECT DISTINCT product_id, (occurred_at AT TIME ZONE 'UTC')::date FROM inserted WHERE status = 'completed'
    )`;

const list = (columns: readonly string[]): string => columns.join(', ');
const json = (value: Record<string, unknown> | null): string | null => (value ? JSON.stringify(value) : null);

const analyses: TableSpec<'analyses'> = {
  tables: [
    { stage: 'stage_analyses', target: 'analyses', columns: ANALYSIS_COLUMNS },
    { stage: 'stage_analysis_vessels', target: 'analysis_vessels', columns: VESSEL_COLUMNS },
  ],
  toRows(events, partition, pseudonymiser) {
    const analysisRows: CopyValue[][] = [];
    const vesselRows: CopyValue[][] = [];
    for (const { event, sender, message, unknownFields } of events) {
      const vessels = event.vessels ?? [];
      const acquisition = event.acquisition ?? {};
      const patient = event.patient ?? {};
      analysisRows.push([
        event.eventId,
        sender.manufacturerId,
        sender.productId,
        sender.id,
        sender.siteId,
        event.occurredAt,
        event.softwareVersion,
        event.modelVersion,
        pseudonymiser.keyFor('patientRef', sender.siteId, event.patientRef),
        pseudonymiser.keyFor('studyRef', sender.siteId, event.studyRef),
        patient.ageYears,
        patient.sex,
        patient.bmi,
        acquisition.scannerVendor,
        acquisition.scannerModel,
        acquisition.sliceThicknessMm,
        acquisition.tubeVoltageKv,
        acquisition.heartRateBpm,
        acquisition.agatstonScore,
        acquisition.nitrates,
        acquisition.imageQualityScore,
        event.status,
        event.rejectionReason,
        event.processingSeconds,
        vessels.length,
        json(unknownFields),
        partition,
        message.offset,
      ]);
      vessels.forEach((vessel, index) =>
        vesselRows.push([
          event.eventId,
          index,
          vessel.vessel,
          vessel.segment,
          vessel.ctFfr,
          vessel.stenosisPercent,
          vessel.measurementPoint,
          event.occurredAt,
        ]),
      );
    }
    return [analysisRows, vesselRows];
  },
  partitionMonths: (events) => monthsOf(events.map(({ event }) => event.occurredAt)),
  // Idempotency by eventId: partitioned by month, analyses can only be unique on (event_id, occurred_at), so the
  // eventId is claimed in the unpartitioned key table first (sorted: concurrent batches never wait in a cycle) and
  // only the events whose claim succeeded are stored — a second copy is a duplicate whatever its occurredAt. One
  // statement, so the vessels go in with their analyses.
  mergeSql: `
    WITH claimed AS (
      INSERT INTO analysis_event_ids (event_id, occurred_at)
      SELECT event_id, occurred_at FROM stage_analyses ORDER BY event_id
      ON CONFLICT (event_id) DO NOTHING
      RETURNING event_id
    ), inserted AS (
      INSERT INTO analyses (${list(ANALYSIS_COLUMNS)})
      SELECT ${ANALYSIS_COLUMNS.map((c) => 's.' + c).join(', ')}
        FROM stage_analyses s JOIN claimed c ON c.event_id = s.event_id
      RETURNING event_id, product_id, site_id, patient_key, status, occurred_at
    ), vessels AS (
      INSERT INTO analysis_vessels (${list(VESSEL_COLUMNS)})
      SELECT ${VESSEL_COLUMNS.map((c) => 'v.' + c).join(', ')}
        FROM stage_analysis_vessels v JOIN inserted i ON i.event_id = v.analysis_event_id
    ), ${LINKAGE_INBOX_CTE("inserted WHERE status = 'completed'")},
    ${ROLLUP_DIRTY_CTE}
    SELECT count(*)::int AS stored FROM inserted`,
};

const outcomes: TableSpec<'outcomes'> = {
  tables: [{ stage: 'stage_outcomes', target: 'outcomes', columns: OUTCOME_COLUMNS }],
  toRows(events, partition, pseudonymiser) {
    return [
      events.map(({ event, sender, message, unknownFields }) => [
        event.eventId,
        sender.manufacturerId,
        sender.id,
        sender.siteId,
        pseudonymiser.keyFor('patientRef', sender.siteId, event.patientRef),
        event.type,
        event.type === 'invasive_ffr' ? event.measuredAt : null,
        event.type === 'invasive_ffr' ? event.vessel : null,
        event.type === 'invasive_ffr' ? event.segment : null,
        event.type === 'invasive_ffr' ? event.value : null,
        event.type === 'invasive_ffr' ? event.hyperemia : null,
        event.type === 'clinical_event' ? event.event : null,
        event.type === 'clinical_event' ? event.occurredAt : null,
        event.recordedAt,
        json(unknownFields),
        partition,
        message.offset,
      ]),
    ];
  },
  mergeSql: `
    WITH inserted AS (
      INSERT INTO outcomes (${list(OUTCOME_COLUMNS)})
      SELECT ${list(OUTCOME_COLUMNS)} FROM stage_outcomes
      ON CONFLICT (event_id) DO NOTHING
      RETURNING site_id, patient_key
    ), ${LINKAGE_INBOX_CTE('inserted')}
    SELECT count(*)::int AS stored FROM inserted`,
  partitionMonths: () => [],
};

const deviceEvents: TableSpec<'deviceEvents'> = {
  tables: [{ stage: 'stage_device_events', target: 'device_events', columns: DEVICE_EVENT_COLUMNS }],
  toRows(events, partition) {
    return [
      events.map(({ event, sender, message, unknownFields }) => [
        event.eventId,
        sender.manufacturerId,
        sender.id,
        event.occurredAt,
        event.kind,
        event.code,
        event.message,
        event.softwareVersion,
        json(unknownFields),
        partition,
        message.offset,
      ]),
    ];
  },
  partitionMonths: (events) => monthsOf(events.map(({ event }) => event.occurredAt)),
  // As analyses: the eventId is claimed in the unpartitioned key table, the event stored only when claimed.
  mergeSql: `
    WITH claimed AS (
      INSERT INTO device_event_ids (event_id, occurred_at)
      SELECT event_id, occurred_at FROM stage_device_events ORDER BY event_id
      ON CONFLICT (event_id) DO NOTHING
      RETURNING event_id
    ), inserted AS (
      INSERT INTO device_events (${list(DEVICE_EVENT_COLUMNS)})
      SELECT ${DEVICE_EVENT_COLUMNS.map((c) => 's.' + c).join(', ')}
        FROM stage_device_events s JOIN claimed c ON c.event_id = s.event_id
      RETURNING 1
    )
    SELECT count(*)::int AS stored FROM inserted`,
};

export const TABLE_SPECS: { [R in IngestTopicRole]: TableSpec<R> } = { analyses, outcomes, deviceEvents };
