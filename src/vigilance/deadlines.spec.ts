/**
 * Reporting deadlines against a table of hand-computed cases. Each row's comment is the computation done by hand
 * (weekdays from a printed calendar; holidays from the official lists in holiday-calendars.ts); the code under test
 * produced none of the expected values.
 *
 * Counting (MDCG 2023-3 Q14): the awareness date is day 0; day N is awareness + N calendar days; an EU day N on a
 * Saturday, Sunday or public holiday of the incident country moves to the next working day, and a period of 2 days
 * or more must hold 2 working days. FDA 803.50 and NMPA days are not moved. FDA 803.53 counts work days after day 0.
 */
import {
  type DeadlineIncident,
  type ReportingDeadline,
  DEFAULT_DUE_SOON_WITHIN_HOURS,
  DeadlineInputError,
  classifyDeadline,
  computeDeadlines,
  earliestDeadline,
} from './deadlines';
import { HolidayCalendarError } from './holiday-calendars';
import {
  type ReportingClockRule,
  JURISDICTION_COUNTRIES,
  REPORTING_CLOCK_RULES,
} from './reporting-clock-rules';
import { CalendarDateError, isValidTimeZone } from './calendar-dates';

type Row = [ruleId: string, country: string, dueAt: string];

const summary = (deadlines: readonly ReportingDeadline[]): Row[] =>
  deadlines.map((deadline) => [deadline.ruleId, deadline.country, deadline.dueAt]);

const EU_ONLY = ['EU'];
const ALL = ['EU', 'US', 'CN'];

interface Case {
  readonly name: string;
  readonly incident: DeadlineIncident;
  /** Sorted earliest first, as computeDeadlines must return them. */
  readonly expected: Row[];
}

