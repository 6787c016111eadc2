/**
 * The store boundary: the narrow interface handlers and the domain layer see, never Keyv itself.
 *
 * Atomicity lives behind `update`: a backend reads the key, lets `decide` compute the change and
 * applies it as one atomic step. The embedded SQLite store does this with a per-key queue inside
 * the one process that owns the file; shared backends (Redis, PostgreSQL) do it with their own
 * tools (a Lua script or WATCH/MULTI retry, a transaction with SELECT ... FOR UPDATE), which is why
 * `decide` must be a pure function of its arguments: an optimistic backend may call it again.
 */

/** One stored value and everything Lucid knows about it. */
export interface Entry {
  value: Buffer;
  contentType: string;
  /** Milliseconds since the epoch. */
  createdAt: number;
  updatedAt: number;
  /** When the key expires (ms since the epoch), or null for never. */
  expiresAt: number | null;
  locked: boolean;
  /** Counts writes to this key since it was created (1 on creation). */
  version: number;
  /** A strong entity tag, unique for every write (including across delete and re-create). */
  etag: string;
}

/** What `decide` wants done: `write` an entry, delete the key (`null`), or nothing (omitted). */
export interface Decision<T> {
  result: T;
  write?: Entry | null;
}

export type Decide<T> = (current: Entry | undefined, now: number) => Decision<T>;

export interface Store {
  /** The live entry under `key`, or undefined when it is missing or expired. */
  get(key: string): Promise<Entry | undefined>;
  /** Atomically applies `decide` to the key's live entry; errors thrown by `decide` propagate and change nothing. */
  update<T>(key: string, decide: Decide<T>): Promise<T>;
  /** Removes entries whose expiry has passed; returns how many were removed. */
  purgeExpired(): Promise<number>;
  /** Resolves when the backend answers; throws StoreUnavailableError otherwise. */
  ping(): Promise<void>;
  /** Waits for in-flight operations and releases the backend. */
  close(): Promise<void>;
}

/** The clock every time-dependent part reads; tests inject a controllable one. */
export type Clock = () => number;
