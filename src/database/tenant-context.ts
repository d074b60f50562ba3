/**
 * Tenant isolation at the data layer (issue 8 §1): PostgreSQL row-level security that a forgotten
 * `WHERE manufacturer_id = …` cannot bypass (migration 1764277200000-RowLevelSecurity).
 *
 * The app's connections run as the role `fieldwatch_app` (no superuser, no BYPASSRLS), and every time
 * code takes a connection from the pool the connection's `fieldwatch.tenant` setting is set to the
 * tenant of the code that asked for it:
 *   - an HTTP request: its caller's manufacturer, bound by the API-key guard (platform admins: all);
 *   - background work (consumers, linkage, roll-ups, schedules): all tenants, declared with runAsSystem;
 *   - anything else — code outside both, or a request before authentication — sees no tenant rows.
 * The tenant is read when the connection is requested, in the requester's own async context, never when
 * the pool hands a freed connection over (that callback runs in whoever freed it).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Pool, PoolClient } from 'pg';

/** Sees every tenant: background work and platform administrators. */
export const ALL_TENANTS = '*';
/** The database role the app's connections switch to (created by the migration). */
export const APP_DATABASE_ROLE = 'fieldwatch_app';

interface TenantScope {
  tenant: string | null;
}

const scopes = new AsyncLocalStorage<TenantScope>();

/** Opens a scope for one HTTP request; the guard fills it in once the caller is known. */
export function runInRequestScope<T>(work: () => T): T {
  return scopes.run({ tenant: null }, work);
}

/** Binds the current request scope to a manufacturer (or ALL_TENANTS for a platform admin). */
export function bindTenant(manufacturerId: string | null): void {
  const scope = scopes.getStore();
  if (!scope) throw new Error('bindTenant outside a request scope');
  scope.tenant = manufacturerId ?? ALL_TENANTS;
}

/** Background work that spans tenants (ingestion, linkage, roll-ups, API-key lookup, schedules). */
export function runAsSystem<T>(work: () => T): T {
  return scopes.run({ tenant: ALL_TENANTS }, work);
}

/** Work on behalf of one manufacturer outside a request (and in tests). */
export function runAsTenant<T>(manufacturerId: string, work: () => T): T {
  return scopes.run({ tenant: manufacturerId }, work);
}

/** The value `fieldwatch.tenant` gets: '' (no rows) when no scope says otherwise. */
export function currentTenant(): string {
  return scopes.getStore()?.tenant ?? '';
}

const SET_TENANT = `SELECT set_config('fieldwatch.tenant', $1, false)`;

/**
 * libpq start-up options for the app's connections: run as APP_DATABASE_ROLE from the first statement, so no
 * connection — not even the one TypeORM opens to probe the server — ever runs as the (superuser) login role.
 */
export const APP_CONNECTION_OPTIONS = `-c role=${APP_DATABASE_ROLE}`;

type Release = (error?: Error | boolean) => void;
type ConnectCallback = (error: Error | undefined, client: PoolClient | undefined, release: Release) => void;

/**
 * Makes every connection taken from `pool` carry the requester's tenant (the role itself is set at
 * connection start-up, see appConnectionOptions). pg-pool's own `query` goes through `connect`, so both
 * ways of using the pool are covered.
 */
export function enforceTenantScope(pool: Pool): void {
  // A checked-out connection that the server ends between statements (idle_in_transaction_session_timeout,
  // a restart) emits 'error' with no listener attached — pg-pool only listens while it is idle — and that
  // would end the process. The caller's next query fails and is handled; here the event is only absorbed.
  const absorbing = new WeakSet<PoolClient>();
  const absorbErrors = (client: PoolClient): void => {
    if (absorbing.has(client)) return;
    absorbing.add(client);
    client.on('error', () => undefined);
  };
  const connect = pool.connect.bind(pool) as (callback?: ConnectCallback) => Promise<PoolClient> | undefined;
  const scopedConnect = (callback?: ConnectCallback): Promise<PoolClient> | undefined => {
    const tenant = currentTenant();
    if (callback) {
      void connect((error, client, release) => {
        if (error || !client) return callback(error, client, release);
        absorbErrors(client);
        client.query(SET_TENANT, [tenant]).then(
          () => callback(undefined, client, release),
          (setError: Error) => {
            release(setError);
            callback(setError, undefined, () => undefined);
          },
        );
      });
      return undefined;
    }
    return (connect() as Promise<PoolClient>).then(async (client) => {
      absorbErrors(client);
      try {
        await client.query(SET_TENANT, [tenant]);
      } catch (setError) {
        client.release(setError instanceof Error ? setError : true);
        throw setError;
      }
      return client;
    });
  };
  (pool as unknown as { connect: typeof scopedConnect }).connect = scopedConnect;
}
