/**
 * Public-holiday calendars per country, as data with their sources, for the regulatory clocks.
 *
 * Why they matter: MDCG 2023-3 Q14 applies Regulation (EEC, Euratom) No 1182/71 Art. 3(4) to the MDR Art. 87
 * periods — a period whose last day is a Saturday, Sunday or public holiday ends at the end of the next working day —
 * and Art. 2(1) of that regulation takes "public holidays" from the Member State where the act is to be done (here:
 * the competent authority of the country where the incident occurred). 21 CFR 803.53 counts "work days" (Monday to
 * Friday except Federal holidays). China's State Council moves weekend days into working days around its holidays.
 *
 * Conventions pinned here (read before adding a country):
 *  - **Nationwide holidays only.** Regional holidays (German Länder, Spanish autonomous communities, Alsace-Moselle,
 *    Italian patron saints) and ad-hoc closures are left out. Leaving out a day can only make a computed deadline
 *    earlier, never later, so an incomplete calendar errs on the safe side; an extra day would not.
 *  - **Weekend substitution only where the law moves the day itself** (US federal "observed" days,
 *    5 U.S.C. 6103(b); Dutch King's Day). Where a holiday on a Sunday only earns workers a day off elsewhere (IE, ES
 *    regional transfers), it is not moved.
 *  - **Every calendar states the years it has been checked for**, and asking for any other year is an error
 *    (`HolidayCalendarError`, code `year_not_covered`), never a silent "no holidays": holiday law changes (Italy
 *    restored 4 October from 2026; Ireland added St Brigid's Day in 2023; China publishes a new schedule each
 *    November). **Maintain yearly**: extend `coveredYears` after checking the rules against the next year's official
 *    list, and add China's next year from the State Council notice.
 *  - Rules-based calendars are computed (Easter by the anonymous Gregorian algorithm, calendar-dates.ts); China's is
 *    listed as published, because its dates follow the lunar calendar and yearly State Council decisions.
 *
 * Provenance tags as in reference/regulatory.md: [V] checked against the primary text, [S] secondary sources,
 * [R] recalled, verify against the official list before relying on it.
 */
import {
  type IsoDate,
  type Weekday,
  FRIDAY,
  MONDAY,
  SATURDAY,
  SUNDAY,
  THURSDAY,
  addDays,
  dateFromParts,
  easterSunday,
  fromDayNumber,
  isIsoDate,
  isWeekend,
  nthWeekdayOfMonth,
  toDayNumber,
  weekdayOf,
  yearOf,
} from './calendar-dates';

/** How a holiday's date is found in a given year. */
export type HolidayDateRule =
  | { readonly kind: 'fixed'; readonly month: number; readonly day: number }
  /** Days after Easter Sunday (Good Friday −2, Easter Monday +1, Ascension +39, Whit Monday +50). */
  | { readonly kind: 'easter'; readonly offsetDays: number }
  /** n-th weekday of a month; n = -1 is the last one. */
  | { readonly kind: 'nth_weekday'; readonly month: number; readonly weekday: Weekday; readonly n: number }
  /**
   * `month`/`day` when that date falls on `ifWeekday`, otherwise the n-th `weekday` of the month — Ireland's
   * St Brigid's Day: "the first Monday in February, or 1 February if that date falls on a Friday".
   */
  | {
      readonly kind: 'fixed_if_weekday_else_nth_weekday';
      readonly month: number;
      readonly day: number;
      readonly ifWeekday: Weekday;
      readonly weekday: Weekday;
      readonly n: number;
    };

export interface HolidayDefinition {
  readonly name: string;
  readonly rule: HolidayDateRule;
  /** Day shifts when the date falls on a weekend, only where the law moves the holiday itself. */
  readonly observance?: { readonly saturday?: number; readonly sunday?: number };
  /** First and last year the holiday exists (inclusive); open when absent. */
  readonly fromYear?: number;
  readonly toYear?: number;
  /** Source of this particular day when it differs from the calendar's. */
  readonly source?: string;
}

interface CalendarCommon {
  /** ISO 3166-1 alpha-2 (US: federal holidays). */
  readonly country: string;
  readonly name: string;
  /** IANA zone of the receiving authority: "end of the due day" is 23:59:59 there (MDCG 2023-3 Q14). */
  readonly timeZone: string;
  /** The legal or official source of the list. */
  readonly source: string;
  /** What is in and what is deliberately left out. */
  readonly scope: string;
}

