import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Revocation of senders (issue 8 §4). A revoked device or data source stays registered (its history,
 * analyses and audit trail refer to it) but its events go to the dead-letter topic as
 * `revoked_sender`, whatever they are signed with. Revocation is final: a new installation gets a new
 * deviceId / sourceId. Who revoked it, when and why is in audit_log (device.revoke, data_source.revoke).
 */
export class SenderRevocation1764262800000 implements MigrationInterface {
  name = 'SenderRevocation1764262800000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE devices ADD COLUMN revoked_at timestamptz;
      ALTER TABLE data_sources ADD COLUMN revoked_at timestamptz;
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE data_sources DROP COLUMN revoked_at;
      ALTER TABLE devices DROP COLUMN revoked_at;
    `);
  }
}
