/**
 * `npm run bench:performance` — GET /api/v1/performance at surveillance scale (issue 3 §5).
 *
 * Seeds one product with N analyses (default 10,000,000; 1–3 vessels each) and L linked vessels
 * (default 2,000,000; referral follows low CT-FFR, as in the field) straight into the platform's tables
 * with COPY, builds the roll-ups with the worker's own code, then times each endpoint variant through
 * the real app (in process, FW_PROCESS_ROLE=api) and prints medians with the ratio to a baseline
 * measured in the same run: one bare sequential pass over the linked pairs
 * (`SELECT count(*), sum(ct_ffr) FROM performance_linked_vessels WHERE product_id = …`).
 *
 *   npm run bench:performance -- [--analyses N] [--linked L] [--sites S] [--days D] [--repeat R] [--keep]
 *
 * Flags also read BENCH_<NAME>. PostgreSQL: the server of BENCH_DATABASE_URL or DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432); the database `fieldwatch_bench_performance` is dropped and recreated.
 * Seeding bypasses foreign-key triggers (session_replication_role = replica): the rows are consistent by
 * construction, and checking 30 million references would only measure the seeding.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { INestApplication } from '@nestjs/common';
import { Client, Pool } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { createDataSource } from '../src/database/data-source';
import { rebuildDirtySlices } from '../src/performance/performance-rollups';

const DATABASE_NAME = 'fieldwatch_bench_performance';

interface Options {
  analyses: number;
  linked: number;
  sites: number;
  days: number;
  repeat: number;
  keep: boolean;
  serverUrl: string;
}

function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): Options {
  const flag = (name: string): string | undefined => {
    const index = argv.indexOf(`--${name}`);
    if (index >= 0) return argv[index + 1];
    return env[`BENCH_${name.toUpperCase()}`];
  };
  const integer = (name: string, fallback: number): number => {
    const value = Number(flag(name) ?? fallback);
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
    return value;
  };
  const server = new URL(
    env.BENCH_DATABASE_URL ?? env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  );
  server.pathname = '/postgres';
  return {
    analyses: integer('analyses', 10_000_000),
    linked: integer('linked', 2_000_000),
    sites: integer('sites', 50),
    days: integer('days', 365),
    repeat: integer('repeat', 5),
    keep: argv.includes('--keep') || env.BENCH_KEEP === '1',
    serverUrl: server.toString(),
  };
}

const benchUrl = (options: Options): string => {
  const url = new URL(options.serverUrl);
  url.pathname = `/${DATABASE_NAME}`;
  return url.toString();
};

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** Deterministic pseudo-random numbers (mulberry32): the same seed gives the same data set. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function recreateDatabase(options: Options): Promise<void> {
  const client = new Client({ connectionString: options.serverUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${DATABASE_NAME} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${DATABASE_NAME}`);
  } finally {
    await client.end();
  }
  const dataSource = createDataSource({ DATABASE_URL: benchUrl(options) });
  await dataSource.initialize();
  try {
    await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    await dataSource.destroy();
  }
}

async function startApi(
  options: Options,
): Promise<{ app: INestApplication; baseUrl: string; adminToken: string }> {
  const adminToken = randomBytes(24).toString('hex');
  Object.assign(process.env, {
    DATABASE_URL: benchUrl(options),
    FW_PSEUDONYM_KEY: randomBytes(32).toString('hex'),
    FW_MASTER_KEY: randomBytes(32).toString('hex'),
    FW_BOOTSTRAP_ADMIN_TOKEN: adminToken,
    FW_PROCESS_ROLE: 'api',
    FW_RATE_LIMIT_REQUESTS: '100000',
    LOG_LEVEL: 'warn',
  });
  const { createApp } = await import('../src/app.factory');
  const app = await createApp();
  await app.listen(0, '127.0.0.1');
  const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
  return { app, baseUrl: `http://127.0.0.1:${port}`, adminToken };
}

async function api<T>(
  baseUrl: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} → ${response.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

interface Tenant {
  manufacturerId: string;
  key: string;
  productId: string;
  siteIds: string[];
}

/** Manufacturer, key, product and sites through the API, as a customer would register them. */
async function registerTenant(baseUrl: string, adminToken: string, options: Options): Promise<Tenant> {
  const manufacturer = await api<{ id: string }>(baseUrl, adminToken, 'POST', '/api/v1/manufacturers', {
    name: 'Bench Medical',
  });
  const { key } = await api<{ key: string }>(baseUrl, adminToken, 'POST', '/api/v1/api-keys', {
    manufacturerId: manufacturer.id,
    role: 'manufacturer',
    name: 'bench',
  });
  const product = await api<{ id: string }>(baseUrl, key, 'POST', '/api/v1/products', {
    name: 'Bench CT-FFR',
    udiDi: '06970000000001',
    riskClass: 'III',
    jurisdictions: ['EU', 'CN'],
    ffrThreshold: 0.8,
    premarketClaims: {
      sensitivity: { estimate: 0.86, ci95: [0.8, 0.91], n: 180 },
      specificity: { estimate: 0.81, ci95: [0.76, 0.85], n: 320 },
      auc: { estimate: 0.9, ci95: [0.87, 0.93], n: 500 },
    },
  });
  const siteIds: string[] = [];
  for (let s = 0; s < options.sites; s++) {
    const site = await api<{ id: string }>(baseUrl, key, 'POST', '/api/v1/sites', {
      siteId: `BENCH-${String(s).padStart(3, '0')}`,
      name: `Hospital ${s}`,
      country: s % 2 ? 'DE' : 'CN',
    });
    siteIds.push(site.id);
  }
  return { manufacturerId: manufacturer.id, key, productId: product.id, siteIds };
}

