import { INestApplication } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { Client } from 'pg';
import request from 'supertest';
import { runsBackgroundWork } from '../src/common/singleton-schedule';
import { CLOCK_ALERTS_JOB, VigilanceClockJob } from '../src/vigilance/clock-alerts.job';
import { registerFleet, RegisteredFleet, startApp } from './helpers/app';
import { isolatedEnvironment, TEST_ADMIN_TOKEN, TEST_DATABASE_URL } from './helpers/test-environment';

const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

/** The full IMDRF 2023 table (annexes A–G), beside the repository as on development machines and in CI. */
const IMDRF_TABLE = resolve(__dirname, '../../shared/reference/imdrf/imdrf_aet_2023.json');

/** DESIGN.md §5, verbatim but for the product. */
const designIncident = (productId: string) => ({
  productId,
  title: 'Missed ischaemia: CT-FFR 0.86, invasive FFR 0.71',
  seriousness: 'serious_deterioration',
  awarenessDate: '2026-03-13',
  countries: ['DE'],
  imdrf: { A: ['A090803'], F: ['F13'] },
});

const claims = {
  sensitivity: { estimate: 0.86, ci95: [0.8, 0.91], n: 180 },
  specificity: { estimate: 0.81, ci95: [0.76, 0.85], n: 320 },
  auc: { estimate: 0.9, ci95: [0.87, 0.93], n: 500 },
};

interface Deadline {
  jurisdiction: string;
  rule: string;
  ruleId: string;
  dueAt: string;
  dueBy: string;
  country: string;
  status: string;
  urgency: string | null;
}

const summary = (deadlines: Deadline[]) =>
  deadlines.map((d) => [d.jurisdiction, d.ruleId, d.country, d.dueAt]);

