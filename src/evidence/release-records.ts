/**
 * The cross-release audit of evidence queries (release-audit.ts) applied to the platform's records. Pure: the service
 * reads the product's analyses, vessels and linkage states (evidence.service.ts), this module says which record lies
 * in which released cell of each release — earlier ones as they were released, at their own high-water mark and with
 * linkage as it stood then — and asks auditFamily whether the new release lets a set of 1 … k − 1 patients be derived.
 *
 * Cohort membership here is the same rule as the SQL of EvidenceService.outcomeInput (received by the high-water mark,
 * the lattice filters, a vessel filter met by any analysed vessel); the new release's own cells are counted here and
 * compared with the figures it releases, so a divergence between the two is an error, never a silent gap.
 */
import { isPositive } from '../stats/proportions';
import { ANALYSIS_DISTRIBUTIONS, CohortDefinition, SET_DIMENSIONS, SetDimension, StratifyBy } from './cohort';
import { ProtectedTable } from './disclosure-control';
import {
  CohortAnalysis,
  CONFUSION_COLUMNS,
  CrossReleaseAudit,
  ctFfrBand,
  EvidenceResult,
  ReleasedTable,
} from './evidence-result';
import {
  AuditBudget,
  ComponentTally,
  auditFamily,
  auditPatientFamily,
  DEFAULT_MAX_WORK,
  meet,
  refine,
  Refinement,
  ReleasedPartition,
  SearchMemo,
} from './release-audit';

/** An analysis of the product, as the audit needs it. */
export interface ProductAnalysisRecord extends CohortAnalysis {
  /** When the platform received it, in the high-water marks' text form (ISO 8601, microseconds, Z). */
  readonly receivedAt: string;
  /** Vessels analysed (what a `vessels` filter matches). */
  readonly vesselNames: readonly string[];
}

/** An analysed vessel of a completed analysis. */
export interface ProductVesselRecord {
  /** Index into ProductRecords.analyses. */
  readonly analysis: number;
  readonly vessel: string;
  readonly ctFfr: number;
}

export interface ProductRecords {
  readonly analyses: readonly ProductAnalysisRecord[];
  readonly vessels: readonly ProductVesselRecord[];
  /** Per high-water mark: per vessel, the first invasive FFR linked to it as linkage stood then (NaN: none). */
  readonly invasiveFfrAt: ReadonlyMap<string, Float64Array>;
}

/** A release as the audit reads it: what was asked, as of when, and what was released. */
export interface AuditedRelease {
  readonly id: string;
  readonly definition: CohortDefinition;
  readonly highWaterMark: string;
  readonly result: EvidenceResult;
}

/** Definition dimension → attribute of an analysis (vessels are matched against the analysed vessels). */
const ATTRIBUTE_OF: Record<Exclude<SetDimension, 'vessels'>, keyof CohortAnalysis> = {
  modelVersions: 'modelVersion',
  sites: 'site',
  scannerVendors: 'scannerVendor',
  ageBands: 'ageBand',
  sexes: 'sex',
  bmiBands: 'bmiBand',
  agatstonBands: 'agatstonBand',
  statuses: 'status',
};

type Unit = 'patients' | 'analyses' | 'vessels';

/** A check's answer: no small set derivable (false), one found, or not decided within the work limits. */
type Disclosure = false | 'found' | 'undecided';

interface Membership {
  readonly analyses: Uint8Array;
  readonly vessels: Uint8Array;
  readonly linked: Uint8Array;
  readonly patients: Uint8Array;
  readonly invasiveFfr: Float64Array;
}

type TableName = (typeof ANALYSIS_DISTRIBUTIONS)[number] | 'vessel' | 'ctFfrBand' | 'accuracy';

/**
 * The families (release-audit.ts): the patients counted (cohort, with a linked vessel, per printed stratum); per
 * unit (analyses; analysed vessels) every table of every release at once when the unit's records fall into at most
 * maxJointAtoms atoms, else one family per *pair* of tables of the unit (analyses: every two of the nine
 * distributions; vessels: every two of the vessel table, the CT-FFR band table and the accuracy table). Every family
 * of a unit also holds each release's cohort counts in that unit (analyses; analysed and linked vessels) — the
 * total of a table is released as the cohort count even when the table itself is withheld. The new release's own
 * tables count too (one release's sex and age distributions can single out a cell of their cross-classification:
 * when every man is 80+, "80+" minus "men" counts the women of 80+).
 */
