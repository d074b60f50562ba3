/**
 * Candidate detection (issue 5 §1) as rules held in data: one row per rule with its rationale and legal source, the
 * seriousness it proposes, the IMDRF codes it suggests, and its parameters (defaults here; a product may override them
 * in `vigilance_methods.detection`, see DetectionParameters). The service (detection.service.ts) runs the queries; the
 * decisions — what is a false negative, when is it escalated, when is a rate a burst — are the pure functions below, so
 * they are unit-tested without a database.
 *
 * Every rule produces a *candidate*: triage (quality) decides reportability. Awareness date = the detection date: the
 * manufacturer "becomes aware" (MDR Art. 87(3)–(5); MDCG 2023-3 Q14) when information in its possession reasonably
 * suggests an incident — for data-driven findings, when its surveillance system reveals them, not when the clinical
 * event happened or the message arrived. Running the rules promptly (the schedule) keeps that date close to arrival.
 */
import type { Seriousness } from './reporting-clock-rules';

export type DetectionRuleId =
  | 'ctffr-false-negative'
  | 'ctffr-false-negative-serious-outcome'
  | 'ctffr-false-positive-invasive'
  | 'device-failed-analyses-rate'
  | 'device-error-burst'
  | 'device-out-of-range-output'
  | 'device-silent';

/** What the rule's subject is: the unique key of a candidate is (product, rule, subject key). */
export type DetectionSubject = 'ffr_link' | 'device_window' | 'device_silence';

export interface DetectionRule {
  readonly id: DetectionRuleId;
  readonly title: string;
  readonly subject: DetectionSubject;
  /** Seriousness proposed for the candidate (triage may change it). Escalation picks death when a death occurred. */
  readonly seriousness: Seriousness;
  /** Reporting flags proposed with it (US 21 CFR 803.50 runs for a malfunction that could cause serious harm). */
  readonly reportableMalfunction: boolean;
  /** Suggested IMDRF codes (validated against the configured table by a unit test and at detection). */
  readonly imdrf: Readonly<Record<string, readonly string[]>>;
  /** Why this is a candidate incident, with the source. */
  readonly rationale: string;
  readonly sources: readonly string[];
}

/** Clinical events that escalate a false negative (DESIGN.md §4 event names). */
export const ESCALATING_EVENTS = [
  'death',
  'cardiac_death',
  'myocardial_infarction',
  'urgent_revascularization',
] as const;
export type EscalatingEvent = (typeof ESCALATING_EVENTS)[number];

