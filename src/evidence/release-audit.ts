/**
 * Auditing releases against each other (issue 7 §2: "no combination of queries returns a cell under k"). Pure: no
 * I/O. disclosure-control.ts protects one table within one release; this module decides whether a new release,
 * together with every earlier release of the product, lets a reader derive the count of a set of 1 … k − 1 patients
 * by adding and subtracting released counts — any number of them, from any number of queries.
 *
 * The model. A *family* is one kind of released count over one kind of record: the cohort's analyses, its patients,
 * its analysed or linked vessels, or one table (the sex distribution's rows, the accuracy table's cells). Each
 * release contributes to a family a *partition*: the disjoint released cells its table puts records in (a released
 * row, or the group of its suppressed rows, whose sum the column total gives away). Every released count of the
 * family is the number of records in one cell, so what a reader can compute from them is any linear combination
 * Σ λ_c · |cell_c|. Such a combination is the count of a set T of records exactly when its indicator 1_T is in the
 * span R of the cells' indicators.
 *
 * The test. Atoms are the classes of records that lie in the same cells of every partition; every vector of R is
 * constant on atoms, so any derivable set is a union of atoms, and a derivable set of fewer than k patients can only
 * be a union of atoms that each have fewer than k patients ("small" atoms). Order the atoms large first and row-reduce
 * the cells × atoms matrix: the reduced rows whose pivot lies among the small atoms span R_S, the vectors of R that
 * vanish on every large atom. A derivable small set is a non-zero 0/1 vector of R_S; in reduced form its coefficient
 * on each basis row is its value at that row's pivot, so it is Σ s_i·row_i for some s ∈ {0, 1}^d. The search
 * (smallestBinaryCombination) finds the one with the fewest patients: it splits R_S into independent components and
 * walks each by branch and bound, a branch ending as soon as a column whose rows are all decided takes a value
 * outside {0, 1} or the patients reach the bound — exact, not a heuristic. When the search needs more than `maxWork`
 * steps the answer is "undecided", which the caller treats as disclosive (fail closed).
 *
 * Arithmetic is exact modulo the prime 67,108,859 (< 2^26, so products stay below 2^53): the rank over GF(p) equals
 * the rank over the rationals unless p divides a minor of the 0/1 matrix, which for matrices of this size does not
 * happen in practice; no floating-point tolerance decides anything.
 *
 * Scope, stated in src/evidence/README.md: a family is whatever partitions the caller puts together;
 * release-records.ts audits every table of a unit (with the cohort counts) as one family, the patient counts as
 * another, and every unit's counts together over patients as a third (auditPatientFamily); queries stored under
 * `pairs` coverage audited a unit's tables two by two.
 */
import { createHash } from 'node:crypto';

export interface ReleasedPartition {
  /** Per record of the family: the index of the released cell holding it, or −1 when no cell of this release does. */
  readonly cellOf: Int32Array;
  readonly cellCount: number;
}

export type FamilyVerdict =
  | {
      readonly disclosive: false;
      readonly atoms: number;
      readonly smallAtoms: number;
      readonly dimension: number;
    }
  | {
      readonly disclosive: true;
      readonly reason: 'small-set';
      /** Patients in the smallest derivable set found (1 … k − 1); internal, never released. */
      readonly patients: number;
    }
  | { readonly disclosive: true; readonly reason: 'undecided'; readonly dimension: number };

export const AUDIT_PRIME = 67_108_859;
/**
 * What one step of the search costs in AuditBudget operations besides the row entries it adds and the columns it
 * checks: its own bookkeeping, measured at several microseconds a step against about 10 ns an operation (a
 * 600-analysis product's query spent 104 s in 917 M operations counted without it, bench:evidence).
 */
export const STEP_OPERATIONS = 500;
/** Column steps of the search (smallestBinaryCombination) before the audit gives up and fails closed. */
export const DEFAULT_MAX_WORK = 2_000_000;
const P = AUDIT_PRIME;

function mulMod(a: number, b: number): number {
  return (a * b) % P;
}

function inverseMod(a: number): number {
  // Fermat: a^(p−2) mod p.
  let result = 1;
  let base = a % P;
  let exponent = P - 2;
  while (exponent > 0) {
    if (exponent & 1) result = mulMod(result, base);
    base = mulMod(base, base);
    exponent = Math.floor(exponent / 2);
  }
  return result;
}

const DENSE_KEYS = 1 << 22;

/** Classes of records lying in the same cells of every partition so far (in-progress atoms). */
export interface Refinement {
  readonly classOf: Int32Array;
  readonly classCount: number;
  /** Per record: 1 when some cell holds it. */
  readonly inSomeCell: Uint8Array;
}

/** The refinement by `partitions` of `base` (or of one class holding every record). */
export function refine(
  recordCount: number,
  partitions: readonly ReleasedPartition[],
  base?: Refinement,
): Refinement {
  let classOf = base ? base.classOf : new Int32Array(recordCount);
  let classCount = base ? base.classCount : 1;
  const inSomeCell = base ? Uint8Array.from(base.inSomeCell) : new Uint8Array(recordCount);
  for (const partition of partitions) {
    if (partition.cellOf.length !== recordCount) throw new RangeError('a partition must cover every record');
    const next = new Int32Array(recordCount);
    const stride = partition.cellCount + 1;
    const { cellOf } = partition;
    // Class ids by (class, cell): a dense table when it is small enough, else a map.
    const dense = classCount * stride <= DENSE_KEYS ? new Int32Array(classCount * stride).fill(-1) : null;
    const ids = dense ? null : new Map<number, number>();
    let count = 0;
    for (let i = 0; i < recordCount; i++) {
      const cell = cellOf[i];
      if (cell >= 0) inSomeCell[i] = 1;
      const key = classOf[i] * stride + (cell + 1);
      let id = dense ? dense[key] : (ids!.get(key) ?? -1);
      if (id < 0) {
        id = count++;
        if (dense) dense[key] = id;
        else ids!.set(key, id);
      }
      next[i] = id;
    }
    classOf = next;
    classCount = count;
  }
  return { classOf, classCount, inSomeCell };
}

