/** Conditional requests (RFC 9110 ETag, If-Match, If-None-Match) and PUT ?ttl, against a real server. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyRequests, manualClock } from '../support/helpers.js';
import { startLucid, uniqueKey, type TestLucid } from '../support/lucid.js';

let lucid: TestLucid;
// The server's clock moves only when a test moves it: expiry is tested on the rule, not on a timer.
const time = manualClock();
beforeAll(async () => {
  lucid = await startLucid({ clock: time.clock });
});
afterAll(() => lucid.close());

const { put, patch, get, head, del } = keyRequests(() => lucid);
const STRONG_ETAG = /^"[^"]+"$/;

/** Creates a key and returns it with its ETag. */
async function seeded(value = 'original'): Promise<{ key: string; etag: string }> {
  const key = uniqueKey('cond');
  const response = await put(key, value);
  expect(response.status).toBe(201);
  return { key, etag: response.headers.get('etag')! };
}

async function expect412(response: Response, currentEtag: string | null) {
  expect(response.status).toBe(412);
  expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
  expect(response.headers.get('etag')).toBe(currentEtag);
  expect(await response.json()).toEqual({ message: 'The specified key does not match the precondition.' });
}

describe('ETag on every response about a key', () => {
  it('sends a strong ETag on PUT 201 and 200, PATCH 200, and GET and HEAD 200, always naming the current version', async () => {
    const key = uniqueKey('cond');
    const created = await put(key, '1');
    expect(created.status).toBe(201);
    const createdTag = created.headers.get('etag');
    expect(createdTag).toMatch(STRONG_ETAG);
    expect((await get(key)).headers.get('etag')).toBe(createdTag);

    const replaced = await put(key, '2');
    expect(replaced.status).toBe(200);
    const replacedTag = replaced.headers.get('etag');
    expect(replacedTag).toMatch(STRONG_ETAG);
    expect(replacedTag).not.toBe(createdTag);
    expect((await head(key)).headers.get('etag')).toBe(replacedTag);

    const incremented = await patch(key, { operation: 'increment' });
    expect(incremented.status).toBe(200);
    const patchedTag = incremented.headers.get('etag');
    expect(patchedTag).toMatch(STRONG_ETAG);
    expect(patchedTag).not.toBe(replacedTag);
    expect((await get(key)).headers.get('etag')).toBe(patchedTag);
    expect((await head(key)).headers.get('etag')).toBe(patchedTag);
  });

  it('gives a re-created key a new ETag, never the one it had before it was deleted', async () => {
    const { key, etag } = await seeded('same');
    expect((await del(key)).status).toBe(200);
    const again = await put(key, 'same');
    expect(again.status).toBe(201);
    expect(again.headers.get('etag')).not.toBe(etag);
  });
});

describe('If-Match', () => {
  it('returns 412 JSON with the current ETag when If-Match does not match a PUT, and changes nothing', async () => {
    const { key, etag } = await seeded();
    await expect412(await put(key, 'changed', { headers: { 'if-match': '"not-the-etag"' } }), etag);
    const after = await get(key);
    expect(await after.text()).toBe('original');
    expect(after.headers.get('etag')).toBe(etag);
  });

  it('returns 412 when If-Match does not match a DELETE, and keeps the key', async () => {
    const { key, etag } = await seeded();
    await expect412(await del(key, { headers: { 'if-match': '"stale"' } }), etag);
    expect((await get(key)).status).toBe(200);
  });

  it('returns 412 when If-Match does not match a PATCH, and does not apply the operation', async () => {
    const { key, etag } = await seeded('10');
    await expect412(await patch(key, { operation: 'increment' }, { headers: { 'if-match': '"stale"' } }), etag);
    await expect412(await patch(key, { operation: 'lock' }, { headers: { 'if-match': '"stale"' } }), etag);
    const after = await get(key);
    expect(await after.text()).toBe('10');
    expect(after.headers.get('lucid-lock-holder')).toBeNull();
  });

  it('applies PUT, PATCH and DELETE when If-Match names the current ETag', async () => {
    const { key, etag } = await seeded('1');
    const putResponse = await put(key, '5', { headers: { 'if-match': etag } });
    expect(putResponse.status).toBe(200);
    const afterPut = putResponse.headers.get('etag')!;
    const patchResponse = await patch(key, { operation: 'increment' }, { headers: { 'if-match': afterPut } });
    expect(patchResponse.status).toBe(200);
    expect(await patchResponse.json()).toMatchObject({ value: 6 });
    // The old ETag no longer matches once the key changed.
    await expect412(await del(key, { headers: { 'if-match': afterPut } }), patchResponse.headers.get('etag'));
    expect((await del(key, { headers: { 'if-match': patchResponse.headers.get('etag')! } })).status).toBe(200);
    expect((await get(key)).status).toBe(404);
  });

  it('matches when the current ETag is one of a list, or for If-Match: *', async () => {
    const { key, etag } = await seeded();
    const listed = await put(key, 'listed', { headers: { 'if-match': `"other", ${etag}, "another"` } });
    expect(listed.status).toBe(200);
    expect((await put(key, 'star', { headers: { 'if-match': '*' } })).status).toBe(200);
    expect(await (await get(key)).text()).toBe('star');
  });

  it('uses strong comparison: a weak tag never satisfies If-Match', async () => {
    const { key, etag } = await seeded();
    await expect412(await put(key, 'changed', { headers: { 'if-match': `W/${etag}` } }), etag);
    expect(await (await get(key)).text()).toBe('original');
  });

  it('returns 412 without an ETag when If-Match is given for a missing key, and does not create it', async () => {
    const key = uniqueKey('cond');
    await expect412(await put(key, 'new', { headers: { 'if-match': '"anything"' } }), null);
    await expect412(await put(key, 'new', { headers: { 'if-match': '*' } }), null);
    expect((await get(key)).status).toBe(404);
  });
});

