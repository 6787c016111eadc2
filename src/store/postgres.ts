/**
 * The PostgreSQL store: many Lucid nodes share one PostgreSQL database.
 *
 * @keyv/postgres keeps text values in a table keyed by varchar(255), through one process-wide pool
 * with no way to run a transaction on one connection; Lucid needs binary values, 512-character keys
 * and row-locking transactions, so this store uses `pg`, the driver @keyv/postgres is built on:
 *
 * - table `<ns>_kv`: key (text, "C" collation, so listing order is byte order as on every
 *   backend), frame (the entry, frame.ts), meta (the frame without the value), size, expires_at;
 * - every write is one transaction that first takes a transaction-scoped advisory lock on the key
 *   (so even a key that does not exist yet has exactly one writer at a time: one 201 per create),
 *   reads the row, lets `decide` compute the change, writes it and appends the change to the log;
 * - the change log `<ns>_changes` gets its row under a second, global advisory lock held to the
 *   commit, so log ids commit in increasing order: a reader that has seen id N has seen every id
 *   below N, which is what makes Last-Event-ID replay gap-free on any node. The price is that
 *   commits that announce a change are serialised (measured in bench/README.md);
 * - NOTIFY `<ns>_changes` after each such commit wakes every node's listener, which reads the new
 *   log rows in id order and fans them out;
 * - expiry: reads treat a row past its expiry as missing at once; a sweep on every node deletes
 *   expired rows (each in the same locked transaction as a write, so an expiry is announced once);
 * - a transaction (`transact`) is one PostgreSQL transaction holding the advisory locks of all its
 *   keys, taken in sorted key order (so two transactions cannot deadlock), with every change logged
 *   under the transaction's id (column txn);
 * - revocations: table `<ns>_revoked`, polled by every node.
 */
import { userInfo } from 'node:os';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { parseIntoClientConfig } from 'pg-connection-string';
import { StoreUnavailableError } from '../errors.js';
import { decodeEntry } from './frame.js';
import { KeyQueue } from './key-queue.js';
import { Sweeper } from './sweeper.js';
import {
  SHARED_DEFAULTS,
  changeFromLog,
  effectiveWrites,
  guarded,
  redactUrl,
  resolveSharedOptions,
  sharedFrames,
  sleep,
  type ResolvedSharedOptions,
  type SharedStoreOptions,
} from './shared.js';
import {
  isLive,
  liveEntry,
  type Change,
  type Clock,
  type Decide,
  type DecideMany,
  type Decision,
  type Entry,
  type KeyInfo,
  type ListOptions,
  type RevocationStore,
  type Store,
  type StoredEntry,
  type TxnDecision,
} from './types.js';

const SWEEP_BATCH = 500;
const SNAPSHOT_PAGE = 500;
/** The advisory lock that orders change-log commits (an arbitrary constant, namespaced by hashing below). */
const LOG_LOCK_SALT = 'lucid change log';

interface LogRow {
  id: string;
  type: string;
  key: string;
  time: string;
  size: number;
  omitted: boolean;
  frame: Buffer | null;
  txn: string | null;
}

/**
 * The driver's settings for `url`. When neither the URL, PGUSER nor USER names the user, `pg` sends
 * none and the server refuses the connection ("no PostgreSQL user name specified in startup
 * packet"); libpq (psql) falls back to the operating system's user name, and so does Lucid, so a
 * URL that works with psql works here too, even where USER is unset (containers, service managers).
 */
export function connectionConfig(url: string, env: NodeJS.ProcessEnv = process.env): pg.ClientConfig {
  const config = parseIntoClientConfig(url);
  if (config.user === undefined || config.user === '') {
    if ((env.PGUSER ?? '') === '' && (env.USER ?? '') === '') config.user = userInfo().username;
  }
  return config;
}

/**
 * Connects, creates the tables when missing, and returns a ready store; throws a clear Error when PostgreSQL cannot be
 * reached.
 */
