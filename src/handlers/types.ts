/** The one shape every operation handler has: check preconditions, call the store, return a reply. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../auth.js';
import type { Config } from '../config.js';
import type { Metrics } from '../metrics.js';
import type { NotificationFeed } from '../notifications.js';
import type { RevocationList } from '../revocations.js';
import type { Store } from '../store/types.js';
import type { operations } from '../../generated/lucid.js';

export type OperationId = keyof operations;

type Parameters<Op extends OperationId> = operations[Op]['parameters'];
/** The path parameters the spec declares for `Op`, decoded (`{}` when it has none). */
export type PathOf<Op extends OperationId> = Parameters<Op> extends { path: infer P } ? P : Record<never, string>;
/** The query parameters the spec declares for `Op`, coerced to their declared types (each optional). */
export type QueryOf<Op extends OperationId> =
  Parameters<Op> extends { query?: infer Q }
    ? [Q] extends [never]
      ? Record<never, unknown>
      : NonNullable<Q>
    : Record<never, unknown>;
/** The JSON body the spec declares for `Op`, validated; `undefined` for operations without one. */
export type BodyOf<Op extends OperationId> = operations[Op] extends {
  requestBody: { content: { 'application/json': infer B } };
}
  ? B
  : undefined;

type Responses<Op extends OperationId> = operations[Op]['responses'];
export type StatusOf<Op extends OperationId> = keyof Responses<Op> & number;
/** The body of one answer: its JSON schema's type, or raw bytes for any other media type. */
type ReplyBody<Op extends OperationId, S extends StatusOf<Op>> = Responses<Op>[S] extends { content: infer C }
  ? C extends { 'application/json': infer J }
    ? J
    : Buffer | string
  : undefined;

/**
 * What a handler answers, one of the statuses the spec lists for `Op` with that status's body; `send` in http/reply.ts
 * serialises it.
 */
export type Reply<Op extends OperationId = OperationId> = {
  [S in StatusOf<Op>]: {
    status: S;
    body?: ReplyBody<Op, S>;
    headers?: Record<string, string | number>;
    /** The handler wrote the response itself (a stream). */
    streamed?: true;
  };
}[StatusOf<Op>];

/** A reply of any operation, as the request path handles it before it knows which (http/reply.ts). */
export interface AnyReply {
  status: number;
  body?: unknown;
  headers?: Record<string, string | number>;
  streamed?: true;
}

/** The spec as GET /openapi.json answers it. */
export type OpenApiDocument = Responses<'getOpenApiJson'>[200]['content']['application/json'];

/** Everything a handler may use: the request after routing, auth and validation, and the app's dependencies. */
export interface HandlerContext<Op extends OperationId = OperationId> {
  request: IncomingMessage;
  /** Only for handlers that stream; everyone else returns a Reply. */
  response: ServerResponse;
  params: PathOf<Op>;
  /** Query parameters, coerced to the types the spec declares. */
  query: QueryOf<Op>;
  /** The parsed JSON body, for operations that take JSON. */
  body: BodyOf<Op>;
  /** The verified token (with auth off: an anonymous admin). */
  principal: Principal;
  store: Store;
  feed: NotificationFeed;
  /** Revoked token ids, followed as they change (undefined when auth is off). */
  revocations: RevocationList | undefined;
  metrics: Metrics;
  config: Config;
  /** The spec the server was built from: the file's exact bytes and the parsed document. */
  contract: { yaml: Buffer; json: OpenApiDocument };
  /** The time the request is served at, from the app's clock. */
  now: number;
}

/** The context as the request path builds it, before it is handed to the operation's handler. */
export type AnyContext = Omit<HandlerContext, 'params' | 'query' | 'body'> & {
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
};

export type Handler<Op extends OperationId> = (context: HandlerContext<Op>) => Promise<Reply<Op>>;

/** One handler per operationId in the spec: a new operation without a handler fails `tsc`. */
export type HandlerMap = { [Op in OperationId]: Handler<Op> };
