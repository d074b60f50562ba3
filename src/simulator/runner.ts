/**
 * One simulator run: build the scenario, obtain signing secrets (register, state file, or dry-run placeholders), then
 * publish in simulated-time order paced to the wall clock, with a progress bar on stderr, graceful Ctrl-C and a
 * summary JSON at the end.
 */
import type { Writable } from 'node:stream';
import { SingleBar } from 'cli-progress';
import { topicsFor, type Topics } from '../kafka/topics';
import { encodeOutbound, type SenderSecrets } from './encoding';
import { FleetSimulation, type SimulationOptions } from './engine';
import { TRUE_FFR_DISTRIBUTIONS, VESSEL_MIXES } from './model';
import type { SimulatorCliOptions } from './options';
import { KafkaSink, NdjsonSink, type OutboundRecord, type RecordSink } from './publisher';
import {
  dryRunSecrets,
  patchDevice,
  registerFleet,
  secretsFromState,
  type FetchLike,
  type FieldwatchApi,
  type RegistrationResult,
} from './registration';
import { SimulatorStateStore } from './state';
import { SummaryCounter } from './summary';

export interface RunnerIo {
  stdout: Writable;
  stderr: Writable;
  /** Progress bar only on an interactive terminal. */
  stderrIsTty: boolean;
  fetch?: FetchLike;
  /** Replaces Kafka (tests); defaults to KafkaSink / NdjsonSink. */
  sink?: RecordSink;
  /** Aborted on Ctrl-C: stop generating, flush what is pending, print the summary. */
  stop: AbortSignal;
}

export interface RunResult {
  summary: Record<string, unknown>;
  interrupted: boolean;
}

/** Pending records are flushed when the next message is due this far (ms) in the future. */
const FLUSH_BEFORE_WAIT_MS = 15;

/**
 * The scenario the CLI options describe. `extra.withTruth` attaches the latent truth to analysis messages (never
 * published): since the output is a pure function of the seed and the options, a test can rebuild the very run it
 * published this way and read what only the simulator knows (truth.ts).
 */
export function buildSimulation(
  options: SimulatorCliOptions,
  extra: Pick<SimulationOptions, 'withTruth'> = {},
): FleetSimulation {
  return new FleetSimulation({
    ...extra,
    seed: options.seed,
    start: options.start,
    end: options.end,
    siteCount: options.sites,
    codePrefix: options.codePrefix,
    volumeScale: options.volumeScale,
    heartbeatMinutes: options.heartbeatMinutes,
    deviceFaultScale: options.deviceFaultScale,
    model: {
      vesselsPerPatient: VESSEL_MIXES[options.vesselMix],
      trueFfr: { ...TRUE_FFR_DISTRIBUTIONS[options.ffrDistribution] },
      error: { errors: options.heavyTails ? 'student-t4' : 'normal' },
      ...(options.referralIfNegative === undefined
        ? {}
        : { referral: { probabilityIfNegative: options.referralIfNegative } }),
    },
    injections: options.injections,
    faults: options.faults,
    streams: options.streams,
  });
}

function interruptibleSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export async function runSimulator(options: SimulatorCliOptions, io: RunnerIo): Promise<RunResult> {
  const log = (line: string): void => void io.stderr.write(line.endsWith('\n') ? line : `${line}\n`);
  const simulation = buildSimulation(options);
  if (options.end > Date.now()) {
    log(
      `warning: the period ends ${new Date(options.end).toISOString()}, in the future; later events carry future timestamps`,
    );
  }
  const { fleet } = simulation;
  const topics: Topics = topicsFor(options.topicPrefix);
  const store = new SimulatorStateStore(options.stateFile).load();

  let secrets: SenderSecrets;
  let api: FieldwatchApi | null = null;
  let registration: RegistrationResult | null = null;
  if (options.dryRun) {
    secrets = dryRunSecrets(fleet, store, options.apiUrl, options.apiKey);
  } else if (!options.register) {
    secrets = secretsFromState(fleet, store, options.apiUrl, options.apiKey);
  } else {
    registration = await registerFleet(fleet, store, {
      apiUrl: options.apiUrl,
      apiKey: options.apiKey,
      bootstrapAdminToken: options.bootstrapAdminToken,
      rotateSecrets: options.rotateSecrets,
      fetch: io.fetch,
      log,
    });
    secrets = registration.secrets;
    api = registration.api;
    const { created, reused, rotated, patched } = registration.actions;
    log(
      `registration: ${created.length} created, ${reused} reused, ${rotated.length} secrets rotated, ${patched.length} devices re-versioned`,
    );
  }

  const sink =
    io.sink ??
    (options.dryRun
      ? new NdjsonSink(io.stdout)
      : await KafkaSink.connect(
          options.brokers,
          [topics.analyses, topics.outcomes, topics.deviceEvents],
          log,
        ));

  const counter = new SummaryCounter();
  const showProgress = io.stderrIsTty && !options.quiet;
  const bar = showProgress
    ? new SingleBar({
        stream: io.stderr,
        format:
          'simulating [{bar}] {percentage}% | {simDate} | {messages} msgs | analyses {analyses} | outcomes {outcomes} | device {device} | bad {bad}',
        hideCursor: true,
        clearOnComplete: false,
        fps: 5,
      })
    : null;
  const span = options.end - options.start;
  bar?.start(1000, 0, {
    simDate: isoDay(options.start),
    messages: 0,
    analyses: 0,
    outcomes: 0,
    device: 0,
    bad: 0,
  });
  const updateBar = (at: number): void => {
    if (!bar) return;
    const injected = Object.values(counter.counts.injected).reduce((sum, n) => sum + n, 0);
    bar.update(Math.min(1000, Math.floor(((at - options.start) / span) * 1000)), {
      simDate: isoDay(at),
      messages: counter.totalMessages,
      analyses: counter.counts.analyses,
      outcomes: counter.counts.invasiveFfr + counter.counts.clinicalEvents,
      device: counter.counts.deviceEvents,
      bad: injected,
    });
  };

  const wallStart = performance.now();
  const pending: OutboundRecord[] = [];
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const batch = pending.splice(0, pending.length);
    await sink.send(batch);
  };
  const updateFailures: string[] = [];
  let lastAt = options.start;
  let sinceBarUpdate = 0;
  const topicName = {
    analyses: topics.analyses,
    outcomes: topics.outcomes,
    deviceEvents: topics.deviceEvents,
  };

  try {
    for (const item of simulation.items()) {
      if (io.stop.aborted) break;
      const at = item.type === 'message' ? item.message.at : item.update.at;
      if (options.pacing.mode === 'wall-clock') {
        const dueIn = wallStart + (at - options.start) / options.pacing.speed - performance.now();
        if (dueIn > FLUSH_BEFORE_WAIT_MS) {
          await flush();
          updateBar(lastAt);
          await interruptibleSleep(dueIn, io.stop);
          if (io.stop.aborted) break;
        }
      }
      lastAt = at;
      if (item.type === 'device-update') {
        counter.recordDeviceUpdate();
        if (api) {
          // Messages produced before the change go out first, then the registry learns of it.
          await flush();
          try {
            await patchDevice(api, item.update.deviceId, item.update.fields);
          } catch (error) {
            updateFailures.push(
              `${item.update.deviceId}: ${error instanceof Error ? error.message : String(error)}`,
            );
          }
        }
        continue;
      }
      const { message } = item;
      pending.push({
        topic: topicName[message.topic],
        message: encodeOutbound(message, secrets),
        injected: message.injected,
      });
      counter.record(message);
      if (pending.length >= options.batchSize) await flush();
      if (++sinceBarUpdate >= 500) {
        sinceBarUpdate = 0;
        updateBar(at);
      }
    }
    await flush();
  } finally {
    updateBar(io.stop.aborted ? lastAt : options.end);
    bar?.stop();
    await sink.close();
  }

  const interrupted = io.stop.aborted;
  if (updateFailures.length > 0)
    log(`device updates not recorded in the registry: ${updateFailures.join('; ')}`);
  const wallSeconds = (performance.now() - wallStart) / 1000;
  const summary = {
    seed: options.seed,
    start: new Date(options.start).toISOString(),
    end: new Date(options.end).toISOString(),
    simulatedUntil: new Date(interrupted ? lastAt : options.end).toISOString(),
    interrupted,
    dryRun: options.dryRun,
    sites: fleet.sites.map((site) => site.siteId),
    devices: fleet.devices.length,
    modelVersions: fleet.releases.map((release) => ({
      version: release.version,
      softwareVersion: release.softwareVersion,
      releasedAt: new Date(release.releasedAt).toISOString(),
      injected: release.injected,
    })),
    injections: {
      siteBiases: options.injections.siteBiases.map((i) => ({ ...i, from: new Date(i.from).toISOString() })),
      heartRateShifts: options.injections.heartRateShifts.map((i) => ({
        ...i,
        from: new Date(i.from).toISOString(),
      })),
      scannerChanges: options.injections.scannerChanges.map((i) => ({
        ...i,
        from: new Date(i.from).toISOString(),
      })),
      badModels: options.injections.badModels.map((i) => ({ ...i, from: new Date(i.from).toISOString() })),
    },
    faultRates: options.faults,
    ...counter.toJSON(topicName),
    registration: registration
      ? {
          productId: registration.productId,
          manufacturerId: registration.manufacturerId,
          created: registration.actions.created.length,
          reused: registration.actions.reused,
          rotatedSecrets: registration.actions.rotated,
        }
      : null,
    wallSeconds: Math.round(wallSeconds * 10) / 10,
    messagesPerSecond: wallSeconds > 0 ? Math.round(counter.totalMessages / wallSeconds) : null,
  };
  return { summary, interrupted };
}

function isoDay(at: number): string {
  return new Date(at).toISOString().slice(0, 16).replace('T', ' ');
}
