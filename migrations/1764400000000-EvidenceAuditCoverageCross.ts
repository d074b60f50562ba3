import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A fourth audit coverage, `complete-cross` (src/evidence/release-records.ts, AuditCoverage): `complete-bases` and,
 * besides each unit on its own, the counts of every unit against each other over patients (release-audit.ts
 * auditPatientFamily). It refuses what the others release when only the units together single patients out, so a
 * re-run must know which one its query ran under. A deployment chooses it for new queries (FW_EVIDENCE_AUDIT_COVERAGE;
 * `complete-bases` by default); queries stored before this migration keep their coverage.
 */
export class EvidenceAuditCoverageCross1764400000000 implements MigrationInterface {
  name = 'EvidenceAuditCoverageCross1764400000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE evidence_queries
         DROP CONSTRAINT evidence_queries_audit_coverage_check,
         ADD CONSTRAINT evidence_queries_audit_coverage_check
           CHECK (audit_coverage IN ('complete-cross', 'complete-bases', 'complete', 'pairs'))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    // Fails while a query stored as `complete-cross` exists: relabelling it would make its re-run differ.
    await queryRunner.query(
      `ALTER TABLE evidence_queries
         DROP CONSTRAINT evidence_queries_audit_coverage_check,
         ADD CONSTRAINT evidence_queries_audit_coverage_check
           CHECK (audit_coverage IN ('complete-bases', 'complete', 'pairs'))`,
    );
  }
}
