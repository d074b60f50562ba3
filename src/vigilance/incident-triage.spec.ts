/**
 * The incident workflow table and triage planning (incident-workflow.ts, incident-triage.ts, incident-clocks.ts).
 * Expected due dates are computed by hand (weekdays: 2026-01-01 is a Thursday) as in deadlines.spec.ts.
 */
import { ROLES } from '../auth/roles';
import {
  type IncidentFacts,
  type TriageContext,
  type TriagePatch,
  planTriage,
  TriageError,
} from './incident-triage';
import {
  classificationOf,
  computeIncidentDeadlines,
  nextDueBy,
  openDeadlines,
  statusOf,
  withStatus,
} from './incident-clocks';
import { INCIDENT_STATES, INCIDENT_TRANSITIONS, findTransition, transitionsFrom } from './incident-workflow';
import type { HolidayCalendar } from './holiday-calendars';
import { DE_CALENDAR, HOLIDAY_CALENDARS } from './holiday-calendars';

const EU = ['EU'];

function incident(overrides: Partial<IncidentFacts> = {}): IncidentFacts {
  return {
    state: 'candidate',
    title: 'Missed ischaemia',
    description: null,
    causality: 'not_assessed',
    awarenessDate: '2026-06-01',
    awarenessAt: null,
    countries: ['DE'],
    awarenessClassification: classificationOf('non_serious'),
    newInformation: [],
    imdrf: { codes: {}, release: null, terms: [] },
    settledDeadlines: [],
    ...overrides,
  };
}

function context(overrides: Partial<TriageContext> = {}): TriageContext {
  return {
    role: 'quality',
    today: '2026-11-27',
    now: new Date('2026-11-27T12:00:00Z'),
    nextVersion: 2,
    deadlinesOf: (next) => computeIncidentDeadlines(next, EU).deadlines,
    ...overrides,
  };
}

function refused(
  facts: IncidentFacts,
  patch: TriagePatch,
  overrides: Partial<TriageContext> = {},
): TriageError {
  try {
    planTriage(facts, patch, context(overrides));
  } catch (error) {
    if (error instanceof TriageError) return error;
    throw error;
  }
  throw new Error('expected the change to be refused');
}

const dueDates = (facts: IncidentFacts, jurisdictions = EU) =>
  computeIncidentDeadlines(facts, jurisdictions).deadlines.map((deadline) => [
    deadline.ruleId,
    deadline.dueAt,
  ]);

describe('incident transition table', () => {
  it('names only known states and roles, once each, and always asks for a reason', () => {
    const seen = new Set<string>();
    for (const transition of INCIDENT_TRANSITIONS) {
      expect(INCIDENT_STATES).toContain(transition.from);
      expect(INCIDENT_STATES).toContain(transition.to);
      expect(transition.from).not.toBe(transition.to);
      for (const role of transition.roles) expect(ROLES).toContain(role);
      expect(transition.roles).toContain('quality');
      expect(transition.reasonRequired).toBe(true);
      expect(transition.meaning.length).toBeGreaterThan(20);
      const key = `${transition.from}->${transition.to}`;
      expect(seen.has(key)).toBe(false);
      seen.add(key);
    }
  });

  it('holds the issue 5 flow and the ways back', () => {
    const path = ['candidate', 'under_assessment', 'reportable', 'submitted', 'closed'] as const;
    for (let i = 1; i < path.length; i++) expect(findTransition(path[i - 1], path[i])).not.toBeNull();
    expect(findTransition('under_assessment', 'not_reportable')?.deadlines).toBe('settle_waived');
    expect(findTransition('not_reportable', 'closed')?.deadlines).toBe('require_none_open');
    expect(findTransition('reportable', 'submitted')?.deadlines).toBe('settle_met');
    expect(findTransition('not_reportable', 'under_assessment')?.deadlines).toBe('reopen_waived');
    expect(findTransition('candidate', 'submitted')).toBeNull();
    expect(findTransition('candidate', 'closed')).toBeNull();
    // Every state can be left (closed only by reopening).
    for (const state of INCIDENT_STATES) expect(transitionsFrom(state).length).toBeGreaterThan(0);
  });
});

