import { INestApplication } from '@nestjs/common';
import { ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import request from 'supertest';
import { ensureTopics } from '../../scripts/kafka-admin';
import { allTopics, topicsFor } from '../../src/kafka/topics';
import { ingestionStatsByTopic, registerFleet, RegisteredFleet } from '../helpers/app';
import {
  analysisEvent,
  connectedProducer,
  deviceEvent,
  invasiveFfrEvent,
  signedMessage,
} from '../helpers/events';
import { pollUntil } from '../helpers/poll';
import {
  isolatedEnvironment,
  TEST_ADMIN_TOKEN,
  TEST_AUDIT_SIGNING_KEY,
  TEST_DATABASE_URL,
  TEST_KAFKA_BROKERS,
  TEST_MASTER_KEY,
  TEST_PSEUDONYM_KEY,
} from '../helpers/test-environment';

/** What an answer or a log line must never contain (DESIGN.md §5; issue 8 item 7). */
const STACK_TRACE = [/ {4}at /, /\.ts:\d+/, /node_modules\//];
const SQL = [
  /\b(SELECT|INSERT INTO|DELETE FROM|TRUNCATE|ALTER TABLE)\b/,
  /\bUPDATE\s+"?\w+"?\s+SET\b/,
  /violates/i,
  /\bconstraint\b/i,
  /\brelation "/i,
  /duplicate key/i,
  /syntax error at or near/i,
  /invalid byte sequence/i,
];

interface Answer {
  what: string;
  status: number;
  text: string;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * The application as a separate process (src/main.ts), its stdout and stderr — everything it logs,
 * at LOG_LEVEL=trace — captured whole in a file; provoked into every kind of error and fed events
 * with patient identifiers; then every answer and every log byte is scanned.
 */
describe('confidentiality: no stack trace, SQL, secret or pseudonym in answers or logs', () => {
  const environment: Record<string, string> = {
    ...isolatedEnvironment('hygiene'),
    LOG_LEVEL: 'trace',
    FW_PROCESS_ROLE: 'all',
  };
  const topics = topicsFor(environment.KAFKA_TOPIC_PREFIX);
  const run = environment.KAFKA_CONSUMER_GROUP.slice(-12);
  const site = `HYG-${run}`;
  const device = `HYG-DEV-${run}`;
  const cathLab = `HYG-CATH-${run}`;
  const logDirectory = mkdtempSync(join(tmpdir(), 'fieldwatch-hygiene-'));
  const logPath = join(logDirectory, 'app.log');
  const answers: Answer[] = [];
  /** label → value that must appear nowhere. */
  const secrets = new Map<string, string>();
  let child: ChildProcess | null = null;
  let base = '';
  let fleet: RegisteredFleet;
  let qualityKey = '';
  let database: Client;
  const patientRefs: string[] = [];
  const studyRefs: string[] = [];
  const analysisIds: string[] = [];

  /** One request, recorded whole (status line, headers, body) for the final scan. */
  async function call(
    what: string,
    path: string,
    init: {
      method?: string;
      key?: string;
      body?: string;
      json?: unknown;
      headers?: Record<string, string>;
    } = {},
  ): Promise<{ status: number; body: unknown }> {
    const headers: Record<string, string> = { ...(init.headers ?? {}) };
    if (init.key) headers.Authorization = `Bearer ${init.key}`;
    let body = init.body;
    if (init.json !== undefined) body = JSON.stringify(init.json);
    if (body !== undefined && !headers['Content-Type']) headers['Content-Type'] = 'application/json';
    const response = await fetch(`${base}${path}`, { method: init.method ?? 'GET', headers, body });
    const text = await response.text();
    // forEach, not entries(): with the DOM lib in the program (chart.js's types), Headers is the DOM's, which iterates
    // only with dom.iterable.
    const headerLines: string[] = [];
    response.headers.forEach((value, name) => headerLines.push(`${name}: ${value}`));
    const headerText = headerLines.join('\n');
    answers.push({ what, status: response.status, text: `${response.status}\n${headerText}\n\n${text}` });
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON: the assertions below say so.
    }
    return { status: response.status, body: parsed };
  }

  const server = () => base as unknown as ReturnType<INestApplication['getHttpServer']>;
  /** registerFleet and the stats helper speak supertest, which takes a base URL as well as a server. */
  const remoteApp = () => ({ getHttpServer: server }) as unknown as INestApplication;

  beforeAll(async () => {
    await ensureTopics(TEST_KAFKA_BROKERS.split(','), allTopics(topics), 3);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const root = join(__dirname, '..', '..');
    const log = openSync(logPath, 'w');
    child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/main.ts'], {
      cwd: root,
      env: {
        ...process.env,
        ...environment,
        PORT: String(port),
        TS_NODE_PROJECT: join(root, 'tsconfig.json'),
      },
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    await pollUntil(
      async () => {
        if (child?.exitCode !== null)
          throw new Error(`app exited during start:\n${readFileSync(logPath, 'utf8')}`);
        return fetch(`${base}/health/live`)
          .then((r) => r.ok)
          .catch(() => false);
      },
      (ready) => ready,
      { timeoutMs: 90_000, intervalMs: 250, what: 'the app process to answer /health/live' },
    );

    fleet = await registerFleet(remoteApp(), `Hygiene-${run}`, [
      { siteId: site, devices: [device], dataSources: [cathLab] },
    ]);
    qualityKey = (
      await request(server())
        .post('/api/v1/api-keys')
        .set('Authorization', `Bearer ${TEST_ADMIN_TOKEN}`)
        .send({ manufacturerId: fleet.manufacturerId, role: 'quality', name: 'hygiene quality' })
        .expect(201)
    ).body.key;
    const rotated = (
      await request(server())
        .post(`/api/v1/data-sources/${cathLab}/secret`)
        .set('Authorization', `Bearer ${fleet.manufacturerKey}`)
        .send({ reason: 'hygiene test rotation' })
        .expect(200)
    ).body.secret as string;

    secrets.set('bootstrap admin token', TEST_ADMIN_TOKEN);
    secrets.set('manufacturer API key', fleet.manufacturerKey);
    secrets.set('quality API key', qualityKey);
    secrets.set('device secret', fleet.devices[device]);
    secrets.set('data-source secret (before rotation)', fleet.dataSources[cathLab]);
    secrets.set('data-source secret (after rotation)', rotated);
    fleet.dataSources[cathLab] = rotated;
    for (const [name, hex] of [
      ['FW_MASTER_KEY', TEST_MASTER_KEY],
      ['FW_PSEUDONYM_KEY', TEST_PSEUDONYM_KEY],
      ['FW_AUDIT_SIGNING_KEY', TEST_AUDIT_SIGNING_KEY],
    ]) {
      secrets.set(`${name} (hex)`, hex);
      secrets.set(`${name} (base64)`, Buffer.from(hex, 'hex').toString('base64'));
    }
    database = new Client({ connectionString: TEST_DATABASE_URL });
    await database.connect();
  });

  afterAll(async () => {
    await database
      ?.query('ALTER TABLE manufacturers DROP CONSTRAINT IF EXISTS hygiene_probe')
      .catch(() => undefined);
    await database?.end();
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(logDirectory, { recursive: true, force: true });
  });

  const expectErrorShape = (answer: { status: number; body: unknown }, status: number) => {
    expect(answer.status).toBe(status);
    expect(Object.keys(answer.body as object).sort()).toEqual(['error', 'message', 'statusCode']);
    expect((answer.body as { statusCode: number }).statusCode).toBe(status);
  };

  it('answers every provoked error with { statusCode, error, message } and a fixed text', async () => {
    const admin = TEST_ADMIN_TOKEN;
    // Malformed JSON that quotes a key: the parser's message would echo it.
    const malformed = await call('malformed JSON', '/api/v1/manufacturers', {
      method: 'POST',
      key: admin,
      body: `{"name": "${fleet.manufacturerKey}", oops}`,
    });
    expectErrorShape(malformed, 400);
    expect((malformed.body as { message: string }).message).toBe('Request body is not valid JSON');
    expectErrorShape(
      await call('oversized body', '/api/v1/manufacturers', {
        method: 'POST',
        key: admin,
        json: { name: 'x'.repeat(300 * 1024) },
      }),
      413,
    );
    expectErrorShape(
      await call('duplicate (unique constraint)', '/api/v1/sites', {
        method: 'POST',
        key: fleet.manufacturerKey,
        json: { siteId: site, name: 'again', country: 'CN' },
      }),
      409,
    );
    expectErrorShape(
      await call('foreign key to another tenant', '/api/v1/model-versions', {
        method: 'POST',
        key: fleet.manufacturerKey,
        json: {
          productId: '00000000-0000-4000-8000-000000000000',
          version: 'v',
          releasedAt: '2025-01-01T00:00:00Z',
        },
      }),
      404,
    );
    expectErrorShape(
      await call('NUL character in a text value', '/api/v1/manufacturers', {
        method: 'POST',
        key: admin,
        json: { name: 'nul\u0000byte' },
      }),
      400,
    );
    // A database rule the request validation does not know: a server error the client must not see.
    await database.query(
      `ALTER TABLE manufacturers ADD CONSTRAINT hygiene_probe CHECK (name NOT LIKE 'hygiene-probe-%') NOT VALID`,
    );
    try {
      const refused = await call('check constraint unknown to validation (500)', '/api/v1/manufacturers', {
        method: 'POST',
        key: admin,
        json: { name: `hygiene-probe-${run}` },
      });
      expectErrorShape(refused, 500);
      expect(refused.body).toEqual({
        statusCode: 500,
        error: 'Internal Server Error',
        message: 'Internal server error',
      });
    } finally {
      await database.query('ALTER TABLE manufacturers DROP CONSTRAINT hygiene_probe');
    }
    expectErrorShape(await call('unknown route', '/api/v1/no-such-route', { key: admin }), 404);
    expectErrorShape(
      await call('unknown method', '/api/v1/products', { method: 'PUT', key: admin, json: {} }),
      404,
    );
    expectErrorShape(
      await call('bad percent-encoding', '/api/v1/devices/%E0%A4%A', { key: fleet.manufacturerKey }),
      400,
    );
    expectErrorShape(await call('no API key', '/api/v1/products'), 401);
    expectErrorShape(
      await call('unknown API key', '/api/v1/products', { key: `fwk_${'A'.repeat(43)}` }),
      401,
    );
    expectErrorShape(
      await call('key in X-Api-Key instead of Authorization', '/api/v1/products', {
        headers: { 'X-Api-Key': fleet.manufacturerKey, Cookie: `session=${qualityKey}` },
      }),
      401,
    );
    expectErrorShape(
      await call('role without the permission', '/api/v1/ingestion/stats', { key: qualityKey }),
      403,
    );
    for (const [what, path] of [
      ['negative limit', '/api/v1/analyses?limit=-5'],
      ['limit above the cap', '/api/v1/analyses?limit=100000'],
      ['date that is no date', '/api/v1/analyses?from=yesterday'],
      ['forged cursor', '/api/v1/analyses?cursor=Z2FyYmFnZQ'],
      ['NUL in a filter', '/api/v1/analyses?deviceId=%00'],
      ['id that is no UUID', '/api/v1/products/not-a-uuid'],
      ['API key as a query parameter', `/api/v1/products?apiKey=${fleet.manufacturerKey}`],
      ['patient reference as a query parameter', `/api/v1/analyses?patientRef=p-query-${run}`],
    ]) {
      expectErrorShape(await call(what, path, { key: fleet.manufacturerKey }), 400);
    }
    patientRefs.push(`p-query-${run}`);
  });

  it('ingests events with patient identifiers, stored and dead-lettered, without echoing them', async () => {
    const { producer } = await connectedProducer(TEST_KAFKA_BROKERS);
    try {
      const deviceSecret = fleet.devices[device];
      const analyses = Array.from({ length: 6 }, (_, index) => {
        const event = analysisEvent(device, site, {
          patientRef: `p-hyg-${run}-${index}`,
          studyRef: `s-hyg-${run}-${index}`,
        });
        patientRefs.push(event.patientRef);
        studyRefs.push(event.studyRef);
        analysisIds.push(event.eventId);
        return event;
      });
      const invalid = analysisEvent(device, site, {
        patientRef: `p-hyg-${run}-invalid`,
        vessels: [{ vessel: 'LAD', ctFfr: 7 }],
      });
      const forged = analysisEvent(device, site, { patientRef: `p-hyg-${run}-forged` });
      const notJson = Buffer.from(`{"patientRef": "p-hyg-${run}-notjson", `, 'utf8');
      patientRefs.push(`p-hyg-${run}-invalid`, `p-hyg-${run}-forged`, `p-hyg-${run}-notjson`);
      await producer.send({
        topic: topics.analyses,
        messages: [
          ...analyses.map((event) => signedMessage(device, event, deviceSecret)),
          signedMessage(device, invalid, deviceSecret),
          { ...signedMessage(device, forged, 'fws_not-the-device-secret'), key: device },
          { key: device, value: notJson, headers: signedMessage(device, {}, deviceSecret).headers },
        ],
      });
      const outcome = invasiveFfrEvent(cathLab, site, `p-hyg-${run}-0`);
      const wrongSite = invasiveFfrEvent(cathLab, `ELSEWHERE-${run}`, `p-hyg-${run}-elsewhere`);
      patientRefs.push(`p-hyg-${run}-elsewhere`);
      await producer.send({
        topic: topics.outcomes,
        messages: [
          signedMessage(site, outcome, fleet.dataSources[cathLab]),
          signedMessage(site, wrongSite, fleet.dataSources[cathLab]),
        ],
      });
      await producer.send({
        topic: topics.deviceEvents,
        messages: [
          signedMessage(device, deviceEvent(device, { message: `crashed on p-hyg-${run}-0` }), deviceSecret),
        ],
      });
      const counters = await pollUntil(
        () => ingestionStatsByTopic(server()),
        (stats) =>
          (stats[topics.analyses]?.received ?? 0) >= 9 &&
          (stats[topics.outcomes]?.received ?? 0) >= 2 &&
          (stats[topics.deviceEvents]?.received ?? 0) >= 1,
        { what: 'the hygiene events to be consumed' },
      );
      expect(counters[topics.analyses]).toMatchObject({ stored: 6, deadLettered: 3 });
      expect(counters[topics.outcomes]).toMatchObject({ stored: 1, deadLettered: 1 });
    } finally {
      await producer.disconnect();
    }

    // The pseudonyms as stored: the keyed hashes that must not surface either.
    const stored = await database.query(
      `SELECT encode(patient_key, 'hex') AS patient, encode(study_key, 'hex') AS study,
              encode(patient_key, 'base64') AS patient64, encode(study_key, 'base64') AS study64
         FROM analyses WHERE event_id = ANY($1)`,
      [analysisIds],
    );
    expect(stored.rowCount).toBe(6);
    stored.rows.forEach((row: Record<string, string>, index: number) => {
      for (const [kind, value] of Object.entries(row))
        secrets.set(`stored pseudonym ${kind} #${index}`, value);
    });
    patientRefs.forEach((ref, index) => secrets.set(`raw patientRef #${index}`, ref));
    studyRefs.forEach((ref, index) => secrets.set(`raw studyRef #${index}`, ref));

    const listed = await call('analyses list', `/api/v1/analyses?deviceId=${device}&limit=50`, {
      key: fleet.manufacturerKey,
    });
    expect(listed.status).toBe(200);
    expect((listed.body as { total: number }).total).toBe(6);
    for (const path of [
      '/api/v1/devices',
      '/api/v1/data-sources',
      '/api/v1/manufacturers',
      '/api/v1/audit?limit=100',
    ]) {
      await call(`list ${path}`, path, {
        key: path.includes('manufacturers') ? TEST_ADMIN_TOKEN : fleet.manufacturerKey,
      });
    }
  });

  it('leaves none of them in any answer or anywhere in the log', async () => {
    // SIGTERM: shutdown hooks run and the log is flushed and complete.
    const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
    child?.kill('SIGTERM');
    await exited;
    child = null;
    const log = readFileSync(logPath, 'utf8');

    const findings: string[] = [];
    const sources = [
      ...answers.map((answer) => ({ name: `answer to ${answer.what}`, text: answer.text })),
      { name: 'log', text: log },
    ];
    for (const { name, text } of sources) {
      for (const pattern of STACK_TRACE)
        if (pattern.test(text)) findings.push(`${name}: stack trace ${pattern}`);
      for (const pattern of SQL) if (pattern.test(text)) findings.push(`${name}: SQL ${pattern}`);
      for (const [label, value] of secrets) {
        if (text.includes(value)) findings.push(`${name}: ${label}`);
      }
    }
    if (findings.length > 0) {
      const context = (pattern: RegExp) => {
        const match = pattern.exec(log);
        return match ? log.slice(Math.max(0, match.index - 200), match.index + 200) : '';
      };
      console.log([...STACK_TRACE, ...SQL].map(context).filter(Boolean).join('\n---\n'));
    }
    expect(findings).toEqual([]);
    // And the capture was real: it holds the request lines and the provoked server error's trace.
    expect(log).toContain('"url":"/api/v1/products?apiKey=[redacted]"');
    expect(log).toContain('Unhandled QueryFailedError (SQLSTATE 23514)');
    expect(log).toContain('request failed with status 500');
    expect(log.split('\n').length).toBeGreaterThan(50);

    expect(answers.length).toBeGreaterThan(25);
    expect(secrets.size).toBeGreaterThan(40);
  });
});
