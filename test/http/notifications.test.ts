/** GET /api/notifications: the server-sent event stream of changes, against a real server. */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyRequests, sleep } from '../support/helpers.js';
import { startLucid, uniqueKey, type TestLucid } from '../support/lucid.js';
import { isChange, openStream, type Notification, type SseStream } from '../support/sse.js';

let lucid: TestLucid;
const streams: SseStream[] = [];
beforeAll(async () => {
  lucid = await startLucid({ config: { notifications: { heartbeatMs: 50 } } });
});
afterAll(async () => {
  await Promise.all(streams.map((stream) => stream.close()));
  await lucid.close();
});

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

const writer = (server: TestLucid) => keyRequests(() => server);

/** Opens a stream on `server` (the shared one by default) with the root token; closed after the file. */
async function subscribe(
  query: Record<string, string> = {},
  headers: Record<string, string> = {},
  server?: TestLucid,
): Promise<SseStream> {
  const target = server ?? lucid;
  const stream = await openStream(`${target.url}/api/notifications?${new URLSearchParams(query)}`, {
    authorization: `Bearer ${target.token}`,
    ...headers,
  });
  streams.push(stream);
  expect(stream.response.status).toBe(200);
  expect(stream.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  return stream;
}

/** The stream is live once its first block (`retry:`) arrived: everything written after is in it. */
async function live(stream: SseStream): Promise<SseStream> {
  await stream.until((blocks) => blocks.length > 0);
  return stream;
}

describe('streamNotifications', () => {
  it('sends created, updated, locked, unlocked, incremented, decremented, ttl and deleted messages with key, etag and time', async () => {
    const w = writer(lucid);
    const prefix = `${uniqueKey('types')}/`;
    const key = `${prefix}counter`;
    const stream = await live(await subscribe({ prefix }));
    const etags: string[] = [];
    const step = async (response: Promise<Response>) => {
      const answered = await response;
      expect(answered.status).toBe(answered.status === 201 ? 201 : 200);
      etags.push(answered.headers.get('etag') ?? '');
    };
    await step(w.put(key, '1'));
    await step(w.put(key, '2'));
    await step(w.patch(key, { operation: 'lock' }));
    await step(w.patch(key, { operation: 'unlock' }));
    await step(w.patch(key, { operation: 'increment', value: 5 }));
    await step(w.patch(key, { operation: 'decrement' }));
    await step(w.patch(key, { operation: 'ttl', value: 60 }));
    await step(w.del(key));
    const changes = await stream.changesUntil(8);
    expect(changes.map((change) => change.type)).toEqual([
      'created',
      'updated',
      'locked',
      'unlocked',
      'incremented',
      'decremented',
      'ttl',
      'deleted',
    ]);
    for (const [i, change] of changes.entries()) {
      expect(change.key).toBe(key);
      expect(change.time).toMatch(ISO);
      expect(Math.abs(Date.parse(change.time) - Date.now())).toBeLessThan(10_000);
      if (change.type === 'deleted') expect(change).not.toHaveProperty('etag');
      else expect(change.etag, change.type).toBe(etags[i]);
    }
    expect(changes[4]).toMatchObject({ value: '7', contentType: 'text/plain', size: 1 });
    expect(changes[5]).toMatchObject({ value: '6' });
    // Every change message has a unique id and no event field (so EventSource.onmessage gets it).
    const ids = stream.blocks.filter(isChange).map((block) => block.id);
    expect(new Set(ids).size).toBe(8);
    expect(ids.every((id) => typeof id === 'string' && id.length > 0)).toBe(true);
  });

  it('carries the value for UTF-8 text up to 4096 bytes, and no value for binary or larger values', async () => {
    const w = writer(lucid);
    const prefix = `${uniqueKey('values')}/`;
    const stream = await live(await subscribe({ prefix }));
    const text = 'é'.repeat(2048); // 4096 bytes of UTF-8
    await w.put(`${prefix}1-text`, 'hello wörld');
    await w.put(`${prefix}2-max`, text);
    await w.put(`${prefix}3-over`, `${text}x`);
    await w.put(`${prefix}4-binary`, new Uint8Array([0xff, 0xfe, 0x00, 0x81]), {
      contentType: 'application/octet-stream',
    });
    const changes = await stream.changesUntil(4);
    expect(changes[0]).toMatchObject({ type: 'created', value: 'hello wörld', size: 12, contentType: 'text/plain' });
    expect(changes[1]).toMatchObject({ value: text, size: 4096 });
    expect(changes[2]).toMatchObject({ size: 4097 });
    expect(changes[2]).not.toHaveProperty('value');
    expect(changes[3]).toMatchObject({ size: 4, contentType: 'application/octet-stream' });
    expect(changes[3]).not.toHaveProperty('value');
  });

  it('sends only changes to keys under ?prefix=', async () => {
    const w = writer(lucid);
    const base = uniqueKey('filter');
    const stream = await live(await subscribe({ prefix: `${base}/in/` }));
    await w.put(`${base}/out/1`, 'x');
    await w.put(`${base}/in/1`, 'x');
    await w.put(`${base}/inside`, 'x');
    await w.put(`${base}/in/2`, 'x');
    await w.put(`${base}/out/2`, 'x');
    await stream.changesUntil(2);
    await sleep(100);
    expect(stream.changes().map((change) => change.key)).toEqual([`${base}/in/1`, `${base}/in/2`]);
  });

  it('takes the token as ?token= instead of the Authorization header', async () => {
    const w = writer(lucid);
    const prefix = `${uniqueKey('query-token')}/`;
    const stream = await live(
      await openStream(`${lucid.url}/api/notifications?${new URLSearchParams({ prefix, token: lucid.token })}`),
    );
    streams.push(stream);
    expect(stream.response.status).toBe(200);
    await w.put(`${prefix}a`, 'x');
    expect((await stream.changesUntil(1))[0]).toMatchObject({ type: 'created', key: `${prefix}a` });
  });

  it('answers 401 JSON without a token, with a bad ?token=, and never takes ?token= on other operations', async () => {
    for (const query of ['', '?token=not-a-jwt']) {
      const response = await fetch(`${lucid.url}/api/notifications${query}`);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await response.json()).toEqual({ message: 'You are not allowed to perform this action.' });
    }
    expect((await fetch(`${lucid.url}/api/kv?token=${lucid.token}`)).status).toBe(401);
  });

  it('returns 400 for a maxDuration of 0', async () => {
    const response = await fetch(`${lucid.url}/api/notifications?maxDuration=0`, {
      headers: { authorization: `Bearer ${lucid.token}` },
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { message: string }).message).toMatch(/maxDuration/);
  });

  it('sends an expired message by itself when a ttl passes, without anyone reading the key', async () => {
    const w = writer(lucid);
    const prefix = `${uniqueKey('expiry')}/`;
    const stream = await live(await subscribe({ prefix }));
    const start = Date.now();
    expect((await w.put(`${prefix}soon`, 'x', { query: '?ttl=1' })).status).toBe(201);
    const changes = await stream.changesUntil(2, 2500);
    expect(changes[1]).toMatchObject({ type: 'expired', key: `${prefix}soon` });
    expect(changes[1]).not.toHaveProperty('etag');
    expect(changes[1]!.time).toMatch(ISO);
    expect(Date.now() - start).toBeGreaterThanOrEqual(900);
  });

  it('replays exactly the missed changes when reconnecting with Last-Event-ID', async () => {
    const w = writer(lucid);
    const prefix = `${uniqueKey('replay')}/`;
    const first = await live(await subscribe({ prefix }));
    for (const n of [1, 2, 3]) await w.put(`${prefix}${n}`, 'x');
    await first.changesUntil(3);
    const lastId = first.blocks.filter(isChange).at(-1)!.id!;
    await first.close();
    for (const n of [4, 5, 6, 7]) await w.put(`${prefix}${n}`, 'x');
    await w.put(`${uniqueKey('elsewhere')}`, 'not under the prefix');

    const second = await subscribe({ prefix }, { 'last-event-id': lastId });
    const replayed = await second.changesUntil(4);
    expect(second.blocks.some((block) => block.event === 'reset')).toBe(false);
    expect(replayed.map((change) => change.key)).toEqual([4, 5, 6, 7].map((n) => `${prefix}${n}`));
    // Then it goes on live, with nothing replayed twice.
    await w.put(`${prefix}8`, 'x');
    expect((await second.changesUntil(5)).map((change) => change.key)).toEqual(
      [4, 5, 6, 7, 8].map((n) => `${prefix}${n}`),
    );
  });

  it('starts with an event: reset message for an unknown Last-Event-ID, then streams live', async () => {
    const w = writer(lucid);
    const prefix = `${uniqueKey('unknown-id')}/`;
    for (const id of ['nonsense', 'zzz.1', '0.999999999']) {
      const stream = await subscribe({ prefix }, { 'last-event-id': id });
      await stream.until((blocks) => blocks.some((block) => block.event === 'reset'), 2000, `a reset for ${id}`);
      const reset = stream.blocks.find((block) => block.event === 'reset')!;
      expect(JSON.parse(reset.data!)).toEqual({ reason: expect.any(String) });
      expect(reset.id).toEqual(expect.any(String));
      await stream.close();
    }
    const stream = await live(await subscribe({ prefix }, { 'last-event-id': 'nonsense' }));
    await w.put(`${prefix}a`, 'x');
    expect((await stream.changesUntil(1))[0]).toMatchObject({ key: `${prefix}a` });
  });

  it('sends heartbeat comments', async () => {
    const stream = await subscribe({ prefix: uniqueKey('quiet') });
    await stream.until(
      (blocks) => blocks.filter((block) => block.comments.includes('heartbeat')).length >= 3,
      2000,
      'three heartbeats',
    );
  });

  it('ends the stream after ?maxDuration=1 seconds', async () => {
    const start = Date.now();
    const stream = await subscribe({ maxDuration: '1', prefix: uniqueKey('short') });
    await Promise.race([stream.ended, sleep(3000)]);
    expect(stream.done).toBe(true);
    const took = Date.now() - start;
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(3000);
  });
});