describe('planTriage: transitions', () => {
  it('moves along the table with a reason, recording the transition', () => {
    const facts = incident();
    const plan = planTriage(facts, { state: 'under_assessment', reason: 'starting triage' }, context());
    expect(plan.next.state).toBe('under_assessment');
    expect(plan.kinds).toEqual(['transition']);
    expect(plan.auditAction).toBe('incident.transition');
    expect(plan.changed).toEqual(['state']);
    expect(plan.reason).toBe('starting triage');
  });

  it('refuses a transition the table does not hold (409), naming the allowed ones', () => {
    const error = refused(incident(), { state: 'submitted', reason: 'skip ahead' });
    expect(error.kind).toBe('conflict');
    expect(error.message).toBe(
      'An incident cannot go from candidate to submitted; from candidate it can go to under_assessment',
    );
  });

  it('refuses a state change without a reason (400)', () => {
    for (const reason of [undefined, '   ']) {
      const error = refused(incident(), { state: 'under_assessment', reason });
      expect(error.kind).toBe('bad_request');
      expect(error.message).toMatch(
        /^A reason is required to move an incident from candidate to under_assessment/,
      );
    }
  });

  it('refuses a role the transition does not name (403)', () => {
    const error = refused(
      incident(),
      { state: 'under_assessment', reason: 'x'.repeat(5) },
      { role: 'manufacturer' },
    );
    expect(error.kind).toBe('forbidden');
    expect(error.message).toContain('(quality may)');
  });

  it('lets the system record new information but never move an incident between states (403)', () => {
    const escalation: TriagePatch = {
      seriousness: 'serious_deterioration',
      reason: 'New information found by candidate detection',
      newInformation: {
        receivedDate: '2026-11-27',
        summary: 'Myocardial infarction on day 20 after the CTA',
      },
    };
    const plan = planTriage(incident(), escalation, context({ role: 'system' }));
    expect(plan.kinds).toEqual(['new_information']);
    expect(plan.next.newInformation[0].classification.seriousness).toBe('serious_deterioration');
    expect(plan.next.awarenessClassification.seriousness).toBe('non_serious');
    const error = refused(incident(), { ...escalation, state: 'under_assessment' }, { role: 'system' });
    expect(error.kind).toBe('forbidden');
  });

  it('refuses a request that changes nothing', () => {
    expect(refused(incident(), { state: 'candidate', title: 'Missed ischaemia' }).message).toMatch(
      /^Nothing to change/,
    );
  });
});

