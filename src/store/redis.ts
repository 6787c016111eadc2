/**
 * The Redis store: many Lucid nodes share one Redis (or Valkey, or a managed Redis).
 *
 * Keyv's adapter interface (get/set/delete) cannot carry Lucid's promises (no compare-and-set, no
 * increment, errors swallowed), so this store talks to Redis through the client @keyv/redis is
 * built on (@redis/client) and does every write with a Lua script, which Redis runs atomically:
 *
 * - one hash per key, `{ns}:k:<key>`, with fields f (the entry's frame, see frame.ts), m (the frame
 *   without the value, for listing), s (the value's size) and t (the entry's ETag);
 * - atomic writes are optimistic: read the key, let `decide` compute the change in JavaScript, then
 *   a script applies it only if the key's ETag is still the one read (every write changes the ETag,
 *   so "unchanged ETag" means "unchanged entry"); a lost race re-reads and decides again. Inside one
 *   node a per-key queue keeps its own requests from racing each other, so contention on a hot key
 *   is between nodes, not between requests;
 * - expiry: a key past its expiry by the node's clock is gone to every read; a sorted set `{ns}:expiry`
 *   (score = expiry time) lets a sweep remove it, announce its expiry once and clean the listing
 *   index; the sweep runs on every node and is a no-op for keys already done. The key also carries a
 *   PEXPIRE a grace period past its expiry (EXPIRY_GRACE_MS), so Redis drops it even when no node runs;
 * - listing: a sorted set `{ns}:index` with every key at score 0, read with ZRANGE BYLEX, so pages
 *   come in byte order with a stable cursor (SCAN is unordered and may repeat keys, so it is not
 *   used); members whose hash has expired but not yet been swept are skipped;
 * - the change log is a stream `{ns}:changes` that the write script appends to in the same atomic
 *   step (trimmed to about `logSize` entries): every node reads it (XREAD BLOCK on a second
 *   connection) to fan notifications out, and Last-Event-ID replays from it on any node.
 *
 * - a transaction (`transact`) reads all its keys in one script (one consistent snapshot), decides
 *   in JavaScript, and a second script applies every write only if every key's ETag is still the
 *   one read, logging each change with the transaction's id (field x); a lost race decides again.
 *   Inside one node the keys' queues are held in sorted order.
 *
 * Every key shares the `{ns}` hash tag, so on Redis Cluster all of Lucid's keys live in one slot:
 * Cluster gives failover there, not sharding (docs/running-several-nodes.md).
 */
import { randomUUID } from 'node:crypto';
import { RESP_TYPES, createClient } from '@redis/client';
import { StoreUnavailableError } from '../errors.js';
import { decodeEntry } from './frame.js';
import { KeyQueue } from './key-queue.js';
import { Sweeper } from './sweeper.js';
import {
  backoff,
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
  type Entry,
  type KeyInfo,
  type ListOptions,
  type RevocationStore,
  type Store,
  type TxnWrite,
} from './types.js';

type Reply = null | number | Buffer | Reply[];
type Client = ReturnType<typeof createBufferClient>;
type Scripts = { write: string; sweep: string; read: string; txn: string };

/** The atomic write: applies a set or a delete only if the key's ETag is still the one read, and logs the change. */
const WRITE_SCRIPT = `
local current = redis.call('HGET', KEYS[1], 't')
if (current or '') ~= ARGV[1] then return 0 end
if ARGV[2] == 'set' then
  redis.call('HSET', KEYS[1], 'f', ARGV[3], 'm', ARGV[4], 's', ARGV[5], 't', ARGV[6])
  if ARGV[7] == '0' then
    redis.call('PERSIST', KEYS[1])
    redis.call('ZREM', KEYS[3], ARGV[9])
  else
    redis.call('PEXPIRE', KEYS[1], ARGV[8])
    redis.call('ZADD', KEYS[3], ARGV[7], ARGV[9])
  end
  redis.call('ZADD', KEYS[2], 0, ARGV[9])
else
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[9])
  redis.call('ZREM', KEYS[3], ARGV[9])
end
if ARGV[10] ~= '' then
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[11], '*',
    'y', ARGV[10], 'k', ARGV[9], 'w', ARGV[12], 's', ARGV[5], 'o', ARGV[13], 'f', ARGV[14])
end
return 1
`;

