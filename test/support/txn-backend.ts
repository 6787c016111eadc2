/**
 * Where tests of POST /api/txn keep their data: the default SQLite store once it has `transact`,
 * else a shared backend (Redis, then PostgreSQL) in a fresh namespace; undefined when none can.
 */
import path from 'node:path';
import { openSqliteStore } from '../../src/store/sqlite.js';
import { BACKEND_URLS, backendReady, dropNamespace, freshNamespace, type SharedBackend } from './backends.js';
import { tempDir } from './lucid.js';

export interface TxnBackend {
  name: 'sqlite' | SharedBackend;
  /** Config overrides that point a test server at it ({} for the default SQLite store). */
  config: { store?: string; storeNamespace?: string };
  /** Removes what the tests left in a shared backend. */
  drop(): Promise<void>;
}

export async function txnBackend(): Promise<TxnBackend | undefined> {
  const probe = await openSqliteStore({ file: path.join(tempDir(), 'probe.sqlite'), sweepIntervalMs: 0 });
  const sqlite = probe.transact !== undefined;
  await probe.close();
  if (sqlite) return { name: 'sqlite', config: {}, drop: async () => undefined };
  for (const name of ['redis', 'postgres'] as SharedBackend[]) {
    if (!(await backendReady(name))) continue;
    const namespace = freshNamespace();
    return {
      name,
      config: { store: BACKEND_URLS[name], storeNamespace: namespace },
      drop: () => dropNamespace(name, namespace),
    };
  }
  return undefined;
}
