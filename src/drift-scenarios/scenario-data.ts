/**
 * Drift scenarios, data side: run the fleet simulator (src/simulator) in-process for a reference period followed by a
 * monitoring period, with or without one injected drift, and turn its messages into what a drift evaluation sees —
 * analyses with their covariates and segments, and labelled vessels (CT-FFR paired with the invasive FFR the cath lab
 * reported), each with the day its label arrived. Nothing here is statistics; `scenario-evaluation.ts` is.
 *
 * Linking mirrors the platform's outcome linker in the simplest defensible form: an invasive measurement belongs to the
 * patient's latest *completed* analysis at the same site, vessel and segment before the measurement.
 */
import { SCHEMAS, type AnalysisEvent, type InvasiveFfrOutcome } from '../simulator/contracts';
import { FleetSimulation, DAY_MS } from '../simulator/engine';
import { NO_INJECTIONS, type DriftInjections, type ScannerVendor } from '../simulator/fleet';

export type SegmentKind = 'overall' | 'site' | 'scannerVendor' | 'modelVersion';
export const SEGMENT_KINDS: readonly SegmentKind[] = ['overall', 'site', 'scannerVendor', 'modelVersion'];

export interface ScenarioAnalysis {
  /** Epoch ms of the CT angiography analysis. */
  readonly at: number;
  readonly day: number;
  readonly siteId: string;
  readonly scannerVendor: string;
  readonly modelVersion: string;
  readonly status: AnalysisEvent['status'];
  readonly heartRateBpm: number;
  readonly sliceThicknessMm: number;
  readonly tubeVoltageKv: number;
  readonly ctFfr: readonly number[];
  readonly segments: readonly string[];
}

export interface ScenarioLabelledVessel {
  /** Day of the CT angiography (the chart's order) and the day the invasive FFR arrived (when it can be used). */
  readonly procedureAt: number;
  readonly procedureDay: number;
  readonly labelDay: number;
  readonly ctFfr: number;
  readonly invasiveFfr: number;
  readonly segments: readonly string[];
}

export interface ScenarioData {
  readonly start: number;
  readonly referenceDays: number;
  readonly monitoringDays: number;
  readonly analyses: readonly ScenarioAnalysis[];
  readonly labelled: readonly ScenarioLabelledVessel[];
}

export type ScenarioName = 'control' | 'siteBias' | 'heartRateShift' | 'newScannerVendor' | 'badModelVersion';
export const SCENARIO_NAMES: readonly ScenarioName[] = [
  'control',
  'siteBias',
  'heartRateShift',
  'newScannerVendor',
  'badModelVersion',
];

/**
 * The four drifts of issue 4's "Done when", with the simulator's own switches (options.ts) and parameters from
 * ctffr-evidence.md: a +0.03 CT-FFR bias at one site (the issue's example; ≈0.375 residual SD, §4.3 SD 0.080); heart
 * rate +10 bpm at one site (a lapsed β-blocker protocol: one population SD, §4.4 raises the error SD above 65–70 bpm
 * and the rejection odds by OR 1.05/bpm, §3); the site's scanner replaced by a vendor the fleet has never used; and a
 * model release whose CT-FFR is 0.03 lower, rolled out to every device over 21 days.
 */
export interface ScenarioDefinition {
  readonly name: ScenarioName;
  readonly description: string;
  /** Segments where detecting this drift counts (any monitor); empty for the control. */
  readonly targets: readonly string[];
  readonly injections: (onset: number) => Partial<DriftInjections>;
}

export const SCENARIO_SITE = 'SH-RJ';
export const NEW_VENDOR: ScannerVendor = 'Neusoft';
export const BAD_MODEL_VERSION = 'ffrnet-2026.9-bad';

export const SCENARIOS: Readonly<Record<ScenarioName, ScenarioDefinition>> = {
  control: { name: 'control', description: 'no drift', targets: [], injections: () => ({}) },
  siteBias: {
    name: 'siteBias',
    description: `CT-FFR +0.03 at site ${SCENARIO_SITE}`,
    targets: [`site:${SCENARIO_SITE}`],
    injections: (onset) => ({ siteBiases: [{ siteId: SCENARIO_SITE, from: onset, bias: 0.03 }] }),
  },
  heartRateShift: {
    name: 'heartRateShift',
    description: `heart rate +10 bpm at site ${SCENARIO_SITE}`,
    targets: [`site:${SCENARIO_SITE}`],
    injections: (onset) => ({ heartRateShifts: [{ siteId: SCENARIO_SITE, from: onset, shiftBpm: 10 }] }),
  },
  newScannerVendor: {
    name: 'newScannerVendor',
    description: `site ${SCENARIO_SITE} replaces its scanner by a ${NEW_VENDOR} (a vendor new to the fleet)`,
    targets: [`site:${SCENARIO_SITE}`, `scannerVendor:${NEW_VENDOR}`],
    injections: (onset) => ({ scannerChanges: [{ siteId: SCENARIO_SITE, from: onset, vendor: NEW_VENDOR }] }),
  },
  badModelVersion: {
    name: 'badModelVersion',
    description: `model ${BAD_MODEL_VERSION} with CT-FFR −0.03, rolled out over 21 days`,
    targets: [`modelVersion:${BAD_MODEL_VERSION}`, 'overall'],
    injections: (onset) => ({ badModels: [{ version: BAD_MODEL_VERSION, from: onset, bias: -0.03 }] }),
  },
};

