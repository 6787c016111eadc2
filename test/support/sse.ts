/** A small server-sent events reader over fetch's body stream, for tests of GET /api/notifications. */
import type { components } from '../../generated/lucid.js';

/** One SSE block (the lines up to a blank line): its fields and comment lines. */
export interface SseBlock {
  id?: string;
  event?: string;
  data?: string;
  retry?: string;
  comments: string[];
}

/** The JSON a change message carries in its `data`, as the spec defines it. */
export type Notification = components['schemas']['Notification'];

/** A change message: a block with data and no `event:` field. */
export const isChange = (block: SseBlock): boolean => block.data !== undefined && block.event === undefined;

export function parseBlock(text: string): SseBlock {
  const block: SseBlock = { comments: [] };
  for (const line of text.split('\n')) {
    if (line.startsWith(':')) {
      block.comments.push(line.slice(1).trim());
      continue;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') block.data = block.data === undefined ? value : `${block.data}\n${value}`;
    else if (field === 'id' || field === 'event' || field === 'retry') block[field] = value;
  }
  return block;
}

export class SseStream {
  /** Every block received so far, in order. */
  readonly blocks: SseBlock[] = [];
  /** Resolves when the server ends the stream (or it is closed here). */
  readonly ended: Promise<void>;
  #done = false;
  #wake: Array<() => void> = [];

  constructor(
    readonly response: Response,
    private readonly controller: AbortController,
  ) {
    this.ended = this.#pump();
  }

  get done(): boolean {
    return this.#done;
  }

  /** The parsed change messages received so far. */
  changes(): Notification[] {
    return this.blocks.filter(isChange).map((block) => JSON.parse(block.data!) as Notification);
  }

  /** Waits until `predicate` holds for the blocks received so far; fails after `timeoutMs`. */
  async until(
    predicate: (blocks: SseBlock[]) => boolean,
    timeoutMs = 3000,
    what = 'the expected events',
  ): Promise<SseBlock[]> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.blocks)) {
      const left = deadline - Date.now();
      if (left <= 0 || this.#done)
        throw new Error(`Timed out (or stream ended) waiting for ${what}; got ${JSON.stringify(this.blocks)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.blocks;
  }

  /** Waits for at least `count` change messages and returns them all. */
  async changesUntil(count: number, timeoutMs = 3000): Promise<Notification[]> {
    await this.until((blocks) => blocks.filter(isChange).length >= count, timeoutMs, `${count} change messages`);
    return this.changes();
  }

  /** Aborts the request; resolves once the body stream has ended. */
  close(): Promise<void> {
    this.controller.abort();
    return this.ended;
  }

  async #pump(): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of this.response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true }).replaceAll('\r\n', '\n');
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          this.blocks.push(parseBlock(buffer.slice(0, end)));
          buffer = buffer.slice(end + 2);
        }
        this.#notify();
      }
    } catch {
      // Aborted by close(), or cut by the server: either way the stream is over.
    } finally {
      this.#done = true;
      this.#notify();
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = [];
    for (const resolve of wake) resolve();
  }
}

/** Opens an event stream; the response is returned as is (check its status before reading). */
export async function openStream(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const controller = new AbortController();
  const response = await fetch(url, { headers, signal: controller.signal });
  return new SseStream(response, controller);
}