const TABLE_UNIT: Record<TableName, Exclude<Unit, 'patients'>> = {
  ...(Object.fromEntries(ANALYSIS_DISTRIBUTIONS.map((name) => [name, 'analyses'])) as Record<
    (typeof ANALYSIS_DISTRIBUTIONS)[number],
    'analyses'
  >),
  vessel: 'vessels',
  ctFfrBand: 'vessels',
  accuracy: 'vessels',
};
const TABLES = Object.keys(TABLE_UNIT) as TableName[];
const UNIT_TABLES: Record<Exclude<Unit, 'patients'>, TableName[]> = {
  analyses: TABLES.filter((name) => TABLE_UNIT[name] === 'analyses'),
  vessels: TABLES.filter((name) => TABLE_UNIT[name] === 'vessels'),
};
/**
 * How far the audit reaches within a unit (analyses; vessels), and across units.
 * - `complete-cross` (since migration 1764400000000, where FW_EVIDENCE_AUDIT_COVERAGE chooses it): `complete-bases`,
 *   and the counts of every unit — patients, analyses, vessels — against each other, over patients (release-audit.ts
 *   auditPatientFamily): "analysed vessels − analyses" counts the patients with a second vessel when no one has three,
 *   which no unit's family sees.
 * - `complete-bases` (the default for new queries since migration 1764390000000): `complete`, and a component of
 *   the span is first offered a certificate that no combination of it, 0/1 or weighted, is a figure of fewer than k
 *   patients (release-audit.ts disjointBasesCertificate); a certified component is not searched. Every check
 *   `complete` decides is decided alike; checks `complete` left undecided for want of work may now be decided, and
 *   for certified components weighted combinations are excluded too.
 * - `complete` (queries stored from migration 1764380000000 to 1764390000000): every table of the unit, of every
 *   release, in one family, whatever its size; a check that does not finish within the work limits is undecided,
 *   and undecided is disclosive (fail closed). Nothing that adding and subtracting the unit's counts can single out
 *   is missed; the price is capacity (src/evidence/README.md measures it). Also disclosive here, and in the
 *   patients' family: a component of the span of fewer than k patients (release-audit.ts
 *   AuditOptions.smallComponents).
 * - `pairs` (queries stored before 1764380000000, re-run as they ran): the unit's tables together while its records
 *   fall into at most maxJointAtoms atoms and the search finishes within JOINT_MAX_WORK steps, else every pair of
 *   tables — which misses leaks that need three tables at once.
 */
export type AuditCoverage = 'complete-cross' | 'complete-bases' | 'complete' | 'pairs';
export const AUDIT_COVERAGES: readonly AuditCoverage[] = [
  'complete-cross',
  'complete-bases',
  'complete',
  'pairs',
];

export interface ReleaseAuditLimits {
  /** Column steps one family's search may take before the audit fails closed (release-audit.ts). */
  readonly maxWork?: number;
  /** `pairs` coverage: a unit's tables are audited together when its records fall into at most this many atoms. */
  readonly maxJointAtoms?: number;
  /** Operations the whole audit of this query may do (AuditBudget); FW_EVIDENCE_AUDIT_OPERATIONS in the service. */
  readonly operationLimit?: number;
  readonly coverage?: AuditCoverage;
}

/** See ProductReleaseAudit's maxJointAtoms; src/evidence/README.md gives the measured cost. */
export const DEFAULT_MAX_JOINT_ATOMS = 1_500;
/**
 * Operations (release-audit.ts's AuditBudget) one query's audit may do before it fails closed: the default of
 * FW_EVIDENCE_AUDIT_OPERATIONS (src/config/config.ts). Queries that reached it in bench:evidence took 11–14 s on one
 * core of this machine (src/evidence/README.md).
 */
