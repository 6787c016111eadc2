/** Locks with holders and leases, against a real server. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLucid, uniqueKey, type TestLucid } from '../support/lucid.js';

let lucid: TestLucid;
beforeAll(async () => {
  lucid = await startLucid();
});
afterAll(() => lucid.close());

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const at = (key: string) => `/api/kv/${encodeURIComponent(key)}`;
const as = (bearer: string) => ({ authorization: `Bearer ${bearer}` });

const alice = () => lucid.authority.issue('alice', 600);
const bob = () => lucid.authority.issue('bob', 600);
const admin = () => lucid.authority.issue('ops', 600, { scope: 'admin' });

const patch = (key: string, body: object, bearer = lucid.token) =>
  lucid.request(at(key), { method: 'PATCH', body: JSON.stringify(body), headers: { ...as(bearer), 'content-type': 'application/json' } });
const put = (key: string, body: string, bearer = lucid.token) =>
  lucid.request(at(key), { method: 'PUT', body, headers: { ...as(bearer), 'content-type': 'text/plain' } });
const head = (key: string) => lucid.request(at(key), { method: 'HEAD' });

async function seeded(): Promise<string> {
  const key = uniqueKey('lock');
  expect((await put(key, 'original')).status).toBe(201);
  return key;
}

async function listed(key: string) {
  const response = await lucid.request(`/api/kv?${new URLSearchParams({ prefix: key })}`);
  expect(response.status).toBe(200);
  const { keys } = (await response.json()) as { keys: Array<{ key: string; locked: boolean; lockHolder: string | null; lockExpiresAt: string | null }> };
  return keys.find((info) => info.key === key)!;
}

describe('locks', () => {
  it('records the token subject as holder, shown by GET and HEAD as Lucid-Lock-Holder, with no expiry for a lock without a lease', async () => {
    const key = await seeded();
    expect((await head(key)).headers.get('lucid-lock-holder')).toBeNull();
    expect((await patch(key, { operation: 'lock' }, alice())).status).toBe(200);
    for (const response of [await head(key), await lucid.request(at(key))]) {
      expect(response.status).toBe(200);
      expect(response.headers.get('lucid-lock-holder')).toBe('alice');
      expect(response.headers.get('lucid-lock-expires-at')).toBeNull();
    }
    expect(await listed(key)).toMatchObject({ locked: true, lockHolder: 'alice', lockExpiresAt: null });
  });

  it('shows Lucid-Lock-Expires-At for a lease, about now + value seconds', async () => {
    const key = await seeded();
    const before = Date.now();
    expect((await patch(key, { operation: 'lock', value: 30 }, alice())).status).toBe(200);
    const response = await head(key);
    expect(response.headers.get('lucid-lock-holder')).toBe('alice');
    const expiresAt = Date.parse(response.headers.get('lucid-lock-expires-at')!);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 30_000 - 1000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 30_000 + 1000);
    expect(Date.parse((await listed(key)).lockExpiresAt!)).toBe(expiresAt);
  });

  it('returns 400 for a lease that is not whole seconds of at least 1', async () => {
    const key = await seeded();
    for (const value of [0, -1, 1.5]) {
      const response = await patch(key, { operation: 'lock', value });
      expect(response.status, `lease ${value}`).toBe(400);
      expect(((await response.json()) as { message: string }).message).toMatch(/lease/);
    }
    expect((await head(key)).headers.get('lucid-lock-holder')).toBeNull();
  });

  it("answers 409 with a clear message when another non-admin subject unlocks, and the lock holds", async () => {
    const key = await seeded();
    expect((await patch(key, { operation: 'lock' }, alice())).status).toBe(200);
    for (const bearer of [bob(), lucid.authority.issue('bob', 600, { scope: 'write' })]) {
      const response = await patch(key, { operation: 'unlock' }, bearer);
      expect(response.status).toBe(409);
      expect(await response.json()).toEqual({
        message: 'The specified key is locked by another holder: only the holder or an admin token can unlock it.',
      });
    }
    expect((await head(key)).headers.get('lucid-lock-holder')).toBe('alice');
    expect((await put(key, 'changed', bob())).status).toBe(409);
  });

  it('lets the holder unlock, from any of its tokens', async () => {
    const key = await seeded();
    expect((await patch(key, { operation: 'lock' }, alice())).status).toBe(200);
    const response = await patch(key, { operation: 'unlock' }, alice());
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ message: 'The specified key was successfully unlocked.' });
    expect((await head(key)).headers.get('lucid-lock-holder')).toBeNull();
    expect(await listed(key)).toMatchObject({ locked: false, lockHolder: null, lockExpiresAt: null });
    expect((await put(key, 'changed', bob())).status).toBe(200);
  });

  it("lets an admin token unlock another holder's lock", async () => {
    const key = await seeded();
    expect((await patch(key, { operation: 'lock', value: 600 }, alice())).status).toBe(200);
    expect((await patch(key, { operation: 'unlock' }, admin())).status).toBe(200);
    const response = await head(key);
    expect(response.headers.get('lucid-lock-holder')).toBeNull();
    expect(response.headers.get('lucid-lock-expires-at')).toBeNull();
    expect((await put(key, 'changed', bob())).status).toBe(200);
  });

  it('lets a lease lapse by itself: PUT succeeds after it, and listing shows the key unlocked', async () => {
    const key = await seeded();
    expect((await patch(key, { operation: 'lock', value: 1 }, alice())).status).toBe(200);
    expect((await put(key, 'too early', bob())).status).toBe(409);
    expect(await listed(key)).toMatchObject({ locked: true, lockHolder: 'alice' });
    await sleep(1100);
    expect(await listed(key)).toMatchObject({ locked: false, lockHolder: null, lockExpiresAt: null });
    const response = await head(key);
    expect(response.headers.get('lucid-lock-holder')).toBeNull();
    expect(response.headers.get('lucid-lock-expires-at')).toBeNull();
    expect((await put(key, 'after the lease', bob())).status).toBe(200);
    expect(await (await lucid.request(at(key))).text()).toBe('after the lease');
    // A lapsed lock is not held: unlocking it is a 409, and anyone may take a new one.
    expect((await patch(key, { operation: 'unlock' }, alice())).status).toBe(409);
    expect((await patch(key, { operation: 'lock' }, bob())).status).toBe(200);
    expect((await head(key)).headers.get('lucid-lock-holder')).toBe('bob');
  });

  it('percent-encodes a holder that is not visible ASCII in Lucid-Lock-Holder', async () => {
    const key = await seeded();
    expect((await patch(key, { operation: 'lock' }, lucid.authority.issue('zoë', 600))).status).toBe(200);
    expect((await head(key)).headers.get('lucid-lock-holder')).toBe('zo%C3%AB');
    expect((await listed(key)).lockHolder).toBe('zoë');
  });
});
