/**
 * The transaction primitive's contract (`Store.transact`), written once and run by every backend
 * that has it (txn-stores.test.ts): all writes or none, live entries in, changes announced in
 * order under one id, and no reader ever seeing part of a transaction.
 */
import { describe, expect, it } from 'vitest';
import { LucidError } from '../../src/errors.js';
import { putValue, readEntry } from '../../src/kv.js';
import type { Change, Entry, Store, TxnWrite } from '../../src/store/types.js';
import { manualClock, textEntry, until } from '../support/helpers.js';
import type { StoreFactory } from './store-suite.js';

const START = Date.parse('2026-11-26T12:00:00Z');

function revised(entry: Entry, now: number, value: string): Entry {
  return {
    ...entry,
    value: Buffer.from(value),
    updatedAt: now,
    version: entry.version + 1,
    etag: `"${entry.version + 1}-${Math.random().toString(36).slice(2)}"`,
  };
}

/** Moves `amount` from one counter to another in one transaction; returns the values it read. */
function transfer(store: Store, from: string, to: string, amount: number): Promise<number> {
  return store.transact!([from, to], (current, now) => {
    const a = current.get(from)!;
    const b = current.get(to)!;
    const writes: TxnWrite[] = [
      { key: from, write: revised(a, now, String(Number(a.value.toString()) - amount)), change: 'decremented' },
      { key: to, write: revised(b, now, String(Number(b.value.toString()) + amount)), change: 'incremented' },
    ];
    return { result: amount, writes };
  });
}

/** A new entry under a unique ETag, as a store's create writes it. */
const fresh = (value: string, now: number): Entry =>
  textEntry(value, { now, etag: `"1-${Math.random().toString(36).slice(2)}"` });

