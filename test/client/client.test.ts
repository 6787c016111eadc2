/** The typed client (src/client) against a real Lucid: every operation, raw values byte for byte, typed errors. */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import {
  createLucidClient,
  LucidApiError,
  type Health,
  type KeyInfo,
  type KeyPage,
  type LucidClient,
  type LucidMetadata,
  type LucidValue,
  type NotModified,
  type PutResult,
} from '../../src/client/index.js';
import { startLucid, uniqueKey, type TestLucid } from '../support/lucid.js';

let lucid: TestLucid;
let client: LucidClient;
beforeAll(async () => {
  lucid = await startLucid();
  client = createLucidClient({ baseUrl: lucid.url, token: lucid.token });
});
afterAll(() => lucid.close());

/** The LucidApiError a promise rejects with (failing the test when it resolves or throws something else). */
async function apiError(promise: Promise<unknown>): Promise<LucidApiError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(LucidApiError);
  return error as LucidApiError;
}

/** Every byte value, then trailing zeros: the bytes most likely to be mangled by a text or JSON encoding. */
const allBytes = () => Uint8Array.from([...Array.from({ length: 256 }, (_, i) => i), 0, 0, 0, 0]);

describe('put and get', () => {
  it('round-trips a string as UTF-8 text/plain, 201 then 200, a new ETag each time', async () => {
    const key = uniqueKey();
    const first = await client.put(key, 'hello wörld ✓');
    expect(first.created).toBe(true);
    expect(first.etag).toMatch(/^".+"$/);
    const second = await client.put(key, 'hello again');
    expect(second.created).toBe(false);
    expect(second.etag).not.toBe(first.etag);

    const value = await client.get(key);
    expect(value.text()).toBe('hello again');
    expect(value.contentType).toBe('text/plain;charset=utf-8');
    expect(value.etag).toBe(second.etag);
    expect(value.size).toBe(11);
    expect(new Date(value.lastModified).getTime()).toBeGreaterThan(0);
    expect(value.expiresAt).toBeNull();
    expect(value.lockHolder).toBeNull();
    expect(value.lockExpiresAt).toBeNull();
    expect(value.notModified).toBe(false);
  });

  it('round-trips all 256 byte values with trailing zeros exactly, as Uint8Array, Buffer and ArrayBuffer', async () => {
    const bytes = allBytes();
    const inputs = { uint8array: bytes, buffer: Buffer.from(bytes), arraybuffer: bytes.slice().buffer };
    for (const [label, input] of Object.entries(inputs)) {
      const key = uniqueKey(label);
      expect((await client.put(key, input)).created).toBe(true);
      const value = await client.get(key);
      expect(value.bytes()).toEqual(bytes);
      expect(value.size).toBe(260);
      expect(value.contentType).toBe('application/octet-stream');
      expect(Buffer.from(await value.blob().arrayBuffer()).equals(Buffer.from(bytes))).toBe(true);
    }
  });

  it('sends a Blob as it is, with its own type unless told otherwise', async () => {
    const png = new Blob([Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0])], {
      type: 'image/png',
    });
    const key = uniqueKey('blob');
    await client.put(key, png);
    const value = await client.get(key);
    expect(value.contentType).toBe('image/png');
    expect(value.bytes()).toEqual(new Uint8Array(await png.arrayBuffer()));

    const untyped = uniqueKey('blob');
    await client.put(untyped, new Blob([allBytes()]));
    expect((await client.get(untyped)).contentType).toBe('application/octet-stream');

    const overridden = uniqueKey('blob');
    await client.put(overridden, png, { contentType: 'application/x-custom' });
    expect((await client.get(overridden)).contentType).toBe('application/x-custom');
  });

  it('stores JSON with putJson and reads it back with json()', async () => {
    const key = uniqueKey('json');
    const document = { name: 'lucid', tags: ['kv', 'http'], nested: { ok: true, n: 1.5, nothing: null } };
    await client.putJson(key, document);
    const value = await client.get(key);
    expect(value.contentType).toBe('application/json');
    expect(value.json()).toEqual(document);
    expectTypeOf(value.json<typeof document>()).toEqualTypeOf<typeof document>();
  });

  it('keeps the caller’s content type exactly, a string is not JSON-encoded', async () => {
    const key = uniqueKey();
    await client.put(key, '41', { contentType: 'application/vnd.lucid.counter; version=2' });
    const value = await client.get(key);
    expect(value.text()).toBe('41');
    expect(value.contentType).toBe('application/vnd.lucid.counter; version=2');
  });

  it('percent-encodes keys with slashes, spaces, unicode and reserved characters', async () => {
    for (const key of ['a/b/c', 'with space', 'ключ', 'emoji-🔑', '%literal', 'q?x=1#frag']) {
      await client.put(key, key);
      expect((await client.get(key)).text()).toBe(key);
    }
  });

  it('answers notModified for a conditional get whose ETag is current, the value otherwise', async () => {
    const key = uniqueKey();
    const { etag } = await client.put(key, 'cached');
    const current = await client.get(key, { ifNoneMatch: etag });
    expect(current).toEqual({ notModified: true, etag });
    await client.put(key, 'changed');
    const changed = await client.get(key, { ifNoneMatch: etag });
    expect(changed.notModified).toBe(false);
    if (!changed.notModified) expect(changed.text()).toBe('changed');
  });

  it('sets an expiry in the same write with the ttl option', async () => {
    const key = uniqueKey();
    const before = Date.now();
    await client.put(key, 'short-lived', { ttl: 120 });
    const { expiresAt } = await client.head(key);
    expect(new Date(expiresAt!).getTime()).toBeGreaterThanOrEqual(before + 119_000);
    expect(new Date(expiresAt!).getTime()).toBeLessThanOrEqual(Date.now() + 121_000);
  });
});

