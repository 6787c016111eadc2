/**
 * One consistent snapshot of a Lucid SQLite file, read on a connection of its own.
 *
 * The connection is opened read-only and takes no pid lock, so `lucid export` can run while a server
 * owns the file: in WAL mode a reader neither blocks the writer nor is blocked by it. The rows are
 * read in keyset pages inside one read transaction (BEGIN, then SELECTs, then ROLLBACK): SQLite fixes
 * the snapshot at the transaction's first read and keeps it until the end, so every page sees the
 * database as it was at that moment, and a write committed meanwhile is either wholly before the
 * snapshot or not seen at all. (While the snapshot is held, checkpoints cannot move past it; the WAL
 * grows for the length of the export and shrinks at the next checkpoint after it.)
 */
import { existsSync } from 'node:fs';
import sqlite3 from 'sqlite3';

/** Pages aim at about this many bytes, so large values are read a few at a time and small ones by the thousand. */
const PAGE_BYTES = 4 * 1024 * 1024;
const MAX_PAGE_ROWS = 1000;

/** Opens `file` read-only; a clear Error when there is no such file. */
export function openReadOnly(file: string): Promise<sqlite3.Database> {
  if (!existsSync(file)) return Promise.reject(new Error(`There is no store at ${file}.`));
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, sqlite3.OPEN_READONLY, (error) => {
      if (error) return reject(error);
      db.configure('busyTimeout', 5000);
      resolve(db);
    });
  });
}

export function all<Row>(db: sqlite3.Database, sql: string, ...parameters: unknown[]): Promise<Row[]> {
  return new Promise((resolve, reject) => db.all(sql, parameters, (error: Error | null, rows: Row[]) => (error ? reject(error) : resolve(rows))));
}

function run(db: sqlite3.Database, sql: string): Promise<void> {
  return new Promise((resolve, reject) => db.run(sql, (error: Error | null) => (error ? reject(error) : resolve())));
}

export function closeDb(db: sqlite3.Database): Promise<void> {
  return new Promise((resolve) => db.close(() => resolve()));
}

/**
 * Every row of `table` with `low <= key < high`, in key order, from one snapshot. Breaking out of
 * the loop ends the transaction and closes the connection.
 */
export async function* snapshotRows(file: string, table: string, low: string, high: string): AsyncGenerator<{ key: string; value: Buffer }> {
  const db = await openReadOnly(file);
  try {
    // Deferred: the snapshot starts with the first SELECT below and lasts until the ROLLBACK.
    await run(db, 'BEGIN');
    let after: string | undefined;
    let limit = 64;
    for (;;) {
      const rows = await all<{ key: string; value: unknown }>(
        db,
        `SELECT key, value FROM ${table} WHERE key ${after === undefined ? '>=' : '>'} ? AND key < ? ORDER BY key LIMIT ?`,
        after ?? low,
        high,
        limit,
      );
      let bytes = 0;
      for (const row of rows) {
        if (!Buffer.isBuffer(row.value)) continue;
        bytes += row.value.length + row.key.length;
        yield { key: row.key, value: row.value };
      }
      if (rows.length < limit) return;
      after = rows[rows.length - 1]!.key;
      limit = Math.max(1, Math.min(MAX_PAGE_ROWS, Math.floor(PAGE_BYTES / Math.max(1, bytes / rows.length))));
    }
  } finally {
    await run(db, 'ROLLBACK').catch(() => undefined);
    await closeDb(db);
  }
}