/** The common refinement of two refinements of the same records (classes of records in the same class of each). */
export function meet(a: Refinement, b: Refinement): Refinement {
  const recordCount = a.classOf.length;
  if (b.classOf.length !== recordCount) throw new RangeError('refinements of different records');
  const classOf = new Int32Array(recordCount);
  const inSomeCell = new Uint8Array(recordCount);
  const stride = b.classCount;
  const dense = a.classCount * stride <= DENSE_KEYS ? new Int32Array(a.classCount * stride).fill(-1) : null;
  const ids = dense ? null : new Map<number, number>();
  let count = 0;
  for (let i = 0; i < recordCount; i++) {
    inSomeCell[i] = a.inSomeCell[i] | b.inSomeCell[i];
    const key = a.classOf[i] * stride + b.classOf[i];
    let id = dense ? dense[key] : (ids!.get(key) ?? -1);
    if (id < 0) {
      id = count++;
      if (dense) dense[key] = id;
      else ids!.set(key, id);
    }
    classOf[i] = id;
  }
  return { classOf, classCount: count, inSomeCell };
}

/** Atoms of the partitions: per record its atom (−1 when in no cell), and per atom one representative record. */
export function atomsOf(
  recordCount: number,
  partitions: readonly ReleasedPartition[],
  base?: Refinement,
): { atomOf: Int32Array; representatives: number[] } {
  const { classOf, classCount, inSomeCell } = refine(recordCount, partitions, base);
  // The class of records that no cell holds is in no released count: it is not an atom.
  const renumber = new Int32Array(classCount).fill(-1);
  const representatives: number[] = [];
  const atomOf = new Int32Array(recordCount);
  for (let i = 0; i < recordCount; i++) {
    if (!inSomeCell[i]) {
      atomOf[i] = -1;
      continue;
    }
    const c = classOf[i];
    if (renumber[c] < 0) {
      renumber[c] = representatives.length;
      representatives.push(i);
    }
    atomOf[i] = renumber[c];
  }
  return { atomOf, representatives };
}

/** How auditFamily works; every field is optional. */
export interface AuditOptions {
  /** Column steps of the search before the audit gives up and fails closed (default DEFAULT_MAX_WORK). */
  readonly maxWork?: number;
  /** Partitions already refined (`refine`), audited together with the new ones without refining them again. */
  readonly earlier?: { readonly partitions: readonly ReleasedPartition[]; readonly refinement: Refinement };
  /** Per record, a key ordering the small atoms' columns (see below). */
  readonly orderKey?: Float64Array;
  /** Stop at the first small set found (its size is then not necessarily the smallest). */
  readonly firstFound?: boolean;
  /** Searches already done, by content (SearchMemo): the verdict does not depend on whether it is given. */
  readonly memo?: SearchMemo;
  /** Operations the caller's whole audit may still do (AuditBudget); past it every family is undecided. */
  readonly budget?: AuditBudget;
  /**
   * Also disclosive: a connected component of R_S whose atoms hold fewer than k patients in all. Every vector of its
   * span, 0/1 or not ("|A| + 2·|B|"), is then a figure of fewer than k patients. Complete coverage sets it; queries
   * audited before it existed re-run without it.
   */
  readonly smallComponents?: boolean;
  /**
   * Before searching a component of R_S, look for a certificate that its span holds no non-zero vector, 0/1 or
   * weighted, of fewer than k patients (disjointBasesCertificate); a certified component is not searched. The
   * verdict of every check that finishes without it is unchanged (the certificate is a proof); checks it certifies
   * cost a fraction of the search, so fewer run out of work. `complete-bases` and `complete-cross` coverage set it.
   */
  readonly disjointBases?: boolean;
  /** Components of R_S certified by disjointBases, and searched, across every call given this object. */
  readonly componentTally?: ComponentTally;
}

/** How the components of R_S were decided (AuditOptions.componentTally): for the bench and the README. */
export interface ComponentTally {
  certified: number;
  searched: number;
}

/**
 * Is a set of 1 … k − 1 patients derivable from the released cells of `partitions`? `patientOf`: per record, its
 * patient (any integer id).
 */