describe('head and delete', () => {
  it('head gives the metadata and no value; 304 as notModified', async () => {
    const key = uniqueKey();
    const { etag } = await client.put(key, allBytes(), { contentType: 'application/x-bytes' });
    const metadata = await client.head(key);
    expect(metadata).toEqual({
      notModified: false,
      contentType: 'application/x-bytes',
      size: 260,
      etag,
      lastModified: expect.any(String),
      expiresAt: null,
      lockHolder: null,
      lockExpiresAt: null,
    });
    expect(metadata).not.toHaveProperty('bytes');
    expect(await client.head(key, { ifNoneMatch: etag })).toEqual({ notModified: true, etag });
    const missing = await apiError(client.head(uniqueKey('missing')));
    expect(missing.status).toBe(404);
    expect(missing.isNotFound).toBe(true);
  });

  it('delete removes the key; with ifMatch only while the ETag is current', async () => {
    const key = uniqueKey();
    const { etag: stale } = await client.put(key, 'one');
    const { etag } = await client.put(key, 'two');
    const refused = await apiError(client.delete(key, { ifMatch: stale }));
    expect(refused.isPreconditionFailed).toBe(true);
    expect(refused.etag).toBe(etag);
    await client.delete(key, { ifMatch: etag });
    expect((await apiError(client.get(key))).isNotFound).toBe(true);
    const again = await apiError(client.delete(key));
    expect(again.status).toBe(404);
    expect(again.message).toBe('The specified key does not exists.');
  });
});

