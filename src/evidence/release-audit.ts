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
 * on each basis row is its value at that row's pivot, so it is one of the 2^d sums of a subset of the d basis rows.
 * The audit enumerates them (d ≤ maxEnumerationDimension) and reports the first 0/1 sum whose atoms hold 1 … k − 1
 * patients — exact, not a heuristic. When d is larger than can be enumerated the answer is "undecided", which the
 * caller treats as disclosive (fail closed).
 *
 * Arithmetic is exact modulo the prime 67,108,859 (< 2^26, so products stay below 2^53): the rank over GF(p) equals
 * the rank over the rationals unless p divides a minor of the 0/1 matrix, which for matrices of this size does not
 * happen in practice; no floating-point tolerance decides anything.
 *
 * Scope, stated in src/evidence/README.md: combinations within a family, across every release of the product.
 * Counts of different tables (the sex distribution's against the age distribution's) cross-classify records, so
 * one family over every table would make each record its own atom; those combinations are not covered.
 */

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
    const ids = new Map<number, number>();
    const stride = partition.cellCount + 1;
    const { cellOf } = partition;
    for (let i = 0; i < recordCount; i++) {
      const cell = cellOf[i];
      if (cell >= 0) inSomeCell[i] = 1;
      const key = classOf[i] * stride + (cell + 1);
      let id = ids.get(key);
      if (id === undefined) {
        id = ids.size;
        ids.set(key, id);
      }
      next[i] = id;
    }
    classOf = next;
    classCount = ids.size;
  }
  return { classOf, classCount, inSomeCell };
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

/**
 * Is a set of 1 … k − 1 patients derivable from the released cells of `partitions`? `patientOf`: per record, its
 * patient (any integer id). `earlier`: partitions already refined (`refine`), audited together with `partitions`
 * without refining them again.
 */
export function auditFamily(
  patientOf: Int32Array,
  partitions: readonly ReleasedPartition[],
  k: number,
  maxEnumerationDimension = 16,
  earlier?: { readonly partitions: readonly ReleasedPartition[]; readonly refinement: Refinement },
): FamilyVerdict {
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

  // Columns: large atoms first, then small ones. Rows: every released cell.
  const columns = [
    ...representatives.flatMap((_, atom) => (isSmall[atom] ? [] : [atom])),
    ...representatives.flatMap((_, atom) => (isSmall[atom] ? [atom] : [])),
  ];
  const firstSmallColumn = atomCount - smallAtoms;
  const rows: Float64Array[] = [];
  for (const partition of partitions) {
    const cellRows = Array.from({ length: partition.cellCount }, () => new Float64Array(atomCount));
    columns.forEach((atom, column) => {
      const cell = partition.cellOf[representatives[atom]];
      if (cell >= 0) cellRows[cell][column] = 1;
    });
    for (const row of cellRows) if (row.some((value) => value !== 0)) rows.push(row);
  }

  // Reduced row echelon form over GF(p).
  const pivotColumns: number[] = [];
  let rank = 0;
  for (let column = 0; column < atomCount && rank < rows.length; column++) {
    let pivot = -1;
    for (let r = rank; r < rows.length; r++) {
      if (rows[r][column] !== 0) {
        pivot = r;
        break;
      }
    }
    if (pivot < 0) continue;
    [rows[rank], rows[pivot]] = [rows[pivot], rows[rank]];
    const pivotRow = rows[rank];
    const inverse = inverseMod(pivotRow[column]);
    if (inverse !== 1) for (let c = column; c < atomCount; c++) pivotRow[c] = mulMod(pivotRow[c], inverse);
    for (let r = 0; r < rows.length; r++) {
      if (r === rank) continue;
      const factor = rows[r][column];
      if (factor === 0) continue;
      const target = rows[r];
      for (let c = column; c < atomCount; c++) {
        if (pivotRow[c] !== 0) target[c] = (target[c] - mulMod(factor, pivotRow[c]) + P) % P;
      }
    }
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
  if (dimension > maxEnumerationDimension) return { disclosive: true, reason: 'undecided', dimension };

  // Every subset of the basis rows, in Gray-code order (one row added or removed per step).
  const width = smallAtoms;
  const sum = new Float64Array(width);
  let smallest = Infinity;
  const total = 2 ** dimension;
  for (let step = 1; step < total; step++) {
    const flip = 31 - Math.clz32(step & -step);
    const gray = step ^ (step >> 1);
    const adding = (gray >> flip) & 1;
    const row = basis[flip];
    for (let c = 0; c < width; c++) {
      if (row[c] === 0) continue;
      sum[c] = adding ? (sum[c] + row[c]) % P : (sum[c] - row[c] + P) % P;
    }
    let binary = true;
    for (let c = 0; c < width && binary; c++) if (sum[c] !== 0 && sum[c] !== 1) binary = false;
    if (!binary) continue;
    const patients = new Set<number>();
    for (let c = 0; c < width && patients.size < k; c++) {
      if (sum[c] === 1)
        for (const patient of atomPatients[columns[firstSmallColumn + c]]) patients.add(patient);
    }
    if (patients.size > 0 && patients.size < k) smallest = Math.min(smallest, patients.size);
  }
  if (Number.isFinite(smallest)) return { disclosive: true, reason: 'small-set', patients: smallest };
  return { disclosive: false, atoms: atomCount, smallAtoms, dimension };
}
