/**
 * The embedded default store: Keyv over a better-sqlite3 adapter (sqlite-adapter.ts), one file in
 * the data directory.
 *
 * Values go through Keyv with a binary serializer (frame.ts), so they are stored as BLOBs with no
 * base64 inflation. What Keyv cannot do is done here, on the adapter's own connection or on one
 * read-only connection beside it:
 * - atomicity: one process owns the file (a pid lock file refuses a second one), and every
 *   read-modify-write of a key runs in that process's per-key queue, so a lock check and the write
 *   it guards, or the read and write of an increment, cannot interleave with another write;
 * - expiry: an indexed generated column reads each frame's expiry, and a background sweep deletes
 *   expired rows (announcing each as `expired`); reads treat an expired row as missing even before
 *   the sweep reaches it;
 * - reads: the read cache (entry-cache.ts), else a prepared statement on the read-only connection,
 *   which sees committed rows only (never an open batch's); better-sqlite3 runs it synchronously, a
 *   point read costing microseconds where a thread-pool round trip cost a callback and a promise;
 * - listing: keyset pages over the primary key, so a page costs its size whatever the table's;
 * - changes: announced to subscribers from inside the key's queue, after the write committed, so
 *   they arrive in order per key;
 * - durability: WAL journal; `synchronous=NORMAL` (default) keeps every acknowledged write across a
 *   crash of the process, `FULL` also across power loss;
 * - snapshots (`entries`, for export and rekey): one read transaction on a connection of its own
 *   (sqlite-snapshot.ts); `readOnly` opens the file that way beside a server that owns it;
 * - bulk loading (`bulk`, for import and rekey): writes batched into transactions.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type Database from 'better-sqlite3';
import Keyv from 'keyv';
import { StoreInUseError, StoreUnavailableError } from '../errors.js';
import { HEAD_BYTES, decodeEntry, decodeHead, encodeEntry, expirySql } from './frame.js';
import { EntryCache } from './entry-cache.js';
import { GroupCommit, type BatchHook } from './group-commit.js';
import { KeyQueue } from './key-queue.js';
import { guarded } from './shared.js';
import { Checkpointer } from './checkpointer.js';
import { BetterSqliteAdapter, TABLE, driver, openReadOnly } from './sqlite-adapter.js';
import { secureStoreFiles, withPrivateUmask, type Warn } from './sqlite-files.js';
import { Sweeper } from './sweeper.js';
import { TurnSnapshot } from './turn-snapshot.js';
import { snapshotRows } from './sqlite-snapshot.js';
import {
  isLive,
  liveEntry,
  type Change,
  type Clock,
  type Decide,
  type DecideMany,
  type Entry,
  type KeyInfo,
  type ListOptions,
  type Store,
  type StoredEntry,
} from './types.js';

const NAMESPACE = 'lucid';
/**
 * The row key of a Lucid key: always the namespace, a colon, then the key as given, so the mapping
 * is injective (the row key minus its first NAMESPACE.length + 1 characters is the Lucid key). Keyv's
 * own prefixing is off: it skips keys that already start with `lucid:`, which let `lucid:X` write X's row.
 * This is the layout every earlier version wrote for keys not starting with `lucid:`, so no file needs migrating.
 */
const rowKey = (key: string): string => `${NAMESPACE}:${key}`;
const lucidKey = (row: string): string => row.slice(NAMESPACE.length + 1);
const SWEEP_BATCH = 500;
const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;
/** Bulk mode commits every this many writes, or sooner when their values add up to BULK_BATCH_BYTES. */
const BULK_BATCH = 2000;
const BULK_BATCH_BYTES = 32 * 1024 * 1024;

