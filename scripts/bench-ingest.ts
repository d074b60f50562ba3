/**
 * `npm run bench:ingest` — how close the platform's ingestion comes to the raw speed of its two ends.
 *
 * Pre-loads N signed analysis events into a fresh topic, then measures in one run:
 *   (a) the platform end to end: src/main.ts as a child process (FW_PROCESS_ROLE=all), cold, with a fresh consumer
 *       group, from its first committed batch to the commit that makes sum(received) = N;
 *   (b) a raw kafkajs consumer on the same topics with the app's fetch settings whose eachBatch only resolves offsets;
 *   (c) a raw COPY of the same rows (built with the platform's own row mapping and COPY text) into plain tables;
 * and prints events/s for each and the ratio a / min(b, c) (target ≥ 0.5 on the 2-core machine).
 *
 *   npm run bench:ingest -- [--events N] [--partitions P] [--repeat R] [--sites S] [--concurrency C]
 *                           [--app-processes K] [--profile] [--log-level L] [--keep]
 *
 * Every flag also reads BENCH_<NAME> (BENCH_EVENTS, BENCH_REPEAT, BENCH_KEEP=1, …). Brokers: KAFKA_BROKERS (default
 * 127.0.0.1:19092, start it with `bash scripts/kafka-local.sh start`). PostgreSQL: the server of BENCH_DATABASE_URL or
 * DATABASE_URL (default postgres://postgres@127.0.0.1:5432); the database used is always `fieldwatch_bench`, dropped
 * and recreated, so a second benchmark on the same server waits for the first (advisory lock).
 *
 * Besides the rates it reports, per measured interval, the cores used by the app, PostgreSQL, the broker and other
 * processes (/proc), what the app's PostgreSQL backends were doing (pg_stat_activity samples), a `top` snapshot, and
 * with --profile a CPU profile summary of the app: the material to tell where ingestion time goes.
 *
 * Exit status: 0 when every phase was correct (also when the ratio misses the target: that prints BELOW TARGET),
 * 1 on a correctness failure (events lost, duplicated or dead-lettered, row counts off) or an error.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  Dirent,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
} from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Consumer, Kafka, logLevel, PartitionMetadata, Partitioners, Producer } from 'kafkajs';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { decodeKey } from '../src/config/config';
import { createDataSource } from '../src/database/data-source';
import { copyLine } from '../src/ingestion/copy-text';
import type { AcceptedEvent } from '../src/ingestion/event-decoder';
import { TABLE_SPECS } from '../src/ingestion/ingestion-tables';
import { Pseudonymiser } from '../src/ingestion/pseudonymiser';
import type { Sender } from '../src/ingestion/sender-directory';
import { allTopics, ingestTopics, topicsFor, type Topics } from '../src/kafka/topics';
import {
  analysisFleet,
  encodeSignedMessage,
  generateAnalysisEvents,
  registerFleet,
  SimulatorStateStore,
  type AnalysisEventOptions,
} from '../src/simulator';
import { ensureTopics, waitForKafka } from './kafka-admin';

const ROOT = path.join(__dirname, '..');
const DATABASE_NAME = 'fieldwatch_bench';

// The broker's default message.max.bytes is ~1 MB per record batch; 500 analyses (~0.7 kB value + ~0.1 kB key and
// signature header each) stay far below it, and the byte cap guards against unusually large events.
const SEND_MAX_MESSAGES = 500;
const SEND_MAX_BYTES = 800_000;
/** Produce requests in flight: enough to hide the broker round trip behind generation and signing. */
const SENDS_IN_FLIGHT = 4;

// The app's consumer settings (src/ingestion/ingestion.consumer.ts), mirrored by the raw consumer so (b) fetches
// exactly like (a) does and the difference between them is what the platform does with a batch.
const CONSUMER_SETTINGS = {
  sessionTimeout: 30_000,
  heartbeatInterval: 3_000,
  rebalanceTimeout: 60_000,
  maxBytesPerPartition: 4 * 1024 * 1024,
  maxBytes: 16 * 1024 * 1024,
  maxWaitTimeInMs: 250,
} as const;

/** How often (a) reads the progress table; the measured interval is accurate to about this. */
const POLL_MS = 50;
/** A phase that makes no progress for this long has hung: fail instead of waiting forever. */
const STALL_TIMEOUT_MS = 180_000;
/** Lines per COPY write: reference/kafka-local.md §3 measured ≈1000-line string chunks as the fast way to feed COPY. */
const COPY_LINES_PER_CHUNK = 1000;

/** Tables filled by ingesting events (and by the work it queues), emptied before each run of (a). */
const EVENT_TABLES = [
  'analyses',
  'analysis_vessels',
  // The eventId key table of the partitioned analyses (migration 1764330000000-PartitionedEventStorage).
  'analysis_event_ids',
  'dead_letters',
  'linkage_pending',
  'ffr_links',
  'ffr_link_history',
];

const COPY_TABLES = { analyses: 'bench_copy_analyses', vessels: 'bench_copy_analysis_vessels' } as const;

// ---------------------------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------------------------

interface BenchOptions {
  events: number;
  partitions: number;
  repeat: number;
  sites: number;
  concurrency: number;
  appProcesses: number;
  keep: boolean;
  profile: boolean;
  logLevel: string;
  brokers: string[];
  /** postgres:// URL of the server's maintenance database; the bench database is derived from it. */
  maintenanceUrl: string;
  benchUrl: string;
}

const USAGE = `usage: npm run bench:ingest -- [--events N] [--partitions P] [--repeat R] [--sites S] [--concurrency C]
                                [--profile] [--log-level LEVEL] [--keep]
  --events N        analysis events to pre-load and ingest (default 1000000)
  --partitions P    partitions of the bench topics (default 6)
  --repeat R        run (a), (b), (c) R times, interleaved, and report medians (default 1)
  --sites S         simulated sites (default 10; more sites = more device keys = more even partitions)
  --concurrency C   FW_INGEST_CONCURRENCY of the app and partitionsConsumedConcurrently of (b) (default 3)
  --app-processes K app processes in (a)'s consumer group: one FW_PROCESS_ROLE=all, K-1 =ingest (default 1)
  --profile         one extra, unmeasured run of (a) with the app under --cpu-prof; prints where its time goes
  --log-level L     the app's LOG_LEVEL (default info)
  --keep            keep the database ${DATABASE_NAME}, the bench topics and the run directory`;

function parseOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  const valued = ['events', 'partitions', 'repeat', 'sites', 'concurrency', 'app-processes', 'log-level'];
  const booleans = ['keep', 'profile'];
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index];
    if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    }
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match) throw new Error(`unexpected argument "${arg}"\n${USAGE}`);
    const [, name, inline] = match;
    if (booleans.includes(name) && inline === undefined) flags.add(name);
    else if (valued.includes(name)) {
      const value = inline ?? argv[++index];
      if (value === undefined) throw new Error(`--${name} needs a value`);
      values.set(name, value);
    } else throw new Error(`unknown option --${name}\n${USAGE}`);
  }
  const envName = (name: string): string => `BENCH_${name.toUpperCase().replace(/-/g, '_')}`;
  const integer = (name: string, fallback: number, min: number): number => {
    const raw = values.get(name) ?? env[envName(name)];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw.replace(/_/g, ''));
    if (!Number.isInteger(value) || value < min)
      throw new Error(`--${name} must be an integer ≥ ${min}, got "${raw}"`);
    return value;
  };
  const boolean = (name: string): boolean =>
    flags.has(name) || ['1', 'true', 'yes'].includes(env[envName(name)] ?? '');

  const server = new URL(
    env.BENCH_DATABASE_URL || env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
  );
  const maintenance = new URL(server.toString());
  maintenance.pathname = '/postgres';
  const bench = new URL(server.toString());
  bench.pathname = `/${DATABASE_NAME}`;
  const logLevelValue = values.get('log-level') ?? env.BENCH_LOG_LEVEL ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevelValue)) {
    throw new Error(`--log-level must be one of fatal, error, warn, info, debug, trace, silent`);
  }
  return {
    events: integer('events', 1_000_000, 1),
    partitions: integer('partitions', 6, 1),
    repeat: integer('repeat', 1, 1),
    sites: integer('sites', 10, 1),
    concurrency: integer('concurrency', 3, 1),
    appProcesses: integer('app-processes', 1, 1),
    keep: boolean('keep'),
    profile: boolean('profile'),
    logLevel: logLevelValue,
    brokers: (env.KAFKA_BROKERS || '127.0.0.1:19092')
      .split(',')
      .map((broker) => broker.trim())
      .filter((broker) => broker.length > 0),
    maintenanceUrl: maintenance.toString(),
    benchUrl: bench.toString(),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------------------------

/** Monotonic milliseconds (CLOCK_MONOTONIC, the clock V8's CPU profiles use too, so the two can be lined up). */
const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));
const fmtInt = (value: number): string => Math.round(value).toLocaleString('en-US');
const fmtSec = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const log = (message: string): void =>
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

