/**
 * ETags come from a pool of random bytes refilled every 1024 writes (src/kv.ts): across refills they keep
 * their form, and no two writes of a key share one.
 */
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { putValue } from '../../src/kv.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/types.js';
import { tempDir } from '../support/lucid.js';

let store: Store | undefined;
afterEach(async () => {
  await store?.close();
});

it('gives every write of a key a new ETag of the version and 48 random bits, past several refills of the pool', async () => {
  store = await openSqliteStore({ file: path.join(tempDir(), 'lucid.sqlite'), sweepIntervalMs: 0 });
  const writes = 2500;
  const etags = new Set<string>();
  for (let version = 1; version <= writes; version++) {
    const { entry } = await putValue(store, 'k', Buffer.from(String(version)), 'text/plain');
    expect(entry.version).toBe(version);
    expect(entry.etag).toMatch(new RegExp(`^"${version.toString(36)}-[A-Za-z0-9_-]{8}"$`));
    etags.add(entry.etag.slice(entry.etag.indexOf('-')));
  }
  // The random parts alone: 2 500 draws of 48 bits collide with odds of about 1 in 10^8.
  expect(etags.size).toBe(writes);
});