/** Computed each year from rules; valid for `coveredYears` only. */
export interface RuleBasedHolidayCalendar extends CalendarCommon {
  readonly kind: 'rules';
  readonly coveredYears: { readonly from: number; readonly to: number };
  readonly holidays: readonly HolidayDefinition[];
}

export interface ListedHolidayYear {
  /** The official notice this year's list is copied from. */
  readonly source: string;
  /** Days off, including weekend days inside a block, named after the festival they belong to. */
  readonly holidays: readonly { readonly name: string; readonly dates: readonly IsoDate[] }[];
  /** Saturdays/Sundays that are working days (China's 调休 make-up days). */
  readonly makeUpWorkingDays: readonly { readonly date: IsoDate; readonly for: string }[];
}

/** Copied from an official yearly publication; a year that is not listed is not known. */
export interface ListedHolidayCalendar extends CalendarCommon {
  readonly kind: 'listed';
  readonly years: Readonly<Record<number, ListedHolidayYear>>;
}

export type HolidayCalendar = RuleBasedHolidayCalendar | ListedHolidayCalendar;

export interface Holiday {
  readonly date: IsoDate;
  readonly name: string;
}

export type HolidayCalendarErrorCode = 'calendar_missing' | 'year_not_covered';

/** A deadline needed a calendar (or a year of one) that the data does not hold. Never skipped silently. */
export class HolidayCalendarError extends Error {
  constructor(
    readonly code: HolidayCalendarErrorCode,
    readonly country: string,
    readonly year: number | null,
    message: string,
  ) {
    super(message);
    this.name = 'HolidayCalendarError';
  }
}

const fixed = (month: number, day: number): HolidayDateRule => ({ kind: 'fixed', month, day });
const easter = (offsetDays: number): HolidayDateRule => ({ kind: 'easter', offsetDays });
const nth = (month: number, weekday: Weekday, n: number): HolidayDateRule => ({
  kind: 'nth_weekday',
  month,
  weekday,
  n,
});

/** 5 U.S.C. 6103(b): a holiday on a Saturday is observed the Friday before, on a Sunday the Monday after. */
const US_OBSERVED = { saturday: -1, sunday: 1 } as const;

/** Germany: the nine holidays common to all 16 Länder. */
export const DE_CALENDAR: RuleBasedHolidayCalendar = {
  kind: 'rules',
  country: 'DE',
  name: 'Germany — nationwide public holidays',
  timeZone: 'Europe/Berlin',
  source:
    'Tag der Deutschen Einheit: Einigungsvertrag Art. 2(2); the other eight are in every Land’s Feiertagsgesetz ' +
    '(e.g. the Feiertagsgesetz NRW, where BfArM sits) [R]',
  scope:
    'Nationwide only. Left out: Land holidays (Heilige Drei Könige, Fronleichnam, Reformationstag, Allerheiligen, ' +
    'Buß- und Bettag, Frauentag, Weltkindertag, Mariä Himmelfahrt, Augsburger Friedensfest).',
  coveredYears: { from: 2024, to: 2027 },
  holidays: [
    { name: 'Neujahr', rule: fixed(1, 1) },
    { name: 'Karfreitag', rule: easter(-2) },
    { name: 'Ostermontag', rule: easter(1) },
    { name: 'Tag der Arbeit', rule: fixed(5, 1) },
    { name: 'Christi Himmelfahrt', rule: easter(39) },
    { name: 'Pfingstmontag', rule: easter(50) },
    { name: 'Tag der Deutschen Einheit', rule: fixed(10, 3) },
    { name: '1. Weihnachtstag', rule: fixed(12, 25) },
    { name: '2. Weihnachtstag', rule: fixed(12, 26) },
  ],
};

