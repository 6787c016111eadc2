import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ConfigError, StoreUnavailableError } from '../../src/errors.js';
import { applyOperation, putValue, readEntry } from '../../src/kv.js';
import {
  ENVELOPE_OVERHEAD,
  Keyring,
  MARKER_KEY,
  applyEncryption,
  generateKey,
  parseKey,
  rekeyStore,
} from '../../src/store/encrypted.js';
import { openRedisStore } from '../../src/store/redis.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import type { Change, Clock, Store } from '../../src/store/types.js';
import { BACKEND_URLS, backendReady, dropNamespace, freshNamespace } from '../support/backends.js';
import { until } from '../support/helpers.js';
import { tempDir } from '../support/lucid.js';
import { storeEntries } from '../../src/store/entries.js';
import { storeSuite } from './store-suite.js';

const keyA = parseKey(generateKey());
const keyB = parseKey(generateKey());

/** A real SQLite store behind the decorator, as the server opens it. */
async function openEncrypted(file: string, keyring: Keyring | undefined, clock?: Clock): Promise<Store> {
  const backend = await openSqliteStore({ file, sweepIntervalMs: 0, clock });
  try {
    return await applyEncryption(backend, keyring, { writable: true });
  } catch (error) {
    await backend.close();
    throw error;
  }
}

storeSuite(
  'encrypted sqlite',
  { open: (clock) => openEncrypted(path.join(tempDir(), 'lucid.sqlite'), new Keyring(keyA), clock) },
  { head: false },
);

// The decorator over a shared backend too: it must not care what is underneath.
if (await backendReady('redis')) {
  const namespaces: string[] = [];
  afterAll(async () => {
    for (const namespace of namespaces) await dropNamespace('redis', namespace);
  });
  describe('encryption over redis', () => {
    it("delivers another node's changes opened, live and replayed", async () => {
      const namespace = freshNamespace();
      namespaces.push(namespace);
      const open = async () =>
        applyEncryption(
          await openRedisStore({ url: BACKEND_URLS.redis, namespace, sweepIntervalMs: 0 }),
          new Keyring(keyA),
          { writable: true },
        );
      const [writer, reader] = [await open(), await open()];
      const changes: Change[] = [];
      reader.subscribe((change) => changes.push(change));
      await putValue(writer, 'shared', Buffer.from([104, 105, 0, 0]), 'application/octet-stream');
      await until(() => changes.length > 0);
      expect(changes.map((change) => [change.key, [...change.entry!.value]])).toEqual([['shared', [104, 105, 0, 0]]]);
      await putValue(writer, 'later', Buffer.from([0]), 'application/octet-stream');
      const replayed = await reader.changesSince!(changes[0]!.id!);
      expect(replayed?.map((change) => [change.key, [...change.entry!.value]])).toEqual([['later', [0]]]);
      await Promise.all([writer.close(), reader.close()]);
    });
  });

  storeSuite(
    'encrypted redis',
    {
      open: async (clock) => {
        const namespace = freshNamespace();
        namespaces.push(namespace);
        const backend = await openRedisStore({ url: BACKEND_URLS.redis, namespace, sweepIntervalMs: 0, clock });
        return applyEncryption(backend, new Keyring(keyA), { writable: true });
      },
    },
    { head: false },
  );
}

/** Bytes worth trying by hand on top of the random ones: the patterns unpadding ciphers lose. */
const EDGE_VALUES = [
  Buffer.alloc(0),
  Buffer.from([0]),
  Buffer.from([0xff]),
  Buffer.alloc(16),
  Buffer.alloc(4096),
  Buffer.from([1, 2, 3, 0, 0, 0]),
  Buffer.concat([Buffer.from('text'), Buffer.alloc(15)]),
  Buffer.from([16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16]),
  Buffer.from([1]),
  Buffer.alloc(1024 * 1024 + 3, 0xa5),
];

