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
import { openReadOnly } from './sqlite-adapter.js';

/** Pages aim at about this many bytes, so large values are read a few at a time and small ones by the thousand. */
const PAGE_BYTES = 4 * 1024 * 1024;
const MAX_PAGE_ROWS = 1000;

/**
 * Every row of `table` with `low <= key < high`, in key order, from one snapshot. Breaking out of
 * the loop ends the transaction and closes the connection.
 */
export async function* snapshotRows(
  file: string,
  table: string,
  low: string,
  high: string,
): AsyncGenerator<{ key: string; value: Buffer }> {
  const db = openReadOnly(file);
  try {
    // Deferred: the snapshot starts with the first SELECT below and lasts until the ROLLBACK.
    db.exec('BEGIN');
    const first = db.prepare(`SELECT key, value FROM ${table} WHERE key >= ? AND key < ? ORDER BY key LIMIT ?`);
    const next = db.prepare(`SELECT key, value FROM ${table} WHERE key > ? AND key < ? ORDER BY key LIMIT ?`);
    let after: string | undefined;
    let limit = 64;
    for (;;) {
      const rows = (after === undefined ? first : next).all(after ?? low, high, limit) as Array<{
        key: string;
        value: unknown;
      }>;
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
    if (db.inTransaction) db.exec('ROLLBACK');
    db.close();
  }
}
