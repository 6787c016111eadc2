/** Every domain error Lucid can answer with, and the one table that maps each to a status and message. */

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
  | 'EMPTY_BODY'
  | 'INVALID_REQUEST'
  | 'MALFORMED_JSON'
  | 'UNAUTHORIZED'
  | 'VALUE_TOO_LARGE'
  | 'ROUTE_NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
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
  LOCK_HELD_BY_OTHER: { status: 409, message: 'The specified key is locked by another holder: only the holder or an admin token can unlock it.' },
  PRECONDITION_FAILED: { status: 412, message: 'The specified key does not match the precondition.' },
  FORBIDDEN_PREFIX: { status: 403, message: 'This token is not allowed to access this key.' },
  FORBIDDEN_SCOPE: { status: 403, message: 'This token is not allowed to do this: its scope is too narrow.' },
  INVALID_CURSOR: { status: 400, message: 'The cursor is not valid: pass the cursor of a previous page unchanged.' },
  NOT_A_NUMBER: { status: 400, message: 'The stored value is not a number.' },
  EMPTY_BODY: { status: 400, message: 'The request body must not be empty.' },
  INVALID_REQUEST: { status: 400, message: 'Invalid request.' },
  MALFORMED_JSON: { status: 400, message: 'The request body is not valid JSON.' },
  UNAUTHORIZED: { status: 401, message: 'You are not allowed to perform this action.' },
  VALUE_TOO_LARGE: { status: 413, message: 'The value is larger than the limit.' },
  ROUTE_NOT_FOUND: { status: 404, message: 'There is nothing at this path.' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'This method is not allowed on this path.' },
  STORE_UNAVAILABLE: { status: 503, message: 'The store is unavailable, retry later.' },
  INTERNAL: { status: 500, message: 'Internal server error.' },
};

/** A failure with a known meaning for clients. Handlers throw these; they never pick status codes inline. */
export class LucidError extends Error {
  readonly status: number;
  /** The key that refused a multi-key request (a transaction), named in the answer beside the message. */
  readonly key: string | undefined;

  constructor(
    readonly code: ErrorCode,
    /** Replaces the catalogue's message where the detail helps the client (validation errors, limits). */
    message?: string,
    options?: { cause?: unknown; key?: string },
    /** Headers the answer carries (the current ETag of a failed precondition). */
    readonly headers?: Record<string, string>,
  ) {
    const entry = catalogue[code];
    super(message ?? entry.message, options);
    this.name = 'LucidError';
    this.status = entry.status;
    this.key = options?.key;
  }
}

/** Thrown by a store when its backend cannot be reached or fails; answered as 503. */
export class StoreUnavailableError extends LucidError {
  constructor(cause: unknown) {
    super('STORE_UNAVAILABLE', undefined, { cause });
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
