/**
 * Bounds on what a request may make the server do: increment and decrement take numbers of at most
 * 300 digits (refused before any arithmetic, so a huge one cannot stall the event loop), and a PUT's
 * Content-Type is at most 255 bytes. Against a real server.
 */
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyRequests } from '../support/helpers.js';
import { startLucid, uniqueKey, type TestLucid } from '../support/lucid.js';

let lucid: TestLucid;
beforeAll(async () => {
  lucid = await startLucid();
});
afterAll(() => lucid.close());

const { put, patch, get } = keyRequests(() => lucid);
const read = async (key: string) => (await get(key)).text();

describe('patchKey number bounds', () => {
  it('increments and decrements numbers of up to 300 digits, with a finite value in the answer', async () => {
    const key = uniqueKey('digits');
    const big = `1${'0'.repeat(299)}`;
    expect((await put(key, big)).status).toBe(201);
    const answer = await patch(key, { operation: 'increment' });
    expect(answer.status).toBe(200);
    const body = (await answer.json()) as { value: number };
    expect(body.value).toBe(1e299);
    expect(await read(key)).toBe(`1${'0'.repeat(298)}1`);
    expect((await patch(key, { operation: 'decrement', value: 2 })).status).toBe(200);
    expect(await read(key)).toBe(`${'9'.repeat(299)}`);
  });

  it('refuses with 400 a stored value, a step or a result of more than 300 digits, and never answers a null value', async () => {
    const message = (what: string) =>
      `${what} has more than 300 digits: increment and decrement work on numbers of at most 300 digits.`;
    const cases: Array<{ stored: string; operation: object; expected: string }> = [
      { stored: `1${'0'.repeat(300)}`, operation: { operation: 'increment' }, expected: message('The stored value') },
      { stored: `-0.${'1'.repeat(300)}`, operation: { operation: 'decrement' }, expected: message('The stored value') },
      { stored: '1', operation: { operation: 'increment', value: 1e301 }, expected: message('The increment value') },
      { stored: '1', operation: { operation: 'decrement', value: 1.7e308 }, expected: message('The decrement value') },
      { stored: '9'.repeat(300), operation: { operation: 'increment' }, expected: message('The result') },
      { stored: `-${'9'.repeat(300)}`, operation: { operation: 'decrement' }, expected: message('The result') },
    ];
    for (const { stored, operation, expected } of cases) {
      const key = uniqueKey('too-long');
      expect((await put(key, stored)).status).toBe(201);
      const answer = await patch(key, operation);
      expect(answer.status, JSON.stringify(operation)).toBe(400);
      expect(await answer.json()).toEqual({ message: expected });
      expect(await read(key)).toBe(stored);
    }
  });

  it('refuses an increment of a 7 MB number at once while /health stays fast', async () => {
    const key = uniqueKey('huge');
    const huge = '7'.repeat(7_000_000);
    expect((await put(key, huge)).status).toBe(201);
    const started = performance.now();
    const increment = patch(key, { operation: 'increment' }).then(async (response) => ({
      response,
      ms: performance.now() - started,
    }));
    const healthTimes: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const sent = performance.now();
      expect((await fetch(`${lucid.url}/health`)).status).toBe(200);
      healthTimes.push(performance.now() - sent);
    }
    const { response, ms } = await increment;
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      message:
        'The stored value is too long to be a number of at most 300 digits, which increment and decrement work on.',
    });
    // Before the bound, this increment held the event loop 2.5 to 3 s and answered {"value": null}.
    expect(ms).toBeLessThan(1000);
    expect(Math.max(...healthTimes)).toBeLessThan(1000);
  });
});

describe('putKey Content-Type bound', () => {
  it('keeps a Content-Type of 255 bytes and refuses 256 bytes with 400, storing nothing', async () => {
    const key = uniqueKey('ctype');
    const longest = `text/plain; x=${'a'.repeat(255 - 'text/plain; x='.length)}`;
    expect(longest).toHaveLength(255);
    expect((await put(key, 'v', { contentType: longest })).status).toBe(201);
    expect((await get(key)).headers.get('content-type')).toBe(longest);

    const other = uniqueKey('ctype');
    const refused = await put(other, 'v', { contentType: `${longest}b` });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({ message: 'The Content-Type is longer than 255 bytes.' });
    expect((await get(other)).status).toBe(404);
  });
});
