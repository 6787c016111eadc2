/**
 * The composition root: builds the express app, with openapi-backend routing, authenticating and
 * validating every request from spec/lucid.yaml, from the dependencies it is given.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import cors from 'cors';
import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import { OpenAPIBackend, type Context, type Document } from 'openapi-backend';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import YAML from 'yaml';
import addFormats from 'ajv-formats';
import { TokenAuthority, allows, bearerToken, type Principal } from './auth.js';
import { allowBody, bodyPending } from './body.js';
import type { Config } from './config.js';
import { ASSET_MAX_AGE_SECONDS, CONSOLE_ASSETS_DIR } from './console.js';
import { LucidError, StoreUnavailableError } from './errors.js';
import { handlers, requiredScope } from './handlers/index.js';
import { Metrics, NO_OPERATION, STATIC_ASSETS } from './metrics.js';
import type { HandlerContext, OperationId, Reply } from './handlers/types.js';
import { NotificationFeed } from './notifications.js';
import { RevocationList } from './revocations.js';
import type { Clock, Store } from './store/types.js';
import { SPEC_PATH, VERSION } from './version.js';

export interface AppDeps {
  config: Config;
  store: Store;
  logger: Logger;
  clock?: Clock;
  /** Test-only: check every response against the spec and answer 500 when one breaks it. */
  validateResponses?: boolean;
}

export interface App {
  app: express.Express;
  /** The spec the app serves, parsed. */
  spec: Document;
  /** The app's metrics (GET /metrics, and the metrics listener). */
  metrics: Metrics;
  /** Ends notification streams and stops background work; the store is the caller's to close. */
  close(): void;
}

/** With auth off, every request acts as this principal. */
const ANONYMOUS: Principal = { subject: 'anonymous', expiresAt: Number.POSITIVE_INFINITY, scope: 'admin', prefix: '' };

const PATCH_BODY_LIMIT = '64kb';
/** Only PATCH takes a JSON body, parsed once the request is authorised (postSecurityHandler); PUT bodies are raw and read by putKey. */
const patchJson = express.json({ limit: PATCH_BODY_LIMIT, type: ['application/json', 'application/*+json'] });

/** The request as openapi-backend sees it; its body is filled in only after authentication. */
interface ApiRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body?: unknown;
}
const METHODS = ['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE', 'POST', 'OPTIONS'] as const;