const CASES: Case[] = [
  {
    // DESIGN.md §5 example. 2026-03-13 (Fri) + 15 = 2026-03-28 (Sat) → Sun 29 → Mon 2026-03-30.
    name: 'DESIGN.md §5 example: 15 days ending on a Saturday moves to Monday',
    incident: {
      seriousness: 'serious_deterioration',
      awarenessDate: '2026-03-13',
      countries: ['DE'],
      productJurisdictions: EU_ONLY,
    },
    expected: [['EU-MDR-87-3', 'DE', '2026-03-30']],
  },
  {
    // Death, FR. 2026-03-04 (Wed) + 10 = 2026-03-14 (Sat) → Sun 15 → Mon 2026-03-16.
    name: 'weekend: 10 days ending on a Saturday',
    incident: {
      seriousness: 'death',
      awarenessDate: '2026-03-04',
      countries: ['FR'],
      productJurisdictions: EU_ONLY,
    },
    expected: [['EU-MDR-87-5', 'FR', '2026-03-16']],
  },
  {
    // NL. 2026-03-22 (Sun) + 15 = 2026-04-06, Easter Monday (Tweede Paasdag) → Tue 2026-04-07.
    name: 'public holiday: Easter Monday',
    incident: {
      seriousness: 'serious_deterioration',
      awarenessDate: '2026-03-22',
      countries: ['NL'],
      productJurisdictions: EU_ONLY,
    },
    expected: [['EU-MDR-87-3', 'NL', '2026-04-07']],
  },
  {
    // One incident in Italy and Germany: one row per member state, each with its own holidays.
    // 2026-03-19 (Thu) + 15 = 2026-04-03, Good Friday.
    //   IT: Good Friday is a working day → 2026-04-03.
    //   DE: Karfreitag → Sat 4 → Sun 5 → Ostermontag 6 → Tue 2026-04-07.
    name: 'Good Friday: a holiday in Germany, a working day in Italy',
    incident: {
      seriousness: 'serious_deterioration',
      awarenessDate: '2026-03-19',
      countries: ['DE', 'IT'],
      productJurisdictions: EU_ONLY,
    },
    expected: [
      ['EU-MDR-87-3', 'IT', '2026-04-03'],
      ['EU-MDR-87-3', 'DE', '2026-04-07'],
    ],
  },
  {
    // DE. 2025-09-18 (Thu) + 15 = 2025-10-03 (Fri), Tag der Deutschen Einheit → Sat 4 → Sun 5 → Mon 2025-10-06.
    name: 'public holiday: German Unity Day',
    incident: {
      seriousness: 'serious_deterioration',
      awarenessDate: '2025-09-18',
      countries: ['DE'],
      productJurisdictions: EU_ONLY,
    },
    expected: [['EU-MDR-87-3', 'DE', '2025-10-06']],
  },
  {
    // DE death. 2025-12-16 (Tue) + 10 = 2025-12-26 (Fri, 2. Weihnachtstag) → Sat 27 → Sun 28 → Mon 2025-12-29.
    name: 'year end: Christmas',
    incident: {
      seriousness: 'death',
      awarenessDate: '2025-12-16',
      countries: ['DE'],
      productJurisdictions: EU_ONLY,
    },
    expected: [['EU-MDR-87-5', 'DE', '2025-12-29']],
  },
  {
    // DE death. 2025-12-22 (Mon) + 10 = 2026-01-01 (Thu, Neujahr) → Fri 2026-01-02: the period crosses the year.
    name: 'year end: New Year’s Day in the next year',
    incident: {
      seriousness: 'death',
      awarenessDate: '2025-12-22',
      countries: ['DE'],
      productJurisdictions: EU_ONLY,
    },
    expected: [['EU-MDR-87-5', 'DE', '2026-01-02']],
  },
  {
    // IE. 2025-12-11 (Thu) + 15 = 2025-12-26 (Fri, St Stephen's Day) → Sat 27 → Sun 28 → Mon 2025-12-29.
    name: 'year end: St Stephen’s Day in Ireland',
    incident: {
      seriousness: 'serious_deterioration',
      awarenessDate: '2025-12-11',
      countries: ['IE'],
      productJurisdictions: EU_ONLY,
    },
    expected: [['EU-MDR-87-3', 'IE', '2025-12-29']],
  },
  {
    // ES. 2025-12-22 (Mon) + 15 = 2026-01-06 (Tue, Epifanía) → Wed 2026-01-07.
    name: 'year end: Epiphany in Spain',
    incident: {
      seriousness: 'serious_deterioration',
      awarenessDate: '2025-12-22',
      countries: ['ES'],
      productJurisdictions: EU_ONLY,
    },
    expected: [['EU-MDR-87-3', 'ES', '2026-01-07']],
  },
  {
    // DE serious public health threat. 2026-03-12 (Thu) + 2 = Sat 14 → Sun 15 → Mon 2026-03-16.
    // Working days in 13–16 March: Fri 13 and Mon 16 = 2 → Art. 3(5) satisfied.
    name: '2 days from a Thursday',
    incident: {
      seriousness: 'serious_public_health_threat',
      awarenessDate: '2026-03-12',
      countries: ['DE'],
      productJurisdictions: EU_ONLY,
    },
    expected: [['EU-MDR-87-4', 'DE', '2026-03-16']],
  },
  {
    // DE SPHT. 2026-03-13 (Fri) + 2 = Sun 15 → Mon 16. Working days in 14–16 March: only Mon 16 (< 2)
    // → Reg. 1182/71 Art. 3(5) extends to the next working day, Tue 2026-03-17.
    name: '2 days from a Friday must still hold 2 working days',
    incident: {
      seriousness: 'serious_public_health_threat',
      awarenessDate: '2026-03-13',
      countries: ['DE'],
      productJurisdictions: EU_ONLY,
    },
    expected: [['EU-MDR-87-4', 'DE', '2026-03-17']],
  },
  {
    // DE SPHT over Easter. 2026-04-02 (Thu) + 2 = Sat 4 → Sun 5 → Ostermontag 6 → Tue 7. Working days in 3–7 April:
    // Karfreitag 3 no, 4/5 weekend, 6 holiday, Tue 7 yes = 1 (< 2) → extended to Wed 2026-04-08.
    name: '2 days over Good Friday and Easter Monday',
    incident: {
      seriousness: 'serious_public_health_threat',
      awarenessDate: '2026-04-02',
      countries: ['DE'],
      productJurisdictions: EU_ONLY,
    },
    expected: [['EU-MDR-87-4', 'DE', '2026-04-08']],
  },
  {
    // MDCG 2023-3 worked example, DE 2024. Complaint 2024-06-01 not reportable (no clock).
    // New info 2024-07-01 (Mon) makes it a serious incident: 87(3) day 0 = 1 July, + 15 = Tue 2024-07-16.
    // Death learned 2024-07-02 (Tue): 87(5) day 0 = 2 July, + 10 = Fri 2024-07-12. Both listed; 12 July wins.
    name: 'clock restart: new information makes it reportable, then a death (MDCG 2023-3 example)',
    incident: {
      seriousness: 'non_serious',
      awarenessDate: '2024-06-01',
      countries: ['DE'],
      productJurisdictions: EU_ONLY,
      newInformation: [
        { receivedDate: '2024-07-02', seriousness: 'death' },
        { receivedDate: '2024-07-01', seriousness: 'serious_deterioration' },
      ],
    },
    expected: [
      ['EU-MDR-87-5', 'DE', '2024-07-12'],
      ['EU-MDR-87-3', 'DE', '2024-07-16'],
    ],
  },
  {
    // Serious deterioration known on 2026-03-13; more details on 2026-03-20 do not change the class: the 87(3) clock
    // keeps its start (13 March) → 2026-03-30 as in the first row, not 20 March + 15.
    name: 'new information that changes nothing does not restart a running clock',
    incident: {
      seriousness: 'serious_deterioration',
      awarenessDate: '2026-03-13',
      countries: ['DE'],
      productJurisdictions: EU_ONLY,
      newInformation: [{ receivedDate: '2026-03-20', seriousness: 'serious_deterioration' }],
    },
    expected: [['EU-MDR-87-3', 'DE', '2026-03-30']],
  },
  {
    // Anticipated serious deterioration on 2026-03-13 → 87(3) 2026-03-30 (row 1). On 2026-03-16 (Mon) the
    // investigation finds it was not in the risk analysis: 87(5) starts, 16 + 10 = Thu 2026-03-26. Earliest first.
    name: 'reclassification to unanticipated starts the 10-day clock and keeps the 15-day one listed',
    incident: {
      seriousness: 'serious_deterioration',
      awarenessDate: '2026-03-13',
      countries: ['DE'],
      productJurisdictions: EU_ONLY,
      newInformation: [
        {
          receivedDate: '2026-03-16',
          seriousness: 'serious_deterioration',
          unanticipatedDeterioration: true,
        },
      ],
    },
    expected: [
      ['EU-MDR-87-5', 'DE', '2026-03-26'],
      ['EU-MDR-87-3', 'DE', '2026-03-30'],
    ],
  },
  {
    // Death in Germany, product marketed in the EU, the US and China; awareness 2026-09-24 (Thu).
    //   EU 87(5): + 10 = Sun 2026-10-04 → Mon 2026-10-05 (ends 21:59:59Z, CEST).
    //   NMPA event abroad: + 30 = Sat 2026-10-24, not moved (ends 15:59:59Z, Beijing).
    //   FDA 803.50 (event abroad, same device marketed in the US): + 30 = Sat 2026-10-24, not moved
    //   (ends 2026-10-25T03:59:59Z, New York EDT) → after the NMPA row.
    name: 'several jurisdictions on one incident abroad: all listed, earliest first',
    incident: {
      seriousness: 'death',
      awarenessDate: '2026-09-24',
      countries: ['DE'],
      productJurisdictions: ALL,
    },
    expected: [
      ['EU-MDR-87-5', 'DE', '2026-10-05'],
      ['CN-ORDER1-ABROAD', 'CN', '2026-10-24'],
      ['US-803-50', 'US', '2026-10-24'],
    ],
  },
  {
    // The same death with patients in Germany, the US and China (awareness 2026-09-24, Thu).
    //   NMPA death (China): + 7 = Thu 2026-10-01 — National Day, not moved (calendar days, earlier reading).
    //   EU 87(5) (Germany): 2026-10-05 as above.
    //   NMPA event abroad (DE, US): 2026-10-24. FDA 803.50 (US): 2026-10-24, later instant (New York).
    name: 'several jurisdictions, each with domestic cases: NMPA 7 days wins',
    incident: {
      seriousness: 'death',
      awarenessDate: '2026-09-24',
      countries: ['DE', 'US', 'CN'],
      productJurisdictions: ALL,
    },
    expected: [
      ['CN-ORDER1-DEATH', 'CN', '2026-10-01'],
      ['EU-MDR-87-5', 'DE', '2026-10-05'],
      ['CN-ORDER1-ABROAD', 'CN', '2026-10-24'],
      ['US-803-50', 'US', '2026-10-24'],
    ],
  },
  {
    // Death in the US of a product marketed in the EU and China only: the EU does not apply (not in the EEA), the US
    // does not (not a product jurisdiction); NMPA's events-abroad rule does: 2026-03-13 + 30 = 2026-04-12.
    name: 'the product’s jurisdictions and the incident’s countries decide',
    incident: {
      seriousness: 'death',
      awarenessDate: '2026-03-13',
      countries: ['US'],
      productJurisdictions: ['EU', 'CN'],
    },
    expected: [['CN-ORDER1-ABROAD', 'CN', '2026-04-12']],
  },
  {
    // NMPA group event in China, awareness 2026-02-14 21:30 Beijing (= 13:30Z).
    //   12 h: 2026-02-15T01:30:00Z (09:30 Beijing). 24 h per case: 2026-02-15T13:30:00Z.
    //   Serious injury 20 days: 2026-02-14 + 20 = Fri 2026-03-06.
    name: 'NMPA group event: 12-hour and 24-hour clocks from the moment of awareness',
    incident: {
      seriousness: 'serious_deterioration',
      groupEvent: true,
      awarenessDate: '2026-02-14',
      awarenessAt: '2026-02-14T21:30:00+08:00',
      countries: ['CN'],
      productJurisdictions: ['CN'],
    },
    expected: [
      ['CN-ORDER1-GROUP-12H', 'CN', '2026-02-15T01:30:00Z'],
      ['CN-ORDER1-GROUP-24H', 'CN', '2026-02-15T13:30:00Z'],
      ['CN-ORDER1-SERIOUS', 'CN', '2026-03-06'],
    ],
  },
  {
    // FDA, awareness Tue 2025-11-25, remedial action needed.
    //   803.53 work days: Wed 26 (1), Thu 27 Thanksgiving (not counted), Fri 28 (2), Sat/Sun, Mon 1 Dec (3),
    //   Tue 2 (4), Wed 3 (5) → 2025-12-03.
    //   803.50: 25 Nov + 30 = Thu 2025-12-25 — Christmas, but 803.50 moves nothing → 2025-12-25.
    name: 'FDA 5 work days over Thanksgiving; 30 calendar days ending on Christmas Day',
    incident: {
      seriousness: 'serious_deterioration',
      remedialActionRequired: true,
      awarenessDate: '2025-11-25',
      countries: ['US'],
      productJurisdictions: ['US'],
    },
    expected: [
      ['US-803-53', 'US', '2025-12-03'],
      ['US-803-50', 'US', '2025-12-25'],
    ],
  },
  {
    // FDA 803.53, awareness Mon 2026-12-21: Tue 22 (1), Wed 23 (2), Thu 24 (3), Fri 25 Christmas (no),
    // Sat/Sun, Mon 28 (4), Tue 29 (5) → 2026-12-29. 803.50: 21 Dec + 30 = Wed 2027-01-20.
    name: 'year end: FDA 5 work days over Christmas',
    incident: {
      seriousness: 'serious_deterioration',
      remedialActionRequired: true,
      awarenessDate: '2026-12-21',
      countries: ['US'],
      productJurisdictions: ['US'],
    },
    expected: [
      ['US-803-53', 'US', '2026-12-29'],
      ['US-803-50', 'US', '2027-01-20'],
    ],
  },
  {
    // A non-serious malfunction that would likely cause serious injury if it recurred: 803.50(a)(2).
    // 2026-07-01 + 30 = 2026-07-31. No EU or NMPA clock for a non-serious incident.
    name: 'FDA reportable malfunction without harm',
    incident: {
      seriousness: 'non_serious',
      reportableMalfunction: true,
      awarenessDate: '2026-07-01',
      countries: ['US', 'DE'],
      productJurisdictions: ALL,
    },
    expected: [['US-803-50', 'US', '2026-07-31']],
  },
  {
    name: 'non-serious, nothing else: no clock',
    incident: {
      seriousness: 'non_serious',
      awarenessDate: '2026-07-01',
      countries: ['DE'],
      productJurisdictions: ALL,
    },
    expected: [],
  },
  {
    name: 'no jurisdiction of the product where it happened: no clock',
    incident: {
      seriousness: 'death',
      awarenessDate: '2026-07-01',
      countries: ['JP'],
      productJurisdictions: EU_ONLY,
    },
    expected: [],
  },
];

