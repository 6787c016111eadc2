import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { applyOperation, deleteValue, putValue, readEntry } from '../../src/kv.js';
import KeyvSqlite from '@keyv/sqlite';
import Keyv from 'keyv';
import { encodeEntry } from '../../src/store/frame.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import { openDatabase } from '../../src/store/sqlite-adapter.js';
import type { Entry, Store } from '../../src/store/types.js';
import { manualClock, sleep, until, textEntry } from '../support/helpers.js';
import { tempDir } from '../support/lucid.js';
import { storeEntries } from '../../src/store/entries.js';
import { storeModelSuite } from './store-model.js';
import { storeSuite } from './store-suite.js';

const sqliteFactory = {
  open: (clock: () => number) =>
    openSqliteStore({ file: path.join(tempDir(), 'lucid.sqlite'), sweepIntervalMs: 0, clock }),
};
storeSuite('sqlite', sqliteFactory);
storeModelSuite('sqlite', sqliteFactory);

describe('sqlite store', () => {
  const opened: Store[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
  });

  it('refuses a second owner of the same file while the first is open, and hands it over once closed', async () => {
    const file = path.join(tempDir(), 'lucid.sqlite');
    const first = await openSqliteStore({ file, sweepIntervalMs: 0 });
    await expect(openSqliteStore({ file, sweepIntervalMs: 0 })).rejects.toThrow(/in use by another Lucid process/);
    await first.close();
    opened.push(await openSqliteStore({ file, sweepIntervalMs: 0 }));
  });

  it('reads a file in the layout earlier versions wrote (Keyv-prefixed rows) unchanged: no migration needed', async () => {
    const file = path.join(tempDir(), 'lucid.sqlite');
    // The old write path: Keyv with its implicit `lucid:` prefixing, the frame as the serialized value.
    const adapter = new KeyvSqlite({ uri: `sqlite://${file}` });
    const old = new Keyv({
      store: adapter,
      namespace: 'lucid',
      serialize: ((data: { value: Entry }) => encodeEntry(data.value)) as never,
    });
    for (const key of ['q/secret', 'lucid', 'a:b', '']) await old.set(key, textEntry(`old ${key}`));
    await old.disconnect();
    const store = await openSqliteStore({ file, sweepIntervalMs: 0 });
    opened.push(store);
    for (const key of ['q/secret', 'lucid', 'a:b', ''])
      expect((await readEntry(store, key)).value.toString()).toBe(`old ${key}`);
    expect((await store.list({ prefix: '', limit: 10 })).map((info) => info.key)).toEqual([
      '',
      'a:b',
      'lucid',
      'q/secret',
    ]);
    expect(await store.get('lucid:q/secret')).toBeUndefined();
  });

  it('takes over a lock file left by a process that no longer runs', async () => {
    const file = path.join(tempDir(), 'lucid.sqlite');
    writeFileSync(`${file}.lock`, '999999999');
    opened.push(await openSqliteStore({ file, sweepIntervalMs: 0 }));
    expect(readFileSync(`${file}.lock`, 'utf8')).toBe(String(process.pid));
  });

  it('stops counting an expired key at once, before the sweep removes it', async () => {
    let now = Date.parse('2026-11-26T12:00:00Z');
    const store = await openSqliteStore({
      file: path.join(tempDir(), 'lucid.sqlite'),
      sweepIntervalMs: 0,
      clock: () => now,
    });
    opened.push(store);
    await putValue(store, 'stays', Buffer.from('x'), 'text/plain');
    await putValue(store, 'brief', Buffer.from('x'), 'text/plain');
    await applyOperation(store, 'brief', 'ttl', 1);
    expect(await store.count()).toBe(2);
    now += 1001;
    expect(await store.count()).toBe(1);
  });

  it('keeps data across close and reopen', async () => {
    const file = path.join(tempDir(), 'lucid.sqlite');
    const first = await openSqliteStore({ file, sweepIntervalMs: 0 });
    await putValue(first, 'kept', Buffer.from([0, 1, 2, 0]), 'application/x-thing');
    await first.close();
    const second = await openSqliteStore({ file, sweepIntervalMs: 0 });
    opened.push(second);
    const entry = await readEntry(second, 'kept');
    expect([...entry.value]).toEqual([0, 1, 2, 0]);
    expect(entry.contentType).toBe('application/x-thing');
  });

  it('purges expired rows on its own timer, without anyone reading them', async () => {
    // The sweep's timer is real (the mechanism under test); the expiry it acts on is on a controlled clock.
    const time = manualClock();
    const file = path.join(tempDir(), 'lucid.sqlite');
    const store = await openSqliteStore({ file, sweepIntervalMs: 20, clock: time.clock });
    opened.push(store);
    await putValue(store, 'short', Buffer.from('x'), 'text/plain');
    await applyOperation(store, 'short', 'ttl', 1);
    const rows = () => {
      const db = openDatabase(file, { readonly: true });
      try {
        return db.prepare(`SELECT key FROM keyv WHERE key = 'lucid:short'`).all();
      } finally {
        db.close();
      }
    };
    await sleep(100); // several sweeps, none of which may take a row that has not expired
    expect(rows()).toHaveLength(1);
    time.advance(1000);
    await until(async () => rows().length === 0);
    expect(rows()).toHaveLength(0);
  });

  it('lists a key whose metadata is longer than the head it reads, with the right size and type', async () => {
    const store = await openSqliteStore({ file: path.join(tempDir(), 'lucid.sqlite'), sweepIntervalMs: 0 });
    opened.push(store);
    const contentType = `application/x-long; note="${'n'.repeat(6000)}"`;
    await putValue(store, 'long-meta', Buffer.from('12345'), contentType);
    const [info] = await store.list({ prefix: 'long-', limit: 10 });
    expect(info).toMatchObject({ key: 'long-meta', size: 5, entry: { contentType, version: 1 } });
    expect(info!.entry).not.toHaveProperty('value');
  });

  it('stores a value in about its own size on disk: no base64 inflation', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'lucid.sqlite');
    const store = await openSqliteStore({ file, sweepIntervalMs: 0 });
    const value = Buffer.alloc(64 * 1024);
    for (let i = 0; i < value.length; i++) value[i] = (i * 7919) % 256;
    for (let i = 0; i < 64; i++) await putValue(store, `blob-${i}`, value, 'application/octet-stream');
    await store.close();
    expect(existsSync(`${file}-wal`)).toBe(false);
    const ratio = statSync(file).size / (64 * value.length);
    expect(ratio).toBeLessThan(1.1);
  });

  it('reads entries from one snapshot: writes made while the loop runs are not seen, not even in later pages', async () => {
    const store = await openSqliteStore({ file: path.join(tempDir(), 'lucid.sqlite'), sweepIntervalMs: 0 });
    opened.push(store);
    const count = 3000;
    const key = (i: number) => `k/${String(i).padStart(5, '0')}`;
    for (let i = 0; i < count; i++) await putValue(store, key(i), Buffer.from(`v${i}`), 'text/plain');
    const seen = new Map<string, string>();
    for await (const { key: name, entry } of storeEntries(store, 'k/')) {
      if (seen.size === 0) {
        // After the first row (so the snapshot exists), change keys that later pages will read.
        await putValue(store, key(count - 1), Buffer.from('changed'), 'text/plain');
        await deleteValue(store, key(count - 2));
        await putValue(store, `${key(count)}-new`, Buffer.from('new'), 'text/plain');
      }
      seen.set(name, entry.value.toString());
    }
    expect(seen.size).toBe(count);
    expect(seen.get(key(count - 1))).toBe(`v${count - 1}`);
    expect(seen.get(key(count - 2))).toBe(`v${count - 2}`);
    expect(seen.has(`${key(count)}-new`)).toBe(false);
    expect((await readEntry(store, key(count - 1))).value.toString()).toBe('changed');
  });

  it('opens read-only beside the owning process, without its pid lock: reads and snapshots work, writes are refused', async () => {
    const file = path.join(tempDir(), 'lucid.sqlite');
    const owner = await openSqliteStore({ file, sweepIntervalMs: 0 });
    opened.push(owner);
    await putValue(owner, 'a', Buffer.from([1, 0]), 'application/x-a');
    const reader = await openSqliteStore({ file, readOnly: true });
    opened.push(reader);
    expect(readFileSync(`${file}.lock`, 'utf8')).toBe(String(process.pid));
    expect((await readEntry(reader, 'a')).contentType).toBe('application/x-a');
    const keys = [];
    for await (const { key } of storeEntries(reader, '')) keys.push(key);
    expect(keys).toEqual(['a']);
    expect((await reader.list({ prefix: '', limit: 10 })).map((info) => info.size)).toEqual([2]);
    await expect(putValue(reader, 'b', Buffer.from('x'), 'text/plain')).rejects.toThrow(/read-only/);
    await putValue(owner, 'b', Buffer.from('x'), 'text/plain');
    expect((await readEntry(reader, 'b')).value.toString()).toBe('x');
  });

  it('says there is no store when a read-only open names a missing file, and creates nothing', async () => {
    const file = path.join(tempDir(), 'missing.sqlite');
    await expect(openSqliteStore({ file, readOnly: true })).rejects.toThrow(/There is no store at/);
    expect(existsSync(file)).toBe(false);
  });

  it('in bulk mode sees its own uncommitted writes and commits them all at close', async () => {
    const file = path.join(tempDir(), 'lucid.sqlite');
    const bulk = await openSqliteStore({ file, sweepIntervalMs: 0, bulk: true });
    await putValue(bulk, 'n', Buffer.from('0'), 'text/plain');
    await Promise.all(
      Array.from({ length: 2500 }, (_, i) =>
        putValue(bulk, `k${i}`, Buffer.from([i % 256, 0]), 'application/octet-stream'),
      ),
    );
    await Promise.all(Array.from({ length: 30 }, () => applyOperation(bulk, 'n', 'increment', 1)));
    await deleteValue(bulk, 'k7');
    expect((await readEntry(bulk, 'n')).value.toString()).toBe('30');
    await bulk.close();
    const store = await openSqliteStore({ file, sweepIntervalMs: 0 });
    opened.push(store);
    expect((await readEntry(store, 'n')).value.toString()).toBe('30');
    expect([...(await readEntry(store, 'k2499')).value]).toEqual([2499 % 256, 0]);
    expect(await store.get('k7')).toBeUndefined();
    expect((await store.list({ prefix: 'k', limit: 1000 })).length).toBe(1000);
  });
});

