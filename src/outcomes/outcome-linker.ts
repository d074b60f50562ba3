import { Pool, PoolClient } from 'pg';
import { LINKAGE_RULES } from './linkage-rules';

export interface LinkagePassResult {
  /** (site, patient) keys re-evaluated in this pass. */
  keys: number;
  /** Invasive-FFR outcomes whose link result changed (new or different), each recorded in the history. */
  changed: number;
}

/**
 * Links each invasive FFR to a CT-FFR vessel, as a pure function of the stored events of one
 * (site, patient): the current record per (vessel, segment, measuredAt) — latest `recordedAt`, then
 * highest eventId, so corrections supersede by content, not by arrival — is linked to the vessel of
 * the latest completed analysis of that patient at that site that precedes the measurement by at
 * most the window, same vessel, and same segment when both give one (ties: later analysis, higher
 * eventId, lower vessel index). Results only change by being recomputed; each change is appended
 * to `ffr_link_history`.
 */
export class OutcomeLinker {
  constructor(
    private readonly pool: Pool,
    private readonly windowDays: number = LINKAGE_RULES.defaultWindowDays,
  ) {}

  /** Takes up to `maxKeys` queued keys (skipping those another instance is working on) and relinks them. */
  async runPass(maxKeys = 2_000): Promise<LinkagePassResult> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      try {
        const result = await this.relinkQueued(client, maxKeys);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    } finally {
      client.release();
    }
  }

  /** Runs passes until the queue is empty (tests, and catching up after a backlog). */
  async drain(): Promise<LinkagePassResult> {
    const total = { keys: 0, changed: 0 };
    for (;;) {
      const pass = await this.runPass();
      total.keys += pass.keys;
      total.changed += pass.changed;
      if (pass.keys === 0) return total;
    }
  }

  private async relinkQueued(client: PoolClient, maxKeys: number): Promise<LinkagePassResult> {
    await client.query(`
      CREATE TEMP TABLE IF NOT EXISTS linkage_keys (site_id uuid, patient_key bytea) ON COMMIT DELETE ROWS`);
    const taken = await client.query(
      `WITH picked AS (
         SELECT site_id, patient_key FROM linkage_pending LIMIT $1 FOR UPDATE SKIP LOCKED
       ), removed AS (
         DELETE FROM linkage_pending p USING picked
          WHERE p.site_id = picked.site_id AND p.patient_key = picked.patient_key
         RETURNING p.site_id, p.patient_key
       )
       INSERT INTO linkage_keys SELECT site_id, patient_key FROM removed`,
      [maxKeys],
    );
    const keys = taken.rowCount ?? 0;
    if (keys === 0) return { keys: 0, changed: 0 };

    await client.query(
      `CREATE TEMP TABLE linkage_result ON COMMIT DROP AS
       WITH measurements AS (
         SELECT o.event_id, o.manufacturer_id, o.site_id, o.patient_key, o.vessel, o.segment, o.measured_at,
                o.invasive_ffr,
                row_number() OVER same_measurement AS rank,
                first_value(o.event_id) OVER same_measurement AS current_event_id
           FROM outcomes o JOIN linkage_keys k ON k.site_id = o.site_id AND k.patient_key = o.patient_key
          WHERE o.type = 'invasive_ffr'
         WINDOW same_measurement AS (
           PARTITION BY o.site_id, o.patient_key, o.vessel, coalesce(o.segment, 0), o.measured_at
           ORDER BY o.recorded_at DESC NULLS LAST, o.event_id DESC)
       )
       SELECT m.event_id AS outcome_event_id, m.manufacturer_id, m.site_id, m.patient_key, m.vessel,
              m.measured_at, m.invasive_ffr,
              CASE WHEN m.rank > 1 THEN 'superseded'
                   WHEN best.analysis_event_id IS NULL THEN 'no_analysis_in_window'
                   WHEN revascularized.found THEN 'intervening_revascularization'
                   ELSE 'linked' END AS status,
              CASE WHEN m.rank > 1 THEN m.current_event_id END AS superseded_by,
              best.analysis_event_id, best.vessel_index, best.ct_ffr, best.occurred_at AS analysis_occurred_at
         FROM measurements m
         LEFT JOIN LATERAL (
           SELECT a.event_id AS analysis_event_id, v.vessel_index, v.ct_ffr, a.occurred_at
             FROM analyses a
             -- Vessels are partitioned by their analysis's month (docs/storage/partitioning.md): probed per analysis,
             -- one primary-key lookup in the one partition run-time pruning leaves. OFFSET 0 keeps the subquery from
             -- being flattened into a join the planner may hash over every vessel partition (measured: 2.1 s instead
             -- of 12 ms for 200 outcomes; docs/storage/plans/).
             CROSS JOIN LATERAL (
               SELECT v.vessel_index, v.ct_ffr FROM analysis_vessels v
                WHERE v.analysis_event_id = a.event_id AND v.analysis_occurred_at = a.occurred_at
                  AND v.vessel = m.vessel
                  AND (m.segment IS NULL OR v.segment IS NULL OR v.segment = m.segment)
               OFFSET 0
             ) v
            WHERE m.rank = 1
              AND a.site_id = m.site_id AND a.patient_key = m.patient_key AND a.status = 'completed'
              AND a.occurred_at <= m.measured_at
              AND a.occurred_at >= m.measured_at - make_interval(days => $1)
            ORDER BY a.occurred_at DESC, a.event_id DESC, v.vessel_index ASC
            LIMIT 1
         ) best ON true
         LEFT JOIN LATERAL (
           SELECT true AS found FROM outcomes e
            WHERE best.analysis_event_id IS NOT NULL
              AND e.site_id = m.site_id AND e.patient_key = m.patient_key AND e.type = 'clinical_event'
              AND e.clinical_event = ANY($2)
              AND e.occurred_at > best.occurred_at
              AND e.occurred_at < date_trunc('day', m.measured_at)
            LIMIT 1
         ) revascularized ON true`,
      [this.windowDays, [...LINKAGE_RULES.interveningRevascularizationEvents]],
    );

    // Every change of result is kept, with what it was before.
    const history = await client.query(
      `INSERT INTO ffr_link_history (outcome_event_id, previous_status, previous_analysis_event_id,
                                     previous_vessel_index, status, analysis_event_id, vessel_index, superseded_by)
       SELECT r.outcome_event_id, l.status, l.analysis_event_id, l.vessel_index,
              r.status, linked.analysis_event_id, linked.vessel_index, r.superseded_by
         FROM linkage_result r
         LEFT JOIN ffr_links l ON l.outcome_event_id = r.outcome_event_id
         CROSS JOIN LATERAL (SELECT CASE WHEN r.status = 'linked' THEN r.analysis_event_id END AS analysis_event_id,
                                    CASE WHEN r.status = 'linked' THEN r.vessel_index END AS vessel_index) linked
        WHERE l.outcome_event_id IS NULL
           OR (l.status, l.analysis_event_id, l.vessel_index, l.superseded_by)
              IS DISTINCT FROM (r.status, linked.analysis_event_id, linked.vessel_index, r.superseded_by)
        ORDER BY r.outcome_event_id
       RETURNING analysis_event_id, previous_analysis_event_id`,
    );
    // A link that moved changes the performance roll-ups of both analyses' slices (src/performance).
    const touchedAnalyses = history.rows
      .flatMap((row: { analysis_event_id: string | null; previous_analysis_event_id: string | null }) => [
        row.analysis_event_id,
        row.previous_analysis_event_id,
      ])
      .filter((eventId): eventId is string => eventId !== null);
    if (touchedAnalyses.length > 0) {
      await client.query(
        `INSERT INTO performance_rollup_dirty (product_id, day)
         SELECT DISTINCT product_id, (occurred_at AT TIME ZONE 'UTC')::date
           FROM analyses WHERE event_id = ANY($1::uuid[])`,
        [touchedAnalyses],
      );
    }

    await client.query(
      `INSERT INTO ffr_links (outcome_event_id, manufacturer_id, site_id, patient_key, status, superseded_by,
                              analysis_event_id, vessel_index, vessel, measured_at, invasive_ffr, ct_ffr,
                              analysis_occurred_at, lag_days, window_days, evaluated_at)
       SELECT r.outcome_event_id, r.manufacturer_id, r.site_id, r.patient_key, r.status, r.superseded_by,
              linked.analysis_event_id, linked.vessel_index, r.vessel, r.measured_at, r.invasive_ffr,
              CASE WHEN r.status = 'linked' THEN r.ct_ffr END,
              CASE WHEN r.status = 'linked' THEN r.analysis_occurred_at END,
              CASE WHEN r.status = 'linked'
                   THEN extract(epoch FROM r.measured_at - r.analysis_occurred_at) / 86400 END,
              $1, now()
         FROM linkage_result r
         CROSS JOIN LATERAL (SELECT CASE WHEN r.status = 'linked' THEN r.analysis_event_id END AS analysis_event_id,
                                    CASE WHEN r.status = 'linked' THEN r.vessel_index END AS vessel_index) linked
       ON CONFLICT (outcome_event_id) DO UPDATE SET
         status = EXCLUDED.status, superseded_by = EXCLUDED.superseded_by,
         analysis_event_id = EXCLUDED.analysis_event_id, vessel_index = EXCLUDED.vessel_index,
         ct_ffr = EXCLUDED.ct_ffr, analysis_occurred_at = EXCLUDED.analysis_occurred_at,
         lag_days = EXCLUDED.lag_days, window_days = EXCLUDED.window_days, evaluated_at = EXCLUDED.evaluated_at
       WHERE (ffr_links.status, ffr_links.analysis_event_id, ffr_links.vessel_index, ffr_links.superseded_by,
              ffr_links.window_days)
             IS DISTINCT FROM
             (EXCLUDED.status, EXCLUDED.analysis_event_id, EXCLUDED.vessel_index, EXCLUDED.superseded_by,
              EXCLUDED.window_days)`,
      [this.windowDays],
    );
    return { keys, changed: history.rowCount ?? 0 };
  }
}
