import { INestApplication } from '@nestjs/common';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Client } from 'pg';
import request from 'supertest';
import { ensureTopics } from '../scripts/kafka-admin';
import { allTopics, topicsFor } from '../src/kafka/topics';
import { parseSimulatorArgs, runSimulator } from '../src/simulator';
import { ingestionStatsByTopic, startApp } from './helpers/app';
import { pollUntil } from './helpers/poll';
import {
  isolatedEnvironment,
  TEST_ADMIN_TOKEN,
  TEST_DATABASE_URL,
  TEST_KAFKA_BROKERS,
} from './helpers/test-environment';

/**
 * Issue 5, "done when": a simulator scenario that injects a cluster of missed-ischaemia cases at one site produces the
 * expected candidates, serious-incident escalations and a trend signal; a control scenario produces no trend signal.
 *
 * Both runs go through the simulator's own registration, real Kafka, ingestion and linkage, then POST
 * /incidents/detections. Device codes are global, so both runs use the same simulated tenant, product and fleet, in
 * two disjoint years (2022 and 2023: performance-truth owns the first half of 2025 of this shared tenant, and the
 * simulator test the months before today): the control (no injection) in 2022 with baseline 2022-01..03, then the injected run in 2023 with
 * baseline 2023-01..03 and `--site-bias SH-RJ:2023-04-01:+0.2` (every vessel at SH-RJ reads 0.2 higher from April, so
 * most true-ischaemic vessels read > 0.80). The method is re-specified (PUT /vigilance/methods) between the runs.
 *
 * Both runs use `--referral-if-negative 1` (verify-everyone): missed ischaemia is detectable only where CT-negative
 * patients get an invasive FFR, which routine care (8%) rarely does.
 *
 * Expected candidates are computed from the linked pairs in the database with the product threshold, independently of
 * the detection service; escalations from the clinical events of the same patients within the window.
 */
const THRESHOLD = 0.8;
const WINDOW_DAYS = 365;
const INJECTED_SITE = 'SH-RJ';

