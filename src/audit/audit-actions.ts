/**
 * Every action the audit trail records, as data: the entity it concerns and whether the caller must
 * give a reason. A reason is required where a regulator or an investigator would ask "why": when a
 * credential is replaced or withdrawn (21 CFR 11.10(e) asks for the trail to record operator actions;
 * 11.10(d)/(g) make credential changes the events that decide who could act). AuditService.record
 * refuses an action that is not listed here, or a listed one without its required reason.
 */
export const AUDIT_ACTIONS = {
  'manufacturer.create': { entityType: 'manufacturer', requiresReason: false },
  'api_key.issue': { entityType: 'api_key', requiresReason: false },
  'api_key.revoke': { entityType: 'api_key', requiresReason: true },
  'product.create': { entityType: 'product', requiresReason: false },
  'model_version.create': { entityType: 'model_version', requiresReason: false },
  'site.create': { entityType: 'site', requiresReason: false },
  'device.create': { entityType: 'device', requiresReason: false },
  'device.update': { entityType: 'device', requiresReason: false },
  'device.secret_rotate': { entityType: 'device', requiresReason: true },
  'device.revoke': { entityType: 'device', requiresReason: true },
  'data_source.create': { entityType: 'data_source', requiresReason: false },
  'data_source.secret_rotate': { entityType: 'data_source', requiresReason: true },
  'data_source.revoke': { entityType: 'data_source', requiresReason: true },
  // Vigilance (src/vigilance): a reportability decision, a state change or a reassessment of what is known is what
  // an authority or a 21 CFR 803.18 event file asks "why" about.
  'complaint.create': { entityType: 'complaint', requiresReason: false },
  'incident.create': { entityType: 'incident', requiresReason: false },
  'incident.update': { entityType: 'incident', requiresReason: false },
  'incident.reassess': { entityType: 'incident', requiresReason: true },
  'incident.transition': { entityType: 'incident', requiresReason: true },
  'incident.alert_raise': { entityType: 'incident', requiresReason: false },
  // The pre-specified detection parameters and trend method (MDR Art. 84/88: set out in advance, changes traceable).
  'vigilance_method.update': { entityType: 'product', requiresReason: true },
  // Storage retention (docs/storage/partitioning.md): a month of device data removed under FW_RETENTION_MONTHS.
  'storage.partition_retire': { entityType: 'event_partition', requiresReason: true },
  // Periodic reports (src/reports): each generated version and the sign-off that freezes a report for good.
  'report.generate': { entityType: 'periodic_report', requiresReason: false },
  'report.finalize': { entityType: 'periodic_report', requiresReason: false },
  // Drift monitoring (src/drift): the monitor configuration is the PMS plan's pre-specified method (a change says why);
  // an alert's acknowledgement and resolution are the decisions an auditor asks "why" about.
  'drift_configuration.update': { entityType: 'product', requiresReason: true },
  'drift_reference.create': { entityType: 'drift_reference', requiresReason: false },
  'drift_alert.open': { entityType: 'drift_alert', requiresReason: false },
  'drift_alert.acknowledge': { entityType: 'drift_alert', requiresReason: true },
  'drift_alert.resolve': { entityType: 'drift_alert', requiresReason: true },
  // Evidence (src/evidence): every cohort query run, re-run, read and CSV export, and every OMOP table exported — who
  // took what out of the platform, from which definition (its sha256) and with which result digest (GDPR Art. 5(2)
  // accountability, Art. 30 records of processing; 21 CFR 11.10(e) for the figures a submission may cite).
  'evidence_query.run': { entityType: 'evidence_query', requiresReason: false },
  'evidence_query.rerun': { entityType: 'evidence_query', requiresReason: false },
  'evidence_query.export_csv': { entityType: 'evidence_query', requiresReason: false },
  // Reading a stored result is taking it out again: who looked at which released figures, and when.
  'evidence_query.read': { entityType: 'evidence_query', requiresReason: false },
  'omop.export': { entityType: 'omop_export', requiresReason: false },
} as const satisfies Record<string, { entityType: string; requiresReason: boolean }>;

export type AuditAction = keyof typeof AUDIT_ACTIONS;

export const AUDIT_ENTITY_TYPES = [...new Set(Object.values(AUDIT_ACTIONS).map((a) => a.entityType))];