export function auditFamily(
  patientOf: Int32Array,
  partitions: readonly ReleasedPartition[],
  k: number,
  options: AuditOptions = {},
): FamilyVerdict {
  const { earlier, orderKey, budget } = options;
  if (budget?.exhausted) return { disclosive: true, reason: 'undecided', dimension: 0 };
  const recordCount = patientOf.length;
  const { atomOf, representatives } = atomsOf(recordCount, partitions, earlier?.refinement);
  if (earlier) partitions = [...earlier.partitions, ...partitions];
  const atomCount = representatives.length;

  // Patients per atom, counted up to k; the patient ids of small atoms are kept for unions.
  const atomPatients: Array<Set<number>> = representatives.map(() => new Set<number>());
  for (let i = 0; i < recordCount; i++) {
    const atom = atomOf[i];
    if (atom < 0) continue;
    const patients = atomPatients[atom];
    if (patients.size < k) patients.add(patientOf[i]);
  }
  const isSmall = atomPatients.map((patients) => patients.size < k);
  const smallAtoms = isSmall.filter(Boolean).length;
  if (smallAtoms === 0) return { disclosive: false, atoms: atomCount, smallAtoms, dimension: 0 };

  // Columns: large atoms first, then small ones (in the order of `orderKey` of their records, when given: a column
  // order that puts atoms differing in one table's value next to each other lets the search prune early, see
  // smallestBinaryCombination). Rows: every released cell, identical cells once.
  const small = representatives.flatMap((_, atom) => (isSmall[atom] ? [atom] : []));
  if (orderKey) small.sort((a, b) => orderKey[representatives[a]] - orderKey[representatives[b]] || a - b);
  const columns = [...representatives.flatMap((_, atom) => (isSmall[atom] ? [] : [atom])), ...small];
  const firstSmallColumn = atomCount - smallAtoms;
  const rows: Float64Array[] = [];
  const seen = new Set<string>();
  for (const partition of partitions) {
    const cellColumns = Array.from({ length: partition.cellCount }, () => [] as number[]);
    columns.forEach((atom, column) => {
      const cell = partition.cellOf[representatives[atom]];
      if (cell >= 0) cellColumns[cell].push(column);
    });
    for (const cellColumn of cellColumns) {
      if (cellColumn.length === 0) continue;
      const key = cellColumn.join(',');
      if (seen.has(key)) continue;
      seen.add(key);
      const row = new Float64Array(atomCount);
      for (const column of cellColumn) row[column] = 1;
      rows.push(row);
    }
  }
  if (budget && !budget.spend((partitions.length + rows.length) * atomCount))
    return { disclosive: true, reason: 'undecided', dimension: 0 };
  const smallPatients = columns.slice(firstSmallColumn).map((atom) => [...atomPatients[atom]]);
  return reduceAndSearch(rows, firstSmallColumn, smallPatients, k, options);
}

/** Records of one unit and the released cells that count them (auditPatientFamily). */
export interface CountedRecords {
  /** Per record, its patient: an index below the family's patient count. */
  readonly patientOf: Int32Array;
  readonly partitions: readonly ReleasedPartition[];
}

/**
 * Counts of different units against each other: is a set of 1 … k − 1 *patients* derivable from released counts of
 * patients, analyses and vessels together? Each released count is Σ over patients of how many of the patient's
 * records the cell holds, so a combination Σ λ_c · count_c is Σ_p (Σ_c λ_c · w_pc) — the count of a set T of
 * patients exactly when Σ_c λ_c · w_pc is 1 on T and 0 elsewhere. Whether it is depends only on each patient's
 * *type* (which cells hold how many of its records), never on who the patient is: the atoms here are the types, the
 * matrix holds the multiplicities, and the test is auditFamily's. "Analysed vessels of site A minus analyses of site
 * A", where every analysis has one vessel but three patients' analyses have two, counts those three patients: this
 * finds it, where the per-unit families cannot (their records are disjoint, so no combination of two units' cells
 * cancels).
 * With `disjointBases`, a certified component also excludes every weighted figure of fewer than k patients.
 *
 * Not re-checked here: what the per-unit families decide (a count of a set of analyses, which a patient-level
 * vector does not see when a patient's analyses cancel each other out).
 */
export function auditPatientFamily(
  patientCount: number,
  sources: readonly CountedRecords[],
  k: number,
  options: Omit<AuditOptions, 'earlier' | 'orderKey'> = {},
): FamilyVerdict {
  const { budget } = options;
  const undecided = { disclosive: true, reason: 'undecided', dimension: 0 } as const;
  if (budget?.exhausted) return undecided;
  // Each source's records grouped by patient (counting sort).
  const grouped = sources.map(({ patientOf }) => {
    const start = new Int32Array(patientCount + 1);
    for (const patient of patientOf) start[patient + 1]++;
    for (let p = 0; p < patientCount; p++) start[p + 1] += start[p];
    const next = start.slice(0, patientCount);
    const records = new Int32Array(patientOf.length);
    patientOf.forEach((patient, record) => (records[next[patient]++] = record));
    return { start, records };
  });

  // Types: refine the patients by, per partition, the multiset of cells holding their records.
  let classOf = new Int32Array(patientCount);
  const inSomeCell = new Uint8Array(patientCount);
  let work = 0;
  const cells: number[] = [];
  for (const [s, source] of sources.entries()) {
    const { start, records } = grouped[s];
    for (const partition of source.partitions) {
      if (partition.cellOf.length !== source.patientOf.length)
        throw new RangeError('a partition must cover every record');
      const multisets = new Map<string, number>();
      const classes = new Map<number, number>();
      const next = new Int32Array(patientCount);
      for (let p = 0; p < patientCount; p++) {
        cells.length = 0;
        for (let i = start[p]; i < start[p + 1]; i++) {
          const cell = partition.cellOf[records[i]];
          if (cell >= 0) cells.push(cell);
        }
        work += 1 + start[p + 1] - start[p];
        let multiset = 0;
        if (cells.length > 0) {
          inSomeCell[p] = 1;
          const key = cells.sort((a, b) => a - b).join(',');
          multiset = multisets.get(key) ?? multisets.size + 1;
          multisets.set(key, multiset);
        }
        const key = classOf[p] * (patientCount + 1) + multiset;
        let id = classes.get(key);
        if (id === undefined) classes.set(key, (id = classes.size));
        next[p] = id;
      }
      classOf = next;
    }
  }
  if (budget && !budget.spend(work)) return undecided;

  // Atoms: the types of patients some cell counts; large ones (≥ k patients) first in the columns.
  const members = new Map<number, number[]>();
  for (let p = 0; p < patientCount; p++) {
    if (!inSomeCell[p]) continue;
    const list = members.get(classOf[p]);
    if (list) list.push(p);
    else members.set(classOf[p], [p]);
  }
  const atoms = [...members.values()];
  const columns = [...atoms.filter((list) => list.length >= k), ...atoms.filter((list) => list.length < k)];
  const atomCount = columns.length;
  const firstSmallColumn = columns.findIndex((list) => list.length < k);
  if (firstSmallColumn < 0) return { disclosive: false, atoms: atomCount, smallAtoms: 0, dimension: 0 };

  // Rows: each released cell, its entry in a column the multiplicity of the type (its first patient's records).
  const rows: Float64Array[] = [];
  const seen = new Set<string>();
  let rowCount = 0;
  for (const [s, source] of sources.entries()) {
    const { start, records } = grouped[s];
    for (const partition of source.partitions) {
      const cellRows = Array.from({ length: partition.cellCount }, () => new Float64Array(atomCount));
      const cellColumns = Array.from({ length: partition.cellCount }, () => [] as number[]);
      columns.forEach((list, column) => {
        const p = list[0];
        for (let i = start[p]; i < start[p + 1]; i++) {
          const cell = partition.cellOf[records[i]];
          if (cell < 0) continue;
          if (cellRows[cell][column]++ === 0) cellColumns[cell].push(column);
        }
      });
      rowCount += partition.cellCount;
      cellRows.forEach((row, cell) => {
        const key = cellColumns[cell].map((column) => `${column}:${row[column]}`).join(',');
        if (key === '' || seen.has(key)) return;
        seen.add(key);
        rows.push(row);
      });
    }
  }
  if (budget && !budget.spend((rowCount + rows.length) * atomCount)) return undecided;
  return reduceAndSearch(rows, firstSmallColumn, columns.slice(firstSmallColumn), k, options);
}

