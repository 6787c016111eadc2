/** The transaction contract (txn-suite.ts) on every backend that has `transact`, and on the encryption decorator over each. */
import path from 'node:path';
import { afterAll, describe } from 'vitest';
import { Keyring, applyEncryption, generateKey, parseKey } from '../../src/store/encrypted.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import { openRedisStore } from '../../src/store/redis.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import type { Clock, Store } from '../../src/store/types.js';
import { BACKEND_URLS, backendReady, dropNamespace, freshNamespace, type SharedBackend } from '../support/backends.js';
import { tempDir } from '../support/lucid.js';
import { txnSuite } from './txn-suite.js';

const keyring = new Keyring(parseKey(generateKey()));
const encrypt = (store: Store) => applyEncryption(store, keyring, { writable: true });
const openers = { redis: openRedisStore, postgres: openPostgresStore };

const sqlite = (clock: Clock) =>
  openSqliteStore({ file: path.join(tempDir(), 'lucid.sqlite'), sweepIntervalMs: 0, clock });
const probe = await sqlite(Date.now);
const sqliteHasTransact = probe.transact !== undefined;
await probe.close();
describe.runIf(sqliteHasTransact)('sqlite', () => {
  txnSuite('sqlite', { open: sqlite });
  txnSuite('encrypted sqlite', { open: async (clock) => encrypt(await sqlite(clock)) });
});

for (const backend of ['redis', 'postgres'] as SharedBackend[]) {
  describe.runIf(await backendReady(backend))(backend, () => {
    const namespaces: string[] = [];
    afterAll(async () => {
      for (const namespace of namespaces) await dropNamespace(backend, namespace);
    });
    const open = (clock: Clock) => {
      const namespace = freshNamespace();
      namespaces.push(namespace);
      return openers[backend]({ url: BACKEND_URLS[backend], namespace, sweepIntervalMs: 0, clock });
    };
    txnSuite(backend, { open });
    txnSuite(`encrypted ${backend}`, { open: async (clock) => encrypt(await open(clock)) });
  });
}
