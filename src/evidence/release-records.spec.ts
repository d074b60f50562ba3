import {
  AGATSTON_BANDS,
  AGE_BANDS,
  bandKeys,
  BMI_BANDS,
  cohortsNested,
  DistributionTable,
  normaliseDefinition,
  SEXES,
  STATUSES,
  VESSELS,
} from './cohort';
import {
  AGAINST_COMBINATION,
  CohortVessel,
  EvidenceOutcome,
  EvidenceResult,
  evidenceOutcome,
} from './evidence-result';
import { AuditCoverage, ProductRecords, ProductReleaseAudit, ReleaseAuditLimits } from './release-records';
import { exactRank as rank } from '../../test/helpers/exact-rank';

/*
 * The leak that needs three tables of one unit at once (src/evidence/README.md): site A's men are all 80+, site A has
 * no one of 60-69, site B has only women, all 80+ or 60-69. Then "80+ − men − site B + 60-69" counts site A's 4 women
 * of 80+, while every row of the sex, age and site tables has at least k patients and no two of the tables together
 * single anyone out. `pairs` coverage above its atom limit (set here below the fixture's five atoms, as a product
 * of thousands of analyses exceeds 1,500) checks the tables two by two and releases the leak; `complete` coverage
 * audits every table of the unit together and does not.
 *
 * The attacker here is independent of the audit: every released cell of the result is a union of the fixture's
 * five groups, and each of the 31 non-empty unions of groups is tested for membership of the cells' span with exact
 * rational elimination (test/helpers/exact-rank.ts).
 */
const HIGH_WATER_MARK = '2026-08-01T00:00:00.000000Z';
const K = 11;
const GROUPS = [
  { site: 'A', sex: 'M', ageBand: '80+', patients: 12 },
  { site: 'A', sex: 'F', ageBand: '80+', patients: 4 },
  { site: 'A', sex: 'F', ageBand: '50-59', patients: 15 },
  { site: 'B', sex: 'F', ageBand: '80+', patients: 12 },
  { site: 'B', sex: 'F', ageBand: '60-69', patients: 12 },
] as const;

const analyses = GROUPS.flatMap((group, g) =>
  Array.from({ length: group.patients }, (_, i) => ({
    patientId: `g${g}p${i}`,
    site: group.site,
    sex: group.sex,
    ageBand: group.ageBand,
    modelVersion: 'v1',
    scannerVendor: 'Canon',
    bmiBand: '25-29.9',
    agatstonBand: '1-99',
    // Rejected: no vessels, so the fixture is the analyses unit alone.
    status: 'rejected',
    month: '2026-03',
    receivedAt: '2026-07-01T00:00:00.000000Z',
    vesselNames: [] as string[],
  })),
);
const groupOf = (analysis: (typeof analyses)[number]) =>
  GROUPS.findIndex(
    (group) =>
      group.site === analysis.site && group.sex === analysis.sex && group.ageBand === analysis.ageBand,
  );
const records: ProductRecords = {
  analyses,
  vessels: [],
  invasiveFfrAt: new Map([[HIGH_WATER_MARK, new Float64Array(0)]]),
};
const universe = {
  sex: [...SEXES],
  ageBand: bandKeys(AGE_BANDS),
  bmiBand: bandKeys(BMI_BANDS),
  agatstonBand: bandKeys(AGATSTON_BANDS),
  scannerVendor: ['Canon'],
  modelVersion: ['v1'],
  site: ['A', 'B'],
  status: [...STATUSES],
  month: ['2026-03'],
  vessel: [...VESSELS],
};

/** The first query of `product` (its every analysis and vessel in the cohort), audited with `limits`. */
function firstQuery(
  product: ProductRecords,
  vessels: CohortVessel[],
  tables: DistributionTable[] | undefined,
  limits: ReleaseAuditLimits,
): EvidenceOutcome {
  const definition = normaliseDefinition({ productId: 'product', tables });
  const audit = new ProductReleaseAudit(
    product,
    [],
    { definition, highWaterMark: HIGH_WATER_MARK, threshold: 0.8 },
    K,
    limits,
  );
  return evidenceOutcome({
    definition,
    analyses: product.analyses,
    vessels,
    universe,
    threshold: 0.8,
    k: K,
    earlier: [],
    nested: cohortsNested,
    audit,
  });
}

function release(coverage: AuditCoverage, tables?: Array<'sex' | 'ageBand' | 'site'>): EvidenceResult {
  const outcome = firstQuery(records, [], tables, { coverage, maxJointAtoms: GROUPS.length - 1 });
  if (outcome.status !== 'released') throw new Error(`refused: ${outcome.refusal.reason}`);
  return outcome.result;
}

/** Each released cell as its five group memberships: released rows, and each table's suppressed rows together. */
function releasedCells(result: EvidenceResult): number[][] {
  const cells: number[][] = [GROUPS.map(() => 1)];
  const attribute: Record<string, (group: (typeof GROUPS)[number]) => string> = {
    sex: (group) => group.sex,
    ageBand: (group) => group.ageBand,
    site: (group) => group.site,
  };
  for (const [name, table] of Object.entries(result.distributions)) {
    if (table.withheld !== null || table.totals === null) continue;
    const keyOf = attribute[name];
    // A table of an attribute every record shares (status, BMI …) has one row, the cohort count, and zero rows.
    if (!keyOf) continue;
    const released = table.rows.filter((row) => row.values !== null).map((row) => row.key);
    for (const key of released) cells.push(GROUPS.map((group) => (keyOf(group) === key ? 1 : 0)));
    const hidden = table.rows.filter((row) => row.values === null).map((row) => row.key);
    if (hidden.length > 0) cells.push(GROUPS.map((group) => (hidden.includes(keyOf(group)) ? 1 : 0)));
  }
  return cells;
}

