/**
 * `npm run bench:soak` — sustained ingestion while API clients read (issue 9 §5).
 *
 * Starts the real app (src/main.ts as child processes, scripts/availability-load.ts), registers a tenant through the
 * API, then for --duration-s seconds produces signed analyses at --rate events per second (one invasive FFR for every
 * tenth, so linkage and the performance roll-ups work too) while --clients API clients call GET /performance
 * (detail=summary, the roll-up path a dashboard uses) and, when the route exists, GET /drift/alerts, back to back.
 * Every --sample-s seconds it records consumer lag, events stored and the heap of the process that serves the API.
 * At the end it waits for the lag to drain and prints: the rate offered and the rate stored, API latency p50/p95/p99
 * per route, consumer lag over time, and heap/RSS at start and end.
 *
 *   npm run bench:soak -- [--rate 5000] [--duration-s 600] [--clients 4] [--sites 8] [--sample-s 10]
 *                         [--topology all|split] [--partitions 6] [--drain-timeout-s 600] [--keep]
 *
 * Flags also read BENCH_<NAME> (BENCH_RATE, BENCH_DURATION_S, …). Brokers: KAFKA_BROKERS (default 127.0.0.1:19092;
 * `npm run kafka:start`). PostgreSQL: the server of BENCH_DATABASE_URL or DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432); the database `fieldwatch_bench_soak` is dropped and recreated, and dropped again
 * at the end unless --keep; the run's topics (own prefix) are deleted.
 *
 * Exit status: 0 when every produced analysis and outcome was stored exactly once (none dead-lettered) and the
 * processes survived — the rate is measured, not asserted: a machine that cannot sustain it shows it in the figures
 * (stored rate below the offered rate, lag growing). 1 on a correctness failure or an error.
 */
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, Partitioners, Producer } from 'kafkajs';
import { Client } from 'pg';
import { createDataSource } from '../src/database/data-source';
import { allTopics, topicsFor, Topics } from '../src/kafka/topics';
import {
  AppHandle,
  HammerRoute,
  loadEvents,
  percentile,
  registerLoadTenant,
  startHammer,
  startTopology,
  Topology,
} from './availability-load';
import { ensureTopics, waitForKafka } from './kafka-admin';

const DATABASE_NAME = 'fieldwatch_bench_soak';

interface Options {
  rate: number;
  durationSeconds: number;
  clients: number;
  sites: number;
  sampleSeconds: number;
  topology: Topology;
  partitions: number;
  drainTimeoutSeconds: number;
  keep: boolean;
  serverUrl: string;
  brokers: string[];
}