describe('PATCH operations', () => {
  it('lock and unlock, with the holder and lease visible, writes refused meanwhile', async () => {
    const key = uniqueKey();
    await client.put(key, 'guarded');
    const locked = await client.lock(key);
    expect(locked.etag).toMatch(/^".+"$/);
    expect((await client.head(key)).lockHolder).toBe('root');

    const refused = await apiError(client.put(key, 'changed'));
    expect(refused.isConflict).toBe(true);
    expect(refused.message).toBe('The specified key cannot be updated.');
    expect((await apiError(client.lock(key))).message).toBe('The specified key is already locked.');

    const unlocked = await client.unlock(key);
    expect(unlocked.etag).not.toBe(locked.etag);
    expect((await client.head(key)).lockHolder).toBeNull();
    expect((await apiError(client.unlock(key))).message).toBe('The specified key is not locked.');

    const before = Date.now();
    await client.lock(key, { lease: 30 });
    const leased = await client.get(key);
    expect(new Date(leased.lockExpiresAt!).getTime()).toBeGreaterThanOrEqual(before + 29_000);
    expect(leased.lockHolder).toBe('root');
  });

  it('increment and decrement return the new number, by 1 or by a given step, decimals exact', async () => {
    const key = uniqueKey('counter');
    await client.put(key, '41');
    expect(await client.increment(key)).toBe(42);
    expect(await client.increment(key, 8)).toBe(50);
    expect(await client.decrement(key)).toBe(49);
    expect(await client.decrement(key, 0.1)).toBe(48.9);
    expect(await client.increment(key, 0.2)).toBe(49.1);
    expect((await client.get(key)).text()).toBe('49.1');

    const text = uniqueKey();
    await client.put(text, 'not a number');
    const error = await apiError(client.increment(text));
    expect(error.isBadRequest).toBe(true);
    expect(error.message).toBe('The stored value is not a number.');
  });

  it('ttl sets and removes the expiry', async () => {
    const key = uniqueKey();
    await client.put(key, 'temporary');
    const before = Date.now();
    const set = await client.ttl(key, 60);
    expect(new Date(set.expiresAt!).getTime()).toBeGreaterThanOrEqual(before + 59_000);
    expect((await client.head(key)).expiresAt).toBe(set.expiresAt);
    const removed = await client.ttl(key, 0);
    expect(removed.expiresAt).toBeNull();
    expect(removed.etag).toBe((await client.head(key)).etag);
  });

  it('applies ifMatch to PATCH operations: compare-and-swap on a counter', async () => {
    const key = uniqueKey('counter');
    const { etag } = await client.put(key, '1');
    expect(await client.increment(key, 1, { ifMatch: etag })).toBe(2);
    const conflict = await apiError(client.increment(key, 1, { ifMatch: etag }));
    expect(conflict.isPreconditionFailed).toBe(true);
    expect(conflict.etag).toBe((await client.head(key)).etag);
    expect((await apiError(client.lock(key, { ifMatch: etag }))).status).toBe(412);
  });
});

describe('conditional put', () => {
  it('ifNoneMatch "*" creates only, ifMatch replaces only the named version, 412 otherwise', async () => {
    const key = uniqueKey();
    const created = await client.put(key, 'first', { ifNoneMatch: '*' });
    expect(created.created).toBe(true);

    const exists = await apiError(client.put(key, 'second', { ifNoneMatch: '*' }));
    expect(exists.status).toBe(412);
    expect(exists.isPreconditionFailed).toBe(true);
    expect(exists.message).toBe('The specified key does not match the precondition.');
    expect(exists.etag).toBe(created.etag);

    const swapped = await client.put(key, 'second', { ifMatch: created.etag });
    expect(swapped.created).toBe(false);
    const stale = await apiError(client.put(key, 'third', { ifMatch: created.etag }));
    expect(stale.isPreconditionFailed).toBe(true);
    expect(stale.etag).toBe(swapped.etag);
    expect((await client.get(key)).text()).toBe('second');

    const absent = await apiError(client.put(uniqueKey(), 'x', { ifMatch: created.etag }));
    expect(absent.status).toBe(412);
    expect(absent.etag).toBeNull();
  });
});

describe('listing', () => {
  it('pages with limit and cursor, and listAll walks every page in key order', async () => {
    const prefix = `${uniqueKey('list')}/`;
    const keys = Array.from({ length: 7 }, (_, i) => `${prefix}${String(i).padStart(2, '0')}`);
    for (const key of [...keys].reverse()) await client.put(key, `value of ${key}`);

    const first = await client.list({ prefix, limit: 3 });
    expect(first.keys.map((k) => k.key)).toEqual(keys.slice(0, 3));
    expect(first.cursor).toEqual(expect.any(String));
    expect(first.keys[0]).toMatchObject({
      size: `value of ${keys[0]}`.length,
      contentType: 'text/plain;charset=utf-8',
      locked: false,
      expiresAt: null,
    });
    const second = await client.list({ prefix, limit: 3, cursor: first.cursor });
    expect(second.keys.map((k) => k.key)).toEqual(keys.slice(3, 6));
    const last = await client.list({ prefix, limit: 3, cursor: second.cursor });
    expect(last.keys.map((k) => k.key)).toEqual(keys.slice(6));
    expect(last.cursor).toBeUndefined();

    const walked: KeyInfo[] = [];
    for await (const info of client.listAll({ prefix, limit: 2 })) walked.push(info);
    expect(walked.map((k) => k.key)).toEqual(keys);

    const none: KeyInfo[] = [];
    for await (const info of client.listAll({ prefix: `${prefix}nothing-here/` })) none.push(info);
    expect(none).toEqual([]);
  });

  it('throws a 400 for a limit above 1000 and a cursor Lucid did not make', async () => {
    expect((await apiError(client.list({ limit: 1001 }))).isBadRequest).toBe(true);
    const cursor = await apiError(client.list({ cursor: 'not-a-cursor' }));
    expect(cursor.status).toBe(400);
    expect(cursor.message).toMatch(/cursor/);
  });
});

