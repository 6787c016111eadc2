/** The one error the client throws for an answer it did not ask for (any non-2xx but the 304s it handles). */
import type { components } from '../../generated/lucid.js';

type Message = components['schemas']['Message'];

export class LucidApiError extends Error {
  override readonly name = 'LucidApiError';
  /** The HTTP status of the answer. */
  readonly status: number;
  /** The key's current ETag when the server gave one (a 412 does, when the key exists). */
  readonly etag: string | null;
  /**
   * The key that refused a transaction (409 locked, 404 missing, 400 not a number, 403 outside the prefix), when the
   * answer names one.
   */
  readonly key: string | undefined;
  /** Every header of the answer (`WWW-Authenticate` on a 401, for instance). */
  readonly headers: Headers;

  constructor(response: Response, body?: unknown) {
    super(messageOf(body) ?? `${response.status} ${response.statusText || 'HTTP error'}`.trim());
    this.status = response.status;
    this.etag = response.headers.get('ETag');
    this.headers = response.headers;
    const key = (body as { key?: unknown } | undefined)?.key;
    this.key = typeof key === 'string' ? key : undefined;
  }

  /** 400: a bad key, body or parameter; a stored value that is not a number. */
  get isBadRequest(): boolean {
    return this.status === 400;
  }
  /** 401: the token is missing, malformed, expired, revoked or wrongly signed. */
  get isUnauthorized(): boolean {
    return this.status === 401;
  }
  /** 403: the token's scope or prefix does not allow this. */
  get isForbidden(): boolean {
    return this.status === 403;
  }
  /** 404: the key does not exist (or has expired). */
  get isNotFound(): boolean {
    return this.status === 404;
  }
  /** 409: the key is locked (or, for lock and unlock, already in that state or held by another). */
  get isConflict(): boolean {
    return this.status === 409;
  }
  /** 412: an If-Match or If-None-Match condition failed; `etag` is the current one when the key exists. */
  get isPreconditionFailed(): boolean {
    return this.status === 412;
  }
  /** 413: the value is larger than the server's `limits.maxValueBytes`. */
  get isTooLarge(): boolean {
    return this.status === 413;
  }
  /** 503: the store cannot be reached; retry later. */
  get isUnavailable(): boolean {
    return this.status === 503;
  }
}

/** Error bodies are `{"message": "..."}`; HEAD answers have none. */
function messageOf(body: unknown): string | undefined {
  if (typeof body === 'object' && body !== null && typeof (body as Partial<Message>).message === 'string')
    return (body as Message).message;
  return undefined;
}