export async function openPostgresStore(options: SharedStoreOptions): Promise<Store> {
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(options.namespace)) {
    throw new Error(
      `The store namespace "${options.namespace}" must be lower-case letters, digits and underscores ` +
        '(it names PostgreSQL tables).',
    );
  }
  const timeoutMs = options.timeoutMs ?? SHARED_DEFAULTS.timeoutMs;
  const pool = new pg.Pool({
    ...connectionConfig(options.url),
    max: 10,
    connectionTimeoutMillis: 3000,
    query_timeout: timeoutMs,
    // A node that stops mid-transaction (SIGSTOP, a long GC pause, a hung VM) would otherwise keep its
    // row and advisory locks until it wakes, stalling every node's writes to those keys: PostgreSQL
    // ends such a transaction after the same limit any call has, and the stalled node's COMMIT fails.
    idle_in_transaction_session_timeout: timeoutMs,
  });
  pool.on('error', (error) => options.onError?.(error)); // An idle connection died; the pool replaces it.
  try {
    const ns = options.namespace;
    // Nodes starting together would race CREATE TABLE IF NOT EXISTS (it is not atomic in
    // PostgreSQL): the schema is created under a session-wide advisory lock.
    const setup = await pool.connect();
    try {
      await setup.query(`SELECT pg_advisory_lock(hashtextextended($1, 0))`, [`lucid schema:${ns}`]);
      await setup.query(`
      CREATE TABLE IF NOT EXISTS ${ns}_kv (
        key text COLLATE "C" PRIMARY KEY, frame bytea NOT NULL, meta bytea NOT NULL, size integer NOT NULL,
        expires_at bigint);
      CREATE INDEX IF NOT EXISTS ${ns}_kv_expires_at ON ${ns}_kv (expires_at) WHERE expires_at IS NOT NULL;
      CREATE TABLE IF NOT EXISTS ${ns}_changes (
        id bigserial PRIMARY KEY, type text NOT NULL, key text NOT NULL, time bigint NOT NULL, size integer NOT NULL,
        omitted boolean NOT NULL, frame bytea, txn text);
      ALTER TABLE ${ns}_changes ADD COLUMN IF NOT EXISTS txn text;
      CREATE TABLE IF NOT EXISTS ${ns}_revoked (id text PRIMARY KEY, until bigint NOT NULL);`);
      await setup.query(`SELECT pg_advisory_unlock(hashtextextended($1, 0))`, [`lucid schema:${ns}`]);
    } finally {
      setup.release();
    }
    const store = new PostgresStore(pool, options);
    await store.start();
    return store;
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new Error(
      `Cannot reach PostgreSQL at ${redactUrl(options.url)}: ${(error as Error).message || String(error)}`,
      { cause: error },
    );
  }
}

class PostgresStore implements Store {
  readonly #pool: pg.Pool;
  readonly #queue = new KeyQueue();
  readonly #clock: Clock;
  readonly #options: ResolvedSharedOptions;
  readonly #listeners = new Set<(change: Change) => void>();
  readonly #t: { kv: string; changes: string; revoked: string; channel: string };
  #listener: pg.Client | undefined;
  #sweeper: Sweeper | undefined;
  #closed = false;
  #lastLogId = 0n;
  #fetching: Promise<void> = Promise.resolve();
  #refetch = false;
  readonly revocations: RevocationStore;

