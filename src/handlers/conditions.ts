/** Reads RFC 9110 precondition headers off a request. */
import type { Request } from 'express';
import type { Preconditions } from '../kv.js';

export function preconditions(request: Request): Preconditions {
  return { ifMatch: request.headers['if-match'], ifNoneMatch: request.headers['if-none-match'] };
}