const VENDORS = ['GE', 'Siemens', 'Philips', 'Canon'];
const MODEL_VERSIONS = ['ffrnet-2024.2', 'ffrnet-2025.1', 'ffrnet-2025.2'];
const VESSELS = ['LAD', 'LCX', 'RCA'];

/** Streams COPY text rows produced by `rows` (one string per line) into `table`. */
async function copyRows(
  client: Client,
  table: string,
  columns: string,
  rows: () => Generator<string>,
): Promise<void> {
  const generator = rows();
  const source = Readable.from(
    (function* batches() {
      let batch: string[] = [];
      for (const line of generator) {
        batch.push(line);
        if (batch.length === 10_000) {
          yield batch.join('');
          batch = [];
        }
      }
      if (batch.length) yield batch.join('');
    })(),
  );
  await pipeline(source, client.query(copyFrom(`COPY ${table} (${columns}) FROM STDIN`)));
}

/**
 * analyses, analysis_vessels and ffr_links, consistent by construction. A patient is referred (all vessels wired)
 * with a probability that is high when the lowest CT-FFR is ≤ 0.80 and low otherwise, tuned so that about
 * `linked` vessels are linked; invasive FFR = CT-FFR + N(0, 0.06) rounded to 0.01.
 */
async function seed(options: Options, tenant: Tenant): Promise<{ vessels: number; linked: number }> {
  const client = new Client({ connectionString: benchUrl(options) });
  await client.connect();
  await client.query('SET session_replication_role = replica');
  const draw = random(20261127);
  const start = Date.UTC(2025, 0, 1);
  const spanMs = options.days * 86_400_000;
  const vesselsPerAnalysis = 2;
  const shareLinked = options.linked / (options.analyses * vesselsPerAnalysis);
  // P(referred | positive) = 3 × P(referred | negative); about 35% of analyses have a vessel ≤ 0.80.
  const negativeReferral = Math.min(1, shareLinked / (0.35 * 3 + 0.65));
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - draw())) * Math.cos(2 * Math.PI * draw());
  const hex = (bytes: number): string => {
    let out = '';
    for (let i = 0; i < bytes; i++)
      out += Math.floor(draw() * 256)
        .toString(16)
        .padStart(2, '0');
    return out;
  };
  const analysisRows: string[] = [];
  const vesselRows: string[] = [];
  const keyRows: string[] = [];
  const linkRows: string[] = [];
  // The months' partitions (docs/storage/partitioning.md), as ingestion would ensure them.
  await client.query(
    `SELECT fieldwatch_ensure_event_partitions(ARRAY(
       SELECT generate_series(date_trunc('month', $1::timestamptz AT TIME ZONE 'UTC'),
                              date_trunc('month', $2::timestamptz AT TIME ZONE 'UTC'), interval '1 month')::date))`,
    [new Date(start).toISOString(), new Date(start + spanMs).toISOString()],
  );
  let vessels = 0;
  let linked = 0;
  const flush = async (): Promise<void> => {
    const take = (buffer: string[]) =>
      function* rows(): Generator<string> {
        yield* buffer.splice(0, buffer.length);
      };
    await copyRows(
      client,
      'analyses',
      'event_id, manufacturer_id, product_id, device_id, site_id, occurred_at, software_version, model_version, patient_key, study_key, scanner_vendor, status, vessel_count, kafka_partition, kafka_offset',
      take(analysisRows),
    );
    await copyRows(
      client,
      'analysis_vessels',
      'analysis_event_id, vessel_index, vessel, ct_ffr, analysis_occurred_at',
      take(vesselRows),
    );
    // The eventId key table of the partitioned analyses (migration 1764330000000-PartitionedEventStorage).
    await copyRows(client, 'analysis_event_ids', 'event_id, occurred_at', take(keyRows));
    await copyRows(
      client,
      'ffr_links',
      'outcome_event_id, manufacturer_id, site_id, patient_key, status, analysis_event_id, vessel_index, vessel, measured_at, invasive_ffr, ct_ffr, analysis_occurred_at, lag_days, window_days',
      take(linkRows),
    );
  };
  const deviceId = randomUUID();
  for (let i = 0; i < options.analyses; i++) {
    const eventId = randomUUID();
    const siteIndex = Math.floor(draw() * options.sites);
    const siteId = tenant.siteIds[siteIndex];
    const occurredMs = start + Math.floor(draw() * spanMs);
    const occurredAt = new Date(occurredMs).toISOString();
    const modelVersion = MODEL_VERSIONS[Math.min(2, Math.floor((3 * (occurredMs - start)) / spanMs))];
    const patientKey = hex(32);
    const count = 1 + Math.floor(draw() * 3);
    const ctFfr: number[] = [];
    for (let v = 0; v < count; v++)
      ctFfr.push(Math.round(Math.min(0.99, Math.max(0.4, 0.84 + 0.09 * normal())) * 100) / 100);
    analysisRows.push(
      `${eventId}\t${tenant.manufacturerId}\t${tenant.productId}\t${deviceId}\t${siteId}\t${occurredAt}\t1.4.2\t${modelVersion}\t\\\\x${patientKey}\t\\\\x${hex(8)}\t${VENDORS[siteIndex % VENDORS.length]}\tcompleted\t${count}\t0\t${i}\n`,
    );
    keyRows.push(`${eventId}\t${occurredAt}\n`);
    const referred = draw() < negativeReferral * (Math.min(...ctFfr) <= 0.8 ? 3 : 1);
    const measuredAt = new Date(occurredMs + (7 + Math.floor(draw() * 30)) * 86_400_000).toISOString();
    ctFfr.forEach((ct, v) => {
      vesselRows.push(`${eventId}\t${v}\t${VESSELS[v]}\t${ct}\t${occurredAt}\n`);
      if (referred) {
        const invasive = Math.round(Math.min(1, Math.max(0.3, ct + 0.06 * normal())) * 100) / 100;
        linkRows.push(
          `${randomUUID()}\t${tenant.manufacturerId}\t${siteId}\t\\\\x${patientKey}\tlinked\t${eventId}\t${v}\t${VESSELS[v]}\t${measuredAt}\t${invasive}\t${ct}\t${occurredAt}\t20\t90\n`,
        );
        linked++;
      }
    });
    vessels += count;
    if (analysisRows.length === 100_000) {
      await flush();
      process.stdout.write(`\r  seeded ${(i + 1).toLocaleString('en')} analyses`);
    }
  }
  await flush();
  process.stdout.write('\n');
  await client.query('SET session_replication_role = DEFAULT');
  await client.query('ANALYZE analyses; ANALYZE analysis_vessels; ANALYZE ffr_links');
  await client.end();
  return { vessels, linked };
}