describe('vigilance: incidents, triage, clocks and alerts (real PostgreSQL)', () => {
  let app: INestApplication;
  let server: ReturnType<INestApplication['getHttpServer']>;
  let database: Client;
  let tenantA: RegisteredFleet;
  let tenantB: RegisteredFleet;
  const keys = {} as Record<'quality' | 'auditor' | 'researcher', string>;
  let euProduct: string;
  let globalProduct: string;
  const run = Date.now().toString(36);
  const deviceA = `VIG-DEV-${run}`;

  const issueKey = async (manufacturerId: string, role: string) =>
    (
      await request(server)
        .post('/api/v1/api-keys')
        .set(bearer(TEST_ADMIN_TOKEN))
        .send({ manufacturerId, role, name: `${role} key` })
        .expect(201)
    ).body.key as string;
  const createProduct = async (jurisdictions: string[]) =>
    (
      await request(server)
        .post('/api/v1/products')
        .set(bearer(tenantA.manufacturerKey))
        .send({
          name: `Vigilance ${jurisdictions.join('+')} ${run}`,
          udiDi: `0697${Math.floor(Math.random() * 1e10)}`.padEnd(14, '0'),
          riskClass: 'III',
          jurisdictions,
          ffrThreshold: 0.8,
          premarketClaims: claims,
        })
        .expect(201)
    ).body.id as string;
  const create = (key: string, body: object) =>
    request(server).post('/api/v1/incidents').set(bearer(key)).send(body);
  const patch = (id: string, body: object, key = keys.quality) =>
    request(server).patch(`/api/v1/incidents/${id}`).set(bearer(key)).send(body);
  const get = async (id: string, key = keys.quality) =>
    (await request(server).get(`/api/v1/incidents/${id}`).set(bearer(key)).expect(200)).body;

  beforeAll(async () => {
    app = await startApp({
      ...isolatedEnvironment('vigilance'),
      FW_PROCESS_ROLE: 'api',
      FW_IMDRF_CODE_TABLE: IMDRF_TABLE,
    });
    server = app.getHttpServer();
    database = new Client({ connectionString: TEST_DATABASE_URL });
    await database.connect();
    tenantA = await registerFleet(app, `Vigil-A-${run}`, [
      { siteId: `VIG-SITE-${run}`, devices: [deviceA], dataSources: [] },
    ]);
    tenantB = await registerFleet(app, `Vigil-B-${run}`, []);
    for (const role of ['quality', 'auditor', 'researcher'] as const) {
      keys[role] = await issueKey(tenantA.manufacturerId, role);
    }
    euProduct = await createProduct(['EU']);
    globalProduct = await createProduct(['EU', 'US', 'CN']);
  });

  afterAll(async () => {
    await database?.end();
    await app?.close();
  });

  it('creates the DESIGN.md §5 manual incident with its deadline: DE, 2026-03-13, 87(3) due 2026-03-30', async () => {
    const response = await create(tenantA.manufacturerKey, designIncident(euProduct)).expect(201);
    const incident = response.body;
    expect(incident).toMatchObject({
      productId: euProduct,
      manufacturerId: tenantA.manufacturerId,
      source: 'manual',
      state: 'candidate',
      seriousness: 'serious_deterioration',
      causality: 'not_assessed',
      awarenessDate: '2026-03-13',
      countries: ['DE'],
      imdrf: { A: ['A090803'], F: ['F13'] },
      imdrfRelease: '2023',
      imdrfTerms: [
        { annex: 'A', code: 'A090803', term: 'False Negative Result' },
        { annex: 'F', code: 'F13', term: expect.stringMatching(/^Misdiagnosis/) },
      ],
      version: 1,
    });
    // The contract: [{ jurisdiction, rule, dueAt }] (extra fields allowed). 2026-03-13 + 15 = Sat 28 → Mon 30.
    expect(incident.deadlines).toHaveLength(1);
    expect(incident.deadlines[0]).toMatchObject({
      jurisdiction: 'EU',
      rule: 'MDR Art. 87(3) 15 days',
      dueAt: '2026-03-30',
      ruleId: 'EU-MDR-87-3',
      country: 'DE',
      // End of 30 March in Berlin (CEST since 29 March).
      dueBy: '2026-03-30T21:59:59.999Z',
      status: 'open',
      urgency: 'overdue',
    });
    expect(incident.nextDeadline.dueAt).toBe('2026-03-30');
    expect(incident.allowedTransitions).toEqual([
      { to: 'under_assessment', roles: ['quality'], reasonRequired: true },
    ]);
    const detail = await get(incident.id, keys.auditor);
    expect(detail.deadlines).toEqual(
      incident.deadlines.map((d: Deadline) => ({ ...d, hoursRemaining: expect.any(Number) })),
    );
    expect(detail.history).toEqual([
      expect.objectContaining({
        version: 1,
        kinds: ['created'],
        reason: null,
        actor: expect.objectContaining({ role: 'manufacturer' }),
      }),
    ]);
  });

  it('lists every applicable deadline of a multi-jurisdiction product (EU+US+CN), earliest first', async () => {
    // Death in DE and CN, Wed 2026-03-04: CN 7 days → 03-11; EU 87(5) 10 days → Sat 14 → Mon 03-16;
    // CN event abroad (DE) 30 days → 04-03 (Shanghai); US 803.50 30 days → 04-03 (New York, later).
    const response = await create(keys.quality, {
      productId: globalProduct,
      title: 'Death after a false-negative CT-FFR',
      seriousness: 'death',
      awarenessDate: '2026-03-04',
      countries: ['DE', 'CN'],
    }).expect(201);
    expect(summary(response.body.deadlines)).toEqual([
      ['CN', 'CN-ORDER1-DEATH', 'CN', '2026-03-11'],
      ['EU', 'EU-MDR-87-5', 'DE', '2026-03-16'],
      ['CN', 'CN-ORDER1-ABROAD', 'CN', '2026-04-03'],
      ['US', 'US-803-50', 'US', '2026-04-03'],
    ]);
    const dueBys = response.body.deadlines.map((d: Deadline) => d.dueBy);
    expect(dueBys).toEqual([...dueBys].sort());
    expect(response.body.nextDeadline.ruleId).toBe('CN-ORDER1-DEATH');

    // A group event in China needs the moment of awareness (12-hour clock): without it, 400 saying so.
    const group = await create(keys.quality, {
      productId: globalProduct,
      title: 'Cluster of wrong results at one hospital',
      seriousness: 'serious_deterioration',
      groupEvent: true,
      awarenessDate: '2026-03-04',
      countries: ['CN'],
    }).expect(400);
    expect(group.body.message).toMatch(
      /^awarenessAt is required: NMPA Order No\. 1 group event 12 hours counts 12 hours/,
    );
  });

  it('orders the list by nearest open deadline (none last), filters, and pages with a cursor', async () => {
    const none = await create(keys.quality, {
      productId: euProduct,
      title: 'Non-serious usability remark',
      seriousness: 'non_serious',
      awarenessDate: '2026-03-01',
      countries: ['FR'],
    }).expect(201);
    expect(none.body.deadlines).toEqual([]);
    const all = await request(server).get('/api/v1/incidents').set(bearer(keys.auditor)).expect(200);
    const due = all.body.items.map(
      (item: { nextDeadline: Deadline | null }) => item.nextDeadline?.dueBy ?? '~',
    );
    expect(due).toEqual([...due].sort());
    expect(all.body.items[all.body.items.length - 1].id).toBe(none.body.id);
    expect(all.body.total).toBe(all.body.items.length);

    const pages: string[] = [];
    let cursor: string | null = null;
    do {
      const page: request.Response = await request(server)
        .get('/api/v1/incidents')
        .query({ limit: 1, ...(cursor ? { cursor } : {}) })
        .set(bearer(keys.auditor))
        .expect(200);
      pages.push(...page.body.items.map((item: { id: string }) => item.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(pages).toEqual(all.body.items.map((item: { id: string }) => item.id));

    const filtered = await request(server)
      .get('/api/v1/incidents')
      .query({ productId: globalProduct, state: 'candidate' })
      .set(bearer(keys.auditor))
      .expect(200);
    expect(filtered.body.items.every((item: { productId: string }) => item.productId === globalProduct)).toBe(
      true,
    );
    expect(filtered.body.total).toBe(1);
    await request(server)
      .get('/api/v1/incidents')
      .query({ cursor: 'bogus' })
      .set(bearer(keys.auditor))
      .expect(400);
  });

  it('refuses IMDRF codes the official table does not allow, naming each one (400)', async () => {
    const response = await create(keys.quality, {
      ...designIncident(euProduct),
      imdrf: { A: ['A999999', 'A0908'], F: ['A090803'], E: ['E06'], X: ['X01'] },
    }).expect(400);
    expect(response.body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: [
        'imdrf.A: A999999 is not in the IMDRF 2023 table under Annex A (Medical Device Problem)',
        'imdrf.F: A090803 "False Negative Result" is an Annex A (Medical Device Problem) code, listed under Annex F',
        expect.stringMatching(
          /^imdrf\.E: E06 "Heart" is not selectable in the IMDRF 2023 table: code a more specific term/,
        ),
        'imdrf.X: "X" is not an IMDRF annex: use A, B, C, D, E, F, G (upper case)',
      ],
    });
    // Triage coding goes through the same check.
    const created = await create(keys.quality, designIncident(euProduct)).expect(201);
    const bad = await patch(created.body.id, { version: 1, imdrf: { C: ['C9999'] } }).expect(400);
    expect(bad.body.message).toEqual([
      'imdrf.C: C9999 is not in the IMDRF 2023 table under Annex C (Cause Investigation – Investigation Findings)',
    ]);
    const coded = await patch(created.body.id, {
      version: 1,
      imdrf: { A: ['A0908'], C: ['C1010'], D: ['D19'] },
    }).expect(200);
    expect(coded.body.imdrfTerms.map((term: { code: string }) => term.code)).toEqual([
      'A0908',
      'C1010',
      'D19',
    ]);
    expect(coded.body.version).toBe(2);
  });

  it('runs triage through the transition table: illegal 409, missing reason 400, stale version 409, wrong role 403', async () => {
    const { body: incident } = await create(tenantA.manufacturerKey, designIncident(euProduct)).expect(201);
    const illegal = await patch(incident.id, { version: 1, state: 'submitted', reason: 'skip' }).expect(409);
    expect(illegal.body).toEqual({
      statusCode: 409,
      error: 'Conflict',
      message:
        'An incident cannot go from candidate to submitted; from candidate it can go to under_assessment',
    });
    const noReason = await patch(incident.id, { version: 1, state: 'under_assessment' }).expect(400);
    expect(noReason.body.message).toMatch(
      /^A reason is required to move an incident from candidate to under_assessment/,
    );
    const blank = await patch(incident.id, { version: 1, state: 'under_assessment', reason: '   ' }).expect(
      400,
    );
    expect(blank.body.message).toEqual(['reason must not be blank']);
    const noWhy = await patch(incident.id, { version: 1, causality: 'possible' }).expect(400);
    expect(noWhy.body.message).toMatch(/^A reason is required to change seriousness, its flags, causality/);
    // The manufacturer records incidents but does not triage them.
    await patch(
      incident.id,
      { version: 1, state: 'under_assessment', reason: 'start' },
      tenantA.manufacturerKey,
    ).expect(403);

    const assessing = await patch(incident.id, {
      version: 1,
      state: 'under_assessment',
      causality: 'possible',
      reason: 'Invasive FFR 0.71 contradicts CT-FFR 0.86; causal link reasonably possible',
    }).expect(200);
    expect(assessing.body).toMatchObject({ state: 'under_assessment', causality: 'possible', version: 2 });
    const stale = await patch(incident.id, { version: 1, state: 'reportable', reason: 'report' }).expect(409);
    expect(stale.body.message).toMatch(/has changed since version 1 \(it is at version 2\)/);
    await patch(incident.id, {
      version: 2,
      state: 'reportable',
      reason: 'serious deterioration, causal link possible',
    }).expect(200);
    const submitted = await patch(incident.id, {
      version: 3,
      state: 'submitted',
      reason: 'MIR 7.3.1 sent to BfArM',
    }).expect(200);
    expect(submitted.body.deadlines).toEqual([
      expect.objectContaining({ ruleId: 'EU-MDR-87-3', dueAt: '2026-03-30', status: 'met', urgency: null }),
    ]);
    expect(submitted.body.nextDeadline).toBeNull();
    const closed = await patch(incident.id, {
      version: 4,
      state: 'closed',
      reason: 'final report submitted',
    }).expect(200);
    expect(closed.body.allowedTransitions.map((t: { to: string }) => t.to)).toEqual(['under_assessment']);

    // Who, when and why: the incident history and the audit trail, written in the same transactions.
    const detail = await get(incident.id);
    expect(
      detail.history.map(
        (e: { version: number; kinds: string[]; reason: string | null; transition: unknown }) => [
          e.version,
          e.kinds,
          e.transition,
        ],
      ),
    ).toEqual([
      [1, ['created'], null],
      [2, ['reassessment', 'transition'], { from: 'candidate', to: 'under_assessment' }],
      [3, ['transition'], { from: 'under_assessment', to: 'reportable' }],
      [4, ['transition'], { from: 'reportable', to: 'submitted' }],
      [5, ['transition'], { from: 'submitted', to: 'closed' }],
    ]);
    expect(detail.history[3]).toMatchObject({
      reason: 'MIR 7.3.1 sent to BfArM',
      actor: { type: 'api_key', role: 'quality' },
      recordedAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
    });
    const audit = await request(server)
      .get('/api/v1/audit')
      .query({ entityType: 'incident', entityId: incident.id })
      .set(bearer(keys.auditor))
      .expect(200);
    const entries = [...audit.body.items].reverse();
    expect(
      entries.map((entry: { action: string; reason: string | null; actor: { role: string } }) => [
        entry.action,
        entry.actor.role,
        entry.reason,
      ]),
    ).toEqual([
      ['incident.create', 'manufacturer', null],
      [
        'incident.transition',
        'quality',
        'Invasive FFR 0.71 contradicts CT-FFR 0.86; causal link reasonably possible',
      ],
      ['incident.transition', 'quality', 'serious deterioration, causal link possible'],
      ['incident.transition', 'quality', 'MIR 7.3.1 sent to BfArM'],
      ['incident.transition', 'quality', 'final report submitted'],
    ]);
    expect(entries[1].details).toMatchObject({
      from: 'candidate',
      to: 'under_assessment',
      changed: ['causality', 'state'],
    });
    expect(detail.history.map((e: { auditEntryId: string }) => e.auditEntryId)).toEqual(
      entries.map((e: { id: string }) => e.id),
    );
    const verify = await request(server)
      .get('/api/v1/audit/verify')
      .set(bearer(TEST_ADMIN_TOKEN))
      .expect(200);
    expect(verify.body.ok).toBe(true);

    // The history is append-only, for the database owner too.
    await expect(
      database.query(`UPDATE incident_events SET reason = 'edited' WHERE incident_id = $1`, [incident.id]),
    ).rejects.toThrow(/incident_events is append-only: UPDATE refused/);
  });

  it('files a complaint as a candidate incident and restarts the clock on new information (MDCG 2023-3 Q15)', async () => {
    const complaint = await request(server)
      .post('/api/v1/complaints')
      .set(bearer(tenantA.manufacturerKey))
      .send({
        productId: tenantA.productId,
        description: 'CT-FFR 0.86 in the LAD; two weeks later invasive FFR 0.71. Patient well so far.',
        receivedDate: '2026-06-01',
        countries: ['DE'],
        deviceId: deviceA,
        siteId: `VIG-SITE-${run}`,
        reporterRole: 'physician',
        reporterOrganisation: 'Cardiology department',
        patientInvolved: true,
      })
      .expect(201);
    expect(complaint.body).toMatchObject({
      productId: tenantA.productId,
      deviceId: deviceA,
      seriousness: 'non_serious',
      incident: {
        source: 'complaint',
        state: 'candidate',
        deadlines: [],
        title: expect.stringMatching(/^Complaint: CT-FFR 0\.86/),
      },
    });
    const id: string = complaint.body.incidentId;
    expect(complaint.body.incident.complaintId).toBe(complaint.body.id);

    await patch(id, { version: 1, state: 'under_assessment', reason: 'complaint received' }).expect(200);
    const waived = await patch(id, {
      version: 2,
      state: 'not_reportable',
      reason: 'no harm, within claimed accuracy',
    }).expect(200);
    expect(waived.body.deadlines).toEqual([]);
    // Wed 07-01: the patient was hospitalised → serious deterioration from that date: 87(3) 07-01 + 15 = Thu 07-16.
    // The tenant's product is marketed in the EU and China: China's 30-day clock for events abroad runs too.
    const reopened = await patch(id, {
      version: 3,
      state: 'under_assessment',
      seriousness: 'serious_deterioration',
      newInformation: {
        receivedDate: '2026-07-01',
        summary: 'Hospitalised with unstable angina on 2026-06-29',
      },
      reason: 'New information: hospitalisation',
    }).expect(200);
    expect(summary(reopened.body.deadlines)).toEqual([
      ['EU', 'EU-MDR-87-3', 'DE', '2026-07-16'],
      ['CN', 'CN-ORDER1-ABROAD', 'CN', '2026-07-31'],
    ]);
    expect(reopened.body.deadlines[0].basis.clockStartedBy).toBe('new_information');
    // Thu 07-02: death learned → 87(5) 07-02 + 10 = Sun 07-12 → Mon 07-13, earliest first.
    const death = await patch(id, {
      version: 4,
      seriousness: 'death',
      newInformation: { receivedDate: '2026-07-02', summary: 'Patient died on 2026-07-01' },
    }).expect(200);
    expect(summary(death.body.deadlines)).toEqual([
      ['EU', 'EU-MDR-87-5', 'DE', '2026-07-13'],
      ['EU', 'EU-MDR-87-3', 'DE', '2026-07-16'],
      ['CN', 'CN-ORDER1-ABROAD', 'CN', '2026-07-31'],
    ]);
    expect(
      death.body.newInformation.map(
        (info: { receivedDate: string; classification: { seriousness: string } }) => [
          info.receivedDate,
          info.classification.seriousness,
        ],
      ),
    ).toEqual([
      ['2026-07-01', 'serious_deterioration'],
      ['2026-07-02', 'death'],
    ]);
    const detail = await get(id);
    expect(detail.history[4]).toMatchObject({
      kinds: ['new_information'],
      newInformation: { receivedDate: '2026-07-02', summary: 'Patient died on 2026-07-01' },
      deadlines: [
        expect.objectContaining({ ruleId: 'EU-MDR-87-5', dueAt: '2026-07-13', status: 'open' }),
        expect.anything(),
        expect.anything(),
      ],
    });

    // A device of another product, or an unknown one, is refused.
    const other = await request(server)
      .post('/api/v1/complaints')
      .set(bearer(keys.quality))
      .send({
        productId: euProduct,
        description: 'x',
        receivedDate: '2026-06-01',
        countries: ['DE'],
        deviceId: deviceA,
        reporterRole: 'nurse',
      })
      .expect(400);
    expect(other.body.message).toBe(`Device ${deviceA} is not an installation of product ${euProduct}`);
    await request(server)
      .post('/api/v1/complaints')
      .set(bearer(keys.quality))
      .send({
        productId: euProduct,
        description: 'x',
        receivedDate: '2026-06-01',
        countries: ['DE'],
        deviceId: 'NO-SUCH-DEVICE',
        reporterRole: 'nurse',
      })
      .expect(404);
    const future = await request(server)
      .post('/api/v1/complaints')
      .set(bearer(keys.quality))
      .send({
        productId: euProduct,
        description: 'x',
        receivedDate: '2099-01-01',
        countries: ['DE'],
        reporterRole: 'nurse',
      })
      .expect(400);
    expect(future.body.message).toBe('receivedDate (2099-01-01) is in the future');
  });

  it('keeps tenants apart: another tenant’s incident or product is not found (404)', async () => {
    const { body: incident } = await create(keys.quality, designIncident(euProduct)).expect(201);
    await request(server)
      .get(`/api/v1/incidents/${incident.id}`)
      .set(bearer(tenantB.manufacturerKey))
      .expect(404);
    await create(tenantB.manufacturerKey, designIncident(euProduct)).expect(404);
    const listB = await request(server)
      .get('/api/v1/incidents')
      .set(bearer(tenantB.manufacturerKey))
      .expect(200);
    expect(listB.body).toEqual({ total: 0, items: [], nextCursor: null });
    const qualityB = await issueKey(tenantB.manufacturerId, 'quality');
    await patch(incident.id, { version: 1, state: 'under_assessment', reason: 'not mine' }, qualityB).expect(
      404,
    );
    const alertsB = await request(server).get('/api/v1/incidents/alerts').set(bearer(qualityB)).expect(200);
    expect(alertsB.body.total).toBe(0);
    await request(server).get(`/api/v1/incidents/${randomUUID()}`).set(bearer(keys.quality)).expect(404);
  });

  it('applies the roles matrix: researcher and platform admin denied, auditor reads only', async () => {
    const body = designIncident(euProduct);
    for (const key of [keys.researcher, TEST_ADMIN_TOKEN]) {
      await request(server).get('/api/v1/incidents').set(bearer(key)).expect(403);
      await request(server).get('/api/v1/incidents/alerts').set(bearer(key)).expect(403);
      await create(key, body).expect(403);
      await request(server).post('/api/v1/complaints').set(bearer(key)).send({}).expect(403);
    }
    await request(server).get('/api/v1/incidents').set(bearer(keys.auditor)).expect(200);
    await create(keys.auditor, body).expect(403);
    await request(server).post('/api/v1/complaints').set(bearer(keys.auditor)).send({}).expect(403);
    const { body: incident } = await create(tenantA.manufacturerKey, body).expect(201);
    await patch(incident.id, { version: 1, title: 'x' }, keys.auditor).expect(403);
    await patch(incident.id, { version: 1, title: 'x' }, keys.researcher).expect(403);
  });

  it('raises due-soon and overdue alerts once per deadline and urgency, one instance at a time', async () => {
    const job = app.get(VigilanceClockJob);
    // An api process does not schedule it; ingest and all do.
    expect(app.get(SchedulerRegistry).doesExist('cron', CLOCK_ALERTS_JOB)).toBe(false);
    expect([runsBackgroundWork('api'), runsBackgroundWork('ingest'), runsBackgroundWork('all')]).toEqual([
      false,
      true,
      true,
    ]);

    const { body: incident } = await create(keys.quality, designIncident(euProduct)).expect(201);
    const alertsOf = async () =>
      (
        await request(server)
          .get('/api/v1/incidents/alerts')
          .query({ incidentId: incident.id })
          .set(bearer(keys.auditor))
          .expect(200)
      ).body;

    // Another instance holds the lock: this one skips.
    await database.query(`SELECT pg_advisory_lock(hashtextextended('fieldwatch:vigilance-clock-alerts', 0))`);
    try {
      expect(await job.runOnce(new Date('2026-03-29T12:00:00Z'))).toMatchObject({ ran: false, incidents: 0 });
    } finally {
      await database.query(
        `SELECT pg_advisory_unlock(hashtextextended('fieldwatch:vigilance-clock-alerts', 0))`,
      );
    }
    expect((await alertsOf()).total).toBe(0);

    // 29 March, 12:00 UTC: due by 30 March 21:59:59.999 UTC, 34 hours away → due soon (window 48 h).
    const first = await job.runOnce(new Date('2026-03-29T12:00:00Z'));
    expect(first.ran).toBe(true);
    expect(first.raised.due_soon).toBeGreaterThanOrEqual(1);
    expect((await alertsOf()).items).toEqual([
      expect.objectContaining({
        incidentId: incident.id,
        urgency: 'due_soon',
        jurisdiction: 'EU',
        ruleId: 'EU-MDR-87-3',
        country: 'DE',
        dueAt: '2026-03-30',
        dueBy: '2026-03-30T21:59:59.999Z',
        hoursRemaining: 34,
        evaluatedAt: '2026-03-29T12:00:00.000Z',
        incident: { title: incident.title, state: 'candidate' },
      }),
    ]);
    // The same moment again: nothing new anywhere (idempotent).
    expect((await job.runOnce(new Date('2026-03-29T12:00:00Z'))).raised).toEqual({ due_soon: 0, overdue: 0 });

    // 1 April: overdue, one more alert; again: none.
    const later = await job.runOnce(new Date('2026-04-01T08:00:00Z'));
    expect(later.raised.overdue).toBeGreaterThanOrEqual(1);
    expect((await job.runOnce(new Date('2026-04-01T09:00:00Z'))).raised).toEqual({ due_soon: 0, overdue: 0 });
    const alerts = await alertsOf();
    expect(alerts.items.map((alert: { urgency: string }) => alert.urgency)).toEqual(['overdue', 'due_soon']);
    expect(alerts.total).toBe(2);
    const overdueOnly = await request(server)
      .get('/api/v1/incidents/alerts')
      .query({ urgency: 'overdue', limit: 500 })
      .set(bearer(keys.quality))
      .expect(200);
    expect(overdueOnly.body.items.every((alert: { urgency: string }) => alert.urgency === 'overdue')).toBe(
      true,
    );

    // Shown with the incident, and recorded in the audit trail as the system's.
    const detail = await get(incident.id);
    expect(detail.alerts.map((alert: { urgency: string }) => alert.urgency)).toEqual(['overdue', 'due_soon']);
    const audit = await request(server)
      .get('/api/v1/audit')
      .query({ entityType: 'incident', entityId: incident.id })
      .set(bearer(keys.auditor))
      .expect(200);
    const raised = audit.body.items.filter(
      (entry: { action: string }) => entry.action === 'incident.alert_raise',
    );
    expect(
      raised.map((entry: { actor: { type: string }; details: { urgency: string } }) => [
        entry.actor.type,
        entry.details.urgency,
      ]),
    ).toEqual([
      ['system', 'overdue'],
      ['system', 'due_soon'],
    ]);

    // Submitting settles the deadline: no further alerts for it.
    await patch(incident.id, { version: 1, state: 'under_assessment', reason: 'assess' }).expect(200);
    await patch(incident.id, { version: 2, state: 'reportable', reason: 'reportable' }).expect(200);
    await patch(incident.id, { version: 3, state: 'submitted', reason: 'MIR sent' }).expect(200);
    await job.runOnce(new Date('2026-04-02T08:00:00Z'));
    expect((await alertsOf()).total).toBe(2);
  });
});