/**
 * The test of auditFamily on a built matrix: `rows` (released cells) over the atoms' columns, large atoms first and
 * small ones from `firstSmallColumn` on, `smallPatients` the patients of each small column's atom. Row-reduces over
 * GF(p) (the rows left after the large columns span R_S) and searches R_S.
 */
function reduceAndSearch(
  rows: Float64Array[],
  firstSmallColumn: number,
  smallPatients: ReadonlyArray<readonly number[]>,
  k: number,
  options: AuditOptions,
): FamilyVerdict {
  const { maxWork = DEFAULT_MAX_WORK, budget } = options;
  const atomCount = firstSmallColumn + smallPatients.length;
  const smallAtoms = smallPatients.length;
  const undecided = { disclosive: true, reason: 'undecided', dimension: 0 } as const;
  // Echelon form over GF(p), each pivot row applied through its non-zero entries only: forward elimination on the
  // large atoms' columns (the rows left over vanish on every large atom and span R_S), then the reduced form of
  // those rows on the small atoms' columns, which the search needs.
  const pivotColumns: number[] = [];
  let rank = 0;
  let smallStart = rows.length;
  const nonZero = new Int32Array(atomCount);
  for (let column = 0; column < atomCount && rank < rows.length; column++) {
    if (column === firstSmallColumn) smallStart = rank;
    let pivot = -1;
    let scanned = 0;
    for (let r = rank; r < rows.length; r++) {
      scanned++;
      if (rows[r][column] !== 0) {
        pivot = r;
        break;
      }
    }
    if (pivot < 0) {
      if (budget && !budget.spend(scanned)) return undecided;
      continue;
    }
    [rows[rank], rows[pivot]] = [rows[pivot], rows[rank]];
    const pivotRow = rows[rank];
    const inverse = inverseMod(pivotRow[column]);
    if (inverse !== 1) for (let c = column; c < atomCount; c++) pivotRow[c] = mulMod(pivotRow[c], inverse);
    let nonZeros = 0;
    for (let c = column; c < atomCount; c++) if (pivotRow[c] !== 0) nonZero[nonZeros++] = c;
    let updates = 0;
    for (let r = column < firstSmallColumn ? rank + 1 : smallStart; r < rows.length; r++) {
      if (r === rank) continue;
      const factor = rows[r][column];
      if (factor === 0) continue;
      const target = rows[r];
      for (let j = 0; j < nonZeros; j++) {
        const c = nonZero[j];
        target[c] = (target[c] - mulMod(factor, pivotRow[c]) + P) % P;
      }
      updates += nonZeros;
    }
    if (budget && !budget.spend(scanned + nonZeros + updates)) return undecided;
    pivotColumns.push(column);
    rank++;
  }

  // Basis of R_S: the reduced rows whose pivot is a small atom (they vanish on every large atom).
  const basis: Float64Array[] = [];
  pivotColumns.forEach((column, r) => {
    if (column >= firstSmallColumn) basis.push(rows[r].subarray(firstSmallColumn));
  });
  const dimension = basis.length;
  if (dimension === 0) return { disclosive: false, atoms: atomCount, smallAtoms, dimension };
  const found = smallestBinaryCombination(basis, smallPatients, k, maxWork, options);
  if (found === 'undecided') return { disclosive: true, reason: 'undecided', dimension };
  if (found < k) return { disclosive: true, reason: 'small-set', patients: found };
  return { disclosive: false, atoms: atomCount, smallAtoms, dimension };
}

/**
 * The fewest patients of a non-empty 0/1 vector in the span of `basis` (reduced row echelon form over GF(p): row i
 * is 1 at column pivots[i], pivots increasing, and 0 at every other pivot column and before its own), if under
 * `bound`; otherwise `bound`. `patientsOf[c]`: the patients of column c's atom. Exact; 'undecided' once more than
 * `maxWork` column steps were needed.
 *
 * Two facts make this feasible where the 2^d enumeration was not. (1) The span splits into the connected
 * components of the rows' supports (rows sharing a non-zero column), and the restriction of a 0/1 vector of the span
 * to one component is again one, with a subset of its patients: the smallest set lies within one component. For a
 * matrix in reduced form these components are those of its column matroid, the finest such split. (2) A 0/1 vector
 * x of the span is Σ x[p_i]·row_i, and row_i is 0 before p_i, so walking the columns left to right and choosing
 * x[p_i] at each pivot, every other column's value is fixed by the choices already made: a value outside {0, 1}
 * or a patient count reaching the bound ends the branch there (depth-first branch and bound).
 */
