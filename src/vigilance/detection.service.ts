import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import {
  classifyPair,
  type ClinicalEventRef,
  type DetectionParameters,
  detectionParameters,
  detectionRule,
  type DetectionRuleId,
  deviceWindowKey,
  ESCALATING_EVENTS,
  escalatedImdrf,
  escalation,
  failedRateExceeded,
  isSilent,
} from './detection-rules';
import { IncidentsService } from './incidents.service';
import type { Seriousness } from './reporting-clock-rules';

/** A product as detection needs it. */
export interface DetectionProduct {
  id: string;
  manufacturerId: string;
  threshold: number;
  jurisdictions: string[];
  detection: unknown;
  trend: unknown;
}

export interface DetectionRunSummary {
  productId: string;
  detectedAt: string;
  /** New candidates per rule; a subject already detected is not detected again. */
  created: Partial<Record<DetectionRuleId, number>>;
  /** Incident ids of the new candidates. */
  incidentIds: string[];
  /**
   * Incidents opened earlier that received new information instead of a second incident: a false negative already
   * under triage whose patient then had a serious outcome within the window.
   */
  escalatedIncidentIds: string[];
}

/** One candidate before it is stored. */
interface Candidate {
  ruleId: DetectionRuleId;
  subjectKey: string;
  seriousness: Seriousness;
  reportableMalfunction: boolean;
  title: string;
  description: string;
  siteId: string | null;
  deviceId: string | null;
  subjectAt: string;
  country: string;
  imdrf: Record<string, string[]>;
  evidence: Record<string, unknown>;
  /** Set when the subject already has an incident (opened by an earlier rule): it gets new information instead. */
  existingIncidentId?: string;
}

interface LinkRow {
  link_id: string;
  analysis_id: string;
  vessel: string;
  segment: number | null;
  ct_ffr: number;
  invasive_ffr: number;
  analysis_at: string;
  measured_at: string;
  site_id: string;
  site_code: string;
  country: string;
  device_id: string;
  device_code: string;
  model_version: string;
  software_version: string;
  detected_rules: string[];
  /** The incident opened for this pair by the non-serious false-negative rule, if any. */
  false_negative_incident_id: string | null;
  events: ClinicalEventRef[];
}

interface WindowRow {
  device_id: string;
  device_code: string;
  site_id: string;
  site_code: string;
  country: string;
  bucket: string;
  total: number;
  flagged: number;
  codes: string[] | null;
}

const iso = (column: string): string => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')`;
const DAY_MS = 86_400_000;

/**
 * Candidate detection (issue 5 §1): runs the rules of detection-rules.ts over one product's linked FFR pairs, clinical
 * events, analyses and device events, and opens one candidate incident per new (rule, subject) — source `detection`,
 * awareness date = the detection date, the suggested IMDRF codes, the evidence in incident_detections. Callers hold the
 * detection lock (detection.job.ts) and choose the tenant scope (runAsSystem for the schedule; the request's tenant for
 * POST /incidents/detections).
 */
@Injectable()
export class DetectionService {
  private readonly logger = new Logger(DetectionService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly incidents: IncidentsService,
  ) {}

  /** Products visible in the current tenant scope (all of them under runAsSystem), with their methods. */
  async products(productId?: string): Promise<DetectionProduct[]> {
    const rows = await this.dataSource.query<
      Array<{
        id: string;
        manufacturer_id: string;
        threshold: string;
        jurisdictions: string[];
        detection: unknown;
        trend: unknown;
      }>
    >(
      `SELECT p.id::text AS id, p.manufacturer_id::text AS manufacturer_id, p.ffr_threshold::text AS threshold,
              p.jurisdictions, m.detection, m.trend
         FROM products p LEFT JOIN vigilance_methods m ON m.product_id = p.id
        WHERE ($1::uuid IS NULL OR p.id = $1::uuid) ORDER BY p.id`,
      [productId ?? null],
    );
    return rows.map((row) => ({
      id: row.id,
      manufacturerId: row.manufacturer_id,
      threshold: Number(row.threshold),
      jurisdictions: row.jurisdictions,
      detection: row.detection,
      trend: row.trend,
    }));
  }

