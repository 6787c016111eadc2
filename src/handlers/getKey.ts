import { readEntry } from '../kv.js';
import { entryHeaders } from './entry-headers.js';
import type { Handler } from './types.js';

/** GET /api/kv/{key}: the exact bytes stored, with their content type. */
export const getKey: Handler<'getKey'> = async ({ params, store }) => {
  const entry = await readEntry(store, params.key!);
  return { status: 200, body: entry.value, headers: entryHeaders(entry) };
};