/** A correctness failure: the benchmark's numbers would be meaningless, so it exits non-zero. */
class CorrectnessError extends Error {}

function check(condition: boolean, message: string): void {
  if (!condition) throw new CorrectnessError(message);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, application_name: 'fieldwatch-bench' });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// CPU accounting from /proc: who used the two cores during a measured interval
// ---------------------------------------------------------------------------------------------------------------

type CpuGroup = 'app' | 'bench' | 'kafka' | 'postgres';
const CPU_GROUPS: CpuGroup[] = ['app', 'bench', 'kafka', 'postgres'];

interface CpuSnapshot {
  at: number;
  /** Jiffies from the first line of /proc/stat. */
  busy: number;
  iowait: number;
  total: number;
  groups: Record<CpuGroup, number>;
}

interface CpuUsage {
  /** Average number of cores busy during the interval, per process group and for the whole machine. */
  cores: Record<CpuGroup | 'other' | 'machine' | 'iowait', number>;
}

// USER_HZ is 100 on every Linux architecture Node supports (it is fixed in the kernel ABI, unlike CONFIG_HZ).
const CLOCK_TICKS = 100;

/** utime + stime of a process (all its threads) in jiffies; 0 if it is gone or unreadable. */
function processTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses: fields are counted after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

function postgresPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.includes(' (postgres) ')) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** The local broker's JVM (the process running kafka.Kafka), and the Kafka version from its classpath. */
function findKafkaBroker(): { pid: number | null; version: string | null } {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let args: string[];
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!args.includes('kafka.Kafka')) continue;
    const classpath = args[args.indexOf('-cp') + 1] ?? args[args.indexOf('-classpath') + 1] ?? '';
    let version: string | null = null;
    for (const part of classpath.split(':')) {
      let directory = part.endsWith('*') ? part.slice(0, -1) : path.dirname(part);
      if (!path.isAbsolute(directory)) {
        try {
          directory = path.join(readlinkSync(`/proc/${entry}/cwd`), directory);
        } catch {
          continue;
        }
      }
      try {
        const jar = readdirSync(directory).find((name) => /^kafka_2\.\d+-[\d.]+\.jar$/.test(name));
        if (jar) version = /-([\d.]+)\.jar$/.exec(jar)?.[1] ?? null;
      } catch {
        // not a directory we can read
      }
      if (version) break;
    }
    return { pid: Number(entry), version };
  }
  return { pid: null, version: null };
}

function cpuSnapshot(pids: { app?: (number | null)[]; kafka?: number | null }): CpuSnapshot {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  // cpu user nice system idle iowait irq softirq steal …
  const jiffies = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = jiffies.reduce((sum, value) => sum + value, 0);
  const idle = jiffies[3];
  const iowait = jiffies[4];
  return {
    at: nowMs(),
    busy: total - idle - iowait,
    iowait,
    total,
    groups: {
      app: (pids.app ?? []).reduce<number>((sum, pid) => sum + (pid ? processTicks(pid) : 0), 0),
      bench: processTicks(process.pid),
      kafka: pids.kafka ? processTicks(pids.kafka) : 0,
      postgres: postgresPids().reduce((sum, pid) => sum + processTicks(pid), 0),
    },
  };
}

function cpuUsage(start: CpuSnapshot, end: CpuSnapshot): CpuUsage | null {
  const seconds = (end.at - start.at) / 1000;
  // Jiffies are 10 ms: below half a second the averages are mostly rounding.
  if (seconds < 0.5) return null;
  const cores = (ticks: number): number => ticks / CLOCK_TICKS / seconds;
  // /proc/stat counts every CPU: busy jiffies over the interval / elapsed seconds = cores in use machine-wide.
  const machine = cores(end.busy - start.busy);
  const groups = Object.fromEntries(
    CPU_GROUPS.map((group) => [group, cores(Math.max(end.groups[group] - start.groups[group], 0))]),
  ) as Record<CpuGroup, number>;
  const known = CPU_GROUPS.reduce((sum, group) => sum + groups[group], 0);
  return {
    cores: {
      ...groups,
      other: Math.max(machine - known, 0),
      machine,
      iowait: cores(end.iowait - start.iowait),
    },
  };
}

/**
 * The machine is shared: CPU used by processes outside the benchmark during a measured interval slowed that phase.
 * Flags runs where others took more than a quarter of a core.
 */
function noiseWarning(runs: PhaseResult[]): string[] {
  const worst = Math.max(...runs.map((run) => run.cpu?.cores.other ?? 0));
  if (worst <= 0.25) return [];
  return [
    `  NOISY: other processes used up to ${worst.toFixed(2)} cores during a measured interval (see "other" below); ` +
      'rerun with --repeat 3 on a quieter machine before trusting a single number.',
  ];
}

