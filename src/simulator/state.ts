/**
 * The simulator's local state: signing secrets the platform issued (shown once, so they must be kept) and the
 * manufacturer API key the simulator created for itself, keyed by API URL + manufacturer. It lives under `.local/`
 * (git-ignored), is written atomically with owner-only permissions, and is saved after every secret obtained —
 * a secret that is rotated and then lost would lock the simulator out of that device.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface SimulatorStateEntry {
  apiUrl: string;
  manufacturerId: string | null;
  manufacturerName: string | null;
  /** Only a key the simulator created itself (bootstrap flow); a key passed in by the user is never written down. */
  apiKey: string | null;
  /** SHA-256 prefix of the API key in use, to find this entry again from `--api-key` without storing the key. */
  apiKeyFingerprint: string;
  productId: string | null;
  devices: Record<string, string>;
  dataSources: Record<string, string>;
  updatedAt: string;
}

interface SimulatorStateFile {
  version: 1;
  entries: Record<string, SimulatorStateEntry>;
}

export function apiKeyFingerprint(apiKey: string): string {
  return createHash('sha256').update(apiKey, 'utf8').digest('hex').slice(0, 16);
}

/** Entry key: API URL + the manufacturer (its id when known, else the fingerprint of the key in use). */
export function stateKeyFor(apiUrl: string, manufacturer: { id: string } | { apiKey: string }): string {
  return 'id' in manufacturer
    ? `${apiUrl}|manufacturer:${manufacturer.id}`
    : `${apiUrl}|key:${apiKeyFingerprint(manufacturer.apiKey)}`;
}

export class SimulatorStateStore {
  private state: SimulatorStateFile = { version: 1, entries: {} };

  constructor(readonly filePath: string) {}

  /** Reads the file if it exists; a missing file is an empty state, a corrupt one an error (never silently reset). */
  load(): this {
    let text: string;
    try {
      text = readFileSync(this.filePath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return this;
      throw error;
    }
    const parsed = JSON.parse(text) as Partial<SimulatorStateFile>;
    if (parsed.version !== 1 || typeof parsed.entries !== 'object' || parsed.entries === null) {
      throw new Error(`${this.filePath} is not a simulator state file (version 1)`);
    }
    this.state = { version: 1, entries: parsed.entries };
    return this;
  }

  save(): void {
    mkdirSync(path.dirname(this.filePath), { recursive: true, mode: 0o700 });
    const temporary = `${this.filePath}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(this.state, null, 2) + '\n', { mode: 0o600 });
    renameSync(temporary, this.filePath);
  }

  get(key: string): SimulatorStateEntry | undefined {
    return this.state.entries[key];
  }

  /** The entry for `key`, created empty if missing. */
  entry(
    key: string,
    init: Omit<SimulatorStateEntry, 'devices' | 'dataSources' | 'updatedAt' | 'productId'>,
  ): SimulatorStateEntry {
    let entry = this.state.entries[key];
    if (!entry) {
      entry = { ...init, productId: null, devices: {}, dataSources: {}, updatedAt: new Date().toISOString() };
      this.state.entries[key] = entry;
    }
    return entry;
  }

  touch(entry: SimulatorStateEntry): void {
    entry.updatedAt = new Date().toISOString();
    this.save();
  }

  /**
   * The entry to sign with when the API is not called (`--no-register`, `--dry-run`): the one matching the API key's
   * fingerprint if a key is given, else the most recently updated entry for the API URL.
   */
  findForApi(apiUrl: string, apiKey: string | undefined): SimulatorStateEntry | undefined {
    const candidates = Object.values(this.state.entries).filter((entry) => entry.apiUrl === apiUrl);
    if (apiKey !== undefined) {
      const fingerprint = apiKeyFingerprint(apiKey);
      const match = candidates.find((entry) => entry.apiKeyFingerprint === fingerprint);
      if (match) return match;
    }
    return candidates.sort((a, b) => b.updatedAt.localeCompare(a.updatedAt))[0];
  }
}
