/**
 * WAL checkpoints off the event loop, for the embedded store's writing connection.
 *
 * SQLite folds the WAL back into the database file by checkpointing, and by default the connection
 * that commits does it, inside that COMMIT, every 1000 pages: it copies the pages and fsyncs the WAL
 * and the file (with `synchronous` NORMAL those are the only fsyncs there are). On Lucid's one
 * thread that stopped every request, reads included, for as long as the disk took; under a PUT load
 * it was the largest cost of COMMIT and the tail of PUT's latency (bench/README.md).
 *
 * Here the writing connection's automatic checkpoint is off, and a worker thread with a connection
 * of its own runs PASSIVE checkpoints, which never block a writer or a reader: after WRITES_PER_CHECKPOINT
 * committed writes, or within INTERVAL_MS of any write. The same SQLite library runs in the worker
 * (one copy per process), so its locks are the ones the other connections see. Durability is
 * unchanged: the worker's connection has the store's `synchronous`, and a checkpoint fsyncs the WAL
 * before it writes the file and the file before the WAL is reused.
 *
 * The WAL starts over from its beginning only when a write transaction begins with every frame
 * checkpointed, and under a steady load some commit always lands while a checkpoint runs. So when
 * the last checkpoint left more than `walLimitPages` frames in the WAL, the next batch waits (the
 * loop goes on serving reads) until a checkpoint has run with no commit beside it; the batch after
 * that starts the WAL over. If the worker fails (or a checkpoint does), the writing connection checkpoints
 * for itself again.
 *
 * That wait is kept short by syncing the database file as pages reach it. SQLite fsyncs the file only
 * at the end of a checkpoint that no commit ran beside (under load, the one the writer waits for), and
 * that fsync flushed every page copied since the WAL last started over: with new keys, up to the whole
 * limit, 17-24 ms of a stalled writer here, the tail of a PUT's latency. So the worker fdatasyncs the file
 * itself once checkpoints have copied a quarter of the limit's frames since its last sync: the checkpoint
 * the writer waits for then has at most that to flush (5-7 ms with new keys here). Not after every
 * checkpoint: updates of a few hot pages copy the same pages again and again, and syncing them each time
 * doubled the bytes written for nothing. It only adds syncs: what SQLite syncs, and when, is unchanged.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type * as Fs from 'node:fs';
import { Worker, type MessagePort } from 'node:worker_threads';

/** A checkpoint is asked for after this many committed writes (SQLite's own default is 1000 pages)... */
const WRITES_PER_CHECKPOINT = 1000;
/** ...or this long after the first write since the last one. */
const INTERVAL_MS = 1000;
/** Frames (pages) the WAL may keep before the writer waits for a checkpoint: 40 MiB of 4 KiB pages. */
const WAL_LIMIT_PAGES = 10_000;
/** The worker syncs the database file once checkpoints have copied this share of the limit since its last sync. */
const SYNC_SHARE_OF_LIMIT = 1 / 4;

export interface CheckpointerOptions {
  /** The database file. */
  file: string;
  synchronous: 'NORMAL' | 'FULL';
  /** better-sqlite3's entry module, and the addon to load (undefined: the installed one). */
  driver: { module: string; nativeBinding: string | undefined };
  /** Called on the writing connection when the worker is gone, to checkpoint there again. */
  fallback: () => void;
  /** Told when a checkpoint fails or the worker stops. */
  onError: (error: unknown) => void;
  walLimitPages?: number;
  /** Told what each checkpoint in the worker reported (not the empty outcome of a stopped worker); for tests. */
  onCheckpoint?: (outcome: Outcome) => void;
}

/**
 * What one checkpoint reports: frames in the WAL, how many of them are in the database file, and whether the worker
 * synced the file afterwards.
 */
export interface Outcome {
  log: number;
  checkpointed: number;
  synced: boolean;
  error?: string;
}

export class Checkpointer {
  readonly #worker: Worker;
  readonly #options: CheckpointerOptions;
  readonly #limit: number;
  #writes = 0;
  #timer: NodeJS.Timeout | undefined;
  /** The checkpoint running in the worker, resolved with its outcome. */
  #running: Promise<Outcome> | undefined;
  #answer: ((outcome: Outcome) => void) | undefined;
  #walPages = 0;
  #stopped = false;

