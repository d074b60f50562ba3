/**
 * Reporting deadlines of an incident: which clocks run (reporting-clock-rules.ts), from when, and until when
 * (holiday-calendars.ts). Pure: no Nest, no I/O, no clock — `now` is always an argument.
 *
 * How a deadline is computed (MDCG 2023-3 Rev.2 Q14/Q15 for the EU; the rule row says how for the others):
 *  1. The incident's timeline is the awareness date (MIR 1.2.c) plus every piece of new information, each with the
 *     classification known from that date on. A rule's clock starts at the first entry whose classification
 *     triggers it: the awareness date, or the date new information made it applicable (MIR 1.2.d; "if reportability
 *     is established later from new information, the clock starts on the date that information was received").
 *     A rule that already runs is not restarted by later information that triggers it again — its report is due;
 *     what follows is a follow-up report.
 *  2. Calendar-day rules: day 0 is the start date, the due date is day N. EU rows then move a Saturday, Sunday or
 *     public holiday of the incident country to the next working day (Reg. 1182/71 Art. 3(4)) and extend a period
 *     with fewer than 2 working days to the second one (Art. 3(5)). Work-day rules count N working days after the
 *     start date. Hour rules add N hours to the moment of awareness.
 *  3. Every applicable deadline is listed — one per EU country of the incident, one per other jurisdiction — sorted by
 *     the instant it ends, earliest first: the first one is the one that wins (MDCG 2023-3: "the earliest applies").
 *
 * Worked example of MDCG 2023-3 (reproduced in deadlines.spec.ts): complaint on 1 June judged not reportable; new
 * information on 1 July makes it a serious incident → 87(3) due 16 July; on 2 July a death is learned → 87(5) due
 * 12 July. Both are listed; 12 July comes first.
 */
import {
  type IsoDate,
  addDays,
  endOfLocalDay,
  formatInstant,
  isIsoDate,
  isWeekend,
  parseInstant,
  toDayNumber,
  weekdayName,
} from './calendar-dates';
import {
  type HolidayCalendar,
  HOLIDAY_CALENDARS,
  HolidayCalendarError,
  coveredYears,
  nonWorkingReason,
} from './holiday-calendars';
import {
  type IncidentClassification,
  type Jurisdiction,
  type PeriodUnit,
  type ReportingClockRule,
  AUTHORITY_CALENDAR_COUNTRY,
  JURISDICTIONS,
  JURISDICTION_COUNTRIES,
  REPORTING_CLOCK_RULES,
  SERIOUSNESS_LEVELS,
  ruleApplies,
} from './reporting-clock-rules';

/** New information about an incident, and what is known from then on (it replaces the previous classification). */
export interface ClockInformation extends IncidentClassification {
  /** The date it was received (MIR 1.2.d "awareness date of reportability" when it makes the incident reportable). */
  readonly receivedDate: IsoDate;
  /** The moment it was received, with offset; required when it starts an hour clock (NMPA group event). */
  readonly receivedAt?: string;
}

/** What the clocks need to know about an incident. */
export interface DeadlineIncident extends IncidentClassification {
  /** The date the manufacturer became aware of the incident (MIR 1.2.c); day 0. */
  readonly awarenessDate: IsoDate;
  /** The moment of awareness, with offset (e.g. 2026-02-14T21:30:00+08:00); required for hour clocks. */
  readonly awarenessAt?: string;
  /** ISO 3166-1 alpha-2 codes of the countries where the incident occurred. */
  readonly countries: readonly string[];
  /** The jurisdictions where the product is marketed (registry product `jurisdictions`). */
  readonly productJurisdictions: readonly string[];
  /** Later information, in any order; each entry's classification holds from its date on. */
  readonly newInformation?: readonly ClockInformation[];
}

export interface SkippedDay {
  readonly date: IsoDate;
  /** "Saturday", "Sunday", "public holiday: Ostermontag". */
  readonly reason: string;
}

