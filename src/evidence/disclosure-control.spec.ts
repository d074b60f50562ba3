import {
  CountCell,
  CountTable,
  differsByFewerThanK,
  ProtectedTable,
  protectTable,
} from './disclosure-control';

/** A cell of `value` vessels/analyses from `patients` distinct patients (ids unique to the cell unless given). */
function cell(value: number, patients = value, prefix = Math.random().toString(36).slice(2)): CountCell {
  if (value === 0) return { value: 0, contributors: [] };
  return { value, contributors: Array.from({ length: patients }, (_, i) => `${prefix}-${i}`) };
}

function table(values: number[][], columnKeys = values[0].map((_, c) => `c${c}`)): CountTable {
  return {
    rowKeys: values.map((_, r) => `r${r}`),
    columnKeys,
    cells: values.map((row) => row.map((value) => cell(value))),
  };
}

/**
 * The attacker, by exhaustion: every non-negative integer table consistent with what was released — released rows,
 * column totals, and that a suppressed row is not all zeros (zeros are released) — and, per suppressed cell, the
 * largest value among them. Independent of protectTable's reasoning: it only reads the release.
 */
function attackerMaxima(released: ProtectedTable): Map<string, number> {
  const hidden = released.rows.flatMap((row, r) => (row.values === null ? [r] : []));
  const sums = released.totals!.map(
    (total, c) => total - released.rows.reduce((sum, row) => sum + (row.values ? row.values[c] : 0), 0),
  );
  const columns = sums.length;
  const maxima = new Map<string, number>();
  const assignment: number[][] = hidden.map(() => new Array<number>(columns).fill(0));
  const visit = (column: number, index: number, remaining: number): void => {
    if (column === columns) {
      if (assignment.every((row) => row.some((value) => value > 0))) {
        hidden.forEach((r, i) =>
          assignment[i].forEach((value, c) => {
            const key = `${r},${c}`;
            maxima.set(key, Math.max(maxima.get(key) ?? -1, value));
          }),
        );
      }
      return;
    }
    if (index === hidden.length - 1) {
      assignment[index][column] = remaining;
      visit(column + 1, 0, sums[column + 1] ?? 0);
      return;
    }
    for (let value = 0; value <= remaining; value++) {
      assignment[index][column] = value;
      visit(column, index + 1, remaining - value);
    }
  };
  if (hidden.length > 0) visit(0, 0, sums[0]);
  return maxima;
}

/** How many tables the exhaustive search visits: Π over columns of C(sum + |S| − 1, |S| − 1). */
function searchSize(released: ProtectedTable): number {
  const hidden = released.rows.filter((row) => row.values === null).length;
  const choose = (n: number, r: number) => {
    let result = 1;
    for (let i = 1; i <= r; i++) result = (result * (n - r + i)) / i;
    return result;
  };
  return released.suppressedSums!.reduce((size, sum) => size * choose(sum + hidden - 1, hidden - 1), 1);
}