export const DEFAULT_AUDIT_OPERATIONS = 2_000_000_000;
/** `pairs` coverage: search steps a joint family may take before the audit falls back to the unit's pairs. */
const JOINT_MAX_WORK = 200_000;
const PATIENTS = 'patients';

interface PairFamily {
  readonly key: string;
  readonly unit: Exclude<Unit, 'patients'>;
  readonly tables: readonly [TableName, TableName];
}

const PAIR_FAMILIES: readonly PairFamily[] = TABLES.flatMap((first, i) =>
  TABLES.slice(i + 1)
    .filter((second) => TABLE_UNIT[second] === TABLE_UNIT[first])
    .map((second): PairFamily => ({
      key: `${first}+${second}`,
      unit: TABLE_UNIT[first],
      tables: [first, second],
    })),
);

/** A table's released cells in one release, and the patient counts it prints (the accuracy table's). */
interface TableCells {
  readonly table: ReleasedPartition;
  readonly patients: readonly ReleasedPartition[];
}

export class ProductReleaseAudit implements CrossReleaseAudit {
  private readonly patientOfAnalysis: Int32Array;
  private readonly patientOf: Record<Unit, Int32Array>;
  /** Earlier releases: per unit its cohort counts, per table its cells, and the patient counts. */
  private readonly earlierCohort: Record<Exclude<Unit, 'patients'>, ReleasedPartition[]> = {
    analyses: [],
    vessels: [],
  };
  private readonly earlierTables = new Map<TableName, ReleasedPartition[]>(TABLES.map((name) => [name, []]));
  private readonly earlierPatients: ReleasedPartition[] = [];
  /** Per family, the earlier releases' partitions refined once (every check of the new release starts from it). */
  private readonly earlierRefinements = new Map<
    string,
    { partitions: readonly ReleasedPartition[]; refinement: Refinement; orderKey?: Float64Array }
  >();
  private readonly candidate: Membership;
  private readonly candidateCohort: Record<Exclude<Unit, 'patients'>, ReleasedPartition[]>;
  private readonly candidatePatients: ReleasedPartition[];
  /** The new release's tables released so far (tableResolution answered null for them). */
  private readonly candidateTables = new Map<TableName, TableCells>();
  private readonly rowKeyCache = new Map<string, { ids: Int32Array; keys: string[] }>();
  /**
   * Searches already done (release-audit.ts): the components of R_S that a check's new cells do not touch recur in
   * the next checks of the same families. Verdicts are the same with or without it.
   */
  private readonly memo = new SearchMemo();
  /** See `undecided`. */
  private lastUndecided = false;
  /** Units whose joint family did not finish within its steps in an earlier check of this query. */
  private readonly jointUndecided = new Set<Exclude<Unit, 'patients'>>();
  /** Components of R_S certified free of small combinations, and searched, in this audit (bench:evidence). */
  readonly componentTally: ComponentTally = { certified: 0, searched: 0 };
  /** The operations this audit may do in all (release-audit.ts): past them it fails closed. */
  private readonly budget: AuditBudget;
  private readonly maxWork: number;
  private readonly maxJointAtoms: number;
  private readonly coverage: AuditCoverage;
  /** release-audit.ts AuditOptions.disjointBases: `complete-bases` and `complete-cross`. */
  private readonly disjointBases: boolean;