function caseNamed(prefix: string): DeadlineIncident {
  const found = CASES.find((testCase) => testCase.name.startsWith(prefix));
  if (!found) throw new Error(`no case named ${prefix}…`);
  return found.incident;
}

describe('computeDeadlines: hand-computed table', () => {
  it.each(CASES.map((testCase) => [testCase.name, testCase]))('%s', (_name, testCase) => {
    expect(summary(computeDeadlines(testCase.incident))).toEqual(testCase.expected);
  });
});

describe('computeDeadlines: contract and basis', () => {
  it('carries the DESIGN.md §5 fields and explains itself', () => {
    const [deadline] = computeDeadlines(CASES[0].incident);
    expect(deadline).toMatchObject({
      jurisdiction: 'EU',
      rule: 'MDR Art. 87(3) 15 days',
      dueAt: '2026-03-30',
    });
    // End of Monday 30 March 2026 in Berlin (CEST, UTC+2).
    expect(deadline.dueBy).toBe('2026-03-30T21:59:59.999Z');
    expect(deadline.basis).toMatchObject({
      clockStartedBy: 'awareness',
      clockStart: '2026-03-13',
      period: { amount: 15, unit: 'calendar_days' },
      nominalDueAt: '2026-03-28',
      skippedDays: [
        { date: '2026-03-28', reason: 'Saturday' },
        { date: '2026-03-29', reason: 'Sunday' },
      ],
      calendar: { country: 'DE', timeZone: 'Europe/Berlin' },
      occurredIn: ['DE'],
      warnings: [],
    });
    expect(deadline.basis.legalSource).toMatch(/2017\/745 Art\. 87\(3\)/);
    expect(deadline.basis.countingSource).toMatch(/MDCG 2023-3/);
    expect(deadline.basis.explanation.join(' ')).toMatch(/day 15 is 2026-03-28 \(Saturday\)/);
  });

  it('names the holiday it skipped', () => {
    const deadlines = computeDeadlines({
      seriousness: 'serious_deterioration',
      awarenessDate: '2025-09-18',
      countries: ['DE'],
      productJurisdictions: EU_ONLY,
    });
    expect(deadlines[0].basis.skippedDays[0]).toEqual({
      date: '2025-10-03',
      reason: 'public holiday: Tag der Deutschen Einheit',
    });
  });

  it('records that a clock was started by new information, and on which date', () => {
    const deadlines = computeDeadlines(caseNamed('clock restart'));
    expect(deadlines.map((d) => [d.ruleId, d.basis.clockStartedBy, d.basis.clockStart])).toEqual([
      ['EU-MDR-87-5', 'new_information', '2024-07-02'],
      ['EU-MDR-87-3', 'new_information', '2024-07-01'],
    ]);
  });

  it('lists the Thanksgiving holiday among the days a work-day clock did not count', () => {
    const [fiveDay] = computeDeadlines({
      seriousness: 'death',
      remedialActionRequired: true,
      awarenessDate: '2025-11-25',
      countries: ['US'],
      productJurisdictions: ['US'],
    });
    expect(fiveDay.ruleId).toBe('US-803-53');
    expect(fiveDay.basis.skippedDays).toEqual([
      { date: '2025-11-27', reason: 'public holiday: Thanksgiving Day' },
      { date: '2025-11-29', reason: 'Saturday' },
      { date: '2025-11-30', reason: 'Sunday' },
    ]);
    // End of Wednesday 3 December 2025 in New York (EST, UTC−5).
    expect(fiveDay.dueBy).toBe('2025-12-04T04:59:59.999Z');
  });

  it('earliestDeadline picks the first to end', () => {
    const deadlines = computeDeadlines(caseNamed('several jurisdictions, each'));
    expect(earliestDeadline(deadlines)?.ruleId).toBe('CN-ORDER1-DEATH');
    expect(earliestDeadline([])).toBeNull();
  });
});