/** A deterministic generator, so a failure reproduces. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('protectTable', () => {
  it('releases a table whose every non-zero cell has k or more patients, zeros included', () => {
    const released = protectTable(table([[12], [0], [30]]), { k: 11 });
    expect(released.withheld).toBeNull();
    expect(released.rows.map((row) => row.values)).toEqual([[12], [0], [30]]);
    expect(released.totals).toEqual([42]);
    expect(released.suppressedSums).toEqual([0]);
  });

  it('never suppresses a single cell of a one-column table: the total would give it away', () => {
    // 3 is primary; alone, 45 − 12 − 30 = 3. The complement must make the hidden sum ≥ k + |S| − 1.
    const released = protectTable(table([[12], [3], [30]]), { k: 11 });
    expect(released.rows.map((row) => row.suppressed)).toEqual(['complementary', 'primary', null]);
    expect(released.suppressedSums).toEqual([15]);
    expect(attackerMaxima(released).get('1,0')).toBeGreaterThanOrEqual(11);
  });

  it('keeps adding complements until the hidden sum clears k + |S| − 1', () => {
    // 2 + 3 = 5 < 11: two small rows protect nothing; the 12 joins (5 + 12 = 17 ≥ 11 + 2).
    const released = protectTable(table([[2], [3], [12], [40]]), { k: 11 });
    expect(released.rows.map((row) => row.suppressed)).toEqual(['primary', 'primary', 'complementary', null]);
    const maxima = attackerMaxima(released);
    for (const r of [0, 1, 2]) expect(maxima.get(`${r},0`)).toBeGreaterThanOrEqual(11);
  });

  it('counts patients, not vessels: 14 vessels from 4 patients are a small cell', () => {
    const cells: CountTable = {
      rowKeys: ['LAD', 'RCA', 'LCX'],
      columnKeys: ['vessels'],
      cells: [[cell(14, 4)], [cell(30)], [cell(25)]],
    };
    const released = protectTable(cells, { k: 11 });
    expect(released.rows[0].suppressed).toBe('primary');
    expect(released.rows.filter((row) => row.suppressed).length).toBeGreaterThanOrEqual(2);
  });

  it('withholds the whole table when a column total is itself small', () => {
    const released = protectTable(
      table([
        [20, 1],
        [30, 2],
      ]),
      { k: 11 },
    );
    expect(released.withheld).toBe('small-total');
    expect(released.totals).toBeNull();
    expect(released.rows.every((row) => row.values === null)).toBe(true);
  });

  it('withholds the whole table when no complement can protect the small rows', () => {
    // Total 11 patients ≥ k, but both rows are small and together 11 < k + |S| − 1 = 12: either could be 10 at most.
    const cells: CountTable = {
      rowKeys: ['a', 'b'],
      columnKeys: ['n'],
      cells: [[cell(3)], [cell(8)]],
    };
    const released = protectTable(cells, { k: 11 });
    expect(released.withheld).toBe('cannot-protect');
  });

  it('suppresses rows flagged by the caller (differencing) and protects them like small ones', () => {
    const released = protectTable(table([[20], [25], [30]]), { k: 11, extraSensitiveRows: new Set(['r1']) });
    expect(released.rows[1].suppressed).toBe('differencing');
    expect(released.rows.filter((row) => row.suppressed).length).toBe(2);
  });

  it('protects the accuracy table (TP, FP, TN, FN) across strata', () => {
    const released = protectTable(
      table(
        [
          [8, 6, 9, 5],
          [7, 2, 6, 6],
          [6, 5, 7, 5],
          [9, 9, 9, 9],
        ],
        ['tp', 'fp', 'tn', 'fn'],
      ),
      { k: 5 },
    );
    expect(released.rows[1].suppressed).toBe('primary');
    const maxima = attackerMaxima(released);
    for (const [key, max] of maxima) {
      const [, c] = key.split(',').map(Number);
      if (released.suppressedSums![c] > 0) expect(max).toBeGreaterThanOrEqual(5);
    }
  });

  it('on 400 random tables, no suppressed cell can be bounded below k by exhaustive search of the release', () => {
    const random = lcg(20261127);
    let checkedCells = 0;
    let withheld = 0;
    let skipped = 0;
    for (let trial = 0; trial < 400; trial++) {
      const k = 3 + Math.floor(random() * 3);
      const rows = 2 + Math.floor(random() * 4);
      const columns = 1 + Math.floor(random() * 2);
      const values = Array.from({ length: rows }, () =>
        Array.from({ length: columns }, () => (random() < 0.2 ? 0 : Math.floor(random() * 9))),
      );
      // Some patients have several vessels: contributors ≤ value.
      const cells: CountTable = {
        rowKeys: values.map((_, r) => `r${r}`),
        columnKeys: values[0].map((_, c) => `c${c}`),
        cells: values.map((row, r) =>
          row.map((value, c) =>
            cell(
              value,
              value === 0 ? 0 : Math.max(1, value - Math.floor(random() * 2)),
              `${trial}-${r}-${c}`,
            ),
          ),
        ),
      };
      const released = protectTable(cells, { k });
      if (released.withheld) {
        withheld++;
        continue;
      }
      // Every primary-sensitive cell of the input is hidden.
      cells.cells.forEach((row, r) =>
        row.forEach((one) => {
          if (one.contributors.length >= 1 && one.contributors.length < k) {
            expect(released.rows[r].values).toBeNull();
          }
        }),
      );
      if (searchSize(released) > 200_000) {
        skipped++;
        continue;
      }
      const maxima = attackerMaxima(released);
      for (const [key, max] of maxima) {
        const [, c] = key.split(',').map(Number);
        if (released.suppressedSums![c] === 0) continue;
        checkedCells++;
        if (max < k) throw new Error(`trial ${trial}: cell ${key} bounded by ${max} < k = ${k}`);
      }
    }
    // The search must have had something to search: both outcomes occur.
    expect(checkedCells).toBeGreaterThan(100);
    expect(withheld).toBeGreaterThan(0);
    expect(skipped).toBeLessThan(40);
  });

  it('rejects malformed input', () => {
    expect(() => protectTable(table([[1]]), { k: 1 })).toThrow(RangeError);
    expect(() =>
      protectTable(
        { rowKeys: ['a'], columnKeys: ['n'], cells: [[{ value: 2, contributors: [] }]] },
        { k: 5 },
      ),
    ).toThrow(RangeError);
  });
});

describe('differsByFewerThanK', () => {
  it('flags differences of 1 … k − 1 only', () => {
    expect(differsByFewerThanK(20, 20, 11)).toBe(false);
    expect(differsByFewerThanK(21, 20, 11)).toBe(true);
    expect(differsByFewerThanK(20, 30, 11)).toBe(true);
    expect(differsByFewerThanK(20, 31, 11)).toBe(false);
  });
});
