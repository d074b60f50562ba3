import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { SecretBox } from '../auth/secret-box';
import { matchingSecretIndex } from '../kafka/signature';
import { secretBinding } from '../registry/registry.service';

export type SenderKind = 'device' | 'data-source';

/** The secret a rotation replaced (POST …/secret-rotations), opened in memory only. */
export interface PreviousSecret {
  secret: string;
  keyId: string;
  /** Events signed with it are accepted before this instant and dead-lettered as retired_secret after. */
  validUntil: Date;
}

/** What ingestion needs to know about a registered sender, with its secret opened in memory only. */
export interface Sender {
  kind: SenderKind;
  id: string;
  code: string;
  manufacturerId: string;
  /** Devices belong to a product; data sources serve a site for the whole tenant. */
  productId: string | null;
  siteId: string;
  siteCode: string;
  secret: string;
  /** Non-secret id of `secret` (absent in hand-built senders of unit tests). */
  secretKeyId?: string;
  /** The secret the last rotation replaced; absent or null: never rotated (or not decryptable). */
  previousSecret?: PreviousSecret | null;
  /**
   * When the sender was revoked (POST …/revoke); its events are then dead-lettered as revoked_sender.
   * Absent or null: not revoked.
   */
  revokedAt?: Date | null;
}

/** What the decoder needs of a sender directory: load a batch's codes, then answer from memory. */
export interface SenderLookup {
  load(kind: SenderKind, codes: Iterable<string>, forceRefresh?: boolean): Promise<void>;
  get(kind: SenderKind, code: string): Sender | null;
}

/**
 * Registered senders are re-read after this long, so rotations, revocations and new registrations take
 * effect (a revoked sender's events are dead-lettered at the latest this long after the revocation, and
 * a previous secret whose overlap was shorter than this at the latest this long after the rotation).
 * A new secret does not wait for it: a signature that fails re-reads the sender at once (see load).
 */
const POSITIVE_TTL_MS = 30_000;
/**
 * An unknown code is looked up again only after this long, so a storm of messages from an
 * unregistered sender costs one query, not one per message.
 */
const NEGATIVE_TTL_MS = 5_000;

interface Entry {
  sender: Sender | null;
  loadedAt: number;
  expiresAt: number;
  /** When a signature failure last re-read this sender (0: never). */
  forcedAt: number;
}

/**
 * A forced re-read (after a signature failure) happens at most this often per sender, so a flood of
 * forged messages naming a registered sender costs one query per this interval, not one per batch.
 * It is measured from the last *forced* re-read, not from the last load: the first message signed with
 * a secret rotated moments after the sender was loaded still re-reads it and is accepted.
 */
const FORCED_REFRESH_MIN_INTERVAL_MS = 2_000;

interface SenderRow {
  id: string;
  code: string;
  manufacturer_id: string;
  product_id: string | null;
  site_id: string;
  site_code: string;
  secret_ciphertext: Buffer;
  secret_key_id: string;
  previous_secret_ciphertext: Buffer | null;
  previous_secret_key_id: string | null;
  previous_secret_valid_until: Date | null;
  revoked_at: Date | null;
}

/** How a message's signature relates to its sender's secrets (see verifySenderSignature). */
export type SignatureVerdict =
  | { verdict: 'current' }
  /** Signed with the previous secret, inside its overlap: accepted. */
  | { verdict: 'previous'; keyId: string; validUntil: Date }
  /** Signed with the previous secret after its overlap ended: dead-lettered as retired_secret. */
  | { verdict: 'retired'; keyId: string; validUntil: Date }
  | { verdict: 'invalid' };

/**
 * Checks a signature against the sender's current secret and, if it has one, the secret its last
 * rotation replaced — never more than these two, always both (constant time, matchingSecretIndex).
 * The previous secret is tried after its overlap too, only to tell an out-of-date sender
 * (`retired`) from a forgery (`invalid`); it is never accepted then.
 */
export function verifySenderSignature(
  sender: Sender,
  value: Buffer,
  header: string,
  now: number,
): SignatureVerdict {
  const previous = sender.previousSecret ?? null;
  const secrets = previous ? [sender.secret, previous.secret] : [sender.secret];
  const index = matchingSecretIndex(secrets, value, header);
  if (index === 0) return { verdict: 'current' };
  if (index === 1 && previous) {
    const window = { keyId: previous.keyId, validUntil: previous.validUntil };
    return now < previous.validUntil.getTime()
      ? { verdict: 'previous', ...window }
      : { verdict: 'retired', ...window };
  }
  return { verdict: 'invalid' };
}

