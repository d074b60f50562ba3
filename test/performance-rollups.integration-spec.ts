import { INestApplication } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Pool, PoolClient } from 'pg';
import request from 'supertest';
import { seedPerformanceData } from '../scripts/performance-seed';
import {
  rebuildDirtySlices,
  SLICE_ROWS_AND_PAIRS_SQL,
  sliceParameters,
} from '../src/performance/performance-rollups';
import { registerFleet, RegisteredFleet, startApp } from './helpers/app';
import { isolatedEnvironment, TEST_DATABASE_URL } from './helpers/test-environment';

/*
 * detail=summary from maintained roll-ups (daily sums, monthly (CT-FFR, FFR) cells) must answer exactly what the same
 * request computes from scratch on the same rows. "From scratch" is the request path with every day of the product in
 * the dirty log: then no stored roll-up is read and every slice is computed from analyses, vessels and links in the
 * request's snapshot. Field data is generated in SQL (scripts/performance-seed.ts) over 400 days starting mid-month,
 * so periods cover whole years, whole months, partial months and mixes; then links are added and removed on a few days and the
 * worker's incremental update (old pairs out, new pairs in) must still agree with a scratch computation.
 */
const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

/** A node of EXPLAIN (FORMAT JSON). */
interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}
const FROM = new Date(Date.UTC(2024, 11, 10));
const DAYS = 400;

/** Numbers equal to 1e-12 relative (float sums in another order), everything else identical; `rollups` differs by design. */
function differences(actual: unknown, expected: unknown, path: string, found: string[]): void {
  if (typeof actual === 'number' && typeof expected === 'number') {
    if (Math.abs(actual - expected) > 1e-12 * Math.max(1, Math.abs(expected)))
      found.push(`${path}: ${actual} vs ${expected}`);
    return;
  }
  if (actual === null || typeof actual !== 'object' || expected === null || typeof expected !== 'object') {
    if (actual !== expected) found.push(`${path}: ${String(actual)} vs ${String(expected)}`);
    return;
  }
  const keys = new Set([...Object.keys(actual), ...Object.keys(expected)]);
  for (const key of keys) {
    if (key === 'rollups') continue;
    differences(
      (actual as Record<string, unknown>)[key],
      (expected as Record<string, unknown>)[key],
      `${path}.${key}`,
      found,
    );
  }
}