  async detect(product: DetectionProduct, now: Date): Promise<DetectionRunSummary> {
    const { parameters, problems } = detectionParameters(product.detection);
    if (problems.length > 0) {
      // A stored method is validated on write; a bad one (edited by hand) falls back to the defaults, loudly.
      this.logger.warn(`Product ${product.id}: detection parameters ignored (${problems.join('; ')})`);
    }
    const candidates = [
      ...(await this.linkCandidates(product, parameters)),
      ...(await this.failedAnalysisCandidates(product, parameters)),
      ...(await this.deviceEventCandidates(product, parameters, 'device-error-burst')),
      ...(await this.deviceEventCandidates(product, parameters, 'device-out-of-range-output')),
      ...(await this.silentCandidates(product, parameters, now)),
    ];
    const summary: DetectionRunSummary = {
      productId: product.id,
      detectedAt: now.toISOString(),
      created: {},
      incidentIds: [],
      escalatedIncidentIds: [],
    };
    for (const candidate of candidates) {
      const incidentId = await this.store(product, candidate, now);
      if (!incidentId) continue;
      summary.created[candidate.ruleId] = (summary.created[candidate.ruleId] ?? 0) + 1;
      (candidate.existingIncidentId ? summary.escalatedIncidentIds : summary.incidentIds).push(incidentId);
    }
    return summary;
  }