describe('computeDeadlines: missing data is an error, never a silent skip', () => {
  it('a deadline that reaches a year the holiday calendar does not cover', () => {
    // DE 2027-12-20 (Mon) + 15 = 2028-01-04: the DE calendar is checked for 2024–2027 only.
    const incident: DeadlineIncident = {
      seriousness: 'serious_deterioration',
      awarenessDate: '2027-12-20',
      countries: ['DE'],
      productJurisdictions: EU_ONLY,
    };
    expect(() => computeDeadlines(incident)).toThrow(HolidayCalendarError);
    expect(() => computeDeadlines(incident)).toThrow(/DE holiday calendar has no data for 2028/);
  });

  it('an EU country without a holiday calendar: error by default, or weekends only (never later) on request', () => {
    // AT: 2025-12-11 (Thu) + 15 = Fri 2025-12-26 — Stefanitag, an Austrian holiday, so the true date is Mon 29 Dec.
    // Without Austrian holidays, weekends only: Friday 26 stays → earlier than the true date, never later.
    const incident: DeadlineIncident = {
      seriousness: 'serious_deterioration',
      awarenessDate: '2025-12-11',
      countries: ['AT'],
      productJurisdictions: EU_ONLY,
    };
    expect(() => computeDeadlines(incident)).toThrow(
      /needs the public holidays of AT, and there is no AT holiday/,
    );
    const [deadline] = computeDeadlines(incident, { missingCalendar: 'weekends_only' });
    expect(deadline).toMatchObject({ ruleId: 'EU-MDR-87-3', country: 'AT', dueAt: '2025-12-26' });
    expect(deadline.basis.calendar).toBeNull();
    expect(deadline.basis.warnings[0]).toMatch(/No AT holiday calendar/);
    // End of 26 December at UTC+3, the latest EEA offset: never after the true local end of day.
    expect(deadline.dueBy).toBe('2025-12-26T20:59:59.999Z');
    // Weekends still move: AT 2026-03-13 + 15 = Sat 28 March → Mon 2026-03-30.
    const [weekend] = computeDeadlines(
      { ...incident, awarenessDate: '2026-03-13' },
      { missingCalendar: 'weekends_only' },
    );
    expect(weekend.dueAt).toBe('2026-03-30');
  });

  it('an hour clock without the moment of awareness', () => {
    expect(() =>
      computeDeadlines({
        seriousness: 'serious_deterioration',
        groupEvent: true,
        awarenessDate: '2026-02-14',
        countries: ['CN'],
        productJurisdictions: ['CN'],
      }),
    ).toThrow(/awarenessAt is required: NMPA Order No. 1 group event 12 hours counts 12 hours/);
  });

  it('an hour clock started by new information takes that information’s moment', () => {
    // Not a group event at awareness; on 2026-06-10 at 08:00 Beijing (00:00Z) it becomes one → 12 h = 12:00Z.
    const deadlines = computeDeadlines({
      seriousness: 'serious_deterioration',
      awarenessDate: '2026-06-01',
      countries: ['CN'],
      productJurisdictions: ['CN'],
      newInformation: [
        {
          receivedDate: '2026-06-10',
          receivedAt: '2026-06-10T08:00:00+08:00',
          seriousness: 'serious_deterioration',
          groupEvent: true,
        },
      ],
    });
    // Serious injury 20 days from 1 June = 2026-06-21 (Sun, not moved).
    expect(summary(deadlines)).toEqual([
      ['CN-ORDER1-GROUP-12H', 'CN', '2026-06-10T12:00:00Z'],
      ['CN-ORDER1-GROUP-24H', 'CN', '2026-06-11T00:00:00Z'],
      ['CN-ORDER1-SERIOUS', 'CN', '2026-06-21'],
    ]);
  });

  it.each<[string, Partial<DeadlineIncident>, RegExp]>([
    ['impossible date', { awarenessDate: '2026-02-30' }, /awarenessDate must be a calendar date/],
    ['unknown seriousness', { seriousness: 'severe' as never }, /seriousness must be one of death/],
    ['lower-case country', { countries: ['de'] }, /ISO 3166-1 alpha-2 codes such as DE/],
    [
      'unknown jurisdiction',
      { productJurisdictions: ['UK'] },
      /productJurisdictions must hold EU, US, CN; got "UK"/,
    ],
    [
      'information before awareness',
      { newInformation: [{ receivedDate: '2026-03-01', seriousness: 'death' }] },
      /newInformation\[0\]\.receivedDate \(2026-03-01\) is before awarenessDate \(2026-03-13\)/,
    ],
    [
      'awareness moment on another day',
      { awarenessAt: '2026-03-20T10:00:00Z' },
      /awarenessAt \(2026-03-20T10:00:00Z\) is not on awarenessDate \(2026-03-13\)/,
    ],
  ])('rejects %s', (_name, change, message) => {
    const incident: DeadlineIncident = {
      seriousness: 'serious_deterioration',
      awarenessDate: '2026-03-13',
      countries: ['DE'],
      productJurisdictions: EU_ONLY,
      ...change,
    };
    expect(() => computeDeadlines(incident)).toThrow(DeadlineInputError);
    expect(() => computeDeadlines(incident)).toThrow(message);
  });

  it('rejects an awareness moment without an offset', () => {
    expect(() =>
      computeDeadlines({
        seriousness: 'death',
        awarenessDate: '2026-03-13',
        awarenessAt: '2026-03-13T10:00:00',
        countries: ['CN'],
        productJurisdictions: ['CN'],
      }),
    ).toThrow(CalendarDateError);
  });
});

