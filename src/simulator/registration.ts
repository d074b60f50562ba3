/**
 * Registration of the simulated fleet through the REST API (DESIGN.md §5): look every entity up by its own id first,
 * create only what is missing, keep the secrets the platform issues, and rotate a secret only when the simulator no
 * longer has it. Running the simulator twice therefore reuses everything and creates nothing.
 */
import type { Fleet } from './fleet';
import type { SenderSecrets } from './encoding';
import type { DeviceRegistryFields } from './messages';
import { apiKeyFingerprint, stateKeyFor, SimulatorStateStore, type SimulatorStateEntry } from './state';

export const SIMULATED_MANUFACTURER_NAME = 'Simulated CT-FFR Manufacturer';

/**
 * The simulated product and its premarket claims (a pivotal study of the size typical for class III CT-FFR approvals;
 * each n makes the stated 95% interval consistent with a Wilson interval around the estimate).
 */
export const SIMULATED_PRODUCT = {
  name: 'DeepFFR CT-FFR',
  udiDi: '06970000000017',
  riskClass: 'III',
  jurisdictions: ['EU', 'US', 'CN'],
  ffrThreshold: 0.8,
  premarketClaims: {
    sensitivity: { estimate: 0.86, ci95: [0.8, 0.91], n: 172 },
    specificity: { estimate: 0.81, ci95: [0.76, 0.85], n: 330 },
    auc: { estimate: 0.9, ci95: [0.87, 0.93], n: 502 },
    source: 'Simulated multicentre pivotal study (fleet simulator)',
  },
} as const;

export type FetchLike = (
  input: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal },
) => Promise<{
  status: number;
  ok: boolean;
  text(): Promise<string>;
}>;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    readonly detail: string,
  ) {
    super(`${method} ${path} → ${status}: ${detail}`);
  }
}

interface ListPage<T> {
  items: T[];
  total?: number;
  nextCursor?: string | null;
}

