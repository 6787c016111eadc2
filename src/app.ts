/**
 * The composition root: builds Lucid's request listener from the dependencies it is given. Every
 * operation in spec/lucid.yaml is served by the request path compiled from the spec (http/pipeline.ts);
 * express serves what is not an operation: the console's and the API reference's static files.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import { OpenAPIBackend, type Document } from 'openapi-backend';
import type { Logger } from 'pino';
import addFormats from 'ajv-formats';
import { TokenAuthority } from './auth.js';
import type { Config } from './config.js';
import { ASSET_MAX_AGE_SECONDS, CONSOLE_ASSETS_DIR, consoleAssets } from './console.js';
import { LucidError } from './errors.js';
import type { AnyReply, OpenApiDocument, OperationId } from './handlers/types.js';
import { createPipeline } from './http/pipeline.js';
import { apiHeaders, helmetOptions, pageHeaders } from './http/reply.js';
import { Metrics, STATIC_ASSETS } from './metrics.js';
import { NotificationFeed } from './notifications.js';
import { RevocationList } from './revocations.js';
import type { Clock, Store } from './store/types.js';
import { loadSpec } from './spec.js';
import { VERSION } from './version.js';

export interface AppDeps {
  config: Config;
  store: Store;
  logger: Logger;
  clock?: Clock;
  /** Test-only: check every response against the spec and answer 500 when one breaks it. */
  validateResponses?: boolean;
}

export interface App {
  /** Serves every request: operations through the compiled request path, static files through express. */
  listener: (req: IncomingMessage, res: ServerResponse) => void;
  /** The spec the app serves, parsed. */
  spec: Document;
  /** The app's metrics (GET /metrics, and the metrics listener). */
  metrics: Metrics;
  /** Ends notification streams and stops background work; the store is the caller's to close. */
  close(): void;
}

const SWAGGER_UI_DIR = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const DOCS_INIT =
  "window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', " +
  'deepLinking: true, persistAuthorization: false });\n';
/** The files of swagger-ui-dist the /docs page loads, and nothing else of the package. */
const DOCS_ASSETS = new Set(['swagger-ui.css', 'swagger-ui-bundle.js']);

/** Builds the app; fails at once when the spec and the handlers disagree. */
export async function createApp(deps: AppDeps): Promise<App> {
  const { config, store, logger } = deps;
  const clock = deps.clock ?? Date.now;
  const authority = config.auth.enabled ? TokenAuthority.fromConfig(config.auth, clock) : undefined;
  const revocations =
    authority &&
    new RevocationList(
      config.auth.revocationFile,
      (error) => logger.warn({ err: error }, 'cannot read the revocations'),
      store.revocations,
    );
  const feed = new NotificationFeed(store, config.notifications);
  const streams = new Set<ServerResponse>();
  const metrics = new Metrics({ store, notificationClients: () => streams.size });
  const { bytes: specBytes, document: parsed } = loadSpec();
  const spec = parsed as Document;
  const api = await compiledBackend(spec);
  const tls = config.server.tls !== null;
  const operations = createPipeline({
    api,
    config,
    store,
    feed,
    metrics,
    logger,
    clock,
    contract: { yaml: specBytes, json: parsed as OpenApiDocument },
    authority,
    revocations,
    streams,
    headers: { api: apiHeaders(tls), page: pageHeaders(tls) },
    checkReply: deps.validateResponses ? (reply, operationId) => assertMatchesSpec(api, reply, operationId) : undefined,
  });
  const assets = staticFiles(config, metrics, logger);
  return {
    listener: (req, res) => (isStaticAsset(req.url ?? '/') ? assets(req, res) : operations(req, res)),
    spec,
    metrics,
    close: () => {
      revocations?.close();
      feed.close();
      for (const stream of streams) stream.end();
    },
  };
}

/**
 * openapi-backend over the spec, initialised once: its operations become the route table and its
 * request validators (ajv, compiled from the spec now, so a bad schema stops start-up) are called
 * directly by the request path.
 */
