/** The typed client's txn() against a real Lucid (SQLite once it has transactions, a shared backend until then). */
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { createLucidClient, LucidApiError, type LucidClient, type TxnResponse } from '../../src/client/index.js';
import { startLucid, uniqueKey, type TestLucid } from '../support/lucid.js';
import { txnBackend } from '../support/txn-backend.js';

const target = await txnBackend();
let lucid: TestLucid;
let client: LucidClient;
beforeAll(async () => {
  if (target === undefined) return;
  lucid = await startLucid({ config: target.config });
  client = createLucidClient({ baseUrl: lucid.url, token: lucid.token });
});
afterAll(async () => {
  await lucid?.close();
  await target?.drop();
});

describe.runIf(target !== undefined)('txn', () => {
  it('moves an amount between two counters under an ETag compare, typed end to end', async () => {
    const [a, b] = [uniqueKey('ca'), uniqueKey('cb')];
    const { etag } = await client.put(a, '10');
    await client.put(b, '0');
    const moved = await client.txn({
      compare: [{ key: a, etag }],
      success: [
        { op: 'decrement', key: a, value: 4 },
        { op: 'increment', key: b, value: 4 },
        { op: 'get', key: b },
      ],
      failure: [{ op: 'get', key: a }],
    });
    expectTypeOf(moved).toEqualTypeOf<TxnResponse>();
    expect(moved.succeeded).toBe(true);
    expect(moved.results.map((result) => result.value)).toEqual([6, 4, '4']);
    // The same compare again fails: the ETag moved on.
    const again = await client.txn({
      compare: [{ key: a, etag }],
      success: [{ op: 'decrement', key: a }],
      failure: [{ op: 'get', key: a }],
    });
    expect(again).toEqual({
      succeeded: false,
      results: [{ key: a, found: true, value: '6', contentType: 'text/plain;charset=utf-8', etag: expect.any(String) }],
    });
  });

  it('throws a LucidApiError naming the key that refused, and applies nothing', async () => {
    const [a, locked] = [uniqueKey('ta'), uniqueKey('tl')];
    await client.put(a, '1');
    await client.put(locked, '1');
    await client.lock(locked);
    const error = await client
      .txn({
        success: [
          { op: 'increment', key: a },
          { op: 'increment', key: locked },
        ],
      })
      .catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(LucidApiError);
    expect([
      (error as LucidApiError).status,
      (error as LucidApiError).isConflict,
      (error as LucidApiError).key,
    ]).toEqual([409, true, locked]);
    expect((await client.get(a)).text()).toBe('1');
  });
});
