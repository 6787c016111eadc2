/**
 * JWT verification and minting (RFC 8725): Lucid's own HS256 tokens, signed with a secret held as a
 * KeyObject, and optionally RS256/ES256 tokens from an identity provider, verified with a public key
 * or a JWKS file. Each key verifies exactly one algorithm, so `alg: none` and HS/RS confusion are
 * refused by construction.
 */
import { createPublicKey, createSecretKey, randomBytes, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import jwt from 'jsonwebtoken';
import { ConfigError } from './errors.js';

/**
 * What a token may do: `read` (GET, HEAD, list, notifications), `write` (also PUT, DELETE, PATCH), `admin` (also unlock
 * others' locks).
 */
export type Scope = 'read' | 'write' | 'admin';
export const SCOPES: readonly Scope[] = ['read', 'write', 'admin'];

/** What a verified token tells about its bearer. */
export interface Principal {
  /** The token's `sub`: who holds the locks this token takes. */
  subject: string;
  /** The token's id (`jti`), when it has one; revocation names tokens by it. */
  tokenId?: string | undefined;
  /** The token's `exp` in ms since the epoch (Infinity for a token without one, when the config allows that). */
  expiresAt: number;
  /** A Lucid token without a `scope` claim is read-write, so tokens made before scopes existed keep working. */
  scope: Scope;
  /** Keys the token may touch start with this ('' for every key). */
  prefix: string;
}

/** Whether a principal's scope includes `needed` (admin includes write, write includes read). */
export function allows(principal: Principal, needed: Scope): boolean {
  return SCOPES.indexOf(principal.scope) >= SCOPES.indexOf(needed);
}

/** Generates a fresh secret for `lucid init`: 48 random bytes, base64url (64 characters). */
export function generateSecret(): string {
  return randomBytes(48).toString('base64url');
}

/** The algorithms an identity provider's key may verify; which one is pinned by the key's type. */
export type PublicAlgorithm = 'RS256' | 'ES256';

/** A public key of an identity provider, with the one algorithm it verifies and its JWKS `kid`. */
export interface VerificationKey {
  algorithm: PublicAlgorithm;
  key: KeyObject;
  /**
   * The JWKS key id ('' for the one key of a JWKS without kids); a key from a PEM file has none and stands for its
   * algorithm.
   */
  kid?: string | undefined;
}

/** The claim checks beyond the signature. */
export interface TokenRules {
  /** Refuse tokens without `exp` (RFC 8725 §3.10: a bearer token should not live forever). */
  requireExp: boolean;
  /** Accepted `iss` values; empty: not checked. */
  issuer: readonly string[];
  /** Accepted `aud` values (a token's `aud` must name one); empty: not checked. */
  audience: readonly string[];
  /** Leeway for `exp` and `nbf`, against clock drift between the issuer and Lucid. */
  clockSkewSeconds: number;
}

export interface TokenAuthorityOptions {
  /** The HS256 secret Lucid signs its own tokens with. */
  secret: string;
  /** Identity providers' public keys (see loadVerificationKeys). */
  publicKeys?: readonly VerificationKey[];
  rules?: Partial<TokenRules>;
}

/** The `auth` options TokenAuthority.fromConfig reads (a subset of Config['auth']). */
export interface AuthSettings {
  secret: string;
  requireExp: boolean;
  issuer: string | readonly string[];
  audience: string | readonly string[];
  clockSkewSeconds: number;
  publicKeyFile: string;
  jwksFile: string;
}

export const DEFAULT_RULES: TokenRules = { requireExp: true, issuer: [], audience: [], clockSkewSeconds: 30 };

/** How many verified tokens are remembered; the oldest is forgotten first. */
const CACHE_SIZE = 10_000;
/** Longer tokens are refused before any decoding (an IdP's tokens are 1 to 3 kB; Node caps all headers at 16 kB). */
export const MAX_TOKEN_LENGTH = 8192;

interface Verified {
  principal: Principal;
  /** The window (ms since the epoch) in which the token is valid, leeway included. */
  validFrom: number;
  validUntil: number;
}

/**
 * Verifies and mints tokens. A token that verified is remembered, keyed by the whole token, for
 * as long as it is valid (its `nbf` and `exp` with the leeway), so a client reusing its token costs
 * a map lookup, not a signature check and two JSON parses; only valid tokens are cached, and
 * revocation is checked by the caller on every request.
 */
export class TokenAuthority {
  readonly #secret: KeyObject | undefined;
  readonly #publicKeys: readonly VerificationKey[];
  readonly #rules: TokenRules;
  readonly #verified = new Map<string, Verified>();

  constructor(
    options: string | TokenAuthorityOptions,
    private readonly clock: () => number = Date.now,
  ) {
    const { secret, publicKeys = [], rules = {} } = typeof options === 'string' ? { secret: options } : options;
    this.#secret = secret === '' ? undefined : createSecretKey(Buffer.from(secret, 'utf8'));
    this.#publicKeys = publicKeys;
    this.#rules = { ...DEFAULT_RULES, ...rules };
  }

  /** Builds the authority the config describes, reading its key files; throws ConfigError for a bad one. */
  static fromConfig(auth: AuthSettings, clock?: () => number): TokenAuthority {
    return new TokenAuthority(
      {
        secret: auth.secret,
        publicKeys: loadVerificationKeys(auth),
        rules: {
          requireExp: auth.requireExp,
          issuer: list(auth.issuer),
          audience: list(auth.audience),
          clockSkewSeconds: auth.clockSkewSeconds,
        },
      },
      clock,
    );
  }

  /**
   * Verifies a bearer token and returns its principal, or undefined for any token that is missing,
   * oversized, malformed, expired (beyond the leeway), not yet valid (`nbf`), tampered with, signed
   * with another key or algorithm (`none` and key confusion included), from another issuer or for
   * another audience, or without `exp` while the rules require it.
   */
  verify(token: string): Principal | undefined {
    const now = this.clock();
    const cached = this.#verified.get(token);
    if (cached !== undefined) {
      if (now >= cached.validFrom && now < cached.validUntil) return cached.principal;
      if (now >= cached.validUntil) this.#verified.delete(token);
      return undefined;
    }
    const verified = this.#verifyUncached(token, now);
    if (verified === undefined) return undefined;
    if (this.#verified.size >= CACHE_SIZE) this.#verified.delete(this.#verified.keys().next().value!);
    this.#verified.set(token, verified);
    return verified.principal;
  }

  #verifyUncached(token: string, now: number): Verified | undefined {
    if (token.length > MAX_TOKEN_LENGTH) return undefined;
    try {
      const decoded = jwt.decode(token, { complete: true });
      if (decoded === null || typeof decoded.payload !== 'object') return undefined;
      // No extension is understood, so a token that marks one critical must be refused (RFC 7515 §4.1.11).
      if ((decoded.header as { crit?: unknown }).crit !== undefined) return undefined;
      const selected = this.#keyFor(decoded.header);
      if (selected === undefined) return undefined;
      const { requireExp, issuer, audience, clockSkewSeconds } = this.#rules;
      const claims = jwt.verify(token, selected.key, {
        algorithms: [selected.algorithm],
        clockTimestamp: Math.floor(now / 1000),
        clockTolerance: clockSkewSeconds,
        ...(issuer.length > 0 && { issuer: [...issuer] as [string, ...string[]] }),
        ...(audience.length > 0 && { audience: [...audience] as [string, ...string[]] }),
      }) as jwt.JwtPayload;
      if (claims.exp !== undefined && typeof claims.exp !== 'number') return undefined;
      if (claims.nbf !== undefined && typeof claims.nbf !== 'number') return undefined;
      if (requireExp && claims.exp === undefined) return undefined;
      const external = selected.algorithm !== 'HS256';
      const scope = scopeOf(claims.scope, external);
      const prefix = claims.prefix ?? '';
      if (scope === undefined || typeof prefix !== 'string') return undefined;
      if (claims.sub !== undefined && typeof claims.sub !== 'string') return undefined;
      // An identity provider's token must say who it is for: `sub` names the holder of the locks it takes.
      if (external && !claims.sub) return undefined;
      const expiresAt = claims.exp === undefined ? Number.POSITIVE_INFINITY : claims.exp * 1000;
      return {
        principal: {
          subject: claims.sub ?? '',
          tokenId: typeof claims.jti === 'string' ? claims.jti : undefined,
          expiresAt,
          scope,
          prefix,
        },
        validFrom: claims.nbf === undefined ? Number.NEGATIVE_INFINITY : (claims.nbf - clockSkewSeconds) * 1000,
        validUntil: expiresAt + clockSkewSeconds * 1000,
      };
    } catch {
      return undefined;
    }
  }

  /**
   * The one key that may verify a token with this header: the secret for HS256, an identity
   * provider's key for RS256/ES256. With a JWKS configured, a token's `kid` must name one of its
   * keys of that algorithm (an unknown `kid` has no key: the PEM key is not tried instead); without
   * one, the PEM key verifies tokens of its algorithm whatever their `kid` (it has none to compare,
   * and providers put one in every token). A token without `kid` uses the PEM key of its
   * algorithm, else the only JWKS key of that algorithm. Any other `alg`, `none` included, has no key.
   */
  #keyFor(header: jwt.JwtHeader): { algorithm: jwt.Algorithm; key: KeyObject } | undefined {
    if (header.alg === 'HS256') return this.#secret && { algorithm: 'HS256', key: this.#secret };
    if (header.alg !== 'RS256' && header.alg !== 'ES256') return undefined;
    const candidates = this.#publicKeys.filter((key) => key.algorithm === header.alg);
    const { kid } = header;
    if (kid !== undefined && (typeof kid !== 'string' || kid === '')) return undefined;
    const pem = candidates.find((key) => key.kid === undefined);
    if (kid !== undefined) {
      const jwks = this.#publicKeys.some((key) => key.kid !== undefined);
      return jwks ? candidates.find((key) => key.kid === kid) : pem;
    }
    return pem ?? (candidates.length === 1 ? candidates[0] : undefined);
  }

  /**
   * Mints an HS256 token for `subject` that expires after `expiresInSeconds`, with the configured issuer and audience.
   */
  issue(subject: string, expiresInSeconds: number, limits: { scope?: Scope; prefix?: string } = {}): string {
    if (this.#secret === undefined) throw new ConfigError('There is no auth.secret to sign tokens with.');
    const claims: Record<string, string | number> = {
      scope: limits.scope ?? 'write',
      iat: Math.floor(this.clock() / 1000),
    };
    if (limits.prefix) claims.prefix = limits.prefix;
    return jwt.sign(claims, this.#secret, {
      algorithm: 'HS256',
      subject,
      expiresIn: expiresInSeconds,
      jwtid: randomBytes(9).toString('base64url'),
      ...(this.#rules.issuer[0] !== undefined && { issuer: this.#rules.issuer[0] }),
      ...(this.#rules.audience[0] !== undefined && { audience: this.#rules.audience[0] }),
    });
  }
}

/**
 * A token's Lucid scope from its `scope` claim: one word or an OAuth-style space-separated list
 * (RFC 8693 §4.2) in which `read`, `write`, `admin` or the same with a `lucid:` prefix count, the
 * widest winning; other words are ignored. Without the claim, Lucid's own tokens are `write` (they
 * predate scopes) and an identity provider's are refused; a claim naming no Lucid scope is refused.
 */
export function scopeOf(claim: unknown, external: boolean): Scope | undefined {
  if (claim === undefined) return external ? undefined : 'write';
  if (typeof claim !== 'string') return undefined;
  let widest: Scope | undefined;
  for (const word of claim.split(' ')) {
    const scope = SCOPES.find((name) => word === name || word === `lucid:${name}`);
    if (scope !== undefined && (widest === undefined || SCOPES.indexOf(scope) > SCOPES.indexOf(widest))) widest = scope;
  }
  return widest;
}

/** A config value that is one string or a list, as a list ('' meaning none). */
function list(value: string | readonly string[]): string[] {
  return (typeof value === 'string' ? [value] : [...value]).filter((item) => item !== '');
}

/**
 * Reads the identity provider's keys the config names: `publicKeyFile` (one PEM public key) and
 * `jwksFile` (a JWKS document). RSA keys (2048 bits or more) verify RS256 and P-256 keys ES256,
 * nothing else; a key of another type, a JWKS entry whose `alg` or `use` says otherwise, or two
 * JWKS keys without distinct `kid`s stop start-up with a ConfigError naming the file.
 */
export function loadVerificationKeys(auth: Pick<AuthSettings, 'publicKeyFile' | 'jwksFile'>): VerificationKey[] {
  const keys: VerificationKey[] = [];
  if (auth.publicKeyFile !== '') {
    const pem = readKeyFile(auth.publicKeyFile, 'auth.publicKeyFile');
    let key: KeyObject;
    try {
      key = createPublicKey(pem);
    } catch (error) {
      throw new ConfigError(
        `auth.publicKeyFile ${auth.publicKeyFile} holds no PEM public key: ${(error as Error).message}`,
      );
    }
    keys.push({ algorithm: algorithmOf(key, `auth.publicKeyFile ${auth.publicKeyFile}`), key });
  }
  if (auth.jwksFile !== '') {
    const where = `auth.jwksFile ${auth.jwksFile}`;
    let document: unknown;
    try {
      document = JSON.parse(readKeyFile(auth.jwksFile, 'auth.jwksFile'));
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw new ConfigError(`${where} is not valid JSON: ${(error as Error).message}`);
    }
    const entries = (document as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(entries) || entries.length === 0)
      throw new ConfigError(`${where} must be a JWKS document: {"keys": [...]} with at least one key.`);
    const kids = new Set<string>();
    for (const [index, entry] of entries.entries()) {
      const jwk = entry as JsonWebKey & { kid?: unknown; alg?: unknown; use?: unknown };
      const at = `${where}, key ${index}`;
      if (typeof jwk !== 'object' || jwk === null) throw new ConfigError(`${at} is not a JSON object.`);
      if (jwk.kid !== undefined && (typeof jwk.kid !== 'string' || jwk.kid === ''))
        throw new ConfigError(`${at}: kid must be a non-empty string.`);
      if (jwk.use !== undefined && jwk.use !== 'sig')
        throw new ConfigError(`${at}: use is "${String(jwk.use)}", not "sig".`);
      if (jwk.d !== undefined)
        throw new ConfigError(`${at} is a private key: the JWKS file must hold public keys only.`);
      let key: KeyObject;
      try {
        key = createPublicKey({ key: jwk, format: 'jwk' });
      } catch (error) {
        throw new ConfigError(`${at} is not a usable public key: ${(error as Error).message}`);
      }
      const algorithm = algorithmOf(key, at);
      if (jwk.alg !== undefined && jwk.alg !== algorithm)
        throw new ConfigError(`${at}: alg is "${String(jwk.alg)}" but the key can only verify ${algorithm}.`);
      const kid = jwk.kid as string | undefined;
      if (entries.length > 1 && kid === undefined)
        throw new ConfigError(`${at} has no kid: with several keys, each needs one.`);
      if (kid !== undefined && kids.has(kid)) throw new ConfigError(`${at}: kid "${kid}" is used twice.`);
      if (kid !== undefined) kids.add(kid);
      keys.push({ algorithm, key, kid: kid ?? '' });
    }
  }
  return keys;
}

function readKeyFile(file: string, option: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`Cannot read ${option} ${file}: ${(error as Error).message}`);
  }
}