async function compiledBackend(spec: Document): Promise<OpenAPIBackend> {
  const api = new OpenAPIBackend({
    definition: structuredClone(spec),
    strict: true,
    // quick: skip re-validating the shipped spec against the OpenAPI 3.0 schema on every start (it
    // is checked by `make lint-spec` and a test); the validators are compiled right below.
    quick: true,
    validate: true,
    coerceTypes: true,
    // openapi-backend makes an Ajv per operation, and each compiled the JSON Schema meta-schema to check the
    // schemas it was given against it: a third of start-up, for a spec `make lint-spec` and a test already check.
    ajvOpts: { validateSchema: false },
    customizeAjv: (ajv) => {
      addFormats.default(ajv, ['date-time']);
      return ajv;
    },
  });
  await api.init();
  api.validator.preCompileRequestValidators();
  return api;
}

function isStaticAsset(url: string): boolean {
  return url.startsWith('/docs/assets/') || url.startsWith('/ui/assets/');
}

/**
 * The static files, served by express with helmet's full header set: the API reference's assets
 * (only the files its page loads, from the swagger-ui-dist package: no CDN, works offline) and the
 * web console's (only the hashed files its current page names, cached for good).
 */
/** Each asset request gets an id, the Server header, a metric and (with `log.access`) an access line. */
function assetRequests(config: Config, metrics: Metrics, logger: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = performance.now();
    const id = randomUUID();
    res.setHeader('X-Request-Id', id);
    res.setHeader('Server', `Lucid/${VERSION}`);
    res.on('finish', () => {
      const seconds = (performance.now() - started) / 1000;
      metrics.observe(STATIC_ASSETS, res.statusCode, seconds, false);
      if (config.log.access) {
        const line = { req: { id, method: req.method, url: req.originalUrl }, res: { statusCode: res.statusCode } };
        logger.info({ ...line, responseTime: Math.round(seconds * 1000) }, 'request completed');
      }
    });
    next();
  };
}

function staticFiles(config: Config, metrics: Metrics, logger: Logger): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(assetRequests(config, metrics, logger));
  app.use(helmet(helmetOptions(config.server.tls !== null)));
  const fail = (res: Response, error: LucidError) => {
    res.status(error.status).setHeader('Content-Type', 'application/json; charset=utf-8');
    res.end(JSON.stringify({ message: error.message }));
  };
  app.get('/docs/assets/lucid-docs.js', (_req, res) => {
    res.setHeader('Content-Type', 'text/javascript; charset=utf-8');
    res.setHeader('Cache-Control', 'public, max-age=3600');
    res.end(DOCS_INIT);
  });
  const onlyListed = (listed: () => ReadonlySet<string>) => (req: Request, res: Response, next: NextFunction) => {
    if (listed().has(req.path.slice(1))) next();
    else fail(res, new LucidError('ROUTE_NOT_FOUND'));
  };
  app.use(
    '/docs/assets',
    onlyListed(() => DOCS_ASSETS),
    express.static(SWAGGER_UI_DIR, { index: false, maxAge: '1h', fallthrough: true }),
  );
  if (config.ui.enabled) {
    app.use(
      '/ui/assets',
      onlyListed(consoleAssets),
      express.static(CONSOLE_ASSETS_DIR, {
        index: false,
        fallthrough: true,
        immutable: true,
        maxAge: ASSET_MAX_AGE_SECONDS * 1000,
      }),
    );
  }
  app.use((_req: Request, res: Response) => fail(res, new LucidError('ROUTE_NOT_FOUND')));
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    logger.error({ err: error }, 'cannot serve a static file');
    if (res.headersSent) res.destroy();
    else fail(res, new LucidError('INTERNAL'));
  });
  return app;
}

function assertMatchesSpec(api: OpenAPIBackend, reply: AnyReply, operationId: string): void {
  const problems: string[] = [];
  if (!Buffer.isBuffer(reply.body)) {
    const result = api.validateResponse(reply.body, operationId as OperationId, reply.status);
    for (const error of result.errors ?? []) problems.push(`body${error.instancePath} ${error.message}`);
  }
  const headers = Object.fromEntries(Object.entries(reply.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]));
  // 'any': documented headers are optional (OpenAPI's default); 'superset' would demand every one, Lucid-Expires-At
  // included.
  const headerResult = api.validateResponseHeaders(headers, operationId, {
    statusCode: reply.status,
    setMatchType: 'any' as never,
  });
  for (const error of headerResult.errors ?? []) problems.push(`headers${error.instancePath} ${error.message}`);
  if (problems.length > 0) {
    throw new Error(`Response ${reply.status} of ${operationId} breaks the spec: ${problems.join('; ')}`);
  }
}
