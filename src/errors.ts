/**
 * Every answer Lucid gives in words: the errors (each code with its status and message) and the
 * success messages, in one place. Handlers and stores throw codes and pick messages from here;
 * they never write a status or a client-facing sentence inline.
 */

/** Stable codes for every error a client can meet. */
export type ErrorCode =
  | 'KEY_NOT_FOUND'
  | 'KEY_LOCKED'
  | 'ALREADY_LOCKED'
  | 'NOT_LOCKED'
  | 'LOCK_HELD_BY_OTHER'
  | 'PRECONDITION_FAILED'
  | 'FORBIDDEN_PREFIX'
  | 'FORBIDDEN_SCOPE'
  | 'INVALID_CURSOR'
  | 'NOT_A_NUMBER'
  | 'NUMBER_TOO_LONG'
  | 'EMPTY_BODY'
  | 'INVALID_REQUEST'
  | 'MALFORMED_JSON'
  | 'UNAUTHORIZED'
  | 'VALUE_TOO_LARGE'
  | 'ROUTE_NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'BODY_UNREADABLE'
  | 'UNSUPPORTED_ENCODING'
  | 'BAD_PERCENT_ENCODING'
  | 'NOT_HTTP'
  | 'HEADERS_TOO_LARGE'
  | 'REQUEST_TIMEOUT'
  | 'STORE_UNAVAILABLE'
  | 'INTERNAL';

interface CatalogueEntry {
  status: number;
  /** The message clients see; the texts from the API docs are kept exactly, typos included. */
  message: string;
}

const catalogue: Record<ErrorCode, CatalogueEntry> = {
  KEY_NOT_FOUND: { status: 404, message: 'The specified key does not exists.' },
  KEY_LOCKED: { status: 409, message: 'The specified key cannot be updated.' },
  ALREADY_LOCKED: { status: 409, message: 'The specified key is already locked.' },
  NOT_LOCKED: { status: 409, message: 'The specified key is not locked.' },
  LOCK_HELD_BY_OTHER: {
    status: 409,
    message: 'The specified key is locked by another holder: only the holder or an admin token can unlock it.',
  },
  PRECONDITION_FAILED: { status: 412, message: 'The specified key does not match the precondition.' },
  FORBIDDEN_PREFIX: { status: 403, message: 'This token is not allowed to access this key.' },
  FORBIDDEN_SCOPE: { status: 403, message: 'This token is not allowed to do this: its scope is too narrow.' },
  INVALID_CURSOR: { status: 400, message: 'The cursor is not valid: pass the cursor of a previous page unchanged.' },
  NOT_A_NUMBER: { status: 400, message: 'The stored value is not a number.' },
  NUMBER_TOO_LONG: { status: 400, message: 'Increment and decrement work on numbers of at most 300 digits.' },
  EMPTY_BODY: { status: 400, message: 'The request body must not be empty.' },
  INVALID_REQUEST: { status: 400, message: 'Invalid request.' },
  MALFORMED_JSON: { status: 400, message: 'The request body is not valid JSON.' },
  UNAUTHORIZED: { status: 401, message: 'You are not allowed to perform this action.' },
  VALUE_TOO_LARGE: { status: 413, message: 'The value is larger than the limit.' },
  ROUTE_NOT_FOUND: { status: 404, message: 'There is nothing at this path.' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'This method is not allowed on this path.' },
  BODY_UNREADABLE: {
    status: 400,
    message: 'The request body could not be read: check its Content-Encoding and Content-Length.',
  },
  UNSUPPORTED_ENCODING: { status: 400, message: 'The body encoding is not supported.' },
  BAD_PERCENT_ENCODING: { status: 400, message: 'The path is not valid percent-encoding.' },
  // Requests Node's parser or timers refuse before they become requests (server.ts).
  NOT_HTTP: { status: 400, message: 'The request is not valid HTTP/1.1.' },
  HEADERS_TOO_LARGE: {
    status: 431,
    message: 'The request headers are larger than the server accepts (server.maxHeaderBytes).',
  },
  REQUEST_TIMEOUT: {
    status: 408,
    message: 'The request did not arrive in time (server.headersTimeoutMs / server.requestTimeoutMs).',
  },
  STORE_UNAVAILABLE: { status: 503, message: 'The store is unavailable, retry later.' },
  INTERNAL: { status: 500, message: 'Internal server error.' },
};

/** The status and message of an error code, as clients see them. */
export function describe(code: ErrorCode): CatalogueEntry {
  return catalogue[code];
}

export interface LucidErrorOptions {
  /** Replaces the catalogue's message where the detail helps the client (validation errors, limits). */
  message?: string | undefined;
  cause?: unknown;
  /** Headers the answer carries (the current ETag of a failed precondition, Allow of a 405). */
  headers?: Record<string, string> | undefined;
  /** The key that refused a multi-key request (a transaction). */
  key?: string | undefined;
}

/** A failure with a known meaning for clients. Handlers throw these; they never pick status codes inline. */
export class LucidError extends Error {
  readonly status: number;
  readonly headers: Record<string, string> | undefined;
  /** The key that refused a multi-key request (a transaction), named in the answer beside the message. */
  readonly key: string | undefined;

  constructor(
    readonly code: ErrorCode,
    { message, cause, headers, key }: LucidErrorOptions = {},
  ) {
    const entry = catalogue[code];
    super(message ?? entry.message, cause === undefined ? undefined : { cause });
    this.name = 'LucidError';
    this.status = entry.status;
    this.headers = headers;
    this.key = key;
  }
}

/** What a successful write answers, in words (the API docs' texts, kept exactly). */
export const SUCCESS = {
  created: 'The specified key was successfully created.',
  updated: 'The specified key was successfully updated.',
  deleted: 'The specified key was successfully deleted.',
  locked: 'The specified key was successfully locked.',
  unlocked: 'The specified key was successfully unlocked.',
  incremented: 'The specified key was successfully incremented.',
  decremented: 'The specified key was successfully decremented.',
  expirySet: 'The expiry of the specified key was set.',
  expiryRemoved: 'The expiry of the specified key was removed.',
} as const;

/** Thrown by a store when its backend cannot be reached or fails; answered as 503. */
export class StoreUnavailableError extends LucidError {
  constructor(cause: unknown) {
    super('STORE_UNAVAILABLE', { cause });
    this.name = 'StoreUnavailableError';
  }
}

/** Thrown when opening an embedded store whose file another running Lucid process owns. */
export class StoreInUseError extends Error {
  constructor(
    readonly file: string,
    readonly pid: number,
  ) {
    super(`${file} is in use by another Lucid process (pid ${pid}); stop it or use another data file.`);
    this.name = 'StoreInUseError';
  }
}

/** Thrown at start-up for a bad config, flag or environment; the CLI prints the message alone. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
