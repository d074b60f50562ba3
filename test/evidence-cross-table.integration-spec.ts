import { Client } from 'pg';
import request from 'supertest';
import { EvidenceProduct, startEvidenceProduct } from './helpers/evidence-product';
import { pollUntil } from './helpers/poll';
import { isolatedEnvironment, TEST_DATABASE_URL } from './helpers/test-environment';

/*
 * Disclosure across tables of different queries (issue 7 §2, src/evidence/README.md point 5): one query's sex
 * distribution and another query's age distribution, over the same analyses. Site A: 30 men of 80+, 4 women of 80+,
 * 40 women of 50-59; site B: women only (20 each of 80+, 50-59, 60-69); site C: no one of 80+ (30 men and 30
 * women of 60-69, 20 women of 50-59). Every other attribute is the same for everyone.
 *
 * Sites A + B release "men: 30" — all of them site A's men of 80+, as B has no men — and no combination of that
 * query's own tables singles anyone out. Sites A + C would release "80+: 34" (C has no one of 80+): 34 − 30 is
 * site A's 4 women of 80+. Neither query can tell alone, and no single table of the two does: only the pair of
 * tables (sex of one query, age of the other) over every release, which the audit now checks.
 *
 * Sites D (30 women of 50-59, 5 of 80+) and E (30 women of 50-59) are for two queries asked at the same moment.
 */

const K = 11;
const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

interface Table {
  totals: number[] | null;
  withheld: string | null;
  rows: Array<{ key: string; values: number[] | null; suppressed: string | null }>;
}
interface Answer {
  status: string;
  refusal: { reason: string; against?: string } | null;
  result: {
    cohort: Record<string, number>;
    distributions: Record<string, Table>;
    disclosure: { differencing: Array<{ table: string; against: string }> };
  } | null;
}

