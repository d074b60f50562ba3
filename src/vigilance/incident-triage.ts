/**
 * Triage of an incident as a pure function: given what is stored, a requested change, who asks and the deadlines
 * the rules give, it returns the next state of the incident or says precisely why the change is refused. The
 * incidents service only loads, locks, stores and audits.
 *
 * What a change is (each kind of change is kept in the history and the audit trail):
 *  - `new_information`: information received on a date, with the classification known from then on (fields not
 *    given carry over). It may start clocks on its date (MDCG 2023-3 Q15). It must not be older than the latest
 *    entry of the timeline: information is recorded in the order received.
 *  - `reassessment`: the same information judged differently — seriousness or a flag, causality, the awareness
 *    date or instant, the countries. A reason is required. A classification change applies to the latest entry of
 *    the timeline, or from `effectiveFrom` (the awareness date or a received date) on, when the judgement rests on
 *    earlier information; so the clock starts where that information started it.
 *  - `transition`: a state change from the transition table (incident-workflow.ts), with its role and reason rules
 *    and its effect on the deadlines.
 *  - `coding`: IMDRF codes (validated against the configured table before they get here).
 *  - `update`: title or description.
 */
import type { Role } from '../auth/roles';
import { addDays, type IsoDate } from './calendar-dates';
import type { ReportingDeadline } from './deadlines';
import {
  CLASSIFICATION_FIELDS,
  type Classification,
  type ClassificationFlag,
  type ClockFacts,
  type NewInformation,
  type SettledDeadline,
  currentClassification,
  openDeadlines,
  reopenWaived,
  settleOpen,
} from './incident-clocks';
import {
  type Causality,
  type IncidentState,
  type IncidentTransition,
  findTransition,
  transitionsFrom,
} from './incident-workflow';
import type { Seriousness } from './reporting-clock-rules';

/** An IMDRF term as stored with an incident: code and term (MDCG 2022-21 asks for both). */
export interface ImdrfTermRef {
  readonly annex: string;
  readonly code: string;
  readonly term: string;
}

/** An incident's coding, validated, with the table release it was checked against. */
export interface ImdrfAssignment {
  readonly codes: Readonly<Record<string, readonly string[]>>;
  readonly release: string | null;
  readonly terms: readonly ImdrfTermRef[];
}

/** The stored, changeable facts of an incident. */
export interface IncidentFacts extends ClockFacts {
  readonly state: IncidentState;
  readonly title: string;
  readonly description: string | null;
  readonly causality: Causality;
  readonly imdrf: ImdrfAssignment;
  readonly settledDeadlines: readonly SettledDeadline[];
}

export interface TriagePatch {
  readonly state?: IncidentState;
  readonly reason?: string;
  readonly title?: string;
  readonly description?: string;
  readonly seriousness?: Seriousness;
  readonly unanticipatedDeterioration?: boolean;
  readonly groupEvent?: boolean;
  readonly reportableMalfunction?: boolean;
  readonly remedialActionRequired?: boolean;
  readonly fdaWrittenRequest?: boolean;
  readonly causality?: Causality;
  readonly awarenessDate?: IsoDate;
  readonly awarenessAt?: string;
  readonly countries?: readonly string[];
  readonly imdrf?: ImdrfAssignment;
  readonly newInformation?: {
    readonly receivedDate: IsoDate;
    readonly receivedAt?: string;
    readonly summary: string;
  };
  readonly effectiveFrom?: IsoDate;
  /**
   * The authorities a report went to, when not all of them at once (e.g. the EU MIR filed, the NMPA report still due):
   * only their open deadlines are met. With the move reportable → submitted, or later on a submitted incident.
   */
  readonly submittedTo?: readonly string[];
  /** The authority's reference for that report, kept with the deadlines it met. */
  readonly submissionReference?: string;
}

export type TriageKind =
  'new_information' | 'reassessment' | 'transition' | 'coding' | 'update' | 'submission';

export type TriageAuditAction = 'incident.transition' | 'incident.reassess' | 'incident.update';