  // ── rules over linked FFR pairs ───────────────────────────────────────────────────────────────
  private async linkCandidates(
    product: DetectionProduct,
    parameters: DetectionParameters,
  ): Promise<Candidate[]> {
    const rows = await this.dataSource.query<LinkRow[]>(
      `SELECT l.outcome_event_id::text AS link_id, l.analysis_event_id::text AS analysis_id, l.vessel, v.segment,
              l.ct_ffr::text::float8 AS ct_ffr, l.invasive_ffr::text::float8 AS invasive_ffr,
              ${iso('l.analysis_occurred_at')} AS analysis_at, ${iso('l.measured_at')} AS measured_at,
              l.site_id::text AS site_id, s.site_code, s.country, a.device_id::text AS device_id, d.device_code,
              a.model_version, a.software_version,
              ARRAY(SELECT x.rule_id FROM incident_detections x
                     WHERE x.product_id = a.product_id AND x.subject_key = l.outcome_event_id::text) AS detected_rules,
              (SELECT x.incident_id::text FROM incident_detections x
                WHERE x.product_id = a.product_id AND x.subject_key = l.outcome_event_id::text
                  AND x.rule_id = 'ctffr-false-negative') AS false_negative_incident_id,
              CASE WHEN l.ct_ffr > $2::real AND l.invasive_ffr <= $2::real THEN (
                SELECT coalesce(json_agg(json_build_object('outcomeEventId', o.event_id::text, 'event', o.clinical_event,
                                                           'occurredAt', ${iso('o.occurred_at')})
                                         ORDER BY o.occurred_at, o.event_id), '[]'::json)
                  FROM outcomes o
                 WHERE o.site_id = l.site_id AND o.patient_key = l.patient_key AND o.type = 'clinical_event'
                   AND o.clinical_event = ANY($3::text[])) ELSE '[]'::json END AS events
         FROM ffr_links l
         -- The partition keys too (docs/storage/partitioning.md): a link knows its analysis's time.
         JOIN analyses a ON a.event_id = l.analysis_event_id AND a.occurred_at = l.analysis_occurred_at
         JOIN analysis_vessels v ON v.analysis_event_id = l.analysis_event_id AND v.vessel_index = l.vessel_index
                                AND v.analysis_occurred_at = l.analysis_occurred_at
         JOIN sites s ON s.id = l.site_id
         JOIN devices d ON d.id = a.device_id
        WHERE l.status = 'linked' AND a.product_id = $1
          AND ((l.ct_ffr > $2::real AND l.invasive_ffr <= $2::real) OR (l.ct_ffr <= $2::real AND l.invasive_ffr > $2::real))
        ORDER BY l.analysis_occurred_at, l.outcome_event_id`,
      [product.id, product.threshold, [...ESCALATING_EVENTS]],
    );
    const candidates: Candidate[] = [];
    for (const row of rows) {
      const kind = classifyPair(row.ct_ffr, row.invasive_ffr, product.threshold);
      const pair = {
        threshold: product.threshold,
        ctFfr: row.ct_ffr,
        invasiveFfr: row.invasive_ffr,
        vessel: row.vessel,
        segment: row.segment,
        analysisEventId: row.analysis_id,
        invasiveOutcomeEventId: row.link_id,
        analysisAt: row.analysis_at,
        invasiveMeasuredAt: row.measured_at,
        siteId: row.site_code,
        deviceId: row.device_code,
        modelVersion: row.model_version,
        softwareVersion: row.software_version,
      };
      const base = {
        subjectKey: row.link_id,
        siteId: row.site_id,
        deviceId: row.device_id,
        subjectAt: row.analysis_at,
        country: row.country,
      };
      const where = `${row.vessel} at site ${row.site_code} (device ${row.device_code}, analysis ${row.analysis_at.slice(0, 10)})`;
      if (kind === 'fn') {
        if (row.detected_rules.includes('ctffr-false-negative-serious-outcome')) continue;
        const escalated = escalation(row.analysis_at, row.events, parameters.seriousOutcomeWindowDays);
        if (escalated) {
          const rule = detectionRule('ctffr-false-negative-serious-outcome');
          const events = escalated.events.map((event) => ({
            ...event,
            daysAfterCta:
              Math.round(((Date.parse(event.occurredAt) - Date.parse(row.analysis_at)) / DAY_MS) * 10) / 10,
          }));
          candidates.push({
            ...base,
            ruleId: rule.id,
            seriousness: escalated.seriousness,
            reportableMalfunction: rule.reportableMalfunction,
            title: `Missed ischaemia with ${[...new Set(events.map((e) => e.event))].join(', ')}: ${where}`,
            description:
              `CT-FFR ${row.ct_ffr} > ${product.threshold} but invasive FFR ${row.invasive_ffr} ≤ ${product.threshold} ` +
              `(${row.vessel}), followed by ${events.map((e) => `${e.event} on day ${e.daysAfterCta}`).join(', ')} after ` +
              `the CTA (window ${parameters.seriousOutcomeWindowDays} days). Detected by rule ${rule.id}.`,
            imdrf: escalatedImdrf(escalated.events),
            evidence: {
              ...pair,
              clinicalEvents: events,
              windowDays: parameters.seriousOutcomeWindowDays,
              supersedesRule: row.detected_rules.includes('ctffr-false-negative')
                ? 'ctffr-false-negative'
                : null,
            },
            ...(row.false_negative_incident_id ? { existingIncidentId: row.false_negative_incident_id } : {}),
          });
        } else if (!row.detected_rules.includes('ctffr-false-negative')) {
          const rule = detectionRule('ctffr-false-negative');
          candidates.push({
            ...base,
            ruleId: rule.id,
            seriousness: rule.seriousness,
            reportableMalfunction: rule.reportableMalfunction,
            title: `Missed ischaemia (false-negative CT-FFR): ${where}`,
            description:
              `CT-FFR ${row.ct_ffr} > ${product.threshold} but invasive FFR ${row.invasive_ffr} ≤ ${product.threshold} ` +
              `(${row.vessel}); no death, MI or urgent revascularisation known within ` +
              `${parameters.seriousOutcomeWindowDays} days of the CTA. Detected by rule ${rule.id}.`,
            imdrf: copyCodes(rule.imdrf),
            evidence: { ...pair, clinicalEvents: [], windowDays: parameters.seriousOutcomeWindowDays },
          });
        }
      } else if (kind === 'fp' && !row.detected_rules.includes('ctffr-false-positive-invasive')) {
        const rule = detectionRule('ctffr-false-positive-invasive');
        candidates.push({
          ...base,
          ruleId: rule.id,
          seriousness: rule.seriousness,
          reportableMalfunction: rule.reportableMalfunction,
          title: `Unnecessary invasive procedure (false-positive CT-FFR): ${where}`,
          description:
            `CT-FFR ${row.ct_ffr} ≤ ${product.threshold} but invasive FFR ${row.invasive_ffr} > ${product.threshold} ` +
            `(${row.vessel}): the invasive measurement was not needed. Detected by rule ${rule.id}.`,
          imdrf: copyCodes(rule.imdrf),
          evidence: pair,
        });
      }
    }
    return candidates;
  }