/** France: the eleven jours fériés of the Code du travail. */
export const FR_CALENDAR: RuleBasedHolidayCalendar = {
  kind: 'rules',
  country: 'FR',
  name: 'France — jours fériés',
  timeZone: 'Europe/Paris',
  source: 'Code du travail, art. L3133-1 [R]',
  scope:
    'National list. Left out: Alsace-Moselle’s Good Friday and 26 December (local law), overseas departments’ ' +
    'abolition-of-slavery days. Whit Monday stays in: the journée de solidarité does not remove it from L3133-1.',
  coveredYears: { from: 2024, to: 2027 },
  holidays: [
    { name: 'Jour de l’an', rule: fixed(1, 1) },
    { name: 'Lundi de Pâques', rule: easter(1) },
    { name: 'Fête du Travail', rule: fixed(5, 1) },
    { name: 'Victoire 1945', rule: fixed(5, 8) },
    { name: 'Ascension', rule: easter(39) },
    { name: 'Lundi de Pentecôte', rule: easter(50) },
    { name: 'Fête nationale', rule: fixed(7, 14) },
    { name: 'Assomption', rule: fixed(8, 15) },
    { name: 'Toussaint', rule: fixed(11, 1) },
    { name: 'Armistice 1918', rule: fixed(11, 11) },
    { name: 'Noël', rule: fixed(12, 25) },
  ],
};

/**
 * Netherlands: the Algemene termijnenwet is the Dutch law on how periods end on weekends and holidays, so its list is
 * the one that decides a period's last day.
 */
export const NL_CALENDAR: RuleBasedHolidayCalendar = {
  kind: 'rules',
  country: 'NL',
  name: 'Netherlands — algemeen erkende feestdagen',
  timeZone: 'Europe/Amsterdam',
  source: 'Algemene termijnenwet art. 3(1) and 3(2) (Good Friday equated) [S]',
  scope:
    'Statutory list. Left out: days equated by royal decree under art. 3(3) (bridge days, e.g. the Friday after ' +
    'Ascension), published every three years in the Staatscourant — add them per year if the IGJ applies them.',
  coveredYears: { from: 2024, to: 2027 },
  holidays: [
    { name: 'Nieuwjaarsdag', rule: fixed(1, 1) },
    { name: 'Goede Vrijdag', rule: easter(-2) },
    { name: 'Tweede Paasdag', rule: easter(1) },
    // Koningsdag is 27 April, or Saturday 26 April when the 27th is a Sunday.
    { name: 'Koningsdag', rule: fixed(4, 27), observance: { sunday: -1 } },
    { name: 'Bevrijdingsdag', rule: fixed(5, 5) },
    { name: 'Hemelvaartsdag', rule: easter(39) },
    { name: 'Tweede Pinksterdag', rule: easter(50) },
    { name: 'Eerste Kerstdag', rule: fixed(12, 25) },
    { name: 'Tweede Kerstdag', rule: fixed(12, 26) },
  ],
};

/** Italy: national holidays. */
export const IT_CALENDAR: RuleBasedHolidayCalendar = {
  kind: 'rules',
  country: 'IT',
  name: 'Italy — festività nazionali',
  timeZone: 'Europe/Rome',
  source: 'Legge 27 maggio 1949 n. 260, art. 2, as amended (Epiphany restored by DPR 792/1985) [R]',
  scope: 'National list. Left out: patron saints’ days of each town (e.g. Rome 29 June, Milan 7 December).',
  coveredYears: { from: 2024, to: 2027 },
  holidays: [
    { name: 'Capodanno', rule: fixed(1, 1) },
    { name: 'Epifania', rule: fixed(1, 6) },
    { name: 'Lunedì dell’Angelo', rule: easter(1) },
    { name: 'Festa della Liberazione', rule: fixed(4, 25) },
    { name: 'Festa del Lavoro', rule: fixed(5, 1) },
    { name: 'Festa della Repubblica', rule: fixed(6, 2) },
    { name: 'Ferragosto', rule: fixed(8, 15) },
    {
      name: 'San Francesco d’Assisi',
      rule: fixed(10, 4),
      fromYear: 2026,
      source:
        'Amendment of Legge 260/1949 art. 2 passed by the Senate on 1 October 2025, in force from 2026 [S]',
    },
    { name: 'Ognissanti', rule: fixed(11, 1) },
    { name: 'Immacolata Concezione', rule: fixed(12, 8) },
    { name: 'Natale', rule: fixed(12, 25) },
    { name: 'Santo Stefano', rule: fixed(12, 26) },
  ],
};

