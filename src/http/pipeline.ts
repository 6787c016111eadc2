/**
 * The request path of every operation in spec/lucid.yaml, compiled from the spec once at start-up
 * and run as a list of small stages: route, authenticate, authorise, read body, validate, handle,
 * reply. openapi-backend supplies the operations and its compiled request validators (ajv, built
 * from the spec); nothing about a request is re-derived from the spec per request.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import querystring from 'node:querystring';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { OpenAPIBackend, Operation } from 'openapi-backend';
import type { Logger } from 'pino';
import { allows, bearerToken, type Principal, type Scope, type TokenAuthority } from '../auth.js';
import type { Config } from '../config.js';
import { LucidError, StoreUnavailableError } from '../errors.js';
import { handlers, requiredScope } from '../handlers/index.js';
import type { AnyContext, AnyReply, HandlerContext, OperationId } from '../handlers/types.js';
import { NO_OPERATION, type Metrics } from '../metrics.js';
import type { NotificationFeed } from '../notifications.js';
import type { RevocationList } from '../revocations.js';
import type { Clock, Store } from '../store/types.js';
import { bodyPending, lingerOnClose, readJson } from './body.js';
import { corsStage } from './cors.js';
import { loggableUrl } from './log.js';
import { send, type HeaderList } from './reply.js';
import { RouteTable, type Route } from './routes.js';

/** With auth off, every request acts as this principal. */
export const ANONYMOUS: Principal = {
  subject: 'anonymous',
  expiresAt: Number.POSITIVE_INFINITY,
  scope: 'admin',
  prefix: '',
};

/** The largest JSON body an operation takes, unless the spec gives it another (`x-lucid-body-limit`). */
const JSON_BODY_LIMIT = 64 * 1024;

export interface PipelineDeps {
  api: OpenAPIBackend;
  config: Config;
  store: Store;
  feed: NotificationFeed;
  metrics: Metrics;
  logger: Logger;
  clock: Clock;
  contract: HandlerContext['contract'];
  /** Undefined when auth is off. */
  authority: TokenAuthority | undefined;
  revocations: RevocationList | undefined;
  /** Open notification streams (ended on close). */
  streams: Set<ServerResponse>;
  headers: { api: HeaderList; page: HeaderList };
  /** Test-only: check every reply against the spec, and answer 500 when one breaks it. */
  checkReply?: ((reply: AnyReply, operationId: string) => void) | undefined;
}

/** Everything known about one operation before any request arrives. */
interface CompiledOperation extends Route {
  secured: boolean;
  /** The query parameter that may carry the token (EventSource cannot send headers), if the operation declares one. */
  tokenParameter: string | undefined;
  scope: Scope | null;
  /** It answers a stream it writes itself: the headers are set on the response before its handler runs. */
  streams: boolean;
  /** For operations with a JSON body: what to tell a client whose body is missing or not JSON. */
  json: { hint: string; lowerCase: readonly string[]; limit: number } | undefined;
  validateBody: ValidateFunction | undefined;
  validateParameters: ValidateFunction;
  handler: (context: AnyContext) => Promise<AnyReply>;
  headers: HeaderList;
}

/** A request in flight: what the stages have learnt so far. */
interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  id: string;
  started: number;
  operation?: CompiledOperation | undefined;
}

/** Compiles the spec's operations into the request listener that serves them. */
export function createPipeline(deps: PipelineDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const pipeline = new Pipeline(deps);
  const cors = corsStage(deps.config.cors.origins);
  return (req, res) => {
    const exchange: Exchange = { req, res, id: requestId(req), started: performance.now() };
    if (cors === undefined) pipeline.run(exchange);
    else cors(req, res, () => pipeline.run(exchange));
  };
}

/** The stages, run in order for each request; each is a small function below the class. */
class Pipeline {
  readonly #operations: Map<string, CompiledOperation>;
  readonly #routes: RouteTable;

  constructor(private readonly deps: PipelineDeps) {
    this.#operations = compile(deps);
    this.#routes = new RouteTable(deps.api.router.getOperations());
  }