  // ── device malfunctions ───────────────────────────────────────────────────────────────────────
  private async failedAnalysisCandidates(
    product: DetectionProduct,
    parameters: DetectionParameters,
  ): Promise<Candidate[]> {
    const rule = detectionRule('device-failed-analyses-rate');
    const rows = await this.windows(
      `SELECT a.device_id, a.occurred_at, a.status = 'failed' AS flagged, NULL::text AS code
         FROM analyses a WHERE a.product_id = $1`,
      product.id,
      parameters.deviceWindowHours,
      parameters.minFailedAnalyses,
      rule.id,
    );
    return rows
      .filter((row) => failedRateExceeded(row.flagged, row.total, parameters))
      .map((row) =>
        this.windowCandidate(row, rule.id, parameters, {
          failedAnalyses: row.flagged,
          analyses: row.total,
          failedRate: row.flagged / row.total,
          limits: {
            minFailedAnalyses: parameters.minFailedAnalyses,
            maxFailedRate: parameters.maxFailedRate,
          },
        }),
      );
  }

  private async deviceEventCandidates(
    product: DetectionProduct,
    parameters: DetectionParameters,
    ruleId: 'device-error-burst' | 'device-out-of-range-output',
  ): Promise<Candidate[]> {
    const kinds = ruleId === 'device-error-burst' ? ['error', 'crash', 'timeout'] : ['out_of_range_output'];
    const limit =
      ruleId === 'device-error-burst' ? parameters.maxErrorEvents : parameters.maxOutOfRangeOutputs;
    const rows = await this.windows(
      `SELECT e.device_id, e.occurred_at, true AS flagged, e.kind || coalesce(':' || e.code, '') AS code
         FROM device_events e JOIN devices dv ON dv.id = e.device_id
        WHERE dv.product_id = $1 AND e.kind = ANY('{${kinds.join(',')}}'::text[])`,
      product.id,
      parameters.deviceWindowHours,
      limit,
      ruleId,
    );
    return rows.map((row) =>
      this.windowCandidate(row, ruleId, parameters, {
        events: row.flagged,
        kinds,
        codes: row.codes ?? [],
        limit,
      }),
    );
  }

