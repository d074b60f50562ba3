import {
  atomsOf,
  AuditBudget,
  auditFamily,
  AUDIT_PRIME,
  auditPatientFamily,
  ComponentTally,
  disjointBasesCertificate,
  meet,
  refine,
  ReleasedPartition,
  SearchMemo,
} from './release-audit';
import { exactRank as rankOf } from '../../test/helpers/exact-rank';

/** A partition from a list of cells, each a list of record indices. */
function partition(recordCount: number, cells: number[][]): ReleasedPartition {
  const cellOf = new Int32Array(recordCount).fill(-1);
  cells.forEach((records, cell) => {
    for (const record of records) cellOf[record] = cell;
  });
  return { cellOf, cellCount: cells.length };
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** Deterministic generator (Park–Miller), so a failing case can be replayed. */
function lcg(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 48_271) % 2_147_483_647;
    return state / 2_147_483_647;
  };
}

/** A random release over `recordCount` records: 1–3 cells, each record in one of them or in none. */
function randomPartition(random: () => number, recordCount: number): ReleasedPartition {
  const cellCount = 1 + Math.floor(random() * 3);
  const cellOf = Int32Array.from(range(0, recordCount).map(() => Math.floor(random() * (cellCount + 1)) - 1));
  return { cellOf, cellCount };
}

/** A random family: 6 … 5 + `spread` records, their patients drawn among 0.8 × as many ids, k of 2–4, 1–4 releases. */
function randomFamily(random: () => number, spread: number) {
  const recordCount = 6 + Math.floor(random() * spread);
  const patients = range(0, recordCount).map(() => Math.floor(random() * recordCount * 0.8));
  const k = 2 + Math.floor(random() * 3);
  const partitions = range(0, 1 + Math.floor(random() * 4)).map(() => randomPartition(random, recordCount));
  return { patients, k, partitions };
}

// ---------------------------------------------------------------------------------------------------------------
// The oracle: an attacker by exhaustion over every set of records, in exact rational arithmetic (BigInt fractions),
// on the records × cells matrix itself — no atoms, no modular arithmetic, nothing shared with auditFamily.
// ---------------------------------------------------------------------------------------------------------------

/** The fewest patients of a non-empty set of records whose count is a linear combination of released counts. */
function smallestDerivableSet(patientOf: number[], partitions: ReleasedPartition[]): number {
  const recordCount = patientOf.length;
  const cells: number[][] = [];
  for (const p of partitions) {
    for (let cell = 0; cell < p.cellCount; cell++) {
      cells.push(range(0, recordCount).map((record) => (p.cellOf[record] === cell ? 1 : 0)));
    }
  }
  const base = rankOf(cells);
  let smallest = Infinity;
  for (let mask = 1; mask < 2 ** recordCount; mask++) {
    const indicator = range(0, recordCount).map((record) => (mask >> record) & 1);
    const patients = new Set(
      range(0, recordCount)
        .filter((record) => indicator[record])
        .map((r) => patientOf[r]),
    );
    if (patients.size >= smallest) continue;
    if (rankOf([...cells, indicator]) === base) smallest = patients.size;
  }
  return smallest;
}

