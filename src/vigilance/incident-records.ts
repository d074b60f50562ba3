/**
 * How incidents, their history and alerts are stored (migrations/1764273600000-Vigilance.ts) and read back. Written
 * with SQL, like the audit trail: row locks, keyset order with NULLS LAST and ON CONFLICT are spelled out.
 */
import type { ReportingDeadline } from './deadlines';
import type { Classification, NewInformation, SettledDeadline } from './incident-clocks';
import type { ImdrfTermRef, IncidentFacts } from './incident-triage';
import type { Causality, IncidentSource, IncidentState } from './incident-workflow';
import type { Seriousness } from './reporting-clock-rules';

/** An instant column as ISO 8601 UTC with milliseconds (what JavaScript dates and `dueBy` carry). */
const instant = (column: string, alias: string): string =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ${alias}`;

export const INCIDENT_COLUMNS = `
  i.id::text AS id, i.manufacturer_id::text AS manufacturer_id, i.product_id::text AS product_id, i.title,
  i.description, i.source, i.complaint_id::text AS complaint_id, i.state, i.seriousness, i.causality,
  i.awareness_date::text AS awareness_date, ${instant('i.awareness_at', 'awareness_at')},
  i.awareness_classification, i.new_information, i.countries, i.imdrf, i.imdrf_release, i.imdrf_terms,
  i.settled_deadlines, ${instant('i.next_due_by', 'next_due_by')}, i.version,
  ${instant('i.created_at', 'created_at')}, ${instant('i.updated_at', 'updated_at')}`;

export interface IncidentRow {
  id: string;
  manufacturer_id: string;
  product_id: string;
  title: string;
  description: string | null;
  source: IncidentSource;
  complaint_id: string | null;
  state: IncidentState;
  seriousness: Seriousness;
  causality: Causality;
  awareness_date: string;
  awareness_at: string | null;
  awareness_classification: Classification;
  new_information: NewInformation[];
  countries: string[];
  imdrf: Record<string, string[]>;
  imdrf_release: string | null;
  imdrf_terms: ImdrfTermRef[];
  settled_deadlines: SettledDeadline[];
  next_due_by: string | null;
  version: number;
  created_at: string;
  updated_at: string;
}

export function factsOf(row: IncidentRow): IncidentFacts {
  return {
    state: row.state,
    title: row.title,
    description: row.description,
    causality: row.causality,
    awarenessDate: row.awareness_date,
    awarenessAt: row.awareness_at,
    countries: row.countries,
    awarenessClassification: row.awareness_classification,
    newInformation: row.new_information,
    imdrf: { codes: row.imdrf, release: row.imdrf_release, terms: row.imdrf_terms },
    settledDeadlines: row.settled_deadlines,
  };
}

/** Identity of an incident besides its changeable facts. */
export interface IncidentIdentity {
  readonly id: string;
  readonly manufacturerId: string;
  readonly productId: string;
  readonly source: IncidentSource;
  readonly complaintId: string | null;
}

export function identityOf(row: IncidentRow): IncidentIdentity {
  return {
    id: row.id,
    manufacturerId: row.manufacturer_id,
    productId: row.product_id,
    source: row.source,
    complaintId: row.complaint_id,
  };
}

/**
 * What the audit trail digests before and after a change: the stored facts of the incident, never the computed
 * deadlines (they follow from the facts and the rules) nor anything that changes with the clock.
 */
export function incidentState(identity: IncidentIdentity, facts: IncidentFacts, version: number): object {
  return { ...identity, ...facts, version };
}

/** The deadlines as kept in a history entry: enough to show what was due when the change was made. */
export function deadlineSnapshot(
  deadlines: readonly ReportingDeadline[],
  statusOf: (deadline: ReportingDeadline) => string,
): object[] {
  return deadlines.map((deadline) => ({
    jurisdiction: deadline.jurisdiction,
    rule: deadline.rule,
    ruleId: deadline.ruleId,
    country: deadline.country,
    dueAt: deadline.dueAt,
    dueBy: deadline.dueBy,
    status: statusOf(deadline),
  }));
}

export const EVENT_COLUMNS = `
  e.version, e.kinds, ${instant('e.recorded_at', 'recorded_at')}, e.actor_type, e.actor_api_key_id::text AS actor_api_key_id,
  e.actor_role, e.reason, e.from_state, e.to_state, e.received_date::text AS received_date,
  ${instant('e.received_at', 'received_at')}, e.summary, e.changed, e.deadlines, e.audit_entry_id::text AS audit_entry_id`;

export interface EventRow {
  version: number;
  kinds: string[];
  recorded_at: string;
  actor_type: 'api_key' | 'system';
  actor_api_key_id: string | null;
  actor_role: string | null;
  reason: string | null;
  from_state: string | null;
  to_state: string | null;
  received_date: string | null;
  received_at: string | null;
  summary: string | null;
  changed: string[];
  deadlines: object[];
  audit_entry_id: string | null;
}

/** One entry of an incident's history in API responses. */
export interface IncidentEventView {
  version: number;
  kinds: string[];
  recordedAt: string;
  actor: { type: 'api_key' | 'system'; apiKeyId: string | null; role: string | null };
  reason: string | null;
  transition: { from: string; to: string } | null;
  newInformation: { receivedDate: string; receivedAt: string | null; summary: string | null } | null;
  changed: string[];
  deadlines: object[];
  auditEntryId: string | null;
}

export function eventView(row: EventRow): IncidentEventView {
  return {
    version: row.version,
    kinds: row.kinds,
    recordedAt: row.recorded_at,
    actor: { type: row.actor_type, apiKeyId: row.actor_api_key_id, role: row.actor_role },
    reason: row.reason,
    transition: row.from_state && row.to_state ? { from: row.from_state, to: row.to_state } : null,
    newInformation: row.received_date
      ? { receivedDate: row.received_date, receivedAt: row.received_at, summary: row.summary }
      : null,
    changed: row.changed,
    deadlines: row.deadlines,
    auditEntryId: row.audit_entry_id,
  };
}

export const ALERT_COLUMNS = `
  a.id::text AS id, a.incident_id::text AS incident_id, a.product_id::text AS product_id, a.urgency, a.jurisdiction,
  a.rule, a.rule_id, a.country, a.due_at, ${instant('a.due_by', 'due_by')}, a.hours_remaining,
  ${instant('a.evaluated_at', 'evaluated_at')}, ${instant('a.created_at', 'created_at')},
  i.title AS incident_title, i.state AS incident_state`;

export interface AlertRow {
  id: string;
  incident_id: string;
  product_id: string;
  urgency: 'due_soon' | 'overdue';
  jurisdiction: string;
  rule: string;
  rule_id: string;
  country: string;
  due_at: string;
  due_by: string;
  hours_remaining: number;
  evaluated_at: string;
  created_at: string;
  incident_title: string;
  incident_state: IncidentState;
}

/** An alert in API responses. */
export interface IncidentAlertView {
  id: string;
  incidentId: string;
  productId: string;
  urgency: 'due_soon' | 'overdue';
  jurisdiction: string;
  rule: string;
  ruleId: string;
  country: string;
  dueAt: string;
  dueBy: string;
  /** Hours from the evaluation to dueBy (negative: overdue by that much). */
  hoursRemaining: number;
  /** The moment the job evaluated the clocks. */
  evaluatedAt: string;
  createdAt: string;
  incident: { title: string; state: IncidentState };
}

export function alertView(row: AlertRow): IncidentAlertView {
  return {
    id: row.id,
    incidentId: row.incident_id,
    productId: row.product_id,
    urgency: row.urgency,
    jurisdiction: row.jurisdiction,
    rule: row.rule,
    ruleId: row.rule_id,
    country: row.country,
    dueAt: row.due_at,
    dueBy: row.due_by,
    hoursRemaining: row.hours_remaining,
    evaluatedAt: row.evaluated_at,
    createdAt: row.created_at,
    incident: { title: row.incident_title, state: row.incident_state },
  };
}