  constructor(options: CheckpointerOptions) {
    this.#options = options;
    this.#limit = options.walLimitPages ?? WAL_LIMIT_PAGES;
    this.#worker = new Worker(`(${checkpointWorker.toString()})(require)`, {
      eval: true,
      workerData: {
        file: options.file,
        synchronous: options.synchronous,
        driver: options.driver,
        syncFrames: Math.max(1, Math.floor(this.#limit * SYNC_SHARE_OF_LIMIT)),
      },
    });
    this.#worker.unref();
    this.#worker.on('message', (outcome: Outcome) => {
      options.onCheckpoint?.(outcome);
      this.#settle(outcome);
    });
    this.#worker.on('error', (error) => this.#stop(error));
    this.#worker.on('exit', (code) => this.#stop(new Error(`The checkpoint worker exited (code ${code}).`)));
  }

  /** After a batch of `writes` committed: asks for a checkpoint now, or schedules one. */
  committed(writes: number): void {
    if (this.#stopped) return;
    this.#writes += writes;
    if (this.#writes >= WRITES_PER_CHECKPOINT) void this.#checkpoint();
    else this.#timer ??= setTimeout(() => void this.#checkpoint(), INTERVAL_MS).unref();
  }

  /**
   * Before a batch begins: nothing to wait for, unless the WAL outgrew its limit; then resolves once a
   * checkpoint ran with the writer waiting, so the batch starts the WAL over.
   */
  async ready(): Promise<void> {
    if (this.#walPages <= this.#limit || this.#stopped) return;
    await this.#running;
    const outcome = await this.#checkpoint();
    // Nothing committed beside it: when it checkpointed every frame, the next write transaction starts the WAL over.
    if (outcome !== undefined && outcome.checkpointed === outcome.log) this.#walPages = 0;
  }

  /** Lets the checkpoint in flight finish, then closes the worker's connection (before the writer's last one). */
  async close(): Promise<void> {
    clearTimeout(this.#timer);
    await this.#running;
    if (this.#stopped) return;
    this.#stopped = true;
    const exited = new Promise((resolve) => this.#worker.once('exit', resolve));
    this.#worker.ref();
    this.#worker.postMessage('close');
    await exited;
  }

  /** Runs one checkpoint in the worker (after the one in flight); resolves with what it answered. */
  async #checkpoint(): Promise<Outcome | undefined> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#running !== undefined) return this.#running;
    if (this.#stopped) return undefined;
    this.#writes = 0;
    this.#running = new Promise<Outcome>((resolve) => (this.#answer = resolve));
    // Referenced while it works, so a process waiting for nothing else (a script's close()) waits for it.
    this.#worker.ref();
    this.#worker.postMessage('checkpoint');
    return this.#running;
  }

  #settle(outcome: Outcome): void {
    if (!this.#stopped) this.#worker.unref();
    // Commits may have landed while it ran, so the WAL may not start over even when it checkpointed every frame.
    this.#walPages = outcome.log;
    const answer = this.#answer;
    this.#running = this.#answer = undefined;
    answer?.(outcome);
    // A failing checkpoint (an I/O error, a full disk) is reported once; the writing connection takes over, and its
    // commits meet the same error where a request sees it.
    if (outcome.error !== undefined) {
      this.#stop(new Error(`WAL checkpoint failed: ${outcome.error}`));
      void this.#worker.terminate();
    }
  }

  #stop(error: unknown): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#options.onError(error);
    this.#options.fallback();
    this.#settle({ log: 0, checkpointed: 0, synced: false });
  }
}

interface WorkerData {
  file: string;
  synchronous: string;
  driver: { module: string; nativeBinding: string | undefined };
  /** The worker syncs the database file once checkpoints have copied this many frames since its last sync. */
  syncFrames: number;
}

/**
 * The worker's whole program, run from its source text (so it needs no file of its own next to the
 * compiled one): it may use only `require`, nothing imported by this module. It answers each
 * 'checkpoint' with what `PRAGMA wal_checkpoint(PASSIVE)` returned, after syncing the database file when
 * checkpoints have copied `syncFrames` since the last sync (see "kept short" above), and closes on 'close'.
 */
function checkpointWorker(require: NodeJS.Require): void {
  const { parentPort, workerData } = require('node:worker_threads') as {
    parentPort: MessagePort;
    workerData: WorkerData;
  };
  const { fdatasyncSync, openSync, closeSync } = require('node:fs') as typeof Fs;
  const { file, synchronous, driver, syncFrames } = workerData;
  const Database = require(driver.module) as typeof BetterSqlite3;
  const db = new Database(file, { timeout: 5000, nativeBinding: driver.nativeBinding });
  db.pragma(`synchronous = ${synchronous}`);
  // Only ever synced, never written through; opened for writing because some systems (Windows) sync only such.
  const fd = openSync(file, 'r+');
  /** Frames in the file as of the last checkpoint, and how many frames checkpoints have copied since the last sync. */
  let backfilled = 0;
  let unsynced = 0;
  parentPort.on('message', (message: string) => {
    if (message === 'close') {
      db.close();
      closeSync(fd);
      parentPort.close();
      return;
    }
    try {
      const [row] = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ log: number; checkpointed: number }>;
      const log = row?.log ?? 0;
      const checkpointed = row?.checkpointed ?? 0;
      // Fewer frames in the file than last time: the WAL started over, and all of them are new. (A WAL that started
      // over and outgrew the last count between two checkpoints is undercounted; the sync comes a little later.)
      unsynced += checkpointed >= backfilled ? checkpointed - backfilled : checkpointed;
      backfilled = checkpointed;
      const synced = unsynced >= syncFrames;
      if (synced) {
        fdatasyncSync(fd);
        unsynced = 0;
      }
      parentPort.postMessage({ log, checkpointed, synced });
    } catch (error) {
      parentPort.postMessage({ log: 0, checkpointed: 0, synced: false, error: (error as Error).message });
    }
  });
}