describe('streamNotifications with a small replay buffer', () => {
  let small: TestLucid;
  beforeAll(async () => {
    small = await startLucid({ config: { notifications: { bufferSize: 5 } } });
  });
  afterAll(() => small.close());

  it('sends event: reset when Last-Event-ID is older than the buffer holds, and replays when it is not', async () => {
    const w = writer(small);
    const stream = await live(await subscribe({}, {}, small));
    for (let n = 0; n < 20; n++) expect((await w.put(`k${String(n).padStart(2, '0')}`, 'x')).status).toBe(201);
    await stream.changesUntil(20);
    const ids = stream.blocks.filter(isChange).map((block) => block.id!);
    await stream.close();

    const tooOld = await subscribe({}, { 'last-event-id': ids[0]! }, small);
    await tooOld.until((blocks) => blocks.some((block) => block.event === 'reset'), 2000, 'a reset');
    expect(tooOld.changes()).toEqual([]);
    await tooOld.close();

    // The last five are still held: after the 15th id, exactly the last five come back.
    const recent = await subscribe({}, { 'last-event-id': ids[14]! }, small);
    const replayed = await recent.changesUntil(5);
    expect(replayed.map((change: Notification) => change.key)).toEqual(['k15', 'k16', 'k17', 'k18', 'k19']);
    expect(recent.blocks.some((block) => block.event === 'reset')).toBe(false);
    await recent.close();

    // Up to date: nothing to replay, and no reset either.
    const current = await live(await subscribe({}, { 'last-event-id': ids[19]! }, small));
    await sleep(100);
    expect(current.blocks.filter((block) => block.data !== undefined)).toEqual([]);
    await current.close();
  });
});

