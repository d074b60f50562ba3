import { INestApplication } from '@nestjs/common';
import { Client } from 'pg';
import request from 'supertest';
import { addDays, addMonths } from '../src/reports/report-period';
import { ReportsRunResult, ReportsScheduleJob } from '../src/reports/reports-schedule.job';
import { startApp } from './helpers/app';
import { isolatedEnvironment, TEST_ADMIN_TOKEN, TEST_DATABASE_URL } from './helpers/test-environment';

/**
 * The periodic-report schedule end to end against the real PostgreSQL (issue 6 §6): the job's run for a given day,
 * as its cron tick makes it, drafts exactly the reports that are due and no other — an annual PSUR once its period has
 * ended, an NMPA report only within the 60 days after a registration year — and a second run, or a second instance
 * running the same day at the same time (advisory lock, src/common/singleton-schedule.ts), adds none.
 *
 * A period is anchored on the day the product was registered on the platform (reports-schedule.job.ts). The test's
 * products are given registration days decades back, which no other test's product has, so that the days the runs
 * are made for find only them due; afterAll gives them today's date back. The three products' days are apart so that
 * each run finds due only the report its step is about.
 */
const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

interface StoredReport {
  product_id: string;
  type: string;
  period_from: string;
  period_to: string;
  status: string;
  current_version: number;
  trigger: string;
  actor_type: string | null;
}

