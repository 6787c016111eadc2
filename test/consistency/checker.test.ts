/** The linearizability checker on hand-made histories whose verdict is known. */
import { describe, expect, it } from 'vitest';
import { check, checkPart, minimise, partition, withoutUnseenWrites } from './checker.js';
import type { Compare, Input, Operation, Output, SubOp } from './model.js';

let ids = 0;
const etag = (value: string) => `"e-${value}"`;

function op(
  client: number,
  [call, ret]: [number, number],
  input: Input,
  output: Output | undefined,
  label = '',
): Operation {
  return { id: ids++, client, label, input, output, call, ret: output === undefined ? Infinity : ret };
}
const single = (sub: SubOp, compare: Compare[] = []): Input => ({ compare, success: [sub], failure: [] });
const put = (c: number, t: [number, number], key: string, value: string, created = false, answered = true) =>
  op(
    c,
    t,
    single({ op: 'put', key, value }),
    answered ? { succeeded: true, results: [{ created, etag: etag(value) }] } : undefined,
    `PUT ${key}=${value}`,
  );
const get = (c: number, t: [number, number], key: string, value: string | null) =>
  op(
    c,
    t,
    single({ op: 'get', key }),
    { succeeded: true, results: [value === null ? { found: false } : { found: true, value, etag: etag(value) }] },
    `GET ${key}`,
  );
const incr = (c: number, t: [number, number], key: string, by: number, value: string) =>
  op(
    c,
    t,
    single({ op: 'increment', key, by }),
    { succeeded: true, results: [{ value, etag: etag(value) }] },
    `INCR ${key}`,
  );
const ifMatch = (c: number, t: [number, number], key: string, value: string, match: string, applied: boolean) =>
  op(
    c,
    t,
    single({ op: 'put', key, value }, [{ key, etag: etag(match) }]),
    applied ? { succeeded: true, results: [{ created: false, etag: etag(value) }] } : { succeeded: false, results: [] },
  );
const create = (c: number, t: [number, number], key: string, value: string, applied: boolean) =>
  op(
    c,
    t,
    single({ op: 'put', key, value }, [{ key, exists: false }]),
    applied ? { succeeded: true, results: [{ created: true, etag: etag(value) }] } : { succeeded: false, results: [] },
  );

const verdict = (ops: Operation[]) => check(ops).verdict;

