/**
 * Command-line options of `npm run simulate -- …` (parsed with node:util parseArgs; no dependency). Parsing is pure —
 * argv, environment and "now" come in as arguments — so it is unit-tested like the model.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { StreamName } from './engine';
import { NO_FAULTS, type FaultRates } from './faults';
import {
  parseScannerVendor,
  SCANNER_VENDORS,
  type BadModelInjection,
  type DriftInjections,
  type HeartRateShiftInjection,
  type ScannerChangeInjection,
  type SiteBiasInjection,
} from './fleet';
import {
  TRUE_FFR_DISTRIBUTIONS,
  VESSEL_MIXES,
  type TrueFfrDistributionName,
  type VesselMixName,
} from './model';

export class UsageError extends Error {}

export type Pacing = { mode: 'wall-clock'; speed: number } | { mode: 'as-fast-as-possible' };

export interface SimulatorCliOptions {
  help: boolean;
  seed: string;
  start: number;
  end: number;
  months: number;
  sites: number;
  codePrefix: string;
  volumeScale: number;
  heartbeatMinutes: number;
  deviceFaultScale: number;
  vesselMix: VesselMixName;
  ffrDistribution: TrueFfrDistributionName;
  heavyTails: boolean;
  /** P(invasive FFR | every CT-FFR of the analysis > threshold); undefined: the model's default (0.08, §4.7). */
  referralIfNegative: number | undefined;
  injections: DriftInjections;
  faults: FaultRates;
  streams: Record<StreamName, boolean>;
  pacing: Pacing;
  apiUrl: string;
  apiKey: string | undefined;
  bootstrapAdminToken: string | undefined;
  register: boolean;
  stateFile: string;
  rotateSecrets: boolean;
  dryRun: boolean;
  brokers: string[];
  topicPrefix: string;
  batchSize: number;
  quiet: boolean;
}

export const DEFAULT_API_URL = 'http://127.0.0.1:3000';
export const DEFAULT_BROKERS = '127.0.0.1:19092';
export const DEFAULT_DURATION_SECONDS = 120;
export const DEFAULT_STATE_FILE = path.join('.local', 'simulator', 'state.json');

