/**
 * Raw socket abuse: garbage bytes, half-sent requests, slow headers, oversized headers and too many
 * connections are each bounded by a timeout or limit from the config, and the server keeps serving.
 */
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../support/helpers.js';
import { completeResponse, openSocket, rawExchange, type RawExchange } from '../support/raw.js';
import { startLucid, type TestLucid } from '../support/lucid.js';

const HEADERS_TIMEOUT_MS = 1000;
const REQUEST_TIMEOUT_MS = 2000;
const MAX_HEADER_BYTES = 4096;
/** Node checks the timeouts once a second (server.ts), so a cut comes within this much after the limit. */
const CHECK_SLACK_MS = 1500;

let lucid: TestLucid;
beforeAll(async () => {
  lucid = await startLucid({
    config: {
      server: {
        headersTimeoutMs: HEADERS_TIMEOUT_MS,
        requestTimeoutMs: REQUEST_TIMEOUT_MS,
        maxHeaderBytes: MAX_HEADER_BYTES,
      },
    },
  });
});
afterAll(() => lucid.close());

async function expectServing(target: TestLucid = lucid): Promise<void> {
  const response = await target.request('/health');
  expect(response.status).toBe(200);
  await response.arrayBuffer();
}

/** The JSON message of a raw reply, as every Lucid error carries one. */
function jsonMessage(exchange: RawExchange): string {
  const [head, body] = exchange.reply.split('\r\n\r\n');
  expect(head).toMatch(/\r\nContent-Type: application\/json; charset=utf-8\r\n/i);
  return (JSON.parse(body!) as { message: string }).message;
}

describe('malformed bytes on the socket', () => {
  it('answers garbage bytes with 400 and closes the connection', async () => {
    const garbage = Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 7919) % 256));
    for (const chunk of [
      garbage,
      'HELLO WORLD\r\n\r\n',
      'GET / HTTP/9.9\r\n\r\n',
      'GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n',
      '\r\n\r\n\r\n\x00\x01',
    ]) {
      const exchange = await rawExchange(lucid.port, [chunk]);
      expect(exchange.status, JSON.stringify(chunk.toString().slice(0, 40))).toBe(400);
      expect(jsonMessage(exchange)).toBe('The request is not valid HTTP/1.1.');
      expect(exchange.closed).toBe(true);
    }
    await expectServing();
  });

  it('answers a request without Host with 400 (HTTP/1.1 requires it) and closes', async () => {
    const exchange = await rawExchange(lucid.port, ['GET /health HTTP/1.1\r\n\r\n']);
    expect(exchange.status).toBe(400);
    expect(exchange.closed).toBe(true);
  });
});

describe('server.headersTimeoutMs', () => {
  it('closes a connection whose request line stops half-way, with 408, soon after the limit', async () => {
    const exchange = await rawExchange(lucid.port, ['GET /api/kv/half HT'], { waitMs: 10_000 });
    expect(exchange.closed).toBe(true);
    expect(exchange.status).toBe(408);
    expect(jsonMessage(exchange)).toMatch(/did not arrive in time/);
    expect(exchange.elapsedMs).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
    expect(exchange.elapsedMs).toBeLessThan(HEADERS_TIMEOUT_MS + CHECK_SLACK_MS);
  });

  it('closes a slowloris client that keeps trickling header bytes, however steadily it sends', async () => {
    const trickle = [
      'GET /health HTTP/1.1\r\n',
      'Host: x\r\n',
      ...Array.from({ length: 100 }, (_, i) => `X-Slow-${i}: ${'a'.repeat(10)}\r\n`),
    ];
    const exchange = await rawExchange(lucid.port, trickle, { gapMs: 100, waitMs: 10_000 });
    expect(exchange.closed).toBe(true);
    expect(exchange.status).toBe(408);
    expect(exchange.elapsedMs).toBeLessThan(HEADERS_TIMEOUT_MS + CHECK_SLACK_MS);
    await expectServing();
  });

  it('closes a connection that never sends a byte', async () => {
    const exchange = await rawExchange(lucid.port, [], { waitMs: 10_000 });
    expect(exchange.closed).toBe(true);
    expect(exchange.elapsedMs).toBeLessThan(HEADERS_TIMEOUT_MS + CHECK_SLACK_MS);
  });
});

describe('server.requestTimeoutMs', () => {
  it('closes a PUT whose body stops half-way with 408 and stores nothing', async () => {
    const head = `PUT /api/kv/half-body HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${lucid.token}\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n`;
    const exchange = await rawExchange(lucid.port, [head, 'only ten b'], { waitMs: 10_000 });
    expect(exchange.closed).toBe(true);
    expect(exchange.status).toBe(408);
    expect(exchange.elapsedMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
    expect(exchange.elapsedMs).toBeLessThan(REQUEST_TIMEOUT_MS + CHECK_SLACK_MS);
    const read = await lucid.request('/api/kv/half-body');
    expect(read.status).toBe(404);
    await read.arrayBuffer();
  });
});

describe('server.maxHeaderBytes', () => {
  const request = (headerBytes: number) =>
    `GET /health HTTP/1.1\r\nHost: x\r\nX-Filler: ${'f'.repeat(headerBytes)}\r\nConnection: close\r\n\r\n`;

  it('serves a request whose headers are just under the limit', async () => {
    const exchange = await rawExchange(lucid.port, [request(MAX_HEADER_BYTES - 200)]);
    expect(exchange.status).toBe(200);
  });

  it('answers headers over the limit with 431 and closes, whether sent at once or in pieces', async () => {
    const whole = await rawExchange(lucid.port, [request(MAX_HEADER_BYTES + 10)]);
    expect(whole.status).toBe(431);
    expect(jsonMessage(whole)).toMatch(/headers are larger than the server accepts/);
    expect(whole.closed).toBe(true);
    const pieces =
      'GET /health HTTP/1.1\r\nHost: x\r\n' +
      Array.from({ length: 40 }, (_, i) => `X-Many-${i}: ${'m'.repeat(200)}\r\n`).join('');
    const piecewise = await rawExchange(lucid.port, pieces.match(/[^]{1,1000}/g)!, { gapMs: 10 });
    expect(piecewise.status).toBe(431);
    expect(piecewise.closed).toBe(true);
    await expectServing();
  });
});

describe('server.maxConnections', () => {
  it('closes connections beyond the limit without an answer, and serves again once others close', async () => {
    const MAX = 20;
    // Default timeouts here: the held connections must outlive the checks below.
    const limited = await startLucid({ config: { server: { maxConnections: MAX } } });
    const held: net.Socket[] = [];
    try {
      for (let i = 0; i < MAX; i++) held.push(await openSocket(limited.port));
      await until(async () => (await connections(limited)) === MAX);

      const excess = await rawExchange(limited.port, ['GET /health HTTP/1.1\r\nHost: x\r\n\r\n'], { waitMs: 5000 });
      expect(excess.closed).toBe(true);
      expect(excess.reply).toBe('');
      await expect(fetch(`${limited.url}/health`)).rejects.toThrow();

      for (const socket of held.splice(0, MAX / 2)) socket.destroy();
      await until(async () => (await connections(limited)) <= MAX / 2);
      const afterwards = await rawExchange(limited.port, ['GET /health HTTP/1.1\r\nHost: x\r\n\r\n'], {
        doneWhen: completeResponse,
      });
      expect(afterwards.status).toBe(200);
      await expectServing(limited);
    } finally {
      for (const socket of held) socket.destroy();
      await limited.close();
    }
  });
});

function connections(target: TestLucid): Promise<number> {
  return new Promise((resolve, reject) =>
    target.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  );
}

async function until(condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}
