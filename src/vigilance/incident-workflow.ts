/**
 * The incident workflow as data (DESIGN.md §7: rules are tables, not `if` chains): the states of an incident, the
 * transitions between them with who may make each one and whether a reason is required, and what each transition
 * does to the reporting deadlines listed at that moment. Pure: the incidents service reads this table; nothing else
 * knows a transition.
 *
 * Sources: issue 5 §2 (candidate → under assessment → reportable / not reportable → submitted → closed); MDCG 2023-3
 * Rev.2 Q15 (new information can make an incident judged not reportable reportable, and starts the clock on its
 * date); MIR 7.3.1 report types (initial, follow-up, final, "final (non-reportable incident)") — regulatory.md §1.6;
 * 21 CFR 803.18 (the MDR event file keeps the reportability deliberations and decision) and 21 CFR 11.10(e) (who,
 * when, why) — regulatory.md §2.1–2.2.
 */
import type { Role } from '../auth/roles';

export const INCIDENT_STATES = [
  'candidate',
  'under_assessment',
  'reportable',
  'not_reportable',
  'submitted',
  'closed',
] as const;
export type IncidentState = (typeof INCIDENT_STATES)[number];

/** Where an incident came from: entered by hand, opened by a clinician complaint, or by a detection rule. */
export const INCIDENT_SOURCES = ['manual', 'complaint', 'detection'] as const;
export type IncidentSource = (typeof INCIDENT_SOURCES)[number];

/**
 * How strongly the device is linked to the harm. The four graded categories are those of MDCG 2020-10/1 (serious
 * adverse events in clinical investigations: not related, possible, probable, causal relationship) [R], used here
 * for field incidents as most quality systems do; `not_assessed` until triage says. MDR Art. 87(3) asks for a report
 * once a causal relationship is established or reasonably possible.
 */
export const CAUSALITY_LEVELS = ['not_assessed', 'not_related', 'possible', 'probable', 'causal'] as const;
export type Causality = (typeof CAUSALITY_LEVELS)[number];

/**
 * What a transition does to the deadlines listed when it is made (a deadline is identified by rule, country and due
 * instant — a clock that restarts gives a new deadline):
 *  - `keep`: nothing; open deadlines stay open.
 *  - `settle_met`: every open deadline is marked met (the report went in while it was listed).
 *  - `settle_waived`: every open deadline is marked waived (the documented decision: not reportable).
 *  - `reopen_waived`: waived deadlines are open again (the decision is withdrawn); met ones stay met.
 *  - `require_none_open`: refused while a deadline is open (a report is still due).
 * A deadline that appears later — new information, a reassessment — is open whatever the state, so its clock runs
 * and alerts fire even on a submitted or not-reportable incident.
 */
export type DeadlineEffect = 'keep' | 'settle_met' | 'settle_waived' | 'reopen_waived' | 'require_none_open';

export interface IncidentTransition {
  readonly from: IncidentState;
  readonly to: IncidentState;
  /** Roles that may make it. The route's permission (vigilance:triage) is checked first; this is checked too. */
  readonly roles: readonly Role[];
  /** The reason is kept in the incident history and the audit trail (21 CFR 11.10(e); 803.18 deliberations). */
  readonly reasonRequired: boolean;
  readonly deadlines: DeadlineEffect;
  /** What it means, and its source. */
  readonly meaning: string;
}

const QUALITY: readonly Role[] = ['quality'];

/**
 * The transition table.
 *
 * | from | to | who | reason | deadlines |
 * |---|---|---|---|---|
 * | candidate | under_assessment | quality | required | keep |
 * | under_assessment | reportable | quality | required | keep |
 * | under_assessment | not_reportable | quality | required | settle_waived |
 * | reportable | submitted | quality | required | settle_met |
 * | submitted | reportable | quality | required | keep |
 * | submitted | closed | quality | required | require_none_open |
 * | not_reportable | closed | quality | required | require_none_open |
 * | not_reportable | under_assessment | quality | required | reopen_waived |
 * | closed | under_assessment | quality | required | reopen_waived |
 */
export const INCIDENT_TRANSITIONS: readonly IncidentTransition[] = [
  {
    from: 'candidate',
    to: 'under_assessment',
    roles: QUALITY,
    reasonRequired: true,
    deadlines: 'keep',
    meaning:
      'Triage starts: the event is assessed for reportability. The clocks already run from awareness (day 0, MDCG ' +
      '2023-3 Q14); assessing does not stop them.',
  },
  {
    from: 'under_assessment',
    to: 'reportable',
    roles: QUALITY,
    reasonRequired: true,
    deadlines: 'keep',
    meaning:
      'Reportability established (MIR 1.2.d "awareness date of reportability"); the report is due by the earliest ' +
      'deadline listed.',
  },
  {
    from: 'under_assessment',
    to: 'not_reportable',
    roles: QUALITY,
    reasonRequired: true,
    deadlines: 'settle_waived',
    meaning:
      'Judged not reportable; the rationale is the reason (MIR "final (non-reportable incident)" §4.2; 21 CFR ' +
      '803.18(b)(1)(i) keeps the deliberations and decision). Deadlines listed now are waived by this decision.',
  },
  {
    from: 'reportable',
    to: 'submitted',
    roles: QUALITY,
    reasonRequired: true,
    deadlines: 'settle_met',
    meaning:
      'The report went to the authorities (initial or combined initial/final). Deadlines listed now are met; ' +
      'one that appears later (e.g. a death learned afterwards) is open.',
  },
  {
    from: 'submitted',
    to: 'reportable',
    roles: QUALITY,
    reasonRequired: true,
    deadlines: 'keep',
    meaning: 'A further report is due (follow-up with new information, MDR Art. 87(6); 21 CFR 803.56).',
  },
  {
    from: 'submitted',
    to: 'closed',
    roles: QUALITY,
    reasonRequired: true,
    deadlines: 'require_none_open',
    meaning: 'Final report submitted and the investigation concluded. Refused while a deadline is open.',
  },
  {
    from: 'not_reportable',
    to: 'closed',
    roles: QUALITY,
    reasonRequired: true,
    deadlines: 'require_none_open',
    meaning:
      'Closed without a report. Refused while a deadline is open (new information may have opened one).',
  },
  {
    from: 'not_reportable',
    to: 'under_assessment',
    roles: QUALITY,
    reasonRequired: true,
    deadlines: 'reopen_waived',
    meaning:
      'Reopened, typically on new information (MDCG 2023-3 Q15: "if reportability is established later from new ' +
      'information, the clock starts on the date that information was received"). Waived deadlines run again.',
  },
  {
    from: 'closed',
    to: 'under_assessment',
    roles: QUALITY,
    reasonRequired: true,
    deadlines: 'reopen_waived',
    meaning:
      'Reopened after closure (new information, a trend, an authority request). Waived deadlines run again.',
  },
];

export function findTransition(from: IncidentState, to: IncidentState): IncidentTransition | null {
  return INCIDENT_TRANSITIONS.find((transition) => transition.from === from && transition.to === to) ?? null;
}

export function transitionsFrom(from: IncidentState): IncidentTransition[] {
  return INCIDENT_TRANSITIONS.filter((transition) => transition.from === from);
}