describe('health and notifications', () => {
  it('health answers ok with the version', async () => {
    const health = await client.health();
    expect(health).toEqual({ status: 'ok', version: expect.any(String) });
    expectTypeOf(health).toEqualTypeOf<Health>();
  });

  it('notificationsUrl carries the token and the options, and streams changes', async () => {
    const url = new URL(client.notificationsUrl({ prefix: 'watched/', maxDuration: 5 }));
    expect(`${url.origin}${url.pathname}`).toBe(`${lucid.url}/api/notifications`);
    expect(url.searchParams.get('token')).toBe(lucid.token);
    expect(url.searchParams.get('prefix')).toBe('watched/');
    expect(url.searchParams.get('maxDuration')).toBe('5');

    const abort = new AbortController();
    const response = await fetch(url, { signal: abort.signal }); // no Authorization header: the query's token is enough
    expect(response.status).toBe(200);
    const key = `watched/${uniqueKey()}`;
    await client.put(key, 'seen');
    const reader = response.body!.getReader();
    let received = '';
    while (!received.includes(`"key":"${key}"`)) {
      const { value, done } = await reader.read();
      if (done) break;
      received += new TextDecoder().decode(value);
    }
    abort.abort();
    expect(received).toContain(`"type":"created","key":"${key}"`);
  });
});

describe('errors', () => {
  it('401 for a bad token, with the server message and WWW-Authenticate', async () => {
    const stranger = createLucidClient({ baseUrl: lucid.url, token: 'not-a-token' });
    const error = await apiError(stranger.get('anything'));
    expect(error.status).toBe(401);
    expect(error.isUnauthorized).toBe(true);
    expect(error.message).toBe('You are not allowed to perform this action.');
    expect(error.headers.get('WWW-Authenticate')).toMatch(/^Bearer/);
    expect(error.name).toBe('LucidApiError');
    expect(error).toBeInstanceOf(Error);
    expect((await apiError(createLucidClient({ baseUrl: lucid.url }).list())).isUnauthorized).toBe(true);
    expect(await stranger.health()).toMatchObject({ status: 'ok' });
  });

  it('403 for a read-scope token writing, and for a key outside a token’s prefix', async () => {
    const key = uniqueKey();
    await client.put(key, 'readable');
    const reader = createLucidClient({
      baseUrl: lucid.url,
      token: lucid.authority.issue('reader', 60, { scope: 'read' }),
    });
    expect((await reader.get(key)).text()).toBe('readable');
    const write = await apiError(reader.put(key, 'nope'));
    expect(write.status).toBe(403);
    expect(write.isForbidden).toBe(true);
    expect(write.message).toMatch(/scope/);
    expect((await apiError(reader.increment(key))).isForbidden).toBe(true);

    const scoped = createLucidClient({
      baseUrl: lucid.url,
      token: lucid.authority.issue('team', 60, { prefix: 'team/' }),
    });
    const outside = await apiError(scoped.get(key));
    expect(outside.isForbidden).toBe(true);
    expect(outside.message).toBe('This token is not allowed to access this key.');
  });

  it('404 for a missing key, on every operation that needs one', async () => {
    const key = uniqueKey('missing');
    // Thunks, called one at a time: promises made all at once reject before they are awaited (an unhandled rejection).
    const calls = [
      () => client.get(key),
      () => client.head(key),
      () => client.delete(key),
      () => client.lock(key),
      () => client.increment(key),
      () => client.ttl(key, 5),
    ];
    for (const call of calls) {
      const error = await apiError(call());
      expect(error.status).toBe(404);
      expect(error.isNotFound).toBe(true);
    }
  });

  it('409 on a locked key, 400 for a key over 512 characters and an empty value', async () => {
    const key = uniqueKey();
    await client.put(key, 'x');
    await client.lock(key);
    const locked = await apiError(client.delete(key));
    expect(locked.status).toBe(409);
    expect(locked.isConflict).toBe(true);

    const long = await apiError(client.get('k'.repeat(513)));
    expect(long.isBadRequest).toBe(true);
    expect(long.message).toMatch(/key must NOT have more than 512 characters/);
    const empty = await apiError(client.put(uniqueKey(), ''));
    expect(empty.status).toBe(400);
    expect(empty.message).toBe('The request body must not be empty.');
    const unlocked = uniqueKey();
    await client.put(unlocked, 'x');
    const seconds = await apiError(client.ttl(unlocked, 0.5));
    expect(seconds.isBadRequest).toBe(true);
    expect(seconds.message).toMatch(/whole number of seconds/);
  });

  it('413 for a value over limits.maxValueBytes, nothing stored', async () => {
    const small = await startLucid({ config: { limits: { maxValueBytes: 1024 } } });
    try {
      const limited = createLucidClient({ baseUrl: small.url, token: small.token });
      const key = uniqueKey();
      const error = await apiError(limited.put(key, new Uint8Array(1025)));
      expect(error.status).toBe(413);
      expect(error.isTooLarge).toBe(true);
      expect(error.message).toBe('The value is larger than the limit of 1024 bytes.');
      expect((await apiError(limited.get(key))).isNotFound).toBe(true);
      expect((await limited.put(key, new Uint8Array(1024))).created).toBe(true);
    } finally {
      await small.close();
    }
  });
});

