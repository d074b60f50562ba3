import { planCellRead } from './performance-pair-cells';

describe('planCellRead: whole years and months from the stored spans, the edges by day', () => {
  const stored = { first: '2024-11-01', last: '2026-02-01' };
  const cells = { useYears: true, dirty: 'subtract' } as const;
  const monthsFrom = (from: string, count: number): string[] =>
    Array.from({ length: count }, (_, i) => {
      const date = new Date(Date.parse(from));
      date.setUTCMonth(date.getUTCMonth() + i);
      return date.toISOString().slice(0, 10);
    });

  it('reads an open period as the calendar years it covers and the months around them', () => {
    const plan = planCellRead('-infinity', 'infinity', [], stored, cells);
    expect(plan).toEqual({
      years: ['2025-01-01'],
      months: ['2024-11-01', '2024-12-01', '2026-01-01', '2026-02-01'],
      dayRanges: [],
      staleDays: [],
    });
    // Clipping to the stored months: a wider period plans the same reads.
    expect(planCellRead('2020-01-01', '2030-01-01', [], stored, cells)).toEqual(plan);
  });

  it('keeps a year or month with a dirty day and lists the day as stale (its stored rows come back out)', () => {
    expect(
      planCellRead('-infinity', 'infinity', ['2025-06-11', '2025-06-10', '2026-03-02'], stored, cells),
    ).toEqual({
      years: ['2025-01-01'],
      months: ['2024-11-01', '2024-12-01', '2026-01-01', '2026-02-01'],
      dayRanges: [],
      staleDays: ['2025-06-10', '2025-06-11'],
    });
  });

  it('reads the month of a dirty day by day instead when its stored rows must not be read (the sums)', () => {
    const months = [
      '2024-11-01',
      '2024-12-01',
      '2025-01-01',
      '2025-02-01',
      '2025-03-01',
      '2025-04-01',
      '2025-05-01',
    ];
    expect(
      planCellRead('-infinity', 'infinity', ['2025-06-10', '2025-06-11'], stored, {
        useYears: true,
        dirty: 'by-day',
      }),
    ).toEqual({
      years: [],
      months: [...months, ...monthsFrom('2025-07-01', 8)],
      dayRanges: [['2025-06-01', '2025-07-01']],
      staleDays: [],
    });
  });

  it('keeps months apart when the groups are months or quarters', () => {
    expect(planCellRead('-infinity', 'infinity', [], stored, { useYears: false, dirty: 'subtract' })).toEqual(
      {
        years: [],
        months: monthsFrom('2024-11-01', 16),
        dayRanges: [],
        staleDays: [],
      },
    );
  });

  it('reads the partial months at both edges by day', () => {
    expect(planCellRead('2025-02-14', '2025-04-20', [], stored, cells)).toEqual({
      years: [],
      months: ['2025-03-01'],
      dayRanges: [
        ['2025-02-14', '2025-03-01'],
        ['2025-04-01', '2025-04-20'],
      ],
      staleDays: [],
    });
  });

  it('reads a period inside one month by day, and nothing without stored cells', () => {
    expect(planCellRead('2025-03-03', '2025-03-29', ['2025-03-10'], stored, cells)).toEqual({
      years: [],
      months: [],
      dayRanges: [['2025-03-03', '2025-03-29']],
      staleDays: [],
    });
    expect(planCellRead('-infinity', 'infinity', ['2025-03-10'], null, cells)).toEqual({
      years: [],
      months: [],
      dayRanges: [],
      staleDays: [],
    });
  });
});
