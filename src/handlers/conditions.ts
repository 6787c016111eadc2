/** Reads RFC 9110 precondition headers off a request. */
import type { IncomingMessage } from 'node:http';
import type { Preconditions } from '../kv.js';

export function preconditions(request: IncomingMessage): Preconditions {
  return { ifMatch: request.headers['if-match'], ifNoneMatch: request.headers['if-none-match'] };
}