/** A thin JSON client: bearer auth, timeouts, retries while the API is still starting, paging of list routes. */
export class FieldwatchApi {
  constructor(
    readonly baseUrl: string,
    private readonly apiKey: string,
    private readonly fetchImpl: FetchLike = fetch,
    private readonly timeoutMs = 15_000,
  ) {}

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body);
  }

  /** Every item of a list route, following `nextCursor`. */
  async listAll<T>(path: string): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | null | undefined;
    for (let page = 0; page < 1000; page++) {
      const separator = path.includes('?') ? '&' : '?';
      const query = `limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const result = await this.get<ListPage<T>>(`${path}${separator}${query}`);
      if (!result || !Array.isArray(result.items))
        throw new ApiError(200, 'GET', path, 'response has no items array');
      items.push(...result.items);
      cursor = result.nextCursor;
      if (!cursor || result.items.length === 0) return items;
    }
    throw new ApiError(200, 'GET', path, 'more than 1000 pages');
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = `${this.baseUrl}${path}`;
    for (let attempt = 0; ; attempt++) {
      let response: Awaited<ReturnType<FetchLike>>;
      try {
        response = await this.fetchImpl(url, {
          method,
          headers: {
            authorization: `Bearer ${this.apiKey}`,
            accept: 'application/json',
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (error) {
        // Connection refused / reset while the API is starting: retry with backoff, then give up with the cause.
        if (attempt < 3) {
          await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
          continue;
        }
        const cause = error instanceof Error ? error.message : String(error);
        throw new ApiError(0, method, path, `cannot reach ${this.baseUrl} (${cause})`);
      }
      const text = await response.text();
      if (response.status === 503 && attempt < 3) {
        await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
        continue;
      }
      if (!response.ok) throw new ApiError(response.status, method, path, errorMessage(text));
      return (text.length > 0 ? JSON.parse(text) : undefined) as T;
    }
  }
}

/** The `message` of a `{statusCode, error, message}` body (never echo a whole body: it may carry a secret). */
function errorMessage(text: string): string {
  try {
    const parsed = JSON.parse(text) as { message?: unknown; error?: unknown };
    const message = Array.isArray(parsed.message) ? parsed.message.join('; ') : parsed.message;
    if (typeof message === 'string') return message;
    if (typeof parsed.error === 'string') return parsed.error;
  } catch {
    // not JSON
  }
  return text.slice(0, 200);
}

interface Manufacturer {
  id: string;
  name: string;
}
interface ApiKeyCreated {
  id: string;
  key: string;
}
interface Product {
  id: string;
  name?: string;
  udiDi?: string;
}
interface ModelVersionRecord {
  id: string;
  productId: string;
  version: string;
}
interface SiteRecord {
  id: string;
  siteId: string;
}
interface DeviceRecord extends Partial<DeviceRegistryFields> {
  id: string;
  deviceId: string;
  siteId?: string;
  productId?: string;
  secret?: string;
}
interface DataSourceRecord {
  id: string;
  sourceId: string;
  secret?: string;
}

export interface RegistrationOptions {
  apiUrl: string;
  apiKey?: string;
  bootstrapAdminToken?: string;
  rotateSecrets: boolean;
  fetch?: FetchLike;
  log: (message: string) => void;
}

export interface RegistrationResult {
  api: FieldwatchApi;
  productId: string;
  manufacturerId: string | null;
  secrets: SenderSecrets;
  /** What was created / reused / rotated, for the summary. */
  actions: { created: string[]; reused: number; rotated: string[]; patched: string[] };
}

const isConflict = (error: unknown): boolean => error instanceof ApiError && error.status === 409;
const isAuthFailure = (error: unknown): boolean =>
  error instanceof ApiError && (error.status === 401 || error.status === 403);

/** Resolves the manufacturer-role key to use (creating manufacturer and key from an admin token if needed). */
async function resolveCredentials(
  options: RegistrationOptions,
  store: SimulatorStateStore,
): Promise<{ api: FieldwatchApi; entry: SimulatorStateEntry }> {
  const fetchImpl = options.fetch;
  if (options.apiKey) {
    const key = stateKeyFor(options.apiUrl, { apiKey: options.apiKey });
    const entry = store.entry(key, {
      apiUrl: options.apiUrl,
      manufacturerId: null,
      manufacturerName: null,
      apiKey: null,
      apiKeyFingerprint: apiKeyFingerprint(options.apiKey),
    });
    return { api: new FieldwatchApi(options.apiUrl, options.apiKey, fetchImpl), entry };
  }
  if (!options.bootstrapAdminToken) {
    throw new Error(
      'no API credentials: pass --api-key, set FW_API_KEY, or set FW_BOOTSTRAP_ADMIN_TOKEN (an admin key)',
    );
  }
  const admin = new FieldwatchApi(options.apiUrl, options.bootstrapAdminToken, fetchImpl);
  const manufacturers = await admin.listAll<Manufacturer>('/api/v1/manufacturers');
  let manufacturer = manufacturers.find((m) => m.name === SIMULATED_MANUFACTURER_NAME);
  if (!manufacturer) {
    try {
      manufacturer = await admin.post<Manufacturer>('/api/v1/manufacturers', {
        name: SIMULATED_MANUFACTURER_NAME,
      });
      options.log(`created manufacturer "${SIMULATED_MANUFACTURER_NAME}"`);
    } catch (error) {
      if (!isConflict(error)) throw error;
      manufacturer = (await admin.listAll<Manufacturer>('/api/v1/manufacturers')).find(
        (m) => m.name === SIMULATED_MANUFACTURER_NAME,
      );
      if (!manufacturer) throw error;
    }
  }
  const key = stateKeyFor(options.apiUrl, { id: manufacturer.id });
  const entry = store.entry(key, {
    apiUrl: options.apiUrl,
    manufacturerId: manufacturer.id,
    manufacturerName: manufacturer.name,
    apiKey: null,
    apiKeyFingerprint: '',
  });
  if (entry.apiKey) {
    const stored = new FieldwatchApi(options.apiUrl, entry.apiKey, fetchImpl);
    try {
      await stored.get('/api/v1/products?limit=1');
      return { api: stored, entry };
    } catch (error) {
      if (!isAuthFailure(error)) throw error;
      options.log('stored manufacturer API key is no longer accepted; creating a new one');
    }
  }
  const created = await admin.post<ApiKeyCreated>('/api/v1/api-keys', {
    manufacturerId: manufacturer.id,
    role: 'manufacturer',
    name: 'fleet-simulator',
  });
  entry.apiKey = created.key;
  entry.apiKeyFingerprint = apiKeyFingerprint(created.key);
  store.touch(entry);
  options.log(`created a manufacturer API key for "${manufacturer.name}" (kept in ${store.filePath})`);
  return { api: new FieldwatchApi(options.apiUrl, created.key, fetchImpl), entry };
}

/** Create-or-find by natural id: POST, and on 409 (created meanwhile, or invisible to us) look it up again. */
async function ensure<T>(
  existing: T | undefined,
  create: () => Promise<T>,
  refetch: () => Promise<T | undefined>,
  what: string,
): Promise<{ record: T; created: boolean }> {
  if (existing) return { record: existing, created: false };
  try {
    return { record: await create(), created: true };
  } catch (error) {
    if (!isConflict(error)) throw error;
    const found = await refetch();
    if (found) return { record: found, created: false };
    throw new Error(`${what} already exists but is not visible with this API key (another manufacturer's?)`);
  }
}