describe('the linearizability checker', () => {
  it('accepts a sequential history of writes and the reads that follow them', () => {
    expect(
      verdict([
        put(0, [0, 1], 'k', '1', true),
        get(1, [2, 3], 'k', '1'),
        put(0, [4, 5], 'k', '2'),
        get(1, [6, 7], 'k', '2'),
      ]),
    ).toBe('linearizable');
  });

  it('accepts a read overlapping a write that sees either the old or the new value', () => {
    const base = [put(0, [0, 1], 'k', '1', true), put(0, [2, 6], 'k', '2')];
    expect(verdict([...base, get(1, [3, 4], 'k', '1')])).toBe('linearizable');
    expect(verdict([...base, get(1, [3, 4], 'k', '2')])).toBe('linearizable');
  });

  it('rejects a stale read: a value read after a later write was acknowledged', () => {
    expect(verdict([put(0, [0, 1], 'k', '1', true), put(0, [2, 3], 'k', '2'), get(1, [4, 5], 'k', '1')])).toBe(
      'not linearizable',
    );
  });

  it('rejects a lost acknowledged write: a key missing after its create was acknowledged', () => {
    expect(verdict([put(0, [0, 1], 'k', '1', true), get(1, [2, 3], 'k', null)])).toBe('not linearizable');
  });

  it('rejects a write that appears twice: an old value coming back after a newer one was read', () => {
    const ops = [
      put(0, [0, 1], 'k', '1', true),
      put(1, [0.5, 5], 'k', '2'),
      get(2, [2, 3], 'k', '2'),
      get(2, [4, 4.5], 'k', '1'),
    ];
    expect(verdict(ops)).toBe('not linearizable');
  });

  it('rejects a non-atomic increment: two concurrent increments of 0 that both answer 1', () => {
    const base = put(0, [0, 1], 'n', '0', true);
    expect(verdict([base, incr(1, [2, 4], 'n', 1, '1'), incr(2, [2.5, 3.5], 'n', 1, '1')])).toBe('not linearizable');
    expect(
      verdict([base, incr(1, [2, 4], 'n', 1, '2'), incr(2, [2.5, 3.5], 'n', 1, '1'), get(0, [5, 6], 'n', '2')]),
    ).toBe('linearizable');
  });

  it('lets a write whose answer never came take effect late or never, but only once', () => {
    const base = [put(0, [0, 1], 'k', '1', true), put(1, [2, 3], 'k', '2', false, false)];
    expect(verdict([...base, get(2, [4, 5], 'k', '1')])).toBe('linearizable');
    expect(verdict([...base, get(2, [4, 5], 'k', '1'), get(2, [6, 7], 'k', '2')])).toBe('linearizable');
    expect(verdict([...base, get(2, [4, 5], 'k', '2'), get(2, [6, 7], 'k', '1')])).toBe('not linearizable');
  });

  it('still counts an unanswered write nobody read when it explains a refused If-Match', () => {
    const ops = [
      put(0, [0, 1], 'k', '1', true),
      put(1, [2, 3], 'k', '2', false, false),
      ifMatch(2, [4, 5], 'k', '3', '1', false),
    ];
    expect(withoutUnseenWrites(ops)).toHaveLength(2);
    expect(verdict(ops)).toBe('linearizable');
  });

  it('rejects an If-Match refused while its ETag was current, and a second create of one key', () => {
    expect(verdict([put(0, [0, 1], 'k', '1', true), ifMatch(1, [2, 3], 'k', '2', '1', false)])).toBe(
      'not linearizable',
    );
    expect(
      verdict([put(0, [0, 1], 'k', '1', true), put(2, [1.5, 4], 'k', '3'), ifMatch(1, [2, 3], 'k', '2', '1', false)]),
    ).toBe('linearizable');
    expect(verdict([create(0, [0, 2], 'k', '1', true), create(1, [1, 3], 'k', '2', true)])).toBe('not linearizable');
    expect(
      verdict([create(0, [0, 2], 'k', '1', true), create(1, [1, 3], 'k', '2', false), get(0, [4, 5], 'k', '1')]),
    ).toBe('linearizable');
  });

  it('rejects a transaction seen half applied, and accepts it seen whole', () => {
    const write = op(
      0,
      [0, 3],
      {
        compare: [],
        success: [
          { op: 'put', key: 'a', value: '1' },
          { op: 'put', key: 'b', value: '2' },
        ],
        failure: [],
      },
      {
        succeeded: true,
        results: [
          { created: true, etag: etag('1') },
          { created: true, etag: etag('2') },
        ],
      },
    );
    const snapshot = (a: string | null, b: string | null) =>
      op(
        1,
        [1, 2],
        {
          compare: [],
          success: [
            { op: 'get', key: 'a' },
            { op: 'get', key: 'b' },
          ],
          failure: [],
        },
        {
          succeeded: true,
          results: [
            a === null ? { found: false } : { found: true, value: a, etag: etag(a) },
            b === null ? { found: false } : { found: true, value: b, etag: etag(b) },
          ],
        },
      );
    expect(verdict([write, snapshot('1', '2')])).toBe('linearizable');
    expect(verdict([write, snapshot(null, null)])).toBe('linearizable');
    expect(verdict([write, snapshot('1', null)])).toBe('not linearizable');
    expect(partition([write, snapshot('1', null), get(2, [0, 1], 'c', null)]).map((part) => part.keys)).toEqual([
      ['a', 'b'],
      ['c'],
    ]);
  });

  it('answers unknown, not linearizable, when the search runs out of budget', () => {
    const ops = Array.from({ length: 12 }, (_, i) => put(i, [0, 10], 'k', String(i)));
    ops.push(get(0, [11, 12], 'k', '5'));
    expect(checkPart(ops, 10).verdict).toBe('unknown');
    expect(check(ops, 10).verdict).toBe('unknown');
  });

  it('minimises a failing history to the few operations that show the violation', () => {
    const noise = Array.from({ length: 30 }, (_, i) => put(i % 3, [10 + 2 * i, 11 + 2 * i], 'k', String(100 + i)));
    const ops = [put(0, [0, 1], 'k', '1', true), put(0, [2, 3], 'k', '2'), get(1, [4, 5], 'k', '1'), ...noise];
    expect(verdict(ops)).toBe('not linearizable');
    expect(minimise(ops).map((item) => item.label)).toEqual(['PUT k=1', 'PUT k=2', 'GET k']);
  });
});
