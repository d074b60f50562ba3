/**
 * Date arithmetic and holiday calendars. Expected values are typed by hand from the official lists (sources in
 * holiday-calendars.ts), not produced by the code under test.
 */
import {
  CalendarDateError,
  addDays,
  easterSunday,
  endOfLocalDay,
  isIsoDate,
  isValidTimeZone,
  nthWeekdayOfMonth,
  parseInstant,
  toDayNumber,
  weekdayName,
  weekdayOf,
  MONDAY,
  THURSDAY,
} from './calendar-dates';
import {
  CN_CALENDAR,
  DE_CALENDAR,
  ES_CALENDAR,
  FR_CALENDAR,
  HOLIDAY_CALENDARS,
  HolidayCalendarError,
  IE_CALENDAR,
  IT_CALENDAR,
  NL_CALENDAR,
  US_CALENDAR,
  coveredYears,
  holidayName,
  holidaysInYear,
  isWorkingDay,
  makeUpWorkingDaysInYear,
  nonWorkingReason,
} from './holiday-calendars';

const dates = (calendar: Parameters<typeof holidaysInYear>[0], year: number): string[] =>
  holidaysInYear(calendar, year).map((holiday) => holiday.date);

describe('calendar dates', () => {
  it('accepts only real YYYY-MM-DD dates', () => {
    expect(isIsoDate('2026-03-13')).toBe(true);
    expect(isIsoDate('2024-02-29')).toBe(true);
    expect(isIsoDate('2026-02-29')).toBe(false);
    expect(isIsoDate('2026-3-13')).toBe(false);
    expect(isIsoDate('2026-03-13T00:00:00Z')).toBe(false);
    expect(isIsoDate(20260313)).toBe(false);
    expect(() => toDayNumber('2026-02-30', 'awarenessDate')).toThrow(/awarenessDate must be a calendar date/);
  });

  it('adds days across month, year and leap-day boundaries', () => {
    expect(addDays('2026-03-13', 15)).toBe('2026-03-28');
    expect(addDays('2025-12-22', 10)).toBe('2026-01-01');
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29');
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28');
  });

  it('knows the weekday (1970-01-01 was a Thursday)', () => {
    expect(weekdayOf('1970-01-01')).toBe(THURSDAY);
    expect(weekdayName('2026-03-13')).toBe('Friday');
    expect(weekdayName('2026-03-28')).toBe('Saturday');
    expect(weekdayName('1969-12-28')).toBe('Sunday');
  });

  it('finds the n-th and the last weekday of a month', () => {
    expect(nthWeekdayOfMonth(2025, 11, THURSDAY, 4)).toBe('2025-11-27'); // Thanksgiving 2025
    expect(nthWeekdayOfMonth(2026, 5, MONDAY, -1)).toBe('2026-05-25'); // Memorial Day 2026
    expect(nthWeekdayOfMonth(2026, 10, MONDAY, -1)).toBe('2026-10-26'); // IE October bank holiday
    expect(() => nthWeekdayOfMonth(2026, 1, MONDAY, 5)).toThrow(RangeError);
  });

  // Published Easter Sundays (e.g. the tables of the Physikalisch-Technische Bundesanstalt / US Naval Observatory):
  // includes the extremes 22 March (2285) and 25 April (1943, 2038).
  it.each([
    [1943, '1943-04-25'],
    [2000, '2000-04-23'],
    [2019, '2019-04-21'],
    [2024, '2024-03-31'],
    [2025, '2025-04-20'],
    [2026, '2026-04-05'],
    [2027, '2027-03-28'],
    [2028, '2028-04-16'],
    [2038, '2038-04-25'],
    [2285, '2285-03-22'],
  ])('Easter Sunday %i is %s (anonymous Gregorian algorithm)', (year, expected) => {
    expect(easterSunday(year)).toBe(expected);
  });

  it('ends a day at 23:59:59.999 local time, across daylight-saving changes', () => {
    // Berlin: CET (UTC+1) on 16 March 2026, CEST (UTC+2) after 29 March 2026.
    expect(new Date(endOfLocalDay('2026-03-16', 'Europe/Berlin')).toISOString()).toBe(
      '2026-03-16T22:59:59.999Z',
    );
    expect(new Date(endOfLocalDay('2026-03-30', 'Europe/Berlin')).toISOString()).toBe(
      '2026-03-30T21:59:59.999Z',
    );
    // The DST change day itself (clocks go forward at 02:00): the day still ends at 22:00 UTC.
    expect(new Date(endOfLocalDay('2026-03-29', 'Europe/Berlin')).toISOString()).toBe(
      '2026-03-29T21:59:59.999Z',
    );
    expect(new Date(endOfLocalDay('2025-12-03', 'America/New_York')).toISOString()).toBe(
      '2025-12-04T04:59:59.999Z',
    );
    expect(new Date(endOfLocalDay('2026-10-01', 'Asia/Shanghai')).toISOString()).toBe(
      '2026-10-01T15:59:59.999Z',
    );
  });

  it('parses instants only with an explicit offset', () => {
    expect(parseInstant('2026-02-14T21:30:00+08:00', 'awarenessAt')).toBe(Date.parse('2026-02-14T13:30:00Z'));
    expect(() => parseInstant('2026-02-14T21:30:00', 'awarenessAt')).toThrow(CalendarDateError);
    expect(() => parseInstant('2026-02-14', 'awarenessAt')).toThrow(
      /awarenessAt must be an ISO 8601 instant/,
    );
  });
});

