/**
 * The reads of one event-loop turn share one read transaction on the embedded store's read-only
 * connection, instead of one each. In WAL mode every transaction takes and drops a read lock on the
 * shared-memory index and checks the file's size (three system calls); measured here, a point read of
 * a 1 M-key file cost 21 µs alone and 14 µs in a shared transaction.
 *
 * A snapshot must never hide an acknowledged write, nor stop the WAL from starting over, so it ends:
 * - on the event loop's next check phase (setImmediate): it lives at most one turn;
 * - before the writer begins a transaction: with no reader in the WAL, the writer can start it over;
 * - right after the writer commits, before any write of that commit is acknowledged: the next read
 *   begins a snapshot that holds it.
 */
import type Database from 'better-sqlite3';

export class TurnSnapshot {
  readonly #db: Database.Database;
  #open = false;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  /** Runs `read` inside this turn's read transaction, beginning it when there is none. */
  run<T>(read: () => T): T {
    if (!this.#open) {
      this.#db.exec('BEGIN');
      this.#open = true;
      setImmediate(() => this.end());
    }
    return read();
  }

  /** Ends the read transaction now, if one is open (and the connection still is). */
  end(): void {
    if (!this.#open) return;
    this.#open = false;
    if (this.#db.open && this.#db.inTransaction) this.#db.exec('COMMIT');
  }
}
