/**
 * A request that will be refused (no token, too small a scope, a key outside the prefix, a declared
 * size over the limit) is answered before its body is read, and its connection closed, so nobody
 * can make Lucid read megabytes without a valid token. Driven over raw sockets (node:net), so the
 * test decides when, and whether, the body is sent.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { afterFullGc } from '../support/helpers.js';
import { startLucid, uniqueKey, type TestLucid } from '../support/lucid.js';

const MiB = 1024 * 1024;
const SEVEN_MIB = 7 * MiB;

let lucid: TestLucid;
beforeAll(async () => {
  lucid = await startLucid();
});
afterAll(() => lucid.close());

interface RawExchange {
  socket: net.Socket;
  /** Everything received up to the end of the first final (non-1xx) response's headers, and its JSON body. */
  response: Promise<{ status: number; head: string; body: unknown; interim: string[] }>;
  /** Resolves when the server closes the connection. */
  closed: Promise<void>;
}

/** Opens a connection and sends `head` (request line and headers, without the blank line). */
function send(head: string, headers: Record<string, string | number> = {}): RawExchange {
  const socket = net.connect({ port: lucid.port, host: '127.0.0.1' });
  socket.on('error', () => {
    // The server may reset a connection whose body it refused; the test looks at what arrived.
  });
  const lines = [
    head,
    `Host: 127.0.0.1:${lucid.port}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  let received = Buffer.alloc(0);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const response = new Promise<{ status: number; head: string; body: unknown; interim: string[] }>(
    (resolve, reject) => {
      const interim: string[] = [];
      const onData = (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        for (;;) {
          const end = received.indexOf('\r\n\r\n');
          if (end < 0) return;
          const text = received.subarray(0, end).toString('latin1');
          const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
          if (status >= 100 && status < 200) {
            interim.push(text);
            received = received.subarray(end + 4);
            continue;
          }
          const length = Number(/\r\ncontent-length: *(\d+)/i.exec(text)?.[1] ?? 0);
          if (received.length < end + 4 + length) return;
          socket.off('data', onData);
          const body = received.subarray(end + 4, end + 4 + length).toString('utf8');
          resolve({ status, head: text, body: body === '' ? undefined : JSON.parse(body), interim });
          return;
        }
      };
      socket.on('data', onData);
      socket.once('close', () =>
        reject(new Error(`closed before a response; received: ${received.toString('latin1').slice(0, 200)}`)),
      );
    },
  );
  return { socket, response, closed };
}

/** Heap and array buffers still reachable after a full collection. */
function liveAfterGc(): number {
  const usage = afterFullGc();
  return usage.heapUsed + usage.arrayBuffers;
}

const put = (key: string) => `PUT /api/kv/${key} HTTP/1.1`;
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** Asserts a refusal arrived before any body byte was sent, with Connection: close, and that the server then closed. */
async function expectRefusedUnread(exchange: RawExchange, status: number): Promise<void> {
  const response = await exchange.response;
  expect(response.status).toBe(status);
  expect(response.head).toMatch(/\r\nconnection: close/i);
  expect((response.body as { message: string }).message).toEqual(expect.any(String));
  expect(exchange.socket.bytesWritten).toBeLessThan(2048);
  await exchange.closed;
}

describe('unauthenticated and refused bodies', () => {
  it('answers 401 to a PUT of 7 MiB without a token before the body is sent, and closes the connection', async () => {
    await expectRefusedUnread(
      send(put(uniqueKey()), { 'Content-Type': 'application/octet-stream', 'Content-Length': SEVEN_MIB }),
      401,
    );
  });

  it('answers 401 to a chunked PUT without a token after its first chunk, and closes the connection', async () => {
    const exchange = send(put(uniqueKey()), {
      'Content-Type': 'application/octet-stream',
      'Transfer-Encoding': 'chunked',
    });
    exchange.socket.write('400\r\n' + 'x'.repeat(0x400) + '\r\n');
    const response = await exchange.response;
    expect(response.status).toBe(401);
    expect(response.head).toMatch(/\r\nconnection: close/i);
    await exchange.closed;
  });

  it('answers 401 to a PUT with an invalid token the same way', async () => {
    await expectRefusedUnread(send(put(uniqueKey()), { ...bearer('not.a.token'), 'Content-Length': SEVEN_MIB }), 401);
  });

  it('answers 403 before reading the body when the scope is read or the key is outside the prefix', async () => {
    const reader = lucid.authority.issue('reader', 600, { scope: 'read' });
    await expectRefusedUnread(send(put(uniqueKey()), { ...bearer(reader), 'Content-Length': SEVEN_MIB }), 403);
    const teamA = lucid.authority.issue('team-a', 600, { prefix: 'team-a/' });
    await expectRefusedUnread(
      send(put(`team-b%2F${uniqueKey()}`), { ...bearer(teamA), 'Content-Length': SEVEN_MIB }),
      403,
    );
  });

  it('answers 413 before reading the body when Content-Length is over limits.maxValueBytes', async () => {
    await expectRefusedUnread(send(put(uniqueKey()), { ...bearer(lucid.token), 'Content-Length': SEVEN_MIB + 1 }), 413);
  });

  it('answers 401 and 403 to a PATCH before its JSON body is read', async () => {
    const patch = `PATCH /api/kv/${uniqueKey()} HTTP/1.1`;
    const json = { 'Content-Type': 'application/json', 'Content-Length': 60_000 };
    await expectRefusedUnread(send(patch, json), 401);
    const reader = lucid.authority.issue('reader', 600, { scope: 'read' });
    await expectRefusedUnread(send(patch, { ...json, ...bearer(reader) }), 403);
  });

  it('holds back 100 Continue until the request is authorised', async () => {
    const refused = send(put(uniqueKey()), { 'Content-Length': SEVEN_MIB, Expect: '100-continue' });
    const answer = await refused.response;
    expect(answer.status).toBe(401);
    expect(answer.interim).toEqual([]);
    await refused.closed;

    const key = uniqueKey('continued');
    const accepted = send(put(key), {
      ...bearer(lucid.token),
      'Content-Type': 'text/plain',
      'Content-Length': 5,
      Expect: '100-continue',
    });
    await new Promise<void>((resolve) => accepted.socket.once('data', () => resolve()));
    accepted.socket.write('hello');
    const stored = await accepted.response;
    expect(stored.interim).toHaveLength(1);
    expect(stored.interim[0]).toMatch(/^HTTP\/1\.1 100 Continue/);
    expect(stored.status).toBe(201);
    accepted.socket.destroy();
    expect(await (await lucid.request(`/api/kv/${key}`)).text()).toBe('hello');
  });

  it('keeps the connection open after a request without a body, refused or not', async () => {
    for (const headers of [{}, bearer(lucid.token)]) {
      const exchange = send(`GET /api/kv/${uniqueKey()} HTTP/1.1`, headers);
      const response = await exchange.response;
      expect([401, 404]).toContain(response.status);
      expect(response.head).not.toMatch(/\r\nconnection: close/i);
      exchange.socket.destroy();
    }
  });

  it('keeps the connection open after an authorised request whose body it read', async () => {
    const exchange = send(put(uniqueKey()), {
      ...bearer(lucid.token),
      'Content-Type': 'text/plain',
      'Content-Length': 2,
    });
    exchange.socket.write('ok');
    const response = await exchange.response;
    expect(response.status).toBe(201);
    expect(response.head).not.toMatch(/\r\nconnection: close/i);
    exchange.socket.destroy();
  });

  it('does not hold the bodies when 20 clients send 7 MiB each without a token at once', async () => {
    const body = Buffer.alloc(SEVEN_MIB, 0x61);
    const liveBefore = liveAfterGc();
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    let livePeak = liveBefore;
    let rssPeak = rssBefore;
    // A full collection every 25 ms: what survives one is what the server holds; everything it
    // read and discarded is garbage by then, however long V8 would otherwise wait to collect it.
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      livePeak = Math.max(livePeak, liveAfterGc());
    }, 25);
    const exchanges = Array.from({ length: 20 }, () => {
      const exchange = send(put(uniqueKey('flood')), {
        'Content-Type': 'application/octet-stream',
        'Content-Length': SEVEN_MIB,
      });
      exchange.socket.write(body);
      exchange.response.catch(() => undefined);
      return exchange;
    });
    await Promise.all(exchanges.map((exchange) => exchange.closed));
    clearInterval(sampler);
    const held = livePeak - liveBefore;
    const rssGrowth = Math.max(rssPeak, process.memoryUsage().rss) - rssBefore;
    const sent = exchanges.reduce((total, exchange) => total + exchange.socket.bytesWritten, 0);
    console.log(
      `refusing 20 × 7 MiB unauthenticated bodies: ${(held / MiB).toFixed(1)} MiB held at most, rss grew ${(rssGrowth / MiB).toFixed(1)} MiB (${(sent / MiB).toFixed(1)} MiB sent, all closed in ${Math.round(performance.now() - started)} ms)`,
    );
    // Read and discarded, the bodies are garbage: what survives a collection is the read chunks in
    // flight, 0.5 to 10 MiB here. A server that reads them before refusing held 75 to 85 MiB (rss
    // grew only 77 to 99 MiB, as the bodies come and go). Rss alone depends on when V8 collects the
    // garbage (3 to 53 MiB on Node 20, up to 69 on Node 24, which sizes its young generation
    // larger), so it is only the outer bound.
    expect(held).toBeLessThan(24 * MiB);
    expect(rssGrowth).toBeLessThan(100 * MiB);
    expect(exchanges.every((exchange) => exchange.socket.bytesWritten <= SEVEN_MIB + 1024)).toBe(true);
  });
});
