/**
 * The fleet simulator's public surface (DESIGN.md §8): the CLI lives in src/cli/simulate.ts; benchmarks and tests
 * import from here.
 *
 * Pre-loading N signed analysis events for a benchmark (no per-event round trips; ≈ 90,000 events/s generated and
 * signed on one core):
 *
 *   import { analysisFleet, generateSignedAnalysisMessages, registerFleet, SimulatorStateStore } from '../src/simulator';
 *   const options = { seed: 'bench', count: 1_000_000, start: Date.parse('2025-01-01'), end: Date.parse('2026-01-01') };
 *   const fleet = analysisFleet(options);                                  // the devices the events come from
 *   const { secrets } = await registerFleet(fleet, new SimulatorStateStore(path).load(), { apiUrl, apiKey, rotateSecrets: false, log });
 *   let batch = [];
 *   for (const record of generateSignedAnalysisMessages(options, secrets.devices)) {
 *     batch.push({ key: record.key, value: record.value, headers: record.headers });
 *     if (batch.length === 1000) { await producer.send({ topic: topics.analyses, messages: batch }); batch = []; }
 *   }
 */
export { vesselAgreement, type VesselAgreement } from './calibration';
export * from './contracts';
export { encodeOutbound, encodeSignedMessage, type SenderSecrets, type WireMessage } from './encoding';
export {
  DAY_MS,
  DEVICE_EVENT_RATES,
  FleetSimulation,
  type SimulationOptions,
  type StreamName,
} from './engine';
export { NO_FAULTS, type FaultRates } from './faults';
export {
  Fleet,
  NO_INJECTIONS,
  SCANNERS,
  type DriftInjections,
  type SiteProfile,
  type DeviceProfile,
} from './fleet';
export type { DeviceUpdate, InjectedKind, OutboundMessage, SimulationItem } from './messages';
export { DEFAULT_MODEL, resolveModel, type CtFfrModelParameters, type ModelOverrides } from './model';
export { parseSimulatorArgs, HELP_TEXT, type SimulatorCliOptions } from './options';
export {
  analysisFleet,
  generateAnalysisEvents,
  generateSignedAnalysisMessages,
  type AnalysisEventOptions,
} from './preload';
export { Random } from './random';
export {
  registerFleet,
  secretsFromState,
  SIMULATED_MANUFACTURER_NAME,
  SIMULATED_PRODUCT,
} from './registration';
export { buildSimulation, runSimulator } from './runner';
export { SimulatorStateStore } from './state';
export { SummaryCounter } from './summary';
export {
  AccuracyTruthCollector,
  beggGreenesLimit,
  plannedVerificationProbability,
  sensitivityOf,
  specificityOf,
  twoByTwo,
  type AnalysedVesselTruth,
  type TwoByTwo,
} from './truth';
