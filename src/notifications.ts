/**
 * The change feed behind GET /api/notifications: turns the store's changes into server-sent events
 * with ids, keeps the last `bufferSize` of them for Last-Event-ID replay, and fans them out.
 *
 * Ids are `<epoch>.<sequence>`: the epoch names this feed's lifetime, so an id from before a restart
 * (or from another node, until the feed lives in a shared backend) is recognised as unknown and the
 * client is told to `reset` rather than silently missing changes.
 */
import type { Store, Change } from './store/types.js';

/** One event, with its SSE frame rendered once and shared by every client. */
export interface FeedEvent {
  seq: number;
  key: string;
  frame: string;
}

export interface FeedOptions {
  bufferSize: number;
  /** The largest UTF-8 value included in an event. */
  maxValueBytes: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export class NotificationFeed {
  readonly #epoch = Date.now().toString(36);
  readonly #ring: Array<FeedEvent | undefined>;
  #seq = 0;
  readonly #listeners = new Set<(event: FeedEvent) => void>();
  readonly #unsubscribe: () => void;

  constructor(
    store: Store,
    private readonly options: FeedOptions,
  ) {
    this.#ring = new Array<FeedEvent | undefined>(options.bufferSize);
    this.#unsubscribe = store.subscribe((change) => this.#publish(change));
  }

  /** The id of the newest event (or of the feed's start). */
  get lastId(): string {
    return `${this.#epoch}.${this.#seq}`;
  }

  subscribe(listener: (event: FeedEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The events after `lastId`, or undefined when they can no longer be replayed (too old, or an id this feed never gave). */
  since(lastId: string): FeedEvent[] | undefined {
    const match = /^([0-9a-z]+)\.(\d+)$/.exec(lastId.trim());
    if (!match || match[1] !== this.#epoch) return undefined;
    const after = Number(match[2]);
    if (after > this.#seq) return undefined;
    const oldest = Math.max(1, this.#seq - this.#ring.length + 1);
    if (after + 1 < oldest) return undefined;
    const events: FeedEvent[] = [];
    for (let seq = after + 1; seq <= this.#seq; seq++) events.push(this.#ring[seq % this.#ring.length]!);
    return events;
  }

  /** The frame that tells a client its replay is impossible and it must reload. */
  resetFrame(reason: string): string {
    return `id: ${this.lastId}\nevent: reset\ndata: ${JSON.stringify({ reason })}\n\n`;
  }

  close(): void {
    this.#unsubscribe();
    this.#listeners.clear();
  }

  #publish(change: Change): void {
    const seq = ++this.#seq;
    const id = `${this.#epoch}.${seq}`;
    const data: Record<string, unknown> = { type: change.type, key: change.key, time: new Date(change.time).toISOString() };
    const entry = change.entry;
    if (entry !== undefined) {
      data.etag = entry.etag;
      data.size = entry.value.length;
      data.contentType = entry.contentType;
      if (entry.value.length <= this.options.maxValueBytes) {
        try {
          data.value = utf8.decode(entry.value);
        } catch {
          // Not text: the event carries size and type only.
        }
      }
    }
    const event: FeedEvent = { seq, key: change.key, frame: `id: ${id}\ndata: ${JSON.stringify(data)}\n\n` };
    this.#ring[seq % this.#ring.length] = event;
    for (const listener of this.#listeners) listener(event);
  }
}
