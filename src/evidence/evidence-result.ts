/**
 * From the cohort's rows to the released result: distributions, stratified accuracy, disclosure control, and the
 * differencing check against earlier releases. Pure (no I/O): the service reads the rows at the query's high-water
 * mark and the earlier releases, this module decides what leaves the platform. Figures come from src/performance's
 * performanceFigures (the same oracle-checked src/stats functions, patients as clusters), never re-derived here.
 */
import { createHash } from 'node:crypto';
import { performanceFigures, PerformanceFigures } from '../performance/performance-report';
import { PERFORMANCE_RULES } from '../performance/performance-rules';
import { bandLabel } from '../stats/gray-zone';
import { isPositive, LinkedVessel } from '../stats/proportions';
import { ANALYSIS_DISTRIBUTIONS, CohortDefinition, DistributionTable, StratifyBy } from './cohort';
import {
  CountCell,
  CountTable,
  differsByFewerThanK,
  ProtectedTable,
  protectTable,
} from './disclosure-control';

/** One analysis of the cohort, with its lattice attributes. `patientId` is internal (site:keyed hash). */
export interface CohortAnalysis {
  readonly patientId: string;
  readonly site: string;
  readonly modelVersion: string;
  readonly scannerVendor: string;
  readonly ageBand: string;
  readonly sex: string;
  readonly bmiBand: string;
  readonly agatstonBand: string;
  readonly status: string;
  readonly month: string;
}

/** One analysed vessel of a completed cohort analysis, with its first linked invasive FFR (null: none). */
export interface CohortVessel {
  readonly analysis: CohortAnalysis;
  readonly vessel: string;
  readonly ctFfr: number;
  readonly invasiveFfr: number | null;
}

/** The row universe of each distribution: fixed lattices, or what the product has (never what the cohort has). */
export interface DistributionUniverse {
  readonly sex: readonly string[];
  readonly ageBand: readonly string[];
  readonly bmiBand: readonly string[];
  readonly agatstonBand: readonly string[];
  readonly scannerVendor: readonly string[];
  readonly modelVersion: readonly string[];
  readonly site: readonly string[];
  readonly status: readonly string[];
  readonly month: readonly string[];
  readonly vessel: readonly string[];
}

export interface ReleasedTable {
  readonly unit: 'analyses' | 'vessels' | 'linked vessels';
  readonly columns: readonly string[];
  readonly totals: readonly number[] | null;
  readonly withheld: ProtectedTable['withheld'];
  readonly rows: ReadonlyArray<{ key: string; values: readonly number[] | null; suppressed: string | null }>;
}

type Proportion = PerformanceFigures['sensitivity'];

/** What a stratum (or the cohort) prints about accuracy: counts and figures whose every n is a released sum. */
export interface StratumAccuracy {
  readonly key: string;
  readonly vessels: number;
  readonly patients: number;
  readonly tp: number;
  readonly fp: number;
  readonly tn: number;
  readonly fn: number;
  readonly sensitivity: Proportion;
  readonly specificity: Proportion;
  readonly ppv: Proportion;
  readonly npv: Proportion;
  readonly accuracy: Proportion;
  readonly auc: PerformanceFigures['auc'];
  readonly blandAltman: PerformanceFigures['blandAltman'];
}

export interface EvidenceResult {
  readonly cohort: {
    readonly patients: number;
    readonly analyses: number;
    readonly analysedVessels: number;
    readonly linkedVessels: number;
  };
  readonly distributions: Readonly<Record<string, ReleasedTable>>;
  readonly accuracy: {
    readonly threshold: number;
    readonly stratifyBy: StratifyBy | null;
    readonly counts: ReleasedTable;
    readonly overall: StratumAccuracy | null;
    readonly strata: readonly StratumAccuracy[];
    readonly methods: Readonly<Record<string, string>>;
  };
  readonly disclosure: {
    readonly k: number;
    readonly suppressedRows: number;
    readonly withheldTables: number;
    /** Rows and tables suppressed because they would difference against an earlier release. */
    readonly differencing: ReadonlyArray<{ table: string; against: string }>;
  };
}

