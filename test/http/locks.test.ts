/** Locks with holders and leases, against a real server. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyRequests, manualClock } from '../support/helpers.js';
import { startLucid, uniqueKey, type TestLucid } from '../support/lucid.js';

let lucid: TestLucid;
// The server's clock moves only when a test moves it: leases are tested on the rule, not on a timer.
const time = manualClock();
beforeAll(async () => {
  lucid = await startLucid({ clock: time.clock });
});
afterAll(() => lucid.close());

const alice = () => lucid.authority.issue('alice', 600);
const bob = () => lucid.authority.issue('bob', 600);
const admin = () => lucid.authority.issue('ops', 600, { scope: 'admin' });

const { put, patch, get, head } = keyRequests(() => lucid);

async function seeded(): Promise<string> {
  const key = uniqueKey('lock');
  expect((await put(key, 'original')).status).toBe(201);
  return key;
}

async function listed(key: string) {
  const response = await lucid.request(`/api/kv?${new URLSearchParams({ prefix: key })}`);
  expect(response.status).toBe(200);
  const { keys } = (await response.json()) as {
    keys: Array<{ key: string; locked: boolean; lockHolder: string | null; lockExpiresAt: string | null }>;
  };
  return keys.find((info) => info.key === key)!;
}

describe('locks', () => {
  it('records the token subject as holder, shown by GET and HEAD as Lucid-Lock-Holder, with no expiry for a lock without a lease', async () => {
    const key = await seeded();
    expect((await head(key)).headers.get('lucid-lock-holder')).toBeNull();
    expect((await patch(key, { operation: 'lock' }, { token: alice() })).status).toBe(200);
    for (const response of [await head(key), await get(key)]) {
      expect(response.status).toBe(200);
      expect(response.headers.get('lucid-lock-holder')).toBe('alice');
      expect(response.headers.get('lucid-lock-expires-at')).toBeNull();
    }
    expect(await listed(key)).toMatchObject({ locked: true, lockHolder: 'alice', lockExpiresAt: null });
  });

  it('shows Lucid-Lock-Expires-At for a lease, at now + value seconds', async () => {
    const key = await seeded();
    expect((await patch(key, { operation: 'lock', value: 30 }, { token: alice() })).status).toBe(200);
    const response = await head(key);
    expect(response.headers.get('lucid-lock-holder')).toBe('alice');
    const expiresAt = Date.parse(response.headers.get('lucid-lock-expires-at')!);
    expect(expiresAt).toBe(time.now() + 30_000);
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

  it('answers 409 with a clear message when another non-admin subject unlocks, and the lock holds', async () => {
    const key = await seeded();
    expect((await patch(key, { operation: 'lock' }, { token: alice() })).status).toBe(200);
    for (const bearer of [bob(), lucid.authority.issue('bob', 600, { scope: 'write' })]) {
      const response = await patch(key, { operation: 'unlock' }, { token: bearer });
      expect(response.status).toBe(409);
      expect(await response.json()).toEqual({
        message: 'The specified key is locked by another holder: only the holder or an admin token can unlock it.',
      });
    }
    expect((await head(key)).headers.get('lucid-lock-holder')).toBe('alice');
    expect((await put(key, 'changed', { token: bob() })).status).toBe(409);
  });

  it('lets the holder unlock, from any of its tokens', async () => {
    const key = await seeded();
    expect((await patch(key, { operation: 'lock' }, { token: alice() })).status).toBe(200);
    const response = await patch(key, { operation: 'unlock' }, { token: alice() });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ message: 'The specified key was successfully unlocked.' });
    expect((await head(key)).headers.get('lucid-lock-holder')).toBeNull();
    expect(await listed(key)).toMatchObject({ locked: false, lockHolder: null, lockExpiresAt: null });
    expect((await put(key, 'changed', { token: bob() })).status).toBe(200);
  });

  it("lets an admin token unlock another holder's lock", async () => {
    const key = await seeded();
    expect((await patch(key, { operation: 'lock', value: 600 }, { token: alice() })).status).toBe(200);
    expect((await patch(key, { operation: 'unlock' }, { token: admin() })).status).toBe(200);
    const response = await head(key);
    expect(response.headers.get('lucid-lock-holder')).toBeNull();
    expect(response.headers.get('lucid-lock-expires-at')).toBeNull();
    expect((await put(key, 'changed', { token: bob() })).status).toBe(200);
  });

  it('lets a lease lapse by itself at its expiry: PUT succeeds from then on, and listing shows the key unlocked', async () => {
    const key = await seeded();
    expect((await patch(key, { operation: 'lock', value: 1 }, { token: alice() })).status).toBe(200);
    time.advance(999);
    expect((await put(key, 'too early', { token: bob() })).status).toBe(409);
    expect(await listed(key)).toMatchObject({ locked: true, lockHolder: 'alice' });
    time.advance(1);
    expect(await listed(key)).toMatchObject({ locked: false, lockHolder: null, lockExpiresAt: null });
    const response = await head(key);
    expect(response.headers.get('lucid-lock-holder')).toBeNull();
    expect(response.headers.get('lucid-lock-expires-at')).toBeNull();
    expect((await put(key, 'after the lease', { token: bob() })).status).toBe(200);
    expect(await (await get(key)).text()).toBe('after the lease');
    // A lapsed lock is not held: unlocking it is a 409, and anyone may take a new one.
    expect((await patch(key, { operation: 'unlock' }, { token: alice() })).status).toBe(409);
    expect((await patch(key, { operation: 'lock' }, { token: bob() })).status).toBe(200);
    expect((await head(key)).headers.get('lucid-lock-holder')).toBe('bob');
  });

  it('percent-encodes a holder that is not visible ASCII in Lucid-Lock-Holder', async () => {
    const key = await seeded();
    expect((await patch(key, { operation: 'lock' }, { token: lucid.authority.issue('zoë', 600) })).status).toBe(200);
    expect((await head(key)).headers.get('lucid-lock-holder')).toBe('zo%C3%AB');
    expect((await listed(key)).lockHolder).toBe('zoë');
  });
});