/** Reads several keys in one atomic step: each key's frame and ETag. */
const READ_SCRIPT = `
local out = {}
for i = 1, #KEYS do out[i] = redis.call('HMGET', KEYS[i], 'f', 't') end
return out
`;

/**
 * A transaction's writes: applied only if every key's ETag is still the one read (ARGV[5..4+n]),
 * then each write (TXN_FIELDS arguments) as WRITE_SCRIPT does it, logged with the transaction id.
 * KEYS: index, expiry, changes, then the transaction's entry keys.
 */
const TXN_SCRIPT = `
local n = tonumber(ARGV[1])
for i = 1, n do
  local current = redis.call('HGET', KEYS[3 + i], 't')
  if (current or '') ~= ARGV[4 + i] then return 0 end
end
for w = 5 + n, #ARGV, 12 do
  local k = KEYS[3 + tonumber(ARGV[w])]
  local name = ARGV[w + 8]
  if ARGV[w + 1] == 'set' then
    redis.call('HSET', k, 'f', ARGV[w + 2], 'm', ARGV[w + 3], 's', ARGV[w + 4], 't', ARGV[w + 5])
    if ARGV[w + 6] == '0' then
      redis.call('PERSIST', k)
      redis.call('ZREM', KEYS[2], name)
    else
      redis.call('PEXPIRE', k, ARGV[w + 7])
      redis.call('ZADD', KEYS[2], ARGV[w + 6], name)
    end
    redis.call('ZADD', KEYS[1], 0, name)
  else
    redis.call('DEL', k)
    redis.call('ZREM', KEYS[1], name)
    redis.call('ZREM', KEYS[2], name)
  end
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '*',
    'y', ARGV[w + 9], 'k', name, 'w', ARGV[3], 's', ARGV[w + 4], 'o', ARGV[w + 10], 'f', ARGV[w + 11], 'x', ARGV[4])
end
return 1
`;

/**
 * The expiry sweep: every member of the expiry set whose time has come is removed (its hash, if
 * Redis has not dropped it already, the index entry) and announced once. Keys are derived from the
 * namespace's hash tag, so they share the slot of the declared keys.
 */
const SWEEP_SCRIPT = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[2])
local n = 0
for i = 1, #due, 2 do
  local key = due[i]
  redis.call('DEL', ARGV[3] .. key)
  redis.call('ZREM', KEYS[1], key)
  redis.call('ZREM', KEYS[2], key)
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*',
    'y', 'expired', 'k', key, 'w', due[i + 1], 's', '0', 'o', '0', 'f', '')
  n = n + 1