  run(exchange: Exchange): void {
    this.serve(exchange).catch((error: unknown) => {
      try {
        this.fail(exchange, error);
      } catch (failure) {
        this.deps.logger.error({ err: failure }, 'cannot answer a request');
        exchange.res.destroy();
      }
    });
  }

  async serve(exchange: Exchange): Promise<void> {
    const { req, res } = exchange;
    const { deps } = this;
    const url = req.url ?? '/';
    const queryStart = url.indexOf('?');
    const match = this.#routes.match(req.method ?? 'GET', queryStart === -1 ? url : url.slice(0, queryStart));
    const operation = this.#operations.get(match.route.operationId)!;
    exchange.operation = operation;
    const query = queryStart === -1 ? {} : (querystring.parse(url.slice(queryStart + 1)) as Record<string, unknown>);
    const principal = authenticate(operation, req, query, deps);
    authorise(operation, principal, match.params);
    const body = operation.json && (await readJsonBody(operation, req, res));
    validate(operation, match.params, query, req, body);
    if (operation.streams) setHeaders(res, withRequestId(operation.headers, exchange.id));
    const { store, feed, revocations, metrics, config, contract } = deps;
    const context = {
      request: req,
      response: res,
      params: match.params,
      query,
      body,
      principal,
      store,
      feed,
      revocations,
      metrics,
      config,
      contract,
      now: deps.clock(),
    };
    const reply = await operation.handler(context);
    if (reply.streamed) {
      deps.streams.add(res);
      res.once('close', () => {
        deps.streams.delete(res);
        this.finish(exchange, res.statusCode, true);
      });
      return;
    }
    deps.checkReply?.(reply, operation.operationId);
    this.respond(exchange, reply, operation.headers);
  }

  respond(exchange: Exchange, reply: AnyReply, headers: HeaderList): void {
    const { req, res } = exchange;
    const close = bodyPending(req);
    if (close) lingerOnClose(req);
    send(req, res, reply, withRequestId(headers, exchange.id), close);
    this.finish(exchange, reply.status, false);
  }

  fail(exchange: Exchange, error: unknown): void {
    const known = toLucidError(error);
    const log = { req: { id: exchange.id } };
    if (known.code === 'INTERNAL') this.deps.logger.error({ ...log, err: error }, 'unexpected error');
    else if (error instanceof StoreUnavailableError) {
      this.deps.metrics.storeError();
      this.deps.logger.warn({ ...log, err: error.cause }, 'store unavailable');
    }
    if (exchange.res.headersSent) {
      exchange.res.destroy();
      this.finish(exchange, exchange.res.statusCode, false);
      return;
    }
    const headers = {
      ...known.headers,
      ...(known.code === 'UNAUTHORIZED' && { 'WWW-Authenticate': challenge(exchange.req) }),
    };
    const body = known.key === undefined ? { message: known.message } : { message: known.message, key: known.key };
    this.respond(exchange, { status: known.status, body, headers }, this.deps.headers.api);
  }

  finish(exchange: Exchange, status: number, streamed: boolean): void {
    const seconds = (performance.now() - exchange.started) / 1000;
    this.deps.metrics.observe(exchange.operation?.operationId ?? NO_OPERATION, status, seconds, streamed);
    if (this.deps.config.log.access) accessLine(this.deps.logger, exchange, status, seconds);
  }
}

/** One line per answered request, when `log.access` is on. */
function accessLine(logger: Logger, { id, req }: Exchange, status: number, seconds: number): void {
  const request = {
    id,
    method: req.method,
    url: loggableUrl(req.url ?? '/'),
    userAgent: req.headers['user-agent'],
    remoteAddress: req.socket.remoteAddress,
  };
  logger.info(
    { req: request, res: { statusCode: status }, responseTime: Math.round(seconds * 1000) },
    'request completed',
  );
}