export interface TriageContext {
  /** `system`: candidate detection recording new information; it may never move an incident between states. */
  readonly role: Role | 'system';
  /** Today's date on the server (UTC); dates more than a day after it are refused as being in the future. */
  readonly today: IsoDate;
  readonly now: Date;
  /** The version this change creates. */
  readonly nextVersion: number;
  /** The rules' deadlines for a set of facts (computeIncidentDeadlines with the product's jurisdictions). */
  readonly deadlinesOf: (facts: IncidentFacts) => readonly ReportingDeadline[];
}

export interface TriagePlan {
  readonly next: IncidentFacts;
  readonly kinds: readonly TriageKind[];
  /** Names of the stored facts that changed, sorted. */
  readonly changed: readonly string[];
  readonly transition: IncidentTransition | null;
  readonly deadlines: readonly ReportingDeadline[];
  readonly auditAction: TriageAuditAction;
  readonly reason: string | null;
}

/** Why a change is refused: `bad_request` (400), `conflict` (409, the incident's state forbids it), `forbidden` (403). */
export class TriageError extends Error {
  constructor(
    readonly kind: 'bad_request' | 'conflict' | 'forbidden',
    message: string,
  ) {
    super(message);
    this.name = 'TriageError';
  }
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Dates may be a day ahead of the server's UTC date (time zones east of UTC), not more. */
export function refuseFutureDate(date: IsoDate, field: string, today: IsoDate): void {
  if (date > addDays(today, 1)) {
    throw new TriageError('bad_request', `${field} (${date}) is in the future`);
  }
}

function overlay(base: Classification, patch: TriagePatch): Classification {
  const flags = {} as Record<ClassificationFlag, boolean>;
  for (const field of CLASSIFICATION_FIELDS) {
    if (field === 'seriousness') continue;
    flags[field] = patch[field] ?? base[field];
  }
  return { seriousness: patch.seriousness ?? base.seriousness, ...flags };
}

function givesClassification(patch: TriagePatch): boolean {
  return CLASSIFICATION_FIELDS.some((field) => patch[field] !== undefined);
}

/** Dates of the timeline entries: the awareness date, then each piece of new information. */
function timelineDates(facts: ClockFacts): IsoDate[] {
  return [facts.awarenessDate, ...facts.newInformation.map((information) => information.receivedDate)];
}

function applyClassification(
  facts: IncidentFacts,
  patch: TriagePatch,
  context: TriageContext,
): Pick<IncidentFacts, 'awarenessClassification' | 'newInformation'> & { kind: TriageKind | null } {
  if (patch.newInformation) {
    const { receivedDate, receivedAt, summary } = patch.newInformation;
    if (patch.effectiveFrom !== undefined) {
      throw new TriageError(
        'bad_request',
        'effectiveFrom dates a reassessment of information already recorded; new information carries its own receivedDate',
      );
    }
    refuseFutureDate(receivedDate, 'newInformation.receivedDate', context.today);
    const latest = timelineDates(facts).pop() as IsoDate;
    if (receivedDate < latest) {
      throw new TriageError(
        'bad_request',
        `newInformation.receivedDate (${receivedDate}) is before the latest information on record (${latest}); ` +
          'record information in the order it was received, or correct the classification with effectiveFrom',
      );
    }
    const information: NewInformation = {
      receivedDate,
      receivedAt: receivedAt ?? null,
      summary,
      classification: overlay(currentClassification(facts), patch),
      recordedInVersion: context.nextVersion,
    };
    return {
      awarenessClassification: facts.awarenessClassification,
      newInformation: [...facts.newInformation, information],
      kind: 'new_information',
    };
  }
  if (!givesClassification(patch)) {
    if (patch.effectiveFrom !== undefined) {
      throw new TriageError(
        'bad_request',
        'effectiveFrom applies to a change of seriousness or of its flags',
      );
    }
    return { ...facts, kind: null };
  }
  const dates = timelineDates(facts);
  const start = patch.effectiveFrom === undefined ? dates.length - 1 : dates.indexOf(patch.effectiveFrom);
  if (start < 0) {
    throw new TriageError(
      'bad_request',
      `effectiveFrom (${patch.effectiveFrom}) must be the awareness date or the date of recorded new information: ` +
        dates.join(', '),
    );
  }
  const awarenessClassification =
    start === 0 ? overlay(facts.awarenessClassification, patch) : facts.awarenessClassification;
  const newInformation = facts.newInformation.map((information, index) =>
    index + 1 >= start
      ? { ...information, classification: overlay(information.classification, patch) }
      : information,
  );
  const changed =
    !same(awarenessClassification, facts.awarenessClassification) ||
    !same(newInformation, facts.newInformation);
  return { awarenessClassification, newInformation, kind: changed ? 'reassessment' : null };
}

function changedFacts(before: IncidentFacts, after: IncidentFacts): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]) as Set<keyof IncidentFacts>;
  return [...keys].filter((key) => !same(before[key], after[key])).sort();
}