describe('planTriage: clocks', () => {
  it('restarts the clock on new information (MDCG 2023-3 Q15 worked example, in 2026 and in Germany)', () => {
    // Awareness Mon 2026-06-01, not serious: no clock.
    const start = incident();
    expect(dueDates(start)).toEqual([]);
    // Wed 2026-07-01: new information makes it a serious deterioration → 87(3): 07-01 + 15 = Thu 07-16.
    const first = planTriage(
      start,
      {
        seriousness: 'serious_deterioration',
        newInformation: {
          receivedDate: '2026-07-01',
          summary: 'Invasive FFR 0.71 in the vessel CT-FFR called 0.86',
        },
      },
      context(),
    );
    expect(first.kinds).toEqual(['new_information']);
    expect(first.auditAction).toBe('incident.update');
    expect(dueDates(first.next)).toEqual([['EU-MDR-87-3', '2026-07-16']]);
    // Thu 07-02: a death is learned → 87(5): 07-02 + 10 = Sun 07-12 → Mon 07-13; the earliest comes first.
    const second = planTriage(
      first.next,
      { seriousness: 'death', newInformation: { receivedDate: '2026-07-02', summary: 'Patient died' } },
      context({ nextVersion: 3 }),
    );
    expect(dueDates(second.next)).toEqual([
      ['EU-MDR-87-5', '2026-07-13'],
      ['EU-MDR-87-3', '2026-07-16'],
    ]);
    expect(second.next.newInformation.map((entry) => entry.classification.seriousness)).toEqual([
      'serious_deterioration',
      'death',
    ]);
  });

  it('refuses new information older than the latest on record, or dated in the future', () => {
    const facts = incident({
      newInformation: [
        {
          receivedDate: '2026-07-01',
          receivedAt: null,
          summary: 'x',
          classification: classificationOf('serious_deterioration'),
          recordedInVersion: 2,
        },
      ],
    });
    expect(
      refused(facts, { newInformation: { receivedDate: '2026-06-20', summary: 'late entry' } }).message,
    ).toMatch(/is before the latest information on record \(2026-07-01\)/);
    expect(
      refused(facts, { newInformation: { receivedDate: '2026-11-29', summary: 'tomorrow +1' } }).message,
    ).toBe('newInformation.receivedDate (2026-11-29) is in the future');
  });

  it('applies a reassessment to the latest information, or from effectiveFrom on, and wants a reason', () => {
    const facts = incident({
      newInformation: [
        {
          receivedDate: '2026-07-01',
          receivedAt: null,
          summary: 'deterioration reported',
          classification: classificationOf('serious_deterioration'),
          recordedInVersion: 2,
        },
      ],
    });
    expect(refused(facts, { unanticipatedDeterioration: true }).message).toMatch(
      /^A reason is required to change/,
    );
    // Latest entry: 87(5) from 07-01: + 10 = Sat 07-11 → Mon 07-13.
    const latest = planTriage(
      facts,
      { unanticipatedDeterioration: true, reason: 'not in the risk file' },
      context(),
    );
    expect(latest.auditAction).toBe('incident.reassess');
    expect(dueDates(latest.next)).toEqual([['EU-MDR-87-5', '2026-07-13']]);
    // The judgement rests on what was known at awareness: the clock runs from Mon 06-01 → + 15 = Tue 06-16.
    const fromAwareness = planTriage(
      facts,
      {
        seriousness: 'serious_deterioration',
        effectiveFrom: '2026-06-01',
        reason: 'serious from the first report',
      },
      context(),
    );
    expect(dueDates(fromAwareness.next)).toEqual([['EU-MDR-87-3', '2026-06-16']]);
    expect(
      refused(facts, { seriousness: 'death', effectiveFrom: '2026-06-15', reason: 'wrong date' }).message,
    ).toMatch(
      /^effectiveFrom \(2026-06-15\) must be the awareness date or the date of recorded new information/,
    );
  });

  it('settles deadlines at submission, keeps a later one open, and refuses to close while it is', () => {
    // DESIGN.md §5 example: DE, Fri 2026-03-13, serious deterioration → 87(3) + 15 = Sat 03-28 → Mon 03-30.
    const reportable = incident({
      state: 'reportable',
      awarenessDate: '2026-03-13',
      awarenessClassification: classificationOf('serious_deterioration'),
    });
    expect(dueDates(reportable)).toEqual([['EU-MDR-87-3', '2026-03-30']]);
    const submitted = planTriage(reportable, { state: 'submitted', reason: 'MIR sent to BfArM' }, context());
    const [met] = computeIncidentDeadlines(submitted.next, EU).deadlines;
    expect(statusOf(met, submitted.next.settledDeadlines)).toBe('met');
    expect(
      nextDueBy(computeIncidentDeadlines(submitted.next, EU).deadlines, submitted.next.settledDeadlines),
    ).toBeNull();

    // A death learned later (Fri 03-20 + 10 = Mon 03-30): a new deadline, open although the state is submitted.
    const death = planTriage(
      submitted.next,
      { seriousness: 'death', newInformation: { receivedDate: '2026-03-20', summary: 'Patient died' } },
      context({ nextVersion: 3 }),
    );
    const deadlines = computeIncidentDeadlines(death.next, EU).deadlines;
    expect(openDeadlines(deadlines, death.next.settledDeadlines).map((deadline) => deadline.ruleId)).toEqual([
      'EU-MDR-87-5',
    ]);
    const closing = refused(death.next, { state: 'closed', reason: 'done' }, { nextVersion: 4 });
    expect(closing.kind).toBe('conflict');
    expect(closing.message).toContain(
      'while a report is still due: MDR Art. 87(5) 10 days (DE) due 2026-03-30',
    );
  });

  it('waives deadlines when judged not reportable and runs them again when reopened', () => {
    const assessing = incident({
      state: 'under_assessment',
      awarenessDate: '2026-03-13',
      awarenessClassification: classificationOf('serious_deterioration'),
    });
    const waived = planTriage(
      assessing,
      { state: 'not_reportable', reason: 'no causal link: wire error' },
      context(),
    );
    const [deadline] = computeIncidentDeadlines(waived.next, EU).deadlines;
    expect(statusOf(deadline, waived.next.settledDeadlines)).toBe('waived');
    const reopened = planTriage(
      waived.next,
      { state: 'under_assessment', reason: 'hospital sent the angiogram' },
      context({ nextVersion: 3 }),
    );
    expect(statusOf(deadline, reopened.next.settledDeadlines)).toBe('open');
    const [shown] = withStatus(
      [deadline],
      reopened.next.settledDeadlines,
      new Date('2026-03-29T12:00:00Z'),
      48,
    );
    expect(shown).toMatchObject({ status: 'open', urgency: 'due_soon' });
  });
});