describe('If-None-Match', () => {
  it('creates a missing key with If-None-Match: * (201)', async () => {
    const key = uniqueKey('cond');
    const response = await put(key, 'first', { headers: { 'if-none-match': '*' } });
    expect(response.status).toBe(201);
    expect(response.headers.get('etag')).toMatch(STRONG_ETAG);
    expect(await (await get(key)).text()).toBe('first');
  });

  it('returns 412 with the current ETag for PUT If-None-Match: * when the key exists, and keeps the value', async () => {
    const { key, etag } = await seeded();
    await expect412(await put(key, 'second', { headers: { 'if-none-match': '*' } }), etag);
    expect(await (await get(key)).text()).toBe('original');
  });

  it('lets exactly one of 20 concurrent create-only PUTs win', async () => {
    const key = uniqueKey('cond');
    const statuses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        put(key, `v${i}`, { headers: { 'if-none-match': '*' } }).then((r) => r.status),
      ),
    );
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 412)).toHaveLength(19);
  });

  it('answers GET and HEAD with 304, the ETag and no body when If-None-Match names the current ETag', async () => {
    const { key, etag } = await seeded();
    for (const request of [get, head]) {
      for (const header of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
        const response = await request(key, { headers: { 'if-none-match': header } });
        expect(response.status, `${request === get ? 'GET' : 'HEAD'} If-None-Match: ${header}`).toBe(304);
        expect(response.headers.get('etag')).toBe(etag);
        expect((await response.arrayBuffer()).byteLength).toBe(0);
      }
    }
  });

  it('answers GET and HEAD with 200 when If-None-Match does not name the current ETag', async () => {
    const { key, etag } = await seeded();
    await put(key, 'newer', { headers: { 'if-match': etag } });
    const response = await get(key, { headers: { 'if-none-match': etag } });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('newer');
    expect((await head(key, { headers: { 'if-none-match': '"other"' } })).status).toBe(200);
  });

  it('answers 404, not 304, for GET If-None-Match: * on a missing key', async () => {
    expect((await get(uniqueKey('cond'), { headers: { 'if-none-match': '*' } })).status).toBe(404);
  });
});

describe('compare-and-swap', () => {
  it('applies exactly N increments when N=20 clients each GET, then PUT value+1 with If-Match, retrying on 412', async () => {
    const { key } = await seeded('0');
    const N = 20;
    let conflicts = 0;
    const client = async () => {
      for (let attempt = 0; attempt < 500; attempt++) {
        const current = await get(key);
        expect(current.status).toBe(200);
        const etag = current.headers.get('etag')!;
        const next = Number(await current.text()) + 1;
        const response = await put(key, String(next), { headers: { 'if-match': etag } });
        if (response.status === 200) return;
        expect(response.status).toBe(412);
        await response.arrayBuffer();
        conflicts += 1;
      }
      throw new Error('a client never got its write in');
    };
    await Promise.all(Array.from({ length: N }, client));
    expect(await (await get(key)).text()).toBe(String(N));
    // The loop was really contended: otherwise it proves nothing about lost updates.
    expect(conflicts).toBeGreaterThan(0);
  });
});

describe('PUT ?ttl', () => {
  it('sets the expiry in the same write: GET shows Lucid-Expires-At at now + ttl', async () => {
    const key = uniqueKey('ttl');
    expect((await put(key, 'x', { query: '?ttl=60' })).status).toBe(201);
    expect(Date.parse((await get(key)).headers.get('lucid-expires-at')!)).toBe(time.now() + 60_000);
  });

  it('replaces the expiry of an existing key, and a PUT without ttl keeps it', async () => {
    const key = uniqueKey('ttl');
    expect((await put(key, 'x')).status).toBe(201);
    expect((await get(key)).headers.get('lucid-expires-at')).toBeNull();
    expect((await put(key, 'y', { query: '?ttl=3600' })).status).toBe(200);
    const expiresAt = (await get(key)).headers.get('lucid-expires-at');
    expect(Date.parse(expiresAt!)).toBeGreaterThan(Date.now() + 3_500_000);
    expect((await put(key, 'z')).status).toBe(200);
    expect((await head(key)).headers.get('lucid-expires-at')).toBe(expiresAt);
  });

  it('keeps the key until 1 ms before its expiry, and answers 404 from the very millisecond of it', async () => {
    const key = uniqueKey('ttl');
    const written = time.now();
    expect((await put(key, 'short-lived', { query: '?ttl=1' })).status).toBe(201);
    const expiresAt = written + 1000;
    expect(Date.parse((await head(key)).headers.get('lucid-expires-at')!)).toBe(expiresAt);
    time.set(expiresAt - 1);
    expect((await get(key)).status).toBe(200);
    expect(await (await get(key)).text()).toBe('short-lived');
    time.set(expiresAt);
    expect((await get(key)).status).toBe(404);
    expect((await head(key)).status).toBe(404);
    expect((await del(key)).status).toBe(404);
  });

  it('returns 400 for ttl=0, a negative, a fraction or a word, and stores nothing', async () => {
    const key = uniqueKey('ttl');
    for (const ttl of ['0', '-5', '1.5', 'soon', '']) {
      const response = await put(key, 'x', { query: `?ttl=${ttl}` });
      expect(response.status, `ttl=${ttl}`).toBe(400);
      expect(((await response.json()) as { message: string }).message).toMatch(/ttl/);
    }
    expect((await get(key)).status).toBe(404);
  });
});