const SWAGGER_UI_DIR = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const DOCS_INIT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true, persistAuthorization: false });\n`;

/** Builds the app; fails at once when the spec and the handlers disagree. */
export async function createApp(deps: AppDeps): Promise<App> {
  const { config, store, logger } = deps;
  const clock = deps.clock ?? Date.now;
  const authority = config.auth.enabled ? TokenAuthority.fromConfig(config.auth, clock) : undefined;
  const revocations =
    authority && new RevocationList(config.auth.revocationFile, (error) => logger.warn({ err: error }, 'cannot read the revocations'), store.revocations);
  const feed = new NotificationFeed(store, config.notifications);
  const streams = new Set<Response>();
  const metrics = new Metrics({ store, notificationClients: () => streams.size });
  const specBytes = readFileSync(SPEC_PATH);
  const spec = YAML.parse(specBytes.toString('utf8')) as Document;
  const contract = { yaml: specBytes, json: spec };
  const api = new OpenAPIBackend({
    definition: structuredClone(spec),
    strict: true,
    // quick: skip re-validating the shipped spec against the OpenAPI 3.0 schema on every start (it
    // is checked by `make lint-spec` and a test) and compile validators lazily; the request
    // validators are then compiled right below, so start-up still fails on a bad schema. Start-up
    // went from ~610 ms to ~200 ms in createApp.
    quick: true,
    validate: true,
    coerceTypes: true,
    customizeAjv: (ajv) => {
      addFormats.default(ajv, ['date-time']);
      return ajv;
    },
  });

  const respond = (res: Response, reply: Reply, operationId?: string): void => {
    if (reply.streamed) return;
    if (deps.validateResponses && operationId !== undefined) assertMatchesSpec(api, reply, operationId);
    res.statusCode = reply.status;
    // Answered before its body was read (401, 403, 413, ...): close rather than drain what the client still sends.
    if (bodyPending(res.req)) res.setHeader('Connection', 'close');
    for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
    if (Buffer.isBuffer(reply.body)) {
      res.end(reply.body);
    } else if (reply.body !== undefined) {
      const json = JSON.stringify(reply.body);
      res.setHeader('Content-Type', 'application/json; charset=utf-8');
      res.setHeader('Content-Length', Buffer.byteLength(json));
      res.end(json);
    } else {
      res.end();
    }
  };

  const fail = (res: Response, error: LucidError, operationId?: string, headers?: Record<string, string>): void =>
    respond(res, { status: error.status as never, body: { message: error.message }, headers: { ...error.headers, ...headers } }, operationId);

  for (const [operationId, handler] of Object.entries(handlers)) {
    api.register(operationId, async (c: Context, req: Request, res: Response) => {
      res.locals.operationId = operationId;
      const principal = (c.security.bearerAuth as Principal | undefined) ?? ANONYMOUS;
      const params = c.request.params as Record<string, string>;
      const context: HandlerContext = {
        request: req,
        response: res,
        params,
        query: c.request.query as Record<string, unknown>,
        body: c.request.requestBody,
        principal,
        store,
        feed,
        metrics,
        config,
        contract,
        now: clock(),
      };
      const reply = await (handler as (context: HandlerContext) => Promise<Reply>)(context);
      if (reply.streamed) {
        streams.add(res);
        res.on('close', () => streams.delete(res));
      }
      respond(res, reply, operationId);
    });
  }

  api.registerSecurityHandler('bearerAuth', (c: Context, req: Request): Principal | false => {
    if (authority === undefined) return ANONYMOUS;
    let token = bearerToken(req.headers.authorization);
    // Browsers' EventSource cannot send headers: the stream also takes ?token= (never logged).
    if (token === undefined && c.operation.operationId === 'streamNotifications') token = (c.request.query as Record<string, string>).token;
    const principal = token !== undefined && authority.verify(token);
    return principal && !revocations?.has(principal.tokenId) ? principal : false;
  });

  api.register({
    // Between authentication and validation: a token whose scope or prefix does not allow the call
    // is refused here, and only then is a PATCH body read (a PUT body is read by putKey), so the
    // body of a request that will be refused is never read into memory.
    postSecurityHandler: async (c: Context, req: Request, res: Response, request: ApiRequest) => {
      if (!c.security.authorized) return;
      res.locals.operationId = c.operation.operationId;
      const principal = (c.security.bearerAuth as Principal | undefined) ?? ANONYMOUS;
      const needed = requiredScope[c.operation.operationId as OperationId];
      if (needed !== null && needed !== undefined && !allows(principal, needed)) {
        throw new LucidError('FORBIDDEN_SCOPE', `This token's scope (${principal.scope}) does not allow this: it needs ${needed}.`);
      }
      const key = (c.request.params as Record<string, string | undefined>).key;
      if (key !== undefined && !key.startsWith(principal.prefix)) throw new LucidError('FORBIDDEN_PREFIX');
      if (req.method === 'PATCH') {
        allowBody(req, res);
        await new Promise<void>((resolve, reject) => patchJson(req, res, (error?: unknown) => (error ? reject(error) : resolve())));
        request.body = c.request.requestBody = req.body as unknown;
      }
    },
    unauthorizedHandler: (c: Context, req: Request, res: Response) => {
      res.locals.operationId = c.operation.operationId;
      const challenge = req.headers.authorization === undefined ? 'Bearer realm="lucid"' : 'Bearer realm="lucid", error="invalid_token"';
      fail(res, new LucidError('UNAUTHORIZED'), c.operation.operationId, { 'WWW-Authenticate': challenge });
    },
    validationFail: (c: Context, _req: Request, res: Response) => {
      res.locals.operationId = c.operation.operationId;
      fail(res, new LucidError('INVALID_REQUEST', describeValidation(c)), c.operation.operationId);
    },
    notFound: (_c: Context, _req: Request, res: Response) => fail(res, new LucidError('ROUTE_NOT_FOUND')),
    methodNotAllowed: (c: Context, _req: Request, res: Response) => {
      const allowed = METHODS.filter((method) => api.router.matchOperation({ ...c.request, method }) !== undefined);
      fail(res, new LucidError('METHOD_NOT_ALLOWED'), undefined, { Allow: allowed.join(', ') });
    },
    notImplemented: (c: Context, _req: Request, res: Response) => {
      logger.error({ operationId: c.operation.operationId }, 'operation has no handler');
      fail(res, new LucidError('INTERNAL'));
    },
  });

  await api.init();
  api.validator.preCompileRequestValidators();
  // openapi-backend rebuilds its operation list (a lodash chain over the whole spec) several times
  // per request; the definition never changes after init, so the list is built once. Profiled: 13%
  // of a GET's CPU time went there.
  const operations = api.router.getOperations();
  api.router.getOperations = () => operations;
  precompileRoutes(api);
  const missing = api.router.getOperations().filter((operation) => !(operation.operationId! in handlers));
  if (missing.length > 0) throw new Error(`Operations without a handler: ${missing.map((o) => o.operationId).join(', ')}`);

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // First, so that every answer, static files and refusals included, has an id, a log line and a count.
  app.use(requestLogger(logger));
  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('close', () => {
      const operation = (res.locals.operationId as string | undefined) ?? (isStaticAsset(req.path) ? STATIC_ASSETS : NO_OPERATION);
      metrics.observe(operation, res.statusCode, Number(process.hrtime.bigint() - started) / 1e9, streams.has(res));
    });
    next();
  });
  app.use(securityHeaders(config.server.tls !== null));
  if (config.cors.origins.length > 0) app.use(corsFor(config.cors.origins));
  app.use((_req, res, next) => {
    res.setHeader('Server', `Lucid/${VERSION}`);
    next();
  });
  // The API reference's assets, from the swagger-ui-dist package: no CDN, works offline.
  app.get('/docs/assets/lucid-docs.js', (_req, res) => {
    res.setHeader('Content-Type', 'text/javascript; charset=utf-8');
    res.setHeader('Cache-Control', 'public, max-age=3600');
    res.end(DOCS_INIT);
  });
  app.use('/docs/assets', express.static(SWAGGER_UI_DIR, { index: false, maxAge: '1h', fallthrough: true }));
  // The web console's assets (web/build.mjs): hashed names, so cached for good; a missing one falls through to a 404.
  if (config.ui.enabled) {
    app.use(
      '/ui/assets',
      express.static(CONSOLE_ASSETS_DIR, {
        index: false,
        fallthrough: true,
        immutable: true,
        maxAge: ASSET_MAX_AGE_SECONDS * 1000,
        setHeaders: (res) => res.setHeader('X-Content-Type-Options', 'nosniff'),
      }),
    );
  }
  app.use(async (req: Request, res: Response) => {
    const request: ApiRequest = { method: req.method, path: keyPath(req.path), query: req.query as Record<string, string>, headers: req.headers as Record<string, string> };
    await api.handleRequest(request, req, res, request);
  });
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const known = toLucidError(error);
    const log = req.log ?? logger;
    if (known.code === 'INTERNAL') log.error({ err: error }, 'unexpected error');
    else if (error instanceof StoreUnavailableError) {
      metrics.storeError();
      log.warn({ err: error.cause }, 'store unavailable');
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    fail(res, known);
  });
  return {
    app,
    spec,
    metrics,
    close: () => {
      revocations?.close();
      feed.close();
      for (const stream of streams) stream.end();
    },
  };
}