describe('computeIncidentDeadlines', () => {
  it('falls back to weekends only, with a warning, for a year a calendar does not cover', () => {
    // A DE calendar that covers only 2030: Fri 2026-03-13 + 15 = Sat 03-28 → Mon 03-30 either way.
    const noYears: HolidayCalendar = { ...DE_CALENDAR, coveredYears: { from: 2030, to: 2030 } };
    const facts = incident({
      awarenessDate: '2026-03-13',
      awarenessClassification: classificationOf('serious_deterioration'),
    });
    const result = computeIncidentDeadlines(facts, EU, { ...HOLIDAY_CALENDARS, DE: noYears });
    expect(result.deadlines.map((deadline) => deadline.dueAt)).toEqual(['2026-03-30']);
    expect(result.warnings).toEqual([expect.stringMatching(/^The DE holiday calendar does not cover 2026/)]);
  });
});

describe('submission to some authorities only (submittedTo)', () => {
  const EU_CN = ['EU', 'CN'];
  // A serious deterioration in Germany and China, reportable to the EU (15 days) and the NMPA (20 days).
  const reportable = (): IncidentFacts =>
    incident({
      state: 'reportable',
      countries: ['DE', 'CN'],
      awarenessDate: '2026-11-20',
      awarenessClassification: classificationOf('serious_deterioration'),
    });
  const both = (overrides: Partial<TriageContext> = {}) =>
    context({ deadlinesOf: (next) => computeIncidentDeadlines(next, EU_CN).deadlines, ...overrides });
  const openJurisdictions = (facts: IncidentFacts) => [
    ...new Set(
      openDeadlines(computeIncidentDeadlines(facts, EU_CN).deadlines, facts.settledDeadlines).map(
        (deadline) => deadline.jurisdiction,
      ),
    ),
  ];

  it('meets only the named authority’s deadlines; the other stays open and closing is refused until it is met', () => {
    const facts = reportable();
    expect(openJurisdictions(facts).sort()).toEqual(['CN', 'EU']);
    const toEu = planTriage(
      facts,
      {
        state: 'submitted',
        submittedTo: ['EU'],
        submissionReference: 'MIR-2026-000123',
        reason: 'EU MIR filed',
      },
      both(),
    );
    expect(toEu.next.state).toBe('submitted');
    expect(openJurisdictions(toEu.next)).toEqual(['CN']);
    expect(toEu.next.settledDeadlines.every((settled) => settled.jurisdiction === 'EU')).toBe(true);
    expect(toEu.next.settledDeadlines[0]).toMatchObject({
      settledBy: 'submitted',
      reference: 'MIR-2026-000123',
    });

    const closing = refused(toEu.next, { state: 'closed', reason: 'done' }, both({ nextVersion: 3 }));
    expect(closing.kind).toBe('conflict');
    expect(closing.message).toMatch(/CN/);

    const toCn = planTriage(
      toEu.next,
      { submittedTo: ['CN'], reason: 'NMPA report filed' },
      both({ nextVersion: 3 }),
    );
    expect(toCn.kinds).toEqual(['submission']);
    expect(toCn.next.state).toBe('submitted');
    expect(openJurisdictions(toCn.next)).toEqual([]);
    expect(
      planTriage(toCn.next, { state: 'closed', reason: 'done' }, both({ nextVersion: 4 })).next.state,
    ).toBe('closed');
  });

  it('meets every open deadline when the move to submitted names no authority (one report to all)', () => {
    const plan = planTriage(reportable(), { state: 'submitted', reason: 'filed everywhere' }, both());
    expect(openJurisdictions(plan.next)).toEqual([]);
  });

  it('refuses a jurisdiction without an open deadline, a submission outside reportable/submitted, a missing reason and other roles', () => {
    expect(
      refused(reportable(), { state: 'submitted', submittedTo: ['US'], reason: 'x' }, both()).message,
    ).toMatch(/open deadline \((EU, CN|CN, EU)\); not open: US/);
    expect(
      refused(incident({ state: 'under_assessment' }), { submittedTo: ['EU'], reason: 'x' }, both()).kind,
    ).toBe('conflict');
    const submitted = planTriage(
      reportable(),
      { state: 'submitted', submittedTo: ['EU'], reason: 'x' },
      both(),
    ).next;
    expect(refused(submitted, { submittedTo: ['CN'] }, both()).message).toMatch(/reason is required/);
    expect(
      refused(submitted, { submittedTo: ['CN'], reason: 'x' }, both({ role: 'manufacturer' })).kind,
    ).toBe('forbidden');
    expect(refused(submitted, { submittedTo: ['CN'], reason: 'x' }, both({ role: 'system' })).kind).toBe(
      'forbidden',
    );
    expect(refused(reportable(), { submissionReference: 'MIR-1', reason: 'x' }, both()).kind).toBe(
      'bad_request',
    );
  });
});
