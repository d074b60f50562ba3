/**
 * Who may do what: the single roles matrix that the global guard reads (DESIGN.md §5). A route names
 * one permission; a permission absent from this table, or a route naming none, is denied to everyone.
 * Tenant scoping is separate and always applies: a key sees only its own manufacturer's objects.
 */
export const ROLES = ['admin', 'manufacturer', 'quality', 'researcher', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

export const PERMISSIONS = {
  /**
   * Who am I (GET /session): a key's own role and permissions. Every role, so the dashboards can check a typed key
   * and show each role only what it may read.
   */
  'session:read': ['admin', 'manufacturer', 'quality', 'researcher', 'auditor'],
  /** Create tenants (manufacturers) and issue API keys: platform operators only. */
  'tenants:manage': ['admin'],
  /** Register products, model versions, sites, devices, data sources; rotate their secrets. */
  'registry:write': ['admin', 'manufacturer'],
  'registry:read': ['admin', 'manufacturer', 'quality', 'auditor'],
  /**
   * Row-level analyses (no pseudonyms, but per-patient records). Researchers get aggregates only
   * (evidence queries); the platform admin operates the service but has no business reading them.
   */
  'analyses:read': ['manufacturer', 'quality', 'auditor'],
  /** Platform-wide ingestion counters and consumer lag: they span tenants, so operators only. */
  'ingestion:read': ['admin'],
  /**
   * Real-world accuracy per product, site, scanner and model version. Aggregates, but with cells
   * small enough to single out a site's patients: researchers use evidence queries (disclosure control).
   */
  'performance:read': ['manufacturer', 'quality', 'auditor'],
  /**
   * The audit trail and its verification. Entries hold digests, never secrets or patient data; a tenant
   * key sees its tenant's entries, a platform admin all. Researchers work on aggregates and have none.
   */
  'audit:read': ['admin', 'manufacturer', 'quality', 'auditor'],
  /** Sign the chain head now (checkpoints are also made every FW_AUDIT_CHECKPOINT_EVERY entries). */
  'audit:checkpoint': ['admin'],
  /**
   * Incidents, their reporting deadlines, history and due-soon / overdue alerts. Case narratives of one
   * tenant's patients: the platform admin operates the service but has no business reading them, and
   * researchers work on aggregates (evidence queries). Auditors read, as for the audit trail.
   */
  'vigilance:read': ['manufacturer', 'quality', 'auditor'],
  /** Record an incident by hand. Whoever learns of an event must be able to start its clock. */
  'vigilance:write': ['manufacturer', 'quality'],
  /**
   * Triage: state, seriousness, causality, IMDRF coding, new information. Reportability is the quality /
   * regulatory team's decision; src/vigilance/incident-workflow.ts also names who may make each state change.
   */
  'vigilance:triage': ['quality'],
  /**
   * Run candidate detection and trend evaluation for a product now (POST /incidents/detections; the schedule does the
   * same): the quality team's surveillance.
   */
  'vigilance:detect': ['quality'],
  /** Set a product's pre-specified detection parameters and trend method (PMS plan, MDR Art. 84/88). */
  'vigilance:configure': ['quality'],
  /** File a clinician complaint (it opens a candidate incident): the manufacturer's service desk or quality team. */
  'complaints:create': ['manufacturer', 'quality'],
  /**
   * Evidence queries (src/evidence): cohort aggregates under disclosure control, never rows or pseudonyms — the
   * researcher's way in. The manufacturer's and quality teams may ask the same questions (they read rows anyway);
   * auditors read stored queries and re-run them to check reproducibility, but do not pose new ones. The platform
   * admin operates the service but has no business reading a manufacturer's data.
   */
  'evidence:query': ['researcher', 'manufacturer', 'quality'],
  'evidence:read': ['researcher', 'manufacturer', 'quality', 'auditor'],
  /**
   * The OMOP CDM v5.4 export: de-identified but row-level (one row per person, procedure, measurement), so only for
   * the data controller's own teams, who hand it on under a data-sharing agreement; researchers get aggregates.
   */
  'evidence:export-omop': ['manufacturer', 'quality'],
  /**
   * Periodic regulator-facing reports (PSUR, NMPA periodic risk evaluation): read, verify, fetch the signing key. The
   * quality team and auditors, and the manufacturer whose submission it is; aggregates a researcher has no need for.
   */
  'reports:read': ['manufacturer', 'quality', 'auditor'],
  /** Generate a report or a new draft version: the quality / regulatory team that files surveillance. */
  'reports:generate': ['quality'],
  /** Finalise: sign and freeze for good (the benefit–risk declaration is theirs). */
  'reports:finalize': ['quality'],
  /**
   * Drift monitoring (src/drift): monitors, reference windows, evaluation snapshots and alerts of the tenant's
   * products. Aggregates and control-chart evidence, no patient rows; auditors read, as for the audit trail. The
   * platform admin operates the service but has no business reading a manufacturer's surveillance; researchers use
   * evidence queries.
   */
  'drift:read': ['manufacturer', 'quality', 'auditor'],
  /** Evaluate a product's monitors now (POST /drift/evaluations; the schedule does the same). */
  'drift:evaluate': ['manufacturer', 'quality'],
  /**
   * Set the monitor configuration and reference windows (the PMS plan's pre-specified method, changes audited with a
   * reason), and acknowledge / resolve alerts: the manufacturer's model owners and the quality team.
   */
  'drift:manage': ['manufacturer', 'quality'],
} as const satisfies Record<string, readonly Role[]>;

export type Permission = keyof typeof PERMISSIONS;

export function roleHasPermission(role: Role, permission: Permission): boolean {
  return (PERMISSIONS[permission] as readonly Role[]).includes(role);
}

/** The authenticated caller, attached to the request by the guard. */
export interface Principal {
  apiKeyId: string;
  role: Role;
  /** null only for platform admin keys (bootstrap or issued without a tenant). */
  manufacturerId: string | null;
}
