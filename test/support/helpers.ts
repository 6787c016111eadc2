/**
 * Small helpers the tests share: waiting, polling, a key's path, requests on one key, a clock the test moves, a
 * store entry to write, and a full garbage collection.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Clock, Entry } from '../../src/store/types.js';
import type { TestLucid } from './lucid.js';

/** Runs a full garbage collection now (without starting the test runner with --expose-gc), then answers the memory in use. */
export function afterFullGc(): NodeJS.MemoryUsage {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
  return process.memoryUsage();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` every 20 ms until it holds or `ms` pass; the caller asserts on what it waited for. */
export async function until(condition: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  for (let waited = 0; !(await condition()) && waited < ms; waited += 20) await sleep(20);
}

/** The path of a key's resource, the key percent-encoded, with an optional query (`?ttl=1`). */
export function keyPath(key: string, query = ''): string {
  return `/api/kv/${encodeURIComponent(key)}${query}`;
}

export interface KeyRequestOptions {
  /** The body's Content-Type: PUT sends text/plain and PATCH application/json unless given; null sends none. */
  contentType?: string | null;
  /** Extra headers; they win over `contentType` and `token`. */
  headers?: Record<string, string>;
  /** Appended to the key's path, e.g. `?ttl=1`. */
  query?: string;
  /** A bearer token to send instead of the server's root token. */
  token?: string;
}

export interface KeyRequests {
  put(key: string, body: BodyInit, options?: KeyRequestOptions): Promise<Response>;
  /** A PATCH with `operation` as its JSON body (a string is sent as it is). */
  patch(key: string, operation: unknown, options?: KeyRequestOptions): Promise<Response>;
  get(key: string, options?: KeyRequestOptions): Promise<Response>;
  head(key: string, options?: KeyRequestOptions): Promise<Response>;
  del(key: string, options?: KeyRequestOptions): Promise<Response>;
}

/**
 * Requests on one key of the server `server()` returns: a getter, since a file's server starts in
 * beforeAll, after the file has made its helpers.
 */
export function keyRequests(server: () => TestLucid): KeyRequests {
  const send = (method: string, key: string, options: KeyRequestOptions, body?: BodyInit) => {
    const headers: Record<string, string> = {};
    if (options.contentType) headers['content-type'] = options.contentType;
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    return server().request(keyPath(key, options.query), { method, body, headers: { ...headers, ...options.headers } });
  };
  return {
    put: (key, body, options = {}) => send('PUT', key, { contentType: 'text/plain', ...options }, body),
    patch: (key, operation, options = {}) =>
      send(
        'PATCH',
        key,
        { contentType: 'application/json', ...options },
        typeof operation === 'string' ? operation : JSON.stringify(operation),
      ),
    get: (key, options = {}) => send('GET', key, options),
    head: (key, options = {}) => send('HEAD', key, options),
    del: (key, options = {}) => send('DELETE', key, options),
  };
}

export interface ManualClock {
  /** What the server reads (startLucid's `clock`). */
  clock: Clock;
  now(): number;
  set(ms: number): void;
  advance(ms: number): void;
}

/**
 * A clock that moves only when the test moves it. It starts at the real time, so that tokens issued
 * by the real clock (TestLucid.token, authority.issue) are valid on it too.
 */
export function manualClock(start = Date.now()): ManualClock {
  let now = start;
  return {
    clock: () => now,
    now: () => now,
    set: (ms) => {
      now = ms;
    },
    advance: (ms) => {
      now += ms;
    },
  };
}

/** A new text/plain entry holding `value`, unlocked and without expiry: version 1, created and updated at `now`. */
export function textEntry(
  value: string,
  { now = 1, etag = `"1-${value}"` }: { now?: number; etag?: string } = {},
): Entry {
  return {
    value: Buffer.from(value),
    contentType: 'text/plain',
    createdAt: now,
    updatedAt: now,
    expiresAt: null,
    locked: false,
    lockHolder: null,
    lockExpiresAt: null,
    version: 1,
    etag,
  };
}