/** Spain: the national holidays that every autonomous community keeps. */
export const ES_CALENDAR: RuleBasedHolidayCalendar = {
  kind: 'rules',
  country: 'ES',
  name: 'Spain — fiestas laborales de ámbito nacional',
  timeZone: 'Europe/Madrid',
  source:
    'Real Decreto 2001/1983 art. 45 and the yearly resolution of the Dirección General de Trabajo in the BOE ' +
    '(fiestas laborales) [R]',
  scope:
    'Only days that are holidays in every community. Left out: Holy Thursday, Easter Monday, 19 March, 25 July and ' +
    'the Monday after a national holiday that falls on a Sunday — each is kept by some communities only (Madrid, ' +
    'where AEMPS sits, keeps Holy Thursday: add it if AEMPS deadlines should follow Madrid).',
  coveredYears: { from: 2024, to: 2027 },
  holidays: [
    { name: 'Año Nuevo', rule: fixed(1, 1) },
    { name: 'Epifanía del Señor', rule: fixed(1, 6) },
    { name: 'Viernes Santo', rule: easter(-2) },
    { name: 'Fiesta del Trabajo', rule: fixed(5, 1) },
    { name: 'Asunción de la Virgen', rule: fixed(8, 15) },
    { name: 'Fiesta Nacional de España', rule: fixed(10, 12) },
    { name: 'Todos los Santos', rule: fixed(11, 1) },
    { name: 'Día de la Constitución', rule: fixed(12, 6) },
    { name: 'Inmaculada Concepción', rule: fixed(12, 8) },
    { name: 'Natividad del Señor', rule: fixed(12, 25) },
  ],
};

/** Ireland: public holidays of the Organisation of Working Time Act 1997. */
export const IE_CALENDAR: RuleBasedHolidayCalendar = {
  kind: 'rules',
  country: 'IE',
  name: 'Ireland — public holidays',
  timeZone: 'Europe/Dublin',
  source:
    'Organisation of Working Time Act 1997, Schedule 2, as amended (St Brigid’s Day added from 2023) [R]',
  scope:
    'Statutory list. Good Friday is not a public holiday in Ireland. A holiday on a weekend is not moved (the Act ' +
    'gives employees another day off instead).',
  coveredYears: { from: 2024, to: 2027 },
  holidays: [
    { name: 'New Year’s Day', rule: fixed(1, 1) },
    {
      name: 'St Brigid’s Day',
      rule: {
        kind: 'fixed_if_weekday_else_nth_weekday',
        month: 2,
        day: 1,
        ifWeekday: FRIDAY,
        weekday: MONDAY,
        n: 1,
      },
      fromYear: 2023,
    },
    { name: 'St Patrick’s Day', rule: fixed(3, 17) },
    { name: 'Easter Monday', rule: easter(1) },
    { name: 'May bank holiday', rule: nth(5, MONDAY, 1) },
    { name: 'June bank holiday', rule: nth(6, MONDAY, 1) },
    { name: 'August bank holiday', rule: nth(8, MONDAY, 1) },
    { name: 'October bank holiday', rule: nth(10, MONDAY, -1) },
    { name: 'Christmas Day', rule: fixed(12, 25) },
    { name: 'St Stephen’s Day', rule: fixed(12, 26) },
  ],
};

