/** The headers GET and HEAD share, derived from one entry. */
import type { Entry } from '../store/types.js';

export function entryHeaders(entry: Entry): Record<string, string | number> {
  return {
    'Content-Type': entry.contentType,
    'Content-Length': entry.value.length,
    ETag: entry.etag,
    'Last-Modified': new Date(entry.updatedAt).toUTCString(),
  };
}