describe('options', () => {
  it('uses the given fetch, sending the token once given as a bearer on every call, raw bodies untouched', async () => {
    const seen: {
      method: string;
      url: string;
      authorization: string | null;
      contentType: string | null;
      body: string;
    }[] = [];
    const recording = createLucidClient({
      baseUrl: `${lucid.url}/`,
      token: lucid.token,
      fetch: async (request) => {
        const body = request.method === 'PUT' ? Buffer.from(await request.clone().arrayBuffer()).toString('hex') : '';
        seen.push({
          method: request.method,
          url: request.url,
          authorization: request.headers.get('authorization'),
          contentType: request.headers.get('content-type'),
          body,
        });
        return fetch(request);
      },
    });
    const key = uniqueKey();
    await recording.put(key, '"41"');
    await recording.put(key, Uint8Array.from([0, 255, 0]));
    await recording.get(key);
    await recording.increment(key).catch(() => undefined);
    expect(seen.map((s) => s.method)).toEqual(['PUT', 'PUT', 'GET', 'PATCH']);
    expect(seen.every((s) => s.authorization === `Bearer ${lucid.token}`)).toBe(true);
    expect(seen.every((s) => s.url.startsWith(`${lucid.url}/api/kv/${key}`))).toBe(true);
    expect(seen[0]).toMatchObject({
      contentType: 'text/plain;charset=utf-8',
      body: Buffer.from('"41"').toString('hex'),
    });
    expect(seen[1]).toMatchObject({ contentType: 'application/octet-stream', body: '00ff00' });
    expect(seen[3]!.contentType).toBe('application/json');
  });
});

describe('typings', () => {
  it('are derived from the generated contract', () => {
    // Checked by `npx tsc -p tsconfig.check.json` (which includes test/); nothing runs here.
    expectTypeOf(client.put).parameter(0).toEqualTypeOf<string>();
    expectTypeOf<ReturnType<LucidClient['put']>>().toEqualTypeOf<Promise<PutResult>>();
    expectTypeOf<Awaited<ReturnType<LucidClient['list']>>>().toEqualTypeOf<KeyPage>();
    expectTypeOf<Awaited<ReturnType<LucidClient['increment']>>>().toEqualTypeOf<number>();
    expectTypeOf<LucidValue['bytes']>().returns.toEqualTypeOf<Uint8Array>();
    expectTypeOf<LucidMetadata['expiresAt']>().toEqualTypeOf<string | null>();
    expectTypeOf<Parameters<LucidClient['put']>[2]>().toExtend<{ ifNoneMatch?: '*' } | undefined>();
    const misuse = async () => {
      const unconditional: LucidValue = await client.get('k'); // no NotModified to rule out without ifNoneMatch
      const conditional: LucidValue | NotModified = await client.get('k', { ifNoneMatch: '"1-abc"' });
      if (!conditional.notModified) expectTypeOf(conditional).toEqualTypeOf<LucidValue>();
      void unconditional;
      // @ts-expect-error If-None-Match on PUT only takes '*' (the spec's enum)
      void client.put('k', 'v', { ifNoneMatch: '"1-abc"' });
      // @ts-expect-error a value is a string, bytes or a Blob, not an object (putJson is for that)
      void client.put('k', { a: 1 });
      // @ts-expect-error list's limit is a number
      void client.list({ limit: '10' });
      // @ts-expect-error listAll pages by itself: no cursor
      void client.listAll({ cursor: 'x' });
      // @ts-expect-error a conditional get may be "not modified": it is not a LucidValue as such
      const _value: LucidValue = await client.get('k', { ifNoneMatch: '*' });
      // @ts-expect-error ttl takes seconds as a number
      void client.ttl('k', '60');
    };
    expect(typeof misuse).toBe('function');
  });
});