/** United States: Federal holidays, which 21 CFR 803 excludes from "work days". */
export const US_CALENDAR: RuleBasedHolidayCalendar = {
  kind: 'rules',
  country: 'US',
  name: 'United States — Federal holidays (observed dates)',
  // FDA CDRH (Silver Spring, MD). eMDR receipt dates are taken in the submitter's local time
  // (regulatory.md §2.1): a submitter east of New York should pass a calendar with its own zone.
  timeZone: 'America/New_York',
  source:
    '5 U.S.C. 6103(a) (Juneteenth added by Pub. L. 117-17, 2021); observed dates per 6103(b) and E.O. 11582 [R]',
  scope:
    'The eleven Federal holidays on their observed dates (a Saturday holiday is observed on Friday, a Sunday one on ' +
    'Monday — so 1 January 2028 makes 31 December 2027 a holiday). Left out: Inauguration Day (DC area only, every ' +
    'four years) and ad-hoc closures by executive order (e.g. 24 December in some years).',
  coveredYears: { from: 2024, to: 2027 },
  holidays: [
    { name: 'New Year’s Day', rule: fixed(1, 1), observance: US_OBSERVED },
    { name: 'Birthday of Martin Luther King, Jr.', rule: nth(1, MONDAY, 3) },
    { name: 'Washington’s Birthday', rule: nth(2, MONDAY, 3) },
    { name: 'Memorial Day', rule: nth(5, MONDAY, -1) },
    {
      name: 'Juneteenth National Independence Day',
      rule: fixed(6, 19),
      observance: US_OBSERVED,
      fromYear: 2021,
    },
    { name: 'Independence Day', rule: fixed(7, 4), observance: US_OBSERVED },
    { name: 'Labor Day', rule: nth(9, MONDAY, 1) },
    { name: 'Columbus Day', rule: nth(10, MONDAY, 2) },
    { name: 'Veterans Day', rule: fixed(11, 11), observance: US_OBSERVED },
    { name: 'Thanksgiving Day', rule: nth(11, THURSDAY, 4) },
    { name: 'Christmas Day', rule: fixed(12, 25), observance: US_OBSERVED },
  ],
};

/** Days `from`..`to` inclusive. */
function span(from: IsoDate, to: IsoDate): IsoDate[] {
  const days: IsoDate[] = [];
  for (let day = toDayNumber(from); day <= toDayNumber(to); day++) days.push(fromDayNumber(day));
  return days;
}

/**
 * China: the yearly State Council General Office notice on holiday arrangements (国务院办公厅关于 YYYY 年部分节假日
 * 安排的通知), under the 全国年节及纪念日放假办法 (revised November 2024: New Year's Eve of the lunar calendar and
 * 2 May added from 2025). Copied from the notices as republished by Xinhua; the text of each notice was checked on a
 * republished copy [S]. **The 2027 notice is not in this table**: the notice appears in November of the year
 * before (2026's on 4 November 2025); until it is added, any Chinese working-day computation that reaches 2027 fails
 * with `year_not_covered`.
 */
export const CN_CALENDAR: ListedHolidayCalendar = {
  kind: 'listed',
  country: 'CN',
  name: 'China — State Council holiday arrangements (放假调休)',
  timeZone: 'Asia/Shanghai',
  source: '国务院办公厅关于部分节假日安排的通知 (yearly), under 全国年节及纪念日放假办法 [S]',
  scope:
    'Every day off in each published block (including the weekend days inside it) and every make-up working day ' +
    '(上班 on a Saturday or Sunday). Years: 2024–2026.',
  years: {
    2024: {
      source: '国务院办公厅关于2024年部分节假日安排的通知 (国办发明电〔2023〕7号), 25 October 2023 [S]',
      holidays: [
        { name: '元旦 New Year', dates: ['2024-01-01'] },
        { name: '春节 Spring Festival', dates: span('2024-02-10', '2024-02-17') },
        { name: '清明节 Qingming', dates: span('2024-04-04', '2024-04-06') },
        { name: '劳动节 Labour Day', dates: span('2024-05-01', '2024-05-05') },
        { name: '端午节 Dragon Boat', dates: ['2024-06-10'] },
        { name: '中秋节 Mid-Autumn', dates: span('2024-09-15', '2024-09-17') },
        { name: '国庆节 National Day', dates: span('2024-10-01', '2024-10-07') },
      ],
      makeUpWorkingDays: [
        { date: '2024-02-04', for: '春节' },
        { date: '2024-02-18', for: '春节' },
        { date: '2024-04-07', for: '清明节' },
        { date: '2024-04-28', for: '劳动节' },
        { date: '2024-05-11', for: '劳动节' },
        { date: '2024-09-14', for: '中秋节' },
        { date: '2024-09-29', for: '国庆节' },
        { date: '2024-10-12', for: '国庆节' },
      ],
    },
    2025: {
      source: '国务院办公厅关于2025年部分节假日安排的通知 (国办发明电〔2024〕12号), 12 November 2024 [S]',
      holidays: [
        { name: '元旦 New Year', dates: ['2025-01-01'] },
        { name: '春节 Spring Festival', dates: span('2025-01-28', '2025-02-04') },
        { name: '清明节 Qingming', dates: span('2025-04-04', '2025-04-06') },
        { name: '劳动节 Labour Day', dates: span('2025-05-01', '2025-05-05') },
        { name: '端午节 Dragon Boat', dates: span('2025-05-31', '2025-06-02') },
        { name: '国庆节、中秋节 National Day and Mid-Autumn', dates: span('2025-10-01', '2025-10-08') },
      ],
      makeUpWorkingDays: [
        { date: '2025-01-26', for: '春节' },
        { date: '2025-02-08', for: '春节' },
        { date: '2025-04-27', for: '劳动节' },
        { date: '2025-09-28', for: '国庆节、中秋节' },
        { date: '2025-10-11', for: '国庆节、中秋节' },
      ],
    },
    2026: {
      source: '国务院办公厅关于2026年部分节假日安排的通知, 4 November 2025 (Xinhua) [S]',
      holidays: [
        { name: '元旦 New Year', dates: span('2026-01-01', '2026-01-03') },
        { name: '春节 Spring Festival', dates: span('2026-02-15', '2026-02-23') },
        { name: '清明节 Qingming', dates: span('2026-04-04', '2026-04-06') },
        { name: '劳动节 Labour Day', dates: span('2026-05-01', '2026-05-05') },
        { name: '端午节 Dragon Boat', dates: span('2026-06-19', '2026-06-21') },
        { name: '中秋节 Mid-Autumn', dates: span('2026-09-25', '2026-09-27') },
        { name: '国庆节 National Day', dates: span('2026-10-01', '2026-10-07') },
      ],
      makeUpWorkingDays: [
        { date: '2026-01-04', for: '元旦' },
        { date: '2026-02-14', for: '春节' },
        { date: '2026-02-28', for: '春节' },
        { date: '2026-05-09', for: '劳动节' },
        { date: '2026-09-20', for: '国庆节' },
        { date: '2026-10-10', for: '国庆节' },
      ],
    },
  },
};

