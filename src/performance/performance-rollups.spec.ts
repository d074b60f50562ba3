import { sliceParameters } from './performance-rollups';

describe('sliceParameters', () => {
  it('gives one [start, end) instant range per run of consecutive days, across month and year ends', () => {
    const [product, manufacturer, days, threshold, starts, ends] = sliceParameters(
      'p',
      'm',
      ['2026-01-01', '2025-12-30', '2025-12-31', '2026-02-28', '2026-03-02', '2026-03-01', '2025-12-31'],
      0.8,
    );
    expect([product, manufacturer, threshold]).toEqual(['p', 'm', 0.8]);
    expect(days).toEqual([
      '2025-12-30',
      '2025-12-31',
      '2026-01-01',
      '2026-02-28',
      '2026-03-01',
      '2026-03-02',
    ]);
    expect(starts).toEqual(['2025-12-30T00:00:00.000Z', '2026-02-28T00:00:00.000Z']);
    expect(ends).toEqual(['2026-01-02T00:00:00.000Z', '2026-03-03T00:00:00.000Z']);
  });

  it('keeps days a day apart in separate ranges, so the day between is not read', () => {
    const [, , , , starts, ends] = sliceParameters('p', 'm', ['2026-05-10', '2026-05-12'], 0.8);
    expect(starts).toEqual(['2026-05-10T00:00:00.000Z', '2026-05-12T00:00:00.000Z']);
    expect(ends).toEqual(['2026-05-11T00:00:00.000Z', '2026-05-13T00:00:00.000Z']);
  });

  it('gives no range for no days', () => {
    const [, , days, , starts, ends] = sliceParameters('p', 'm', [], 0.8);
    expect([days, starts, ends]).toEqual([[], [], []]);
  });
});
