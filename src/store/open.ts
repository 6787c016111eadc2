/**
 * Opens the store a URL names: the embedded SQLite file, or a shared Redis or PostgreSQL. A backend's
 * module (and its client library) is imported only when it is the one configured.
 */
import type { Config } from '../config.js';
import type { Clock, Store } from './types.js';

export type Backend = 'sqlite' | 'redis' | 'postgres';

/** Which backend a store URL names. */
export function backendOf(url: string): Backend {
  if (url.startsWith('sqlite://')) return 'sqlite';
  if (/^rediss?:\/\//.test(url)) return 'redis';
  if (/^postgres(ql)?:\/\//.test(url)) return 'postgres';
  throw new Error(`Unknown store URL ${url}: use sqlite://PATH, redis://HOST:PORT[/DB] or postgres://...`);
}

/** Whether several Lucid processes may share the store (only the embedded file is single-process). */
export function isShared(url: string): boolean {
  return backendOf(url) !== 'sqlite';
}

/** How a command means to use the store; only the embedded SQLite store needs telling (see SqliteStoreOptions). */
export interface OpenBackendOptions {
  /** Reading beside a server that may own the file (`lucid export`): no pid lock, no writes. */
  readOnly?: boolean | undefined;
  /** Writing alone, in batched transactions (`lucid import`, `lucid rekey`). */
  bulk?: boolean | undefined;
  /** Told about start-up findings worth a warning (the SQLite store's files readable by others, tightened). */
  warn?: ((message: string) => void) | undefined;
}

export async function openBackend(
  config: Config,
  onError: (error: unknown) => void,
  clock?: Clock,
  use: OpenBackendOptions = {},
): Promise<Store> {
  const backend = backendOf(config.store);
  if (backend === 'sqlite') {
    const { openSqliteStore } = await import('./sqlite.js');
    return openSqliteStore({
      file: config.store.replace(/^sqlite:\/\//, ''),
      synchronous: config.sqlite.synchronous,
      cacheBytes: config.sqlite.cacheBytes,
      sweepIntervalMs: config.expiry.sweepIntervalMs,
      clock,
      onError,
      readOnly: use.readOnly,
      bulk: use.bulk,
      warn: use.warn,
    });
  }
  const options = {
    url: config.store,
    namespace: config.storeNamespace,
    sweepIntervalMs: config.expiry.sweepIntervalMs,
    logSize: config.notifications.bufferSize,
    // Room for an encryption header, so a value notifications inline is never left out of the log.
    logValueBytes: config.notifications.maxValueBytes + 64,
    clock,
    onError,
  };
  if (backend === 'redis') return (await import('./redis.js')).openRedisStore(options);
  return (await import('./postgres.js')).openPostgresStore(options);
}
