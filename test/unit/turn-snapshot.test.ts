/**
 * The read transaction that the embedded store's reads of one event-loop turn share
 * (src/store/turn-snapshot.ts), on a real SQLite file: shared within a turn, gone by the next, and
 * never hiding a write acknowledged after a commit.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { putValue } from '../../src/kv.js';
import { openDatabase } from '../../src/store/sqlite-adapter.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import { TurnSnapshot } from '../../src/store/turn-snapshot.js';
import type { Store } from '../../src/store/types.js';
import { tempDir } from '../support/lucid.js';

const opened: Store[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
});

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('TurnSnapshot', () => {
  it('shares one snapshot among the reads of a turn, and begins a new one after end() or the turn', async () => {
    const file = path.join(tempDir(), 'snapshot.sqlite');
    const writer = openDatabase(file);
    writer.pragma('journal_mode = WAL');
    writer.exec('CREATE TABLE t(v INTEGER)');
    writer.exec('INSERT INTO t VALUES (1)');
    const reader = openDatabase(file, { readonly: true });
    const snapshot = new TurnSnapshot(reader);
    const read = () => snapshot.run(() => (reader.prepare('SELECT max(v) AS v FROM t').get() as { v: number }).v);
    try {
      expect(read()).toBe(1);
      writer.exec('INSERT INTO t VALUES (2)');
      expect(read()).toBe(1);
      snapshot.end();
      expect(read()).toBe(2);
      writer.exec('INSERT INTO t VALUES (3)');
      await nextTurn();
      expect(reader.inTransaction).toBe(false);
      expect(read()).toBe(3);
    } finally {
      snapshot.end();
      reader.close();
      writer.close();
    }
  });

  it('never hides an acknowledged write from a listing made right after it, in the same turn', async () => {
    const store = await openSqliteStore({ file: path.join(tempDir(), 'lucid.sqlite'), sweepIntervalMs: 0 });
    opened.push(store);
    await putValue(store, 'k', Buffer.from('first'), 'text/plain');
    for (let round = 0; round < 20; round++) {
      // The write reads its current entry from the cache, so its batch is scheduled before any snapshot; then a
      // read that misses the cache begins this turn's snapshot, whose own end is scheduled after the batch.
      const written = putValue(store, 'k', Buffer.from(`value ${round}`), 'text/plain');
      // Promise hops only (no turn passes): the write's chain reaches its batch.
      for (let hop = 0; hop < 50; hop++) await null;
      await store.get(`missing ${round}`);
      await written;
      // Same check phase, after the commit: the listing must hold the write just acknowledged.
      const [listed] = await store.list({ prefix: 'k', limit: 1 });
      expect(listed?.entry.etag).toBe((await store.get('k'))?.etag);
    }
  });
});
