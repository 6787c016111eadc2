import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import {
  TokenAuthority,
  bearerToken,
  type AuthSettings,
  generateSecret,
  loadVerificationKeys,
  parseDuration,
  scopeOf,
} from '../../src/auth.js';
import { ConfigError } from '../../src/errors.js';
import { tempDir } from '../support/lucid.js';

const secret = generateSecret();
const authority = new TokenAuthority(secret);
const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const future = () => Math.floor(Date.now() / 1000) + 3600;

describe('TokenAuthority', () => {
  it('accepts a token it issued and reads its subject and expiry', () => {
    const principal = authority.verify(authority.issue('alice', 60));
    expect(principal?.subject).toBe('alice');
    expect(principal!.expiresAt).toBeGreaterThan(Date.now());
    expect(principal!.expiresAt).toBeLessThanOrEqual(Date.now() + 61_000);
  });

  it('refuses a token expired beyond the 30 s leeway', () => {
    const token = jwt.sign({ sub: 'a', exp: Math.floor(Date.now() / 1000) - 31 }, secret, { algorithm: 'HS256' });
    expect(authority.verify(token)).toBeUndefined();
  });

  it('refuses a token without exp', () => {
    expect(authority.verify(jwt.sign({ sub: 'a' }, secret, { algorithm: 'HS256' }))).toBeUndefined();
  });

  it('refuses a token signed with another secret', () => {
    expect(authority.verify(new TokenAuthority(generateSecret()).issue('a', 60))).toBeUndefined();
  });

  it('refuses a tampered token', () => {
    const [header, , signature] = authority.issue('alice', 60).split('.');
    const forged = `${header}.${base64url({ sub: 'admin', exp: future() })}.${signature}`;
    expect(authority.verify(forged)).toBeUndefined();
  });

  it('refuses alg none', () => {
    const token = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ sub: 'a', exp: future() })}.`;
    expect(authority.verify(token)).toBeUndefined();
  });

  it('refuses other algorithms even with the right secret (HS384, HS512)', () => {
    for (const algorithm of ['HS384', 'HS512'] as const) {
      expect(authority.verify(jwt.sign({ sub: 'a', exp: future() }, secret, { algorithm }))).toBeUndefined();
    }
  });

  it('refuses an RS256 token (no key confusion)', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(authority.verify(jwt.sign({ sub: 'a', exp: future() }, privateKey, { algorithm: 'RS256' }))).toBeUndefined();
  });

  it('refuses garbage', () => {
    for (const token of ['', 'abc', 'a.b.c', '....', 'eyJ.eyJ.x']) expect(authority.verify(token)).toBeUndefined();
  });
});

describe('bearerToken', () => {
  it('takes the token out of a Bearer header, whatever the scheme case', () => {
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerToken('bearer abc')).toBe('abc');
  });

  it('takes the bare token too, as the original server did', () => {
    expect(bearerToken('eyJh.eyJz.sig')).toBe('eyJh.eyJz.sig');
    expect(bearerToken('bearer eyJh.eyJz.sig')).toBe('eyJh.eyJz.sig');
  });

  it('finds nothing in other schemes or malformed headers', () => {
    for (const header of [undefined, '', 'Basic dXNlcjpwYXNz', 'Bearer', 'Bearer a b', 'Token abc'])
      expect(bearerToken(header)).toBeUndefined();
  });
});

describe('parseDuration', () => {
  it('reads seconds, minutes, hours, days, weeks and years', () => {
    expect(parseDuration('90')).toBe(90);
    expect(parseDuration('90s')).toBe(90);
    expect(parseDuration('15m')).toBe(900);
    expect(parseDuration('12h')).toBe(43_200);
    expect(parseDuration('30d')).toBe(2_592_000);
    expect(parseDuration('1w')).toBe(604_800);
    expect(parseDuration('1y')).toBe(31_536_000);
  });

  it('refuses anything else', () => {
    for (const text of ['', '0', '-1h', '1.5h', 'soon', '1 fortnight']) expect(parseDuration(text)).toBeUndefined();
  });
});

describe('TokenAuthority cache', () => {
  it('still refuses a cached token once it expires beyond the leeway, on time', () => {
    let now = Date.parse('2026-11-26T12:00:00Z');
    const clocked = new TokenAuthority({ secret, rules: { clockSkewSeconds: 5 } }, () => now);
    const token = clocked.issue('alice', 60);
    expect(clocked.verify(token)?.subject).toBe('alice');
    now += 64_999;
    expect(clocked.verify(token)?.subject).toBe('alice');
    now += 1;
    expect(clocked.verify(token)).toBeUndefined();
    expect(clocked.verify(token)).toBeUndefined();
  });

  it('never caches a refused token into acceptance', () => {
    const [header, payload] = authority.issue('alice', 60).split('.');
    const forged = `${header}.${payload}.AAAA`;
    expect(authority.verify(forged)).toBeUndefined();
    expect(authority.verify(forged)).toBeUndefined();
  });

  it('returns the same principal for a reused token without verifying it again', () => {
    const token = authority.issue('bob', 60, { scope: 'read', prefix: 'b/' });
    const first = authority.verify(token);
    expect(first).toMatchObject({ subject: 'bob', scope: 'read', prefix: 'b/' });
    expect(authority.verify(token)).toBe(first);
  });
});

/** RFC 8725 hardening: pinned algorithms per key, exp/nbf/iss/aud, identity providers' keys. */
describe('TokenAuthority hardening', () => {
  const T0 = Date.parse('2026-11-26T12:00:00Z');
  const s0 = T0 / 1000;
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ec2 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rsaPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const dir = tempDir();
  const pemFile = path.join(dir, 'idp.pem');
  const jwksFile = path.join(dir, 'jwks.json');
  writeFileSync(pemFile, rsaPem);
  writeFileSync(
    jwksFile,
    JSON.stringify({
      keys: [
        { ...ec.publicKey.export({ format: 'jwk' }), kid: 'ec-1', use: 'sig', alg: 'ES256' },
        { ...ec2.publicKey.export({ format: 'jwk' }), kid: 'ec-2' },
      ],
    }),
  );
  const settings: AuthSettings = {
    secret,
    requireExp: true,
    issuer: '',
    audience: '',
    clockSkewSeconds: 30,
    publicKeyFile: pemFile,
    jwksFile,
  };
  const at = (now: number, overrides: Partial<typeof settings> = {}) =>
    TokenAuthority.fromConfig({ ...settings, ...overrides }, () => now);
  const idp = at(T0);
  const claims = (extra: object = {}) => ({ sub: 'user-7', scope: 'lucid:write', exp: s0 + 600, ...extra });
  const rs256 = (extra?: object, options: jwt.SignOptions = {}) =>
    jwt.sign(claims(extra), rsa.privateKey, { algorithm: 'RS256', ...options });
  const es256 = (kid: string | undefined, key = ec.privateKey, extra?: object) =>
    jwt.sign(claims(extra), key, { algorithm: 'ES256', ...(kid !== undefined && { keyid: kid }) });
  const hs256 = (extra?: object) => jwt.sign({ sub: 'a', exp: s0 + 600, ...extra }, secret, { algorithm: 'HS256' });

  it('verifies RS256 with the PEM public key and reads sub, scope and prefix', () => {
    expect(idp.verify(rs256({ prefix: 'team/' }))).toMatchObject({
      subject: 'user-7',
      scope: 'write',
      prefix: 'team/',
      expiresAt: (s0 + 600) * 1000,
    });
  });

  it('verifies ES256 with the JWKS key its kid names, and refuses an unknown kid or the wrong key for a kid', () => {
    expect(idp.verify(es256('ec-1'))?.subject).toBe('user-7');
    expect(idp.verify(es256('ec-2', ec2.privateKey))?.subject).toBe('user-7');
    expect(idp.verify(es256('ec-3'))).toBeUndefined();
    expect(idp.verify(es256('ec-2', ec.privateKey))).toBeUndefined();
    // Several ES256 keys and no kid: ambiguous, refused.
    expect(idp.verify(es256(undefined))).toBeUndefined();
  });

  it('with a JWKS configured, refuses a token whose kid names none of its keys, even one the PEM key signed', () => {
    expect(idp.verify(rs256({}, { keyid: 'rsa-unknown' }))).toBeUndefined();
    expect(idp.verify(rs256({}, { keyid: 'ec-1' }))).toBeUndefined();
    expect(idp.verify(rs256())?.subject).toBe('user-7');
  });

  it('without a JWKS, verifies tokens of the PEM key algorithm whatever their kid (a PEM key has none to compare)', () => {
    const pemOnly = at(T0, { jwksFile: '' });
    expect(pemOnly.verify(rs256({}, { keyid: 'any-kid' }))?.subject).toBe('user-7');
    expect(pemOnly.verify(rs256())?.subject).toBe('user-7');
    expect(pemOnly.verify(es256('ec-1'))).toBeUndefined();
  });

  it('keeps verifying its own HS256 tokens next to the identity provider', () => {
    expect(idp.verify(idp.issue('root', 60, { scope: 'admin' }))).toMatchObject({ subject: 'root', scope: 'admin' });
  });

  it('refuses HS/RS key confusion: an HS256 token whose HMAC key is the RSA public key PEM', () => {
    const header = base64url({ alg: 'HS256', typ: 'JWT' });
    const payload = base64url(claims({ scope: 'admin' }));
    const signature = createHmac('sha256', rsaPem).update(`${header}.${payload}`).digest('base64url');
    const forged = `${header}.${payload}.${signature}`;
    expect(idp.verify(forged)).toBeUndefined();
    // Nor with an authority that has no secret: the PEM key never verifies an HMAC.
    const keysOnly = new TokenAuthority(
      { secret: '', publicKeys: loadVerificationKeys({ publicKeyFile: pemFile, jwksFile: '' }) },
      () => T0,
    );
    expect(keysOnly.verify(forged)).toBeUndefined();
    expect(keysOnly.verify(rs256())?.subject).toBe('user-7');
  });

  it('refuses a token whose alg names another family than its key (RS256 header on an ES256 signature, ES256 header on RSA)', () => {
    const [, payload, signature] = es256('ec-1').split('.');
    expect(
      idp.verify(`${base64url({ alg: 'RS256', typ: 'JWT', kid: 'ec-1' })}.${payload}.${signature}`),
    ).toBeUndefined();
    const [, rsPayload, rsSignature] = rs256().split('.');
    expect(idp.verify(`${base64url({ alg: 'ES256', typ: 'JWT' })}.${rsPayload}.${rsSignature}`)).toBeUndefined();
  });

  it('refuses alg none, whatever its spelling, and other algorithms the keys could compute (RS512, PS256, ES384)', () => {
    for (const alg of ['none', 'None', 'NONE', 'nOnE'])
      expect(idp.verify(`${base64url({ alg, typ: 'JWT' })}.${base64url(claims())}.`)).toBeUndefined();
    for (const algorithm of ['RS512', 'PS256'] as const)
      expect(idp.verify(jwt.sign(claims(), rsa.privateKey, { algorithm }))).toBeUndefined();
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    expect(idp.verify(jwt.sign(claims(), p384.privateKey, { algorithm: 'ES384' }))).toBeUndefined();
  });

  it('refuses a tampered RS256 signature or payload', () => {
    const [header, payload, signature] = rs256().split('.');
    const flipped = `${signature!.slice(0, 10)}${signature![10] === 'A' ? 'B' : 'A'}${signature!.slice(11)}`;
    expect(idp.verify(`${header}.${payload}.${flipped}`)).toBeUndefined();
    expect(idp.verify(`${header}.${base64url(claims({ scope: 'admin' }))}.${signature}`)).toBeUndefined();
  });

  it('refuses a token without exp, unless the config allows it (then it never expires)', () => {
    const noExp = (key: 'hs' | 'rs') =>
      key === 'hs'
        ? jwt.sign({ sub: 'a' }, secret, { algorithm: 'HS256' })
        : jwt.sign({ sub: 'b', scope: 'read' }, rsa.privateKey, { algorithm: 'RS256' });
    expect(idp.verify(noExp('hs'))).toBeUndefined();
    expect(idp.verify(noExp('rs'))).toBeUndefined();
    const lenient = at(T0, { requireExp: false });
    expect(lenient.verify(noExp('hs'))).toMatchObject({ subject: 'a', expiresAt: Number.POSITIVE_INFINITY });
    expect(lenient.verify(noExp('rs'))).toMatchObject({ subject: 'b', scope: 'read' });
    // Allowing no exp does not allow an expired one.
    expect(lenient.verify(hs256({ exp: s0 - 31 }))).toBeUndefined();
  });

  it('accepts a token expired within the leeway and refuses one expired beyond it', () => {
    const token = rs256({ exp: s0 });
    expect(at(T0 + 29_999).verify(token)?.subject).toBe('user-7');
    expect(at(T0 + 30_000).verify(token)).toBeUndefined();
    expect(at(T0 + 1, { clockSkewSeconds: 0 }).verify(token)).toBeUndefined();
  });

  it('refuses a token whose nbf is in the future beyond the leeway, and accepts it within', () => {
    expect(idp.verify(rs256({ nbf: s0 + 31 }))).toBeUndefined();
    expect(idp.verify(rs256({ nbf: s0 + 30 }))?.subject).toBe('user-7');
    expect(at(T0, { clockSkewSeconds: 0 }).verify(rs256({ nbf: s0 + 1 }))).toBeUndefined();
  });

  it('caches a token only within its nbf..exp window (leeway included), keyed by the whole token', () => {
    let now = T0;
    const clocked = TokenAuthority.fromConfig({ ...settings, clockSkewSeconds: 10 }, () => now);
    const token = rs256({ nbf: s0 - 5, exp: s0 + 60 });
    expect(clocked.verify(token)?.subject).toBe('user-7');
    now = T0 - 15_001; // the clock stepped back before nbf - leeway: the cached token is not valid then
    expect(clocked.verify(token)).toBeUndefined();
    now = T0 + 69_999;
    expect(clocked.verify(token)?.subject).toBe('user-7');
    // Same header and claims, another signature: not the cached token, so verified and refused.
    const [header, payload] = token.split('.');
    expect(clocked.verify(`${header}.${payload}.${rs256().split('.')[2]}`)).toBeUndefined();
    now = T0 + 70_000;
    expect(clocked.verify(token)).toBeUndefined();
  });

  it('checks iss and aud when configured, and stamps them into the tokens it issues', () => {
    const strict = at(T0, { issuer: ['https://idp.example', 'lucid'], audience: 'lucid-api' });
    expect(strict.verify(rs256({ iss: 'https://idp.example', aud: 'lucid-api' }))?.subject).toBe('user-7');
    expect(strict.verify(rs256({ iss: 'https://idp.example', aud: ['other', 'lucid-api'] }))?.subject).toBe('user-7');
    expect(strict.verify(rs256({ iss: 'https://evil.example', aud: 'lucid-api' }))).toBeUndefined();
    expect(strict.verify(rs256({ iss: 'https://idp.example', aud: 'another-api' }))).toBeUndefined();
    expect(strict.verify(rs256({ aud: 'lucid-api' }))).toBeUndefined();
    expect(strict.verify(rs256({ iss: 'https://idp.example' }))).toBeUndefined();
    const own = strict.issue('root', 60);
    expect(jwt.decode(own)).toMatchObject({ iss: 'https://idp.example', aud: 'lucid-api' });
    expect(strict.verify(own)?.subject).toBe('root');
    // A token minted before iss/aud were configured is refused once they are.
    expect(strict.verify(hs256())).toBeUndefined();
  });

  it('maps the scope claim: one word or OAuth space-separated, bare or lucid:-prefixed, widest wins', () => {
    expect(idp.verify(rs256({ scope: 'openid profile lucid:read' }))?.scope).toBe('read');
    expect(idp.verify(rs256({ scope: 'read lucid:admin email' }))?.scope).toBe('admin');
    expect(idp.verify(rs256({ scope: 'write' }))?.scope).toBe('write');
    expect(idp.verify(rs256({ scope: 'openid profile' }))).toBeUndefined();
    expect(idp.verify(rs256({ scope: ['lucid:admin'] }))).toBeUndefined();
    expect(scopeOf(undefined, false)).toBe('write');
    expect(scopeOf(undefined, true)).toBeUndefined();
  });

  it('refuses an identity provider token without a scope or without a sub', () => {
    expect(idp.verify(jwt.sign({ sub: 'x', exp: s0 + 60 }, rsa.privateKey, { algorithm: 'RS256' }))).toBeUndefined();
    expect(
      idp.verify(jwt.sign({ scope: 'lucid:read', exp: s0 + 60 }, rsa.privateKey, { algorithm: 'RS256' })),
    ).toBeUndefined();
  });

  it('refuses a token with a critical header extension', () => {
    expect(idp.verify(rs256({}, { header: { alg: 'RS256', crit: ['exp'] } as jwt.JwtHeader }))).toBeUndefined();
  });

  it('refuses a huge token at once, and garbage base64 or JSON in any part', () => {
    const huge = `${base64url({ alg: 'RS256', typ: 'JWT', pad: 'x'.repeat(20_000) })}.${base64url(claims())}.AAAA`;
    const started = performance.now();
    for (let i = 0; i < 1000; i += 1) expect(idp.verify(huge)).toBeUndefined();
    expect(performance.now() - started).toBeLessThan(200);
    const garbage = [
      '!!!.@@@.###',
      `${Buffer.from('not json').toString('base64url')}.${base64url(claims())}.x`,
      `${base64url({ alg: 'RS256' })}.${Buffer.from('{"sub":').toString('base64url')}.x`,
      `${base64url({ alg: 'RS256' })}.${base64url(claims())}`,
      `${Buffer.from('"RS256"').toString('base64url')}.${base64url(claims())}.x`,
      `${base64url({ alg: 'RS256', kid: 42 })}.${base64url(claims())}.x`,
      `${base64url({ alg: ['RS256'] })}.${base64url(claims())}.x`,
      '\u0000.\u0000.\u0000',
    ];
    for (const token of garbage) expect(idp.verify(token), token).toBeUndefined();
  });
});

describe('loadVerificationKeys', () => {
  const dir = tempDir();
  const write = (name: string, content: string | object) => {
    const file = path.join(dir, name);
    writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
    return file;
  };
  const pem = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }).toString();
  const jwk = (key: KeyObject, extra: object = {}) => ({ ...key.export({ format: 'jwk' }), ...extra });

  it('pins RS256 to RSA keys and ES256 to P-256 keys', () => {
    const rsaKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    const ecKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    const keys = loadVerificationKeys({
      publicKeyFile: write('rsa.pem', pem(rsaKey)),
      jwksFile: write('one.json', { keys: [jwk(ecKey)] }),
    });
    expect(keys.map((key) => key.algorithm)).toEqual(['RS256', 'ES256']);
  });

  it('stops start-up with a clear message for keys it cannot use safely', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    const ed = generateKeyPairSync('ed25519').publicKey;
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey;
    const ecPair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const none = { publicKeyFile: '', jwksFile: '' };
    const cases: Array<[Partial<typeof none>, RegExp]> = [
      [{ publicKeyFile: write('small.pem', pem(small)) }, /at least 2048 bits/],
      [{ publicKeyFile: write('ed.pem', pem(ed)) }, /only RSA \(RS256\) and P-256 EC \(ES256\)/],
      [{ publicKeyFile: write('p384.pem', pem(p384)) }, /not ec secp384r1/],
      [{ publicKeyFile: write('junk.pem', 'not a key') }, /holds no PEM public key/],
      [{ publicKeyFile: path.join(dir, 'absent.pem') }, /Cannot read auth.publicKeyFile/],
      [{ jwksFile: write('bad.json', '{"keys": [') }, /not valid JSON/],
      [{ jwksFile: write('empty.json', { keys: [] }) }, /must be a JWKS document/],
      [
        { jwksFile: write('alg.json', { keys: [jwk(ecPair.publicKey, { alg: 'RS256' })] }) },
        /alg is "RS256" but the key can only verify ES256/,
      ],
      [{ jwksFile: write('use.json', { keys: [jwk(ecPair.publicKey, { use: 'enc' })] }) }, /use is "enc"/],
      [
        { jwksFile: write('private.json', { keys: [ecPair.privateKey.export({ format: 'jwk' })] }) },
        /is a private key/,
      ],
      [
        { jwksFile: write('nokid.json', { keys: [jwk(ecPair.publicKey, { kid: 'a' }), jwk(ecPair.publicKey)] }) },
        /has no kid/,
      ],
      [
        {
          jwksFile: write('dupe.json', {
            keys: [jwk(ecPair.publicKey, { kid: 'a' }), jwk(ecPair.publicKey, { kid: 'a' })],
          }),
        },
        /kid "a" is used twice/,
      ],
    ];
    for (const [files, message] of cases) {
      expect(() => loadVerificationKeys({ ...none, ...files }), String(message)).toThrow(ConfigError);
      expect(() => loadVerificationKeys({ ...none, ...files }), String(message)).toThrow(message);
    }
  });
});