/** Everything needed to re-derive and explain a deadline. */
export interface DeadlineBasis {
  readonly legalSource: string;
  readonly countingSource: string;
  readonly clockStartedBy: 'awareness' | 'new_information';
  /** The start date (day 0), or the start instant for hour clocks. */
  readonly clockStart: string;
  readonly period: { readonly amount: number; readonly unit: PeriodUnit };
  /** The due date before moving off non-working days (calendar-day rules), else the same as `dueAt`. */
  readonly nominalDueAt: string;
  /** Non-working days that moved the due date (calendar-day rules) or were not counted (work-day rules). */
  readonly skippedDays: readonly SkippedDay[];
  /** The calendar whose holidays and time zone were used, or null when none was available. */
  readonly calendar: {
    readonly country: string;
    readonly name: string;
    readonly source: string;
    readonly timeZone: string;
  } | null;
  /** The incident countries that made the rule apply. */
  readonly occurredIn: readonly string[];
  /** One sentence per step of the computation. */
  readonly explanation: readonly string[];
  /** Anything a reviewer must know (e.g. a missing holiday calendar and the conservative fallback taken). */
  readonly warnings: readonly string[];
}

/** One entry of an incident's `deadlines` (DESIGN.md §5); `jurisdiction`, `rule` and `dueAt` are the contract. */
export interface ReportingDeadline {
  readonly jurisdiction: Jurisdiction;
  /** e.g. "MDR Art. 87(3) 15 days". */
  readonly rule: string;
  /** Rule row id, e.g. "EU-MDR-87-3". */
  readonly ruleId: string;
  /** `YYYY-MM-DD` for day clocks (the report is due by the end of that day), an ISO instant (UTC) for hour clocks. */
  readonly dueAt: string;
  /**
   * The last instant the report is in time, ISO 8601 UTC: 23:59:59.999 of `dueAt` in the calendar's time zone, or
   * the hour clock's instant. Deadlines are sorted by it, and alerts compare `now` with it.
   */
  readonly dueBy: string;
  /** The EU country whose competent authority and holidays the row is for; for other jurisdictions the authority's. */
  readonly country: string;
  readonly basis: DeadlineBasis;
}

export interface ComputeDeadlinesOptions {
  /** Defaults to REPORTING_CLOCK_RULES. */
  readonly rules?: readonly ReportingClockRule[];
  /** By country code; defaults to HOLIDAY_CALENDARS. */
  readonly calendars?: Readonly<Record<string, HolidayCalendar>>;
  /**
   * When a rule needs the holidays of a country the calendars do not hold: 'error' (default) throws
   * `HolidayCalendarError`; 'weekends_only' counts Saturdays and Sundays as the only non-working days (they are
   * non-working everywhere the rules apply — Reg. 1182/71 Art. 3(4) names them), which can only give the true date or
   * an earlier one, and says so in `basis.warnings`. A missing *year* of a known calendar is always an error.
   */
  readonly missingCalendar?: 'error' | 'weekends_only';
}

/** The input does not describe an incident the clocks can run on; `field` names the culprit. */
export class DeadlineInputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'DeadlineInputError';
  }
}

/**
 * Time zone for a country without a calendar ('weekends_only' mode): UTC+3 is the latest offset in the EEA (Eastern
 * European Summer Time), so end of day there is never later than the true local end of day.
 */
const FALLBACK_TIME_ZONE = 'Etc/GMT-3';
const MS_PER_HOUR = 3_600_000;
const COUNTRY_CODE = /^[A-Z]{2}$/;

interface TimelineEntry {
  readonly startedBy: 'awareness' | 'new_information';
  readonly date: IsoDate;
  readonly at: string | undefined;
  readonly atField: string;
  readonly classification: IncidentClassification;
}

function validateClassification(classification: IncidentClassification, field: string): void {
  if (!(SERIOUSNESS_LEVELS as readonly string[]).includes(classification.seriousness)) {
    throw new DeadlineInputError(
      `${field}.seriousness`,
      `${field}.seriousness must be one of ${SERIOUSNESS_LEVELS.join(', ')}; got ${JSON.stringify(classification.seriousness)}`,
    );
  }
}