export const HELP_TEXT = `Fieldwatch fleet simulator — realistic CT-FFR traffic for the platform (DESIGN.md §8).

Registers (or reuses) a manufacturer's product, model versions, sites, devices and cath-lab data sources through the
REST API, then publishes signed analyses, outcomes and device events to Kafka in simulated-time order. Parameters come
from ctffr-evidence.md §3–§5. Prints a summary JSON on stdout when done (or on Ctrl-C).

Usage: npm run simulate -- [options]

Scenario
  --seed TEXT               seed of every random stream; same seed + options = byte-identical events
                            (default: random, printed in the summary so the run can be repeated)
  --months N                length of the simulated period in months (default 6)
  --start DATE              first simulated day, ISO date/time (default: --months before now, so no event lies in
                            the future)
  --sites N                 number of sites, CN/DE/FR/IT/US (default 10)
  --code-prefix TEXT        prepended to every site, device and cath-lab code (codes are global across tenants: a
                            second simulated fleet under another tenant needs its own), e.g. DASH-; default none
  --volume-scale F          multiply every site's patient volume (2–12 CT-FFR analyses per weekday) (default 1)
  --heartbeat-minutes N     device heartbeat interval in simulated minutes; 0 = none (default 60)
  --device-fault-scale F    multiply device error/timeout/crash/licence/out-of-range rates (default 1)
  --vessel-mix MIX          vessels per patient: post-market (0.88/0.10/0.02, default) or trial (0.62/0.28/0.10)
  --ffr-distribution D      true FFR: wide Beta(7.6, 1.67) (default) or narrow Beta(13.6, 2.8), ctffr-evidence §4.1
  --heavy-tails             Student-t(4) CT-FFR errors instead of Gaussian (ctffr-evidence §4.3)
  --referral-if-negative P  probability that a CT-FFR-negative patient still gets an invasive FFR, in [0, 1]
                            (default 0.08; 1 = a verify-everyone protocol, which makes missed ischaemia visible)
  --streams LIST            comma list of analyses,outcomes,device-events to generate (default all)

Drift and site problems (repeatable; DATE is an ISO date or date-time)
  --site-bias SITE:DATE:BIAS        add BIAS to the site's CT-FFR from DATE (e.g. SH-RJ:2026-06-01:-0.05)
  --hr-shift SITE:DATE:BPM          shift the site's patients' heart rate from DATE (e.g. BJ-AZ:2026-04-01:+12):
                                    more rejections, larger errors
  --scanner-change SITE:DATE:VENDOR the site replaces its scanner from DATE (${SCANNER_VENDORS.join(', ')})
  --bad-model VERSION:DATE:BIAS     release model VERSION at DATE with a CT-FFR bias of BIAS, rolled out to the
                                    devices over 21 days (e.g. ffrnet-2026.2:2026-05-01:-0.04)

Bad messages (rates per genuine message, in [0, 1]; sent to the real topics so the platform's DLQ handles them)
  --malformed-rate R        invalid JSON, correctly signed                             → DLQ json_invalid
  --schema-invalid-rate R   valid JSON violating the event contract (ctFfr > 1, …)     → DLQ field_* / value_out_of_range
  --unsigned-rate R         no x-fw-signature header                                   → DLQ signature_missing
  --forged-rate R           signed with a secret the platform never issued             → DLQ signature_invalid
  --tampered-rate R         signed by the real sender, then a field changed            → DLQ signature_invalid
  --duplicate-rate R        the exact same message re-sent within 5 simulated minutes  → counted as duplicate
  --bad-burst-size N        bad messages come in bursts of N (same expected count) (default 1)

Pacing
  --duration-seconds S      spread the whole period over S wall-clock seconds (default ${DEFAULT_DURATION_SECONDS})
  --speed X                 simulated seconds per wall-clock second (e.g. 86400 = one day per second)
  --as-fast-as-possible     ignore the wall clock (default with --dry-run)

Platform
  --api-url URL             REST API base (default ${DEFAULT_API_URL})
  --api-key KEY             manufacturer API key (env FW_API_KEY). With only env FW_BOOTSTRAP_ADMIN_TOKEN, the
                            simulator creates or finds the manufacturer "Simulated CT-FFR Manufacturer" and a
                            manufacturer-role key for it
  --no-register             do not call the API; take signing secrets from the state file (benchmarks)
  --rotate-secrets          rotate every device/data-source secret even when one is stored
  --state-file PATH         where issued secrets are kept, keyed by API URL + manufacturer
                            (default ${DEFAULT_STATE_FILE}, git-ignored)
  --brokers LIST            Kafka bootstrap brokers, comma separated (env KAFKA_BROKERS, default ${DEFAULT_BROKERS})
  --topic-prefix PREFIX     topic name prefix (env KAFKA_TOPIC_PREFIX, default none)
  --batch-size N            messages per Kafka sendBatch (default 250)
  --dry-run                 print every message as NDJSON on stdout ({topic, key, headers, injected, value}) instead
                            of publishing; no API calls; the summary then goes to stderr

Output
  --quiet                   no progress bar (it is also off when stderr is not a terminal)
  -h, --help                this text
`;

const OPTION_SPEC = {
  help: { type: 'boolean', short: 'h' },
  seed: { type: 'string' },
  months: { type: 'string' },
  start: { type: 'string' },
  sites: { type: 'string' },
  'code-prefix': { type: 'string' },
  'volume-scale': { type: 'string' },
  'heartbeat-minutes': { type: 'string' },
  'device-fault-scale': { type: 'string' },
  'vessel-mix': { type: 'string' },
  'ffr-distribution': { type: 'string' },
  'heavy-tails': { type: 'boolean' },
  'referral-if-negative': { type: 'string' },
  streams: { type: 'string' },
  'site-bias': { type: 'string', multiple: true },
  'hr-shift': { type: 'string', multiple: true },
  'scanner-change': { type: 'string', multiple: true },
  'bad-model': { type: 'string', multiple: true },
  'malformed-rate': { type: 'string' },
  'schema-invalid-rate': { type: 'string' },
  'unsigned-rate': { type: 'string' },
  'forged-rate': { type: 'string' },
  'tampered-rate': { type: 'string' },
  'duplicate-rate': { type: 'string' },
  'bad-burst-size': { type: 'string' },
  'duration-seconds': { type: 'string' },
  speed: { type: 'string' },
  'as-fast-as-possible': { type: 'boolean' },
  'api-url': { type: 'string' },
  'api-key': { type: 'string' },
  'no-register': { type: 'boolean' },
  'rotate-secrets': { type: 'boolean' },
  'state-file': { type: 'string' },
  brokers: { type: 'string' },
  'topic-prefix': { type: 'string' },
  'batch-size': { type: 'string' },
  'dry-run': { type: 'boolean' },
  quiet: { type: 'boolean' },
} as const;

