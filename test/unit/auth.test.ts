import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { TokenAuthority, bearerToken, generateSecret, parseDuration } from '../../src/auth.js';

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

  it('refuses an expired token', () => {
    const token = jwt.sign({ sub: 'a', exp: Math.floor(Date.now() / 1000) - 5 }, secret, { algorithm: 'HS256' });
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

  it('finds nothing in other schemes or malformed headers', () => {
    for (const header of [undefined, '', 'Basic dXNlcjpwYXNz', 'Bearer', 'Bearer a b', 'Token abc']) expect(bearerToken(header)).toBeUndefined();
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
  it('still refuses a cached token once it expires, on time', () => {
    let now = Date.parse('2026-11-26T12:00:00Z');
    const clocked = new TokenAuthority(secret, () => now);
    const token = clocked.issue('alice', 60);
    expect(clocked.verify(token)?.subject).toBe('alice');
    now += 59_999;
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
