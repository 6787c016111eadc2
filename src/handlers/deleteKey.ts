import { SUCCESS } from '../errors.js';
import { deleteValue } from '../kv.js';
import { preconditions } from './conditions.js';
import type { Handler } from './types.js';

/** DELETE /api/kv/{key}: removes an unlocked key (If-Match: only while its ETag is current). */
export const deleteKey: Handler<'deleteKey'> = async ({ request, params, store }) => {
  await deleteValue(store, params.key, preconditions(request));
  return { status: 200, body: { message: SUCCESS.deleted } };
};
