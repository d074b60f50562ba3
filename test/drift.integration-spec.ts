import { INestApplication } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import request from 'supertest';
import { seedDriftData } from '../scripts/drift-seed';
import { runAsSystem } from '../src/database/tenant-context';
import { DEFAULT_DRIFT_CONFIGURATION } from '../src/drift/drift-config';
import { DriftEvaluationService, EvaluationView } from '../src/drift/drift-evaluation.service';
import { DriftEvaluationJob } from '../src/drift/drift.job';
import { registerFleet, RegisteredFleet, startApp } from './helpers/app';
import { isolatedEnvironment, TEST_ADMIN_TOKEN, TEST_DATABASE_URL } from './helpers/test-environment';

/*
 * Drift monitoring end to end (issue 4 §1–5) on field data generated in SQL (scripts/drift-seed.ts; the Kafka path is
 * tested elsewhere): three sites, 180 days, a period reference (days −180 … −90), and two injected drifts in the last
 * 25 days — heart rate +15 bpm at site 2 (an input drift), a +0.06 residual bias in the labels at site 3 (accuracy
 * drift with no input or output change). The evaluation must flag exactly those, store its snapshot and evidence,
 * keep one alert per ongoing drift across runs, audit acknowledge/resolve with reasons, re-run the charts when late
 * labels arrive, and refuse another tenant.
 */
const DAY = 86_400_000;
const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

