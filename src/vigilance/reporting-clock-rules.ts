/**
 * Regulatory reporting clocks as data (DESIGN.md §7): one row per legal deadline, each citing its source.
 * `deadlines.ts` evaluates these rows; nothing else in the code knows a day count.
 *
 * Figures and conditions are taken from reference/regulatory.md (§1.3 EU MDR Art. 87 and MDCG 2023-3 Rev.2,
 * §2.1 21 CFR 803, §3.1 NMPA Order No. 1, §7 clock table), with its provenance tags: [V] checked against the
 * primary text, [S] secondary sources, [R] recalled, UNVERIFIED. Where a source leaves a counting question open, the
 * row takes the reading that gives the earlier deadline and says so in `countingNote`.
 */
export const JURISDICTIONS = ['EU', 'US', 'CN'] as const;
export type Jurisdiction = (typeof JURISDICTIONS)[number];

export const SERIOUSNESS_LEVELS = [
  'death',
  'serious_deterioration',
  'serious_public_health_threat',
  'non_serious',
] as const;
/** DESIGN.md §5 incident seriousness. */
export type Seriousness = (typeof SERIOUSNESS_LEVELS)[number];

/**
 * What is known about the incident at one moment: the facts that select clocks. All flags default to false
 * ("not established").
 */
export interface IncidentClassification {
  readonly seriousness: Seriousness;
  /**
   * The serious deterioration was unanticipated (MDR Art. 87(5); MDCG 2023-3: the condition leading to it was not
   * considered in the risk analysis). Turns the 15-day clock of 87(3) into the 10-day clock of 87(5).
   */
  readonly unanticipatedDeterioration?: boolean;
  /** NMPA group adverse event (群体不良事件): one device, many people harmed or threatened in a short time and area. */
  readonly groupEvent?: boolean;
  /** 21 CFR 803.50(a)(2): a malfunction that would likely cause or contribute to death or serious injury if it recurred. */
  readonly reportableMalfunction?: boolean;
  /** 21 CFR 803.53(a): remedial action is needed to prevent an unreasonable risk of substantial harm to public health. */
  readonly remedialActionRequired?: boolean;
  /** 21 CFR 803.53(b): FDA asked in writing for a 5-day report (the clock runs from receipt of the request). */
  readonly fdaWrittenRequest?: boolean;
}

/** A condition on the classification; every property given must hold (a `false` flag matches "not true"). */
export interface ClockCondition {
  readonly seriousness?: readonly Seriousness[];
  readonly unanticipatedDeterioration?: boolean;
  readonly groupEvent?: boolean;
  readonly reportableMalfunction?: boolean;
  readonly remedialActionRequired?: boolean;
  readonly fdaWrittenRequest?: boolean;
}

export type PeriodUnit = 'calendar_days' | 'work_days' | 'hours';

export interface ReportingClockRule {
  /** Stable identifier, e.g. for alerts and audit entries. */
  readonly id: string;
  readonly jurisdiction: Jurisdiction;
  /** The label shown in an incident's `deadlines` (DESIGN.md §5), e.g. "MDR Art. 87(3) 15 days". */
  readonly rule: string;
  /** The legal provision that sets the deadline. */
  readonly legalSource: string;
  /** How the period is counted, and where that comes from. */
  readonly countingSource: string;
  /** Open questions and the reading chosen. */
  readonly countingNote?: string;
  /** Provenance tag of the figure in reference/regulatory.md. */
  readonly provenance: '[V]' | '[S]' | '[R]' | 'UNVERIFIED';
  /** The clock runs when any of these conditions holds. */
  readonly appliesWhen: readonly ClockCondition[];
  /**
   * Where the incident must have happened: in the jurisdiction's territory, outside it (NMPA's events abroad), or
   * anywhere (FDA: events abroad with a device also marketed in the US).
   */
  readonly occurrence: 'in_jurisdiction' | 'outside_jurisdiction' | 'anywhere';
  readonly period: { readonly amount: number; readonly unit: PeriodUnit };
  /**
   * 'next_working_day': a last day that is a Saturday, Sunday or public holiday moves to the next working day
   * (Reg. 1182/71 Art. 3(4)); 'none': the computed day stands.
   */
  readonly endOfPeriod: 'next_working_day' | 'none';
  /** Reg. 1182/71 Art. 3(5): a period of two days or more includes at least this many working days. */
  readonly minimumWorkingDays?: number;
  /**
   * 'incident_country': one deadline per country of the incident in the jurisdiction, with that country's holidays
   * (the report goes to each country's competent authority, Art. 87(1)); 'authority': one deadline with the
   * authority's calendar (`AUTHORITY_CALENDAR_COUNTRY`).
   */
  readonly calendarOf: 'incident_country' | 'authority';
  /** Regulatory nuance the dates alone do not carry. */
  readonly note?: string;
}

