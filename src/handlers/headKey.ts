import { noneMatch, readEntry } from '../kv.js';
import { entryHeaders } from './entry-headers.js';
import type { Handler } from './types.js';

/** HEAD /api/kv/{key}: GET's headers, the value's Content-Length, no body. */
export const headKey: Handler<'headKey'> = async ({ request, params, store, now }) => {
  const entry = await readEntry(store, params.key);
  if (!noneMatch(request.headers['if-none-match'], entry)) return { status: 304, headers: { ETag: entry.etag } };
  return { status: 200, headers: entryHeaders(entry, now) };
};
