/**
 * Ingestion while the API is under load (issue 8 §6, availability): the scenario shared by
 * test/security/availability-under-load.integration-spec.ts (one round, asserts correctness and the
 * structural protections, prints the timing) and scripts/bench-availability.ts (several rounds, medians).
 *
 * A tenant with `sites` sites (a device and a cath-lab data source each) is registered through the API and
 * pre-loaded through Kafka with signed analyses and invasive FFRs (so GET /performance has linked vessels to
 * work on). Then, alternately, `events` new analyses are produced and timed until all are stored:
 *   - alone: nothing else talks to the API;
 *   - loaded: `clients` concurrent clients, each with its own API key and `inFlightPerKey` requests in flight,
 *     call the heaviest read routes (GET /performance full detail grouped by site, GET /analyses and GET
 *     /audit with 500-item pages) as fast as they are answered, ignoring Retry-After (a loop only pauses
 *     `pauseAfterThrottleMs` after a 429 or a failed request, so the load generator itself does not eat the machine's cores).
 * Timing is measured here and printed by the callers, never asserted (project rule: speed is measured).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Message, Producer } from 'kafkajs';
import type { Client } from 'pg';
import { signMessageValue, SIGNATURE_HEADER } from '../src/kafka/signature';
import type { Topics } from '../src/kafka/topics';

const DAY_MS = 86_400_000;
/** Messages per producer.send: well under the broker's default 1 MB record-batch limit. */
const SEND_BATCH = 500;

export interface LoadSender {
  siteId: string;
  deviceId: string;
  deviceSecret: string;
  sourceId: string;
  sourceSecret: string;
}

export interface LoadTenant {
  manufacturerId: string;
  productId: string;
  /** The tenant's manufacturer key (registration; a few probes outside the load). */
  manufacturerKey: string;
  senders: LoadSender[];
  /** One quality-role key per load client: the rate limit is per key. */
  readerKeys: string[];
}

