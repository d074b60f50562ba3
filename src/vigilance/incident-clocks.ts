/**
 * An incident's reporting clocks as the incidents service stores and shows them. Pure: the deadlines themselves
 * always come from `computeDeadlines` (deadlines.ts) and the rules table, recomputed on every read; what is stored
 * is only what the rules cannot know — which deadlines a decision settled (met by a submission, waived by a
 * not-reportable decision).
 *
 * The timeline the clocks run on: the classification known at awareness (day 0), then each piece of new information
 * with the classification known from its received date on (MDCG 2023-3 Q15: a clock that becomes applicable through
 * new information starts on the day it is received).
 */
import type { IsoDate } from './calendar-dates';
import {
  type DeadlineIncident,
  type DeadlineUrgency,
  type ReportingDeadline,
  classifyDeadline,
  computeDeadlines,
} from './deadlines';
import { type HolidayCalendar, HOLIDAY_CALENDARS, HolidayCalendarError } from './holiday-calendars';
import type { Seriousness } from './reporting-clock-rules';

/** The facts that select clocks (the core's IncidentClassification with every flag stated). */
export interface Classification {
  readonly seriousness: Seriousness;
  readonly unanticipatedDeterioration: boolean;
  readonly groupEvent: boolean;
  readonly reportableMalfunction: boolean;
  readonly remedialActionRequired: boolean;
  readonly fdaWrittenRequest: boolean;
}

export const CLASSIFICATION_FLAGS = [
  'unanticipatedDeterioration',
  'groupEvent',
  'reportableMalfunction',
  'remedialActionRequired',
  'fdaWrittenRequest',
] as const;
export type ClassificationFlag = (typeof CLASSIFICATION_FLAGS)[number];

export const CLASSIFICATION_FIELDS = ['seriousness', ...CLASSIFICATION_FLAGS] as const;

/** A classification with only `seriousness` given: every flag "not established". */
export function classificationOf(
  seriousness: Seriousness,
  flags: Partial<Record<ClassificationFlag, boolean>> = {},
): Classification {
  return {
    seriousness,
    unanticipatedDeterioration: flags.unanticipatedDeterioration ?? false,
    groupEvent: flags.groupEvent ?? false,
    reportableMalfunction: flags.reportableMalfunction ?? false,
    remedialActionRequired: flags.remedialActionRequired ?? false,
    fdaWrittenRequest: flags.fdaWrittenRequest ?? false,
  };
}

/** New information about an incident (MIR 1.2.d when it makes the incident reportable). */
export interface NewInformation {
  readonly receivedDate: IsoDate;
  /** With offset; needed when it starts an hour clock (NMPA group event). */
  readonly receivedAt: string | null;
  readonly summary: string;
  /** What is known from `receivedDate` on; replaces the previous classification. */
  readonly classification: Classification;
  /** The incident version whose change recorded it (its history entry). */
  readonly recordedInVersion: number;
}

export interface ClockFacts {
  readonly awarenessDate: IsoDate;
  readonly awarenessAt: string | null;
  readonly countries: readonly string[];
  /** What was known at awareness (day 0). */
  readonly awarenessClassification: Classification;
  /** In received order; each received on or after the one before. */
  readonly newInformation: readonly NewInformation[];
}

/** The classification known now: the latest entry of the timeline. */
export function currentClassification(facts: ClockFacts): Classification {
  const latest = facts.newInformation[facts.newInformation.length - 1];
  return latest ? latest.classification : facts.awarenessClassification;
}

export interface DeadlineComputation {
  readonly deadlines: ReportingDeadline[];
  /** Conservative fallbacks taken (a holiday calendar that does not cover a year), for the reader. */
  readonly warnings: string[];
}

/**
 * The incident's deadlines, earliest first, from the rules. Countries without a holiday calendar are counted with
 * weekends only (the true date or an earlier one; the core says so in `basis.warnings`), and so is a year a calendar
 * does not cover yet: an incident is never refused, nor left without deadlines, because a calendar needs upkeep.
 * Malformed facts still throw (DeadlineInputError, CalendarDateError).
 */
export function computeIncidentDeadlines(
  facts: ClockFacts,
  productJurisdictions: readonly string[],
  baseCalendars: Readonly<Record<string, HolidayCalendar>> = HOLIDAY_CALENDARS,
): DeadlineComputation {
  const incident: DeadlineIncident = {
    ...facts.awarenessClassification,
    awarenessDate: facts.awarenessDate,
    ...(facts.awarenessAt ? { awarenessAt: facts.awarenessAt } : {}),
    countries: facts.countries,
    productJurisdictions,
    newInformation: facts.newInformation.map((information) => ({
      ...information.classification,
      receivedDate: information.receivedDate,
      ...(information.receivedAt ? { receivedAt: information.receivedAt } : {}),
    })),
  };
  const warnings: string[] = [];
  let calendars = baseCalendars;
  for (;;) {
    try {
      return {
        deadlines: computeDeadlines(incident, { calendars, missingCalendar: 'weekends_only' }),
        warnings,
      };
    } catch (error) {
      if (
        !(error instanceof HolidayCalendarError) ||
        error.code !== 'year_not_covered' ||
        !(error.country in calendars)
      ) {
        throw error;
      }
      warnings.push(
        `The ${error.country} holiday calendar does not cover ${error.year ?? 'the year needed'}: deadlines that need ` +
          'it were counted with Saturdays and Sundays as the only non-working days (the true date or an earlier ' +
          'one). Extend src/vigilance/holiday-calendars.ts.',
      );
      const country = error.country;
      calendars = Object.fromEntries(Object.entries(calendars).filter(([code]) => code !== country));
    }
  }
}