/** An incoming X-Request-Id Lucid adopts as its own: short, and only characters safe in a header and a log. */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:+=/-]{1,128}$/;

/** The request's id: the client's X-Request-Id when it is sane, a new UUID otherwise; echoed on the response. */
export function requestId(req: IncomingMessage, res: ServerResponse): string {
  const incoming = req.headers['x-request-id'];
  const id = typeof incoming === 'string' && CLIENT_REQUEST_ID.test(incoming) ? incoming : randomUUID();
  res.setHeader('X-Request-Id', id);
  return id;
}

/** Query parameters whose values never reach a log line (the notification stream takes its token as ?token=). */
const SECRET_QUERY_PARAMETERS = ['token'];

/** A request's URL for the logs: secret query values replaced by [Redacted]. */
export function loggableUrl(url: string): string {
  const query = url.indexOf('?');
  if (query === -1) return url;
  // Parsed as the router parses it, so a percent-encoded name (%74oken) is caught too.
  const params = [...new URLSearchParams(url.slice(query + 1))].map(([name, value]) =>
    SECRET_QUERY_PARAMETERS.includes(name) ? `${encodeURIComponent(name)}=[Redacted]` : `${encodeURIComponent(name)}=${encodeURIComponent(value)}`,
  );
  return `${url.slice(0, query)}?${params.join('&')}`;
}

