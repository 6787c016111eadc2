import v8 from 'node:v8';
import { describe, expect, it } from 'vitest';
import { countEntry, putEntry } from '../../src/kv.js';
import { decodeEntry, encodeEntry } from '../../src/store/frame.js';

// V8's own test of whether two objects share a hidden class (its "map"), compiled after the flag that allows it.
v8.setFlagsFromString('--allow-natives-syntax');
const sameHiddenClass = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;

describe('entries', () => {
  it('share one hidden class however they were made: a new key, a revision, a count, a decoded frame', () => {
    const created = putEntry(undefined, 1_000, Buffer.from('one'), 'text/plain').entry;
    const revised = putEntry(created, 2_000, Buffer.from('two'), 'text/plain', { ttlSeconds: 60 }).entry;
    const counter = putEntry(undefined, 1_000, Buffer.from('41'), 'text/plain').entry;
    const counted = countEntry(counter, 3_000, 'increment', 1);
    const decoded = decodeEntry(encodeEntry(revised));

    expect(counted.value).toBe('42');
    expect(decoded).toEqual(revised);
    for (const entry of [revised, counted.entry, decoded]) expect(sameHiddenClass(created, entry)).toBe(true);
    // The check itself tells shapes apart: one field more is another hidden class.
    expect(sameHiddenClass(created, { ...created, extra: true })).toBe(false);
  });
});
