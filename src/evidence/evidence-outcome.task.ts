import { cohortsNested } from './cohort';
import { EvidenceInput, EvidenceOutcome, evidenceOutcome } from './evidence-result';
import { AuditCoverage, ProductRecords, ProductReleaseAudit } from './release-records';

/** What the service has read for one evidence query (or re-run): the whole input of evidenceOutcome. */
export interface EvidenceOutcomeRequest extends Omit<EvidenceInput, 'nested' | 'audit'> {
  /** The data high-water mark the query is evaluated at (the audit re-evaluates earlier releases at theirs). */
  highWaterMark: string;
  /** The product's records for the cross-release audit (release-records.ts). */
  records: ProductRecords;
  /** The audit's work limit in operations (AuditBudget); null: none (queries stored before it existed). */
  auditOperationLimit: number | null;
  /** How far the audit reaches within a unit (release-records.ts): the one the query ran under. */
  auditCoverage: AuditCoverage;
}

/**
 * The figures, the disclosure control and the cross-release audit of one query (pure, no I/O), with the operations
 * the audit did. Each vessel's `analysis` is the same object as its entry of `analyses`, as structured clone keeps it.
 */
export function auditedEvidenceOutcome(request: EvidenceOutcomeRequest): {
  outcome: EvidenceOutcome;
  operations: number;
} {
  const { definition, highWaterMark, threshold, k, earlier, records, auditOperationLimit, auditCoverage } =
    request;
  const audit = new ProductReleaseAudit(records, earlier, { definition, highWaterMark, threshold }, k, {
    operationLimit: auditOperationLimit ?? Infinity,
    coverage: auditCoverage,
  });
  return {
    outcome: evidenceOutcome({ ...request, nested: cohortsNested, audit }),
    operations: audit.operations,
  };
}

export function computeEvidenceOutcome(request: EvidenceOutcomeRequest): EvidenceOutcome {
  return auditedEvidenceOutcome(request).outcome;
}

/**
 * Worker-thread entry of the evidence pool (evidence.service.ts). The cross-release audit costs seconds once a
 * product has tens of releases (src/evidence/README.md): run on the thread that serves requests and ingests events,
 * it would stop both for that long. The rows arrive with the task and only the outcome returns.
 */
export default function evidenceOutcomeTask(request: EvidenceOutcomeRequest): EvidenceOutcome {
  return computeEvidenceOutcome(request);
}
