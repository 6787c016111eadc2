/** `lucid token issue`: prints a signed JWT, alone, on stdout. */
import jwt from 'jsonwebtoken';
import { SCOPES, parseDuration, TokenAuthority, type Scope } from '../auth.js';
import { revokeToken } from '../revocations.js';
import { loadConfig, type Config } from '../config.js';
import { ConfigError } from '../errors.js';
import { isShared, openBackend } from '../store/open.js';

export const ROOT_SUBJECT = 'root';
export const DEFAULT_TOKEN_LIFETIME = '30d';

export interface IssueOptions {
  config?: string;
  subject?: string;
  expiresIn?: string;
  scope?: string;
  prefix?: string;
}

export function parseLifetime(text: string): number {
  const seconds = parseDuration(text);
  if (seconds === undefined)
    throw new ConfigError(`--expires-in must be a duration like 90s, 15m, 12h, 30d or 1y; got "${text}".`);
  return seconds;
}

export function issueToken(options: IssueOptions): string {
  const lifetime = parseLifetime(options.expiresIn ?? DEFAULT_TOKEN_LIFETIME);
  const scope = (options.scope ?? 'write') as Scope;
  if (!SCOPES.includes(scope))
    throw new ConfigError(`--scope must be one of ${SCOPES.join(', ')}; got "${options.scope}".`);
  const { config } = loadConfig({ file: options.config });
  if (!config.auth.enabled && config.auth.secret.length === 0) {
    throw new ConfigError('Auth is disabled and there is no secret to sign tokens with.');
  }
  return TokenAuthority.fromConfig(config.auth).issue(options.subject ?? ROOT_SUBJECT, lifetime, {
    scope,
    prefix: options.prefix,
  });
}

/** The id (`jti`) of a token, read without verifying it (for messages only). */
export function tokenId(token: string): string | undefined {
  const claims = jwt.decode(token);
  return typeof claims === 'object' && claims !== null && typeof claims.jti === 'string' ? claims.jti : undefined;
}

/**
 * How long a revocation by id alone is kept in a shared backend (the token's expiry is unknown): longer than any token
 * lives.
 */
const REVOCATION_BY_ID_MS = 11 * 365 * 24 * 3600 * 1000;

/**
 * Revokes a token by its id, or by the token itself; running servers honour it within a second.
 * On the embedded store it goes into the revocation file; on a shared backend into the backend,
 * kept until the token would have expired.
 */
export async function revoke(idOrToken: string, options: { config?: string }): Promise<string> {
  const id = idOrToken.includes('.') ? tokenId(idOrToken) : idOrToken;
  if (id === undefined || !/^[A-Za-z0-9_-]{1,128}$/.test(id))
    throw new ConfigError(`"${idOrToken}" is neither a token id nor a token that has one.`);
  const { config } = loadConfig({ file: options.config });
  if (!isShared(config.store)) {
    revokeToken(config.auth.revocationFile, id);
    return id;
  }
  const claims = idOrToken.includes('.') ? jwt.decode(idOrToken) : null;
  const until =
    typeof claims === 'object' && typeof claims?.exp === 'number'
      ? claims.exp * 1000
      : Date.now() + REVOCATION_BY_ID_MS;
  const store = await openBackend({ ...config, expiry: { sweepIntervalMs: 0 } }, () => undefined);
  try {
    await store.revocations!.add(id, until);
  } finally {
    await store.close();
  }
  return id;
}

/** A ready-to-paste curl line that stores and reads a value. */
export function curlExample(config: Config, token: string): string {
  const tls = config.server.tls;
  // With TLS the certificate names localhost (init --tls), so the example uses that name and trusts the file.
  const host = tls ? 'localhost' : config.server.host === '0.0.0.0' ? '127.0.0.1' : config.server.host;
  const base = `${tls ? 'https' : 'http'}://${host}:${config.server.port}`;
  const curl = tls ? `curl --cacert ${tls.cert}` : 'curl';
  return [
    `  export LUCID_TOKEN=${token}`,
    `  ${curl} -X PUT -H "Authorization: Bearer $LUCID_TOKEN" -H 'Content-Type: text/plain' ` +
      `--data-binary 'hello world' ${base}/api/kv/greeting`,
    `  ${curl} -H "Authorization: Bearer $LUCID_TOKEN" ${base}/api/kv/greeting`,
  ].join('\n');
}
