import { createHash } from 'node:crypto';
import Ajv, { ErrorObject } from 'ajv';
import { canonicalJson } from '../audit/canonical';

/**
 * Drift monitors as versioned configuration (issue 4 §2–3): data, not code. A product's configuration is this JSON
 * document; PUT /api/v1/drift/monitors stores a new version (append-only, with its reason), and every evaluation and
 * alert records the version and the SHA-256 of the document's canonical JSON (RFC 8785 key order, src/audit/canonical.ts)
 * — the "configuration hash" that says exactly which thresholds produced a figure. A product without a stored
 * configuration uses DEFAULT_DRIFT_CONFIGURATION (version 0).
 *
 * What a monitor is:
 *  - `distribution` — a numeric feature (input or output) binned on the reference's deciles (10 reference quantile
 *    bins, type 7, right-closed, frozen with the reference; drift-methods.md §2 "bins independent of the current
 *    window"), tested by χ² homogeneity on the 2 × B counts (asymptotic; a permutation test replaces it when a cell's
 *    expected count is below 5), with PSI (ε = 1e-4 floor, natural log) and the Jensen–Shannon distance (natural
 *    log) reported as effect sizes. `statistic: 'rankSum'` tests the location instead (Wilcoxon–Mann–Whitney on the
 *    same bin counts, src/stats/rank-sum.ts: the efficient test for a shift of the whole distribution, such as a
 *    CT-FFR bias at one site). `statistic: 'psi' | 'jensenShannon'` makes that statistic the test instead,
 *    calibrated by permutation at the window's sizes;
 *  - `categorical` — a category mix (sex, scanner vendor), χ² homogeneity, same fallback;
 *  - `proportion` — a rate (share of vessels with CT-FFR ≤ the product's threshold, rejection rate, failure rate):
 *    pooled z-test, Fisher's exact test when an expected cell is below 5; Newcombe 95% CI of the difference;
 *  - `rate` — device error events per analysis, exact conditional Poisson test against the reference period;
 *  - `cusum` / `ewma` — the residual CT-FFR − invasive FFR (bias) or its absolute value, standardised by the
 *    reference's mean and SD (|error|: √|residual|), over labelled vessels ordered by the date of the CT
 *    angiography, designed for the chart's share of the sequential budget with the reference's estimation error
 *    accounted for (src/stats/chart-calibration.ts);
 *  - `bernoulliCusum` — discordance at the threshold (CT-FFR and invasive FFR on opposite sides), p0 from the
 *    reference, p1 = p0 + shift, on the exact integer lattice;
 *  - `locationCusum` (family `output`) — a two-sided CUSUM of the CT-FFR location on the unlabelled stream (every
 *    completed vessel, not only the labelled minority), ordered by analysis day: each vessel's Wilcoxon mid-rank score
 *    in its segment's reference distribution on the frozen bins, standardised by its exact reference SD inflated by
 *    `designEffect` (vessels clustered within analyses and days), designed like the residual charts for its share of
 *    the sequential budget with the reference's estimation error (src/stats/location-cusum.ts, chart-calibration.ts).
 *    It accumulates the evidence the rank-sum batch monitor sees only one window at a time.
 *
 * The false-alarm budget (src/stats/drift-budget.ts) is stated once: `batch.familyAlpha` is the probability that any
 * batch test of one evaluation run alarms with no drift (split over monitors × the segments actually tested, by
 * weight); `sequential.familyArl0` is the in-control ARL, in labelled vessels of the product's pooled stream, of the
 * first false signal of any chart (split over charts by hazard, then converted to each chart's own clock by its
 * segment's share of labelled vessels; a location chart's clock is its segment's completed vessels, converted by the
 * reference's vessels of the segment per pooled labelled vessel); `sequential.horizon` is the number of pooled
 * labelled vessels over which that promise is kept by charts whose baseline is estimated from a reference (expected
 * false alarms within the horizon ≤ horizon / familyArl0; src/stats/chart-calibration.ts) — re-establish the
 * reference before it runs out.
 */

export const DRIFT_CONFIG_SCHEMA = 'fieldwatch.drift-config/1';

export const SEGMENT_KINDS = ['overall', 'site', 'scannerVendor', 'modelVersion'] as const;
export type SegmentKind = (typeof SEGMENT_KINDS)[number];