export const DETECTION_RULES: readonly DetectionRule[] = [
  {
    id: 'ctffr-false-negative',
    title: 'Missed ischaemia: CT-FFR above the threshold, linked invasive FFR at or below it',
    subject: 'ffr_link',
    seriousness: 'non_serious',
    reportableMalfunction: false,
    imdrf: { A: ['A090803'], F: ['F13', 'F04'] },
    rationale:
      'A false-negative result is an incorrect output of the device; it can lead to a missed or delayed diagnosis and ' +
      'treatment, which MDCG 2023-3 counts as indirect harm. Without a serious outcome it is a non-serious incident ' +
      'counted for trend reporting (MDR Art. 88).',
    sources: [
      'MDR Art. 2(64), Art. 87, Art. 88',
      'MDCG 2023-3 Rev.2 Q5 (indirect harm: misdiagnosis, delayed treatment)',
    ],
  },
  {
    id: 'ctffr-false-negative-serious-outcome',
    title:
      'Missed ischaemia followed by death, myocardial infarction or urgent revascularisation within the window after the CTA',
    subject: 'ffr_link',
    seriousness: 'serious_deterioration',
    reportableMalfunction: true,
    imdrf: { A: ['A090803'], F: ['F13', 'F05'] },
    rationale:
      'A false negative followed by a major adverse cardiac event may have contributed to death or a serious ' +
      'deterioration in health through delayed treatment (indirect harm): a serious-incident candidate whose MDR ' +
      'Art. 87 clock starts at awareness. Death is proposed when a death occurred (F02), else serious deterioration; ' +
      'an MI adds E061202.',
    sources: ['MDR Art. 2(65), Art. 87(1), 87(3)–(5)', 'MDCG 2023-3 Rev.2 Q5, Q14', '21 CFR 803.50'],
  },
  {
    id: 'ctffr-false-positive-invasive',
    title: 'Unnecessary invasive procedure: CT-FFR at or below the threshold, invasive FFR above it',
    subject: 'ffr_link',
    seriousness: 'non_serious',
    reportableMalfunction: false,
    imdrf: { A: ['A090804'], F: ['F13', 'F22'] },
    rationale:
      'A false-positive result sent the patient to an invasive catheterisation that the reference standard shows was ' +
      'not needed (misclassification, unexpected diagnostic intervention): a non-serious incident for trend reporting.',
    sources: ['MDR Art. 88', 'MDCG 2023-3 Rev.2 Q5'],
  },
  {
    id: 'device-failed-analyses-rate',
    title: 'Failed analyses above the limit in a window',
    subject: 'device_window',
    seriousness: 'non_serious',
    reportableMalfunction: false,
    imdrf: { A: ['A110303', 'A0907'] },
    rationale:
      'Analyses ending with a software error (status failed) leave the clinical question open and delay diagnosis; a ' +
      'rate above the expected level is a malfunction to assess.',
    sources: ['MDR Art. 2(64) (malfunction), Art. 88', 'MDCG 2023-3 Rev.2 Q5'],
  },
  {
    id: 'device-error-burst',
    title: 'Error, crash and timeout events above the limit in a window',
    subject: 'device_window',
    seriousness: 'non_serious',
    reportableMalfunction: false,
    imdrf: { A: ['A1103'] },
    rationale:
      'A burst of software errors, crashes or timeouts is a malfunction or deterioration in performance.',
    sources: ['MDR Art. 2(64), Art. 88'],
  },
  {
    id: 'device-out-of-range-output',
    title: 'Out-of-range output reported by the device',
    subject: 'device_window',
    seriousness: 'non_serious',
    reportableMalfunction: false,
    imdrf: { A: ['A0908', 'A090813'] },
    rationale:
      'The software itself reported an output outside its valid range: an incorrect result that could mislead a ' +
      'diagnosis if shown.',
    sources: ['MDR Art. 2(64), Art. 88'],
  },
  {
    id: 'device-silent',
    title: 'Silent device: no analyses, events or heartbeats for longer than the limit',
    subject: 'device_silence',
    seriousness: 'non_serious',
    reportableMalfunction: false,
    imdrf: { A: ['A1302'] },
    rationale:
      'A device that stopped reporting may have stopped working (or stopped sending its post-market data, which MDR ' +
      'Art. 83 requires the manufacturer to collect): to be assessed.',
    sources: ['MDR Art. 83, Art. 88'],
  },
];

export function detectionRule(id: DetectionRuleId): DetectionRule {
  const rule = DETECTION_RULES.find((candidate) => candidate.id === id);
  if (!rule) throw new Error(`unknown detection rule ${id}`);
  return rule;
}

/** Parameters of the rules; a product's `vigilance_methods.detection` overrides any of them. */
export interface DetectionParameters {
  /** Days after the CTA in which death / MI / urgent revascularisation escalates a false negative. */
  seriousOutcomeWindowDays: number;
  /** Width of the tumbling windows the device-rate rules count in (aligned to the Unix epoch, UTC). */
  deviceWindowHours: number;
  /** Failed analyses: a window is a candidate when failed ≥ minFailed AND failed / analyses > maxFailedRate. */
  minFailedAnalyses: number;
  maxFailedRate: number;
  /** Error + crash + timeout events in one window at or above this count. */
  maxErrorEvents: number;
  /** Out-of-range outputs in one window at or above this count (1: every one). */
  maxOutOfRangeOutputs: number;
  /** A device with no analysis, event or heartbeat for this many hours is silent. */
  silentAfterHours: number;
}

export const DEFAULT_DETECTION_PARAMETERS: DetectionParameters = {
  seriousOutcomeWindowDays: 365,
  deviceWindowHours: 24,
  minFailedAnalyses: 3,
  maxFailedRate: 0.1,
  maxErrorEvents: 10,
  maxOutOfRangeOutputs: 1,
  silentAfterHours: 72,
};

const PARAMETER_LIMITS: Record<keyof DetectionParameters, [number, number, boolean]> = {
  seriousOutcomeWindowDays: [1, 3650, true],
  deviceWindowHours: [1, 24 * 31, true],
  minFailedAnalyses: [1, 100_000, true],
  maxFailedRate: [0, 1, false],
  maxErrorEvents: [1, 100_000, true],
  maxOutOfRangeOutputs: [1, 100_000, true],
  silentAfterHours: [1, 24 * 365, true],
};