end
return n
`;

/** Replies as Buffers, not strings: values and frames are binary. */
const BUFFERS = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer, [RESP_TYPES.SIMPLE_STRING]: Buffer } };
const SWEEP_BATCH = 500;
const LIST_OVERFETCH = 2;

/**
 * How long after a key lapses Redis drops it by itself. Expiry is decided by the nodes' clocks
 * (docs/running-several-nodes.md): a lapsed key is gone to every read at once, and a node's sweep
 * removes it and announces the expiry within its interval; Redis's own TTL is only the backstop for a
 * namespace no node is sweeping. Set to the lapse exactly, Redis's clock would overrule a node whose
 * clock is a little behind the writer's (a key that node still holds live vanishing under it, its
 * lock or lease with it), so it waits the 30 s of drift tolerated for tokens (auth.clockSkewSeconds).
 */
const EXPIRY_GRACE_MS = 30_000;

/** PEXPIRE's argument for an entry expiring at `expiresAt` (0: none); relative, so no two clocks must agree. */
function redisTtl(expiresAt: number | null, now: number): string {
  return String(expiresAt === null ? 0 : Math.max(1, expiresAt - now) + EXPIRY_GRACE_MS);
}

function createBufferClient(url: string, onError: (error: unknown) => void, started: () => boolean) {
  const client = createClient({
    url,
    // A command sent while the connection is down fails at once (a 503) instead of waiting in a queue.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: 3000,
      // While starting, one failed attempt is the answer (the server stops with a clear message);
      // once running, reconnect for as long as it takes, backing off to 2 s.
      reconnectStrategy: (retries: number) => (started() ? Math.min(100 * 2 ** retries, 2000) : false),
    },
  });
  client.on('error', onError);
  return client;
}

/** Connects to Redis and returns a ready store; throws a clear Error when Redis cannot be reached. */
export async function openRedisStore(options: SharedStoreOptions): Promise<Store> {
  let started = false;
  const onError = options.onError ?? (() => undefined);
  const client = createBufferClient(options.url, onError, () => started);
  const reader = createBufferClient(options.url, onError, () => started);
  try {
    const connected = await Promise.allSettled([client.connect(), reader.connect()]);
    for (const result of connected) if (result.status === 'rejected') throw result.reason;
    const shas = await loadScripts(client);
    started = true;
    const store = new RedisStore(client, reader, shas, options);
    await store.start();
    return store;
  } catch (error) {
    for (const connection of [client, reader]) if (connection.isOpen) connection.destroy();
    throw new Error(`Cannot reach Redis at ${redactUrl(options.url)}: ${(error as Error).message || String(error)}`, {
      cause: error,
    });
  }
}

/** Loads the scripts into Redis's script cache (at start, and again after a Redis restart emptied it). */
async function loadScripts(client: Client): Promise<Scripts> {
  const [write, sweep, read, txn] = await Promise.all(
    [WRITE_SCRIPT, SWEEP_SCRIPT, READ_SCRIPT, TXN_SCRIPT].map((script) =>
      client.sendCommand(['SCRIPT', 'LOAD', script]),
    ),
  );
  return { write: String(write), sweep: String(sweep), read: String(read), txn: String(txn) };
}

class RedisStore implements Store {
  readonly #client: Client;
  readonly #reader: Client;
  readonly #shas: Scripts;
  readonly #queue = new KeyQueue();
  readonly #clock: Clock;
  readonly #options: ResolvedSharedOptions;
  readonly #listeners = new Set<(change: Change) => void>();
  readonly #keys: { index: string; expiry: string; changes: string; revoked: string; entryPrefix: string };
  #sweeper: Sweeper | undefined;
  #closed = false;
  #lastLogId = '0-0';
  #reading: Promise<void> | undefined;
  readonly revocations: RevocationStore;

  constructor(client: Client, reader: Client, shas: Scripts, options: SharedStoreOptions) {
    this.#client = client;
    this.#reader = reader;
    this.#shas = shas;
    this.#clock = options.clock ?? Date.now;
    this.#options = resolveSharedOptions(options);
    const tag = `{${options.namespace}}`;
    this.#keys = {
      index: `${tag}:index`,
      expiry: `${tag}:expiry`,
      changes: `${tag}:changes`,
      revoked: `${tag}:revoked`,
      entryPrefix: `${tag}:k:`,
    };
    this.revocations = {
      add: async (tokenId, until) => {
        await this.#call(['ZADD', this.#keys.revoked, String(until), tokenId]);
      },
      list: async () => {
        const now = this.#clock();
        await this.#call(['ZREMRANGEBYSCORE', this.#keys.revoked, '-inf', String(now)]);
        const ids = (await this.#call(['ZRANGEBYSCORE', this.#keys.revoked, `(${now}`, '+inf'])) as Buffer[];
        return ids.map(String);
      },
    };
  }

  /** Starts the change-log reader (from the log's current end) and the expiry sweep. */
  async start(): Promise<void> {
    const last = (await this.#call(['XREVRANGE', this.#keys.changes, '+', '-', 'COUNT', '1'])) as Reply[];
    if (last.length > 0) this.#lastLogId = String((last[0] as Reply[])[0]);
    this.#reading = this.#readLog();
    this.#sweeper = new Sweeper(this.#options.sweepIntervalMs, () => this.purgeExpired(), this.#options.onError);
  }

  async get(key: string): Promise<Entry | undefined> {
    const [entry] = await this.#read(key);
    return liveEntry(entry, this.#clock());
  }

  update<T>(key: string, decide: Decide<T>): Promise<T> {
    return this.#queue.run(key, async () => {
      for (let attempt = 0; ; attempt++) {
        if (attempt > 0) await sleep(backoff(attempt));
        const [current, etag] = await this.#read(key);
        const now = this.#clock();
        if (current !== undefined && !isLive(current, now)) {
          // Past its expiry by this node's clock but not yet dropped by Redis: expire it now, so the
          // expiry is announced before what follows, then decide on the missing key.
          await this.#write(key, etag, null, 'expired', current.expiresAt!);
          continue;
        }
        const { result, write, change } = decide(current, now);
        if (write === undefined) return result;
        if (await this.#write(key, etag, write, write === null && current === undefined ? undefined : change, now))
          return result;
      }
    });
  }

  transact<T>(keys: readonly string[], decide: DecideMany<T>): Promise<T> {
    const held = [...new Set(keys)].sort();
    return this.#queue.runAll(held, async () => {
      for (let attempt = 0; ; attempt++) {
        if (attempt > 0) await sleep(backoff(attempt));
        const read = await this.#readMany(held);
        const now = this.#clock();
        const lapsed = held.filter((key) => read.get(key)![0] !== undefined && !isLive(read.get(key)![0]!, now));
        // Past their expiry by this node's clock but not yet dropped by Redis: expired first, as in update.
        for (const key of lapsed)
          await this.#write(key, read.get(key)![1], null, 'expired', read.get(key)![0]!.expiresAt!);
        if (lapsed.length > 0) continue;
        const current = new Map(held.map((key) => [key, read.get(key)![0]]));
        const { result, writes } = decide(current, now);
        const applied = effectiveWrites(held, current, writes);
        // Nothing to write: the read script's snapshot is the answer.
        if (applied.length === 0 || (await this.#writeMany(held, read, applied, now))) return result;
      }
    });
  }

  /** HEAD: the hash's metadata and size fields, never its frame (the value). */
  head(key: string): Promise<KeyInfo | undefined> {
    return this.#info(key, this.#clock());
  }

  /** A key's metadata and value size (fields m and s), or undefined when it is gone or past its expiry at `now`. */
  async #info(key: string, now: number): Promise<KeyInfo | undefined> {
    const [meta, size] = (await this.#call(['HMGET', this.#keys.entryPrefix + key, 'm', 's'])) as [
      Buffer | null,
      Buffer | null,
    ];
    if (meta === null || size === null) return undefined; // Dropped by Redis's TTL, not yet swept.
    const { value: _empty, ...entry } = decodeEntry(meta);
    return isLive(entry, now) ? { key, size: Number(size), entry } : undefined;
  }

  async list({ prefix, after, limit }: ListOptions): Promise<KeyInfo[]> {
    const high = `(${prefix}\u{10FFFF}`;
    let low = after !== undefined && after >= prefix ? `(${after}` : `[${prefix}`;
    const page: KeyInfo[] = [];
    const now = this.#clock();
    while (page.length < limit) {
      const want = (limit - page.length) * LIST_OVERFETCH;
      const keys = (
        (await this.#call(['ZRANGE', this.#keys.index, low, high, 'BYLEX', 'LIMIT', '0', String(want)])) as Buffer[]
      ).map(String);
      if (keys.length === 0) break;
      for (const info of await Promise.all(keys.map((key) => this.#info(key, now)))) {
        if (info === undefined) continue;
        page.push(info);
        if (page.length === limit) break;
      }
      if (keys.length < want) break;
      low = `(${keys[keys.length - 1]!}`;
    }
    return page;
  }

  subscribe(listener: (change: Change) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async changesSince(id: string): Promise<Change[] | undefined> {
    if (!/^\d+-\d+$/.test(id)) return undefined;
    const at = (await this.#call(['XRANGE', this.#keys.changes, id, id])) as Reply[];
    if (at.length === 0) return undefined; // Trimmed away, or never in this log.
    const records = (await this.#call(['XRANGE', this.#keys.changes, `(${id}`, '+'])) as Reply[];
    return records.map((record) => this.#decodeRecord(record as Reply[]));
  }

  async purgeExpired(): Promise<number> {
    let purged = 0;
    for (;;) {
      const n = Number(
        await this.#call([
          'EVALSHA',
          this.#shas.sweep,
          '3',
          this.#keys.expiry,
          this.#keys.index,
          this.#keys.changes,
          String(this.#clock()),
          String(SWEEP_BATCH),
          this.#keys.entryPrefix,
          String(this.#options.logSize),
        ]),
      );
      purged += n;
      if (n < SWEEP_BATCH) return purged;
    }
  }

  async count(): Promise<number> {
    // The index still holds keys past their expiry until the sweep: leave those out.
    const [indexed, expired] = await Promise.all([
      this.#call(['ZCARD', this.#keys.index]),
      this.#call(['ZCOUNT', this.#keys.expiry, '-inf', String(this.#clock())]),
    ]);
    return Number(indexed) - Number(expired);
  }

  async ping(): Promise<void> {
    await this.#call(['PING']);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#sweeper?.stop();
    await this.#queue.drain();
    this.#closed = true;
    if (this.#reader.isOpen) this.#reader.destroy();
    await this.#reading;
    if (this.#client.isOpen) this.#client.destroy();
  }

  /** The key's entry (undefined when missing) and the ETag the write script will compare against ('' when missing). */
  async #read(key: string): Promise<[Entry | undefined, string]> {
    const [frame, etag] = (await this.#call(['HMGET', this.#keys.entryPrefix + key, 'f', 't'])) as [
      Buffer | null,
      Buffer | null,
    ];
    return frame === null ? [undefined, ''] : [decodeEntry(frame), String(etag)];
  }

  /** Applies a write or delete if the key's ETag is still `expected`; false when another writer got there first. */
  async #write(
    key: string,
    expected: string,
    entry: Entry | null,
    change: Change['type'] | undefined,
    time: number,
  ): Promise<boolean> {
    const now = this.#clock();
    const frames = entry === null ? undefined : sharedFrames(entry, this.#options.logValueBytes);
    const args: Array<string | Buffer> =
      frames === undefined
        ? [expected, 'del', '', '', '0', '', '0', '0']
        : [
            expected,
            'set',
            frames.frame,
            frames.meta,
            String(frames.entry.value.length),
            frames.entry.etag,
            String(frames.entry.expiresAt ?? 0),
            redisTtl(frames.entry.expiresAt, now),
          ];
    args.push(
      key,
      change ?? '',
      String(this.#options.logSize),
      String(time),
      frames?.omitted ? '1' : '0',
      frames?.log ?? '',
    );
    const applied = await this.#call([
      'EVALSHA',
      this.#shas.write,
      '4',
      this.#keys.entryPrefix + key,
      this.#keys.index,
      this.#keys.expiry,
      this.#keys.changes,
      ...args,
    ]);
    return Number(applied) === 1;
  }

  /** Every key's entry and ETag, read in one atomic step. */
  async #readMany(keys: readonly string[]): Promise<Map<string, [Entry | undefined, string]>> {
    const rows = (await this.#call([
      'EVALSHA',
      this.#shas.read,
      String(keys.length),
      ...keys.map((key) => this.#keys.entryPrefix + key),
    ])) as Array<[Buffer | null, Buffer | null]>;
    return new Map(
      keys.map((key, i) => {
        const [frame, etag] = rows[i]!;
        return [key, frame === null ? [undefined, ''] : [decodeEntry(frame), String(etag)]];
      }),
    );
  }

  /**
   * Applies a transaction's writes if no key's ETag changed since `read`; false when another writer got there first.
   */
  async #writeMany(
    keys: readonly string[],
    read: Map<string, [Entry | undefined, string]>,
    writes: readonly TxnWrite[],
    time: number,
  ): Promise<boolean> {
    const now = this.#clock();
    const args: Array<string | Buffer> = [
      String(keys.length),
      String(this.#options.logSize),
      String(time),
      randomUUID(),
      ...keys.map((key) => read.get(key)![1]),
    ];
    for (const { key, write, change } of writes) {
      const frames = write === null ? undefined : sharedFrames(write, this.#options.logValueBytes);
      const position = String(keys.indexOf(key) + 1);
      if (frames === undefined) args.push(position, 'del', '', '', '0', '', '0', '0');
      else {
        const { expiresAt } = frames.entry;
        args.push(
          position,
          'set',
          frames.frame,
          frames.meta,
          String(frames.entry.value.length),
          frames.entry.etag,
          String(expiresAt ?? 0),
          redisTtl(expiresAt, now),
        );
      }
      args.push(key, change, frames?.omitted ? '1' : '0', frames?.log ?? '');
    }
    const entryKeys = keys.map((key) => this.#keys.entryPrefix + key);
    const applied = await this.#call([
      'EVALSHA',
      this.#shas.txn,
      String(3 + keys.length),
      this.#keys.index,
      this.#keys.expiry,
      this.#keys.changes,
      ...entryKeys,
      ...args,
    ]);
    return Number(applied) === 1;
  }

  /** Follows the change log from where this node started, delivering every node's changes in log order. */
  async #readLog(): Promise<void> {
    while (!this.#closed) {
      try {
        const reply = (await this.#reader.sendCommand(
          ['XREAD', 'COUNT', '1000', 'BLOCK', '1000', 'STREAMS', this.#keys.changes, this.#lastLogId],
          BUFFERS,
        )) as Reply[] | null;
        if (reply === null) continue;
        for (const stream of reply as Reply[][]) {
          for (const record of stream[1] as Reply[]) {
            const change = this.#decodeRecord(record as Reply[]);
            this.#lastLogId = change.id!;
            for (const listener of this.#listeners) listener(change);
          }
        }
      } catch (error) {
        if (this.#closed) return;
        this.#options.onError(new StoreUnavailableError(error));
        await sleep(500);
      }
    }
  }

  #decodeRecord(record: Reply[]): Change {
    const id = String(record[0]);
    const fields = record[1] as Buffer[];
    const get = (name: string) => {
      for (let i = 0; i < fields.length; i += 2) if (String(fields[i]) === name) return fields[i + 1]!;
      return Buffer.alloc(0);
    };
    const frame = get('f');
    const entry = frame.length > 0 ? decodeEntry(Buffer.from(frame)) : undefined;
    return changeFromLog(
      id,
      String(get('y')),
      String(get('k')),
      Number(String(get('w'))),
      Number(String(get('s'))),
      String(get('o')) === '1',
      entry,
      String(get('x')),
    );
  }

  async #call(args: Array<string | Buffer>): Promise<Reply> {
    return guarded(this.#closed, this.#options.timeoutMs, async () => {
      try {
        return (await this.#client.sendCommand(args, BUFFERS)) as Reply;
      } catch (error) {
        // The script cache is empty after a Redis restart: load the scripts again and retry once.
        if (args[0] === 'EVALSHA' && /NOSCRIPT/.test(String(error))) {
          await loadScripts(this.#client);
          return (await this.#client.sendCommand(args, BUFFERS)) as Reply;
        }
        throw error;
      }
    });
  }
}