  constructor(pool: pg.Pool, options: SharedStoreOptions) {
    this.#pool = pool;
    this.#clock = options.clock ?? Date.now;
    this.#options = resolveSharedOptions(options);
    const ns = options.namespace;
    this.#t = { kv: `${ns}_kv`, changes: `${ns}_changes`, revoked: `${ns}_revoked`, channel: `${ns}_changes` };
    this.revocations = {
      add: async (tokenId, until) => {
        await this.#query(
          `INSERT INTO ${this.#t.revoked} (id, until) VALUES ($1, $2)
           ON CONFLICT (id) DO UPDATE SET until = EXCLUDED.until`,
          [tokenId, until],
        );
      },
      list: async () => {
        const now = this.#clock();
        await this.#query(`DELETE FROM ${this.#t.revoked} WHERE until <= $1`, [now]);
        const { rows } = await this.#query<{ id: string }>(`SELECT id FROM ${this.#t.revoked}`);
        return rows.map((row) => row.id);
      },
    };
  }

  async start(): Promise<void> {
    const { rows } = await this.#query<{ id: string | null }>(`SELECT max(id)::text AS id FROM ${this.#t.changes}`);
    this.#lastLogId = BigInt(rows[0]?.id ?? 0);
    await this.#listen();
    this.#sweeper = new Sweeper(
      this.#options.sweepIntervalMs,
      () => this.purgeExpired().then(() => this.#trimLog()),
      this.#options.onError,
    );
  }

  async get(key: string): Promise<Entry | undefined> {
    const { rows } = await this.#query<{ frame: Buffer }>(`SELECT frame FROM ${this.#t.kv} WHERE key = $1`, [key]);
    return liveEntry(rows[0] && decodeEntry(rows[0].frame), this.#clock());
  }

  async update<T>(key: string, decide: Decide<T>): Promise<T> {
    const outcome = await this.#queue.run(key, () =>
      this.#transaction(key, async (client) => {
        const now = this.#clock();
        const { rows } = await client.query<{ frame: Buffer }>(`SELECT frame FROM ${this.#t.kv} WHERE key = $1`, [key]);
        let current = rows[0] && decodeEntry(rows[0].frame);
        if (current !== undefined && !isLive(current, now)) {
          await this.#apply(client, key, null, 'expired', current.expiresAt!);
          current = undefined;
        }
        let decision: Decision<T>;
        try {
          decision = decide(current, now);
        } catch (error) {
          // Refused (a 4xx): nothing to write, but an expiry found on the way is still committed
          // and announced, as on the other backends.
          return { refused: error };
        }
        const { result, write, change } = decision;
        if (write !== undefined && !(write === null && current === undefined))
          await this.#apply(client, key, write, change, now);
        return { result };
      }),
    );
    if ('refused' in outcome) throw outcome.refused;
    return outcome.result;
  }

  async transact<T>(keys: readonly string[], decide: DecideMany<T>): Promise<T> {
    const held = [...new Set(keys)].sort();
    const outcome = await this.#queue.runAll(held, () =>
      this.#transaction(held, async (client) => {
        const now = this.#clock();
        const { rows } = await client.query<{ key: string; frame: Buffer }>(
          `SELECT key, frame FROM ${this.#t.kv} WHERE key = ANY($1)`,
          [held],
        );
        const current = new Map<string, Entry | undefined>(held.map((key) => [key, undefined]));
        for (const row of rows) {
          const entry = decodeEntry(row.frame);
          if (isLive(entry, now)) current.set(row.key, entry);
          else await this.#apply(client, row.key, null, 'expired', entry.expiresAt!);
        }
        let decision: TxnDecision<T>;
        try {
          decision = decide(current, now);
        } catch (error) {
          return { refused: error }; // As in update: expiries found on the way are still committed.
        }
        const txn = randomUUID();
        for (const { key, write, change } of effectiveWrites(held, current, decision.writes))
          await this.#apply(client, key, write, change, now, txn);
        return { result: decision.result };
      }),
    );
    if ('refused' in outcome) throw outcome.refused;
    return outcome.result;
  }

  /** HEAD: the row's metadata and size columns, never its frame (the value). */
  async head(key: string): Promise<KeyInfo | undefined> {
    const { rows } = await this.#query<{ key: string; meta: Buffer; size: number }>(
      `SELECT key, meta, size FROM ${this.#t.kv} WHERE key = $1 AND (expires_at IS NULL OR expires_at > $2)`,
      [key, this.#clock()],
    );
    return rows[0] === undefined ? undefined : keyInfo(rows[0]);
  }

  async list({ prefix, after, limit }: ListOptions): Promise<KeyInfo[]> {
    const start = after !== undefined && after >= prefix ? after : undefined;
    const { rows } = await this.#query<{ key: string; meta: Buffer; size: number }>(
      `SELECT key, meta, size FROM ${this.#t.kv}
       WHERE key ${start === undefined ? '>=' : '>'} $1 AND key < $2 AND (expires_at IS NULL OR expires_at > $3)
       ORDER BY key LIMIT $4`,
      [start ?? prefix, `${prefix}\u{10FFFF}`, this.#clock(), limit],
    );
    return rows.map(keyInfo);
  }

  /**
   * Every live entry under `prefix` from one snapshot: a READ ONLY, REPEATABLE READ transaction
   * pages through the key index, so writes committed while it runs are not seen at all.
   */
  async *entries(prefix: string): AsyncIterable<StoredEntry> {
    const client = await guarded(this.#closed, this.#options.timeoutMs, () => this.#pool.connect());
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const now = this.#clock();
      let after: string | undefined;
      for (;;) {
        const { rows } = await client.query<{ key: string; frame: Buffer }>(
          `SELECT key, frame FROM ${this.#t.kv}
           WHERE key ${after === undefined ? '>=' : '>'} $1 AND key < $2 AND (expires_at IS NULL OR expires_at > $3)
           ORDER BY key LIMIT ${SNAPSHOT_PAGE}`,
          [after ?? prefix, `${prefix}\u{10FFFF}`, now],
        );
        for (const row of rows) yield { key: row.key, entry: decodeEntry(row.frame) };
        if (rows.length < SNAPSHOT_PAGE) break;
        after = rows[rows.length - 1]!.key;
      }
    } catch (error) {
      throw error instanceof StoreUnavailableError ? error : new StoreUnavailableError(error);
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
    }
  }

  subscribe(listener: (change: Change) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async changesSince(id: string): Promise<Change[] | undefined> {
    if (!/^\d{1,18}$/.test(id)) return undefined;
    const { rows } = await this.#query<LogRow>(
      `SELECT id::text, type, key, time::text, size, omitted, frame, txn
       FROM ${this.#t.changes} WHERE id >= $1 ORDER BY id`,
      [id],
    );
    if (rows[0]?.id !== id) return undefined; // Trimmed away, or never in this log.
    return rows.slice(1).map((row) => this.#decodeRow(row));
  }

  async purgeExpired(): Promise<number> {
    let purged = 0;
    for (;;) {
      const now = this.#clock();
      const { rows } = await this.#query<{ key: string }>(
        `SELECT key FROM ${this.#t.kv} WHERE expires_at <= $1 LIMIT ${SWEEP_BATCH}`,
        [now],
      );
      for (const { key } of rows) {
        // Re-checked under the key's lock: a write since the SELECT may have renewed the key, or another node expired
        // it.
        const removed = await this.#queue.run(key, () =>
          this.#transaction(key, async (client) => {
            const found = await client.query<{ frame: Buffer }>(`SELECT frame FROM ${this.#t.kv} WHERE key = $1`, [
              key,
            ]);
            const entry = found.rows[0] && decodeEntry(found.rows[0].frame);
            if (entry === undefined || isLive(entry, this.#clock())) return false;
            await this.#apply(client, key, null, 'expired', entry.expiresAt!);
            return true;
          }),
        );
        if (removed) purged += 1;
      }
      if (rows.length < SWEEP_BATCH) return purged;
    }
  }

  async count(): Promise<number> {
    const { rows } = await this.#query<{ n: string }>(
      `SELECT count(*)::text AS n FROM ${this.#t.kv} WHERE expires_at IS NULL OR expires_at > $1`,
      [this.#clock()],
    );
    return Number(rows[0]!.n);
  }

  async ping(): Promise<void> {
    await this.#query(`SELECT 1 FROM ${this.#t.kv} LIMIT 1`);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#sweeper?.stop();
    await this.#queue.drain();
    this.#closed = true;
    const listener = this.#listener;
    this.#listener = undefined;
    await listener?.end().catch(() => undefined);
    await this.#fetching;
    await this.#pool.end().catch(() => undefined);
  }

  /** Writes (or deletes) the row and, when there is a change to announce, appends it to the log and notifies. */
  async #apply(
    client: pg.PoolClient,
    key: string,
    entry: Entry | null,
    change: Change['type'] | undefined,
    time: number,
    txn?: string,
  ): Promise<void> {
    const frames = entry === null ? undefined : sharedFrames(entry, this.#options.logValueBytes);
    if (frames === undefined) {
      await client.query(`DELETE FROM ${this.#t.kv} WHERE key = $1`, [key]);
    } else {
      await client.query(
        `INSERT INTO ${this.#t.kv} (key, frame, meta, size, expires_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (key) DO UPDATE
         SET frame = EXCLUDED.frame, meta = EXCLUDED.meta, size = EXCLUDED.size, expires_at = EXCLUDED.expires_at`,
        [key, frames.frame, frames.meta, frames.entry.value.length, frames.entry.expiresAt],
      );
    }
    if (change === undefined) return;
    // Held until COMMIT: log ids become visible in the order they were given out.
    await client.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [
      `${LOG_LOCK_SALT}:${this.#t.changes}`,
    ]);
    await client.query(
      `INSERT INTO ${this.#t.changes} (type, key, time, size, omitted, frame, txn) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [change, key, time, entry?.value.length ?? 0, frames?.omitted ?? false, frames?.log ?? null, txn ?? null],
    );
    await client.query(`SELECT pg_notify($1, '')`, [this.#t.channel]);
  }

  /**
   * Runs `work` in a transaction holding the advisory lock of every key (taken in sorted order);
   * every failure of the backend is a StoreUnavailableError.
   */
  async #transaction<T>(keys: string | readonly string[], work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await guarded(this.#closed, this.#options.timeoutMs, () => this.#pool.connect());
    // A connection lost between queries is reported here as an event; unheard, it would end the process.
    const onError = (error: unknown) => (failed ??= error);
    client.on('error', onError);
    let failed: unknown;
    try {
      await client.query('BEGIN');
      for (const key of typeof keys === 'string' ? [keys] : [...new Set(keys)].sort()) {
        await client.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`${this.#t.kv}:${key}`]);
      }
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      failed = error;
      await client.query('ROLLBACK').catch(() => undefined);
      if (error instanceof StoreUnavailableError || !(error instanceof Error) || !isDatabaseError(error)) throw error;
      throw new StoreUnavailableError(error);
    } finally {
      client.off('error', onError);
      client.release(failed !== undefined && isDatabaseError(failed) ? (failed as Error) : undefined);
    }
  }

  /** LISTENs on a dedicated connection; when it is lost, reconnects and catches up from the log. */
  async #listen(): Promise<void> {
    const client = new pg.Client({ ...connectionConfig(this.#options.url), connectionTimeoutMillis: 3000 });
    client.on('error', (error) => this.#options.onError(error));
    client.on('notification', () => this.#fetch());
    client.on('end', () => {
      if (this.#closed || this.#listener !== client) return;
      this.#listener = undefined;
      void this.#relisten();
    });
    await client.connect();
    await client.query(`LISTEN ${this.#t.channel}`);
    this.#listener = client;
    this.#fetch(); // Whatever was logged while no one listened.
  }

  async #relisten(): Promise<void> {
    while (!this.#closed) {
      try {
        await this.#listen();
        return;
      } catch (error) {
        this.#options.onError(error);
        await sleep(1000);
      }
    }
  }

  /** Reads every log row after the last one delivered and delivers them in id order; calls coalesce. */
  #fetch(): void {
    if (this.#refetch) return;
    this.#refetch = true;
    this.#fetching = this.#fetching.then(async () => {
      this.#refetch = false;
      if (this.#closed) return;
      try {
        for (;;) {
          const { rows } = await this.#query<LogRow>(
            `SELECT id::text, type, key, time::text, size, omitted, frame, txn
             FROM ${this.#t.changes} WHERE id > $1 ORDER BY id LIMIT 1000`,
            [String(this.#lastLogId)],
          );
          for (const row of rows) {
            this.#lastLogId = BigInt(row.id);
            const change = this.#decodeRow(row);
            for (const listener of this.#listeners) listener(change);
          }
          if (rows.length < 1000) return;
        }
      } catch (error) {
        this.#options.onError(error);
      }
    });
  }

  async #trimLog(): Promise<void> {
    await this.#query(`DELETE FROM ${this.#t.changes} WHERE id <= (SELECT max(id) FROM ${this.#t.changes}) - $1`, [
      this.#options.logSize,
    ]);
  }

  #decodeRow(row: LogRow): Change {
    const entry = row.frame !== null && row.frame.length > 0 ? decodeEntry(row.frame) : undefined;
    return changeFromLog(
      row.id,
      row.type,
      row.key,
      Number(row.time),
      row.size,
      row.omitted,
      entry,
      row.txn ?? undefined,
    );
  }

  #query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    return guarded(this.#closed, this.#options.timeoutMs, () => this.#pool.query<R>(text, values));
  }
}

/** Whether an error came from the database or the connection (rather than from `decide`). */
function isDatabaseError(error: unknown): boolean {
  return (
    error instanceof pg.DatabaseError ||
    (error instanceof Error && /connect|terminat|timeout|ECONN|EPIPE|closed/i.test(error.message))
  );
}

/** A row's KeyInfo from its metadata and size columns (head and list), never its frame. */
function keyInfo(row: { key: string; meta: Buffer; size: number }): KeyInfo {
  const { value: _value, ...entry } = decodeEntry(row.meta);
  return { key: row.key, size: row.size, entry };
}
