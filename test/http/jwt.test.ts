/** Tokens from an identity provider (RS256 by PEM, ES256 by JWKS) next to Lucid's own, against a real server. */
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyRequests } from '../support/helpers.js';
import { startLucid, uniqueKey, type TestLucid } from '../support/lucid.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsaPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const ISSUER = 'https://idp.example';

let lucid: TestLucid;
beforeAll(async () => {
  const keys = mkdtempSync(path.join(tmpdir(), 'lucid-keys-'));
  writeFileSync(path.join(keys, 'idp.pem'), rsaPem);
  writeFileSync(
    path.join(keys, 'jwks.json'),
    JSON.stringify({ keys: [{ ...ec.publicKey.export({ format: 'jwk' }), kid: 'ec-2026', alg: 'ES256', use: 'sig' }] }),
  );
  lucid = await startLucid({
    config: {
      auth: {
        issuer: ['lucid', ISSUER],
        audience: 'lucid-api',
        publicKeyFile: path.join(keys, 'idp.pem'),
        jwksFile: path.join(keys, 'jwks.json'),
      },
    },
  });
});
afterAll(() => lucid.close());

const now = () => Math.floor(Date.now() / 1000);
const claims = (extra: object = {}) => ({
  sub: 'idp-user-7',
  iss: ISSUER,
  aud: 'lucid-api',
  scope: 'openid lucid:write',
  exp: now() + 600,
  ...extra,
});
const rs256 = (extra?: object) => jwt.sign(claims(extra), rsa.privateKey, { algorithm: 'RS256' });
const es256 = (kid: string, extra?: object) =>
  jwt.sign(claims(extra), ec.privateKey, { algorithm: 'ES256', keyid: kid });
const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const { put, patch } = keyRequests(() => lucid);

describe('identity provider tokens', () => {
  it('accepts an RS256 token verified with the PEM key; its sub holds the locks it takes', async () => {
    const key = uniqueKey('idp');
    expect((await put(key, 'v', { token: rs256() })).status).toBe(201);
    const lock = await patch(key, { operation: 'lock' }, { token: rs256() });
    expect(lock.status).toBe(200);
    expect((await lucid.request(`/api/kv/${key}`, { method: 'HEAD' })).headers.get('lucid-lock-holder')).toBe(
      'idp-user-7',
    );
  });

  it('accepts an ES256 token whose kid is in the JWKS, and refuses an unknown kid with 401', async () => {
    const key = uniqueKey('idp');
    expect((await put(key, 'v', { token: es256('ec-2026') })).status).toBe(201);
    const unknown = await put(key, 'v', { token: es256('ec-2027') });
    expect(unknown.status).toBe(401);
    expect(unknown.headers.get('www-authenticate')).toContain('invalid_token');
  });

  it('refuses with 401 an RS256 token whose kid is not in the JWKS, though the PEM key signed it', async () => {
    const token = jwt.sign(claims(), rsa.privateKey, { algorithm: 'RS256', keyid: 'rsa-unknown' });
    const refused = await put(uniqueKey('idp'), 'v', { token: token });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain('invalid_token');
  });

  it('keeps accepting the tokens Lucid issues, which carry its first issuer and audience', async () => {
    expect(jwt.decode(lucid.token)).toMatchObject({ iss: 'lucid', aud: 'lucid-api' });
    expect((await put(uniqueKey('own'), 'v', { token: lucid.token })).status).toBe(201);
  });

  it('answers 403 to an identity provider token whose scope is read, before touching the key', async () => {
    const key = uniqueKey('idp');
    const response = await put(key, 'v', { token: rs256({ scope: 'openid lucid:read' }) });
    expect(response.status).toBe(403);
    expect((await lucid.request(`/api/kv/${key}`)).status).toBe(404);
  });

  it('answers 401 JSON to every refused token: confusion, none, wrong iss or aud, no exp, nbf ahead, tampered, oversized, garbage', async () => {
    const header = b64({ alg: 'HS256', typ: 'JWT' });
    const payload = b64(claims({ scope: 'lucid:admin' }));
    const [rsHeader, rsPayload, rsSignature] = rs256().split('.');
    const { exp: _exp, ...withoutExp } = claims();
    const refused: Record<string, string> = {
      'HS256 signed with the RSA public key PEM': `${header}.${payload}.${createHmac('sha256', rsaPem).update(`${header}.${payload}`).digest('base64url')}`,
      'alg none': `${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`,
      'another issuer': rs256({ iss: 'https://evil.example' }),
      'another audience': rs256({ aud: 'billing-api' }),
      'no exp': jwt.sign(withoutExp, rsa.privateKey, { algorithm: 'RS256' }),
      'expired beyond the leeway': rs256({ exp: now() - 31 }),
      'nbf beyond the leeway': rs256({ nbf: now() + 60 }),
      'no Lucid scope': rs256({ scope: 'openid profile' }),
      tampered: `${rsHeader}.${b64(claims({ scope: 'lucid:admin' }))}.${rsSignature}`,
      'oversized (9 kB) header': `${b64({ alg: 'RS256', typ: 'JWT', x: 'x'.repeat(9000) })}.${rsPayload}.${rsSignature}`,
      'garbage base64': '%%%.&&&.***',
    };
    for (const [kind, token] of Object.entries(refused)) {
      const response = await put(uniqueKey('refused'), 'v', { token: token });
      expect(response.status, kind).toBe(401);
      expect(await response.json(), kind).toEqual({ message: 'You are not allowed to perform this action.' });
    }
  });

  it('accepts a token expired within the 30 s leeway', async () => {
    expect((await put(uniqueKey('skew'), 'v', { token: rs256({ exp: now() - 5 }) })).status).toBe(201);
  });
});