export interface SqliteStoreOptions {
  /** The database file. */
  file: string;
  synchronous?: 'normal' | 'full';
  /** How often expired rows are purged; 0 turns the background sweep off. */
  sweepIntervalMs?: number;
  clock?: Clock;
  /** Told about failures of the background sweep. */
  onError?: (error: unknown) => void;
  /**
   * Open an existing file for reading only, without its pid lock, beside a server that may own it
   * (`lucid export`): no writes, no sweep, no schema changes. Writes throw ReadOnlyStoreError.
   */
  readOnly?: boolean;
  /**
   * Bulk loading for `lucid import` and `lucid rekey`, which own the file alone: writes are grouped
   * into transactions of BULK_BATCH (about 4x faster here than one commit per write) and an update
   * resolves before its batch commits. close() commits the last batch; a crash loses at most the
   * uncommitted batch, which re-running the command writes again. Reads see the batch's own writes
   * (kept in memory until it commits; the read pool cannot see them before).
   */
  bulk?: boolean;
  /** The read cache's size in bytes (entry-cache.ts); 0 turns it off. Bulk mode never caches. */
  cacheBytes?: number;
  /** Told after each group-committed batch (group-commit.ts): its keys, and the error that failed it. */
  onBatch?: BatchHook;
  /** Told about start-up findings worth a warning in the log (files readable by others, tightened). */
  warn?: Warn;
  /** The WAL's size, in pages, above which writes wait for a checkpoint (checkpointer.ts); for tests. */
  walLimitPages?: number;
}

