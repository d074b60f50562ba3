import request from 'supertest';
import { EvidenceProduct, startEvidenceProduct } from './helpers/evidence-product';
import { isolatedEnvironment } from './helpers/test-environment';

/*
 * The audit of every unit's counts against each other (FW_EVIDENCE_AUDIT_COVERAGE=complete-cross;
 * src/evidence/README.md point 5), end to end. Site X: 30 patients of one analysis each, 27 with one analysed vessel and 3 with two. Each of
 * the cohort's counts covers all 30, and neither the analyses' nor the vessels' counts single anyone out on their
 * own; but analysed vessels − analyses = 3 counts the patients with a second vessel. Site Y: 30 patients of one
 * analysis and one vessel each, where the units' counts differ by no one.
 */
const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

describe('evidence queries audited across units (complete-cross coverage)', () => {
  const environment: Record<string, string> = {
    ...isolatedEnvironment('evidence-units'),
    FW_EVIDENCE_HWM_LAG_SECONDS: '0',
    FW_EVIDENCE_AUDIT_COVERAGE: 'complete-cross',
  };
  const run = environment.KAFKA_CONSUMER_GROUP.slice(-10);
  const sites = { X: `XUX-${run}`, Y: `XUY-${run}` };
  let product: EvidenceProduct;
  let sent = 0;

  /** `count` patients at `site`, one analysis each with `vessels` analysed vessels, every vessel linked. */
  async function sendPatients(site: keyof typeof sites, from: number, count: number, vessels: string[]) {
    sent += await product.sendLinkedPatients(
      sites[site],
      Array.from({ length: count }, (_, p) => ({
        patientRef: `${run}-${site}-${from + p}`,
        ageYears: 62,
        sex: 'F' as const,
        vessels,
      })),
    );
  }

  beforeAll(async () => {
    product = await startEvidenceProduct(environment, `EvidenceUnits-${run}`, Object.values(sites));
    await sendPatients('X', 0, 27, ['LAD']);
    await sendPatients('X', 27, 3, ['LAD', 'RCA']);
    await sendPatients('Y', 0, 30, ['LAD']);
    await product.untilLinked(sent);
  });

  afterAll(async () => {
    await product?.close();
  });

  const ask = async (body: Record<string, unknown>) =>
    (
      await request(product.app.getHttpServer())
        .post('/api/v1/evidence/queries')
        .set(bearer(product.researcher))
        .send({ productId: product.fleet.productId, tables: [], ...body })
        .expect(201)
    ).body as {
      id: string;
      status: string;
      auditCoverage: string;
      refusal: { reason: string; against?: string } | null;
      result: { cohort: Record<string, number> } | null;
      resultSha256: string | null;
    };

  it('refuses site X: its analysed vessels minus its analyses would count the 3 patients with a second vessel', async () => {
    const x = await ask({ sites: [sites.X] });
    expect(x).toMatchObject({
      status: 'refused',
      auditCoverage: 'complete-cross',
      refusal: { reason: 'differencing', against: 'combination of earlier releases' },
      result: null,
    });
  });

  it('releases site Y, stored with its coverage, and re-runs it to the same digest', async () => {
    const y = await ask({ sites: [sites.Y] });
    expect(y.status).toBe('released');
    expect(y.auditCoverage).toBe('complete-cross');
    expect(y.result!.cohort).toMatchObject({
      patients: 30,
      analyses: 30,
      analysedVessels: 30,
      linkedVessels: 30,
    });
    const rerun = await request(product.app.getHttpServer())
      .post(`/api/v1/evidence/queries/${y.id}/rerun`)
      .set(bearer(product.researcher))
      .expect(200);
    expect(rerun.body).toMatchObject({ reproduced: true, rerunSha256: y.resultSha256 });
  });
});