/** Builds every slice with the worker's code (what the worker does after a bulk load or a migration). */
async function buildRollups(options: Options, tenant: Tenant): Promise<number> {
  const pool = new Pool({ connectionString: benchUrl(options), max: 1 });
  const client = await pool.connect();
  try {
    await client.query(
      `INSERT INTO performance_rollup_dirty (product_id, day)
       SELECT DISTINCT product_id, (occurred_at AT TIME ZONE 'UTC')::date FROM analyses WHERE product_id = $1`,
      [tenant.productId],
    );
    let slices = 0;
    for (;;) {
      await client.query('BEGIN');
      const rebuilt = await rebuildDirtySlices(client, 31);
      await client.query('COMMIT');
      if (rebuilt === 0) break;
      slices += rebuilt;
      process.stdout.write(`\r  rolled up ${slices} days`);
    }
    process.stdout.write('\n');
    await client.query('ANALYZE performance_rollups; ANALYZE performance_linked_vessels');
    return slices;
  } finally {
    client.release();
    await pool.end();
  }
}

async function timeIt(repeat: number, work: () => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let r = 0; r < repeat; r++) {
    const started = performance.now();
    await work();
    times.push(performance.now() - started);
  }
  return times;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2), process.env);
  console.log(
    `bench:performance — ${options.analyses.toLocaleString('en')} analyses, ~${options.linked.toLocaleString('en')} linked vessels, ${options.sites} sites, ${options.days} days; medians of ${options.repeat}`,
  );
  await recreateDatabase(options);
  const { app, baseUrl, adminToken } = await startApi(options);
  try {
    const tenant = await registerTenant(baseUrl, adminToken, options);
    let started = performance.now();
    const seeded = await seed(options, tenant);
    console.log(
      `  seeding (COPY): ${seconds(performance.now() - started)} — ${seeded.vessels.toLocaleString('en')} analysed vessels, ${seeded.linked.toLocaleString('en')} linked`,
    );
    started = performance.now();
    const days = await buildRollups(options, tenant);
    console.log(`  roll-up build from scratch: ${seconds(performance.now() - started)} for ${days} days`);

    const pool = new Pool({ connectionString: benchUrl(options), max: 1 });
    const baseline = await timeIt(options.repeat, () =>
      pool.query('SELECT count(*), sum(ct_ffr) FROM performance_linked_vessels WHERE product_id = $1', [
        tenant.productId,
      ]),
    );
    const baselineMs = median(baseline);
    const query = (parameters: Record<string, string>) => () =>
      api<{ overall: { vessels: number } }>(
        baseUrl,
        tenant.key,
        'GET',
        `/api/v1/performance?${new URLSearchParams({ productId: tenant.productId, ...parameters }).toString()}`,
      );
    const variants: Array<[string, Record<string, string>]> = [
      ['summary, overall', { detail: 'summary' }],
      ['summary, groupBy=site', { detail: 'summary', groupBy: 'site' }],
      ['summary, groupBy=modelVersion', { detail: 'summary', groupBy: 'modelVersion' }],
      ['summary, groupBy=scannerVendor', { detail: 'summary', groupBy: 'scannerVendor' }],
      ['summary, groupBy=vessel', { detail: 'summary', groupBy: 'vessel' }],
      ['summary, groupBy=month', { detail: 'summary', groupBy: 'month' }],
      ['summary, groupBy=quarter', { detail: 'summary', groupBy: 'quarter' }],
      ['summary, one quarter', { detail: 'summary', from: '2025-04-01', to: '2025-07-01' }],
    ];
    console.log(`\n  baseline: one pass over the linked pairs (SQL count/sum): ${seconds(baselineMs)}\n`);
    console.log('  | variant | median | min | ratio to baseline |');
    console.log('  |---|---|---|---|');
    for (const [label, parameters] of variants) {
      const times = await timeIt(options.repeat, query(parameters));
      console.log(
        `  | ${label} | ${seconds(median(times))} | ${seconds(Math.min(...times))} | ${(median(times) / baselineMs).toFixed(1)} |`,
      );
    }
    // A day with fresh data: the request computes that slice from the base tables.
    await pool.query(
      `INSERT INTO performance_rollup_dirty (product_id, day) VALUES ($1, DATE '2025-12-31')`,
      [tenant.productId],
    );
    const dirtyTimes = await timeIt(options.repeat, query({ detail: 'summary' }));
    console.log(
      `  | summary, overall, today's slice dirty (computed at request) | ${seconds(median(dirtyTimes))} | ${seconds(Math.min(...dirtyTimes))} | ${(median(dirtyTimes) / baselineMs).toFixed(1)} |`,
    );
    // The full path reads every vessel; one week shows its cost per vessel without waiting for all of them.
    const week = { from: '2025-06-02', to: '2025-06-09' };
    const fullTimes = await timeIt(1, query(week));
    const weekly = await query({ ...week, detail: 'summary' })();
    console.log(
      `  | full (every figure, vessel by vessel), one week = ${weekly.overall.vessels.toLocaleString('en')} linked vessels | ${seconds(median(fullTimes))} | — | ${(median(fullTimes) / baselineMs).toFixed(1)} |`,
    );
    await pool.end();
  } finally {
    await app.close();
    if (!options.keep) {
      const client = new Client({ connectionString: options.serverUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${DATABASE_NAME} WITH (FORCE)`);
      await client.end();
    }
  }
}

main().catch((error: unknown) => {
  console.error(`bench:performance failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