export function smallestBinaryCombination(
  basis: readonly Float64Array[],
  patientsOf: ReadonlyArray<readonly number[]>,
  bound: number,
  maxWork: number,
  options: Pick<
    AuditOptions,
    'firstFound' | 'memo' | 'budget' | 'smallComponents' | 'disjointBases' | 'componentTally'
  > = {},
): number | 'undecided' {
  // smallComponents: a component of fewer than `bound` patients counts as found, with its patients.
  const {
    firstFound = false,
    memo,
    budget,
    smallComponents = false,
    disjointBases = false,
    componentTally,
  } = options;
  const d = basis.length;
  const width = patientsOf.length;
  // Union–find over rows: rows with a non-zero in the same column are in one component.
  const parent = Int32Array.from({ length: d }, (_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]];
    return i;
  };
  const firstRowOfColumn = new Int32Array(width).fill(-1);
  for (let r = 0; r < d; r++) {
    const row = basis[r];
    for (let c = 0; c < width; c++) {
      if (row[c] === 0) continue;
      const first = firstRowOfColumn[c];
      if (first < 0) firstRowOfColumn[c] = r;
      else parent[find(r)] = find(first);
    }
  }
  const components = new Map<number, number[]>();
  for (let r = 0; r < d; r++) {
    const root = find(r);
    const members = components.get(root);
    if (members) members.push(r);
    else components.set(root, [r]);
  }

  let patientIds = 0;
  const patientIndex = new Map<number, number>();
  const localPatients = patientsOf.map((patients) =>
    Int32Array.from(patients, (patient) => {
      let index = patientIndex.get(patient);
      if (index === undefined) {
        index = patientIds++;
        patientIndex.set(patient, index);
      }
      return index;
    }),
  );
  const patientCount = new Int32Array(patientIds);
  let distinct = 0;
  let best = bound;
  let work = 0;
  let stopped = false;

  for (const rowsOfComponent of components.values()) {
    // The component's columns; its rows as sparse vectors over them, with the rows non-zero in each column.
    const columnSet = new Set<number>();
    for (const r of rowsOfComponent) {
      const row = basis[r];
      for (let c = 0; c < width; c++) if (row[c] !== 0) columnSet.add(c);
    }
    const cols = [...columnSet].sort((a, b) => a - b);
    if (smallComponents) {
      const componentPatients = new Set<number>();
      for (const c of cols) for (const patient of localPatients[c]) componentPatients.add(patient);
      if (budget && !budget.spend(cols.length)) return 'undecided';
      if (componentPatients.size < best) {
        best = componentPatients.size;
        if (firstFound) break;
        continue;
      }
    }
    const local = new Map(cols.map((c, i) => [c, i]));
    const n = cols.length;
    const m = rowsOfComponent.length;
    const rowIndex: Int32Array[] = [];
    const rowValue: Float64Array[] = [];
    const rowsOfColumn = cols.map(() => [] as number[]);
    rowsOfComponent.forEach((r, i) => {
      const indices: number[] = [];
      const values: number[] = [];
      const row = basis[r];
      for (const c of cols) {
        if (row[c] !== 0) {
          const at = local.get(c)!;
          indices.push(at);
          values.push(row[c]);
          rowsOfColumn[at].push(i);
        }
      }
      rowIndex.push(Int32Array.from(indices));
      rowValue.push(Float64Array.from(values));
    });

    // Order of decisions: greedily the row that completes the most columns (every row non-zero there decided),
    // so that values are checked as early as possible. Columns completed by each decision, in that order.
    const open = Int32Array.from(rowsOfColumn, (rows) => rows.length);
    const decided = new Uint8Array(m);
    // score[i]: columns of row i whose only undecided row is i (kept up to date as rows are decided).
    const score = new Int32Array(m);
    for (let at = 0; at < n; at++) if (open[at] === 1) score[rowsOfColumn[at][0]]++;
    const order: number[] = [];
    const completes: Int32Array[] = [];
    for (let step = 0; step < m; step++) {
      let bestRow = -1;
      for (let i = 0; i < m; i++) if (!decided[i] && (bestRow < 0 || score[i] > score[bestRow])) bestRow = i;
      decided[bestRow] = 1;
      order.push(bestRow);
      const done: number[] = [];
      for (const at of rowIndex[bestRow]) {
        const left = --open[at];
        if (left === 0) done.push(at);
        else if (left === 1) for (const i of rowsOfColumn[at]) if (!decided[i]) score[i]++;
      }
      completes.push(Int32Array.from(done));
    }

    const sum = new Float64Array(n);
    const atomPatients = cols.map((c) => localPatients[c]);
    // Operations of this component's search (row entries added, completed columns checked), for the budget.
    let operations = 0;
    const operationLimit = budget ? budget.remaining : Infinity;
    const addRow = (i: number, sign: 1 | -1) => {
      const indices = rowIndex[i];
      const values = rowValue[i];
      operations += indices.length;
      for (let j = 0; j < indices.length; j++) {
        const at = indices[j];
        sum[at] = sign === 1 ? (sum[at] + values[j]) % P : (sum[at] - values[j] + P) % P;
      }
    };
    const ones: number[] = [];
    /** Checks the columns completed at `step`: false when one is outside {0, 1} or the patients reach the bound. */
    const check = (step: number): boolean => {
      operations += completes[step].length;
      for (const at of completes[step]) {
        const value = sum[at];
        if (value === 0) continue;
        if (value !== 1) return false;
        for (const p of atomPatients[at]) if (patientCount[p]++ === 0) distinct++;
        ones.push(at);
        if (distinct >= best) return false;
      }
      return true;
    };
    const uncheck = (mark: number) => {
      while (ones.length > mark) {
        for (const p of atomPatients[ones.pop()!]) if (--patientCount[p] === 0) distinct--;
      }
    };

    // Depth-first over the rows in that order: row chosen (1) or not (0), then its completed columns checked.
    const search = (step: number, chosen: number): boolean => {
      if (stopped) return true;
      operations += STEP_OPERATIONS;
      if (++work > maxWork || operations > operationLimit) return false;
      if (step === m) {
        if (chosen > 0 && distinct < best) {
          best = distinct;
          stopped = firstFound;
        }
        return true;
      }
      const row = order[step];
      const mark = ones.length;
      addRow(row, 1);
      let finished = true;
      if (check(step)) finished = search(step + 1, chosen + 1);
      uncheck(mark);
      addRow(row, -1);
      if (!finished) return false;
      if (check(step)) finished = search(step + 1, chosen);
      uncheck(mark);
      return finished;
    };
    const key = memo?.keyOf(best, firstFound, rowIndex, rowValue, atomPatients, disjointBases);
    const known = key === undefined ? undefined : memo!.get(key);
    if (known) {
      // The same search from the same state: it took `known.work` steps and `known.operations` operations and found
      // `known.found`. Charging both keeps the fail-closed limits where the search itself would have hit them.
      work += known.work;
      if (work > maxWork) return 'undecided';
      if (budget && !budget.spend(known.operations)) return 'undecided';
      if (componentTally) componentTally[known.certified ? 'certified' : 'searched']++;
      if (known.found !== null) {
        best = known.found;
        stopped = firstFound;
      }
    } else {
      const workBefore = work;
      const bestBefore = best;
      let certified = false;
      if (disjointBases) {
        const certificate = disjointBasesCertificate(rowIndex, rowValue, atomPatients, best, operationLimit);
        operations += certificate.operations;
        if (certificate.certified === 'undecided') {
          budget?.spend(operations);
          return 'undecided';
        }
        certified = certificate.certified;
      }
      if (!certified && !search(0, 0)) {
        // Stopped by a limit: what it did is spent (past the operations, the budget is then exhausted).
        budget?.spend(operations);
        return 'undecided';
      }
      // Counters only grow, so a limit passed at the last step is a limit passed: undecided, as with the memo.
      if (budget && !budget.spend(operations)) return 'undecided';
      if (componentTally) componentTally[certified ? 'certified' : 'searched']++;
      if (key !== undefined)
        memo!.set(key, {
          work: work - workBefore,
          operations,
          found: best < bestBefore ? best : null,
          certified,
        });
    }
    if (stopped) break;
  }
  return best;
}

