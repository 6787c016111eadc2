import { LucidError } from '../errors.js';
import { isLocked } from '../store/types.js';
import { effectivePrefix } from './scope.js';
import type { Handler } from './types.js';

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

/** GET /api/kv: one page of keys in key order; the cursor is the page's last key, so paging is stable under writes. */
export const listKeys: Handler<'listKeys'> = async ({ query, store, principal, now }) => {
  const prefix = effectivePrefix(principal, query.prefix);
  const limit = query.limit ?? 100;
  const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  const rows = await store.list({ prefix, after, limit: limit + 1 });
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  const keys = page.map(({ key, size, entry }) => {
    const locked = isLocked(entry, now);
    return {
      key,
      size,
      contentType: entry.contentType,
      createdAt: iso(entry.createdAt),
      updatedAt: iso(entry.updatedAt),
      expiresAt: isoOrNull(entry.expiresAt),
      locked,
      lockHolder: locked ? entry.lockHolder : null,
      lockExpiresAt: locked ? isoOrNull(entry.lockExpiresAt) : null,
      etag: entry.etag,
    };
  });
  const body: { keys: typeof keys; cursor?: string } = { keys };
  if (rows.length > limit && last !== undefined) body.cursor = Buffer.from(last.key, 'utf8').toString('base64url');
  return { status: 200, body };
};

function decodeCursor(cursor: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new LucidError('INVALID_CURSOR');
  const key = Buffer.from(cursor, 'base64url').toString('utf8');
  if (key.length === 0 || Buffer.from(key, 'utf8').toString('base64url') !== cursor)
    throw new LucidError('INVALID_CURSOR');
  return key;
}
