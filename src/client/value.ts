/** What GET and HEAD answer, read from the response's headers (and, for GET, its bytes). */
import type { operations } from '../../generated/lucid.js';

/** The headers GET and HEAD document for a 200. */
type EntryHeaders = operations['getKey']['responses'][200]['headers'];
/** The header of a 304. */
type NotModifiedHeaders = operations['getKey']['responses'][304]['headers'];

/** A key's metadata, as HEAD (and GET) tell it. Absent headers are `null`. */
export interface LucidMetadata {
  notModified: false;
  /** The content type the value was stored with, unchanged. */
  contentType: string;
  /** The value's size in bytes. */
  size: EntryHeaders['Content-Length'];
  etag: EntryHeaders['ETag'];
  /** When the value was last written (HTTP date). */
  lastModified: EntryHeaders['Last-Modified'];
  /** When the key expires (ISO 8601), `null` when it never does. */
  expiresAt: EntryHeaders['Lucid-Expires-At'] | null;
  /** Who holds the key's lock, `null` when it is unlocked (non-ASCII subjects arrive percent-encoded). */
  lockHolder: EntryHeaders['Lucid-Lock-Holder'] | null;
  /** When the lock's lease lapses (ISO 8601), `null` for no lock or a lock without a lease. */
  lockExpiresAt: EntryHeaders['Lucid-Lock-Expires-At'] | null;
}

/** A stored value with its metadata; read it as bytes, text or JSON as often as wanted. */
export interface LucidValue extends LucidMetadata {
  /** The exact bytes stored. */
  bytes(): Uint8Array;
  /** The bytes decoded as UTF-8. */
  text(): string;
  /** The bytes parsed as JSON (throws a SyntaxError when they are not JSON). */
  json<T = unknown>(): T;
  /** The bytes as a Blob typed with the stored content type. */
  blob(): Blob;
}

/** The answer to a conditional GET or HEAD (`ifNoneMatch`) when the client's copy is current. */
export interface NotModified {
  notModified: true;
  etag: NotModifiedHeaders['ETag'];
}

export function metadataOf(response: Response): LucidMetadata {
  const headers = response.headers;
  return {
    notModified: false,
    contentType: headers.get('Content-Type') ?? 'application/octet-stream',
    size: Number(headers.get('Content-Length') ?? 0),
    etag: headers.get('ETag') ?? '',
    lastModified: headers.get('Last-Modified') ?? '',
    expiresAt: headers.get('Lucid-Expires-At'),
    lockHolder: decodeHeader(headers.get('Lucid-Lock-Holder')),
    lockExpiresAt: headers.get('Lucid-Lock-Expires-At'),
  };
}

export function notModifiedOf(response: Response): NotModified {
  return { notModified: true, etag: response.headers.get('ETag') ?? '' };
}

const utf8 = new TextDecoder('utf-8');

export function valueOf(response: Response, body: ArrayBuffer): LucidValue {
  const metadata = metadataOf(response);
  const bytes = new Uint8Array(body);
  return {
    ...metadata,
    size: bytes.byteLength,
    // A copy each time, so a caller writing into it cannot change what the next read sees.
    bytes: () => bytes.slice(),
    text: () => utf8.decode(bytes),
    json: <T>() => JSON.parse(utf8.decode(bytes)) as T,
    blob: () => new Blob([bytes], { type: metadata.contentType }),
  };
}

/** The server percent-encodes the lock holder (a token subject may hold any character). */
function decodeHeader(value: string | null): string | null {
  if (value === null) return null;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