  constructor(
    private readonly records: ProductRecords,
    earlier: readonly AuditedRelease[],
    private readonly current: { definition: CohortDefinition; highWaterMark: string; threshold: number },
    private readonly k: number,
    limits: ReleaseAuditLimits = {},
  ) {
    this.maxWork = limits.maxWork ?? DEFAULT_MAX_WORK;
    this.maxJointAtoms = limits.maxJointAtoms ?? DEFAULT_MAX_JOINT_ATOMS;
    this.coverage = limits.coverage ?? 'complete-bases';
    this.disjointBases = this.coverage === 'complete-bases' || this.coverage === 'complete-cross';
    this.budget = new AuditBudget(limits.operationLimit ?? DEFAULT_AUDIT_OPERATIONS);
    const patientIndex = new Map<string, number>();
    this.patientOfAnalysis = Int32Array.from(records.analyses, (analysis) => {
      let index = patientIndex.get(analysis.patientId);
      if (index === undefined) {
        index = patientIndex.size;
        patientIndex.set(analysis.patientId, index);
      }
      return index;
    });
    this.patientOf = {
      patients: Int32Array.from({ length: patientIndex.size }, (_, i) => i),
      analyses: this.patientOfAnalysis,
      vessels: Int32Array.from(records.vessels, (vessel) => this.patientOfAnalysis[vessel.analysis]),
    };
    for (const release of earlier) {
      const members = this.membership(release.definition, release.highWaterMark);
      this.earlierCohort.analyses.push(single(members.analyses));
      this.earlierCohort.vessels.push(single(members.vessels), single(members.linked));
      this.earlierPatients.push(single(members.patients));
      const { accuracy, distributions } = release.result;
      for (const name of TABLES) {
        const table = name === 'accuracy' ? accuracy.counts : distributions[name];
        if (!table) continue;
        const rows = releasedRows(table);
        if (!rows) continue;
        const cells = this.tableCells(name, members, rows, {
          stratifyBy: accuracy.stratifyBy,
          threshold: accuracy.threshold,
        });
        this.earlierTables.get(name)!.push(cells.table);
        this.earlierPatients.push(...cells.patients);
      }
    }
    this.candidate = this.membership(current.definition, current.highWaterMark);
    this.candidateCohort = {
      analyses: [single(this.candidate.analyses)],
      vessels: [single(this.candidate.vessels), single(this.candidate.linked)],
    };
    this.candidatePatients = [single(this.candidate.patients)];
  }

  private membership(definition: CohortDefinition, highWaterMark: string): Membership {
    const { analyses, vessels, invasiveFfrAt } = this.records;
    const invasiveFfr = invasiveFfrAt.get(highWaterMark);
    if (!invasiveFfr) throw new Error(`linkage at ${highWaterMark} was not read`);
    const inCohort = new Uint8Array(analyses.length);
    const patients = new Uint8Array(this.patientOf.patients.length);
    for (let a = 0; a < analyses.length; a++) {
      if (!inDefinition(analyses[a], definition, highWaterMark)) continue;
      inCohort[a] = 1;
      patients[this.patientOfAnalysis[a]] = 1;
    }
    const vesselFilter = definition.vessels ? new Set(definition.vessels) : null;
    const inVessels = new Uint8Array(vessels.length);
    const linked = new Uint8Array(vessels.length);
    for (let v = 0; v < vessels.length; v++) {
      const vessel = vessels[v];
      if (!inCohort[vessel.analysis] || analyses[vessel.analysis].status !== 'completed') continue;
      if (vesselFilter !== null && !vesselFilter.has(vessel.vessel)) continue;
      inVessels[v] = 1;
      if (!Number.isNaN(invasiveFfr[v])) linked[v] = 1;
    }
    return { analyses: inCohort, vessels: inVessels, linked, patients, invasiveFfr };
  }

