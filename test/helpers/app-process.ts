import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { pollUntil } from './poll';

/**
 * The application as a real separate process (src/main.ts), for tests that must kill it the way an
 * operating system would (SIGKILL: no shutdown hooks, no flush, a transaction cut mid-way).
 */
export class AppProcess {
  private child: ChildProcess | null = null;
  private output = '';

  constructor(
    private readonly environment: Record<string, string>,
    readonly port: number,
  ) {}

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * `timeoutMs`: how long the process may take to answer /health/live. Start-up includes joining the consumer group,
   * which waits for a rebalance when other instances are consuming (they finish their batches in flight first).
   */
  async start({ timeoutMs = 90_000 }: { timeoutMs?: number } = {}): Promise<void> {
    const root = join(__dirname, '..', '..');
    this.output = '';
    this.child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/main.ts'], {
      cwd: root,
      env: {
        ...process.env,
        FW_PROCESS_ROLE: 'all',
        ...this.environment,
        PORT: String(this.port),
        TS_NODE_PROJECT: join(root, 'tsconfig.json'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const capture = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString('utf8')).slice(-20_000);
    };
    this.child.stdout?.on('data', capture);
    this.child.stderr?.on('data', capture);
    await pollUntil(
      async () => {
        if (this.child?.exitCode !== null) throw new Error(`app exited during start:\n${this.output}`);
        return fetch(`${this.baseUrl}/health/live`)
          .then((r) => r.ok)
          .catch(() => false);
      },
      (ready) => ready,
      { timeoutMs, intervalMs: 250, what: 'the app process to answer /health/live' },
    );
  }

  /** SIGKILL, as a crash or the OOM killer would. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    this.child = null;
  }

  /** SIGTERM: the graceful path (shutdown hooks finish the batch in flight). */
  async stop(): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    const code = await exited;
    this.child = null;
    return code;
  }

  /** True while the process started last is alive (false once it exited by itself, was killed or stopped). */
  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get log(): string {
    return this.output;
  }
}