function describeOpen(deadlines: readonly ReportingDeadline[]): string {
  return deadlines
    .map((deadline) => `${deadline.rule} (${deadline.country}) due ${deadline.dueAt}`)
    .join('; ');
}

/**
 * A submission to some authorities only (`submittedTo`): allowed with the move reportable → submitted or on a submitted
 * incident (a later report to another authority), by the roles that may submit, naming jurisdictions that have an
 * open deadline now. Null when the patch submits nothing of the kind (a move to submitted without `submittedTo` meets
 * every open deadline, as before).
 */
function plannedSubmission(
  facts: IncidentFacts,
  patch: TriagePatch,
  next: IncidentFacts,
  context: TriageContext,
): { jurisdictions: readonly string[]; reference: string | null } | null {
  if (patch.submittedTo === undefined) {
    if (patch.submissionReference !== undefined) {
      throw new TriageError('bad_request', 'submissionReference goes with submittedTo');
    }
    return null;
  }
  const submitting = patch.state === 'submitted' && facts.state === 'reportable';
  if (
    !submitting &&
    !(facts.state === 'submitted' && (patch.state === undefined || patch.state === facts.state))
  ) {
    throw new TriageError(
      'conflict',
      `A submission is recorded with the move reportable → submitted, or on a submitted incident; this one is ${facts.state}`,
    );
  }
  const submit = findTransition('reportable', 'submitted');
  if (context.role === 'system' || !submit?.roles.includes(context.role)) {
    throw new TriageError(
      'forbidden',
      `Role "${context.role}" may not record a submission (${submit?.roles.join(', ') ?? 'nobody'} may)`,
    );
  }
  const open: string[] = [
    ...new Set(openDeadlines(context.deadlinesOf(next), next.settledDeadlines).map((d) => d.jurisdiction)),
  ];
  const unknown = patch.submittedTo.filter((jurisdiction) => !open.includes(jurisdiction));
  if (patch.submittedTo.length === 0 || unknown.length > 0) {
    throw new TriageError(
      'bad_request',
      `submittedTo must name jurisdictions with an open deadline (${open.length > 0 ? open.join(', ') : 'none is open'})` +
        (unknown.length > 0 ? `; not open: ${unknown.join(', ')}` : ''),
    );
  }
  return { jurisdictions: [...new Set(patch.submittedTo)], reference: patch.submissionReference ?? null };
}

