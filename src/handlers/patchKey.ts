import { applyOperation } from '../kv.js';
import { allows } from '../auth.js';
import { preconditions } from './conditions.js';
import type { components } from '../../generated/lucid.js';
import type { Handler } from './types.js';

/** PATCH /api/kv/{key}: lock, unlock, increment, decrement or ttl (the body was validated against the spec). */
export const patchKey: Handler<'patchKey'> = async ({ request, params, body, store, principal }) => {
  const { operation, value } = body;
  const actor = { subject: principal.subject, admin: allows(principal, 'admin') };
  const outcome = await applyOperation(store, params.key, operation, value, actor, preconditions(request));
  const reply: components['schemas']['OperationResult'] = { message: outcome.message };
  if (outcome.value !== undefined) reply.value = Number(outcome.value);
  if (operation === 'ttl')
    reply.expiresAt = outcome.entry.expiresAt === null ? null : new Date(outcome.entry.expiresAt).toISOString();
  return { status: 200, body: reply, headers: { ETag: outcome.entry.etag } };
};