  /**
   * A table's released cells: its rows (cells 0…, a row of the accuracy table spanning TP, FP, TN, FN) and its
   * suppressed rows together, whose sum the total gives away; for the accuracy table also the patients it prints
   * (with a linked vessel, overall and per printed stratum).
   */
  private tableCells(
    name: TableName,
    members: Membership,
    rows: RowRelease,
    accuracy: { stratifyBy: StratifyBy | null; threshold: number },
  ): TableCells {
    if (name !== 'accuracy') {
      const { cellOfRow, cellCount } = rowCells(rows, 1);
      const { ids, keys } = this.rowKeys(name);
      const cellOfKeyId = keys.map((key) => cellOfRow.get(key) ?? -2);
      const member = TABLE_UNIT[name] === 'analyses' ? members.analyses : members.vessels;
      const cellOf = new Int32Array(member.length);
      for (let i = 0; i < member.length; i++) {
        cellOf[i] = member[i] ? cellOfKey(cellOfKeyId[ids[i]], keys[ids[i]], name) : -1;
      }
      return { table: { cellOf, cellCount }, patients: [] };
    }
    const columns = CONFUSION_COLUMNS.length;
    const { cellOfRow, cellCount } = rowCells(rows, columns);
    const { ids, keys } = this.rowKeys(`stratum:${accuracy.stratifyBy ?? 'overall'}`);
    const cellOfKeyId = keys.map((key) => cellOfRow.get(key) ?? -2);
    const { vessels } = this.records;
    const cellOf = new Int32Array(vessels.length);
    // Patients behind the linked vessels, overall and per printed stratum (rows with a count): one cell each, as
    // a patient's vessels may fall in several strata.
    const patientCount = this.patientOf.patients.length;
    const overall = new Uint8Array(patientCount);
    const stratumPatients = new Map<number, Uint8Array>();
    for (const key of rows.released) stratumPatients.set(cellOfRow.get(key)!, new Uint8Array(patientCount));
    for (let v = 0; v < vessels.length; v++) {
      if (!members.linked[v]) {
        cellOf[v] = -1;
        continue;
      }
      const diseased = isPositive(members.invasiveFfr[v], accuracy.threshold);
      const positive = isPositive(vessels[v].ctFfr, accuracy.threshold);
      const column = diseased ? (positive ? 0 : 3) : positive ? 1 : 2; // tp, fp, tn, fn
      const rowCell = cellOfKey(cellOfKeyId[ids[v]], keys[ids[v]], name);
      cellOf[v] = rowCell + column;
      const patient = this.patientOf.vessels[v];
      overall[patient] = 1;
      const stratum = stratumPatients.get(rowCell);
      if (stratum) stratum[patient] = 1;
    }
    return {
      table: { cellOf, cellCount },
      patients: [
        single(overall),
        ...[...stratumPatients.values()].filter((flags) => flags.some(Boolean)).map(single),
      ],
    };
  }

  /**
   * Each record's row key in a table (analyses for the analysis distributions, vessels for the vessel tables and
   * the accuracy strata), interned once per table: releases then map key ids to cells.
   */
  private rowKeys(table: string): { ids: Int32Array; keys: string[] } {
    const cached = this.rowKeyCache.get(table);
    if (cached) return cached;
    const { analyses, vessels } = this.records;
    let keyOf: (index: number) => string;
    let length: number;
    if (table.startsWith('stratum:')) {
      const by = table.slice('stratum:'.length) as StratifyBy | 'overall';
      length = vessels.length;
      keyOf =
        by === 'overall'
          ? () => 'overall'
          : by === 'vessel'
            ? (v) => vessels[v].vessel
            : (v) => analyses[vessels[v].analysis][by];
    } else if (table === 'vessel' || table === 'ctFfrBand') {
      length = vessels.length;
      keyOf = table === 'vessel' ? (v) => vessels[v].vessel : (v) => ctFfrBand(vessels[v].ctFfr);
    } else {
      length = analyses.length;
      const attribute = table as keyof CohortAnalysis;
      keyOf = (a) => analyses[a][attribute];
    }
    const index = new Map<string, number>();
    const ids = new Int32Array(length);
    for (let i = 0; i < length; i++) {
      const key = keyOf(i);
      let id = index.get(key);
      if (id === undefined) {
        id = index.size;
        index.set(key, id);
      }
      ids[i] = id;
    }
    const interned = { ids, keys: [...index.keys()] };
    this.rowKeyCache.set(table, interned);
    return interned;
  }

  /** A unit's earlier partitions, every table of it with the cohort counts, refined once per query. */
  private jointEarlier(unit: Exclude<Unit, 'patients'>) {
    return this.earlierOf(`joint:${unit}`, unit, () => [
      ...this.earlierCohort[unit],
      ...UNIT_TABLES[unit].flatMap((name) => this.earlierTables.get(name)!),
    ]);
  }

  private earlierOf(family: string, unit: Unit, build: () => ReleasedPartition[]) {
    let earlier = this.earlierRefinements.get(family);
    if (!earlier) {
      const partitions = build();
      earlier = { partitions, refinement: refine(this.patientOf[unit].length, partitions) };
      this.earlierRefinements.set(family, earlier);
    }
    return earlier;
  }