describe('a client that does not read', () => {
  let lagging: TestLucid;
  beforeAll(async () => {
    lagging = await startLucid({ config: { notifications: { maxLagBytes: 1024 } } });
  });
  afterAll(() => lagging.close());

  it('is disconnected once it falls behind, while writers are never blocked and the server stays responsive', async () => {
    // The server's side of the raw connection, to see when the server lets go of it.
    const accepted = new Map<number, net.Socket>();
    const onConnection = (socket: net.Socket) => accepted.set(socket.remotePort!, socket);
    lagging.server.on('connection', onConnection);
    const socket = net.connect(lagging.port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.write(
      `GET /api/notifications HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${lagging.token}\r\n\r\n`,
    );
    socket.pause();
    await sleep(100);
    const serverSide = accepted.get(socket.localPort!);
    lagging.server.off('connection', onConnection);
    expect(serverSide).toBeDefined();
    let cut = false;
    serverSide!.once('close', () => (cut = true));

    // ~4 KB text values, so every event carries its value. The kernel's socket buffers absorb a few
    // MB first; past them the server must drop the client rather than buffer for it.
    const w = writer(lagging);
    const value = 'v'.repeat(4000);
    const BATCH = 20;
    let written = 0;
    let slowestBatch = 0;
    while (!cut && written < 4000) {
      const started = Date.now();
      const statuses = await Promise.all(
        Array.from({ length: BATCH }, (_, j) => w.put(`big-${written + j}`, value).then((r) => r.status)),
      );
      slowestBatch = Math.max(slowestBatch, Date.now() - started);
      expect(statuses.every((s) => s === 201)).toBe(true);
      written += BATCH;
    }
    expect(cut, `still connected after ${written} writes`).toBe(true);
    expect(slowestBatch).toBeLessThan(1000);

    const response = await lagging.request('/api/kv/big-7');
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(value);

    // Reading now drains what the kernel held, then meets the end: the client missed the rest.
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    const closed = new Promise<boolean>((resolve) => socket.once('close', () => resolve(true)));
    socket.resume();
    expect(await Promise.race([closed, sleep(5000).then(() => false)])).toBe(true);
    const received = Buffer.concat(chunks).toString('utf8');
    expect(received).toMatch(/^HTTP\/1\.1 200/);
    const events = received.match(/^data: /gm)?.length ?? 0;
    expect(events).toBeGreaterThan(0);
    expect(events).toBeLessThan(written);
  });
});

describe('server shutdown', () => {
  it('ends open notification streams, and closes within a few seconds even with a connection that never sent a request', async () => {
    const extra = await startLucid();
    const stream = await live(await subscribe({}, {}, extra));
    // What a browser's preconnect (or a client's spare socket) looks like: connected, silent.
    const silent = net.connect(extra.port, '127.0.0.1');
    silent.on('error', () => undefined);
    await new Promise((resolve) => silent.once('connect', resolve));
    const silentClosed = new Promise((resolve) => silent.once('close', resolve));
    const started = Date.now();
    const outcome = await Promise.race([extra.close().then(() => 'closed'), sleep(4000).then(() => 'timed out')]);
    expect(outcome).toBe('closed');
    expect(Date.now() - started).toBeLessThan(4000);
    await Promise.race([stream.ended, sleep(1000)]);
    expect(stream.done).toBe(true);
    await silentClosed;
  });
});