describe('vigilance detection on a simulated missed-ischaemia cluster', () => {
  const environment = isolatedEnvironment('detection');
  const topics = topicsFor(environment.KAFKA_TOPIC_PREFIX);
  const stateDirectory = mkdtempSync(join(tmpdir(), 'fw-detection-'));
  let app: INestApplication;
  let apiUrl: string;
  let database: Client;
  let qualityKey = '';
  let manufacturerId = '';
  let productId = '';

  beforeAll(async () => {
    await ensureTopics(TEST_KAFKA_BROKERS.split(','), allTopics(topics), 3);
    database = new Client({ connectionString: TEST_DATABASE_URL });
    await database.connect();
    app = await startApp({
      ...environment,
      FW_IMDRF_CODE_TABLE: '/work/shared/reference/imdrf/imdrf_aet_2023.json',
    });
    await app.listen(0, '127.0.0.1');
    apiUrl = await app.getUrl();
  });

  afterAll(async () => {
    await app?.close();
    await database?.end();
    rmSync(stateDirectory, { recursive: true, force: true });
  });

  const server = () => app.getHttpServer();
  const bearer = () => ({ Authorization: `Bearer ${qualityKey}` });

  async function simulate(seed: string, start: string, extra: string[]) {
    const options = parseSimulatorArgs(
      [
        '--api-url',
        apiUrl,
        '--brokers',
        TEST_KAFKA_BROKERS,
        '--topic-prefix',
        environment.KAFKA_TOPIC_PREFIX,
        '--state-file',
        join(stateDirectory, 'state.json'),
        '--seed',
        seed,
        '--start',
        start,
        '--months',
        '6',
        '--sites',
        '2',
        '--volume-scale',
        '1',
        '--streams',
        'analyses,outcomes',
        // A verify-everyone protocol (both runs): every CT-FFR-negative patient is wired too. At the routine 8% most
        // misses stay invisible, and the cluster would rise only ≈ 1.8× in what can be detected at all.
        '--referral-if-negative',
        '1',
        '--as-fast-as-possible',
        '--quiet',
        ...extra,
      ],
      { FW_BOOTSTRAP_ADMIN_TOKEN: TEST_ADMIN_TOKEN },
      Date.now(),
    );
    const { summary } = (await runSimulator(options, {
      stdout: new PassThrough(),
      stderr: new PassThrough(),
      stderrIsTty: false,
      stop: new AbortController().signal,
    })) as unknown as {
      summary: {
        topics: Record<string, { genuine: number }>;
        registration: { productId: string; manufacturerId: string };
      };
    };
    // Counters are cumulative across runs: wait until this run's messages are stored on top of what was there.
    await pollUntil(
      () => ingestionStatsByTopic(server()),
      (stats) =>
        Object.entries(summary.topics).every(
          ([topic, sent]) => (stats[topic]?.stored ?? 0) >= sent.genuine + (storedBefore[topic] ?? 0),
        ),
      { timeoutMs: 120_000, intervalMs: 500, what: 'the platform to store every simulated event' },
    );
    for (const [topic, counters] of Object.entries(await ingestionStatsByTopic(server())))
      storedBefore[topic] = counters.stored;
    // Linkage inbox race workaround, as in performance-truth.integration-spec.ts: re-queue once everything is stored.
    const pending = async () =>
      (await database.query<{ count: number }>('SELECT count(*)::int AS count FROM linkage_pending')).rows[0]
        .count;
    await pollUntil(pending, (count) => count === 0, { what: 'the linkage inbox to empty' });
    await database.query(
      `INSERT INTO linkage_pending (site_id, patient_key)
       SELECT DISTINCT site_id, patient_key FROM outcomes WHERE manufacturer_id = $1 AND type = 'invasive_ffr'
       ON CONFLICT DO NOTHING`,
      [summary.registration.manufacturerId],
    );
    await pollUntil(pending, (count) => count === 0, { what: 'the re-queued linkage to finish' });
    return summary;
  }
  const storedBefore: Record<string, number> = {};

  async function specify(baseline: { from: string; to: string }) {
    await request(server())
      .put('/api/v1/vigilance/methods')
      .set(bearer())
      .send({
        productId,
        detection: { seriousOutcomeWindowDays: WINDOW_DAYS },
        trend: { baseline, unit: 'rule', groupBy: 'site', rules: ['ctffr-false-negative'], alpha: 0.01 },
        reason: 'PMS plan: trend method for the scenario period',
      })
      .expect(200);
  }

  /** FN and FP linked pairs of the product in a period, from the database (independent of the detection service). */
  async function expectedFromPairs(from: string, to: string) {
    const { rows } = await database.query<{ kind: string; site: string; serious: boolean; count: number }>(
      `SELECT CASE WHEN l.ct_ffr > $2::real THEN 'fn' ELSE 'fp' END AS kind, s.site_code AS site,
              (l.ct_ffr > $2::real AND EXISTS (
                 SELECT 1 FROM outcomes o WHERE o.site_id = l.site_id AND o.patient_key = l.patient_key
                    AND o.type = 'clinical_event'
                    AND o.clinical_event IN ('death', 'cardiac_death', 'myocardial_infarction', 'urgent_revascularization')
                    AND o.occurred_at >= date_trunc('day', l.analysis_occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                    AND o.occurred_at <= l.analysis_occurred_at + make_interval(days => $5))) AS serious,
              count(*)::int AS count
         FROM ffr_links l JOIN analyses a ON a.event_id = l.analysis_event_id JOIN sites s ON s.id = l.site_id
        WHERE l.status = 'linked' AND a.product_id = $1 AND l.analysis_occurred_at >= $3 AND l.analysis_occurred_at < $4
          AND ((l.ct_ffr > $2::real AND l.invasive_ffr <= $2::real) OR (l.ct_ffr <= $2::real AND l.invasive_ffr > $2::real))
        GROUP BY 1, 2, 3`,
      [productId, THRESHOLD, from, to, WINDOW_DAYS],
    );
    return rows;
  }

  async function detectionsOf(from: string, to: string) {
    const { rows } = await database.query<{
      rule_id: string;
      site: string;
      seriousness: string;
      count: number;
    }>(
      `SELECT d.rule_id, s.site_code AS site, i.seriousness, count(*)::int AS count
         FROM incident_detections d JOIN incidents i ON i.id = d.incident_id LEFT JOIN sites s ON s.id = d.site_id
        WHERE d.product_id = $1 AND d.subject_at >= $2 AND d.subject_at < $3 AND d.rule_id LIKE 'ctffr-%'
        GROUP BY 1, 2, 3`,
      [productId, from, to],
    );
    return rows;
  }

  const sum = (rows: Array<{ count: number }>) => rows.reduce((total, row) => total + row.count, 0);

  it('control year: candidates for every FN/FP pair, no trend signal; injected year: the cluster, escalations and a signal', async () => {
    // ── control: 2022, no injection ─────────────────────────────────────────────────────────────
    const control = await simulate('detection-control', '2022-01-01', []);
    productId = control.registration.productId;
    manufacturerId = control.registration.manufacturerId;
    const key = await request(server())
      .post('/api/v1/api-keys')
      .set({ Authorization: `Bearer ${TEST_ADMIN_TOKEN}` })
      .send({ manufacturerId, role: 'quality', name: 'detection scenario' })
      .expect(201);
    qualityKey = key.body.key;
    await specify({ from: '2022-01', to: '2022-03' });

    const first = await request(server())
      .post('/api/v1/incidents/detections')
      .set(bearer())
      .send({ productId })
      .expect(200);
    expect(first.body.ran).toBe(true);
    const pairs2022 = await expectedFromPairs('2022-01-01', '2023-01-01');
    const found2022 = await detectionsOf('2022-01-01', '2023-01-01');
    const fn2022 = pairs2022.filter((p) => p.kind === 'fn');
    expect(sum(found2022.filter((d) => d.rule_id !== 'ctffr-false-positive-invasive'))).toBe(sum(fn2022));
    expect(sum(found2022.filter((d) => d.rule_id === 'ctffr-false-negative-serious-outcome'))).toBe(
      sum(fn2022.filter((p) => p.serious)),
    );
    expect(sum(found2022.filter((d) => d.rule_id === 'ctffr-false-positive-invasive'))).toBe(
      sum(pairs2022.filter((p) => p.kind === 'fp')),
    );
    const controlTrends = await request(server())
      .get('/api/v1/vigilance/trends')
      .query({ productId, to: '2022-12' })
      .set(bearer())
      .expect(200);
    expect(controlTrends.body.cells.length).toBeGreaterThan(0);
    expect(controlTrends.body.signals).toEqual([]);
    const storedControl = await database.query(
      'SELECT 1 FROM vigilance_trend_signals WHERE product_id = $1',
      [productId],
    );
    expect(storedControl.rowCount).toBe(0);

    // Idempotent: a second run opens nothing new.
    const again = await request(server())
      .post('/api/v1/incidents/detections')
      .set(bearer())
      .send({ productId })
      .expect(200);
    expect(again.body.products[0].incidentIds).toEqual([]);

    // ── injected: 2023, SH-RJ reads +0.2 from April ─────────────────────────────────────────────
    await simulate('detection-injected', '2023-01-01', ['--site-bias', `${INJECTED_SITE}:2023-04-01:+0.2`]);
    await specify({ from: '2023-01', to: '2023-03' });
    const run = await request(server())
      .post('/api/v1/incidents/detections')
      .set(bearer())
      .send({ productId })
      .expect(200);
    const pairs = await expectedFromPairs('2023-01-01', '2024-01-01');
    const found = await detectionsOf('2023-01-01', '2024-01-01');
    const fn = pairs.filter((p) => p.kind === 'fn');
    const fnAt = (site: string, rows: typeof fn) => sum(rows.filter((p) => p.site === site));
    // The cluster: FN pairs at the injected site from April outnumber the baseline quarter several times.
    const clusterPairs = await expectedFromPairs('2023-04-01', '2023-07-01');
    const baselinePairs = await expectedFromPairs('2023-01-01', '2023-04-01');
    const clusterFn = fnAt(
      INJECTED_SITE,
      clusterPairs.filter((p) => p.kind === 'fn'),
    );
    const baselineFn = fnAt(
      INJECTED_SITE,
      baselinePairs.filter((p) => p.kind === 'fn'),
    );
    console.log(
      `control 2022: ${sum(fn2022)} FN (${sum(fn2022.filter((p) => p.serious))} serious); ` +
        `2023: ${sum(fn)} FN (${sum(fn.filter((p) => p.serious))} serious), ${INJECTED_SITE} Q1 ${baselineFn} vs Q2 ${clusterFn}`,
    );
    expect(clusterFn).toBeGreaterThan(2 * baselineFn);
    // Every FN pair opened exactly one candidate: serious ones as escalations, with the seriousness of their events.
    expect(sum(found.filter((d) => d.rule_id !== 'ctffr-false-positive-invasive'))).toBe(sum(fn));
    expect(sum(found.filter((d) => d.rule_id === 'ctffr-false-negative-serious-outcome'))).toBe(
      sum(fn.filter((p) => p.serious)),
    );
    for (const row of found.filter((d) => d.rule_id === 'ctffr-false-negative-serious-outcome')) {
      expect(['death', 'serious_deterioration']).toContain(row.seriousness);
    }
    expect(run.body.products[0].trendSignalsCreated).toBeGreaterThan(0);

    // The trend signal: the injected site, in the injected months, nowhere else.
    const trends = await request(server())
      .get('/api/v1/vigilance/trends')
      .query({ productId, to: '2023-12' })
      .set(bearer())
      .expect(200);
    const signals = trends.body.signals as Array<{
      group: string;
      month: string;
      unit: string;
      pValue: number;
      signalId: string | null;
    }>;
    expect(signals.length).toBeGreaterThan(0);
    for (const signal of signals) {
      expect(signal.group).toBe(INJECTED_SITE);
      expect(signal.unit).toBe('ctffr-false-negative');
      expect(signal.month >= '2023-04' && signal.month <= '2023-06').toBe(true);
      expect(signal.signalId).not.toBeNull();
    }
    expect(trends.body.falseAlarm).toMatch(/family-wise/);

    // Exports: an escalated (or any FN) candidate as MIR JSON and XML, with no pseudonym or patient key.
    const { rows: incident } = await database.query<{ id: string }>(
      `SELECT d.incident_id::text AS id FROM incident_detections d WHERE d.product_id = $1 AND d.rule_id LIKE 'ctffr-false-negative%'
        ORDER BY d.rule_id DESC LIMIT 1`,
      [productId],
    );
    const mir = await request(server())
      .get(`/api/v1/incidents/${incident[0].id}/mir.json`)
      .set(bearer())
      .expect(200);
    expect(mir.body.mir.formVersion).toBe('7.3.1');
    expect(mir.body.mir.incident.deviceProblemCodes[0].code).toBe('A090803');
    expect(mir.body.mir.device.softwareVersion).toEqual(expect.any(String));
    expect(mir.body.notHeld).toContain('manufacturer.srn');
    expect(JSON.stringify(mir.body)).not.toMatch(/patient_?(key|ref)/i);
    const xml = await request(server())
      .get(`/api/v1/incidents/${incident[0].id}/mir.xml`)
      .set(bearer())
      .expect(200);
    expect(xml.headers['content-type']).toMatch(/application\/xml/);
    expect(xml.text).toContain('<manufacturerIncidentReport formVersion="7.3.1"');
    expect(xml.text.trim().endsWith('</manufacturerIncidentReport>')).toBe(true);

    const aggregates = await request(server())
      .get('/api/v1/vigilance/aggregates')
      .query({ productId })
      .set(bearer())
      .expect(200);
    expect(aggregates.body.window.months).toBe(12);
    expect(
      aggregates.body.rows.some(
        (row: { code: string; region: string }) => row.code === 'A090803' && row.region === 'CN',
      ),
    ).toBe(true);
  }, 600_000);
});