/** Builds every operation's compiled form; fails at once when the spec and the handlers disagree. */
function compile(deps: PipelineDeps): Map<string, CompiledOperation> {
  const compiled = new Map<string, CompiledOperation>();
  for (const operation of deps.api.router.getOperations()) {
    const operationId = operation.operationId as OperationId;
    const handler = handlers[operationId] as unknown as ((context: AnyContext) => Promise<AnyReply>) | undefined;
    if (handler === undefined) throw new Error(`Operation ${operationId} has no handler`);
    const validators = deps.api.validator.getRequestValidatorsForOperation(operationId) ?? [];
    const jsonBody = requestBodySchema(operation);
    // openapi-backend compiles the body's validator first (when the body is JSON), then the parameters'.
    const [validateBody, validateParameters] =
      jsonBody === undefined ? [undefined, validators[0]] : [validators[0], validators[1]];
    if (validateParameters === undefined) throw new Error(`Operation ${operationId} has no compiled validator`);
    compiled.set(operationId, {
      operation,
      operationId,
      method: operation.method.toUpperCase(),
      secured: (operation.security ?? []).length > 0,
      tokenParameter: parameters(operation).some((parameter) => parameter.in === 'query' && parameter.name === 'token')
        ? 'token'
        : undefined,
      scope: requiredScope[operationId],
      json: jsonBody && {
        hint: bodyHint(jsonBody),
        lowerCase: caseInsensitiveProperties(jsonBody.schema),
        limit: bodyLimit(operation, deps.config),
      },
      validateBody,
      validateParameters,
      handler,
      headers: servesPage(operation) ? deps.headers.page : deps.headers.api,
      streams: answers(operation, 'text/event-stream'),
    });
  }
  return compiled;
}

/** The token's principal; UNAUTHORIZED for a secured operation without a valid, unrevoked token. */
function authenticate(
  operation: CompiledOperation,
  req: IncomingMessage,
  query: Record<string, unknown>,
  deps: PipelineDeps,
): Principal {
  if (!operation.secured || deps.authority === undefined) return ANONYMOUS;
  let token = bearerToken(req.headers.authorization);
  if (token === undefined && operation.tokenParameter !== undefined) {
    const value = query[operation.tokenParameter];
    if (typeof value === 'string') token = value;
  }
  const principal = token === undefined ? undefined : deps.authority.verify(token);
  if (principal === undefined || (principal.tokenId !== undefined && deps.revocations?.has(principal.tokenId)))
    throw new LucidError('UNAUTHORIZED');
  return principal;
}

/**
 * A token whose scope or prefix does not allow the call is refused here, before any body is read,
 * so the body of a request that will be refused never reaches memory.
 */
function authorise(operation: CompiledOperation, principal: Principal, params: Record<string, string>): void {
  const needed = operation.scope;
  if (needed !== null && !allows(principal, needed)) {
    throw new LucidError('FORBIDDEN_SCOPE', {
      message: `This token's scope (${principal.scope}) does not allow this: it needs ${needed}.`,
    });
  }
  const key = params.key;
  if (key !== undefined && !key.startsWith(principal.prefix)) throw new LucidError('FORBIDDEN_PREFIX');
}

async function readJsonBody(operation: CompiledOperation, req: IncomingMessage, res: ServerResponse): Promise<unknown> {
  const { hint, lowerCase, limit } = operation.json!;
  const body = await readJson(req, res, limit, hint);
  // Names the spec marks case-insensitive (`x-lucid-case-insensitive`) are matched as lower case.
  if (lowerCase.length > 0 && typeof body === 'object' && body !== null) {
    const record = body as Record<string, unknown>;
    for (const name of lowerCase)
      if (typeof record[name] === 'string') record[name] = (record[name] as string).toLowerCase();
  }
  return body;
}

/**
 * Validates the path, query and headers (coercing the query to its declared types) and the JSON body, with the spec's
 * compiled validators.
 */