/** A well-behaved client: waits as long as Retry-After says when its key is over its rate limit. */
async function api<T>(baseUrl: string, key: string, method: string, path: string, body?: object): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await response.text();
    if (response.status === 429 && attempt < 10) {
      const seconds = Number(response.headers.get('retry-after') ?? '1');
      await new Promise((resolve) =>
        setTimeout(resolve, (Number.isFinite(seconds) ? seconds : 1) * 1000 + 100),
      );
      continue;
    }
    if (!response.ok) throw new Error(`${method} ${path} → ${response.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text) as T;
  }
}

/** Registers the load tenant through the API, as a manufacturer would (the admin issues its keys). */
export async function registerLoadTenant(
  baseUrl: string,
  adminKey: string,
  label: string,
  { sites, readers }: { sites: number; readers: number },
): Promise<LoadTenant> {
  const manufacturer = await api<{ id: string }>(baseUrl, adminKey, 'POST', '/api/v1/manufacturers', {
    name: `${label} Medical`,
  });
  const issue = async (role: string, name: string) =>
    (
      await api<{ key: string }>(baseUrl, adminKey, 'POST', '/api/v1/api-keys', {
        manufacturerId: manufacturer.id,
        role,
        name,
      })
    ).key;
  const manufacturerKey = await issue('manufacturer', `${label} automation`);
  const product = await api<{ id: string }>(baseUrl, manufacturerKey, 'POST', '/api/v1/products', {
    name: `${label} CT-FFR`,
    udiDi: `0697${Math.floor(Math.random() * 1e10)}`.padEnd(14, '0'),
    riskClass: 'III',
    jurisdictions: ['EU', 'CN'],
    ffrThreshold: 0.8,
    premarketClaims: {
      sensitivity: { estimate: 0.86, ci95: [0.8, 0.91], n: 180 },
      specificity: { estimate: 0.81, ci95: [0.76, 0.85], n: 320 },
      auc: { estimate: 0.9, ci95: [0.87, 0.93], n: 500 },
    },
  });
  const senders: LoadSender[] = [];
  for (let index = 0; index < sites; index++) {
    const siteId = `${label}-S${index}`;
    await api(baseUrl, manufacturerKey, 'POST', '/api/v1/sites', {
      siteId,
      name: `Hospital ${index}`,
      country: 'DE',
    });
    const device = await api<{ secret: string }>(baseUrl, manufacturerKey, 'POST', '/api/v1/devices', {
      deviceId: `${label}-D${index}`,
      productId: product.id,
      siteId,
      softwareVersion: '1.4.2',
      modelVersion: 'ffrnet-2025.1',
      scannerVendor: index % 2 === 0 ? 'GE' : 'Siemens',
    });
    const source = await api<{ secret: string }>(baseUrl, manufacturerKey, 'POST', '/api/v1/data-sources', {
      sourceId: `${label}-C${index}`,
      siteId,
      name: `Cath lab ${index}`,
      kind: 'cath_lab',
    });
    senders.push({
      siteId,
      deviceId: `${label}-D${index}`,
      deviceSecret: device.secret,
      sourceId: `${label}-C${index}`,
      sourceSecret: source.secret,
    });
  }
  const readerKeys: string[] = [];
  for (let index = 0; index < readers; index++)
    readerKeys.push(await issue('quality', `${label} reader ${index}`));
  return { manufacturerId: manufacturer.id, productId: product.id, manufacturerKey, senders, readerKeys };
}

function signed(key: string, event: object, secret: string): Message {
  const value = Buffer.from(JSON.stringify(event), 'utf8');
  return { key, value, headers: { [SIGNATURE_HEADER]: signMessageValue(secret, value) } };
}

export interface LoadEvents {
  analyses: Message[];
  outcomes: Message[];
  eventIds: string[];
}

/**
 * `count` signed analyses (one LAD vessel each, CT-FFR spread over 0.55–0.95, within the last ~10 months)
 * and, for every `outcomeEvery`-th patient (0: none), an invasive FFR two weeks later that links to it.
 */
export function loadEvents(tenant: LoadTenant, count: number, tag: string, outcomeEvery = 0): LoadEvents {
  const now = Date.now();
  const analyses: Message[] = [];
  const outcomes: Message[] = [];
  const eventIds: string[] = [];
  for (let index = 0; index < count; index++) {
    const sender = tenant.senders[index % tenant.senders.length];
    const occurredAt = now - (20 + (index % 280)) * DAY_MS - (index % 1440) * 60_000;
    const ctFfr = 0.55 + ((index * 7919) % 400) / 1000;
    const patientRef = `p-${tag}-${index}`;
    const eventId = randomUUID();
    eventIds.push(eventId);
    analyses.push(
      signed(
        sender.deviceId,
        {
          schema: 'fieldwatch.analysis/1',
          eventId,
          deviceId: sender.deviceId,
          siteId: sender.siteId,
          occurredAt: new Date(occurredAt).toISOString(),
          softwareVersion: '1.4.2',
          modelVersion: 'ffrnet-2025.1',
          patientRef,
          studyRef: `s-${tag}-${index}`,
          patient: { ageYears: 40 + (index % 45), sex: index % 3 === 0 ? 'F' : 'M', bmi: 22 + (index % 12) },
          acquisition: {
            scannerVendor: 'GE',
            scannerModel: 'Revolution CT',
            heartRateBpm: 55 + (index % 30),
          },
          status: 'completed',
          rejectionReason: null,
          processingSeconds: 300 + (index % 200),
          vessels: [
            { vessel: 'LAD', segment: 7, ctFfr, stenosisPercent: 50, measurementPoint: 'distal_20mm' },
          ],
        },
        sender.deviceSecret,
      ),
    );
    if (outcomeEvery > 0 && index % outcomeEvery === 0) {
      const invasive = Math.min(1, Math.max(0.4, ctFfr + (((index * 104729) % 100) - 50) / 1000));
      outcomes.push(
        signed(
          sender.siteId,
          {
            schema: 'fieldwatch.outcome/1',
            eventId: randomUUID(),
            sourceId: sender.sourceId,
            siteId: sender.siteId,
            patientRef,
            type: 'invasive_ffr',
            measuredAt: new Date(occurredAt + 14 * DAY_MS).toISOString(),
            vessel: 'LAD',
            segment: 7,
            value: Math.round(invasive * 1000) / 1000,
            hyperemia: 'adenosine_iv',
          },
          sender.sourceSecret,
        ),
      );
    }
  }
  return { analyses, outcomes, eventIds };
}

export async function produce(producer: Producer, topic: string, messages: Message[]): Promise<void> {
  for (let start = 0; start < messages.length; start += SEND_BATCH) {
    await producer.send({ topic, messages: messages.slice(start, start + SEND_BATCH) });
  }
}

/** How many of `eventIds` are stored as analyses. */
export async function storedCount(database: Client, eventIds: string[]): Promise<number> {
  const result = await database.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM analyses WHERE event_id = ANY($1::uuid[])`,
    [eventIds],
  );
  return result.rows[0].n;
}

