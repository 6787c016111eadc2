/** Walking every entry of any store, for export and rekey. */
import type { Store, StoredEntry } from './types.js';

const PAGE = 500;

/**
 * Every live entry under `prefix`, in key order: from the backend's own snapshot (`entries`) when
 * it has one; otherwise a page of keys at a time through `list`, each entry read with `get` as it
 * is reached. That walk sees every key that exists throughout it exactly once, each as it was when
 * read, but not all as of one moment: a backend that can should implement `entries`.
 */
export async function* storeEntries(store: Store, prefix: string): AsyncGenerator<StoredEntry> {
  if (store.entries !== undefined) {
    yield* store.entries(prefix);
    return;
  }
  let after: string | undefined;
  for (;;) {
    const page = await store.list({ prefix, after, limit: PAGE });
    for (const { key } of page) {
      const entry = await store.get(key);
      if (entry !== undefined) yield { key, entry };
    }
    if (page.length < PAGE) return;
    after = page[page.length - 1]!.key;
  }
}
