/**
 * Building blocks for benchmarks that pre-load a topic with many signed analysis events (≥ 1,000,000) without Kafka
 * round-trips per event: a count-driven generator of contract-valid analyses and a signed-record generator on top.
 *
 *   const fleet = analysisFleet({ seed: 'bench', count: 1_000_000, start, end });
 *   // register fleet.devices (or read secrets from the simulator state file), then:
 *   for (const record of generateSignedAnalysisMessages({ seed: 'bench', count: 1_000_000, start, end }, secrets)) …
 */
import type { AnalysisEvent } from './contracts';
import { encodeSignedMessage, type WireMessage } from './encoding';
import { DAY_MS, FleetSimulation } from './engine';
import type { DriftInjections, Fleet } from './fleet';
import type { ModelOverrides } from './model';

export interface AnalysisEventOptions {
  seed: string | number;
  /** Number of analysis events to produce. */
  count: number;
  /** Period the events are spread over; default the 365 days before now. Pass both for byte-reproducible output. */
  start?: number;
  end?: number;
  /** Sites (default 10); more sites spread the load over more device keys, hence more partitions. */
  siteCount?: number;
  model?: ModelOverrides;
  injections?: Partial<DriftInjections>;
}

/** The fleet's expected analyses a day, with headroom so the period never runs out before `count`. */
function volumeScaleFor(options: AnalysisEventOptions, simulationDays: number, fleet: Fleet): number {
  const wanted = options.count * 1.15 + 50;
  return wanted / (fleet.expectedPatientsPerDay() * simulationDays);
}

function resolvePeriod(options: AnalysisEventOptions): { start: number; end: number } {
  const end = options.end ?? Math.floor(Date.now() / 60_000) * 60_000;
  const start = options.start ?? end - 365 * DAY_MS;
  return { start, end };
}

function simulationFor(options: AnalysisEventOptions): FleetSimulation {
  if (!(Number.isInteger(options.count) && options.count >= 0))
    throw new RangeError('count must be a non-negative integer');
  const { start, end } = resolvePeriod(options);
  const base = {
    seed: options.seed,
    start,
    end,
    siteCount: options.siteCount,
    model: options.model,
    injections: options.injections,
  };
  const probe = new FleetSimulation({ ...base, heartbeatMinutes: 0 });
  return new FleetSimulation({
    ...base,
    volumeScale: volumeScaleFor(options, (end - start) / DAY_MS, probe.fleet),
    heartbeatMinutes: 0,
    streams: { analyses: true, outcomes: false, deviceEvents: false },
  });
}

/** The fleet `generateAnalysisEvents(options)` draws from: register its devices before publishing. */
export function analysisFleet(options: AnalysisEventOptions): Fleet {
  return simulationFor(options).fleet;
}

/**
 * Exactly `count` contract-valid analysis events (completed, rejected and failed in their natural proportions), in
 * time order, deterministic given the seed and the period.
 */
export function* generateAnalysisEvents(options: AnalysisEventOptions): Generator<AnalysisEvent> {
  if (options.count === 0) return;
  let produced = 0;
  for (const item of simulationFor(options).items()) {
    if (item.type !== 'message' || item.message.body.kind !== 'event') continue;
    const event = item.message.body.event;
    if (event.schema !== 'fieldwatch.analysis/1') continue;
    yield event;
    if (++produced >= options.count) return;
  }
  // With 15% headroom on a Poisson total this cannot happen for any count ≥ 1; fail loudly rather than under-deliver.
  throw new Error(`generated only ${produced} of ${options.count} analysis events`);
}

/** `generateAnalysisEvents` as signed Kafka records, each signed with its device's secret. */
export function* generateSignedAnalysisMessages(
  options: AnalysisEventOptions,
  deviceSecrets: ReadonlyMap<string, string>,
): Generator<WireMessage> {
  for (const event of generateAnalysisEvents(options)) {
    const secret = deviceSecrets.get(event.deviceId);
    if (secret === undefined) throw new Error(`no signing secret for device ${event.deviceId}`);
    yield encodeSignedMessage(event, secret);
  }
}