export interface EarlierRelease {
  readonly id: string;
  readonly definition: CohortDefinition;
  /** The data it saw: rows received, and linkage decided, up to this instant (the service's text form). */
  readonly highWaterMark: string;
  readonly result: EvidenceResult;
}

/**
 * The audit of a release against every earlier one (release-records.ts): whether the cohort's counts, or a table as
 * protected so far, would let a set of 1 … k − 1 patients be derived by adding and subtracting released counts.
 */
export interface CrossReleaseAudit {
  cohortDisclosive(released: EvidenceResult['cohort']): boolean;
  /**
   * True when the latest disclosive answer (cohortDisclosive, or a tableResolution other than null) is the audit
   * failing closed — a check it could not finish within its work limits — not a small set it found.
   */
  readonly undecided?: boolean;
  /** null: safe as is; rows to suppress as well; or 'withhold' the table. */
  tableResolution(name: string, table: ProtectedTable): Set<string> | 'withhold' | null;
}

/** `against` of a differencing entry that needs several earlier releases, not one. */
export const AGAINST_COMBINATION = 'combination of earlier releases';
/** `against` of an entry the audit could not decide within its work limit (it fails closed). */
export const AGAINST_AUDIT_LIMIT = 'audit work limit';

export type EvidenceOutcome =
  | { status: 'released'; result: EvidenceResult }
  | {
      status: 'refused';
      refusal: {
        reason: 'cohort-below-k' | 'differencing' | 'audit-limit';
        message: string;
        against?: string;
      };
    };

export const CONFUSION_COLUMNS = ['tp', 'fp', 'tn', 'fn'] as const;

function stratumKey(vessel: CohortVessel, by: StratifyBy): string {
  return by === 'vessel' ? vessel.vessel : vessel.analysis[by];
}

export function ctFfrBand(value: number): string {
  const edges = PERFORMANCE_RULES.ctFfrBands;
  let low: number | null = null;
  for (const edge of edges) {
    if (value <= edge) return bandLabel(low, edge);
    low = edge;
  }
  return bandLabel(low, null);
}

function ctFfrBandKeys(): string[] {
  const edges = PERFORMANCE_RULES.ctFfrBands;
  return [
    ...edges.map((edge, i) => bandLabel(i === 0 ? null : edges[i - 1], edge)),
    bandLabel(edges.at(-1)!, null),
  ];
}

/** A one-column table of counts per row key, contributors = patients. */
function countTable(
  rowKeys: readonly string[],
  items: ReadonlyArray<{ key: string; patientId: string }>,
): CountTable {
  const index = new Map(rowKeys.map((key, i) => [key, i]));
  const values = rowKeys.map(() => 0);
  const patients = rowKeys.map(() => new Set<string>());
  for (const item of items) {
    const i = index.get(item.key);
    if (i === undefined) throw new Error(`value ${item.key} outside its distribution's universe`);
    values[i]++;
    patients[i].add(item.patientId);
  }
  return {
    rowKeys,
    columnKeys: ['n'],
    cells: rowKeys.map((_, i): CountCell[] => [{ value: values[i], contributors: [...patients[i]] }]),
  };
}

function release(table: ProtectedTable, unit: ReleasedTable['unit']): ReleasedTable {
  return {
    unit,
    columns: table.columnKeys,
    totals: table.totals,
    withheld: table.withheld,
    rows: table.rows.map((row) => ({ key: row.key, values: row.values, suppressed: row.suppressed })),
  };
}

/**
 * Protects a table against the release itself and against earlier releases of nested cohorts: a row released
 * there and here that differs by 1 … k − 1 in any column is suppressed here; a column total, or the derived sum of
 * an identical suppressed set, that differs so withholds the table.
 */