/** The calendars shipped with the module, by country code. */
export const HOLIDAY_CALENDARS: Readonly<Record<string, HolidayCalendar>> = {
  DE: DE_CALENDAR,
  FR: FR_CALENDAR,
  NL: NL_CALENDAR,
  IT: IT_CALENDAR,
  ES: ES_CALENDAR,
  IE: IE_CALENDAR,
  US: US_CALENDAR,
  CN: CN_CALENDAR,
};

/** The years a calendar answers for, ascending. */
export function coveredYears(calendar: HolidayCalendar): number[] {
  if (calendar.kind === 'listed') {
    return Object.keys(calendar.years)
      .map(Number)
      .sort((a, b) => a - b);
  }
  const years: number[] = [];
  for (let year = calendar.coveredYears.from; year <= calendar.coveredYears.to; year++) years.push(year);
  return years;
}

function describeCoverage(calendar: HolidayCalendar): string {
  const years = coveredYears(calendar);
  if (years.length === 0) return 'no years';
  const contiguous = years[years.length - 1] - years[0] === years.length - 1;
  return contiguous ? `${years[0]}–${years[years.length - 1]}` : years.join(', ');
}

function assertCovered(calendar: HolidayCalendar, year: number): void {
  if (!coveredYears(calendar).includes(year)) {
    throw new HolidayCalendarError(
      'year_not_covered',
      calendar.country,
      year,
      `The ${calendar.country} holiday calendar has no data for ${year} (it covers ${describeCoverage(calendar)}). ` +
        `Add ${year} to src/vigilance/holiday-calendars.ts from the official source (${calendar.source}) ` +
        'before computing deadlines that reach that year.',
    );
  }
}

function ruleDate(rule: HolidayDateRule, year: number): IsoDate {
  switch (rule.kind) {
    case 'fixed':
      return dateFromParts(year, rule.month, rule.day);
    case 'easter':
      return addDays(easterSunday(year), rule.offsetDays);
    case 'nth_weekday':
      return nthWeekdayOfMonth(year, rule.month, rule.weekday, rule.n);
    case 'fixed_if_weekday_else_nth_weekday': {
      const date = dateFromParts(year, rule.month, rule.day);
      return weekdayOf(date) === rule.ifWeekday
        ? date
        : nthWeekdayOfMonth(year, rule.month, rule.weekday, rule.n);
    }
  }
}

