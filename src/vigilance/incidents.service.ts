import {
  BadRequestException,
  ConflictException,
  ForbiddenException,
  Inject,
  Injectable,
  NotFoundException,
  ServiceUnavailableException,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { actorOf, AuditService, SYSTEM_ACTOR } from '../audit/audit.service';
import { Principal } from '../auth/roles';
import { requireTenant } from '../auth/tenant-scope';
import { Page } from '../common/pagination';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { RegistryService } from '../registry/registry.service';
import { CalendarDateError } from './calendar-dates';
import { DeadlineInputError, ReportingDeadline } from './deadlines';
import { ImdrfCodeTable, validateImdrfCoding } from './imdrf-codes';
import { IMDRF_CODE_TABLE } from './imdrf-table.provider';
import {
  type Classification,
  type DeadlineComputation,
  type IncidentDeadline,
  type NewInformation,
  classificationOf,
  computeIncidentDeadlines,
  currentClassification,
  nextDueBy,
  statusOf,
  withStatus,
} from './incident-clocks';
import {
  ALERT_COLUMNS,
  AlertRow,
  alertView,
  deadlineSnapshot,
  EVENT_COLUMNS,
  EventRow,
  eventView,
  factsOf,
  INCIDENT_COLUMNS,
  IncidentAlertView,
  IncidentEventView,
  IncidentIdentity,
  IncidentRow,
  identityOf,
  incidentState,
} from './incident-records';
import {
  type ImdrfAssignment,
  type ImdrfTermRef,
  type IncidentFacts,
  type TriageKind,
  type TriagePatch,
  planTriage,
  refuseFutureDate,
  TriageError,
} from './incident-triage';
import {
  type Causality,
  type IncidentSource,
  type IncidentState,
  transitionsFrom,
} from './incident-workflow';
import type { Seriousness } from './reporting-clock-rules';
import {
  CreateComplaintDto,
  CreateIncidentDto,
  ListAlertsQueryDto,
  ListIncidentsQueryDto,
  UpdateIncidentDto,
} from './vigilance.dto';

/** An incident as the API shows it (DESIGN.md §5): stored facts plus `deadlines` computed from the rules now. */
export interface IncidentView {
  id: string;
  manufacturerId: string;
  productId: string;
  title: string;
  description: string | null;
  source: IncidentSource;
  complaintId: string | null;
  state: IncidentState;
  seriousness: Seriousness;
  unanticipatedDeterioration: boolean;
  groupEvent: boolean;
  reportableMalfunction: boolean;
  remedialActionRequired: boolean;
  fdaWrittenRequest: boolean;
  causality: Causality;
  awarenessDate: string;
  awarenessAt: string | null;
  countries: readonly string[];
  imdrf: Readonly<Record<string, readonly string[]>>;
  imdrfRelease: string | null;
  imdrfTerms: readonly ImdrfTermRef[];
  /** What was known at awareness (day 0), then each piece of new information. */
  awarenessClassification: Classification;
  newInformation: readonly Omit<NewInformation, 'recordedInVersion'>[];
  /** Earliest first: `[{ jurisdiction, rule, dueAt, … }]`; the first open one wins (MDCG 2023-3). */
  deadlines: IncidentDeadline[];
  nextDeadline: IncidentDeadline | null;
  deadlineWarnings: string[];
  allowedTransitions: { to: IncidentState; roles: readonly string[]; reasonRequired: boolean }[];
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface IncidentDetailView extends IncidentView {
  history: IncidentEventView[];
  alerts: IncidentAlertView[];
}

export interface ComplaintView {
  id: string;
  manufacturerId: string;
  productId: string;
  description: string;
  receivedDate: string;
  receivedAt: string | null;
  countries: string[];
  siteId: string | null;
  deviceId: string | null;
  reporterRole: string;
  reporterOrganisation: string | null;
  patientInvolved: boolean | null;
  seriousness: Seriousness;
  createdAt: string;
  incidentId: string;
  incident: IncidentView;
}

/** Largest number of IMDRF codes on one incident (all annexes together). */
const MAX_IMDRF_CODES = 100;
const DEFAULT_PAGE = 100;

const NO_CODING: ImdrfAssignment = { codes: {}, release: null, terms: [] };

/** Every flag and the seriousness, from a body that may give them. */
type ClassificationInput = Pick<CreateIncidentDto, 'seriousness'> &
  Partial<Pick<CreateIncidentDto, 'unanticipatedDeterioration' | 'groupEvent' | 'reportableMalfunction'>> &
  Partial<Pick<CreateIncidentDto, 'remedialActionRequired' | 'fdaWrittenRequest'>>;

function todayUtc(now: Date): string {
  return now.toISOString().slice(0, 10);
}

/** The errors of the pure core, as the HTTP answers they stand for. */
function httpError(error: unknown): unknown {
  if (error instanceof TriageError) {
    if (error.kind === 'conflict') return new ConflictException(error.message);
    if (error.kind === 'forbidden') return new ForbiddenException(error.message);
    return new BadRequestException(error.message);
  }
  if (error instanceof DeadlineInputError || error instanceof CalendarDateError) {
    return new BadRequestException(error.message);
  }
  return error;
}

function encodeIncidentCursor(dueBy: string | null, id: string): string {
  return Buffer.from(JSON.stringify([dueBy, id]), 'utf8').toString('base64url');
}

function decodeIncidentCursor(cursor: string | undefined): { dueBy: string | null; id: string } | null {
  if (!cursor) return null;
  try {
    const decoded: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(decoded) &&
      decoded.length === 2 &&
      (decoded[0] === null || (typeof decoded[0] === 'string' && !Number.isNaN(Date.parse(decoded[0])))) &&
      typeof decoded[1] === 'string' &&
      /^[0-9a-f-]{36}$/i.test(decoded[1])
    ) {
      return { dueBy: decoded[0] as string | null, id: decoded[1] };
    }
  } catch {
    // fall through to the 400 below
  }
  throw new BadRequestException('cursor is not one this API issued; start again without it');
}

function decodeAlertCursor(cursor: string | undefined): string | null {
  if (!cursor) return null;
  const match = /^al:([1-9][0-9]{0,18})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw new BadRequestException('cursor is not one this API issued; start again without it');
  return match[1];
}

/** Values of the changeable columns, in the order of FACT_COLUMNS. */
const FACT_COLUMNS = [
  'title',
  'description',
  'state',
  'seriousness',
  'unanticipated_deterioration',
  'group_event',
  'reportable_malfunction',
  'remedial_action_required',
  'fda_written_request',
  'causality',
  'awareness_date',
  'awareness_at',
  'awareness_classification',
  'new_information',
  'countries',
  'imdrf',
  'imdrf_release',
  'imdrf_terms',
  'settled_deadlines',
  'next_due_by',
] as const;
const FACT_CASTS: Partial<Record<(typeof FACT_COLUMNS)[number], string>> = {
  awareness_date: '::date',
  awareness_at: '::timestamptz',
  awareness_classification: '::jsonb',
  new_information: '::jsonb',
  countries: '::text[]',
  imdrf: '::jsonb',
  imdrf_terms: '::jsonb',
  settled_deadlines: '::jsonb',
  next_due_by: '::timestamptz',
};

function factValues(facts: IncidentFacts, dueBy: string | null): unknown[] {
  const now = currentClassification(facts);
  return [
    facts.title,
    facts.description,
    facts.state,
    now.seriousness,
    now.unanticipatedDeterioration,
    now.groupEvent,
    now.reportableMalfunction,
    now.remedialActionRequired,
    now.fdaWrittenRequest,
    facts.causality,
    facts.awarenessDate,
    facts.awarenessAt,
    JSON.stringify(facts.awarenessClassification),
    JSON.stringify(facts.newInformation),
    [...facts.countries],
    JSON.stringify(facts.imdrf.codes),
    facts.imdrf.release,
    JSON.stringify(facts.imdrf.terms),
    JSON.stringify(facts.settledDeadlines),
    dueBy,
  ];
}

/**
 * Incidents, complaints and triage (issue 5 §2; DESIGN.md §5). Every write runs in one transaction with its
 * audit entry (AuditService.record) and its history row (incident_events); tenant keys see only their tenant's
 * incidents, another tenant's are "not found".
 */
@Injectable()
export class IncidentsService {
  private readonly dueSoonHours: number;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(IMDRF_CODE_TABLE) private readonly imdrfTable: ImdrfCodeTable | null,
    private readonly registry: RegistryService,
    private readonly audit: AuditService,
  ) {
    this.dueSoonHours = config.FW_VIGILANCE_DUE_SOON_HOURS;
  }

  // ── reads ────────────────────────────────────────────────────────────────────────────────
  /** A tenant's incidents, nearest open deadline first (overdue ones first of all; none last). */
  async list(principal: Principal, query: ListIncidentsQueryDto): Promise<Page<IncidentView>> {
    const tenant = requireTenant(principal);
    const parameters: unknown[] = [tenant];
    const conditions = ['i.manufacturer_id = $1'];
    const add = (sql: string, value: unknown) => {
      parameters.push(value);
      conditions.push(sql.replace('?', `$${parameters.length}`));
    };
    if (query.productId) add('i.product_id = ?', query.productId);
    if (query.state) add('i.state = ?', query.state);
    const [{ total }] = await this.dataSource.query<Array<{ total: number }>>(
      `SELECT count(*)::int AS total FROM incidents i WHERE ${conditions.join(' AND ')}`,
      parameters,
    );
    const position = decodeIncidentCursor(query.cursor);
    if (position) {
      parameters.push(position.id);
      const id = `$${parameters.length}`;
      if (position.dueBy === null) {
        conditions.push(`(i.next_due_by IS NULL AND i.id > ${id})`);
      } else {
        parameters.push(position.dueBy);
        const due = `$${parameters.length}::timestamptz`;
        conditions.push(
          `(i.next_due_by > ${due} OR (i.next_due_by = ${due} AND i.id > ${id}) OR i.next_due_by IS NULL)`,
        );
      }
    }
    const limit = query.limit ?? DEFAULT_PAGE;
    const rows = await this.dataSource.query<IncidentRow[]>(
      `SELECT ${INCIDENT_COLUMNS} FROM incidents i WHERE ${conditions.join(' AND ')}
        ORDER BY i.next_due_by ASC NULLS LAST, i.id ASC LIMIT ${limit + 1}`,
      parameters,
    );
    const jurisdictions = this.jurisdictionCache(principal);
    const now = new Date();
    const items: IncidentView[] = [];
    for (const row of rows.slice(0, limit))
      items.push(this.view(row, await jurisdictions(row.product_id), now));
    const last = rows.length > limit ? rows[limit - 1] : undefined;
    return { total, items, nextCursor: last ? encodeIncidentCursor(last.next_due_by, last.id) : null };
  }

  async get(principal: Principal, id: string): Promise<IncidentDetailView> {
    const tenant = requireTenant(principal);
    const [row] = await this.dataSource.query<IncidentRow[]>(
      `SELECT ${INCIDENT_COLUMNS} FROM incidents i WHERE i.id = $1 AND i.manufacturer_id = $2`,
      [id, tenant],
    );
    if (!row) throw new NotFoundException(`Incident ${id} does not exist`);
    const product = await this.registry.requireProduct(principal, row.product_id);
    const events = await this.dataSource.query<EventRow[]>(
      `SELECT ${EVENT_COLUMNS} FROM incident_events e WHERE e.incident_id = $1 ORDER BY e.version`,
      [id],
    );
    const alerts = await this.dataSource.query<AlertRow[]>(
      `SELECT ${ALERT_COLUMNS} FROM incident_alerts a JOIN incidents i ON i.id = a.incident_id
        WHERE a.incident_id = $1 ORDER BY a.id DESC LIMIT 200`,
      [id],
    );
    return {
      ...this.view(row, product.jurisdictions, new Date()),
      history: events.map(eventView),
      alerts: alerts.map(alertView),
    };
  }

  /** Due-soon and overdue alerts of the tenant's incidents, newest first. */
  async listAlerts(principal: Principal, query: ListAlertsQueryDto): Promise<Page<IncidentAlertView>> {
    const tenant = requireTenant(principal);
    const parameters: unknown[] = [tenant];
    const conditions = ['a.manufacturer_id = $1'];
    const add = (sql: string, value: unknown) => {
      parameters.push(value);
      conditions.push(sql.replace('?', `$${parameters.length}`));
    };
    if (query.productId) add('a.product_id = ?', query.productId);
    if (query.incidentId) add('a.incident_id = ?', query.incidentId);
    if (query.urgency) add('a.urgency = ?', query.urgency);
    const [{ total }] = await this.dataSource.query<Array<{ total: number }>>(
      `SELECT count(*)::int AS total FROM incident_alerts a WHERE ${conditions.join(' AND ')}`,
      parameters,
    );
    const after = decodeAlertCursor(query.cursor);
    if (after) add('a.id < ?::bigint', after);
    const limit = query.limit ?? DEFAULT_PAGE;
    const rows = await this.dataSource.query<AlertRow[]>(
      `SELECT ${ALERT_COLUMNS} FROM incident_alerts a JOIN incidents i ON i.id = a.incident_id
        WHERE ${conditions.join(' AND ')} ORDER BY a.id DESC LIMIT ${limit + 1}`,
      parameters,
    );
    const items = rows.slice(0, limit).map(alertView);
    const last = items[items.length - 1];
    return {
      total,
      items,
      nextCursor:
        rows.length > limit && last ? Buffer.from(`al:${last.id}`, 'utf8').toString('base64url') : null,
    };
  }

  // ── writes ───────────────────────────────────────────────────────────────────────────────
  /** A manual incident (DESIGN.md §5). Its clocks start at awarenessDate. */
  async create(principal: Principal, dto: CreateIncidentDto): Promise<IncidentView> {
    const tenant = requireTenant(principal);
    const product = await this.registry.requireProduct(principal, dto.productId);
    const facts = this.newFacts({
      awarenessField: 'awarenessDate',
      title: dto.title,
      description: dto.description ?? null,
      classification: dto,
      causality: dto.causality ?? 'not_assessed',
      awarenessDate: dto.awarenessDate,
      awarenessAt: dto.awarenessAt ?? null,
      countries: dto.countries,
      imdrf: this.checkCoding(dto.imdrf),
    });
    const computation = this.deadlinesFor(facts, product.jurisdictions);
    return this.dataSource.transaction(async (manager) => {
      const row = await this.insertIncident(
        manager,
        principal,
        tenant,
        product.id,
        'manual',
        null,
        facts,
        computation,
      );
      return this.view(row, product.jurisdictions, new Date());
    });
  }

  /** A clinician complaint: stored as received, and opens a candidate incident whose clocks start on receipt. */
  async createComplaint(principal: Principal, dto: CreateComplaintDto): Promise<ComplaintView> {
    const tenant = requireTenant(principal);
    const product = await this.registry.requireProduct(principal, dto.productId);
    if (dto.deviceId) {
      const device = await this.registry.getDevice(principal, dto.deviceId);
      if (device.productId !== product.id) {
        throw new BadRequestException(
          `Device ${dto.deviceId} is not an installation of product ${product.id}`,
        );
      }
    }
    const seriousness = dto.seriousness ?? 'non_serious';
    const facts = this.newFacts({
      awarenessField: 'receivedDate',
      title: dto.title ?? complaintTitle(dto.description),
      description: dto.description,
      classification: { seriousness },
      causality: 'not_assessed',
      awarenessDate: dto.receivedDate,
      awarenessAt: dto.receivedAt ?? null,
      countries: dto.countries,
      imdrf: this.checkCoding(dto.imdrf),
    });
    const computation = this.deadlinesFor(facts, product.jurisdictions);
    return this.dataSource.transaction(async (manager) => {
      const [complaint] = await manager.query<
        Array<{ id: string; received_at: string | null; created_at: string }>
      >(
        `INSERT INTO complaints (manufacturer_id, product_id, description, received_date, received_at, countries,
                                 site_code, device_code, reporter_role, reporter_organisation, patient_involved,
                                 reported_seriousness)
         VALUES ($1, $2, $3, $4::date, $5::timestamptz, $6::text[], $7, $8, $9, $10, $11, $12)
         RETURNING id::text AS id,
                   to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS received_at,
                   to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at`,
        [
          tenant,
          product.id,
          dto.description,
          dto.receivedDate,
          dto.receivedAt ?? null,
          [...new Set(dto.countries)],
          dto.siteId ?? null,
          dto.deviceId ?? null,
          dto.reporterRole,
          dto.reporterOrganisation ?? null,
          dto.patientInvolved ?? null,
          seriousness,
        ],
      );
      const stored = {
        id: complaint.id,
        manufacturerId: tenant,
        productId: product.id,
        description: dto.description,
        receivedDate: dto.receivedDate,
        receivedAt: complaint.received_at,
        countries: [...new Set(dto.countries)],
        siteId: dto.siteId ?? null,
        deviceId: dto.deviceId ?? null,
        reporterRole: dto.reporterRole,
        reporterOrganisation: dto.reporterOrganisation ?? null,
        patientInvolved: dto.patientInvolved ?? null,
        seriousness,
        createdAt: complaint.created_at,
      };
      await this.audit.record(
        {
          actor: actorOf(principal),
          action: 'complaint.create',
          entityId: complaint.id,
          manufacturerId: tenant,
          after: stored,
          details: { productId: product.id, seriousness },
        },
        manager,
      );
      const row = await this.insertIncident(
        manager,
        principal,
        tenant,
        product.id,
        'complaint',
        complaint.id,
        facts,
        computation,
      );
      const incident = this.view(row, product.jurisdictions, new Date());
      return { ...stored, incidentId: incident.id, incident };
    });
  }

  /** Triage (PATCH): the change is planned by planTriage, then stored with its history row and audit entry. */
  async update(principal: Principal, id: string, dto: UpdateIncidentDto): Promise<IncidentView> {
    const tenant = requireTenant(principal);
    const coding = dto.imdrf === undefined ? undefined : this.checkCoding(dto.imdrf);
    return this.dataSource.transaction(async (manager) => {
      const [row] = await manager.query<IncidentRow[]>(
        `SELECT ${INCIDENT_COLUMNS} FROM incidents i WHERE i.id = $1 AND i.manufacturer_id = $2 FOR UPDATE`,
        [id, tenant],
      );
      if (!row) throw new NotFoundException(`Incident ${id} does not exist`);
      if (row.version !== dto.version) {
        throw new ConflictException(
          `Incident ${id} has changed since version ${dto.version} (it is at version ${row.version}); read it again ` +
            'and resend the change with the current version',
        );
      }
      const product = await this.registry.requireProduct(principal, row.product_id);
      const now = new Date();
      const after = await this.applyTriage(
        manager,
        row,
        { ...dto, imdrf: coding },
        principal,
        product.jurisdictions,
        now,
      );
      return this.view(after, product.jurisdictions, now);
    });
  }

  /**
   * New information found by candidate detection about an incident it opened earlier — e.g. a death, MI or urgent
   * revascularisation after a false-negative CT-FFR already under triage. MDCG 2023-3 Q15 and MDR Art. 87(6): it is the
   * same incident, now more serious, so it is recorded as new information on that incident (its clock starts from the
   * day the information was received; the earliest deadline still wins) rather than as a second incident. As the
   * system, inside the caller's transaction; suggested IMDRF codes are added to those already assigned.
   */
  async recordDetectedNewInformation(
    manager: EntityManager,
    input: {
      incidentId: string;
      manufacturerId: string;
      jurisdictions: readonly string[];
      seriousness: Seriousness;
      reportableMalfunction: boolean;
      imdrf: Record<string, string[]>;
      summary: string;
      reason: string;
      now: Date;
    },
  ): Promise<IncidentRow> {
    const [row] = await manager.query<IncidentRow[]>(
      `SELECT ${INCIDENT_COLUMNS} FROM incidents i WHERE i.id = $1 AND i.manufacturer_id = $2 FOR UPDATE`,
      [input.incidentId, input.manufacturerId],
    );
    if (!row) throw new NotFoundException(`Incident ${input.incidentId} does not exist`);
    const coded = row.imdrf;
    const merged = Object.fromEntries(
      [...new Set([...Object.keys(coded), ...Object.keys(input.imdrf)])].map((annex) => [
        annex,
        [...new Set([...(coded[annex] ?? []), ...(input.imdrf[annex] ?? [])])],
      ]),
    );
    const patch: TriagePatch = {
      seriousness: input.seriousness,
      reportableMalfunction: input.reportableMalfunction,
      reason: input.reason,
      newInformation: {
        receivedDate: todayUtc(input.now),
        receivedAt: input.now.toISOString(),
        summary: input.summary.slice(0, 10000),
      },
      ...(this.imdrfTable ? { imdrf: this.checkCoding(merged) } : {}),
    };
    return this.applyTriage(manager, row, patch, null, input.jurisdictions, input.now);
  }

  /** Plans a change with planTriage and stores it: the incident row, its history row and the audit entry. */
  private async applyTriage(
    manager: EntityManager,
    row: IncidentRow,
    patch: TriagePatch,
    /** null: the system (candidate detection), which records information but never moves an incident's state. */
    principal: Principal | null,
    jurisdictions: readonly string[],
    now: Date,
  ): Promise<IncidentRow> {
    const facts = factsOf(row);
    let plan;
    try {
      plan = planTriage(facts, patch, {
        role: principal?.role ?? 'system',
        today: todayUtc(now),
        now,
        nextVersion: row.version + 1,
        deadlinesOf: (next) => this.deadlinesFor(next, jurisdictions).deadlines,
      });
    } catch (error) {
      throw httpError(error);
    }
    const computation = this.deadlinesFor(plan.next, jurisdictions);
    const dueBy = nextDueBy(computation.deadlines, plan.next.settledDeadlines);
    const values = factValues(plan.next, dueBy);
    const assignments = FACT_COLUMNS.map(
      (column, index) => `${column} = $${index + 3}${FACT_CASTS[column] ?? ''}`,
    ).join(', ');
    // TypeORM answers an UPDATE with [rows, affected]; the row is locked, so exactly one.
    const [[after]] = await manager.query<[IncidentRow[], number]>(
      `UPDATE incidents i SET ${assignments}, version = version + 1, updated_at = now()
        WHERE i.id = $1 AND i.version = $2 RETURNING ${INCIDENT_COLUMNS}`,
      [row.id, row.version, ...values],
    );
    const identity = identityOf(row);
    const { id: auditEntryId } = await this.audit.record(
      {
        actor: principal ? actorOf(principal) : SYSTEM_ACTOR,
        action: plan.auditAction,
        entityId: row.id,
        manufacturerId: row.manufacturer_id,
        before: incidentState(identity, facts, row.version),
        after: incidentState(identity, plan.next, after.version),
        reason: plan.reason,
        details: {
          version: after.version,
          kinds: plan.kinds,
          changed: plan.changed,
          ...(plan.transition ? { from: plan.transition.from, to: plan.transition.to } : {}),
          ...(patch.newInformation ? { receivedDate: patch.newInformation.receivedDate } : {}),
          ...(patch.submittedTo ? { submittedTo: patch.submittedTo } : {}),
          earliestOpenDueBy: dueBy,
        },
      },
      manager,
    );
    await this.insertEvent(manager, {
      incidentId: row.id,
      manufacturerId: row.manufacturer_id,
      version: after.version,
      kinds: plan.kinds,
      principal,
      reason: plan.reason,
      transition: plan.transition,
      newInformation: patch.newInformation ?? null,
      changed: plan.changed,
      deadlines: computation.deadlines,
      settled: plan.next,
      auditEntryId,
    });
    return after;
  }

  // ── shared with the clock job ────────────────────────────────────────────────────────────
  /**
   * The rules' deadlines for a set of facts; malformed facts (e.g. a group event without the moment of awareness)
   * are the caller's to fix: 400.
   */
  deadlinesFor(facts: IncidentFacts, jurisdictions: readonly string[]): DeadlineComputation {
    try {
      return computeIncidentDeadlines(facts, jurisdictions);
    } catch (error) {
      throw httpError(error);
    }
  }

  /**
   * A candidate incident opened by candidate detection (src/vigilance/detection.service.ts), as the system, inside the
   * caller's transaction (which also stores the detection row). Suggested IMDRF codes are validated against the
   * configured table; without a table they stay in the detection's evidence only. Awareness = `awarenessDate`.
   */
  async createDetected(
    manager: EntityManager,
    input: {
      manufacturerId: string;
      productId: string;
      jurisdictions: readonly string[];
      title: string;
      description: string;
      seriousness: Seriousness;
      reportableMalfunction: boolean;
      awarenessDate: string;
      awarenessAt: string;
      countries: string[];
      imdrf: Record<string, string[]>;
    },
  ): Promise<IncidentRow> {
    const facts = this.newFacts({
      awarenessField: 'awarenessDate',
      title: input.title.slice(0, 300),
      description: input.description.slice(0, 10000),
      classification: { seriousness: input.seriousness, reportableMalfunction: input.reportableMalfunction },
      causality: 'not_assessed',
      awarenessDate: input.awarenessDate,
      awarenessAt: input.awarenessAt,
      countries: input.countries,
      imdrf: this.imdrfTable ? this.checkCoding(input.imdrf) : NO_CODING,
    });
    const computation = this.deadlinesFor(facts, input.jurisdictions);
    return this.insertIncident(
      manager,
      null,
      input.manufacturerId,
      input.productId,
      'detection',
      null,
      facts,
      computation,
    );
  }

  /**
   * A product's jurisdictions for a tenant's incident, read through the registry as that tenant (the clock job
   * has no API key: the principal only scopes the read and is never recorded).
   */
  async productJurisdictions(manufacturerId: string, productId: string): Promise<string[]> {
    const scope: Principal = { apiKeyId: 'system:vigilance-clock', role: 'quality', manufacturerId };
    return (await this.registry.requireProduct(scope, productId)).jurisdictions;
  }

  get dueSoonWithinHours(): number {
    return this.dueSoonHours;
  }

  // ── internals ────────────────────────────────────────────────────────────────────────────
  private jurisdictionCache(principal: Principal): (productId: string) => Promise<string[]> {
    const cache = new Map<string, Promise<string[]>>();
    return (productId) => {
      let found = cache.get(productId);
      if (!found) {
        found = this.registry.requireProduct(principal, productId).then((product) => product.jurisdictions);
        cache.set(productId, found);
      }
      return found;
    };
  }

  /** Validates an IMDRF coding against the configured table; 400 names every bad code, 503 without a table. */
  private checkCoding(imdrf: Record<string, string[]> | undefined): ImdrfAssignment {
    if (imdrf === undefined) return NO_CODING;
    const lists = Object.values(imdrf as Record<string, unknown>);
    const count = lists.reduce<number>((sum, list) => sum + (Array.isArray(list) ? list.length : 1), 0);
    if (count === 0) return { ...NO_CODING, release: this.imdrfTable?.release ?? null };
    if (count > MAX_IMDRF_CODES)
      throw new BadRequestException(`imdrf holds more than ${MAX_IMDRF_CODES} codes`);
    const table = this.imdrfTable;
    if (!table) {
      throw new ServiceUnavailableException(
        'IMDRF codes cannot be checked: this server has no code table (FW_IMDRF_CODE_TABLE is not set)',
      );
    }
    const result = validateImdrfCoding(table, imdrf);
    if (!result.valid) {
      throw new BadRequestException(
        result.problems.map((problem) => `imdrf.${problem.annex}: ${problem.message}`),
      );
    }
    const codes = Object.fromEntries(Object.entries(imdrf).filter(([, list]) => list.length > 0));
    return {
      codes,
      release: result.release,
      terms: result.terms.map((term) => ({ annex: term.annex, code: term.code, term: term.term })),
    };
  }

  private newFacts(input: {
    /** The field the awareness date came in as (receivedDate for a complaint), for error messages. */
    awarenessField: string;
    title: string;
    description: string | null;
    classification: ClassificationInput;
    causality: Causality;
    awarenessDate: string;
    awarenessAt: string | null;
    countries: string[];
    imdrf: ImdrfAssignment;
  }): IncidentFacts {
    try {
      refuseFutureDate(input.awarenessDate, input.awarenessField, todayUtc(new Date()));
    } catch (error) {
      throw httpError(error);
    }
    const { seriousness, ...flags } = input.classification;
    return {
      state: 'candidate',
      title: input.title,
      description: input.description,
      causality: input.causality,
      awarenessDate: input.awarenessDate,
      awarenessAt: input.awarenessAt,
      countries: [...new Set(input.countries)],
      awarenessClassification: classificationOf(seriousness, flags),
      newInformation: [],
      imdrf: input.imdrf,
      settledDeadlines: [],
    };
  }

  private async insertIncident(
    manager: EntityManager,
    /** null: the system (candidate detection). */
    principal: Principal | null,
    tenant: string,
    productId: string,
    source: IncidentSource,
    complaintId: string | null,
    facts: IncidentFacts,
    computation: DeadlineComputation,
  ): Promise<IncidentRow> {
    const dueBy = nextDueBy(computation.deadlines, facts.settledDeadlines);
    const placeholders = FACT_COLUMNS.map((column, index) => `$${index + 5}${FACT_CASTS[column] ?? ''}`);
    const [row] = await manager.query<IncidentRow[]>(
      `INSERT INTO incidents AS i (manufacturer_id, product_id, source, complaint_id, ${FACT_COLUMNS.join(', ')})
       VALUES ($1, $2, $3, $4, ${placeholders.join(', ')})
       RETURNING ${INCIDENT_COLUMNS}`,
      [tenant, productId, source, complaintId, ...factValues(facts, dueBy)],
    );
    const identity: IncidentIdentity = identityOf(row);
    const { id: auditEntryId } = await this.audit.record(
      {
        actor: principal ? actorOf(principal) : SYSTEM_ACTOR,
        action: 'incident.create',
        entityId: row.id,
        manufacturerId: tenant,
        after: incidentState(identity, facts, row.version),
        details: {
          productId,
          source,
          seriousness: currentClassification(facts).seriousness,
          earliestOpenDueBy: dueBy,
        },
      },
      manager,
    );
    await this.insertEvent(manager, {
      incidentId: row.id,
      manufacturerId: tenant,
      version: row.version,
      kinds: ['created'],
      principal,
      reason: null,
      transition: null,
      newInformation: null,
      changed: [],
      deadlines: computation.deadlines,
      settled: facts,
      auditEntryId,
    });
    return row;
  }

  private async insertEvent(
    manager: EntityManager,
    event: {
      incidentId: string;
      manufacturerId: string;
      version: number;
      kinds: readonly (TriageKind | 'created')[];
      principal: Principal | null;
      reason: string | null;
      transition: { from: IncidentState; to: IncidentState } | null;
      newInformation: { receivedDate: string; receivedAt?: string; summary: string } | null;
      changed: readonly string[];
      deadlines: readonly ReportingDeadline[];
      settled: Pick<IncidentFacts, 'settledDeadlines'>;
      auditEntryId: string;
    },
  ): Promise<void> {
    await manager.query(
      `INSERT INTO incident_events (incident_id, manufacturer_id, version, kinds, actor_type, actor_api_key_id,
                                    actor_role, reason, from_state, to_state, received_date, received_at, summary,
                                    changed, deadlines, audit_entry_id)
       VALUES ($1, $2, $3, $4::text[], $16, $5, $6, $7, $8, $9, $10::date, $11::timestamptz, $12, $13::text[],
               $14::jsonb, $15::bigint)`,
      [
        event.incidentId,
        event.manufacturerId,
        event.version,
        [...event.kinds],
        event.principal?.apiKeyId ?? null,
        event.principal?.role ?? null,
        event.reason,
        event.transition?.from ?? null,
        event.transition?.to ?? null,
        event.newInformation?.receivedDate ?? null,
        event.newInformation?.receivedAt ?? null,
        event.newInformation?.summary ?? null,
        [...event.changed],
        JSON.stringify(
          deadlineSnapshot(event.deadlines, (deadline) => statusOf(deadline, event.settled.settledDeadlines)),
        ),
        event.auditEntryId,
        event.principal ? 'api_key' : 'system',
      ],
    );
  }

  private view(row: IncidentRow, jurisdictions: readonly string[], now: Date): IncidentView {
    const facts = factsOf(row);
    const computation = this.deadlinesFor(facts, jurisdictions);
    const deadlines = withStatus(computation.deadlines, facts.settledDeadlines, now, this.dueSoonHours);
    const classification = currentClassification(facts);
    return {
      id: row.id,
      manufacturerId: row.manufacturer_id,
      productId: row.product_id,
      title: row.title,
      description: row.description,
      source: row.source,
      complaintId: row.complaint_id,
      state: row.state,
      ...classification,
      causality: row.causality,
      awarenessDate: row.awareness_date,
      awarenessAt: row.awareness_at,
      countries: row.countries,
      imdrf: row.imdrf,
      imdrfRelease: row.imdrf_release,
      imdrfTerms: row.imdrf_terms,
      awarenessClassification: facts.awarenessClassification,
      newInformation: facts.newInformation.map(
        ({ receivedDate, receivedAt, summary, classification: known }) => ({
          receivedDate,
          receivedAt,
          summary,
          classification: known,
        }),
      ),
      deadlines,
      nextDeadline: deadlines.find((deadline) => deadline.status === 'open') ?? null,
      deadlineWarnings: computation.warnings,
      allowedTransitions: transitionsFrom(row.state).map((transition) => ({
        to: transition.to,
        roles: transition.roles,
        reasonRequired: transition.reasonRequired,
      })),
      version: row.version,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }
}

/** A candidate incident's title from the complaint text: its first 120 characters on one line. */
function complaintTitle(description: string): string {
  const line = description.replace(/\s+/g, ' ').trim();
  return `Complaint: ${line.length > 120 ? `${line.slice(0, 119)}…` : line}`;
}
