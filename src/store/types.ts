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
  /** Whether a lock was taken; see `isLocked` for whether it still holds (a lease may have lapsed). */
  locked: boolean;
  /** Who took the lock (a token subject), or null. */
  lockHolder: string | null;
  /** When the lock's lease lapses (ms since the epoch), or null for a lock until unlocked. */
  lockExpiresAt: number | null;
  /** Counts writes to this key since it was created (1 on creation). */
  version: number;
  /** A strong entity tag, unique for every write (including across delete and re-create). */
  etag: string;
}

/** The kinds of change the notification stream reports. */
export type ChangeType =
  'created' | 'updated' | 'deleted' | 'expired' | 'locked' | 'unlocked' | 'incremented' | 'decremented' | 'ttl';

/**
 * What `decide` wants done: `write` an entry, delete the key (`null`), or nothing (omitted), and
 * which change to announce when it is applied.
 */
export interface Decision<T> {
  result: T;
  write?: Entry | null;
  change?: ChangeType;
}

/** A key and its whole entry, as `entries` yields them. */
export interface StoredEntry {
  key: string;
  entry: Entry;
}

/** A key and its metadata, without the value's bytes. */
export interface KeyInfo {
  key: string;
  size: number;
  entry: Omit<Entry, 'value'>;
}

export interface ListOptions {
  /** Only keys starting with this ('' for all). */
  prefix: string;
  /** Only keys sorted strictly after this one (the previous page's last key). */
  after?: string | undefined;
  limit: number;
}

/** One applied change, as the store announces it (the notification stream builds its events from these). */
export interface Change {
  /**
   * The change's id in the backend's own change log (shared backends: a Redis stream id, a
   * PostgreSQL sequence number), the same on every node; absent for the embedded store, whose
   * changes never leave the process.
   */
  id?: string;
  type: ChangeType;
  key: string;
  /** The entry after the change; absent for deleted and expired. */
  entry?: Entry | undefined;
  time: number;
  /**
   * The value's size in bytes when `entry.value` was left out of a shared backend's change log
   * (values longer than the log keeps inline arrive empty, with `valueOmitted` set).
   */
  size?: number;
  valueOmitted?: boolean;
  /** The id of the transaction (`Store.transact`) that made this change; every change it made carries the same id. */
  txn?: string;
}

/**
 * `fields` as a new entry whose fields are written in one order, so every entry has one hidden class in V8 with all
 * ten fields inside the object. An entry made by spreading another (`{ ...entry, version }`) kept four there and the
 * rest in a second, out-of-object array, and entries made in different places had different shapes, so the code
 * reading them saw several. Entries live long (the cache, the notification ring): each one is copied out of the
 * young generation, so its size is paid on every write.
 */
export function entryOf(fields: Entry): Entry {
  return {
    value: fields.value,
    contentType: fields.contentType,
    createdAt: fields.createdAt,
    updatedAt: fields.updatedAt,
    expiresAt: fields.expiresAt,
    locked: fields.locked,
    lockHolder: fields.lockHolder,
    lockExpiresAt: fields.lockExpiresAt,
    version: fields.version,
    etag: fields.etag,
  };
}

/** Whether the entry is live at `now`: it never expires, or its expiry is still ahead. */
export function isLive(entry: Pick<Entry, 'expiresAt'>, now: number): boolean {
  return entry.expiresAt === null || entry.expiresAt > now;
}

/** The entry if it is live at `now`, else undefined: what a store's `get` answers for what it read. */
export function liveEntry(entry: Entry | undefined, now: number): Entry | undefined {
  return entry !== undefined && isLive(entry, now) ? entry : undefined;
}

/** Whether the entry's lock holds at `now` (taken, and its lease, if any, not lapsed). */
export function isLocked(entry: Entry | Omit<Entry, 'value'>, now: number): boolean {
  return entry.locked && (entry.lockExpiresAt === null || entry.lockExpiresAt > now);
}

export type Decide<T> = (current: Entry | undefined, now: number) => Decision<T>;

