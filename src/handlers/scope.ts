/** Where a token's prefix meets a requested prefix, for listing and notifications. */
import type { Principal } from '../auth.js';
import { LucidError } from '../errors.js';

/**
 * The prefix to serve: the longer of the token's and the request's when one extends the other;
 * 403 when they are disjoint (the request asks for keys the token can never see).
 */
export function effectivePrefix(principal: Principal, requested: string | undefined): string {
  const wanted = requested ?? '';
  if (wanted.startsWith(principal.prefix)) return wanted;
  if (principal.prefix.startsWith(wanted)) return principal.prefix;
  throw new LucidError('FORBIDDEN_PREFIX', {
    message: `This token is limited to keys starting with "${principal.prefix}".`,
  });
}
