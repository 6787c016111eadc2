/**
 * Request bodies are read only once a request is authorised: these helpers hold back
 * `100 Continue` until then, and tell when an answer goes out before the body was read.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

const AWAITING_CONTINUE = Symbol('lucid.awaitingContinue');

type Marked = IncomingMessage & { [AWAITING_CONTINUE]?: boolean };

/**
 * For the server's `checkContinue` event: Node would answer `Expect: 100-continue` at once; instead
 * the client is told to send its body only when a handler is about to read it (allowBody), so a
 * refused request (401, 403, 413) never has its body sent at all.
 */
export function holdContinue(req: IncomingMessage): void {
  (req as Marked)[AWAITING_CONTINUE] = true;
}

/** Call right before reading a request's body: sends the `100 Continue` the client may be waiting for. */
export function allowBody(req: IncomingMessage, res: ServerResponse): void {
  const marked = req as Marked;
  if (marked[AWAITING_CONTINUE] !== true) return;
  marked[AWAITING_CONTINUE] = false;
  if (!res.headersSent) res.writeContinue();
}

/**
 * Whether the request's body has not been received in full: answering now must close the
 * connection (`Connection: close`), or Node would read and discard the rest of the body, however
 * large, to reuse the connection.
 */
export function bodyPending(req: IncomingMessage): boolean {
  return !req.complete;
}
