/**
 * `npm run bench:performance` — GET /api/v1/performance at surveillance scale (issue 3 §5).
 *
 * Seeds one product with N analyses (default 10,000,000; 1–3 vessels each) and L linked vessels
 * (default 2,000,000; referral follows low CT-FFR, as in the field) straight into the platform's tables
 * in SQL (scripts/performance-seed.ts), builds the roll-ups with the worker's own code, then times each endpoint
 * variant through the real app (in process, FW_PROCESS_ROLE=api) and prints medians with the ratio to a baseline
 * measured in the same run: one bare sequential pass over the linked pairs
 * (`SELECT count(*), sum(ct_ffr) FROM performance_linked_vessels WHERE product_id = …`).
 *
 *   npm run bench:performance -- [--analyses N] [--linked L] [--sites S] [--days D] [--repeat R]
 *                                 [--database NAME] [--keep] [--reuse] [--dirty-days N] [--live-max-vessels V]
 *                                 [--dirty-only]
 *
 * Flags also read BENCH_<NAME>. PostgreSQL: the server of BENCH_DATABASE_URL or DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432); the database (default `fieldwatch_bench_performance`) is dropped and
 * recreated. `--keep` leaves it; `--reuse` times a kept one again (pending migrations run, seeding and the
 * roll-up build are skipped), so a change to the request path can be measured without re-seeding.
 * Seeding bypasses foreign-key triggers (session_replication_role = replica): the rows are consistent by
 * construction, and checking 30 million references would only measure the seeding.
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { INestApplication } from '@nestjs/common';
import { Client, Pool } from 'pg';
import { createDataSource } from '../src/database/data-source';
import { rebuildDirtySlices } from '../src/performance/performance-rollups';
import { seedPerformanceData } from './performance-seed';

interface Options {
  analyses: number;
  linked: number;
  sites: number;
  days: number;
  repeat: number;
  keep: boolean;
  reuse: boolean;
  database: string;
  serverUrl: string;
  /** Days left dirty (the last ones of the data) for the "computed at request" variants. */
  dirtyDays: number;
  /** FW_PERFORMANCE_LIVE_MAX_VESSELS for the app (the app's default when not given). */
  liveMaxVessels: number | undefined;
  /** Only the dirty-day variants (with --reuse: a quick before/after of the request path for changed days). */
  dirtyOnly: boolean;
}

/** The name goes into DROP/CREATE DATABASE: a plain identifier only. */
function databaseName(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name))
    throw new Error(`--database must be a lower-case identifier, got ${name}`);
  return name;
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
    keep: argv.includes('--keep') || argv.includes('--reuse') || env.BENCH_KEEP === '1',
    reuse: argv.includes('--reuse') || env.BENCH_REUSE === '1',
    database: databaseName(flag('database') ?? 'fieldwatch_bench_performance'),
    serverUrl: server.toString(),
    dirtyDays: integer('dirty-days', 1),
    liveMaxVessels: flag('live-max-vessels') === undefined ? undefined : integer('live-max-vessels', 1),
    dirtyOnly: argv.includes('--dirty-only') || env.BENCH_DIRTY_ONLY === '1',
  };
}