  /** Per device and tumbling window: the rows of `source`, how many are flagged; windows with ≥ `minFlagged`. */
  private windows(
    source: string,
    productId: string,
    windowHours: number,
    minFlagged: number,
    ruleId: DetectionRuleId,
  ): Promise<Array<Omit<WindowRow, 'bucket'> & { bucket: number }>> {
    return this.dataSource
      .query<WindowRow[]>(
        `WITH src AS (${source})
         SELECT w.device_id::text AS device_id, d.device_code, d.site_id::text AS site_id, s.site_code, s.country,
                w.bucket::text AS bucket, w.total::int AS total, w.flagged::int AS flagged, w.codes
           FROM (SELECT device_id, floor(extract(epoch FROM occurred_at) / ($2::int * 3600))::bigint AS bucket,
                        count(*) AS total, count(*) FILTER (WHERE flagged) AS flagged,
                        (array_agg(DISTINCT code) FILTER (WHERE code IS NOT NULL))[1:20] AS codes
                   FROM src GROUP BY 1, 2
                 HAVING count(*) FILTER (WHERE flagged) >= $3) w
           JOIN devices d ON d.id = w.device_id
           JOIN sites s ON s.id = d.site_id
          WHERE NOT EXISTS (SELECT 1 FROM incident_detections x
                             WHERE x.product_id = $1 AND x.rule_id = $4
                               AND x.subject_key = d.device_code || '@' ||
                                   to_char(to_timestamp(w.bucket * $2::int * 3600) AT TIME ZONE 'UTC',
                                           'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || '/' || $2::int || 'h')
          ORDER BY w.bucket, d.device_code`,
        [productId, windowHours, minFlagged, ruleId],
      )
      .then((rows) => rows.map((row) => ({ ...row, bucket: Number(row.bucket) })));
  }

  private windowCandidate(
    row: Omit<WindowRow, 'bucket'> & { bucket: number },
    ruleId: DetectionRuleId,
    parameters: DetectionParameters,
    values: Record<string, unknown>,
  ): Candidate {
    const rule = detectionRule(ruleId);
    const start = row.bucket * parameters.deviceWindowHours * 3_600_000;
    const end = start + parameters.deviceWindowHours * 3_600_000;
    const window = { from: new Date(start).toISOString(), to: new Date(end).toISOString() };
    return {
      ruleId,
      subjectKey: deviceWindowKey(row.device_code, start, parameters.deviceWindowHours),
      seriousness: rule.seriousness,
      reportableMalfunction: rule.reportableMalfunction,
      title: `${rule.title}: device ${row.device_code} at site ${row.site_code}, ${window.from.slice(0, 16)}Z`,
      description:
        `${rule.title} — device ${row.device_code}, window ${window.from} to ${window.to}: ` +
        `${JSON.stringify(values)}. Detected by rule ${rule.id}.`,
      siteId: row.site_id,
      deviceId: row.device_id,
      subjectAt: window.from,
      country: row.country,
      imdrf: copyCodes(rule.imdrf),
      evidence: { deviceId: row.device_code, siteId: row.site_code, window, ...values },
    };
  }

  private async silentCandidates(
    product: DetectionProduct,
    parameters: DetectionParameters,
    now: Date,
  ): Promise<Candidate[]> {
    const rule = detectionRule('device-silent');
    const rows = await this.dataSource.query<
      Array<{
        device_id: string;
        device_code: string;
        site_id: string;
        site_code: string;
        country: string;
        last_seen: string | null;
      }>
    >(
      `SELECT d.id::text AS device_id, d.device_code, d.site_id::text AS site_id, s.site_code, s.country,
              ${iso(`greatest((SELECT max(a.occurred_at) FROM analyses a WHERE a.device_id = d.id),
                               (SELECT max(e.occurred_at) FROM device_events e WHERE e.device_id = d.id))`)} AS last_seen
         FROM devices d JOIN sites s ON s.id = d.site_id
        WHERE d.product_id = $1 ORDER BY d.device_code`,
      [product.id],
    );
    const candidates: Candidate[] = [];
    for (const row of rows) {
      // A device that never reported is not installed yet; one that did and stopped is silent.
      if (!row.last_seen || !isSilent(row.last_seen, now, parameters.silentAfterHours)) continue;
      const subjectKey = `${row.device_code}@last-seen ${row.last_seen}`;
      const [exists] = await this.dataSource.query<unknown[]>(
        `SELECT 1 FROM incident_detections WHERE product_id = $1 AND rule_id = $2 AND subject_key = $3`,
        [product.id, rule.id, subjectKey],
      );
      if (exists) continue;
      const silentHours = Math.floor((now.getTime() - Date.parse(row.last_seen)) / 3_600_000);
      candidates.push({
        ruleId: rule.id,
        subjectKey,
        seriousness: rule.seriousness,
        reportableMalfunction: rule.reportableMalfunction,
        title: `Silent device ${row.device_code} at site ${row.site_code} since ${row.last_seen}`,
        description:
          `No analysis, device event or heartbeat from device ${row.device_code} since ${row.last_seen} ` +
          `(${silentHours} hours at detection; limit ${parameters.silentAfterHours}). Detected by rule ${rule.id}.`,
        siteId: row.site_id,
        deviceId: row.device_id,
        subjectAt: row.last_seen,
        country: row.country,
        imdrf: copyCodes(rule.imdrf),
        evidence: {
          deviceId: row.device_code,
          siteId: row.site_code,
          lastSeenAt: row.last_seen,
          silentHours,
          silentAfterHours: parameters.silentAfterHours,
        },
      });
    }
    return candidates;
  }