/** An instant and its calendar date may differ by a day (time zones), not more: more is a typing error. */
function checkInstantMatchesDate(
  at: string | undefined,
  atField: string,
  date: IsoDate,
  dateField: string,
): void {
  if (at === undefined) return;
  const ms = parseInstant(at, atField);
  const distance = Math.abs(Math.floor(ms / 86_400_000) - toDayNumber(date, dateField));
  if (distance > 1) {
    throw new DeadlineInputError(atField, `${atField} (${at}) is not on ${dateField} (${date})`);
  }
}

function buildTimeline(incident: DeadlineIncident): TimelineEntry[] {
  if (!isIsoDate(incident.awarenessDate)) {
    throw new DeadlineInputError(
      'awarenessDate',
      `awarenessDate must be a calendar date written YYYY-MM-DD, got ${JSON.stringify(incident.awarenessDate)}`,
    );
  }
  validateClassification(incident, 'incident');
  checkInstantMatchesDate(incident.awarenessAt, 'awarenessAt', incident.awarenessDate, 'awarenessDate');
  const timeline: TimelineEntry[] = [
    {
      startedBy: 'awareness',
      date: incident.awarenessDate,
      at: incident.awarenessAt,
      atField: 'awarenessAt',
      classification: incident,
    },
  ];
  (incident.newInformation ?? []).forEach((information, index) => {
    const field = `newInformation[${index}]`;
    if (!isIsoDate(information.receivedDate)) {
      throw new DeadlineInputError(
        `${field}.receivedDate`,
        `${field}.receivedDate must be a calendar date written YYYY-MM-DD, got ${JSON.stringify(information.receivedDate)}`,
      );
    }
    if (information.receivedDate < incident.awarenessDate) {
      throw new DeadlineInputError(
        `${field}.receivedDate`,
        `${field}.receivedDate (${information.receivedDate}) is before awarenessDate (${incident.awarenessDate})`,
      );
    }
    validateClassification(information, field);
    checkInstantMatchesDate(
      information.receivedAt,
      `${field}.receivedAt`,
      information.receivedDate,
      `${field}.receivedDate`,
    );
    timeline.push({
      startedBy: 'new_information',
      date: information.receivedDate,
      at: information.receivedAt,
      atField: `${field}.receivedAt`,
      classification: information,
    });
  });
  // Stable sort: information received on the same day keeps its given order.
  return timeline.sort((a, b) => a.date.localeCompare(b.date));
}

/** Runtime checks too: the incident may come from JSON that TypeScript never saw. */
function normaliseCountries(value: unknown): string[] {
  if (!Array.isArray(value))
    throw new DeadlineInputError('countries', 'countries must be an array of ISO codes');
  const countries: string[] = [];
  for (const country of value as readonly unknown[]) {
    if (typeof country !== 'string' || !COUNTRY_CODE.test(country)) {
      throw new DeadlineInputError(
        'countries',
        `countries must hold ISO 3166-1 alpha-2 codes such as DE or CN; got ${JSON.stringify(country)}`,
      );
    }
    countries.push(country);
  }
  return [...new Set(countries)];
}

function normaliseJurisdictions(value: unknown): Set<Jurisdiction> {
  if (!Array.isArray(value)) {
    throw new DeadlineInputError('productJurisdictions', 'productJurisdictions must be an array');
  }
  const known = new Set<Jurisdiction>();
  for (const item of value as readonly unknown[]) {
    const jurisdiction = JURISDICTIONS.find((candidate) => candidate === item);
    if (!jurisdiction) {
      throw new DeadlineInputError(
        'productJurisdictions',
        `productJurisdictions must hold ${JURISDICTIONS.join(', ')}; got ${JSON.stringify(item)}`,
      );
    }
    known.add(jurisdiction);
  }
  return known;
}