function describeCpu(usage: CpuUsage | null): string {
  if (!usage) return 'CPU n/a (interval under 0.5 s)';
  const c = usage.cores;
  return (
    `machine ${c.machine.toFixed(2)} of ${os.cpus().length} cores busy (iowait ${c.iowait.toFixed(2)}): ` +
    `app ${c.app.toFixed(2)}, postgres ${c.postgres.toFixed(2)}, kafka ${c.kafka.toFixed(2)}, ` +
    `bench ${c.bench.toFixed(2)}, other ${c.other.toFixed(2)}`
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Child processes: the app under test. Every child is killed when the benchmark exits, however it exits.
// ---------------------------------------------------------------------------------------------------------------

const liveChildren = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

class AppChild {
  private child: ChildProcess | null = null;
  private exit: Promise<number | null> = Promise.resolve(null);

  constructor(
    private readonly environment: Record<string, string>,
    private readonly logPath: string,
    private readonly nodeFlags: string[] = [],
  ) {}

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.environment.PORT}`;
  }

  get exited(): boolean {
    return this.child === null || this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** Spawns src/main.ts and resolves once /health/live answers (the HTTP server listens after all modules init). */
  async start(): Promise<void> {
    const logFd = openSync(this.logPath, 'a');
    const child = spawn(
      process.execPath,
      [...this.nodeFlags, '-r', 'ts-node/register/transpile-only', 'src/main.ts'],
      {
        cwd: ROOT,
        env: { ...process.env, ...this.environment, TS_NODE_PROJECT: path.join(ROOT, 'tsconfig.json') },
        stdio: ['ignore', logFd, logFd],
      },
    );
    closeSync(logFd);
    this.child = child;
    liveChildren.add(child);
    this.exit = new Promise((resolve) =>
      child.once('exit', (code) => {
        liveChildren.delete(child);
        resolve(code);
      }),
    );
    const deadline = nowMs() + 120_000;
    for (;;) {
      if (this.exited) throw new Error(`the app exited during start-up; log:\n${this.logTail()}`);
      const ready = await fetch(`${this.baseUrl}/health/live`, { signal: AbortSignal.timeout(2_000) })
        .then((response) => response.ok)
        .catch(() => false);
      if (ready) return;
      if (nowMs() > deadline)
        throw new Error(`the app did not answer /health/live within 120 s; log:\n${this.logTail()}`);
      await sleep(200);
    }
  }

  /** SIGTERM: Nest's shutdown hooks let the batch in flight finish and disconnect the consumer. */
  async stop(graceMs = 30_000): Promise<number | null> {
    const child = this.child;
    if (!child) return null;
    if (!this.exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await this.exit;
      clearTimeout(timer);
    }
    return this.exit;
  }

  logTail(lines = 40): string {
    try {
      return readFileSync(this.logPath, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The run: shared state
// ---------------------------------------------------------------------------------------------------------------

interface RunContext {
  options: BenchOptions;
  runId: string;
  runDir: string;
  prefix: string;
  topics: Topics;
  kafka: Kafka;
  eventOptions: AnalysisEventOptions;
  secrets: { pseudonymKey: string; masterKey: string; adminToken: string };
  kafkaPid: number | null;
  /** Kafka partition and offset of event i (in generation order), from the produce responses. */
  partitionOf: Uint16Array;
  offsetOf: Float64Array;
  eventsPerPartition: number[];
  vesselCount: number;
  consumerGroups: string[];
  /** sourceFingerprint() when the database was migrated. */
  sourceFingerprint: string;
  /** The connection holding the advisory lock on the bench database (acquireBenchLock). */
  lock: Client | null;
}

interface PhaseResult {
  /** Events counted in the rate: those that completed after the interval's first observation. */
  events: number;
  intervalMs: number;
  rate: number;
  cpu: CpuUsage | null;
  notes: string[];
}

// ---------------------------------------------------------------------------------------------------------------
// Set-up: database, topics, fleet registration
// ---------------------------------------------------------------------------------------------------------------

async function recreateDatabase(options: BenchOptions): Promise<void> {
  await withClient(options.maintenanceUrl, async (client) => {
    // FORCE ends sessions left over from an interrupted earlier run; nobody else uses this database.
    await client.query(`DROP DATABASE IF EXISTS ${DATABASE_NAME} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${DATABASE_NAME}`);
  });
  await migrate(options);
}

/** The app's own migrations, exactly as `npm run migrate` applies them; returns the names of those applied. */
async function migrate(options: BenchOptions): Promise<string[]> {
  const dataSource = createDataSource({ DATABASE_URL: options.benchUrl });
  await dataSource.initialize();
  try {
    return (await dataSource.runMigrations({ transaction: 'each' })).map((migration) => migration.name);
  } finally {
    await dataSource.destroy();
  }
}

/**
 * Size and modification time of every file the app runs from. The working tree is shared with engineers editing
 * it: each app start transpiles the current sources, so a change between repetitions means they measured different
 * code (and possibly a schema the bench database does not have yet).
 */
function sourceFingerprint(): string {
  const hash = createHash('sha1');
  const walk = (directory: string): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(directory, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(directory, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) {
        const stat = statSync(full);
        hash.update(`${full}\0${stat.size}\0${stat.mtimeMs}\n`);
      }
    }
  };
  for (const directory of ['src', 'migrations']) walk(path.join(ROOT, directory));
  return hash.digest('hex');
}

function appEnvironment(
  context: RunContext,
  consumerGroup: string,
  port: number,
  role: 'all' | 'ingest' = 'all',
): Record<string, string> {
  return {
    DATABASE_URL: context.options.benchUrl,
    KAFKA_BROKERS: context.options.brokers.join(','),
    KAFKA_TOPIC_PREFIX: context.prefix,
    KAFKA_TOPIC_PARTITIONS: String(context.options.partitions),
    KAFKA_CONSUMER_GROUP: consumerGroup,
    FW_PSEUDONYM_KEY: context.secrets.pseudonymKey,
    FW_MASTER_KEY: context.secrets.masterKey,
    FW_BOOTSTRAP_ADMIN_TOKEN: context.secrets.adminToken,
    FW_PROCESS_ROLE: role,
    FW_INGEST_CONCURRENCY: String(context.options.concurrency),
    LOG_LEVEL: context.options.logLevel,
    PORT: String(port),
  };
}

/** Registers the simulated fleet through the API of a short-lived app process and returns the devices' secrets. */
async function registerThroughApi(context: RunContext): Promise<ReadonlyMap<string, string>> {
  const group = `${context.prefix}register`;
  context.consumerGroups.push(group);
  const app = new AppChild(
    appEnvironment(context, group, await freePort()),
    path.join(context.runDir, 'app-register.log'),
  );
  await app.start();
  try {
    const fleet = analysisFleet(context.eventOptions);
    const store = new SimulatorStateStore(path.join(context.runDir, 'simulator-state.json')).load();
    const { secrets } = await registerFleet(fleet, store, {
      apiUrl: app.baseUrl,
      bootstrapAdminToken: context.secrets.adminToken,
      rotateSecrets: false,
      log: (message) => log(`  registration: ${message}`),
    });
    log(`registered ${fleet.sites.length} sites and ${fleet.devices.length} devices through the API`);
    return secrets.devices;
  } finally {
    // Stopped before the pre-load, so (a) starts cold on a full topic.
    await app.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Pre-load
// ---------------------------------------------------------------------------------------------------------------

interface PreloadResult {
  intervalMs: number;
  rate: number;
  bytes: number;
}

/**
 * Produces the N signed events. Each message gets its partition from kafkajs' default (Java-compatible murmur2)
 * partitioner on its key — what any producer keyed by deviceId gets — but computed here, so the benchmark knows every
 * event's partition and, from the produce responses' base offsets, its offset: (c) then builds exactly the rows the
 * platform stores without reading them back.
 */
async function preload(
  context: RunContext,
  deviceSecrets: ReadonlyMap<string, string>,
): Promise<PreloadResult> {
  const { options } = context;
  const producer: Producer = context.kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  const partitionMetadata: PartitionMetadata[] = Array.from(
    { length: options.partitions },
    (_, partitionId) => ({
      partitionId,
      leader: 1,
      replicas: [1],
      isr: [1],
      offlineReplicas: [],
      partitionErrorCode: 0,
    }),
  );
  const partitioner = Partitioners.DefaultPartitioner();
  const inFlight = new Set<Promise<void>>();
  // A holder object, not a let: TypeScript would narrow a let assigned only in callbacks to null.
  const sendState: { failure: Error | null } = { failure: null };
  let produced = 0;
  let bytes = 0;
  let vessels = 0;

  type Outgoing = { key: string; value: Buffer; headers: Record<string, string>; partition: number };
  let batch: Outgoing[] = [];
  let batchIndexes: number[] = [];
  let batchBytes = 0;

  const send = (messages: Outgoing[], indexes: number[]): void => {
    const promise = producer
      .send({ topic: context.topics.analyses, acks: -1, messages })
      .then((metadata) => {
        // kafkajs groups a send's messages by partition in their original order; each partition's records get
        // consecutive offsets from the base offset the broker reports.
        const nextOffset = new Map<number, number>();
        for (const record of metadata)
          nextOffset.set(record.partition, Number(record.baseOffset ?? record.offset));
        for (let position = 0; position < messages.length; position++) {
          const partition = messages[position].partition;
          const offset = nextOffset.get(partition);
          if (offset === undefined || Number.isNaN(offset))
            throw new Error(`no base offset for partition ${partition}`);
          context.offsetOf[indexes[position]] = offset;
          nextOffset.set(partition, offset + 1);
        }
      })
      .catch((error: unknown) => {
        sendState.failure ??= error instanceof Error ? error : new Error(String(error));
      })
      .finally(() => inFlight.delete(promise));
    inFlight.add(promise);
  };

  const started = nowMs();
  let lastReport = started;
  for (const event of generateAnalysisEvents(context.eventOptions)) {
    const secret = deviceSecrets.get(event.deviceId);
    if (secret === undefined) throw new Error(`no signing secret for device ${event.deviceId}`);
    const wire = encodeSignedMessage(event, secret);
    const partition = partitioner({
      topic: context.topics.analyses,
      partitionMetadata,
      message: { key: wire.key, value: wire.value },
    });
    const index = produced++;
    context.partitionOf[index] = partition;
    context.eventsPerPartition[partition]++;
    vessels += event.vessels?.length ?? 0;
    const size = wire.value.length + wire.key.length + 120;
    if (batch.length > 0 && (batch.length >= SEND_MAX_MESSAGES || batchBytes + size > SEND_MAX_BYTES)) {
      send(batch, batchIndexes);
      batch = [];
      batchIndexes = [];
      batchBytes = 0;
      while (inFlight.size >= SENDS_IN_FLIGHT) await Promise.race(inFlight);
      if (sendState.failure) throw sendState.failure;
    }
    batch.push({ key: wire.key, value: wire.value, headers: wire.headers, partition });
    batchIndexes.push(index);
    batchBytes += size;
    bytes += wire.value.length;
    if (nowMs() - lastReport > 5_000) {
      lastReport = nowMs();
      log(`  pre-load: ${fmtInt(produced)} / ${fmtInt(options.events)}`);
    }
  }
  if (batch.length > 0) send(batch, batchIndexes);
  await Promise.all(inFlight);
  const intervalMs = nowMs() - started;
  await producer.disconnect();
  if (sendState.failure) throw sendState.failure;
  check(produced === options.events, `the generator produced ${produced} events, expected ${options.events}`);
  context.vesselCount = vessels;

  // A retried produce request could have written a batch twice (the producer is not idempotent, to keep several
  // requests in flight): the topic must hold exactly N records.
  const admin = context.kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(context.topics.analyses);
    const inTopic = offsets.reduce((sum, p) => sum + Number(BigInt(p.high) - BigInt(p.low)), 0);
    check(
      inTopic === options.events,
      `the topic holds ${inTopic} records after the pre-load, expected ${options.events}`,
    );
  } finally {
    await admin.disconnect();
  }
  return { intervalMs, rate: (options.events / intervalMs) * 1000, bytes };
}

// ---------------------------------------------------------------------------------------------------------------
// (a) The platform
// ---------------------------------------------------------------------------------------------------------------

interface ProgressRow {
  kafka_partition: number;
  received: string;
  stored: string;
  duplicates: string;
  dead_lettered: string;
}

/** What a backend of the app is running, from the statement text the writer and decoder send. */
function statementKind(query: string): string {
  const text = query.trimStart();
  // The outcome linker (src/outcomes) shares the pool and runs beside ingestion in FW_PROCESS_ROLE=all.
  if (/linkage_|ffr_link/.test(text)) return `linkage worker: ${text.slice(0, 28).replace(/\s+/g, ' ')}…`;
  if (text.startsWith('COPY')) return 'COPY into staging';
  if (text.includes('WITH inserted AS')) return 'merge INSERT … ON CONFLICT';
  if (text.startsWith('COMMIT')) return 'COMMIT';
  if (text.startsWith('BEGIN')) return 'BEGIN';
  if (text.startsWith('TRUNCATE')) return 'TRUNCATE staging';
  if (text.startsWith('SAVEPOINT') || text.startsWith('RELEASE')) return 'SAVEPOINT/RELEASE';
  if (text.startsWith('INSERT INTO ingestion_partition_progress')) return 'progress upsert';
  if (text.startsWith('UPDATE ingestion_partition_progress')) return 'progress update';
  if (text.includes('FROM ingestion_partition_progress')) return 'progress read';
  if (text.includes('FROM devices d JOIN sites')) return 'sender lookup';
  if (text.startsWith('CREATE TEMP TABLE')) return 'staging set-up';
  return text.slice(0, 40).replace(/\s+/g, ' ');
}

/**
 * Samples pg_stat_activity for the app's connections (application_name 'fieldwatch', src/database/data-source.ts):
 * the average number of backends in each state over the interval says whether PostgreSQL works (active, waiting for
 * the WAL flush of a COMMIT, …) or waits for the app (idle in transaction: the app holds the transaction open while
 * its single thread does something else).
 */
class BackendSampler {
  private readonly counts = new Map<string, number>();
  private samples = 0;

  async sample(client: Client): Promise<void> {
    const { rows } = await client.query<{
      state: string | null;
      wait_event_type: string | null;
      wait_event: string | null;
      query: string;
    }>(
      `SELECT state, wait_event_type, wait_event, left(query, 80) AS query FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'fieldwatch' AND pid <> pg_backend_pid()`,
    );
    this.samples++;
    for (const row of rows) {
      if (row.state === 'idle') continue;
      const kind = statementKind(row.query);
      const key =
        row.state === 'active'
          ? `active: ${kind} [${row.wait_event_type ? `${row.wait_event_type}:${row.wait_event}` : 'CPU'}]`
          : `${row.state ?? '?'} (last: ${kind})`;
      this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    }
  }

  summary(): string[] {
    if (this.samples === 0) return [];
    const entries = [...this.counts.entries()].sort((a, b) => b[1] - a[1]);
    const busy = entries.reduce((sum, [, count]) => sum + count, 0) / this.samples;
    // The overview first: is PostgreSQL working, waiting for I/O, or waiting for the app?
    const category = (key: string): string => {
      if (key.includes('linkage worker')) return 'linkage worker (active or idle in transaction)';
      if (!key.startsWith('active')) return 'ingestion transaction open, idle: waiting for the app';
      if (key.endsWith('[Client:ClientRead]')) return 'ingestion COPY waiting for data from the app';
      if (key.endsWith('[CPU]')) return 'ingestion statements running on CPU';
      return 'ingestion statements waiting (I/O, WAL, locks)';
    };
    const categories = new Map<string, number>();
    for (const [key, count] of entries)
      categories.set(category(key), (categories.get(category(key)) ?? 0) + count);
    const line = ([key, count]: [string, number]): string =>
      `    ${(count / this.samples).toFixed(2)}  ${key}`;
    return [
      `app's PostgreSQL backends, average number in each state (${this.samples} samples; ${busy.toFixed(2)} not idle on average):`,
      ...[...categories.entries()].sort((a, b) => b[1] - a[1]).map(line),
      '  largest single states:',
      ...entries
        .filter(([, count]) => count / this.samples >= 0.02)
        .slice(0, 12)
        .map(line),
    ];
  }
}