describe('periodic-report schedule: due reports drafted once, by one instance', () => {
  const environment: Record<string, string> = {
    ...isolatedEnvironment('reports-schedule'),
    FW_PROCESS_ROLE: 'api',
  };
  const run = environment.KAFKA_CONSUMER_GROUP.slice(-12);
  let app: INestApplication;
  let second: INestApplication;
  let db: Client;
  /** The PSUR product's registration day; the NMPA product's is six months later, the concurrent-run product's one. */
  const anchor = '1985-03-15';
  const nmpaAnchor = addMonths(anchor, 6);
  const products: Record<'psur' | 'nmpa' | 'concurrent', string> = { psur: '', nmpa: '', concurrent: '' };

  const stored = async (productId: string): Promise<StoredReport[]> =>
    (
      await db.query<StoredReport>(
        `SELECT r.product_id, r.type, r.period_from::text, r.period_to::text, r.status, r.current_version, v.trigger,
                (SELECT l.actor_type FROM audit_log l
                  WHERE l.action = 'report.generate' AND l.entity_id = r.id::text ORDER BY l.id LIMIT 1) AS actor_type
           FROM periodic_reports r JOIN periodic_report_versions v ON v.report_id = r.id
          WHERE r.product_id = $1 ORDER BY r.type, r.period_from, v.version`,
        [productId],
      )
    ).rows;
  const generatedFor = (result: ReportsRunResult, productId: string) =>
    result.generated.filter((report) => report.productId === productId);

  beforeAll(async () => {
    app = await startApp(environment);
    const server = app.getHttpServer();
    const manufacturer = await request(server)
      .post('/api/v1/manufacturers')
      .set(bearer(TEST_ADMIN_TOKEN))
      .send({ name: `Schedule ${run} Medical` })
      .expect(201);
    const key = (
      await request(server)
        .post('/api/v1/api-keys')
        .set(bearer(TEST_ADMIN_TOKEN))
        .send({ manufacturerId: manufacturer.body.id, role: 'manufacturer', name: `schedule ${run}` })
        .expect(201)
    ).body.key as string;
    const register = async (label: string, jurisdictions: string[]) =>
      (
        await request(server)
          .post('/api/v1/products')
          .set(bearer(key))
          .send({
            name: `Schedule ${label} ${run}`,
            udiDi: `0697${Math.floor(Math.random() * 1e10)}`.padEnd(14, '0'),
            riskClass: 'III',
            jurisdictions,
            ffrThreshold: 0.8,
            premarketClaims: {
              sensitivity: { estimate: 0.86, ci95: [0.8, 0.91], n: 180 },
              specificity: { estimate: 0.81, ci95: [0.76, 0.85], n: 320 },
              auc: { estimate: 0.9, ci95: [0.87, 0.93], n: 500 },
            },
          })
          .expect(201)
      ).body.id as string;
    products.psur = await register('EU', ['EU']);
    products.nmpa = await register('CN', ['CN']);
    products.concurrent = await register('EU second', ['EU']);
    db = new Client({ connectionString: TEST_DATABASE_URL });
    await db.connect();
    // Registered on the platform on those days (noon UTC: the same calendar day in any session time zone).
    for (const [productId, day] of [
      [products.psur, anchor],
      [products.nmpa, nmpaAnchor],
      [products.concurrent, addMonths(anchor, 1)],
    ]) {
      await db.query(`UPDATE products SET created_at = $2::date + time '12:00' WHERE id = $1`, [
        productId,
        day,
      ]);
    }
    second = await startApp(environment);
  });

  afterAll(async () => {
    if (db) {
      await db.query(`UPDATE products SET created_at = now() WHERE id = ANY($1::uuid[])`, [
        Object.values(products).filter(Boolean),
      ]);
      await db.end();
    }
    await second?.close();
    await app?.close();
  });

  it('drafts the annual PSUR once its period has ended, for exactly that period, and a second run drafts nothing', async () => {
    const job = app.get(ReportsScheduleJob);
    const periodEnd = addDays(addMonths(anchor, 12), -1);

    const onLastDay = await job.runOnce(periodEnd);
    expect(onLastDay.ran).toBe(true);
    expect(generatedFor(onLastDay, products.psur)).toEqual([]);
    expect(await stored(products.psur)).toEqual([]);

    const dayAfter = addDays(periodEnd, 1);
    const first = await job.runOnce(dayAfter);
    expect(first).toMatchObject({ ran: true, today: dayAfter, failures: 0 });
    expect(generatedFor(first, products.psur)).toEqual([
      expect.objectContaining({ type: 'psur', from: anchor, to: periodEnd }),
    ]);
    expect(await stored(products.psur)).toEqual([
      {
        product_id: products.psur,
        type: 'psur',
        period_from: anchor,
        period_to: periodEnd,
        status: 'draft',
        current_version: 1,
        trigger: 'schedule',
        actor_type: 'system',
      },
    ]);

    const again = await job.runOnce(dayAfter);
    expect(again).toMatchObject({ ran: true, generated: [], failures: 0 });
    // A later day in the next period: the same latest completed period, already drafted.
    const later = await job.runOnce(addDays(dayAfter, 20));
    expect(generatedFor(later, products.psur)).toEqual([]);
    expect(await stored(products.psur)).toHaveLength(1);
  });

  it('two instances running the same day at once: one report, drafted by one of them', async () => {
    const dayAfter = addMonths(addMonths(anchor, 1), 12);
    const [one, other] = await Promise.all([
      app.get(ReportsScheduleJob).runOnce(dayAfter),
      second.get(ReportsScheduleJob).runOnce(dayAfter),
    ]);
    // Either the second instance found the lock held (ran: false), or it ran after the first and found the report.
    expect(one.failures + other.failures).toBe(0);
    expect([...generatedFor(one, products.concurrent), ...generatedFor(other, products.concurrent)]).toEqual([
      expect.objectContaining({
        type: 'psur',
        from: addMonths(anchor, 1),
        to: addDays(addMonths(anchor, 13), -1),
      }),
    ]);
    expect(await stored(products.concurrent)).toHaveLength(1);
  });

  it('drafts the NMPA report of a registration year only within the 60 days after it', async () => {
    const job = app.get(ReportsScheduleJob);
    const yearEnd = addDays(addMonths(nmpaAnchor, 12), -1);

    // The year not yet over, and 61 days after it: nothing due.
    for (const day of [yearEnd, addDays(yearEnd, 61)]) {
      const result = await job.runOnce(day);
      expect(result.ran).toBe(true);
      expect(generatedFor(result, products.nmpa)).toEqual([]);
    }
    expect(await stored(products.nmpa)).toEqual([]);

    // The 60th day after the year: due, for the registration year.
    const lastDay = await job.runOnce(addDays(yearEnd, 60));
    expect(generatedFor(lastDay, products.nmpa)).toEqual([
      expect.objectContaining({ type: 'nmpa-periodic-risk', from: nmpaAnchor, to: yearEnd }),
    ]);
    const again = await job.runOnce(addDays(yearEnd, 1));
    expect(generatedFor(again, products.nmpa)).toEqual([]);
    expect(await stored(products.nmpa)).toEqual([
      expect.objectContaining({
        type: 'nmpa-periodic-risk',
        period_from: nmpaAnchor,
        period_to: yearEnd,
        current_version: 1,
        trigger: 'schedule',
      }),
    ]);
  });
});
