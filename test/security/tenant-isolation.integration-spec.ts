import { INestApplication } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { Client } from 'pg';
import request from 'supertest';
import { ensureTopics } from '../../scripts/kafka-admin';
import { PERMISSION_EXTENSION } from '../../src/auth/decorators';
import { Permission, PERMISSIONS, Role } from '../../src/auth/roles';
import { DEFAULT_DRIFT_CONFIGURATION } from '../../src/drift/drift-config';
import { allTopics, topicsFor } from '../../src/kafka/topics';
import { registerFleet, RegisteredFleet, startApp } from '../helpers/app';
import {
  analysisEvent,
  connectedProducer,
  deviceEvent,
  invasiveFfrEvent,
  signedMessage,
} from '../helpers/events';
import { pollUntil } from '../helpers/poll';
import {
  isolatedEnvironment,
  TEST_ADMIN_TOKEN,
  TEST_DATABASE_URL,
  TEST_KAFKA_BROKERS,
} from '../helpers/test-environment';

/*
 * Cross-tenant route walk (issue 8 item 1). Every operation of the OpenAPI document the app serves is
 * called with keys of tenant A (one per tenant-scoped role) aimed at tenant B's objects: B's real ids in
 * the path, in the query and in request bodies. Nothing of B's may come back or change: an aimed probe
 * gets 404 (or 403 when the role may not call the route, or the body names B's manufacturer), a list or
 * aggregate may answer 2xx but without a single id of B's, and B's rows are byte-for-byte the same after
 * the walk.
 *
 * ADDING A ROUTE: the walk fails for any operation of the document without an entry in WALK below, and
 * for any path or query parameter whose name it cannot fill. To cover a new route:
 *   1. add `'<METHOD> <openapi path>': (b, a) => [probes]` to WALK (see the Probe type; most routes need
 *      one probe: `aimed('…')` for a route that names one of B's objects, `listed('…')` for a list);
 *   2. if the route names a new kind of object, create B's instance in `registerVictim`, add its id to
 *      Victim (and to `victimMarkers`), and map its parameter name in PATH_PARAMETERS / ID_QUERY;
 *   3. a new query parameter that does not name an object goes to NEUTRAL_QUERY.
 */

const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

/**
 * The roles of tenant A's keys. `admin` here is an admin key issued FOR tenant A (POST /api-keys with a
 * manufacturerId: a tenant's own administrator), not the platform admin, which sees every tenant by design.
 */
const TENANT_ROLES = [
  'manufacturer',
  'quality',
  'researcher',
  'auditor',
  'admin',
] as const satisfies readonly Role[];
type TenantRole = (typeof TENANT_ROLES)[number];

/**
 * Findings the walk reproduces whose fix belongs to code other people own right now: `<role>: <METHOD>
 * <path> — <probe label>` → the finding. Such a probe is reported as KNOWN in the table instead of failing
 * the walk; once it holds, the walk fails until its entry is removed here, so a fix cannot go unnoticed.
 */
const KNOWN_FINDINGS: Record<string, string> = {
  // None open. The walk's first runs found (fixed since, in be58251 and this commit): an admin key issued
  // for one tenant listed and created tenants (GET/POST /manufacturers), read the platform-wide ingestion
  // counters (GET /ingestion/stats) and signed the audit chain head (POST /audit/checkpoints).
};

/** Tenant B: the objects the walk aims at. Codes are the ids events carry; the rest are UUIDs. */
interface Victim {
  manufacturerId: string;
  label: string;
  productId: string;
  udiDi: string;
  modelVersionId: string;
  modelVersion: string;
  siteId: string;
  siteUuid: string;
  deviceId: string;
  deviceUuid: string;
  deviceSecret: string;
  deviceKeyId: string;
  sourceId: string;
  sourceUuid: string;
  sourceSecret: string;
  apiKeyId: string;
  analysisEventIds: string[];
  /** A manual incident and the candidate incident a complaint opened. */
  incidentId: string;
  complaintIncidentId: string;
  /** An evidence query B asked (refused: B's cohort is under k, but it is stored and has an id). */
  evidenceQueryId: string;
  /** A draft periodic report (PSUR) of B's product. */
  reportId: string;
  /** A drift evaluation snapshot and a drift alert of B's product (written directly: B has no drifting data). */
  driftEvaluationId: string;
  driftAlertId: string;
}

/** Tenant A, the caller: its own objects, to build valid bodies and to see its own data in lists. */
interface Own {
  manufacturerId: string;
  label: string;
  productId: string;
  siteId: string;
  deviceId: string;
  sourceId: string;
  analysisEventIds: string[];
  incidentId: string;
}

/**
 * What a probe expects from a role that holds the route's permission (a role without it always gets 403):
 *  - aimed: the request names B's object (path or body): 404, or 403 when the body names B's manufacturer;
 *  - listed: a list or aggregate: 2xx allowed, but without any of B's ids (and with A's own, when `own`);
 *  - platform: the route spans every tenant (operators only): 403 for every key of a tenant.
 */
interface Probe {
  label: string;
  expect: 'aimed' | 'listed' | 'platform';
  /** Path parameters; those not given come from PATH_PARAMETERS (B's objects). */
  path?: Record<string, string>;
  /** Query parameters sent as given, on top of those filled from ID_QUERY / NEUTRAL_QUERY. */
  query?: Record<string, string>;
  /** victim (default): query parameters naming objects get B's ids; none: they are left out. */
  ids?: 'victim' | 'none';
  body?: object;
  /** listed: A's own data must show in a 2xx answer, so "none of B's" is not merely an empty answer. */
  own?: boolean;
  /** Further statuses that hold for this probe, with why (e.g. 409 for a globally unique code). */
  alsoHolds?: { status: number; why: string };
}