/** One write of a transaction: the key's new entry (null deletes it) and the change to announce. */
export interface TxnWrite {
  key: string;
  write: Entry | null;
  change: ChangeType;
}

/** What `decideMany` wants done: every write applies, in this order, or none does. */
export interface TxnDecision<T> {
  result: T;
  writes: TxnWrite[];
}

/**
 * Decides a transaction from the live entries of its keys (undefined for a missing or expired key).
 * Pure, like Decide: an optimistic backend may call it again.
 */
export type DecideMany<T> = (current: ReadonlyMap<string, Entry | undefined>, now: number) => TxnDecision<T>;

export interface Store {
  /** The live entry under `key`, or undefined when it is missing or expired. */
  get(key: string): Promise<Entry | undefined>;
  /** Atomically applies `decide` to the key's live entry; errors thrown by `decide` propagate and change nothing. */
  update<T>(key: string, decide: Decide<T>): Promise<T>;
  /**
   * Atomically applies `decide` to the live entries of `keys` (distinct; at most a few dozen): every
   * write it returns is applied or none is, and no reader or writer, on any node, sees some of them
   * without the others. Writes name only keys in `keys`; deleting a key that is missing is skipped
   * and announces nothing. The changes are announced in the order of `writes`, each carrying one
   * fresh `txn` id. Errors thrown by `decide` propagate and change nothing. Each backend holds every
   * key of the transaction the way `update` holds one (SQLite: per-key queues taken in sorted key
   * order; Redis: one script; PostgreSQL: one transaction, advisory locks in sorted key order).
   */
  transact?<T>(keys: readonly string[], decide: DecideMany<T>): Promise<T>;
  /** Live keys in key order, one page at a time; expired keys never appear. */
  list(options: ListOptions): Promise<KeyInfo[]>;
  /**
   * The live key's metadata and value size without its value's bytes (HEAD), or undefined when it
   * is missing or expired. Optional: without it HEAD reads the whole entry through `get`.
   */
  head?(key: string): Promise<KeyInfo | undefined>;
  /**
   * Every live entry under `prefix`, in key order, from one consistent snapshot where the backend
   * offers one (SQLite: one read transaction), so writes made while it runs are not half-seen.
   * Breaking out of the loop releases the snapshot. Used by `lucid export` and `lucid rekey`
   * through `storeEntries` (entries.ts), which pages through `list` and `get` for a backend
   * without it (every entry current when read, but not one snapshot).
   */
  entries?(prefix: string): AsyncIterable<StoredEntry>;
  /**
   * Calls `listener` with every change applied through this store, in order per key; returns an
   * unsubscribe function. Shared backends deliver every node's changes, from their change log.
   */
  subscribe(listener: (change: Change) => void): () => void;
  /**
   * The changes after the one with id `id`, oldest first, read from the backend's change log; or
   * undefined when they cannot all be replayed (the id was trimmed from the log, or never in it).
   * Only shared backends have a log; the embedded store leaves replay to the notification feed.
   */
  changesSince?(id: string): Promise<Change[] | undefined>;
  /** Revoked token ids kept in the backend, so every node honours a revocation (shared backends only). */
  revocations?: RevocationStore;
  /** How many live keys the store holds, for the metrics; an expired key stops counting at once, swept or not. */
  count(): Promise<number>;
  /** Removes entries whose expiry has passed; returns how many were removed. */
  purgeExpired(): Promise<number>;
  /** Resolves when the backend answers; throws StoreUnavailableError otherwise. */
  ping(): Promise<void>;
  /** Waits for in-flight operations and releases the backend. */
  close(): Promise<void>;
}

/** The clock every time-dependent part reads; tests inject a controllable one. */
export type Clock = () => number;

/** Token revocations shared through the backend. */
export interface RevocationStore {
  /** Records `tokenId` as revoked until `until` (ms since the epoch, the token's own expiry). */
  add(tokenId: string, until: number): Promise<void>;
  /** The ids revoked and not yet past their token's expiry. */
  list(): Promise<string[]>;
}
