import { plainToInstance, Transform } from 'class-transformer';
import { validateCronExpression } from 'cron';
import {
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  MinLength,
  ValidateBy,
  ValidateIf,
  validateSync,
  ValidationError,
} from 'class-validator';

/** The machine's local PostgreSQL (trust auth), as on the project's development and CI machines. */
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/fieldwatch';

/** The database URL alone, for tools (migrations) that need no secrets. */
export function databaseUrlFrom(environment: NodeJS.ProcessEnv = process.env): string {
  return environment.DATABASE_URL || DEFAULT_DATABASE_URL;
}

/** One exact origin: http(s), a host name, IPv4 or bracketed IPv6 address, an optional port; nothing else. */
const ORIGIN = String.raw`https?://(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?`;
const CORS_ORIGINS = new RegExp(`^\\s*${ORIGIN}(?:\\s*,\\s*${ORIGIN})*\\s*$`);

/** Longest overlap of a rotated signing secret, for the environment default and per request (7 days). */
export const SECRET_ROTATION_MAX_OVERLAP_HOURS = 168;

/**
 * The platform's whole environment, described and validated as one DTO (immich's env.dto.ts shape):
 * a wrong or missing variable stops the process at start with a message naming the variable, instead
 * of failing later on the first event.
 */
export class EnvironmentVariables {
  @IsString()
  @Matches(/^postgres(ql)?:\/\//, { message: 'DATABASE_URL must be a postgres:// URL' })
  DATABASE_URL = DEFAULT_DATABASE_URL;

  /** Comma-separated bootstrap brokers. The local broker of `npm run kafka:start` listens on 19092. */
  @IsString()
  @Matches(/^[^,\s]+:\d+(,[^,\s]+:\d+)*$/, { message: 'KAFKA_BROKERS must be host:port[,host:port…]' })
  KAFKA_BROKERS = '127.0.0.1:19092';

  @IsString()
  @Matches(/^[a-zA-Z0-9._-]*$/, {
    message: 'KAFKA_TOPIC_PREFIX may hold letters, digits, dot, dash and underscore',
  })
  KAFKA_TOPIC_PREFIX = '';

  @IsString()
  @MinLength(1)
  KAFKA_CONSUMER_GROUP = 'fieldwatch-ingestion';

  @Transform(({ value }: { value: unknown }) => Number(value))
  @IsInt()
  @Min(1)
  @Max(1024)
  KAFKA_TOPIC_PARTITIONS = 6;

  @Transform(({ value }: { value: unknown }) => Number(value))
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 3000;

  /** `all` runs API and consumers in one process; `api` and `ingest` split them to scale separately. */
  @IsIn(['all', 'api', 'ingest'])
  FW_PROCESS_ROLE: 'all' | 'api' | 'ingest' = 'all';

  /** Becomes an admin API key at start (idempotent), so automation can begin (DESIGN.md §5). */
  @IsOptional()
  @IsString()
  @MinLength(24, { message: 'FW_BOOTSTRAP_ADMIN_TOKEN must be at least 24 characters' })
  FW_BOOTSTRAP_ADMIN_TOKEN?: string;

  /**
   * Key of the keyed hash that replaces patientRef/studyRef before anything is stored. 32 bytes,
   * hex or base64. Losing it breaks linkage of new outcomes to stored analyses; leaking it lets a
   * holder of site pseudonyms test them against the database.
   */
  @IsString()
  @Matches(/^([0-9a-fA-F]{64}|[A-Za-z0-9+/]{43}=)$/, {
    message: 'FW_PSEUDONYM_KEY must be 32 bytes as 64 hex characters or base64',
  })
  FW_PSEUDONYM_KEY: string;

  /** AES-256-GCM key that encrypts device and data-source signing secrets at rest. 32 bytes, hex or base64. */
  @IsString()
  @Matches(/^([0-9a-fA-F]{64}|[A-Za-z0-9+/]{43}=)$/, {
    message: 'FW_MASTER_KEY must be 32 bytes as 64 hex characters or base64',
  })
  FW_MASTER_KEY: string;

  /**
   * After a signing secret is rotated (POST …/secret-rotations), events signed with the previous secret
   * are still accepted for this many hours, so the sender can be given the new one without losing data;
   * then they go to the DLQ as retired_secret. A request may ask for another overlap (0 to 168 hours).
   */
  @Transform(({ value }: { value: unknown }) => Number(value))
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(SECRET_ROTATION_MAX_OVERLAP_HOURS)
  FW_SECRET_ROTATION_OVERLAP_HOURS = 24;

  /** Largest accepted Kafka message value; larger ones go to the DLQ as message_too_large. */
  @Transform(({ value }: { value: unknown }) => Number(value))
  @IsInt()
  @Min(1024)
  @Max(10 * 1024 * 1024)
  FW_MAX_MESSAGE_BYTES = 256 * 1024;

  /** How many partitions one consumer process works on at once (overlaps database I/O). */
  @Transform(({ value }: { value: unknown }) => Number(value))
  @IsInt()
  @Min(1)
  @Max(64)
  FW_INGEST_CONCURRENCY = 3;

  /**
   * Worker threads that compute performance `detail=full` (src/performance/full-detail.pool.ts), each with its own
   * database connection: heavy per-vessel statistics never run on the thread that serves requests and ingests.
   */
  @Transform(({ value }: { value: unknown }) => Number(value))
  @IsInt()
  @Min(1)
  @Max(16)
  FW_PERFORMANCE_FULL_WORKERS = 1;

  /** detail=full requests that may wait for a worker; more at once are answered 503 (retry, or detail=summary). */
  @Transform(({ value }: { value: unknown }) => Number(value))
  @IsInt()
  @Min(0)
  @Max(1000)
  FW_PERFORMANCE_FULL_QUEUE = 8;

  /**
   * Largest number of analysed vessels a detail=full request reads (422 above it): the roll-ups (detail=summary)
   * give the same figures at any size, without holding a million rows in memory.
   */
  @Transform(({ value }: { value: unknown }) => Number(value))
  @IsInt()
  @Min(1)
  @Max(50_000_000)
  FW_PERFORMANCE_FULL_MAX_VESSELS = 1_000_000;

  /**
   * detail=summary computes the days whose data changed since the last roll-up pass from the base tables, up to this
   * many analysed vessels together (as of their last pass); beyond it the busiest are served as of that pass, and the
   * answer names them. Recomputing per request is O(those days): bench:soak measured summary requests timing out when
   * ingestion kept some 70 days changed at once.
   */
  @Transform(({ value }: { value: unknown }) => Number(value))
  @IsInt()
  @Min(0)
  @Max(10_000_000)
  FW_PERFORMANCE_LIVE_MAX_VESSELS = 20_000;

  /** Longest CTA → invasive FFR interval for a linked pair (src/outcomes/linkage-rules.ts). */
  @Transform(({ value }: { value: unknown }) => Number(value))
  @IsInt()
  @Min(1)
  @Max(365)
  FW_LINKAGE_WINDOW_DAYS = 90;

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL = 'info';

  /**
   * Ed25519 private key that signs audit checkpoints: PKCS#8 PEM (newlines may be written as \n) or a
   * 32-byte seed, hex or base64. Required when NODE_ENV=production; otherwise, if unset, each process
   * generates an ephemeral key and warns (its checkpoints no longer verify as trusted after a restart).
   */
  @IsOptional()
  @IsString()
  @Matches(
    /^(\s*-----BEGIN PRIVATE KEY-----[\s\S]+-----END PRIVATE KEY-----\s*|[0-9a-fA-F]{64}|[A-Za-z0-9+/]{43}=)$/,
    {
      message:
        'FW_AUDIT_SIGNING_KEY must be an Ed25519 PKCS#8 PEM key or a 32-byte seed as 64 hex characters or base64',
    },
  )
  FW_AUDIT_SIGNING_KEY?: string;

  /**
   * Public keys (32-byte Ed25519, hex or base64, comma-separated) of earlier signing keys whose
   * checkpoints still count as genuine after FW_AUDIT_SIGNING_KEY is rotated.
   */
  @IsOptional()
  @IsString()
  @Matches(/^\s*([0-9a-fA-F]{64}|[A-Za-z0-9+/]{43}=)(\s*,\s*([0-9a-fA-F]{64}|[A-Za-z0-9+/]{43}=))*\s*$/, {
    message:
      'FW_AUDIT_TRUSTED_PUBLIC_KEYS must be comma-separated 32-byte keys (64 hex characters or base64)',
  })
  FW_AUDIT_TRUSTED_PUBLIC_KEYS?: string;

  /** A signed checkpoint is made automatically whenever the audit entry id is a multiple of this. */
  @Transform(({ value }: { value: unknown }) => Number(value))
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  FW_AUDIT_CHECKPOINT_EVERY = 100;

  /**
   * Requests one API key may make per FW_RATE_LIMIT_WINDOW_SECONDS, across all routes (health exempt);
   * beyond it the API answers 429 until the window has passed. Requests without a valid key are
   * counted per client address instead. Counted per API instance (in memory).
   */
  @Transform(({ value }: { value: unknown }) => Number(value))
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  FW_RATE_LIMIT_REQUESTS = 1200;

  @Transform(({ value }: { value: unknown }) => Number(value))
  @IsInt()
  @Min(1)
  @Max(3600)
  FW_RATE_LIMIT_WINDOW_SECONDS = 60;

  /**
   * Browser origins allowed to call the API cross-origin (CORS), comma-separated exact origins such as
   * `https://dashboards.example.org` (scheme, host, optional port; no path, no wildcard). Unset: no
   * origin is allowed. Credentials (cookies) are never allowed: the API authenticates by bearer key.
   */
  @IsOptional()
  @IsString()
  @Matches(CORS_ORIGINS, {
    message:
      'FW_CORS_ORIGINS must be comma-separated exact origins (scheme://host[:port], no path); "*" is not allowed',
  })
  FW_CORS_ORIGINS?: string;

  /**
   * The IMDRF adverse-event code table incidents are coded against (src/vigilance/imdrf-codes.ts): the JSON of the
   * IMDRF release (e.g. imdrf_aet_2023.json) or a CSV with annex,code,term[,status]. Loaded at start; a missing or
   * malformed file stops the process. Unset: incidents without IMDRF codes work, coded ones are refused (503).
   */
  @IsOptional()
  @IsString()
  @Matches(/\.(json|csv)$/i, {
    message:
      'FW_IMDRF_CODE_TABLE must be the path of the IMDRF code table file, .json or .csv (e.g. imdrf_aet_2023.json)',
  })
  FW_IMDRF_CODE_TABLE?: string;

  /** When the vigilance clock job raises due-soon / overdue alerts (cron, 5 or 6 fields, UTC), in background processes. */
  @IsCronExpression()
  FW_VIGILANCE_CLOCK_CRON = '*/15 * * * *';

  /** A reporting deadline is "due soon" when it ends within this many hours. */
  @Transform(({ value }: { value: unknown }) => Number(value))
  @IsInt()
  @Min(1)
  @Max(720)
  FW_VIGILANCE_DUE_SOON_HOURS = 48;

  /** When candidate detection and trend evaluation run (cron, 5 or 6 fields, UTC), in background processes. */
  @IsCronExpression()
  FW_VIGILANCE_DETECTION_CRON = '23 * * * *';

  /** When every monitored product's drift monitors are evaluated (cron, 5 or 6 fields, UTC), in background processes. */
  @IsCronExpression()
  FW_DRIFT_EVALUATION_CRON = '41 2 * * *';

  /** When products whose labelled vessels changed since their last drift evaluation re-run their accuracy charts. */
  @IsCronExpression()
  FW_DRIFT_LATE_LABEL_CRON = '*/30 * * * *';

  /**
   * Ingestion backpressure (src/ingestion/backpressure.ts): a database write of a batch still running after this many
   * milliseconds pauses fetching from Kafka until the database answers again (the data waits in Kafka, not in memory).
   */
  @Transform(({ value }: { value: unknown }) => Number(value))
  @IsInt()
  @Min(100)
  @Max(600_000)
  FW_INGEST_SLOW_WRITE_MS = 5_000;

  /** Most messages one consumer process holds between fetch and database commit, across its partitions. */
  @Transform(({ value }: { value: unknown }) => Number(value))
  @IsInt()
  @Min(1_000)
  @Max(1_000_000)
  FW_INGEST_MAX_BUFFERED_MESSAGES = 20_000;

  /** Monthly event partitions created ahead of the current month (docs/storage/partitioning.md). */
  @Transform(({ value }: { value: unknown }) => Number(value))
  @IsInt()
  @Min(1)
  @Max(24)
  FW_PARTITION_MONTHS_AHEAD = 3;

  /** When partitions are created ahead and retention runs (cron, 5 or 6 fields, UTC), in background processes. */
  @IsCronExpression()
  FW_PARTITION_MAINTENANCE_CRON = '17 3 * * *';

  /**
   * When the periodic-report job drafts the PSURs and NMPA reports that are due (cron, 5 or 6 fields, UTC), in
   * background processes. Daily is enough: a period ends at midnight and its draft is due from the next day on.
   */
  @IsCronExpression()
  FW_REPORTS_SCHEDULE_CRON = '41 2 * * *';

  /**
   * Months of analyses and device events kept; 0 (the default) keeps everything. Regulator-facing data is kept for
   * the device's lifetime: 21 CFR 803.18 (2 years from the event or the expected device life, whichever is greater),
   * SAMR/NHC Order No. 1 (until 2 years after device expiry, at least 5 years without one), MDR Art. 86 (PSUR until
   * the end of the device lifetime). Hence at least 60, and even then a month is kept while a device with data in it
   * is in service or was retired less than 24 months ago, an incident with evidence in it is open, or a draft report
   * covers it (migration 1764330000000-PartitionedEventStorage, fieldwatch_retire_event_partition).
   */
  @Transform(({ value }: { value: unknown }) => Number(value))
  @IsInt()
  @ValidateIf((variables: { FW_RETENTION_MONTHS?: number }) => variables.FW_RETENTION_MONTHS !== 0)
  @Min(60, { message: 'FW_RETENTION_MONTHS must be 0 (keep everything) or at least 60 (regulatory minimum)' })
  @Max(1200)
  FW_RETENTION_MONTHS = 0;

  /**
   * Evidence queries (src/evidence): the smallest number of patients a released cell may hold (disclosure control;
   * 11 follows the CMS cell-size suppression policy). Below 5 is refused: it protects nobody.
   */
  @Transform(({ value }: { value: unknown }) => Number(value))
  @IsInt()
  @Min(5)
  @Max(1000)
  FW_EVIDENCE_MIN_CELL = 11;

  /**
   * Worker threads that compute evidence queries and their re-runs (figures, disclosure control and the
   * cross-release audit, src/evidence/evidence-outcome.task.ts): the audit never runs on the thread that serves
   * requests and ingests events.
   */
  @Transform(({ value }: { value: unknown }) => Number(value))
  @IsInt()
  @Min(1)
  @Max(16)
  FW_EVIDENCE_WORKERS = 1;

  /**
   * The cross-release disclosure audit's work limit per evidence query, in operations (src/evidence/release-audit.ts,
   * AuditBudget; queries that reached the default took 11–14 s on one core of this machine). Counted, not timed, so a
   * re-run reaches it at the same point; past it the audit fails closed (the cohort is refused, or the table withheld,
   * as `audit-limit`).
   */
  @Transform(({ value }: { value: unknown }) => Number(value))
  @IsInt()
  @Min(1_000_000)
  @Max(1_000_000_000_000)
  FW_EVIDENCE_AUDIT_OPERATIONS = 2_000_000_000;

  /**
   * How far the cross-release audit of new evidence queries reaches (src/evidence/release-records.ts, AuditCoverage;
   * stored with each query, whose re-run audits as it was audited). `complete-bases`: every table of each unit
   * together, weighted combinations excluded where the disjoint-bases certificate holds. `complete-cross`: also the
   * counts of every unit against each other over patients ("analysed vessels − analyses" counting the patients with
   * a second vessel) — at a price in capacity and time, measured in src/evidence/README.md.
   */
  @IsIn(['complete-bases', 'complete-cross'])
  FW_EVIDENCE_AUDIT_COVERAGE: 'complete-bases' | 'complete-cross' = 'complete-bases';

  /**
   * Evidence queries that may wait, per instance, for their product's turn or for a worker; more at once are answered
   * 503 (retry shortly).
   */
  @Transform(({ value }: { value: unknown }) => Number(value))
  @IsInt()
  @Min(0)
  @Max(1000)
  FW_EVIDENCE_QUEUE = 8;

  /**
   * How long an evidence query waits for the query before it on the same product (one product's queries are audited
   * one at a time, each against every release before it) before it is answered 503. Queries at the audit's work limit
   * took 11–14 s here, so the default covers a full queue of them on one instance.
   */
  @Transform(({ value }: { value: unknown }) => Number(value))
  @IsInt()
  @Min(1)
  @Max(3_600)
  FW_EVIDENCE_LOCK_WAIT_SECONDS = 120;

  /**
   * An evidence query sees rows received (and linkage decided) up to this many seconds before it runs: transactions
   * still open then commit rows stamped earlier, and a re-run must see exactly what the query saw.
   */
  @Transform(({ value }: { value: unknown }) => Number(value))
  @IsInt()
  @Min(0)
  @Max(86_400)
  FW_EVIDENCE_HWM_LAG_SECONDS = 300;
}

/** A cron expression the scheduler (@nestjs/schedule's `cron`) accepts. */
function IsCronExpression(): PropertyDecorator {
  return ValidateBy({
    name: 'isCronExpression',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && validateCronExpression(value).valid,
      defaultMessage: () =>
        '$property must be a cron expression of 5 or 6 fields, e.g. "*/15 * * * *" (every 15 minutes)',
    },
  });
}