describe('drift monitoring: reference windows, calibrated monitors, alerts', () => {
  const environment = { ...isolatedEnvironment('drift'), FW_PROCESS_ROLE: 'api' };
  const run = randomUUID().slice(0, 6);
  let app: INestApplication;
  let server: ReturnType<INestApplication['getHttpServer']>;
  let database: Client;
  let fleet: RegisteredFleet;
  let other: RegisteredFleet;
  let qualityKey = '';
  let auditorKey = '';
  const now = new Date();
  const sites = [`DR1-${run}`, `DR2-${run}`, `DR3-${run}`];
  let first: EvaluationView;

  beforeAll(async () => {
    app = await startApp(environment);
    server = app.getHttpServer();
    database = new Client({ connectionString: TEST_DATABASE_URL });
    await database.connect();
    fleet = await registerFleet(
      app,
      `Drift-${run}`,
      sites.map((siteId, i) => ({ siteId, devices: [`DRD${i}-${run}`], dataSources: [] })),
    );
    other = await registerFleet(app, `Drift-other-${run}`, []);
    for (const [role, assign] of [
      ['quality', (k: string) => (qualityKey = k)],
      ['auditor', (k: string) => (auditorKey = k)],
    ] as const) {
      const issued = await request(server)
        .post('/api/v1/api-keys')
        .set(bearer(TEST_ADMIN_TOKEN))
        .send({ manufacturerId: fleet.manufacturerId, role, name: `${role} key` })
        .expect(201);
      assign(issued.body.key as string);
    }
    const devices = await database.query<{ id: string; site_id: string; device_code: string }>(
      `SELECT id::text AS id, site_id::text AS site_id, device_code FROM devices WHERE product_id = $1 ORDER BY device_code`,
      [fleet.productId],
    );
    await seedDriftData(database, {
      manufacturerId: fleet.manufacturerId,
      productId: fleet.productId,
      modelVersion: 'ffrnet-2025.1',
      sites: devices.rows.map((d, i) => ({
        siteId: d.site_id,
        deviceId: d.id,
        scannerVendor: i === 0 ? 'Siemens' : 'GE',
      })),
      from: new Date(now.getTime() - 180 * DAY),
      to: new Date(now.getTime() - 60_000),
      analyses: 16_200,
      seed: 7,
      offsetBase: 1_000_000_000,
      heartRateShift: { site: 1, from: new Date(now.getTime() - 25 * DAY), bpm: 15 },
      residualBias: { site: 2, from: new Date(now.getTime() - 25 * DAY), bias: 0.06 },
    });
  });

  afterAll(async () => {
    await database?.end();
    await app?.close();
  });

  it('refuses an invalid reference dataset with 400 and line numbers, and imports a valid one', async () => {
    const bad = [
      'caseId,status,vessel,ctFfr,invasiveFfr,heartRateBpm,sex',
      'c1,completed,LAD,0.74,0.71,64,F',
      'c1,completed,LCX,0.91,,70,F', // heart rate differs within the case
      'c2,completed,RCA,1.4,,61,M', // CT-FFR out of range
      'c3,rejected,,,,58,Q', // unknown sex
    ].join('\n');
    const refused = await request(server)
      .post('/api/v1/drift/reference-windows/dataset')
      .query({ productId: fleet.productId, label: 'pivotal' })
      .set({ ...bearer(qualityKey), 'Content-Type': 'text/csv' })
      .send(bad)
      .expect(400);
    expect(refused.body.message).toEqual([
      'line 3: case c1 differs from its first row (line 2) in heartRateBpm',
      'line 4: ctFfr "1.4" must be a number in [0, 1]',
      'line 5: sex "Q" must be one of F, M, X',
    ]);
    expect(refused.body).not.toHaveProperty('stack');

    const unknownColumn = await request(server)
      .post('/api/v1/drift/reference-windows/dataset')
      .query({ productId: fleet.productId, label: 'pivotal' })
      .set({ ...bearer(qualityKey), 'Content-Type': 'text/csv' })
      .send('caseId,ctFfr,heartrate\nc1,0.8,60\n')
      .expect(400);
    expect(unknownColumn.body.message[0]).toMatch(
      /^line 1: unknown column\(s\) heartrate; expected caseId, /,
    );

    const rows = ['caseId,status,vessel,ctFfr,invasiveFfr,heartRateBpm,sex,scannerVendor'];
    for (let i = 0; i < 60; i++) {
      rows.push(
        `k${i},completed,LAD,${(0.6 + (i % 35) / 100).toFixed(2)},${(0.62 + (i % 33) / 100).toFixed(2)},${55 + (i % 20)},${i % 3 ? 'M' : 'F'},GE`,
      );
    }
    rows.push('k60,rejected,,,,88,M,GE');
    const imported = await request(server)
      .post('/api/v1/drift/reference-windows/dataset')
      .query({ productId: fleet.productId, label: 'Pivotal trial', modelVersion: undefined })
      .set({ ...bearer(qualityKey), 'Content-Type': 'text/csv' })
      .send(rows.join('\r\n'))
      .expect(201);
    expect(imported.body).toMatchObject({
      kind: 'dataset',
      cases: 61,
      vessels: 60,
      labelledVessels: 60,
      active: true,
    });
    expect(imported.body.sourceSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(imported.body.summary.numeric.heartRate.counts.reduce((a: number, b: number) => a + b, 0)).toBe(
      61,
    );
    const stored = await database.query(
      `SELECT count(*)::int AS n FROM drift_reference_cases WHERE reference_id = $1`,
      [imported.body.id],
    );
    expect(stored.rows[0].n).toBe(61);
  });

  it('replaces the dataset with a period reference of the product’s own first three months', async () => {
    const created = await request(server)
      .post('/api/v1/drift/reference-windows/period')
      .set(bearer(qualityKey))
      .send({
        productId: fleet.productId,
        label: 'First three months',
        from: new Date(now.getTime() - 180 * DAY).toISOString(),
        to: new Date(now.getTime() - 90 * DAY).toISOString(),
      })
      .expect(201);
    expect(created.body.kind).toBe('period');
    expect(created.body.cases).toBeGreaterThan(7000);
    expect(created.body.summary.numeric.heartRate.edges.length).toBeGreaterThan(5);
    expect(created.body.summary.residuals.n).toBeGreaterThan(1000);
    const listed = await request(server)
      .get('/api/v1/drift/reference-windows')
      .query({ productId: fleet.productId })
      .set(bearer(auditorKey))
      .expect(200);
    const [newest, replaced] = listed.body.items;
    expect(newest.id).toBe(created.body.id);
    expect(replaced).toMatchObject({ kind: 'dataset', active: false, replacedBy: created.body.id });
  });

  it('flags the injected heart-rate drift and the accuracy drift, and nothing at the site without drift', async () => {
    const response = await request(server)
      .post('/api/v1/drift/evaluations')
      .set(bearer(qualityKey))
      .send({ productId: fleet.productId })
      .expect(200);
    first = response.body as EvaluationView;
    const alarms = first.results
      .filter((r) => r.alarm)
      .map((r) => `${r.monitorId} ${r.segment.kind}:${r.segment.key}`);
    console.log(`drift evaluation alarms: ${alarms.join(', ')}`);
    expect(alarms).toContain(`input.heartRate site:${sites[1]}`);
    expect(alarms).toContain(`accuracy.biasCusum site:${sites[2]}`);
    expect(alarms.filter((a) => a.endsWith(`site:${sites[0]}`))).toEqual([]);
    expect(alarms.filter((a) => a.startsWith('operations.') || a.startsWith('output.'))).toEqual([]);

    const hr = first.results.find((r) => r.monitorId === 'input.heartRate' && r.segment.key === sites[1])!;
    expect(hr.n.current).toBeGreaterThan(500);
    expect(hr.n.reference).toBeGreaterThan(2000);
    // Compared with the site's own reference period, not the pooled one (sites differ in case mix by nature).
    expect(hr.evidence.reference).toMatchObject({ kind: 'period', scope: 'segment' });
    expect(hr.evidence).toMatchObject({ test: 'chiSquare', method: 'chi-square-approximation' });
    expect(hr.pValue!).toBeLessThan(hr.evidence.alpha as number);
    // The level is the batch budget's share: family α over the tests actually run (Bonferroni).
    const batch = first.budget.batch as {
      familyAlpha: number;
      totalTests: number;
      achievedFamilyAlpha: number;
      allocations: Array<{ id: string; segments: number; alphaPerTest: number }>;
    };
    expect(batch.familyAlpha).toBe(DEFAULT_DRIFT_CONFIGURATION.batch.familyAlpha);
    // Weights: family α × w/Σw per test (the CT-FFR location monitor has 10 shares, the others 1).
    const weightOf = (id: string): number =>
      DEFAULT_DRIFT_CONFIGURATION.monitors.find((m) => m.id === id)?.weight ?? 1;
    const shares = batch.allocations.reduce((acc, a) => acc + a.segments * weightOf(a.id), 0);
    expect(hr.evidence.alpha).toBeCloseTo((batch.familyAlpha * weightOf('input.heartRate')) / shares, 12);
    expect(batch.achievedFamilyAlpha).toBeLessThanOrEqual(batch.familyAlpha + 1e-12);

    const cusum = first.results.find(
      (r) => r.monitorId === 'accuracy.biasCusum' && r.segment.key === sites[2],
    )!;
    const design = (
      cusum.evidence as {
        design: { h: number; k: number; falseAlarmProbability: { target: number; achieved: number } };
      }
    ).design;
    // Designed for the estimated baseline (src/stats/chart-calibration.ts): k as configured, h such that the false-alarm
    // probability within the chart's horizon, averaged over the reference's estimation error, is the budget's.
    expect(design.k).toBe(0.25);
    const budget = (cusum.evidence as { budget: { arl0Target: number; horizon: number } }).budget;
    expect(design.falseAlarmProbability.target).toBeCloseTo(
      -Math.expm1(-budget.horizon / budget.arl0Target),
      12,
    );
    expect(design.falseAlarmProbability.achieved).toBeLessThanOrEqual(design.falseAlarmProbability.target);
    expect(cusum.threshold).toBeCloseTo(design.h, 12);

    // The CT-FFR location chart on every completed vessel (no CT-FFR drift was injected: the residual bias at site 3 is
    // in the invasive FFR): it runs at every site, in the sequential budget, and counts exactly the completed vessels
    // of its site since the reference's monitoring start, per day (drift-queries.ts dailyCtFfrCells, checked here
    // against a count of the rows).
    const location = first.results.filter((r) => r.monitorId === 'output.ctFfrLocationCusum');
    for (const site of sites) {
      const chart = location.find((r) => r.segment.kind === 'site' && r.segment.key === site)!;
      expect(chart.estimable).toBe(true);
      expect(chart.alarm).toBe(false);
      const [expected] = (
        await database.query<{ vessels: number; days: number }>(
          `SELECT count(*)::int AS vessels, count(DISTINCT (a.occurred_at AT TIME ZONE 'UTC')::date)::int AS days
             FROM analyses a
             JOIN analysis_vessels v ON v.analysis_event_id = a.event_id
             JOIN sites s ON s.id = a.site_id
             JOIN drift_reference_windows w ON w.product_id = a.product_id AND w.active
            WHERE a.product_id = $1 AND s.site_code = $2 AND a.status = 'completed' AND v.ct_ffr IS NOT NULL
              AND a.occurred_at >= (w.monitor_from AT TIME ZONE 'UTC')::date AT TIME ZONE 'UTC'
              AND a.occurred_at < $3::timestamptz`,
          [fleet.productId, site, first.window.to],
        )
      ).rows;
      expect(chart.n.current).toBe(expected.vessels);
      expect(chart.evidence.days).toBe(expected.days);
      const evidence = chart.evidence as {
        design: { h: number; k: number; falseAlarmProbability: { target: number; achieved: number } };
        budget: { arl0Target: number; horizon: number };
        streamMeanScore: number;
      };
      expect(evidence.design.k).toBe(0.15);
      expect(evidence.design.falseAlarmProbability.target).toBeCloseTo(
        -Math.expm1(-evidence.budget.horizon / evidence.budget.arl0Target),
        12,
      );
      expect(evidence.design.falseAlarmProbability.achieved).toBeLessThanOrEqual(
        evidence.design.falseAlarmProbability.target,
      );
      expect(chart.threshold).toBeCloseTo(evidence.design.h, 12);
    }
    const sequential = first.budget.sequential as { allocations: Array<{ id: string; segments: number }> };
    expect(
      sequential.allocations.find((a) => a.id === 'output.ctFfrLocationCusum')?.segments,
    ).toBeGreaterThanOrEqual(sites.length + 1);

    // Snapshot stored, readable by an auditor, with the configuration hash and the high-water mark.
    const snapshot = await request(server)
      .get(`/api/v1/drift/evaluations/${first.id}`)
      .set(bearer(auditorKey))
      .expect(200);
    expect(snapshot.body.configuration.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(snapshot.body.highWater.analyses).toBe(16_200);
    expect(snapshot.body.results).toHaveLength(first.results.length);
  });

  it('keeps one alert per ongoing drift across runs (hysteresis), with its evidence', async () => {
    const open = await request(server)
      .get('/api/v1/drift/alerts')
      .query({ productId: fleet.productId, status: 'open' })
      .set(bearer(auditorKey))
      .expect(200);
    const hrAlert = open.body.items.find(
      (a: { monitorId: string; segment: { key: string } }) =>
        a.monitorId === 'input.heartRate' && a.segment.key === sites[1],
    );
    expect(hrAlert).toBeDefined();
    expect(hrAlert.evidence).toMatchObject({
      evaluationId: first.id,
      windowSizes: { reference: expect.any(Number), current: expect.any(Number) },
      configuration: { version: 0, hash: expect.stringMatching(/^[0-9a-f]{64}$/) },
      highWater: { analyses: 16_200 },
    });
    expect(typeof hrAlert.evidence.statistic).toBe('number');
    expect(typeof hrAlert.evidence.threshold).toBe('number');

    const second = await runAsSystem(() =>
      app.get(DriftEvaluationService).evaluateProduct(fleet.productId, new Date()),
    );
    expect(second.alerts.opened).toEqual([]);
    expect(second.alerts.updated).toContain(hrAlert.id);
    const again = await request(server)
      .get(`/api/v1/drift/alerts/${hrAlert.id}`)
      .set(bearer(auditorKey))
      .expect(200);
    expect(again.body).toMatchObject({
      status: 'open',
      condition: 'active',
      signalRuns: 2,
      openedEvaluationId: first.id,
    });
    expect(again.body.lastSignalEvaluationId).toBe(second.id);
    const count = await database.query(
      `SELECT count(*)::int AS n FROM drift_alerts WHERE product_id = $1 AND monitor_id = 'input.heartRate'
          AND segment_key = $2`,
      [fleet.productId, sites[1]],
    );
    expect(count.rows[0].n).toBe(1);
  });

  it('acknowledges and resolves with a reason, in the audit trail; snapshots are append-only', async () => {
    const alerts = await request(server)
      .get('/api/v1/drift/alerts')
      .query({ productId: fleet.productId })
      .set(bearer(qualityKey))
      .expect(200);
    const alert = alerts.body.items[0];
    await request(server)
      .post(`/api/v1/drift/alerts/${alert.id}/acknowledge`)
      .set(bearer(qualityKey))
      .send({})
      .expect(400);
    await request(server)
      .post(`/api/v1/drift/alerts/${alert.id}/acknowledge`)
      .set(bearer(auditorKey))
      .send({ reason: 'looking' })
      .expect(403);
    const acknowledged = await request(server)
      .post(`/api/v1/drift/alerts/${alert.id}/acknowledge`)
      .set(bearer(qualityKey))
      .send({ reason: 'Site contacted about its protocol' })
      .expect(200);
    expect(acknowledged.body.status).toBe('acknowledged');
    const resolved = await request(server)
      .post(`/api/v1/drift/alerts/${alert.id}/resolve`)
      .set(bearer(qualityKey))
      .send({ reason: 'Beta-blocker protocol restored at the site' })
      .expect(200);
    expect(resolved.body.resolved.reason).toBe('Beta-blocker protocol restored at the site');
    await request(server)
      .post(`/api/v1/drift/alerts/${alert.id}/resolve`)
      .set(bearer(qualityKey))
      .send({ reason: 'again' })
      .expect(409);
    const audit = await database.query(
      `SELECT action, reason FROM audit_log WHERE entity_id = $1 ORDER BY id`,
      [alert.id],
    );
    expect(audit.rows).toEqual([
      { action: 'drift_alert.open', reason: null },
      { action: 'drift_alert.acknowledge', reason: 'Site contacted about its protocol' },
      { action: 'drift_alert.resolve', reason: 'Beta-blocker protocol restored at the site' },
    ]);
    await expect(database.query(`DELETE FROM drift_evaluations WHERE id = $1`, [first.id])).rejects.toThrow(
      /append-only/,
    );
  });

  it('re-runs the accuracy charts when late labels arrive, keeping the earlier snapshot', async () => {
    const job = app.get(DriftEvaluationJob);
    // The job spans every product of the database, which other test files share: this product's entries only.
    const ours = (products: Array<{ productId: string }>) =>
      products.filter((product) => product.productId === fleet.productId);
    const unchanged = await job.runLateLabels(new Date());
    expect(ours(unchanged.products)).toEqual([]);
    // Late invasive FFR for vessels analysed in the window at site 1.
    await database.query(
      `INSERT INTO performance_linked_vessels (product_id, day, analysis_event_id, vessel_index, manufacturer_id,
                                              site_id, model_version, scanner_vendor, vessel, ct_ffr, invasive_ffr)
       SELECT a.product_id, (a.occurred_at AT TIME ZONE 'UTC')::date, a.event_id, v.vessel_index, a.manufacturer_id,
              a.site_id, a.model_version, a.scanner_vendor, v.vessel, v.ct_ffr::text::float8, v.ct_ffr::text::float8 - 0.01
         FROM analyses a JOIN analysis_vessels v ON v.analysis_event_id = a.event_id
         JOIN sites s ON s.id = a.site_id
        WHERE a.product_id = $1 AND s.site_code = $2 AND a.occurred_at > now() - interval '20 days'
        ON CONFLICT DO NOTHING`,
      [fleet.productId, sites[0]],
    );
    const rerun = await job.runLateLabels(new Date());
    expect(rerun.ran).toBe(true);
    expect(ours(rerun.products)).toEqual([
      { productId: fleet.productId, evaluationId: expect.any(String), alarms: expect.any(Number) },
    ]);
    const evaluations = await request(server)
      .get('/api/v1/drift/evaluations')
      .query({ productId: fleet.productId })
      .set(bearer(auditorKey))
      .expect(200);
    const [latest] = evaluations.body.items;
    expect(latest).toMatchObject({ trigger: 'late_labels', scope: 'accuracy' });
    expect(latest.supersedes).toBe(evaluations.body.items[1].id);
    expect(evaluations.body.items.map((e: { id: string }) => e.id)).toContain(first.id);
    const snapshot = await request(server)
      .get(`/api/v1/drift/evaluations/${latest.id}`)
      .set(bearer(auditorKey));
    expect(new Set(snapshot.body.results.map((r: { family: string }) => r.family))).toEqual(
      new Set(['accuracy']),
    );
    expect(latest.highWater.labelledVessels).toBeGreaterThan(first.highWater.labelledVessels);
  });

  it('versions the configuration (validated, hashed, audited) and uses it in the next evaluation', async () => {
    const current = await request(server)
      .get('/api/v1/drift/monitors')
      .query({ productId: fleet.productId })
      .set(bearer(auditorKey))
      .expect(200);
    expect(current.body.items[0]).toMatchObject({ version: 0, configuration: DEFAULT_DRIFT_CONFIGURATION });
    const invalid = await request(server)
      .put('/api/v1/drift/monitors')
      .set(bearer(qualityKey))
      .send({
        productId: fleet.productId,
        reason: 'try',
        configuration: {
          ...DEFAULT_DRIFT_CONFIGURATION,
          batch: { ...DEFAULT_DRIFT_CONFIGURATION.batch, familyAlpha: 2 },
        },
      })
      .expect(400);
    expect(JSON.stringify(invalid.body.message)).toContain('/batch/familyAlpha');
    const changed = {
      ...DEFAULT_DRIFT_CONFIGURATION,
      windowDays: 28,
      monitors: DEFAULT_DRIFT_CONFIGURATION.monitors.filter((m) => m.family !== 'operations'),
    };
    const put = await request(server)
      .put('/api/v1/drift/monitors')
      .set(bearer(qualityKey))
      .send({
        productId: fleet.productId,
        reason: 'PMS plan rev. B: four-week windows',
        configuration: changed,
      })
      .expect(200);
    expect(put.body.version).toBe(1);
    expect(put.body.configurationHash).not.toBe(current.body.items[0].configurationHash);
    const evaluation = await runAsSystem(() =>
      app.get(DriftEvaluationService).evaluateProduct(fleet.productId, new Date()),
    );
    expect(evaluation.configuration).toEqual({ version: 1, hash: put.body.configurationHash });
    expect(evaluation.results.some((r) => r.monitorId.startsWith('operations.'))).toBe(false);
    const audit = await database.query(
      `SELECT reason FROM audit_log WHERE action = 'drift_configuration.update' AND entity_id = $1`,
      [fleet.productId],
    );
    expect(audit.rows.map((r) => r.reason)).toEqual(['PMS plan rev. B: four-week windows']);
  });

  it('shows another tenant nothing: 404 for its product, alerts and evaluations', async () => {
    const alerts = await database.query(
      `SELECT id::text AS id FROM drift_alerts WHERE product_id = $1 LIMIT 1`,
      [fleet.productId],
    );
    const intruder = bearer(other.manufacturerKey);
    await request(server)
      .get('/api/v1/drift/alerts')
      .query({ productId: fleet.productId })
      .set(intruder)
      .expect(404);
    await request(server).get(`/api/v1/drift/alerts/${alerts.rows[0].id}`).set(intruder).expect(404);
    await request(server).get(`/api/v1/drift/evaluations/${first.id}`).set(intruder).expect(404);
    await request(server)
      .post(`/api/v1/drift/alerts/${alerts.rows[0].id}/resolve`)
      .set(intruder)
      .send({ reason: 'x' })
      .expect(404);
    await request(server)
      .post('/api/v1/drift/evaluations')
      .set(intruder)
      .send({ productId: fleet.productId })
      .expect(404);
    const own = await request(server).get('/api/v1/drift/monitors').set(intruder).expect(200);
    expect(own.body.items.map((i: { productId: string }) => i.productId)).toEqual([other.productId]);
  });
});
