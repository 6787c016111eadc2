/**
 * Revoked token ids. On the embedded store: a JSON-lines file that `lucid token revoke` appends to
 * and the server re-reads whenever it changes. On a shared backend: a set in the backend itself, so
 * every node honours a revocation. Either way the list is re-read every 500 ms, so a revocation
 * takes effect within a second without a restart, whether or not a server runs when it is made.
 */
import { appendFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { RevocationStore } from './store/types.js';

const POLL_MS = 500;

/** Appends a revocation; the file is created (mode 0600) when missing. */
export function revokeToken(file: string, tokenId: string, now = new Date()): void {
  mkdirSync(path.dirname(file), { recursive: true });
  appendFileSync(file, `${JSON.stringify({ id: tokenId, revokedAt: now.toISOString() })}\n`, { mode: 0o600 });
}

/** The set of revoked ids, kept current by polling the file's modification time and size. */
export class RevocationList {
  #ids = new Set<string>();
  #signature = '';
  readonly #timer: NodeJS.Timeout;

  #polling = false;
  readonly #listeners = new Set<() => void>();

  /** Follows the revocation file, or the backend's revocations when `shared` is given. */
  constructor(
    private readonly file: string,
    private readonly onError: (error: unknown) => void = () => undefined,
    private readonly shared?: RevocationStore,
  ) {
    this.#timer = setInterval(() => void this.poll(), POLL_MS);
    this.#timer.unref();
    void this.poll();
  }

  /** Re-reads the list (file or backend); a failure keeps the last list and is reported. */
  async poll(): Promise<void> {
    if (this.shared === undefined) {
      this.refresh();
      return;
    }
    if (this.#polling) return;
    this.#polling = true;
    try {
      this.#replace(new Set(await this.shared.list()));
    } catch (error) {
      this.onError(error);
    } finally {
      this.#polling = false;
    }
  }

  has(tokenId: string | undefined): boolean {
    return tokenId !== undefined && this.#ids.has(tokenId);
  }

  /**
   * Calls `listener` whenever the list is re-read with a change (within the poll interval of a
   * revocation), so an open notification stream can end once its token is revoked. Returns the
   * unsubscribe function.
   */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #replace(ids: Set<string>): void {
    const changed = ids.size !== this.#ids.size || [...ids].some((id) => !this.#ids.has(id));
    this.#ids = ids;
    if (changed) for (const listener of [...this.#listeners]) listener();
  }

  /** Re-reads the file when it changed; a missing file means nothing is revoked. */
  private refresh(): void {
    let signature: string;
    try {
      const stat = statSync(this.file);
      signature = `${stat.mtimeMs}:${stat.size}`;
    } catch {
      this.#replace(new Set());
      this.#signature = '';
      return;
    }
    if (signature === this.#signature) return;
    try {
      const ids = new Set<string>();
      for (const line of readFileSync(this.file, 'utf8').split('\n')) {
        if (line.trim() === '') continue;
        try {
          const { id } = JSON.parse(line) as { id?: unknown };
          if (typeof id === 'string') ids.add(id);
        } catch {
          // A torn or hand-edited line: skip it, keep the rest.
        }
      }
      this.#replace(ids);
      this.#signature = signature;
    } catch (error) {
      this.onError(error);
    }
  }

  close(): void {
    clearInterval(this.#timer);
    this.#listeners.clear();
  }
}
