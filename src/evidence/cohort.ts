/**
 * Cohort definitions of evidence queries, restricted to a fixed lattice (issue 7 §2): calendar months and fixed
 * bands, never a free threshold, so that no two definitions can be tuned to differ by one patient through an age of
 * 61.5 or a date at 10:22. Every filter is a set of lattice values (absent = every value). Pure.
 *
 * Bands are data (the same table drives the SQL and the documentation):
 *  - age: 10-year bands, under 40 and 80+ pooled (top-coding as HIPAA Safe Harbor §164.514(b)(2)(i)(C) does at 90;
 *    coarser here because cohorts are small);
 *  - BMI: WHO adult classes (underweight < 18.5, normal 18.5–24.9, overweight 25–29.9, obese ≥ 30; WHO TRS 894);
 *  - Agatston: the classical coronary calcium categories 0, 1–99, 100–399, ≥ 400 (CAC-DRS, Hecht et al. 2018);
 */

export interface Band {
  readonly key: string;
  /** Inclusive lower bound (null: none). */
  readonly low: number | null;
  /** Exclusive upper bound (null: none). */
  readonly high: number | null;
}

export const UNKNOWN = 'unknown';

export const AGE_BANDS: readonly Band[] = [
  { key: '<40', low: null, high: 40 },
  { key: '40-49', low: 40, high: 50 },
  { key: '50-59', low: 50, high: 60 },
  { key: '60-69', low: 60, high: 70 },
  { key: '70-79', low: 70, high: 80 },
  { key: '80+', low: 80, high: null },
];

export const BMI_BANDS: readonly Band[] = [
  { key: '<18.5', low: null, high: 18.5 },
  { key: '18.5-24.9', low: 18.5, high: 25 },
  { key: '25-29.9', low: 25, high: 30 },
  { key: '30+', low: 30, high: null },
];

export const AGATSTON_BANDS: readonly Band[] = [
  { key: '0', low: null, high: 1 },
  { key: '1-99', low: 1, high: 100 },
  { key: '100-399', low: 100, high: 400 },
  { key: '400+', low: 400, high: null },
];

export const SEXES = ['F', 'M', UNKNOWN] as const;
export const VESSELS = ['LM', 'LAD', 'LCX', 'RCA'] as const;
export const STATUSES = ['completed', 'rejected', 'failed'] as const;

export const bandKeys = (bands: readonly Band[]): string[] => [...bands.map((band) => band.key), UNKNOWN];

/** The filter dimensions; each is a set of lattice values. */
export const SET_DIMENSIONS = [
  'modelVersions',
  'sites',
  'scannerVendors',
  'ageBands',
  'sexes',
  'bmiBands',
  'agatstonBands',
  'vessels',
  'statuses',
] as const;
export type SetDimension = (typeof SET_DIMENSIONS)[number];

export const STRATIFY_BY = [
  'site',
  'modelVersion',
  'scannerVendor',
  'vessel',
  'sex',
  'ageBand',
  'bmiBand',
  'agatstonBand',
] as const;
export type StratifyBy = (typeof STRATIFY_BY)[number];

/**
 * The distributions a query may ask for (`tables`): analyses by each lattice attribute, analysed vessels by vessel and
 * by CT-FFR band. Data minimisation (GDPR Art. 5(1)(c)): every released table adds cells to the product's
 * cross-release audit, and so spends some of the releases the product can still answer (src/evidence/README.md).
 */
export const ANALYSIS_DISTRIBUTIONS = [
  'sex',
  'ageBand',
  'bmiBand',
  'agatstonBand',
  'scannerVendor',
  'modelVersion',
  'site',
  'status',
  'month',
] as const;
export const DISTRIBUTION_TABLES = [...ANALYSIS_DISTRIBUTIONS, 'vessel', 'ctFfrBand'] as const;
export type DistributionTable = (typeof DISTRIBUTION_TABLES)[number];

/** A normalised definition: sorted, de-duplicated sets; months as YYYY-MM; absent = every value. */
export interface CohortDefinition {
  readonly productId: string;
  /** First and last calendar month (UTC) of the CTA, inclusive. */
  readonly fromMonth: string | null;
  readonly toMonth: string | null;
  readonly modelVersions?: readonly string[];
  readonly sites?: readonly string[];
  readonly scannerVendors?: readonly string[];
  readonly ageBands?: readonly string[];
  readonly sexes?: readonly string[];
  readonly bmiBands?: readonly string[];
  readonly agatstonBands?: readonly string[];
  readonly vessels?: readonly string[];
  readonly statuses?: readonly string[];
  readonly stratifyBy: StratifyBy | null;
  /**
   * The distributions released, sorted (the accuracy table always is). Absent: all of them — the only form of
   * definitions stored before queries could name their tables, which re-run as they ran.
   */
  readonly tables?: readonly DistributionTable[];
}

