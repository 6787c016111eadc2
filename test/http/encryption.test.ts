/** With encryption at rest on, the API behaves exactly as without it: plaintext bytes and plaintext sizes everywhere. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey } from '../../src/store/encrypted.js';
import { openStream } from '../support/sse.js';
import { startLucid, type TestLucid } from '../support/lucid.js';

let lucid: TestLucid;
beforeAll(async () => {
  lucid = await startLucid({ config: { encryption: { key: generateKey(), previousKeys: [] } } });
});
afterAll(() => lucid.close());

describe('encryption at rest over HTTP', () => {
  it('returns the exact bytes, and plaintext sizes in HEAD, listing and notifications', async () => {
    const stream = await openStream(`${lucid.url}/api/notifications?prefix=enc/`, {
      authorization: `Bearer ${lucid.token}`,
    });
    await stream.until((blocks) => blocks.length > 0);
    const value = new Uint8Array([0x68, 0x69, 0, 0, 0]);
    expect(
      (
        await lucid.request('/api/kv/enc/a', {
          method: 'PUT',
          body: value,
          headers: { 'content-type': 'application/octet-stream' },
        })
      ).status,
    ).toBe(201);
    const read = await lucid.request('/api/kv/enc/a');
    expect(new Uint8Array(await read.arrayBuffer())).toEqual(value);
    const head = await lucid.request('/api/kv/enc/a', { method: 'HEAD' });
    expect(head.headers.get('content-length')).toBe('5');
    const listing = (await (await lucid.request('/api/kv?prefix=enc/')).json()) as {
      keys: Array<{ key: string; size: number }>;
    };
    expect(listing.keys).toEqual([expect.objectContaining({ key: 'enc/a', size: 5 })]);
    await stream.until(() => stream.changes().length > 0);
    expect(stream.changes()[0]).toMatchObject({ type: 'created', key: 'enc/a', size: 5 });
    await stream.close();
  });

  it('never lists its own marker, even in a full listing', async () => {
    const listing = (await (await lucid.request('/api/kv?limit=1000')).json()) as { keys: Array<{ key: string }> };
    expect(listing.keys.every(({ key }) => key.length <= 512)).toBe(true);
  });
});
