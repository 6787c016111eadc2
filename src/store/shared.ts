/**
 * What the shared stores (Redis, PostgreSQL) have in common: their options, the clock-based
 * liveness rules they share with the embedded store, and how an entry goes into their change log;
 * and the one guard every store (the embedded one too) runs its backend calls through.
 */
import { StoreUnavailableError } from '../errors.js';
import { encodeEntry } from './frame.js';
import type { Change, Clock, Entry, TxnWrite } from './types.js';

export interface SharedStoreOptions {
  /** The backend's URL (redis://, rediss://, postgres://, postgresql://). */
  url: string;
  /** Prefixes every Redis key / names every PostgreSQL table, so several Lucid deployments can share one backend. */
  namespace: string;
  /** How often this node sweeps expired entries; 0 turns the background sweep off. */
  sweepIntervalMs?: number;
  /** How many changes the backend's change log keeps for Last-Event-ID replay. */
  logSize?: number;
  /** Values up to this many bytes are kept inline in the change log (notifications can carry them). */
  logValueBytes?: number;
  /** A backend call that takes longer than this fails as unavailable (503) instead of hanging the request. */
  timeoutMs?: number;
  clock?: Clock;
  /** Told about failures of background work (sweep, change-log reader) and lost connections. */
  onError?: (error: unknown) => void;
}

export const SHARED_DEFAULTS = { sweepIntervalMs: 1000, logSize: 10_000, logValueBytes: 4096 + 64, timeoutMs: 5000 };

/** The options with every default filled in (the clock stays the store's own field). */
export type ResolvedSharedOptions = Required<Omit<SharedStoreOptions, 'clock'>>;

export function resolveSharedOptions(options: SharedStoreOptions): ResolvedSharedOptions {
  return {
    url: options.url,
    namespace: options.namespace,
    sweepIntervalMs: options.sweepIntervalMs ?? SHARED_DEFAULTS.sweepIntervalMs,
    logSize: options.logSize ?? SHARED_DEFAULTS.logSize,
    logValueBytes: options.logValueBytes ?? SHARED_DEFAULTS.logValueBytes,
    timeoutMs: options.timeoutMs ?? SHARED_DEFAULTS.timeoutMs,
    onError: options.onError ?? (() => undefined),
  };
}

/**
 * An entry as a shared store writes it, each encoding made once: the whole frame, the frame
 * without the value (for listing), and which of the two the change log carries (the metadata only,
 * `omitted`, when the value is too long to keep inline).
 */
export function sharedFrames(
  entry: Entry,
  logValueBytes: number,
): { entry: Entry; frame: Buffer; meta: Buffer; log: Buffer; omitted: boolean } {
  const frame = encodeEntry(entry);
  const meta = encodeEntry({ ...entry, value: Buffer.alloc(0) });
  const omitted = entry.value.length > logValueBytes;
  return { entry, frame, meta, log: omitted ? meta : frame, omitted };
}

/** Rebuilds a Change from the fields of a change-log record. */
export function changeFromLog(
  id: string,
  type: string,
  key: string,
  time: number,
  size: number,
  omitted: boolean,
  entry: Entry | undefined,
  txn?: string,
): Change {
  const change: Change = { id, type: type as Change['type'], key, time, entry };
  if (txn !== undefined && txn !== '') change.txn = txn;
  if (entry !== undefined) {
    change.size = size;
    if (omitted) change.valueOmitted = true;
  }
  return change;
}

/**
 * Runs a store call, turning every failure into StoreUnavailableError (503): a closed store refuses
 * at once, and a call slower than `timeoutMs` fails (0: no time limit, for the embedded store, whose
 * calls run on this thread and cannot hang on a network). Every store's calls go through here.
 */
export async function guarded<T>(closed: boolean, timeoutMs: number, operation: () => T | Promise<T>): Promise<T> {
  if (closed) throw new StoreUnavailableError(new Error('The store is closed.'));
  let timer: NodeJS.Timeout | undefined;
  try {
    if (timeoutMs <= 0) return await operation();
    return await Promise.race([
      operation(),
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`The backend did not answer within ${timeoutMs} ms.`)), timeoutMs);
      }),
    ]);
  } catch (error) {
    if (error instanceof StoreUnavailableError) throw error;
    throw new StoreUnavailableError(error);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The writes of a transaction a backend applies: every key named must be one the transaction
 * holds, and a delete of a key that is missing at that point is skipped (it announces nothing).
 */
export function effectiveWrites(
  keys: readonly string[],
  current: ReadonlyMap<string, Entry | undefined>,
  writes: readonly TxnWrite[],
): TxnWrite[] {
  const present = new Map([...current].map(([key, entry]) => [key, entry !== undefined]));
  return writes.filter(({ key, write }) => {
    if (!keys.includes(key)) throw new Error(`A transaction wrote "${key}", which it does not hold.`);
    const skip = write === null && present.get(key) !== true;
    present.set(key, write !== null);
    return !skip;
  });
}

/** Milliseconds to wait before retry number `attempt` of an optimistic write that lost a race (jittered, capped). */
export function backoff(attempt: number): number {
  return attempt < 2 ? 0 : Math.min(50, 2 ** Math.min(attempt, 6)) * Math.random();
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(an invalid URL)';
  }
}