function validate(
  operation: CompiledOperation,
  params: Record<string, string>,
  query: Record<string, unknown>,
  req: IncomingMessage,
  body: unknown,
): void {
  const errors: ErrorObject[] = [];
  if (operation.validateBody !== undefined && !operation.validateBody({ requestBody: body }))
    errors.push(...(operation.validateBody.errors ?? []));
  if (!operation.validateParameters({ path: params, query, header: req.headers }))
    errors.push(...(operation.validateParameters.errors ?? []));
  if (errors.length > 0) throw new LucidError('INVALID_REQUEST', { message: describeValidation(errors) });
}

/** Turns ajv's errors into one readable sentence. */
export function describeValidation(errors: readonly ErrorObject[]): string {
  const parts = errors.map((error) => {
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

/** Maps anything thrown while serving a request to the error a client sees. */
function toLucidError(error: unknown): LucidError {
  if (error instanceof LucidError) return error;
  return new LucidError('INTERNAL');
}

/** What a 401 tells the client: how to authenticate, and whether the token it sent was the problem. */
function challenge(req: IncomingMessage): string {
  return req.headers.authorization === undefined
    ? 'Bearer realm="lucid"'
    : 'Bearer realm="lucid", error="invalid_token"';
}

/** An incoming X-Request-Id Lucid adopts as its own: short, and only characters safe in a header and a log. */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:+=/-]{1,128}$/;

/** The request's id: the client's X-Request-Id when it is sane, a new UUID otherwise. */
function requestId(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id'];
  return typeof incoming === 'string' && CLIENT_REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

function withRequestId(headers: HeaderList, id: string): HeaderList {
  const list = headers.slice();
  list.push('X-Request-Id', id);
  return list;
}

interface ParameterObject {
  name: string;
  in: string;
}

function parameters(operation: Operation): ParameterObject[] {
  return (operation.parameters ?? []) as ParameterObject[];
}

interface MediaType {
  schema?: { properties?: Record<string, Record<string, unknown>> };
  example?: unknown;
  examples?: Record<string, { value?: unknown }>;
}

/** The operation's JSON request body, if it takes one. */
function requestBodySchema(operation: Operation): MediaType | undefined {
  const body = operation.requestBody as { content?: Record<string, MediaType> } | undefined;
  return body?.content?.['application/json'];
}

/**
 * The largest JSON body the operation takes: JSON_BODY_LIMIT, or, for an operation marked
 * `x-lucid-body-limit: maxValueBytes` (a transaction, whose puts carry values), the config's value
 * limit. Any other mark stops start-up.
 */
function bodyLimit(operation: Operation, config: Config): number {
  const mark = (operation as unknown as Record<string, unknown>)['x-lucid-body-limit'];
  if (mark === undefined) return JSON_BODY_LIMIT;
  if (mark === 'maxValueBytes') return config.limits.maxValueBytes;
  throw new Error(`Operation ${operation.operationId ?? '?'} has an unknown x-lucid-body-limit: ${String(mark)}`);
}

/** What to send: the shortest example the spec gives for the body. */
function bodyHint(media: MediaType): string {
  const examples = [media.example, ...Object.values(media.examples ?? {}).map((example) => example.value)].filter(
    (example) => example !== undefined,
  );
  const shortest = examples.map((example) => JSON.stringify(example)).sort((a, b) => a.length - b.length)[0];
  return `send Content-Type: application/json with a body like ${shortest ?? '{}'}.`;
}

function caseInsensitiveProperties(schema: MediaType['schema']): string[] {
  return Object.entries(schema?.properties ?? {})
    .filter(([, property]) => property['x-lucid-case-insensitive'] === true)
    .map(([name]) => name);
}

/** Whether the operation answers an HTML page (which gets helmet's full header set). */
function servesPage(operation: Operation): boolean {
  return answers(operation, 'text/html');
}

/** Whether the operation's 200 answer has this media type. */
function answers(operation: Operation, mediaType: string): boolean {
  const ok = (operation.responses as Record<string, { content?: Record<string, unknown> }> | undefined)?.['200'];
  return ok?.content?.[mediaType] !== undefined;
}

function setHeaders(res: ServerResponse, headers: HeaderList): void {
  for (let i = 0; i < headers.length; i += 2) res.setHeader(headers[i]!, headers[i + 1]!);
}