/**
 * One JSON line per request (pino-http), carrying the request id. Only what helps an operator is
 * logged: never the Authorization or Cookie headers, nor a token in the query.
 */
function requestLogger(logger: Logger) {
  return pinoHttp({
    logger,
    genReqId: requestId,
    customLogLevel: (_req, res, error) => (error !== undefined || res.statusCode >= 500 ? 'error' : 'info'),
    serializers: {
      req: (req: { id: unknown; method: string; url: string; headers: Record<string, unknown>; remoteAddress?: string }) => ({
        id: req.id,
        method: req.method,
        url: loggableUrl(req.url),
        userAgent: req.headers['user-agent'],
        remoteAddress: req.remoteAddress,
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    // The serializers above already leave these out; redaction keeps them out of any other object that carries them.
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]', 'headers.authorization', 'headers.cookie'], censor: '[Redacted]' },
  });
}

function isStaticAsset(path: string): boolean {
  return path.startsWith('/docs/assets/') || path.startsWith('/ui/assets/');
}

/**
 * Helmet's security headers on every answer. Its CSP default is replaced by the strictest one
 * (`default-src 'none'`): API answers are data, and a stored HTML or SVG value served raw must not
 * run; the pages Lucid serves (/, /ui, /docs) set their own. HSTS only over TLS: on plain HTTP it
 * would be ignored, or worse, pin a name that has no HTTPS.
 */
function securityHeaders(tls: boolean) {
  return helmet({
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"], frameAncestors: ["'none'"] } },
    strictTransportSecurity: tls ? { maxAge: 180 * 24 * 3600, includeSubDomains: false } : false,
    xFrameOptions: { action: 'deny' },
  });
}

/** Methods and headers the API takes, and the headers a browser app on an allowed origin may read. */
const CORS_METHODS = ['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE'];
const CORS_REQUEST_HEADERS = ['Authorization', 'Content-Type', 'If-Match', 'If-None-Match', 'Last-Event-ID', 'X-Request-Id'];
const CORS_EXPOSED_HEADERS = ['ETag', 'Last-Modified', 'Lucid-Expires-At', 'Lucid-Lock-Holder', 'Lucid-Lock-Expires-At', 'WWW-Authenticate', 'X-Request-Id'];

/**
 * CORS for the exact origins listed. Another origin (or none) gets no CORS headers at all, and its
 * preflight falls through to the router, which refuses OPTIONS (405): the browser blocks the call.
 */
function corsFor(origins: readonly string[]) {
  const allowed = new Set(origins);
  const middleware = cors({
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
    methods: CORS_METHODS,
    allowedHeaders: CORS_REQUEST_HEADERS,
    exposedHeaders: CORS_EXPOSED_HEADERS,
    maxAge: 600,
  });
  return (req: Request, res: Response, next: NextFunction) => {
    // Answers differ by Origin, so caches must key on it, refused origins included.
    res.vary('Origin');
    middleware(req, res, next);
  };
}

/**
 * Keys may hold slashes: `/api/kv/config/ui` means the key `config/ui`, the same as
 * `/api/kv/config%2Fui`. The router matches one path segment per parameter, so the rest of the
 * path is folded into one segment here.
 */
function keyPath(path: string): string {
  return path.startsWith('/api/kv/') ? `/api/kv/${path.slice('/api/kv/'.length).replaceAll('/', '%2F')}` : path;
}

/**
 * Replaces openapi-backend's matchOperation, which turns every path template into a new RegExp on
 * every request, with one that compiles each template once. Same rules: an exact path wins, then
 * the most specific template; no path is a 404, no method on a matching path a 405.
 */
function precompileRoutes(api: OpenAPIBackend): void {
  const router = api.router;
  const routes = router
    .getOperations()
    .map((operation) => ({
      operation,
      literal: !operation.path.includes('{'),
      pattern: new RegExp(`^${operation.path.split(/\{[^}]+\}/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^/]+')}$`),
      specificity: operation.path.replace(/\{.*?\}/g, '').length,
    }))
    .sort((a, b) => b.specificity - a.specificity);
  router.matchOperation = ((request: { method: string; path: string }, strict?: boolean) => {
    const { method, path: requestPath } = router.normalizeRequest(request as never);
    const path = router.normalizePath(requestPath);
    const exact = routes.find((route) => route.literal && route.operation.path === path && route.operation.method === method);
    if (exact) return exact.operation;
    const matching = routes.filter((route) => route.pattern.test(path));
    if (matching.length === 0) {
      if (strict) throw new Error('404-notFound: no route matches request');
      return undefined;
    }
    const match = matching.find((route) => route.operation.method === method);
    if (!match) {
      if (strict) throw new Error('405-methodNotAllowed: this method is not registered for the route');
      return undefined;
    }
    return match.operation;
  }) as typeof router.matchOperation;
}

/** Maps anything thrown while serving a request to the error a client sees. */
function toLucidError(error: unknown): LucidError {
  if (error instanceof LucidError) return error;
  const type = (error as { type?: string } | undefined)?.type;
  if (type === 'entity.parse.failed') return new LucidError('MALFORMED_JSON');
  if (type === 'entity.too.large') return new LucidError('VALUE_TOO_LARGE', `The operation body is larger than ${PATCH_BODY_LIMIT}.`);
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') return new LucidError('INVALID_REQUEST', 'The body encoding is not supported.');
  if (error instanceof URIError) return new LucidError('INVALID_REQUEST', 'The path is not valid percent-encoding.');
  // Any other failure reading a body (a gzip body that does not inflate, a body shorter than its
  // Content-Length, a client that went away) is the request's fault: body-parser marks such errors
  // with a 4xx status and `expose`. Found by the fuzzer (test/http/fuzz.test.ts); they were 500s.
  const { status, expose } = (error ?? {}) as { status?: unknown; expose?: unknown };
  if (expose === true && typeof status === 'number' && status >= 400 && status < 500) {
    return new LucidError('INVALID_REQUEST', 'The request body could not be read: check its Content-Encoding and Content-Length.');
  }
  return new LucidError('INTERNAL');
}

/** Turns openapi-backend's (ajv's) validation errors into one readable sentence. */
function describeValidation(c: Context): string {
  const parts = (c.validation.errors ?? []).map((error) => {
    const where = error.instancePath
      .replace(/^\/(requestBody|path|query|headers)/, '$1')
      .replace(/^path\//, '')
      .replace(/^requestBody\/?/, 'body ')
      .replaceAll('/', '.')
      .trim();
    const allowed = error.keyword === 'enum' ? `: ${(error.params.allowedValues as string[]).join(', ')}` : '';
    const extra = error.keyword === 'additionalProperties' ? ` (${String(error.params.additionalProperty)})` : '';
    return `${where || 'request'} ${error.message ?? 'is invalid'}${allowed}${extra}`;
  });
  return `Invalid request: ${[...new Set(parts)].join('; ') || 'it does not match the API'}.`;
}

function assertMatchesSpec(api: OpenAPIBackend, reply: Reply, operationId: string): void {
  const problems: string[] = [];
  if (!Buffer.isBuffer(reply.body)) {
    const result = api.validateResponse(reply.body, operationId as OperationId, reply.status);
    for (const error of result.errors ?? []) problems.push(`body${error.instancePath} ${error.message}`);
  }
  const headers = Object.fromEntries(Object.entries(reply.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]));
  // 'any': documented headers are optional (OpenAPI's default); 'superset' would demand every one, Lucid-Expires-At included.
  const headerResult = api.validateResponseHeaders(headers, operationId, { statusCode: reply.status, setMatchType: 'any' as never });
  for (const error of headerResult.errors ?? []) problems.push(`headers${error.instancePath} ${error.message}`);
  if (problems.length > 0) {
    throw new Error(`Response ${reply.status} of ${operationId} breaks the spec: ${problems.join('; ')}`);
  }
}