export interface IngestionTiming {
  phase: string;
  events: number;
  /** From the first producer.send to the poll that found every event stored (50 ms resolution). */
  wallMs: number;
  /** Of which producing into Kafka (the consumer is storing meanwhile). */
  produceMs: number;
  /** received_at of the last stored event minus that of the first: the consumer's own span. */
  storeSpanMs: number;
  eventsPerSecond: number;
}

/** Produces the analyses and waits until every one of them is stored; throws after `timeoutMs`. */
export async function timeIngestion(
  phase: string,
  producer: Producer,
  topic: string,
  events: LoadEvents,
  database: Client,
  timeoutMs = 300_000,
): Promise<IngestionTiming> {
  const started = performance.now();
  await produce(producer, topic, events.analyses);
  const produced = performance.now();
  const deadline = Date.now() + timeoutMs;
  let stored = 0;
  for (;;) {
    stored = await storedCount(database, events.eventIds);
    if (stored >= events.eventIds.length) break;
    if (Date.now() > deadline) {
      throw new Error(
        `${phase}: only ${stored} of ${events.eventIds.length} analyses stored after ${timeoutMs} ms`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const wallMs = performance.now() - started;
  const span = await database.query<{ ms: number }>(
    `SELECT (extract(epoch FROM max(received_at) - min(received_at)) * 1000)::float8 AS ms
       FROM analyses WHERE event_id = ANY($1::uuid[])`,
    [events.eventIds],
  );
  return {
    phase,
    events: events.eventIds.length,
    wallMs,
    produceMs: produced - started,
    storeSpanMs: span.rows[0].ms,
    eventsPerSecond: events.eventIds.length / (wallMs / 1000),
  };
}

export interface HammerRoute {
  name: string;
  path: string;
}

/** The heaviest read routes of a tenant's key (issue 8 §6). */
export function heavyRoutes(tenant: LoadTenant): HammerRoute[] {
  return [
    {
      name: 'performance',
      path: `/api/v1/performance?productId=${tenant.productId}&groupBy=site&detail=full`,
    },
    { name: 'analyses', path: '/api/v1/analyses?limit=500' },
    { name: 'audit', path: '/api/v1/audit?limit=500' },
  ];
}

export interface RouteLoad {
  /** Answers per status code (0: no answer — connection refused, reset or timed out). */
  statuses: Record<number, number>;
  /** Latencies of the 2xx answers, ms. */
  okLatenciesMs: number[];
  throttledLatenciesMs: number[];
}

export interface HammerReport {
  durationMs: number;
  /** Per client (one API key each, all its loops together): answers per status code. */
  clients: Array<Record<number, number>>;
  routes: Record<string, RouteLoad>;
  /** CPU the load generator itself used (this process), ms. */
  generatorCpuMs: number;
  /** The first 429 answer seen, to check its shape. */
  sampleThrottled: { status: number; retryAfter: string | null; body: string } | null;
  /** Bodies of answers other than 2xx and 429, by status (at most a few each), to tell what they were. */
  otherBodies: Record<number, string[]>;
  errors: string[];
}

export interface Hammer {
  /** Requests answered so far. */
  answered(): number;
  /** Requests answered 2xx so far (heavy work actually served). */
  served(): number;
  stop(): Promise<HammerReport>;
}

/**
 * Starts one client per key, each with `inFlightPerKey` loops calling the routes in turn as fast as they
 * are answered (more requests in flight than the key's budget, so every key meets its rate limit).
 */
export function startHammer(
  baseUrl: string,
  keys: string[],
  routes: HammerRoute[],
  { inFlightPerKey = 1, pauseAfterThrottleMs = 200 } = {},
): Hammer {
  let running = true;
  /** Aborts the requests still in flight when the load stops: they are not waited for, nor counted. */
  const stopping = new AbortController();
  let answered = 0;
  let served = 0;
  const started = performance.now();
  const cpuAtStart = process.cpuUsage();
  const report: HammerReport = {
    durationMs: 0,
    clients: keys.map(() => ({})),
    routes: Object.fromEntries(
      routes.map((route) => [route.name, { statuses: {}, okLatenciesMs: [], throttledLatenciesMs: [] }]),
    ),
    generatorCpuMs: 0,
    sampleThrottled: null,
    otherBodies: {},
    errors: [],
  };
  const client = async (index: number, loop: number): Promise<void> => {
    let turn = index + loop;
    while (running) {
      const route = routes[turn++ % routes.length];
      const sent = performance.now();
      let status = 0;
      try {
        const response = await fetch(`${baseUrl}${route.path}`, {
          headers: { Authorization: `Bearer ${keys[index]}` },
          signal: AbortSignal.any([stopping.signal, AbortSignal.timeout(120_000)]),
        });
        const body = await response.text();
        status = response.status;
        if (status === 429 && !report.sampleThrottled) {
          report.sampleThrottled = { status, retryAfter: response.headers.get('retry-after'), body };
        } else if ((status < 200 || status >= 300) && status !== 429) {
          const bodies = (report.otherBodies[status] ??= []);
          if (bodies.length < 3) bodies.push(body.slice(0, 300));
        }
      } catch (error) {
        if (stopping.signal.aborted) break;
        // undici puts the reason (connect timeout, socket closed…) in `cause`; duck-typed, because under jest
        // the error comes from another realm than this module's Error.
        const reason = (error as { cause?: { message?: unknown; code?: unknown } } | null)?.cause;
        const cause =
          typeof reason?.message === 'string'
            ? `: ${reason.message}${typeof reason.code === 'string' ? ` (${reason.code})` : ''}`
            : '';
        const message = (error as { message?: unknown } | null)?.message;
        if (report.errors.length < 20) {
          report.errors.push(`${typeof message === 'string' ? message : String(error)}${cause}`);
        }
      }
      if (stopping.signal.aborted) break;
      const latency = performance.now() - sent;
      answered++;
      const load = report.routes[route.name];
      load.statuses[status] = (load.statuses[status] ?? 0) + 1;
      report.clients[index][status] = (report.clients[index][status] ?? 0) + 1;
      if (status >= 200 && status < 300) {
        served++;
        load.okLatenciesMs.push(latency);
      }
      if (status === 429) load.throttledLatenciesMs.push(latency);
      // After a 429 or no answer at all (a dead or saturated app), pause before the next request.
      if (status === 429 || status === 0) {
        await new Promise((resolve) => setTimeout(resolve, pauseAfterThrottleMs));
      }
    }
  };
  const clients = keys.flatMap((_, index) =>
    Array.from({ length: inFlightPerKey }, (_unused, loop) => client(index, loop)),
  );
  return {
    answered: () => answered,
    served: () => served,
    stop: async () => {
      running = false;
      stopping.abort();
      await Promise.all(clients);
      const cpu = process.cpuUsage(cpuAtStart);
      report.durationMs = performance.now() - started;
      report.generatorCpuMs = (cpu.user + cpu.system) / 1000;
      return report;
    },
  };
}

export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

const ms = (value: number | null): string => (value === null ? '-' : `${Math.round(value)}`);

/** The ingestion timings and the ratio of the loaded rate to the mean of the rates alone. */
export function timingTable(timings: IngestionTiming[]): string {
  const alone = timings.filter((t) => t.phase.startsWith('alone'));
  const loaded = timings.filter((t) => t.phase.startsWith('loaded'));
  const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / Math.max(1, values.length);
  const ratio = mean(loaded.map((t) => t.eventsPerSecond)) / mean(alone.map((t) => t.eventsPerSecond));
  return [
    '| phase | events | wall ms | of which produce ms | store span ms | events/s |',
    '|---|---:|---:|---:|---:|---:|',
    ...timings.map(
      (t) =>
        `| ${t.phase} | ${t.events} | ${ms(t.wallMs)} | ${ms(t.produceMs)} | ${ms(t.storeSpanMs)} | ${ms(t.eventsPerSecond)} |`,
    ),
    '',
    `ingestion rate under API load / alone: ${ratio.toFixed(2)} (measured, not asserted)`,
  ].join('\n');
}

/** What the load clients got: per route the answers by status and the 2xx / 429 latencies. */
export function hammerTable(report: HammerReport, recoveryMs?: number | null): string {
  const lines = [
    `${report.clients.length} load clients for ${ms(report.durationMs)} ms (load generator CPU ${ms(report.generatorCpuMs)} ms)`,
    '| route | requests | 2xx | 429 | 503 | other status | no answer | 2xx p50 ms | 2xx p95 ms | 429 p50 ms |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const [name, load] of Object.entries(report.routes)) {
    const total = Object.values(load.statuses).reduce((sum, n) => sum + n, 0);
    const ok = Object.entries(load.statuses)
      .filter(([status]) => Number(status) >= 200 && Number(status) < 300)
      .reduce((sum, [, n]) => sum + n, 0);
    const throttled = load.statuses[429] ?? 0;
    const unavailable = load.statuses[503] ?? 0;
    const unanswered = load.statuses[0] ?? 0;
    const other = total - ok - throttled - unavailable - unanswered;
    lines.push(
      `| ${name} | ${total} | ${ok} | ${throttled} | ${unavailable} | ${other} | ${unanswered} | ` +
        `${ms(percentile(load.okLatenciesMs, 50))} | ` +
        `${ms(percentile(load.okLatenciesMs, 95))} | ${ms(percentile(load.throttledLatenciesMs, 50))} |`,
    );
  }
  if (recoveryMs !== undefined) {
    lines.push(
      `  after the load stopped, the API answered /health/live again ${recoveryMs === null ? 'not within the bound' : `after ${ms(recoveryMs)} ms`}`,
    );
  }
  const reasons = [...new Set(report.errors)];
  if (reasons.length > 0) lines.push(`  no answer: ${reasons.join('; ')}`);
  for (const [status, bodies] of Object.entries(report.otherBodies)) {
    lines.push(`  ${status}: ${bodies.map((body) => JSON.stringify(body)).join(' ')}`);
  }
  return lines.join('\n');
}

// ── app processes ─────────────────────────────────────────────────────────────────────────────────

/**
 * How the app is deployed for a run: `all`, API and consumers in one process (the default of `npm start`
 * and docker/compose.yml: they share one event loop and one connection pool), or `split`, an `api`
 * process and an `ingest` process in the same consumer group (README, "Scaling out").
 */
export type Topology = 'all' | 'split';

export interface AppHandle {
  role: 'all' | 'api' | 'ingest';
  baseUrl: string;
  /** Exit code or signal once the process has ended on its own, else null. */
  exited(): string | null;
  /** The last 20,000 characters it wrote to stdout and stderr. */
  log(): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** src/main.ts as a child process with `environment` and FW_PROCESS_ROLE=role, once it answers /health/live. */
export async function startAppProcess(
  environment: Record<string, string>,
  role: AppHandle['role'],
): Promise<AppHandle> {
  const root = join(__dirname, '..');
  const port = await freePort();
  let output = '';
  /** Set by the exit handler (an object, so the start loop below reads it afresh). */
  const status: { exited: string | null } = { exited: null };
  const child: ChildProcess = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', 'src/main.ts'],
    {
      cwd: root,
      env: {
        ...process.env,
        ...environment,
        FW_PROCESS_ROLE: role,
        PORT: String(port),
        TS_NODE_PROJECT: join(root, 'tsconfig.json'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const capture = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout?.on('data', capture);
  child.stderr?.on('data', capture);
  child.once('exit', (code, signal) => {
    status.exited = signal ?? String(code);
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (status.exited !== null) {
      throw new Error(`the ${role} process exited during start (${status.exited}):\n${output}`);
    }
    const live = await fetch(`${baseUrl}/health/live`, { signal: AbortSignal.timeout(2_000) })
      .then((response) => response.ok)
      .catch(() => false);
    if (live) break;
    if (Date.now() > deadline) throw new Error(`the ${role} process did not answer /health/live:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return {
    role,
    baseUrl,
    exited: () => status.exited,
    log: () => output,
    stop: async () => {
      if (status.exited !== null) return;
      const ended = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const forced = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await ended;
      clearTimeout(forced);
    },
  };
}

/** The processes of a topology: the first one serves the API. */
export async function startTopology(
  environment: Record<string, string>,
  topology: Topology,
): Promise<AppHandle[]> {
  if (topology === 'all') return [await startAppProcess(environment, 'all')];
  const api = await startAppProcess(environment, 'api');
  try {
    return [api, await startAppProcess(environment, 'ingest')];
  } catch (error) {
    await api.stop();
    throw error;
  }
}

// ── the scenario ──────────────────────────────────────────────────────────────────────────────────

export interface ScenarioOptions {
  apiUrl: string;
  /** Registered with registerLoadTenant (readers: one key per load client). */
  tenant: LoadTenant;
  producer: Producer;
  topics: Topics;
  /** A connection to the app's database (superuser: it counts every tenant's rows). */
  database: Client;
  label: string;
  preload: number;
  outcomeEvery: number;
  events: number;
  clients: number;
  inFlightPerKey: number;
  pauseAfterThrottleMs: number;
  /** Alone / loaded pairs, followed by one more alone phase. */
  rounds: number;
  phaseTimeoutMs: number;
  /**
   * After the load stops, how long to wait for the API to answer GET /health/live within 2 s again before the
   * next phase alone (admitted heavy requests keep running after their clients gave up on them).
   */
  recoveryTimeoutMs: number;
  log?: (line: string) => void;
}

/** Filled as the scenario goes, so a failed run still shows what it measured. */
export interface ScenarioRecord {
  timings: IngestionTiming[];
  hammers: HammerReport[];
  /** Per loaded phase: ms from stopping the load until the API answered again (null: not within the bound). */
  recoveries: Array<number | null>;
  /** eventIds of every analysis produced, pre-load included. */
  produced: string[];
}

export async function runScenario(options: ScenarioOptions, record: ScenarioRecord): Promise<void> {
  const { database, producer, topics, tenant } = options;
  const log = options.log ?? (() => undefined);

  // The data the heavy reads work on: analyses, and invasive FFRs that the linker pairs with them.
  log(`pre-loading ${options.preload} analyses`);
  const preload = loadEvents(tenant, options.preload, `pre-${options.label}`, options.outcomeEvery);
  await produce(producer, topics.analyses, preload.analyses);
  await produce(producer, topics.outcomes, preload.outcomes);
  record.produced.push(...preload.eventIds);
  await waitFor(
    () => storedCount(database, preload.eventIds),
    (n) => n === options.preload,
    `${options.preload} pre-loaded analyses stored`,
    options.phaseTimeoutMs,
  );
  await waitFor(
    async () =>
      (
        await database.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM ffr_links l JOIN outcomes o ON o.event_id = l.outcome_event_id
            WHERE o.manufacturer_id = $1`,
          [tenant.manufacturerId],
        )
      ).rows[0].n,
    (n) => n === preload.outcomes.length,
    'pre-loaded invasive FFRs linked',
    options.phaseTimeoutMs,
  );
  // Steady state: freshly bulk-loaded tables have no planner statistics until autovacuum reaches them,
  // and GET /performance then runs a plan ~30× slower than with them.
  await database.query('ANALYZE analyses, analysis_vessels, ffr_links, outcomes, audit_log');

  const phase = async (name: string) => {
    log(`phase ${name}`);
    const events = loadEvents(tenant, options.events, `${name}-${options.label}`);
    record.produced.push(...events.eventIds);
    record.timings.push(
      await timeIngestion(name, producer, topics.analyses, events, database, options.phaseTimeoutMs),
    );
  };
  for (let round = 1; round <= options.rounds; round++) {
    const suffix = options.rounds > 1 ? ` ${round}` : '';
    await phase(`alone${suffix}`);
    const hammer = startHammer(options.apiUrl, tenant.readerKeys, heavyRoutes(tenant), {
      inFlightPerKey: options.inFlightPerKey,
      pauseAfterThrottleMs: options.pauseAfterThrottleMs,
    });
    try {
      // Under way: the API is serving heavy requests (429s alone come back at once), so the phase below
      // runs under load in its steady state rather than at its very start.
      await waitFor(
        () => Promise.resolve(hammer.served()),
        (served) => served >= options.clients,
        'the API to serve the load clients',
        options.phaseTimeoutMs,
      );
      await phase(`loaded${suffix}`);
    } finally {
      record.hammers.push(await hammer.stop());
    }
    record.recoveries.push(await recoveryTime(options.apiUrl, options.recoveryTimeoutMs));
  }
  await phase('alone again');
}

/** ms until GET /health/live answers within 2 s, or null after `timeoutMs`. */
async function recoveryTime(baseUrl: string, timeoutMs: number): Promise<number | null> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    const ok = await fetch(`${baseUrl}/health/live`, { signal: AbortSignal.timeout(2_000) })
      .then((response) => response.ok)
      .catch(() => false);
    if (ok) return performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return null;
}

async function waitFor<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  what: string,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
