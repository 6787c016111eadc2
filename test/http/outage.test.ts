/** A store that stops answering turns requests into 503 JSON, never a crash or a silent miss. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLucid, type TestLucid } from '../support/lucid.js';

let lucid: TestLucid;
beforeAll(async () => {
  lucid = await startLucid();
  expect(
    (await lucid.request('/api/kv/before', { method: 'PUT', body: 'x', headers: { 'content-type': 'text/plain' } }))
      .status,
  ).toBe(201);
  await lucid.store.close();
});
afterAll(() => lucid.close());

describe('store outage', () => {
  it('answers 503 JSON on every operation and on /health', async () => {
    const calls: Array<[string, RequestInit]> = [
      ['/api/kv/before', { method: 'GET' }],
      ['/api/kv/before', { method: 'HEAD' }],
      ['/api/kv/before', { method: 'PUT', body: 'y', headers: { 'content-type': 'text/plain' } }],
      ['/api/kv/before', { method: 'DELETE' }],
      [
        '/api/kv/before',
        { method: 'PATCH', body: '{"operation":"lock"}', headers: { 'content-type': 'application/json' } },
      ],
      ['/health', { method: 'GET' }],
    ];
    for (const [path, init] of calls) {
      const response = await lucid.request(path, init);
      expect(response.status, `${init.method} ${path}`).toBe(503);
      if (init.method !== 'HEAD')
        expect(await response.json()).toEqual({ message: 'The store is unavailable, retry later.' });
    }
  });
});
