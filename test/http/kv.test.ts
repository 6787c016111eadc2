/** Every documented response of every operation, against a real server on port 0 with a real SQLite file. */
import http from 'node:http';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecret } from '../../src/auth.js';
import { keyPath, keyRequests, manualClock } from '../support/helpers.js';
import { startLucid, uniqueKey, type TestLucid } from '../support/lucid.js';

const LIMIT = 64 * 1024;
let lucid: TestLucid;
// The server's clock moves only when a test moves it: expiry is tested on the rule, not on a timer.
const time = manualClock();
beforeAll(async () => {
  lucid = await startLucid({ config: { limits: { maxValueBytes: LIMIT } }, clock: time.clock });
});
afterAll(() => lucid.close());

const { put, patch, get, head, del } = keyRequests(() => lucid);

async function expectMessage(response: Response, status: number, message: string | RegExp) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
  const body = (await response.json()) as { message: string };
  if (typeof message === 'string') expect(body.message).toBe(message);
  else expect(body.message).toMatch(message);
}

/**
 * A PUT whose body goes out with `Transfer-Encoding: chunked` and no Content-Length (as a client
 * streaming a value of unknown size sends it), in 4 KiB chunks, so that the server can only find
 * the size by counting.
 */
function putChunked(
  key: string,
  value: Buffer,
): Promise<{ status: number; contentType: string | undefined; body: unknown }> {
  return new Promise((resolve, reject) => {
    const headers = {
      authorization: `Bearer ${lucid.token}`,
      'content-type': 'application/octet-stream',
      'transfer-encoding': 'chunked',
    };
    const request = http.request(`${lucid.url}${keyPath(key)}`, { method: 'PUT', headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({
          status: response.statusCode!,
          contentType: response.headers['content-type'],
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
        }),
      );
    });
    request.on('error', reject);
    expect(request.getHeader('content-length')).toBeUndefined();
    for (let offset = 0; offset < value.length; offset += 4096) request.write(value.subarray(offset, offset + 4096));
    request.end();
  });
}

async function seeded(value = 'hello world', contentType = 'text/plain') {
  const key = uniqueKey();
  expect((await put(key, value, { contentType })).status).toBe(201);
  return key;
}

describe('putKey', () => {
  it('answers 201 with the docs message when the key is new, then 200 when it is replaced', async () => {
    const key = uniqueKey();
    await expectMessage(await put(key, 'one'), 201, 'The specified key was successfully created.');
    await expectMessage(await put(key, 'two'), 200, 'The specified key was successfully updated.');
    expect(await (await get(key)).text()).toBe('two');
  });

  it('returns 400 for an empty body', async () => {
    await expectMessage(await put(uniqueKey(), ''), 400, 'The request body must not be empty.');
  });

  it('returns 413 for a value over the limit', async () => {
    const key = uniqueKey();
    await expectMessage(
      await put(key, new Uint8Array(64 * 1024 + 1), { contentType: 'application/octet-stream' }),
      413,
      /larger than the limit of 65536 bytes/,
    );
    expect((await get(key)).status).toBe(404);
    expect((await put(key, new Uint8Array(64 * 1024), { contentType: 'application/octet-stream' })).status).toBe(201);
  });

  it('holds a chunked body with no Content-Length to the same limit: 201 at exactly it, 413 at one byte more', async () => {
    const key = uniqueKey();
    const over = await putChunked(key, Buffer.alloc(LIMIT + 1, 1));
    expect([over.status, over.contentType, over.body]).toEqual([
      413,
      'application/json; charset=utf-8',
      { message: `The value is larger than the limit of ${LIMIT} bytes.` },
    ]);
    expect((await get(key)).status).toBe(404);
    expect((await putChunked(key, Buffer.alloc(LIMIT, 2))).status).toBe(201);
    expect((await get(key)).headers.get('content-length')).toBe(String(LIMIT));
  });

  it('returns 409 with the docs message when the key is locked, and keeps the value', async () => {
    const key = await seeded('kept');
    expect((await patch(key, { operation: 'lock' })).status).toBe(200);
    await expectMessage(await put(key, 'changed'), 409, 'The specified key cannot be updated.');
    expect(await (await get(key)).text()).toBe('kept');
  });

  it('returns 400 for a key longer than 512 characters, and accepts 512', async () => {
    await expectMessage(await put('k'.repeat(513), 'x'), 400, /key must NOT have more than 512 characters/);
    expect((await put('k'.repeat(512), 'x')).status).toBe(201);
  });

  it('lets exactly one of 30 concurrent creates of a new key get 201', async () => {
    const key = uniqueKey();
    const statuses = await Promise.all(Array.from({ length: 30 }, (_, i) => put(key, `v${i}`).then((r) => r.status)));
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(29);
  });

  it('stores keys with slashes, spaces and unicode when percent-encoded', async () => {
    for (const key of ['a/b/c', 'with space', 'ключ', 'emoji-🔑', '%literal']) {
      expect((await put(key, key)).status).toBe(201);
      expect(await (await get(key)).text()).toBe(key);
    }
  });
});