  // ── storage ───────────────────────────────────────────────────────────────────────────────────
  /**
   * Opens the candidate incident — or records new information on the subject's existing one — and its detection row,
   * in one transaction; null when the subject was detected by this rule already.
   */
  private async store(product: DetectionProduct, candidate: Candidate, now: Date): Promise<string | null> {
    const detectedAt = now.toISOString();
    try {
      return await this.dataSource.transaction(async (manager) => {
        const row = candidate.existingIncidentId
          ? await this.incidents.recordDetectedNewInformation(manager, {
              incidentId: candidate.existingIncidentId,
              manufacturerId: product.manufacturerId,
              jurisdictions: product.jurisdictions,
              seriousness: candidate.seriousness,
              reportableMalfunction: candidate.reportableMalfunction,
              imdrf: candidate.imdrf,
              summary: candidate.description,
              reason: `New information found by candidate detection (rule ${candidate.ruleId}): ${candidate.title}`,
              now,
            })
          : await this.incidents.createDetected(manager, {
              manufacturerId: product.manufacturerId,
              productId: product.id,
              jurisdictions: product.jurisdictions,
              title: candidate.title,
              description: candidate.description,
              seriousness: candidate.seriousness,
              reportableMalfunction: candidate.reportableMalfunction,
              awarenessDate: detectedAt.slice(0, 10),
              awarenessAt: detectedAt,
              countries: [candidate.country.trim().toUpperCase()],
              imdrf: candidate.imdrf,
            });
        const inserted = await manager.query<unknown[]>(
          `INSERT INTO incident_detections (manufacturer_id, product_id, rule_id, subject_key, incident_id, seriousness,
                                            site_id, device_id, subject_at, imdrf, evidence, detected_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::timestamptz, $10::jsonb, $11::jsonb, $12::timestamptz)
           ON CONFLICT (product_id, rule_id, subject_key) DO NOTHING RETURNING id`,
          [
            product.manufacturerId,
            product.id,
            candidate.ruleId,
            candidate.subjectKey,
            row.id,
            candidate.seriousness,
            candidate.siteId,
            candidate.deviceId,
            candidate.subjectAt,
            JSON.stringify(candidate.imdrf),
            JSON.stringify({ ruleId: candidate.ruleId, detectedAt, ...candidate.evidence }),
            detectedAt,
          ],
        );
        // Detected meanwhile (the lock makes this rare): roll the incident back with the transaction.
        if (inserted.length === 0) throw new AlreadyDetected();
        return row.id;
      });
    } catch (error) {
      if (error instanceof AlreadyDetected) return null;
      throw error;
    }
  }
}

class AlreadyDetected extends Error {}

function copyCodes(codes: Readonly<Record<string, readonly string[]>>): Record<string, string[]> {
  return Object.fromEntries(Object.entries(codes).map(([annex, list]) => [annex, [...list]]));
}
