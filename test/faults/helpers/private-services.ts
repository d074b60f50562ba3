import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { createDataSource } from '../../../src/database/data-source';
import { pollUntil } from '../../helpers/poll';
import { freePort } from './scenario';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..', '..');

/**
 * A Kafka broker of the fault test's own (scripts/kafka-local.sh on its own ports and state directory), so
 * stopping it never touches the broker the other test files share.
 */
export class PrivateKafka {
  private constructor(
    private readonly stateDir: string,
    private readonly port: number,
    private readonly controllerPort: number,
  ) {}

  static async create(): Promise<PrivateKafka> {
    const stateDir = await mkdtemp(join(tmpdir(), 'fw-fault-kafka-'));
    return new PrivateKafka(stateDir, await freePort(), await freePort());
  }

  get brokers(): string {
    return `127.0.0.1:${this.port}`;
  }

  private script(command: 'start' | 'stop') {
    const environment: NodeJS.ProcessEnv = {
      ...process.env,
      KAFKA_LOCAL_PORT: String(this.port),
      KAFKA_LOCAL_CONTROLLER_PORT: String(this.controllerPort),
      KAFKA_LOCAL_DIR: this.stateDir,
      // Only the test's own topics (created by the test); the script's default set is not wanted here.
      KAFKA_TOPIC_PREFIX: 'fault-private.',
      KAFKA_TOPIC_PARTITIONS: '1',
    };
    delete environment.KAFKA_BROKERS;
    return run('bash', [join(ROOT, 'scripts', 'kafka-local.sh'), command], {
      env: environment,
      timeout: 180_000,
    });
  }

  /** Starts the broker (data kept across restarts: topics and committed offsets survive) and waits until it serves. */
  async start(): Promise<void> {
    await this.script('start').catch((error: Error & { stderr?: string }) => {
      throw new Error(`private Kafka did not start: ${error.message}\n${error.stderr ?? ''}`);
    });
  }

  /** SIGTERM (a controlled broker shutdown, as an operator's restart does), SIGKILL after 30 s. */
  async stop(): Promise<void> {
    await this.script('stop');
  }

  /**
   * SIGKILL, as a crash or a lost machine: no controlled shutdown, so requests in flight (fetches, offset commits,
   * dead-letter sends) fail instead of being served first. The next start recovers the logs.
   */
  async kill(): Promise<void> {
    const pid = Number((await readFile(join(this.stateDir, 'kafka.pid'), 'utf8')).trim());
    process.kill(pid, 'SIGKILL');
    await pollUntil(
      () => Promise.resolve(processGone(pid)),
      (gone) => gone,
      { timeoutMs: 60_000, intervalMs: 100, what: `broker process ${pid} to exit` },
    );
  }

  async destroy(): Promise<void> {
    await this.stop().catch(() => undefined);
    await rm(this.stateDir, { recursive: true, force: true });
  }
}

/** True once `pid` no longer runs (a zombie awaiting its parent counts as gone). */
function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] === 'Z';
  } catch {
    return true;
  }
}

/** Debian/Ubuntu layout first; PG_BINDIR overrides (e.g. `pg_config --bindir` elsewhere). */
function postgresBinaries(): string {
  const candidates = [process.env.PG_BINDIR, '/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/16/bin'];
  const found = candidates.find((dir) => dir && existsSync(join(dir, 'pg_ctl')));
  if (!found) {
    throw new Error(
      'PostgreSQL server binaries (initdb, pg_ctl) not found: set PG_BINDIR to their directory',
    );
  }
  return found;
}

/**
 * A PostgreSQL cluster of the fault test's own (initdb + pg_ctl in a temporary directory, its own port), so
 * the test can restart "the database" without touching the server everyone else uses. PostgreSQL refuses to
 * run as root: as root, the cluster runs as the `postgres` system user.
 */
export class PrivatePostgres {
  private constructor(
    private readonly baseDir: string,
    readonly port: number,
    private readonly bin: string,
  ) {}

  static async create(): Promise<PrivatePostgres> {
    const baseDir = await mkdtemp(join(tmpdir(), 'fw-fault-pg-'));
    const cluster = new PrivatePostgres(baseDir, await freePort(), postgresBinaries());
    if (process.getuid?.() === 0) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: group } = await run('id', ['-g', 'postgres']);
      await chown(baseDir, Number(stdout.trim()), Number(group.trim()));
    }
    await chmod(baseDir, 0o700);
    await cluster.as(join(cluster.bin, 'initdb'), [
      '-D',
      cluster.dataDir,
      '-A',
      'trust',
      '-U',
      'postgres',
      '--no-sync',
      '-E',
      'UTF8',
    ]);
    return cluster;
  }

  private get dataDir(): string {
    return join(this.baseDir, 'data');
  }

  private as(command: string, args: string[]) {
    const asRoot = process.getuid?.() === 0;
    return run(asRoot ? 'runuser' : command, asRoot ? ['-u', 'postgres', '--', command, ...args] : args, {
      // The postgres user may not be allowed into the checkout: run from the cluster's own directory.
      cwd: this.baseDir,
      timeout: 120_000,
    });
  }

  url(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  async start(): Promise<void> {
    const options = `-p ${this.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${this.baseDir} -c fsync=off -c max_connections=100`;
    await this.as(join(this.bin, 'pg_ctl'), [
      '-D',
      this.dataDir,
      '-o',
      options,
      '-l',
      join(this.baseDir, 'log'),
      '-w',
      'start',
    ]);
    await pollUntil(
      async () => {
        const probe = new Client({ connectionString: this.url('postgres') });
        try {
          await probe.connect();
          return true;
        } catch {
          return false;
        } finally {
          await probe.end().catch(() => undefined);
        }
      },
      (up) => up,
      { timeoutMs: 60_000, what: 'the private PostgreSQL to accept connections' },
    );
  }

  /**
   * `immediate`: the server stops at once, as in a crash or a failover (open transactions are cut off,
   * the next start replays the WAL); `fast`: a clean shutdown that aborts open transactions.
   */
  async stop(mode: 'immediate' | 'fast' = 'fast'): Promise<void> {
    await this.as(join(this.bin, 'pg_ctl'), ['-D', this.dataDir, '-m', mode, '-w', 'stop']);
  }

  /** A database with the platform's schema (the migrations, as `npm run migrate` applies them). */
  async createMigratedDatabase(name: string): Promise<string> {
    const admin = new Client({ connectionString: this.url('postgres') });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE "${name}"`);
    } finally {
      await admin.end();
    }
    const dataSource = createDataSource({ DATABASE_URL: this.url(name) });
    await dataSource.initialize();
    await dataSource.runMigrations({ transaction: 'each' });
    await dataSource.destroy();
    return this.url(name);
  }

  async destroy(): Promise<void> {
    await this.stop('immediate').catch(() => undefined);
    await rm(this.baseDir, { recursive: true, force: true });
  }
}
