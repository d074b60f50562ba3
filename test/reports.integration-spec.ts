import { INestApplication } from '@nestjs/common';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Ajv from 'ajv';
import { Producer } from 'kafkajs';
import request from 'supertest';
import { ensureTopics } from '../scripts/kafka-admin';
import { allTopics, topicsFor } from '../src/kafka/topics';
import { NMPA_SECTIONS, PSUR_SECTIONS } from '../src/reports/report-rules';
import { registerFleet, RegisteredFleet, startApp } from './helpers/app';
import { analysisEvent, connectedProducer, invasiveFfrEvent, signedMessage } from './helpers/events';
import { pollUntil } from './helpers/poll';
import { isolatedEnvironment, TEST_ADMIN_TOKEN, TEST_KAFKA_BROKERS } from './helpers/test-environment';

/**
 * Periodic reports end to end (issue 6): the 500-vessel oracle fixture goes in over Kafka, two incidents through the
 * API; the PSUR and the NMPA report come out as JSON (validated against the published schema), HTML and PDF. The PDF
 * is read back with Debian's poppler-utils: sections present and in order, charts not blank. Two generations over the
 * same data hash identically; a final report refuses every change (409) and verifies its signature.
 */
const fixtures = join(__dirname, '..', 'src', 'stats', 'fixtures');
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

const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

function pdfText(pdf: Buffer, directory: string, name: string): string {
  const path = join(directory, `${name}.pdf`);
  writeFileSync(path, pdf);
  return execFileSync('pdftotext', ['-layout', '-enc', 'UTF-8', path, '-'], { encoding: 'utf8' });
}

/** Non-white share of a page image (PPM from pdftoppm, 8-bit RGB). */
function inkShare(ppm: Buffer): number {
  // Header: P6\n<w> <h>\n255\n
  let offset = 0;
  let fields = 0;
  while (fields < 4) {
    while (/\s/.test(String.fromCharCode(ppm[offset]))) offset++;
    while (!/\s/.test(String.fromCharCode(ppm[offset]))) offset++;
    fields++;
  }
  offset++;
  let ink = 0;
  let pixels = 0;
  for (let i = offset; i + 2 < ppm.length; i += 3) {
    pixels++;
    if (ppm[i] < 200 || ppm[i + 1] < 200 || ppm[i + 2] < 200) ink++;
  }
  return ink / pixels;
}