function countriesWhereRuleApplies(rule: ReportingClockRule, countries: readonly string[]): string[] {
  const territory = JURISDICTION_COUNTRIES[rule.jurisdiction];
  switch (rule.occurrence) {
    case 'in_jurisdiction':
      return countries.filter((country) => territory.includes(country));
    case 'outside_jurisdiction':
      return countries.filter((country) => !territory.includes(country));
    case 'anywhere':
      return [...countries];
  }
}

function needsHolidays(rule: ReportingClockRule): boolean {
  return rule.period.unit === 'work_days' || rule.endOfPeriod === 'next_working_day';
}

/** A day's working status under a calendar, or Monday–Friday when there is none ('weekends_only'). */
type WorkingDayTest = (date: IsoDate) => string | null;

function workingDayTest(calendar: HolidayCalendar | undefined): WorkingDayTest {
  if (calendar) return (date) => nonWorkingReason(calendar, date);
  return (date) => (isWeekend(date) ? weekdayName(date) : null);
}

interface DayClockResult {
  readonly nominalDueAt: IsoDate;
  readonly dueAt: IsoDate;
  readonly skippedDays: SkippedDay[];
  readonly explanation: string[];
}

function calendarDayClock(
  rule: ReportingClockRule,
  start: IsoDate,
  test: WorkingDayTest | null,
): DayClockResult {
  const amount = rule.period.amount;
  const nominalDueAt = addDays(start, amount);
  const explanation = [`${start} is day 0; day ${amount} is ${nominalDueAt} (${weekdayName(nominalDueAt)}).`];
  const skippedDays: SkippedDay[] = [];
  let dueAt = nominalDueAt;
  if (rule.endOfPeriod === 'next_working_day' && test) {
    for (let reason = test(dueAt); reason !== null; reason = test(dueAt)) {
      skippedDays.push({ date: dueAt, reason });
      dueAt = addDays(dueAt, 1);
    }
    if (skippedDays.length > 0) {
      explanation.push(
        `${skippedDays.map((day) => `${day.date} is a ${day.reason}`).join('; ')}: ` +
          `the period ends on the next working day, ${dueAt} (Reg. 1182/71 Art. 3(4)).`,
      );
    }
  }
  if (rule.minimumWorkingDays !== undefined && test) {
    const countWorkingDays = (): number => {
      let count = 0;
      for (let day = addDays(start, 1); day <= dueAt; day = addDays(day, 1)) if (test(day) === null) count++;
      return count;
    };
    const before = dueAt;
    let working = countWorkingDays();
    while (working < rule.minimumWorkingDays) {
      dueAt = addDays(dueAt, 1);
      const reason = test(dueAt);
      if (reason !== null) skippedDays.push({ date: dueAt, reason });
      else working++;
    }
    if (dueAt !== before) {
      explanation.push(
        `The period ${addDays(start, 1)}–${before} holds fewer than ${rule.minimumWorkingDays} working days: ` +
          `it is extended to ${dueAt} (Reg. 1182/71 Art. 3(5)).`,
      );
    }
  }
  return { nominalDueAt, dueAt, skippedDays, explanation };
}

function workDayClock(rule: ReportingClockRule, start: IsoDate, test: WorkingDayTest): DayClockResult {
  const skippedDays: SkippedDay[] = [];
  let day = start;
  for (let counted = 0; counted < rule.period.amount;) {
    day = addDays(day, 1);
    const reason = test(day);
    if (reason === null) counted++;
    else skippedDays.push({ date: day, reason });
  }
  const holidays = skippedDays.filter((skipped) => skipped.reason.startsWith('public holiday'));
  return {
    nominalDueAt: day,
    dueAt: day,
    skippedDays,
    explanation: [
      `${start} is day 0; counting ${rule.period.amount} work days after it ends on ${day} (${weekdayName(day)})` +
        (holidays.length > 0
          ? `, not counting ${holidays.map((holiday) => `${holiday.date} (${holiday.reason})`).join(', ')}.`
          : '.'),
    ],
  };
}