function parseNumber(
  text: string | undefined,
  option: string,
  fallback: number,
  check: (n: number) => boolean,
  rule: string,
): number {
  if (text === undefined) return fallback;
  const value = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(value) || !check(value))
    throw new UsageError(`--${option}: ${rule} (got "${text}")`);
  return value;
}

/** A site-code prefix: the registry's code alphabet (letters, digits, dot, dash, underscore), starting alphanumeric. */
function parseCodePrefix(text: string | undefined): string {
  if (text === undefined || text === '') return '';
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,15}$/.test(text)) {
    throw new UsageError(
      `--code-prefix: 1–16 letters, digits, dot, dash or underscore, starting alphanumeric (got "${text}")`,
    );
  }
  return text;
}

/** ISO date ("2026-06-01", midnight UTC) or date-time. */
export function parseDate(text: string, option: string): number {
  const trimmed = text.trim();
  const value = /^\d{4}-\d{2}-\d{2}$/.test(trimmed)
    ? Date.parse(`${trimmed}T00:00:00Z`)
    : Date.parse(trimmed);
  if (!/^\d{4}-\d{2}-\d{2}/.test(trimmed) || Number.isNaN(value))
    throw new UsageError(`--${option}: not an ISO date "${text}"`);
  return value;
}

/** Splits "SITE:DATE:VALUE" where DATE may itself contain colons (a date-time). */
function splitInjection(
  text: string,
  option: string,
  shape: string,
): { head: string; from: number; tail: string } {
  const first = text.indexOf(':');
  const last = text.lastIndexOf(':');
  if (first <= 0 || last <= first || last === text.length - 1)
    throw new UsageError(`--${option}: expected ${shape} (got "${text}")`);
  return {
    head: text.slice(0, first).trim(),
    from: parseDate(text.slice(first + 1, last), option),
    tail: text.slice(last + 1).trim(),
  };
}

function signedNumber(text: string, option: string): number {
  const value = Number(text);
  if (text === '' || !Number.isFinite(value)) throw new UsageError(`--${option}: "${text}" is not a number`);
  return value;
}

export function addCalendarMonths(at: number, months: number): number {
  const date = new Date(at);
  const whole = Math.trunc(months);
  date.setUTCMonth(date.getUTCMonth() + whole);
  // Fractional months (e.g. 0.5) as 30.44-day units.
  return date.getTime() + Math.round((months - whole) * 30.436875 * 86_400_000);
}

function parseStreams(text: string | undefined): Record<StreamName, boolean> {
  if (text === undefined) return { analyses: true, outcomes: true, deviceEvents: true };
  const names = text
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  const mapping: Record<string, StreamName> = {
    analyses: 'analyses',
    outcomes: 'outcomes',
    'device-events': 'deviceEvents',
  };
  const streams: Record<StreamName, boolean> = { analyses: false, outcomes: false, deviceEvents: false };
  for (const name of names) {
    const stream = mapping[name];
    if (!stream)
      throw new UsageError(`--streams: unknown stream "${name}" (analyses, outcomes, device-events)`);
    streams[stream] = true;
  }
  if (names.length === 0) throw new UsageError('--streams: name at least one stream');
  return streams;
}