/**
 * In-process directory of devices and data sources for the consumers. Loaded per batch for just the
 * codes that batch names (one query per kind), then answered from memory for every message.
 */
export class SenderDirectory implements SenderLookup {
  private readonly logger = new Logger(SenderDirectory.name);
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly secretBox: SecretBox,
  ) {}

  private static key(kind: SenderKind, code: string): string {
    return `${kind}\u0000${code}`;
  }

  get(kind: SenderKind, code: string): Sender | null {
    return this.entries.get(SenderDirectory.key(kind, code))?.sender ?? null;
  }

  /** Makes sure every code has a fresh entry; `forceRefresh` re-reads codes whose signature just failed. */
  async load(kind: SenderKind, codes: Iterable<string>, forceRefresh = false): Promise<void> {
    const now = Date.now();
    const stale = [...new Set(codes)].filter((code) => {
      const entry = this.entries.get(SenderDirectory.key(kind, code));
      return (
        !entry ||
        entry.expiresAt <= now ||
        (forceRefresh && entry.sender !== null && now - entry.forcedAt > FORCED_REFRESH_MIN_INTERVAL_MS)
      );
    });
    if (stale.length === 0) return;

    const rows: SenderRow[] =
      kind === 'device'
        ? await this.dataSource.query(
            `SELECT d.id, d.device_code AS code, d.manufacturer_id, d.product_id, d.site_id, s.site_code,
                    d.secret_ciphertext, d.secret_key_id, d.previous_secret_ciphertext,
                    d.previous_secret_key_id, d.previous_secret_valid_until, d.revoked_at
               FROM devices d JOIN sites s ON s.id = d.site_id
              WHERE d.device_code = ANY($1)`,
            [stale],
          )
        : await this.dataSource.query(
            `SELECT c.id, c.source_code AS code, c.manufacturer_id, NULL::uuid AS product_id, c.site_id, s.site_code,
                    c.secret_ciphertext, c.secret_key_id, c.previous_secret_ciphertext,
                    c.previous_secret_key_id, c.previous_secret_valid_until, c.revoked_at
               FROM data_sources c JOIN sites s ON s.id = c.site_id
              WHERE c.source_code = ANY($1)`,
            [stale],
          );
    const found = new Map(rows.map((row) => [row.code, row]));
    if (this.entries.size > 200_000) this.entries.clear();
    for (const code of stale) {
      const forcedAt = forceRefresh
        ? now
        : (this.entries.get(SenderDirectory.key(kind, code))?.forcedAt ?? 0);
      const row = found.get(code);
      let sender: Sender | null = null;
      if (row) {
        try {
          sender = {
            kind,
            id: row.id,
            code,
            manufacturerId: row.manufacturer_id,
            productId: row.product_id,
            siteId: row.site_id,
            siteCode: row.site_code,
            secret: this.secretBox.open(row.secret_ciphertext, secretBinding(kind, code)),
            secretKeyId: row.secret_key_id,
            previousSecret: this.openPrevious(kind, code, row),
            revokedAt: row.revoked_at,
          };
        } catch {
          // A secret that does not open (wrong master key, row tampered) makes the sender unusable;
          // its events dead-letter as unknown_sender rather than crash the consumer.
          this.logger.error(`Signing secret of ${kind} ${code} cannot be decrypted with FW_MASTER_KEY`);
        }
      }
      const ttl = sender ? POSITIVE_TTL_MS : NEGATIVE_TTL_MS;
      this.entries.set(SenderDirectory.key(kind, code), {
        sender,
        loadedAt: now,
        expiresAt: now + ttl,
        forcedAt,
      });
    }
  }

  /**
   * The previous secret, if the sender has one. One that does not open is dropped (with an error logged)
   * rather than making the sender unusable: its events then fail as signature_invalid.
   */
  private openPrevious(kind: SenderKind, code: string, row: SenderRow): PreviousSecret | null {
    if (!row.previous_secret_ciphertext || !row.previous_secret_key_id || !row.previous_secret_valid_until) {
      return null;
    }
    try {
      return {
        secret: this.secretBox.open(row.previous_secret_ciphertext, secretBinding(kind, code)),
        keyId: row.previous_secret_key_id,
        validUntil: row.previous_secret_valid_until,
      };
    } catch {
      this.logger.error(
        `Previous signing secret ${row.previous_secret_key_id} of ${kind} ${code} cannot be decrypted with FW_MASTER_KEY`,
      );
      return null;
    }
  }
}