export interface ScenarioRunOptions {
  readonly seed: string;
  /** First simulated day (UTC midnight). */
  readonly start?: number;
  /** Reference period length (default 91 days: "the first three months"). */
  readonly referenceDays?: number;
  /** Monitoring period length (default 182 days). */
  readonly monitoringDays?: number;
  /** Drift onset, in days after the monitoring period starts (default 42). */
  readonly onsetDay?: number;
  readonly siteCount?: number;
}

export const DEFAULT_START = Date.UTC(2025, 0, 6);

function segmentsOf(siteId: string, vendor: string, version: string): string[] {
  return ['overall', `site:${siteId}`, `scannerVendor:${vendor}`, `modelVersion:${version}`];
}

/** Simulate one scenario (analyses and outcomes only; no device events or faults). */
export function simulateScenario(
  scenario: ScenarioDefinition,
  options: ScenarioRunOptions,
): ScenarioData & {
  readonly onset: number;
} {
  const start = options.start ?? DEFAULT_START;
  const referenceDays = options.referenceDays ?? 91;
  const monitoringDays = options.monitoringDays ?? 182;
  const onsetDay = options.onsetDay ?? 42;
  const onset = start + (referenceDays + onsetDay) * DAY_MS;
  const simulation = new FleetSimulation({
    seed: options.seed,
    start,
    end: start + (referenceDays + monitoringDays) * DAY_MS,
    siteCount: options.siteCount ?? 10,
    heartbeatMinutes: 0,
    streams: { analyses: true, outcomes: true, deviceEvents: false },
    injections: { ...NO_INJECTIONS, ...scenario.injections(onset) },
  });
  const analyses: ScenarioAnalysis[] = [];
  // Completed analyses' vessels by site|patient|vessel|segment, in time order (latest last).
  const vesselIndex = new Map<string, { at: number; ctFfr: number; segments: readonly string[] }[]>();
  const labelled: ScenarioLabelledVessel[] = [];
  const dayOf = (at: number): number => Math.floor((at - start) / DAY_MS);
  for (const item of simulation.items()) {
    if (item.type !== 'message' || item.message.body.kind !== 'event') continue;
    const event = item.message.body.event;
    if (event.schema === SCHEMAS.analysis) {
      const at = Date.parse(event.occurredAt);
      const segments = segmentsOf(event.siteId, event.acquisition.scannerVendor, event.modelVersion);
      analyses.push({
        at,
        day: dayOf(at),
        siteId: event.siteId,
        scannerVendor: event.acquisition.scannerVendor,
        modelVersion: event.modelVersion,
        status: event.status,
        heartRateBpm: event.acquisition.heartRateBpm,
        sliceThicknessMm: event.acquisition.sliceThicknessMm,
        tubeVoltageKv: event.acquisition.tubeVoltageKv,
        ctFfr: event.status === 'completed' ? event.vessels.map((v) => v.ctFfr) : [],
        segments,
      });
      if (event.status === 'completed') {
        for (const v of event.vessels) {
          const key = `${event.siteId}|${event.patientRef}|${v.vessel}|${v.segment}`;
          const list = vesselIndex.get(key) ?? [];
          list.push({ at, ctFfr: v.ctFfr, segments });
          vesselIndex.set(key, list);
        }
      }
    } else if (event.schema === SCHEMAS.outcome && event.type === 'invasive_ffr') {
      const outcome: InvasiveFfrOutcome = event;
      const measuredAt = Date.parse(outcome.measuredAt);
      const candidates = vesselIndex.get(
        `${outcome.siteId}|${outcome.patientRef}|${outcome.vessel}|${outcome.segment}`,
      );
      const match = candidates?.filter((c) => c.at <= measuredAt).pop();
      if (!match) continue;
      labelled.push({
        procedureAt: match.at,
        procedureDay: dayOf(match.at),
        labelDay: dayOf(item.message.at),
        ctFfr: match.ctFfr,
        invasiveFfr: outcome.value,
        segments: match.segments,
      });
    }
  }
  return { start, referenceDays, monitoringDays, analyses, labelled, onset };
}
