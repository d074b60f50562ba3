import { INestApplication } from '@nestjs/common';
import { parse } from 'csv-parse/sync';
import { Producer } from 'kafkajs';
import request from 'supertest';
import { ensureTopics } from '../scripts/kafka-admin';
import { stateDigest } from '../src/audit/canonical';
import { canonicalJson, sha256Hex } from '../src/evidence/evidence-result';
import { allTopics, topicsFor } from '../src/kafka/topics';
import { registerFleet, RegisteredFleet, startApp } from './helpers/app';
import { analysisEvent, connectedProducer, invasiveFfrEvent, signedMessage } from './helpers/events';
import { pollUntil } from './helpers/poll';
import { isolatedEnvironment, TEST_ADMIN_TOKEN, TEST_KAFKA_BROKERS } from './helpers/test-environment';

/*
 * Evidence queries end to end (issue 7 §2): a tenant with two large sites and one of 4 patients, analyses and
 * invasive FFR over real Kafka, linkage, then researcher queries. Disclosure: no released figure — cell, total, or
 * what totals minus released cells leave — is under k, and no two nested releases differ by 1 … k − 1 anywhere.
 * Accuracy: each released stratum equals GET /performance for the same cohort. Re-runs reproduce the digest, also
 * after new data arrived.
 */

const K = 11;
const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

interface Released {
  id: string;
  status: string;
  auditCoverage: string;
  definition: Record<string, unknown>;
  result: {
    cohort: Record<string, number>;
    distributions: Record<string, Table>;
    accuracy: {
      stratifyBy: string | null;
      counts: Table;
      overall: Figures | null;
      strata: Array<Figures>;
    };
  };
  resultSha256: string;
  highWaterMark: string;
}
/** Figures compared field by field with GET /performance's (values of any shape). */
type Figures = Record<string, unknown> & {
  vessels: number;
  sensitivity: { estimate: number; ci95: Record<string, unknown> };
};
interface Table {
  columns: string[];
  totals: number[] | null;
  withheld: string | null;
  rows: Array<{ key: string; values: number[] | null; suppressed: string | null }>;
}

/**
 * Same figures to 1e-12 (relative): the evidence path reads the vessels in another order than GET /performance, so
 * sums of floating-point terms may differ in the last bits; counts and structure must be identical.
 */
function expectSameFigures(mine: unknown, theirs: unknown, path: string): void {
  if (typeof mine === 'number' && typeof theirs === 'number') {
    if (Math.abs(mine - theirs) > 1e-12 * Math.max(1, Math.abs(theirs)))
      throw new Error(`${path}: ${mine} vs ${theirs}`);
    return;
  }
  if (mine === null || typeof mine !== 'object') {
    expect({ path, value: mine }).toEqual({ path, value: theirs });
    return;
  }
  expect(typeof theirs).toBe('object');
  const theirsRecord = theirs as Record<string, unknown>;
  expect(Object.keys(mine).sort()).toEqual(Object.keys(theirsRecord).sort());
  for (const [key, value] of Object.entries(mine))
    expectSameFigures(value, theirsRecord[key], `${path}.${key}`);
}

