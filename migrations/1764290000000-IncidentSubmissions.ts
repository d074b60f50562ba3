import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Incident history rows may record a submission to some authorities only (`submission`: e.g. the EU MIR filed while the
 * NMPA report is still due; src/vigilance/incident-triage.ts). The kinds' check constraint gains that value.
 */
export class IncidentSubmissions1764290000000 implements MigrationInterface {
  name = 'IncidentSubmissions1764290000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE incident_events DROP CONSTRAINT incident_events_kinds_check`);
    await queryRunner.query(`
      ALTER TABLE incident_events ADD CONSTRAINT incident_events_kinds_check CHECK (
        cardinality(kinds) > 0
        AND kinds <@ ARRAY['created', 'new_information', 'reassessment', 'transition', 'coding', 'update', 'submission'])`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE incident_events DROP CONSTRAINT incident_events_kinds_check`);
    await queryRunner.query(`
      ALTER TABLE incident_events ADD CONSTRAINT incident_events_kinds_check CHECK (
        cardinality(kinds) > 0
        AND kinds <@ ARRAY['created', 'new_information', 'reassessment', 'transition', 'coding', 'update'])`);
  }
}