describe('encryption at rest', () => {
  const opened: Store[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
  });
  const open = async (file: string, keyring: Keyring | undefined) => {
    const store = await openEncrypted(file, keyring);
    opened.push(store);
    return store;
  };
  const closeAll = () => Promise.all(opened.splice(0).map((store) => store.close()));

  it('seals and opens every byte pattern exactly: empty, zeros, trailing zeros, one byte, large, and random ones', () => {
    const keyring = new Keyring(keyA);
    for (const value of EDGE_VALUES) {
      const sealed = keyring.seal('k', value);
      expect(sealed.length).toBe(value.length + ENVELOPE_OVERHEAD);
      expect(keyring.open('k', sealed).equals(value)).toBe(true);
    }
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 4096 }),
        fc.nat({ max: 64 }),
        fc.string({ minLength: 1, maxLength: 40 }),
        (bytes, zeros, key) => {
          const value = Buffer.concat([Buffer.from(bytes), Buffer.alloc(zeros)]);
          const opened = keyring.open(key, keyring.seal(key, value));
          return opened.length === value.length && opened.equals(value);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('round-trips every byte pattern through a real encrypted SQLite store, read back after a reopen', async () => {
    const file = path.join(tempDir(), 'lucid.sqlite');
    const store = await open(file, new Keyring(keyA));
    const values = await fc.sample(fc.uint8Array({ minLength: 1, maxLength: 2048 }), 200);
    const all = [
      ...EDGE_VALUES.filter((value) => value.length > 0),
      ...values.map((bytes) => Buffer.concat([Buffer.from(bytes), Buffer.alloc(bytes[0]! % 5)])),
    ];
    for (const [i, value] of all.entries()) await putValue(store, `v${i}`, value, 'application/octet-stream');
    await closeAll();
    const again = await open(file, new Keyring(keyA));
    for (const [i, value] of all.entries())
      expect((await readEntry(again, `v${i}`)).value.equals(value), `value ${i}`).toBe(true);
  });

  it('keeps no plaintext on disk: neither the value nor its trailing-zero form is in the SQLite files', async () => {
    const dir = tempDir();
    const store = await open(path.join(dir, 'lucid.sqlite'), new Keyring(keyA));
    const secret = Buffer.from('the launch code is 0000-SWORDFISH-0000 and nobody may read it');
    await putValue(store, 'secret', secret, 'text/plain');
    await putValue(store, 'zeros', Buffer.concat([secret, Buffer.alloc(32)]), 'text/plain');
    await closeAll();
    const onDisk = Buffer.concat(readdirSync(dir).map((name) => readFileSync(path.join(dir, name))));
    expect(onDisk.includes(Buffer.from('SWORDFISH'))).toBe(false);
    expect(onDisk.includes(Buffer.from('secret'))).toBe(true); // keys are not encrypted: the check can see the file
  });

  it('reports plaintext sizes in listings and changes, and hides its marker from listings and entries', async () => {
    const store = await open(path.join(tempDir(), 'lucid.sqlite'), new Keyring(keyA));
    const changes: Change[] = [];
    store.subscribe((change) => changes.push(change));
    await putValue(store, 'five', Buffer.from('12345'), 'text/plain');
    await applyOperation(store, 'five', 'lock', undefined);
    expect((await store.list({ prefix: '', limit: 10 })).map(({ key, size }) => [key, size])).toEqual([['five', 5]]);
    expect(await store.list({ prefix: '', limit: 1 })).toHaveLength(1);
    const keys = [];
    for await (const { key, entry } of storeEntries(store, '')) keys.push([key, entry.value.toString()]);
    expect(keys).toEqual([['five', '12345']]);
    expect(changes.map((change) => [change.type, change.entry?.value.toString()])).toEqual([
      ['created', '12345'],
      ['locked', '12345'],
    ]);
  });

  it('refuses to open with a wrong key, saying so and naming both key ids', async () => {
    const file = path.join(tempDir(), 'lucid.sqlite');
    await putValue(await open(file, new Keyring(keyA)), 'k', Buffer.from('v'), 'text/plain');
    await closeAll();
    const attempt = openEncrypted(file, new Keyring(keyB));
    await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    await expect(attempt).rejects.toThrow(new RegExp(`Wrong encryption key.*${keyA.id}.*${keyB.id}`));
  });

  it('refuses encrypted data with encryption off, and unencrypted data with encryption on', async () => {
    const encrypted = path.join(tempDir(), 'lucid.sqlite');
    await putValue(await open(encrypted, new Keyring(keyA)), 'k', Buffer.from('v'), 'text/plain');
    const plain = path.join(tempDir(), 'lucid.sqlite');
    await putValue(await open(plain, undefined), 'k', Buffer.from('v'), 'text/plain');
    await closeAll();
    await expect(openEncrypted(encrypted, undefined)).rejects.toThrow(
      /The store is encrypted .* but encryption is off/,
    );
    await expect(openEncrypted(plain, new Keyring(keyA))).rejects.toThrow(/holds unencrypted values: .*lucid rekey/);
  });

  it('answers a damaged value, or one moved to another key, with a store failure instead of garbage', async () => {
    const file = path.join(tempDir(), 'lucid.sqlite');
    await putValue(await open(file, new Keyring(keyA)), 'a', Buffer.from('value of a'), 'text/plain');
    await closeAll();
    const raw = await openSqliteStore({ file, sweepIntervalMs: 0 });
    const sealed = (await raw.get('a'))!;
    await raw.update('b', () => ({ result: undefined, write: sealed }));
    const flipped = Buffer.from(sealed.value);
    flipped[flipped.length - 20]! ^= 1;
    await raw.update('a', () => ({ result: undefined, write: { ...sealed, value: flipped } }));
    await raw.close();
    const store = await open(file, new Keyring(keyA));
    await expect(store.get('a')).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.get('b')).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('rekeys every value to a new key: afterwards the new key alone reads everything and the old one is refused', async () => {
    const file = path.join(tempDir(), 'lucid.sqlite');
    const store = await open(file, new Keyring(keyA));
    for (let i = 0; i < 50; i++) await putValue(store, `k${i}`, Buffer.from([i, 0, 0]), 'application/octet-stream');
    const etag = (await readEntry(store, 'k7')).etag;
    await closeAll();
    const raw = await openSqliteStore({ file, sweepIntervalMs: 0 });
    expect(await rekeyStore(raw, new Keyring(keyB, [keyA]))).toEqual({ rewritten: 50, kept: 0 });
    await raw.close();
    const after = await open(file, new Keyring(keyB));
    for (let i = 0; i < 50; i++) expect([...(await readEntry(after, `k${i}`)).value]).toEqual([i, 0, 0]);
    expect((await readEntry(after, 'k7')).etag).toBe(etag);
    await closeAll();
    await expect(openEncrypted(file, new Keyring(keyA))).rejects.toThrow(/Wrong encryption key/);
  });

  it('survives an interrupted rekey: both keys read every value meanwhile, the new key alone is refused, a re-run finishes', async () => {
    const file = path.join(tempDir(), 'lucid.sqlite');
    const store = await open(file, new Keyring(keyA));
    for (let i = 0; i < 40; i++) await putValue(store, `k${i}`, Buffer.from(`value ${i}\0`), 'text/plain');
    await closeAll();
    let raw = await openSqliteStore({ file, sweepIntervalMs: 0 });
    await expect(
      rekeyStore(raw, new Keyring(keyB, [keyA]), (done) => {
        if (done === 15) throw new Error('interrupted');
      }),
    ).rejects.toThrow('interrupted');
    await raw.close();
    await expect(openEncrypted(file, new Keyring(keyB))).rejects.toThrow(
      new RegExp(`interrupted .*lucid rekey.* key id ${keyA.id}`),
    );
    const both = await open(file, new Keyring(keyB, [keyA]));
    for (let i = 0; i < 40; i++) expect((await readEntry(both, `k${i}`)).value.toString()).toBe(`value ${i}\0`);
    await closeAll();
    raw = await openSqliteStore({ file, sweepIntervalMs: 0 });
    expect(await rekeyStore(raw, new Keyring(keyB, [keyA]))).toEqual({ rewritten: 25, kept: 15 });
    await raw.close();
    const after = await open(file, new Keyring(keyB));
    for (let i = 0; i < 40; i++) expect((await readEntry(after, `k${i}`)).value.toString()).toBe(`value ${i}\0`);
  });

  it('encrypts an unencrypted store with rekey, and its marker stays out of the way', async () => {
    const file = path.join(tempDir(), 'lucid.sqlite');
    const plain = await open(file, undefined);
    await putValue(plain, 'p', Buffer.from([0, 0]), 'application/octet-stream');
    await closeAll();
    const raw = await openSqliteStore({ file, sweepIntervalMs: 0 });
    expect(await rekeyStore(raw, new Keyring(keyA))).toEqual({ rewritten: 1, kept: 0 });
    expect((await raw.get(MARKER_KEY))?.value.includes(Buffer.from('pending'))).toBe(false);
    await raw.close();
    expect([...(await readEntry(await open(file, new Keyring(keyA)), 'p')).value]).toEqual([0, 0]);
  });
});
