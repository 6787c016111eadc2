/** The headers GET and HEAD share, derived from one entry. */
import { isLocked, type Entry } from '../store/types.js';

export function entryHeaders(entry: Entry, now: number): Record<string, string | number> {
  const headers: Record<string, string | number> = {
    'Content-Type': entry.contentType,
    'Content-Length': entry.value.length,
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
