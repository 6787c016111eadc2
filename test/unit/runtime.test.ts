/**
 * The Node version the suites run on. `make test-node24` sets LUCID_EXPECT_NODE_MAJOR=24, so a run
 * that silently fell back to the machine's Node would fail here instead of passing for the wrong reason.
 */
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/sqlite-adapter.js';

const major = Number(process.versions.node.split('.')[0]);

describe('the Node runtime', () => {
  it('is the expected major version, and at least the one package.json declares', () => {
    expect(major).toBeGreaterThanOrEqual(20);
    const expected = process.env.LUCID_EXPECT_NODE_MAJOR;
    if (expected !== undefined) expect(major).toBe(Number(expected));
  });

  it("loads the native better-sqlite3 addon (the embedded store's driver) and runs a query with it", () => {
    const db = openDatabase(':memory:');
    const row = db.prepare('SELECT 6 * 7 AS answer').get();
    db.close();
    expect(row).toEqual({ answer: 42 });
  });
});