/**
 * A proof, when one is found, that no non-zero vector of a component's span — a 0/1 vector or any weighted
 * combination — has fewer than `bound` patients on its support; `false` is no proof either way, `undecided` is past
 * `operationLimit`. `rowIndex`/`rowValue`: the component's rows (reduced, so independent; GF(p)), sparse over its
 * columns; `columnPatients`: the patients of each column's atom.
 *
 * Why it holds. A vector y·R of the span that is zero on every column of a basis B of the column space has y ⟂ B,
 * so y = 0: the support of a non-zero vector holds a column of every basis (matroid terms: a cocircuit meets every
 * basis). Given bases B_1 … B_q whose patients are pairwise disjoint, the support therefore holds one atom of each,
 * and these atoms share no patient: at least Σ_t min{patients of an atom of B_t} patients. When that sum reaches
 * `bound`, nothing of fewer than `bound` patients is derivable from this component, by adding and subtracting or by
 * any weights — which closes, for the component, the gap the 0/1 search leaves (src/evidence/README.md).
 *
 * Too few bases for that sum (fewer than k times as many columns as rows, with atoms of one patient): the
 * Brouwer–Zimmermann bound below, which needs four or five.
 *
 * The bases are found greedily (columns by decreasing patients, each kept when independent of the basis so far and
 * free of the patients of earlier bases), so a packing may exist that this misses: then the 0/1 search decides as
 * without it. The large components of a well-populated product are certified by the bases alone — exactly those
 * whose 0/1 search runs out of work (a 56 × 4,420 component of bench:evidence spent the whole 2,000,000,000
 * operations of a query, undecided).
 */
