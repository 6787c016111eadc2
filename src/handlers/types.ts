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

/** What a handler answers; `send` in http/reply.ts serialises it. A Buffer body is sent as raw bytes. */
export interface Reply<Op extends OperationId = OperationId> {
  status: keyof operations[Op]['responses'] & number;
  body?: unknown;
  headers?: Record<string, string | number>;
  /** The handler wrote the response itself (a stream). */
  streamed?: true;
}

/** Everything a handler may use: the request after routing, auth and validation, and the app's dependencies. */
export interface HandlerContext {
  request: IncomingMessage;
  /** Only for handlers that stream; everyone else returns a Reply. */
  response: ServerResponse;
  params: Record<string, string>;
  /** Query parameters, coerced to the types the spec declares. */
  query: Record<string, unknown>;
  /** The parsed JSON body, for operations that take JSON. */
  body: unknown;
  /** The verified token (with auth off: an anonymous admin). */
  principal: Principal;
  store: Store;
  feed: NotificationFeed;
  /** Revoked token ids, followed as they change (undefined when auth is off). */
  revocations: RevocationList | undefined;
  metrics: Metrics;
  config: Config;
  /** The spec the server was built from: the file's exact bytes and the parsed document. */
  contract: { yaml: Buffer; json: unknown };
  /** The time the request is served at, from the app's clock. */
  now: number;
}

export type Handler<Op extends OperationId> = (context: HandlerContext) => Promise<Reply<Op>>;

/** One handler per operationId in the spec: a new operation without a handler fails `tsc`. */
export type HandlerMap = { [Op in OperationId]: Handler<Op> };
