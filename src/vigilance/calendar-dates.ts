/**
 * Date-only arithmetic for regulatory clocks.
 *
 * Regulatory periods are counted in whole calendar dates ("the awareness date is day 0", MDCG 2023-3 Q14), not in
 * 24-hour steps: adding days to a `Date` at local midnight goes wrong across daylight-saving changes. Dates are
 * therefore handled as ISO 8601 calendar dates (`YYYY-MM-DD`) mapped to a day number (days since 1970-01-01,
 * proleptic Gregorian), and only turned into instants at the very end, in the time zone of the authority that
 * receives the report (`endOfLocalDay`).
 */

/** An ISO 8601 calendar date, `YYYY-MM-DD`. */
export type IsoDate = string;

/** 0 = Sunday … 6 = Saturday, as `Date.prototype.getUTCDay`. */
export type Weekday = 0 | 1 | 2 | 3 | 4 | 5 | 6;

export const SUNDAY: Weekday = 0;
export const MONDAY: Weekday = 1;
export const THURSDAY: Weekday = 4;
export const FRIDAY: Weekday = 5;
export const SATURDAY: Weekday = 6;

const MS_PER_DAY = 86_400_000;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
/** An instant with an explicit offset: a bare local time would be read in the server's zone, which is not a fact. */
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** Thrown for a malformed date or instant; the message names the field. */
export class CalendarDateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CalendarDateError';
  }
}

/** True when `value` is a real calendar date written `YYYY-MM-DD` (2026-02-30 is not). */
export function isIsoDate(value: unknown): value is IsoDate {
  if (typeof value !== 'string') return false;
  const match = ISO_DATE.exec(value);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** Days since 1970-01-01 for a `YYYY-MM-DD` date; throws a message naming `field` when it is not one. */
export function toDayNumber(date: IsoDate, field = 'date'): number {
  if (!isIsoDate(date)) {
    throw new CalendarDateError(
      `${field} must be a calendar date written YYYY-MM-DD, got ${JSON.stringify(date)}`,
    );
  }
  const [year, month, day] = date.split('-').map(Number);
  return Date.UTC(year, month - 1, day) / MS_PER_DAY;
}

export function fromDayNumber(dayNumber: number): IsoDate {
  return new Date(dayNumber * MS_PER_DAY).toISOString().slice(0, 10);
}

export function dateFromParts(year: number, month: number, day: number): IsoDate {
  return fromDayNumber(Date.UTC(year, month - 1, day) / MS_PER_DAY);
}

export function addDays(date: IsoDate, days: number): IsoDate {
  return fromDayNumber(toDayNumber(date) + days);
}

export function weekdayOf(date: IsoDate): Weekday {
  // 1970-01-01 was a Thursday.
  return ((((toDayNumber(date) + THURSDAY) % 7) + 7) % 7) as Weekday;
}

export function isWeekend(date: IsoDate): boolean {
  const weekday = weekdayOf(date);
  return weekday === SATURDAY || weekday === SUNDAY;
}

export function yearOf(date: IsoDate): number {
  return Number(date.slice(0, 4));
}

const WEEKDAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'] as const;

export function weekdayName(date: IsoDate): string {
  return WEEKDAY_NAMES[weekdayOf(date)];
}

/** The n-th (1-based) `weekday` of a month, or the last one when n = -1 (e.g. US Memorial Day). */
export function nthWeekdayOfMonth(year: number, month: number, weekday: Weekday, n: number): IsoDate {
  if (n === -1) {
    const lastDay = dateFromParts(year, month + 1, 0);
    const back = (weekdayOf(lastDay) - weekday + 7) % 7;
    return addDays(lastDay, -back);
  }
  if (!Number.isInteger(n) || n < 1 || n > 4) throw new RangeError(`n must be 1–4 or -1, got ${n}`);
  const first = dateFromParts(year, month, 1);
  const forward = (weekday - weekdayOf(first) + 7) % 7;
  return addDays(first, forward + 7 * (n - 1));
}

/**
 * Easter Sunday (Gregorian) by the anonymous Gregorian algorithm ("Meeus/Jones/Butcher", J. Meeus, Astronomical
 * Algorithms, 2nd ed., ch. 8). Exact for every Gregorian year; checked in the spec against published dates.
 * Western public holidays that move with Easter (Good Friday −2, Easter Monday +1, Ascension +39, Whit Monday +50)
 * are offsets from it.
 */
export function easterSunday(year: number): IsoDate {
  if (!Number.isInteger(year) || year < 1583)
    throw new RangeError(`Gregorian Easter needs a year ≥ 1583, got ${year}`);
  const a = year % 19;
  const b = Math.floor(year / 100);
  const c = year % 100;
  const d = Math.floor(b / 4);
  const e = b % 4;
  const f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const day = ((h + l - 7 * m + 114) % 31) + 1;
  return dateFromParts(year, month, day);
}

/** Milliseconds since the epoch of an ISO 8601 instant that carries `Z` or an explicit offset. */
export function parseInstant(value: unknown, field: string): number {
  if (typeof value !== 'string' || !ISO_INSTANT.test(value)) {
    throw new CalendarDateError(
      `${field} must be an ISO 8601 instant with an offset, such as 2026-03-13T21:30:00+08:00; got ${JSON.stringify(value)}`,
    );
  }
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw new CalendarDateError(`${field} is not a real instant: ${JSON.stringify(value)}`);
  return ms;
}

/** `2026-03-13T13:30:00Z`: seconds precision, UTC. */
export function formatInstant(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** Offset of `timeZone` from UTC at an instant, in ms (e.g. +3 600 000 for CET). */
function zoneOffsetMs(instantMs: number, timeZone: string): number {
  const wholeSecond = Math.floor(instantMs / 1000) * 1000;
  const parts = formatterFor(timeZone).formatToParts(new Date(wholeSecond));
  const part = (type: Intl.DateTimeFormatPartTypes): number =>
    Number(parts.find((candidate) => candidate.type === type)?.value);
  const asUtc = Date.UTC(
    part('year'),
    part('month') - 1,
    part('day'),
    part('hour'),
    part('minute'),
    part('second'),
  );
  return asUtc - wholeSecond;
}

/** True when the runtime's ICU knows the IANA zone name. */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

/**
 * The last millisecond (23:59:59.999) of `date` in an IANA time zone, as epoch ms. MDCG 2023-3 Q14: the period runs
 * "to 23:59:59 on day N"; whose clock that is, is the receiving authority's (see holiday-calendars.ts, `timeZone`).
 */
export function endOfLocalDay(date: IsoDate, timeZone: string): number {
  const target = (toDayNumber(date) + 1) * MS_PER_DAY - 1;
  // Two passes settle the offset even when the day itself changes offset (DST changes happen at night, not at 24:00).
  let instant = target - zoneOffsetMs(target, timeZone);
  instant = target - zoneOffsetMs(instant, timeZone);
  return instant;
}
