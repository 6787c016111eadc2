/**
 * On the wire: an answer sent before a large body has arrived (413, 401) still reaches clients
 * that write their whole body before reading (fetch, http.request, a raw socket), thanks to the
 * lingering close; tokens are taken with or without `Bearer `; PATCH operation names in any case.
 */
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyRequests } from '../support/helpers.js';
import { startLucid, uniqueKey, type TestLucid } from '../support/lucid.js';

const MiB = 1024 * 1024;
const NINE_MIB = Buffer.alloc(9 * MiB, 0x61);
const UPLOADS = 20;
const TOO_LARGE = `The value is larger than the limit of ${7 * MiB} bytes.`;
const UNAUTHORIZED = 'You are not allowed to perform this action.';

let lucid: TestLucid;
beforeAll(async () => {
  lucid = await startLucid();
});
afterAll(() => lucid.close());

interface Answer {
  status: number;
  message: unknown;
}

async function viaFetch(token: string | undefined): Promise<Answer> {
  const response = await fetch(`${lucid.url}/api/kv/${uniqueKey('big')}`, {
    method: 'PUT',
    body: NINE_MIB,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  return { status: response.status, message: ((await response.json()) as { message: unknown }).message };
}

function viaHttpRequest(token: string | undefined): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      `${lucid.url}/api/kv/${uniqueKey('big')}`,
      {
        method: 'PUT',
        headers: {
          'content-length': NINE_MIB.length,
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode!,
            message: (JSON.parse(Buffer.concat(chunks).toString()) as { message: unknown }).message,
          }),
        );
      },
    );
    request.on('error', reject);
    request.end(NINE_MIB);
  });
}

/** Writes the request line, headers and the whole body, and only then reads what came back. */
function viaRawSocket(token: string | undefined): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port: lucid.port, host: '127.0.0.1' });
    const head = [
      `PUT /api/kv/${uniqueKey('big')} HTTP/1.1`,
      `Host: 127.0.0.1:${lucid.port}`,
      `Content-Length: ${NINE_MIB.length}`,
    ];
    if (token !== undefined) head.push(`Authorization: Bearer ${token}`);
    socket.write(`${head.join('\r\n')}\r\n\r\n`);
    socket.write(NINE_MIB, () => {
      const received: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      socket.on('end', () => {
        const text = Buffer.concat(received).toString('utf8');
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
        const body = text.slice(text.indexOf('\r\n\r\n') + 4);
        resolve({ status, message: (JSON.parse(body) as { message: unknown }).message });
      });
    });
    socket.on('error', reject);
  });
}

describe('an answer sent before the body has arrived', () => {
  const clients = {
    fetch: viaFetch,
    'http.request': viaHttpRequest,
    'a raw socket that writes everything before reading': viaRawSocket,
  };

  for (const [name, upload] of Object.entries(clients)) {
    it(`reaches ${UPLOADS} parallel 9 MiB uploads through ${name}: 413 with its message`, async () => {
      const answers = await Promise.all(Array.from({ length: UPLOADS }, () => upload(lucid.token)));
      expect(answers).toEqual(Array.from({ length: UPLOADS }, () => ({ status: 413, message: TOO_LARGE })));
    });

    it(`reaches ${UPLOADS} parallel 9 MiB uploads without a token through ${name}: 401 with its message`, async () => {
      const answers = await Promise.all(Array.from({ length: UPLOADS }, () => upload(undefined)));
      expect(answers).toEqual(Array.from({ length: UPLOADS }, () => ({ status: 401, message: UNAUTHORIZED })));
    });
  }

  it('closes the connection once the client stops sending, not before the answer is read', async () => {
    const started = Date.now();
    expect(await viaRawSocket(undefined)).toEqual({ status: 401, message: UNAUTHORIZED });
    // The body was discarded as it arrived; the close followed its end, well within the linger bound.
    expect(Date.now() - started).toBeLessThan(4000);
  });
});