/** Plans a triage change; throws TriageError when it is refused. */
export function planTriage(facts: IncidentFacts, patch: TriagePatch, context: TriageContext): TriagePlan {
  const reason = patch.reason?.trim() ? patch.reason.trim() : null;
  const kinds = new Set<TriageKind>();
  let next: IncidentFacts = facts;

  if (
    (patch.title !== undefined && patch.title !== facts.title) ||
    (patch.description !== undefined && patch.description !== facts.description)
  ) {
    next = { ...next, title: patch.title ?? next.title, description: patch.description ?? next.description };
    kinds.add('update');
  }
  if (patch.imdrf && !same(patch.imdrf.codes, facts.imdrf.codes)) {
    next = { ...next, imdrf: patch.imdrf };
    kinds.add('coding');
  }

  if (patch.awarenessDate !== undefined)
    refuseFutureDate(patch.awarenessDate, 'awarenessDate', context.today);
  const awareness = {
    awarenessDate: patch.awarenessDate ?? facts.awarenessDate,
    awarenessAt: patch.awarenessAt ?? facts.awarenessAt,
    countries: patch.countries ? [...new Set(patch.countries)] : facts.countries,
    causality: patch.causality ?? facts.causality,
  };
  if (
    awareness.awarenessDate !== facts.awarenessDate ||
    awareness.awarenessAt !== facts.awarenessAt ||
    !same(awareness.countries, facts.countries) ||
    awareness.causality !== facts.causality
  ) {
    next = { ...next, ...awareness };
    kinds.add('reassessment');
  }
  if (next.newInformation.length > 0 && next.newInformation[0].receivedDate < next.awarenessDate) {
    throw new TriageError(
      'bad_request',
      `awarenessDate (${next.awarenessDate}) cannot follow new information received on ${next.newInformation[0].receivedDate}`,
    );
  }

  const classified = applyClassification(next, patch, context);
  if (classified.kind) {
    next = {
      ...next,
      awarenessClassification: classified.awarenessClassification,
      newInformation: classified.newInformation,
    };
    kinds.add(classified.kind);
  }

  const submission = plannedSubmission(facts, patch, next, context);

  let transition: IncidentTransition | null = null;
  if (patch.state !== undefined && patch.state !== facts.state) {
    transition = findTransition(facts.state, patch.state);
    if (!transition) {
      const allowed = transitionsFrom(facts.state).map((candidate) => candidate.to);
      throw new TriageError(
        'conflict',
        `An incident cannot go from ${facts.state} to ${patch.state}; from ${facts.state} it can go to ` +
          `${allowed.length > 0 ? allowed.join(', ') : 'no other state'}`,
      );
    }
    if (context.role === 'system' || !transition.roles.includes(context.role)) {
      throw new TriageError(
        'forbidden',
        `Role "${context.role}" may not move an incident from ${transition.from} to ${transition.to} ` +
          `(${transition.roles.join(', ')} may)`,
      );
    }
    if (transition.reasonRequired && !reason) {
      throw new TriageError(
        'bad_request',
        `A reason is required to move an incident from ${transition.from} to ${transition.to}; it is kept in the ` +
          'incident history and the audit trail',
      );
    }
    kinds.add('transition');
  }
  if (submission && !transition) {
    next = {
      ...next,
      settledDeadlines: settleOpen(
        context.deadlinesOf(next),
        next.settledDeadlines,
        'submitted',
        context.now.toISOString(),
        context.nextVersion,
        submission,
      ),
    };
    kinds.add('submission');
  }
  if (kinds.has('submission') && !reason) {
    throw new TriageError(
      'bad_request',
      'A reason is required to record a submission; it is kept in the history',
    );
  }
  if (kinds.has('reassessment') && !reason) {
    throw new TriageError(
      'bad_request',
      'A reason is required to change seriousness, its flags, causality, the awareness date or the countries; it is ' +
        'kept in the incident history and the audit trail',
    );
  }
  if (kinds.size === 0) {
    throw new TriageError('bad_request', 'Nothing to change: the request repeats what is recorded');
  }

  // Deadlines depend on the clock facts only, never on the state.
  const deadlines = context.deadlinesOf(next);
  if (transition) {
    const at = context.now.toISOString();
    switch (transition.deadlines) {
      case 'keep':
        break;
      case 'settle_met':
        next = {
          ...next,
          settledDeadlines: settleOpen(
            deadlines,
            next.settledDeadlines,
            'submitted',
            at,
            context.nextVersion,
            submission ?? undefined,
          ),
        };
        break;
      case 'settle_waived':
        next = {
          ...next,
          settledDeadlines: settleOpen(
            deadlines,
            next.settledDeadlines,
            'not_reportable',
            at,
            context.nextVersion,
          ),
        };
        break;
      case 'reopen_waived':
        next = { ...next, settledDeadlines: reopenWaived(next.settledDeadlines) };
        break;
      case 'require_none_open': {
        const open = openDeadlines(deadlines, next.settledDeadlines);
        if (open.length > 0) {
          throw new TriageError(
            'conflict',
            `An incident cannot go to ${transition.to} while a report is still due: ${describeOpen(open)}. ` +
              'Submit it (state reportable → submitted) or reassess.',
          );
        }
        break;
      }
    }
    next = { ...next, state: transition.to };
  }

  return {
    next,
    kinds: [...kinds],
    changed: changedFacts(facts, next),
    transition,
    deadlines,
    auditAction: transition
      ? 'incident.transition'
      : kinds.has('reassessment')
        ? 'incident.reassess'
        : 'incident.update',
    reason,
  };
}
