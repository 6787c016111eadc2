/**
 * The change feed behind GET /api/notifications: turns the store's changes into server-sent events
 * with ids, keeps the last `bufferSize` of them for Last-Event-ID replay, and fans them out.
 *
 * On the embedded store, ids are `<epoch>.<sequence>`: the epoch names this feed's lifetime, so an
 * id from before a restart is recognised as unknown and the client is told to `reset` rather than
 * silently missing changes. On a shared backend, ids are the backend's change-log ids, the same on
 * every node: a client may reconnect to any node, which replays from its own recent events or, for
 * an id it does not hold (it started later), from the backend's log.
 */
import { entryOf, type Store, type Change } from './store/types.js';

/**
 * One event. Its SSE frame is rendered when it is first sent (or replayed), once, and shared by every client after: a
 * change nobody follows, the common case on a busy store, is never rendered.
 */
export interface FeedEvent {
  readonly seq: number;
  readonly id: string;
  readonly key: string;
  readonly frame: string;
}

/**
 * An event as the ring keeps it: one small object per change, its id and frame made when first asked for. Every write
 * leaves one behind for `bufferSize` more writes, long enough to be copied out of V8's young generation, so what it
 * holds is paid on each write: a closure, its context and an id string per event made a PUT's scavenges 13 % longer.
 */
class RingEvent implements FeedEvent {
  #frame: string | undefined;

  constructor(
    readonly seq: number,
    /** The change, without its value when no frame would carry it. */
    readonly change: Change,
    readonly feed: NotificationFeed,
  ) {}

  get id(): string {
    return this.change.id ?? this.feed.localId(this.seq);
  }

  get key(): string {
    return this.change.key;
  }

  get frame(): string {
    return (this.#frame ??= this.feed.render(this.change, this.id));
  }
}

export interface FeedOptions {
  bufferSize: number;
  /** The largest UTF-8 value included in an event. */
  maxValueBytes: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export class NotificationFeed {
  readonly #epoch = Date.now().toString(36);
  readonly #ring: Array<RingEvent | undefined>;
  /**
   * Where each event of a shared backend still in the ring sits, by its change-log id, for replay from any id. This
   * feed's own ids (`<epoch>.<seq>`) name their position already.
   */
  readonly #positions = new Map<string, number>();
  #seq = 0;
  readonly #store: Store;
  readonly #listeners = new Set<(event: FeedEvent) => void>();
  readonly #unsubscribe: () => void;

  constructor(
    store: Store,
    private readonly options: FeedOptions,
  ) {
    this.#store = store;
    this.#ring = new Array<RingEvent | undefined>(options.bufferSize);
    this.#unsubscribe = store.subscribe((change) => this.#publish(change));
  }

  /** The id of the newest event (or of the feed's start). */
  get lastId(): string {
    return this.#ring[this.#seq % this.#ring.length]?.id ?? this.localId(0);
  }

  /** This feed's own id for its event `seq`. */
  localId(seq: number): string {
    return `${this.#epoch}.${seq}`;
  }

  subscribe(listener: (event: FeedEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Calls `listener` with the events after `lastId` (or, when they cannot be replayed, with a
   * `reset` frame) and then with every new event, with no gap and no repeat between the two;
   * returns an unsubscribe function.
   */
  follow(lastId: string | undefined, listener: (frame: string, key: string | undefined) => void): () => void {
    if (lastId === undefined) return this.subscribe((event) => listener(event.frame, event.key));
    const local = this.#since(lastId);
    if (local !== undefined || this.#store.changesSince === undefined) {
      // Replay and subscription happen in the same tick, so no change falls between them.
      if (local === undefined) listener(this.resetFrame(), undefined);
      else for (const event of local) listener(event.frame, event.key);
      return this.subscribe((event) => listener(event.frame, event.key));
    }
    // An id this node does not hold: replay from the backend's log. New events are held back
    // until the replay is sent; those the replay already carried are skipped.
    let held: FeedEvent[] | undefined = [];
    const unsubscribe = this.subscribe((event) => {
      if (held === undefined) listener(event.frame, event.key);
      else held.push(event);
    });
    this.#store
      .changesSince(lastId)
      .then((changes) => {
        if (changes === undefined) {
          listener(this.resetFrame(), undefined);
        } else {
          for (const change of changes) listener(this.render(change, change.id!), change.key);
        }
        const replayed = new Set(changes?.map((change) => change.id));
        for (const event of held ?? []) if (!replayed.has(event.id)) listener(event.frame, event.key);
      })
      .catch(() => listener(this.resetFrame('The change log could not be read; reload your state.'), undefined))
      .finally(() => {
        held = undefined;
      });
    return unsubscribe;
  }

  /** The events after `lastId` still in this feed's ring, or undefined when the ring cannot replay them. */
  #since(lastId: string): FeedEvent[] | undefined {
    const id = lastId.trim();
    let after = this.#positions.get(id);
    if (after === undefined) {
      // One of this feed's own ids (`<epoch>.<seq>`): resumed from when everything after it is held, even when its
      // own event has just left the ring.
      const match = /^([0-9a-z]+)\.(\d+)$/.exec(id);
      if (!match || match[1] !== this.#epoch) return undefined;
      after = Number(match[2]);
      if (after > this.#seq) return undefined;
    }
    const oldest = Math.max(1, this.#seq - this.#ring.length + 1);
    if (after + 1 < oldest) return undefined;
    const events: FeedEvent[] = [];
    for (let seq = after + 1; seq <= this.#seq; seq++) events.push(this.#ring[seq % this.#ring.length]!);
    return events;
  }

  /** The frame that tells a client its replay is impossible and it must reload. */
  resetFrame(reason = 'The changes since Last-Event-ID are no longer available; reload your state.'): string {
    return `id: ${this.lastId}\nevent: reset\ndata: ${JSON.stringify({ reason })}\n\n`;
  }

  close(): void {
    this.#unsubscribe();
    this.#listeners.clear();
  }

  #publish(change: Change): void {
    const seq = ++this.#seq;
    const event = new RingEvent(seq, this.#kept(change), this);
    const slot = seq % this.#ring.length;
    const evicted = this.#ring[slot];
    if (evicted?.change.id !== undefined) this.#positions.delete(evicted.change.id);
    this.#ring[slot] = event;
    if (change.id !== undefined) this.#positions.set(change.id, seq);
    for (const listener of this.#listeners) listener(event);
  }

  /** What the ring keeps of `change`: all of it, or, when no frame would carry its value, the change without it. */
  #kept(change: Change): Change {
    const entry = change.entry;
    if (entry === undefined) return change;
    const size = change.size ?? entry.value.length;
    return change.valueOmitted || size > this.options.maxValueBytes
      ? { ...change, size, valueOmitted: true, entry: entryOf({ ...entry, value: Buffer.alloc(0) }) }
      : change;
  }

  /** The SSE frame of `change` under `id`. */
  render(change: Change, id: string): string {
    const data: Record<string, unknown> = {
      type: change.type,
      key: change.key,
      time: new Date(change.time).toISOString(),
    };
    if (change.txn !== undefined) data.txn = change.txn;
    const entry = change.entry;
    if (entry !== undefined) {
      const size = change.size ?? entry.value.length;
      data.etag = entry.etag;
      data.size = size;
      data.contentType = entry.contentType;
      if (!change.valueOmitted && size <= this.options.maxValueBytes) {
        try {
          data.value = utf8.decode(entry.value);
        } catch {
          // Not text: the event carries size and type only.
        }
      }
    }
    return `id: ${id}\ndata: ${JSON.stringify(data)}\n\n`;
  }
}