function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): Options {
  const flag = (name: string): string | undefined => {
    const index = argv.indexOf(`--${name}`);
    if (index >= 0) return argv[index + 1];
    return env[`BENCH_${name.toUpperCase().replace(/-/g, '_')}`];
  };
  const integer = (name: string, fallback: number, min = 1): number => {
    const raw = flag(name);
    const value = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be an integer ≥ ${min}`);
    return value;
  };
  const topology = flag('topology') ?? 'all';
  if (topology !== 'all' && topology !== 'split') throw new Error('--topology must be all or split');
  return {
    rate: integer('rate', 5_000),
    durationSeconds: integer('duration-s', 600),
    clients: integer('clients', 4, 0),
    sites: integer('sites', 8),
    sampleSeconds: integer('sample-s', 10),
    topology,
    partitions: integer('partitions', 6),
    drainTimeoutSeconds: integer('drain-timeout-s', 600),
    keep: argv.includes('--keep') || env.BENCH_KEEP === '1',
    serverUrl: env.BENCH_DATABASE_URL ?? env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432',
    brokers: (env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(','),
  };
}

interface Sample {
  atSeconds: number;
  produced: number;
  stored: number;
  lag: number | null;
  heapMb: number;
  rssMb: number;
}

interface IngestionStats {
  topics: Array<{
    topic: string;
    received: number;
    stored: number;
    deadLettered: number;
    consumerLag: number | null;
  }>;
  process: { heapUsedBytes: number; rssBytes: number };
}

async function ingestionStats(baseUrl: string, adminToken: string): Promise<IngestionStats> {
  const response = await fetch(`${baseUrl}/api/v1/ingestion/stats`, {
    headers: { Authorization: `Bearer ${adminToken}` },
    signal: AbortSignal.timeout(60_000),
  });
  if (!response.ok) throw new Error(`GET /ingestion/stats → ${response.status}`);
  return (await response.json()) as IngestionStats;
}

const mb = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;

/**
 * Produces at `rate` events per second in ticks of 100 ms, each tick's analyses (and their outcomes) in one send
 * per topic. A tick that finds the producer behind schedule sends the missed ticks' events at once: the offered load
 * is the configured rate, and what was actually produced per second is reported.
 */
function startProducer(
  producer: Producer,
  topics: Topics,
  tenant: Parameters<typeof loadEvents>[0],
  rate: number,
  durationSeconds: number,
): { done: Promise<void>; produced: () => { analyses: number; outcomes: number } } {
  let analyses = 0;
  let outcomes = 0;
  const started = performance.now();
  const done = (async () => {
    let tick = 0;
    for (;;) {
      const elapsed = (performance.now() - started) / 1000;
      if (elapsed >= durationSeconds) break;
      const due = Math.floor(Math.min(elapsed, durationSeconds) * rate) - analyses;
      if (due > 0) {
        // At most one tick's worth per round, in sends of ≤ 500 messages: the broker refuses record batches over
        // ~1 MB (message.max.bytes), and a producer that fell behind catches up over the following rounds.
        const events = loadEvents(
          tenant,
          Math.min(due, Math.max(500, Math.ceil(rate / 2))),
          `t${tick++}`,
          10,
        );
        const sends: Promise<unknown>[] = [];
        for (let start = 0; start < events.analyses.length; start += 500) {
          sends.push(
            producer.send({ topic: topics.analyses, messages: events.analyses.slice(start, start + 500) }),
          );
        }
        if (events.outcomes.length > 0)
          sends.push(producer.send({ topic: topics.outcomes, messages: events.outcomes }));
        await Promise.all(sends);
        analyses += events.analyses.length;
        outcomes += events.outcomes.length;
        continue;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return { done, produced: () => ({ analyses, outcomes }) };
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2), process.env);
  const run = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const prefix = `bench-soak.${run}.`;
  const topics = topicsFor(prefix);
  const databaseUrl = new URL(options.serverUrl);
  databaseUrl.pathname = `/${DATABASE_NAME}`;
  const onServer = async (sql: string) => {
    const client = new Client({ connectionString: options.serverUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await onServer(`DROP DATABASE IF EXISTS ${DATABASE_NAME} WITH (FORCE)`);
  await onServer(`CREATE DATABASE ${DATABASE_NAME}`);
  const migrations = createDataSource({ DATABASE_URL: databaseUrl.toString() });
  await migrations.initialize();
  await migrations.runMigrations({ transaction: 'each' });
  await migrations.destroy();
  await waitForKafka(options.brokers, 60_000);
  await ensureTopics(options.brokers, allTopics(topics), options.partitions);

  const adminToken = `soak-admin-${randomBytes(16).toString('hex')}`;
  const environment: Record<string, string> = {
    DATABASE_URL: databaseUrl.toString(),
    KAFKA_BROKERS: options.brokers.join(','),
    KAFKA_TOPIC_PREFIX: prefix,
    KAFKA_CONSUMER_GROUP: `bench-soak-${run}`,
    KAFKA_TOPIC_PARTITIONS: String(options.partitions),
    FW_PSEUDONYM_KEY: randomBytes(32).toString('hex'),
    FW_MASTER_KEY: randomBytes(32).toString('hex'),
    FW_AUDIT_SIGNING_KEY: randomBytes(32).toString('hex'),
    FW_BOOTSTRAP_ADMIN_TOKEN: adminToken,
    // The soak measures latency, not the rate limiter: clients must not be throttled.
    FW_RATE_LIMIT_REQUESTS: '1000000',
    LOG_LEVEL: 'warn',
  };
  const kafka = new Kafka({
    clientId: `bench-soak-${run}`,
    brokers: options.brokers,
    logLevel: logLevel.NOTHING,
  });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  let processes: AppHandle[] = [];
  const problems: string[] = [];
  try {
    processes = await startTopology(environment, options.topology);
    const api = processes[0].baseUrl;
    const tenant = await registerLoadTenant(api, adminToken, `SOAK-${run}`, {
      sites: options.sites,
      readers: Math.max(1, options.clients),
    });
    await producer.connect();

    const routes: HammerRoute[] = [
      {
        name: 'performance (summary)',
        path: `/api/v1/performance?productId=${tenant.productId}&groupBy=site&detail=summary`,
      },
    ];
    const drift = await fetch(`${api}/api/v1/drift/alerts?productId=${tenant.productId}`, {
      headers: { Authorization: `Bearer ${tenant.readerKeys[0]}` },
    });
    if (drift.status !== 404)
      routes.push({ name: 'drift alerts', path: `/api/v1/drift/alerts?productId=${tenant.productId}` });

    const first = await ingestionStats(api, adminToken);
    const heapStart = { heapMb: mb(first.process.heapUsedBytes), rssMb: mb(first.process.rssBytes) };
    console.log(
      `bench:soak — ${options.rate.toLocaleString('en')} events/s offered for ${options.durationSeconds} s, ` +
        `${options.clients} API clients on ${routes.map((r) => r.name).join(', ')}; topology ${options.topology}, ` +
        `${options.partitions} partitions, ${options.sites} sites`,
    );
    const started = performance.now();
    const hammer =
      options.clients > 0 ? startHammer(api, tenant.readerKeys.slice(0, options.clients), routes) : null;
    const production = startProducer(producer, topics, tenant, options.rate, options.durationSeconds);
    const samples: Sample[] = [];
    const sample = async () => {
      const stats = await ingestionStats(api, adminToken);
      const analyses = stats.topics.find((t) => t.topic === topics.analyses);
      const lags = stats.topics.map((t) => t.consumerLag).filter((lag): lag is number => lag !== null);
      const entry: Sample = {
        atSeconds: Math.round((performance.now() - started) / 1000),
        produced: production.produced().analyses,
        stored: analyses?.stored ?? 0,
        lag: lags.length > 0 ? lags.reduce((sum, lag) => sum + lag, 0) : null,
        heapMb: mb(stats.process.heapUsedBytes),
        rssMb: mb(stats.process.rssBytes),
      };
      samples.push(entry);
      console.log(
        `  t=${entry.atSeconds}s produced ${entry.produced} stored ${entry.stored} lag ${entry.lag ?? '-'} ` +
          `heap ${entry.heapMb} MB rss ${entry.rssMb} MB`,
      );
    };
    const sampler = setInterval(
      () => void sample().catch((error: Error) => problems.push(error.message)),
      options.sampleSeconds * 1000,
    );
    await production.done;
    const producingSeconds = (performance.now() - started) / 1000;
    const report = hammer ? await hammer.stop() : null;
    clearInterval(sampler);
    const produced = production.produced();

    // Drain: every produced analysis and outcome stored (exactly once: received = stored, nothing dead-lettered).
    const drainStarted = performance.now();
    let last = await ingestionStats(api, adminToken);
    const counters = (stats: IngestionStats, topic: string) => stats.topics.find((t) => t.topic === topic);
    while (
      (counters(last, topics.analyses)?.received ?? 0) < produced.analyses ||
      (counters(last, topics.outcomes)?.received ?? 0) < produced.outcomes
    ) {
      if (performance.now() - drainStarted > options.drainTimeoutSeconds * 1000) {
        problems.push(`lag not drained within ${options.drainTimeoutSeconds} s`);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      last = await ingestionStats(api, adminToken);
    }
    const drainSeconds = (performance.now() - drainStarted) / 1000;
    await sample();
    for (const [topic, expected] of [
      [topics.analyses, produced.analyses],
      [topics.outcomes, produced.outcomes],
    ] as const) {
      const c = counters(last, topic);
      if (!c || c.stored !== expected || c.deadLettered !== 0)
        problems.push(
          `${topic}: produced ${expected}, stored ${c?.stored}, dead-lettered ${c?.deadLettered}`,
        );
    }
    for (const process of processes) {
      if (process.exited() !== null)
        problems.push(`the ${process.role} process exited (${process.exited()})`);
    }
    const end = samples[samples.length - 1];

    console.log('');
    console.log(`| figure | value |`);
    console.log(`|---|---|`);
    console.log(`| offered rate | ${options.rate.toLocaleString('en')} analyses/s (+ 1 outcome per 10) |`);
    console.log(
      `| produced | ${produced.analyses.toLocaleString('en')} analyses in ${producingSeconds.toFixed(0)} s = ${Math.round(produced.analyses / producingSeconds).toLocaleString('en')}/s |`,
    );
    console.log(
      `| stored (incl. drain) | ${(counters(last, topics.analyses)?.stored ?? 0).toLocaleString('en')} analyses in ${(producingSeconds + drainSeconds).toFixed(0)} s = ${Math.round((counters(last, topics.analyses)?.stored ?? 0) / (producingSeconds + drainSeconds)).toLocaleString('en')}/s; drain after production ${drainSeconds.toFixed(0)} s |`,
    );
    console.log(`| heap / RSS at start | ${heapStart.heapMb} MB / ${heapStart.rssMb} MB |`);
    console.log(
      `| heap / RSS at end | ${end.heapMb} MB / ${end.rssMb} MB (max heap ${Math.max(...samples.map((s) => s.heapMb))} MB) |`,
    );
    if (report) {
      console.log('');
      console.log('| route | answered 2xx | other | p50 ms | p95 ms | p99 ms |');
      console.log('|---|---|---|---|---|---|');
      for (const [name, load] of Object.entries(report.routes)) {
        const ok = load.okLatenciesMs;
        const other = Object.entries(load.statuses)
          .filter(([status]) => Number(status) < 200 || Number(status) >= 300)
          .map(([status, count]) => `${count}×${status}`)
          .join(' ');
        const p = (q: number) => Math.round(percentile(ok, q) ?? NaN);
        console.log(`| ${name} | ${ok.length} | ${other || '0'} | ${p(50)} | ${p(95)} | ${p(99)} |`);
      }
    }
    // Server errors are measured, not hidden: the app's own error log lines (SQLSTATE, error class; never data).
    const serverErrors = report
      ? Object.values(report.routes).reduce(
          (sum, load) =>
            sum +
            Object.entries(load.statuses).reduce(
              (n, [status, count]) => n + (Number(status) >= 500 ? count : 0),
              0,
            ),
          0,
        )
      : 0;
    if (serverErrors > 0) {
      console.log(`\n${serverErrors} answers were 5xx; the app's error lines:`);
      for (const process of processes) {
        const lines = process
          .log()
          .split('\n')
          .filter((line) => /"level":50|Unhandled/.test(line));
        console.log(lines.slice(-10).join('\n'));
      }
    }
    console.log('');
    console.log('consumer lag over time (analyses + outcomes + device events):');
    console.log(samples.map((s) => `  ${s.atSeconds}s: ${s.lag ?? '-'}`).join('\n'));
    if (problems.length > 0) {
      console.error(`\nFAILED:\n  ${problems.join('\n  ')}`);
      return 1;
    }
    return 0;
  } finally {
    await producer.disconnect().catch(() => undefined);
    for (const process of processes) await process.stop().catch(() => undefined);
    if (processes.some((p) => p.exited() !== null && p.exited() !== '0' && p.exited() !== 'SIGTERM')) {
      for (const p of processes) console.error(p.log().slice(-3_000));
    }
    const admin = kafka.admin();
    await admin.connect().catch(() => undefined);
    await admin.deleteTopics({ topics: allTopics(topics) }).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    if (!options.keep)
      await onServer(`DROP DATABASE IF EXISTS ${DATABASE_NAME} WITH (FORCE)`).catch(() => undefined);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