  /** A pair family's earlier partitions, refined as the meet of its two tables' (each over the unit's counts). */
  private earlierOfPair(family: PairFamily) {
    let earlier = this.earlierRefinements.get(family.key);
    if (!earlier) {
      const cohort = this.earlierCohort[family.unit];
      const [first, second] = family.tables.map((name) =>
        this.earlierOf(`table:${name}`, family.unit, () => [...cohort, ...this.earlierTables.get(name)!]),
      );
      const uClasses = second.refinement.classCount;
      const orderKey = Float64Array.from(
        first.refinement.classOf,
        (tClass, i) => tClass * uClasses + second.refinement.classOf[i],
      );
      earlier = {
        orderKey,
        partitions: [
          ...cohort,
          ...this.earlierTables.get(family.tables[0])!,
          ...this.earlierTables.get(family.tables[1])!,
        ],
        refinement: meet(first.refinement, second.refinement),
      };
      this.earlierRefinements.set(family.key, earlier);
    }
    return earlier;
  }

  /**
   * Does the new release — its cohort counts, its tables released so far, and `candidate` (a table being decided)
   * — together with every earlier release let a set of 1 … k − 1 patients be derived, in any family it touches?
   */
  private disclosive(candidate: { name: TableName; cells: TableCells } | null): Disclosure {
    if (this.budget.exhausted) return 'undecided';
    const tableOf = (name: TableName): ReleasedPartition[] => {
      if (candidate?.name === name) return [candidate.cells.table];
      const released = this.candidateTables.get(name);
      return released ? [released.table] : [];
    };
    // Per unit, every table at once (`complete`; `pairs`: while its records fall into few enough atoms, else every
    // pair of tables).
    const pairs = this.coverage === 'pairs';
    const joint = new Set<Exclude<Unit, 'patients'>>();
    for (const unit of ['analyses', 'vessels'] as const) {
      if (candidate && TABLE_UNIT[candidate.name] !== unit) continue;
      if (pairs && this.jointUndecided.has(unit)) continue;
      const earlier = this.jointEarlier(unit);
      const partitions = [...this.candidateCohort[unit], ...UNIT_TABLES[unit].flatMap(tableOf)];
      const recordCount = this.patientOf[unit].length;
      if (pairs && refine(recordCount, partitions, earlier.refinement).classCount > this.maxJointAtoms)
        continue;
      const verdict = auditFamily(this.patientOf[unit], partitions, this.k, {
        maxWork: pairs ? JOINT_MAX_WORK : this.maxWork,
        earlier,
        firstFound: true,
        memo: this.memo,
        budget: this.budget,
        smallComponents: !pairs,
        disjointBases: this.disjointBases,
        componentTally: this.componentTally,
      });
      // `pairs`: a joint search that does not finish is not a verdict: the pairs below decide (and fail closed
      // themselves). The later checks of this query only add cells to the same family, so they are not tried jointly
      // again: each attempt costs its full step limit (a 600-analysis product spent 65 s of its first four queries).
      if (pairs && verdict.disclosive && verdict.reason === 'undecided') {
        this.jointUndecided.add(unit);
        continue;
      }
      joint.add(unit);
      if (verdict.disclosive) return verdict.reason === 'small-set' ? 'found' : 'undecided';
    }
    for (const family of pairs ? PAIR_FAMILIES : []) {
      if (joint.has(family.unit)) continue;
      if (candidate && !family.tables.includes(candidate.name)) continue;
      const [first, second] = family.tables;
      const earlier = this.earlierOfPair(family);
      const partitions = [...this.candidateCohort[family.unit], ...tableOf(first), ...tableOf(second)];
      const patientOf = this.patientOf[family.unit];
      const verdict = auditFamily(patientOf, partitions, this.k, {
        maxWork: this.maxWork,
        earlier,
        orderKey: earlier.orderKey,
        firstFound: true,
        memo: this.memo,
        budget: this.budget,
      });
      if (verdict.disclosive) return verdict.reason === 'small-set' ? 'found' : 'undecided';
    }
    const patients = [
      ...this.candidatePatients,
      ...[...this.candidateTables.values()].flatMap((cells) => cells.patients),
      ...(candidate?.cells.patients ?? []),
    ];
    if (!candidate || candidate.cells.patients.length > 0) {
      const earlier = this.earlierOf(PATIENTS, 'patients', () => this.earlierPatients);
      const options = {
        maxWork: this.maxWork,
        earlier,
        firstFound: true,
        memo: this.memo,
        budget: this.budget,
        smallComponents: !pairs,
        disjointBases: this.disjointBases,
        componentTally: this.componentTally,
      };
      const verdict = auditFamily(this.patientOf.patients, patients, this.k, options);
      if (verdict.disclosive) return verdict.reason === 'small-set' ? 'found' : 'undecided';
    }
    if (this.coverage === 'complete-cross') {
      // Every unit's counts against every other's, over patients (release-audit.ts auditPatientFamily).
      const unitSource = (unit: Exclude<Unit, 'patients'>) => ({
        patientOf: this.patientOf[unit],
        partitions: [
          ...this.jointEarlier(unit).partitions,
          ...this.candidateCohort[unit],
          ...UNIT_TABLES[unit].flatMap(tableOf),
        ],
      });
      const verdict = auditPatientFamily(
        this.patientOf.patients.length,
        [
          { patientOf: this.patientOf.patients, partitions: [...this.earlierPatients, ...patients] },
          unitSource('analyses'),
          unitSource('vessels'),
        ],
        this.k,
        {
          maxWork: this.maxWork,
          firstFound: true,
          memo: this.memo,
          budget: this.budget,
          smallComponents: true,
          disjointBases: true,
          componentTally: this.componentTally,
        },
      );
      if (verdict.disclosive) return verdict.reason === 'small-set' ? 'found' : 'undecided';
    }
    return false;
  }

