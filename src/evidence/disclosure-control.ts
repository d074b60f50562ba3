/**
 * Statistical disclosure control of one table of counts (issue 7 §2): primary suppression of small cells and
 * complementary (secondary) suppression, so that nothing released in the table — its cells, its column totals,
 * the sums those imply — lets a reader conclude that a suppressed cell is below k. Pure: no I/O, no Nest.
 *
 * The table: rows are the categories of one dimension (sexes, sites, strata of the accuracy table), columns the
 * counted quantities (one column for a distribution; TP, FP, TN, FN for accuracy). Each cell holds its count and
 * the ids of the patients that contribute to it; ids never leave this function — only counts are released.
 *
 * Rules (k = FW_EVIDENCE_MIN_CELL, 11 by default):
 *  1. Primary. A cell is sensitive when 1 ≤ contributing patients < k; a row is sensitive when one of its cells
 *     is, or when the row as a whole has 1 … k − 1 patients, or when the caller flags it (differencing against
 *     an earlier release, see evidence-differencing.ts). Zero cells are not sensitive and are released as 0.
 *  2. A column total (the margin over every row) with 1 … k − 1 patients withholds the whole table: its rows
 *     cannot be protected when their sum is itself small.
 *  3. Whole rows are suppressed, never single cells: a suppressed row hides every cell and the row's total, so the
 *     only facts a reader has about the suppressed rows S are, per column c, their sum C_c = total_c − Σ released
 *     (and that each suppressed row is non-empty, since an empty row is released as zeros).
 *  4. Complementary suppression. S must hold 0 or ≥ 2 rows, and for every column C_c = 0 or (C_c has ≥ k
 *     contributing patients and C_c ≥ k + |S| − 1). Rows are added to S greedily — the released row that repairs
 *     the most deficient columns, then the smallest — until that holds; if it cannot, the whole table is withheld.
 *
 * Guarantee (proved in the spec by enumerating every table consistent with the release): for every suppressed
 * cell, the values a reader cannot rule out include one ≥ k. Either all suppressed cells of the column are 0
 * (C_c = 0; zeros are not protected), or any one of them can be as large as C_c − (|S| − 1) ≥ k (each other
 * suppressed row keeping the 1 it must have). So no release lets a reader tell a suppressed cell of 1 … k − 1
 * from one of k or more.
 */

export interface CountCell {
  readonly value: number;
  /** Ids of the patients behind the count (any stable id; never released). */
  readonly contributors: readonly string[];
}

export interface CountTable {
  readonly rowKeys: readonly string[];
  readonly columnKeys: readonly string[];
  /** cells[row][column]. */
  readonly cells: ReadonlyArray<ReadonlyArray<CountCell>>;
}

export type SuppressionReason = 'primary' | 'complementary' | 'differencing' | 'table' | 'audit-limit';

export interface ProtectedRow {
  readonly key: string;
  /** null where suppressed. */
  readonly values: ReadonlyArray<number> | null;
  readonly suppressed: SuppressionReason | null;
}

export interface ProtectedTable {
  readonly columnKeys: readonly string[];
  /** Column totals over every row; null when the table is withheld. */
  readonly totals: ReadonlyArray<number> | null;
  readonly rows: readonly ProtectedRow[];
  /** Why the whole table is withheld, or null. */
  readonly withheld: 'small-total' | 'cannot-protect' | 'audit-limit' | null;
  /** Per column, the sum of the suppressed rows (what a reader can derive); null when the table is withheld. */
  readonly suppressedSums: ReadonlyArray<number> | null;
}

export interface ProtectionOptions {
  readonly k: number;
  /** Rows the caller must treat as sensitive (e.g. they would difference against an earlier release). */
  readonly extraSensitiveRows?: ReadonlySet<string>;
}

function distinctCount(lists: ReadonlyArray<readonly string[]>): number {
  const seen = new Set<string>();
  for (const list of lists) for (const id of list) seen.add(id);
  return seen.size;
}

const isSmall = (patients: number, k: number) => patients >= 1 && patients < k;