function protectAgainst(
  name: string,
  table: CountTable,
  k: number,
  earlier: ReadonlyArray<{ id: string; table: ReleasedTable | undefined }>,
  differencing: Array<{ table: string; against: string }>,
  audit: CrossReleaseAudit | undefined,
): ProtectedTable {
  const flagged = new Set<string>();
  const withheld = (): ProtectedTable => {
    const limit = audit?.undecided === true;
    return {
      columnKeys: table.columnKeys,
      totals: null,
      rows: table.rowKeys.map((key) => ({
        key,
        values: null,
        suppressed: limit ? 'audit-limit' : 'differencing',
      })),
      withheld: limit ? 'audit-limit' : 'cannot-protect',
      suppressedSums: null,
    };
  };
  for (;;) {
    const protectedTable = protectTable(table, { k, extraSensitiveRows: flagged });
    if (protectedTable.withheld) return protectedTable;
    let changed = false;
    for (const { id, table: previous } of earlier) {
      const previousTotals = previous?.totals;
      if (!previous || !previousTotals || previous.columns.join() !== table.columnKeys.join()) continue;
      if (protectedTable.totals!.some((total, c) => differsByFewerThanK(total, previousTotals[c], k))) {
        differencing.push({ table: name, against: id });
        return withheld();
      }
      const previousRows = new Map(previous.rows.map((row) => [row.key, row.values]));
      for (const row of protectedTable.rows) {
        const before = previousRows.get(row.key);
        if (!row.values || !before) continue;
        if (row.values.some((value, c) => differsByFewerThanK(value, before[c], k))) {
          flagged.add(row.key);
          differencing.push({ table: name, against: id });
          changed = true;
        }
      }
      // The same suppressed set in both: its derived sums are released figures too.
      const hiddenNow = protectedTable.rows.filter((row) => !row.values).map((row) => row.key);
      const hiddenBefore = previous.rows.filter((row) => !row.values).map((row) => row.key);
      if (hiddenNow.length > 0 && hiddenNow.join('\u0000') === hiddenBefore.join('\u0000')) {
        const sum = (rows: ReleasedTable['rows'], totals: readonly number[], c: number) =>
          totals[c] - rows.reduce((acc, row) => acc + (row.values ? row.values[c] : 0), 0);
        const same = table.columnKeys.every(
          (_, c) =>
            !differsByFewerThanK(protectedTable.suppressedSums![c], sum(previous.rows, previousTotals, c), k),
        );
        if (!same) {
          differencing.push({ table: name, against: id });
          return withheld();
        }
      }
    }
    if (changed) continue;
    // Any number of earlier releases together (release-audit.ts), once the nested pairs above are settled.
    const resolution = audit?.tableResolution(name, protectedTable) ?? null;
    if (resolution === null) return protectedTable;
    differencing.push({ table: name, against: audit?.undecided ? AGAINST_AUDIT_LIMIT : AGAINST_COMBINATION });
    if (resolution === 'withhold') return withheld();
    for (const key of resolution) flagged.add(key);
  }
}

function stratumAccuracy(key: string, vessels: readonly LinkedVessel[], threshold: number): StratumAccuracy {
  const figures = performanceFigures(vessels, threshold);
  return {
    key,
    vessels: figures.vessels,
    patients: figures.patients,
    tp: figures.tp,
    fp: figures.fp,
    tn: figures.tn,
    fn: figures.fn,
    sensitivity: figures.sensitivity,
    specificity: figures.specificity,
    ppv: figures.ppv,
    npv: figures.npv,
    accuracy: figures.accuracy,
    auc: figures.auc,
    blandAltman: figures.blandAltman,
  };
}

/** What evidenceOutcome computes a cohort's outcome from. */
export interface EvidenceInput {
  definition: CohortDefinition;
  analyses: readonly CohortAnalysis[];
  vessels: readonly CohortVessel[];
  universe: DistributionUniverse;
  threshold: number;
  k: number;
  earlier: readonly EarlierRelease[];
  nested: (a: CohortDefinition, b: CohortDefinition) => boolean;
  audit?: CrossReleaseAudit;
}