function calendarSummary(calendar: HolidayCalendar): DeadlineBasis['calendar'] {
  return {
    country: calendar.country,
    name: calendar.name,
    source: calendar.source,
    timeZone: calendar.timeZone,
  };
}

function deadlineFor(
  rule: ReportingClockRule,
  entry: TimelineEntry,
  calendarCountry: string,
  occurredIn: readonly string[],
  options: Required<ComputeDeadlinesOptions>,
): ReportingDeadline {
  const calendar = options.calendars[calendarCountry] as HolidayCalendar | undefined;
  const warnings: string[] = [];
  if (!calendar && needsHolidays(rule)) {
    if (options.missingCalendar === 'error') {
      throw new HolidayCalendarError(
        'calendar_missing',
        calendarCountry,
        null,
        `${rule.rule} needs the public holidays of ${calendarCountry}, and there is no ${calendarCountry} holiday ` +
          `calendar (known: ${Object.keys(options.calendars).join(', ')}). Add one to src/vigilance/holiday-calendars.ts.`,
      );
    }
    warnings.push(
      `No ${calendarCountry} holiday calendar: computed with Saturdays and Sundays as the only non-working days; ` +
        'its public holidays are unknown, so the true deadline is this date or later.',
    );
  }
  const timeZone = calendar?.timeZone ?? FALLBACK_TIME_ZONE;
  const base = {
    legalSource: rule.legalSource,
    countingSource: rule.countingSource,
    clockStartedBy: entry.startedBy,
    period: rule.period,
    calendar: calendar ? calendarSummary(calendar) : null,
    occurredIn,
    warnings,
  };
  const row = { jurisdiction: rule.jurisdiction, rule: rule.rule, ruleId: rule.id, country: calendarCountry };

  if (rule.period.unit === 'hours') {
    if (entry.at === undefined) {
      throw new DeadlineInputError(
        entry.atField,
        `${entry.atField} is required: ${rule.rule} counts ${rule.period.amount} hours from the moment of ` +
          `awareness, so the date alone (${entry.date}) is not enough`,
      );
    }
    const startMs = parseInstant(entry.at, entry.atField);
    const dueAt = formatInstant(startMs + rule.period.amount * MS_PER_HOUR);
    return {
      ...row,
      dueAt,
      dueBy: new Date(startMs + rule.period.amount * MS_PER_HOUR).toISOString(),
      basis: {
        ...base,
        clockStart: formatInstant(startMs),
        nominalDueAt: dueAt,
        skippedDays: [],
        explanation: [`${formatInstant(startMs)} + ${rule.period.amount} h = ${dueAt}.`],
      },
    };
  }

  const result =
    rule.period.unit === 'work_days'
      ? workDayClock(rule, entry.date, workingDayTest(calendar))
      : calendarDayClock(rule, entry.date, needsHolidays(rule) ? workingDayTest(calendar) : null);
  if (rule.endOfPeriod === 'none' && rule.period.unit === 'calendar_days') {
    result.explanation.push('This rule does not move a due date off weekends or holidays.');
  }
  return {
    ...row,
    dueAt: result.dueAt,
    dueBy: new Date(endOfLocalDay(result.dueAt, timeZone)).toISOString(),
    basis: {
      ...base,
      clockStart: entry.date,
      nominalDueAt: result.nominalDueAt,
      skippedDays: result.skippedDays,
      explanation: [...result.explanation, `Due by the end of ${result.dueAt} in ${timeZone}.`],
    },
  };
}

/**
 * The reporting deadlines of an incident, earliest first (the first one wins). Empty when no clock runs (a
 * non-serious incident, or no jurisdiction of the product where it happened).
 *
 * Throws `DeadlineInputError` for malformed input, `HolidayCalendarError` when a deadline needs a holiday calendar
 * (or a year of one) that the data does not hold, and `CalendarDateError` for a malformed instant.
 */
