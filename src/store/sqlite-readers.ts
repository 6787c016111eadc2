/**
 * A few read-only connections to the store's SQLite file, each with one prepared statement.
 *
 * @keyv/sqlite runs every query on its single connection, so reads waited behind each other:
 * GET of a 64 KiB value was measured at 850 req/s with the event loop 32% idle. In WAL mode
 * readers do not block each other or the writer, so reads spread over these connections run in
 * parallel on libuv's thread pool. Each read is its own transaction and sees every write committed
 * before it started.
 */
import sqlite3 from 'sqlite3';

interface Reader {
  db: sqlite3.Database;
  statement: sqlite3.Statement;
  busy: number;
}

export class ReadPool {
  private constructor(private readonly readers: Reader[]) {}

  /** Opens `size` read-only connections to `file` (already in WAL mode) with `sql` prepared on each. */
  static async open(file: string, size: number, sql: string): Promise<ReadPool> {
    const readers = await Promise.all(
      Array.from(
        { length: size },
        () =>
          new Promise<Reader>((resolve, reject) => {
            const db = new sqlite3.Database(file, sqlite3.OPEN_READONLY, (error) => {
              if (error) return reject(error);
              db.configure('busyTimeout', 5000);
              const statement = db.prepare(sql, (prepareError) => (prepareError ? reject(prepareError) : resolve({ db, statement, busy: 0 })));
            });
          }),
      ),
    );
    return new ReadPool(readers);
  }

  /** Runs the prepared statement with `parameters` on the least busy connection and returns the first row. */
  get<Row>(...parameters: unknown[]): Promise<Row | undefined> {
    let reader = this.readers[0]!;
    for (const candidate of this.readers) if (candidate.busy < reader.busy) reader = candidate;
    reader.busy += 1;
    return new Promise<Row | undefined>((resolve, reject) => {
      reader.statement.get(parameters, (error: Error | null, row: Row | undefined) => {
        reader.busy -= 1;
        if (error) reject(error);
        else resolve(row);
      });
      // Ends the read transaction at once, so an idle reader never pins an old WAL snapshot.
      reader.statement.reset();
    });
  }

  async close(): Promise<void> {
    await Promise.all(
      this.readers.map(
        ({ db, statement }) =>
          new Promise<void>((resolve) => {
            statement.finalize(() => db.close(() => resolve()));
          }),
      ),
    );
  }
}
