/** The one shape every operation handler has: check preconditions, call the store, return a reply. */
import type { Request } from 'express';
import type { Principal } from '../auth.js';
import type { Config } from '../config.js';
import type { Store } from '../store/types.js';
import type { operations } from '../../generated/lucid.js';

export type OperationId = keyof operations;

/** What a handler answers; `respond` in app.ts serialises it. A Buffer body is sent as raw bytes. */
export interface Reply<Op extends OperationId = OperationId> {
  status: keyof operations[Op]['responses'] & number;
  body?: unknown;
  headers?: Record<string, string | number>;
}

/** Everything a handler may use: the request after routing, auth and validation, and the app's dependencies. */
export interface HandlerContext {
  request: Request;
  params: Record<string, string>;
  /** The parsed JSON body, for operations that take JSON. */
  body: unknown;
  principal: Principal | undefined;
  store: Store;
  config: Config;
}

export type Handler<Op extends OperationId> = (context: HandlerContext) => Promise<Reply<Op>>;

/** One handler per operationId in the spec: a new operation without a handler fails `tsc`. */
export type HandlerMap = { [Op in OperationId]: Handler<Op> };
