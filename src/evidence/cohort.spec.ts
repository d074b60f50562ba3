import {
  AGE_BANDS,
  bandCaseSql,
  bandOf,
  BMI_BANDS,
  cohortContains,
  cohortsNested,
  monthAfter,
  normaliseDefinition,
} from './cohort';

const product = '7b6f7c1e-8a49-4d1e-9d9a-3a4bb1f0a001';

describe('cohort lattice', () => {
  it('normalises sets (sorted, de-duplicated) and refuses empty sets and reversed months', () => {
    expect(normaliseDefinition({ productId: product, sexes: ['M', 'F', 'M'] })).toEqual({
      productId: product,
      fromMonth: null,
      toMonth: null,
      sexes: ['F', 'M'],
      stratifyBy: null,
    });
    expect(() => normaliseDefinition({ productId: product, sites: [] })).toThrow(RangeError);
    expect(() =>
      normaliseDefinition({ productId: product, fromMonth: '2026-03', toMonth: '2026-01' }),
    ).toThrow(RangeError);
    expect(() => normaliseDefinition({ productId: product, fromMonth: '2026-1' })).toThrow(RangeError);
  });

  it('keeps the tables asked for sorted and de-duplicated, an empty list as such, and refuses unknown ones', () => {
    expect(normaliseDefinition({ productId: product, tables: ['site', 'sex', 'site'] }).tables).toEqual([
      'sex',
      'site',
    ]);
    expect(normaliseDefinition({ productId: product, tables: [] }).tables).toEqual([]);
    // Absent is every table: the form of the definitions stored before tables could be named, kept as it was.
    expect(normaliseDefinition({ productId: product })).not.toHaveProperty('tables');
    expect(() => normaliseDefinition({ productId: product, tables: ['patients' as 'sex'] })).toThrow(
      RangeError,
    );
  });

  it('knows when one cohort contains another', () => {
    const all = normaliseDefinition({ productId: product });
    const ab = normaliseDefinition({ productId: product, sites: ['A', 'B'], fromMonth: '2026-01' });
    const a = normaliseDefinition({
      productId: product,
      sites: ['A'],
      fromMonth: '2026-02',
      toMonth: '2026-03',
    });
    const c = normaliseDefinition({ productId: product, sites: ['C'] });
    expect(cohortContains(all, ab)).toBe(true);
    expect(cohortContains(ab, a)).toBe(true);
    expect(cohortContains(a, ab)).toBe(false);
    expect(cohortsNested(a, ab)).toBe(true);
    expect(cohortsNested(ab, c)).toBe(false);
    // An open period contains every period, never the reverse.
    expect(cohortContains(a, normaliseDefinition({ productId: product, sites: ['A'] }))).toBe(false);
    expect(cohortContains(all, { ...all, productId: 'another' })).toBe(false);
    // Stratification does not change the cohort.
    expect(cohortContains(all, normaliseDefinition({ productId: product, stratifyBy: 'site' }))).toBe(true);
  });

  it('bands values the same way in TypeScript and in SQL', () => {
    expect(bandOf(39, AGE_BANDS)).toBe('<40');
    expect(bandOf(40, AGE_BANDS)).toBe('40-49');
    expect(bandOf(95, AGE_BANDS)).toBe('80+');
    expect(bandOf(null, AGE_BANDS)).toBe('unknown');
    expect(bandOf(18.5, BMI_BANDS)).toBe('18.5-24.9');
    expect(bandOf(24.99, BMI_BANDS)).toBe('18.5-24.9');
    expect(bandCaseSql('a.bmi', BMI_BANDS)).toBe(
      "(CASE WHEN a.bmi IS NULL THEN 'unknown' WHEN a.bmi < 18.5 THEN '<18.5' WHEN a.bmi >= 18.5 AND a.bmi < 25 THEN '18.5-24.9' WHEN a.bmi >= 25 AND a.bmi < 30 THEN '25-29.9' WHEN a.bmi >= 30 THEN '30+' END)",
    );
  });

  it('ends a period at the first instant of the month after', () => {
    expect(monthAfter('2026-12')).toBe('2027-01-01T00:00:00.000Z');
    expect(monthAfter('2026-02')).toBe('2026-03-01T00:00:00.000Z');
  });
});
