import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { decodeCursor, DEFAULT_PAGE_SIZE, encodeCursor, Page } from '../common/pagination';
import { AnalysesQueryDto } from './analyses.dto';

/** An analysis as the API shows it: no patient or study key, not even hashed. */
export interface AnalysisView {
  eventId: string;
  deviceId: string;
  siteId: string;
  productId: string;
  occurredAt: string;
  receivedAt: string;
  softwareVersion: string;
  modelVersion: string;
  patient: { ageYears: number | null; sex: string | null; bmi: number | null };
  acquisition: {
    scannerVendor: string | null;
    scannerModel: string | null;
    sliceThicknessMm: number | null;
    tubeVoltageKv: number | null;
    heartRateBpm: number | null;
    agatstonScore: number | null;
    nitrates: boolean | null;
    imageQualityScore: number | null;
  };
  status: string;
  rejectionReason: string | null;
  processingSeconds: number | null;
  vessels: Array<{
    vessel: string;
    segment: number | null;
    ctFfr: number;
    stenosisPercent: number | null;
    measurementPoint: string | null;
  }>;
}

interface AnalysisRow {
  event_id: string;
  device_code: string;
  site_code: string;
  product_id: string;
  occurred_at: Date;
  /** Microsecond-exact position for the cursor (a JS Date keeps only milliseconds). */
  cursor_at: string;
  received_at: Date;
  software_version: string;
  model_version: string;
  age_years: number | null;
  sex: string | null;
  bmi: number | null;
  scanner_vendor: string | null;
  scanner_model: string | null;
  slice_thickness_mm: number | null;
  tube_voltage_kv: number | null;
  heart_rate_bpm: number | null;
  agatston_score: number | null;
  nitrates: boolean | null;
  image_quality_score: number | null;
  status: string;
  rejection_reason: string | null;
  processing_seconds: number | null;
  vessels: AnalysisView['vessels'];
}

@Injectable()
export class AnalysesService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Newest first, keyset-paginated on (occurredAt, eventId), always within one tenant. */
  async list(manufacturerId: string, query: AnalysesQueryDto): Promise<Page<AnalysisView>> {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const conditions = ['a.manufacturer_id = $1'];
    const parameters: unknown[] = [manufacturerId];
    const add = (sql: string, value: unknown): void => {
      parameters.push(value);
      conditions.push(sql.replace('?', `$${parameters.length}`));
    };
    if (query.deviceId) add('d.device_code = ?', query.deviceId);
    if (query.siteId) add('s.site_code = ?', query.siteId);
    if (query.from) add('a.occurred_at >= ?', query.from);
    if (query.to) add('a.occurred_at < ?', query.to);
    if (query.status) add('a.status = ?', query.status);
    const filters = conditions.join(' AND ');
    const from = `FROM analyses a JOIN devices d ON d.id = a.device_id JOIN sites s ON s.id = a.site_id`;

    const [{ total }] = await this.dataSource.query<{ total: number }[]>(
      `SELECT count(*)::int AS total ${from} WHERE ${filters}`,
      parameters,
    );

    const position = decodeCursor(query.cursor);
    const pageConditions = [...conditions];
    const pageParameters = [...parameters];
    if (position) {
      pageParameters.push(position.at, position.id);
      pageConditions.push(
        `(a.occurred_at, a.event_id) < ($${pageParameters.length - 1}::timestamptz, $${pageParameters.length}::uuid)`,
      );
    }
    pageParameters.push(limit + 1);
    const rows = await this.dataSource.query<AnalysisRow[]>(
      `SELECT a.event_id, d.device_code, s.site_code, a.product_id, a.occurred_at,
              to_char(a.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at, a.received_at, a.software_version,
              a.model_version, a.age_years, a.sex, a.bmi, a.scanner_vendor, a.scanner_model, a.slice_thickness_mm,
              a.tube_voltage_kv, a.heart_rate_bpm, a.agatston_score, a.nitrates, a.image_quality_score, a.status,
              a.rejection_reason, a.processing_seconds,
              COALESCE((SELECT json_agg(json_build_object(
                         'vessel', v.vessel, 'segment', v.segment, 'ctFfr', v.ct_ffr,
                         'stenosisPercent', v.stenosis_percent, 'measurementPoint', v.measurement_point)
                         ORDER BY v.vessel_index)
                          FROM analysis_vessels v
                         WHERE v.analysis_event_id = a.event_id AND v.analysis_occurred_at = a.occurred_at), '[]') AS vessels
         ${from}
        WHERE ${pageConditions.join(' AND ')}
        ORDER BY a.occurred_at DESC, a.event_id DESC
        LIMIT $${pageParameters.length}`,
      pageParameters,
    );
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return {
      total,
      items: items.map(toView),
      nextCursor:
        rows.length > limit && last ? encodeCursor({ at: last.cursor_at, id: last.event_id }) : null,
    };
  }
}

function toView(row: AnalysisRow): AnalysisView {
  return {
    eventId: row.event_id,
    deviceId: row.device_code,
    siteId: row.site_code,
    productId: row.product_id,
    occurredAt: row.occurred_at.toISOString(),
    receivedAt: row.received_at.toISOString(),
    softwareVersion: row.software_version,
    modelVersion: row.model_version,
    patient: { ageYears: row.age_years, sex: row.sex, bmi: row.bmi },
    acquisition: {
      scannerVendor: row.scanner_vendor,
      scannerModel: row.scanner_model,
      sliceThicknessMm: row.slice_thickness_mm,
      tubeVoltageKv: row.tube_voltage_kv,
      heartRateBpm: row.heart_rate_bpm,
      agatstonScore: row.agatston_score,
      nitrates: row.nitrates,
      imageQualityScore: row.image_quality_score,
    },
    status: row.status,
    rejectionReason: row.rejection_reason,
    processingSeconds: row.processing_seconds,
    vessels: row.vessels,
  };
}