  /**
   * CrossReleaseAudit: whether the latest refusal, suppression or withholding (cohortDisclosive, tableResolution)
   * came from a check that did not finish within its work limits (a family's steps, the query's operations) rather
   * than from a small set found.
   */
  get undecided(): boolean {
    return this.lastUndecided;
  }

  /** Operations the audit has done so far (for the bench). */
  get operations(): number {
    return this.budget.used;
  }

  /** The new release's cohort as the audit counts it (analyses, analysed vessels, linked vessels, patients). */
  members(): Readonly<Membership> {
    return this.candidate;
  }

  /** CrossReleaseAudit: is a set of 1 … k − 1 patients derivable from the cohort's counts and earlier releases? */
  cohortDisclosive(released: EvidenceResult['cohort']): boolean {
    const counted = {
      patients: count(this.candidate.patients),
      analyses: count(this.candidate.analyses),
      analysedVessels: count(this.candidate.vessels),
      linkedVessels: count(this.candidate.linked),
    };
    for (const key of Object.keys(counted) as Array<keyof typeof counted>) {
      if (counted[key] !== released[key])
        throw new Error(`evidence audit: ${key} counted ${counted[key]}, released ${released[key]}`);
    }
    const verdict = this.disclosive(null);
    this.lastUndecided = verdict === 'undecided';
    return verdict !== false;
  }

  /**
   * CrossReleaseAudit: null when the table as protected adds no derivable small set (it is then counted among the
   * new release's tables for the next ones); else a row whose suppression (tried one at a time, smallest first)
   * avoids it, or 'withhold'.
   */
  tableResolution(name: string, table: ProtectedTable): Set<string> | 'withhold' | null {
    if (table.withheld) return null;
    if (this.budget.exhausted) {
      this.lastUndecided = true;
      return 'withhold';
    }
    const tableName = name as TableName;
    if (!(tableName in TABLE_UNIT)) throw new Error(`evidence audit: unknown table ${name}`);
    const cellsOf = (rows: RowRelease) =>
      this.tableCells(tableName, this.candidate, rows, {
        stratifyBy: this.current.definition.stratifyBy,
        threshold: this.current.threshold,
      });
    const rows = protectedRows(table);
    const cells = cellsOf(rows);
    this.assertCounts(name, table, cells.table, rows);
    const whole = this.disclosive({ name: tableName, cells });
    if (!whole) {
      this.candidateTables.set(tableName, cells);
      return null;
    }
    // A suppression answers the table as checked whole; a withholding, every trial too.
    let undecided = whole === 'undecided';
    const released = table.rows
      .filter((row) => row.values !== null && row.values.some((value) => value > 0))
      .sort((a, b) => sumOf(a.values!) - sumOf(b.values!));
    for (const row of released) {
      const trial = {
        released: rows.released.filter((key) => key !== row.key),
        hidden: [...rows.hidden, row.key],
      };
      const verdict = this.disclosive({ name: tableName, cells: cellsOf(trial) });
      if (!verdict) {
        this.lastUndecided = whole === 'undecided';
        return new Set([row.key]);
      }
      undecided ||= verdict === 'undecided';
    }
    this.lastUndecided = undecided;
    return 'withhold';
  }