describe('holiday calendars', () => {
  it('every shipped calendar has a source, a scope, a valid time zone and covers 2025–2026 at least', () => {
    for (const [country, calendar] of Object.entries(HOLIDAY_CALENDARS)) {
      expect(calendar.country).toBe(country);
      expect(calendar.source.length).toBeGreaterThan(10);
      expect(calendar.scope.length).toBeGreaterThan(10);
      expect(isValidTimeZone(calendar.timeZone)).toBe(true);
      expect(coveredYears(calendar)).toEqual(expect.arrayContaining([2025, 2026]));
    }
    for (const calendar of [
      DE_CALENDAR,
      FR_CALENDAR,
      NL_CALENDAR,
      IT_CALENDAR,
      ES_CALENDAR,
      IE_CALENDAR,
      US_CALENDAR,
    ]) {
      expect(coveredYears(calendar)).toEqual([2024, 2025, 2026, 2027]);
    }
    expect(coveredYears(CN_CALENDAR)).toEqual([2024, 2025, 2026]);
  });

  it('DE 2026: the nine nationwide holidays (Easter 5 April)', () => {
    expect(dates(DE_CALENDAR, 2026)).toEqual([
      '2026-01-01', // Neujahr
      '2026-04-03', // Karfreitag = Easter − 2
      '2026-04-06', // Ostermontag = Easter + 1
      '2026-05-01',
      '2026-05-14', // Christi Himmelfahrt = Easter + 39
      '2026-05-25', // Pfingstmontag = Easter + 50
      '2026-10-03', // Tag der Deutschen Einheit
      '2026-12-25',
      '2026-12-26',
    ]);
    expect(holidayName(DE_CALENDAR, '2025-10-03')).toBe('Tag der Deutschen Einheit');
    expect(holidayName(DE_CALENDAR, '2026-01-06')).toBeNull(); // Heilige Drei Könige is regional only
  });

  it('FR 2026: the eleven jours fériés of L3133-1', () => {
    expect(dates(FR_CALENDAR, 2026)).toEqual([
      '2026-01-01',
      '2026-04-06',
      '2026-05-01',
      '2026-05-08',
      '2026-05-14',
      '2026-05-25',
      '2026-07-14',
      '2026-08-15',
      '2026-11-01',
      '2026-11-11',
      '2026-12-25',
    ]);
  });

  it('NL 2025: King’s Day moves to Saturday 26 April because 27 April is a Sunday; Good Friday counts', () => {
    expect(dates(NL_CALENDAR, 2025)).toEqual([
      '2025-01-01',
      '2025-04-18', // Goede Vrijdag (Easter 20 April)
      '2025-04-21',
      '2025-04-26', // Koningsdag
      '2025-05-05',
      '2025-05-29',
      '2025-06-09',
      '2025-12-25',
      '2025-12-26',
    ]);
    expect(holidayName(NL_CALENDAR, '2026-04-27')).toBe('Koningsdag'); // a Monday in 2026
  });

  it('IT: 4 October (San Francesco) is a holiday from 2026, not before', () => {
    expect(holidayName(IT_CALENDAR, '2025-10-04')).toBeNull();
    expect(holidayName(IT_CALENDAR, '2026-10-04')).toBe('San Francesco d’Assisi');
    expect(dates(IT_CALENDAR, 2027)).toEqual([
      '2027-01-01',
      '2027-01-06',
      '2027-03-29', // Lunedì dell'Angelo (Easter 28 March 2027)
      '2027-04-25',
      '2027-05-01',
      '2027-06-02',
      '2027-08-15',
      '2027-10-04',
      '2027-11-01',
      '2027-12-08',
      '2027-12-25',
      '2027-12-26',
    ]);
  });

  it('ES 2027: national holidays with Good Friday (26 March)', () => {
    expect(dates(ES_CALENDAR, 2027)).toEqual([
      '2027-01-01',
      '2027-01-06',
      '2027-03-26',
      '2027-05-01',
      '2027-08-15',
      '2027-10-12',
      '2027-11-01',
      '2027-12-06',
      '2027-12-08',
      '2027-12-25',
    ]);
  });

  it('IE 2026: St Brigid’s Day is the first Monday of February, bank holidays on Mondays, no Good Friday', () => {
    expect(dates(IE_CALENDAR, 2026)).toEqual([
      '2026-01-01',
      '2026-02-02', // 1 Feb 2026 is a Sunday → first Monday
      '2026-03-17',
      '2026-04-06',
      '2026-05-04',
      '2026-06-01',
      '2026-08-03',
      '2026-10-26',
      '2026-12-25',
      '2026-12-26',
    ]);
    expect(holidayName(IE_CALENDAR, '2027-02-01')).toBe('St Brigid’s Day'); // a Monday
    // 1 February 2030 is a Friday: then that Friday is the holiday (checked on a calendar extended for the test).
    const ie2030 = { ...IE_CALENDAR, coveredYears: { from: 2030, to: 2030 } };
    expect(holidayName(ie2030, '2030-02-01')).toBe('St Brigid’s Day');
    expect(holidayName(ie2030, '2030-02-04')).toBeNull();
  });

  it('US 2027: observed dates, including 31 December 2027 for New Year’s Day 2028 (a Saturday)', () => {
    expect(dates(US_CALENDAR, 2027)).toEqual([
      '2027-01-01',
      '2027-01-18', // MLK: third Monday of January
      '2027-02-15', // Washington's Birthday: third Monday of February
      '2027-05-31', // Memorial Day: last Monday of May
      '2027-06-18', // Juneteenth (Saturday 19 June) observed Friday
      '2027-07-05', // Independence Day (Sunday 4 July) observed Monday
      '2027-09-06',
      '2027-10-11',
      '2027-11-11',
      '2027-11-25', // Thanksgiving: fourth Thursday
      '2027-12-24', // Christmas (Saturday) observed Friday
      '2027-12-31', // New Year's Day 2028 (Saturday) observed Friday
    ]);
    expect(holidayName(US_CALENDAR, '2026-07-03')).toBe('Independence Day');
    expect(isWorkingDay(US_CALENDAR, '2025-11-27')).toBe(false); // Thanksgiving 2025
  });

  it('CN 2026: Spring Festival block 15–23 February with make-up working Saturdays 14 and 28 February', () => {
    expect(makeUpWorkingDaysInYear(CN_CALENDAR, 2026)).toEqual([
      '2026-01-04',
      '2026-02-14',
      '2026-02-28',
      '2026-05-09',
      '2026-09-20',
      '2026-10-10',
    ]);
    expect(isWorkingDay(CN_CALENDAR, '2026-02-14')).toBe(true); // Saturday, but 上班
    expect(nonWorkingReason(CN_CALENDAR, '2026-02-16')).toBe('public holiday: 春节 Spring Festival'); // Monday
    expect(nonWorkingReason(CN_CALENDAR, '2026-02-23')).toBe('public holiday: 春节 Spring Festival'); // Monday
    expect(isWorkingDay(CN_CALENDAR, '2026-02-24')).toBe(true);
    expect(isWorkingDay(CN_CALENDAR, '2026-02-28')).toBe(true); // Saturday make-up day
    expect(nonWorkingReason(CN_CALENDAR, '2026-03-01')).toBe('Sunday');
    expect(holidaysInYear(CN_CALENDAR, 2026)).toHaveLength(3 + 9 + 3 + 5 + 3 + 3 + 7);
    // 2025: National Day and Mid-Autumn merged into 1–8 October, make-up days 28 September and 11 October.
    expect(isWorkingDay(CN_CALENDAR, '2025-10-08')).toBe(false);
    expect(isWorkingDay(CN_CALENDAR, '2025-09-28')).toBe(true);
    expect(isWorkingDay(CN_CALENDAR, '2025-10-11')).toBe(true);
  });

  it('CN make-up days are weekends and holiday days are distinct from them', () => {
    for (const year of coveredYears(CN_CALENDAR)) {
      const holidays = new Set(dates(CN_CALENDAR, year));
      for (const day of makeUpWorkingDaysInYear(CN_CALENDAR, year)) {
        expect(['Saturday', 'Sunday']).toContain(weekdayName(day));
        expect(holidays.has(day)).toBe(false);
        expect(day.startsWith(String(year))).toBe(true);
      }
    }
  });

  it('a year the calendar does not hold is an error naming the country, the year and what to do', () => {
    expect(() => isWorkingDay(CN_CALENDAR, '2027-02-08')).toThrow(HolidayCalendarError);
    expect(() => isWorkingDay(CN_CALENDAR, '2027-02-08')).toThrow(
      /CN holiday calendar has no data for 2027 \(it covers 2024–2026\)/,
    );
    expect(() => holidaysInYear(DE_CALENDAR, 2028)).toThrow(/DE holiday calendar has no data for 2028/);
    let caught: unknown;
    try {
      holidaysInYear(US_CALENDAR, 2023);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(HolidayCalendarError);
    expect(caught).toMatchObject({ code: 'year_not_covered', country: 'US', year: 2023 });
  });

  it('names why a day is not a working day', () => {
    expect(nonWorkingReason(DE_CALENDAR, '2026-03-28')).toBe('Saturday');
    expect(nonWorkingReason(DE_CALENDAR, '2026-04-06')).toBe('public holiday: Ostermontag');
    expect(nonWorkingReason(DE_CALENDAR, '2026-04-07')).toBeNull();
    expect(nonWorkingReason(IT_CALENDAR, '2026-04-03')).toBeNull(); // Good Friday is a working day in Italy
  });
});