export const MONITOR_FAMILIES = ['input', 'output', 'operations', 'accuracy'] as const;
export type MonitorFamily = (typeof MONITOR_FAMILIES)[number];

/** Numeric features, with the column they come from (analyses, or analysis_vessels for ctFfr). */
export const NUMERIC_FEATURES = {
  heartRate: { column: 'heart_rate_bpm', level: 'analysis', unit: 'bpm' },
  sliceThickness: { column: 'slice_thickness_mm', level: 'analysis', unit: 'mm' },
  tubeVoltage: { column: 'tube_voltage_kv', level: 'analysis', unit: 'kV' },
  agatston: { column: 'agatston_score', level: 'analysis', unit: 'Agatston units' },
  bmi: { column: 'bmi', level: 'analysis', unit: 'kg/m²' },
  age: { column: 'age_years', level: 'analysis', unit: 'years' },
  imageQuality: { column: 'image_quality_score', level: 'analysis', unit: 'score 0–1' },
  processingTime: { column: 'processing_seconds', level: 'analysis', unit: 's' },
  ctFfr: { column: 'ct_ffr', level: 'vessel', unit: 'FFR' },
} as const;
export type NumericFeature = keyof typeof NUMERIC_FEATURES;
export const NUMERIC_FEATURE_NAMES = Object.keys(NUMERIC_FEATURES) as NumericFeature[];
/** Features computed per analysis (one pass over analyses). */
export const ANALYSIS_FEATURES = NUMERIC_FEATURE_NAMES.filter(
  (f) => NUMERIC_FEATURES[f].level === 'analysis',
);

export const CATEGORICAL_FEATURES = {
  sex: { column: 'sex', values: ['F', 'M', 'X'] },
  scannerVendor: { column: 'scanner_vendor', values: null },
} as const;
export type CategoricalFeature = keyof typeof CATEGORICAL_FEATURES;

export const PROPORTION_EVENTS = ['ctFfrAtOrBelowThreshold', 'rejected', 'failed'] as const;
export type ProportionEvent = (typeof PROPORTION_EVENTS)[number];

export const DEVICE_ERROR_KINDS = ['error', 'crash', 'timeout', 'out_of_range_output'] as const;

interface MonitorBase {
  readonly id: string;
  readonly family: MonitorFamily;
  /** Segments this monitor is evaluated over (default: the configuration's `segments`). */
  readonly segments?: readonly SegmentKind[];
  /** Relative share of the budget per segment (default 1). */
  readonly weight?: number;
  readonly description?: string;
}

export interface DistributionMonitor extends MonitorBase {
  readonly kind: 'distribution';
  readonly feature: NumericFeature;
  readonly statistic?: 'chiSquare' | 'psi' | 'jensenShannon' | 'rankSum';
}
export interface CategoricalMonitor extends MonitorBase {
  readonly kind: 'categorical';
  readonly feature: CategoricalFeature;
}
export interface ProportionMonitor extends MonitorBase {
  readonly kind: 'proportion';
  readonly event: ProportionEvent;
  readonly alternative?: 'two-sided' | 'increase' | 'decrease';
}
export interface RateMonitor extends MonitorBase {
  readonly kind: 'rate';
  readonly event: 'deviceErrors';
  readonly deviceEventKinds?: readonly (typeof DEVICE_ERROR_KINDS)[number][];
}
export interface CusumMonitor extends MonitorBase {
  readonly kind: 'cusum';
  readonly quantity: 'residual' | 'absoluteError';
  /** Reference value in reference-SD units (k = δ/2 for a shift δ to detect fastest). */
  readonly k: number;
  readonly sided: 'two' | 'upper' | 'lower';
}
export interface EwmaMonitor extends MonitorBase {
  readonly kind: 'ewma';
  readonly quantity: 'residual' | 'absoluteError';
  readonly lambda: number;
}
export interface LocationCusumMonitor extends MonitorBase {
  readonly kind: 'locationCusum';
  readonly feature: 'ctFfr';
  /** Reference value in SD units of the standardised score (k = δ/2 for a shift δ to detect fastest). */
  readonly k: number;
  readonly sided: 'two' | 'upper' | 'lower';
  /**
   * Variance of a day's score sum as a multiple of the independent-vessel variance (vessels of one patient and one day
   * are correlated); the same factor is applied to the reference's mean. ≥ 1.
   */
  readonly designEffect: number;
}
export interface BernoulliCusumMonitor extends MonitorBase {
  readonly kind: 'bernoulliCusum';
  readonly event: 'discordance';
  /** p1 = p0 + shift (absolute increase of the discordance rate to detect). */
  readonly shift: number;
}