/** The unions of groups of 1 … k − 1 patients whose count the released cells give away. */
function derivableSmallSets(result: EvidenceResult): number[][] {
  const cells = releasedCells(result);
  const base = rank(cells);
  const found: number[][] = [];
  for (let mask = 1; mask < 1 << GROUPS.length; mask++) {
    const set = GROUPS.map((_, g) => (mask >> g) & 1);
    const patients = GROUPS.reduce((sum, group, g) => sum + set[g] * group.patients, 0);
    if (patients >= K) continue;
    if (rank([...cells, set]) === base) found.push(set);
  }
  return found;
}

describe('ProductReleaseAudit coverage within a unit', () => {
  it('builds the fixture it means to: every row of the three tables has at least k patients', () => {
    expect(analyses.every((analysis) => groupOf(analysis) >= 0)).toBe(true);
    const counts = (keyOf: (group: (typeof GROUPS)[number]) => string) => {
      const byKey = new Map<string, number>();
      for (const group of GROUPS) byKey.set(keyOf(group), (byKey.get(keyOf(group)) ?? 0) + group.patients);
      return [...byKey.values()];
    };
    type Group = (typeof GROUPS)[number];
    for (const keyOf of [(g: Group) => g.sex, (g: Group) => g.ageBand, (g: Group) => g.site])
      expect(Math.min(...counts(keyOf))).toBeGreaterThanOrEqual(K);
  });

  it('pairs coverage above its atom limit releases the three-table leak (why it is no longer used for new queries)', () => {
    const result = release('pairs');
    const row = (table: string, key: string) =>
      result.distributions[table].rows.find((candidate) => candidate.key === key)!.values![0];
    expect(row('ageBand', '80+') - row('sex', 'M') - row('site', 'B') + row('ageBand', '60-69')).toBe(4);
    expect(derivableSmallSets(result)).toEqual([[0, 1, 0, 0, 0]]);
  });

  it('complete coverage audits the tables together: no set under k is derivable, and the table it protected says why', () => {
    const result = release('complete');
    expect(derivableSmallSets(result)).toEqual([]);
    const protectedTables = result.disclosure.differencing.filter(
      (entry) => entry.against === AGAINST_COMBINATION,
    );
    expect(protectedTables.length).toBeGreaterThan(0);
    // What it gives up is what the leak needed, not more: the cohort and the first tables decided are released.
    expect(result.cohort.patients).toBe(55);
    expect(result.distributions.sex.withheld).toBeNull();
  });

  it('releases only the tables a query names, and two of the three tables single no one out', () => {
    const result = release('complete', ['sex', 'ageBand']);
    expect(Object.keys(result.distributions).sort()).toEqual(['ageBand', 'sex']);
    expect(result.disclosure.differencing).toEqual([]);
    expect(derivableSmallSets(result)).toEqual([]);
    // The accuracy table is always part of the answer (zeros here: the fixture has no vessels).
    expect(result.accuracy.counts.totals).toEqual([0, 0, 0, 0]);
  });
});

/*
 * Counts of different units against each other (src/evidence/README.md): 30 patients of one completed analysis each,
 * 27 with one analysed vessel and 3 with two. Every cohort count has 30 patients, and neither the analyses' nor the
 * vessels' counts single anyone out on their own; but analysed vessels − analyses = 3, the patients with a second
 * vessel. `complete-bases` audits each unit on its own and releases the cohort; `complete-cross` audits them
 * together over patients (release-audit.ts auditPatientFamily) and refuses it.
 */
describe('ProductReleaseAudit across units', () => {
  const crossAnalyses = Array.from({ length: 30 }, (_, i) => ({
    ...analyses[0],
    patientId: `x${i}`,
    status: 'completed',
    vesselNames: i < 3 ? ['LAD', 'RCA'] : ['LAD'],
  }));
  const crossVessels = crossAnalyses.flatMap((analysis, index) =>
    analysis.vesselNames.map((vessel) => ({ analysis: index, vessel, ctFfr: 0.85 })),
  );
  const crossRecords: ProductRecords = {
    analyses: crossAnalyses,
    vessels: crossVessels,
    invasiveFfrAt: new Map([[HIGH_WATER_MARK, new Float64Array(crossVessels.length).fill(Number.NaN)]]),
  };
  const cohortVessels = crossVessels.map((vessel) => ({
    analysis: crossAnalyses[vessel.analysis],
    vessel: vessel.vessel,
    ctFfr: vessel.ctFfr,
    invasiveFfr: null,
  }));
  const ask = (coverage: AuditCoverage) => firstQuery(crossRecords, cohortVessels, [], { coverage });

  it('complete-bases releases cohort counts whose difference counts 3 patients', () => {
    const outcome = ask('complete-bases');
    if (outcome.status !== 'released') throw new Error(`refused: ${outcome.refusal.reason}`);
    const { cohort } = outcome.result;
    expect(cohort.patients).toBe(30);
    expect(cohort.analysedVessels - cohort.analyses).toBe(3);
  });

  it('complete-cross refuses the cohort: the units are audited against each other', () => {
    expect(ask('complete-cross')).toMatchObject({
      status: 'refused',
      refusal: { reason: 'differencing', against: AGAINST_COMBINATION },
    });
  });
});
