/**
 * POST /api/txn over a real server: every rule of issue 15 (branches, op results, refusals that
 * leave every key untouched, tokens, limits, notifications). It runs on the default SQLite store
 * once that store has `transact`; until then on Redis (or PostgreSQL), each test file in its own
 * namespace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyRequests } from '../support/helpers.js';
import { startLucid, uniqueKey, type TestLucid } from '../support/lucid.js';
import { isChange, openStream, type Notification } from '../support/sse.js';
import { txnBackend } from '../support/txn-backend.js';

const target = await txnBackend();

let lucid: TestLucid;
beforeAll(async () => {
  if (target === undefined) return;
  lucid = await startLucid({ config: { ...target.config, limits: { maxValueBytes: 256 * 1024 } } });
});
afterAll(async () => {
  await lucid?.close();
  await target?.drop();
});

type Body = Record<string, unknown>;

async function txn(body: unknown, token?: string): Promise<{ status: number; body: Body }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const response = await lucid.request('/api/txn', {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers,
  });
  return { status: response.status, body: (await response.json()) as Body };
}

const { put, patch, get } = keyRequests(() => lucid);
const read = async (key: string) => {
  const response = await get(key);
  return {
    status: response.status,
    text: await response.text(),
    etag: response.headers.get('etag'),
    type: response.headers.get('content-type'),
    expires: response.headers.get('lucid-expires-at'),
  };
};
const lock = (key: string) => patch(key, { operation: 'lock' });

/** Three keys under a fresh prefix: a = 10, b = 20, c = "text". */
async function seed(): Promise<{ p: string; a: string; b: string; c: string }> {
  const p = `${uniqueKey('txn')}/`;
  const keys = { p, a: `${p}a`, b: `${p}b`, c: `${p}c` };
  await put(keys.a, '10');
  await put(keys.b, '20');
  await put(keys.c, 'text');
  return keys;
}

/** The values of keys, to compare before and after a refused transaction. */
const snapshot = (keys: string[]) => Promise.all(keys.map(read));

