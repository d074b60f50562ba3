import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { SecretBox } from '../auth/secret-box';
import { secretBinding } from '../registry/registry.service';

export type SenderKind = 'device' | 'data-source';

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
 * effect (a revoked sender's events are dead-lettered at the latest this long after the revocation).
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
}

/** A forced re-read (after a signature failure) happens at most this often per sender. */
const FORCED_REFRESH_MIN_AGE_MS = 2_000;

interface SenderRow {
  id: string;
  code: string;
  manufacturer_id: string;
  product_id: string | null;
  site_id: string;
  site_code: string;
  secret_ciphertext: Buffer;
  revoked_at: Date | null;
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
        (forceRefresh && entry.sender !== null && now - entry.loadedAt > FORCED_REFRESH_MIN_AGE_MS)
      );
    });
    if (stale.length === 0) return;

    const rows: SenderRow[] =
      kind === 'device'
        ? await this.dataSource.query(
            `SELECT d.id, d.device_code AS code, d.manufacturer_id, d.product_id, d.site_id, s.site_code,
                    d.secret_ciphertext, d.revoked_at
               FROM devices d JOIN sites s ON s.id = d.site_id
              WHERE d.device_code = ANY($1)`,
            [stale],
          )
        : await this.dataSource.query(
            `SELECT c.id, c.source_code AS code, c.manufacturer_id, NULL::uuid AS product_id, c.site_id, s.site_code,
                    c.secret_ciphertext, c.revoked_at
               FROM data_sources c JOIN sites s ON s.id = c.site_id
              WHERE c.source_code = ANY($1)`,
            [stale],
          );
    const found = new Map(rows.map((row) => [row.code, row]));
    if (this.entries.size > 200_000) this.entries.clear();
    for (const code of stale) {
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
            revokedAt: row.revoked_at,
          };
        } catch {
          // A secret that does not open (wrong master key, row tampered) makes the sender unusable;
          // its events dead-letter as unknown_sender rather than crash the consumer.
          this.logger.error(`Signing secret of ${kind} ${code} cannot be decrypted with FW_MASTER_KEY`);
        }
      }
      const ttl = sender ? POSITIVE_TTL_MS : NEGATIVE_TTL_MS;
      this.entries.set(SenderDirectory.key(kind, code), { sender, loadedAt: now, expiresAt: now + ttl });
    }
  }
}
