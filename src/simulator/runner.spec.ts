import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { isSignatureValid, SIGNATURE_HEADER } from '../kafka/signature';
import { parseSimulatorArgs } from './options';
import type { OutboundRecord, RecordSink } from './publisher';
import { buildSimulation, runSimulator } from './runner';
import { SimulatorStateStore, stateKeyFor } from './state';

class MemorySink implements RecordSink {
  readonly records: OutboundRecord[] = [];
  batches = 0;
  closed = false;
  constructor(private readonly onBatch?: () => void) {}
  send(records: readonly OutboundRecord[]): Promise<void> {
    this.records.push(...records);
    this.batches++;
    this.onBatch?.();
    return Promise.resolve();
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

const NOW = Date.parse('2026-06-01T00:00:00Z');

describe('runSimulator', () => {
  let directory: string;
  beforeEach(() => (directory = mkdtempSync(path.join(tmpdir(), 'fw-run-'))));
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  const argv = (extra: string[]) => [
    '--seed',
    'runner',
    '--months',
    '1',
    '--sites',
    '3',
    '--as-fast-as-possible',
    '--quiet',
    '--state-file',
    path.join(directory, 'state.json'),
    ...extra,
  ];

  /** A state file holding secrets for the 3-site fleet, as a previous registering run would leave it. */
  function seedState(apiKey: string): void {
    const options = parseSimulatorArgs(argv([]), {}, NOW);
    const { fleet } = buildSimulation(options);
    const store = new SimulatorStateStore(options.stateFile);
    const entry = store.entry(stateKeyFor(options.apiUrl, { apiKey }), {
      apiUrl: options.apiUrl,
      manufacturerId: null,
      manufacturerName: null,
      apiKey: null,
      apiKeyFingerprint: 'f',
    });
    for (const device of fleet.devices) entry.devices[device.deviceId] = `dev-${device.deviceId}`;
    for (const site of fleet.sites) entry.dataSources[site.dataSourceId] = `src-${site.dataSourceId}`;
    store.touch(entry);
  }

  const io = (sink: RecordSink, stop = new AbortController().signal) => ({
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    stderrIsTty: false,
    sink,
    stop,
  });

  it('publishes signed records in batches with --no-register and summarises exactly what it sent', async () => {
    seedState('fwk_x');
    const options = parseSimulatorArgs(
      argv(['--no-register', '--batch-size', '100', '--duplicate-rate', '0.01', '--forged-rate', '0.01']),
      {},
      NOW,
    );
    const sink = new MemorySink();
    const { summary, interrupted } = await runSimulator(options, io(sink));
    expect(interrupted).toBe(false);
    expect(sink.closed).toBe(true);
    expect(sink.records.length).toBe(summary.messages);
    expect(sink.batches).toBeGreaterThanOrEqual(Math.ceil(sink.records.length / 100));
    const topics = summary.topics as Record<string, { messages: number }>;
    expect(Object.keys(topics)).toEqual([
      'fieldwatch.analyses.v1',
      'fieldwatch.outcomes.v1',
      'fieldwatch.device-events.v1',
    ]);
    for (const [topic, counts] of Object.entries(topics)) {
      expect(sink.records.filter((r) => r.topic === topic).length).toBe(counts.messages);
    }
    const genuine = sink.records.filter((r) => r.injected === null);
    const unsigned = genuine.filter((r) => {
      const event = JSON.parse(r.message.value.toString('utf8')) as { deviceId?: string; sourceId?: string };
      const secret = event.sourceId ? `src-${event.sourceId}` : `dev-${event.deviceId}`;
      return !isSignatureValid(secret, r.message.value, r.message.headers[SIGNATURE_HEADER]);
    });
    expect(unsigned).toEqual([]);
    expect(summary).toMatchObject({ seed: 'runner', dryRun: false, interrupted: false, registration: null });
  });

  it('stops cleanly when interrupted, flushing what was generated', async () => {
    seedState('fwk_x');
    const options = parseSimulatorArgs(argv(['--no-register', '--batch-size', '50']), {}, NOW);
    const stop = new AbortController();
    const sink = new MemorySink(() => {
      if (sink.batches === 3) stop.abort();
    });
    const { summary, interrupted } = await runSimulator(options, io(sink, stop.signal));
    expect(interrupted).toBe(true);
    expect(sink.closed).toBe(true);
    expect(sink.records.length).toBe(summary.messages);
    expect(sink.records.length).toBeLessThan(500);
    expect(Date.parse(summary.simulatedUntil as string)).toBeLessThan(Date.parse(summary.end as string));
  });

  it('writes NDJSON envelopes with --dry-run, without API or state', async () => {
    const options = parseSimulatorArgs(argv(['--dry-run', '--malformed-rate', '0.02']), {}, NOW);
    const stdout = new PassThrough();
    let text = '';
    stdout.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    const { summary } = await runSimulator(options, {
      stdout,
      stderr: new PassThrough(),
      stderrIsTty: false,
      stop: new AbortController().signal,
    });
    const lines = text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.length).toBe(summary.messages);
    expect(String(lines[0].topic)).toMatch(/^fieldwatch\./);
    expect(typeof lines[0].key).toBe('string');
    expect(lines[0].headers).toHaveProperty('x-fw-signature');
    expect(lines[0].injected).toBeNull();
    expect(
      lines.filter((l) => l.injected === 'malformed').every((l) => typeof l.valueText === 'string'),
    ).toBe(true);
    expect(lines.filter((l) => l.injected === null).every((l) => typeof l.value === 'object')).toBe(true);
  });
});
