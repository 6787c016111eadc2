import { deleteValue } from '../kv.js';
import type { Handler } from './types.js';

/** DELETE /api/kv/{key}: removes an unlocked key. */
export const deleteKey: Handler<'deleteKey'> = async ({ params, store }) => {
  await deleteValue(store, params.key!);
  return { status: 200, body: { message: 'The specified key was successfully deleted.' } };
};