export type MonitorConfig =
  | DistributionMonitor
  | CategoricalMonitor
  | ProportionMonitor
  | RateMonitor
  | CusumMonitor
  | EwmaMonitor
  | BernoulliCusumMonitor
  | LocationCusumMonitor;

export type BatchMonitor = DistributionMonitor | CategoricalMonitor | ProportionMonitor | RateMonitor;
/** Charts on the labelled stream (the accuracy family). */
export type LabelledChartMonitor = CusumMonitor | EwmaMonitor | BernoulliCusumMonitor;
/** Every sequential monitor: they share the sequential budget. */
export type ChartMonitor = LabelledChartMonitor | LocationCusumMonitor;

/** A sequential monitor (labelled chart or output location chart): its false alarms count in the sequential budget. */
export function isChartMonitor(monitor: MonitorConfig): monitor is ChartMonitor {
  return isLabelledChartMonitor(monitor) || monitor.kind === 'locationCusum';
}

/** A chart on the labelled stream (CT-FFR − invasive FFR): what late labels re-run. */
export function isLabelledChartMonitor(monitor: MonitorConfig): monitor is LabelledChartMonitor {
  return monitor.kind === 'cusum' || monitor.kind === 'ewma' || monitor.kind === 'bernoulliCusum';
}

export interface DriftConfiguration {
  readonly schema: typeof DRIFT_CONFIG_SCHEMA;
  /** The current window: the `windowDays` days before the evaluation time. */
  readonly windowDays: number;
  readonly segments: readonly SegmentKind[];
  /** Smallest current window (analyses or vessels) a batch test runs on; smallest labelled stream a chart runs on. */
  readonly minimumWindow: { readonly batch: number; readonly chart: number };
  readonly batch: {
    readonly familyAlpha: number;
    readonly split: 'bonferroni' | 'sidak';
    /** Permutations of a resampling test (raised automatically so that α·(P + 1) ≥ 5). */
    readonly permutations: number;
    readonly seed: number;
  };
  readonly sequential: {
    readonly familyArl0: number;
    readonly split: 'rate' | 'sidak';
    /**
     * Labelled vessels of the pooled stream over which the charts' contract is stated (expected false alarms within
     * it ≤ horizon / familyArl0); charts on a reference's estimated baseline are designed for it
     * (src/stats/chart-calibration.ts). Absent in configurations stored before: DEFAULT_SEQUENTIAL_HORIZON.
     */
    readonly horizon?: number;
  };
  /** An active alert's condition clears after this many consecutive evaluations without a signal. */
  readonly hysteresis: { readonly clearAfterQuietRuns: number };
  readonly monitors: readonly MonitorConfig[];
}

/** Pooled labelled vessels over which the sequential contract is stated when a configuration does not say. */
export const DEFAULT_SEQUENTIAL_HORIZON = 5000;

export function sequentialHorizon(configuration: DriftConfiguration): number {
  return configuration.sequential.horizon ?? DEFAULT_SEQUENTIAL_HORIZON;
}

/** Segment kinds of the input monitors in the built-in configuration: not model versions (see there). */
const INPUT_SEGMENTS: readonly SegmentKind[] = ['overall', 'site', 'scannerVendor'];