export function disjointBasesCertificate(
  rowIndex: readonly Int32Array[],
  rowValue: readonly Float64Array[],
  columnPatients: readonly Int32Array[],
  bound: number,
  operationLimit = Infinity,
): { certified: boolean | 'undecided'; operations: number } {
  const m = rowIndex.length;
  const n = columnPatients.length;
  let operations = n;
  // Cheap necessary condition: at most ⌊n / m⌋ disjoint bases, each adding at most the largest atom's patients.
  let largestAtom = 0;
  for (const patients of columnPatients) largestAtom = Math.max(largestAtom, patients.length);
  if (m === 0 || Math.floor(n / m) * largestAtom < bound) return { certified: false, operations };
  const columnRows = columnPatients.map(() => [] as number[]);
  const columnValues = columnPatients.map(() => [] as number[]);
  rowIndex.forEach((indices, row) =>
    indices.forEach((at, j) => {
      columnRows[at].push(row);
      columnValues[at].push(rowValue[row][j]);
    }),
  );
  operations += columnRows.reduce((sum, rows) => sum + rows.length, 0);
  let patientLimit = 0;
  for (const patients of columnPatients)
    for (const p of patients) patientLimit = Math.max(patientLimit, p + 1);
  const vector = new Float64Array(m);
  // Atoms of more patients first: a basis adds its smallest atom's patients to the bound, so bases built of large
  // atoms prove more (bench:evidence, 5,000 analyses, 10 queries of three tables, before the Brouwer–Zimmermann
  // step below: 91 of 107 components certified against 81 in column order).
  const columnOrder = Array.from({ length: n }, (_, at) => at).sort(
    (a, b) => columnPatients[b].length - columnPatients[a].length || a - b,
  );
  /**
   * Bases found greedily, their patients pairwise disjoint — and, when `strict`, every atom's patients disjoint from
   * every other's, within a basis too — until `enough` says the bases so far prove the bound, or no further basis
   * can be completed. 'undecided' past the operation limit.
   */
  const packBases = (strict: boolean, enough: (bases: number[][]) => boolean): number[][] | 'undecided' => {
    const patientUsed = new Uint8Array(patientLimit);
    const bases: number[][] = [];
    while (!enough(bases)) {
      // One basis, in echelon form: each vector 1 at its pivot and 0 at the pivots of those before it.
      const basisVectors: Float64Array[] = [];
      const pivots: number[] = [];
      const members: number[] = [];
      for (let position = 0; position < n && basisVectors.length < m; position++) {
        const at = columnOrder[position];
        const patients = columnPatients[at];
        if (patients.some((p) => patientUsed[p] === 1)) continue;
        vector.fill(0);
        columnRows[at].forEach((row, j) => (vector[row] = columnValues[at][j]));
        operations += m + basisVectors.length;
        for (let b = 0; b < basisVectors.length; b++) {
          const factor = vector[pivots[b]];
          if (factor === 0) continue;
          const basisVector = basisVectors[b];
          for (let i = 0; i < m; i++)
            if (basisVector[i] !== 0) vector[i] = (vector[i] - mulMod(factor, basisVector[i]) + P) % P;
          operations += m;
        }
        if (operations > operationLimit) return 'undecided';
        const pivot = vector.findIndex((value) => value !== 0);
        if (pivot < 0) continue;
        const inverse = inverseMod(vector[pivot]);
        basisVectors.push(vector.map((value) => mulMod(value, inverse)));
        pivots.push(pivot);
        members.push(at);
        if (strict) for (const p of patients) patientUsed[p] = 1;
        operations += m;
      }
      if (basisVectors.length < m) break;
      for (const at of members) for (const p of columnPatients[at]) patientUsed[p] = 1;
      bases.push(members);
    }
    return bases;
  };
  const smallestAtoms = (basis: number[], count: number) =>
    basis
      .map((at) => columnPatients[at].length)
      .sort((a, b) => a - b)
      .slice(0, count)
      .reduce((sum, patients) => sum + patients, 0);

  // First: Σ_t (smallest atom of B_t) ≥ bound.
  const provesAlone = (bases: number[][]) =>
    bases.reduce((sum, basis) => sum + smallestAtoms(basis, 1), 0) >= bound;
  const loose = packBases(false, provesAlone);
  if (loose === 'undecided') return { certified: 'undecided', operations };
  if (provesAlone(loose)) return { certified: true, operations };

  // Else, Brouwer–Zimmermann (the minimum-distance algorithm of coding theory, on the span as a code over GF(p)).
  // With bases whose atoms all have disjoint patients, a non-zero vector has at least one atom of each basis in its
  // support; call the number it has on basis B_t its weight there. Choose w_t ∈ {1, 2} per basis and count the support
  // of every vector whose weight on some B_t is at most w_t — on the span's form that is the identity on B_t
  // (R_B⁻¹ · R), the rows (weight 1) and, for w_t = 2, the best multiple of one row added to another. Every other
  // vector has more than w_t atoms of every B_t: at least Σ_t (w_t + 1 smallest atoms of B_t) patients. A basis of at
  // most w_t atoms leaves no other vector.
  const leftOver = (basis: number[], weight: number) =>
    m <= weight ? Infinity : smallestAtoms(basis, weight + 1);
  const strict = packBases(
    true,
    (bases) => bases.reduce((sum, basis) => sum + leftOver(basis, 2), 0) >= bound,
  );
  if (strict === 'undecided') return { certified: 'undecided', operations };
  const weights = strict.map(() => 1);
  const lowerBound = () => strict.reduce((sum, basis, t) => sum + leftOver(basis, weights[t]), 0);
  for (let t = 0; t < strict.length && lowerBound() < bound; t++) weights[t] = 2;
  if (lowerBound() < bound) return { certified: false, operations };
  const dense = rowIndex.map((indices, row) => {
    const values = new Float64Array(n);
    indices.forEach((at, j) => (values[at] = rowValue[row][j]));
    return values;
  });
  // Patients of a support, counted with a per-count stamp, and per patient how many columns of a support hold it.
  const stamp = new Int32Array(patientLimit).fill(-1);
  const holders = new Int32Array(patientLimit);
  let stampId = 0;
  for (const [t, basis] of strict.entries()) {
    // Gauss–Jordan on the columns of the basis: row i becomes the vector that is 1 on basis[i] and 0 on the rest.
    const rows = dense.map((values) => Float64Array.from(values));
    basis.forEach((at, i) => {
      let pivot = i;
      while (pivot < m && rows[pivot][at] === 0) pivot++;
      if (pivot === m) throw new Error('a basis column is dependent on the others');
      [rows[i], rows[pivot]] = [rows[pivot], rows[i]];
      const inverse = inverseMod(rows[i][at]);
      for (let c = 0; c < n; c++) rows[i][c] = mulMod(rows[i][c], inverse);
      for (let r = 0; r < m; r++) {
        const factor = rows[r][at];
        if (r === i || factor === 0) continue;
        for (let c = 0; c < n; c++) rows[r][c] = (rows[r][c] - mulMod(factor, rows[i][c]) + P) % P;
      }
      operations += (m + 1) * n;
    });
    for (const row of rows) {
      stampId++;
      let patients = 0;
      for (let c = 0; c < n && patients < bound; c++) {
        if (row[c] === 0) continue;
        for (const p of columnPatients[c]) {
          if (stamp[p] === stampId) continue;
          stamp[p] = stampId;
          patients++;
        }
      }
      operations += n;
      if (patients < bound) return { certified: false, operations };
    }
    if (weights[t] === 2) {
      // row_i + λ·row_j (λ ≠ 0): a column non-zero in one of them only is always in the support; one non-zero in both
      // drops out for λ = −row_i/row_j alone. So the smallest support is the union's, less the columns of the λ that
      // takes away the most patients — each λ tried, its columns' patients removed where no other column holds them.
      const byLambda = new Map<number, number[]>();
      // −1/row_j[c], once per entry rather than once per pair (an inverse is some fifty multiplications).
      const negatedInverses = rows.map((row) =>
        row.map((value) => (value === 0 ? 0 : P - inverseMod(value))),
      );
      for (let i = 0; i < m; i++) {
        for (let j = i + 1; j < m; j++) {
          const first = rows[i];
          const second = rows[j];
          const union: number[] = [];
          byLambda.clear();
          for (let c = 0; c < n; c++) {
            if (first[c] === 0 && second[c] === 0) continue;
            union.push(c);
            if (first[c] === 0 || second[c] === 0) continue;
            // λ = −first/second, in GF(p).
            const lambda = mulMod(first[c], negatedInverses[j][c]);
            const group = byLambda.get(lambda);
            if (group) group.push(c);
            else byLambda.set(lambda, [c]);
          }
          operations += n + union.length * (byLambda.size + 1);
          let unionPatients = 0;
          for (const c of union) for (const p of columnPatients[c]) if (holders[p]++ === 0) unionPatients++;
          let smallest = unionPatients;
          for (const group of byLambda.values()) {
            let removed = 0;
            for (const c of group) for (const p of columnPatients[c]) if (--holders[p] === 0) removed++;
            smallest = Math.min(smallest, unionPatients - removed);
            for (const c of group) for (const p of columnPatients[c]) holders[p]++;
          }
          for (const c of union) for (const p of columnPatients[c]) holders[p]--;
          if (smallest < bound) return { certified: false, operations };
          if (operations > operationLimit) return { certified: 'undecided', operations };
        }
      }
    }
    if (operations > operationLimit) return { certified: 'undecided', operations };
  }
  return { certified: true, operations };
}

