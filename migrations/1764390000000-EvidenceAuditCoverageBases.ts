import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A third audit coverage, `complete-bases` (src/evidence/release-records.ts, AuditCoverage): complete coverage with
 * each component of the span first offered the disjoint-bases certificate (release-audit.ts). It decides every check
 * `complete` decides alike but spends different work, so a query that reached the work limit can come out otherwise:
 * a re-run must know which one the query ran under. Queries stored before this migration keep `complete` or `pairs`.
 */
export class EvidenceAuditCoverageBases1764390000000 implements MigrationInterface {
  name = 'EvidenceAuditCoverageBases1764390000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE evidence_queries
         DROP CONSTRAINT evidence_queries_audit_coverage_check,
         ADD CONSTRAINT evidence_queries_audit_coverage_check
           CHECK (audit_coverage IN ('complete-bases', 'complete', 'pairs'))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    // Fails while a query stored as `complete-bases` exists: relabelling it would make its re-run differ.
    await queryRunner.query(
      `ALTER TABLE evidence_queries
         DROP CONSTRAINT evidence_queries_audit_coverage_check,
         ADD CONSTRAINT evidence_queries_audit_coverage_check CHECK (audit_coverage IN ('complete', 'pairs'))`,
    );
  }
}