/** The built-in configuration (version 0): every monitor of issue 4 §2 over the four segment kinds. */
export const DEFAULT_DRIFT_CONFIGURATION: DriftConfiguration = {
  schema: DRIFT_CONFIG_SCHEMA,
  windowDays: 30,
  segments: ['overall', 'site', 'scannerVendor', 'modelVersion'],
  minimumWindow: { batch: 30, chart: 30 },
  batch: { familyAlpha: 0.01, split: 'bonferroni', permutations: 999, seed: 20261127 },
  sequential: { familyArl0: 20000, split: 'rate', horizon: DEFAULT_SEQUENTIAL_HORIZON },
  hysteresis: { clearAfterQuietRuns: 3 },
  monitors: [
    // Inputs do not depend on the model version: over version segments they follow the roll-out order of the devices
    // (which sites upgrade first), so every roll-out alarmed in the drift scenarios; inputs run over the other kinds.
    {
      id: 'input.heartRate',
      family: 'input',
      kind: 'distribution',
      feature: 'heartRate',
      segments: INPUT_SEGMENTS,
    },
    {
      id: 'input.sliceThickness',
      family: 'input',
      kind: 'distribution',
      feature: 'sliceThickness',
      segments: INPUT_SEGMENTS,
    },
    {
      id: 'input.tubeVoltage',
      family: 'input',
      kind: 'distribution',
      feature: 'tubeVoltage',
      segments: INPUT_SEGMENTS,
    },
    {
      id: 'input.agatston',
      family: 'input',
      kind: 'distribution',
      feature: 'agatston',
      segments: INPUT_SEGMENTS,
    },
    { id: 'input.bmi', family: 'input', kind: 'distribution', feature: 'bmi', segments: INPUT_SEGMENTS },
    { id: 'input.age', family: 'input', kind: 'distribution', feature: 'age', segments: INPUT_SEGMENTS },
    { id: 'input.sex', family: 'input', kind: 'categorical', feature: 'sex', segments: INPUT_SEGMENTS },
    {
      id: 'input.imageQuality',
      family: 'input',
      kind: 'distribution',
      feature: 'imageQuality',
      segments: INPUT_SEGMENTS,
    },
    {
      id: 'input.scannerVendorMix',
      family: 'input',
      kind: 'categorical',
      feature: 'scannerVendor',
      // Within one vendor's segment the mix is that vendor alone.
      segments: ['overall', 'site'],
    },
    { id: 'output.ctFfr', family: 'output', kind: 'distribution', feature: 'ctFfr' },
    {
      id: 'output.ctFfrLocation',
      family: 'output',
      kind: 'distribution',
      feature: 'ctFfr',
      statistic: 'rankSum',
      // A CT-FFR bias at one site moves the whole output distribution; the drift scenarios found it in 2 of 4 seeds at
      // an equal share of the batch budget. Ten shares (≈ 2·10⁻⁴ per test instead of 4·10⁻⁵) for the output's
      // location, the one monitor that sees such a bias without waiting for invasive FFR.
      weight: 10,
      description: 'Shift of the CT-FFR distribution (rank-sum test on the reference deciles)',
    },
    {
      id: 'output.ctFfrLocationCusum',
      family: 'output',
      kind: 'locationCusum',
      feature: 'ctFfr',
      // +0.03 CT-FFR at a site moved the mean mid-rank score by 0.18–0.27 reference SDs in the drift scenarios. k: the
      // design must also absorb the site reference's estimation error (≈ 700 vessels: SD 0.038 of the mean), which
      // makes h grow fast as k falls (k 0.1 → h ≈ 80, 0.15 → ≈ 40); 0.15 found all 8 site-bias seeds of drift:oc,
      // 0.125 the hardest one only at the last run, 0.1 (with design effect 1.25) none of three. Design effect: a day's
      // score sum varied 1.05 times the independent-vessel variance (pooled over 136 segment × control-seed streams;
      // median 1.05, 90th percentile 1.18), 1.1 with a margin — a fleet with more vessels per patient than the
      // simulator's 1.1 needs a larger one. Weight 10: the chart that sees a site's
      // output bias gets most of the sequential budget (the residual charts at a site are in effect off, README).
      k: 0.15,
      sided: 'two',
      designEffect: 1.1,
      weight: 10,
      description:
        'CUSUM of the CT-FFR location (mid-rank scores against the reference deciles) on every completed vessel, by day',
    },
    {
      id: 'output.shareAtOrBelowThreshold',
      family: 'output',
      kind: 'proportion',
      event: 'ctFfrAtOrBelowThreshold',
      alternative: 'two-sided',
    },
    {
      id: 'operations.rejectionRate',
      family: 'operations',
      kind: 'proportion',
      event: 'rejected',
      alternative: 'increase',
    },
    {
      id: 'operations.failureRate',
      family: 'operations',
      kind: 'proportion',
      event: 'failed',
      alternative: 'increase',
    },
    {
      id: 'operations.processingTime',
      family: 'operations',
      kind: 'distribution',
      feature: 'processingTime',
    },
    {
      id: 'operations.deviceErrorRate',
      family: 'operations',
      kind: 'rate',
      event: 'deviceErrors',
      deviceEventKinds: ['error', 'crash', 'timeout', 'out_of_range_output'],
    },
    {
      id: 'accuracy.biasCusum',
      family: 'accuracy',
      kind: 'cusum',
      quantity: 'residual',
      k: 0.25,
      sided: 'two',
      description: 'Two-sided CUSUM of CT-FFR − invasive FFR, tuned to a 0.5 SD shift of the bias',
    },
    {
      id: 'accuracy.biasEwma',
      family: 'accuracy',
      kind: 'ewma',
      quantity: 'residual',
      lambda: 0.1,
      description: 'EWMA (λ = 0.1) of CT-FFR − invasive FFR',
    },
    {
      id: 'accuracy.absoluteErrorCusum',
      family: 'accuracy',
      kind: 'cusum',
      quantity: 'absoluteError',
      k: 0.25,
      sided: 'upper',
      description: 'Upper CUSUM of |CT-FFR − invasive FFR|',
    },
    {
      id: 'accuracy.discordanceCusum',
      family: 'accuracy',
      kind: 'bernoulliCusum',
      event: 'discordance',
      shift: 0.1,
      description: 'Bernoulli CUSUM of discordance at the threshold, p1 = p0 + 0.10',
    },
  ],
};

