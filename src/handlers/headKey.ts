import { LucidError } from '../errors.js';
import { noneMatch, readEntry } from '../kv.js';
import type { KeyInfo, Store } from '../store/types.js';
import { entryHeaders } from './entry-headers.js';
import type { Handler } from './types.js';

/**
 * HEAD /api/kv/{key}: GET's headers, the value's Content-Length, no body; the value itself is not read where the store
 * can help it.
 */
export const headKey: Handler<'headKey'> = async ({ request, params, store, now }) => {
  const { entry, size } = await readHead(store, params.key);
  if (!noneMatch(request.headers['if-none-match'], entry)) return { status: 304, headers: { ETag: entry.etag } };
  return { status: 200, headers: entryHeaders(entry, size, now) };
};

async function readHead(store: Store, key: string): Promise<KeyInfo> {
  if (store.head === undefined) {
    const entry = await readEntry(store, key);
    return { key, entry, size: entry.value.length };
  }
  const info = await store.head(key);
  if (info === undefined) throw new LucidError('KEY_NOT_FOUND');
  return info;
}