function observedDate(definition: HolidayDefinition, date: IsoDate): IsoDate {
  const weekday = weekdayOf(date);
  if (weekday === SATURDAY && definition.observance?.saturday)
    return addDays(date, definition.observance.saturday);
  if (weekday === SUNDAY && definition.observance?.sunday) return addDays(date, definition.observance.sunday);
  return date;
}

function ruleBasedHolidays(calendar: RuleBasedHolidayCalendar, year: number): Holiday[] {
  const holidays: Holiday[] = [];
  // Observance can move a holiday across the year boundary (US: Saturday 1 January 2028 → Friday 31 December 2027),
  // so the neighbouring years' definitions are evaluated too and filtered to this year.
  for (const sourceYear of [year - 1, year, year + 1]) {
    for (const definition of calendar.holidays) {
      if (definition.fromYear !== undefined && sourceYear < definition.fromYear) continue;
      if (definition.toYear !== undefined && sourceYear > definition.toYear) continue;
      const date = observedDate(definition, ruleDate(definition.rule, sourceYear));
      if (yearOf(date) === year) holidays.push({ date, name: definition.name });
    }
  }
  return holidays.sort((a, b) => a.date.localeCompare(b.date));
}

/** The holidays of `year`, sorted; throws `HolidayCalendarError` when the calendar does not cover the year. */
export function holidaysInYear(calendar: HolidayCalendar, year: number): Holiday[] {
  assertCovered(calendar, year);
  if (calendar.kind === 'rules') return ruleBasedHolidays(calendar, year);
  return calendar.years[year].holidays
    .flatMap((holiday) => holiday.dates.map((date) => ({ date, name: holiday.name })))
    .sort((a, b) => a.date.localeCompare(b.date));
}

/** Saturdays and Sundays that are working days in `year` (China only); throws when the year is not covered. */
export function makeUpWorkingDaysInYear(calendar: HolidayCalendar, year: number): IsoDate[] {
  assertCovered(calendar, year);
  return calendar.kind === 'listed' ? calendar.years[year].makeUpWorkingDays.map((day) => day.date) : [];
}

interface YearIndex {
  readonly holidays: ReadonlyMap<IsoDate, string>;
  readonly makeUpWorkingDays: ReadonlySet<IsoDate>;
}

const yearIndexCache = new WeakMap<HolidayCalendar, Map<number, YearIndex>>();

function yearIndex(calendar: HolidayCalendar, year: number): YearIndex {
  let byYear = yearIndexCache.get(calendar);
  if (!byYear) {
    byYear = new Map();
    yearIndexCache.set(calendar, byYear);
  }
  let index = byYear.get(year);
  if (!index) {
    index = {
      holidays: new Map(holidaysInYear(calendar, year).map((holiday) => [holiday.date, holiday.name])),
      makeUpWorkingDays: new Set(makeUpWorkingDaysInYear(calendar, year)),
    };
    byYear.set(year, index);
  }
  return index;
}

/** The holiday's name when `date` is a public holiday, else null. Throws for a year the calendar does not cover. */
export function holidayName(calendar: HolidayCalendar, date: IsoDate): string | null {
  return yearIndex(calendar, yearOf(date)).holidays.get(date) ?? null;
}

/**
 * Why `date` is not a working day ("Saturday", "public holiday: Ostermontag"), or null when it is one. A make-up
 * working day (China) is a working day although it is a Saturday or Sunday.
 */
export function nonWorkingReason(calendar: HolidayCalendar, date: IsoDate): string | null {
  if (!isIsoDate(date)) throw new RangeError(`not a YYYY-MM-DD date: ${JSON.stringify(date)}`);
  const index = yearIndex(calendar, yearOf(date));
  if (index.makeUpWorkingDays.has(date)) return null;
  const holiday = index.holidays.get(date);
  if (holiday !== undefined) return `public holiday: ${holiday}`;
  if (isWeekend(date)) return weekdayOf(date) === SATURDAY ? 'Saturday' : 'Sunday';
  return null;
}

export function isWorkingDay(calendar: HolidayCalendar, date: IsoDate): boolean {
  return nonWorkingReason(calendar, date) === null;
}