/** A deadline's identity: a clock that restarts, or a rule that starts later, is a different deadline. */
export function deadlineKey(deadline: Pick<ReportingDeadline, 'ruleId' | 'country' | 'dueBy'>): string {
  return `${deadline.ruleId}|${deadline.country}|${deadline.dueBy}`;
}

/** A deadline a decision settled: met by a submission, or waived by a not-reportable decision. */
export interface SettledDeadline {
  readonly key: string;
  readonly jurisdiction: string;
  readonly ruleId: string;
  readonly country: string;
  readonly dueAt: string;
  readonly dueBy: string;
  readonly settledBy: 'submitted' | 'not_reportable';
  /** ISO instant of the decision. */
  readonly settledAt: string;
  readonly settledInVersion: number;
  /** The authority's reference for the report that met it (e.g. the EUDAMED MIR number), when given. */
  readonly reference?: string;
}

export type DeadlineStatus = 'open' | 'met' | 'waived';

/** An entry of an incident's `deadlines` in API responses: the core's deadline with its status now. */
export interface IncidentDeadline extends ReportingDeadline {
  readonly status: DeadlineStatus;
  /** For open deadlines: overdue, due_soon or open (classifyDeadline); null once settled. */
  readonly urgency: DeadlineUrgency | null;
  /** Hours from now to `dueBy` (negative when overdue), one decimal; null once settled. */
  readonly hoursRemaining: number | null;
}

export function statusOf(deadline: ReportingDeadline, settled: readonly SettledDeadline[]): DeadlineStatus {
  const key = deadlineKey(deadline);
  const decision = settled.find((entry) => entry.key === key);
  if (!decision) return 'open';
  return decision.settledBy === 'submitted' ? 'met' : 'waived';
}

export function withStatus(
  deadlines: readonly ReportingDeadline[],
  settled: readonly SettledDeadline[],
  now: Date,
  dueSoonWithinHours: number,
): IncidentDeadline[] {
  return deadlines.map((deadline) => {
    const status = statusOf(deadline, settled);
    if (status !== 'open') return { ...deadline, status, urgency: null, hoursRemaining: null };
    const { urgency, hoursRemaining } = classifyDeadline(deadline, now, { dueSoonWithinHours });
    return { ...deadline, status, urgency, hoursRemaining: Math.round(hoursRemaining * 10) / 10 };
  });
}

export function openDeadlines(
  deadlines: readonly ReportingDeadline[],
  settled: readonly SettledDeadline[],
): ReportingDeadline[] {
  return deadlines.filter((deadline) => statusOf(deadline, settled) === 'open');
}

/** The instant the earliest open deadline ends (what lists sort by and alerts watch), or null. */
export function nextDueBy(
  deadlines: readonly ReportingDeadline[],
  settled: readonly SettledDeadline[],
): string | null {
  const open = openDeadlines(deadlines, settled).map((deadline) => deadline.dueBy);
  return open.length > 0 ? open.reduce((earliest, dueBy) => (dueBy < earliest ? dueBy : earliest)) : null;
}

/**
 * Marks every open deadline settled by the decision — or, for a submission to some authorities only, the open deadlines
 * of those jurisdictions; earlier settlements stay as they were.
 */
export function settleOpen(
  deadlines: readonly ReportingDeadline[],
  settled: readonly SettledDeadline[],
  settledBy: SettledDeadline['settledBy'],
  settledAt: string,
  settledInVersion: number,
  only?: { jurisdictions: readonly string[]; reference: string | null },
): SettledDeadline[] {
  const settling = openDeadlines(deadlines, settled).filter(
    (deadline) => !only || only.jurisdictions.includes(deadline.jurisdiction),
  );
  const added = settling.map((deadline): SettledDeadline => ({
    key: deadlineKey(deadline),
    jurisdiction: deadline.jurisdiction,
    ruleId: deadline.ruleId,
    country: deadline.country,
    dueAt: deadline.dueAt,
    dueBy: deadline.dueBy,
    settledBy,
    settledAt,
    settledInVersion,
    ...(only?.reference ? { reference: only.reference } : {}),
  }));
  return [...settled, ...added];
}

/** Withdraws the not-reportable decisions: their deadlines run again. Deadlines met by a submission stay met. */
export function reopenWaived(settled: readonly SettledDeadline[]): SettledDeadline[] {
  return settled.filter((entry) => entry.settledBy === 'submitted');
}
