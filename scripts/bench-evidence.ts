/**
 * npm run bench:evidence — the cost of the cross-release disclosure audit (src/evidence/release-audit.ts).
 *
 * Builds a synthetic product in memory (no database: the audit is pure, and what it costs is the audit), then asks a
 * sequence of random cohort queries; each one is answered twice in the same run — by evidenceOutcome with the audit
 * against every earlier release, and without it (the baseline: figures, tables, within-table and pairwise
 * protection only) — and only the audited outcome becomes an earlier release. Prints per-query times, the medians
 * and their ratio.
 *
 * Last, the final query is computed once more on this thread and once in the service's worker thread
 * (evidence-outcome.task.ts), and the longest stall of this thread's event loop is printed for each: what a request
 * or an ingested event waiting behind the audit would wait.
 *
 * Each query names `--tables` distributions drawn at random (all eleven by default). The coverage is the service's
 * default, `complete-bases`; `--coverage complete-cross` audits as FW_EVIDENCE_AUDIT_COVERAGE=complete-cross does,
 * `complete` and `pairs` as the older queries stored with them were (release-records.ts AuditCoverage).
 *
 *   npm run bench:evidence -- [--analyses 20000] [--queries 30] [--seed 7] [--tables 11] [--coverage complete-bases|complete-cross|complete|pairs]
 */
import {
  AGATSTON_BANDS,
  AGE_BANDS,
  bandKeys,
  BMI_BANDS,
  cohortsNested,
  DISTRIBUTION_TABLES,
  normaliseDefinition,
  SEXES,
  STATUSES,
  VESSELS,
} from '../src/evidence/cohort';
import {
  CohortAnalysis,
  CohortVessel,
  EarlierRelease,
  evidenceOutcome,
} from '../src/evidence/evidence-result';
import {
  AuditCoverage,
  AUDIT_COVERAGES,
  ProductRecords,
  ProductReleaseAudit,
} from '../src/evidence/release-records';
import os from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { BoundedWorkerPool } from '../src/common/bounded-worker-pool';
import { computeEvidenceOutcome, EvidenceOutcomeRequest } from '../src/evidence/evidence-outcome.task';
import { DEFAULT_AUDIT_OPERATIONS } from '../src/evidence/release-records';

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

const analysesWanted = option('analyses', 20_000);
const tablesPerQuery = option('tables', DISTRIBUTION_TABLES.length);
const coverageIndex = process.argv.indexOf('--coverage');
const coverage = (coverageIndex >= 0 ? process.argv[coverageIndex + 1] : 'complete-bases') as AuditCoverage;
if (!AUDIT_COVERAGES.includes(coverage))
  throw new Error(`--coverage is one of ${AUDIT_COVERAGES.join(', ')}`);
const queries = option('queries', 30);
let state = option('seed', 7);
const random = () => (state = (state * 48_271) % 2_147_483_647) / 2_147_483_647;
const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)];

const sites = Array.from({ length: 20 }, (_, i) => `S${i}`);
const months = ['2026-01', '2026-02', '2026-03', '2026-04', '2026-05', '2026-06'];
const receivedAt = '2026-07-01T00:00:00.000000Z';
const highWaterMark = '2026-08-01T00:00:00.000000Z';
const threshold = 0.8;
const k = 11;

