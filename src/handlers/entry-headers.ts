/** The headers GET and HEAD share, derived from one entry. */
import { isLocked, type Entry } from '../store/types.js';

/** `size` is the value's length in bytes (HEAD knows it without the value). */
export function entryHeaders(entry: Omit<Entry, 'value'>, size: number, now: number): Record<string, string | number> {
  const headers: Record<string, string | number> = {
    'Content-Type': entry.contentType,
    'Content-Length': size,
    ETag: entry.etag,
    'Last-Modified': new Date(entry.updatedAt).toUTCString(),
  };
  if (entry.expiresAt !== null) headers['Lucid-Expires-At'] = new Date(entry.expiresAt).toISOString();
  if (isLocked(entry, now)) {
    // Percent-encoded always (not only when non-ASCII), so a client decodes it without guessing.
    headers['Lucid-Lock-Holder'] = encodeURIComponent(entry.lockHolder ?? '');
    if (entry.lockExpiresAt !== null) headers['Lucid-Lock-Expires-At'] = new Date(entry.lockExpiresAt).toISOString();
  }
  return headers;
}
