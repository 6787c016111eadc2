/** Scoped and prefixed tokens, and revocation, against a real server. */
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scope } from '../../src/auth.js';
import { revokeToken } from '../../src/revocations.js';
import { keyPath, keyRequests, sleep } from '../support/helpers.js';
import { startLucid, uniqueKey, type TestLucid } from '../support/lucid.js';
import { openStream, type SseStream } from '../support/sse.js';

let lucid: TestLucid;
const streams: SseStream[] = [];
beforeAll(async () => {
  lucid = await startLucid();
});
afterAll(async () => {
  await Promise.all(streams.map((stream) => stream.close()));
  await lucid.close();
});

const FORBIDDEN_PREFIX = 'This token is not allowed to access this key.';

const token = (subject: string, limits: { scope?: Scope; prefix?: string } = {}) =>
  lucid.authority.issue(subject, 600, limits);
const as = (bearer: string) => ({ authorization: `Bearer ${bearer}` });
const { put, patch, get, head, del } = keyRequests(() => lucid);

/** Each operation on `key`, with `bearer`. */
function calls(bearer: string, key: string) {
  const bearing = { token: bearer };
  return {
    GET: () => get(key, bearing),
    HEAD: () => head(key, bearing),
    PUT: () => put(key, 'written', bearing),
    PATCH: () => patch(key, { operation: 'lock' }, bearing),
    DELETE: () => del(key, bearing),
  };
}

async function seeded(key = uniqueKey('scoped')): Promise<string> {
  const response = await put(key, 'original');
  expect(response.status).toBe(201);
  return key;
}

async function expect403(response: Response, message: string | RegExp, what: string) {
  expect(response.status, what).toBe(403);
  expect(response.headers.get('content-type'), what).toBe('application/json; charset=utf-8');
  const body = (await response.json()) as { message: string };
  if (typeof message === 'string') expect(body.message, what).toBe(message);
  else expect(body.message, what).toMatch(message);
}

async function listKeys(bearer: string, prefix?: string): Promise<Response> {
  return lucid.request(`/api/kv${prefix === undefined ? '' : `?${new URLSearchParams({ prefix })}`}`, {
    headers: as(bearer),
  });
}

describe('scope', () => {
  it('answers a read token 403 JSON on PUT, DELETE and PATCH, and changes nothing', async () => {
    const key = await seeded();
    const reader = calls(token('reader', { scope: 'read' }), key);
    for (const method of ['PUT', 'PATCH', 'DELETE'] as const) {
      await expect403(await reader[method](), /scope \(read\).*needs write/, method);
    }
    const after = await get(key);
    expect(await after.text()).toBe('original');
    expect(after.headers.get('lucid-lock-holder')).toBeNull();
  });

  it('answers a read token 403 on PUT of a missing key, and does not create it', async () => {
    const key = uniqueKey('scoped');
    await expect403(await calls(token('reader', { scope: 'read' }), key).PUT(), /scope/, 'PUT');
    expect((await get(key)).status).toBe(404);
  });

  it('lets a read token GET, HEAD and list', async () => {
    const key = await seeded();
    const reader = token('reader', { scope: 'read' });
    const { GET, HEAD } = calls(reader, key);
    const got = await GET();
    expect(got.status).toBe(200);
    expect(await got.text()).toBe('original');
    expect((await HEAD()).status).toBe(200);
    const listed = await listKeys(reader, key);
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { keys: Array<{ key: string }> }).keys.map((info) => info.key)).toEqual([key]);
  });

  it('lets a write token, an admin token and a token without a scope claim read and write', async () => {
    const secret = lucid.config.auth.secret;
    const noScope = jwt.sign({ sub: 'legacy', exp: Math.floor(Date.now() / 1000) + 600 }, secret, {
      algorithm: 'HS256',
    });
    expect(jwt.decode(noScope)).not.toHaveProperty('scope');
    for (const [kind, bearer] of [
      ['write', token('writer', { scope: 'write' })],
      ['admin', token('boss', { scope: 'admin' })],
      ['no scope', noScope],
    ] as const) {
      const key = uniqueKey('scoped');
      const call = calls(bearer, key);
      expect((await call.PUT()).status, `${kind} PUT`).toBe(201);
      expect((await call.GET()).status, `${kind} GET`).toBe(200);
      expect((await call.HEAD()).status, `${kind} HEAD`).toBe(200);
      expect((await call.PATCH()).status, `${kind} PATCH`).toBe(200);
      const unlock = await patch(key, { operation: 'unlock' }, { token: bearer });
      expect(unlock.status, `${kind} unlock`).toBe(200);
      expect((await call.DELETE()).status, `${kind} DELETE`).toBe(200);
      expect((await listKeys(bearer)).status, `${kind} list`).toBe(200);
    }
  });

  it('answers 401 for a token with a scope that does not exist', async () => {
    const bogus = jwt.sign(
      { sub: 'x', scope: 'root', exp: Math.floor(Date.now() / 1000) + 600 },
      lucid.config.auth.secret,
      { algorithm: 'HS256' },
    );
    expect((await calls(bogus, await seeded()).GET()).status).toBe(401);
  });
});