describe('evidence queries under disclosure control, end to end', () => {
  const environment: Record<string, string> = {
    ...isolatedEnvironment('evidence'),
    FW_EVIDENCE_HWM_LAG_SECONDS: '0',
  };
  const topics = topicsFor(environment.KAFKA_TOPIC_PREFIX);
  const run = environment.KAFKA_CONSUMER_GROUP.slice(-10);
  const sites = { A: `EVA-${run}`, B: `EVB-${run}`, C: `EVC-${run}` };
  let app: INestApplication;
  let fleet: RegisteredFleet;
  let other: RegisteredFleet;
  let producer: Producer;
  const keys: Record<string, string> = {};
  let otherResearcher: string;
  let expectedLinked = 0;
  const patientRefs: string[] = [];
  const random = lcg(7);

  async function issueKey(manufacturerId: string, role: string): Promise<string> {
    const issued = await request(app.getHttpServer())
      .post('/api/v1/api-keys')
      .set(bearer(TEST_ADMIN_TOKEN))
      .send({ manufacturerId, role, name: `${role} ${run}` })
      .expect(201);
    return issued.body.key as string;
  }

  /** `count` patients at `site`, 1–3 vessels each, about 80% of vessels wired (`unlinked`: the share left out). */
  async function sendPatients(
    site: keyof typeof sites,
    count: number,
    month: number,
    label: string,
    unlinked = 0.2,
  ) {
    const siteId = sites[site];
    const device = `${siteId}-DEV`;
    const cathLab = `${siteId}-CATH`;
    const analyses = [];
    const outcomes = [];
    for (let p = 0; p < count; p++) {
      const patientRef = `${run}-${label}-${site}-${p}`;
      patientRefs.push(patientRef);
      const vesselNames = ['LAD', 'LCX', 'RCA'].slice(0, 1 + Math.floor(random() * 3));
      const occurredAt = new Date(Date.UTC(2026, month, 1 + (p % 27), 9, p % 60)).toISOString();
      const vessels = vesselNames.map((vessel) => {
        const invasive = Math.round((0.55 + random() * 0.4) * 100) / 100;
        const ctFfr = Math.min(1, Math.max(0, Math.round((invasive + (random() - 0.5) * 0.35) * 100) / 100));
        return { vessel, ctFfr, invasive };
      });
      analyses.push(
        analysisEvent(device, siteId, {
          patientRef,
          occurredAt,
          modelVersion: p % 2 === 0 ? 'ffrnet-2026.1' : 'ffrnet-2025.1',
          patient: {
            ageYears: 45 + Math.floor(random() * 40),
            sex: Math.floor(p / 2) % 2 === 0 ? 'F' : 'M',
            bmi: 22 + random() * 10,
          },
          acquisition: {
            scannerVendor: p % 4 === 0 ? 'Siemens' : 'GE',
            agatstonScore: Math.floor(random() * 600),
          },
          vessels: vessels.map(({ vessel, ctFfr }) => ({ vessel, ctFfr })),
        }),
      );
      for (const { vessel, invasive } of vessels) {
        if (random() < unlinked) continue;
        expectedLinked++;
        outcomes.push(
          invasiveFfrEvent(cathLab, siteId, patientRef, {
            measuredAt: new Date(Date.parse(occurredAt) + 10 * 86_400_000).toISOString(),
            vessel,
            segment: null,
            value: invasive,
          }),
        );
      }
    }
    await producer.send({
      topic: topics.analyses,
      messages: analyses.map((event) => signedMessage(device, event, fleet.devices[device])),
    });
    await producer.send({
      topic: topics.outcomes,
      messages: outcomes.map((event) => signedMessage(siteId, event, fleet.dataSources[cathLab])),
    });
  }

  const linkedVessels = async () =>
    (
      await request(app.getHttpServer())
        .get('/api/v1/performance')
        .query({ productId: fleet.productId, detail: 'full' })
        .set(bearer(fleet.manufacturerKey))
        .expect(200)
    ).body.linkage.linkedVessels as number;

  beforeAll(async () => {
    await ensureTopics(TEST_KAFKA_BROKERS.split(','), allTopics(topics), 3);
    app = await startApp(environment);
    fleet = await registerFleet(
      app,
      `Evidence-${run}`,
      Object.values(sites).map((siteId) => ({
        siteId,
        devices: [`${siteId}-DEV`],
        dataSources: [`${siteId}-CATH`],
      })),
    );
    other = await registerFleet(app, `EvidenceOther-${run}`, [
      { siteId: `EVO-${run}`, devices: [], dataSources: [] },
    ]);
    for (const role of ['researcher', 'auditor', 'quality'])
      keys[role] = await issueKey(fleet.manufacturerId, role);
    otherResearcher = await issueKey(other.manufacturerId, 'researcher');
    ({ producer } = await connectedProducer(TEST_KAFKA_BROKERS));
    await sendPatients('A', 120, 0, 'first');
    await sendPatients('B', 80, 1, 'first');
    await sendPatients('C', 4, 1, 'first');
    await pollUntil(linkedVessels, (linked) => linked === expectedLinked, {
      timeoutMs: 120_000,
      what: 'every invasive FFR to be linked',
    });
  });

  afterAll(async () => {
    await producer?.disconnect();
    await app?.close();
  });

  const query = (body: Record<string, unknown>, key = keys.researcher) =>
    request(app.getHttpServer()).post('/api/v1/evidence/queries').set(bearer(key)).send(body);

  const released: Released[] = [];
  async function releasedQuery(body: Record<string, unknown>): Promise<Released | null> {
    const response = await query({ productId: fleet.productId, ...body }).expect(201);
    if (response.body.status === 'released') released.push(response.body as Released);
    return response.body.status === 'released' ? (response.body as Released) : null;
  }

  it('answers a researcher with counts, distributions and stratified accuracy, the small site suppressed', async () => {
    const result = (await releasedQuery({ stratifyBy: 'site' }))!;
    expect(result).not.toBeNull();
    expect(result.result.cohort.patients).toBe(204);
    const bySite = result.result.distributions.site;
    const siteC = bySite.rows.find((row) => row.key === sites.C)!;
    expect(siteC.values).toBeNull();
    expect(siteC.suppressed).toBe('primary');
    // Never alone: the total would give it away.
    expect(bySite.rows.filter((row) => row.values === null).length).toBeGreaterThanOrEqual(2);
    const strataKeys = result.result.accuracy.strata.map((stratum) => stratum.key);
    expect(strataKeys).not.toContain(sites.C);
    expect(result.result.accuracy.counts.withheld).toBeNull();
    expect(result.result.accuracy.overall!.vessels).toBe(expectedLinked);
    // No pseudonym, and no keyed hash of one, in the answer.
    const text = JSON.stringify(result);
    for (const ref of patientRefs) expect(text).not.toContain(ref);
    expect(text).not.toMatch(/[0-9a-f]{64}:|:[0-9a-f]{64}/);
  });

  it('gives the same stratified accuracy as GET /performance for the same cohort', async () => {
    const result = (await releasedQuery({ stratifyBy: 'modelVersion' }))!;
    const performance = (
      await request(app.getHttpServer())
        .get('/api/v1/performance')
        .query({ productId: fleet.productId, groupBy: 'modelVersion', detail: 'full' })
        .set(bearer(fleet.manufacturerKey))
        .expect(200)
    ).body;
    const compare = (mine: Figures, theirs: Figures) => {
      for (const field of ['vessels', 'patients', 'tp', 'fp', 'tn', 'fn'])
        expect(mine[field]).toBe(theirs[field]);
      for (const metric of ['sensitivity', 'specificity', 'ppv', 'npv', 'accuracy', 'auc', 'blandAltman']) {
        expectSameFigures(mine[metric], theirs[metric], metric);
      }
    };
    compare(result.result.accuracy.overall!, performance.overall);
    expect(result.result.accuracy.strata.length).toBe(2);
    for (const stratum of result.result.accuracy.strata) {
      compare(
        stratum,
        performance.groups.find((group: { key: string }) => group.key === stratum.key),
      );
    }
    expect(result.result.accuracy.overall!.sensitivity.ci95.cluster).toHaveLength(2);
  });

  it('refuses a cohort under k, and one that differs from an earlier nested release by fewer than k patients', async () => {
    const small = await query({ productId: fleet.productId, sites: [sites.C] }).expect(201);
    expect(small.body).toMatchObject({
      status: 'refused',
      refusal: { reason: 'cohort-below-k' },
      result: null,
    });
    // All three sites were released above (204 patients); A + B is 200: the difference is site C's 4 patients.
    const differencing = await query({ productId: fleet.productId, sites: [sites.A, sites.B] }).expect(201);
    expect(differencing.body).toMatchObject({
      status: 'refused',
      refusal: { reason: 'differencing' },
      result: null,
    });
    expect(JSON.stringify(differencing.body)).not.toMatch(/\b200\b/);
  });

  it('refuses a cohort whose count, minus a row released by an earlier query, would single out a small site', async () => {
    // The first query released site A (120 patients' analyses) and suppressed B and C together. A cohort of sites A
    // and C is nested in it with a difference of 80 (site B) — the pairwise check lets it through — and its own site
    // table hides A and C together; but its cohort count (124 patients' analyses) minus the earlier row A is site C.
    const refused = await query({ productId: fleet.productId, sites: [sites.A, sites.C] }).expect(201);
    expect(refused.body).toMatchObject({
      status: 'refused',
      refusal: { reason: 'differencing', against: 'combination of earlier releases' },
      result: null,
    });
    // Sites A and B: nested with a difference of 4 (site C) — refused by the pairwise check as before.
    const nested = await query({ productId: fleet.productId, sites: [sites.A, sites.B] }).expect(201);
    expect(nested.body.refusal).toMatchObject({ reason: 'differencing' });
    // Site B alone: the first query's suppressed pair (B and C together) minus B would be C — refused too.
    expect((await query({ productId: fleet.productId, sites: [sites.B] }).expect(201)).body.status).toBe(
      'refused',
    );
  });

  it('across many overlapping queries, no cell, total or complement under k can be derived', async () => {
    const bodies: Array<Record<string, unknown>> = [
      { stratifyBy: 'sex' },
      { stratifyBy: 'vessel' },
      { sexes: ['F'], stratifyBy: 'site' },
      { sexes: ['M'] },
      { vessels: ['LAD'], stratifyBy: 'scannerVendor' },
      { vessels: ['LAD', 'RCA'] },
      { fromMonth: '2026-01', toMonth: '2026-01', stratifyBy: 'ageBand' },
      { fromMonth: '2026-02', toMonth: '2026-02' },
      { scannerVendors: ['GE'], stratifyBy: 'bmiBand' },
      { modelVersions: ['ffrnet-2025.1'], stratifyBy: 'agatstonBand' },
      { statuses: ['completed'], stratifyBy: 'site' },
    ];
    for (const body of bodies) await releasedQuery(body);
    expect(released.length).toBeGreaterThan(6);

    const tablesOf = (result: Released) => ({
      ...result.result.distributions,
      accuracy: result.result.accuracy.counts,
    });
    let tables = 0;
    for (const one of released) {
      for (const table of Object.values(tablesOf(one))) {
        if (table.withheld) {
          expect(table.totals).toBeNull();
          expect(table.rows.every((row) => row.values === null)).toBe(true);
          continue;
        }
        tables++;
        const hidden = table.rows.filter((row) => row.values === null).length;
        expect(hidden).not.toBe(1);
        table.columns.forEach((_, c) => {
          // Released cells: empty, or at least k (k patients at least one unit each).
          for (const row of table.rows)
            if (row.values) expect([0, ...[row.values[c]].filter((v) => v >= K)]).toContain(row.values[c]);
          // What the total minus the released cells leaves: 0, or enough that any hidden cell may be ≥ k.
          const left =
            table.totals![c] - table.rows.reduce((sum, row) => sum + (row.values ? row.values[c] : 0), 0);
          if (left !== 0) expect(left).toBeGreaterThanOrEqual(K + hidden - 1);
          if (table.totals![c] !== 0) expect(table.totals![c]).toBeGreaterThanOrEqual(K);
        });
      }
    }
    expect(tables).toBeGreaterThan(50);

    // Pairs of nested releases: no figure released in both differs by 1 … k − 1.
    const nested = (a: Released, b: Released) => {
      const contains = (outer: Record<string, unknown>, inner: Record<string, unknown>) =>
        [
          'modelVersions',
          'sites',
          'scannerVendors',
          'ageBands',
          'sexes',
          'bmiBands',
          'agatstonBands',
          'vessels',
          'statuses',
        ].every(
          (dimension) =>
            outer[dimension] === undefined ||
            (inner[dimension] !== undefined &&
              (inner[dimension] as string[]).every((value) =>
                (outer[dimension] as string[]).includes(value),
              )),
        ) &&
        (outer.fromMonth === null ||
          (inner.fromMonth !== null && (inner.fromMonth as string) >= (outer.fromMonth as string))) &&
        (outer.toMonth === null ||
          (inner.toMonth !== null && (inner.toMonth as string) <= (outer.toMonth as string)));
      return contains(a.definition, b.definition) || contains(b.definition, a.definition);
    };
    const small = (x: number, y: number) => Math.abs(x - y) >= 1 && Math.abs(x - y) < K;
    let pairs = 0;
    for (let i = 0; i < released.length; i++) {
      for (let j = i + 1; j < released.length; j++) {
        const [a, b] = [released[i], released[j]];
        if (!nested(a, b)) continue;
        pairs++;
        for (const key of Object.keys(a.result.cohort))
          expect(small(a.result.cohort[key], b.result.cohort[key])).toBe(false);
        const tablesA = tablesOf(a);
        const tablesB = tablesOf(b);
        for (const [name, tableA] of Object.entries(tablesA)) {
          const tableB = tablesB[name as keyof typeof tablesB];
          if (name === 'accuracy' && a.result.accuracy.stratifyBy !== b.result.accuracy.stratifyBy) continue;
          if (!tableA.totals || !tableB?.totals) continue;
          tableA.totals.forEach((total, c) => expect(small(total, tableB.totals![c])).toBe(false));
          for (const row of tableA.rows) {
            const other = tableB.rows.find((candidate) => candidate.key === row.key);
            if (!row.values || !other?.values) continue;
            row.values.forEach((value, c) =>
              expect({ name, key: row.key, small: small(value, other.values![c]) }).toEqual({
                name,
                key: row.key,
                small: false,
              }),
            );
          }
        }
      }
    }
    expect(pairs).toBeGreaterThan(5);
  });

  it('re-runs a stored query to the same sha256, also after new data arrived', async () => {
    const first = released[0];
    // Audited as new queries are by default, each unit's tables together, components certified by disjoint bases first
    // (release-records.ts AuditCoverage, FW_EVIDENCE_AUDIT_COVERAGE); the re-run audits as the query was audited.
    expect(first.auditCoverage).toBe('complete-bases');
    const rerun = await request(app.getHttpServer())
      .post(`/api/v1/evidence/queries/${first.id}/rerun`)
      .set(bearer(keys.auditor))
      .expect(200);
    expect(rerun.body).toMatchObject({
      reproduced: true,
      storedSha256: first.resultSha256,
      rerunSha256: first.resultSha256,
    });

    const before = expectedLinked;
    // Every late vessel wired: otherwise (analysed − linked vessels) now minus the same before would count the
    // late patients' unwired vessels — 6 patients with this seed — and the cross-release audit refuses the query.
    await sendPatients('A', 15, 2, 'late', 0);
    await pollUntil(linkedVessels, (linked) => linked === expectedLinked, {
      timeoutMs: 120_000,
      what: 'the late patients to be linked',
    });
    expect(expectedLinked).toBeGreaterThan(before);
    const again = await request(app.getHttpServer())
      .post(`/api/v1/evidence/queries/${first.id}/rerun`)
      .set(bearer(keys.researcher))
      .expect(200);
    expect(again.body).toMatchObject({ reproduced: true, rerunSha256: first.resultSha256 });
    // The same definition asked now sees the 15 new patients (≥ k: no differencing refusal).
    const now = (await query({ productId: fleet.productId, stratifyBy: 'site' }).expect(201)).body;
    expect(now.status).toBe('released');
    expect(now.result.cohort.patients).toBe(219);
    const stored = await request(app.getHttpServer())
      .get(`/api/v1/evidence/queries/${first.id}`)
      .set(bearer(keys.auditor))
      .expect(200);
    expect(stored.body.resultSha256).toBe(first.resultSha256);
    expect(stored.body.result.cohort.patients).toBe(204);
  });

  it('exports a stored query as CSV with its provenance and nothing the JSON withholds', async () => {
    const first = released[0];
    const response = await request(app.getHttpServer())
      .get(`/api/v1/evidence/queries/${first.id}.csv`)
      .set(bearer(keys.researcher))
      .expect(200);
    expect(response.headers['content-type']).toContain('text/csv');
    const rows = parse<Record<string, string>>(response.text, { columns: true });
    expect(rows.find((row) => row.table === 'resultSha256')!.value).toBe(first.resultSha256);
    const siteC = rows.filter((row) => row.table === 'site' && row.row === sites.C);
    expect(siteC).toHaveLength(1);
    expect(siteC[0]).toMatchObject({ value: '', suppressed: 'primary' });
    const sensitivity = rows.find(
      (row) => row.table === 'sensitivity' && row.row === 'overall' && row.ci_method === 'cluster',
    )!;
    expect(Number(sensitivity.value)).toBeCloseTo(first.result.accuracy.overall!.sensitivity.estimate, 12);
    for (const ref of patientRefs) expect(response.text).not.toContain(ref);
  });

  it('lets auditors read and re-run but not ask; other tenants see nothing', async () => {
    await query({ productId: fleet.productId }, keys.auditor).expect(403);
    await query({ productId: fleet.productId }, TEST_ADMIN_TOKEN).expect(403);
    const list = await request(app.getHttpServer())
      .get('/api/v1/evidence/queries')
      .set(bearer(keys.auditor))
      .expect(200);
    expect(list.body.items.length).toBeGreaterThan(5);
    // The index names what was asked and the digest of what was released; the figures come only through an
    // audited read (GET …/:id) or export.
    for (const item of list.body.items) {
      expect(item).not.toHaveProperty('result');
      expect(Object.keys(item).sort()).toEqual([
        'auditCoverage',
        'auditOperationLimit',
        'createdAt',
        'definition',
        'highWaterMark',
        'id',
        'minCell',
        'productId',
        'refusal',
        'resultSha256',
        'status',
      ]);
    }
    await request(app.getHttpServer())
      .get(`/api/v1/evidence/queries/${released[0].id}`)
      .set(bearer(otherResearcher))
      .expect(404);
    await query({ productId: fleet.productId }, otherResearcher).expect(404);
    const theirs = await request(app.getHttpServer())
      .get('/api/v1/evidence/queries')
      .set(bearer(otherResearcher))
      .expect(200);
    expect(theirs.body.items).toEqual([]);
    // Off-lattice definitions are refused outright.
    await query({ productId: fleet.productId, fromMonth: '2026-01-15' }).expect(400);
    await query({ productId: fleet.productId, ageBands: ['61-62'] }).expect(400);
    await query({ productId: fleet.productId, sites: [] }).expect(400);
    await query({ productId: fleet.productId, tables: ['patientId'] }).expect(400);
  });

  it('releases only the distributions a query names (data minimisation), and the accuracy table', async () => {
    const named = (
      await query({
        productId: fleet.productId,
        stratifyBy: 'sex',
        tables: ['site', 'ageBand', 'site'],
      }).expect(201)
    ).body;
    expect(named.status).toBe('released');
    expect(named.definition.tables).toEqual(['ageBand', 'site']);
    expect(Object.keys(named.result.distributions).sort()).toEqual(['ageBand', 'site']);
    expect(named.result.accuracy.stratifyBy).toBe('sex');
    // The whole product as the re-run test last asked it: only counts released before, so nothing new to audit.
    const countsOnly = (
      await query({ productId: fleet.productId, stratifyBy: 'site', tables: [] }).expect(201)
    ).body;
    expect(countsOnly.status).toBe('released');
    expect(countsOnly.result.distributions).toEqual({});
    // The accuracy table is part of every answer (released or protected as the audit decides).
    expect(countsOnly.result.accuracy.counts.columns).toEqual(['tp', 'fp', 'tn', 'fn']);
  });

  it('records every run, re-run, read and CSV export in the audit trail: actor, definition digest, result digest', async () => {
    interface Entry {
      action: string;
      actor: { type: string; role: string | null; manufacturerId: string | null };
      manufacturerId: string;
      afterDigest: string | null;
      details: Record<string, unknown>;
    }
    const trail = async (entityId: string): Promise<Entry[]> =>
      (
        await request(app.getHttpServer())
          .get('/api/v1/audit')
          .query({ entityType: 'evidence_query', entityId, limit: 100 })
          .set(bearer(keys.auditor))
          .expect(200)
      ).body.items.reverse();
    const first = released[0];
    const definitionSha256 = sha256Hex(canonicalJson(first.definition));
    const csv = await request(app.getHttpServer())
      .get(`/api/v1/evidence/queries/${first.id}.csv`)
      .set(bearer(keys.quality))
      .expect(200);
    const entries = await trail(first.id);
    // Run by the researcher, re-run by the auditor and the researcher, read by the auditor, exported by the
    // researcher and quality.
    expect(entries.map((entry) => `${entry.action} by ${entry.actor.role}`)).toEqual([
      'evidence_query.run by researcher',
      'evidence_query.rerun by auditor',
      'evidence_query.rerun by researcher',
      'evidence_query.read by auditor',
      'evidence_query.export_csv by researcher',
      'evidence_query.export_csv by quality',
    ]);
    for (const entry of entries) {
      expect(entry.actor).toMatchObject({ type: 'api_key', manufacturerId: fleet.manufacturerId });
      expect(entry.manufacturerId).toBe(fleet.manufacturerId);
      expect(entry.details).toMatchObject({
        productId: fleet.productId,
        definitionSha256,
        resultSha256: first.resultSha256,
        highWaterMark: first.highWaterMark,
      });
    }
    expect(entries[0].details).toMatchObject({ status: 'released' });
    // The run's afterDigest is recomputable by anyone from what GET /evidence/queries/:id shows.
    const shown = await request(app.getHttpServer())
      .get(`/api/v1/evidence/queries/${first.id}`)
      .set(bearer(keys.auditor))
      .expect(200);
    expect(entries[0].afterDigest).toBe(stateDigest(shown.body)!.toString('hex'));
    expect(entries[1].details).toMatchObject({ reproduced: true, rerunSha256: first.resultSha256 });
    expect(entries[5].details).toMatchObject({ csvSha256: sha256Hex(csv.text) });
    // That read is recorded too, after the entries above.
    expect((await trail(first.id)).at(-1)).toMatchObject({
      action: 'evidence_query.read',
      actor: { role: 'auditor' },
      details: { resultSha256: first.resultSha256, definitionSha256 },
    });
    // A refused query is recorded too: what was asked, by whom, and that nothing was released.
    const refused = (await query({ productId: fleet.productId, sites: [sites.C] }).expect(201)).body;
    expect(refused.status).toBe('refused');
    const [refusedEntry] = await trail(refused.id);
    expect(refusedEntry).toMatchObject({
      action: 'evidence_query.run',
      actor: { role: 'researcher' },
      details: {
        status: 'refused',
        resultSha256: null,
        definitionSha256: sha256Hex(canonicalJson(refused.definition)),
      },
    });
    // Nothing of a patient reaches the trail.
    for (const ref of patientRefs) expect(JSON.stringify(entries)).not.toContain(ref);
  });
});