const aimed = (label: string, extra: Partial<Probe> = {}): Probe => ({ label, expect: 'aimed', ...extra });
const listed = (label: string, extra: Partial<Probe> = {}): Probe => ({ label, expect: 'listed', ...extra });
const platform = (label: string, extra: Partial<Probe> = {}): Probe => ({
  label,
  expect: 'platform',
  ...extra,
});

/** Path parameter name → B's object. A route whose parameter is ambiguous (`id`) names it in its probe. */
const PATH_PARAMETERS: Record<string, (b: Victim) => string> = {
  productId: (b) => b.productId,
  deviceId: (b) => b.deviceId,
  sourceId: (b) => b.sourceId,
  siteId: (b) => b.siteId,
  manufacturerId: (b) => b.manufacturerId,
  modelVersionId: (b) => b.modelVersionId,
  apiKeyId: (b) => b.apiKeyId,
};

/** Query parameters that name an object → B's id (set in every probe unless it says `ids: 'none'`). */
const ID_QUERY: Record<string, (b: Victim) => string> = {
  productId: (b) => b.productId,
  deviceId: (b) => b.deviceId,
  siteId: (b) => b.siteId,
  sourceId: (b) => b.sourceId,
  manufacturerId: (b) => b.manufacturerId,
  modelVersionId: (b) => b.modelVersionId,
  entityId: (b) => b.productId,
  incidentId: (b) => b.incidentId,
};

/** Query parameters that name no object: the value sent, or null to leave it out. */
const NEUTRAL_QUERY: Record<string, string | null> = {
  limit: '500',
  cursor: null,
  from: null,
  to: null,
  threshold: null,
  groupBy: null,
  margin: null,
  detail: null,
  entityType: null,
  status: null,
  state: null,
  urgency: null,
  version: null,
  reason: 'cross-tenant probe',
  label: 'cross-tenant probe',
  modelVersion: null,
  monitorFrom: null,
  exportId: '00000000-0000-4000-8000-000000000001',
  asOf: '2026-01-01T00:00:00Z',
  fromMonth: null,
  toMonth: null,
  periodDays: null,
  periods: null,
  labelMaturityDays: null,
  bootstrap: '0',
};

const REASON = { reason: 'cross-tenant probe' };

function incidentBody(productId: string, title: string): object {
  return {
    productId,
    title,
    seriousness: 'serious_deterioration',
    awarenessDate: '2026-03-13',
    countries: ['DE'],
  };
}

function complaintBody(productId: string, extra: object = {}): object {
  return {
    productId,
    description: 'CT-FFR 0.86 in LAD; invasive FFR 0.71 two weeks later',
    receivedDate: '2026-03-13',
    countries: ['DE'],
    reporterRole: 'physician',
    ...extra,
  };
}

function productBody(label: string, manufacturerId?: string): object {
  return {
    ...(manufacturerId ? { manufacturerId } : {}),
    name: `${label} intruder product`,
    udiDi: `0698${Math.floor(Math.random() * 1e10)}`.padEnd(14, '0'),
    riskClass: 'III',
    jurisdictions: ['EU'],
    ffrThreshold: 0.8,
    premarketClaims: {
      sensitivity: { estimate: 0.86, ci95: [0.8, 0.91], n: 180 },
      specificity: { estimate: 0.81, ci95: [0.76, 0.85], n: 320 },
      auc: { estimate: 0.9, ci95: [0.87, 0.93], n: 500 },
    },
  };
}

/**
 * THE PARAMETER MAP: one entry per operation of the OpenAPI document (`<METHOD> <path>`), giving the
 * probes a key of tenant A sends against tenant B. Health and docs are public and not in the walk.
 */