const segmentsSchema = {
  type: 'array',
  items: { enum: [...SEGMENT_KINDS] },
  minItems: 1,
  uniqueItems: true,
};
const base = {
  id: { type: 'string', pattern: '^[a-z][A-Za-z0-9]*(\\.[a-z][A-Za-z0-9]*)*$', maxLength: 80 },
  family: { enum: [...MONITOR_FAMILIES] },
  segments: segmentsSchema,
  weight: { type: 'number', exclusiveMinimum: 0, maximum: 1000 },
  description: { type: 'string', maxLength: 500 },
};
const monitor = (kind: string, properties: Record<string, object>, required: string[]): object => ({
  type: 'object',
  additionalProperties: false,
  required: ['id', 'family', 'kind', ...required],
  properties: { ...base, kind: { const: kind }, ...properties },
});

/** JSON Schema of a configuration document (shown in the OpenAPI description of PUT /drift/monitors). */
export const DRIFT_CONFIGURATION_JSON_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: [
    'schema',
    'windowDays',
    'segments',
    'minimumWindow',
    'batch',
    'sequential',
    'hysteresis',
    'monitors',
  ],
  properties: {
    schema: { const: DRIFT_CONFIG_SCHEMA },
    windowDays: { type: 'integer', minimum: 1, maximum: 3660 },
    segments: segmentsSchema,
    minimumWindow: {
      type: 'object',
      additionalProperties: false,
      required: ['batch', 'chart'],
      properties: {
        batch: { type: 'integer', minimum: 5, maximum: 1000000 },
        chart: { type: 'integer', minimum: 5, maximum: 1000000 },
      },
    },
    batch: {
      type: 'object',
      additionalProperties: false,
      required: ['familyAlpha', 'split', 'permutations', 'seed'],
      properties: {
        familyAlpha: { type: 'number', exclusiveMinimum: 0, maximum: 0.5 },
        split: { enum: ['bonferroni', 'sidak'] },
        permutations: { type: 'integer', minimum: 99, maximum: 199999 },
        seed: { type: 'integer', minimum: 0, maximum: 4294967295 },
      },
    },
    sequential: {
      type: 'object',
      additionalProperties: false,
      required: ['familyArl0', 'split'],
      properties: {
        familyArl0: { type: 'number', minimum: 10, maximum: 1e9 },
        split: { enum: ['rate', 'sidak'] },
        horizon: { type: 'number', minimum: 100, maximum: 1e9 },
      },
    },
    hysteresis: {
      type: 'object',
      additionalProperties: false,
      required: ['clearAfterQuietRuns'],
      properties: { clearAfterQuietRuns: { type: 'integer', minimum: 1, maximum: 365 } },
    },
    monitors: {
      type: 'array',
      minItems: 1,
      maxItems: 100,
      items: {
        oneOf: [
          monitor(
            'distribution',
            {
              feature: { enum: NUMERIC_FEATURE_NAMES },
              statistic: { enum: ['chiSquare', 'psi', 'jensenShannon', 'rankSum'] },
            },
            ['feature'],
          ),
          monitor('categorical', { feature: { enum: Object.keys(CATEGORICAL_FEATURES) } }, ['feature']),
          monitor(
            'proportion',
            {
              event: { enum: [...PROPORTION_EVENTS] },
              alternative: { enum: ['two-sided', 'increase', 'decrease'] },
            },
            ['event'],
          ),
          monitor(
            'rate',
            {
              event: { const: 'deviceErrors' },
              deviceEventKinds: {
                type: 'array',
                items: { enum: [...DEVICE_ERROR_KINDS] },
                minItems: 1,
                uniqueItems: true,
              },
            },
            ['event'],
          ),
          monitor(
            'cusum',
            {
              quantity: { enum: ['residual', 'absoluteError'] },
              k: { type: 'number', minimum: 0, maximum: 3 },
              sided: { enum: ['two', 'upper', 'lower'] },
            },
            ['quantity', 'k', 'sided'],
          ),
          monitor(
            'ewma',
            {
              quantity: { enum: ['residual', 'absoluteError'] },
              lambda: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
            },
            ['quantity', 'lambda'],
          ),
          monitor(
            'locationCusum',
            {
              feature: { const: 'ctFfr' },
              k: { type: 'number', minimum: 0, maximum: 3 },
              sided: { enum: ['two', 'upper', 'lower'] },
              designEffect: { type: 'number', minimum: 1, maximum: 100 },
            },
            ['feature', 'k', 'sided', 'designEffect'],
          ),
          monitor(
            'bernoulliCusum',
            {
              event: { const: 'discordance' },
              shift: { type: 'number', exclusiveMinimum: 0, maximum: 0.9 },
            },
            ['event', 'shift'],
          ),
        ],
      },
    },
  },
} as const;

