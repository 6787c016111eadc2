/** GET /api/notifications lives no longer than its token: revocation and expiry end it, against a real server. */
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revokeToken } from '../../src/revocations.js';
import { REDIS_URL, backendReady, dropNamespace, freshNamespace } from '../support/backends.js';
import { keyRequests, sleep } from '../support/helpers.js';
import { startLucid, uniqueKey, type TestLucid } from '../support/lucid.js';
import { isChange, openStream, type SseBlock, type SseStream } from '../support/sse.js';

const SKEW_SECONDS = 1;
let lucid: TestLucid;
const streams: SseStream[] = [];
beforeAll(async () => {
  lucid = await startLucid({
    config: { auth: { clockSkewSeconds: SKEW_SECONDS }, notifications: { heartbeatMs: 100 } },
  });
});
afterAll(async () => {
  await Promise.all(streams.map((stream) => stream.close()));
  await lucid.close();
});

async function subscribe(token: string, prefix: string): Promise<SseStream> {
  const stream = await openStream(`${lucid.url}/api/notifications?prefix=${encodeURIComponent(prefix)}`, {
    authorization: `Bearer ${token}`,
  });
  streams.push(stream);
  expect(stream.response.status).toBe(200);
  await stream.until((blocks) => blocks.length > 0);
  return stream;
}

const { put } = keyRequests(() => lucid);

const errorEvent = (blocks: SseBlock[]) => blocks.find((block) => block.event === 'error');

describe('streamNotifications and its token', () => {
  it('ends with event: error {"code":"token_revoked"} within the revocation poll interval once its token is revoked', async () => {
    const prefix = `${uniqueKey('revoked')}/`;
    const token = lucid.authority.issue('watcher', 3600, { scope: 'read' });
    const stream = await subscribe(token, prefix);
    expect((await put(`${prefix}a`, 'before')).status).toBe(201);
    await stream.changesUntil(1);

    const revokedAt = Date.now();
    revokeToken(lucid.config.auth.revocationFile, (jwt.decode(token) as jwt.JwtPayload).jti!);
    await stream.until((blocks) => errorEvent(blocks) !== undefined, 3000, 'event: error');
    await stream.ended;
    const elapsed = Date.now() - revokedAt;
    expect(elapsed).toBeLessThan(1500); // the list is re-read every 500 ms
    expect(JSON.parse(errorEvent(stream.blocks)!.data!)).toEqual({
      code: 'token_revoked',
      message: 'The token of this stream was revoked.',
    });

    // Nothing written after the revocation reached it, and the same token cannot open another.
    expect((await put(`${prefix}b`, 'after')).status).toBe(201);
    expect(stream.changes().map((change) => change.key)).toEqual([`${prefix}a`]);
    const again = await openStream(`${lucid.url}/api/notifications`, { authorization: `Bearer ${token}` });
    streams.push(again);
    expect(again.response.status).toBe(401);
  });

  it('keeps a stream whose token is not revoked open when another token is revoked', async () => {
    const prefix = `${uniqueKey('kept')}/`;
    const stream = await subscribe(lucid.authority.issue('keeper', 3600, { scope: 'read' }), prefix);
    const other = lucid.authority.issue('other', 3600, { scope: 'read' });
    revokeToken(lucid.config.auth.revocationFile, (jwt.decode(other) as jwt.JwtPayload).jti!);
    await sleep(1200);
    expect((await put(`${prefix}a`, 'still')).status).toBe(201);
    await stream.changesUntil(1);
    expect(stream.done).toBe(false);
    expect(errorEvent(stream.blocks)).toBeUndefined();
  });

  it('ends with event: error {"code":"token_expired"} at its exp plus the clock skew, and not before', async () => {
    const prefix = `${uniqueKey('expired')}/`;
    const token = lucid.authority.issue('short', 2, { scope: 'read' });
    const endsAt = ((jwt.decode(token) as jwt.JwtPayload).exp! + SKEW_SECONDS) * 1000;
    const stream = await subscribe(token, prefix);
    // Past exp but within the leeway, the stream still delivers (as the same token still reads).
    const withinLeeway = endsAt - 600 - Date.now();
    if (withinLeeway > 0) await sleep(withinLeeway);
    expect((await put(`${prefix}a`, 'in time')).status).toBe(201);
    await stream.changesUntil(1);
    expect(errorEvent(stream.blocks)).toBeUndefined();

    await stream.until((blocks) => errorEvent(blocks) !== undefined, 4000, 'event: error');
    await stream.ended;
    expect(Date.now()).toBeGreaterThanOrEqual(endsAt - 50);
    expect(Date.now()).toBeLessThan(endsAt + 1500);
    expect(JSON.parse(errorEvent(stream.blocks)!.data!)).toEqual({
      code: 'token_expired',
      message: 'The token of this stream has expired.',
    });
    // The error is the stream's last message: nothing follows it.
    expect(stream.blocks.at(-1)?.event).toBe('error');
    expect(stream.blocks.filter(isChange)).toHaveLength(1);
  });
});

describe.runIf(await backendReady('redis'))('streamNotifications and its token on a shared backend', () => {
  it('ends a stream on every node once its token is revoked in Redis (as `lucid token revoke` does there)', async () => {
    const namespace = freshNamespace();
    const nodes = [await startLucid({ config: { store: REDIS_URL, storeNamespace: namespace } })];
    try {
      nodes.push(
        await startLucid({
          config: { store: REDIS_URL, storeNamespace: namespace, auth: { secret: nodes[0]!.config.auth.secret } },
        }),
      );
      const token = nodes[0]!.authority.issue('watcher', 3600, { scope: 'read' });
      const opened = await Promise.all(
        nodes.map((node) => openStream(`${node.url}/api/notifications`, { authorization: `Bearer ${token}` })),
      );
      streams.push(...opened);
      for (const stream of opened) {
        expect(stream.response.status).toBe(200);
        await stream.until((blocks) => blocks.length > 0);
      }
      const { jti, exp } = jwt.decode(token) as jwt.JwtPayload;
      await nodes[0]!.store.revocations!.add(jti!, exp! * 1000);
      for (const stream of opened) {
        await stream.until((blocks) => errorEvent(blocks) !== undefined, 3000, 'event: error');
        expect(JSON.parse(errorEvent(stream.blocks)!.data!)).toMatchObject({ code: 'token_revoked' });
      }
    } finally {
      await Promise.all(nodes.map((node) => node.close()));
      await dropNamespace('redis', namespace);
    }
  });
});
