/**
 * The composition root: builds the express app, with openapi-backend routing, authenticating and
 * validating every request from spec/lucid.yaml, from the dependencies it is given.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import { OpenAPIBackend, type Context, type Document } from 'openapi-backend';
import type { Logger } from 'pino';
import YAML from 'yaml';
import addFormats from 'ajv-formats';
import { TokenAuthority, allows, bearerToken, type Principal } from './auth.js';
import { allowBody, bodyPending } from './body.js';
import type { Config } from './config.js';
import { ASSET_MAX_AGE_SECONDS, CONSOLE_ASSETS_DIR } from './console.js';
import { LucidError, StoreUnavailableError } from './errors.js';
import { handlers, requiredScope } from './handlers/index.js';
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
      const challenge = req.headers.authorization === undefined ? 'Bearer realm="lucid"' : 'Bearer realm="lucid", error="invalid_token"';
      fail(res, new LucidError('UNAUTHORIZED'), c.operation.operationId, { 'WWW-Authenticate': challenge });
    },
    validationFail: (c: Context, _req: Request, res: Response) => {
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
    if (known.code === 'INTERNAL') logger.error({ err: error, method: req.method, path: req.path }, 'unexpected error');
    else if (error instanceof StoreUnavailableError) logger.warn({ err: error.cause }, 'store unavailable');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    fail(res, known);
  });
  return {
    app,
    spec,
    close: () => {
      revocations?.close();
      feed.close();
      for (const stream of streams) stream.end();
    },
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
