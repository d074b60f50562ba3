/**
 * `npm run storage:plans`: the main queries' plans on a seeded, partitioned database (issue 9 §3;
 * docs/storage/partitioning.md). Creates (or re-creates) a scratch database, migrates it, seeds one tenant with
 * `--analyses` analyses (two vessels each) spread over `--months` months, device events, outcomes and links, ANALYZEs,
 * and writes EXPLAIN (ANALYZE, BUFFERS) of each query — run as the app's role under row-level security, as the app
 * runs them — to docs/storage/plans/<name>.txt, with the index each plan should use checked.
 *
 * Options: --database-url (default postgres://postgres@127.0.0.1:5432/fieldwatch_plans), --analyses (300000),
 * --months (24), --out (docs/storage/plans).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { createDataSource } from '../src/database/data-source';
import { SLICE_LINKED_VESSELS_SQL, sliceParameters } from '../src/performance/performance-rollups';

interface Options {
  databaseUrl: string;
  analyses: number;
  months: number;
  out: string;
}

function parseOptions(argv: string[]): Options {
  const value = (name: string): string | undefined => {
    const index = argv.indexOf(`--${name}`);
    return index >= 0 ? argv[index + 1] : undefined;
  };
  const integer = (name: string, fallback: number): number => {
    const raw = value(name);
    const parsed = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(parsed) || parsed < 1) throw new Error(`--${name} must be a positive integer`);
    return parsed;
  };
  return {
    databaseUrl: value('database-url') ?? 'postgres://postgres@127.0.0.1:5432/fieldwatch_plans',
    analyses: integer('analyses', 300_000),
    months: integer('months', 24),
    out: value('out') ?? join(__dirname, '..', 'docs', 'storage', 'plans'),
  };
}

const MANUFACTURER = '00000000-0000-4000-8000-00000000a001';
const PRODUCT = '00000000-0000-4000-8000-00000000b001';

async function recreateDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = url.pathname.slice(1);
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error('database name must be [a-z0-9_]+');
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
}

/** One tenant: 20 sites with one device each, analyses spread evenly over the months before the current one. */
async function seed(client: Client, options: Options): Promise<void> {
  await client.query(
    `INSERT INTO manufacturers (id, name) VALUES ($1, 'Plans Manufacturer');
     INSERT INTO products (id, manufacturer_id, name, udi_di, risk_class, jurisdictions, ffr_threshold, premarket_claims)
       VALUES ($2, $1, 'CT-FFR', 'UDI-PLANS', 'III', ARRAY['EU'], 0.80, '{}');
     INSERT INTO sites (id, manufacturer_id, site_code, name, country)
       SELECT ('00000000-0000-4000-8000-0000000c' || lpad(g::text, 4, '0'))::uuid, $1, 'SITE-' || g, 'Site ' || g, 'DE'
         FROM generate_series(1, 20) g;
     INSERT INTO devices (id, manufacturer_id, product_id, site_id, device_code, software_version, model_version,
                          secret_ciphertext, secret_key_id)
       SELECT ('00000000-0000-4000-8000-0000000d' || lpad(g::text, 4, '0'))::uuid, $1, $2,
              ('00000000-0000-4000-8000-0000000c' || lpad(g::text, 4, '0'))::uuid, 'DEV-' || g, '1.4.2', 'm1', '\\x00',
              'sk_' || md5('plans-device-' || g)
         FROM generate_series(1, 20) g;`
      .replace(/\$1/g, `'${MANUFACTURER}'`)
      .replace(/\$2/g, `'${PRODUCT}'`),
  );
  const spanStart = `date_trunc('month', now() AT TIME ZONE 'UTC') - interval '${options.months} months'`;
  await client.query(
    `SELECT fieldwatch_ensure_event_partitions(ARRAY(
       SELECT generate_series(${spanStart}, date_trunc('month', now() AT TIME ZONE 'UTC'), interval '1 month')::date))`,
  );
  // Analyses: patient g % (n/3) so patients have about three CTAs; time evenly over the span.
  await client.query(
    `CREATE TEMP TABLE seed_analyses AS
       SELECT gen_random_uuid() AS event_id, 1 + g % 20 AS site_no, g,
              (${spanStart} + (g::float8 / $1) * (now() AT TIME ZONE 'UTC' - (${spanStart}))) AT TIME ZONE 'UTC'
                AS occurred_at
         FROM generate_series(0, $1 - 1) g`,
    [options.analyses],
  );
  await client.query(
    `INSERT INTO analyses (event_id, manufacturer_id, product_id, device_id, site_id, occurred_at, software_version,
                           model_version, patient_key, study_key, scanner_vendor, status, vessel_count,
                           kafka_partition, kafka_offset)
     SELECT event_id, $1, $2, ('00000000-0000-4000-8000-0000000d' || lpad(site_no::text, 4, '0'))::uuid,
            ('00000000-0000-4000-8000-0000000c' || lpad(site_no::text, 4, '0'))::uuid, occurred_at, '1.4.2', 'm1',
            sha256(('patient-' || (g % ($3 / 3)))::bytea), sha256(('study-' || g)::bytea), 'GE',
            CASE WHEN g % 20 = 0 THEN 'rejected' ELSE 'completed' END, CASE WHEN g % 20 = 0 THEN 0 ELSE 2 END,
            g % 6, g
       FROM seed_analyses;
     `,
    [MANUFACTURER, PRODUCT, options.analyses],
  );
  await client.query(
    `INSERT INTO analysis_event_ids (event_id, occurred_at) SELECT event_id, occurred_at FROM seed_analyses;
     INSERT INTO analysis_vessels (analysis_event_id, vessel_index, vessel, ct_ffr, analysis_occurred_at)
       SELECT s.event_id, v, (ARRAY['LAD', 'RCA'])[v + 1], 0.6 + ((s.g * 7 + v * 13) % 40) / 100.0, s.occurred_at
         FROM seed_analyses s CROSS JOIN generate_series(0, 1) v WHERE s.g % 20 <> 0;`,
  );
  // One invasive FFR for every 10th analysis (LAD, 20 days later), linked.
  await client.query(
    `INSERT INTO outcomes (event_id, manufacturer_id, data_source_id, site_id, patient_key, type, measured_at, vessel,
                           invasive_ffr, kafka_partition, kafka_offset)
     SELECT gen_random_uuid(), a.manufacturer_id, gen_random_uuid(), a.site_id, a.patient_key, 'invasive_ffr',
            a.occurred_at + interval '20 days', 'LAD', 0.8, 0, 0
       FROM analyses a WHERE a.kafka_offset % 10 = 1;
     INSERT INTO ffr_links (outcome_event_id, manufacturer_id, site_id, patient_key, status, analysis_event_id,
                            vessel_index, vessel, measured_at, invasive_ffr, ct_ffr, analysis_occurred_at, lag_days,
                            window_days)
     SELECT o.event_id, o.manufacturer_id, o.site_id, o.patient_key, 'linked', a.event_id, 0, 'LAD', o.measured_at,
            0.8, 0.75, a.occurred_at, 20, 90
       FROM outcomes o JOIN analyses a ON a.site_id = o.site_id AND a.patient_key = o.patient_key
                                      AND a.occurred_at = o.measured_at - interval '20 days';`,
  );
  // Device events: a heartbeat per device per day and some errors.
  await client.query(
    `INSERT INTO device_events (event_id, manufacturer_id, device_id, occurred_at, kind, code, kafka_partition, kafka_offset)
     SELECT gen_random_uuid(), $1, ('00000000-0000-4000-8000-0000000d' || lpad(d::text, 4, '0'))::uuid,
            (${spanStart} + make_interval(days => day)) AT TIME ZONE 'UTC',
            CASE WHEN (d + day) % 9 = 0 THEN 'error' ELSE 'heartbeat' END, NULL, 0, 0
       FROM generate_series(1, 20) d CROSS JOIN generate_series(0, ${options.months} * 30 - 1) day`,
    [MANUFACTURER],
  );
  await client.query(
    'INSERT INTO device_event_ids (event_id, occurred_at) SELECT event_id, occurred_at FROM device_events',
  );
  await client.query('ANALYZE');
}

