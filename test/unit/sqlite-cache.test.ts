/**
 * The embedded store's read cache and group commit (issue 13, item 5), on a real SQLite file:
 * the cache never answers what the file no longer holds, and no write is acknowledged before the
 * transaction holding it committed.
 */
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { openDatabase } from '../../src/store/sqlite-adapter.js';
import { afterEach, describe, expect, it } from 'vitest';
import { emptyCounts, exportStore, importStore } from '../../src/backup.js';
import { applyOperation, deleteValue, importEntry, putValue } from '../../src/kv.js';
import { Keyring, applyEncryption, generateKey, parseKey, rekeyStore } from '../../src/store/encrypted.js';
import { openSqliteStore, type SqliteStoreOptions } from '../../src/store/sqlite.js';
import { EntryCache } from '../../src/store/entry-cache.js';
import type { Entry, Store } from '../../src/store/types.js';
import { manualClock, textEntry } from '../support/helpers.js';
import { tempDir } from '../support/lucid.js';

const opened: Store[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
});

async function open(options: Partial<SqliteStoreOptions> = {}) {
  const { clock, advance } = manualClock(Date.parse('2026-11-26T12:00:00Z'));
  const file = options.file ?? path.join(tempDir(), 'lucid.sqlite');
  const store = await openSqliteStore({ file, sweepIntervalMs: 0, clock, ...options });
  opened.push(store);
  // What the file holds, read without any cache: a read-only store on the same file and clock.
  const truth = await openSqliteStore({ file, readOnly: true, clock });
  opened.push(truth);
  return { store, truth, file, advance };
}

/**
 * Runs `sql` on a connection of its own to `file` (behind the store's back). It uses the store's own
 * driver: two SQLite libraries in one process do not see each other's POSIX locks, so closing the
 * other's connection would drop the store's locks and leave its schema cache stale.
 */