describe('prefix', () => {
  const teamA = () => token('team-a-bot', { prefix: 'team-a/' });

  it('answers 403 JSON for every operation on keys outside the prefix, and changes nothing', async () => {
    const bearer = teamA();
    for (const key of [
      await seeded(`team-b/${uniqueKey()}`),
      await seeded(`team-a-other/${uniqueKey()}`),
      await seeded(`team-a${uniqueKey()}`),
    ]) {
      const call = calls(bearer, key);
      for (const method of ['GET', 'PUT', 'PATCH', 'DELETE'] as const)
        await expect403(await call[method](), FORBIDDEN_PREFIX, `${method} ${key}`);
      expect((await call.HEAD()).status).toBe(403);
      expect(await (await get(key)).text()).toBe('original');
    }
  });

  it('allows every operation on keys inside the prefix, with the slash encoded or not', async () => {
    const bearer = teamA();
    const key = `team-a/${uniqueKey()}`;
    const call = calls(bearer, key);
    expect((await call.PUT()).status).toBe(201);
    expect((await call.GET()).status).toBe(200);
    expect((await call.HEAD()).status).toBe(200);
    const raw = await lucid.request(`/api/kv/${key}`, { headers: as(bearer) });
    expect(raw.status).toBe(200);
    expect(await raw.text()).toBe('written');
    expect((await call.PATCH()).status).toBe(200);
  });

  it('lists only keys inside the prefix, whatever prefix is asked for within it', async () => {
    const inside = [await seeded(`team-a/${uniqueKey('x')}`), await seeded(`team-a/${uniqueKey('y')}`)].sort();
    await seeded(`team-b/${uniqueKey()}`);
    await seeded(`team-${uniqueKey()}`);
    const bearer = teamA();
    for (const prefix of [undefined, '', 'team', 'team-a/']) {
      const response = await listKeys(bearer, prefix);
      expect(response.status, `prefix ${prefix}`).toBe(200);
      const keys = ((await response.json()) as { keys: Array<{ key: string }> }).keys.map((info) => info.key);
      expect(
        keys.every((key) => key.startsWith('team-a/')),
        `prefix ${prefix}: ${keys.join(', ')}`,
      ).toBe(true);
      for (const key of inside) expect(keys).toContain(key);
    }
    const narrower = await listKeys(bearer, inside[0]);
    expect(((await narrower.json()) as { keys: Array<{ key: string }> }).keys.map((info) => info.key)).toEqual([
      inside[0],
    ]);
  });

  it('answers 403 JSON to a listing or a stream with a prefix disjoint from the token prefix', async () => {
    const bearer = teamA();
    for (const prefix of ['team-b/', 'team-ab', 'z']) {
      await expect403(await listKeys(bearer, prefix), /limited to keys starting with "team-a\/"/, `list ${prefix}`);
      const stream = await fetch(`${lucid.url}/api/notifications?${new URLSearchParams({ prefix })}`, {
        headers: as(bearer),
      });
      await expect403(stream, /limited to keys starting with "team-a\/"/, `stream ${prefix}`);
    }
  });

  it('streams only changes to keys inside the prefix', async () => {
    const bearer = teamA();
    const stream = await openStream(`${lucid.url}/api/notifications`, as(bearer));
    streams.push(stream);
    expect(stream.response.status).toBe(200);
    await stream.until((blocks) => blocks.length > 0);
    const inside = `team-a/${uniqueKey('live')}`;
    await seeded(`team-b/${uniqueKey('live')}`);
    await seeded(`team-${uniqueKey('live')}`);
    await seeded(inside);
    await seeded(`team-b/${uniqueKey('live')}`);
    await stream.changesUntil(1);
    await sleep(100);
    expect(stream.changes().map((change) => change.key)).toEqual([inside]);
    await stream.close();
  });

  it('answers 401 for a missing or invalid token whatever prefix is asked for', async () => {
    const key = `team-a/${uniqueKey()}`;
    for (const headers of [{}, { authorization: 'Bearer nonsense' }] as Array<Record<string, string>>) {
      const response = await fetch(`${lucid.url}${keyPath(key)}`, { headers });
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({ message: 'You are not allowed to perform this action.' });
      expect((await fetch(`${lucid.url}/api/kv?prefix=team-a/`, { headers })).status).toBe(401);
    }
  });
});

describe('revocation', () => {
  it('answers 401 to a revoked token within 1.2 s, while other tokens keep working', async () => {
    const key = await seeded();
    const doomed = token('doomed');
    const other = token('doomed');
    expect((await calls(doomed, key).GET()).status).toBe(200);
    const { jti } = jwt.decode(doomed) as { jti: string };
    revokeToken(lucid.config.auth.revocationFile, jti);
    const revokedAt = Date.now();
    let status = 200;
    while (status !== 401 && Date.now() - revokedAt < 1200) {
      status = (await calls(doomed, key).GET()).status;
      if (status !== 401) await sleep(50);
    }
    expect(status).toBe(401);
    const response = await calls(doomed, key).PUT();
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/invalid_token/);
    const stream = await fetch(`${lucid.url}/api/notifications?token=${doomed}`);
    expect(stream.status).toBe(401);
    expect((await calls(other, key).GET()).status).toBe(200);
    expect((await calls(lucid.token, key).GET()).status).toBe(200);
  });
});
