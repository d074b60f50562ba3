import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Tamper-evident audit trail (21 CFR 11.10(e); NMPA AUDT; DESIGN.md §3 `audit`).
 *
 * - `audit_log`: one row per write, append-only (a trigger refuses UPDATE, DELETE and TRUNCATE).
 *   The application supplies only what happened (actor, action, entity, tenant, digests, reason,
 *   details); the database assigns `id`, `recorded_at`, `prev_hash` and `entry_hash` in a BEFORE
 *   INSERT trigger, whatever the client sent, so no writer can insert an unchained or back-dated row.
 * - `audit_chain_head`: one row holding the last id and hash. The trigger locks it (FOR UPDATE) while
 *   it appends, which serialises appends until the appending transaction ends: the chain never forks,
 *   and ids are gapless (a rolled-back append rolls the head back too), so a missing id is a deletion.
 * - `audit_checkpoints`: Ed25519 signatures over (last id, last hash), made by the application with
 *   FW_AUDIT_SIGNING_KEY; append-only as well.
 *
 * entry_hash = sha256(f('fieldwatch-audit/1') || prev_hash || f(id) || f(recorded_at in µs since the
 * epoch) || f(actor_type) || f(actor_api_key_id) || f(actor_role) || f(actor_manufacturer_id) ||
 * f(action) || f(entity_type) || f(entity_id) || f(manufacturer_id) || f(hex before_digest) ||
 * f(hex after_digest) || f(reason) || f(details)), where f(NULL) = 0xFFFFFFFF and f(t) = the 4-byte
 * big-endian length of t's UTF-8 bytes, then those bytes. src/audit/audit-chain.ts computes the same
 * bytes independently; GET /api/v1/audit/verify compares the two.
 *
 * Privileges: the triggers bind every role that does not disable them (only the table owner or a
 * superuser can). UPDATE, DELETE and TRUNCATE are also revoked from PUBLIC; a production deployment
 * should run the application as a role that does not own these tables and holds only SELECT and
 * INSERT on them (README, "Audit trail").
 */
export class AuditTrail1764259200000 implements MigrationInterface {
  name = 'AuditTrail1764259200000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE audit_chain_head (
        singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        last_id    bigint NOT NULL CHECK (last_id >= 0),
        last_hash  bytea NOT NULL CHECK (octet_length(last_hash) = 32)
      );
      INSERT INTO audit_chain_head (singleton, last_id, last_hash) VALUES (true, 0, decode(repeat('00', 32), 'hex'));

      CREATE TABLE audit_log (
        id                     bigint PRIMARY KEY,
        recorded_at            timestamptz NOT NULL,
        actor_type             text NOT NULL CHECK (actor_type IN ('api_key', 'system')),
        actor_api_key_id       uuid,
        actor_role             text,
        actor_manufacturer_id  uuid,
        action                 text NOT NULL CHECK (action ~ '^[a-z][a-z_]*\\.[a-z][a-z_]*$'),
        entity_type            text NOT NULL CHECK (length(entity_type) BETWEEN 1 AND 64),
        entity_id              text NOT NULL CHECK (length(entity_id) BETWEEN 1 AND 200),
        manufacturer_id        uuid,
        before_digest          bytea CHECK (octet_length(before_digest) = 32),
        after_digest           bytea CHECK (octet_length(after_digest) = 32),
        reason                 text CHECK (length(reason) BETWEEN 1 AND 2000),
        details                text,
        prev_hash              bytea NOT NULL CHECK (octet_length(prev_hash) = 32),
        entry_hash             bytea NOT NULL UNIQUE CHECK (octet_length(entry_hash) = 32),
        CHECK ((actor_type = 'api_key') = (actor_api_key_id IS NOT NULL)),
        CHECK (actor_type = 'system' OR actor_role IS NOT NULL)
      );
      CREATE INDEX audit_log_tenant ON audit_log (manufacturer_id, id DESC);
      CREATE INDEX audit_log_entity ON audit_log (entity_type, entity_id, id DESC);
      CREATE INDEX audit_log_time ON audit_log (recorded_at);

      CREATE TABLE audit_checkpoints (
        id               bigserial PRIMARY KEY,
        last_entry_id    bigint NOT NULL REFERENCES audit_log(id),
        last_entry_hash  bytea NOT NULL CHECK (octet_length(last_entry_hash) = 32),
        signed_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
        algorithm        text NOT NULL CHECK (algorithm = 'ed25519'),
        public_key       bytea NOT NULL CHECK (octet_length(public_key) = 32),
        key_fingerprint  text NOT NULL,
        signature        bytea NOT NULL CHECK (octet_length(signature) = 64)
      );
      CREATE INDEX audit_checkpoints_entry ON audit_checkpoints (last_entry_id);

      -- One field of the hashed material: length-prefixed UTF-8, NULL distinct from every string.
      CREATE FUNCTION audit_field(value text) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
        SELECT CASE WHEN value IS NULL THEN '\\xffffffff'::bytea
                    ELSE int4send(octet_length(convert_to(value, 'UTF8'))) || convert_to(value, 'UTF8') END
      $$;

      CREATE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        head audit_chain_head%ROWTYPE;
      BEGIN
        SELECT * INTO head FROM audit_chain_head WHERE singleton FOR UPDATE;
        NEW.id := head.last_id + 1;
        NEW.recorded_at := clock_timestamp();
        NEW.prev_hash := head.last_hash;
        NEW.entry_hash := sha256(
          audit_field('fieldwatch-audit/1') || NEW.prev_hash
          || audit_field(NEW.id::text)
          || audit_field(((extract(epoch FROM NEW.recorded_at) * 1000000)::bigint)::text)
          || audit_field(NEW.actor_type)
          || audit_field(NEW.actor_api_key_id::text)
          || audit_field(NEW.actor_role)
          || audit_field(NEW.actor_manufacturer_id::text)
          || audit_field(NEW.action)
          || audit_field(NEW.entity_type)
          || audit_field(NEW.entity_id)
          || audit_field(NEW.manufacturer_id::text)
          || audit_field(encode(NEW.before_digest, 'hex'))
          || audit_field(encode(NEW.after_digest, 'hex'))
          || audit_field(NEW.reason)
          || audit_field(NEW.details));
        UPDATE audit_chain_head SET last_id = NEW.id, last_hash = NEW.entry_hash WHERE singleton;
        RETURN NEW;
      END $$;
      CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_chain();

      CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
      END $$;
      CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
      CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
      CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
        FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
      CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
        FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

      -- The head moves only from inside audit_log_chain (trigger depth 2), never by a direct statement.
      CREATE FUNCTION audit_chain_head_guard() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP <> 'UPDATE' OR pg_trigger_depth() < 2 THEN
          RAISE EXCEPTION 'audit_chain_head moves only when audit_log is appended to: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER audit_chain_head_guard BEFORE UPDATE OR DELETE ON audit_chain_head
        FOR EACH ROW EXECUTE FUNCTION audit_chain_head_guard();
      CREATE TRIGGER audit_chain_head_no_truncate BEFORE TRUNCATE ON audit_chain_head
        FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

      REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, audit_checkpoints, audit_chain_head FROM PUBLIC;
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      DROP TABLE audit_checkpoints, audit_log, audit_chain_head;
      DROP FUNCTION audit_log_chain(), audit_refuse_change(), audit_chain_head_guard(), audit_field(text);
    `);
  }
}
