import { planCellRead } from './performance-pair-cells';

describe('planCellRead: whole clean years and months from the stored cells, the rest by day', () => {
  const stored = { first: '2024-11-01', last: '2026-02-01' };
  const months = (from: string, count: number): string[] =>
    Array.from({ length: count }, (_, i) => {
      const date = new Date(Date.parse(from));
      date.setUTCMonth(date.getUTCMonth() + i);
      return date.toISOString().slice(0, 10);
    });

  it('reads an open period as the calendar years it covers and the months around them', () => {
    const plan = planCellRead('-infinity', 'infinity', [], stored);
    expect(plan).toEqual({
      years: ['2025-01-01'],
      months: ['2024-11-01', '2024-12-01', '2026-01-01', '2026-02-01'],
      dayRanges: [],
    });
    // Clipping to the stored months: a wider period plans the same reads.
    expect(planCellRead('2020-01-01', '2030-01-01', [], stored)).toEqual(plan);
  });

  it('reads a month with a dirty day by day (its stored cells are stale), and then its year by month', () => {
    expect(planCellRead('-infinity', 'infinity', ['2025-06-10', '2025-06-11'], stored)).toEqual({
      years: [],
      months: [...months('2024-11-01', 7), ...months('2025-07-01', 8)],
      dayRanges: [['2025-06-01', '2025-07-01']],
    });
  });

  it('keeps months apart when the groups are months or quarters', () => {
    expect(planCellRead('-infinity', 'infinity', [], stored, false)).toEqual({
      years: [],
      months: months('2024-11-01', 16),
      dayRanges: [],
    });
  });

  it('reads the partial months at both edges by day', () => {
    expect(planCellRead('2025-02-14', '2025-04-20', [], stored)).toEqual({
      years: [],
      months: ['2025-03-01'],
      dayRanges: [
        ['2025-02-14', '2025-03-01'],
        ['2025-04-01', '2025-04-20'],
      ],
    });
  });

  it('reads a period inside one month by day, and nothing without stored cells', () => {
    expect(planCellRead('2025-03-03', '2025-03-29', ['2025-03-10'], stored)).toEqual({
      years: [],
      months: [],
      dayRanges: [['2025-03-03', '2025-03-29']],
    });
    expect(planCellRead('-infinity', 'infinity', ['2025-03-10'], null)).toEqual({
      years: [],
      months: [],
      dayRanges: [],
    });
  });
});