describe('getKey', () => {
  it('returns the exact bytes with the Content-Type given at PUT, unchanged', async () => {
    const key = uniqueKey();
    const bytes = new Uint8Array(1024).map((_, i) => (i * 31) % 256);
    await put(key, bytes, { contentType: 'application/vnd.lucid.test+binary; version=2' });
    const response = await get(key);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/vnd.lucid.test+binary; version=2');
    expect(response.headers.get('content-length')).toBe('1024');
    expect(Buffer.compare(Buffer.from(await response.arrayBuffer()), Buffer.from(bytes))).toBe(0);
  });

  it('does not add a charset to a text type', async () => {
    const key = await seeded('plain', 'text/plain');
    expect((await get(key)).headers.get('content-type')).toBe('text/plain');
  });

  it('sniffs a content type when none was given', async () => {
    const png = Buffer.from(
      '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201a0d3d1d20000000049454e44ae426082',
      'hex',
    );
    const cases: Array<[Buffer, string]> = [
      [png, 'image/png'],
      [Buffer.from('just some text'), 'text/plain; charset=utf-8'],
      [Buffer.from('{"a": 1}'), 'application/json'],
      [Buffer.from([0, 1, 2, 3, 0xff, 0xfe]), 'application/octet-stream'],
    ];
    for (const [bytes, expected] of cases) {
      const key = uniqueKey();
      expect((await put(key, new Uint8Array(bytes), { contentType: null })).status).toBe(201);
      expect((await get(key)).headers.get('content-type')).toBe(expected);
    }
  });

  it('sends a strong ETag and Last-Modified that change on every write', async () => {
    const key = await seeded('one');
    const first = await get(key);
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[^"]+"$/);
    expect(new Date(first.headers.get('last-modified')!).getTime()).toBeGreaterThan(Date.now() - 60_000);
    const seen = new Set([etag]);
    await put(key, 'one');
    seen.add((await get(key)).headers.get('etag')!);
    await patch(key, { operation: 'lock' });
    seen.add((await get(key)).headers.get('etag')!);
    await patch(key, { operation: 'unlock' });
    seen.add((await get(key)).headers.get('etag')!);
    expect(seen.size).toBe(4);
  });

  it('returns 404 with the docs message, typo included, for a missing key', async () => {
    await expectMessage(await get(uniqueKey()), 404, 'The specified key does not exists.');
  });
});

describe('headKey', () => {
  it('returns the same headers as GET, the value length, and no body', async () => {
    const key = await seeded('hello world', 'text/markdown');
    const [getResponse, headResponse] = [await get(key), await head(key)];
    expect(headResponse.status).toBe(200);
    for (const header of ['content-type', 'content-length', 'etag', 'last-modified']) {
      expect(headResponse.headers.get(header)).toBe(getResponse.headers.get(header));
    }
    expect(headResponse.headers.get('content-length')).toBe('11');
    expect((await headResponse.arrayBuffer()).byteLength).toBe(0);
  });

  it('returns 404 for a missing key', async () => {
    expect((await head(uniqueKey())).status).toBe(404);
  });
});

describe('deleteKey', () => {
  it('deletes a key, which then is 404', async () => {
    const key = await seeded();
    await expectMessage(await del(key), 200, 'The specified key was successfully deleted.');
    expect((await get(key)).status).toBe(404);
  });

  it('returns 404 for a missing key and 409 for a locked one', async () => {
    await expectMessage(await del(uniqueKey()), 404, 'The specified key does not exists.');
    const key = await seeded();
    await patch(key, { operation: 'lock' });
    await expectMessage(await del(key), 409, 'The specified key cannot be updated.');
    expect((await get(key)).status).toBe(200);
  });
});

