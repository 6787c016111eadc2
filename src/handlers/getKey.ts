import { noneMatch, readEntry } from '../kv.js';
import { entryHeaders } from './entry-headers.js';
import type { Handler } from './types.js';

/**
 * GET /api/kv/{key}: the exact bytes stored, with their content type; 304 when If-None-Match names the current ETag.
 */
export const getKey: Handler<'getKey'> = async ({ request, params, store, now }) => {
  const entry = await readEntry(store, params.key);
  if (!noneMatch(request.headers['if-none-match'], entry)) return { status: 304, headers: { ETag: entry.etag } };
  return { status: 200, body: entry.value, headers: entryHeaders(entry, entry.value.length, now) };
};