/** Merges a stored override into the defaults; problems are returned as messages (400 in the API). */
export function detectionParameters(override: unknown): {
  parameters: DetectionParameters;
  problems: string[];
} {
  const parameters: DetectionParameters = { ...DEFAULT_DETECTION_PARAMETERS };
  const problems: string[] = [];
  if (override === undefined || override === null) return { parameters, problems };
  if (typeof override !== 'object' || Array.isArray(override)) {
    return { parameters, problems: ['detection must be an object'] };
  }
  for (const [key, value] of Object.entries(override as Record<string, unknown>)) {
    if (!(key in PARAMETER_LIMITS)) {
      problems.push(`detection.${key} is not a detection parameter`);
      continue;
    }
    const [low, high, integer] = PARAMETER_LIMITS[key as keyof DetectionParameters];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < low || value > high) {
      problems.push(`detection.${key} must be a number in [${low}, ${high}]`);
    } else if (integer && !Number.isInteger(value)) {
      problems.push(`detection.${key} must be an integer`);
    } else {
      parameters[key as keyof DetectionParameters] = value;
    }
  }
  return { parameters, problems };
}

// ── decisions ─────────────────────────────────────────────────────────────────────────────────

/** A vessel is positive when its value is ≤ threshold, for CT-FFR and invasive FFR alike (DESIGN.md §5). */
export type PairClass = 'tp' | 'fp' | 'tn' | 'fn';

export function classifyPair(ctFfr: number, invasiveFfr: number, threshold: number): PairClass {
  const ctPositive = ctFfr <= threshold;
  const reference = invasiveFfr <= threshold;
  if (ctPositive) return reference ? 'tp' : 'fp';
  return reference ? 'fn' : 'tn';
}

export interface ClinicalEventRef {
  readonly outcomeEventId: string;
  readonly event: string;
  readonly occurredAt: string;
}

/**
 * The escalating events of a false negative: death, cardiac death, MI or urgent revascularisation occurring after the
 * CTA and at most `windowDays` after it. Seriousness: death when any is a death, else serious deterioration.
 */
export function escalation(
  analysisAt: string,
  events: readonly ClinicalEventRef[],
  windowDays: number,
): { seriousness: Seriousness; events: ClinicalEventRef[] } | null {
  const start = Date.parse(analysisAt);
  // Registries date events to the day (the simulator moves a same-day event to the next midnight): an event dated on
  // the CTA's own day counts.
  const startOfDay = Math.floor(start / 86_400_000) * 86_400_000;
  const end = start + windowDays * 86_400_000;
  const inWindow = events.filter((event) => {
    const at = Date.parse(event.occurredAt);
    return (ESCALATING_EVENTS as readonly string[]).includes(event.event) && at >= startOfDay && at <= end;
  });
  if (inWindow.length === 0) return null;
  const death = inWindow.some((event) => event.event === 'death' || event.event === 'cardiac_death');
  return { seriousness: death ? 'death' : 'serious_deterioration', events: inWindow };
}

/** The suggested IMDRF codes for a false negative escalated by these events. */
export function escalatedImdrf(events: readonly ClinicalEventRef[]): Record<string, string[]> {
  const base = detectionRule('ctffr-false-negative-serious-outcome').imdrf;
  const codes: Record<string, string[]> = Object.fromEntries(
    Object.entries(base).map(([annex, list]) => [annex, [...list]]),
  );
  if (events.some((event) => event.event === 'death' || event.event === 'cardiac_death')) codes.F.push('F02');
  if (events.some((event) => event.event === 'myocardial_infarction')) codes.E = ['E061202'];
  return codes;
}

/** Start of the tumbling window holding `at` (windows aligned to the Unix epoch, UTC). */
export function windowStart(at: number, windowHours: number): number {
  const width = windowHours * 3_600_000;
  return Math.floor(at / width) * width;
}

/** A device window's key: stable across runs, so a re-run finds the candidate it made. */
export function deviceWindowKey(deviceCode: string, start: number, windowHours: number): string {
  return `${deviceCode}@${new Date(start).toISOString()}/${windowHours}h`;
}

export function failedRateExceeded(
  failed: number,
  analyses: number,
  parameters: Pick<DetectionParameters, 'minFailedAnalyses' | 'maxFailedRate'>,
): boolean {
  return (
    analyses > 0 && failed >= parameters.minFailedAnalyses && failed / analyses > parameters.maxFailedRate
  );
}

/** Silent when the last sign of life is older than the limit at `now`. */
export function isSilent(lastSeenAt: string, now: Date, silentAfterHours: number): boolean {
  return now.getTime() - Date.parse(lastSeenAt) > silentAfterHours * 3_600_000;
}