const iso = (at: number): string => new Date(at).toISOString();

/** Registers (or reuses) everything the fleet needs and returns the signing secrets. */
export async function registerFleet(
  fleet: Fleet,
  store: SimulatorStateStore,
  options: RegistrationOptions,
): Promise<RegistrationResult> {
  const { api, entry } = await resolveCredentials(options, store);
  const actions: RegistrationResult['actions'] = { created: [], reused: 0, rotated: [], patched: [] };
  const note = (created: boolean, what: string): void => {
    if (created) actions.created.push(what);
    else actions.reused++;
  };

  // Product, found by its UDI-DI (the regulatory identity of the product).
  const findProduct = async (): Promise<Product | undefined> =>
    (await api.listAll<Product>('/api/v1/products')).find((p) => p.udiDi === SIMULATED_PRODUCT.udiDi);
  const product = await ensure(
    await findProduct(),
    () => api.post<Product>('/api/v1/products', SIMULATED_PRODUCT),
    findProduct,
    `product ${SIMULATED_PRODUCT.udiDi}`,
  );
  note(product.created, `product ${SIMULATED_PRODUCT.name}`);
  const productId = product.record.id;
  entry.productId = productId;

  // Model versions of every release the run uses (including injected bad models). The simulator never needs their
  // ids, so if the list route itself fails server-side it falls back to create-or-409 rather than giving up.
  let listable = true;
  const findVersions = async (): Promise<ModelVersionRecord[]> => {
    if (!listable) return [];
    try {
      return (await api.listAll<ModelVersionRecord>('/api/v1/model-versions')).filter(
        (v) => v.productId === productId,
      );
    } catch (error) {
      if (!(error instanceof ApiError && error.status >= 500)) throw error;
      listable = false;
      options.log(
        `warning: ${error.message}; registering model versions by POST, treating 409 as already registered`,
      );
      return [];
    }
  };
  let versions = await findVersions();
  for (const release of fleet.releases) {
    if (versions.some((v) => v.version === release.version)) {
      note(false, `model version ${release.version}`);
      continue;
    }
    try {
      await api.post<ModelVersionRecord>('/api/v1/model-versions', {
        productId,
        version: release.version,
        releasedAt: iso(release.releasedAt),
      });
      note(true, `model version ${release.version}`);
    } catch (error) {
      if (!isConflict(error)) throw error;
      versions = await findVersions();
      if (listable && !versions.some((v) => v.version === release.version)) {
        throw new Error(
          `model version ${release.version} already exists but is not visible with this API key`,
        );
      }
      note(false, `model version ${release.version}`);
    }
  }

  // Sites.
  const findSites = (): Promise<SiteRecord[]> => api.listAll<SiteRecord>('/api/v1/sites');
  let sites = await findSites();
  for (const site of fleet.sites) {
    const result = await ensure(
      sites.find((s) => s.siteId === site.siteId),
      () =>
        api.post<SiteRecord>('/api/v1/sites', {
          siteId: site.siteId,
          name: site.name,
          country: site.country,
        }),
      async () => (sites = await findSites()).find((s) => s.siteId === site.siteId),
      `site ${site.siteId}`,
    );
    note(result.created, `site ${site.siteId}`);
  }

  // Devices: create with the version they run at the start of the period; keep or (re)obtain their secrets.
  const findDevices = (): Promise<DeviceRecord[]> => api.listAll<DeviceRecord>('/api/v1/devices');
  let devices = await findDevices();
  const deviceSecrets = new Map<string, string>();
  for (const device of fleet.devices) {
    const initial = fleet.versionAt(device, fleet.start);
    const scanner = fleet.scannerAt(fleet.site(device.siteId), fleet.start);
    const wanted: DeviceRegistryFields = {
      softwareVersion: initial.softwareVersion,
      modelVersion: initial.modelVersion,
      scannerVendor: scanner.vendor,
      scannerModel: scanner.model,
    };
    const body = { deviceId: device.deviceId, productId, siteId: device.siteId, ...wanted };
    const result = await ensure(
      devices.find((d) => d.deviceId === device.deviceId),
      () => api.post<DeviceRecord>('/api/v1/devices', body),
      async () => (devices = await findDevices()).find((d) => d.deviceId === device.deviceId),
      `device ${device.deviceId}`,
    );
    note(result.created, `device ${device.deviceId}`);
    if (result.created && result.record.secret) {
      entry.devices[device.deviceId] = result.record.secret;
      store.touch(entry);
    } else if (options.rotateSecrets || !entry.devices[device.deviceId]) {
      const rotated = await api.post<{ deviceId: string; secret: string }>(
        `/api/v1/devices/${encodeURIComponent(device.deviceId)}/secret`,
        { reason: 'fleet simulator: secret rotated on request or not held locally' },
      );
      entry.devices[device.deviceId] = rotated.secret;
      store.touch(entry);
      actions.rotated.push(device.deviceId);
    }
    // A device left in a later state by a previous run is reset to the state at the start of this period.
    const stale = changedFields(result.record, wanted);
    if (!result.created && stale) {
      await patchDevice(api, device.deviceId, stale);
      actions.patched.push(device.deviceId);
    }
    deviceSecrets.set(device.deviceId, entry.devices[device.deviceId]);
  }

  // Cath-lab data sources, one per site.
  const findSources = (): Promise<DataSourceRecord[]> =>
    api.listAll<DataSourceRecord>('/api/v1/data-sources');
  let sources = await findSources();
  const dataSourceSecrets = new Map<string, string>();
  for (const site of fleet.sites) {
    const result = await ensure(
      sources.find((s) => s.sourceId === site.dataSourceId),
      () =>
        api.post<DataSourceRecord>('/api/v1/data-sources', {
          sourceId: site.dataSourceId,
          siteId: site.siteId,
          name: site.dataSourceName,
          kind: 'cath_lab',
        }),
      async () => (sources = await findSources()).find((s) => s.sourceId === site.dataSourceId),
      `data source ${site.dataSourceId}`,
    );
    note(result.created, `data source ${site.dataSourceId}`);
    if (result.created && result.record.secret) {
      entry.dataSources[site.dataSourceId] = result.record.secret;
      store.touch(entry);
    } else if (options.rotateSecrets || !entry.dataSources[site.dataSourceId]) {
      const rotated = await api.post<{ sourceId: string; secret: string }>(
        `/api/v1/data-sources/${encodeURIComponent(site.dataSourceId)}/secret`,
        { reason: 'fleet simulator: secret rotated on request or not held locally' },
      );
      entry.dataSources[site.dataSourceId] = rotated.secret;
      store.touch(entry);
      actions.rotated.push(site.dataSourceId);
    }
    dataSourceSecrets.set(site.dataSourceId, entry.dataSources[site.dataSourceId]);
  }
  store.touch(entry);

  return {
    api,
    productId,
    manufacturerId: entry.manufacturerId,
    secrets: { devices: deviceSecrets, dataSources: dataSourceSecrets },
    actions,
  };
}

