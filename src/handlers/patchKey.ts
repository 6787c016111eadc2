import { applyOperation, type Operation } from '../kv.js';
import { allows } from '../auth.js';
import type { components } from '../../generated/lucid.js';
import { preconditions } from './conditions.js';
import type { Handler } from './types.js';

type PatchOperation = components['schemas']['PatchOperation'];

/** PATCH /api/kv/{key}: lock, unlock, increment, decrement or ttl (the body was validated against the spec). */
export const patchKey: Handler<'patchKey'> = async ({ request, params, body, store, principal }) => {
  const { operation, value } = body as PatchOperation;
  const actor = { subject: principal.subject, admin: allows(principal, 'admin') };
  const outcome = await applyOperation(store, params.key!, operation as Operation, value, actor, preconditions(request));
  const reply: Record<string, unknown> = { message: outcome.message };
  if (outcome.value !== undefined) reply.value = Number(outcome.value);
  if (operation === 'ttl') reply.expiresAt = outcome.entry.expiresAt === null ? null : new Date(outcome.entry.expiresAt).toISOString();
  return { status: 200, body: reply, headers: { ETag: outcome.entry.etag } };
};
