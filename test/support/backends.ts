/**
 * The shared backends the tests use: the machine's Redis (127.0.0.1:6379) and PostgreSQL
 * (127.0.0.1:5432, database `test`). Every test gets its own namespace, removed afterwards.
 *
 * Outside CI a missing backend skips its tests with a one-line reason; in CI (CI=true) it fails
 * them, because a backend suite that silently ran nothing would pass for the wrong reason.
 */
import { randomBytes } from 'node:crypto';
import { createClient } from '@redis/client';
import pg from 'pg';

export const REDIS_URL = process.env.LUCID_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
export const POSTGRES_URL = process.env.LUCID_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export type SharedBackend = 'redis' | 'postgres';
export const BACKEND_URLS: Record<SharedBackend, string> = { redis: REDIS_URL, postgres: POSTGRES_URL };

/** Undefined when the backend answers; otherwise why not, in one line. */
export async function unavailable(backend: SharedBackend): Promise<string | undefined> {
  try {
    if (backend === 'redis') {
      const client = createClient({ url: REDIS_URL, socket: { connectTimeout: 2000, reconnectStrategy: false } });
      client.on('error', () => undefined);
      await client.connect();
      await client.ping();
      client.destroy();
    } else {
      const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 });
      await client.connect();
      await client.end();
    }
    return undefined;
  } catch (error) {
    return `${backend} at ${BACKEND_URLS[backend]} is not reachable (${(error as Error).message || String(error)})`;
  }
}

/**
 * Whether to run a backend's tests: true when it answers; false (with a one-line note) when it does
 * not and this is not CI; throws in CI, so the suite fails instead of skipping.
 */
export async function backendReady(backend: SharedBackend): Promise<boolean> {
  const reason = await unavailable(backend);
  if (reason === undefined) return true;
  if (process.env.CI) throw new Error(`${reason}; CI needs it (.ci/run starts it).`);
  console.warn(`skipping ${backend} tests: ${reason}`);
  return false;
}

/** A namespace no other test uses. */
export function freshNamespace(): string {
  return `t_${randomBytes(6).toString('hex')}`;
}

/** Deletes everything a namespace left in the backend. */
export async function dropNamespace(backend: SharedBackend, namespace: string): Promise<void> {
  if (backend === 'redis') {
    const client = createClient({ url: REDIS_URL });
    client.on('error', () => undefined);
    await client.connect();
    for await (const keys of client.scanIterator({ MATCH: `{${namespace}}:*`, COUNT: 1000 })) {
      if (keys.length > 0) await client.del(keys);
    }
    client.destroy();
  } else {
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    await client.query(`DROP TABLE IF EXISTS ${namespace}_kv, ${namespace}_changes, ${namespace}_revoked`);
    await client.end();
  }
}