describe('patchKey', () => {
  it('locks and unlocks, refusing to repeat either', async () => {
    const key = await seeded();
    await expectMessage(await patch(key, { operation: 'lock' }), 200, 'The specified key was successfully locked.');
    await expectMessage(await patch(key, { operation: 'lock' }), 409, 'The specified key is already locked.');
    await expectMessage(await patch(key, { operation: 'unlock' }), 200, 'The specified key was successfully unlocked.');
    await expectMessage(await patch(key, { operation: 'unlock' }), 409, 'The specified key is not locked.');
  });

  it('increments and decrements by 1 or by value, and answers the new value', async () => {
    const key = await seeded('41');
    expect(await (await patch(key, { operation: 'increment' })).json()).toEqual({
      message: 'The specified key was successfully incremented.',
      value: 42,
    });
    expect(await (await patch(key, { operation: 'decrement', value: 50 })).json()).toEqual({
      message: 'The specified key was successfully decremented.',
      value: -8,
    });
    expect(await (await get(key)).text()).toBe('-8');
  });

  it('ends 200 concurrent increments over HTTP exactly 200 higher', async () => {
    const key = await seeded('0');
    const statuses = await Promise.all(
      Array.from({ length: 200 }, () => patch(key, { operation: 'increment' }).then((r) => r.status)),
    );
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(await (await get(key)).text()).toBe('200');
  });

  it('returns 400 when the stored value is not a number', async () => {
    await expectMessage(
      await patch(await seeded('forty-one'), { operation: 'increment' }),
      400,
      'The stored value is not a number.',
    );
  });

  it('returns 400 for malformed JSON, an unknown operation, a missing operation, a non-numeric value, and no body', async () => {
    const key = await seeded('1');
    const fix = 'send Content-Type: application/json with a body like {"operation":"unlock"}.';
    await expectMessage(await patch(key, '{"operation":'), 400, `The request body is not valid JSON: ${fix}`);
    await expectMessage(
      await patch(key, { operation: 'explode' }),
      400,
      /operation must be equal to one of the allowed values: lock, unlock, increment, decrement, ttl/,
    );
    await expectMessage(await patch(key, { value: 1 }), 400, /must have required property 'operation'/);
    await expectMessage(await patch(key, { operation: 'increment', value: 'one' }), 400, /value must be number/);
    await expectMessage(
      await lucid.request(`/api/kv/${key}`, { method: 'PATCH' }),
      400,
      `The request body is missing: ${fix}`,
    );
    expect(await (await get(key)).text()).toBe('1');
  });

  it('returns 404 for a missing key', async () => {
    await expectMessage(await patch(uniqueKey(), { operation: 'lock' }), 404, 'The specified key does not exists.');
  });

  it('refuses increment, decrement and ttl on a locked key with 409', async () => {
    const key = await seeded('5');
    await patch(key, { operation: 'lock' });
    for (const body of [{ operation: 'increment' }, { operation: 'decrement' }, { operation: 'ttl', value: 5 }]) {
      await expectMessage(await patch(key, body), 409, 'The specified key cannot be updated.');
    }
    expect(await (await get(key)).text()).toBe('5');
  });

  it('expires a key after its ttl, for every operation, and ttl 0 removes the expiry', async () => {
    const key = await seeded('soon gone');
    const response = await patch(key, { operation: 'ttl', value: 1 });
    expect(response.status).toBe(200);
    expect(Date.parse(((await response.json()) as { expiresAt: string }).expiresAt)).toBe(time.now() + 1000);
    const kept = await seeded('kept');
    await patch(kept, { operation: 'ttl', value: 1 });
    expect(await (await patch(kept, { operation: 'ttl', value: 0 })).json()).toMatchObject({ expiresAt: null });
    time.advance(1000);
    expect((await get(key)).status).toBe(404);
    expect((await head(key)).status).toBe(404);
    expect((await patch(key, { operation: 'lock' })).status).toBe(404);
    expect((await del(key)).status).toBe(404);
    expect((await get(kept)).status).toBe(200);
  });

  it('returns 400 for a ttl that is not whole seconds', async () => {
    const key = await seeded();
    await expectMessage(await patch(key, { operation: 'ttl', value: 1.5 }), 400, /whole number of seconds/);
    await expectMessage(await patch(key, { operation: 'ttl' }), 400, /whole number of seconds/);
    await expectMessage(await patch(key, { operation: 'ttl', value: -3 }), 400, /whole number of seconds/);
  });
});

