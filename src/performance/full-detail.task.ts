import { Pool } from 'pg';
import { workerData } from 'piscina';
import { APP_CONNECTION_OPTIONS } from '../database/tenant-context';
import { computeFullDetail, FullDetailRequest, FullDetailResult } from './full-detail';

/**
 * Worker-thread entry of the `detail=full` pool (full-detail.pool.ts). The thread keeps one connection of its own,
 * opened as the app's tenant-scoped role like every request's (row-level security), and each task sets its
 * tenant for its own transaction only.
 */
export interface FullDetailWorkerData {
  databaseUrl: string;
  statementTimeoutMs: number;
}

const { databaseUrl, statementTimeoutMs } = workerData as FullDetailWorkerData;
const pool = new Pool({
  connectionString: databaseUrl,
  max: 1,
  application_name: 'fieldwatch-performance-full',
  statement_timeout: statementTimeoutMs,
  idle_in_transaction_session_timeout: 60_000,
  options: APP_CONNECTION_OPTIONS,
});
// An idle connection the server ends (restart, idle timeout) is replaced at the next task; one ended while checked out
// fails the task's next query instead of taking the thread down. One listener per connection, added when it opens.
pool.on('error', () => undefined);
pool.on('connect', (client) => client.on('error', () => undefined));

export default async function fullDetailTask(request: FullDetailRequest): Promise<FullDetailResult> {
  const client = await pool.connect();
  try {
    // Both reads in one snapshot, as one read-only transaction under the requester's tenant.
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(`SELECT set_config('fieldwatch.tenant', $1, true)`, [request.manufacturerId]);
    const result = await computeFullDetail(client, request);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