function parseRawArgs(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTION_SPEC, allowPositionals: false, strict: true }).values;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** Parses argv (without "node script"), reading defaults from `env`; `now` anchors the default period. */
export function parseSimulatorArgs(argv: string[], env: NodeJS.ProcessEnv, now: number): SimulatorCliOptions {
  const values = parseRawArgs(argv);

  const months = parseNumber(
    values.months,
    'months',
    6,
    (n) => n > 0 && n <= 120,
    'a number of months in (0, 120]',
  );
  let start: number;
  let end: number;
  if (values.start !== undefined) {
    start = parseDate(values.start, 'start');
    end = addCalendarMonths(start, months);
  } else {
    // Whole seconds, so the default period's events carry the same timestamps the wire format can express.
    end = Math.floor(now / 1000) * 1000;
    start = addCalendarMonths(end, -months);
  }

  const vesselMix = (values['vessel-mix'] ?? 'post-market') as VesselMixName;
  if (!(vesselMix in VESSEL_MIXES))
    throw new UsageError(`--vessel-mix: ${Object.keys(VESSEL_MIXES).join(' or ')}`);
  const ffrDistribution = (values['ffr-distribution'] ?? 'wide') as TrueFfrDistributionName;
  if (!(ffrDistribution in TRUE_FFR_DISTRIBUTIONS)) {
    throw new UsageError(`--ffr-distribution: ${Object.keys(TRUE_FFR_DISTRIBUTIONS).join(' or ')}`);
  }

  const siteBiases: SiteBiasInjection[] = (values['site-bias'] ?? []).map((text) => {
    const { head, from, tail } = splitInjection(text, 'site-bias', 'SITE:DATE:BIAS');
    const bias = signedNumber(tail, 'site-bias');
    if (Math.abs(bias) > 0.5)
      throw new UsageError(`--site-bias: |BIAS| must be ≤ 0.5 FFR units (got ${bias})`);
    return { siteId: head, from, bias };
  });
  const heartRateShifts: HeartRateShiftInjection[] = (values['hr-shift'] ?? []).map((text) => {
    const { head, from, tail } = splitInjection(text, 'hr-shift', 'SITE:DATE:BPM');
    const shiftBpm = signedNumber(tail, 'hr-shift');
    if (Math.abs(shiftBpm) > 60) throw new UsageError(`--hr-shift: |BPM| must be ≤ 60 (got ${shiftBpm})`);
    return { siteId: head, from, shiftBpm };
  });
  const scannerChanges: ScannerChangeInjection[] = (values['scanner-change'] ?? []).map((text) => {
    const { head, from, tail } = splitInjection(text, 'scanner-change', 'SITE:DATE:VENDOR');
    const vendor = parseScannerVendor(tail);
    if (!vendor)
      throw new UsageError(`--scanner-change: unknown vendor "${tail}" (${SCANNER_VENDORS.join(', ')})`);
    return { siteId: head, from, vendor };
  });
  const badModels: BadModelInjection[] = (values['bad-model'] ?? []).map((text) => {
    const { head, from, tail } = splitInjection(text, 'bad-model', 'VERSION:DATE:BIAS');
    const bias = signedNumber(tail, 'bad-model');
    if (Math.abs(bias) > 0.5)
      throw new UsageError(`--bad-model: |BIAS| must be ≤ 0.5 FFR units (got ${bias})`);
    if (!/^[A-Za-z0-9._-]+$/.test(head)) throw new UsageError(`--bad-model: invalid version "${head}"`);
    return { version: head, from, bias };
  });
  if (new Set(badModels.map((bad) => bad.version)).size !== badModels.length) {
    throw new UsageError('--bad-model: each version may be given once');
  }

  const rate = (option: string): number =>
    parseNumber(
      values[option as keyof typeof values] as string | undefined,
      option,
      0,
      (n) => n >= 0 && n <= 1,
      'a rate in [0, 1]',
    );
  const faults: FaultRates = {
    ...NO_FAULTS,
    malformed: rate('malformed-rate'),
    schemaInvalid: rate('schema-invalid-rate'),
    unsigned: rate('unsigned-rate'),
    forged: rate('forged-rate'),
    tampered: rate('tampered-rate'),
    duplicate: rate('duplicate-rate'),
    burstSize: parseNumber(
      values['bad-burst-size'],
      'bad-burst-size',
      1,
      (n) => Number.isInteger(n) && n >= 1 && n <= 1000,
      'an integer ≥ 1',
    ),
  };

  const dryRun = values['dry-run'] ?? false;
  const pacingChoices = [
    values['duration-seconds'] !== undefined,
    values.speed !== undefined,
    values['as-fast-as-possible'] === true,
  ];
  if (pacingChoices.filter(Boolean).length > 1) {
    throw new UsageError('choose one of --duration-seconds, --speed and --as-fast-as-possible');
  }
  let pacing: Pacing;
  if (values['as-fast-as-possible'] || (dryRun && !pacingChoices.some(Boolean))) {
    pacing = { mode: 'as-fast-as-possible' };
  } else if (values.speed !== undefined) {
    pacing = {
      mode: 'wall-clock',
      speed: parseNumber(values.speed, 'speed', 1, (n) => n > 0, 'a positive number'),
    };
  } else {
    const seconds = parseNumber(
      values['duration-seconds'],
      'duration-seconds',
      DEFAULT_DURATION_SECONDS,
      (n) => n > 0,
      'a positive number',
    );
    pacing = { mode: 'wall-clock', speed: (end - start) / (seconds * 1000) };
  }

  const brokers = (values.brokers ?? env.KAFKA_BROKERS ?? DEFAULT_BROKERS)
    .split(',')
    .map((broker) => broker.trim())
    .filter(Boolean);
  if (brokers.length === 0) throw new UsageError('--brokers: at least one host:port');

  const apiUrl = (values['api-url'] ?? DEFAULT_API_URL).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+/.test(apiUrl)) throw new UsageError(`--api-url: an http(s) URL (got "${apiUrl}")`);

  return {
    help: values.help ?? false,
    seed: values.seed ?? randomBytes(6).toString('hex'),
    start,
    end,
    months,
    sites: parseNumber(
      values.sites,
      'sites',
      10,
      (n) => Number.isInteger(n) && n >= 1 && n <= 500,
      'an integer in [1, 500]',
    ),
    codePrefix: parseCodePrefix(values['code-prefix']),
    volumeScale: parseNumber(
      values['volume-scale'],
      'volume-scale',
      1,
      (n) => n > 0 && n <= 10_000,
      'a positive number',
    ),
    heartbeatMinutes: parseNumber(
      values['heartbeat-minutes'],
      'heartbeat-minutes',
      60,
      (n) => n === 0 || n >= 1,
      '0 or ≥ 1',
    ),
    deviceFaultScale: parseNumber(
      values['device-fault-scale'],
      'device-fault-scale',
      1,
      (n) => n >= 0 && n <= 1000,
      'a number ≥ 0',
    ),
    vesselMix,
    ffrDistribution,
    heavyTails: values['heavy-tails'] ?? false,
    referralIfNegative:
      values['referral-if-negative'] === undefined
        ? undefined
        : parseNumber(
            values['referral-if-negative'],
            'referral-if-negative',
            0,
            (n) => n >= 0 && n <= 1,
            'a probability in [0, 1]',
          ),
    injections: { siteBiases, heartRateShifts, scannerChanges, badModels },
    faults,
    streams: parseStreams(values.streams),
    pacing,
    apiUrl,
    apiKey: values['api-key'] ?? (env.FW_API_KEY || undefined),
    bootstrapAdminToken: env.FW_BOOTSTRAP_ADMIN_TOKEN || undefined,
    register: !(values['no-register'] ?? false),
    stateFile: path.resolve(values['state-file'] ?? DEFAULT_STATE_FILE),
    rotateSecrets: values['rotate-secrets'] ?? false,
    dryRun,
    brokers,
    topicPrefix: values['topic-prefix'] ?? env.KAFKA_TOPIC_PREFIX ?? '',
    batchSize: parseNumber(
      values['batch-size'],
      'batch-size',
      250,
      (n) => Number.isInteger(n) && n >= 1 && n <= 10_000,
      'an integer in [1, 10000]',
    ),
    quiet: values.quiet ?? false,
  };
}
