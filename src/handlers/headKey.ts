import { readEntry } from '../kv.js';
import { entryHeaders } from './entry-headers.js';
import type { Handler } from './types.js';

/** HEAD /api/kv/{key}: GET's headers, the value's Content-Length, no body. */
export const headKey: Handler<'headKey'> = async ({ params, store }) => {
  const entry = await readEntry(store, params.key!);
  return { status: 200, headers: entryHeaders(entry) };
};