describe('performance roll-ups equal a from-scratch computation on the same rows', () => {
  const environment = { ...isolatedEnvironment('perfroll'), FW_PROCESS_ROLE: 'api' };
  const run = randomUUID().slice(0, 6);
  let app: INestApplication;
  let pool: Pool;
  let database: PoolClient;
  let fleet: RegisteredFleet;

  const summary = async (query: Record<string, string>) =>
    (
      await request(app.getHttpServer())
        .get('/api/v1/performance')
        .query({ productId: fleet.productId, detail: 'summary', ...query })
        .set(bearer(fleet.manufacturerKey))
        .expect(200)
    ).body as Record<string, unknown> & { rollups: { slicesComputedAtRequest: number } };

  /** The worker's own pass, until nothing of this product is dirty. */
  const rollUp = async () => {
    for (;;) {
      await database.query('BEGIN');
      const rebuilt = await rebuildDirtySlices(database, 31);
      await database.query('COMMIT');
      if (rebuilt === 0) return;
    }
  };

  const markDays = (days: string) =>
    database.query(
      `INSERT INTO performance_rollup_dirty (product_id, day)
       SELECT DISTINCT product_id, (occurred_at AT TIME ZONE 'UTC')::date FROM analyses
        WHERE product_id = $1 AND (${days})`,
      [fleet.productId],
    );

  const variants: Array<Record<string, string>> = [
    {},
    { groupBy: 'site' },
    { groupBy: 'modelVersion' },
    { groupBy: 'scannerVendor' },
    { groupBy: 'vessel' },
    { groupBy: 'month' },
    { groupBy: 'quarter' },
    { from: '2025-02-01', to: '2025-04-01' },
    { from: '2025-02-14', to: '2025-04-20', groupBy: 'site' },
    { from: '2025-03-03', to: '2025-03-29' },
    { from: '2025-01-01', to: '2026-01-01', groupBy: 'vessel' },
  ];

  const answers = async () => {
    const bodies = [];
    for (const query of variants) bodies.push(await summary(query));
    return bodies;
  };

  const expectSameAnswers = (actual: unknown[], expected: unknown[]) => {
    const found: string[] = [];
    variants.forEach((query, i) => differences(actual[i], expected[i], JSON.stringify(query), found));
    expect(found).toEqual([]);
  };

  /**
   * Every variant from the roll-ups, then from scratch: the product's stored roll-ups deleted and every day in the
   * dirty log, so each request computes every slice from the base tables. The worker then rebuilds them all.
   */
  const expectRollupsEqualScratch = async () => {
    const fromRollups = await answers();
    for (const body of fromRollups) expect(body.rollups.slicesComputedAtRequest).toBe(0);
    await database.query('BEGIN');
    for (const table of [
      'performance_rollups',
      'performance_rollup_periods',
      'performance_pair_cells',
      'performance_linked_vessels',
    ]) {
      await database.query(`DELETE FROM ${table} WHERE product_id = $1`, [fleet.productId]);
    }
    await markDays('true');
    await database.query('COMMIT');
    try {
      const scratch = await answers();
      for (const body of scratch) expect(body.rollups.slicesComputedAtRequest).toBeGreaterThan(0);
      expectSameAnswers(fromRollups, scratch);
    } finally {
      await rollUp();
    }
    expectSameAnswers(fromRollups, await answers());
  };

  /** The stored cells are the per-day pairs regrouped by month and by year: same counts for every dimension. */
  const expectCellsEqualPairs = async () => {
    const { rows } = await database.query<{ mismatches: string }>(
      `WITH expected AS (
         SELECT d.dimension, spans.span, date_trunc(spans.span, day)::date AS period, d.member, ct_ffr, invasive_ffr,
                count(*)::int AS vessels
           FROM performance_linked_vessels p
          CROSS JOIN (VALUES ('month'), ('year')) AS spans(span)
          CROSS JOIN LATERAL (VALUES ('overall', ''), ('site', p.site_id::text), ('modelVersion', p.model_version),
                                     ('scannerVendor', p.scanner_vendor), ('vessel', p.vessel)) AS d(dimension, member)
          WHERE p.product_id = $1
          GROUP BY 1, 2, 3, 4, 5, 6
       ), stored AS (
         SELECT dimension, span, period, member, ct_ffr, invasive_ffr, vessels
           FROM performance_pair_cells WHERE product_id = $1
       )
       SELECT count(*) AS mismatches FROM (
         (SELECT * FROM expected EXCEPT ALL SELECT * FROM stored)
         UNION ALL (SELECT * FROM stored EXCEPT ALL SELECT * FROM expected)) x`,
      [fleet.productId],
    );
    expect(Number(rows[0].mismatches)).toBe(0);
  };

  beforeAll(async () => {
    app = await startApp(environment);
    pool = new Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
    database = await pool.connect();
    fleet = await registerFleet(
      app,
      `PerfRoll-${run}`,
      [0, 1, 2].map((i) => ({ siteId: `PR${i}-${run}`, devices: [], dataSources: [] })),
    );
    const sites = await database.query<{ id: string }>(
      `SELECT id::text AS id FROM sites WHERE manufacturer_id = $1 ORDER BY site_code`,
      [fleet.manufacturerId],
    );
    const seeded = await seedPerformanceData(database, {
      manufacturerId: fleet.manufacturerId,
      productId: fleet.productId,
      siteIds: sites.rows.map((site) => site.id),
      analyses: 6_000,
      linked: 2_400,
      from: FROM,
      days: DAYS,
      seed: 31,
    });
    expect(seeded.linked).toBeGreaterThan(1_500);
    await markDays('true');
    await rollUp();
  }, 120_000);

  afterAll(async () => {
    database?.release();
    await pool?.end();
    await app?.close();
  });

  it('stores monthly and yearly cells that regroup the per-day pairs exactly', async () => {
    await expectCellsEqualPairs();
    const { rows } = await database.query<{ months: string; years: string }>(
      `SELECT count(DISTINCT period) FILTER (WHERE span = 'month') AS months,
              count(DISTINCT period) FILTER (WHERE span = 'year') AS years
         FROM performance_pair_cells WHERE product_id = $1`,
      [fleet.productId],
    );
    expect(rows[0]).toEqual({ months: '14', years: '3' });
  });

  it('answers every summary variant as the from-scratch computation does', async () => {
    await expectRollupsEqualScratch();
  }, 180_000);

  it('answers the same with dirty days inside stored years and months (their stored rows out, the days computed)', async () => {
    const clean = await answers();
    await markDays(`occurred_at >= '2025-03-11' AND occurred_at < '2025-03-12'
                    OR occurred_at >= '2025-06-30' AND occurred_at < '2025-07-01'
                    OR occurred_at >= '2026-01-05' AND occurred_at < '2026-01-06'`);
    try {
      const dirty = await answers();
      expect(dirty[0].rollups.slicesComputedAtRequest).toBe(3);
      expectSameAnswers(dirty, clean);
    } finally {
      await database.query(`DELETE FROM performance_rollup_dirty WHERE product_id = $1`, [fleet.productId]);
    }
  }, 120_000);

  it('stays equal after links are added and removed and the worker updates the cells incrementally', async () => {
    // Remove every link of 2025-02-20's analyses, add one for each unlinked vessel of 2025-03-11 and 2025-04-30.
    const removed = await database.query(
      `DELETE FROM ffr_links WHERE manufacturer_id = $1
          AND analysis_occurred_at >= '2025-02-20' AND analysis_occurred_at < '2025-02-21'`,
      [fleet.manufacturerId],
    );
    const added = await database.query(
      `INSERT INTO ffr_links (outcome_event_id, manufacturer_id, site_id, patient_key, status, analysis_event_id,
                              vessel_index, vessel, measured_at, invasive_ffr, ct_ffr, analysis_occurred_at,
                              lag_days, window_days)
       SELECT gen_random_uuid(), a.manufacturer_id, a.site_id, a.patient_key, 'linked', a.event_id, v.vessel_index,
              v.vessel, a.occurred_at + interval '9 days', round((v.ct_ffr - 0.03)::numeric, 2)::real, v.ct_ffr,
              a.occurred_at, 9, 90
         FROM analyses a JOIN analysis_vessels v
           ON v.analysis_event_id = a.event_id AND v.analysis_occurred_at = a.occurred_at
        WHERE a.product_id = $1
          AND ((a.occurred_at >= '2025-03-11' AND a.occurred_at < '2025-03-12')
            OR (a.occurred_at >= '2025-04-30' AND a.occurred_at < '2025-05-01'))
          AND NOT EXISTS (SELECT 1 FROM ffr_links l WHERE l.analysis_event_id = a.event_id
                             AND l.vessel_index = v.vessel_index)`,
      [fleet.productId],
    );
    expect(removed.rowCount).toBeGreaterThan(0);
    expect(added.rowCount).toBeGreaterThan(0);
    await markDays(`occurred_at >= '2025-02-20' AND occurred_at < '2025-02-21'
                   OR occurred_at >= '2025-03-11' AND occurred_at < '2025-03-12'
                   OR occurred_at >= '2025-04-30' AND occurred_at < '2025-05-01'`);
    // Before the worker's pass the requests compute the changed days themselves; after it, the roll-ups agree.
    const beforePass = await answers();
    expect(beforePass[0].rollups.slicesComputedAtRequest).toBe(3);
    await rollUp();
    expectSameAnswers(beforePass, await answers());
    await expectCellsEqualPairs();
    await expectRollupsEqualScratch();
  }, 240_000);

  it('serves a busy changed day as of its last pass, says so, and catches up after the next pass', async () => {
    // An app that computes no changed day with a last pass (FW_PERFORMANCE_LIVE_MAX_VESSELS 0), beside the default one.
    const busyApp = await startApp({ ...environment, FW_PERFORMANCE_LIVE_MAX_VESSELS: '0' });
    const overallFrom = async (server: INestApplication) =>
      (
        await request(server.getHttpServer())
          .get('/api/v1/performance')
          .query({ productId: fleet.productId, detail: 'summary', groupBy: 'site' })
          .set(bearer(fleet.manufacturerKey))
          .expect(200)
      ).body as {
        overall: { vessels: number };
        rollups: { slicesComputedAtRequest: number; daysFromLastPass: string[] };
      };
    try {
      const lastPass = await overallFrom(busyApp);
      expect(lastPass.rollups).toMatchObject({ slicesComputedAtRequest: 0, daysFromLastPass: [] });
      const removed = await database.query(
        `DELETE FROM ffr_links WHERE manufacturer_id = $1
            AND analysis_occurred_at >= '2025-08-12' AND analysis_occurred_at < '2025-08-13'`,
        [fleet.manufacturerId],
      );
      expect(removed.rowCount).toBeGreaterThan(0);
      await markDays(`occurred_at >= '2025-08-12' AND occurred_at < '2025-08-13'`);

      const busy = await overallFrom(busyApp);
      expect(busy.rollups).toMatchObject({ slicesComputedAtRequest: 0, daysFromLastPass: ['2025-08-12'] });
      const found: string[] = [];
      differences(busy, lastPass, 'busy day as of its last pass', found);
      expect(found).toEqual([]);
      const live = await overallFrom(app);
      expect(live.rollups).toMatchObject({ slicesComputedAtRequest: 1, daysFromLastPass: [] });
      expect(live.overall.vessels).toBeLessThan(lastPass.overall.vessels);

      await rollUp();
      const caughtUp = await overallFrom(busyApp);
      expect(caughtUp.rollups.daysFromLastPass).toEqual([]);
      differences(caughtUp, live, 'after the pass', found);
      expect(found).toEqual([]);
    } finally {
      await busyApp.close();
      delete process.env.FW_PERFORMANCE_LIVE_MAX_VESSELS;
    }
  }, 120_000);

  it('rebuilds the day with the oldest mark first, not the earliest dirty day', async () => {
    // A late day marked first, then earlier days re-marked after it, as a batch of new data spreading over many days
    // does. A pass of one slice must take the late day: taking the earliest day starved the latest days in bench:soak.
    await markDays(`occurred_at >= '2026-01-05' AND occurred_at < '2026-01-06'`);
    await markDays(`occurred_at >= '2025-01-05' AND occurred_at < '2025-01-06'`);
    await markDays(`occurred_at >= '2025-01-06' AND occurred_at < '2025-01-07'`);
    const dirtyDays = async () =>
      (
        await database.query<{ day: string }>(
          `SELECT DISTINCT day::text AS day FROM performance_rollup_dirty WHERE product_id = $1 ORDER BY 1`,
          [fleet.productId],
        )
      ).rows.map((row) => row.day);
    expect(await dirtyDays()).toEqual(['2025-01-05', '2025-01-06', '2026-01-05']);
    await database.query('BEGIN');
    expect(await rebuildDirtySlices(database, 1)).toBe(1);
    await database.query('COMMIT');
    expect(await dirtyDays()).toEqual(['2025-01-05', '2025-01-06']);
    // Then the oldest remaining mark's day and the dirty days after it, in date order.
    await database.query('BEGIN');
    expect(await rebuildDirtySlices(database, 31)).toBe(2);
    await database.query('COMMIT');
    expect(await dirtyDays()).toEqual([]);
    await expectCellsEqualPairs();
  }, 60_000);

  it('probes each vessel’s first link by one index descent, with or without statistics on ffr_links', async () => {
    const days = (
      await database.query<{ day: string }>(
        `SELECT DISTINCT day::text AS day FROM performance_rollups WHERE product_id = $1 ORDER BY 1 LIMIT 20`,
        [fleet.productId],
      )
    ).rows.map((row) => row.day);
    expect(days).toHaveLength(20);
    const linkAccess = async (withoutStatistics: boolean): Promise<string[]> => {
      await database.query('BEGIN');
      try {
        if (withoutStatistics) {
          // ffr_links as autovacuum has not analysed it yet (it is off on the CI server; bench:soak's tables never
          // had statistics): no column statistics, no row count. Rolled back with the transaction.
          await database.query(`DELETE FROM pg_statistic WHERE starelid = 'ffr_links'::regclass`);
          await database.query(`UPDATE pg_class SET reltuples = -1 WHERE oid = 'ffr_links'::regclass`);
        }
        // As a request runs it: the app's role under row-level security, scoped to the tenant.
        await database.query('SET LOCAL ROLE fieldwatch_app');
        await database.query(`SELECT set_config('fieldwatch.tenant', $1, true)`, [fleet.manufacturerId]);
        const explained = await database.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(
          `EXPLAIN (FORMAT JSON) ${SLICE_ROWS_AND_PAIRS_SQL}`,
          sliceParameters(fleet.productId, fleet.manufacturerId, days, 0.8),
        );
        const access: string[] = [];
        const walk = (node: PlanNode, underLinks: boolean): void => {
          const links = underLinks || node['Relation Name'] === 'ffr_links';
          if (links && node['Node Type'] !== 'Limit' && node['Node Type'] !== 'Sort')
            access.push(`${node['Node Type']}${node['Index Name'] ? ` ${node['Index Name']}` : ''}`);
          for (const child of node.Plans ?? []) walk(child, links);
        };
        walk(explained.rows[0]['QUERY PLAN'][0].Plan, false);
        return access;
      } finally {
        await database.query('ROLLBACK');
      }
    };
    // Without statistics the planner used to AND ffr_links_analysis with ffr_links_tenant_linked, and the latter reads
    // every linked row of the tenant per vessel (bench:soak: 0.33 ms a vessel at 12,100 links, growing with them).
    const singleDescent = /^Index (Only )?Scan ffr_links_(first_link|analysis)$/;
    for (const withoutStatistics of [true, false]) {
      const access = await linkAccess(withoutStatistics);
      expect(access.length).toBeGreaterThan(0);
      expect(access.filter((node) => !singleDescent.test(node))).toEqual([]);
    }
  });
});