describe('Authorization', () => {
  it('takes the token with or without "Bearer ", and a 401 still asks for Bearer', async () => {
    const key = uniqueKey('bare');
    const put = await fetch(`${lucid.url}/api/kv/${key}`, {
      method: 'PUT',
      body: 'v',
      headers: { authorization: lucid.token },
    });
    expect(put.status).toBe(201);
    await put.arrayBuffer();
    const get = await fetch(`${lucid.url}/api/kv/${key}`, { headers: { authorization: `bearer ${lucid.token}` } });
    expect(await get.text()).toBe('v');
    const refused = await fetch(`${lucid.url}/api/kv/${key}`, { headers: { authorization: `${lucid.token}x` } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="lucid", error="invalid_token"');
    await refused.arrayBuffer();
  });
});

describe('PATCH operation names', () => {
  const { patch } = keyRequests(() => lucid);

  it('are matched case-insensitively, answering as for the lower-case name', async () => {
    const key = uniqueKey('cased');
    await (await lucid.request(`/api/kv/${key}`, { method: 'PUT', body: '41' })).arrayBuffer();
    const increment = await patch(key, '{"operation":"Increment"}');
    expect(await increment.json()).toEqual({ message: 'The specified key was successfully incremented.', value: 42 });
    const lock = await patch(key, '{"operation":"LOCK"}');
    expect(await lock.json()).toEqual({ message: 'The specified key was successfully locked.' });
    const again = await patch(key, '{"operation":"lock"}');
    expect(again.status).toBe(409);
    expect(await again.json()).toEqual({ message: 'The specified key is already locked.' });
  });

  it("take a JSON body whatever its Content-Type says (curl -d sends a form's)", async () => {
    const key = uniqueKey('curl');
    await (await lucid.request(`/api/kv/${key}`, { method: 'PUT', body: 'v' })).arrayBuffer();
    await (await patch(key, '{"operation":"lock"}')).arrayBuffer();
    const unlock = await patch(key, '{"operation":"unlock"}', { contentType: 'application/x-www-form-urlencoded' });
    expect(unlock.status).toBe(200);
    expect(await unlock.json()).toEqual({ message: 'The specified key was successfully unlocked.' });
  });
});

describe('pipelined requests on one connection', () => {
  it('are answered in order, whole, small answers (written at the end of the turn) and large ones (at once) mixed', async () => {
    const small = uniqueKey('small');
    const large = uniqueKey('large');
    const largeValue = Buffer.alloc(200 * 1024, 0x62);
    for (const [key, value] of [
      [small, Buffer.from('s')],
      [large, largeValue],
    ] as const) {
      const put = await lucid.request(`/api/kv/${key}`, { method: 'PUT', body: value });
      expect(put.status).toBe(201);
    }
    const request = (method: string, key: string) =>
      `${method} /api/kv/${key} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${lucid.token}\r\n\r\n`;
    const sequence = [
      ['GET', small],
      ['GET', large],
      ['HEAD', large],
      ['GET', uniqueKey('missing')],
      ['GET', small],
      ['GET', large],
    ] as const;
    const received = await new Promise<Buffer>((resolve, reject) => {
      const socket = net.connect({ port: lucid.port, host: '127.0.0.1' });
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('end', () => resolve(Buffer.concat(chunks)));
      socket.on('error', reject);
      // All in one write, the last asking to close, so every answer comes from one read of the socket.
      const last = sequence.length - 1;
      socket.write(
        sequence
          .map(([method, key], i) =>
            i === last
              ? request(method, key).replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n')
              : request(method, key),
          )
          .join(''),
      );
    });
    const answers: Array<{ status: number; body: Buffer }> = [];
    for (let at = 0, i = 0; at < received.length; i++) {
      const headEnd = received.indexOf('\r\n\r\n', at);
      const head = received.subarray(at, headEnd).toString('latin1');
      const length = sequence[i]![0] === 'HEAD' ? 0 : Number(/content-length: (\d+)/i.exec(head)?.[1]);
      answers.push({ status: Number(head.slice(9, 12)), body: received.subarray(headEnd + 4, headEnd + 4 + length) });
      at = headEnd + 4 + length;
    }
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 404, 200, 200]);
    expect(answers[0]!.body.toString()).toBe('s');
    expect(answers[1]!.body.equals(largeValue)).toBe(true);
    expect(answers[2]!.body.length).toBe(0);
    expect(JSON.parse(answers[3]!.body.toString())).toEqual({ message: expect.any(String) });
    expect(answers[4]!.body.toString()).toBe('s');
    expect(answers[5]!.body.equals(largeValue)).toBe(true);
  });
});
