import { BadRequestException, Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { runAsSystem } from '../database/tenant-context';
import { Principal, Role } from '../auth/roles';
import { tenantForRead } from '../auth/tenant-scope';
import { Page } from '../common/pagination';
import { AUDIT_ACTIONS, AuditAction } from './audit-actions';
import { checkpointMessage, entryHash, GENESIS_HASH } from './audit-chain';
import { AuditSigner, keyFingerprint, parsePublicKey, verifySignature } from './audit-signer';
import { AuditQueryDto } from './audit.dto';
import { canonicalJson, stateDigest } from './canonical';

/** Who did it: an API key (with its role and tenant at the time), or the platform itself. */
export type AuditActor =
  { type: 'api_key'; apiKeyId: string; role: Role; manufacturerId: string | null } | { type: 'system' };

export function actorOf(principal: Principal): AuditActor {
  return {
    type: 'api_key',
    apiKeyId: principal.apiKeyId,
    role: principal.role,
    manufacturerId: principal.manufacturerId,
  };
}

export const SYSTEM_ACTOR: AuditActor = { type: 'system' };

export interface AuditEntryInput {
  actor: AuditActor;
  action: AuditAction;
  entityId: string;
  /** The tenant the entity belongs to (null only for platform-level objects such as admin keys). */
  manufacturerId: string | null;
  /** State before the change (null for a create). Digested, never stored: it must hold no secret. */
  before?: object | null;
  /** State after the change. Digested, never stored. */
  after?: object | null;
  reason?: string | null;
  /** Small, non-secret facts worth reading without the object (e.g. changed field names). Stored. */
  details?: object | null;
}

export interface AuditEntryView {
  id: string;
  recordedAt: string;
  actor: { type: string; apiKeyId: string | null; role: string | null; manufacturerId: string | null };
  action: string;
  entityType: string;
  entityId: string;
  manufacturerId: string | null;
  beforeDigest: string | null;
  afterDigest: string | null;
  reason: string | null;
  details: unknown;
  prevHash: string;
  entryHash: string;
}

export interface AuditCheckpointView {
  id: string;
  lastEntryId: string;
  lastEntryHash: string;
  signedAt: string;
  algorithm: 'ed25519';
  keyFingerprint: string;
  publicKey: string;
  signature: string;
}

export interface AuditVerification {
  ok: boolean;
  /** Entries whose hash and link were verified (all of them when ok). */
  entries: number;
  firstBrokenEntryId: string | null;
  reason: string | null;
  /** A checkpoint that failed on its own (bad signature, untrusted key), if that is what failed. */
  firstBrokenCheckpointId: string | null;
  head: { lastEntryId: string; lastEntryHash: string };
  checkpoints: { total: number; verified: number; lastVerifiedEntryId: string | null };
  signingKey: { fingerprint: string; publicKey: string; ephemeral: boolean };
}

interface ChainRow {
  id: string;
  recorded_us: string;
  actor_type: string;
  actor_api_key_id: string | null;
  actor_role: string | null;
  actor_manufacturer_id: string | null;
  action: string;
  entity_type: string;
  entity_id: string;
  manufacturer_id: string | null;
  before_digest: string | null;
  after_digest: string | null;
  reason: string | null;
  details: string | null;
  prev_hash: Buffer;
  entry_hash: Buffer;
}

interface CheckpointRow {
  id: string;
  last_entry_id: string;
  last_entry_hash: Buffer;
  signed_at: string;
  algorithm: 'ed25519';
  public_key: Buffer;
  key_fingerprint: string;
  signature: Buffer;
}

const VERIFY_BATCH = 5_000;
const DEFAULT_PAGE = 100;

/** Columns of a listed entry; recorded_at with its microseconds, as the database holds it. */
const ENTRY_COLUMNS = `
  id::text AS id,
  to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS recorded_at,
  actor_type, actor_api_key_id::text AS actor_api_key_id, actor_role,
  actor_manufacturer_id::text AS actor_manufacturer_id, action, entity_type, entity_id,
  manufacturer_id::text AS manufacturer_id, encode(before_digest, 'hex') AS before_digest,
  encode(after_digest, 'hex') AS after_digest, reason, details,
  encode(prev_hash, 'hex') AS prev_hash, encode(entry_hash, 'hex') AS entry_hash`;

interface EntryRow {
  id: string;
  recorded_at: string;
  actor_type: string;
  actor_api_key_id: string | null;
  actor_role: string | null;
  actor_manufacturer_id: string | null;
  action: string;
  entity_type: string;
  entity_id: string;
  manufacturer_id: string | null;
  before_digest: string | null;
  after_digest: string | null;
  reason: string | null;
  details: string | null;
  prev_hash: string;
  entry_hash: string;
}

function encodeCursor(id: string): string {
  return Buffer.from(`a:${id}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string | undefined): string | null {
  if (!cursor) return null;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^a:([1-9][0-9]{0,18})$/.exec(text);
  if (!match) throw new BadRequestException('cursor is not one this API issued; start again without it');
  return match[1];
}

/**
 * The audit trail (DESIGN.md §3 `audit`; 21 CFR 11.10(e)). Writers call `record` inside the
 * transaction of the change they record, so the change and its entry commit or roll back together;
 * the database chains the entry (see migrations/1764259200000-AuditTrail.ts).
 */
@Injectable()
export class AuditService {
  private readonly logger = new Logger(AuditService.name);
  private readonly signer: AuditSigner;
  /** Keys whose checkpoints verify counts as genuine: the current one and FW_AUDIT_TRUSTED_PUBLIC_KEYS. */
  private readonly trustedKeys = new Set<string>();
  private readonly checkpointEvery: bigint;
  /** The walk in progress: concurrent verify calls share it, so the API cannot be made to run many. */
  private verifying: Promise<AuditVerification> | null = null;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.signer = AuditSigner.fromConfig(config.FW_AUDIT_SIGNING_KEY);
    this.trustedKeys.add(this.signer.fingerprint);
    for (const encoded of (config.FW_AUDIT_TRUSTED_PUBLIC_KEYS ?? '').split(',').filter((s) => s.trim())) {
      this.trustedKeys.add(keyFingerprint(parsePublicKey(encoded)));
    }
    this.checkpointEvery = BigInt(config.FW_AUDIT_CHECKPOINT_EVERY);
    if (this.signer.ephemeral) {
      this.logger.warn(
        '!!! FW_AUDIT_SIGNING_KEY is not set: audit checkpoints are signed with an EPHEMERAL key generated ' +
          `for this process (fingerprint ${this.signer.fingerprint}). After a restart they no longer verify ` +
          'as trusted. Set FW_AUDIT_SIGNING_KEY (required when NODE_ENV=production). !!!',
      );
    } else {
      this.logger.log(`Audit checkpoints are signed with key ${this.signer.fingerprint}`);
    }
  }

  /**
   * Appends one entry. Pass the EntityManager of the transaction that makes the change; without one
   * the entry is written in a transaction of its own.
   */
  async record(input: AuditEntryInput, manager?: EntityManager): Promise<{ id: string; entryHash: string }> {
    if (!manager) return this.dataSource.transaction((own) => this.record(input, own));
    const definition = AUDIT_ACTIONS[input.action];
    if (!definition) throw new Error(`Audit action ${String(input.action)} is not in AUDIT_ACTIONS`);
    const reason = input.reason?.trim() ? input.reason.trim() : null;
    if (definition.requiresReason && !reason) {
      throw new BadRequestException(`A reason is required for ${input.action}`);
    }
    const actor = input.actor;
    const rows: Array<{ id: string; entry_hash: Buffer }> = await manager.query(
      `INSERT INTO audit_log (actor_type, actor_api_key_id, actor_role, actor_manufacturer_id, action, entity_type,
                              entity_id, manufacturer_id, before_digest, after_digest, reason, details)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       RETURNING id::text AS id, entry_hash`,
      [
        actor.type,
        actor.type === 'api_key' ? actor.apiKeyId : null,
        actor.type === 'api_key' ? actor.role : null,
        actor.type === 'api_key' ? actor.manufacturerId : null,
        input.action,
        definition.entityType,
        input.entityId,
        input.manufacturerId,
        stateDigest(input.before),
        stateDigest(input.after),
        reason,
        input.details ? canonicalJson(input.details) : null,
      ],
    );
    const { id, entry_hash: hash } = rows[0];
    if (BigInt(id) % this.checkpointEvery === 0n) await this.insertCheckpoint(manager, id, hash);
    return { id, entryHash: hash.toString('hex') };
  }

  /** Signs the current head now (on demand); null when the trail is still empty. */
  async checkpoint(): Promise<AuditCheckpointView | null> {
    return this.dataSource.transaction(async (manager) => {
      const [head] = await manager.query<Array<{ last_id: string; last_hash: Buffer }>>(
        `SELECT last_id::text AS last_id, last_hash FROM audit_chain_head`,
      );
      if (!head || head.last_id === '0') return null;
      return this.insertCheckpoint(manager, head.last_id, head.last_hash);
    });
  }

  private async insertCheckpoint(
    manager: EntityManager,
    lastId: string,
    lastHash: Buffer,
  ): Promise<AuditCheckpointView> {
    const signature = this.signer.sign(checkpointMessage(lastId, lastHash));
    const [row] = await manager.query<CheckpointRow[]>(
      `INSERT INTO audit_checkpoints (last_entry_id, last_entry_hash, algorithm, public_key, key_fingerprint, signature)
       VALUES ($1, $2, 'ed25519', $3, $4, $5)
       RETURNING id::text AS id, last_entry_id::text AS last_entry_id, last_entry_hash,
                 to_char(signed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS signed_at,
                 algorithm, public_key, key_fingerprint, signature`,
      [lastId, lastHash, this.signer.publicKey, this.signer.fingerprint, signature],
    );
    return {
      id: row.id,
      lastEntryId: row.last_entry_id,
      lastEntryHash: row.last_entry_hash.toString('hex'),
      signedAt: row.signed_at,
      algorithm: row.algorithm,
      keyFingerprint: row.key_fingerprint,
      publicKey: row.public_key.toString('hex'),
      signature: row.signature.toString('hex'),
    };
  }

  /** Entries newest first, scoped to the caller's tenant (a platform admin sees every entry). */
  async list(principal: Principal, query: AuditQueryDto): Promise<Page<AuditEntryView>> {
    const conditions: string[] = [];
    const parameters: unknown[] = [];
    const add = (sql: string, value: unknown) => {
      parameters.push(value);
      conditions.push(sql.replace('?', `$${parameters.length}`));
    };
    const tenant = tenantForRead(principal);
    if (tenant) add('manufacturer_id = ?', tenant);
    if (query.entityType) add('entity_type = ?', query.entityType);
    if (query.entityId) add('entity_id = ?', query.entityId);
    if (query.from) add('recorded_at >= ?::timestamptz', query.from);
    if (query.to) add('recorded_at < ?::timestamptz', query.to);
    const filtered = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
    const [{ total }] = await this.dataSource.query<Array<{ total: number }>>(
      `SELECT count(*)::int AS total FROM audit_log ${filtered}`,
      parameters,
    );

    const limit = query.limit ?? DEFAULT_PAGE;
    const after = decodeCursor(query.cursor);
    if (after) add('id < ?::bigint', after);
    const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
    const rows = await this.dataSource.query<EntryRow[]>(
      `SELECT ${ENTRY_COLUMNS} FROM audit_log ${where} ORDER BY audit_log.id DESC LIMIT ${limit + 1}`,
      parameters,
    );
    const items = rows.slice(0, limit).map((row) => this.view(row));
    const last = items[items.length - 1];
    return { total, items, nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null };
  }

  private view(row: EntryRow): AuditEntryView {
    return {
      id: row.id,
      recordedAt: row.recorded_at,
      actor: {
        type: row.actor_type,
        apiKeyId: row.actor_api_key_id,
        role: row.actor_role,
        manufacturerId: row.actor_manufacturer_id,
      },
      action: row.action,
      entityType: row.entity_type,
      entityId: row.entity_id,
      manufacturerId: row.manufacturer_id,
      beforeDigest: row.before_digest,
      afterDigest: row.after_digest,
      reason: row.reason,
      details: row.details === null ? null : (JSON.parse(row.details) as unknown),
      prevHash: row.prev_hash,
      entryHash: row.entry_hash,
    };
  }

  /**
   * Walks the whole chain in one consistent snapshot and recomputes every hash here, independently of
   * the database's trigger: each entry's prev_hash must be its predecessor's hash, its entry_hash must
   * match its fields, ids must be gapless, the chain head must name the last entry, and every checkpoint
   * must carry a valid signature by a trusted key over a hash that the chain still has.
   */
  verify(): Promise<AuditVerification> {
    // The chain spans every tenant: it is walked whole whoever asks (the answer names entry ids only).
    this.verifying ??= runAsSystem(() => this.walk()).finally(() => {
      this.verifying = null;
    });
    return this.verifying;
  }

  private walk(): Promise<AuditVerification> {
    return this.dataSource.transaction('REPEATABLE READ', async (manager) => {
      const [head] = await manager.query<Array<{ last_id: string; last_hash: Buffer }>>(
        `SELECT last_id::text AS last_id, last_hash FROM audit_chain_head`,
      );
      const checkpointRows = await manager.query<CheckpointRow[]>(
        `SELECT id::text AS id, last_entry_id::text AS last_entry_id, last_entry_hash, signed_at::text AS signed_at,
                algorithm, public_key, key_fingerprint, signature
           FROM audit_checkpoints ORDER BY audit_checkpoints.last_entry_id, audit_checkpoints.id`,
      );

      const result: AuditVerification = {
        ok: true,
        entries: 0,
        firstBrokenEntryId: null,
        reason: null,
        firstBrokenCheckpointId: null,
        head: { lastEntryId: head.last_id, lastEntryHash: head.last_hash.toString('hex') },
        checkpoints: { total: checkpointRows.length, verified: 0, lastVerifiedEntryId: null },
        signingKey: {
          fingerprint: this.signer.fingerprint,
          publicKey: this.signer.publicKey.toString('hex'),
          ephemeral: this.signer.ephemeral,
        },
      };
      const fail = (entryId: string | null, reason: string, checkpointId: string | null = null) => {
        result.ok = false;
        result.firstBrokenEntryId = entryId;
        result.reason = reason;
        result.firstBrokenCheckpointId = checkpointId;
        return result;
      };

      // A checkpoint counts only when its signature is valid under a key we trust; otherwise it is
      // itself the finding (a forged or re-signed checkpoint must not vouch for a rewritten chain).
      let signatureProblem: { checkpointId: string; reason: string } | null = null;
      const signedHashes = new Map<string, Array<{ checkpointId: string; hash: Buffer }>>();
      for (const checkpoint of checkpointRows) {
        const fingerprint = keyFingerprint(checkpoint.public_key);
        const genuine =
          fingerprint === checkpoint.key_fingerprint &&
          verifySignature(
            checkpoint.public_key,
            checkpointMessage(checkpoint.last_entry_id, checkpoint.last_entry_hash),
            checkpoint.signature,
          );
        if (!genuine) {
          signatureProblem ??= {
            checkpointId: checkpoint.id,
            reason: `checkpoint ${checkpoint.id} (entry ${checkpoint.last_entry_id}): signature does not verify`,
          };
          continue;
        }
        if (!this.trustedKeys.has(fingerprint)) {
          signatureProblem ??= {
            checkpointId: checkpoint.id,
            reason:
              `checkpoint ${checkpoint.id} (entry ${checkpoint.last_entry_id}) is signed by key ${fingerprint}, ` +
              'which is neither FW_AUDIT_SIGNING_KEY nor listed in FW_AUDIT_TRUSTED_PUBLIC_KEYS',
          };
          continue;
        }
        const list = signedHashes.get(checkpoint.last_entry_id) ?? [];
        list.push({ checkpointId: checkpoint.id, hash: checkpoint.last_entry_hash });
        signedHashes.set(checkpoint.last_entry_id, list);
      }

      let previousHash: Buffer = GENESIS_HASH;
      let previousId = 0n;
      let lastCheckpointedId: bigint | null = null;
      for (;;) {
        const rows = await manager.query<ChainRow[]>(
          `SELECT id::text AS id, ((extract(epoch FROM recorded_at) * 1000000)::bigint)::text AS recorded_us,
                  actor_type, actor_api_key_id::text AS actor_api_key_id, actor_role,
                  actor_manufacturer_id::text AS actor_manufacturer_id, action, entity_type, entity_id,
                  manufacturer_id::text AS manufacturer_id, encode(before_digest, 'hex') AS before_digest,
                  encode(after_digest, 'hex') AS after_digest, reason, details, prev_hash, entry_hash
             FROM audit_log WHERE id > $1 ORDER BY audit_log.id LIMIT ${VERIFY_BATCH}`,
          [previousId.toString()],
        );
        for (const row of rows) {
          const id = BigInt(row.id);
          if (id !== previousId + 1n) {
            return fail(
              row.id,
              `entries ${previousId + 1n}–${id - 1n} are missing: the chain jumps from ${previousId} to ${id}`,
            );
          }
          if (!row.prev_hash.equals(previousHash)) {
            return fail(row.id, `entry ${row.id}: prev_hash does not match the hash of entry ${previousId}`);
          }
          const recomputed = entryHash(previousHash, {
            id: row.id,
            recordedAtMicros: row.recorded_us,
            actorType: row.actor_type,
            actorApiKeyId: row.actor_api_key_id,
            actorRole: row.actor_role,
            actorManufacturerId: row.actor_manufacturer_id,
            action: row.action,
            entityType: row.entity_type,
            entityId: row.entity_id,
            manufacturerId: row.manufacturer_id,
            beforeDigest: row.before_digest,
            afterDigest: row.after_digest,
            reason: row.reason,
            details: row.details,
          });
          if (!recomputed.equals(row.entry_hash)) {
            return fail(
              row.id,
              `entry ${row.id}: its content does not match its entry_hash (altered after it was written)`,
            );
          }
          for (const signed of signedHashes.get(row.id) ?? []) {
            if (!signed.hash.equals(row.entry_hash)) {
              // The chain is self-consistent but differs from what was signed: everything after the last
              // checkpoint that still matches was rewritten and re-hashed.
              const firstSuspect = (lastCheckpointedId ?? 0n) + 1n;
              return fail(
                firstSuspect.toString(),
                `checkpoint ${signed.checkpointId} signed entry ${row.id} with another hash: entries ` +
                  `${firstSuspect}–${row.id} were rewritten after they were checkpointed`,
              );
            }
            result.checkpoints.verified += 1;
            result.checkpoints.lastVerifiedEntryId = row.id;
            lastCheckpointedId = id;
          }
          previousHash = row.entry_hash;
          previousId = id;
          result.entries += 1;
        }
        if (rows.length < VERIFY_BATCH) break;
      }

      const headId = BigInt(head.last_id);
      if (headId > previousId) {
        return fail(
          (previousId + 1n).toString(),
          `entries ${previousId + 1n}–${headId} are missing: the chain head records ${headId} entries`,
        );
      }
      if (headId < previousId || !head.last_hash.equals(previousHash)) {
        return fail(
          (headId < previousId ? headId + 1n : headId).toString(),
          `the chain head (entry ${headId}) does not match the last entry (${previousId})`,
        );
      }
      const beyond = [...signedHashes.keys()].find((entryId) => BigInt(entryId) > previousId);
      if (beyond) {
        return fail(
          (previousId + 1n).toString(),
          `a checkpoint covers entry ${beyond}, which no longer exists`,
        );
      }
      if (signatureProblem) return fail(null, signatureProblem.reason, signatureProblem.checkpointId);
      return result;
    });
  }
}