const benchUrl = (options: Options): string => {
  const url = new URL(options.serverUrl);
  url.pathname = `/${options.database}`;
  return url.toString();
};

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** A fresh database, or with --reuse the kept one brought up to the current migrations. */
async function prepareDatabase(options: Options): Promise<void> {
  if (!options.reuse) {
    const client = new Client({ connectionString: options.serverUrl });
    await client.connect();
    try {
      await client.query(`DROP DATABASE IF EXISTS ${options.database} WITH (FORCE)`);
      await client.query(`CREATE DATABASE ${options.database}`);
    } finally {
      await client.end();
    }
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
    ...(options.liveMaxVessels === undefined
      ? {}
      : { FW_PERFORMANCE_LIVE_MAX_VESSELS: String(options.liveMaxVessels) }),
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

/** The kept database's tenant, with a new API key (keys are stored hashed, so the last run's cannot be read back). */
async function existingTenant(options: Options, baseUrl: string, adminToken: string): Promise<Tenant> {
  const client = new Client({ connectionString: benchUrl(options) });
  await client.connect();
  try {
    const product = await client.query<{ id: string; manufacturer_id: string }>(
      `SELECT id, manufacturer_id FROM products WHERE name = 'Bench CT-FFR'`,
    );
    if (product.rowCount !== 1) throw new Error(`--reuse: ${options.database} holds no bench product`);
    const { id: productId, manufacturer_id: manufacturerId } = product.rows[0];
    const sites = await client.query<{ id: string }>(
      `SELECT id FROM sites WHERE manufacturer_id = $1 ORDER BY site_code`,
      [manufacturerId],
    );
    const { key } = await api<{ key: string }>(baseUrl, adminToken, 'POST', '/api/v1/api-keys', {
      manufacturerId,
      role: 'manufacturer',
      name: 'bench',
    });
    return { manufacturerId, key, productId, siteIds: sites.rows.map((site) => site.id) };
  } finally {
    await client.end();
  }
}

/** The product's rows in SQL (scripts/performance-seed.ts), then statistics for the planner. */
async function seed(options: Options, tenant: Tenant): Promise<{ vessels: number; linked: number }> {
  const client = new Client({ connectionString: benchUrl(options) });
  await client.connect();
  try {
    return await seedPerformanceData(client, {
      manufacturerId: tenant.manufacturerId,
      productId: tenant.productId,
      siteIds: tenant.siteIds,
      analyses: options.analyses,
      linked: options.linked,
      from: new Date(Date.UTC(2025, 0, 1)),
      days: options.days,
      onProgress: (written) => process.stdout.write(`\r  seeded ${written.toLocaleString('en')} analyses`),
    });
  } finally {
    process.stdout.write('\n');
    await client.end();
  }
}

/** Builds every slice with the worker's code (what the worker does after a bulk load or a migration). */
async function buildRollups(options: Options, tenant: Tenant, everyDay: boolean): Promise<number> {
  const pool = new Pool({ connectionString: benchUrl(options), max: 1 });
  const client = await pool.connect();
  try {
    // From scratch after seeding; on a reused database only what is still dirty.
    if (everyDay) {
      await client.query(
        `INSERT INTO performance_rollup_dirty (product_id, day)
         SELECT DISTINCT product_id, (occurred_at AT TIME ZONE 'UTC')::date FROM analyses WHERE product_id = $1`,
        [tenant.productId],
      );
    }
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
    // What autovacuum does soon after a bulk build: the pair cells were updated in place (old pairs out, new in).
    await client.query(
      'VACUUM ANALYZE performance_rollups, performance_linked_vessels, performance_pair_cells, performance_rollup_periods',
    );
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

const loadAverage = (): string =>
  loadavg()
    .map((load) => load.toFixed(2))
    .join(', ');

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2), process.env);
  console.log(
    options.reuse
      ? `bench:performance — the data kept in ${options.database}; medians of ${options.repeat}`
      : `bench:performance — ${options.analyses.toLocaleString('en')} analyses, ~${options.linked.toLocaleString('en')} linked vessels, ${options.sites} sites, ${options.days} days; medians of ${options.repeat}`,
  );
  console.log(`  load average at start (1, 5, 15 min): ${loadAverage()} on ${cpus().length} cores`);
  let started = performance.now();
  await prepareDatabase(options);
  if (options.reuse)
    console.log(`  reusing ${options.database}: migrations ${seconds(performance.now() - started)}`);
  const { app, baseUrl, adminToken } = await startApi(options);
  try {
    const tenant = options.reuse
      ? await existingTenant(options, baseUrl, adminToken)
      : await registerTenant(baseUrl, adminToken, options);
    if (!options.reuse) {
      started = performance.now();
      const seeded = await seed(options, tenant);
      console.log(
        `  seeding (SQL): ${seconds(performance.now() - started)} — ${seeded.vessels.toLocaleString('en')} analysed vessels, ${seeded.linked.toLocaleString('en')} linked`,
      );
    }
    started = performance.now();
    const days = await buildRollups(options, tenant, !options.reuse);
    console.log(`  roll-up build: ${seconds(performance.now() - started)} for ${days} days`);

    const pool = new Pool({ connectionString: benchUrl(options), max: 1 });
    const size = await pool.query<{ analyses: string; linked: string }>(
      `SELECT (SELECT count(*) FROM analyses WHERE product_id = $1) AS analyses,
              (SELECT count(*) FROM performance_linked_vessels WHERE product_id = $1) AS linked`,
      [tenant.productId],
    );
    const measured = `${Number(size.rows[0].analyses).toLocaleString('en')} analyses / ${Number(size.rows[0].linked).toLocaleString('en')} linked vessels`;
    console.log(`  measured at ${measured}`);
    const baseline = await timeIt(options.repeat, () =>
      pool.query('SELECT count(*), sum(ct_ffr) FROM performance_linked_vessels WHERE product_id = $1', [
        tenant.productId,
      ]),
    );
    const baselineMs = median(baseline);
    const query = (parameters: Record<string, string>) => () =>
      api<{
        overall: { vessels: number };
        rollups?: { slicesComputedAtRequest: number; daysFromLastPass: string[] };
      }>(
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
    let slowest = 0;
    for (const [label, parameters] of options.dirtyOnly ? [] : variants) {
      const times = await timeIt(options.repeat, query(parameters));
      slowest = Math.max(slowest, median(times));
      console.log(
        `  | ${label} | ${seconds(median(times))} | ${seconds(Math.min(...times))} | ${(median(times) / baselineMs).toFixed(1)} |`,
      );
    }
    // Fresh data on the last --dirty-days days: a request computes those slices from the base tables (as many as
    // FW_PERFORMANCE_LIVE_MAX_VESSELS allows; the rest are read as of their last pass — the response says which).
    const lastDays = await pool.query<{ day: string }>(
      `SELECT DISTINCT day::text AS day FROM performance_rollups WHERE product_id = $1 ORDER BY day DESC LIMIT $2`,
      [tenant.productId, options.dirtyDays],
    );
    await pool.query(`INSERT INTO performance_rollup_dirty (product_id, day) SELECT $1, unnest($2::date[])`, [
      tenant.productId,
      lastDays.rows.map((row) => row.day),
    ]);
    try {
      for (const [label, parameters] of [variants[0], variants[1]]) {
        let answer: Awaited<ReturnType<ReturnType<typeof query>>> | undefined;
        const times = await timeIt(options.repeat, async () => {
          answer = await query(parameters)();
        });
        const computed = answer?.rollups?.slicesComputedAtRequest ?? 0;
        const fromLastPass = answer?.rollups?.daysFromLastPass.length ?? 0;
        console.log(
          `  | ${label}, ${lastDays.rowCount} day(s) dirty: ${computed} computed at request, ${fromLastPass} as of last pass | ${seconds(median(times))} | ${seconds(Math.min(...times))} | ${(median(times) / baselineMs).toFixed(1)} |`,
        );
      }
    } finally {
      await pool.query(`DELETE FROM performance_rollup_dirty WHERE product_id = $1`, [tenant.productId]);
    }
    if (options.dirtyOnly) {
      await pool.end();
      console.log(`  load average at end (1, 5, 15 min): ${loadAverage()}`);
      return;
    }
    // The full path reads every vessel; one week shows its cost per vessel without waiting for all of them. Asked for
    // by name: `auto` goes by the product's size and would answer from the roll-ups.
    const week = { from: '2025-06-02', to: '2025-06-09' };
    const weekly = await query({ ...week, detail: 'summary' })();
    const fullLabel = `full (every figure, vessel by vessel), one week = ${weekly.overall.vessels.toLocaleString('en')} linked vessels`;
    const fullStarted = performance.now();
    try {
      await query({ ...week, detail: 'full' })();
      const fullMs = performance.now() - fullStarted;
      console.log(`  | ${fullLabel} | ${seconds(fullMs)} | — | ${(fullMs / baselineMs).toFixed(1)} |`);
    } catch (error) {
      // Printed, not thrown: the summary figures above stand on their own.
      const reason = error instanceof Error ? error.message.slice(0, 120) : String(error);
      console.log(
        `  | ${fullLabel} | failed after ${seconds(performance.now() - fullStarted)}: ${reason} | — | — |`,
      );
    }
    await pool.end();
    // The target is for clean roll-ups: every summary variant's median under 2 s.
    console.log(
      `\n  2 s target at ${measured}: ${slowest < 2_000 ? 'met' : 'NOT met'} (slowest summary variant ${seconds(slowest)})`,
    );
    console.log(`  load average at end (1, 5, 15 min): ${loadAverage()}`);
  } finally {
    await app.close();
    if (!options.keep) {
      const client = new Client({ connectionString: options.serverUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${options.database} WITH (FORCE)`);
      await client.end();
    }
  }
}

main().catch((error: unknown) => {
  console.error(`bench:performance failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