describe('periodic reports: PSUR and NMPA report, reproducible, signed, immutable', () => {
  const environment: Record<string, string> = {
    ...isolatedEnvironment('reports'),
    FW_IMDRF_CODE_TABLE: resolve(__dirname, '../../shared/reference/imdrf/imdrf_aet_2023.json'),
  };
  const topics = topicsFor(environment.KAFKA_TOPIC_PREFIX);
  const run = environment.KAFKA_CONSUMER_GROUP.slice(-12);
  const site = `REP-${run}`;
  const device = `REP-DEV-${run}`;
  const cathLab = `REP-CATH-${run}`;
  const work = mkdtempSync(join(tmpdir(), 'fw-reports-'));
  let app: INestApplication;
  let fleet: RegisteredFleet;
  let quality: string;
  let auditor: string;
  let producer: Producer;
  let server: ReturnType<INestApplication['getHttpServer']>;

  beforeAll(async () => {
    await ensureTopics(TEST_KAFKA_BROKERS.split(','), allTopics(topics), 3);
    app = await startApp(environment);
    server = app.getHttpServer();
    fleet = await registerFleet(app, `Rep-${run}`, [
      { siteId: site, devices: [device], dataSources: [cathLab] },
    ]);
    const key = async (role: string) =>
      (
        await request(server)
          .post('/api/v1/api-keys')
          .set(bearer(TEST_ADMIN_TOKEN))
          .send({ manufacturerId: fleet.manufacturerId, role, name: `${role} ${run}` })
          .expect(201)
      ).body.key as string;
    quality = await key('quality');
    auditor = await key('auditor');
    ({ producer } = await connectedProducer(TEST_KAFKA_BROKERS));
    const byPatient = new Map<string, typeof rows>();
    for (const row of rows) byPatient.set(row.patient, [...(byPatient.get(row.patient) ?? []), row]);
    const analyses = [...byPatient.entries()].map(([patient, vessels], index) =>
      analysisEvent(device, site, {
        patientRef: `${run}-${patient}`,
        occurredAt: new Date(Date.UTC(2025, 0, 1) + index * 20 * 3_600_000).toISOString(),
        vessels: vessels.map((v) => ({ vessel: v.vessel, ctFfr: v.ctffr })),
      }),
    );
    const outcomes = [...byPatient.entries()].flatMap(([patient, vessels], index) =>
      vessels.map((v) =>
        invasiveFfrEvent(cathLab, site, `${run}-${patient}`, {
          measuredAt: new Date(Date.UTC(2025, 0, 8) + index * 20 * 3_600_000).toISOString(),
          vessel: v.vessel,
          segment: null,
          value: v.ffr,
        }),
      ),
    );
    await producer.send({
      topic: topics.analyses,
      messages: analyses.map((event) => signedMessage(device, event, fleet.devices[device])),
    });
    await producer.send({
      topic: topics.outcomes,
      messages: outcomes.map((event) => signedMessage(site, event, fleet.dataSources[cathLab])),
    });
    for (const incident of [
      {
        title: 'Missed ischaemia on CT-FFR',
        seriousness: 'serious_deterioration',
        awarenessDate: '2025-03-10',
        countries: ['DE'],
        imdrf: { A: ['A090803'], F: ['F13'] },
      },
      {
        title: 'Report delivered late',
        seriousness: 'non_serious',
        awarenessDate: '2025-05-02',
        countries: ['CN'],
      },
    ]) {
      await request(server)
        .post('/api/v1/incidents')
        .set(bearer(quality))
        .send({ productId: fleet.productId, ...incident })
        .expect(201);
    }
    await pollUntil(
      async () =>
        (
          await request(server)
            .get('/api/v1/performance')
            .query({ productId: fleet.productId })
            .set(bearer(quality))
            .expect(200)
        ).body,
      (body: { linkage: { linkedVessels: number } }) => body.linkage.linkedVessels === rows.length,
      { timeoutMs: 120_000, what: 'all 500 vessels to be linked' },
    );
  });

  afterAll(async () => {
    await producer?.disconnect();
    await app?.close();
  });

  const period = { from: '2025-01-01', to: '2025-12-31' };

  it('generates a PSUR whose JSON matches its schema, in MDCG 2022-21 order, and whose PDF reads back in order with charts', async () => {
    const created = await request(server)
      .post('/api/v1/reports')
      .set(bearer(quality))
      .send({ type: 'psur', productId: fleet.productId, ...period })
      .expect(201);
    expect(created.body).toMatchObject({ status: 'draft', version: 1, type: 'psur' });
    expect(created.body.sha256.json).toMatch(/^[0-9a-f]{64}$/);
    const id: string = created.body.id;

    const json = await request(server)
      .get(`/api/v1/reports/${id}.json`)
      .set(bearer(auditor))
      .buffer(true)
      .expect(200);
    const text = json.text;
    expect(json.headers['x-content-sha256']).toBe(created.body.sha256.json);
    const document = JSON.parse(text);
    const schema = (
      await request(server).get('/api/v1/reports/schemas/psur').set(bearer(auditor)).expect(200)
    ).body;
    const ajv = new Ajv({ allErrors: true, strict: false });
    ajv.addFormat('date', /^\d{4}-\d{2}-\d{2}$/);
    const valid = ajv.validate(schema, document);
    expect(ajv.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
    expect(document.sections.map((s: { key: string }) => s.key)).toEqual(PSUR_SECTIONS.map((s) => s.key));
    // Figures carry n and CIs from the performance module: 500 linked vessels in 350 patients.
    expect(document.dataBasis.linkedVesselsInPeriod).toBe(500);
    const generalPms = document.sections.find((s: { key: string }) => s.key === 'generalPms');
    const overall = generalPms.tables.find((t: { id: string }) => t.id === 'performance-overall');
    expect(overall.rows[0][1]).toMatch(/\/\d+; 95% CI \d/);
    const drift = JSON.stringify(generalPms.statements);
    expect(drift).toMatch(/drift/i);

    const pdf = await request(server)
      .get(`/api/v1/reports/${id}.pdf`)
      .set(bearer(quality))
      .buffer(true)
      .parse((response, callback) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => callback(null, Buffer.concat(chunks)));
      })
      .expect(200);
    const pdfBytes = pdf.body as Buffer;
    expect(pdfBytes.subarray(0, 5).toString()).toBe('%PDF-');
    const pages = pdfText(pdfBytes, work, 'psur');
    // Sections present and in order (the table of contents names them too: search after it).
    // Long headings wrap: compare with whitespace collapsed.
    const body = pages.slice(pages.indexOf('Page 2 of')).replace(/\s+/g, ' ');
    let position = 0;
    for (const section of PSUR_SECTIONS) {
      const found = body.indexOf(`${section.number}. ${section.title}`, position);
      expect({ section: section.title, found: found >= 0 }).toEqual({ section: section.title, found: true });
      position = found;
    }
    expect(pages).toMatch(/Page 1 of \d+/);
    expect(pages).toContain('Table of contents');
    expect(pages).toContain('Table 4');

    // Page images: every page has ink, and the pages with charts carry much more than text pages.
    execFileSync('pdftoppm', ['-r', '40', join(work, 'psur.pdf'), join(work, 'psur-page')]);
    const images = readdirSync(work)
      .filter((f) => f.startsWith('psur-page'))
      .sort();
    expect(images.length).toBeGreaterThan(5);
    const shares = images.map((f) => inkShare(readFileSync(join(work, f))));
    expect(Math.min(...shares)).toBeGreaterThan(0);
    expect(Math.max(...shares)).toBeGreaterThan(0.05);

    const html = await request(server).get(`/api/v1/reports/${id}.html`).set(bearer(quality)).expect(200);
    expect(html.headers['content-security-policy']).toContain("default-src 'none'");
    expect(html.text).toContain('data:image/png;base64,');
    expect((html.text.match(/<img /g) ?? []).length).toBeGreaterThanOrEqual(4);
  });

  it('two generations over the same data hash identically; finalising signs and freezes; verify recomputes and matches', async () => {
    const first = (
      await request(server)
        .get('/api/v1/reports')
        .query({ productId: fleet.productId })
        .set(bearer(quality))
        .expect(200)
    ).body.items.find((r: { type: string }) => r.type === 'psur');
    const v1 = (await request(server).get(`/api/v1/reports/${first.id}`).set(bearer(quality)).expect(200))
      .body;
    const v2 = (
      await request(server).post(`/api/v1/reports/${first.id}/versions`).set(bearer(quality)).expect(201)
    ).body;
    expect(v2.version).toBe(v1.version + 1);
    expect(v2.versions[v2.versions.length - 1].sha256.json).toBe(v1.sha256.json);
    expect(v2.versions[v2.versions.length - 1].configurationSha256).toBe(v1.versions[0].configurationSha256);

    // Roles: an auditor or a manufacturer key may read but not finalise.
    await request(server).post(`/api/v1/reports/${first.id}/finalize`).set(bearer(auditor)).expect(403);
    await request(server)
      .post(`/api/v1/reports/${first.id}/finalize`)
      .set(bearer(fleet.manufacturerKey))
      .expect(403);
    const final = (
      await request(server).post(`/api/v1/reports/${first.id}/finalize`).set(bearer(quality)).expect(200)
    ).body;
    expect(final.status).toBe('final');
    expect(final.signature.algorithm).toBe('Ed25519');
    const key = (await request(server).get('/api/v1/reports/signing-key').set(bearer(auditor)).expect(200))
      .body;
    expect(final.signature.publicKey).toBe(key.publicKeyHex);

    // Every change is refused.
    await request(server).post(`/api/v1/reports/${first.id}/finalize`).set(bearer(quality)).expect(409);
    await request(server).post(`/api/v1/reports/${first.id}/versions`).set(bearer(quality)).expect(409);
    await request(server)
      .post('/api/v1/reports')
      .set(bearer(quality))
      .send({ type: 'psur', productId: fleet.productId, ...period })
      .expect(409);

    const verified = (
      await request(server).get(`/api/v1/reports/${first.id}/verify`).set(bearer(auditor)).expect(200)
    ).body;
    expect(verified).toMatchObject({
      status: 'final',
      matches: true,
      differences: [],
      artefactsIntact: { json: true, html: true, pdf: true },
      signature: { valid: true, publishedKey: true, messageMatches: true },
    });
    expect(verified.recomputedSha256).toBe(final.sha256.json);
  });

  it('the NMPA report has bilingual headings, embeds its CJK font and renders them', async () => {
    const created = await request(server)
      .post('/api/v1/reports')
      .set(bearer(quality))
      .send({ type: 'nmpa-periodic-risk', productId: fleet.productId, ...period })
      .expect(201);
    const document = JSON.parse(
      (await request(server).get(`/api/v1/reports/${created.body.id}.json`).set(bearer(quality)).expect(200))
        .text,
    );
    expect(document.sections.map((s: { titleZh: string }) => s.titleZh)).toEqual(
      NMPA_SECTIONS.map((s) => s.titleZh),
    );
    const pdf = await request(server)
      .get(`/api/v1/reports/${created.body.id}.pdf`)
      .set(bearer(quality))
      .buffer(true)
      .parse((response, callback) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => callback(null, Buffer.concat(chunks)));
      })
      .expect(200);
    const text = pdfText(pdf.body as Buffer, work, 'nmpa');
    const flat = text.replace(/\s+/g, ' ');
    for (const section of NMPA_SECTIONS)
      expect(flat).toContain(`${section.number}. ${section.titleZh} / ${section.title}`);
    const fonts = execFileSync('pdffonts', [join(work, 'nmpa.pdf')], { encoding: 'utf8' });
    // Every font is embedded (column "emb" yes) and subset.
    const fontRows = fonts.trim().split('\n').slice(2);
    expect(fontRows.length).toBeGreaterThan(0);
    for (const row of fontRows) expect(row).toMatch(/\byes\s+yes\s+(yes|no)\s+\d+\s+\d+\s*$/);
  });

  it('another tenant cannot see the reports', async () => {
    const other = await registerFleet(app, `RepOther-${run}`, [
      { siteId: `O-${site}`, devices: [], dataSources: [] },
    ]);
    const mine = (await request(server).get('/api/v1/reports').set(bearer(quality)).expect(200)).body.items;
    expect(mine.length).toBeGreaterThan(0);
    await request(server).get(`/api/v1/reports/${mine[0].id}`).set(bearer(other.manufacturerKey)).expect(404);
    await request(server)
      .get(`/api/v1/reports/${mine[0].id}.pdf`)
      .set(bearer(other.manufacturerKey))
      .expect(404);
    expect(
      (await request(server).get('/api/v1/reports').set(bearer(other.manufacturerKey)).expect(200)).body
        .items,
    ).toEqual([]);
  });
});