describe.runIf(target !== undefined)('transaction', () => {
  it('runs the success branch: increment, decrement, put (text and base64), delete and get, with one result per op', async () => {
    const { p, a, b, c } = await seed();
    const before = await read(a);
    const { status, body } = await txn({
      compare: [
        { key: a, etag: before.etag },
        { key: b, exists: true },
        { key: c, value: 'text' },
        { key: `${p}none`, exists: false },
      ],
      success: [
        { op: 'decrement', key: a, value: 5 },
        { op: 'increment', key: b, value: 5 },
        { op: 'put', key: `${p}log`, value: 'moved 5', contentType: 'text/plain', ttl: 3600 },
        { op: 'put', key: `${p}blob`, valueBase64: '/wA=', contentType: 'application/octet-stream' },
        { op: 'delete', key: c },
        { op: 'delete', key: `${p}none` },
        { op: 'get', key: a },
        { op: 'get', key: `${p}blob` },
        { op: 'get', key: c },
      ],
      failure: [{ op: 'get', key: a }],
    });
    expect(status).toBe(200);
    expect(body.succeeded).toBe(true);
    const results = body.results as Body[];
    const after = await read(a);
    expect(results[0]).toEqual({ key: a, value: 5, etag: after.etag });
    expect(results[1]).toEqual({ key: b, value: 25, etag: (await read(b)).etag });
    expect(results[2]).toEqual({ key: `${p}log`, created: true, etag: expect.any(String) });
    expect(results[3]).toEqual({ key: `${p}blob`, created: true, etag: expect.any(String) });
    expect(results.slice(4, 6)).toEqual([
      { key: c, deleted: true },
      { key: `${p}none`, deleted: false },
    ]);
    // A get sees the earlier ops of the same transaction.
    expect(results[6]).toEqual({ key: a, found: true, value: '5', contentType: 'text/plain', etag: after.etag });
    expect(results[7]).toEqual({
      key: `${p}blob`,
      found: true,
      valueBase64: '/wA=',
      contentType: 'application/octet-stream',
      etag: results[3]!.etag,
    });
    expect(results[8]).toEqual({ key: c, found: false });
    expect(after.text).toBe('5');
    expect((await read(c)).status).toBe(404);
    const log = await read(`${p}log`);
    expect([log.text, log.type, log.expires !== null]).toEqual(['moved 5', 'text/plain', true]);
  });

  it('runs the failure branch when any compare fails, and none at all is success', async () => {
    const { a, b, c } = await seed();
    const compares = [
      { key: a, etag: '"1-nope"' },
      { key: b, exists: false },
      { key: c, value: 'other' },
      { key: c, valueBase64: 'AAEC' },
    ];
    for (const compare of compares) {
      const { status, body } = await txn({
        compare: [{ key: b, exists: true }, compare],
        success: [{ op: 'increment', key: a }],
        failure: [{ op: 'get', key: b }],
      });
      expect([status, body]).toEqual([
        200,
        {
          succeeded: false,
          results: [{ key: b, found: true, value: '20', contentType: 'text/plain', etag: expect.any(String) }],
        },
      ]);
    }
    expect((await read(a)).text).toBe('10');
    expect(await txn({})).toEqual({ status: 200, body: { succeeded: true, results: [] } });
    expect(
      (
        await txn({
          compare: [{ key: c, valueBase64: Buffer.from('text').toString('base64') }],
          success: [{ op: 'increment', key: a }],
        })
      ).body,
    ).toMatchObject({ succeeded: true });
  });

  it('gives a put without contentType the type a PUT without one gets', async () => {
    const { p } = await seed();
    await txn({
      success: [
        { op: 'put', key: `${p}j`, value: '{"a":1}' },
        { op: 'put', key: `${p}t`, value: 'plain words' },
      ],
    });
    expect((await read(`${p}j`)).type).toBe('application/json');
    expect((await read(`${p}t`)).type).toBe('text/plain; charset=utf-8');
  });

  describe('refusals apply nothing', () => {
    const refused = async (body: Body, status: number, message: string, key: string | undefined, keys: string[]) => {
      const before = await snapshot(keys);
      const answer = await txn(body);
      expect(answer.status).toBe(status);
      expect(answer.body).toEqual(key === undefined ? { message } : { message, key });
      expect(await snapshot(keys)).toEqual(before);
    };

    it('409 naming the key when a write op meets a locked key', async () => {
      const { p, a, b, c } = await seed();
      expect((await lock(c)).status).toBe(200);
      for (const op of [
        { op: 'put', key: c, value: 'x' },
        { op: 'delete', key: c },
        { op: 'increment', key: c },
      ]) {
        await refused(
          {
            success: [
              { op: 'decrement', key: a },
              { op: 'put', key: `${p}new`, value: 'n' },
              op,
              { op: 'increment', key: b },
            ],
          },
          409,
          'The specified key cannot be updated.',
          c,
          [a, b, c, `${p}new`],
        );
      }
      // Reading a locked key is fine.
      expect((await txn({ success: [{ op: 'get', key: c }] })).status).toBe(200);
    });

    it('404 naming the key when an increment or decrement meets a missing key', async () => {
      const { p, a, b } = await seed();
      await refused(
        {
          success: [
            { op: 'increment', key: a },
            { op: 'decrement', key: `${p}missing` },
          ],
        },
        404,
        'The specified key does not exists.',
        `${p}missing`,
        [a, b, `${p}missing`],
      );
    });

    it('400 naming the key when an increment meets a value that is not a number', async () => {
      const { a, b, c } = await seed();
      await refused(
        {
          success: [
            { op: 'delete', key: a },
            { op: 'increment', key: c, value: 2 },
          ],
        },
        400,
        'The stored value is not a number.',
        c,
        [a, b, c],
      );
    });

    it('400 for a body that breaks the schema, an unknown op, an invalid key, 65 items or one key written twice', async () => {
      const { a, b, c } = await seed();
      const keys = [a, b, c];
      const cases: Array<[unknown, RegExp]> = [
        ['not json', /not valid JSON/],
        [{ success: [{ op: 'rename', key: a }] }, /Invalid request/],
        [{ success: [{ op: 'get', key: 'k'.repeat(513) }] }, /Invalid request/],
        [{ success: [{ op: 'get', key: '' }] }, /Invalid request/],
        [{ compare: [{ key: a }] }, /Invalid request/],
        [{ compare: [{ key: a, exists: true, etag: '"1-x"' }] }, /Invalid request/],
        [{ success: [{ op: 'put', key: a, value: 'x', valueBase64: 'AAEC' }] }, /exactly one of value and valueBase64/],
        [{ success: [{ op: 'put', key: a }] }, /exactly one of value and valueBase64/],
        [{ success: [{ op: 'put', key: a, valueBase64: 'not base64!' }] }, /Invalid request/],
        [{ success: [{ op: 'put', key: a, value: '' }] }, /Invalid request/],
        [{ success: [{ op: 'put', key: a, value: 'x', ttl: 0 }] }, /Invalid request/],
        [{ success: [{ op: 'increment', key: a, value: 'two' }] }, /Invalid request/],
        [{ other: [] }, /Invalid request/],
        [
          {
            compare: Array.from({ length: 30 }, () => ({ key: a, exists: true })),
            success: Array.from({ length: 35 }, () => ({ op: 'get', key: b })),
          },
          /at most 64 compares and ops; this one holds 65/,
        ],
        [
          {
            success: [
              { op: 'increment', key: a },
              { op: 'put', key: a, value: '1' },
            ],
          },
          /written by two ops of one branch/,
        ],
      ];
      for (const [body, message] of cases) {
        const before = await snapshot(keys);
        const answer = await txn(body);
        expect([answer.status, answer.body.message], JSON.stringify(body)).toEqual([
          400,
          expect.stringMatching(message),
        ]);
        expect(await snapshot(keys)).toEqual(before);
      }
      // 64 in all is allowed, and a key written once in each branch is fine.
      expect(
        (
          await txn({
            compare: Array.from({ length: 30 }, () => ({ key: a, exists: true })),
            success: Array.from({ length: 34 }, () => ({ op: 'get', key: b })),
          })
        ).status,
      ).toBe(200);
      expect(
        (await txn({ success: [{ op: 'increment', key: a }], failure: [{ op: 'increment', key: a }] })).status,
      ).toBe(200);
    });

    it('413 for a body over the value limit, which a single value under it fits in', async () => {
      const { p } = await seed();
      const large = await txn({ success: [{ op: 'put', key: `${p}big`, value: 'x'.repeat(300 * 1024) }] });
      expect([large.status, large.body.message]).toEqual([413, expect.stringMatching(/larger than/)]);
      expect((await read(`${p}big`)).status).toBe(404);
      expect((await txn({ success: [{ op: 'put', key: `${p}big`, value: 'x'.repeat(200 * 1024) }] })).status).toBe(200);
    });
  });

  describe('tokens', () => {
    it('401 without a token', async () => {
      const response = await fetch(`${lucid.url}/api/txn`, {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      });
      expect(response.status).toBe(401);
    });

    it("403 when any key in compares or ops lies outside the token's prefix, nothing applied", async () => {
      const { p, a, b } = await seed();
      const token = lucid.authority.issue('limited', 600, { prefix: p });
      const outside = `${uniqueKey('elsewhere')}`;
      for (const body of [
        { compare: [{ key: outside, exists: false }], success: [{ op: 'increment', key: a }] },
        {
          success: [
            { op: 'increment', key: a },
            { op: 'put', key: outside, value: 'x' },
          ],
        },
        { success: [{ op: 'increment', key: a }], failure: [{ op: 'get', key: outside }] },
      ]) {
        const answer = await txn(body, token);
        expect([answer.status, answer.body]).toEqual([
          403,
          { message: 'This token is not allowed to access this key.', key: outside },
        ]);
      }
      expect((await read(a)).text).toBe('10');
      expect((await read(outside)).status).toBe(404);
      expect(
        (
          await txn(
            {
              success: [
                { op: 'increment', key: a },
                { op: 'get', key: b },
              ],
            },
            token,
          )
        ).status,
      ).toBe(200);
    });

    it('403 for a write op with a read-only token; reads are allowed', async () => {
      const { a } = await seed();
      const token = lucid.authority.issue('reader', 600, { scope: 'read' });
      const answer = await txn({ success: [{ op: 'get', key: a }], failure: [{ op: 'increment', key: a }] }, token);
      expect([answer.status, answer.body.message]).toEqual([403, expect.stringMatching(/scope \(read\)/)]);
      expect((await read(a)).text).toBe('10');
      expect((await txn({ compare: [{ key: a, exists: true }], success: [{ op: 'get', key: a }] }, token)).status).toBe(
        200,
      );
    });
  });

  it('announces each change in order, each carrying the same txn id', async () => {
    const { p, a, b } = await seed();
    const stream = await openStream(`${lucid.url}/api/notifications?${new URLSearchParams({ prefix: p })}`, {
      authorization: `Bearer ${lucid.token}`,
    });
    try {
      await stream.until((blocks) => blocks.length > 0);
      await txn({
        success: [
          { op: 'decrement', key: a, value: 3 },
          { op: 'put', key: `${p}n`, value: 'hi' },
          { op: 'increment', key: b, value: 3 },
          { op: 'get', key: a },
        ],
      });
      await put(a, '1');
      const changes = (await stream.until((blocks) => blocks.filter(isChange).length >= 4))
        .filter(isChange)
        .map((block) => JSON.parse(block.data!) as Notification & { txn?: string });
      expect(changes.map((change) => [change.type, change.key])).toEqual([
        ['decremented', a],
        ['created', `${p}n`],
        ['incremented', b],
        ['updated', a],
      ]);
      expect(changes[0]!.txn).toEqual(expect.any(String));
      expect(changes.slice(0, 3).every((change) => change.txn === changes[0]!.txn)).toBe(true);
      expect(changes[3]!.txn).toBeUndefined();
    } finally {
      stream.close();
    }
  });

  it('keeps the total of concurrent transfers, and every one-transaction read sees it whole', async () => {
    const p = `${uniqueKey('sum')}/`;
    const keys = Array.from({ length: 4 }, (_, i) => `${p}${i}`);
    for (const key of keys) await put(key, '100');
    const reads: number[] = [];
    let running = true;
    const reader = (async () => {
      while (running) {
        const { body } = await txn({ success: keys.map((key) => ({ op: 'get', key })) });
        reads.push((body.results as Body[]).reduce((sum, result) => sum + Number(result.value), 0));
      }
    })();
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        txn({
          success: [
            { op: 'decrement', key: keys[i % 4], value: i % 5 },
            { op: 'increment', key: keys[(i + 1) % 4], value: i % 5 },
          ],
        }),
      ),
    );
    running = false;
    await reader;
    expect(reads.every((total) => total === 400)).toBe(true);
    const final = await Promise.all(keys.map(async (key) => Number((await read(key)).text)));
    expect(final.reduce((x, y) => x + y, 0)).toBe(400);
  });
});