describe('rules are data', () => {
  it('every row cites its source and is well-formed', () => {
    const ids = REPORTING_CLOCK_RULES.map((rule) => rule.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const rule of REPORTING_CLOCK_RULES) {
      expect(rule.legalSource.length).toBeGreaterThan(20);
      expect(rule.countingSource.length).toBeGreaterThan(10);
      expect(rule.appliesWhen.length).toBeGreaterThan(0);
      expect(rule.period.amount).toBeGreaterThan(0);
    }
    expect(REPORTING_CLOCK_RULES.map((rule) => [rule.id, rule.period.amount, rule.period.unit])).toEqual([
      ['EU-MDR-87-4', 2, 'calendar_days'],
      ['EU-MDR-87-5', 10, 'calendar_days'],
      ['EU-MDR-87-3', 15, 'calendar_days'],
      ['US-803-50', 30, 'calendar_days'],
      ['US-803-53', 5, 'work_days'],
      ['CN-ORDER1-DEATH', 7, 'calendar_days'],
      ['CN-ORDER1-SERIOUS', 20, 'calendar_days'],
      ['CN-ORDER1-ABROAD', 30, 'calendar_days'],
      ['CN-ORDER1-GROUP-12H', 12, 'hours'],
      ['CN-ORDER1-GROUP-24H', 24, 'hours'],
    ]);
    expect(JURISDICTION_COUNTRIES.EU).toHaveLength(30); // EU-27 + IS, LI, NO
    expect(isValidTimeZone('Etc/GMT-3')).toBe(true);
  });

  it('changing a row changes the deadline: NMPA days moved off Chinese holidays, with make-up Saturdays', () => {
    // If the NMPA death clock were counted like the EU's (roll to the next working day), the CN calendar decides:
    //   2026-02-10 + 7 = Tue 2026-02-17, inside the Spring Festival block 15–23 Feb → Tue 2026-02-24.
    //   2026-02-21 + 7 = Sat 2026-02-28, a make-up working day (上班) → stays 2026-02-28.
    //   2027-01-10 + 7 = 2027-01-17: the 2027 State Council notice is not in the table → error.
    const rolled: ReportingClockRule[] = REPORTING_CLOCK_RULES.filter(
      (rule) => rule.id === 'CN-ORDER1-DEATH',
    ).map((rule) => ({ ...rule, endOfPeriod: 'next_working_day' }));
    const death = (awarenessDate: string): DeadlineIncident => ({
      seriousness: 'death',
      awarenessDate,
      countries: ['CN'],
      productJurisdictions: ['CN'],
    });
    expect(summary(computeDeadlines(death('2026-02-10'), { rules: rolled }))).toEqual([
      ['CN-ORDER1-DEATH', 'CN', '2026-02-24'],
    ]);
    expect(summary(computeDeadlines(death('2026-02-21'), { rules: rolled }))).toEqual([
      ['CN-ORDER1-DEATH', 'CN', '2026-02-28'],
    ]);
    expect(() => computeDeadlines(death('2027-01-10'), { rules: rolled })).toThrow(
      /CN holiday calendar has no data for 2027/,
    );
    // With the shipped (unmoved) rule the same 2027 death needs no holiday data: 2027-01-17.
    expect(summary(computeDeadlines(death('2027-01-10')))).toEqual([['CN-ORDER1-DEATH', 'CN', '2027-01-17']]);
  });
});

