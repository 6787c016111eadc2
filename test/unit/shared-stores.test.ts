/** The store contract (store-suite.ts) on the shared backends, each a real server on this machine. */
import { createClient } from '@redis/client';
import { afterAll, describe, expect, it } from 'vitest';
import { deleteValue, putValue } from '../../src/kv.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import { openRedisStore } from '../../src/store/redis.js';
import { BACKEND_URLS, backendReady, dropNamespace, freshNamespace, type SharedBackend } from '../support/backends.js';
import { storeModelSuite } from './store-model.js';
import { storeSuite } from './store-suite.js';

const openers = { redis: openRedisStore, postgres: openPostgresStore };

for (const backend of ['redis', 'postgres'] as SharedBackend[]) {
  const ready = await backendReady(backend);
  describe.runIf(ready)(backend, () => {
    const namespaces: string[] = [];
    afterAll(async () => {
      for (const namespace of namespaces) await dropNamespace(backend, namespace);
    });
    const factory = {
      open: (clock: () => number) => {
        const namespace = freshNamespace();
        namespaces.push(namespace);
        return openers[backend]({ url: BACKEND_URLS[backend], namespace, sweepIntervalMs: 0, clock });
      },
    };
    storeSuite(backend, factory);
    // Fewer runs than SQLite's: each opens a fresh namespace on a server. Purge counts are backend
    // business (Redis expires keys itself; PostgreSQL keeps an expired row a refused write met).
    storeModelSuite(backend, factory, { numRuns: 30, exactPurgeCount: backend === 'postgres' });
  });
}

describe.runIf(await backendReady('postgres'))('postgres entries', () => {
  const namespace = freshNamespace();
  afterAll(() => dropNamespace('postgres', namespace));

  it('reads one snapshot: writes made after the first page are not seen, not even on later pages', async () => {
    const store = await openPostgresStore({ url: BACKEND_URLS.postgres, namespace, sweepIntervalMs: 0 });
    try {
      const key = (i: number) => `snap/${String(i).padStart(4, '0')}`;
      // Seeded 50 at a time: 1200 writes at once outwait the pool's connect timeout on a busy machine.
      for (let start = 0; start < 1200; start += 50) {
        await Promise.all(
          Array.from({ length: 50 }, (_, i) => putValue(store, key(start + i), Buffer.from('before'), 'text/plain')),
        );
      }
      const seen = new Map<string, string>();
      let wrote = false;
      for await (const { key: k, entry } of store.entries!('snap/')) {
        seen.set(k, entry.value.toString());
        if (!wrote) {
          wrote = true;
          await putValue(store, key(1100), Buffer.from('after'), 'text/plain');
          await putValue(store, 'snap/9999', Buffer.from('new'), 'text/plain');
          await deleteValue(store, key(1199));
        }
      }
      expect(seen.size).toBe(1200);
      expect([...seen.values()].every((value) => value === 'before')).toBe(true);
      expect(seen.has('snap/9999')).toBe(false);
    } finally {
      await store.close();
    }
  });
});

describe.runIf(await backendReady('redis'))('redis expiry', () => {
  const namespace = freshNamespace();
  afterAll(() => dropNamespace('redis', namespace));

  it("decides expiry by the node's clock: Redis's own TTL runs 30 s past it, the lapsed key is gone to reads and swept at once", async () => {
    let now = Date.now();
    const store = await openRedisStore({ url: BACKEND_URLS.redis, namespace, sweepIntervalMs: 0, clock: () => now });
    const redis = createClient({ url: BACKEND_URLS.redis });
    redis.on('error', () => undefined);
    await redis.connect();
    try {
      await putValue(store, 'short', Buffer.from('v'), 'text/plain', { ttlSeconds: 2 });
      const hash = `{${namespace}}:k:short`;
      const ttl = await redis.pTTL(hash);
      expect(ttl).toBeGreaterThan(31_000);
      expect(ttl).toBeLessThanOrEqual(32_000);
      // A node whose clock has moved past the lapse: Redis still holds the hash, no read sees it.
      now += 2_000;
      expect(await redis.exists(hash)).toBe(1);
      expect(await store.get('short')).toBeUndefined();
      expect(await store.list({ prefix: '', limit: 10 })).toEqual([]);
      expect(await store.count()).toBe(0);
      expect(await store.purgeExpired()).toBe(1);
      expect(await redis.exists(hash)).toBe(0);
    } finally {
      redis.destroy();
      await store.close();
    }
  });
});