export type CohortInput = Omit<CohortDefinition, 'fromMonth' | 'toMonth' | 'stratifyBy'> & {
  fromMonth?: string | null;
  toMonth?: string | null;
  stratifyBy?: StratifyBy | null;
};

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;

/** Sorted, de-duplicated sets; empty sets refused (they select nothing, and invite set arithmetic). */
export function normaliseDefinition(input: CohortInput): CohortDefinition {
  for (const month of [input.fromMonth, input.toMonth]) {
    if (month != null && !MONTH.test(month)) throw new RangeError(`months are YYYY-MM, got ${month}`);
  }
  if (input.fromMonth && input.toMonth && input.fromMonth > input.toMonth) {
    throw new RangeError('fromMonth is after toMonth');
  }
  const sets: Partial<Record<SetDimension, readonly string[]>> = {};
  for (const dimension of SET_DIMENSIONS) {
    const values = input[dimension];
    if (values === undefined || values === null) continue;
    if (values.length === 0)
      throw new RangeError(`${dimension} must not be empty (leave it out for every value)`);
    sets[dimension] = [...new Set(values)].sort();
  }
  // An empty list is a query for the cohort counts and the accuracy table only.
  for (const table of input.tables ?? [])
    if (!(DISTRIBUTION_TABLES as readonly string[]).includes(table))
      throw new RangeError(`unknown table ${table}`);
  return {
    productId: input.productId,
    fromMonth: input.fromMonth ?? null,
    toMonth: input.toMonth ?? null,
    ...sets,
    stratifyBy: input.stratifyBy ?? null,
    ...(input.tables ? { tables: [...new Set(input.tables)].sort() } : {}),
  };
}

/** Start of the month (UTC) as an ISO instant, and the start of the month after `toMonth`. */
export function monthStart(month: string): string {
  return `${month}-01T00:00:00.000Z`;
}
export function monthAfter(month: string): string {
  const [year, m] = month.split('-').map(Number);
  return new Date(Date.UTC(year, m, 1)).toISOString();
}

/**
 * Is every analysis (vessel) of `inner` also in `outer`? Per dimension: inner's set ⊆ outer's (absent = every
 * value); the month range nested. The product must be the same. The stratification does not change the cohort.
 */
export function cohortContains(outer: CohortDefinition, inner: CohortDefinition): boolean {
  if (outer.productId !== inner.productId) return false;
  if (outer.fromMonth !== null && (inner.fromMonth === null || inner.fromMonth < outer.fromMonth))
    return false;
  if (outer.toMonth !== null && (inner.toMonth === null || inner.toMonth > outer.toMonth)) return false;
  for (const dimension of SET_DIMENSIONS) {
    const outerSet = outer[dimension];
    if (outerSet === undefined) continue;
    const innerSet = inner[dimension];
    if (innerSet === undefined) return false;
    if (!innerSet.every((value) => outerSet.includes(value))) return false;
  }
  return true;
}

/** Nested either way: a difference of their counts is the count of a set of patients. */
export function cohortsNested(a: CohortDefinition, b: CohortDefinition): boolean {
  return cohortContains(a, b) || cohortContains(b, a);
}

/** SQL CASE giving a band's key for a numeric column (NULL → 'unknown'). `column` is a trusted identifier. */
export function bandCaseSql(column: string, bands: readonly Band[]): string {
  const whens = bands.map((band) => {
    const conditions = [
      band.low === null ? null : `${column} >= ${band.low}`,
      band.high === null ? null : `${column} < ${band.high}`,
    ].filter((condition): condition is string => condition !== null);
    return `WHEN ${conditions.join(' AND ')} THEN '${band.key}'`;
  });
  return `(CASE WHEN ${column} IS NULL THEN '${UNKNOWN}' ${whens.join(' ')} END)`;
}

/** A band's key for a value (the same rule as bandCaseSql, for values read in TypeScript). */
export function bandOf(value: number | null, bands: readonly Band[]): string {
  if (value === null) return UNKNOWN;
  for (const band of bands) {
    if ((band.low === null || value >= band.low) && (band.high === null || value < band.high))
      return band.key;
  }
  return UNKNOWN;
}