/** The one algorithm a public key may verify, pinned by its type. */
function algorithmOf(key: KeyObject, where: string): PublicAlgorithm {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') {
    if ((details.modulusLength ?? 0) < 2048)
      throw new ConfigError(`${where}: an RSA key must have at least 2048 bits.`);
    return 'RS256';
  }
  if (key.asymmetricKeyType === 'ec' && details.namedCurve === 'prime256v1') return 'ES256';
  const curve = details.namedCurve ? ` ${details.namedCurve}` : '';
  throw new ConfigError(
    `${where}: only RSA (RS256) and P-256 EC (ES256) public keys are supported, not ${key.asymmetricKeyType}${curve}.`,
  );
}

/**
 * Takes the token out of an Authorization header value: `Bearer <jwt>` (RFC 6750), or the bare
 * `<jwt>` that the original Lucid server also took (it trimmed an optional `Bearer ` prefix).
 * Another scheme (`Basic ...`) has no token.
 */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const token = /^(?:Bearer[ ]+)?([^ ]+)[ ]*$/i.exec(header)?.[1];
  return token === undefined || /^bearer$/i.test(token) ? undefined : token;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, y: 31_536_000 };

/** Parses a duration like `90s`, `15m`, `12h`, `30d`, `1y` (or bare seconds) into seconds. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+)\s*([smhdwy]?)$/.exec(text.trim());
  if (!match) return undefined;
  const seconds = Number(match[1]) * UNITS[match[2] || 's']!;
  return seconds > 0 && Number.isSafeInteger(seconds) ? seconds : undefined;
}
