/** GET /api/kv: sorted, paged, filtered listing with each key's metadata, against a real server. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { components } from '../../generated/lucid.js';
import { keyRequests, manualClock, sleep } from '../support/helpers.js';
import { startLucid, uniqueKey, type TestLucid } from '../support/lucid.js';

type KeyInfo = components['schemas']['KeyInfo'];
type KeyPage = components['schemas']['KeyPage'];

let lucid: TestLucid;
const time = manualClock();
beforeAll(async () => {
  // No background sweep during the file: an expired key must be left out by the listing itself.
  lucid = await startLucid({ config: { expiry: { sweepIntervalMs: 600_000 } }, clock: time.clock });
});
afterAll(() => lucid.close());

const { put, patch, head, del } = keyRequests(() => lucid);
const list = (params: Record<string, string | number> = {}) =>
  lucid.request(`/api/kv?${new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]))}`);

async function page(params: Record<string, string | number> = {}): Promise<KeyPage> {
  const response = await list(params);
  expect(response.status, JSON.stringify(params)).toBe(200);
  return (await response.json()) as KeyPage;
}

/** Every key under `prefix`, walking all pages of `limit`. */
async function walk(
  prefix: string,
  limit: number,
  between?: () => Promise<void>,
): Promise<{ keys: string[]; pages: number }> {
  const keys: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const params: Record<string, string | number> = { prefix, limit };
    if (cursor !== undefined) params.cursor = cursor;
    const result = await page(params);
    pages += 1;
    expect(result.keys.length).toBeLessThanOrEqual(limit);
    keys.push(...result.keys.map((info) => info.key));
    cursor = result.cursor;
    await between?.();
  } while (cursor !== undefined);
  return { keys, pages };
}

async function expect400(response: Response, message: RegExp) {
  expect(response.status).toBe(400);
  expect(((await response.json()) as { message: string }).message).toMatch(message);
}

/** Creates `count` keys `prefix` + zero-padded index, in a shuffled order. */
async function seed(prefix: string, count: number): Promise<string[]> {
  const keys = Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);
  const shuffled = [...keys].sort(() => Math.random() - 0.5);
  for (let i = 0; i < shuffled.length; i += 50) {
    const statuses = await Promise.all(shuffled.slice(i, i + 50).map((key) => put(key, key).then((r) => r.status)));
    expect(statuses.every((s) => s === 201)).toBe(true);
  }
  return keys;
}

