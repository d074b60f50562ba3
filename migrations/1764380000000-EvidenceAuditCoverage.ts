import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * How far the cross-release audit of each evidence query reached within a unit (src/evidence/release-records.ts,
 * AuditCoverage), stored with the query as its work limit is: a re-run must audit as the query was audited to
 * reproduce its outcome. Queries stored before this migration fell back to pairs of tables above 1,500 atoms:
 * `pairs`. Every later query names its coverage (no default), `complete`.
 */
export class EvidenceAuditCoverage1764380000000 implements MigrationInterface {
  name = 'EvidenceAuditCoverage1764380000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE evidence_queries ADD COLUMN audit_coverage text NOT NULL DEFAULT 'pairs'
         CHECK (audit_coverage IN ('complete', 'pairs'))`,
    );
    await queryRunner.query(`ALTER TABLE evidence_queries ALTER COLUMN audit_coverage DROP DEFAULT`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE evidence_queries DROP COLUMN audit_coverage`);
  }
}
