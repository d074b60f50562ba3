/**
 * `npm run bench:availability` — does ingestion keep its pace while the API is under load (issue 8 §6)?
 *
 * Runs the scenario of scripts/availability-load.ts against the real app (src/main.ts as child processes)
 * for several rounds: analyses produced and timed alone, then while rate-limited clients hammer the heaviest
 * read routes, alternately, ending with one more phase alone. Prints every phase, what the load clients got,
 * and the median over rounds of (rate under load) / (mean rate of the phases alone before and after it).
 * test/security/availability-under-load.integration-spec.ts runs one round and asserts correctness only.
 *
 *   npm run bench:availability -- [--topology split|all] [--rounds R] [--events N] [--preload P]
 *                                 [--clients C] [--in-flight K] [--rate-limit L] [--window S] [--pause-ms M]
 *                                 [--partitions P] [--phase-timeout-s T] [--keep]
 *
 * Flags also read BENCH_<NAME> (BENCH_TOPOLOGY, BENCH_ROUNDS, BENCH_IN_FLIGHT, BENCH_KEEP=1, …). Brokers:
 * KAFKA_BROKERS (default 127.0.0.1:19092; start it with `npm run kafka:start`). PostgreSQL: the server of
 * BENCH_DATABASE_URL or DATABASE_URL (default postgres://postgres@127.0.0.1:5432); the database
 * `fieldwatch_bench_availability` is dropped and recreated, and dropped again at the end unless --keep; the
 * run's topics (own prefix) are deleted too.
 *
 * Exit status: 0 when every analysis was stored exactly once and every process survived (whatever the
 * ratio: speed is measured, not asserted); 1 on a correctness failure (a phase that did not finish within
 * --phase-timeout-s, events lost or dead-lettered, a process that died) or an error.
 */
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { createDataSource } from '../src/database/data-source';
import { allTopics, topicsFor } from '../src/kafka/topics';
import {
  AppHandle,
  hammerTable,
  IngestionTiming,
  registerLoadTenant,
  runScenario,
  ScenarioRecord,
  startTopology,
  storedCount,
  timingTable,
  Topology,
} from './availability-load';
import { ensureTopics, waitForKafka } from './kafka-admin';

const DATABASE_NAME = 'fieldwatch_bench_availability';

