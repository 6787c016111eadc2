/**
 * The store's contract, written once: every backend (SQLite now; Redis and PostgreSQL when they come)
 * runs this suite against a real instance of itself.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { LucidError, StoreUnavailableError } from '../../src/errors.js';
import { applyOperation, deleteValue, importEntry, putValue, readEntry } from '../../src/kv.js';
import { storeEntries } from '../../src/store/entries.js';
import type { Change, Clock, Entry, Store } from '../../src/store/types.js';
import { manualClock, textEntry } from '../support/helpers.js';

export interface StoreFactory {
  /** A fresh, empty store reading the given clock. */
  open(clock: Clock): Promise<Store>;
}

const START = Date.parse('2026-11-26T12:00:00Z');

async function status(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return 200;
  } catch (error) {
    if (error instanceof LucidError) return error.status;
    throw error;
  }
}

export interface StoreSuiteOptions {
  /**
   * Whether the store answers HEAD from metadata (Store.head). The encrypted store does not: a value
   * still in plaintext during a rekey, or one that no longer opens, has a size only reading it tells.
   */
  head?: boolean;
}

export function storeSuite(name: string, factory: StoreFactory, { head = true }: StoreSuiteOptions = {}): void {
  describe(`store contract: ${name}`, () => {
    const open = async () => {
      const time = manualClock(START);
      const store = await factory.open(time.clock);
      return { store, ...time };
    };

    it('round-trips every byte pattern exactly, trailing zero bytes included', async () => {
      const { store } = await open();
      const all = Buffer.alloc(256 * 4);
      for (let i = 0; i < all.length; i++) all[i] = i % 256;
      const values = [
        all,
        Buffer.from([0, 0, 0]),
        Buffer.from([1, 2, 0, 0]),
        Buffer.from('héllo wörld ✓'),
        Buffer.from([0xff]),
      ];
      for (const [i, value] of values.entries()) {
        await putValue(store, `bytes-${i}`, value, 'application/octet-stream');
        const entry = await readEntry(store, `bytes-${i}`);
        expect(Buffer.compare(entry.value, value)).toBe(0);
        expect(entry.value.length).toBe(value.length);
      }
      await store.close();
    });

    it('keeps content type, created and updated times, and a version that grows on every write', async () => {
      const { store, advance } = await open();
      const first = await putValue(store, 'k', Buffer.from('a'), 'text/plain');
      expect(first.created).toBe(true);
      advance(1000);
      const second = await putValue(store, 'k', Buffer.from('b'), 'application/json');
      expect(second.created).toBe(false);
      const entry = await readEntry(store, 'k');
      expect(entry.contentType).toBe('application/json');
      expect(entry.updatedAt - entry.createdAt).toBe(1000);
      expect(entry.version).toBe(2);
      expect(entry.etag).not.toBe(first.entry.etag);
      await store.close();
    });

    it('gives a re-created key a new ETag, never one it had before', async () => {
      const { store } = await open();
      const first = await putValue(store, 'k', Buffer.from('a'), 'text/plain');
      await deleteValue(store, 'k');
      const again = await putValue(store, 'k', Buffer.from('a'), 'text/plain');
      expect(again.entry.etag).not.toBe(first.entry.etag);
      await store.close();
    });

    it('lets exactly one of many concurrent creates of a new key win', async () => {
      const { store } = await open();
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => putValue(store, 'race', Buffer.from(String(i)), 'text/plain')),
      );
      expect(results.filter((result) => result.created)).toHaveLength(1);
      await store.close();
    });

    it('ends 200 concurrent increments exactly 200 higher', async () => {
      const { store } = await open();
      await putValue(store, 'counter', Buffer.from('1000'), 'text/plain');
      await Promise.all(Array.from({ length: 200 }, () => applyOperation(store, 'counter', 'increment', undefined)));
      expect((await readEntry(store, 'counter')).value.toString()).toBe('1200');
      await store.close();
    });

    it('never lets a write slip between a lock and its check', async () => {
      const { store } = await open();
      await putValue(store, 'guarded', Buffer.from('original'), 'text/plain');
      const outcomes = await Promise.all([
        status(applyOperation(store, 'guarded', 'lock', undefined)),
        ...Array.from({ length: 30 }, (_, i) => status(putValue(store, 'guarded', Buffer.from(`w${i}`), 'text/plain'))),
      ]);
      expect(outcomes[0]).toBe(200);
      const lockedValue = (await readEntry(store, 'guarded')).value.toString();
      // Every write either landed before the lock or was refused with 409; after the lock none may land.
      expect(await status(putValue(store, 'guarded', Buffer.from('late'), 'text/plain'))).toBe(409);
      expect((await readEntry(store, 'guarded')).value.toString()).toBe(lockedValue);
      expect(outcomes.slice(1).every((code) => code === 200 || code === 409)).toBe(true);
      await store.close();
    });

    it('refuses PUT, DELETE, increment, decrement and ttl on a locked key and leaves its value untouched', async () => {
      const { store } = await open();
      await putValue(store, 'locked', Buffer.from('7'), 'text/plain');
      await applyOperation(store, 'locked', 'lock', undefined);
      expect(await status(putValue(store, 'locked', Buffer.from('8'), 'text/plain'))).toBe(409);
      expect(await status(deleteValue(store, 'locked'))).toBe(409);
      for (const operation of ['increment', 'decrement'] as const)
        expect(await status(applyOperation(store, 'locked', operation, 1))).toBe(409);
      expect(await status(applyOperation(store, 'locked', 'ttl', 10))).toBe(409);
      expect(await status(applyOperation(store, 'locked', 'lock', undefined))).toBe(409);
      expect((await readEntry(store, 'locked')).value.toString()).toBe('7');
      await applyOperation(store, 'locked', 'unlock', undefined);
      expect(await status(applyOperation(store, 'locked', 'unlock', undefined))).toBe(409);
      expect(await status(putValue(store, 'locked', Buffer.from('8'), 'text/plain'))).toBe(200);
      await store.close();
    });

    it('adds exactly: integers stay integers and decimals do not drift', async () => {
      const { store } = await open();
      await putValue(store, 'n', Buffer.from('40.1'), 'text/plain');
      expect((await applyOperation(store, 'n', 'increment', 0.9)).value).toBe('41.0');
      await putValue(store, 'i', Buffer.from('41'), 'text/plain');
      expect((await applyOperation(store, 'i', 'increment', undefined)).value).toBe('42');
      expect((await applyOperation(store, 'i', 'decrement', 50)).value).toBe('-8');
      await putValue(store, 'big', Buffer.from('9007199254740993'), 'text/plain');
      expect((await applyOperation(store, 'big', 'increment', 1)).value).toBe('9007199254740994');
      await putValue(store, 'text', Buffer.from('forty'), 'text/plain');
      expect(await status(applyOperation(store, 'text', 'increment', 1))).toBe(400);
      expect((await readEntry(store, 'text')).value.toString()).toBe('forty');
      await store.close();
    });

    it('makes an expired key gone at once for every operation', async () => {
      const { store, advance } = await open();
      await putValue(store, 'brief', Buffer.from('1'), 'text/plain');
      await applyOperation(store, 'brief', 'ttl', 2);
      advance(1999);
      expect((await readEntry(store, 'brief')).value.toString()).toBe('1');
      advance(2);
      expect(await status(readEntry(store, 'brief'))).toBe(404);
      expect(await status(deleteValue(store, 'brief'))).toBe(404);
      expect(await status(applyOperation(store, 'brief', 'increment', 1))).toBe(404);
      expect((await putValue(store, 'brief', Buffer.from('new'), 'text/plain')).created).toBe(true);
      expect((await readEntry(store, 'brief')).expiresAt).toBeNull();
      await store.close();
    });

    it('removes an expiry with ttl 0 and refuses a ttl that is not whole seconds', async () => {
      const { store, advance } = await open();
      await putValue(store, 'k', Buffer.from('1'), 'text/plain');
      await applyOperation(store, 'k', 'ttl', 1);
      await applyOperation(store, 'k', 'ttl', 0);
      advance(5000);
      expect((await readEntry(store, 'k')).expiresAt).toBeNull();
      expect(await status(applyOperation(store, 'k', 'ttl', 1.5))).toBe(400);
      expect(await status(applyOperation(store, 'k', 'ttl', -1))).toBe(400);
      expect(await status(applyOperation(store, 'k', 'ttl', undefined))).toBe(400);
      await store.close();
    });

    it('purges expired entries in the background sweep, and only those', async () => {
      const { store, advance } = await open();
      for (let i = 0; i < 20; i++) {
        await putValue(store, `e${i}`, Buffer.from('x'), 'text/plain');
        if (i % 2 === 0) await applyOperation(store, `e${i}`, 'ttl', 1);
      }
      advance(1500);
      expect(await store.purgeExpired()).toBe(10);
      expect(await store.purgeExpired()).toBe(0);
      for (let i = 1; i < 20; i += 2) expect((await readEntry(store, `e${i}`)).value.toString()).toBe('x');
      await store.close();
    });

    it('counts live keys: writes add, deletes remove, expired keys stop counting at once', async () => {
      const { store, advance } = await open();
      expect(await store.count()).toBe(0);
      for (let i = 0; i < 5; i++) await putValue(store, `c${i}`, Buffer.from('x'), 'text/plain');
      await putValue(store, 'c0', Buffer.from('again'), 'text/plain');
      expect(await store.count()).toBe(5);
      await deleteValue(store, 'c1');
      await applyOperation(store, 'c2', 'ttl', 1);
      expect(await store.count()).toBe(4);
      advance(1001);
      expect(await store.count()).toBe(3);
      await store.purgeExpired();
      expect(await store.count()).toBe(3);
      await store.close();
    });

    it('lists live keys in key order, a page at a time, with their metadata and size', async () => {
      const { store, advance } = await open();
      for (const key of ['b', 'a/2', 'a/1', 'a/10', 'c', 'a/3'])
        await putValue(store, key, Buffer.from(`value of ${key}`), 'text/plain');
      await applyOperation(store, 'a/3', 'ttl', 1);
      advance(1001);
      const all = await store.list({ prefix: '', limit: 100 });
      expect(all.map((info) => info.key)).toEqual(['a/1', 'a/10', 'a/2', 'b', 'c']);
      expect(all[0]).toMatchObject({
        size: 'value of a/1'.length,
        entry: { contentType: 'text/plain', locked: false, version: 1 },
      });
      const first = await store.list({ prefix: 'a/', limit: 2 });
      expect(first.map((info) => info.key)).toEqual(['a/1', 'a/10']);
      const second = await store.list({ prefix: 'a/', after: 'a/10', limit: 2 });
      expect(second.map((info) => info.key)).toEqual(['a/2']);
      expect(await store.list({ prefix: 'zzz', limit: 10 })).toEqual([]);
      await store.close();
    });

    it('answers HEAD with what get has but the value: metadata and size, nothing once missing or expired', async () => {
      const { store, advance } = await open();
      expect(store.head, `${name} answers HEAD from metadata`).toBeTypeOf(head ? 'function' : 'undefined');
      if (!head) return store.close();
      await putValue(store, 'big', Buffer.alloc(300_000, 7), 'application/octet-stream');
      await putValue(store, 'long', Buffer.from('12345'), `application/x-long; note="${'n'.repeat(6000)}"`);
      await putValue(store, 'locked', Buffer.from('x'), 'text/plain');
      await applyOperation(store, 'locked', 'lock', 5, { subject: 'alice', admin: false });
      await putValue(store, 'short', Buffer.from('x'), 'text/plain', { ttlSeconds: 1 });
      for (const key of ['big', 'long', 'locked', 'short']) {
        const { value, ...metadata } = await readEntry(store, key);
        expect(await store.head!(key), key).toEqual({ key, size: value.length, entry: metadata });
      }
      expect(await store.head!('missing')).toBeUndefined();
      advance(1000);
      expect(await store.head!('short')).toBeUndefined();
      await store.close();
    });

    it('announces every applied change, in order, and nothing for refused ones', async () => {
      const { store, advance } = await open();
      const changes: Change[] = [];
      store.subscribe((change) => changes.push(change));
      await putValue(store, 'k', Buffer.from('1'), 'text/plain');
      await putValue(store, 'k', Buffer.from('2'), 'text/plain');
      await applyOperation(store, 'k', 'increment', 1);
      await applyOperation(store, 'k', 'decrement', 1);
      await applyOperation(store, 'k', 'lock', undefined);
      await status(putValue(store, 'k', Buffer.from('refused'), 'text/plain'));
      await applyOperation(store, 'k', 'unlock', undefined);
      await applyOperation(store, 'k', 'ttl', 1);
      advance(1500);
      await store.purgeExpired();
      await putValue(store, 'gone', Buffer.from('x'), 'text/plain');
      await deleteValue(store, 'gone');
      // A shared backend delivers changes from its change log, a moment after the write returns.
      await vi.waitFor(() =>
        expect(changes.map((change) => `${change.type}:${change.key}`)).toEqual([
          'created:k',
          'updated:k',
          'incremented:k',
          'decremented:k',
          'locked:k',
          'unlocked:k',
          'ttl:k',
          'expired:k',
          'created:gone',
          'deleted:gone',
        ]),
      );
      expect(changes[2]!.entry!.value.toString()).toBe('3');
      await store.close();
    });

    it('lets a lock lease lapse by itself, and keeps the lock for its holder until then', async () => {
      const { store, advance } = await open();
      await putValue(store, 'leased', Buffer.from('1'), 'text/plain');
      await applyOperation(store, 'leased', 'lock', 2, { subject: 'alice', admin: false });
      expect(await status(applyOperation(store, 'leased', 'unlock', undefined, { subject: 'bob', admin: false }))).toBe(
        409,
      );
      expect(await status(putValue(store, 'leased', Buffer.from('2'), 'text/plain'))).toBe(409);
      advance(2001);
      expect(await status(putValue(store, 'leased', Buffer.from('2'), 'text/plain'))).toBe(200);
      await applyOperation(store, 'leased', 'lock', undefined, { subject: 'bob', admin: false });
      expect(await status(applyOperation(store, 'leased', 'unlock', undefined, { subject: 'root', admin: true }))).toBe(
        200,
      );
      await store.close();
    });

    it('applies an If-Match write only while the ETag is current, so compare-and-swap loses no update', async () => {
      const { store } = await open();
      await putValue(store, 'cas', Buffer.from('0'), 'text/plain');
      const casIncrement = async () => {
        for (;;) {
          const entry = await readEntry(store, 'cas');
          const next = Buffer.from(String(Number(entry.value.toString()) + 1));
          if ((await status(putValue(store, 'cas', next, 'text/plain', { ifMatch: entry.etag }))) === 200) return;
        }
      };
      await Promise.all(Array.from({ length: 25 }, casIncrement));
      expect((await readEntry(store, 'cas')).value.toString()).toBe('25');
      await store.close();
    });

    it('yields every live entry under a prefix, in key order, values and metadata whole', async () => {
      const { store, advance } = await open();
      for (const key of ['b/2', 'a', 'b/1', 'b/10', 'c', 'b/3'])
        await putValue(store, key, Buffer.from([0, ...Buffer.from(key), 0]), 'application/x-test');
      await applyOperation(store, 'b/3', 'ttl', 1);
      await applyOperation(store, 'b/2', 'lock', 30, { subject: 'alice', admin: false });
      advance(1001);
      const seen = [];
      for await (const { key, entry } of storeEntries(store, 'b/')) seen.push({ key, entry });
      expect(seen.map(({ key }) => key)).toEqual(['b/1', 'b/10', 'b/2']);
      expect(seen[2]!.entry).toEqual(await readEntry(store, 'b/2'));
      expect([...seen[0]!.entry.value]).toEqual([0, ...Buffer.from('b/1'), 0]);
      const all = [];
      for await (const { key } of storeEntries(store, '')) all.push(key);
      expect(all).toEqual(['a', 'b/1', 'b/10', 'b/2', 'c']);
      await store.close();
    });

    it('stops cleanly when a loop over entries breaks early, and the store keeps working', async () => {
      const { store } = await open();
      for (let i = 0; i < 5; i++) await putValue(store, `k${i}`, Buffer.from('x'), 'text/plain');
      for await (const { key } of storeEntries(store, '')) if (key === 'k1') break;
      expect((await putValue(store, 'k9', Buffer.from('y'), 'text/plain')).created).toBe(true);
      await store.close();
    });

    it('imports an exported entry exactly into a missing key, ETag included, and recognises it when imported again', async () => {
      const { store } = await open();
      const entry = {
        value: Buffer.from([0, 0, 7, 0]),
        contentType: 'application/x-raw',
        createdAt: Date.parse('2026-01-01T00:00:00Z'),
        updatedAt: Date.parse('2026-02-01T00:00:00Z'),
        expiresAt: Date.parse('2027-01-01T00:00:00Z'),
        locked: true,
        lockHolder: 'alice',
        lockExpiresAt: Date.parse('2027-01-01T00:00:00Z'),
        version: 7,
        etag: '"7-imported"',
      };
      expect(await importEntry(store, 'restored', entry)).toBe('created');
      expect(await readEntry(store, 'restored')).toEqual(entry);
      expect(await importEntry(store, 'restored', entry)).toBe('unchanged');
      expect(await importEntry(store, 'restored', { ...entry, expiresAt: Date.parse('2020-01-01T00:00:00Z') })).toBe(
        'expired',
      );
      expect(await readEntry(store, 'restored')).toEqual(entry);
      await store.close();
    });

    it('replaces an existing key on import, locked or not, with a fresh ETag and a higher version; --skip-existing leaves it', async () => {
      const { store } = await open();
      await putValue(store, 'k', Buffer.from('current'), 'text/plain');
      await applyOperation(store, 'k', 'lock', undefined);
      const current = await readEntry(store, 'k');
      const imported = { ...current, value: Buffer.from('imported'), version: 1, etag: '"1-old"' };
      expect(await importEntry(store, 'k', imported, { skipExisting: true })).toBe('skipped');
      expect((await readEntry(store, 'k')).value.toString()).toBe('current');
      expect(await importEntry(store, 'k', imported)).toBe('replaced');
      const after = await readEntry(store, 'k');
      expect(after.value.toString()).toBe('imported');
      expect(after.version).toBe(current.version + 1);
      expect([current.etag, '"1-old"']).not.toContain(after.etag);
      await store.close();
    });

    it('keeps every key its own: keys that look like the storage prefix never reach another key', async () => {
      const { store, advance } = await open();
      // Each pair is a key and the key it would collide with under a prefix-skipping encoding.
      const keys = [
        'lucid:q/secret',
        'q/secret',
        'keyv:a',
        'a',
        'lucid',
        'lucid:',
        '',
        ':',
        '::',
        'lucid:lucid:x',
        'lucid:x',
        'x',
      ];
      for (const key of keys) await putValue(store, key, Buffer.from(`value of ${JSON.stringify(key)}`), 'text/plain');
      for (const key of keys)
        expect((await readEntry(store, key)).value.toString()).toBe(`value of ${JSON.stringify(key)}`);
      const listed = (await store.list({ prefix: '', limit: 100 })).map((info) => info.key);
      expect(listed).toEqual([...keys].sort());
      expect((await store.list({ prefix: 'lucid:', limit: 100 })).map((info) => info.key)).toEqual([
        'lucid:',
        'lucid:lucid:x',
        'lucid:q/secret',
        'lucid:x',
      ]);
      // A lock on q/secret does not stop a write to lucid:q/secret, and that write leaves q/secret alone.
      await applyOperation(store, 'q/secret', 'lock', undefined);
      await putValue(store, 'lucid:q/secret', Buffer.from('pwned'), 'text/plain');
      expect((await readEntry(store, 'q/secret')).value.toString()).toBe('value of "q/secret"');
      // A ttl on lucid:x expires lucid:x only; deleting lucid: deletes only the empty-remainder key.
      await applyOperation(store, 'lucid:x', 'ttl', 1);
      await deleteValue(store, 'lucid:');
      advance(1500);
      await store.purgeExpired();
      expect(await store.get('lucid:x')).toBeUndefined();
      expect(await store.get('lucid:')).toBeUndefined();
      for (const key of ['x', 'lucid', '', 'lucid:lucid:x']) expect(await store.get(key)).toBeDefined();
      const entries: string[] = [];
      for await (const { key } of storeEntries(store, 'lucid')) entries.push(key);
      expect(entries).toEqual(['lucid', 'lucid:lucid:x', 'lucid:q/secret']);
      await store.close();
    });

    describe('transact (backends that implement it)', () => {
      /** A store with transact, or the test skipped for a backend without it yet. */
      const openTransacting = async (context: { skip: () => void }) => {
        const opened = await open();
        if (opened.store.transact === undefined) {
          await opened.store.close();
          context.skip();
        }
        return { ...opened, transact: opened.store.transact!.bind(opened.store) };
      };
      const revised = (entry: Entry, now: number, value: string): Entry => ({
        ...entry,
        value: Buffer.from(value),
        updatedAt: now,
        version: entry.version + 1,
        etag: `"${entry.version + 1}-${randomUUID()}"`,
      });

      it('applies every write together, sees live entries only, and announces the changes in order with one txn id', async (context) => {
        const { store, transact, advance } = await openTransacting(context);
        await putValue(store, 'a', Buffer.from('10'), 'text/plain');
        await putValue(store, 'gone', Buffer.from('x'), 'text/plain');
        await putValue(store, 'brief', Buffer.from('x'), 'text/plain', { ttlSeconds: 1 });
        advance(1500);
        const changes: Change[] = [];
        store.subscribe((change) => changes.push(change));
        const seen = await transact(['a', 'b', 'gone', 'brief', 'missing'], (current, now) => {
          const a = current.get('a')!;
          return {
            result: [...current.entries()].map(([key, entry]) => `${key}=${entry?.value.toString() ?? '-'}`),
            writes: [
              { key: 'a', write: revised(a, now, '5'), change: 'updated' },
              { key: 'b', write: textEntry('5', { now, etag: `"1-${randomUUID()}"` }), change: 'created' },
              { key: 'gone', write: null, change: 'deleted' },
              { key: 'missing', write: null, change: 'deleted' },
            ],
          };
        });
        expect(seen.sort()).toEqual(['a=10', 'b=-', 'brief=-', 'gone=x', 'missing=-']);
        expect((await readEntry(store, 'a')).value.toString()).toBe('5');
        expect((await readEntry(store, 'b')).value.toString()).toBe('5');
        expect(await store.get('gone')).toBeUndefined();
        await vi.waitFor(() =>
          expect(
            changes.filter((change) => change.txn !== undefined).map((change) => `${change.type}:${change.key}`),
          ).toEqual(['updated:a', 'created:b', 'deleted:gone']),
        );
        const ids = new Set(changes.filter((change) => change.txn !== undefined).map((change) => change.txn));
        expect(ids.size).toBe(1);
        expect(changes.find((change) => change.key === 'b')!.entry!.value.toString()).toBe('5');
        await store.close();
      });

      it('changes nothing and announces nothing when decide throws', async (context) => {
        const { store, transact } = await openTransacting(context);
        await putValue(store, 'a', Buffer.from('1'), 'text/plain');
        const changes: Change[] = [];
        store.subscribe((change) => changes.push(change));
        await expect(
          transact(['a', 'b'], () => {
            throw new Error('refused');
          }),
        ).rejects.toThrow('refused');
        expect((await readEntry(store, 'a')).value.toString()).toBe('1');
        expect(await store.get('b')).toBeUndefined();
        await putValue(store, 'after', Buffer.from('x'), 'text/plain');
        // A shared backend may still deliver the earlier PUT of `a` (its log is read asynchronously):
        // only what came after the refused transaction counts.
        await vi.waitFor(() => expect(changes.map((change) => change.key)).toContain('after'));
        expect(changes.filter((change) => change.txn !== undefined || change.key === 'b')).toEqual([]);
        expect(changes.filter((change) => change.key === 'a').map((change) => change.type)).not.toContain('updated');
        await store.close();
      });

      it('keeps a total exact under concurrent transfers in both directions, single-key writes and readers, without deadlock', async (context) => {
        const { store, transact } = await openTransacting(context);
        const counters = ['c0', 'c1', 'c2', 'c3'];
        for (const key of counters) await putValue(store, key, Buffer.from('100'), 'text/plain');
        const total = async () =>
          transact(counters, (current) => ({
            result: counters.reduce((sum, key) => sum + Number(current.get(key)!.value.toString()), 0),
            writes: [],
          }));
        const transfer = (from: string, to: string, amount: number) =>
          transact([from, to], (current, now) => ({
            result: undefined,
            writes: [
              {
                key: from,
                write: revised(current.get(from)!, now, String(Number(current.get(from)!.value.toString()) - amount)),
                change: 'decremented' as const,
              },
              {
                key: to,
                write: revised(current.get(to)!, now, String(Number(current.get(to)!.value.toString()) + amount)),
                change: 'incremented' as const,
              },
            ],
          }));
        const work: Array<Promise<unknown>> = [];
        const totals: number[] = [];
        for (let i = 0; i < 60; i++) {
          const from = counters[i % 4]!;
          const to = counters[(i * 3 + 1) % 4]!;
          if (from !== to) work.push(transfer(from, to, (i % 7) + 1));
          if (i % 10 === 0) work.push(applyOperation(store, 'c0', 'ttl', 3600 + i));
          if (i % 5 === 0) work.push(total().then((sum) => totals.push(sum)));
        }
        await Promise.all(work);
        expect(totals).toEqual(totals.map(() => 400));
        expect(await total()).toBe(400);
        await store.close();
      });
    });

    it('answers StoreUnavailableError, not a silent miss, once closed', async () => {
      const { store } = await open();
      await store.close();
      await expect(store.get('anything')).rejects.toBeInstanceOf(StoreUnavailableError);
    });
  });
}