async function behindTheBack(file: string, sql: string): Promise<void> {
  const db = openDatabase(file, { timeout: 5000 });
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

const text = async (store: Store, key: string) => (await store.get(key))?.value.toString();

describe('sqlite read cache', () => {
  it('answers a hot GET from memory, without reading the file', async () => {
    const { store, file } = await open();
    await putValue(store, 'hot', Buffer.from('cached'), 'text/plain');
    expect(await text(store, 'hot')).toBe('cached');
    await behindTheBack(file, `DELETE FROM keyv WHERE key = 'lucid:hot'`);
    expect(await text(store, 'hot')).toBe('cached');
    const uncached = await open({ cacheBytes: 0 });
    await putValue(uncached.store, 'hot', Buffer.from('cached'), 'text/plain');
    await behindTheBack(uncached.file, `DELETE FROM keyv WHERE key = 'lucid:hot'`);
    expect(await text(uncached.store, 'hot')).toBeUndefined();
  });

  it('never serves what the file no longer holds: write, delete, lock, unlock, ttl, increment, expiry, import', async () => {
    const { store, truth, advance } = await open();
    const same = async (step: string) => {
      expect(await store.get('k'), step).toEqual(await truth.get('k'));
      await store.get('k'); // and cached again for the next step
    };
    await store.get('k');
    await putValue(store, 'k', Buffer.from('1'), 'text/plain');
    await same('created');
    await putValue(store, 'k', Buffer.from('2'), 'text/plain');
    await same('updated');
    await applyOperation(store, 'k', 'increment', 5);
    await same('incremented');
    await applyOperation(store, 'k', 'lock', undefined, { subject: 'alice', admin: false });
    await same('locked');
    await applyOperation(store, 'k', 'unlock', undefined, { subject: 'alice', admin: false });
    await same('unlocked');
    await applyOperation(store, 'k', 'ttl', 5);
    await same('ttl set');
    await applyOperation(store, 'k', 'ttl', 0);
    await same('ttl removed');
    await applyOperation(store, 'k', 'ttl', 1);
    advance(1500);
    expect(await store.get('k'), 'expired while cached').toBeUndefined();
    await store.purgeExpired();
    await same('swept');
    await putValue(store, 'k', Buffer.from('3'), 'text/plain');
    await store.get('k');
    await deleteValue(store, 'k');
    await same('deleted');
    const entry = {
      ...(await putValue(store, 'k', Buffer.from('4'), 'text/plain')).entry,
      value: Buffer.from('imported'),
      etag: '"1-imp"',
    };
    await store.get('k');
    expect(await importEntry(store, 'k', entry)).toBe('replaced');
    await same('imported');
    expect(await text(store, 'k')).toBe('imported');
  });

  it('serves a restored backup, not the values it replaced', async () => {
    const source = await open();
    const { store, truth } = await open();
    for (const key of ['a', 'b', 'c']) {
      await putValue(source.store, key, Buffer.from(`backup ${key}`), 'text/plain');
      await putValue(store, key, Buffer.from(`live ${key}`), 'text/plain');
      await store.get(key);
    }
    const chunks: Buffer[] = [];
    const out = new PassThrough();
    out.on('data', (chunk: Buffer) => chunks.push(chunk));
    await exportStore(source.store, '', out);
    await importStore(store, Readable.from([Buffer.concat(chunks)]), emptyCounts());
    for (const key of ['a', 'b', 'c']) {
      expect(await text(store, key)).toBe(`backup ${key}`);
      expect(await store.get(key)).toEqual(await truth.get(key));
    }
  });

  it('serves re-encrypted values after a rekey, which a server with only the new key reads', async () => {
    const { store, truth, file } = await open();
    const oldKey = parseKey(generateKey());
    const newKey = parseKey(generateKey());
    const encrypted = await applyEncryption(store, new Keyring(oldKey), { writable: true });
    for (const key of ['a', 'b']) {
      await putValue(encrypted, key, Buffer.from(`secret ${key}`), 'text/plain');
      await store.get(key);
    }
    await rekeyStore(store, new Keyring(newKey, [oldKey]));
    for (const key of ['a', 'b']) expect(await store.get(key)).toEqual(await truth.get(key));
    const reopened = await applyEncryption(store, new Keyring(newKey), { writable: true });
    expect(await text(reopened, 'a')).toBe('secret a');
    expect(file).toBeTruthy();
  });

  it('does not keep a value a read loaded while a write of the same key committed', async () => {
    const { store, truth } = await open();
    await putValue(store, 'race', Buffer.from('0'), 'text/plain');
    for (let round = 1; round <= 50; round++) {
      await deleteValue(store, 'race').catch(() => undefined);
      // Reads miss the cache (the delete forgot the key) and race the write.
      const reads = Array.from({ length: 4 }, () => store.get('race'));
      await putValue(store, 'race', Buffer.from(String(round)), 'text/plain');
      await Promise.all(reads);
      expect(await text(store, 'race')).toBe(String(round));
      expect(await store.get('race')).toEqual(await truth.get('race'));
    }
  });
});

describe('entry cache fences', () => {
  for (const overlap of ['began and ended', 'began'] as const) {
    it(`does not keep what a read loaded when a write of its key ${overlap} meanwhile`, async () => {
      const cache = new EntryCache(1024 * 1024);
      let finishLoad!: (entry: Entry) => void;
      const read = cache.read('k', () => new Promise<Entry>((resolve) => (finishLoad = resolve)));
      cache.begin(['k']);
      if (overlap === 'began and ended') cache.end(['k'], new Map([['k', textEntry('new')]]));
      finishLoad(textEntry('old')); // loaded before the commit, answered after it
      expect((await read)?.value.toString()).toBe('old');
      if (overlap === 'began') cache.end(['k'], new Map([['k', textEntry('new')]]));
      const again = await cache.read('k', () => Promise.resolve(textEntry('from the file')));
      expect(again?.value.toString()).toBe('new');
    });
  }

  it("keeps what a read loaded on the key's second miss when no write overlapped, and forgets a key whose write failed", async () => {
    const cache = new EntryCache(1024 * 1024);
    const load = () => Promise.resolve(textEntry('loaded'));
    await cache.read('k', load);
    expect(cache.peek('k')).toBeUndefined();
    await cache.read('k', load);
    expect((await cache.read('k', () => Promise.resolve(undefined)))?.value.toString()).toBe('loaded');
    cache.begin(['k']);
    cache.end(['k'], undefined);
    expect(await cache.read('k', () => Promise.resolve(undefined))).toBeUndefined();
  });

  it('is not flushed by reads spread over many more keys than it holds, each read once', async () => {
    const cache = new EntryCache(64 * 1024);
    const load = () => Promise.resolve(textEntry('x'.repeat(1000)));
    await cache.read('hot', load);
    await cache.read('hot', load);
    for (let i = 0; i < 10_000; i++) await cache.read(`cold/${i}`, load);
    expect(cache.peek('hot')).toBeDefined();
    expect(cache.size).toBeLessThan(4 * 1024);
  });

  it('remembers a missed key for 65 536 to 131 072 further misses, and no longer', async () => {
    const cache = new EntryCache(64 * 1024 * 1024);
    const load = () => Promise.resolve(textEntry('x'));
    const missOthers = async (count: number, prefix: string) => {
      for (let i = 0; i < count; i++) await cache.read(`${prefix}/${i}`, load);
    };
    await cache.read('remembered', load);
    await missOthers(65_536, 'a');
    await cache.read('remembered', load);
    expect(cache.peek('remembered'), 'a key missed 65 536 misses ago is let in').toBeDefined();
    await cache.read('forgotten', load);
    await missOthers(131_072, 'b');
    await cache.read('forgotten', load);
    expect(cache.peek('forgotten'), 'a key missed 131 072 misses ago is a first miss again').toBeUndefined();
  });
});

describe('sqlite group commit', () => {
  it('lets writes that arrive together share one transaction, each acknowledged only after its commit', async () => {
    const batches: string[][] = [];
    const committed = new Set<string>();
    const { store, truth } = await open({
      onBatch: (keys, error) => {
        batches.push(keys);
        if (error === undefined) for (const key of keys) committed.add(key);
      },
    });
    const keys = Array.from({ length: 100 }, (_, i) => `k${i}`);
    await Promise.all(
      keys.map(async (key) => {
        await putValue(store, key, Buffer.from(key), 'text/plain');
        expect(committed.has(key), `${key} acknowledged before its commit`).toBe(true);
        expect((await truth.get(key))?.value.toString()).toBe(key);
      }),
    );
    expect(batches.flat().sort()).toEqual([...keys].sort());
    expect(Math.max(...batches.map((batch) => batch.length))).toBeGreaterThan(1);
    expect(batches.length).toBeLessThan(keys.length);
  });

  it('fails every write of a batch that fails, keeps none of its values, and goes on working', async () => {
    const batches: Array<{ keys: string[]; failed: boolean }> = [];
    const { store, truth, file } = await open({
      onBatch: (keys, error) => batches.push({ keys, failed: error !== undefined }),
    });
    const keys = Array.from({ length: 30 }, (_, i) => (i === 15 ? 'poison' : `k${i}`));
    // Every key exists and is cached, so the writes below reach the batcher together.
    for (const key of keys) await putValue(store, key, Buffer.from('before'), 'text/plain');
    await behindTheBack(
      file,
      `CREATE TRIGGER poison_insert BEFORE INSERT ON keyv WHEN NEW.key = 'lucid:poison' BEGIN SELECT RAISE(ABORT, 'poisoned'); END;
       CREATE TRIGGER poison_update BEFORE UPDATE ON keyv WHEN NEW.key = 'lucid:poison' BEGIN SELECT RAISE(ABORT, 'poisoned'); END;`,
    );
    batches.length = 0;
    const outcomes = await Promise.allSettled(
      keys.map((key) => putValue(store, key, Buffer.from('after'), 'text/plain')),
    );
    const poisoned = batches.find((batch) => batch.keys.includes('poison'))!;
    expect(poisoned.failed).toBe(true);
    expect(poisoned.keys.length).toBeGreaterThan(1);
    for (const [i, key] of keys.entries()) {
      const failed = poisoned.keys.includes(key);
      expect(outcomes[i]!.status, key).toBe(failed ? 'rejected' : 'fulfilled');
      expect(await text(store, key), key).toBe(failed ? 'before' : 'after');
      expect(await store.get(key), key).toEqual(await truth.get(key));
    }
    await behindTheBack(file, 'DROP TRIGGER poison_insert; DROP TRIGGER poison_update;');
    await putValue(store, 'poison', Buffer.from('cured'), 'text/plain');
    expect((await truth.get('poison'))?.value.toString()).toBe('cured');
  });

  it('applies a transaction all or nothing: a failing write leaves every key, in the file and the cache, as it was', async () => {
    const { store, truth, file } = await open();
    for (const key of ['a', 'poison', 'z']) await putValue(store, key, Buffer.from('before'), 'text/plain');
    await behindTheBack(
      file,
      `CREATE TRIGGER poison_update BEFORE UPDATE ON keyv WHEN NEW.key = 'lucid:poison' BEGIN SELECT RAISE(ABORT, 'poisoned'); END;`,
    );
    const changes: string[] = [];
    store.subscribe((change) => changes.push(change.key));
    const rewrite = (current: ReadonlyMap<string, Entry | undefined>, now: number) => ({
      result: undefined,
      writes: [...current.entries()].map(([key, entry]) => ({
        key,
        write: {
          ...entry!,
          value: Buffer.from('after'),
          updatedAt: now,
          version: entry!.version + 1,
          etag: `"${entry!.version + 1}-${key}"`,
        },
        change: 'updated' as const,
      })),
    });
    await expect(store.transact!(['a', 'poison', 'z'], rewrite)).rejects.toThrow();
    for (const key of ['a', 'poison', 'z']) {
      expect(await text(store, key), key).toBe('before');
      expect(await store.get(key), key).toEqual(await truth.get(key));
    }
    expect(changes).toEqual([]);
    await behindTheBack(file, 'DROP TRIGGER poison_update;');
    await store.transact!(['a', 'poison', 'z'], rewrite);
    for (const key of ['a', 'poison', 'z']) expect((await truth.get(key))?.value.toString(), key).toBe('after');
  });
});