interface PlannedQuery {
  name: string;
  purpose: string;
  /** Indexes the plan must use: a regression fails the script. */
  expect: RegExp[];
  /** Most partitions of `table` the plan may actually read (partition pruning, at plan or run time). */
  prune?: { table: string; maxPartitions: number };
  sql: string;
  parameters: unknown[];
}

async function queries(client: Client): Promise<PlannedQuery[]> {
  const { rows } = await client.query<{
    site_id: string;
    patient_key: Buffer;
    day: string;
    device_id: string;
    recent_from: string;
    recent_to: string;
  }>(
    `SELECT a.site_id, a.patient_key, (a.occurred_at AT TIME ZONE 'UTC')::date::text AS day, a.device_id,
            (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '2 months')::date::text AS recent_from,
            (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 month')::date::text AS recent_to
       FROM analyses a WHERE a.status = 'completed' ORDER BY a.occurred_at DESC OFFSET 5000 LIMIT 1`,
  );
  const probe = rows[0];
  return [
    {
      name: 'analyses-list',
      purpose:
        'GET /api/v1/analyses?from=&to= (src/ingestion/analyses.service.ts): one page of a tenant’s analyses in a month, newest first, with vessels',
      expect: [/analyses_p\d{6}_manufacturer_id_occurred_at_event_id_idx/, /analysis_vessels_p\d{6}_pkey/],
      prune: { table: 'analyses', maxPartitions: 1 },
      sql: `SELECT a.event_id, d.device_code, s.site_code, a.occurred_at, a.status,
                   COALESCE((SELECT json_agg(json_build_object('vessel', v.vessel, 'ctFfr', v.ct_ffr) ORDER BY v.vessel_index)
                               FROM analysis_vessels v
                              WHERE v.analysis_event_id = a.event_id AND v.analysis_occurred_at = a.occurred_at), '[]')
              FROM analyses a JOIN devices d ON d.id = a.device_id JOIN sites s ON s.id = a.site_id
             WHERE a.manufacturer_id = $1 AND a.occurred_at >= $2::timestamptz AND a.occurred_at < $3::timestamptz
             ORDER BY a.occurred_at DESC, a.event_id DESC LIMIT 51`,
      parameters: [MANUFACTURER, `${probe.recent_from}T00:00:00Z`, `${probe.recent_to}T00:00:00Z`],
    },
    {
      name: 'linkage-lookup',
      purpose:
        'Linkage (src/outcomes/outcome-linker.ts): the latest completed analysis of a site+patient within 90 days before an invasive FFR, same vessel',
      expect: [/analyses_p\d{6}_site_id_patient_key_occurred_at_idx/, /analysis_vessels_p\d{6}_pkey/],
      // 90 days reach back into at most four calendar months.
      prune: { table: 'analyses', maxPartitions: 4 },
      sql: `SELECT a.event_id, v.vessel_index, v.ct_ffr, a.occurred_at
              FROM analyses a
             CROSS JOIN LATERAL (
               SELECT v.vessel_index, v.ct_ffr FROM analysis_vessels v
                WHERE v.analysis_event_id = a.event_id AND v.analysis_occurred_at = a.occurred_at AND v.vessel = 'LAD'
               OFFSET 0) v
             WHERE a.site_id = $1 AND a.patient_key = $2 AND a.status = 'completed'
               AND a.occurred_at <= $3::timestamptz AND a.occurred_at >= $3::timestamptz - interval '90 days'
             ORDER BY a.occurred_at DESC, a.event_id DESC, v.vessel_index LIMIT 1`,
      parameters: [probe.site_id, probe.patient_key, `${probe.day}T23:59:59Z`],
    },
    {
      name: 'rollup-slice',
      purpose:
        'Performance roll-up slices (src/performance/performance-rollups.ts SLICE_LINKED_VESSELS_SQL): one product-day slice’s linked vessels',
      expect: [
        /analyses_p\d{6}_manufacturer_id_occurred_at_event_id_idx/,
        /analysis_vessels_p\d{6}_pkey/,
        // One descent per vessel: with statistics the planner takes either; without, only ffr_links_first_link keeps
        // it from ANDing in ffr_links_tenant_linked, a scan of the tenant's links (migration 1764350000000).
        /ffr_links_(first_link|analysis)/,
      ],
      // One day's slice reads one month of analyses (one range per run of days, partitions pruned at run time), through
      // the tenant-time index: under row-level security a bound computed in SQL kept the index off the range.
      prune: { table: 'analyses', maxPartitions: 1 },
      sql: SLICE_LINKED_VESSELS_SQL,
      parameters: sliceParameters(PRODUCT, MANUFACTURER, [probe.day], 0.8),
    },
    {
      name: 'links-to-analyses',
      purpose:
        'A period’s linked pairs joined to their analyses (performance detail=full, vigilance detection): through the link’s analysis time, with the analyses bounded by the 90-day linkage window so only the period’s months are read',
      expect: [/ffr_links/],
      // The period's month and the three before it that the 90-day window reaches.
      prune: { table: 'analyses', maxPartitions: 4 },
      sql: `SELECT l.outcome_event_id, a.device_id, l.ct_ffr, l.invasive_ffr
              FROM ffr_links l
              JOIN analyses a ON a.event_id = l.analysis_event_id AND a.occurred_at = l.analysis_occurred_at
             WHERE l.manufacturer_id = $1 AND l.status = 'linked'
               AND l.measured_at >= $2::timestamptz AND l.measured_at < $3::timestamptz
               AND a.occurred_at >= $2::timestamptz - interval '90 days' AND a.occurred_at < $3::timestamptz`,
      parameters: [MANUFACTURER, `${probe.recent_from}T00:00:00Z`, `${probe.recent_to}T00:00:00Z`],
    },
    {
      name: 'device-last-seen',
      purpose:
        'Silent-device rule (src/vigilance/detection.service.ts): a device’s latest event — the newest partition answers first',
      expect: [/device_events_p\d{6}_device_id_occurred_at_idx/],
      sql: `SELECT max(e.occurred_at) FROM device_events e WHERE e.device_id = $1`,
      parameters: [probe.device_id],
    },
    {
      name: 'event-id-claim',
      purpose:
        'Idempotency (src/ingestion/ingestion-tables.ts): the key-table probe a duplicate eventId meets, whatever its month',
      expect: [/analysis_event_ids_pkey/],
      sql: `SELECT event_id FROM analysis_event_ids WHERE event_id = ANY(ARRAY(SELECT event_id FROM analyses LIMIT 500))`,
      parameters: [],
    },
  ];
}