const analyses = Array.from({ length: analysesWanted }, (_, i) => ({
  patientId: `p${Math.floor(i / 1.3)}`,
  site: pick(sites),
  modelVersion: pick(['v1', 'v2']),
  scannerVendor: pick(['Canon', 'GE', 'Siemens']),
  ageBand: pick(bandKeys(AGE_BANDS)),
  sex: pick(['F', 'M']),
  bmiBand: pick(bandKeys(BMI_BANDS)),
  agatstonBand: pick(bandKeys(AGATSTON_BANDS)),
  status: random() < 0.95 ? 'completed' : 'rejected',
  month: pick(months),
  receivedAt,
  vesselNames: [] as string[],
}));
const vessels: Array<ProductRecords['vessels'][number]> = [];
analyses.forEach((analysis, index) => {
  if (analysis.status !== 'completed') return;
  for (const vessel of ['LAD', 'LCX', 'RCA'].slice(0, 1 + Math.floor(random() * 3))) {
    analysis.vesselNames.push(vessel);
    vessels.push({ analysis: index, vessel, ctFfr: Math.round((0.6 + random() * 0.4) * 100) / 100 });
  }
});
// About 30% of vessels linked, FFR within ±0.10 of the CT-FFR.
const invasiveFfr = Float64Array.from(vessels, (vessel) =>
  random() < 0.3 ? Math.round((vessel.ctFfr + (random() - 0.5) * 0.2) * 100) / 100 : Number.NaN,
);
const records: ProductRecords = { analyses, vessels, invasiveFfrAt: new Map([[highWaterMark, invasiveFfr]]) };
const universe = {
  sex: [...SEXES],
  ageBand: bandKeys(AGE_BANDS),
  bmiBand: bandKeys(BMI_BANDS),
  agatstonBand: bandKeys(AGATSTON_BANDS),
  scannerVendor: ['Canon', 'GE', 'Siemens'],
  modelVersion: ['v1', 'v2'],
  site: sites,
  status: [...STATUSES],
  month: months,
  vessel: [...VESSELS],
};