const WALK: Record<string, (b: Victim, a: Own) => Probe[]> = {
  // ── tenants and API keys (platform admin only) ───────────────────────────────────────────────
  'POST /api/v1/manufacturers': (_b, a) => [
    platform('create a tenant', { body: { name: `${a.label} twin` } }),
  ],
  'GET /api/v1/manufacturers': () => [platform('list tenants')],
  'POST /api/v1/api-keys': (b) => [
    aimed("issue a key for B's tenant", {
      body: { manufacturerId: b.manufacturerId, role: 'manufacturer', name: 'intruder' },
    }),
  ],
  'DELETE /api/v1/api-keys/{id}': (b) => [aimed("revoke B's API key", { path: { id: b.apiKeyId } })],
  // The caller's own role and tenant (the dashboards' sign-in): A's manufacturer, never B's.
  'GET /api/v1/session': () => [listed('who am I')],

  // ── registry ─────────────────────────────────────────────────────────────────────────────────
  'POST /api/v1/products': (b, a) => [
    aimed('create a product for B', { body: productBody(a.label, b.manufacturerId) }),
  ],
  'GET /api/v1/products': () => [listed('list products', { own: true })],
  'GET /api/v1/products/{productId}': () => [aimed("read B's product")],
  'POST /api/v1/model-versions': (b) => [
    aimed("add a model version to B's product", {
      body: { productId: b.productId, version: 'intruder-1', releasedAt: '2026-01-01T00:00:00Z' },
    }),
  ],
  'GET /api/v1/model-versions': () => [listed('list model versions', { own: true })],
  'POST /api/v1/sites': (b) => [
    aimed('create a site for B', {
      body: { manufacturerId: b.manufacturerId, siteId: `X-${b.siteId}`, name: 'intruder', country: 'DE' },
    }),
  ],
  'GET /api/v1/sites': () => [listed('list sites', { own: true })],
  'POST /api/v1/devices': (b, a) => {
    const device = { softwareVersion: '1.0', modelVersion: 'intruder-1' };
    return [
      aimed("install a device on B's product at B's site", {
        body: { ...device, deviceId: `X1-${a.deviceId}`, productId: b.productId, siteId: b.siteId },
      }),
      aimed("install a device on A's product at B's site", {
        body: { ...device, deviceId: `X2-${a.deviceId}`, productId: a.productId, siteId: b.siteId },
      }),
      aimed("take over B's deviceId on A's product and site", {
        body: { ...device, deviceId: b.deviceId, productId: a.productId, siteId: a.siteId },
        alsoHolds: { status: 409, why: 'deviceId is global: events carry it without a tenant' },
      }),
    ];
  },
  'GET /api/v1/devices': () => [listed('list devices', { own: true })],
  'GET /api/v1/devices/{deviceId}': () => [aimed("read B's device")],
  'PATCH /api/v1/devices/{deviceId}': () => [
    aimed("change B's device", { body: { softwareVersion: '9.9.9', scannerVendor: 'Intruder' } }),
  ],
  'POST /api/v1/devices/{deviceId}/secret-rotations': () => [
    aimed("rotate B's device secret", { body: { ...REASON, overlapHours: 0 } }),
  ],
  'POST /api/v1/devices/{deviceId}/secret': () => [aimed("rotate B's device secret now", { body: REASON })],
  'POST /api/v1/devices/{deviceId}/revoke': () => [aimed("revoke B's device", { body: REASON })],
  'POST /api/v1/data-sources': (b, a) => [
    aimed('register a data source at B’s site', {
      body: { sourceId: `X1-${a.sourceId}`, siteId: b.siteId, name: 'intruder', kind: 'cath_lab' },
    }),
    aimed('register a data source for B', {
      body: {
        manufacturerId: b.manufacturerId,
        sourceId: `X2-${a.sourceId}`,
        siteId: b.siteId,
        name: 'intruder',
        kind: 'cath_lab',
      },
    }),
    aimed("take over B's sourceId at A's site", {
      body: { sourceId: b.sourceId, siteId: a.siteId, name: 'intruder', kind: 'cath_lab' },
      alsoHolds: { status: 409, why: 'sourceId is global: events carry it without a tenant' },
    }),
  ],
  'GET /api/v1/data-sources': () => [listed('list data sources', { own: true })],
  'POST /api/v1/data-sources/{sourceId}/secret-rotations': () => [
    aimed("rotate B's data-source secret", { body: { ...REASON, overlapHours: 0 } }),
  ],
  'POST /api/v1/data-sources/{sourceId}/secret': () => [
    aimed("rotate B's data-source secret now", { body: REASON }),
  ],
  'POST /api/v1/data-sources/{sourceId}/revoke': () => [aimed("revoke B's data source", { body: REASON })],

  // ── ingestion, performance ───────────────────────────────────────────────────────────────────
  'GET /api/v1/analyses': () => [
    listed('list analyses', { ids: 'none', own: true }),
    listed("filter analyses by B's deviceId and siteId"),
  ],
  'GET /api/v1/ingestion/stats': () => [platform('platform ingestion counters')],
  'GET /api/v1/performance': () => [
    aimed("performance of B's product"),
    aimed("performance of B's product by site, summary", { query: { groupBy: 'site', detail: 'summary' } }),
  ],

  // ── audit ────────────────────────────────────────────────────────────────────────────────────
  'GET /api/v1/audit': (b) => [
    listed('list audit entries', { ids: 'none', own: true }),
    listed("audit entries of B's product"),
    listed("audit entries of B's device", { query: { entityType: 'device', entityId: b.deviceId } }),
    listed("audit entries of B's API key", { query: { entityType: 'api_key', entityId: b.apiKeyId } }),
  ],
  'GET /api/v1/audit/verify': () => [listed('verify the chain')],
  'POST /api/v1/audit/checkpoints': () => [platform('sign the chain head')],

  // ── vigilance ────────────────────────────────────────────────────────────────────────────────
  'GET /api/v1/incidents': () => [
    listed('list incidents', { ids: 'none', own: true }),
    listed("incidents of B's product"),
  ],
  'GET /api/v1/incidents/alerts': () => [
    listed('list deadline alerts', { ids: 'none' }),
    listed("alerts of B's product and incident"),
  ],
  'GET /api/v1/incidents/{id}': (b) => [
    aimed("read B's incident", { path: { id: b.incidentId } }),
    aimed("read the incident B's complaint opened", { path: { id: b.complaintIncidentId } }),
  ],
  'POST /api/v1/incidents': (b) => [
    aimed("record an incident on B's product", { body: incidentBody(b.productId, 'intruder incident') }),
  ],
  'PATCH /api/v1/incidents/{id}': (b) => [
    aimed("triage B's incident", {
      path: { id: b.incidentId },
      body: { version: 1, reason: 'cross-tenant probe', seriousness: 'death' },
    }),
  ],
  'POST /api/v1/incidents/detections': (b) => [
    aimed("run candidate detection on B's product", { body: { productId: b.productId } }),
  ],
  'GET /api/v1/incidents/{id}/mir.json': (b) => [
    aimed("B's incident as an MIR (JSON)", { path: { id: b.incidentId } }),
  ],
  'GET /api/v1/incidents/{id}/mir.xml': (b) => [
    aimed("B's incident as an MIR (XML)", { path: { id: b.incidentId } }),
  ],
  'GET /api/v1/vigilance/methods': () => [aimed("detection and trend methods of B's product")],
  'PUT /api/v1/vigilance/methods': (b) => [
    aimed("change the trend method of B's product", {
      body: { productId: b.productId, trend: { alpha: 0.5 }, reason: 'cross-tenant probe' },
    }),
  ],
  'GET /api/v1/vigilance/trends': () => [aimed("trend report of B's product")],
  'GET /api/v1/vigilance/aggregates': () => [aimed("12-month aggregates of B's product")],
  // ── drift ──────────────────────────────────────────────────────────────────────────────────
  'GET /api/v1/drift/monitors': () => [
    listed('list drift monitors', { ids: 'none', own: true }),
    aimed("drift monitors of B's product"),
  ],
  'PUT /api/v1/drift/monitors': (b) => [
    aimed("change the drift configuration of B's product", {
      body: {
        productId: b.productId,
        reason: 'cross-tenant probe',
        configuration: DEFAULT_DRIFT_CONFIGURATION,
      },
    }),
  ],
  'GET /api/v1/drift/reference-windows': () => [aimed("reference windows of B's product")],
  'POST /api/v1/drift/reference-windows/period': (b) => [
    aimed("make a period the reference of B's product", {
      body: {
        productId: b.productId,
        label: 'intruder',
        from: '2025-01-01T00:00:00Z',
        to: '2027-01-01T00:00:00Z',
      },
    }),
  ],
  'POST /api/v1/drift/reference-windows/dataset': () => [aimed("import a reference dataset for B's product")],
  'POST /api/v1/drift/evaluations': (b) => [
    aimed("evaluate B's product", { body: { productId: b.productId } }),
  ],
  'GET /api/v1/drift/evaluations': () => [aimed("drift evaluations of B's product")],
  'GET /api/v1/drift/evaluations/{id}': (b) => [
    aimed("read B's drift evaluation", { path: { id: b.driftEvaluationId } }),
  ],
  'GET /api/v1/drift/alerts': () => [aimed("drift alerts of B's product")],
  'GET /api/v1/drift/label-free-accuracy': () => [aimed("label-free accuracy of B's product")],
  'GET /api/v1/drift/alerts/{id}': (b) => [aimed("read B's drift alert", { path: { id: b.driftAlertId } })],
  // ── evidence ───────────────────────────────────────────────────────────────────────────────
  'POST /api/v1/evidence/queries': (b) => [
    aimed("evidence query on B's product", { body: { productId: b.productId } }),
  ],
  'GET /api/v1/evidence/queries': () => [
    listed('list evidence queries', { ids: 'none' }),
    listed("evidence queries of B's product"),
  ],
  'GET /api/v1/evidence/queries/{id}': (b) => [
    aimed("read B's evidence query", { path: { id: b.evidenceQueryId } }),
  ],
  'GET /api/v1/evidence/queries/{id}.csv': (b) => [
    aimed("B's evidence query as CSV", { path: { id: b.evidenceQueryId } }),
  ],
  'POST /api/v1/evidence/queries/{id}/rerun': (b) => [
    aimed("re-run B's evidence query", { path: { id: b.evidenceQueryId } }),
  ],
  'GET /api/v1/evidence/omop/{table}.csv': () => [
    aimed("OMOP export of B's product", { path: { table: 'person' } }),
  ],
  'POST /api/v1/drift/alerts/{id}/acknowledge': (b) => [
    aimed("acknowledge B's drift alert", { path: { id: b.driftAlertId }, body: REASON }),
  ],
  'POST /api/v1/drift/alerts/{id}/resolve': (b) => [
    aimed("resolve B's drift alert", { path: { id: b.driftAlertId }, body: REASON }),
  ],
  // ── periodic reports ─────────────────────────────────────────────────────────────────────────
  'POST /api/v1/reports': (b) => [
    aimed("generate a report for B's product", {
      body: { type: 'psur', productId: b.productId, from: '2025-01-01', to: '2025-12-31' },
    }),
  ],
  'GET /api/v1/reports': () => [listed("reports of B's product"), listed('list reports', { ids: 'none' })],
  'GET /api/v1/reports/signing-key': () => [listed('the report signing key', { ids: 'none' })],
  'GET /api/v1/reports/schemas/{type}': () => [
    listed('a report schema', { path: { type: 'psur' }, ids: 'none' }),
  ],
  'GET /api/v1/reports/{id}': (b) => [aimed("read B's report", { path: { id: b.reportId } })],
  'GET /api/v1/reports/{id}.json': (b) => [aimed("read B's report JSON", { path: { id: b.reportId } })],
  'GET /api/v1/reports/{id}.html': (b) => [aimed("read B's report HTML", { path: { id: b.reportId } })],
  'GET /api/v1/reports/{id}.pdf': (b) => [aimed("read B's report PDF", { path: { id: b.reportId } })],
  'GET /api/v1/reports/{id}/verify': (b) => [aimed("verify B's report", { path: { id: b.reportId } })],
  'POST /api/v1/reports/{id}/versions': (b) => [aimed("regenerate B's report", { path: { id: b.reportId } })],
  'POST /api/v1/reports/{id}/finalize': (b) => [aimed("finalise B's report", { path: { id: b.reportId } })],
  'POST /api/v1/complaints': (b, a) => [
    aimed("file a complaint on B's product", { body: complaintBody(b.productId) }),
    aimed("file a complaint on A's product naming B's device", {
      body: complaintBody(a.productId, { deviceId: b.deviceId }),
    }),
  ],
};