/** The registry fields whose stored value differs from the wanted one (null when none do). */
function changedFields(
  record: DeviceRecord,
  wanted: DeviceRegistryFields,
): Partial<DeviceRegistryFields> | null {
  const changed: Partial<DeviceRegistryFields> = {};
  for (const field of Object.keys(wanted) as (keyof DeviceRegistryFields)[]) {
    if (record[field] !== undefined && record[field] !== wanted[field]) changed[field] = wanted[field];
  }
  return Object.keys(changed).length > 0 ? changed : null;
}

/** Records an upgrade or scanner change of an installation (PATCH /api/v1/devices/:deviceId). */
export async function patchDevice(
  api: FieldwatchApi,
  deviceId: string,
  fields: Partial<DeviceRegistryFields>,
): Promise<void> {
  await api.patch(`/api/v1/devices/${encodeURIComponent(deviceId)}`, fields);
}

/**
 * Secrets from the state file without calling the API (`--no-register`). Every device and data source of the fleet
 * must have one; the error names the missing ones.
 */
export function secretsFromState(
  fleet: Fleet,
  store: SimulatorStateStore,
  apiUrl: string,
  apiKey: string | undefined,
): SenderSecrets {
  const entry = store.findForApi(apiUrl, apiKey);
  if (!entry) {
    throw new Error(
      `no simulator state for ${apiUrl} in ${store.filePath}: run once without --no-register to register the fleet`,
    );
  }
  const missing: string[] = [];
  const devices = new Map<string, string>();
  const dataSources = new Map<string, string>();
  for (const device of fleet.devices) {
    const secret = entry.devices[device.deviceId];
    if (secret) devices.set(device.deviceId, secret);
    else missing.push(device.deviceId);
  }
  for (const site of fleet.sites) {
    const secret = entry.dataSources[site.dataSourceId];
    if (secret) dataSources.set(site.dataSourceId, secret);
    else missing.push(site.dataSourceId);
  }
  if (missing.length > 0) {
    throw new Error(
      `no stored secret for ${missing.join(', ')} in ${store.filePath}: run once without --no-register (same --sites) to register them`,
    );
  }
  return { devices, dataSources };
}

/**
 * Secrets for `--dry-run`: stored ones where available (so the printed signatures are real), otherwise a placeholder
 * derived from the id — a dry run never calls the API.
 */
export function dryRunSecrets(
  fleet: Fleet,
  store: SimulatorStateStore,
  apiUrl: string,
  apiKey: string | undefined,
): SenderSecrets {
  const entry = store.findForApi(apiUrl, apiKey);
  const devices = new Map(
    fleet.devices.map((d) => [d.deviceId, entry?.devices[d.deviceId] ?? `dry-run:${d.deviceId}`]),
  );
  const dataSources = new Map(
    fleet.sites.map((s) => [
      s.dataSourceId,
      entry?.dataSources[s.dataSourceId] ?? `dry-run:${s.dataSourceId}`,
    ]),
  );
  return { devices, dataSources };
}
