import { VERSION } from '../version.js';
import type { Handler } from './types.js';

/** GET /health: 200 when the store answers (503 otherwise, via the store's error). */
export const getHealth: Handler<'getHealth'> = async ({ store }) => {
  await store.ping();
  return { status: 200, body: { status: 'ok', version: VERSION } };
};
