import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The cross-release audit's work limit of each evidence query (src/evidence/release-audit.ts, AuditBudget), stored
 * with the query as k is: a re-run must apply the limit the query ran under to reproduce its outcome, whatever
 * FW_EVIDENCE_AUDIT_OPERATIONS says now. Queries stored before the limit existed ran without one: NULL.
 */
export class EvidenceAuditOperationLimit1764370000000 implements MigrationInterface {
  name = 'EvidenceAuditOperationLimit1764370000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE evidence_queries ADD COLUMN audit_operation_limit bigint CHECK (audit_operation_limit > 0)`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE evidence_queries DROP COLUMN audit_operation_limit`);
  }
}
