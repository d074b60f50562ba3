/** Calendar arithmetic on UTC dates written YYYY-MM-DD (periods are whole days, both ends inclusive). */

const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function isCalendarDate(value: string): boolean {
  if (!DATE.test(value)) return false;
  const parsed = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().slice(0, 10) === value;
}

export function addDays(date: string, days: number): string {
  const parsed = new Date(`${date}T00:00:00Z`);
  parsed.setUTCDate(parsed.getUTCDate() + days);
  return parsed.toISOString().slice(0, 10);
}

/** The same day `months` later (or earlier), clamped to the month's last day (2024-02-29 − 12 months = 2023-02-28). */
export function addMonths(date: string, months: number): string {
  const [year, month, day] = date.split('-').map(Number);
  const target = new Date(Date.UTC(year, month - 1 + months, 1));
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(day, lastDay));
  return target.toISOString().slice(0, 10);
}

/**
 * MDCG 2022-21 Annex II/III rolling windows: N = the reporting day and the preceding `months` months, then N-1, N-2…
 * Each window is (end − months, end], written as inclusive calendar dates.
 */
export function rollingWindows(
  reportingDay: string,
  months: number,
  count: number,
): Array<{ label: string; from: string; to: string }> {
  const windows: Array<{ label: string; from: string; to: string }> = [];
  let end = reportingDay;
  for (let index = 0; index < count; index++) {
    const start = addDays(addMonths(end, -months), 1);
    windows.push({ label: index === 0 ? 'N' : `N-${index}`, from: start, to: end });
    end = addDays(start, -1);
  }
  return windows;
}

/** Months YYYY-MM from the month of `from` to the month of `to`, inclusive. */
export function monthsBetween(from: string, to: string): string[] {
  const months: string[] = [];
  let [year, month] = from.slice(0, 7).split('-').map(Number);
  const last = to.slice(0, 7);
  for (;;) {
    const label = `${year}-${String(month).padStart(2, '0')}`;
    months.push(label);
    if (label >= last) break;
    month++;
    if (month > 12) {
      month = 1;
      year++;
    }
  }
  return months;
}