/** Partitions of `table` a plan actually read: scan nodes on them that were executed. */
function partitionsRead(plan: string, table: string): number {
  const executed = plan.split('\n').filter((line) => /Scan/.test(line) && !line.includes('never executed'));
  const months = executed.flatMap((line) =>
    [...line.matchAll(new RegExp(`on ${table}_p(\\d{6})`, 'g'))].map((m) => m[1]),
  );
  return new Set(months).size;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const started = Date.now();
  await recreateDatabase(options.databaseUrl);
  const dataSource = createDataSource({ DATABASE_URL: options.databaseUrl });
  await dataSource.initialize();
  await dataSource.runMigrations({ transaction: 'each' });
  await dataSource.destroy();
  const client = new Client({ connectionString: options.databaseUrl });
  await client.connect();
  try {
    await seed(client, options);
    const seededSeconds = ((Date.now() - started) / 1000).toFixed(0);
    const sizes = await client.query<{
      analyses: number;
      vessels: number;
      device_events: number;
      partitions: number;
    }>(
      `SELECT (SELECT count(*) FROM analyses)::int AS analyses, (SELECT count(*) FROM analysis_vessels)::int AS vessels,
              (SELECT count(*) FROM device_events)::int AS device_events,
              (SELECT count(*) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
                WHERE p.relname = 'analyses')::int AS partitions`,
    );
    const { server_version } = (await client.query<{ server_version: string }>('SHOW server_version'))
      .rows[0];
    const planned = await queries(client);
    // As the app runs them: its role, under row-level security, scoped to the tenant.
    await client.query(`SET ROLE fieldwatch_app`);
    await client.query(`SELECT set_config('fieldwatch.tenant', $1, false)`, [MANUFACTURER]);
    mkdirSync(options.out, { recursive: true });
    const failures: string[] = [];
    const summary: string[] = [];
    for (const query of planned) {
      // Once to warm the cache, then the plan that is kept.
      await client.query(`EXPLAIN (ANALYZE) ${query.sql}`, query.parameters);
      const result = await client.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN (ANALYZE, BUFFERS) ${query.sql}`,
        query.parameters,
      );
      const plan = result.rows.map((row) => row['QUERY PLAN']).join('\n');
      const missing = query.expect.filter((pattern) => !pattern.test(plan));
      if (missing.length > 0)
        failures.push(`${query.name}: plan does not use ${missing.map(String).join(', ')}`);
      const read = query.prune ? partitionsRead(plan, query.prune.table) : null;
      if (query.prune && read !== null && read > query.prune.maxPartitions) {
        failures.push(
          `${query.name}: reads ${read} partitions of ${query.prune.table}, at most ${query.prune.maxPartitions} expected`,
        );
      }
      const execution = /Execution Time: ([\d.]+) ms/.exec(plan)?.[1] ?? '?';
      summary.push(
        `| ${query.name} | ${execution} ms | ${read === null ? '-' : `${read} of ${sizes.rows[0].partitions}`} | ` +
          `${query.expect.map((p) => `\`${p.source}\``).join(', ')} |`,
      );
      writeFileSync(
        join(options.out, `${query.name}.txt`),
        [
          `-- ${query.purpose}`,
          `-- Seeded: ${sizes.rows[0].analyses} analyses, ${sizes.rows[0].vessels} vessels, ${sizes.rows[0].device_events} device events in ${sizes.rows[0].partitions} monthly partitions per table; PostgreSQL ${server_version}; run as fieldwatch_app under row-level security.`,
          `-- Regenerate: npm run storage:plans`,
          '',
          query.sql.trim(),
          '',
          plan,
          '',
        ].join('\n'),
      );
    }
    console.log(
      `storage:plans — ${sizes.rows[0].analyses} analyses, ${sizes.rows[0].partitions} partitions per table, seeded in ${seededSeconds} s`,
    );
    console.log(
      '| query | execution | analyses partitions read | indexes the plan uses |\n|---|---|---|---|',
    );
    for (const line of summary) console.log(line);
    if (failures.length > 0) {
      console.error(failures.join('\n'));
      process.exitCode = 1;
    }
  } finally {
    await client.end();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