/** Operations that are not tenant data: public, and not walked. */
const PUBLIC_PATHS = [/^\/health(\/|$)/, /^\/api\/docs/];

interface Operation {
  method: 'get' | 'post' | 'patch' | 'put' | 'delete';
  path: string;
  key: string;
  permission: Permission | undefined;
  pathParameters: string[];
  queryParameters: string[];
}

interface OpenApiParameter {
  name: string;
  in: string;
}

interface Outcome {
  key: string;
  probe: string;
  role: TenantRole;
  status: number;
  held: boolean;
  /** A finding listed in KNOWN_FINDINGS (reported, owned elsewhere). */
  known: boolean;
  why: string;
}

describe('confidentiality: tenant isolation, every OpenAPI route walked with tenant A’s keys against tenant B', () => {
  const environment: Record<string, string> = {
    ...isolatedEnvironment('isolation'),
    FW_RATE_LIMIT_REQUESTS: '100000',
  };
  const topics = topicsFor(environment.KAFKA_TOPIC_PREFIX);
  const run = environment.KAFKA_CONSUMER_GROUP.slice(-12);
  let app: INestApplication;
  let server: ReturnType<INestApplication['getHttpServer']>;
  let database: Client;
  let operations: Operation[];
  let victim: Victim;
  let own: Own;
  let victimKey: string;
  const keys = {} as Record<TenantRole, string>;
  const outcomes: Outcome[] = [];
  let before: Map<string, string>;

  beforeAll(async () => {
    await ensureTopics(TEST_KAFKA_BROKERS.split(','), allTopics(topics), 3);
    app = await startApp(environment);
    // The walk measures what ROUTES do to B's rows. Scheduled jobs (vigilance clock alerts every 15 min, hourly
    // detection, drift label catch-up) legitimately write B's rows and would do so mid-walk whenever their minute
    // comes round — a CI run once failed on clock alerts raised during the walk. They have their own suites; here
    // they are stopped so the before/after comparison sees only the routes' effects.
    for (const job of app.get(SchedulerRegistry).getCronJobs().values()) void job.stop();
    server = app.getHttpServer();
    database = new Client({ connectionString: TEST_DATABASE_URL });
    await database.connect();

    const fleetA = await registerFleet(app, `Iso-A-${run}`, [
      { siteId: `IA-SITE-${run}`, devices: [`IA-DEV-${run}`], dataSources: [`IA-CATH-${run}`] },
    ]);
    const fleetB = await registerFleet(app, `Iso-B-${run}`, [
      { siteId: `IB-SITE-${run}`, devices: [`IB-DEV-${run}`], dataSources: [`IB-CATH-${run}`] },
    ]);
    victimKey = fleetB.manufacturerKey;
    keys.manufacturer = fleetA.manufacturerKey;
    for (const role of TENANT_ROLES.filter((r) => r !== 'manufacturer')) {
      keys[role] = await issueKey(fleetA.manufacturerId, role, `A ${role}`);
    }
    own = await describeTenant(fleetA, `Iso-A-${run}`, run, 'IA');
    victim = await registerVictim(fleetB, `Iso-B-${run}`, run);
    own.analysisEventIds = await sendEvents(fleetA, 'IA', 2);
    victim.analysisEventIds = await sendEvents(fleetB, 'IB', 3);
    await pollUntil(
      async () =>
        (
          await database.query(`SELECT count(*)::int AS n FROM analyses WHERE event_id = ANY($1)`, [
            [...own.analysisEventIds, ...victim.analysisEventIds],
          ])
        ).rows[0].n as number,
      (stored) => stored === 5,
      { what: "both tenants' analyses stored" },
    );
    before = await settledSnapshot(victim);

    const document = (await request(server).get('/api/docs/openapi.json').expect(200)).body as {
      paths: Record<string, Record<string, { parameters?: OpenApiParameter[] } & Record<string, unknown>>>;
    };
    operations = Object.entries(document.paths)
      .filter(([path]) => !PUBLIC_PATHS.some((pattern) => pattern.test(path)))
      .flatMap(([path, methods]) =>
        Object.entries(methods).map(([method, operation]) => ({
          method: method as Operation['method'],
          path,
          key: `${method.toUpperCase()} ${path}`,
          permission: operation[PERMISSION_EXTENSION] as Permission | undefined,
          pathParameters: (operation.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name),
          queryParameters: (operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
        })),
      );
  });

  afterAll(async () => {
    if (outcomes.length > 0) console.log(outcomeTable(outcomes));
    await database?.end();
    await app?.close();
  });

  async function issueKey(manufacturerId: string, role: Role, name: string): Promise<string> {
    const issued = await request(server)
      .post('/api/v1/api-keys')
      .set(bearer(TEST_ADMIN_TOKEN))
      .send({ manufacturerId, role, name })
      .expect(201);
    return issued.body.key as string;
  }

  async function describeTenant(fleet: RegisteredFleet, label: string, tag: string, prefix: string) {
    await request(server)
      .post('/api/v1/model-versions')
      .set(bearer(fleet.manufacturerKey))
      .send({
        productId: fleet.productId,
        version: `${prefix}-mv-${tag}`,
        releasedAt: '2025-01-15T00:00:00Z',
      })
      .expect(201);
    const incident = await request(server)
      .post('/api/v1/incidents')
      .set(bearer(fleet.manufacturerKey))
      .send(incidentBody(fleet.productId, `${label} incident`))
      .expect(201);
    return {
      manufacturerId: fleet.manufacturerId,
      label,
      productId: fleet.productId,
      siteId: `${prefix}-SITE-${tag}`,
      deviceId: `${prefix}-DEV-${tag}`,
      sourceId: `${prefix}-CATH-${tag}`,
      analysisEventIds: [] as string[],
      incidentId: incident.body.id as string,
    };
  }

  /** Tenant B with one object of every kind a route can name. */
  async function registerVictim(fleet: RegisteredFleet, label: string, tag: string): Promise<Victim> {
    const b = bearer(fleet.manufacturerKey);
    const modelVersion = await request(server)
      .post('/api/v1/model-versions')
      .set(b)
      .send({ productId: fleet.productId, version: `IB-mv-${tag}`, releasedAt: '2025-01-15T00:00:00Z' })
      .expect(201);
    const product = await request(server).get(`/api/v1/products/${fleet.productId}`).set(b).expect(200);
    const deviceId = `IB-DEV-${tag}`;
    const sourceId = `IB-CATH-${tag}`;
    const device = await request(server).get(`/api/v1/devices/${deviceId}`).set(b).expect(200);
    const sites = await request(server).get('/api/v1/sites').set(b).expect(200);
    const sources = await request(server).get('/api/v1/data-sources').set(b).expect(200);
    const apiKey = await request(server)
      .post('/api/v1/api-keys')
      .set(bearer(TEST_ADMIN_TOKEN))
      .send({ manufacturerId: fleet.manufacturerId, role: 'quality', name: 'B quality' })
      .expect(201);
    const incident = await request(server)
      .post('/api/v1/incidents')
      .set(b)
      .send(incidentBody(fleet.productId, `${label} incident`))
      .expect(201);
    const complaint = await request(server)
      .post('/api/v1/complaints')
      .set(b)
      .send(complaintBody(fleet.productId, { deviceId, title: `${label} complaint` }))
      .expect(201);
    // B's drift objects: an evaluation snapshot and an open alert, as an evaluation that found drift writes them.
    const evaluation = await database.query<{ id: string }>(
      `INSERT INTO drift_evaluations (manufacturer_id, product_id, trigger, scope, configuration_version,
                  configuration_hash, evaluated_at, window_from, window_to, reference_ids, high_water, budget, summary,
                  duration_ms)
       VALUES ($1, $2, 'on_demand', 'all', 0, repeat('ab', 32), now(), now() - interval '30 days', now(), '{}',
               '{}', '{}', '{}', 1)
       RETURNING id::text AS id`,
      [fleet.manufacturerId, fleet.productId],
    );
    const driftEvaluationId = evaluation.rows[0].id;
    const alert = await database.query<{ id: string }>(
      `INSERT INTO drift_alerts (manufacturer_id, product_id, monitor_id, family, segment_kind, segment_key, status,
                  condition, opened_at, opened_evaluation_id, evidence, last_signal_at, last_signal_evaluation_id,
                  last_evidence)
       VALUES ($1, $2, 'input.heartRate', 'input', 'overall', '*', 'open', 'active', now(), $3, '{}', now(), $3, '{}')
       RETURNING id::text AS id`,
      [fleet.manufacturerId, fleet.productId, driftEvaluationId],
    );
    // B's periodic report: a draft PSUR row (written directly: generating one renders a PDF, which the walk needs not).
    const report = await database.query<{ id: string }>(
      `INSERT INTO periodic_reports (manufacturer_id, product_id, type, period_from, period_to, reference)
       VALUES ($1, $2, 'psur', '2025-01-01', '2025-12-31', 'PSUR-victim') RETURNING id::text AS id`,
      [fleet.manufacturerId, fleet.productId],
    );
    // B's evidence query (B's 3 analyses are under k: refused, but stored with an id).
    const evidence = await request(server)
      .post('/api/v1/evidence/queries')
      .set(b)
      .send({ productId: fleet.productId })
      .expect(201);
    return {
      driftEvaluationId,
      evidenceQueryId: evidence.body.id,
      driftAlertId: alert.rows[0].id,
      manufacturerId: fleet.manufacturerId,
      label,
      productId: fleet.productId,
      udiDi: product.body.udiDi,
      modelVersionId: modelVersion.body.id,
      modelVersion: `IB-mv-${tag}`,
      siteId: `IB-SITE-${tag}`,
      siteUuid: sites.body.items[0].id,
      deviceId,
      deviceUuid: device.body.id,
      deviceSecret: fleet.devices[deviceId],
      deviceKeyId: device.body.secretKeyId,
      sourceId,
      sourceUuid: sources.body.items[0].id,
      sourceSecret: fleet.dataSources[sourceId],
      apiKeyId: apiKey.body.id,
      analysisEventIds: [],
      incidentId: incident.body.id,
      complaintIncidentId: complaint.body.incident.id,
      reportId: report.rows[0].id,
    };
  }

  /** Signed analyses (and an invasive FFR and a device event) through Kafka, as the tenant's fleet sends them. */
  async function sendEvents(fleet: RegisteredFleet, prefix: string, count: number): Promise<string[]> {
    const site = `${prefix}-SITE-${run}`;
    const device = `${prefix}-DEV-${run}`;
    const source = `${prefix}-CATH-${run}`;
    const analyses = Array.from({ length: count }, (_, index) =>
      analysisEvent(device, site, { patientRef: `p-${prefix}-${run}-${index}` }),
    );
    const { producer } = await connectedProducer(TEST_KAFKA_BROKERS);
    try {
      await producer.send({
        topic: topics.analyses,
        messages: analyses.map((event) => signedMessage(device, event, fleet.devices[device])),
      });
      await producer.send({
        topic: topics.outcomes,
        messages: [
          signedMessage(
            site,
            invasiveFfrEvent(source, site, `p-${prefix}-${run}-0`),
            fleet.dataSources[source],
          ),
        ],
      });
      await producer.send({
        topic: topics.deviceEvents,
        messages: [signedMessage(device, deviceEvent(device), fleet.devices[device])],
      });
    } finally {
      await producer.disconnect();
    }
    return analyses.map((event) => event.eventId);
  }

  /**
   * Every row of B's in every table that has a manufacturer_id or product_id column (so tables added later
   * are covered too), as a count and a digest per table. Taken once background work (linkage, roll-ups)
   * has settled: two reads a second apart agree.
   */
  async function snapshot(b: Victim): Promise<Map<string, string>> {
    const columns = await database.query<{ table_name: string; column_name: string }>(
      `SELECT c.table_name, c.column_name FROM information_schema.columns c
         JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
        WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
          AND c.column_name IN ('manufacturer_id', 'product_id')
        ORDER BY c.table_name, c.column_name`,
    );
    const result = new Map<string, string>();
    const manufacturerRow = await database.query(`SELECT m::text AS row FROM manufacturers m WHERE id = $1`, [
      b.manufacturerId,
    ]);
    result.set('manufacturers', manufacturerRow.rows[0]?.row as string);
    for (const { table_name: table, column_name: column } of columns.rows) {
      const value = column === 'manufacturer_id' ? b.manufacturerId : b.productId;
      const digest = await database.query(
        `SELECT count(*)::int AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS digest
           FROM "${table}" t WHERE "${column}" = $1`,
        [value],
      );
      result.set(`${table}.${column}`, `${digest.rows[0].n} rows, ${digest.rows[0].digest}`);
    }
    return result;
  }

  async function settledSnapshot(b: Victim): Promise<Map<string, string>> {
    let previous = await snapshot(b);
    return pollUntil(
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        const next = await snapshot(b);
        const same = JSON.stringify([...next]) === JSON.stringify([...previous]);
        previous = next;
        return same ? next : null;
      },
      (settled) => settled !== null,
      { what: "B's rows to settle (linkage, roll-ups)", timeoutMs: 60_000, intervalMs: 0 },
    ) as Promise<Map<string, string>>;
  }

  function victimMarkers(b: Victim): Array<[string, string]> {
    return [
      ['B manufacturerId', b.manufacturerId],
      ['B name', b.label],
      ['B productId', b.productId],
      ['B udiDi', b.udiDi],
      ['B modelVersionId', b.modelVersionId],
      ['B model version', b.modelVersion],
      ['B siteId', b.siteId],
      ['B site uuid', b.siteUuid],
      ['B deviceId', b.deviceId],
      ['B device uuid', b.deviceUuid],
      ['B device secret', b.deviceSecret],
      ['B device secret key id', b.deviceKeyId],
      ['B sourceId', b.sourceId],
      ['B data source uuid', b.sourceUuid],
      ['B data source secret', b.sourceSecret],
      ['B apiKeyId', b.apiKeyId],
      ['B incident id', b.incidentId],
      ['B complaint incident id', b.complaintIncidentId],
      ['B report id', b.reportId],
      ['B drift evaluation id', b.driftEvaluationId],
      ['B drift alert id', b.driftAlertId],
      ['B evidence query id', b.evidenceQueryId],
      ...b.analysisEventIds.map((id): [string, string] => ['B analysis eventId', id]),
    ];
  }

  /** The problems of the parameter map against the document: routes without an entry, names it cannot fill. */
  function mapProblems(): string[] {
    const problems: string[] = [];
    const documented = new Set(operations.map((op) => op.key));
    for (const op of operations) {
      const entry = WALK[op.key];
      if (!entry) {
        problems.push(`${op.key}: no entry in WALK (test/security/tenant-isolation.integration-spec.ts)`);
        continue;
      }
      const probes = entry(victim, own);
      if (probes.length === 0) problems.push(`${op.key}: its WALK entry has no probe`);
      for (const probe of probes) {
        for (const name of op.pathParameters) {
          if (!probe.path?.[name] && !PATH_PARAMETERS[name]) {
            problems.push(`${op.key} (${probe.label}): path parameter "${name}" is not in PATH_PARAMETERS`);
          }
        }
      }
      for (const name of op.queryParameters) {
        if (!(name in ID_QUERY) && !(name in NEUTRAL_QUERY)) {
          problems.push(`${op.key}: query parameter "${name}" is in neither ID_QUERY nor NEUTRAL_QUERY`);
        }
      }
    }
    for (const key of Object.keys(WALK)) {
      if (!documented.has(key))
        problems.push(`${key}: in WALK but not in the OpenAPI document (stale entry)`);
    }
    return problems;
  }

  it('maps every route of the OpenAPI document to cross-tenant probes (new routes are born covered)', () => {
    expect(operations.length).toBeGreaterThan(20);
    expect(mapProblems()).toEqual([]);
  });

  it.each(TENANT_ROLES)("gives tenant A's %s key none of tenant B's objects on any route", async (role) => {
    const markers = victimMarkers(victim);
    const ownMarkers = [
      own.productId,
      own.siteId,
      own.deviceId,
      own.sourceId,
      own.incidentId,
      ...own.analysisEventIds,
    ];
    const failures: string[] = [];
    for (const op of operations) {
      const entry = WALK[op.key];
      if (!entry) continue; // reported by the map test
      const mayCall =
        op.permission !== undefined && (PERMISSIONS[op.permission] as readonly Role[]).includes(role);
      for (const probe of entry(victim, own)) {
        const path = op.path.replace(/\{([^}]+)\}/g, (_match, name: string) =>
          encodeURIComponent(probe.path?.[name] ?? PATH_PARAMETERS[name]?.(victim) ?? `unmapped-${name}`),
        );
        const query: Record<string, string> = {};
        for (const name of op.queryParameters) {
          if (name in ID_QUERY) {
            if ((probe.ids ?? 'victim') === 'victim') query[name] = ID_QUERY[name](victim);
          } else {
            const value = NEUTRAL_QUERY[name];
            if (value !== null && value !== undefined) query[name] = value;
          }
        }
        Object.assign(query, probe.query ?? {});
        let call = request(server)[op.method](path).query(query).set(bearer(keys[role]));
        if (probe.body !== undefined) call = call.send(probe.body);
        const response = await call;
        const text = JSON.stringify(response.body ?? null) + (response.text ?? '');
        const sent = JSON.stringify([path, query, probe.body ?? null]);
        // An error message may echo what the caller itself sent; anything else of B's is a leak.
        const leaked = markers
          .filter(([, value]) => text.includes(value))
          .filter(([, value]) => response.status < 300 || !sent.includes(value))
          .map(([name]) => name);
        const status = response.status;
        let why: string;
        if (leaked.length > 0) {
          why = `answer holds ${[...new Set(leaked)].join(', ')}`;
        } else if (!mayCall) {
          why = status === 403 ? '' : `expected 403: role may not call ${op.permission ?? 'this route'}`;
        } else if (status >= 500) {
          why = 'server error';
        } else if (probe.alsoHolds?.status === status) {
          why = '';
        } else if (probe.expect === 'platform') {
          why = status === 403 ? '' : `expected 403: the route spans every tenant, got ${status}`;
        } else if (probe.expect === 'aimed') {
          why =
            status === 404 || status === 403
              ? ''
              : status === 400
                ? `probe invalid (400 ${JSON.stringify(response.body?.message)}): fix its body or query`
                : `expected 404 (or 403), got ${status}`;
        } else if (status >= 200 && status < 300) {
          why =
            probe.own && !ownMarkers.some((value) => text.includes(value))
              ? "A's own data is missing, so an empty answer proves nothing"
              : '';
        } else {
          why = status === 404 || status === 403 ? '' : `expected 2xx without B's data, got ${status}`;
        }
        const name = `${role}: ${op.key} — ${probe.label}`;
        const known = KNOWN_FINDINGS[name];
        outcomes.push({
          key: op.key,
          probe: probe.label,
          role,
          status,
          held: why === '',
          known: !!known,
          why,
        });
        if (why && !known) failures.push(`${name}: ${status}: ${why}`);
        if (!why && known) failures.push(`${name}: holds now; remove it from KNOWN_FINDINGS ("${known}")`);
      }
    }
    expect(failures).toEqual([]);
  });

  it("leaves every row of tenant B's unchanged, and B's keys working", async () => {
    const after = await snapshot(victim);
    const changed = [...new Set([...before.keys(), ...after.keys()])].filter(
      (table) => before.get(table) !== after.get(table),
    );
    expect(changed).toEqual([]);
    const products = await request(server).get('/api/v1/products').set(bearer(victimKey)).expect(200);
    expect(products.body.items.map((p: { id: string }) => p.id)).toEqual([victim.productId]);
    const device = await request(server)
      .get(`/api/v1/devices/${victim.deviceId}`)
      .set(bearer(victimKey))
      .expect(200);
    expect(device.body).toMatchObject({ revokedAt: null, secretKeyId: victim.deviceKeyId });
  });
});

