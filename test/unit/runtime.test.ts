/**
 * The Node version the suites run on. `make test-node24` sets LUCID_EXPECT_NODE_MAJOR=24, so a run
 * that silently fell back to the machine's Node would fail here instead of passing for the wrong reason.
 */
import { describe, expect, it } from 'vitest';
import sqlite3 from 'sqlite3';

const major = Number(process.versions.node.split('.')[0]);

describe('the Node runtime', () => {
  it('is the expected major version, and at least the one package.json declares', () => {
    expect(major).toBeGreaterThanOrEqual(20);
    const expected = process.env.LUCID_EXPECT_NODE_MAJOR;
    if (expected !== undefined) expect(major).toBe(Number(expected));
  });

  it('loads the native sqlite3 addon and runs a query with it', async () => {
    const db = new sqlite3.Database(':memory:');
    const row = await new Promise<unknown>((resolve, reject) => db.get('SELECT 6 * 7 AS answer', (error, result) => (error ? reject(error) : resolve(result))));
    await new Promise<void>((resolve, reject) => db.close((error) => (error ? reject(error) : resolve())));
    expect(row).toEqual({ answer: 42 });
  });
});