const loadAtStart = os.loadavg()[0];
const earlier: EarlierRelease[] = [];
const audited: number[] = [];
const operations: number[] = [];
const baseline: number[] = [];
let refused = 0;
const tablesAsked: number[] = [];
const tablesWhole: number[] = [];
const tablesLimited: number[] = [];
const componentTally = { certified: 0, searched: 0 };
let lastInput: EvidenceOutcomeRequest | null = null;
console.log(
  `bench:evidence — ${analyses.length.toLocaleString('en')} analyses, ${vessels.length.toLocaleString('en')} vessels, ${queries} queries, k = ${k}, ${tablesPerQuery} distributions per query, ${coverage} coverage`,
);
for (let q = 0; q < queries; q++) {
  const chosenSites = sites.filter(() => random() < 0.5);
  const definition = normaliseDefinition({
    productId: 'bench',
    sites: random() < 0.5 && chosenSites.length > 0 ? chosenSites : undefined,
    sexes: random() < 0.3 ? [pick(['F', 'M'])] : undefined,
    fromMonth: random() < 0.3 ? '2026-02' : null,
    stratifyBy: pick(['site', 'sex', 'vessel', 'ageBand', null] as const),
    tables:
      tablesPerQuery >= DISTRIBUTION_TABLES.length
        ? undefined
        : [...DISTRIBUTION_TABLES]
            .map((table) => ({ table, order: random() }))
            .sort((a, b) => a.order - b.order)
            .slice(0, tablesPerQuery)
            .map(({ table }) => table),
  });
  const start = performance.now();
  const audit = new ProductReleaseAudit(records, earlier, { definition, highWaterMark, threshold }, k, {
    coverage,
  });
  const cohort = audit.members();
  const cohortAnalyses: CohortAnalysis[] = analyses.filter((_, index) => cohort.analyses[index]);
  const cohortVessels: CohortVessel[] = vessels.flatMap((vessel, index) =>
    cohort.vessels[index]
      ? [
          {
            analysis: analyses[vessel.analysis],
            vessel: vessel.vessel,
            ctFfr: vessel.ctFfr,
            invasiveFfr: Number.isNaN(invasiveFfr[index]) ? null : invasiveFfr[index],
          },
        ]
      : [],
  );
  const input = {
    definition,
    analyses: cohortAnalyses,
    vessels: cohortVessels,
    universe,
    threshold,
    k,
    earlier,
  };
  const outcome = evidenceOutcome({ ...input, nested: cohortsNested, audit });
  lastInput = {
    ...input,
    highWaterMark,
    records,
    auditOperationLimit: DEFAULT_AUDIT_OPERATIONS,
    auditCoverage: coverage,
  };
  audited.push(performance.now() - start);
  operations.push(audit.operations);
  componentTally.certified += audit.componentTally.certified;
  componentTally.searched += audit.componentTally.searched;
  const baselineStart = performance.now();
  evidenceOutcome({ ...input, nested: cohortsNested });
  baseline.push(performance.now() - baselineStart);
  if (outcome.status === 'released') {
    earlier.push({ id: `q${q}`, definition, highWaterMark, result: outcome.result });
  } else refused++;
  const tables =
    outcome.status === 'released'
      ? [...Object.values(outcome.result.distributions), outcome.result.accuracy.counts]
      : [];
  const tablesReleased = tables.filter((table) => table.withheld === null).length;
  const tablesAtLimit = tables.filter((table) => table.withheld === 'audit-limit').length;
  tablesAsked.push(tables.length);
  tablesWhole.push(tablesReleased);
  tablesLimited.push(tablesAtLimit);
  console.log(
    `  query ${q + 1}: ${outcome.status}${outcome.status === 'released' ? '' : ` (${outcome.refusal.reason})`}, ` +
      (outcome.status === 'released'
        ? `tables ${tablesReleased}/${tables.length} released (${tablesAtLimit} withheld at the audit limit), `
        : '') +
      `audited ${audited.at(-1)!.toFixed(0)} ms (${(operations.at(-1)! / 1e6).toFixed(0)} M operations), baseline ${baseline.at(-1)!.toFixed(0)} ms, ${earlier.length} releases so far`,
  );
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
console.log('');
console.log('| figure | value |');
console.log('|---|---|');
console.log(`| queries released / refused | ${earlier.length} / ${refused} |`);
const total = (values: number[]) => values.reduce((sum, value) => sum + value, 0);
console.log(
  `| tables of released queries: released / withheld at the audit limit / in all | ${total(tablesWhole)} / ${total(tablesLimited)} / ${total(tablesAsked)} |`,
);
console.log(
  `| audited query, median (max) | ${median(audited).toFixed(0)} ms (${Math.max(...audited).toFixed(0)} ms) |`,
);
console.log(
  `| components of R_S certified (disjoint bases) / searched | ${componentTally.certified} / ${componentTally.searched} |`,
);
console.log(`| baseline (no cross-release audit), median | ${median(baseline).toFixed(0)} ms |`);
console.log(`| ratio of medians | ${(median(audited) / median(baseline)).toFixed(1)} |`);
// The machine is shared: the load around the run says how far the absolute times are from a quiet one's.
console.log(
  `| load average (1 min) at start → end | ${loadAtStart.toFixed(1)} → ${os.loadavg()[0].toFixed(1)} |`,
);

/** The longest event-loop stall of this thread while `work` runs, in ms. */
async function longestStall(work: () => Promise<unknown>): Promise<{ stallMs: number; elapsedMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  const start = performance.now();
  // Let the histogram's timer run before and after, so a stall at either end is seen.
  await new Promise((resolve) => setTimeout(resolve, 50));
  await work();
  await new Promise((resolve) => setTimeout(resolve, 50));
  histogram.disable();
  return { stallMs: histogram.max / 1e6, elapsedMs: performance.now() - start - 100 };
}

void (async () => {
  const input = lastInput!;
  const inline = await longestStall(() => Promise.resolve(computeEvidenceOutcome(input)));
  const pool = new BoundedWorkerPool<EvidenceOutcomeRequest, unknown>({
    task: join(__dirname, '..', 'src', 'evidence', 'evidence-outcome.task'),
    threads: 1,
    queue: 1,
    busyMessage: 'busy',
  });
  // The first task starts the thread (and its transpiler): not what a request waits for in the service.
  await pool.run(input);
  const worker = await longestStall(() => pool.run(input));
  await pool.destroy();
  console.log(
    `| the final query on this thread: longest event-loop stall / time | ${inline.stallMs.toFixed(0)} ms / ${inline.elapsedMs.toFixed(0)} ms |`,
  );
  console.log(
    `| the same in the worker thread (as the service runs it) | ${worker.stallMs.toFixed(0)} ms / ${worker.elapsedMs.toFixed(0)} ms |`,
  );
})();