/**
 * Countries whose incidents fall under each jurisdiction (ISO 3166-1 alpha-2).
 *  - EU: the MDR applies in the 27 Member States and, through the EEA Agreement, in Iceland, Liechtenstein and
 *    Norway. Türkiye and Northern Ireland also apply MDR vigilance through their own instruments (MDCG 2022-21
 *    splits PSUR tables "EEA+TR+XI"); they are not listed because their reports go to national authorities under
 *    national law — add them here if the quality team decides otherwise. Switzerland is not MDR territory.
 *  - US: the 50 states and DC, plus the territories under FDA jurisdiction that have their own ISO code.
 *  - CN: mainland China; Hong Kong, Macao and Taiwan have their own regulators.
 */
export const JURISDICTION_COUNTRIES: Readonly<Record<Jurisdiction, readonly string[]>> = {
  EU: [
    'AT',
    'BE',
    'BG',
    'HR',
    'CY',
    'CZ',
    'DK',
    'EE',
    'FI',
    'FR',
    'DE',
    'GR',
    'HU',
    'IE',
    'IT',
    'LV',
    'LT',
    'LU',
    'MT',
    'NL',
    'PL',
    'PT',
    'RO',
    'SK',
    'SI',
    'ES',
    'SE',
    'IS',
    'LI',
    'NO',
  ],
  US: ['US', 'PR', 'GU', 'VI', 'AS', 'MP'],
  CN: ['CN'],
};

/** The calendar (and time zone) used for a jurisdiction's 'authority' rows. */
export const AUTHORITY_CALENDAR_COUNTRY: Readonly<Record<Jurisdiction, string>> = {
  // Not used by an EU row today (EU rows follow the incident country); Belgium would be the Commission's.
  EU: 'BE',
  US: 'US',
  CN: 'CN',
};

const SERIOUS: readonly Seriousness[] = ['death', 'serious_deterioration', 'serious_public_health_threat'];

const MDCG_2023_3_COUNTING =
  'MDCG 2023-3 Rev.2 Q14/Q15: calendar days, the awareness date is day 0, the period ends 23:59:59 on day N; a last ' +
  'day on a Saturday, Sunday or public holiday moves to the next working day and a period of 2 days or more holds ' +
  'at least 2 working days (Reg. (EEC, Euratom) 1182/71 Art. 3(4)-(5)); new information that makes the incident ' +
  'reportable starts the clock on the day it is received; the earliest applicable deadline wins [V]';

/**
 * The rules table. Order is not significant: deadlines are sorted by due instant.
 *
 * | id | jurisdiction | when | period | counting |
 * |---|---|---|---|---|
 * | EU-MDR-87-4 | EU | serious public health threat | 2 days | calendar, roll to working day, ≥2 working days |
 * | EU-MDR-87-5 | EU | death; unanticipated serious deterioration | 10 days | same |
 * | EU-MDR-87-3 | EU | other serious incident (anticipated serious deterioration) | 15 days | same |
 * | US-803-50 | US | death, serious injury, reportable malfunction | 30 days | calendar, no roll |
 * | US-803-53 | US | remedial action needed / FDA written request | 5 work days | Mon–Fri minus Federal holidays |
 * | CN-ORDER1-DEATH | CN | death in China | 7 days | calendar, no roll |
 * | CN-ORDER1-SERIOUS | CN | serious injury / possible serious injury or death in China | 20 days | calendar, no roll |
 * | CN-ORDER1-ABROAD | CN | death or serious injury abroad | 30 days | calendar, no roll |
 * | CN-ORDER1-GROUP-12H | CN | group adverse event in China | 12 hours | from the moment of discovery |
 * | CN-ORDER1-GROUP-24H | CN | group adverse event: each case | 24 hours | from the moment of discovery |
 */
