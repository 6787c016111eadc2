/** The store contract (store-suite.ts) on the shared backends, each a real server on this machine. */
import { afterAll, describe } from 'vitest';
import { openPostgresStore } from '../../src/store/postgres.js';
import { openRedisStore } from '../../src/store/redis.js';
import { BACKEND_URLS, backendReady, dropNamespace, freshNamespace, type SharedBackend } from '../support/backends.js';
import { storeSuite } from './store-suite.js';

const openers = { redis: openRedisStore, postgres: openPostgresStore };

for (const backend of ['redis', 'postgres'] as SharedBackend[]) {
  const ready = await backendReady(backend);
  describe.runIf(ready)(backend, () => {
    const namespaces: string[] = [];
    afterAll(async () => {
      for (const namespace of namespaces) await dropNamespace(backend, namespace);
    });
    storeSuite(backend, {
      open: (clock) => {
        const namespace = freshNamespace();
        namespaces.push(namespace);
        return openers[backend]({ url: BACKEND_URLS[backend], namespace, sweepIntervalMs: 0, clock });
      },
    });
  });
}