describe('listKeys', () => {
  it('returns keys sorted by key, whatever order they were written in', async () => {
    const prefix = `${uniqueKey('sorted')}/`;
    const names = ['b', 'a', 'c/d', 'c', 'B', '0', 'aa', 'a-b', 'Z'];
    for (const name of names) await put(`${prefix}${name}`, 'x');
    const { keys } = await page({ prefix });
    const expected = names.map((name) => `${prefix}${name}`).sort();
    expect(keys.map((info) => info.key)).toEqual(expected);
  });

  it('describes each key with size, contentType, createdAt, updatedAt, expiresAt, locked, lockHolder, lockExpiresAt and etag, never its value', async () => {
    const prefix = `${uniqueKey('meta')}/`;
    const now = time.now();
    const plain = await put(`${prefix}plain`, new Uint8Array([1, 2, 3, 4, 5]), { contentType: 'application/x-thing' });
    expect(plain.status).toBe(201);
    expect(
      (await put(`${prefix}plain`, new Uint8Array([1, 2, 3, 4, 5, 6, 7]), { contentType: 'application/x-thing' }))
        .status,
    ).toBe(200);
    const ttl = await put(`${prefix}ttl`, 'expires', { query: '?ttl=3600' });
    const lockResponse = await patch(`${prefix}ttl`, { operation: 'lock', value: 600 });
    expect(lockResponse.status).toBe(200);
    expect(ttl.status).toBe(201);

    const { keys } = await page({ prefix });
    expect(keys).toHaveLength(2);
    const [plainInfo, ttlInfo] = keys as [KeyInfo, KeyInfo];
    expect(Object.keys(plainInfo).sort()).toEqual(
      [
        'contentType',
        'createdAt',
        'etag',
        'expiresAt',
        'key',
        'lockExpiresAt',
        'lockHolder',
        'locked',
        'size',
        'updatedAt',
      ].sort(),
    );
    expect(plainInfo).toMatchObject({
      key: `${prefix}plain`,
      size: 7,
      contentType: 'application/x-thing',
      expiresAt: null,
      locked: false,
      lockHolder: null,
      lockExpiresAt: null,
    });
    const plainGet = await head(`${prefix}plain`);
    expect(plainInfo.etag).toBe(plainGet.headers.get('etag'));
    expect(Date.parse(plainInfo.createdAt)).toBe(now);
    expect(Date.parse(plainInfo.updatedAt)).toBe(now);
    expect(new Date(plainInfo.updatedAt).toUTCString()).toBe(plainGet.headers.get('last-modified'));

    expect(ttlInfo).toMatchObject({
      key: `${prefix}ttl`,
      size: 7,
      contentType: 'text/plain',
      locked: true,
      lockHolder: 'root',
    });
    expect(Date.parse(ttlInfo.expiresAt!)).toBe(now + 3_600_000);
    expect(Date.parse(ttlInfo.lockExpiresAt!)).toBe(now + 600_000);
    expect(ttlInfo.etag).toBe(lockResponse.headers.get('etag'));
  });

  it('has no cursor on the last page, and a cursor that leads to the rest on earlier pages', async () => {
    const prefix = `${uniqueKey('pages')}/`;
    const keys = await seed(prefix, 5);
    const first = await page({ prefix, limit: 2 });
    expect(first.keys.map((info) => info.key)).toEqual(keys.slice(0, 2));
    expect(first.cursor).toEqual(expect.any(String));
    const second = await page({ prefix, limit: 2, cursor: first.cursor! });
    expect(second.keys.map((info) => info.key)).toEqual(keys.slice(2, 4));
    const last = await page({ prefix, limit: 2, cursor: second.cursor! });
    expect(last.keys.map((info) => info.key)).toEqual(keys.slice(4));
    expect(last).not.toHaveProperty('cursor');
    // A page that ends exactly on the last key has no cursor either.
    expect(await page({ prefix, limit: 5 })).not.toHaveProperty('cursor');
    expect(await page({ prefix: `${prefix}nothing-here` })).toEqual({ keys: [] });
  });

  it('returns 100 keys per page by default and allows up to 1000', async () => {
    const prefix = `${uniqueKey('limits')}/`;
    await seed(prefix, 1001);
    const byDefault = await page({ prefix });
    expect(byDefault.keys).toHaveLength(100);
    expect(byDefault.cursor).toBeDefined();
    const most = await page({ prefix, limit: 1000 });
    expect(most.keys).toHaveLength(1000);
    const rest = await page({ prefix, limit: 1000, cursor: most.cursor! });
    expect(rest.keys.map((info) => info.key)).toEqual([`${prefix}1000`]);
    expect(rest).not.toHaveProperty('cursor');
  });

  it('returns 400 for limit 1001, 0, a negative or a fraction', async () => {
    await expect400(await list({ limit: 1001 }), /limit must be <= 1000/);
    await expect400(await list({ limit: 0 }), /limit must be >= 1/);
    await expect400(await list({ limit: -1 }), /limit must be >= 1/);
    await expect400(await list({ limit: 2.5 }), /limit must be integer/);
  });

  it('returns 400 for a cursor Lucid did not make', async () => {
    for (const cursor of ['not a cursor!', '***', 'A', 'Zm9v=', '%%%', 'x'.repeat(2049)]) {
      const response = await list({ cursor });
      expect(response.status, `cursor ${cursor.slice(0, 20)}`).toBe(400);
      expect(((await response.json()) as { message: string }).message).toMatch(/cursor/);
    }
  });

  it('returns only keys that start with the prefix', async () => {
    const base = uniqueKey('prefix');
    for (const key of [`${base}/a/1`, `${base}/a/2`, `${base}/ab`, `${base}/b/1`, `${base}-a/1`, `x${base}/a/3`])
      await put(key, 'x');
    expect((await page({ prefix: `${base}/a/` })).keys.map((info) => info.key)).toEqual([`${base}/a/1`, `${base}/a/2`]);
    expect((await page({ prefix: `${base}/a` })).keys.map((info) => info.key)).toEqual([
      `${base}/a/1`,
      `${base}/a/2`,
      `${base}/ab`,
    ]);
    expect((await page({ prefix: `${base}/` })).keys).toHaveLength(4);
  });

  it('treats % and _ in a prefix literally', async () => {
    const base = uniqueKey('literal');
    for (const key of [`${base}/50%/a`, `${base}/50x/a`, `${base}/a_b`, `${base}/aXb`]) await put(key, 'x');
    expect((await page({ prefix: `${base}/50%` })).keys.map((info) => info.key)).toEqual([`${base}/50%/a`]);
    expect((await page({ prefix: `${base}/a_` })).keys.map((info) => info.key)).toEqual([`${base}/a_b`]);
  });

  it('lists every key that exists for the whole walk exactly once, with limit 7, while other keys are created and deleted concurrently', async () => {
    const prefix = `${uniqueKey('walk')}/`;
    const seeded = await seed(prefix, 200);
    // Even indexes stay for the whole walk; odd ones are deleted and re-created while it runs, and
    // new keys appear between the stable ones.
    const stable = seeded.filter((_, i) => i % 2 === 0);
    const churnKeys = seeded.filter((_, i) => i % 2 === 1);
    let running = true;
    let writes = 0;
    const writer = (async () => {
      for (let round = 0; running; round++) {
        await Promise.all(
          churnKeys.map(async (key, i) => {
            const response = (round + i) % 2 === 0 ? await del(key) : await put(key, `round ${round}`);
            await response.arrayBuffer();
          }),
        );
        await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            put(`${prefix}${String(i).padStart(4, '0')}-new-${round}`, 'x').then((r) => r.arrayBuffer()),
          ),
        );
        writes += 1;
      }
    })();
    const { keys, pages } = await walk(prefix, 7, () => sleep(5));
    running = false;
    await writer;
    expect(writes).toBeGreaterThan(1);
    expect(pages).toBeGreaterThanOrEqual(Math.ceil(stable.length / 7));
    const seen = new Map<string, number>();
    for (const key of keys) seen.set(key, (seen.get(key) ?? 0) + 1);
    for (const key of stable) expect(seen.get(key), key).toBe(1);
    expect([...seen.values()].every((count) => count === 1)).toBe(true);
    expect(keys).toEqual([...keys].sort());
  });

  it('never lists expired keys', async () => {
    const prefix = `${uniqueKey('expired')}/`;
    expect((await put(`${prefix}short`, 'x', { query: '?ttl=1' })).status).toBe(201);
    expect((await put(`${prefix}long`, 'x', { query: '?ttl=3600' })).status).toBe(201);
    expect((await put(`${prefix}forever`, 'x')).status).toBe(201);
    expect((await page({ prefix })).keys.map((info) => info.key)).toEqual([
      `${prefix}forever`,
      `${prefix}long`,
      `${prefix}short`,
    ]);
    time.advance(999);
    expect((await page({ prefix })).keys.map((info) => info.key)).toEqual([
      `${prefix}forever`,
      `${prefix}long`,
      `${prefix}short`,
    ]);
    time.advance(1);
    expect((await page({ prefix })).keys.map((info) => info.key)).toEqual([`${prefix}forever`, `${prefix}long`]);
  });
});