interface Options {
  topology: Topology;
  rounds: number;
  events: number;
  preload: number;
  clients: number;
  inFlight: number;
  rateLimit: number;
  windowSeconds: number;
  pauseMs: number;
  partitions: number;
  phaseTimeoutSeconds: number;
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
  const integer = (name: string, fallback: number): number => {
    const value = Number(flag(name) ?? fallback);
    if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a non-negative integer`);
    return value;
  };
  const topology = flag('topology') ?? 'split';
  if (topology !== 'split' && topology !== 'all') throw new Error('--topology must be split or all');
  const server = new URL(
    env.BENCH_DATABASE_URL ?? env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  );
  server.pathname = '/postgres';
  return {
    topology,
    rounds: Math.max(1, integer('rounds', 3)),
    events: Math.max(1, integer('events', 20_000)),
    preload: Math.max(1, integer('preload', 20_000)),
    clients: Math.max(1, integer('clients', 8)),
    inFlight: Math.max(1, integer('in-flight', 8)),
    rateLimit: Math.max(1, integer('rate-limit', 6)),
    windowSeconds: Math.max(1, integer('window', 10)),
    pauseMs: integer('pause-ms', 200),
    partitions: Math.max(1, integer('partitions', 3)),
    phaseTimeoutSeconds: Math.max(10, integer('phase-timeout-s', 300)),
    keep: argv.includes('--keep') || env.BENCH_KEEP === '1',
    serverUrl: server.toString(),
    brokers: (env.KAFKA_BROKERS ?? `127.0.0.1:${env.KAFKA_LOCAL_PORT ?? '19092'}`).split(','),
  };
}

function databaseUrl(options: Options): string {
  const url = new URL(options.serverUrl);
  url.pathname = `/${DATABASE_NAME}`;
  return url.toString();
}

async function onServer(options: Options, sql: string): Promise<void> {
  const client = new Client({ connectionString: options.serverUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Median over rounds of loaded rate / mean of the alone rates before and after it. */
function roundRatios(timings: IngestionTiming[]): number[] {
  const ratios: number[] = [];
  timings.forEach((timing, index) => {
    if (!timing.phase.startsWith('loaded')) return;
    const before = timings[index - 1];
    const after = timings[index + 1];
    if (!before || !after) return;
    ratios.push(timing.eventsPerSecond / ((before.eventsPerSecond + after.eventsPerSecond) / 2));
  });
  return ratios;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2), process.env);
  const run = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const prefix = `bench-availability.${run}.`;
  const topics = topicsFor(prefix);
  const adminToken = `bench-admin-${randomBytes(24).toString('hex')}`;
  console.log(
    `bench:availability — topology ${options.topology}, ${options.rounds} rounds of ${options.events.toLocaleString('en')} ` +
      `analyses alone / under load, ${options.preload.toLocaleString('en')} pre-loaded; ${options.clients} clients × ` +
      `${options.inFlight} in flight, ${options.rateLimit} requests / ${options.windowSeconds} s per key`,
  );

  await waitForKafka(options.brokers, 60_000);
  await ensureTopics(options.brokers, allTopics(topics), options.partitions);
  await onServer(options, `DROP DATABASE IF EXISTS ${DATABASE_NAME} WITH (FORCE)`);
  await onServer(options, `CREATE DATABASE ${DATABASE_NAME}`);
  const migrations = createDataSource({ DATABASE_URL: databaseUrl(options) });
  await migrations.initialize();
  await migrations.runMigrations({ transaction: 'each' });
  await migrations.destroy();

  const environment: Record<string, string> = {
    DATABASE_URL: databaseUrl(options),
    KAFKA_BROKERS: options.brokers.join(','),
    KAFKA_TOPIC_PREFIX: prefix,
    KAFKA_CONSUMER_GROUP: `bench-availability-${run}`,
    KAFKA_TOPIC_PARTITIONS: String(options.partitions),
    FW_PSEUDONYM_KEY: randomBytes(32).toString('hex'),
    FW_MASTER_KEY: randomBytes(32).toString('hex'),
    FW_AUDIT_SIGNING_KEY: randomBytes(32).toString('hex'),
    FW_BOOTSTRAP_ADMIN_TOKEN: adminToken,
    FW_RATE_LIMIT_REQUESTS: String(options.rateLimit),
    FW_RATE_LIMIT_WINDOW_SECONDS: String(options.windowSeconds),
    LOG_LEVEL: 'warn',
  };
  const record: ScenarioRecord = { timings: [], hammers: [], recoveries: [], produced: [] };
  const problems: string[] = [];
  let processes: AppHandle[] = [];
  const database = new Client({ connectionString: databaseUrl(options) });
  const kafka = new Kafka({
    clientId: 'bench-availability',
    brokers: options.brokers,
    logLevel: logLevel.NOTHING,
  });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  try {
    processes = await startTopology(environment, options.topology);
    await database.connect();
    await producer.connect();
    const tenant = await registerLoadTenant(processes[0].baseUrl, adminToken, `BA-${run}`, {
      sites: 4,
      readers: options.clients,
    });
    await runScenario(
      {
        apiUrl: processes[0].baseUrl,
        tenant,
        producer,
        topics,
        database,
        label: `BA-${run}`,
        preload: options.preload,
        outcomeEvery: 4,
        events: options.events,
        clients: options.clients,
        inFlightPerKey: options.inFlight,
        pauseAfterThrottleMs: options.pauseMs,
        rounds: options.rounds,
        phaseTimeoutMs: options.phaseTimeoutSeconds * 1000,
        recoveryTimeoutMs: options.phaseTimeoutSeconds * 1000,
        log: (line) => console.log(`  ${line}`),
      },
      record,
    );
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  }

  try {
    const stored = record.produced.length > 0 ? await storedCount(database, record.produced) : 0;
    if (stored !== record.produced.length)
      problems.push(`${stored} of ${record.produced.length} analyses stored`);
    const dead = await database.query<{ n: number }>(`SELECT count(*)::int AS n FROM dead_letters`);
    if (dead.rows[0].n > 0) problems.push(`${dead.rows[0].n} messages dead-lettered`);
  } catch (error) {
    problems.push(`counting failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  for (const app of processes) {
    if (app.exited() !== null) {
      problems.push(
        `the ${app.role} process died (${app.exited()}); it last wrote:\n${app.log().slice(-3000)}`,
      );
    }
  }

  console.log(`\n${timingTable(record.timings)}`);
  const ratios = roundRatios(record.timings);
  if (ratios.length > 0) {
    console.log(
      `per round: ${ratios.map((ratio) => ratio.toFixed(2)).join(', ')}; median ${median(ratios).toFixed(2)}`,
    );
  }
  record.hammers.forEach((hammer, index) =>
    console.log(`\nround ${index + 1}: ${hammerTable(hammer, record.recoveries[index])}`),
  );

  await producer.disconnect().catch(() => undefined);
  await database.end().catch(() => undefined);
  for (const app of processes) await app.stop();
  if (!options.keep) {
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: allTopics(topics), timeout: 30_000 }).catch(() => undefined);
    await admin.disconnect();
    await onServer(options, `DROP DATABASE IF EXISTS ${DATABASE_NAME} WITH (FORCE)`);
  }
  if (problems.length > 0) {
    console.log(`\nCORRECTNESS FAILURE:\n- ${problems.join('\n- ')}`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