describe('evidence queries: no combination of two tables of different queries singles out a cell', () => {
  const environment: Record<string, string> = {
    ...isolatedEnvironment('evidence-cross'),
    FW_EVIDENCE_HWM_LAG_SECONDS: '0',
    // One worker and two waiting places: three queries admitted at once (the burst test below).
    FW_EVIDENCE_WORKERS: '1',
    FW_EVIDENCE_QUEUE: '2',
  };
  const run = environment.KAFKA_CONSUMER_GROUP.slice(-10);
  const sites = { A: `XTA-${run}`, B: `XTB-${run}`, C: `XTC-${run}`, D: `XTD-${run}`, E: `XTE-${run}` };
  let product: EvidenceProduct;
  let sent = 0;

  /** `count` patients at `site` of one sex and age, one analysis and one linked LAD each, all else equal. */
  async function sendPatients(site: keyof typeof sites, count: number, sex: 'F' | 'M', ageYears: number) {
    sent += await product.sendLinkedPatients(
      sites[site],
      Array.from({ length: count }, (_, p) => ({
        patientRef: `${run}-${site}-${sex}-${ageYears}-${p}`,
        ageYears,
        sex,
        vessels: ['LAD'],
      })),
    );
  }

  beforeAll(async () => {
    product = await startEvidenceProduct(environment, `EvidenceCross-${run}`, Object.values(sites));
    await sendPatients('A', 30, 'M', 85);
    await sendPatients('A', 4, 'F', 85);
    await sendPatients('A', 40, 'F', 55);
    await sendPatients('B', 20, 'F', 85);
    await sendPatients('B', 20, 'F', 55);
    await sendPatients('B', 20, 'F', 65);
    await sendPatients('C', 30, 'M', 65);
    await sendPatients('C', 30, 'F', 65);
    await sendPatients('C', 20, 'F', 55);
    await sendPatients('D', 30, 'F', 55);
    await sendPatients('D', 5, 'F', 85);
    await sendPatients('E', 30, 'F', 55);
    await product.untilLinked(sent);
  });

  afterAll(async () => {
    await product?.close();
  });

  const ask = async (body: Record<string, unknown>): Promise<Answer> =>
    (
      await request(product.app.getHttpServer())
        .post('/api/v1/evidence/queries')
        .set(bearer(product.researcher))
        .send({ productId: product.fleet.productId, ...body })
        .expect(201)
    ).body as Answer;
  const row = (table: Table, key: string) => table.rows.find((r) => r.key === key)!.values;

  it('answers sites A + B whole, then withholds what of sites A + C would single out a cell with it', async () => {
    const ab = await ask({ sites: [sites.A, sites.B], stratifyBy: 'sex' });
    expect(ab.status).toBe('released');
    expect(ab.result!.cohort.patients).toBe(134);
    expect(ab.result!.disclosure.differencing).toEqual([]);
    const abSex = ab.result!.distributions.sex;
    const abAge = ab.result!.distributions.ageBand;
    expect(row(abSex, 'M')).toEqual([30]);
    expect(row(abSex, 'F')).toEqual([104]);
    expect(row(abAge, '80+')).toEqual([54]);
    expect(row(abAge, '50-59')).toEqual([60]);
    expect(row(abAge, '60-69')).toEqual([20]);

    // Sites A + C: its own tables are harmless, but its "80+" row minus the men of A + B is site A's 4 women of
    // 80+. Hiding 80+ alone would not do (the total gives it back), so the age table loses it with a complement or
    // is withheld; the cohort and its other tables are released.
    const ac = await ask({ sites: [sites.A, sites.C] });
    expect(ac.status).toBe('released');
    expect(ac.result!.cohort.patients).toBe(154);
    expect(ac.result!.disclosure.differencing).toContainEqual({
      table: 'ageBand',
      against: 'combination of earlier releases',
    });
    const acAge = ac.result!.distributions.ageBand;
    expect(acAge.withheld !== null || row(acAge, '80+') === null).toBe(true);
    if (acAge.totals) {
      // What is released of it cannot give 80+ back: the hidden rows' sum is not 34.
      const hidden = acAge.totals[0] - acAge.rows.reduce((sum, r) => sum + (r.values ? r.values[0] : 0), 0);
      expect(hidden).not.toBe(34);
      expect(hidden - 30).toBeGreaterThanOrEqual(K);
    }
    expect(row(ac.result!.distributions.sex, 'M')).toEqual([60]);
    expect(row(ac.result!.distributions.sex, 'F')).toEqual([94]);
  });

  it('still answers a query that reveals nothing new: sites A + B again, stratified by site', async () => {
    const again = await ask({ sites: [sites.A, sites.B], stratifyBy: 'site' });
    expect(again.status).toBe('released');
    expect(again.result!.disclosure.differencing).toEqual([]);
    expect(row(again.result!.distributions.ageBand, '80+')).toEqual([54]);
    expect(row(again.result!.distributions.site, sites.A)).toEqual([74]);
  });

  it('serialises concurrent queries of one product: of two cohorts 5 patients apart, asked at once, one is refused', async () => {
    // Sites D + E, and their patients of 50-59: neither was asked before, and site D's 5 women of 80+ are the
    // difference. Asked at the same moment, whichever takes the product's lock second is checked against the first.
    const [everyone, younger] = await Promise.all([
      ask({ sites: [sites.D, sites.E] }),
      ask({ sites: [sites.D, sites.E], ageBands: ['50-59'] }),
    ]);
    expect([everyone.status, younger.status].sort()).toEqual(['refused', 'released']);
    const refused = everyone.status === 'refused' ? everyone : younger;
    expect(refused.refusal).toMatchObject({ reason: 'differencing' });
    const released = everyone.status === 'released' ? everyone : younger;
    expect(released.result!.cohort.patients).toBe(everyone.status === 'released' ? 65 : 60);
  });

  it('bounds a burst on one product: beyond admission 503 at once, and no waiting query holds a connection', async () => {
    // Another instance's query holds the product's lock. Of five queries, three are admitted (FW_EVIDENCE_WORKERS
    // + FW_EVIDENCE_QUEUE) and wait for the lock by retrying, not by blocking in pg_advisory_lock on a pooled
    // connection each; the other two are answered 503 while the lock is still held.
    const holder = new Client({ connectionString: TEST_DATABASE_URL });
    await holder.connect();
    const lockKey = `fieldwatch:evidence:${product.fleet.productId}`;
    try {
      await holder.query(`SELECT pg_advisory_lock(hashtextextended($1, 0))`, [lockKey]);
      const settled: Array<{ status: number; retryAfter?: string; body: Answer & { message?: string } }> = [];
      const burst = Array.from({ length: 5 }, () =>
        request(product.app.getHttpServer())
          .post('/api/v1/evidence/queries')
          .set(bearer(product.researcher))
          .send({ productId: product.fleet.productId, sites: [sites.A, sites.B] })
          .then((response) => {
            settled.push({
              status: response.status,
              retryAfter: response.headers['retry-after'],
              body: response.body as Answer & { message?: string },
            });
            return response;
          }),
      );
      await pollUntil(
        () => Promise.resolve(settled.length),
        (count) => count >= 2,
        { timeoutMs: 30_000, what: 'the queries beyond admission to be answered' },
      );
      expect(settled.map((answer) => answer.status)).toEqual([503, 503]);
      expect(settled[0].body.message).toMatch(/retry shortly/);
      expect(settled.map((answer) => answer.retryAfter)).toEqual(['5', '5']);
      const [{ blocked }] = (
        await holder.query<{ blocked: number }>(
          `SELECT count(*)::int AS blocked FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'`,
        )
      ).rows;
      expect(blocked).toBe(0);
      expect(settled).toHaveLength(2);

      await holder.query(`SELECT pg_advisory_unlock(hashtextextended($1, 0))`, [lockKey]);
      const answers = await Promise.all(burst);
      const admitted = answers.filter((response) => response.status !== 503);
      expect(admitted.map((response) => response.status)).toEqual([201, 201, 201]);
      for (const response of admitted) expect((response.body as Answer).status).toBe('released');
    } finally {
      await holder.end();
    }
  });
});
