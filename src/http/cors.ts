/** CORS for the exact origins the config lists (`cors.origins`); off when the list is empty. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import cors from 'cors';

/** Methods and headers the API takes, and the headers a browser app on an allowed origin may read. */
const CORS_METHODS = ['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE', 'POST'];
const CORS_REQUEST_HEADERS = [
  'Authorization',
  'Content-Type',
  'If-Match',
  'If-None-Match',
  'Last-Event-ID',
  'X-Request-Id',
];
const CORS_EXPOSED_HEADERS = [
  'ETag',
  'Last-Modified',
  'Lucid-Expires-At',
  'Lucid-Lock-Holder',
  'Lucid-Lock-Expires-At',
  'WWW-Authenticate',
  'X-Request-Id',
];

export type CorsStage = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

/**
 * The CORS stage for `origins`, or undefined when there are none. Another origin (or none) gets no
 * CORS headers at all, and its preflight goes on to the router, which refuses OPTIONS (405): the
 * browser blocks the call.
 */
export function corsStage(origins: readonly string[]): CorsStage | undefined {
  if (origins.length === 0) return undefined;
  const allowed = new Set(origins);
  const middleware = cors({
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
    methods: CORS_METHODS,
    allowedHeaders: CORS_REQUEST_HEADERS,
    exposedHeaders: CORS_EXPOSED_HEADERS,
    maxAge: 600,
  });
  return (req, res, next) => {
    // Answers differ by Origin, so caches must key on it, refused origins included.
    res.setHeader('Vary', 'Origin');
    middleware(req as never, res as never, next);
  };
}