/**
 * The released result of a cohort, or why nothing is released. `earlier`: every earlier release of the tenant
 * (any definition; only nested ones are compared), oldest first.
 */
export function evidenceOutcome(input: EvidenceInput): EvidenceOutcome {
  const { definition, analyses, vessels, universe, threshold, k } = input;
  const patients = new Set(analyses.map((analysis) => analysis.patientId));
  if (patients.size < k) {
    return {
      status: 'refused',
      refusal: {
        reason: 'cohort-below-k',
        message: `the cohort has fewer than ${k} patients; nothing about it is released`,
      },
    };
  }
  const linked = vessels.filter((vessel) => vessel.invasiveFfr !== null);
  const cohort = {
    patients: patients.size,
    analyses: analyses.length,
    analysedVessels: vessels.length,
    linkedVessels: linked.length,
  };
  const nestedEarlier = input.earlier.filter((release) => input.nested(release.definition, definition));
  for (const release of nestedEarlier) {
    const before = release.result.cohort;
    const keys = ['patients', 'analyses', 'analysedVessels', 'linkedVessels'] as const;
    if (keys.some((key) => differsByFewerThanK(cohort[key], before[key], k))) {
      return {
        status: 'refused',
        refusal: {
          reason: 'differencing',
          message: `the cohort differs from the nested earlier query ${release.id} by fewer than ${k} patients, analyses or vessels; subtracting the two would single them out`,
          against: release.id,
        },
      };
    }
  }

  if (input.audit?.cohortDisclosive(cohort)) {
    if (input.audit.undecided) {
      return {
        status: 'refused',
        refusal: {
          reason: 'audit-limit',
          message: `the disclosure audit could not establish within its work limit that this cohort's counts, together with the ${input.earlier.length} earlier releases of this product, single out no set of fewer than ${k} patients; nothing about it is released`,
          against: AGAINST_AUDIT_LIMIT,
        },
      };
    }
    return {
      status: 'refused',
      refusal: {
        reason: 'differencing',
        message: `together with earlier releases of this product, the cohort's counts would let a set of fewer than ${k} patients be counted by adding and subtracting released figures`,
        against: AGAINST_COMBINATION,
      },
    };
  }

  const differencing: Array<{ table: string; against: string }> = [];
  const distributions: Record<string, ReleasedTable> = {};
  // Only the tables asked for are computed, released and audited (cohort.ts DISTRIBUTION_TABLES).
  const asked = (name: DistributionTable) => definition.tables?.includes(name) ?? true;
  for (const dimension of ANALYSIS_DISTRIBUTIONS) {
    if (!asked(dimension)) continue;
    const table = countTable(
      universe[dimension],
      analyses.map((analysis) => ({ key: analysis[dimension], patientId: analysis.patientId })),
    );
    const earlier = nestedEarlier.map((release) => ({
      id: release.id,
      table: release.result.distributions[dimension],
    }));
    distributions[dimension] = release(
      protectAgainst(dimension, table, k, earlier, differencing, input.audit),
      'analyses',
    );
  }
  const vesselTables: Record<'vessel' | 'ctFfrBand', [readonly string[], (vessel: CohortVessel) => string]> =
    {
      vessel: [universe.vessel, (vessel) => vessel.vessel],
      ctFfrBand: [ctFfrBandKeys(), (vessel) => ctFfrBand(vessel.ctFfr)],
    };
  for (const name of ['vessel', 'ctFfrBand'] as const) {
    if (!asked(name)) continue;
    const [keys, keyOf] = vesselTables[name];
    const table = countTable(
      keys,
      vessels.map((vessel) => ({ key: keyOf(vessel), patientId: vessel.analysis.patientId })),
    );
    const earlier = nestedEarlier.map((release) => ({
      id: release.id,
      table: release.result.distributions[name],
    }));
    distributions[name] = release(
      protectAgainst(name, table, k, earlier, differencing, input.audit),
      'vessels',
    );
  }

  // Stratified accuracy: strata × (TP, FP, TN, FN) over linked vessels, whole strata suppressed.
  const by = definition.stratifyBy;
  const strataKeys = by === null ? ['overall'] : [...(by === 'vessel' ? universe.vessel : universe[by])];
  const byStratum = new Map<string, LinkedVessel[]>(strataKeys.map((key) => [key, []]));
  for (const vessel of linked) {
    const key = by === null ? 'overall' : stratumKey(vessel, by);
    const list = byStratum.get(key);
    if (!list) throw new Error(`stratum ${key} outside its universe`);
    list.push({
      patientId: vessel.analysis.patientId,
      ctFfr: vessel.ctFfr,
      invasiveFfr: vessel.invasiveFfr!,
    });
  }
  const countsTable: CountTable = {
    rowKeys: strataKeys,
    columnKeys: [...CONFUSION_COLUMNS],
    cells: strataKeys.map((key) => {
      const cells = {
        tp: new Array<string>(),
        fp: new Array<string>(),
        tn: new Array<string>(),
        fn: new Array<string>(),
      };
      for (const v of byStratum.get(key)!) {
        const diseased = isPositive(v.invasiveFfr, threshold);
        const positive = isPositive(v.ctFfr, threshold);
        const column = diseased ? (positive ? 'tp' : 'fn') : positive ? 'fp' : 'tn';
        cells[column].push(v.patientId);
      }
      return CONFUSION_COLUMNS.map((column): CountCell => {
        const ids = [...new Set(cells[column])];
        return { value: cells[column].length, contributors: ids };
      });
    }),
  };
  const earlierCounts = nestedEarlier
    .filter((release) => release.result.accuracy.stratifyBy === by)
    .map((release) => ({ id: release.id, table: release.result.accuracy.counts }));
  const counts = protectAgainst('accuracy', countsTable, k, earlierCounts, differencing, input.audit);
  const strata =
    by === null
      ? []
      : counts.rows
          .filter((row) => row.values !== null && row.values.some((value) => value > 0))
          .map((row) => stratumAccuracy(row.key, byStratum.get(row.key)!, threshold));
  // The overall counts are the table's column totals: released exactly when the table is.
  const overall =
    counts.withheld === null ? stratumAccuracy('overall', [...byStratum.values()].flat(), threshold) : null;

  const tables = [...Object.values(distributions), release(counts, 'linked vessels')];
  return {
    status: 'released',
    result: {
      cohort,
      distributions,
      accuracy: {
        threshold,
        stratifyBy: by,
        counts: release(counts, 'linked vessels'),
        overall,
        strata,
        methods: {
          positive: `a vessel is positive when its value ≤ ${threshold} (the product's threshold), for CT-FFR and invasive FFR alike`,
          proportions:
            'Wilson score; Clopper–Pearson exact; cluster: ratio estimator with the patient as cluster (21 CFR 870.1415) — src/performance performanceFigures',
          auc: 'DeLong and Obuchowski (patients as clusters) — src/stats/roc',
          linkage:
            'the first invasive FFR linked to each CT-FFR vessel, as linkage stood at the high-water mark (ffr_link_history)',
          minimumN: `figures need n ≥ ${PERFORMANCE_RULES.minimumProportionN}; a stratum is printed only when none of its counts is suppressed`,
        },
      },
      disclosure: {
        k,
        suppressedRows: tables.reduce(
          (sum, table) => sum + table.rows.filter((row) => row.values === null).length,
          0,
        ),
        withheldTables: tables.filter((table) => table.withheld !== null).length,
        differencing: dedupe(differencing),
      },
    },
  };
}

function dedupe(entries: ReadonlyArray<{ table: string; against: string }>) {
  const seen = new Set<string>();
  return entries.filter((entry) => {
    const key = `${entry.table}\u0000${entry.against}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** JSON with object keys sorted, so equal results have equal digests whatever order they were built in. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, v]) => `${JSON.stringify(key)}:${canonicalJson(v)}`).join(',')}}`;
}

export const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