const validateDocument = new Ajv({ allErrors: true, strict: true, strictTypes: false }).compile(
  DRIFT_CONFIGURATION_JSON_SCHEMA,
);

function describeError(error: ErrorObject): string {
  const where = error.instancePath || '(document)';
  return `${where} ${error.message ?? 'is invalid'}`;
}

export class DriftConfigurationError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid drift configuration: ${problems.join('; ')}`);
    this.name = 'DriftConfigurationError';
  }
}

/** Validates a configuration document; throws DriftConfigurationError listing every problem. */
export function parseDriftConfiguration(document: unknown): DriftConfiguration {
  if (!validateDocument(document)) {
    const errors = validateDocument.errors ?? [];
    // oneOf reports every branch's complaint; the branch whose `kind` matched says what is wrong.
    const specific = errors.filter((e) => e.keyword !== 'oneOf' && !/\/kind$/.test(e.instancePath));
    const problems = (specific.length ? specific : errors).map(describeError);
    throw new DriftConfigurationError([...new Set(problems)].slice(0, 20));
  }
  const configuration = document as unknown as DriftConfiguration;
  const problems: string[] = [];
  const ids = new Set<string>();
  for (const m of configuration.monitors) {
    if (ids.has(m.id)) problems.push(`/monitors: duplicate monitor id ${m.id}`);
    ids.add(m.id);
    if ((m.family === 'accuracy') !== isLabelledChartMonitor(m)) {
      problems.push(
        `/monitors/${m.id}: accuracy monitors are the charts (cusum, ewma, bernoulliCusum) and only they`,
      );
    }
    if (m.kind === 'locationCusum' && m.family !== 'output') {
      problems.push(`/monitors/${m.id}: a locationCusum monitors the output (family output)`);
    }
  }
  if (problems.length) throw new DriftConfigurationError(problems);
  return configuration;
}

/** SHA-256 (hex) of the configuration's canonical JSON. */
export function configurationHash(configuration: DriftConfiguration): string {
  return createHash('sha256').update(canonicalJson(configuration), 'utf8').digest('hex');
}

/** The segments a monitor is evaluated over. */
export function monitorSegments(configuration: DriftConfiguration, m: MonitorConfig): readonly SegmentKind[] {
  return m.segments ?? configuration.segments;
}