/** A finished search in the memo: its steps and operations, and the smallest set it found below its bound, if any. */
interface MemoEntry {
  readonly work: number;
  readonly operations: number;
  readonly found: number | null;
  /** The component was certified (disjointBasesCertificate), not searched. */
  readonly certified: boolean;
}

/**
 * Searches of smallestBinaryCombination by content. The audit of one query checks the same families several times
 * (its cohort, then each table as it is released, then each trial suppression), and the components of R_S that the
 * new cells do not touch come out identical each time — the reduced form of a span over a fixed column order is
 * unique. A component's search depends only on its rows, on which columns share patients, on the bound it starts
 * with, on whether it stops at the first set found and on whether it looks for a certificate first; the key is a
 * digest of exactly these, with patients renamed in order of first appearance. Only finished searches are kept, with
 * their steps and operations, which a hit charges to the work limits: a verdict is the same with or without the
 * memo, so a re-run reproduces it either way.
 */
export class SearchMemo {
  private readonly entries = new Map<string, MemoEntry>();
  /** Look-ups answered from the memo (the unit spec checks that it is used). */
  hits = 0;

  constructor(private readonly maxEntries = 100_000) {}

  keyOf(
    bound: number,
    firstFound: boolean,
    rowIndex: readonly Int32Array[],
    rowValue: readonly Float64Array[],
    columnPatients: readonly Int32Array[],
    disjointBases = false,
  ): string {
    const digest = createHash('sha256');
    const rule = (firstFound ? 1 : 0) + (disjointBases ? 2 : 0);
    digest.update(Float64Array.of(bound, rule, rowIndex.length, columnPatients.length));
    for (let i = 0; i < rowIndex.length; i++) {
      digest.update(Int32Array.of(rowIndex[i].length));
      digest.update(rowIndex[i]);
      digest.update(rowValue[i]);
    }
    const renamed = new Map<number, number>();
    for (const patients of columnPatients) {
      const names = Int32Array.from(patients, (patient) => {
        let name = renamed.get(patient);
        if (name === undefined) renamed.set(patient, (name = renamed.size));
        return name;
      }).sort();
      digest.update(Int32Array.of(names.length));
      digest.update(names);
    }
    return digest.digest('base64');
  }

  get(key: string): MemoEntry | undefined {
    const entry = this.entries.get(key);
    if (entry) this.hits++;
    return entry;
  }

  set(key: string, entry: MemoEntry): void {
    // Oldest first out: a bounded memory for a long-lived memo.
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, entry);
  }
}

/**
 * The work one query's whole audit may do, in operations: a matrix entry updated by the elimination, a row entry
 * added or a completed column checked by the search. Counted, not timed, so that a query and its re-run reach the
 * limit at the same point and get the same outcome on any machine, loaded or not. Past the limit every family is
 * undecided, i.e. disclosive: the audit fails closed rather than run without bound (its cost grows with the
 * product's releases, src/evidence/README.md).
 */
export class AuditBudget {
  private spent = 0;

  constructor(readonly limit: number) {}

  get used(): number {
    return this.spent;
  }

  get remaining(): number {
    return Math.max(0, this.limit - this.spent);
  }

  get exhausted(): boolean {
    return this.spent > this.limit;
  }

  /** Records `operations`; false once the total passes the limit. */
  spend(operations: number): boolean {
    this.spent += operations;
    return this.spent <= this.limit;
  }
}
