/**
 * Writing answers: each answer's headers are written once, in one `writeHead`, from a set computed
 * at start-up (the security headers) and the reply's own.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';
import type { AnyReply } from '../handlers/types.js';
import { VERSION } from '../version.js';

/** Header names and values, flat: [name, value, name, value, ...] (what writeHead takes fastest). */
export type HeaderList = string[];

/**
 * The security headers every API answer carries (OWASP REST Security Cheat Sheet): nosniff, a CSP
 * that lets nothing load or run (a stored HTML or SVG value served raw must not run), no framing,
 * no referrer, and HSTS over TLS only (on plain HTTP it would be ignored, or worse, pin a name that
 * has no HTTPS).
 */
export function apiHeaders(tls: boolean): HeaderList {
  const headers = [
    'Server',
    `Lucid/${VERSION}`,
    'X-Content-Type-Options',
    'nosniff',
    'Content-Security-Policy',
    "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    'X-Frame-Options',
    'DENY',
    'Referrer-Policy',
    'no-referrer',
  ];
  if (tls) headers.push('Strict-Transport-Security', HSTS);
  return headers;
}

const HSTS = 'max-age=15552000';

/** Helmet's options for pages (console, docs) and their assets: its full set, the CSP their own. */
export function helmetOptions(tls: boolean): Parameters<typeof helmet>[0] {
  return {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"], frameAncestors: ["'none'"] },
    },
    strictTransportSecurity: tls ? { maxAge: 180 * 24 * 3600, includeSubDomains: false } : false,
    xFrameOptions: { action: 'deny' },
  };
}

/**
 * The headers of the pages Lucid serves through operations (/, /ui, /docs): everything helmet sets,
 * asked of helmet once at start-up; the page's own CSP, in its reply, replaces the default one.
 */
export function pageHeaders(tls: boolean): HeaderList {
  const recorded = new Map<string, string>();
  const recorder = {
    setHeader: (name: string, value: string) => recorded.set(name, String(value)),
    removeHeader: (name: string) => recorded.delete(name),
  };
  helmet(helmetOptions(tls))({} as never, recorder as never, () => undefined);
  recorded.set('Server', `Lucid/${VERSION}`);
  return [...recorded].flat();
}

/**
 * Writes `reply` with `base` and its own headers. A Buffer body is sent as it is; any other body
 * as JSON. `close` marks the answer `Connection: close` (the body has not all arrived).
 */
export function send(
  req: IncomingMessage,
  res: ServerResponse,
  reply: AnyReply,
  base: HeaderList,
  close: boolean,
): void {
  const headers = base.slice();
  let omitted: Set<string> | undefined;
  if (reply.headers !== undefined) {
    for (const name in reply.headers) {
      const value = reply.headers[name];
      if (value === undefined) continue;
      // A reply's own header replaces a base one of the same name (a page's CSP).
      if (BASE_OVERRIDABLE.has(name)) (omitted ??= new Set()).add(name);
      headers.push(name, typeof value === 'string' ? value : String(value));
    }
  }
  const list = omitted === undefined ? headers : dropBase(headers, base.length, omitted);
  if (close) list.push('Connection', 'close');
  let body: Buffer | string | undefined;
  if (Buffer.isBuffer(reply.body)) {
    body = reply.body;
    if (reply.headers?.['Content-Length'] === undefined) list.push('Content-Length', String(body.length));
  } else if (reply.body !== undefined) {
    body = JSON.stringify(reply.body);
    list.push('Content-Type', 'application/json; charset=utf-8', 'Content-Length', String(Buffer.byteLength(body)));
  } else if ((reply.status as number) !== 304 && reply.headers?.['Content-Length'] === undefined) {
    list.push('Content-Length', '0');
  }
  res.writeHead(reply.status, list);
  // HEAD: Node sends the headers only.
  const sent = req.method === 'HEAD' ? undefined : body;
  if (sent !== undefined && sent.length > COALESCED_BYTES) res.end(sent);
  else endThisTurn(res, sent);
}

/** Larger answers go out at once: their transfer, not waking the client, is what they cost. */
const COALESCED_BYTES = 16 * 1024;

/**
 * Answers whose headers are written, waiting for the end of this turn of the event loop to be sent.
 *
 * Each answer used to go to its socket as soon as it was ready, one system call at a time between
 * the parsing of the next requests, and every one of those writes woke the client up again. The
 * answers of one turn are now written together on its check phase (setImmediate), one after
 * another, after every request read in that turn has been handled. Measured here with `make bench`'s
 * `--compare`, both builds in one run: GET 1 KiB 32 200 -> 37 300 req/s, mixed 90/10 28 300 ->
 * 31 600 (p99 9.1 -> 4.0 ms), PUT 14 300 -> 14 900; the CPU time per request did not change, the
 * client was woken less often. An answer waits at most for the rest of its turn.
 */
const unsent: Array<{ res: ServerResponse; body: Buffer | string | undefined }> = [];

function endThisTurn(res: ServerResponse, body: Buffer | string | undefined): void {
  unsent.push({ res, body });
  if (unsent.length === 1) setImmediate(endUnsent);
}

function endUnsent(): void {
  for (const { res, body } of unsent.splice(0)) {
    try {
      res.end(body);
    } catch {
      // The headers were accepted already, so this is the socket failing: nothing more can be said on it.
      res.destroy();
    }
  }
}

/** Base headers a reply may replace. */
const BASE_OVERRIDABLE = new Set(['Content-Security-Policy', 'X-Content-Type-Options', 'Referrer-Policy']);

function dropBase(headers: HeaderList, baseLength: number, names: Set<string>): HeaderList {
  const kept: HeaderList = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (i < baseLength && names.has(headers[i]!)) continue;
    kept.push(headers[i]!, headers[i + 1]!);
  }
  return kept;
}