/**
 * route × probe rows, one status column per role ("!" where the answer did not hold); `held` when every
 * role's answer held, KNOWN when what did not hold is a listed finding, FAILED otherwise.
 */
function outcomeTable(outcomes: Outcome[]): string {
  const rows = new Map<string, Map<TenantRole, Outcome>>();
  for (const outcome of outcomes) {
    const key = `${outcome.key}\u0000${outcome.probe}`;
    if (!rows.has(key)) rows.set(key, new Map());
    rows.get(key)?.set(outcome.role, outcome);
  }
  const header = [
    'method',
    'route',
    'probe',
    ...TENANT_ROLES.map((r) => (r === 'admin' ? 'admin(A)' : r)),
    'held',
  ];
  const lines = [...rows].map(([key, byRole]) => {
    const [operation, probe] = key.split('\u0000');
    const [method, route] = operation.split(' ');
    const cells = TENANT_ROLES.map((role) => {
      const outcome = byRole.get(role);
      return outcome ? `${outcome.status}${outcome.held ? '' : '!'}` : '-';
    });
    const results = [...byRole.values()];
    const held = results.every((o) => o.held)
      ? 'held'
      : results.every((o) => o.held || o.known)
        ? 'KNOWN'
        : 'FAILED';
    return [method, route, probe, ...cells, held];
  });
  const widths = header.map((title, column) =>
    Math.max(title.length, ...lines.map((line) => line[column].length)),
  );
  const format = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
  const failed = outcomes.filter((outcome) => !outcome.held);
  return [
    `Cross-tenant walk: ${rows.size} probes × ${TENANT_ROLES.length} roles of tenant A (admin(A): an admin key ` +
      `issued for tenant A), ${outcomes.length} requests; ${failed.length} did not hold, ` +
      `${failed.filter((o) => o.known).length} of them known findings`,
    format(header),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...lines.map(format),
    ...failed.map(
      (o) => `  ${o.known ? 'KNOWN' : 'FAILED'} ${o.role}: ${o.key} — ${o.probe}: ${o.status}: ${o.why}`,
    ),
  ].join('\n');
}
