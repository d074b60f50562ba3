import { addMonths, isCalendarDate, monthsBetween, rollingWindows } from './report-period';
import { dueReports } from './reports-schedule.job';

describe('report periods', () => {
  it('recognises calendar dates only', () => {
    expect(isCalendarDate('2024-02-29')).toBe(true);
    expect(isCalendarDate('2023-02-29')).toBe(false);
    expect(isCalendarDate('2024-2-1')).toBe(false);
  });

  it('adds months clamped to the last day of the month', () => {
    expect(addMonths('2024-02-29', -12)).toBe('2023-02-28');
    expect(addMonths('2025-01-31', 1)).toBe('2025-02-28');
    expect(addMonths('2025-12-31', 12)).toBe('2026-12-31');
  });

  it('builds contiguous rolling windows ending on the reporting day (MDCG 2022-21 Annex II)', () => {
    expect(rollingWindows('2025-12-31', 12, 4)).toEqual([
      { label: 'N', from: '2025-01-01', to: '2025-12-31' },
      { label: 'N-1', from: '2024-01-01', to: '2024-12-31' },
      { label: 'N-2', from: '2023-01-01', to: '2023-12-31' },
      { label: 'N-3', from: '2022-01-01', to: '2022-12-31' },
    ]);
    const windows = rollingWindows('2026-03-14', 24, 2);
    expect(windows).toEqual([
      { label: 'N', from: '2024-03-15', to: '2026-03-14' },
      { label: 'N-1', from: '2022-03-15', to: '2024-03-14' },
    ]);
  });

  it('lists the months of a period', () => {
    expect(monthsBetween('2025-11-15', '2026-02-01')).toEqual(['2025-11', '2025-12', '2026-01', '2026-02']);
  });
});

describe('scheduled reports due', () => {
  const product = { riskClass: 'III', jurisdictions: ['EU', 'CN'], anchor: '2024-03-15' };

  it('drafts the latest completed annual PSUR period for class III', () => {
    expect(dueReports({ ...product, jurisdictions: ['EU'] }, '2025-03-14')).toEqual([]);
    expect(dueReports({ ...product, jurisdictions: ['EU'] }, '2025-03-15')).toEqual([
      { type: 'psur', from: '2024-03-15', to: '2025-03-14' },
    ]);
    expect(dueReports({ ...product, jurisdictions: ['EU'] }, '2026-06-01')).toEqual([
      { type: 'psur', from: '2025-03-15', to: '2026-03-14' },
    ]);
  });

  it('uses two-year periods for class IIa and none for class I', () => {
    expect(
      dueReports({ riskClass: 'IIa', jurisdictions: ['EU'], anchor: '2024-03-15' }, '2025-06-01'),
    ).toEqual([]);
    expect(
      dueReports({ riskClass: 'IIa', jurisdictions: ['EU'], anchor: '2024-03-15' }, '2026-03-15'),
    ).toEqual([{ type: 'psur', from: '2024-03-15', to: '2026-03-14' }]);
    expect(dueReports({ riskClass: 'I', jurisdictions: ['EU'], anchor: '2020-01-01' }, '2026-01-01')).toEqual(
      [],
    );
  });

  it('drafts the NMPA report only within 60 days after each registration year of the first cycle', () => {
    const cn = { ...product, jurisdictions: ['CN'] };
    expect(dueReports(cn, '2025-03-14')).toEqual([]);
    expect(dueReports(cn, '2025-03-15')).toEqual([
      { type: 'nmpa-periodic-risk', from: '2024-03-15', to: '2025-03-14' },
    ]);
    expect(dueReports(cn, '2025-05-13')).toEqual([
      { type: 'nmpa-periodic-risk', from: '2024-03-15', to: '2025-03-14' },
    ]);
    expect(dueReports(cn, '2025-05-14')).toEqual([]);
    // After the fifth registration year: one report per renewal cycle, not scheduled annually.
    expect(dueReports(cn, '2030-03-20')).toEqual([]);
  });
});