/** Opens (creating when needed) the SQLite file and returns a ready store; throws a clear Error when it cannot. */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  const file = path.resolve(options.file);
  try {
    if (options.readOnly) return openReadOnlyStore(file, options.clock ?? Date.now);
  } catch (error) {
    throw new Error(`Cannot open the SQLite store at ${file}: ${(error as Error).message}`, { cause: error });
  }
  secureStoreFiles(file, options.warn ?? (() => undefined));
  const releaseOwnership = claimFile(file);
  try {
    return await withPrivateUmask(async () => openOwned(file, releaseOwnership, options));
  } catch (error) {
    releaseOwnership();
    throw new Error(`Cannot open the SQLite store at ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Opens the file this process now owns: WAL (checkpointed by a worker thread, checkpointer.ts, except in bulk mode),
 * the expiry column and index, the read-only connection.
 */
function openOwned(file: string, releaseOwnership: () => void, options: SqliteStoreOptions): Store {
  const synchronous = options.synchronous === 'full' ? 'FULL' : 'NORMAL';
  const adapter = new BetterSqliteAdapter(file, [
    'journal_mode = WAL',
    `synchronous = ${synchronous}`,
    ...(options.bulk ? [] : ['wal_autocheckpoint = 0']),
  ]);
  try {
    const columns = adapter.all<{ name: string }>(`PRAGMA table_xinfo(${TABLE})`);
    if (!columns.some((column) => column.name === 'lucid_expires_at')) {
      adapter.exec(
        `ALTER TABLE ${TABLE} ADD COLUMN lucid_expires_at INTEGER GENERATED ALWAYS AS (${expirySql('value')}) VIRTUAL`,
      );
    }
    adapter.exec(
      `CREATE INDEX IF NOT EXISTS ${TABLE}_lucid_expires_at ON ${TABLE}(lucid_expires_at) WHERE lucid_expires_at > 0`,
    );
    const reader = openReadOnly(file);
    const checkpointer = options.bulk
      ? undefined
      : new Checkpointer({
          file,
          synchronous,
          driver: driver(),
          fallback: () => {
            if (adapter.db.open) adapter.db.pragma('wal_autocheckpoint = 1000');
          },
          onError: options.onError ?? (() => undefined),
          walLimitPages: options.walLimitPages,
        });
    return new SqliteStore(adapter, reader, releaseOwnership, options, checkpointer);
  } catch (error) {
    adapter.db.close();
    throw error;
  }
}

class SqliteStore implements Store {
  readonly #keyv: Keyv<Entry>;
  readonly #adapter: BetterSqliteAdapter;
  /**
   * The read-only connection for point reads, listing, counting and the sweep's scan: committed rows only, never an
   * open batch's.
   */
  readonly #reader: Database.Database;
  /** The read-only connection's reads of one event-loop turn share a transaction (turn-snapshot.ts). */
  readonly #snapshot: TurnSnapshot;
  readonly #readEntry: (key: string) => Entry | undefined;
  readonly #queue = new KeyQueue();
  readonly #cache: EntryCache;
  readonly #batches: GroupCommit;
  readonly #checkpointer: Checkpointer | undefined;
  readonly #clock: Clock;
  readonly #release: () => void;
  readonly #file: string;
  readonly #sweeper: Sweeper;
  readonly #listeners = new Set<(change: Change) => void>();
  readonly #bulk: boolean;
  /** Bulk mode: writes run one after another on this chain, so BEGIN and COMMIT bracket whole writes. */
  #writes: Promise<unknown> = Promise.resolve();
  #batched = 0;
  /** Bulk mode: what the open batch wrote (null for a delete), by key, and its size. */
  readonly #uncommitted = new Map<string, Entry | null>();
  #uncommittedBytes = 0;
  #closed = false;
  #disconnected = false;

  constructor(
    adapter: BetterSqliteAdapter,
    reader: Database.Database,
    release: () => void,
    options: SqliteStoreOptions,
    checkpointer: Checkpointer | undefined,
  ) {
    this.#adapter = adapter;
    this.#reader = reader;
    const snapshot = (this.#snapshot = new TurnSnapshot(reader));
    const readEntry = entryReader(reader);
    this.#readEntry = (key) => snapshot.run(() => readEntry(key));
    this.#release = release;
    this.#file = path.resolve(options.file);
    this.#bulk = options.bulk ?? false;
    this.#clock = options.clock ?? Date.now;
    // Bulk mode keeps its open batch in #uncommitted instead; the cache would only duplicate it.
    this.#cache = new EntryCache(this.#bulk ? 0 : (options.cacheBytes ?? DEFAULT_CACHE_BYTES));
    this.#checkpointer = checkpointer;
    const begin = async () => {
      await checkpointer?.ready();
      snapshot.end();
      adapter.exec('BEGIN IMMEDIATE');
    };
    const commit = () => {
      adapter.exec('COMMIT');
      snapshot.end();
    };
    this.#batches = new GroupCommit({ begin, commit, rollback: () => adapter.exec('ROLLBACK') }, (keys, error) => {
      if (error === undefined) checkpointer?.committed(keys.length);
      options.onBatch?.(keys, error);
    });
    this.#keyv = new Keyv<Entry>({
      store: adapter,
      namespace: NAMESPACE,
      useKeyPrefix: false,
      throwOnErrors: true,
      // Keyv hands the serializer { value, expires }; Lucid keeps its own expiry inside the frame.
      serialize: ((data: { value: Entry }) => encodeEntry(data.value)) as never,
      // Never called: reads go through the read-only connection, not Keyv's get (see #read).
      deserialize: (() => undefined) as never,
    });
    this.#keyv.on('error', () => undefined);
    this.#sweeper = new Sweeper(options.sweepIntervalMs ?? 1000, () => this.purgeExpired(), options.onError);
  }

  async get(key: string): Promise<Entry | undefined> {
    return liveEntry(await this.#read(key), this.#clock());
  }

  update<T>(key: string, decide: Decide<T>): Promise<T> {
    return this.#queue.run(key, async () => {
      const now = this.#clock();
      const current = await this.#current(key, now);
      const { result, write, change } = decide(current, now);
      if (write !== undefined && !(write === null && current === undefined)) await this.#apply([{ key, write }]);
      if (change !== undefined && write !== undefined)
        this.#announce({ type: change, key, entry: write ?? undefined, time: now });
      return result;
    });
  }

  /**
   * Holds every key's queue, taken in sorted order (so two transactions cannot wait on each other), then applies
   * `decide` in one SQL transaction.
   */
  transact<T>(keys: readonly string[], decide: DecideMany<T>): Promise<T> {
    const sorted = [...new Set(keys)].sort();
    return this.#queue.runAll(sorted, () => this.#transactHeld(sorted, decide));
  }

  async #transactHeld<T>(keys: readonly string[], decide: DecideMany<T>): Promise<T> {
    const now = this.#clock();
    const current = new Map<string, Entry | undefined>();
    for (const key of keys) current.set(key, await this.#current(key, now));
    const { result, writes } = decide(current, now);
    const stray = writes.find((write) => !current.has(write.key));
    if (stray !== undefined)
      throw new Error(`A transaction wrote ${JSON.stringify(stray.key)}, which is not one of its keys.`);
    const applied = writes.filter((write) => !(write.write === null && current.get(write.key) === undefined));
    if (applied.length === 0) return result;
    await this.#apply(applied);
    const txn = randomUUID();
    for (const { key, write, change } of applied)
      this.#announce({ type: change, key, entry: write ?? undefined, time: now, txn });
    return result;
  }

  list(options: ListOptions): Promise<KeyInfo[]> {
    return listPage(this.#scanQuery, (key) => this.#read(key), options, this.#clock());
  }

  /** HEAD: the cached entry's metadata, else the frame's head and the value's length, never the value's bytes. */
  async head(key: string): Promise<KeyInfo | undefined> {
    const held = this.#uncommitted.has(key) ? (this.#uncommitted.get(key) ?? undefined) : this.#cache.peek(key);
    if (held !== undefined && !this.#disconnected) return infoOf(key, liveEntry(held, this.#clock()));
    return readHead(this.#scanQuery, (each) => this.#read(each), key, this.#clock());
  }

  entries(prefix: string): AsyncIterable<StoredEntry> {
    if (this.#disconnected) throw new StoreUnavailableError(new Error('The store is closed.'));
    return liveEntries(this.#file, prefix, this.#clock);
  }

  subscribe(listener: (change: Change) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  count(): Promise<number> {
    return countLive(this.#scanQuery, this.#clock());
  }

  async purgeExpired(): Promise<number> {
    let purged = 0;
    for (;;) {
      const now = this.#clock();
      const rows = (await this.#scanQuery(
        `SELECT key FROM ${TABLE} WHERE lucid_expires_at > 0 AND lucid_expires_at <= ? LIMIT ?`,
        now,
        SWEEP_BATCH,
      )) as Array<{
        key: string;
      }>;
      for (const { key: stored } of rows) {
        const key = lucidKey(stored);
        // Re-checked inside the key's queue: a write since the SELECT may have renewed the key.
        const removed = await this.#queue.run(key, async () => {
          const entry = await this.#read(key);
          if (entry === undefined || isLive(entry, this.#clock())) return false;
          await this.#expire(key, entry.expiresAt!);
          return true;
        });
        if (removed) purged += 1;
      }
      if (rows.length < SWEEP_BATCH) return purged;
    }
  }

  async ping(): Promise<void> {
    // Touches the table, so a broken or vanished database file fails here (SELECT 1 would not).
    await this.#guard(() => this.#adapter.all(`SELECT 1 FROM ${TABLE} LIMIT 1`));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#sweeper.stop();
    await this.#queue.drain();
    await this.#batches.drain();
    if (this.#bulk) await this.#commitBatch();
    // Before the writing connection closes: closing last, it checkpoints the rest and removes the WAL.
    await this.#checkpointer?.close();
    this.#disconnected = true;
    this.#snapshot.end();
    this.#reader.close();
    await this.#keyv.disconnect();
    this.#release();
  }

  /**
   * Listing, counting and the sweep's scan: committed rows only (bulk mode: its own connection, which sees the open
   * batch).
   */
  readonly #scanQuery: Query = (sql, ...parameters) =>
    this.#guard(() =>
      this.#bulk
        ? all(this.#adapter.db, sql, ...parameters)
        : this.#snapshot.run(() => all(this.#reader, sql, ...parameters)),
    );

  /**
   * The live entry under `key`, expiring (and announcing) it first when it is past its expiry; call only inside the
   * key's queue.
   */
  async #current(key: string, now: number): Promise<Entry | undefined> {
    const current = await this.#read(key);
    if (current === undefined || isLive(current, now)) return current;
    // Expired but not yet swept: remove it now so the expiry is announced before what follows.
    await this.#expire(key, now);
    return undefined;
  }

  /**
   * Applies `writes` (null deletes) together: in one group-committed transaction, resolving once it
   * committed, the cache then holding exactly what committed (or forgetting the keys when it failed);
   * in bulk mode, into the open batch. Call only while holding every key's queue.
   */
  async #apply(writes: ReadonlyArray<{ key: string; write: Entry | null }>): Promise<void> {
    const statement = ({ key, write }: { key: string; write: Entry | null }) =>
      write === null ? this.#keyv.delete(rowKey(key)) : this.#keyv.set(rowKey(key), write);
    if (this.#bulk) {
      for (const each of writes) await this.#write(each.key, each.write, () => statement(each));
      return;
    }
    const keys = writes.map((each) => each.key);
    this.#cache.begin(keys);
    let committed: Map<string, Entry | null> | undefined;
    try {
      await this.#guard(() =>
        this.#batches.submit(keys, async () => {
          for (const each of writes) await statement(each);
        }),
      );
      committed = new Map(writes.map((each) => [each.key, each.write]));
    } finally {
      this.#cache.end(keys, committed);
    }
  }

  /** Bulk mode: applies one write of `key` (`entry`, or null for a delete) inside the open batch's transaction. */
  async #write(key: string, entry: Entry | null, operation: () => Promise<unknown>): Promise<void> {
    const step = this.#writes.then(async () => {
      if (this.#batched === 0) await this.#guard(() => this.#adapter.exec('BEGIN IMMEDIATE'));
      await this.#guard(operation);
      this.#uncommitted.set(key, entry);
      this.#uncommittedBytes += entry?.value.length ?? 0;
      if (++this.#batched >= BULK_BATCH || this.#uncommittedBytes >= BULK_BATCH_BYTES) await this.#commit();
    });
    this.#writes = step.catch(() => undefined);
    await step;
  }

  /** Waits for the writes in flight, then commits their batch. */
  async #commitBatch(): Promise<void> {
    await this.#writes;
    await this.#commit();
  }

  async #commit(): Promise<void> {
    if (this.#batched === 0) return;
    await this.#guard(() => this.#adapter.exec('COMMIT'));
    this.#snapshot.end();
    this.#batched = 0;
    this.#uncommitted.clear();
    this.#uncommittedBytes = 0;
  }

  /** Reads from the cache, else from the read-only connection (committed rows only). */
  async #read(key: string): Promise<Entry | undefined> {
    // A closed store answers nothing, not even from its cache: a reader must not see a value the
    // store can no longer vouch for.
    if (this.#disconnected) return this.#guard(() => undefined);
    // Bulk mode: the open batch's own writes, which the read-only connection cannot see until they commit.
    if (this.#uncommitted.has(key)) return this.#uncommitted.get(key) ?? undefined;
    return this.#cache.read(key, () => this.#guard(() => this.#readEntry(key)));
  }

  /** Deletes an expired row and announces the expiry; call only inside the key's queue. */
  async #expire(key: string, time: number): Promise<void> {
    await this.#apply([{ key, write: null }]);
    this.#announce({ type: 'expired', key, time });
  }

  #announce(change: Change): void {
    for (const listener of this.#listeners) listener(change);
  }

  /** Every call on the file: a closed store or a failing call answers StoreUnavailableError (503). */
  #guard<T>(operation: () => T | Promise<T>): Promise<T> {
    return guarded(this.#disconnected, 0, operation);
  }
}

type Query = (sql: string, ...parameters: unknown[]) => Promise<unknown>;

/** Statements prepared once per connection and SQL text (listing, counting and the sweep reuse a handful). */
const prepared = new WeakMap<Database.Database, Map<string, Database.Statement>>();

/** Every row `sql` answers on `db`, its statement prepared once. */
function all(db: Database.Database, sql: string, ...parameters: unknown[]): unknown[] {
  let statements = prepared.get(db);
  if (statements === undefined) prepared.set(db, (statements = new Map()));
  let statement = statements.get(sql);
  if (statement === undefined) statements.set(sql, (statement = db.prepare(sql)));
  return statement.all(...parameters);
}

/**
 * The one way an entry is read from a file: its row by a prepared point read, the frame decoded (undefined when
 * missing).
 */
function entryReader(db: Database.Database): (key: string) => Entry | undefined {
  const statement = db.prepare<[string], { value: unknown }>(`SELECT value FROM ${TABLE} WHERE key = ?`);
  return (key) => {
    const row = statement.get(rowKey(key));
    return Buffer.isBuffer(row?.value) ? decodeEntry(row.value) : undefined;
  };
}

/**
 * How many live keys: all rows minus the expired ones (the expiry index answers that part); measured at 100k keys in
 * test/unit/sqlite-store.test.ts.
 */
async function countLive(query: Query, now: number): Promise<number> {
  const rows = (await query(
    `SELECT (SELECT COUNT(*) FROM ${TABLE})
       - (SELECT COUNT(*) FROM ${TABLE} WHERE lucid_expires_at > 0 AND lucid_expires_at <= ?) AS live`,
    now,
  )) as Array<{ live: number }>;
  return rows[0]?.live ?? 0;
}

/**
 * One page of `list`, read with `query`; `read` fetches a whole frame when its metadata is longer than the head read.
 */
async function listPage(
  query: Query,
  read: (key: string) => Promise<Entry | undefined>,
  { prefix, after, limit }: ListOptions,
  now: number,
): Promise<KeyInfo[]> {
  const low = rowKey(prefix);
  const high = `${low}\u{10FFFF}`;
  const start = after !== undefined && rowKey(after) >= low ? rowKey(after) : undefined;
  const rows = (await query(
    `SELECT key, length(value) AS total, substr(value, 1, ${HEAD_BYTES}) AS head FROM ${TABLE}
     WHERE key ${start === undefined ? '>=' : '>'} ? AND key < ? AND (lucid_expires_at = 0 OR lucid_expires_at > ?)
     ORDER BY key LIMIT ?`,
    start ?? low,
    high,
    now,
    limit,
  )) as Array<{ key: string; total: number; head: Buffer }>;
  const page: KeyInfo[] = [];
  for (const row of rows) {
    const info = await rowInfo(lucidKey(row.key), row, read);
    if (info !== undefined) page.push(info);
  }
  return page;
}

/**
 * A row's KeyInfo from its frame's head and length, without its value; `read` fetches the whole frame when the
 * metadata is longer than the head (HEAD_BYTES).
 */
async function rowInfo(
  key: string,
  row: { total: number; head: Buffer },
  read: (key: string) => Promise<Entry | undefined>,
): Promise<KeyInfo | undefined> {
  try {
    const { metadata, valueOffset } = decodeHead(row.head);
    return { key, size: row.total - valueOffset, entry: metadata };
  } catch {
    return infoOf(key, await read(key));
  }
}

/** A live entry's KeyInfo (undefined for none). */
function infoOf(key: string, entry: Entry | undefined): KeyInfo | undefined {
  if (entry === undefined) return undefined;
  const { value, ...metadata } = entry;
  return { key, size: value.length, entry: metadata };
}

/**
 * One key's metadata and value size read with `query` (the frame's head and length only), or by `read` when its
 * metadata is longer than the head.
 */
async function readHead(
  query: Query,
  read: (key: string) => Promise<Entry | undefined>,
  key: string,
  now: number,
): Promise<KeyInfo | undefined> {
  const rows = (await query(
    `SELECT length(value) AS total, substr(value, 1, ${HEAD_BYTES}) AS head FROM ${TABLE} WHERE key = ?`,
    rowKey(key),
  )) as Array<{
    total: number;
    head: unknown;
  }>;
  const row = rows[0];
  if (row === undefined || !Buffer.isBuffer(row.head)) return undefined;
  const info = await rowInfo(key, { total: row.total, head: row.head }, read);
  return info !== undefined && isLive(info.entry, now) ? info : undefined;
}

/**
 * Every live entry under `prefix` from one snapshot of `file` (sqlite-snapshot.ts), live as of the snapshot's start.
 */
async function* liveEntries(file: string, prefix: string, clock: Clock): AsyncGenerator<StoredEntry> {
  const low = rowKey(prefix);
  const now = clock();
  for await (const row of snapshotRows(file, TABLE, low, `${low}\u{10FFFF}`)) {
    const entry = decodeEntry(row.value);
    if (isLive(entry, now)) yield { key: lucidKey(row.key), entry };
  }
}

/** A store over a file another process may own: reads on a read-only connection, no pid lock, every write refused. */
function openReadOnlyStore(file: string, clock: Clock): Store {
  const db = openReadOnly(file);
  const readEntry = entryReader(db);
  let closed = false;
  const query: Query = (sql, ...parameters) => guarded(closed, 0, () => all(db, sql, ...parameters));
  const read = (key: string) => guarded(closed, 0, () => readEntry(key));
  const refuse = () => Promise.reject(new Error(`The store at ${file} is open read-only.`));
  return {
    get: async (key) => liveEntry(await read(key), clock()),
    update: refuse,
    purgeExpired: refuse,
    list: (options) => listPage(query, read, options, clock()),
    head: (key) => readHead(query, read, key, clock()),
    entries: (prefix) => liveEntries(file, prefix, clock),
    count: () => countLive(query, clock()),
    subscribe: () => () => undefined,
    ping: async () => {
      await query(`SELECT 1 FROM ${TABLE} LIMIT 1`);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}

/**
 * Makes this process the only one using `file`: a second Lucid on the same file would break the
 * per-key queue's atomicity. A lock left by a killed process (its pid no longer running) is taken over.
 */
function claimFile(file: string): () => void {
  const lockFile = `${file}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockFile, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          unlinkSync(lockFile);
        } catch {
          // Already gone: nothing to release.
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(readFileSync(lockFile, 'utf8').trim());
      if (Number.isInteger(owner) && owner > 0 && isRunning(owner)) {
        throw new StoreInUseError(file, owner);
      }
      unlinkSync(lockFile);
    }
  }
  throw new Error(`Cannot take the lock file ${lockFile}.`);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
