import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Rotation of device and data-source signing secrets with an overlap period (issue 8 §4).
 *
 * - `secret_key_id`: a random, non-secret identifier of the current secret ("sk_" + 32 hex), returned
 *   with the secret when it is issued and named in the audit trail and in dead letters instead of the
 *   secret. Existing rows get a fresh id here (it is not derived from the secret, so no key is needed).
 * - `previous_secret_*`: the secret the last rotation replaced, as AES-256-GCM ciphertext under
 *   FW_MASTER_KEY with the same associated data as the current one (`device:<code>` /
 *   `data-source:<code>`), its key id, and the instant until which events signed with it are still
 *   accepted. After that instant such events go to the dead-letter topic as `retired_secret`. The next
 *   rotation overwrites all three: a sender has at most two secrets, the current one and the previous.
 *
 * Who rotated, when, why, and which key ids were involved is in audit_log (`device.secret_rotate`,
 * `data_source.secret_rotate`); never the secret.
 */
export class SecretRotation1764266400000 implements MigrationInterface {
  name = 'SecretRotation1764266400000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['devices', 'data_sources']) {
      await queryRunner.query(`
        ALTER TABLE ${table}
          ADD COLUMN secret_key_id text NOT NULL
            DEFAULT ('sk_' || replace(gen_random_uuid()::text, '-', ''))
            CHECK (secret_key_id ~ '^sk_[0-9a-f]{32}$'),
          ADD COLUMN previous_secret_ciphertext bytea,
          ADD COLUMN previous_secret_key_id text CHECK (previous_secret_key_id ~ '^sk_[0-9a-f]{32}$'),
          ADD COLUMN previous_secret_valid_until timestamptz,
          ADD CONSTRAINT ${table}_previous_secret_complete CHECK (
            (previous_secret_ciphertext IS NULL) = (previous_secret_key_id IS NULL)
            AND (previous_secret_key_id IS NULL) = (previous_secret_valid_until IS NULL)
          );
        ALTER TABLE ${table} ALTER COLUMN secret_key_id DROP DEFAULT;
      `);
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['data_sources', 'devices']) {
      await queryRunner.query(`
        ALTER TABLE ${table}
          DROP CONSTRAINT ${table}_previous_secret_complete,
          DROP COLUMN previous_secret_valid_until,
          DROP COLUMN previous_secret_key_id,
          DROP COLUMN previous_secret_ciphertext,
          DROP COLUMN secret_key_id;
      `);
    }
  }
}
