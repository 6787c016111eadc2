/**
 * WAL checkpoints in a worker thread (src/store/checkpointer.ts), on a real SQLite file: the worker
 * folds the WAL into the file, the WAL stays bounded while writes never pause, nothing is lost, and a
 * worker that cannot start hands checkpointing back to the writing connection.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { putValue } from '../../src/kv.js';
import { Checkpointer, type Outcome } from '../../src/store/checkpointer.js';
import { driver, openDatabase } from '../../src/store/sqlite-adapter.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/types.js';
import { until } from '../support/helpers.js';
import { tempDir } from '../support/lucid.js';

const PAGE = 4096;
const value = Buffer.alloc(1024, 7);
const opened: Store[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
});

async function open(walLimitPages?: number) {
  const file = path.join(tempDir(), 'lucid.sqlite');
  const errors: unknown[] = [];
  const store = await openSqliteStore({
    file,
    sweepIntervalMs: 0,
    onError: (error) => errors.push(error),
    walLimitPages,
  });
  opened.push(store);
  return { store, file, errors };
}

/** Writes keys [from, to) of `prefix`, `concurrency` at a time (each wave shares one group-committed batch). */
async function write(store: Store, prefix: string, from: number, to: number, concurrency = 500): Promise<void> {
  for (let start = from; start < to; start += concurrency) {
    const wave = Array.from({ length: Math.min(concurrency, to - start) }, (_, i) =>
      putValue(store, `${prefix}${start + i}`, value, 'application/octet-stream'),
    );
    await Promise.all(wave);
  }
}

const size = (file: string) => (existsSync(file) ? statSync(file).size : 0);

describe('WAL checkpoints in a worker', () => {
  it('fold committed writes into the database file, without the writing connection checkpointing', async () => {
    const { store, file, errors } = await open();
    const before = size(file);
    await write(store, 'k/', 0, 1500);
    // The writing connection's automatic checkpoint is off: only the worker grows the file past its first pages.
    await until(() => size(file) > before + 1500 * 1024);
    expect(errors).toEqual([]);
    expect((await store.get('k/1499'))?.value).toEqual(value);
  });

  it('checkpoints a few writes within about a second, not only after a thousand', async () => {
    const { store, file, errors } = await open();
    await write(store, 'few/', 0, 30);
    const before = size(file);
    await until(() => size(file) >= before + 30 * 1024, 3000);
    expect(errors).toEqual([]);
  });

  it('keeps the WAL bounded while writes never pause, and loses none of them', async () => {
    const limit = 500;
    const { store, file, errors } = await open(limit);
    let largest = 0;
    for (let round = 0; round < 40; round++) {
      await write(store, 'w/', (round % 8) * 500, (round % 8) * 500 + 500);
      largest = Math.max(largest, size(`${file}-wal`));
    }
    // The limit, plus the batch that crossed it and the one that waited (500 writes ≈ 170 pages each), with room.
    expect(largest).toBeLessThan((limit + 1000) * (PAGE + 24));
    expect(errors).toEqual([]);
    await store.close();
    expect(existsSync(`${file}-wal`)).toBe(false);
    const reopened = await openSqliteStore({ file, readOnly: true });
    opened.push(reopened);
    expect(await reopened.count()).toBe(4000);
    expect((await reopened.get('w/3999'))?.value).toEqual(value);
  });

  it('syncs the database file once checkpoints copied a quarter of the limit, so the one a writer waits for has little to flush', async () => {
    const file = path.join(tempDir(), 'lucid.sqlite');
    const writer = openDatabase(file);
    writer.pragma('journal_mode = WAL');
    writer.pragma('wal_autocheckpoint = 0');
    writer.exec('CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)');
    const insert = writer.prepare('INSERT INTO t(k, v) VALUES (?, ?)');
    const rows = (from: number, to: number) =>
      writer.transaction(() => {
        for (let k = from; k < to; k++) insert.run(k, value);
      })();
    const outcomes: Outcome[] = [];
    const errors: unknown[] = [];
    const checkpointer = new Checkpointer({
      file,
      synchronous: 'NORMAL',
      driver: driver(),
      fallback: () => undefined,
      onError: (error) => errors.push(error),
      onCheckpoint: (outcome) => outcomes.push(outcome),
      // It syncs once checkpoints copied a quarter of this: 100 frames.
      walLimitPages: 400,
    });
    /** Asks for one checkpoint and answers what it reported. */
    const checkpoint = async () => {
      const before = outcomes.length;
      checkpointer.committed(1000);
      await until(() => outcomes.length > before);
      return outcomes[before]!;
    };
    try {
      rows(0, 10); // a handful of frames: copied, not yet synced
      const few = await checkpoint();
      expect(few.checkpointed).toBe(few.log);
      expect(few.log).toBeGreaterThan(0);
      expect(few.log).toBeLessThan(100);
      expect(few.synced).toBe(false);
      rows(10, 400); // 1 KiB each: well over 100 frames more
      const many = await checkpoint();
      expect(many.checkpointed).toBe(many.log);
      expect(many.log).toBeGreaterThan(few.log + 100);
      expect(many.synced).toBe(true);
      rows(400, 410); // the count starts again after a sync
      expect((await checkpoint()).synced).toBe(false);
      expect(errors).toEqual([]);
    } finally {
      await checkpointer.close();
      writer.close();
    }
    const reader = openDatabase(file, { readonly: true });
    expect(reader.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 410 });
    reader.close();
  });

  it('hands checkpointing back to the writing connection when the worker cannot start', async () => {
    const file = path.join(tempDir(), 'lucid.sqlite');
    const errors: unknown[] = [];
    let fellBack = false;
    const checkpointer = new Checkpointer({
      file,
      synchronous: 'NORMAL',
      driver: { ...driver(), module: path.join(tempDir(), 'no-such-driver.js') },
      fallback: () => (fellBack = true),
      onError: (error) => errors.push(error),
    });
    await until(() => fellBack);
    expect(String(errors[0])).toMatch(/no-such-driver/);
    // Nothing waits on a worker that is gone.
    checkpointer.committed(5000);
    await checkpointer.ready();
    await checkpointer.close();
  });
});
