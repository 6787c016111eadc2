/**
 * Issue 12 (High): a key that begins with the store's own prefix (`lucid:`) is a key like any other,
 * never a way into another key's row. Reproduces the review's curl against a real server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyRequests, manualClock } from '../support/helpers.js';
import { startLucid, uniqueKey, type TestLucid } from '../support/lucid.js';

let lucid: TestLucid;
const time = manualClock();
beforeAll(async () => {
  lucid = await startLucid({ clock: time.clock });
});
afterAll(async () => {
  await lucid.close();
});

const { put, patch, get } = keyRequests(() => lucid);

async function text(key: string): Promise<[number, string]> {
  const response = await get(key);
  return [response.status, await response.text()];
}

describe('keys beginning with the storage prefix', () => {
  it('do not let a prefix-scoped token write outside its prefix', async () => {
    const secret = uniqueKey('q/secret');
    expect((await put(secret, 'original')).status).toBe(201);
    const limited = lucid.authority.issue('limited', 600, { prefix: 'l' });
    expect((await put(secret, 'pwned', { headers: { authorization: `Bearer ${limited}` } })).status).toBe(403);
    expect((await put(`lucid:${secret}`, 'pwned', { headers: { authorization: `Bearer ${limited}` } })).status).toBe(
      201,
    );
    expect(await text(secret)).toEqual([200, 'original']);
    expect(await text(`lucid:${secret}`)).toEqual([200, 'pwned']);
  });

  it('do not overwrite a key locked by someone else, even with If-None-Match: *', async () => {
    const locked = uniqueKey('p/locked');
    expect((await put(locked, 'original')).status).toBe(201);
    const lock = await patch(locked, { operation: 'lock' });
    expect(lock.status).toBe(200);
    expect((await put(locked, 'overwritten')).status).toBe(409);
    expect((await put(`lucid:${locked}`, 'other', { headers: { 'if-none-match': '*' } })).status).toBe(201);
    expect(await text(locked)).toEqual([200, 'original']);
  });

  it('expire only themselves: a ttl on lucid:p/a leaves p/a', async () => {
    const key = uniqueKey('p/a');
    expect((await put(key, 'stays')).status).toBe(201);
    expect((await put(`lucid:${key}`, 'goes', { query: '?ttl=1' })).status).toBe(201);
    time.advance(1000);
    expect((await text(`lucid:${key}`))[0]).toBe(404);
    expect(await text(key)).toEqual([200, 'stays']);
    // And the sweep that deletes expired rows (on its timer in a server; called here) deletes only that one.
    await lucid.store.purgeExpired();
    expect(await text(key)).toEqual([200, 'stays']);
  });

  it('address the empty remainder as the key "lucid:", not an unreachable ""', async () => {
    expect((await put('lucid:', 'colon')).status).toBe(201);
    expect(await text('lucid:')).toEqual([200, 'colon']);
    const listed = (await (await lucid.request('/api/kv?prefix=lucid')).json()) as { keys: Array<{ key: string }> };
    expect(listed.keys.map((info) => info.key)).toContain('lucid:');
    expect(listed.keys.map((info) => info.key)).not.toContain('');
  });
});