describe('sqlite store files', () => {
  const mode = (file: string) => statSync(file).mode & 0o777;

  it('creates the data folder 0700 and the database, WAL and SHM 0600, whatever the umask', async () => {
    const previous = process.umask(0o022);
    try {
      const file = path.join(tempDir(), 'data', 'lucid.sqlite');
      const warnings: string[] = [];
      const store = await openSqliteStore({ file, sweepIntervalMs: 0, warn: (message) => warnings.push(message) });
      await putValue(store, 'k', Buffer.from('v'), 'text/plain');
      expect(mode(path.dirname(file))).toBe(0o700);
      for (const each of [file, `${file}-wal`, `${file}-shm`, `${file}.lock`]) expect(mode(each), each).toBe(0o600);
      expect(warnings).toEqual([]);
      await store.close();
    } finally {
      process.umask(previous);
    }
  });

  it('tightens a looser folder and files at open, with a warning naming each', async () => {
    const file = path.join(tempDir(), 'data', 'lucid.sqlite');
    const first = await openSqliteStore({ file, sweepIntervalMs: 0 });
    await putValue(first, 'k', Buffer.from('v'), 'text/plain');
    // Leave the WAL and SHM behind, as a killed server would: copy them aside and restore after close.
    const kept = [`${file}-wal`, `${file}-shm`].map((each) => [each, readFileSync(each)] as const);
    await first.close();
    for (const [each, bytes] of kept) writeFileSync(each, bytes);
    chmodSync(path.dirname(file), 0o755);
    for (const each of [file, `${file}-wal`, `${file}-shm`]) chmodSync(each, 0o644);
    const warnings: string[] = [];
    const store = await openSqliteStore({ file, sweepIntervalMs: 0, warn: (message) => warnings.push(message) });
    expect(mode(path.dirname(file))).toBe(0o700);
    for (const each of [file, `${file}-wal`, `${file}-shm`]) expect(mode(each), each).toBe(0o600);
    expect(warnings).toHaveLength(4);
    expect(warnings[0]).toContain('mode 755');
    expect((await readEntry(store, 'k')).value.toString()).toBe('v');
    await store.close();
  });

  it('answers HEAD from metadata: size and fields as get has them, from the cache, the file, a read-only open, and long metadata', async () => {
    let now = Date.parse('2026-11-26T12:00:00Z');
    const file = path.join(tempDir(), 'lucid.sqlite');
    const store = await openSqliteStore({ file, sweepIntervalMs: 0, clock: () => now, cacheBytes: 0 });
    const cached = await openSqliteStore({
      file: path.join(tempDir(), 'lucid.sqlite'),
      sweepIntervalMs: 0,
      clock: () => now,
    });
    const opened = [store, cached];
    const long = `application/x-long; note="${'n'.repeat(6000)}"`;
    for (const each of [store, cached]) {
      await putValue(each, 'big', Buffer.alloc(300_000, 7), 'application/octet-stream');
      await putValue(each, 'long', Buffer.from('12345'), long);
      await putValue(each, 'short', Buffer.from('x'), 'text/plain');
      await applyOperation(each, 'short', 'ttl', 1);
    }
    const reader = await openSqliteStore({ file, readOnly: true, clock: () => now });
    opened.push(reader);
    for (const each of [store, cached, reader]) {
      for (const key of ['big', 'long', 'short']) {
        const { value, ...metadata } = await readEntry(each, key);
        expect(await each.head!(key), key).toEqual({ key, size: value.length, entry: metadata });
      }
      expect(await each.head!('missing')).toBeUndefined();
    }
    now += 2000;
    for (const each of [store, cached, reader]) expect(await each.head!('short')).toBeUndefined();
    await Promise.all(opened.map((each) => each.close()));
    await expect(store.head!('big')).rejects.toThrow(/unavailable/);
  });
});