  /** The candidate's cells counted here must be the figures the release prints. */
  private assertCounts(
    name: string,
    table: ProtectedTable,
    partition: ReleasedPartition,
    rows: RowRelease,
  ): void {
    const counts = new Array<number>(partition.cellCount).fill(0);
    for (const cell of partition.cellOf) if (cell >= 0) counts[cell]++;
    const columns = table.columnKeys.length;
    rows.released.forEach((key, index) => {
      const values = table.rows.find((row) => row.key === key)!.values!;
      values.forEach((value, c) => {
        if (counts[index * columns + c] !== value)
          throw new Error(
            `evidence audit: ${name}/${key} counted ${counts[index * columns + c]}, released ${value}`,
          );
      });
    });
  }
}

function single(flags: Uint8Array): ReleasedPartition {
  const cellOf = new Int32Array(flags.length);
  for (let i = 0; i < flags.length; i++) cellOf[i] = flags[i] ? 0 : -1;
  return { cellOf, cellCount: 1 };
}

interface RowRelease {
  readonly released: readonly string[];
  readonly hidden: readonly string[];
}

function releasedRows(table: ReleasedTable): RowRelease | null {
  if (table.withheld || table.totals === null) return null;
  return {
    released: table.rows.filter((row) => row.values !== null).map((row) => row.key),
    hidden: table.rows.filter((row) => row.values === null).map((row) => row.key),
  };
}

function protectedRows(table: ProtectedTable): RowRelease {
  return {
    released: table.rows.filter((row) => row.values !== null).map((row) => row.key),
    hidden: table.rows.filter((row) => row.values === null).map((row) => row.key),
  };
}

/** Row key → first cell index of the row (a row spans `columns` cells); hidden rows share the last block. */
function rowCells(rows: RowRelease, columns: number): { cellOfRow: Map<string, number>; cellCount: number } {
  const cellOfRow = new Map<string, number>();
  rows.released.forEach((key, index) => cellOfRow.set(key, index * columns));
  const hiddenBlock = rows.released.length * columns;
  for (const key of rows.hidden) cellOfRow.set(key, hiddenBlock);
  return { cellOfRow, cellCount: hiddenBlock + (rows.hidden.length > 0 ? columns : 0) };
}

/** A record's cell from its row's (−2: the table has no such row — the release and the records disagree). */
function cellOfKey(cell: number, key: string, table: string): number {
  if (cell === -2) throw new Error(`evidence audit: ${table} has no row ${key}`);
  return cell;
}

function inDefinition(
  analysis: ProductAnalysisRecord,
  definition: CohortDefinition,
  highWaterMark: string,
): boolean {
  if (analysis.receivedAt > highWaterMark) return false;
  if (definition.fromMonth !== null && analysis.month < definition.fromMonth) return false;
  if (definition.toMonth !== null && analysis.month > definition.toMonth) return false;
  for (const dimension of SET_DIMENSIONS) {
    const values = definition[dimension];
    if (!values) continue;
    if (dimension === 'vessels') {
      if (!analysis.vesselNames.some((vessel) => values.includes(vessel))) return false;
    } else if (!values.includes(analysis[ATTRIBUTE_OF[dimension]])) return false;
  }
  return true;
}

const count = (flags: Uint8Array): number => flags.reduce((sum, flag) => sum + flag, 0);
const sumOf = (values: readonly number[]): number => values.reduce((sum, value) => sum + value, 0);