describe('authentication', () => {
  const badTokens = (): Record<string, string | undefined> => {
    const now = Math.floor(time.now() / 1000); // the server's clock
    const [header, , signature] = lucid.token.split('.');
    const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    return {
      missing: undefined,
      malformed: 'Bearer not-a-jwt',
      'not bearer': `Basic ${Buffer.from('a:b').toString('base64')}`,
      // Beyond the 30 s clock-skew leeway (auth.clockSkewSeconds).
      expired: `Bearer ${jwt.sign({ sub: 'a', exp: now - 31 }, lucid.config.auth.secret, { algorithm: 'HS256' })}`,
      tampered: `Bearer ${header}.${b64({ sub: 'admin', exp: now + 999 })}.${signature}`,
      'wrongly signed': `Bearer ${jwt.sign({ sub: 'a', exp: now + 60 }, generateSecret(), { algorithm: 'HS256' })}`,
      'alg none': `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'a', exp: now + 60 })}.`,
    };
  };

  it('answers 401 with the docs message and WWW-Authenticate: Bearer on every operation for every bad token', async () => {
    const key = await seeded();
    const calls: Array<[string, RequestInit]> = [
      ['PUT', { method: 'PUT', body: 'x', headers: { 'content-type': 'text/plain' } }],
      ['GET', { method: 'GET' }],
      ['HEAD', { method: 'HEAD' }],
      ['DELETE', { method: 'DELETE' }],
      ['PATCH', { method: 'PATCH', body: '{"operation":"lock"}', headers: { 'content-type': 'application/json' } }],
    ];
    for (const [kind, authorization] of Object.entries(badTokens())) {
      for (const [method, init] of calls) {
        const headers = new Headers(init.headers);
        headers.set('authorization', authorization ?? '');
        if (authorization === undefined) headers.delete('authorization');
        const response = await fetch(`${lucid.url}/api/kv/${key}`, { ...init, headers });
        expect(response.status, `${method} with a ${kind} token`).toBe(401);
        expect(response.headers.get('www-authenticate'), `${method} with a ${kind} token`).toMatch(/^Bearer/);
        if (method !== 'HEAD')
          expect(await response.json()).toEqual({ message: 'You are not allowed to perform this action.' });
      }
    }
    expect(await (await get(key)).text()).toBe('hello world');
  });
});

describe('routing', () => {
  it('answers GET /health without a token', async () => {
    const response = await fetch(`${lucid.url}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ok' });
  });

  it('answers 404 JSON for an unknown path', async () => {
    await expectMessage(await lucid.request('/api/nothing/here'), 404, 'There is nothing at this path.');
    await expectMessage(await lucid.request('/nothing'), 404, 'There is nothing at this path.');
    await expectMessage(await lucid.request('/ui/nothing'), 404, 'There is nothing at this path.');
  });

  it('answers 405 JSON with an Allow header for a wrong method', async () => {
    const response = await lucid.request('/api/kv/some-key', { method: 'POST', body: 'x' });
    expect(response.headers.get('allow')).toBe('GET, HEAD, PUT, PATCH, DELETE');
    await expectMessage(response, 405, 'This method is not allowed on this path.');
    const health = await fetch(`${lucid.url}/health`, { method: 'DELETE' });
    expect(health.status).toBe(405);
    expect(health.headers.get('allow')).toBe('GET');
  });

  it('answers 400, not 500, for broken percent-encoding in the key', async () => {
    await expectMessage(await lucid.request('/api/kv/%E0%A4%A'), 400, /percent-encoding/);
  });

  it('names itself and its version in the Server header', async () => {
    expect((await fetch(`${lucid.url}/health`)).headers.get('server')).toMatch(/^Lucid\/\d+\.\d+\.\d+$/);
  });
});