export type AppConfig = Readonly<EnvironmentVariables>;

function describe(errors: ValidationError[]): string {
  return errors
    .flatMap((error) =>
      Object.values(error.constraints ?? {}).map((text) => `  - ${error.property}: ${text}`),
    )
    .join('\n');
}

/** Validates the environment; throws one error listing every problem (never echoes a secret's value). */
export function loadConfig(environment: NodeJS.ProcessEnv = process.env): AppConfig {
  const declared = Object.keys(new EnvironmentVariables());
  const present: Record<string, string> = {};
  for (const [name, value] of Object.entries(environment)) {
    if (value !== undefined && value !== '' && (declared.includes(name) || name.startsWith('FW_'))) {
      present[name] = value;
    }
  }
  const config = plainToInstance(EnvironmentVariables, present, { exposeDefaultValues: true });
  const errors = validateSync(config, { skipMissingProperties: false, whitelist: false });
  const problems = describe(errors);
  const production = environment.NODE_ENV === 'production';
  const missingInProduction =
    production && !config.FW_AUDIT_SIGNING_KEY
      ? '  - FW_AUDIT_SIGNING_KEY: is required when NODE_ENV=production (audit checkpoints must be signed with a kept key)'
      : '';
  if (problems || missingInProduction) {
    throw new Error(`Invalid configuration:\n${[problems, missingInProduction].filter(Boolean).join('\n')}`);
  }
  return Object.freeze(config);
}

/** The exact origins FW_CORS_ORIGINS allows, lower-cased as browsers send them (none when unset). */
export function corsOrigins(config: Pick<AppConfig, 'FW_CORS_ORIGINS'>): string[] {
  return (config.FW_CORS_ORIGINS ?? '')
    .split(',')
    .map((origin) => origin.trim().toLowerCase())
    .filter((origin) => origin.length > 0);
}

/** 32-byte key from hex or base64, as the two key variables accept. */
export function decodeKey(encoded: string): Buffer {
  return /^[0-9a-fA-F]{64}$/.test(encoded) ? Buffer.from(encoded, 'hex') : Buffer.from(encoded, 'base64');
}
