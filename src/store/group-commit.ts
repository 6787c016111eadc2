/**
 * Group commit for the embedded store: the writes that arrive while a transaction is being
 * committed wait, and then share the next one. Each write is acknowledged (its promise resolves)
 * only after the COMMIT of the transaction holding it returned; when anything in a batch fails
 * (a statement, or the COMMIT itself), the batch is rolled back and every write in it is refused
 * with that error.
 *
 * The driver runs statements synchronously, so a batch would otherwise hold only the writes that
 * reached it within one chain of promises. Instead a batch starts on the event loop's next check
 * phase (setImmediate): every write submitted while the current turn's I/O callbacks ran (all the
 * requests read from the sockets in one poll) shares it. There is no timer: a write alone waits
 * for that one turn only, and batches form only under load. A commit that fsyncs (synchronous
 * FULL) blocks the loop while it runs; the requests arriving meanwhile make up the next batch.
 */

/** The statements that bracket a batch, run on the one connection that writes (synchronous or not). */
export interface Transactor {
  begin(): unknown;
  commit(): unknown;
  rollback(): unknown;
}

/** One write of a batch: its statements, and the keys it writes (for the batch hook). */
interface Unit {
  keys: readonly string[];
  apply: () => Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** Told after each batch: the keys it wrote, in order, and the error that failed it (undefined when it committed). */
export type BatchHook = (keys: string[], error: unknown) => void;

/** Batches above this many writes are split, so one transaction never holds an unbounded amount. */
const MAX_BATCH = 1000;

export class GroupCommit {
  readonly #transactor: Transactor;
  readonly #onBatch: BatchHook | undefined;
  #waiting: Unit[] = [];
  #flushing: Promise<void> | undefined;

  constructor(transactor: Transactor, onBatch?: BatchHook) {
    this.#transactor = transactor;
    this.#onBatch = onBatch;
  }

  /**
   * Runs `apply` (the statements of one write, or of one transaction's writes) in the next batch; resolves once it
   * committed.
   */
  submit(keys: readonly string[], apply: () => Promise<void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#waiting.push({ keys, apply, resolve, reject });
      this.#flushing ??= this.#flush();
    });
  }

  /** Resolves when every submitted write has been committed or refused. */
  async drain(): Promise<void> {
    while (this.#flushing !== undefined) await this.#flushing;
  }

  async #flush(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.#waiting.length > 0) {
      const batch = this.#waiting.splice(0, MAX_BATCH);
      const error = await this.#run(batch);
      this.#onBatch?.(
        batch.flatMap((unit) => unit.keys),
        error,
      );
      for (const unit of batch) {
        if (error === undefined) unit.resolve();
        else unit.reject(error);
      }
    }
    this.#flushing = undefined;
  }

  /** Runs one batch as one transaction; answers the error that failed it, or undefined once it committed. */
  async #run(batch: Unit[]): Promise<unknown> {
    try {
      await this.#transactor.begin();
    } catch (error) {
      return error;
    }
    try {
      for (const unit of batch) await unit.apply();
      await this.#transactor.commit();
      return undefined;
    } catch (error) {
      // A failed COMMIT may leave the transaction open (SQLITE_BUSY); an I/O error may already have rolled it back.
      await Promise.resolve()
        .then(() => this.#transactor.rollback())
        .catch(() => undefined);
      return error;
    }
  }
}
