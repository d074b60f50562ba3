import { INestApplication } from '@nestjs/common';
import { parse } from 'csv-parse/sync';
import { Producer } from 'kafkajs';
import { createHash, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import request from 'supertest';
import { ensureTopics } from '../scripts/kafka-admin';
import { CDM_TABLES, CDM_V54_TABLES, CdmTable, createTableSql } from '../src/evidence/omop/cdm-v54';
import { LOCAL_CONCEPT_FLOOR, OMOP_CONCEPTS } from '../src/evidence/omop/concepts';
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

/*
 * OMOP CDM v5.4 export end to end (issue 7 §3): analyses and invasive FFR over Kafka, then every table as CSV. Each
 * file's header is the CDM v5.4 column list and loads into tables created from the CDM DDL (types, NOT NULL, varchar
 * lengths); nothing identifying leaves (no pseudonyms, site or device codes, exact dates); dates are shifted per
 * person with intervals kept; an export is repeatable by its id and unlinkable to another.
 */

const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });
const DAY = 86_400_000;

describe('OMOP CDM v5.4 export', () => {
  const environment = isolatedEnvironment('omop');
  const topics = topicsFor(environment.KAFKA_TOPIC_PREFIX);
  const run = environment.KAFKA_CONSUMER_GROUP.slice(-10);
  const site = `OMOP-${run}`;
  const device = `${site}-DEV`;
  const cathLab = `${site}-CATH`;
  let app: INestApplication;
  let fleet: RegisteredFleet;
  let other: RegisteredFleet;
  let producer: Producer;
  let researcher: string;
  const refs: string[] = [];
  const originalDates = new Set<string>();
  let ctFfrVessels = 0;
  let invasiveCount = 0;
  const patients = 30;

  beforeAll(async () => {
    await ensureTopics(TEST_KAFKA_BROKERS.split(','), allTopics(topics), 3);
    app = await startApp(environment);
    fleet = await registerFleet(app, `Omop-${run}`, [
      { siteId: site, devices: [device], dataSources: [cathLab] },
    ]);
    other = await registerFleet(app, `OmopOther-${run}`, [
      { siteId: `OO-${run}`, devices: [], dataSources: [] },
    ]);
    researcher = (
      await request(app.getHttpServer())
        .post('/api/v1/api-keys')
        .set(bearer(TEST_ADMIN_TOKEN))
        .send({ manufacturerId: fleet.manufacturerId, role: 'researcher', name: 'omop researcher' })
        .expect(201)
    ).body.key;
    ({ producer } = await connectedProducer(TEST_KAFKA_BROKERS));
    const analyses = [];
    const outcomes = [];
    for (let p = 0; p < patients; p++) {
      const patientRef = `${run}-omop-${p}`;
      refs.push(patientRef);
      const occurredAt = new Date(Date.UTC(2026, 0, 2 + p, 10, 17));
      originalDates.add(occurredAt.toISOString().slice(0, 10));
      const vessels = p % 3 === 0 ? ['LAD', 'RCA'] : ['LAD'];
      // Patient 0 reports no age (left out: the CDM requires a year of birth); patient 1 is 95 (top-coded to 90).
      const patient =
        p === 0 ? { sex: 'F' } : { ageYears: p === 1 ? 95 : 50 + p, sex: p % 2 ? 'M' : 'F', bmi: 27 };
      analyses.push(
        analysisEvent(device, site, {
          patientRef,
          occurredAt: occurredAt.toISOString(),
          patient,
          vessels: vessels.map((vessel, i) => ({ vessel, ctFfr: 0.7 + i * 0.1 + p / 1000 })),
        }),
      );
      if (p !== 0) ctFfrVessels += vessels.length;
      if (p % 2 === 0) {
        outcomes.push(
          invasiveFfrEvent(cathLab, site, patientRef, {
            measuredAt: new Date(occurredAt.getTime() + 10 * DAY).toISOString(),
            vessel: 'LAD',
            segment: null,
            value: 0.78,
          }),
        );
        if (p !== 0) invasiveCount++;
      }
    }
    await producer.send({
      topic: topics.analyses,
      messages: analyses.map((event) => signedMessage(device, event, fleet.devices[device])),
    });
    await producer.send({
      topic: topics.outcomes,
      messages: outcomes.map((event) => signedMessage(site, event, fleet.dataSources[cathLab])),
    });
    await pollUntil(
      async () =>
        (
          await request(app.getHttpServer())
            .get('/api/v1/performance')
            .query({ productId: fleet.productId, detail: 'full' })
            .set(bearer(fleet.manufacturerKey))
            .expect(200)
        ).body.linkage.linkedVessels as number,
      (linked) => linked === outcomes.length,
      { timeoutMs: 120_000, what: 'the invasive FFR to be linked' },
    );
    // The tests export as of one second ago (asOf must be in the past): on a fast run the rows can be younger than
    // that (CI once exported 0 persons), so let every row stored above fall before it.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
  });

  afterAll(async () => {
    await producer?.disconnect();
    await app?.close();
  });

  const asOf = () => new Date(Date.now() - 1000).toISOString();
  const fetchTable = (table: string, exportId: string, at: string, key = fleet.manufacturerKey) =>
    request(app.getHttpServer())
      .get(`/api/v1/evidence/omop/${table}.csv`)
      .query({ productId: fleet.productId, exportId, asOf: at })
      .set(bearer(key));

  it('writes every table with the CDM v5.4 columns, loadable into the CDM DDL', async () => {
    const exportId = randomUUID();
    const at = asOf();
    const files: Record<string, Array<Record<string, string>>> = {};
    for (const table of CDM_TABLES) {
      const response = await fetchTable(table, exportId, at).expect(200);
      expect(response.headers['content-type']).toContain('text/csv');
      const header = response.text.split(/\r?\n/, 1)[0].split(',');
      expect(header).toEqual(CDM_V54_TABLES[table].map((column) => column.name));
      files[table] = parse<Record<string, string>>(response.text, { columns: true });
      // Nothing identifying: no pseudonym, site or device code, no keyed hash.
      for (const ref of refs) expect(response.text).not.toContain(ref);
      expect(response.text).not.toContain(site);
      expect(response.text).not.toMatch(/[0-9a-f]{64}/);
    }

    const client = new Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    const schema = `omop_${run.replace(/[^a-z0-9]/gi, '').toLowerCase()}`;
    try {
      await client.query(`CREATE SCHEMA ${schema}`);
      for (const table of CDM_TABLES) {
        await client.query(createTableSql(schema, table));
        const columns = CDM_V54_TABLES[table].map((column) => column.name);
        for (const row of files[table]) {
          await client.query(
            `INSERT INTO ${schema}.${table} (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`,
            columns.map((column) => (row[column] === '' ? null : row[column])),
          );
        }
      }
      const count = async (table: CdmTable) =>
        Number((await client.query(`SELECT count(*)::int AS n FROM ${schema}.${table}`)).rows[0].n);
      // Patient 0 has no age: left out. Every other patient is a person with one CTA, one device exposure.
      expect(await count('person')).toBe(patients - 1);
      expect(await count('observation_period')).toBe(patients - 1);
      expect(await count('procedure_occurrence')).toBe(patients - 1);
      expect(await count('device_exposure')).toBe(patients - 1);
      expect(await count('measurement')).toBe(ctFfrVessels + invasiveCount);

      // Intervals kept: each wired patient's invasive FFR is 10 days after the CTA, in shifted dates too.
      const gaps = await client.query<{ gap: number }>(
        `SELECT (m.measurement_date - p.procedure_date) AS gap
           FROM ${schema}.measurement m JOIN ${schema}.procedure_occurrence p USING (person_id)
          WHERE m.measurement_concept_id = $1`,
        [OMOP_CONCEPTS.invasiveFfr.conceptId],
      );
      expect(gaps.rows).toHaveLength(invasiveCount);
      for (const row of gaps.rows) expect(row.gap).toBe(10);
      // Dates shifted, each person by one draw from −182 … +182 days. The 29 CTAs fell on 29 consecutive days; shifted,
      // each lands in that window with probability 30/365, so more than 12 of 29 inside it (P < 1e-6 when shifted)
      // means they were not, and they spread far wider than the window, but never beyond the shift's range.
      const dates = (
        await client.query<{ d: string }>(
          `SELECT procedure_date::text AS d FROM ${schema}.procedure_occurrence`,
        )
      ).rows.map((row) => row.d);
      expect(dates.filter((date) => originalDates.has(date)).length).toBeLessThanOrEqual(12);
      const dayNumber = (date: string) => Date.parse(`${date}T00:00:00Z`) / 86_400_000;
      const original = [...originalDates].map(dayNumber);
      const shifted = dates.map(dayNumber);
      expect(Math.max(...shifted) - Math.min(...shifted)).toBeGreaterThan(60);
      expect(Math.min(...shifted)).toBeGreaterThanOrEqual(Math.min(...original) - 182);
      expect(Math.max(...shifted)).toBeLessThanOrEqual(Math.max(...original) + 182);
      // Observation periods cover each person's events.
      const outside = await client.query(
        `SELECT 1 FROM ${schema}.measurement m JOIN ${schema}.observation_period o USING (person_id)
          WHERE m.measurement_date NOT BETWEEN o.observation_period_start_date AND o.observation_period_end_date`,
      );
      expect(outside.rowCount).toBe(0);
      // Year of birth: 90+ top-coded, so no one is born more than 91 years before the (shifted) CTA year.
      const oldest = await client.query<{ age: number }>(
        `SELECT max(extract(year FROM p.procedure_date) - pe.year_of_birth)::int AS age
           FROM ${schema}.procedure_occurrence p JOIN ${schema}.person pe USING (person_id)`,
      );
      expect(oldest.rows[0].age).toBe(90);
      const genders = await client.query<{ g: number }>(
        `SELECT DISTINCT gender_concept_id AS g FROM ${schema}.person`,
      );
      expect(genders.rows.map((row) => row.g).sort()).toEqual([8507, 8532]);
      const concepts = await client.query<{ c: number }>(
        `SELECT DISTINCT measurement_concept_id AS c FROM ${schema}.measurement
         UNION SELECT DISTINCT procedure_concept_id FROM ${schema}.procedure_occurrence
         UNION SELECT DISTINCT device_concept_id FROM ${schema}.device_exposure`,
      );
      for (const row of concepts.rows) expect(row.c).toBeGreaterThanOrEqual(LOCAL_CONCEPT_FLOOR);
    } finally {
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    }
  });

  it('ships the source-to-concept map of the local concepts', async () => {
    const response = await fetchTable('source_to_concept_map', randomUUID(), asOf()).expect(200);
    const rows = parse<Record<string, string>>(response.text, { columns: true });
    expect(rows.map((row) => row.source_concept_id).sort()).toEqual(
      Object.values(OMOP_CONCEPTS)
        .filter((entry) => entry.kind === 'local')
        .map((entry) => String(entry.conceptId))
        .sort(),
    );
    expect(
      rows.find((row) => row.source_concept_id === String(OMOP_CONCEPTS.coronaryCtaWithCtFfr.conceptId)),
    ).toMatchObject({
      source_vocabulary_id: 'SNOMED',
      source_code: '419545005',
    });
  });

  it('repeats an export byte for byte by its id, and a new id cannot be joined to it', async () => {
    const exportId = randomUUID();
    const at = asOf();
    const first = (await fetchTable('procedure_occurrence', exportId, at).expect(200)).text;
    const again = (await fetchTable('procedure_occurrence', exportId, at).expect(200)).text;
    expect(again).toBe(first);
    const other = (await fetchTable('procedure_occurrence', randomUUID(), at).expect(200)).text;
    expect(other).not.toBe(first);
    // Each download is in the audit trail: who, which export definition (its sha256), which table, which bytes.
    const trail = (
      await request(app.getHttpServer())
        .get('/api/v1/audit')
        .query({ entityType: 'omop_export', entityId: exportId })
        .set({ Authorization: `Bearer ${fleet.manufacturerKey}` })
        .expect(200)
    ).body.items as Array<{ action: string; actor: { role: string }; details: Record<string, unknown> }>;
    expect(trail).toHaveLength(2);
    const csvSha256 = createHash('sha256').update(first, 'utf8').digest('hex');
    for (const entry of trail) {
      expect(entry).toMatchObject({
        action: 'omop.export',
        actor: { role: 'manufacturer' },
        details: {
          productId: fleet.productId,
          exportId,
          asOf: at,
          table: 'procedure_occurrence',
          rows: parse(first, { columns: true }).length,
          csvSha256,
        },
      });
    }
    expect(trail[0].details.definitionSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(trail[1].details.definitionSha256).toBe(trail[0].details.definitionSha256);
    const byPerson = (text: string) =>
      new Map(
        parse<Record<string, string>>(text, { columns: true }).map((row) => [
          row.person_id,
          row.procedure_date,
        ]),
      );
    const a = byPerson(first);
    const b = byPerson(other);
    const same = [...a.entries()].filter(([person, date]) => b.get(person) === date).length;
    expect(same).toBeLessThan(5);
  });

  it('is for the data controller only: researchers 403, other tenants 404, bad requests 400', async () => {
    await fetchTable('person', randomUUID(), asOf(), researcher).expect(403);
    await fetchTable('person', randomUUID(), asOf(), other.manufacturerKey).expect(404);
    await fetchTable('visit_occurrence', randomUUID(), asOf()).expect(400);
    await fetchTable('person', 'not-a-uuid', asOf()).expect(400);
    await fetchTable('person', randomUUID(), new Date(Date.now() + 3_600_000).toISOString()).expect(400);
  });
});
