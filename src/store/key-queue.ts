/**
 * A busy key's place in the queue: the promise its next task waits for, dropped once the key is idle.
 *
 * The map holds these, never the promises themselves. V8 reallocates a Map's table as keys come and
 * go, and a table that had reached the old generation keeps pointing at what it held after it was
 * replaced; the young-generation collector treats those pointers as live until the next full
 * collection. A table of promises so kept whole requests alive (each tail's chain reaches the
 * request's body, entry and handler) through two scavenges into the old generation. Measured under
 * a PUT load with the cache off and a ring of one event, so nothing else kept entries: 230-320 KB
 * promoted a scavenge with the promises in the map, 40-70 KB with slots, and scavenges of 1.6-1.7
 * against 1.2-1.3 ms (bench/README.md, "What a scavenge copies").
 */
interface Slot {
  tail: Promise<unknown> | undefined;
}

/** Serialises async work per key inside one process: the next task for a key starts when the previous settles. */
export class KeyQueue {
  readonly #slots = new Map<string, Slot>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    let slot = this.#slots.get(key);
    if (slot === undefined) this.#slots.set(key, (slot = { tail: undefined }));
    const next = (slot.tail ?? Promise.resolve()).then(task, task);
    const tail = next.catch(() => undefined);
    slot.tail = tail;
    const held = slot;
    void tail.then(() => {
      // A task queued behind this one holds the key now, and lets it go when it settles.
      if (held.tail !== tail) return;
      held.tail = undefined;
      this.#slots.delete(key);
    });
    return next;
  }

  /**
   * Runs `task` holding every key's queue, taken one after another in sorted key order, so two
   * multi-key tasks sharing keys cannot each hold one the other waits for.
   */
  runAll<T>(keys: readonly string[], task: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(keys)].sort();
    const hold = (i: number): Promise<T> => (i === sorted.length ? task() : this.run(sorted[i]!, () => hold(i + 1)));
    return hold(0);
  }

  /** Resolves when every queued task has settled. */
  async drain(): Promise<void> {
    while (this.#slots.size > 0) await Promise.all([...this.#slots.values()].map((slot) => slot.tail));
  }
}