const exec = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const tsc = path.join(root, 'node_modules/typescript/bin/tsc');

describe('the shipped package', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(path.join(tmpdir(), 'lucid-client-package-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it(
    "builds to dist/client, and `import … from 'lucid/client'` type-checks and runs in a consumer",
    { timeout: 120_000 },
    async () => {
      // The package as it would be installed: package.json, generated/ and a fresh build of dist/.
      const pkg = path.join(work, 'lucid');
      mkdirSync(pkg);
      cpSync(path.join(root, 'package.json'), path.join(pkg, 'package.json'));
      cpSync(path.join(root, 'generated'), path.join(pkg, 'generated'), { recursive: true });
      symlinkSync(path.join(root, 'node_modules'), path.join(pkg, 'node_modules'), 'dir');
      await exec(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.json'), '--outDir', path.join(pkg, 'dist')], {
        cwd: root,
      });

      // A consumer with its own strict tsconfig that depends on it.
      const app = path.join(work, 'app');
      mkdirSync(path.join(app, 'node_modules'), { recursive: true });
      symlinkSync(pkg, path.join(app, 'node_modules', 'lucid'), 'dir');
      writeFileSync(path.join(app, 'package.json'), JSON.stringify({ type: 'module', private: true }));
      writeFileSync(
        path.join(app, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            strict: true,
            noUncheckedIndexedAccess: true,
            outDir: 'out',
            typeRoots: [path.join(root, 'node_modules/@types')],
            types: ['node'],
          },
          files: ['usage.ts'],
        }),
      );
      writeFileSync(
        path.join(app, 'usage.ts'),
        `import { createLucidClient, LucidApiError, type KeyInfo, type LucidValue, type PutResult } from 'lucid/client';

const lucid = createLucidClient({ baseUrl: process.env.LUCID_URL!, token: process.env.LUCID_TOKEN! });
const created: PutResult = await lucid.put('from-the-package', Uint8Array.from([0, 1, 254, 255, 0]), { ifNoneMatch: '*', ttl: 60 });
const value: LucidValue = await lucid.get('from-the-package');
const count: number = await lucid.increment(uniqueCounter(await lucid.put('package-counter', '9')));
const keys: KeyInfo[] = [];
for await (const info of lucid.listAll({ prefix: 'from-' })) keys.push(info);
let status = 0;
try {
  await lucid.get('not-there');
} catch (error) {
  if (error instanceof LucidApiError && error.isNotFound) status = error.status;
}
function uniqueCounter(_: PutResult): string {
  return 'package-counter';
}
function misuse(): void {
  // @ts-expect-error ttl is a number of seconds
  void lucid.put('k', 'v', { ttl: '60' });
}
void misuse;
console.log(JSON.stringify({ created: created.created, bytes: Array.from(value.bytes()), count, keys: keys.map((k) => k.key), status }));
`,
      );
      await exec(process.execPath, [tsc, '-p', path.join(app, 'tsconfig.json')], { cwd: app });
      const { stdout } = await exec(process.execPath, [path.join(app, 'out', 'usage.js')], {
        cwd: app,
        env: { ...process.env, LUCID_URL: lucid.url, LUCID_TOKEN: lucid.token },
      });
      expect(JSON.parse(stdout)).toEqual({
        created: true,
        bytes: [0, 1, 254, 255, 0],
        count: 10,
        keys: ['from-the-package'],
        status: 404,
      });
    },
  );
});