export const REPORTING_CLOCK_RULES: readonly ReportingClockRule[] = [
  {
    id: 'EU-MDR-87-4',
    jurisdiction: 'EU',
    rule: 'MDR Art. 87(4) 2 days',
    legalSource:
      'Regulation (EU) 2017/745 Art. 87(4): serious public health threat — immediately, not later than 2 days ' +
      'after awareness (definition: Art. 2(66))',
    countingSource: MDCG_2023_3_COUNTING,
    provenance: '[V]',
    appliesWhen: [{ seriousness: ['serious_public_health_threat'] }],
    occurrence: 'in_jurisdiction',
    period: { amount: 2, unit: 'calendar_days' },
    endOfPeriod: 'next_working_day',
    minimumWorkingDays: 2,
    calendarOf: 'incident_country',
    note: 'A maximum: report immediately once a causal link is established or reasonably possible (Art. 87(3)).',
  },
  {
    id: 'EU-MDR-87-5',
    jurisdiction: 'EU',
    rule: 'MDR Art. 87(5) 10 days',
    legalSource:
      'Regulation (EU) 2017/745 Art. 87(5): death or unanticipated serious deterioration in state of health — ' +
      'immediately, not later than 10 days after awareness',
    countingSource: MDCG_2023_3_COUNTING,
    provenance: '[V]',
    appliesWhen: [
      { seriousness: ['death'] },
      { seriousness: ['serious_deterioration'], unanticipatedDeterioration: true },
    ],
    occurrence: 'in_jurisdiction',
    period: { amount: 10, unit: 'calendar_days' },
    endOfPeriod: 'next_working_day',
    minimumWorkingDays: 2,
    calendarOf: 'incident_country',
    note: 'A maximum: report immediately once a causal link is established or reasonably possible (Art. 87(3)).',
  },
  {
    id: 'EU-MDR-87-3',
    jurisdiction: 'EU',
    rule: 'MDR Art. 87(3) 15 days',
    legalSource:
      'Regulation (EU) 2017/745 Art. 87(3): other serious incidents — immediately after establishing a causal ' +
      'relationship or its reasonable possibility, not later than 15 days after awareness',
    countingSource: MDCG_2023_3_COUNTING,
    countingNote:
      'A serious deterioration counts as anticipated (15 days) unless `unanticipatedDeterioration` is set ' +
      '(10 days, 87(5)): the risk analysis decides, and triage records it.',
    provenance: '[V]',
    appliesWhen: [{ seriousness: ['serious_deterioration'], unanticipatedDeterioration: false }],
    occurrence: 'in_jurisdiction',
    period: { amount: 15, unit: 'calendar_days' },
    endOfPeriod: 'next_working_day',
    minimumWorkingDays: 2,
    calendarOf: 'incident_country',
  },
  {
    id: 'US-803-50',
    jurisdiction: 'US',
    rule: '21 CFR 803.50 30 days',
    legalSource:
      '21 CFR 803.50(a): death or serious injury the device may have caused or contributed to, or a malfunction ' +
      'likely to cause or contribute to one if it recurred — within 30 calendar days of becoming aware',
    countingSource: '21 CFR 803.50(a) "30 calendar days"; awareness per 803.3 (any employee) [V]',
    countingNote:
      'Part 803 moves no deadline off a weekend or holiday, so none is moved. Events abroad: FDA expects MDRs for ' +
      'events outside the US with a device that is the same as or similar to one marketed in the US (FDA guidance ' +
      '"Medical Device Reporting for Manufacturers", 2016) [R] — hence occurrence "anywhere" for US-marketed products.',
    provenance: '[V]',
    appliesWhen: [{ seriousness: SERIOUS }, { reportableMalfunction: true }],
    occurrence: 'anywhere',
    period: { amount: 30, unit: 'calendar_days' },
    endOfPeriod: 'none',
    calendarOf: 'authority',
  },
  {
    id: 'US-803-53',
    jurisdiction: 'US',
    rule: '21 CFR 803.53 5 work days',
    legalSource:
      '21 CFR 803.53: a reportable event that needs remedial action to prevent an unreasonable risk of substantial ' +
      'harm to public health (awareness may come from any information, including trend analysis), or for which FDA ' +
      'asked in writing — within 5 work days',
    countingSource:
      '21 CFR 803.53 "5 work days"; work day = Monday–Friday except Federal holidays (803.3) [R]; counted from the ' +
      'day after awareness (or after receipt of FDA’s request)',
    provenance: '[V]',
    appliesWhen: [{ remedialActionRequired: true }, { fdaWrittenRequest: true }],
    occurrence: 'anywhere',
    period: { amount: 5, unit: 'work_days' },
    endOfPeriod: 'none',
    calendarOf: 'authority',
  },
  {
    id: 'CN-ORDER1-DEATH',
    jurisdiction: 'CN',
    rule: 'NMPA Order No. 1 death 7 days',
    legalSource:
      'SAMR/NHC Order No. 1 (2018) 医疗器械不良事件监测和再评价管理办法: a suspected adverse event causing death — ' +
      'within 7 days of discovering or learning of it (article number UNVERIFIED, regulatory.md §8)',
    countingSource: 'regulatory.md §3.1 and §7: "within 7 days"; calendar vs working days not stated [S]',
    countingNote:
      'Counted as calendar days from the day after discovery, with no move off weekends or holidays: the earlier of ' +
      'the possible readings until the text is checked. CN_CALENDAR is there for the day that changes.',
    provenance: '[S]',
    appliesWhen: [{ seriousness: ['death'] }],
    occurrence: 'in_jurisdiction',
    period: { amount: 7, unit: 'calendar_days' },
    endOfPeriod: 'none',
    calendarOf: 'authority',
  },
  {
    id: 'CN-ORDER1-SERIOUS',
    jurisdiction: 'CN',
    rule: 'NMPA Order No. 1 serious injury 20 days',
    legalSource:
      'SAMR/NHC Order No. 1 (2018): a suspected adverse event causing serious injury, or possibly causing serious ' +
      'injury or death — within 20 days of discovering or learning of it',
    countingSource: 'regulatory.md §3.1 and §7: "within 20 days"; calendar vs working days not stated [S]',
    countingNote:
      'Calendar days, no move off weekends or holidays (the earlier reading). A serious public health threat is ' +
      'treated as "possibly causing serious injury or death".',
    provenance: '[S]',
    appliesWhen: [{ seriousness: ['serious_deterioration', 'serious_public_health_threat'] }],
    occurrence: 'in_jurisdiction',
    period: { amount: 20, unit: 'calendar_days' },
    endOfPeriod: 'none',
    calendarOf: 'authority',
  },
  {
    id: 'CN-ORDER1-ABROAD',
    jurisdiction: 'CN',
    rule: 'NMPA Order No. 1 event abroad 30 days',
    legalSource:
      'SAMR/NHC Order No. 1 (2018): events abroad that caused or may cause serious injury or death, for devices ' +
      'marketed in China — within 30 days of discovering or learning of them',
    countingSource: 'regulatory.md §3.1 and §7: "within 30 days"; calendar vs working days not stated [S]',
    countingNote: 'Calendar days, no move off weekends or holidays (the earlier reading).',
    provenance: '[S]',
    appliesWhen: [{ seriousness: SERIOUS }],
    occurrence: 'outside_jurisdiction',
    period: { amount: 30, unit: 'calendar_days' },
    endOfPeriod: 'none',
    calendarOf: 'authority',
  },
  {
    id: 'CN-ORDER1-GROUP-12H',
    jurisdiction: 'CN',
    rule: 'NMPA Order No. 1 group event 12 hours',
    legalSource:
      'SAMR/NHC Order No. 1 (2018): group adverse event — within 12 hours, by phone or fax to the provincial ' +
      'medical products administration and health authority, with basic information in the national system',
    countingSource: 'regulatory.md §3.1 and §7: 12 hours from discovery [S]',
    countingNote:
      'Needs the moment of discovery (`awarenessAt`), not just the date. The holder must also suspend ' +
      'production and sales and report investigation results within 7 days (not computed here).',
    provenance: '[S]',
    appliesWhen: [{ groupEvent: true }],
    occurrence: 'in_jurisdiction',
    period: { amount: 12, unit: 'hours' },
    endOfPeriod: 'none',
    calendarOf: 'authority',
  },
  {
    id: 'CN-ORDER1-GROUP-24H',
    jurisdiction: 'CN',
    rule: 'NMPA Order No. 1 group event case reports 24 hours',
    legalSource:
      'SAMR/NHC Order No. 1 (2018): group adverse event — each case reported individually within 24 hours',
    countingSource: 'regulatory.md §3.1 and §7: 24 hours per case [S]',
    countingNote: 'From the moment of discovery (`awarenessAt`).',
    provenance: '[S]',
    appliesWhen: [{ groupEvent: true }],
    occurrence: 'in_jurisdiction',
    period: { amount: 24, unit: 'hours' },
    endOfPeriod: 'none',
    calendarOf: 'authority',
  },
];

/** True when the classification satisfies every property the condition names. */
export function conditionHolds(condition: ClockCondition, classification: IncidentClassification): boolean {
  if (condition.seriousness && !condition.seriousness.includes(classification.seriousness)) return false;
  const flags = [
    'unanticipatedDeterioration',
    'groupEvent',
    'reportableMalfunction',
    'remedialActionRequired',
    'fdaWrittenRequest',
  ] as const;
  return flags.every(
    (flag) => condition[flag] === undefined || condition[flag] === (classification[flag] === true),
  );
}

export function ruleApplies(rule: ReportingClockRule, classification: IncidentClassification): boolean {
  return rule.appliesWhen.some((condition) => conditionHolds(condition, classification));
}

/** The jurisdiction an incident country belongs to, or null (e.g. JP, CH). */
export function jurisdictionOfCountry(country: string): Jurisdiction | null {
  for (const jurisdiction of JURISDICTIONS) {
    if (JURISDICTION_COUNTRIES[jurisdiction].includes(country)) return jurisdiction;
  }
  return null;
}

/** A day-count rule needs a date; an hour rule needs an instant. */
export function isHourRule(rule: ReportingClockRule): boolean {
  return rule.period.unit === 'hours';
}
