/**
 * The embedded store's read cache: a bounded LRU of entries (lru-cache, sized in bytes) that the
 * store's own writes keep exact. The store is its file's only writer, so after a write commits the
 * cache holds the written entry (or forgets a deleted key), and a failed write forgets the key.
 *
 * A read that misses loads the entry from SQLite and keeps it only when no write of that key began
 * or ended while it was loading (a per-key fence): otherwise a read that started before a commit could
 * put back the value the commit replaced. It also keeps it only on the key's second miss within the
 * last SEEN_KEYS or so misses (a doorkeeper, as in TinyLFU): reads spread over more keys than the cache
 * holds would otherwise replace an entry on every miss, for a hit rate no better. Measured on 1 M
 * keys read at random, that churn cost a quarter of the throughput and 70 MB of RSS, where a cache
 * off did better; hot keys still get in on their second read. Hits are checked for expiry by the caller, against the
 * store's clock, exactly like rows read from the file.
 */
import { LRUCache } from 'lru-cache';
import type { Entry } from './types.js';

/**
 * What an entry costs beyond its value's bytes: the object, its strings and the LRU's bookkeeping (measured roughly).
 */
const ENTRY_OVERHEAD = 320;
/** How many recently missed keys the doorkeeper remembers: from this many to twice this many. */
const SEEN_KEYS = 65_536;

function entrySize(entry: Entry, key: string): number {
  return (
    entry.value.length +
    ENTRY_OVERHEAD +
    2 * (key.length + entry.contentType.length + entry.etag.length + (entry.lockHolder?.length ?? 0))
  );
}

interface Fence {
  readers: number;
  generation: number;
}

export class EntryCache {
  readonly #lru: LRUCache<string, Entry> | undefined;
  /** Keys that missed once recently: the next miss of one of them is kept (none when the cache is off). */
  readonly #seen: Doorkeeper | undefined;
  readonly #fences = new Map<string, Fence>();
  readonly #writing = new Map<string, number>();
  hits = 0;
  misses = 0;

  /** `maxBytes` 0 turns the cache off (every read goes to the file). */
  constructor(maxBytes: number) {
    if (maxBytes > 0) {
      // One value may take at most an eighth of the cache, so a few large values cannot flush the hot small ones.
      this.#lru = new LRUCache<string, Entry>({
        maxSize: maxBytes,
        maxEntrySize: Math.max(1, Math.floor(maxBytes / 8)),
        sizeCalculation: entrySize,
      });
      this.#seen = new Doorkeeper(SEEN_KEYS);
    }
  }

  /** The cached entry, or what `load` reads (kept when no write of `key` overlapped the load). */
  async read(key: string, load: () => Promise<Entry | undefined>): Promise<Entry | undefined> {
    const lru = this.#lru;
    if (lru === undefined) return load();
    const hit = lru.get(key);
    if (hit !== undefined) {
      this.hits += 1;
      return hit;
    }
    this.misses += 1;
    let fence = this.#fences.get(key);
    if (fence === undefined) this.#fences.set(key, (fence = { readers: 0, generation: 0 }));
    fence.readers += 1;
    const generation = fence.generation;
    try {
      const entry = await load();
      const unchanged = fence.generation === generation && !this.#writing.has(key);
      if (entry !== undefined && unchanged && this.#admit(key)) lru.set(key, entry);
      return entry;
    } finally {
      fence.readers -= 1;
      if (fence.readers === 0) this.#fences.delete(key);
    }
  }

  /** Whether a loaded entry is kept: on its key's second recent miss. */
  #admit(key: string): boolean {
    return this.#seen?.missedBefore(key) ?? false;
  }

  /** The cached entry, if any, without loading it (and without counting a hit or a miss). */
  peek(key: string): Entry | undefined {
    return this.#lru?.get(key);
  }

  /** Marks writes of `keys` as begun: loads in flight for them will not be kept. */
  begin(keys: readonly string[]): void {
    for (const key of keys) {
      this.#writing.set(key, (this.#writing.get(key) ?? 0) + 1);
      this.#bump(key);
    }
  }

  /**
   * Ends the writes begun for `keys`: `written` holds what committed (an entry, or null for a
   * deleted key), or is undefined when the write failed, and the keys are forgotten.
   */
  end(keys: readonly string[], written: ReadonlyMap<string, Entry | null> | undefined): void {
    for (const key of keys) {
      const entry = written?.get(key);
      if (entry === undefined || entry === null) this.#lru?.delete(key);
      else this.#lru?.set(key, entry);
      const count = (this.#writing.get(key) ?? 1) - 1;
      if (count === 0) this.#writing.delete(key);
      else this.#writing.set(key, count);
      this.#bump(key);
    }
  }

  /** Forgets every entry (a store that was written to behind this cache's back). */
  clear(): void {
    this.#lru?.clear();
  }

  /** How many bytes the cache accounts for now. */
  get size(): number {
    return this.#lru?.calculatedSize ?? 0;
  }

  #bump(key: string): void {
    const fence = this.#fences.get(key);
    if (fence !== undefined) fence.generation += 1;
  }
}

/**
 * The doorkeeper's memory of missed keys: two generations of at most `size` keys each. When the newer one is full it
 * becomes the older one and the older one is dropped, so a key is remembered for `size` to 2 × `size` misses. Where
 * a key went to the back of an LRU on every miss, this is a set lookup or two: on 1 M keys read at random nearly every
 * read misses, and the LRU's bookkeeping was 3 % of the server's time (bench/README.md, "Metrics tallied, frames
 * decoded in one step, a cheaper doorkeeper").
 */
class Doorkeeper {
  #newer = new Set<string>();
  #older = new Set<string>();

  constructor(private readonly size: number) {}

  /** Whether `key` missed recently (then it is forgotten: it is let in now); otherwise it is remembered. */
  missedBefore(key: string): boolean {
    if (this.#newer.delete(key) || this.#older.delete(key)) return true;
    if (this.#newer.size >= this.size) {
      this.#older = this.#newer;
      this.#newer = new Set();
    }
    this.#newer.add(key);
    return false;
  }
}