export function txnSuite(name: string, factory: StoreFactory): void {
  describe(`transaction contract: ${name}`, () => {
    const open = async () => {
      const time = manualClock(START);
      const store = await factory.open(time.clock);
      if (store.transact === undefined) throw new Error(`${name} has no transact`);
      return { store, ...time };
    };

    it('applies every write, in one step, and returns what decide returned', async () => {
      const { store } = await open();
      await putValue(store, 'a', Buffer.from('10'), 'text/plain');
      const seen = await store.transact!(['a', 'b', 'c'], (current, now) => {
        const writes: TxnWrite[] = [
          { key: 'a', write: revised(current.get('a')!, now, '9'), change: 'decremented' },
          {
            key: 'b',
            write: fresh('new', now),
            change: 'created',
          },
        ];
        return { result: [...current.entries()].map(([key, entry]) => [key, entry?.value.toString() ?? null]), writes };
      });
      expect(seen.sort()).toEqual([
        ['a', '10'],
        ['b', null],
        ['c', null],
      ]);
      expect((await readEntry(store, 'a')).value.toString()).toBe('9');
      expect((await readEntry(store, 'b')).value.toString()).toBe('new');
      expect(await store.get('c')).toBeUndefined();
      await store.close();
    });

    it('applies nothing when decide throws, and the error comes through', async () => {
      const { store } = await open();
      await putValue(store, 'a', Buffer.from('1'), 'text/plain');
      const refusal = store.transact!(['a', 'b'], () => {
        throw new LucidError('KEY_LOCKED', { key: 'b' });
      });
      await expect(refusal).rejects.toMatchObject({ code: 'KEY_LOCKED', key: 'b' });
      expect((await readEntry(store, 'a')).value.toString()).toBe('1');
      expect(await store.get('b')).toBeUndefined();
      await store.close();
    });

    it('deletes keys, skips deleting a missing one, and treats an expired key as missing', async () => {
      const { store, advance } = await open();
      await putValue(store, 'gone', Buffer.from('x'), 'text/plain');
      await putValue(store, 'short', Buffer.from('y'), 'text/plain', { ttlSeconds: 1 });
      advance(2000);
      const seen = await store.transact!(['gone', 'short', 'never'], (current) => ({
        result: current.get('short'),
        writes: [
          { key: 'gone', write: null, change: 'deleted' },
          { key: 'never', write: null, change: 'deleted' },
        ],
      }));
      expect(seen).toBeUndefined();
      expect(await store.get('gone')).toBeUndefined();
      expect(await store.get('short')).toBeUndefined();
      await store.close();
    });

    it('announces each change in the order of writes, all with one txn id, and a new id for the next', async () => {
      const { store } = await open();
      const changes: Change[] = [];
      store.subscribe((change) => changes.push(change));
      await putValue(store, 'x', Buffer.from('1'), 'text/plain');
      const writeThree = () =>
        store.transact!(['z', 'y', 'x', 'missing'], (current, now) => ({
          result: undefined,
          writes: [
            {
              key: 'z',
              write: fresh('z', now),
              change: current.get('z') ? 'updated' : 'created',
            },
            { key: 'x', write: null, change: 'deleted' },
            {
              key: 'y',
              write: fresh('y', now),
              change: current.get('y') ? 'updated' : 'created',
            },
            { key: 'missing', write: null, change: 'deleted' },
          ],
        }));
      await writeThree();
      await putValue(store, 'x', Buffer.from('2'), 'text/plain');
      await writeThree();
      await until(() => changes.length >= 8);
      expect(changes.map((change) => [change.type, change.key])).toEqual([
        ['created', 'x'],
        ['created', 'z'],
        ['deleted', 'x'],
        ['created', 'y'],
        ['created', 'x'],
        ['updated', 'z'],
        ['deleted', 'x'],
        ['updated', 'y'],
      ]);
      const first = changes.slice(1, 4).map((change) => change.txn);
      const second = changes.slice(5, 8).map((change) => change.txn);
      expect(changes[0]!.txn).toBeUndefined();
      expect(new Set(first).size).toBe(1);
      expect(new Set(second).size).toBe(1);
      expect(first[0]).toEqual(expect.any(String));
      expect(first[0]).not.toBe(second[0]);
      expect(changes[2]!.entry).toBeUndefined();
      expect(changes[1]!.entry?.value.toString()).toBe('z');
      await store.close();
    });

    it('never lets a reader see part of a transfer: 200 concurrent transfers, reads of all keys in one transaction', async () => {
      const { store } = await open();
      const keys = Array.from({ length: 5 }, (_, i) => `counter/${i}`);
      for (const key of keys) await putValue(store, key, Buffer.from('100'), 'text/plain');
      const totals: number[] = [];
      let running = true;
      const reader = (async () => {
        while (running) {
          totals.push(
            await store.transact!(keys, (current) => ({
              result: keys.reduce((sum, key) => sum + Number(current.get(key)!.value.toString()), 0),
              writes: [],
            })),
          );
        }
      })();
      await Promise.all(
        Array.from({ length: 200 }, (_, i) => {
          const from = keys[i % 5]!;
          const to = keys[(i * 3 + 1) % 5]!;
          return from === to ? Promise.resolve(0) : transfer(store, from, to, 1 + (i % 7));
        }),
      );
      running = false;
      await reader;
      const values = await Promise.all(keys.map(async (key) => Number((await readEntry(store, key)).value.toString())));
      expect(values.reduce((a, b) => a + b, 0)).toBe(500);
      expect(totals.length).toBeGreaterThan(0);
      expect(totals.every((total) => total === 500)).toBe(true);
      await store.close();
    });

    it('serialises with single-key updates on the same keys', async () => {
      const { store } = await open();
      await putValue(store, 'n', Buffer.from('0'), 'text/plain');
      await putValue(store, 'm', Buffer.from('0'), 'text/plain');
      const bump = (key: string) =>
        store.update(key, (current, now) => {
          const write = revised(current!, now, String(Number(current!.value.toString()) + 1));
          return { result: undefined, write, change: 'incremented' };
        });
      await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? bump('n') : transfer(store, 'm', 'n', 1))));
      expect(Number((await readEntry(store, 'n')).value.toString())).toBe(60);
      expect(Number((await readEntry(store, 'm')).value.toString())).toBe(-30);
      await store.close();
    });
  });
}