/** `top -b` one second in the middle of (a), as an operator would look at it (second iteration: a 1 s average). */
function captureTop(): Promise<string[]> {
  return new Promise((resolve) => {
    const child = spawn('top', ['-b', '-n', '2', '-d', '1', '-w', '160'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('error', () => resolve([]));
    child.once('close', () => {
      const iterations = output.split(/^(?=top - )/m);
      const last = iterations[iterations.length - 1] ?? '';
      resolve(
        last
          .split('\n')
          .filter((line) => line.trim().length > 0)
          .slice(0, 17),
      );
    });
  });
}

interface PlatformRun extends PhaseResult {
  /** CPU profile of the app, when run under --cpu-prof. */
  profile: { dir: string; windowUs: [number, number] } | null;
}

/**
 * Starts the app cold with a fresh consumer group and an empty analyses table, and watches the progress table the
 * writer updates in the same transaction as the rows. The interval runs from the first poll that sees any progress
 * (the first batch has then been consumed, decoded, written and committed) to the first poll that sees
 * sum(received) = N. The events counted are those committed inside that interval, N − received at the first
 * observation: the first batches' work lies before the interval, so counting their events would flatter the rate.
 */
async function runPlatform(
  context: RunContext,
  label: string,
  profileDir: string | null,
): Promise<PlatformRun> {
  const { options } = context;
  const group = `${context.prefix}platform.${label}`;
  context.consumerGroups.push(group);
  await withClient(options.benchUrl, async (client) => {
    // Every repetition starts from the same state: no stored events and none of what they left behind (the
    // linkage inbox and links exist only from the OutcomeLinkage migration on, hence the to_regclass filter).
    const { rows } = await client.query<{ tables: string | null }>(
      `SELECT string_agg(quote_ident(t), ', ') AS tables FROM unnest($1::text[]) AS t WHERE to_regclass(t) IS NOT NULL`,
      [EVENT_TABLES],
    );
    if (rows[0].tables) await client.query(`TRUNCATE ${rows[0].tables} CASCADE`);
    // Start every measured phase with no dirty buffers of an earlier phase left to write out.
    await client.query('CHECKPOINT');
  });

  const nodeFlags = profileDir
    ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--cpu-prof-interval=1000']
    : [];
  // One process as deployed by default (role all); --app-processes adds ingest-only processes to the same group,
  // each with its own kafkajs fetcher and JavaScript thread.
  const apps: AppChild[] = [];
  for (let index = 0; index < options.appProcesses; index++) {
    apps.push(
      new AppChild(
        appEnvironment(context, group, await freePort(), index === 0 ? 'all' : 'ingest'),
        path.join(context.runDir, `app-${label}${index === 0 ? '' : `-${index + 1}`}.log`),
        nodeFlags,
      ),
    );
  }
  const appPids = (): (number | null)[] => apps.map((app) => app.pid);
  const stopApps = (): Promise<unknown> => Promise.all(apps.map((app) => app.stop()));
  const poller = new Client({
    connectionString: options.benchUrl,
    application_name: 'fieldwatch-bench-poll',
  });
  await poller.connect();
  const launched = nowMs();
  try {
    // Polling starts at launch, not once /health/live answers: consumers may commit before the HTTP server listens,
    // and with several processes the first ones would be far ahead before the last one is up.
    const startup: { bootedMs: number | null; error: Error | null } = { bootedMs: null, error: null };
    const starting = Promise.all(apps.map((app) => app.start())).then(
      () => void (startup.bootedMs = nowMs() - launched),
      (error: unknown) => void (startup.error = error instanceof Error ? error : new Error(String(error))),
    );
    const finishedAt = new Array<number | null>(options.partitions).fill(null);
    const backends = new BackendSampler();
    let topLines: Promise<string[]> | null = null;
    let first: { at: number; received: number; cpu: CpuSnapshot } | null = null;
    let lastProgressAt = nowMs();
    let lastReceived = -1;
    let lastReport = nowMs();
    for (;;) {
      if (startup.error) throw startup.error;
      const crashed = apps.find((app) => app.exited);
      if (crashed) throw new Error(`an app process exited during ingestion; log:\n${crashed.logTail()}`);
      const { rows } = await poller.query<ProgressRow>(
        `SELECT kafka_partition, received, stored, duplicates, dead_lettered FROM ingestion_partition_progress
          WHERE consumer_group = $1 AND topic = $2`,
        [group, context.topics.analyses],
      );
      const at = nowMs();
      const received = rows.reduce((sum, row) => sum + Number(row.received), 0);
      if (received > 0 && first === null) {
        first = { at, received, cpu: cpuSnapshot({ app: appPids(), kafka: context.kafkaPid }) };
      }
      for (const row of rows) {
        if (
          finishedAt[row.kafka_partition] === null &&
          Number(row.received) >= context.eventsPerPartition[row.kafka_partition]
        ) {
          finishedAt[row.kafka_partition] = at;
        }
      }
      if (received !== lastReceived) {
        lastReceived = received;
        lastProgressAt = at;
      } else if (at - lastProgressAt > STALL_TIMEOUT_MS) {
        throw new Error(
          `(a) made no progress for ${STALL_TIMEOUT_MS / 1000} s at ${received} of ${options.events}; ` +
            `app log:\n${apps[0].logTail()}`,
        );
      }
      if (first && received < options.events) {
        await backends.sample(poller);
        // Mid-way the app is in steady state; a profiled run is skewed by the profiler, so it is left out.
        if (topLines === null && received >= options.events / 2 && !profileDir) topLines = captureTop();
      }
      if (at - lastReport > 10_000 && first) {
        lastReport = at;
        log(`  (a) ${label}: ${fmtInt(received)} / ${fmtInt(options.events)} received`);
      }
      if (received >= options.events && first) {
        const end = cpuSnapshot({ app: appPids(), kafka: context.kafkaPid });
        const startAt = first.at;
        const intervalMs = at - startAt;
        const counted = received - first.received;
        const notes = [
          `app launch → /health/live ${startup.bootedMs === null ? '?' : fmtSec(startup.bootedMs)}; ` +
            `launch → first committed batch ${fmtSec(startAt - launched)}` +
            ` (${fmtInt(first.received)} events already committed then, excluded from the rate)`,
          `N / interval (first batches' events counted, their time not) would be ${fmtInt((options.events / intervalMs) * 1000)}/s`,
          `partitions finished after ${finishedAt
            .map((t) => (t === null ? '?' : ((t - startAt) / 1000).toFixed(1)))
            .join(', ')} s`,
        ];
        notes.push(...backends.summary());
        // Work ingestion queued but the platform has not done yet when the last event is committed.
        const inbox = await poller.query<{ present: boolean }>(
          `SELECT to_regclass('linkage_pending') IS NOT NULL AS present`,
        );
        if (inbox.rows[0].present) {
          const backlog = await poller.query<{ n: string }>('SELECT count(*) AS n FROM linkage_pending');
          notes.push(
            `linkage inbox (linkage_pending) at that moment: ${fmtInt(Number(backlog.rows[0].n))} keys`,
          );
        }
        const top = topLines ? await topLines : [];
        if (top.length > 0)
          notes.push('top -b, one second mid-way through (a):', ...top.map((line) => `    ${line}`));
        await starting;
        await stopApps();
        await verifyPlatform(context, group, received);
        return {
          events: counted,
          intervalMs,
          rate: (counted / intervalMs) * 1000,
          cpu: cpuUsage(first.cpu, end),
          notes,
          profile: profileDir ? { dir: profileDir, windowUs: [first.at * 1000, end.at * 1000] } : null,
        };
      }
      if (received > options.events) throw new CorrectnessError(`received ${received} > ${options.events}`);
      await sleep(POLL_MS);
    }
  } finally {
    await poller.end().catch(() => undefined);
    await stopApps();
  }
}

/** Everything consumed was stored exactly once: nothing lost, duplicated or dead-lettered. */
async function verifyPlatform(context: RunContext, group: string, received: number): Promise<void> {
  const n = context.options.events;
  await withClient(context.options.benchUrl, async (client) => {
    const totals = (
      await client.query<{ received: string; stored: string; duplicates: string; dead_lettered: string }>(
        `SELECT coalesce(sum(received), 0) AS received, coalesce(sum(stored), 0) AS stored,
                coalesce(sum(duplicates), 0) AS duplicates, coalesce(sum(dead_lettered), 0) AS dead_lettered
           FROM ingestion_partition_progress WHERE consumer_group = $1`,
        [group],
      )
    ).rows[0];
    const counts = (
      await client.query<{ analyses: string; vessels: string; dead_letters: string }>(
        `SELECT (SELECT count(*) FROM analyses) AS analyses, (SELECT count(*) FROM analysis_vessels) AS vessels,
                (SELECT count(*) FROM dead_letters) AS dead_letters`,
      )
    ).rows[0];
    const problems: string[] = [];
    if (received !== n || Number(totals.received) !== n) problems.push(`received ${totals.received}`);
    if (Number(totals.stored) !== n) problems.push(`stored ${totals.stored}`);
    if (Number(totals.duplicates) !== 0) problems.push(`duplicates ${totals.duplicates}`);
    if (Number(totals.dead_lettered) !== 0) problems.push(`dead_lettered ${totals.dead_lettered}`);
    if (Number(counts.analyses) !== n) problems.push(`count(analyses) ${counts.analyses}`);
    if (Number(counts.vessels) !== context.vesselCount) {
      problems.push(`count(analysis_vessels) ${counts.vessels}, expected ${context.vesselCount}`);
    }
    if (Number(counts.dead_letters) !== 0) problems.push(`dead_letters rows ${counts.dead_letters}`);
    check(
      problems.length === 0,
      `(a) platform: expected ${n} stored exactly once; got ${problems.join(', ')}`,
    );
  });
}

// ---------------------------------------------------------------------------------------------------------------
// (b) Raw kafkajs consumer
// ---------------------------------------------------------------------------------------------------------------

/**
 * Same client library, topics, fetch sizes and partition concurrency as the app; eachBatch only resolves the last
 * offset (offsets are auto-committed). Same interval rule as (a): from the first batch delivered to the batch that
 * completes N; the events counted exclude those of that first batch, delivered at the start of the interval.
 */
async function runRawConsumer(context: RunContext, label: string): Promise<PhaseResult> {
  const { options } = context;
  const group = `${context.prefix}raw.${label}`;
  context.consumerGroups.push(group);
  const consumer: Consumer = context.kafka.consumer({ groupId: group, ...CONSUMER_SETTINGS });
  const seenPerPartition = new Array<number>(options.partitions).fill(0);
  const finishedAt = new Array<number | null>(options.partitions).fill(null);
  let seen = 0;
  let first: { at: number; seen: number; cpu: CpuSnapshot } | null = null;
  let done: { at: number; cpu: CpuSnapshot } | null = null;
  let signalDone: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (signalDone = resolve));
  const connected = nowMs();
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: ingestTopics(context.topics), fromBeginning: true });
    await consumer.run({
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: options.concurrency,
      eachBatch: (payload) => {
        const { batch } = payload;
        const count = batch.messages.length;
        if (count === 0) return Promise.resolve();
        seen += count;
        const at = nowMs();
        first ??= { at, seen, cpu: cpuSnapshot({ kafka: context.kafkaPid }) };
        if (batch.topic === context.topics.analyses) {
          seenPerPartition[batch.partition] += count;
          if (seenPerPartition[batch.partition] >= context.eventsPerPartition[batch.partition]) {
            finishedAt[batch.partition] ??= at;
          }
        }
        payload.resolveOffset(batch.lastOffset());
        if (seen >= options.events && !done) {
          done = { at, cpu: cpuSnapshot({ kafka: context.kafkaPid }) };
          signalDone();
        }
        return Promise.resolve();
      },
    });
    let lastSeen = -1;
    let lastProgressAt = nowMs();
    while (!done) {
      await Promise.race([finished, sleep(1_000)]);
      if (seen !== lastSeen) {
        lastSeen = seen;
        lastProgressAt = nowMs();
      } else if (nowMs() - lastProgressAt > STALL_TIMEOUT_MS) {
        throw new Error(
          `(b) made no progress for ${STALL_TIMEOUT_MS / 1000} s at ${seen} of ${options.events}`,
        );
      }
    }
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  const start = first as { at: number; seen: number; cpu: CpuSnapshot } | null;
  const end = done as { at: number; cpu: CpuSnapshot } | null;
  if (!start || !end) throw new Error('(b) finished without observations');
  check(seen === options.events, `(b) raw consumer saw ${seen} messages, expected ${options.events}`);
  const counted = options.events - start.seen;
  const intervalMs = end.at - start.at;
  return {
    events: counted,
    intervalMs,
    rate: (counted / intervalMs) * 1000,
    cpu: cpuUsage(start.cpu, end.cpu),
    notes: [
      `connect → first batch ${fmtSec(start.at - connected)} (${fmtInt(start.seen)} events in it, excluded from the rate)`,
      `partitions finished after ${finishedAt
        .map((t) => (t === null ? '?' : ((t - start.at) / 1000).toFixed(1)))
        .join(', ')} s`,
    ],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// (c) Raw COPY
// ---------------------------------------------------------------------------------------------------------------

interface CopyPayload {
  analyses: Buffer[];
  vessels: Buffer[];
  analysisRows: number;
  vesselRows: number;
  bytes: number;
  buildMs: number;
}

/**
 * The exact COPY text the platform sends for these events: the same events regenerated from the seed, mapped by
 * the platform's own TABLE_SPECS.analyses.toRows (same senders from the registry, same pseudonym key, same
 * partition and offset as in the topic) and encoded with its copyLine. Built once, before any timing, as ~1000-line
 * buffers, so (c) times nothing but PostgreSQL taking the COPY.
 */
async function buildCopyPayload(context: RunContext): Promise<CopyPayload> {
  const started = nowMs();
  const senders = new Map<string, Sender>();
  await withClient(context.options.benchUrl, async (client) => {
    const { rows } = await client.query<{
      id: string;
      code: string;
      manufacturer_id: string;
      product_id: string | null;
      site_id: string;
      site_code: string;
    }>(
      `SELECT d.id, d.device_code AS code, d.manufacturer_id, d.product_id, d.site_id, s.site_code
         FROM devices d JOIN sites s ON s.id = d.site_id`,
    );
    for (const row of rows) {
      senders.set(row.code, {
        kind: 'device',
        id: row.id,
        code: row.code,
        manufacturerId: row.manufacturer_id,
        productId: row.product_id,
        siteId: row.site_id,
        siteCode: row.site_code,
        secret: '',
      });
    }
  });
  const pseudonymiser = new Pseudonymiser(decodeKey(context.secrets.pseudonymKey));
  const spec = TABLE_SPECS.analyses;
  const payload: CopyPayload = {
    analyses: [],
    vessels: [],
    analysisRows: 0,
    vesselRows: 0,
    bytes: 0,
    buildMs: 0,
  };
  let analysisText = '';
  let analysisLines = 0;
  let vesselText = '';
  let vesselLines = 0;
  let index = 0;
  for (const event of generateAnalysisEvents(context.eventOptions)) {
    const sender = senders.get(event.deviceId);
    if (!sender) throw new Error(`device ${event.deviceId} is not registered`);
    const accepted = {
      outcome: 'accepted',
      message: { offset: String(context.offsetOf[index]), key: null, value: null },
      // The simulator's AnalysisEvent is the contract type the validator accepts; generated events carry no fields
      // outside the contract, so unknownFields is null as the decoder would compute it.
      event: event as unknown as AcceptedEvent<'analyses'>['event'],
      sender,
      unknownFields: null,
    } satisfies AcceptedEvent<'analyses'>;
    const [analysisRows, vesselRows] = spec.toRows([accepted], context.partitionOf[index], pseudonymiser);
    index++;
    for (const row of analysisRows) {
      analysisText += copyLine(row);
      if (++analysisLines === COPY_LINES_PER_CHUNK) {
        payload.analyses.push(Buffer.from(analysisText, 'utf8'));
        analysisText = '';
        analysisLines = 0;
      }
      payload.analysisRows++;
    }
    for (const row of vesselRows) {
      vesselText += copyLine(row);
      if (++vesselLines === COPY_LINES_PER_CHUNK) {
        payload.vessels.push(Buffer.from(vesselText, 'utf8'));
        vesselText = '';
        vesselLines = 0;
      }
      payload.vesselRows++;
    }
  }
  if (analysisText) payload.analyses.push(Buffer.from(analysisText, 'utf8'));
  if (vesselText) payload.vessels.push(Buffer.from(vesselText, 'utf8'));
  payload.bytes = [...payload.analyses, ...payload.vessels].reduce((sum, chunk) => sum + chunk.length, 0);
  payload.buildMs = nowMs() - started;
  check(payload.analysisRows === context.options.events, `(c) built ${payload.analysisRows} analysis rows`);
  check(payload.vesselRows === context.vesselCount, `(c) built ${payload.vesselRows} vessel rows`);
  return payload;
}

/**
 * Plain tables shaped like the targets (LIKE … INCLUDING DEFAULTS: columns, NOT NULLs and defaults, no keys, indexes
 * or checks), recreated per run, filled by one COPY each on one connection. The interval is the two COPYs.
 */
async function runRawCopy(context: RunContext, payload: CopyPayload): Promise<PhaseResult> {
  const analysisColumns = TABLE_SPECS.analyses.tables[0].columns.join(', ');
  const vesselColumns = TABLE_SPECS.analyses.tables[1].columns.join(', ');
  return withClient(context.options.benchUrl, async (client) => {
    await client.query(`DROP TABLE IF EXISTS ${COPY_TABLES.analyses}, ${COPY_TABLES.vessels}`);
    await client.query(`CREATE TABLE ${COPY_TABLES.analyses} (LIKE analyses INCLUDING DEFAULTS)`);
    await client.query(`CREATE TABLE ${COPY_TABLES.vessels} (LIKE analysis_vessels INCLUDING DEFAULTS)`);
    await client.query('CHECKPOINT');
    const start = cpuSnapshot({ kafka: context.kafkaPid });
    await pipeline(
      Readable.from(payload.analyses),
      client.query(copyFrom(`COPY ${COPY_TABLES.analyses} (${analysisColumns}) FROM STDIN`)),
    );
    await pipeline(
      Readable.from(payload.vessels),
      client.query(copyFrom(`COPY ${COPY_TABLES.vessels} (${vesselColumns}) FROM STDIN`)),
    );
    const end = cpuSnapshot({ kafka: context.kafkaPid });
    const intervalMs = end.at - start.at;
    const counts = (
      await client.query<{ analyses: string; vessels: string }>(
        `SELECT (SELECT count(*) FROM ${COPY_TABLES.analyses}) AS analyses,
                (SELECT count(*) FROM ${COPY_TABLES.vessels}) AS vessels`,
      )
    ).rows[0];
    check(
      Number(counts.analyses) === payload.analysisRows && Number(counts.vessels) === payload.vesselRows,
      `(c) COPY stored ${counts.analyses} analyses and ${counts.vessels} vessels, expected ${payload.analysisRows} and ${payload.vesselRows}`,
    );
    return {
      events: payload.analysisRows,
      intervalMs,
      rate: (payload.analysisRows / intervalMs) * 1000,
      cpu: cpuUsage(start, end),
      notes: [
        `${fmtInt(payload.analysisRows)} analyses + ${fmtInt(payload.vesselRows)} vessel rows, ` +
          `${(payload.bytes / 1024 / 1024).toFixed(0)} MiB of COPY text (built in ${fmtSec(payload.buildMs)}, untimed)`,
      ],
    };
  });
}

/** (c) copied the very rows (a) stored: the two row sets are equal as multisets (received_at aside). */
async function verifyCopyMatchesPlatform(context: RunContext): Promise<void> {
  const analysisColumns = TABLE_SPECS.analyses.tables[0].columns.join(', ');
  const vesselColumns = TABLE_SPECS.analyses.tables[1].columns.join(', ');
  await withClient(context.options.benchUrl, async (client) => {
    const differences = async (columns: string, left: string, right: string): Promise<number> =>
      Number(
        (
          await client.query<{ n: string }>(
            `SELECT count(*) AS n FROM (SELECT ${columns} FROM ${left} EXCEPT ALL SELECT ${columns} FROM ${right}) d`,
          )
        ).rows[0].n,
      );
    const mismatches = [
      await differences(analysisColumns, 'analyses', COPY_TABLES.analyses),
      await differences(analysisColumns, COPY_TABLES.analyses, 'analyses'),
      await differences(vesselColumns, 'analysis_vessels', COPY_TABLES.vessels),
      await differences(vesselColumns, COPY_TABLES.vessels, 'analysis_vessels'),
    ];
    check(
      mismatches.every((n) => n === 0),
      `(c) rows differ from the rows the platform stored (analyses ±${mismatches[0]}/${mismatches[1]}, ` +
        `vessels ±${mismatches[2]}/${mismatches[3]})`,
    );
  });
}

// ---------------------------------------------------------------------------------------------------------------
// CPU profile summary (--profile)
// ---------------------------------------------------------------------------------------------------------------

interface CpuProfileNode {
  id: number;
  children?: number[];
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

function profileArea(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native / V8 builtins)';
  const file = url.replace(/^file:\/\//, '');
  const modules = file.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const parts = file.slice(modules + '/node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (file.startsWith('node:')) return file.split('/').slice(0, 2).join('/');
  return path.relative(ROOT, file);
}

/** A profile URL as a short path: inside its package for dependencies, relative to the repository otherwise. */
function shortLocation(url: string): string {
  const file = url.replace(/^file:\/\//, '');
  const modules = file.lastIndexOf('/node_modules/');
  if (modules >= 0) return file.slice(modules + '/node_modules/'.length);
  return file.startsWith('node:') ? file : path.relative(ROOT, file);
}

/**
 * Self time per function and per package/file of the app during the measured interval only (all profiles in the
 * directory, one per app process), plus inclusive time of the repository's own functions: what decoding, pseudonym
 * hashing, row building … cost with everything they call.
 */
function summariseProfile(profileDir: string, windowUs: [number, number]): string[] {
  const files = readdirSync(profileDir).filter((name) => name.endsWith('.cpuprofile'));
  if (files.length === 0) return [`no .cpuprofile was written in ${profileDir}`];
  const byFunction = new Map<string, number>();
  const byArea = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const add = (map: Map<string, number>, key: string, us: number): void => {
    map.set(key, (map.get(key) ?? 0) + us);
  };
  let total = 0;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(path.join(profileDir, file), 'utf8')) as CpuProfile;
    const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
    const parents = new Map<number, number>();
    for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
    const label = (node: CpuProfileNode): string => {
      const { functionName, url, lineNumber } = node.callFrame;
      if (!url) return functionName || '(anonymous native code)';
      // Line numbers of repository files would be those of ts-node's transpiled output, not of the .ts source.
      const location = url.endsWith('.ts') ? shortLocation(url) : `${shortLocation(url)}:${lineNumber + 1}`;
      return `${functionName || '(anonymous)'}  ${location}`;
    };
    // The repository functions on a node's stack, each once (recursion must not count twice); memoised per node.
    const repoStack = new Map<number, string[]>();
    const repoFramesOf = (id: number): string[] => {
      const known = repoStack.get(id);
      if (known) return known;
      const node = nodes.get(id);
      const parent = parents.get(id);
      const above = parent === undefined ? [] : repoFramesOf(parent);
      const url = node?.callFrame.url ?? '';
      const own = node && url.endsWith('.ts') && !url.includes('/node_modules/') ? label(node) : null;
      const frames = own && !above.includes(own) ? [...above, own] : above;
      repoStack.set(id, frames);
      return frames;
    };
    let time = profile.startTime;
    for (let index = 0; index < profile.samples.length; index++) {
      time += profile.timeDeltas[index];
      // Sample i covers the time until sample i+1.
      const duration = profile.timeDeltas[index + 1] ?? 0;
      if (time < windowUs[0] || time > windowUs[1]) continue;
      const node = nodes.get(profile.samples[index]);
      if (!node) continue;
      add(byFunction, label(node), duration);
      add(byArea, profileArea(node.callFrame.url, node.callFrame.functionName), duration);
      for (const frame of repoFramesOf(node.id)) add(inclusive, frame, duration);
      total += duration;
    }
  }
  if (total === 0) return [`the profiles in ${profileDir} have no samples in the measured interval`];
  const top = (map: Map<string, number>, count: number): string[] =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(
        ([name, us]) =>
          `    ${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${name}`,
      );
  return [
    `app main-thread profile over the measured interval (${(total / 1e6).toFixed(1)} s sampled; ${files.join(', ')});`,
    '  (idle) = the thread waits for I/O (PostgreSQL, Kafka); GC and native code run on it too.',
    '  self time by package / file:',
    ...top(byArea, 15),
    '  top self-time functions:',
    ...top(byFunction, 25),
    '  inclusive time of repository functions (with everything they call synchronously):',
    ...top(inclusive, 15),
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------------------

let cleanupPromise: Promise<void> | null = null;

/**
 * Stops the children and removes what the run created. Runs once: a signal and the main flow's own ending both
 * call it, and whoever comes second waits for the same work to finish instead of exiting half-way through it.
 */
function cleanup(
  context: RunContext | null,
  options: BenchOptions | null,
  keepRunDir: boolean,
): Promise<void> {
  cleanupPromise ??= cleanupOnce(context, options, keepRunDir);
  return cleanupPromise;
}

async function cleanupOnce(
  context: RunContext | null,
  options: BenchOptions | null,
  keepRunDir: boolean,
): Promise<void> {
  for (const child of liveChildren) child.kill('SIGTERM');
  const deadline = nowMs() + 15_000;
  while (liveChildren.size > 0 && nowMs() < deadline) await sleep(100);
  for (const child of liveChildren) child.kill('SIGKILL');
  if (!context || !options) return;
  try {
    if (options.keep) return;
    // The topics carry this run's unique prefix: always ours to delete.
    const admin = context.kafka.admin();
    try {
      await admin.connect();
      await admin.deleteGroups(context.consumerGroups).catch(() => undefined);
      const present = new Set(await admin.listTopics());
      const topics = allTopics(context.topics).filter((topic) => present.has(topic));
      if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 });
    } catch (error) {
      console.error(`warning: could not delete the bench topics ${context.prefix}*: ${errorText(error)}`);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    // The database only while holding the lock: without it, it is another run's.
    if (context.lock) {
      await withClient(options.maintenanceUrl, (client) =>
        client.query(`DROP DATABASE IF EXISTS ${DATABASE_NAME} WITH (FORCE)`),
      ).catch((error: unknown) =>
        console.error(`warning: could not drop ${DATABASE_NAME}: ${errorText(error)}`),
      );
    }
    if (!keepRunDir) rmSync(context.runDir, { recursive: true, force: true });
    // The signing secrets are only of use with the database just dropped; a kept run directory need not hold them.
    else rmSync(path.join(context.runDir, 'simulator-state.json'), { force: true });
  } finally {
    await context.lock?.end().catch(() => undefined);
    context.lock = null;
  }
}

/** How long a run waits for another one using the bench database to finish. */
const LOCK_WAIT_MS = 30 * 60_000;

/**
 * The bench database has a fixed name, so two runs at once would drop each other's data mid-measurement. A
 * session-level advisory lock on the server's maintenance database serialises them: the second run waits (saying
 * so), and the lock goes away with its connection however the holder ends.
 */
async function acquireBenchLock(options: BenchOptions): Promise<Client> {
  const client = new Client({
    connectionString: options.maintenanceUrl,
    application_name: 'fieldwatch-bench-lock',
  });
  await client.connect();
  const deadline = nowMs() + LOCK_WAIT_MS;
  let announced = false;
  for (;;) {
    const { rows } = await client.query<{ locked: boolean }>(
      'SELECT pg_try_advisory_lock(hashtext($1)) AS locked',
      [`fieldwatch-bench:${DATABASE_NAME}`],
    );
    if (rows[0].locked) return client;
    if (!announced) {
      log(`another benchmark is using ${DATABASE_NAME}; waiting for it to finish…`);
      announced = true;
    }
    if (nowMs() > deadline) {
      await client.end();
      throw new Error(
        `another benchmark held ${DATABASE_NAME} for more than ${LOCK_WAIT_MS / 60_000} minutes`,
      );
    }
    await sleep(2_000);
  }
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const options = parseOptions(argv, process.env);
  const runId = `${new Date().toISOString().replace(/\D/g, '').slice(2, 14)}-${randomBytes(3).toString('hex')}`;
  const runDir = path.join(os.tmpdir(), `fieldwatch-bench-${runId}`);
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const prefix = `bench.${runId}.`;
  const broker = findKafkaBroker();
  const context: RunContext = {
    options,
    runId,
    runDir,
    prefix,
    topics: topicsFor(prefix),
    kafka: new Kafka({
      clientId: `fieldwatch-bench-${runId}`,
      brokers: options.brokers,
      logLevel: logLevel.WARN,
      connectionTimeout: 3_000,
      requestTimeout: 30_000,
      retry: { initialRetryTime: 300, maxRetryTime: 30_000, retries: 10 },
    }),
    eventOptions: {
      seed: 'bench',
      count: options.events,
      // A fixed period makes the events (and their bytes) identical from run to run.
      start: Date.parse('2025-01-01T00:00:00Z'),
      end: Date.parse('2026-01-01T00:00:00Z'),
      siteCount: options.sites,
    },
    secrets: {
      pseudonymKey: randomBytes(32).toString('hex'),
      masterKey: randomBytes(32).toString('hex'),
      adminToken: randomBytes(24).toString('hex'),
    },
    kafkaPid: broker.pid,
    partitionOf: new Uint16Array(options.events),
    offsetOf: new Float64Array(options.events).fill(Number.NaN),
    eventsPerPartition: new Array<number>(options.partitions).fill(0),
    vesselCount: 0,
    consumerGroups: [],
    sourceFingerprint: '',
    lock: null,
  };

  let keepRunDir = options.keep || options.profile;
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted = true;
    console.error(`\n${signal}: stopping the app and cleaning up…`);
    void cleanup(context, options, true).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const command = `npm run bench:ingest${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`;
    log(
      `run ${runId}: ${fmtInt(options.events)} events, ${options.partitions} partitions, ${options.repeat} repetition(s); run dir ${runDir}`,
    );
    context.lock = await acquireBenchLock(options);
    await waitForKafka(options.brokers, 30_000);
    await ensureTopics(options.brokers, allTopics(context.topics), options.partitions);
    log(`topics ${prefix}* created with ${options.partitions} partitions`);
    context.sourceFingerprint = sourceFingerprint();
    await recreateDatabase(options);
    log(`database ${DATABASE_NAME} recreated and migrated`);
    const machine = await withClient(options.benchUrl, async (client) => {
      const setting = async (name: string): Promise<string> =>
        (await client.query<{ v: string }>(`SELECT current_setting($1) AS v`, [name])).rows[0].v;
      return {
        postgres: await setting('server_version'),
        settings:
          `synchronous_commit=${await setting('synchronous_commit')}, fsync=${await setting('fsync')}, ` +
          `shared_buffers=${await setting('shared_buffers')}, max_wal_size=${await setting('max_wal_size')}`,
      };
    });

    const deviceSecrets = await registerThroughApi(context);
    log(`pre-loading ${fmtInt(options.events)} signed events…`);
    const loaded = await preload(context, deviceSecrets);
    check(
      context.offsetOf.every((offset) => !Number.isNaN(offset)),
      'some produced events have no offset',
    );
    log(
      `pre-loaded in ${fmtSec(loaded.intervalMs)} (${fmtInt(loaded.rate)} events/s, ${(loaded.bytes / 1024 / 1024).toFixed(0)} MiB of values); ` +
        `per partition: ${context.eventsPerPartition.map(fmtInt).join(' / ')}`,
    );
    log('building the COPY text for (c) (untimed)…');
    const payload = await buildCopyPayload(context);

    const results: { a: PlatformRun[]; b: PhaseResult[]; c: PhaseResult[] } = { a: [], b: [], c: [] };
    const warnings: string[] = [];
    // Before each start of the app: note (and migrate for) source changes made meanwhile by others.
    const checkSources = async (what: string): Promise<void> => {
      const fingerprint = sourceFingerprint();
      if (fingerprint === context.sourceFingerprint) return;
      context.sourceFingerprint = fingerprint;
      const applied = await migrate(options);
      const warning =
        `src/ or migrations/ changed before ${what}: it runs different code` +
        (applied.length > 0 ? ` (applied new migrations ${applied.join(', ')})` : '');
      warnings.push(warning);
      log(`warning: ${warning}`);
    };
    for (let repetition = 1; repetition <= options.repeat; repetition++) {
      const label = `r${repetition}`;
      await checkSources(`repetition ${repetition}`);
      log(`repetition ${repetition}/${options.repeat}: (a) platform…`);
      const a = await runPlatform(context, label, null);
      results.a.push(a);
      log(`  (a) ${fmtInt(a.rate)} events/s over ${fmtSec(a.intervalMs)}; ${describeCpu(a.cpu)}`);
      log(`repetition ${repetition}/${options.repeat}: (b) raw kafkajs consumer…`);
      const b = await runRawConsumer(context, label);
      results.b.push(b);
      log(`  (b) ${fmtInt(b.rate)} events/s over ${fmtSec(b.intervalMs)}; ${describeCpu(b.cpu)}`);
      log(`repetition ${repetition}/${options.repeat}: (c) raw COPY…`);
      const c = await runRawCopy(context, payload);
      results.c.push(c);
      log(`  (c) ${fmtInt(c.rate)} events/s over ${fmtSec(c.intervalMs)}; ${describeCpu(c.cpu)}`);
    }
    await verifyCopyMatchesPlatform(context);
    log('(c) rows verified equal to the rows the platform stored');

    let profileLines: string[] = [];
    if (options.profile) {
      log('profile run: (a) once more with the app under --cpu-prof (not part of the results)…');
      await checkSources('the profile run');
      const dir = path.join(runDir, 'profile');
      mkdirSync(dir, { recursive: true });
      const profiled = await runPlatform(context, 'profile', dir);
      profileLines = [
        `(a) under the profiler: ${fmtInt(profiled.rate)} events/s over ${fmtSec(profiled.intervalMs)}; ${describeCpu(profiled.cpu)}`,
        ...summariseProfile(dir, profiled.profile?.windowUs ?? [0, Number.MAX_VALUE]),
      ];
    }

    // ------------------------------------------------------------------------------------------- report
    const rateA = median(results.a.map((r) => r.rate));
    const rateB = median(results.b.map((r) => r.rate));
    const rateC = median(results.c.map((r) => r.rate));
    const slower = Math.min(rateB, rateC);
    const ratio = rateA / slower;
    const vesselsPerEvent = context.vesselCount / options.events;
    const each = (rates: PhaseResult[]): string =>
      options.repeat > 1 ? `  [${rates.map((r) => fmtInt(r.rate)).join(', ')}]` : '';
    const row = (name: string, rate: number, interval: string, extra = ''): string =>
      `  ${name.padEnd(44)} ${fmtInt(rate).padStart(10)}  ${interval.padStart(9)}${extra}`;
    const medianInterval = (rates: PhaseResult[]): string => fmtSec(median(rates.map((r) => r.intervalMs)));
    const cpus = os.cpus();
    const lines = [
      '',
      '='.repeat(100),
      `Fieldwatch ingestion benchmark — ${fmtInt(options.events)} signed analysis events, ${options.partitions} partitions, ` +
        `${options.repeat} repetition(s)${options.repeat > 1 ? ' (medians; each run in brackets)' : ''}`,
      `command:  ${command}`,
      `machine:  ${cpus.length} CPUs (${cpus[0]?.model.trim() ?? '?'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ` +
        `load average before the run ${os
          .loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')}`,
      `software: Node ${process.version}, kafkajs 2.2.4, Kafka ${broker.version ?? '3.9.1 (version not read from the broker)'} ` +
        `(local single-node KRaft), PostgreSQL ${machine.postgres} (${machine.settings})`,
      `events:   ${fmtInt(options.events)} analyses (${vesselsPerEvent.toFixed(2)} vessels each), ` +
        `per partition ${context.eventsPerPartition.map(fmtInt).join(' / ')}; app FW_INGEST_CONCURRENCY=${options.concurrency}` +
        (options.appProcesses > 1 ? `, ${options.appProcesses} app processes` : ''),
      '',
      `  ${'phase'.padEnd(44)} ${'events/s'.padStart(10)}  ${'interval'.padStart(9)}`,
      row('pre-load (generate, sign, produce acks=-1)', loaded.rate, fmtSec(loaded.intervalMs)),
      row('(a) platform end to end', rateA, medianInterval(results.a), each(results.a)) +
        `   (${fmtInt(rateA * vesselsPerEvent)} vessel rows/s)`,
      row('(b) raw kafkajs consumer, no-op eachBatch', rateB, medianInterval(results.b), each(results.b)),
      row('(c) raw COPY into PostgreSQL (+ vessels)', rateC, medianInterval(results.c), each(results.c)),
      '',
      `  ratio a / min(b, c) = ${fmtInt(rateA)} / ${fmtInt(slower)} = ${ratio.toFixed(2)}  (target ≥ 0.50)  ` +
        (ratio >= 0.5 ? 'OK' : 'BELOW TARGET'),
      ...noiseWarning([...results.a, ...results.b, ...results.c]),
      ...warnings.map((warning) => `  WARNING: ${warning}`),
      '',
      'What is measured:',
      '  (a) src/main.ts started cold (FW_PROCESS_ROLE=all, fresh consumer group, empty tables) on the full topic;',
      `      interval = first poll (every ${POLL_MS} ms) of ingestion_partition_progress that shows any received`,
      '      → first poll with sum(received) = N; rate = events committed inside the interval / interval',
      '      (the first committed batches and the app start-up lie before it and are excluded, events and time).',
      "  (b) kafkajs consumer with the app's fetch settings and partition concurrency on the same topics; interval =",
      "      first batch delivered → batch completing N; its first batch's events excluded likewise.",
      '  (c) two COPY FROM STDIN (analyses, then vessels) into LIKE-copies of the tables without keys or indexes,',
      `      ~${COPY_LINES_PER_CHUNK}-line chunks of the platform's own COPY text, one connection; rate = analyses rows / time of both COPYs.`,
      '  CPU: average cores busy per process group over each interval, from /proc (app = the app child, all threads).',
      '',
      'Details per run:',
      ...results.a.flatMap((r, i) => [
        `  (a) #${i + 1}: ${describeCpu(r.cpu)}`,
        ...r.notes.map((n) => `        ${n}`),
      ]),
      ...results.b.flatMap((r, i) => [
        `  (b) #${i + 1}: ${describeCpu(r.cpu)}`,
        ...r.notes.map((n) => `        ${n}`),
      ]),
      ...results.c.flatMap((r, i) => [
        `  (c) #${i + 1}: ${describeCpu(r.cpu)}`,
        // The same payload every time: its description once.
        ...(i === 0 ? r.notes.map((n) => `        ${n}`) : []),
      ]),
      ...(profileLines.length > 0 ? ['', ...profileLines] : []),
      '='.repeat(100),
    ];
    console.log(lines.join('\n'));
    if (options.keep) log(`kept: database ${DATABASE_NAME}, topics ${prefix}*, run dir ${runDir}`);
    else if (keepRunDir) log(`kept the run directory ${runDir} (app logs, CPU profile)`);
    return 0;
  } catch (error) {
    keepRunDir = true;
    // An interruption makes the phase in progress fail (its app was stopped): that is not worth reporting.
    if (interrupted) return 130;
    const kind = error instanceof CorrectnessError ? 'CORRECTNESS FAILURE' : 'ERROR';
    console.error(`\n${kind}: ${errorText(error)}\n(app logs kept in ${runDir})`);
    return 1;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await cleanup(context, options, keepRunDir);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`bench-ingest: ${errorText(error)}`);
    process.exit(1);
  },
);
