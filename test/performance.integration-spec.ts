import { INestApplication } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Producer } from 'kafkajs';
import { Client } from 'pg';
import request from 'supertest';
import { ensureTopics } from '../scripts/kafka-admin';
import { allTopics, topicsFor } from '../src/kafka/topics';
import { registerFleet, RegisteredFleet, startApp } from './helpers/app';
import { analysisEvent, connectedProducer, invasiveFfrEvent, signedMessage } from './helpers/events';
import { pollUntil } from './helpers/poll';
import {
  isolatedEnvironment,
  TEST_ADMIN_TOKEN,
  TEST_DATABASE_URL,
  TEST_KAFKA_BROKERS,
} from './helpers/test-environment';

/**
 * The 500-vessel / 350-patient oracle fixture (src/stats/fixtures/roc-agreement-large-vessels.csv,
 * made by src/stats/fixtures/oracle/roc-agreement-dataset.R) goes the whole way: signed analyses and
 * invasive FFR over real Kafka, ingestion, linkage, GET /performance — and the API's figures must
 * equal what R (pROC, stats) computed on the CSV, to 1e-6.
 */
const fixtures = join(__dirname, '..', 'src', 'stats', 'fixtures');
const rocR = JSON.parse(readFileSync(join(fixtures, 'roc-oracle-r.json'), 'utf8')).large;
const agreementR = JSON.parse(readFileSync(join(fixtures, 'agreement-oracle-r.json'), 'utf8')).large;
const rows = readFileSync(join(fixtures, 'roc-agreement-large-vessels.csv'), 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((line) => {
    const [patient, vessel, ffr, ctffr] = line.split(',');
    return {
      patient,
      vessel: vessel as 'LAD' | 'LCX' | 'RCA' | 'LM',
      ffr: Number(ffr),
      ctffr: Number(ctffr),
    };
  });

/**
 * Every number the summary (roll-up) path prints must equal the full path's, to 1e-9. Strings (method texts) and
 * figures the summary leaves null (Obuchowski, clustered calibration, …) are skipped; the bootstrap intervals of the
 * verification-bias correction differ by design (vessels vs patients resampled).
 */
function expectSameNumbers(summary: unknown, full: unknown, path: string, mismatches: string[]): void {
  if (summary === null || typeof summary === 'string' || typeof summary === 'boolean') return;
  if (typeof summary === 'number') {
    if (typeof full !== 'number' || Math.abs(summary - full) > 1e-9)
      mismatches.push(`${path}: ${summary} vs ${String(full)}`);
    return;
  }
  if (Array.isArray(summary)) {
    summary.forEach((value, i) =>
      expectSameNumbers(value, (full as unknown[] | undefined)?.[i], `${path}[${i}]`, mismatches),
    );
    return;
  }
  for (const [key, value] of Object.entries(summary as Record<string, unknown>)) {
    if (key === 'methods' || key === 'bootstrap' || key === 'rollups') continue;
    expectSameNumbers(
      value,
      (full as Record<string, unknown> | undefined)?.[key],
      `${path}.${key}`,
      mismatches,
    );
  }
}

const near = (actual: number, expected: number) => expect(Math.abs(actual - expected)).toBeLessThan(1e-6);
const nearInterval = (actual: number[], expected: number[]) => {
  near(actual[0], expected[0]);
  near(actual[1], expected[1]);
};

describe('GET /api/v1/performance on the oracle fixture, end to end', () => {
  const environment = isolatedEnvironment('perf');
  const topics = topicsFor(environment.KAFKA_TOPIC_PREFIX);
  const run = environment.KAFKA_CONSUMER_GROUP.slice(-12);
  const site = `PERF-${run}`;
  const device = `PERF-DEV-${run}`;
  const cathLab = `PERF-CATH-${run}`;
  let app: INestApplication;
  let fleet: RegisteredFleet;
  let other: RegisteredFleet;
  let producer: Producer;

  beforeAll(async () => {
    await ensureTopics(TEST_KAFKA_BROKERS.split(','), allTopics(topics), 3);
    app = await startApp(environment);
    fleet = await registerFleet(app, `Perf-${run}`, [
      { siteId: site, devices: [device], dataSources: [cathLab] },
    ]);
    other = await registerFleet(app, `PerfOther-${run}`, [
      { siteId: `O-${site}`, devices: [], dataSources: [] },
    ]);
    ({ producer } = await connectedProducer(TEST_KAFKA_BROKERS));

    const byPatient = new Map<string, typeof rows>();
    for (const row of rows) byPatient.set(row.patient, [...(byPatient.get(row.patient) ?? []), row]);
    const analyses = [...byPatient.entries()].map(([patient, vessels], index) =>
      analysisEvent(device, site, {
        patientRef: `${run}-${patient}`,
        occurredAt: new Date(Date.UTC(2026, 0, 1) + index * 3_600_000).toISOString(),
        modelVersion: index % 2 === 0 ? 'ffrnet-2025.1' : 'ffrnet-2026.1',
        vessels: vessels.map((v) => ({ vessel: v.vessel, ctFfr: v.ctffr })),
      }),
    );
    const outcomes = [...byPatient.entries()].flatMap(([patient, vessels], index) =>
      vessels.map((v) =>
        invasiveFfrEvent(cathLab, site, `${run}-${patient}`, {
          measuredAt: new Date(Date.UTC(2026, 0, 15) + index * 3_600_000).toISOString(),
          vessel: v.vessel,
          segment: null,
          value: v.ffr,
        }),
      ),
    );
    // Outcomes first: linkage must not depend on arrival order.
    await producer.send({
      topic: topics.outcomes,
      messages: outcomes.map((event) => signedMessage(site, event, fleet.dataSources[cathLab])),
    });
    await producer.send({
      topic: topics.analyses,
      messages: analyses.map((event) => signedMessage(device, event, fleet.devices[device])),
    });
  });

  afterAll(async () => {
    await producer?.disconnect();
    await app?.close();
  });

  const performance = (query: Record<string, string>, key = fleet.manufacturerKey) =>
    request(app.getHttpServer())
      .get('/api/v1/performance')
      .query(query)
      .set({ Authorization: `Bearer ${key}` });

  it('equals the R oracle for the AUC, DeLong and Obuchowski intervals and Bland–Altman', async () => {
    const response = await pollUntil(
      async () => (await performance({ productId: fleet.productId }).expect(200)).body,
      (body) => body.linkage.linkedVessels === rows.length,
      { timeoutMs: 90_000, what: 'all 500 vessels to be linked' },
    );
    const overall = response.overall;
    // detail=auto: 500 linked vessels are few enough to read one by one.
    expect(response.detail).toBe('full');
    expect(overall.vessels).toBe(500);
    expect(overall.patients).toBe(rocR.patients);
    near(overall.auc.estimate, rocR.auc);
    nearInterval(overall.auc.ci95.delong, rocR.ciDelongCapped);
    nearInterval(
      overall.auc.ci95.obuchowski,
      rocR.obuchowski.ci ?? rocR.obuchowski.ciCapped ?? rocR.obuchowski.ciUncapped,
    );
    near(overall.blandAltman.bias, agreementR.classic.bias);
    near(overall.blandAltman.sd, agreementR.classic.sd);
    nearInterval(overall.blandAltman.loa, agreementR.classic.loa);
    nearInterval(overall.blandAltman.loaRepeated, agreementR.repeated2007.loa);
    // The charts block (performance-charts.ts): the drawn ROC curve's trapezoid area is the AUC printed beside it,
    // and the Bland–Altman density accounts for every pair without releasing a bin under k.
    const roc = response.charts.overall.rocCurve;
    near(roc.area, rocR.auc);
    near(roc.area, overall.auc.estimate);
    expect(roc.diseasedVessels).toBe(rocR.diseasedVessels);
    expect(roc.points[0]).toMatchObject({ cutOff: null, sensitivity: 0, falsePositiveRate: 0 });
    expect(roc.points[roc.points.length - 1]).toMatchObject({ sensitivity: 1, falsePositiveRate: 1 });
    const density = response.charts.overall.blandAltmanDensity;
    const binned = density.bins.map((bin: { vessels: number }) => bin.vessels);
    expect(Math.min(...binned)).toBeGreaterThanOrEqual(density.minimumCell);
    expect(binned.reduce((sum: number, n: number) => sum + n, 0) + density.withheldVessels).toBe(500);
    expect(overall.tp + overall.fn).toBe(rocR.diseasedVessels);
    expect(overall.sensitivity.n).toBe(rocR.diseasedVessels);
    expect(overall.sensitivity.ci95.cluster).toHaveLength(2);
    expect(response.claims.map((claim: { metric: string }) => claim.metric)).toEqual([
      'sensitivity',
      'specificity',
      'auc',
    ]);
    for (const claim of response.claims) expect(typeof claim.holds).toBe('boolean');
    expect(JSON.stringify(response)).not.toContain(run + '-P');
    // Every analysed vessel of this fixture was wired: nothing to correct, corrected = naive.
    expect(response.verificationBias).toMatchObject({
      analysedVessels: 500,
      verifiedVessels: 500,
      verifiedFraction: 1,
    });
    near(response.verificationBias.sensitivity.estimate, overall.sensitivity.estimate);
    near(response.verificationBias.specificity.estimate, overall.specificity.estimate);
    expect(overall.pearson.n).toBe(500);
    expect(overall.pearson.ci95[0]).toBeLessThan(overall.pearson.estimate);
    expect(overall.grayZone).toMatchObject({ low: 0.75, high: 0.8 });
  });

  it('groups by model version with per-version claims, and withholds thin groups', async () => {
    const response = (await performance({ productId: fleet.productId, groupBy: 'modelVersion' }).expect(200))
      .body;
    expect(response.groups.map((group: { key: string }) => group.key)).toEqual([
      'ffrnet-2025.1',
      'ffrnet-2026.1',
    ]);
    expect(response.groups[0].vessels + response.groups[1].vessels).toBe(500);
    expect(response.groups[0].claims).toHaveLength(3);
    const narrow = (await performance({ productId: fleet.productId, to: '2026-01-01T03:00:00Z' }).expect(200))
      .body;
    expect(narrow.overall.vessels).toBeLessThan(10);
    expect(narrow.overall.sensitivity).toMatchObject({ estimate: null, reason: 'insufficient_data' });
    expect(narrow.overall.auc).toMatchObject({ estimate: null, reason: 'insufficient_data' });
  });

  it('answers from the roll-ups (detail=summary) with the same figures, before and after the worker rebuilds them', async () => {
    const database = new Client({ connectionString: TEST_DATABASE_URL });
    await database.connect();
    const dirtySlices = async () =>
      Number(
        (
          await database.query('SELECT count(*) FROM performance_rollup_dirty WHERE product_id = $1', [
            fleet.productId,
          ])
        ).rows[0].count,
      );
    try {
      const rollupLock = `hashtextextended('performance_rollups:' || $1, 0)`;
      for (const phase of ['as computed at request time', 'from the rebuilt roll-ups']) {
        if (phase === 'as computed at request time') {
          // Hold the worker off this product, mark every day dirty and spoil the stored rows: only slices
          // computed from the base tables at request time can give the right answer now.
          await database.query(`SELECT pg_advisory_lock(${rollupLock})`, [fleet.productId]);
          await database.query(
            `INSERT INTO performance_rollup_dirty (product_id, day)
             SELECT DISTINCT product_id, (occurred_at AT TIME ZONE 'UTC')::date FROM analyses WHERE product_id = $1`,
            [fleet.productId],
          );
          await database.query('UPDATE performance_rollups SET tp = tp + 1000 WHERE product_id = $1', [
            fleet.productId,
          ]);
        } else {
          await database.query(`SELECT pg_advisory_unlock(${rollupLock})`, [fleet.productId]);
          await pollUntil(dirtySlices, (count) => count === 0, {
            timeoutMs: 60_000,
            what: 'roll-ups rebuilt',
          });
        }
        for (const groupBy of [undefined, 'site', 'modelVersion', 'vessel', 'month', 'quarter']) {
          const query = { productId: fleet.productId, ...(groupBy ? { groupBy } : {}) };
          const full = (await performance(query).expect(200)).body;
          const summary = (await performance({ ...query, detail: 'summary' }).expect(200)).body;
          expect(summary.detail).toBe('summary');
          if (phase === 'as computed at request time') {
            expect(summary.rollups.slicesComputedAtRequest).toBeGreaterThan(10);
          }
          const mismatches: string[] = [];
          expectSameNumbers(summary.overall, full.overall, 'overall', mismatches);
          expectSameNumbers(summary.verificationBias, full.verificationBias, 'verificationBias', mismatches);
          expect(summary.groups?.map((g: { key: string }) => g.key)).toEqual(
            full.groups?.map((g: { key: string }) => g.key),
          );
          (summary.groups ?? []).forEach((group: { key: string }, i: number) =>
            expectSameNumbers(group, full.groups[i], `groups[${group.key}]`, mismatches),
          );
          expect({ phase, groupBy, mismatches }).toEqual({ phase, groupBy, mismatches: [] });
          // Same vessels, same chart data (integer counts and the same sorted sums: exactly equal).
          expect(summary.charts).toEqual(full.charts);
        }
      }
      expect(await dirtySlices()).toBe(0);
    } finally {
      await database.end();
    }
    const summary = (await performance({ productId: fleet.productId, detail: 'summary' }).expect(200)).body;
    expect(summary.rollups.slicesComputedAtRequest).toBe(0);
    // And against R directly, as the full path.
    near(summary.overall.auc.estimate, rocR.auc);
    nearInterval(summary.overall.auc.ci95.delong, rocR.ciDelongCapped);
    nearInterval(summary.overall.blandAltman.loa, agreementR.classic.loa);
    nearInterval(summary.overall.blandAltman.loaRepeated, agreementR.repeated2007.loa);
    expect(summary.overall.auc.ci95.obuchowski).toBeNull();
    // The roll-ups are daily and kept at the product's threshold: anything else is a clear 400.
    await performance({ productId: fleet.productId, detail: 'summary', from: '2026-01-01T03:00:00Z' }).expect(
      400,
    );
    await performance({ productId: fleet.productId, detail: 'summary', threshold: '0.75' }).expect(400);
    const days = (
      await performance({
        productId: fleet.productId,
        detail: 'summary',
        from: '2026-01-02',
        to: '2026-01-05',
      }).expect(200)
    ).body;
    const daysFull = (
      await performance({ productId: fleet.productId, from: '2026-01-02', to: '2026-01-05' }).expect(200)
    ).body;
    expect(days.overall.vessels).toBe(daysFull.overall.vessels);
    expect(days.overall.vessels).toBeGreaterThan(0);
  });

  it("is scoped to the caller's tenant and role", async () => {
    await performance({ productId: fleet.productId }, other.manufacturerKey).expect(404);
    await performance({ productId: fleet.productId }, TEST_ADMIN_TOKEN).expect(403);
    await performance({ productId: 'not-a-uuid' }).expect(400);
    await performance({ productId: fleet.productId, groupBy: 'hospitalBed' }).expect(400);
  });
});