describe('classifyDeadline', () => {
  // DESIGN.md example: due by the end of 2026-03-30 in Berlin = 2026-03-30T21:59:59.999Z.
  const deadline = { dueBy: '2026-03-30T21:59:59.999Z' };

  it.each<[string, string, 'open' | 'due_soon' | 'overdue']>([
    ['four days before', '2026-03-26T22:00:00Z', 'open'],
    ['just outside 48 h', '2026-03-28T21:59:59Z', 'open'],
    ['48 h before', '2026-03-28T21:59:59.999Z', 'due_soon'],
    ['the last second', '2026-03-30T21:59:59.999Z', 'due_soon'],
    ['one millisecond late', '2026-03-30T22:00:00Z', 'overdue'],
  ])('%s → %s', (_name, now, expected) => {
    expect(classifyDeadline(deadline, new Date(now)).urgency).toBe(expected);
  });

  it('takes a configurable window and reports the hours left', () => {
    const now = new Date('2026-03-27T21:59:59.999Z'); // 72 h before
    expect(classifyDeadline(deadline, now)).toEqual({ urgency: 'open', hoursRemaining: 72 });
    expect(classifyDeadline(deadline, now, { dueSoonWithinHours: 72 }).urgency).toBe('due_soon');
    expect(classifyDeadline(deadline, new Date('2026-03-31T09:59:59.999Z')).hoursRemaining).toBe(-12);
    expect(DEFAULT_DUE_SOON_WITHIN_HOURS).toBe(48);
    expect(() => classifyDeadline(deadline, now, { dueSoonWithinHours: -1 })).toThrow(RangeError);
    expect(() => classifyDeadline(deadline, new Date('nonsense'))).toThrow(RangeError);
  });

  it('works on hour clocks', () => {
    const [twelveHours] = computeDeadlines(caseNamed('NMPA group event'));
    expect(
      classifyDeadline(twelveHours, new Date('2026-02-15T00:00:00Z'), { dueSoonWithinHours: 4 }),
    ).toEqual({
      urgency: 'due_soon',
      hoursRemaining: 1.5,
    });
  });
});