describe('auditFamily: can a set of fewer than k patients be derived from the released cells?', () => {
  const K = 11;
  // 50 patients at site A, 3 at B, 40 at C; one record each.
  const patientOf = Int32Array.from(range(0, 93));
  const A = range(0, 50);
  const B = range(50, 53);
  const C = range(53, 93);

  it('finds the three-query inclusion–exclusion that pairwise nesting checks miss', () => {
    // {A, B}, {B, C} and {A, B, C}: no two are nested with a small difference, yet (AB + BC − ABC) = B = 3.
    const releases = [partition(93, [[...A, ...B]]), partition(93, [[...B, ...C]])];
    expect(auditFamily(patientOf, releases, K)).toMatchObject({ disclosive: false });
    expect(auditFamily(patientOf, [...releases, partition(93, [[...A, ...B, ...C]])], K)).toEqual({
      disclosive: true,
      reason: 'small-set',
      patients: 3,
    });
  });

  it('lets overlapping cohorts through when the small overlap cannot be isolated', () => {
    const verdict = auditFamily(patientOf, [partition(93, [[...A, ...B]]), partition(93, [[...B, ...C]])], K);
    expect(verdict).toMatchObject({ disclosive: false, smallAtoms: 1, dimension: 0 });
  });

  it('finds a small difference of nested releases, and a small cell released by one and hidden by the other', () => {
    expect(auditFamily(patientOf, [partition(93, [[...A, ...B]]), partition(93, [A])], K)).toMatchObject({
      disclosive: true,
      patients: 3,
    });
    // Release 1 has rows A and B∪C... release 2 rows A∪B and C: B = (A∪B) − A.
    expect(
      auditFamily(patientOf, [partition(93, [A, [...B, ...C]]), partition(93, [[...A, ...B], C])], K),
    ).toMatchObject({ disclosive: true, patients: 3 });
  });

  it('accepts a hidden group made of small pieces when only the group as a whole is derivable', () => {
    // Rows r1, r2 released over everyone; within the subcohort F they are suppressed together (3 + 9 patients).
    // Records: F∩r1 0–2, F∩r2 3–11, ¬F∩r1 12–41, ¬F∩r2 42–81.
    const ids = Int32Array.from(range(0, 82));
    const everyone = partition(82, [
      [...range(0, 3), ...range(12, 42)],
      [...range(3, 12), ...range(42, 82)],
    ]);
    const subcohort = partition(82, [range(0, 12)]);
    expect(auditFamily(ids, [everyone, subcohort], K)).toMatchObject({ disclosive: false, dimension: 1 });
  });

  it('finds a weighted combination of few patients only when asked to refuse small components', () => {
    // T1 (2 patients), T2 (1), U (12), V (12). Cells T1∪T2∪U, T2∪V, U∪V give |T1| + 2·|T2| = (1) + (2) − (3): a
    // figure of three patients, which bounds |T2| ≤ 1 since counts are non-negative. No 0/1 combination of the cells
    // vanishes on U and V, so no count of a set of few patients is derivable: the 0/1 search alone lets the cells
    // through. R_S is one component over T1 and T2, three patients: with smallComponents (complete coverage) it is
    // disclosive.
    const [T1, T2, U, V] = [range(0, 2), range(2, 3), range(3, 15), range(15, 27)];
    const ids = Int32Array.from(range(0, 27));
    const cells = [
      [...T1, ...T2, ...U],
      [...T2, ...V],
      [...U, ...V],
    ].map((cell) => partition(27, [cell]));
    expect(auditFamily(ids, cells, K)).toMatchObject({ disclosive: false, dimension: 1 });
    expect(auditFamily(ids, cells, K, { smallComponents: true })).toEqual({
      disclosive: true,
      reason: 'small-set',
      patients: 3,
    });
    const [c1, c2, c3] = cells.map((cell) => cell.cellOf.filter((c) => c >= 0).length);
    expect(c1 + c2 - c3).toBe(T1.length + 2 * T2.length);
  });

  it('counts patients, not records: twelve vessels of three patients are a small set', () => {
    const patients = Int32Array.from([...range(0, 50), ...[50, 50, 50, 50, 51, 51, 51, 51, 52, 52, 52, 52]]);
    const all = range(0, 62);
    expect(auditFamily(patients, [partition(62, [all]), partition(62, [range(0, 50)])], K)).toMatchObject({
      disclosive: true,
      patients: 3,
    });
  });

  it('fails closed when the search needs more work than allowed', () => {
    // Ten disjoint small cells, each released once alone: every cell is derivable.
    const ids = Int32Array.from(range(0, 30));
    const releases = range(0, 10).map((i) => partition(30, [range(3 * i, 3 * i + 3)]));
    expect(auditFamily(ids, releases, K, { maxWork: 2 })).toEqual({
      disclosive: true,
      reason: 'undecided',
      dimension: 10,
    });
    expect(auditFamily(ids, releases, K)).toMatchObject({
      disclosive: true,
      reason: 'small-set',
      patients: 3,
    });
  });

  it('refuses a small component only where some combination is a figure of fewer than k patients (300 random)', () => {
    // The oracle, exact and by exhaustion: a non-zero combination of the cells vanishing outside a set S of records
    // exists iff dropping S's columns lowers the rank of the records × cells matrix.
    const weightedOracle = (patientOf: number[], partitions: ReleasedPartition[], k: number): boolean => {
      const recordCount = patientOf.length;
      const cells = partitions.flatMap((p) =>
        range(0, p.cellCount).map((cell) => range(0, recordCount).map((r) => (p.cellOf[r] === cell ? 1 : 0))),
      );
      const rank = rankOf(cells);
      for (let mask = 1; mask < 2 ** recordCount; mask++) {
        const inside = range(0, recordCount).filter((r) => (mask >> r) & 1);
        if (new Set(inside.map((r) => patientOf[r])).size >= k) continue;
        const outside = cells.map((cell) => cell.filter((_, r) => !((mask >> r) & 1)));
        if (rankOf(outside) < rank) return true;
      }
      return false;
    };
    const random = lcg(20_261_128);
    let onlyWeighted = 0;
    let missed = 0;
    for (let trial = 0; trial < 300; trial++) {
      const { patients, k, partitions } = randomFamily(random, 5);
      const ids = Int32Array.from(patients);
      const plain = auditFamily(ids, partitions, k).disclosive;
      const withComponents = auditFamily(ids, partitions, k, { smallComponents: true }).disclosive;
      const weighted = weightedOracle(patients, partitions, k);
      // Monotone (it only adds refusals) and sound (each is a figure of fewer than k patients).
      if (plain) expect({ trial, withComponents }).toEqual({ trial, withComponents: true });
      if (withComponents) expect({ trial, weighted }).toEqual({ trial, weighted: true });
      if (withComponents && !plain) onlyWeighted++;
      if (weighted && !withComponents) missed++;
    }
    // What the components add, and what a full search of weighted combinations would add still (README: not covered).
    console.log(
      `small components: ${onlyWeighted} of 300 refused beyond 0/1 sets; ${missed} weighted leaks missed`,
    );
    expect(onlyWeighted).toBeGreaterThan(0);
  });

  it('certifies a component only when no combination of it, weighted or not, has fewer patients (400 random)', () => {
    // The oracle, exact and by exhaustion, over the component's own columns: a non-zero vector of the row space
    // vanishing outside the columns S whose patients lie in a set Q exists iff dropping S lowers the rank. Checking
    // every Q of fewer than `bound` patients (S the largest set for Q) finds the fewest patients of any support.
    const smallestSupport = (rows: number[][], columnPatients: number[][], bound: number): number => {
      const patients = [...new Set(columnPatients.flat())].sort((a, b) => a - b);
      const full = rankOf(rows);
      let smallest = bound;
      for (let mask = 1; mask < 2 ** patients.length; mask++) {
        const chosen = patients.filter((_, i) => (mask >> i) & 1);
        if (chosen.length >= smallest) continue;
        const kept = range(0, columnPatients.length).filter(
          (column) => !columnPatients[column].every((patient) => chosen.includes(patient)),
        );
        if (rankOf(rows.map((row) => kept.map((column) => row[column]))) < full) smallest = chosen.length;
      }
      return smallest;
    };
    const random = lcg(20_261_128_2);
    let certified = 0;
    let safe = 0;
    for (let trial = 0; trial < 400; trial++) {
      const m = 1 + Math.floor(random() * 3);
      const n = 4 + Math.floor(random() * 10);
      const bound = 2 + Math.floor(random() * 3);
      // Entries −1, 0, 1, 2 (−1 is p − 1 in GF(p)); patients: one of n ids per column, sometimes a second.
      const rows = range(0, m).map(() => range(0, n).map(() => Math.floor(random() * 4) - 1));
      const columnPatients = range(0, n).map(() => {
        const first = Math.floor(random() * n);
        return random() < 0.2 ? [first, (first + 1) % n] : [first];
      });
      const rowIndex = rows.map((row) => Int32Array.from(range(0, n).filter((column) => row[column] !== 0)));
      const rowValue = rows.map((row) =>
        Float64Array.from(
          row.filter((value) => value !== 0).map((value) => (value + AUDIT_PRIME) % AUDIT_PRIME),
        ),
      );
      const certificate = disjointBasesCertificate(
        rowIndex,
        rowValue,
        columnPatients.map((patients) => Int32Array.from(patients)),
        bound,
      );
      const smallest = smallestSupport(rows, columnPatients, bound);
      if (smallest >= bound) safe++;
      if (certificate.certified === true) {
        certified++;
        expect({ trial, smallest }).toEqual({ trial, smallest: bound });
      }
    }
    // Sound in every case above; and not vacuous: it proves a good share of the components that are safe.
    console.log(`disjoint bases: ${certified} certified of ${safe} safe components (400 random)`);
    expect(certified).toBeGreaterThan(safe * 0.9);
  });

  it('decides with the certificate whatever it decides without, and decides a family the search alone cannot', () => {
    const random = lcg(20_261_128_3);
    const tally: ComponentTally = { certified: 0, searched: 0 };
    for (let trial = 0; trial < 300; trial++) {
      const { patients, k, partitions } = randomFamily(random, 7);
      const ids = Int32Array.from(patients);
      const options = { smallComponents: true };
      const without = auditFamily(ids, partitions, k, options);
      const withBases = auditFamily(ids, partitions, k, {
        ...options,
        disjointBases: true,
        componentTally: tally,
      });
      expect({ trial, verdict: withBases }).toEqual({ trial, verdict: without });
    }
    expect(tally.certified).toBeGreaterThan(0);

    // 192 records of 192 patients, five yes/no releases over them: 32 atoms of about 6 patients, every one small at
    // k = 11, R_S a single component of dimension 6. No combination of 5 one-way tables vanishes on more than half
    // of the 2^5 classes, so every figure concerns at least 16 atoms; two disjoint bases of atoms of ≥ 6 patients
    // prove ≥ 12. The 0/1 search needs more than one step; the certificate none.
    const ids = Int32Array.from(range(0, 192));
    const binary = range(0, 5).map((bit) =>
      partition(192, [
        range(0, 192).filter((r) => ((r % 32) >> bit) & 1),
        range(0, 192).filter((r) => !(((r % 32) >> bit) & 1)),
      ]),
    );
    expect(auditFamily(ids, binary, 11, { maxWork: 1 })).toMatchObject({
      disclosive: true,
      reason: 'undecided',
    });
    const certifiedTally: ComponentTally = { certified: 0, searched: 0 };
    expect(
      auditFamily(ids, binary, 11, { maxWork: 1, disjointBases: true, componentTally: certifiedTally }),
    ).toMatchObject({ disclosive: false, dimension: 6 });
    expect(certifiedTally).toEqual({ certified: 1, searched: 0 });
  });

  it('counts units against each other: vessels minus analyses counts the patients with a second vessel', () => {
    // 20 patients of one analysis each; 3 of them have two vessels. Every released count has 20 patients, and each
    // unit's family alone derives nothing; together, vessels − analyses = the 3 patients with a second vessel.
    const analyses = {
      patientOf: Int32Array.from(range(0, 20)),
      partitions: [partition(20, [range(0, 20)])],
    };
    const vesselPatients = [...range(0, 20), 0, 1, 2];
    const vessels = {
      patientOf: Int32Array.from(vesselPatients),
      partitions: [partition(23, [range(0, 23)])],
    };
    for (const unit of [analyses, vessels])
      expect(auditFamily(unit.patientOf, unit.partitions, K).disclosive).toBe(false);
    expect(auditPatientFamily(20, [analyses, vessels], K)).toEqual({
      disclosive: true,
      reason: 'small-set',
      patients: 3,
    });
    // With a fourth patient of two vessels, at a k of 4, the derived set has k patients: nothing under k.
    const four = {
      patientOf: Int32Array.from([...vesselPatients, 3]),
      partitions: [partition(24, [range(0, 24)])],
    };
    expect(auditPatientFamily(20, [analyses, four], 4).disclosive).toBe(false);
  });

  it('agrees with an exhaustive attacker on patients counted through two units (300 random)', () => {
    // The oracle: the patients × cells matrix of multiplicities (how many of a patient's records each cell holds), and
    // every set of patients tested for membership of its span in exact rational arithmetic — no types, no GF(p).
    const smallestPatientSet = (
      patientCount: number,
      sources: { patientOf: number[]; partitions: ReleasedPartition[] }[],
    ) => {
      const cells = sources.flatMap(({ patientOf, partitions }) =>
        partitions.flatMap((p) =>
          range(0, p.cellCount).map((cell) =>
            range(0, patientCount).map(
              (patient) => patientOf.filter((owner, r) => owner === patient && p.cellOf[r] === cell).length,
            ),
          ),
        ),
      );
      const base = rankOf(cells);
      let smallest = Infinity;
      for (let mask = 1; mask < 2 ** patientCount; mask++) {
        const set = range(0, patientCount).map((patient) => (mask >> patient) & 1);
        const size = set.reduce((a, b) => a + b, 0);
        if (size < smallest && rankOf([...cells, set]) === base) smallest = size;
      }
      return smallest;
    };
    const random = lcg(20_261_128_4);
    let disclosive = 0;
    for (let trial = 0; trial < 300; trial++) {
      const patientCount = 7 + Math.floor(random() * 4);
      const k = 2 + Math.floor(random() * 3);
      const sources = [2, 3].map((most) => {
        const patientOf = range(0, patientCount).flatMap((patient) =>
          range(0, Math.floor(random() * (most + 1))).map(() => patient),
        );
        const partitions = range(0, 1 + Math.floor(random() * 2)).map(() =>
          randomPartition(random, patientOf.length),
        );
        return { patientOf, partitions };
      });
      const expected = smallestPatientSet(patientCount, sources);
      const verdict = auditPatientFamily(
        patientCount,
        sources.map(({ patientOf, partitions }) => ({ patientOf: Int32Array.from(patientOf), partitions })),
        k,
      );
      expect({ trial, disclosive: verdict.disclosive }).toEqual({ trial, disclosive: expected < k });
      if (verdict.disclosive && verdict.reason === 'small-set')
        expect({ trial, patients: verdict.patients }).toEqual({ trial, patients: expected });
      if (expected < k) disclosive++;
    }
    expect(disclosive).toBeGreaterThan(30);
    expect(disclosive).toBeLessThan(270);
  });

  it('agrees with the exhaustive attacker on 300 random releases', () => {
    const random = lcg(20_261_127);
    let disclosive = 0;
    for (let trial = 0; trial < 300; trial++) {
      const { patients, k, partitions } = randomFamily(random, 7);
      const smallest = smallestDerivableSet(patients, partitions);
      const verdict = auditFamily(Int32Array.from(patients), partitions, k);
      const expected = smallest < k;
      if (expected) disclosive++;
      expect({ trial, disclosive: verdict.disclosive }).toEqual({ trial, disclosive: expected });
      if (verdict.disclosive && verdict.reason === 'small-set') expect(verdict.patients).toBe(smallest);
      // Stopping at the first small set found (as release-records.ts does) gives the same verdict.
      const first = auditFamily(Int32Array.from(patients), partitions, k, { firstFound: true });
      expect({ trial, disclosive: first.disclosive }).toEqual({ trial, disclosive: expected });
      if (first.disclosive && first.reason === 'small-set') expect(first.patients).toBeLessThan(k);
    }
    // Both answers occur often enough for the agreement to mean something.
    expect(disclosive).toBeGreaterThan(30);
    expect(disclosive).toBeLessThan(270);
  });

  it('gives the same verdicts with the search memo as without, work limit and operation budget included', () => {
    // One memo per product across every limit and both stopping rules: later calls are answered from it, and must
    // still hit the work limit exactly where the search itself would. The budgets are fractions of what the audit
    // needs unlimited, so that they stop it at different points: in the elimination, part-way through the search,
    // and one operation short of the end.
    const random = lcg(20_261_128_1);
    let hits = 0;
    const budgetOutcomes = { undecided: 0, decided: 0 };
    for (let trial = 0; trial < 200; trial++) {
      const recordCount = 8 + Math.floor(random() * 10);
      const patients = Int32Array.from(
        range(0, recordCount).map(() => Math.floor(random() * recordCount * 0.8)),
      );
      const k = 2 + Math.floor(random() * 3);
      const partitions = range(0, 2 + Math.floor(random() * 4)).map(() =>
        randomPartition(random, recordCount),
      );
      const memo = new SearchMemo();
      for (const maxWork of [undefined, 1, 3, 8, 30, undefined]) {
        for (const firstFound of [false, true]) {
          const unlimited = new AuditBudget(Number.MAX_SAFE_INTEGER);
          auditFamily(patients, partitions, k, { maxWork, firstFound, budget: unlimited });
          const needed = unlimited.used;
          const fractions = [0.2, 0.7].map((fraction) => Math.floor(needed * fraction));
          for (const operations of [undefined, ...fractions, needed - 1, needed]) {
            // A fresh budget per call, so that both calls start from the same remainder.
            const budget = () => (operations === undefined ? undefined : new AuditBudget(operations));
            const without = auditFamily(patients, partitions, k, { maxWork, firstFound, budget: budget() });
            const withMemo = auditFamily(patients, partitions, k, {
              maxWork,
              firstFound,
              memo,
              budget: budget(),
            });
            expect({ trial, maxWork, firstFound, operations, verdict: withMemo }).toEqual({
              trial,
              maxWork,
              firstFound,
              operations,
              verdict: without,
            });
            if (operations !== undefined && operations < needed) {
              budgetOutcomes[
                without.disclosive && without.reason === 'undecided' ? 'undecided' : 'decided'
              ]++;
            }
          }
        }
      }
      hits += memo.hits;
    }
    expect(hits).toBeGreaterThan(200);
    // A budget short of what the audit needs leaves it undecided; exactly what it needs decides it.
    expect(budgetOutcomes.decided).toBe(0);
    expect(budgetOutcomes.undecided).toBeGreaterThan(0);
  });

  it('finds a cell of two tables of one cohort: every man is 80+, so 80+ minus men counts the women of 80+', () => {
    // 30 men of 80+, 4 women of 80+, 40 women under 80: rows sex M 30, F 44; age 80+ 34, <80 40 — all ≥ k.
    const ids = Int32Array.from(range(0, 74));
    const men = range(0, 30);
    const women80 = range(30, 34);
    const womenUnder80 = range(34, 74);
    const sex = partition(74, [men, [...women80, ...womenUnder80]]);
    const age = partition(74, [[...men, ...women80], womenUnder80]);
    expect(auditFamily(ids, [sex], K)).toMatchObject({ disclosive: false });
    expect(auditFamily(ids, [age], K)).toMatchObject({ disclosive: false });
    expect(auditFamily(ids, [sex, age], K)).toMatchObject({ disclosive: true, patients: 4 });
  });

  describe('several tables over several releases, audited per pair of tables as release-records.ts does', () => {
    interface Release {
      cohort: ReleasedPartition;
      tables: Array<ReleasedPartition | null>;
    }

    /**
     * Random records with `attributes` attributes of 2–3 values, and releases of random cohorts, each table
     * protected within itself as disclosure-control.ts does it (rows of 1 … k − 1 patients suppressed, never alone,
     * the suppressed group ≥ k patients or the table withheld), so that what is left to find is mostly leaks
     * across tables and releases.
     */
    function randomProduct(random: () => number, attributes: number, k: number) {
      const recordCount = 7 + Math.floor(random() * 5);
      const patients = range(0, recordCount).map(() => Math.floor(random() * recordCount * 0.7));
      const patientsIn = (records: number[]) => new Set(records.map((i) => patients[i])).size;
      const values = range(0, attributes).map(() => 2 + Math.floor(random() * 2));
      const record = range(0, recordCount).map(() => values.map((n) => Math.floor(random() * n)));
      const releases: Release[] = [];
      for (let r = 1 + Math.floor(random() * 3); r > 0; r--) {
        // A cohort: the records with a random subset of the values of one attribute (or all), some left out at
        // random as a later high-water mark would.
        const on = Math.floor(random() * attributes);
        const kept = range(0, values[on]).filter(() => random() < 0.7);
        const members = range(0, recordCount).filter(
          (i) => (random() < 0.3 || kept.includes(record[i][on])) && random() < 0.9,
        );
        if (patientsIn(members) < k) continue;
        const tables = values.map((n, attribute) => {
          if (random() < 0.2) return null;
          const rowOf = range(0, n).map((v) => members.filter((i) => record[i][attribute] === v));
          const hidden = range(0, n).filter((v) => {
            const count = patientsIn(rowOf[v]);
            return (count > 0 && count < k) || random() < 0.15;
          });
          const shown = range(0, n).filter((v) => !hidden.includes(v));
          if (hidden.length === 1 && shown.length > 0) hidden.push(shown.pop()!);
          const group = hidden.flatMap((v) => rowOf[v]);
          if (group.length > 0 && patientsIn(group) < k) return null;
          const cells = shown.map((v) => rowOf[v]);
          if (hidden.length > 0) cells.push(group);
          return partition(recordCount, cells);
        });
        releases.push({ cohort: partition(recordCount, [members]), tables });
      }
      return { recordCount, patients, attributes, releases };
    }

    const pairs = (attributes: number) =>
      range(0, attributes).flatMap((a) => range(a + 1, attributes).map((b) => [a, b] as const));
    const familyOf = (releases: Release[], [a, b]: readonly [number, number]) => [
      ...releases.map((release) => release.cohort),
      ...releases.flatMap((release) => (release.tables[a] ? [release.tables[a]] : [])),
      ...releases.flatMap((release) => (release.tables[b] ? [release.tables[b]] : [])),
    ];

    /** The audit's verdict: every pair family, the earlier releases refined as the meet of per-table refinements. */
    function pairAudit(product: ReturnType<typeof randomProduct>, k: number) {
      const { recordCount, releases } = product;
      if (releases.length === 0) return Infinity;
      const earlier = releases.slice(0, -1);
      const latest = releases.slice(-1);
      let smallest = Infinity;
      for (const pair of pairs(product.attributes)) {
        const earlierPartitions = familyOf(earlier, pair);
        const perTable = pair.map((t) =>
          refine(recordCount, [
            ...earlier.map((release) => release.cohort),
            ...earlier.flatMap((release) => (release.tables[t] ? [release.tables[t]] : [])),
          ]),
        );
        const refinement = meet(perTable[0], perTable[1]);
        const verdict = auditFamily(Int32Array.from(product.patients), familyOf(latest, pair), k, {
          earlier: { partitions: earlierPartitions, refinement },
        });
        if (verdict.disclosive && verdict.reason === 'small-set')
          smallest = Math.min(smallest, verdict.patients);
        if (verdict.disclosive && verdict.reason === 'undecided')
          throw new Error('undecided on a small case');
      }
      return smallest;
    }

    it('agrees with the exhaustive attacker on 300 random releases of two tables (the pairs are every table)', () => {
      const random = lcg(20_261_128);
      let disclosive = 0;
      for (let trial = 0; trial < 300; trial++) {
        const k = 2 + Math.floor(random() * 2);
        const product = randomProduct(random, 2, k);
        const all = product.releases.flatMap((release) => [
          release.cohort,
          ...release.tables.filter((table): table is ReleasedPartition => table !== null),
        ]);
        const smallest = smallestDerivableSet(product.patients, all);
        const found = pairAudit(product, k);
        const expected = smallest < k;
        if (expected) disclosive++;
        expect({ trial, disclosive: found < k }).toEqual({ trial, disclosive: expected });
        if (expected) expect({ trial, patients: found }).toEqual({ trial, patients: smallest });
      }
      console.log(`two-table random releases: ${disclosive} of 300 disclosive`);
      expect(disclosive).toBeGreaterThan(30);
      expect(disclosive).toBeLessThan(270);
    });

    it('agrees with an exhaustive attacker holding any two tables on 200 random releases of three tables', () => {
      const random = lcg(20_261_129);
      let disclosive = 0;
      let beyondPairs = 0;
      for (let trial = 0; trial < 200; trial++) {
        const k = 2 + Math.floor(random() * 2);
        const product = randomProduct(random, 3, k);
        const smallest = Math.min(
          ...pairs(3).map((pair) => smallestDerivableSet(product.patients, familyOf(product.releases, pair))),
        );
        const found = pairAudit(product, k);
        const expected = smallest < k;
        if (expected) disclosive++;
        expect({ trial, disclosive: found < k }).toEqual({ trial, disclosive: expected });
        if (expected) expect({ trial, patients: found }).toEqual({ trial, patients: smallest });
        // What the pair families do not cover: a set derivable only from all three tables together.
        const all = product.releases.flatMap((release) => [
          release.cohort,
          ...release.tables.filter((table): table is ReleasedPartition => table !== null),
        ]);
        if (!expected && smallestDerivableSet(product.patients, all) < k) beyondPairs++;
      }
      expect(disclosive).toBeGreaterThan(20);
      // Measured, not asserted as zero: three-table leaks exist and are the stated gap (src/evidence/README.md).
      console.log(
        `three-table random releases: ${disclosive} of 200 disclosive within pairs, ${beyondPairs} only with all three`,
      );
    });
  });

  it('builds atoms as the classes of records sharing every cell', () => {
    const { atomOf, representatives } = atomsOf(6, [
      partition(6, [[0, 1, 2], [3]]),
      partition(6, [[1, 2, 3]]),
    ]);
    // Records 4 and 5 are in no cell; 0 | 1, 2 | 3.
    expect([...atomOf]).toEqual([0, 1, 1, 2, -1, -1]);
    expect(representatives).toEqual([0, 1, 3]);
  });
});