export function computeDeadlines(
  incident: DeadlineIncident,
  options: ComputeDeadlinesOptions = {},
): ReportingDeadline[] {
  const settings: Required<ComputeDeadlinesOptions> = {
    rules: options.rules ?? REPORTING_CLOCK_RULES,
    calendars: options.calendars ?? HOLIDAY_CALENDARS,
    missingCalendar: options.missingCalendar ?? 'error',
  };
  const timeline = buildTimeline(incident);
  const countries = normaliseCountries(incident.countries);
  const jurisdictions = normaliseJurisdictions(incident.productJurisdictions);

  const deadlines: ReportingDeadline[] = [];
  for (const rule of settings.rules) {
    if (!jurisdictions.has(rule.jurisdiction)) continue;
    const occurredIn = countriesWhereRuleApplies(rule, countries);
    if (occurredIn.length === 0) continue;
    const start = timeline.find((entry) => ruleApplies(rule, entry.classification));
    if (!start) continue;
    const calendarCountries =
      rule.calendarOf === 'incident_country' ? occurredIn : [AUTHORITY_CALENDAR_COUNTRY[rule.jurisdiction]];
    for (const calendarCountry of calendarCountries) {
      deadlines.push(deadlineFor(rule, start, calendarCountry, occurredIn, settings));
    }
  }
  return deadlines.sort(
    (a, b) =>
      a.dueBy.localeCompare(b.dueBy) ||
      a.jurisdiction.localeCompare(b.jurisdiction) ||
      a.ruleId.localeCompare(b.ruleId) ||
      a.country.localeCompare(b.country),
  );
}

/** The deadline that wins (MDCG 2023-3: the earliest applicable one), or null when none applies. */
export function earliestDeadline(deadlines: readonly ReportingDeadline[]): ReportingDeadline | null {
  let earliest: ReportingDeadline | null = null;
  for (const deadline of deadlines) if (!earliest || deadline.dueBy < earliest.dueBy) earliest = deadline;
  return earliest;
}

export type DeadlineUrgency = 'overdue' | 'due_soon' | 'open';

export interface DeadlineUrgencyOptions {
  /** A deadline is due soon when it ends within this many hours of `now`. Default 48. */
  readonly dueSoonWithinHours?: number;
}

export const DEFAULT_DUE_SOON_WITHIN_HOURS = 48;

export interface DeadlineUrgencyResult {
  readonly urgency: DeadlineUrgency;
  /** Hours from `now` to `dueBy`; negative when overdue. */
  readonly hoursRemaining: number;
}

/**
 * Whether a deadline is overdue (now is past `dueBy`), due soon (it ends within the window) or open. For the
 * scheduled due-soon / overdue alerts (issue 5 §3); a deadline whose report was submitted should not be passed in.
 */
export function classifyDeadline(
  deadline: Pick<ReportingDeadline, 'dueBy'>,
  now: Date,
  options: DeadlineUrgencyOptions = {},
): DeadlineUrgencyResult {
  const window = options.dueSoonWithinHours ?? DEFAULT_DUE_SOON_WITHIN_HOURS;
  if (!Number.isFinite(window) || window < 0) {
    throw new RangeError(`dueSoonWithinHours must be a finite number ≥ 0, got ${window}`);
  }
  const nowMs = now.getTime();
  if (Number.isNaN(nowMs)) throw new RangeError('now is an invalid Date');
  const dueMs = parseInstant(deadline.dueBy, 'dueBy');
  const hoursRemaining = (dueMs - nowMs) / MS_PER_HOUR;
  const urgency: DeadlineUrgency =
    hoursRemaining < 0 ? 'overdue' : hoursRemaining <= window ? 'due_soon' : 'open';
  return { urgency, hoursRemaining };
}

/** The years a country's holiday calendar covers (empty when there is none), e.g. for a startup check. */
export function calendarYearsAvailable(country: string, calendars = HOLIDAY_CALENDARS): number[] {
  const calendar = calendars[country] as HolidayCalendar | undefined;
  return calendar ? coveredYears(calendar) : [];
}
