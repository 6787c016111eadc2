import { fileTypeFromBuffer } from 'file-type';
import { LucidError, SUCCESS } from '../errors.js';
import { readBody } from '../http/body.js';
import { putValue } from '../kv.js';
import { preconditions } from './conditions.js';
import type { Handler } from './types.js';

/**
 * The longest Content-Type a PUT may give. Far above any real media type (RFC 6838 caps type and
 * subtype at 127 characters each, parameters are short), and small enough that a key's metadata
 * fits the head of its stored frame that listing reads (4 KiB, store/frame.ts): a longer one made
 * listing read whole values.
 */
export const MAX_CONTENT_TYPE_BYTES = 255;

/** PUT /api/kv/{key}: stores the raw body, read only now that the request is authenticated. */
export const putKey: Handler<'putKey'> = async ({ request, response, params, query, store, config }) => {
  // Checked on the header alone, before the body is read (header values are latin1: one byte a character).
  const given = request.headers['content-type'];
  if (given !== undefined && given.length > MAX_CONTENT_TYPE_BYTES) {
    throw new LucidError('INVALID_REQUEST', {
      message: `The Content-Type is longer than ${MAX_CONTENT_TYPE_BYTES} bytes.`,
    });
  }
  const limit = config.limits.maxValueBytes;
  const value = await readBody(
    request,
    response,
    limit,
    () => new LucidError('VALUE_TOO_LARGE', { message: `The value is larger than the limit of ${limit} bytes.` }),
  );
  if (value.length === 0) throw new LucidError('EMPTY_BODY');
  const contentType = request.headers['content-type'] ?? (await sniffContentType(value));
  const ttlSeconds = query.ttl;
  const { created, entry } = await putValue(store, params.key, value, contentType, {
    ...preconditions(request),
    ttlSeconds,
  });
  return created
    ? { status: 201, body: { message: SUCCESS.created }, headers: { ETag: entry.etag } }
    : { status: 200, body: { message: SUCCESS.updated }, headers: { ETag: entry.etag } };
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A content type for a body sent without one: a known binary signature, else JSON or text, else octet-stream. */
export async function sniffContentType(value: Buffer): Promise<string> {
  const detected = await fileTypeFromBuffer(value);
  if (detected) return detected.mime;
  let text: string;
  try {
    text = utf8.decode(value);
  } catch {
    return 'application/octet-stream';
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000e-\u001f]/.test(text)) return 'application/octet-stream';
  if (/^\s*[[{]/.test(text)) {
    try {
      JSON.parse(text);
      return 'application/json';
    } catch {
      // Looks like JSON but is not: plain text.
    }
  }
  return 'text/plain; charset=utf-8';
}
