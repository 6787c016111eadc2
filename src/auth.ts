/** JWT verification and minting: HS256 only, the secret held as a KeyObject, `exp` required. */
import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';

/** What a token may do: `read` (GET, HEAD, list, notifications), `write` (also PUT, DELETE, PATCH), `admin` (also unlock others' locks). */
export type Scope = 'read' | 'write' | 'admin';
export const SCOPES: readonly Scope[] = ['read', 'write', 'admin'];

/** What a verified token tells about its bearer. */
export interface Principal {
  subject: string;
  /** The token's id (`jti`), when it has one; revocation names tokens by it. */
  tokenId?: string | undefined;
  expiresAt: number;
  /** A token without a `scope` claim is read-write, so tokens made before scopes existed keep working. */
  scope: Scope;
  /** Keys the token may touch start with this ('' for every key). */
  prefix: string;
}

/** Whether a principal's scope includes `needed` (admin includes write, write includes read). */
export function allows(principal: Principal, needed: Scope): boolean {
  return SCOPES.indexOf(principal.scope) >= SCOPES.indexOf(needed);
}

const ALGORITHMS: jwt.Algorithm[] = ['HS256'];

/** Generates a fresh secret for `lucid init`: 48 random bytes, base64url (64 characters). */
export function generateSecret(): string {
  return randomBytes(48).toString('base64url');
}

/** How many verified tokens are remembered; the oldest is forgotten first. */
const CACHE_SIZE = 10_000;

/**
 * Verifies and mints tokens with one secret. A token that verified is remembered until its `exp`,
 * so a client reusing its token costs a map lookup, not an HMAC and two JSON parses; only valid
 * tokens are cached, and revocation is checked by the caller on every request.
 */
export class TokenAuthority {
  readonly #key: KeyObject;
  readonly #verified = new Map<string, Principal>();

  constructor(
    secret: string,
    private readonly clock: () => number = Date.now,
  ) {
    this.#key = createSecretKey(Buffer.from(secret, 'utf8'));
  }

  /**
   * Verifies a bearer token and returns its principal, or undefined for any token that is missing,
   * malformed, expired, tampered with, signed with another key or algorithm (`none` included), or
   * without `exp`.
   */
  verify(token: string): Principal | undefined {
    const cached = this.#verified.get(token);
    if (cached !== undefined) {
      if (this.clock() < cached.expiresAt) return cached;
      this.#verified.delete(token);
      return undefined;
    }
    const principal = this.#verifyUncached(token);
    if (principal !== undefined) {
      if (this.#verified.size >= CACHE_SIZE) this.#verified.delete(this.#verified.keys().next().value!);
      this.#verified.set(token, principal);
    }
    return principal;
  }

  #verifyUncached(token: string): Principal | undefined {
    try {
      const claims = jwt.verify(token, this.#key, { algorithms: ALGORITHMS, clockTimestamp: Math.floor(this.clock() / 1000) });
      if (typeof claims !== 'object' || typeof claims.exp !== 'number') return undefined;
      const scope = claims.scope ?? 'write';
      const prefix = claims.prefix ?? '';
      if (!SCOPES.includes(scope) || typeof prefix !== 'string') return undefined;
      return { subject: typeof claims.sub === 'string' ? claims.sub : '', tokenId: claims.jti, expiresAt: claims.exp * 1000, scope, prefix };
    } catch {
      return undefined;
    }
  }

  /** Mints a token for `subject` that expires after `expiresInSeconds`. */
  issue(subject: string, expiresInSeconds: number, limits: { scope?: Scope; prefix?: string } = {}): string {
    const claims: Record<string, string | number> = { scope: limits.scope ?? 'write', iat: Math.floor(this.clock() / 1000) };
    if (limits.prefix) claims.prefix = limits.prefix;
    return jwt.sign(claims, this.#key, {
      algorithm: 'HS256',
      subject,
      expiresIn: expiresInSeconds,
      jwtid: randomBytes(9).toString('base64url'),
    });
  }
}

/** Takes the token out of an `Authorization: Bearer ...` header value. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(header);
  return match?.[1];
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, y: 31_536_000 };

/** Parses a duration like `90s`, `15m`, `12h`, `30d`, `1y` (or bare seconds) into seconds. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+)\s*([smhdwy]?)$/.exec(text.trim());
  if (!match) return undefined;
  const seconds = Number(match[1]) * UNITS[match[2] || 's']!;
  return seconds > 0 && Number.isSafeInteger(seconds) ? seconds : undefined;
}
