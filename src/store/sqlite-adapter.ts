/**
 * A Keyv store adapter over better-sqlite3: the embedded store's one writing connection.
 *
 * It keeps @keyv/sqlite's table (`keyv`, key VARCHAR(255) PRIMARY KEY, value) and its upsert, so
 * every file an earlier Lucid wrote opens as it is. The difference is the driver: better-sqlite3 runs
 * a statement synchronously on the calling thread, where node-sqlite3 sent each one (BEGIN, the
 * write, COMMIT) through libuv's thread pool and back. Profiled under a PUT load, those round trips
 * and their callbacks were the largest cost left on the write path (bench/README.md). Statements
 * are prepared once. The methods keep Keyv's promise-returning shape; errors reject them.
 */
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import Database from 'better-sqlite3';

export const TABLE = 'keyv';
const KEY_SIZE = 255;

export class BetterSqliteAdapter extends EventEmitter {
  /** Read by Keyv (its `opts.dialect` and `opts.url` checks); nothing here depends on it. */
  readonly opts: Record<string, unknown>;
  namespace?: string | undefined;
  readonly ttlSupport = false;
  readonly db: Database.Database;
  readonly #get: Database.Statement<[string], { value: unknown }>;
  readonly #upsert: Database.Statement<[string, unknown]>;
  readonly #delete: Database.Statement<[string]>;

  /** Opens (creating when needed) `file` with `pragmas` applied, and the table when missing. */
  constructor(file: string, pragmas: readonly string[] = []) {
    super();
    this.opts = { dialect: 'sqlite', url: `sqlite://${file}`, table: TABLE };
    this.db = openDatabase(file, { timeout: 5000 });
    for (const pragma of pragmas) this.db.pragma(pragma);
    this.db.exec(`CREATE TABLE IF NOT EXISTS ${TABLE}(key VARCHAR(${KEY_SIZE}) PRIMARY KEY, value TEXT )`);
    this.#get = this.db.prepare(`SELECT value FROM ${TABLE} WHERE key = ?`);
    this.#upsert = this.db.prepare(
      `INSERT INTO ${TABLE} (key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value`,
    );
    this.#delete = this.db.prepare(`DELETE FROM ${TABLE} WHERE key = ?`);
  }

  /** Runs `sql` (no result); for BEGIN / COMMIT / ROLLBACK and schema changes. */
  exec(sql: string): void {
    this.db.exec(sql);
  }

  /** Every row `sql` answers, with `parameters` bound. */
  all<Row>(sql: string, ...parameters: unknown[]): Row[] {
    return this.db.prepare(sql).all(...parameters) as Row[];
  }

  async get<Value>(key: string): Promise<Value | undefined> {
    return this.#get.get(key)?.value as Value | undefined;
  }

  async getMany<Value>(keys: string[]): Promise<Array<Value | undefined>> {
    return keys.map((key) => this.#get.get(key)?.value as Value | undefined);
  }

  async has(key: string): Promise<boolean> {
    return this.#get.get(key) !== undefined;
  }

  async set(key: string, value: unknown): Promise<void> {
    this.#upsert.run(key, value);
  }

  async delete(key: string): Promise<boolean> {
    return this.#delete.run(key).changes > 0;
  }

  async deleteMany(keys: string[]): Promise<boolean> {
    let deleted = false;
    for (const key of keys) if (this.#delete.run(key).changes > 0) deleted = true;
    return deleted;
  }

  async clear(): Promise<void> {
    const pattern = this.namespace === undefined ? '%' : `${this.namespace.replace(/[\\%_]/g, '\\$&')}:%`;
    this.db.prepare(`DELETE FROM ${TABLE} WHERE key LIKE ? ESCAPE '\\'`).run(pattern);
  }

  async disconnect(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

/** Opens `file` read-only (a clear Error when there is none), with a busy timeout. */
export function openReadOnly(file: string): Database.Database {
  if (!existsSync(file)) throw new Error(`There is no store at ${file}.`);
  return openDatabase(file, { readonly: true, fileMustExist: true, timeout: 5000 });
}

/**
 * better-sqlite3's addon is compiled for one Node ABI (it is not an N-API addon). A build for another
 * ABI may sit beside the installed one, in `build/node-v<ABI>/`: `make test-node24` compiles one there
 * from Node 24's own headers, so one node_modules serves Node 20 and Node 24. Without one, the
 * installed build is used, as better-sqlite3 would on its own.
 */
const BETTER_SQLITE3 = createRequire(import.meta.url).resolve('better-sqlite3');
const ABI_BUILD = path.join(
  path.dirname(BETTER_SQLITE3),
  '..',
  'build',
  `node-v${process.versions.modules}`,
  'better_sqlite3.node',
);

/** Every connection Lucid (and its tests) open goes through here, so each loads the addon built for this Node. */
export function openDatabase(file: string, options: Database.Options = {}): Database.Database {
  const { nativeBinding } = driver();
  return new Database(file, nativeBinding === undefined ? options : { ...options, nativeBinding });
}

/** better-sqlite3's entry module and the addon for this Node (undefined: the installed one), for a worker thread. */
export function driver(): { module: string; nativeBinding: string | undefined } {
  return { module: BETTER_SQLITE3, nativeBinding: existsSync(ABI_BUILD) ? ABI_BUILD : undefined };
}