export function protectTable(table: CountTable, options: ProtectionOptions): ProtectedTable {
  const { k } = options;
  if (!(Number.isInteger(k) && k >= 2)) throw new RangeError(`k must be an integer ≥ 2, got ${k}`);
  const rowCount = table.rowKeys.length;
  const columnCount = table.columnKeys.length;
  if (table.cells.length !== rowCount || table.cells.some((row) => row.length !== columnCount)) {
    throw new RangeError('cells must be rows × columns');
  }
  for (const row of table.cells) {
    for (const cell of row) {
      if (!(Number.isInteger(cell.value) && cell.value >= 0)) throw new RangeError(`bad count ${cell.value}`);
      if ((cell.value === 0) !== (cell.contributors.length === 0)) {
        throw new RangeError('a cell has contributors exactly when its count is positive');
      }
    }
  }

  const totals = table.columnKeys.map((_, c) => table.cells.reduce((sum, row) => sum + row[c].value, 0));
  const withhold = (withheld: 'small-total' | 'cannot-protect'): ProtectedTable => ({
    columnKeys: table.columnKeys,
    totals: null,
    rows: table.rowKeys.map((key) => ({ key, values: null, suppressed: 'table' })),
    withheld,
    suppressedSums: null,
  });

  const columnPatients = table.columnKeys.map((_, c) =>
    distinctCount(table.cells.map((row) => row[c].contributors)),
  );
  if (columnPatients.some((patients) => isSmall(patients, k))) return withhold('small-total');

  const reasons: Array<SuppressionReason | null> = table.cells.map((row, r) => {
    const primary =
      row.some((cell) => isSmall(cell.contributors.length, k)) ||
      isSmall(distinctCount(row.map((cell) => cell.contributors)), k);
    if (primary) return 'primary';
    return options.extraSensitiveRows?.has(table.rowKeys[r]) ? 'differencing' : null;
  });

  const suppressed = () => reasons.flatMap((reason, r) => (reason ? [r] : []));
  const deficientColumns = (rows: number[]): number[] => {
    if (rows.length === 0) return [];
    return table.columnKeys.flatMap((_, c) => {
      const sum = rows.reduce((acc, r) => acc + table.cells[r][c].value, 0);
      if (sum === 0) return [];
      const patients = distinctCount(rows.map((r) => table.cells[r][c].contributors));
      return patients >= k && sum >= k + rows.length - 1 ? [] : [c];
    });
  };
  const rowTotal = (r: number) => table.cells[r].reduce((sum, cell) => sum + cell.value, 0);

  for (;;) {
    const rows = suppressed();
    const deficient = deficientColumns(rows);
    if (rows.length === 0 || (rows.length >= 2 && deficient.length === 0)) break;
    // Candidates: released, non-empty rows (an empty row adds nothing to any sum). Prefer the one that repairs
    // most deficient columns, then the smallest total (least information lost), then table order.
    let best = -1;
    let bestRepairs = -1;
    let bestTotal = Infinity;
    for (let r = 0; r < rowCount; r++) {
      if (reasons[r] !== null || rowTotal(r) === 0) continue;
      const repairs =
        deficient.length === 0 ? 0 : deficient.filter((c) => table.cells[r][c].value > 0).length;
      const total = rowTotal(r);
      if (repairs > bestRepairs || (repairs === bestRepairs && total < bestTotal)) {
        best = r;
        bestRepairs = repairs;
        bestTotal = total;
      }
    }
    if (best < 0) return withhold('cannot-protect');
    reasons[best] = 'complementary';
  }

  const hidden = suppressed();
  return {
    columnKeys: table.columnKeys,
    totals,
    rows: table.rowKeys.map((key, r) => ({
      key,
      values: reasons[r] ? null : table.cells[r].map((cell) => cell.value),
      suppressed: reasons[r],
    })),
    withheld: null,
    suppressedSums: table.columnKeys.map((_, c) =>
      hidden.reduce((sum, r) => sum + table.cells[r][c].value, 0),
    ),
  };
}

/** One released figure against the same figure of an earlier release: do they differ by 1 … k − 1? */
export function differsByFewerThanK(current: number, previous: number, k: number): boolean {
  const difference = Math.abs(current - previous);
  return difference >= 1 && difference < k;
}
