/**
 * `npm run bench:reports` — a PSUR for a product with 1,000,000 analyses (issue 6 §7: under 30 s).
 *
 * Seeds one product in SQL with generate_series (analyses with 1–3 vessels, about 8% referred for invasive FFR, more
 * often when CT-FFR is low, as in the field), builds the performance roll-ups with the worker's own code, files a few
 * incidents through the API, then times POST /api/v1/reports (PSUR: data gathering, JSON, charts, HTML, PDF) through
 * the real app. Prints the medians and their ratio to a baseline measured in the same run: one sequential pass over
 * the period's analyses (`SELECT count(*), count(DISTINCT site_id) FROM analyses WHERE product_id = …`).
 *
 *   npm run bench:reports -- [--analyses N] [--sites S] [--repeat R] [--database NAME] [--reuse]
 *                             [--image docs/reports/psur-page.png]
 *
 * PostgreSQL: the server of BENCH_DATABASE_URL or DATABASE_URL (default postgres://postgres@127.0.0.1:5432); the
 * database (`--database`, default `fieldwatch_bench_reports`) is dropped and recreated — or, with `--reuse`, kept as an
 * earlier run seeded it (migrated to the current schema, no new seeding or roll-ups), so that the report alone can be
 * timed again in a few minutes; a reused database's earlier reports stay, and the versions' hashes then compare the
 * earlier runs' JSON with this one's. `--image` also writes the PDF page that holds the real-world performance charts
 * as PNG (poppler's pdftoppm), as shown in the README.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Pool } from 'pg';
import { createDataSource } from '../src/database/data-source';
import { rebuildDirtySlices } from '../src/performance/performance-rollups';

function option(argv: readonly string[], name: string): string | undefined {
  const index = argv.indexOf(`--${name}`);
  return index >= 0 ? argv[index + 1] : process.env[`BENCH_${name.toUpperCase()}`];
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/** The product an earlier run seeded in a kept database (`--reuse`). */
async function seededBefore(benchUrl: URL) {
  const db = new Client({ connectionString: benchUrl.toString() });
  await db.connect();
  try {
    const { rows } = await db.query<{ manufacturer_id: string; product_id: string }>(
      `SELECT p.manufacturer_id, p.id AS product_id FROM products p WHERE p.name = 'Bench CT-FFR'`,
    );
    if (rows.length !== 1) throw new Error('--reuse: the database holds no single bench product');
    const [{ analyses }] = (
      await db.query<{ analyses: number }>(
        `SELECT count(*)::int AS analyses FROM analyses WHERE product_id = $1`,
        [rows[0].product_id],
      )
    ).rows;
    const [{ linked }] = (
      await db.query<{ linked: number }>(
        `SELECT count(*)::int AS linked FROM ffr_links WHERE status = 'linked'`,
      )
    ).rows;
    return {
      manufacturerId: rows[0].manufacturer_id,
      productId: rows[0].product_id,
      linkedVessels: linked,
      analyses,
    };
  } finally {
    await db.end();
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const analyses = Number(option(argv, 'analyses') ?? 1_000_000);
  const sites = Number(option(argv, 'sites') ?? 40);
  const repeat = Number(option(argv, 'repeat') ?? 3);
  const image = option(argv, 'image');
  const reuse = argv.includes('--reuse');
  const databaseName = option(argv, 'database') ?? 'fieldwatch_bench_reports';
  if (!/^[a-z_][a-z0-9_]*$/.test(databaseName))
    throw new Error(`--database ${databaseName}: a plain lower-case name`);
  const server = new URL(
    process.env.BENCH_DATABASE_URL ??
      process.env.DATABASE_URL ??
      'postgres://postgres@127.0.0.1:5432/postgres',
  );
  server.pathname = '/postgres';
  const benchUrl = new URL(server.toString());
  benchUrl.pathname = `/${databaseName}`;

  console.log(
    reuse
      ? `bench:reports — PSUR over the product kept in ${databaseName}`
      : `bench:reports — PSUR over ${analyses.toLocaleString('en')} analyses at ${sites} sites`,
  );
  const admin = new Client({ connectionString: server.toString() });
  await admin.connect();
  const exists =
    (await admin.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [databaseName])).rowCount === 1;
  if (reuse && !exists)
    throw new Error(`--reuse: database ${databaseName} does not exist (run once without --reuse)`);
  if (!reuse) {
    await admin.query(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${databaseName}`);
  }
  await admin.end();
  const migrations = createDataSource({ DATABASE_URL: benchUrl.toString() });
  await migrations.initialize();
  await migrations.runMigrations({ transaction: 'each' });
  await migrations.destroy();

  const adminToken = randomBytes(24).toString('hex');
  Object.assign(process.env, {
    DATABASE_URL: benchUrl.toString(),
    FW_PSEUDONYM_KEY: randomBytes(32).toString('hex'),
    FW_MASTER_KEY: randomBytes(32).toString('hex'),
    FW_AUDIT_SIGNING_KEY: randomBytes(32).toString('hex'),
    FW_BOOTSTRAP_ADMIN_TOKEN: adminToken,
    FW_PROCESS_ROLE: 'api',
    FW_RATE_LIMIT_REQUESTS: '100000',
    LOG_LEVEL: 'warn',
  });
  const { createApp } = await import('../src/app.factory');
  const app = await createApp();
  await app.listen(0, '127.0.0.1');
  const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  const call = async <T>(token: string, method: string, path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path} → ${response.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text) as T;
  };

  try {
    const keyFor = async (manufacturerId: string, role: string) =>
      (
        await call<{ key: string }>(adminToken, 'POST', '/api/v1/api-keys', {
          manufacturerId,
          role,
          name: role,
        })
      ).key;
    const seeded = reuse ? await seededBefore(benchUrl) : await seed();
    const qualityKey = await keyFor(seeded.manufacturerId, 'quality');
    const product = { id: seeded.productId };
    const linked = { rowCount: seeded.linkedVessels };
    if (reuse) {
      console.log(
        `  reused ${databaseName}: ${seeded.analyses.toLocaleString('en')} analyses, ${linked.rowCount} linked vessels`,
      );
    }

    async function seed() {
      const manufacturer = await call<{ id: string }>(adminToken, 'POST', '/api/v1/manufacturers', {
        name: 'Bench Medical',
      });
      const manufacturerKey = await keyFor(manufacturer.id, 'manufacturer');
      const qualityKey = await keyFor(manufacturer.id, 'quality');
      const product = await call<{ id: string }>(manufacturerKey, 'POST', '/api/v1/products', {
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
      for (let s = 0; s < sites; s++) {
        const siteId = `BENCH-${String(s).padStart(3, '0')}`;
        await call(manufacturerKey, 'POST', '/api/v1/sites', {
          siteId,
          name: `Hospital ${s}`,
          country: s % 2 ? 'DE' : 'CN',
        });
        await call(manufacturerKey, 'POST', '/api/v1/devices', {
          deviceId: `BENCH-DEV-${s}`,
          productId: product.id,
          siteId,
          softwareVersion: '1.4.2',
          modelVersion: 'ffrnet-2025.1',
          scannerVendor: ['GE', 'Siemens', 'Philips', 'Canon'][s % 4],
        });
      }
      for (const [index, seriousness] of [
        'serious_deterioration',
        'non_serious',
        'non_serious',
        'death',
      ].entries()) {
        await call(qualityKey, 'POST', '/api/v1/incidents', {
          productId: product.id,
          title: `Bench incident ${index}`,
          seriousness,
          awarenessDate: `2025-0${index + 2}-15`,
          countries: [index % 2 ? 'CN' : 'DE'],
        });
      }

      const seedStarted = performance.now();
      const db = new Client({ connectionString: benchUrl.toString() });
      await db.connect();
      await db.query('SET session_replication_role = replica');
      await db.query(
        `SELECT fieldwatch_ensure_event_partitions(ARRAY(SELECT generate_series('2025-01-01'::date, '2025-12-01'::date, interval '1 month')::date))`,
      );
      // Deterministic: every value derives from the row number through md5, so a run reproduces the same data set.
      await db.query(
        `CREATE TEMP TABLE seed AS
       SELECT g, md5('a' || g)::uuid AS event_id,
              timestamptz '2025-01-01' + ((g - 1)::float8 / $1) * interval '365 days' AS occurred_at,
              decode(md5('p' || g), 'hex') AS patient_key,
              1 + (('x' || substr(md5('n' || g), 1, 2))::bit(8)::int % 3) AS vessel_count
         FROM generate_series(1, $1) g`,
        [analyses],
      );
      await db.query(
        `CREATE TEMP TABLE devs AS
       SELECT (row_number() OVER (ORDER BY device_code) - 1)::int AS k, id, site_id, scanner_vendor FROM devices`,
      );
      await db.query(
        `INSERT INTO analyses (event_id, manufacturer_id, product_id, device_id, site_id, occurred_at, software_version,
                             model_version, patient_key, study_key, age_years, sex, scanner_vendor, status, vessel_count,
                             kafka_partition, kafka_offset)
       SELECT s.event_id, $1, $2, d.id, d.site_id, s.occurred_at, '1.4.2',
              CASE WHEN s.occurred_at < '2025-07-01' THEN 'ffrnet-2025.1' ELSE 'ffrnet-2025.2' END,
              s.patient_key, decode(md5('s' || s.g), 'hex'), 40 + s.g % 45, CASE WHEN s.g % 3 = 0 THEN 'F' ELSE 'M' END,
              d.scanner_vendor, CASE WHEN s.g % 50 = 0 THEN 'rejected' WHEN s.g % 997 = 0 THEN 'failed' ELSE 'completed' END,
              s.vessel_count, 0, s.g
         FROM seed s JOIN devs d ON d.k = s.g % (SELECT count(*) FROM devs)`,
        [manufacturer.id, product.id],
      );
      await db.query(
        `INSERT INTO analysis_event_ids (event_id, occurred_at) SELECT event_id, occurred_at FROM seed`,
      );
      // CT-FFR ~ N(0.84, 0.09) by Box–Muller on two md5-derived uniforms, rounded to 0.01 as devices report it.
      await db.query(
        `INSERT INTO analysis_vessels (analysis_event_id, vessel_index, vessel, ct_ffr, analysis_occurred_at)
       SELECT a.event_id, v, (ARRAY['LAD', 'LCX', 'RCA'])[v + 1],
              round(least(0.99, greatest(0.40, 0.84 + 0.09 * sqrt(-2 * ln(u1)) * cos(2 * pi() * u2)))::numeric, 2)::real,
              a.occurred_at
         FROM analyses a
         CROSS JOIN LATERAL generate_series(0, a.vessel_count - 1) v
         CROSS JOIN LATERAL (SELECT (('x' || substr(md5(a.event_id::text || v), 1, 8))::bit(32)::bigint + 1) / 4294967297.0 AS u1,
                                    (('x' || substr(md5(a.event_id::text || v), 9, 8))::bit(32)::bigint + 1) / 4294967297.0 AS u2) u
        WHERE a.product_id = $1 AND a.status = 'completed'`,
        [product.id],
      );
      // Referral for invasive FFR: 20% of positive (≤ 0.80) and 5% of negative vessels; FFR = CT-FFR + N(0, 0.06).
      const linked = await db.query(
        `INSERT INTO ffr_links (outcome_event_id, manufacturer_id, site_id, patient_key, status, analysis_event_id,
                              vessel_index, vessel, measured_at, invasive_ffr, ct_ffr, analysis_occurred_at, lag_days,
                              window_days)
       SELECT md5('o' || v.analysis_event_id || v.vessel_index)::uuid, a.manufacturer_id, a.site_id, a.patient_key, 'linked',
              v.analysis_event_id, v.vessel_index, v.vessel, a.occurred_at + interval '20 days',
              round(least(1, greatest(0.30, v.ct_ffr + 0.06 * sqrt(-2 * ln(u.u1)) * cos(2 * pi() * u.u2)))::numeric, 2)::real,
              v.ct_ffr, a.occurred_at, 20, 90
         FROM analysis_vessels v JOIN analyses a ON a.event_id = v.analysis_event_id
         CROSS JOIN LATERAL (SELECT (('x' || substr(md5('f' || v.analysis_event_id || v.vessel_index), 1, 8))::bit(32)::bigint + 1) / 4294967297.0 AS u1,
                                    (('x' || substr(md5('f' || v.analysis_event_id || v.vessel_index), 9, 8))::bit(32)::bigint + 1) / 4294967297.0 AS u2,
                                    (('x' || substr(md5('r' || v.analysis_event_id || v.vessel_index), 1, 8))::bit(32)::bigint) / 4294967296.0 AS r) u
        WHERE a.product_id = $1 AND u.r < CASE WHEN v.ct_ffr <= 0.80 THEN 0.20 ELSE 0.05 END`,
        [product.id],
      );
      await db.query('SET session_replication_role = DEFAULT');
      await db.query('ANALYZE analyses; ANALYZE analysis_vessels; ANALYZE ffr_links');
      await db.end();
      console.log(
        `  seeded in SQL: ${seconds(performance.now() - seedStarted)}, ${linked.rowCount} linked vessels`,
      );

      const rollupStarted = performance.now();
      const pool = new Pool({ connectionString: benchUrl.toString(), max: 1 });
      const client = await pool.connect();
      await client.query(
        `INSERT INTO performance_rollup_dirty (product_id, day)
       SELECT DISTINCT product_id, (occurred_at AT TIME ZONE 'UTC')::date FROM analyses WHERE product_id = $1`,
        [product.id],
      );
      for (;;) {
        await client.query('BEGIN');
        const rebuilt = await rebuildDirtySlices(client, 31);
        await client.query('COMMIT');
        if (rebuilt === 0) break;
      }
      await client.query('ANALYZE performance_rollups; ANALYZE performance_linked_vessels');
      console.log(`  roll-ups built: ${seconds(performance.now() - rollupStarted)}`);
      client.release();
      await pool.end();
      return {
        manufacturerId: manufacturer.id,
        productId: product.id,
        linkedVessels: linked.rowCount ?? 0,
        analyses,
      };
    }

    const pool = new Pool({ connectionString: benchUrl.toString(), max: 1 });
    const client = await pool.connect();

    const baseline: number[] = [];
    for (let r = 0; r < repeat; r++) {
      const started = performance.now();
      await client.query(`SELECT count(*), count(DISTINCT site_id) FROM analyses WHERE product_id = $1`, [
        product.id,
      ]);
      baseline.push(performance.now() - started);
    }
    client.release();
    await pool.end();

    const times: number[] = [];
    let last: {
      id: string;
      version: number;
      sha256: { json: string };
      versions: Array<{ sha256: { json: string } }>;
    } | null = null;
    for (let r = 0; r < repeat; r++) {
      const started = performance.now();
      last = await call(qualityKey, 'POST', '/api/v1/reports', {
        type: 'psur',
        productId: product.id,
        from: '2025-01-01',
        to: '2025-12-31',
      });
      times.push(performance.now() - started);
      console.log(
        `  PSUR version ${last!.version}: ${seconds(times[times.length - 1])}, json sha256 ${last!.sha256.json.slice(0, 16)}…`,
      );
    }
    const identical = new Set(last!.versions.map((v) => v.sha256.json)).size === 1;
    console.log('');
    console.log('| measure | median | vs baseline |');
    console.log('|---|---|---|');
    console.log(`| baseline: one pass over the product's analyses | ${seconds(median(baseline))} | 1.0× |`);
    console.log(
      `| POST /api/v1/reports (PSUR, ${seeded.analyses.toLocaleString('en')} analyses, ${linked.rowCount} linked vessels) | ${seconds(median(times))} | ${(median(times) / median(baseline)).toFixed(1)}× |`,
    );
    console.log('');
    console.log(
      `Target < 30 s: ${median(times) < 30_000 ? 'met' : 'NOT met'}. The report's ${last!.versions.length} versions' JSON hashes are ${identical ? 'identical' : 'DIFFERENT'}${reuse ? ' (earlier runs on this database included)' : ''}.`,
    );

    if (image && last) {
      const response = await fetch(`${base}/api/v1/reports/${last.id}.pdf`, {
        headers: { Authorization: `Bearer ${qualityKey}` },
      });
      const directory = mkdtempSync(join(tmpdir(), 'fw-bench-reports-'));
      const pdfPath = join(directory, 'psur.pdf');
      writeFileSync(pdfPath, Buffer.from(await response.arrayBuffer()));
      const text = execFileSync('pdftotext', ['-layout', pdfPath, '-'], { encoding: 'utf8' }).split('\f');
      const page = 1 + text.findIndex((p) => p.includes('Bland–Altman'));
      execFileSync('pdftoppm', [
        '-png',
        '-r',
        '60',
        '-f',
        String(page),
        '-l',
        String(page),
        '-singlefile',
        pdfPath,
        image.replace(/\.png$/, ''),
      ]);
      console.log(`Page ${page} of the PDF written to ${image}`);
    }
  } finally {
    await app.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
