/**
 * HTTPS against a real server: a TLS handshake is bounded by server.headersTimeoutMs (an idle socket,
 * or one that sends half a ClientHello, is closed), so a handful of such sockets cannot lock clients
 * out under server.maxConnections; TLS 1.2 offers only AEAD suites with forward secrecy.
 */
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../support/helpers.js';
import { startLucid, tempDir, type TestLucid } from '../support/lucid.js';
import { writeTestCertificate } from '../support/tls.js';

const HEADERS_TIMEOUT_MS = 1000;
/** The timeout, plus the once-a-second check of connections and a loaded machine's slack. */
const CLOSED_WITHIN_MS = HEADERS_TIMEOUT_MS + 2500;

let lucid: TestLucid;
let cert: string;
beforeAll(async () => {
  const dir = tempDir();
  cert = await writeTestCertificate(dir);
  lucid = await startLucid({
    dir,
    config: {
      server: { tls: { cert: 'cert.pem', key: 'key.pem' }, headersTimeoutMs: HEADERS_TIMEOUT_MS, maxConnections: 5 },
    },
  });
});
afterAll(() => lucid.close());

/** Opens a TCP connection to the server, sends `bytes`, and resolves with how long until the server closed it. */
function heldOpen(bytes: Buffer | undefined, limitMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(lucid.port, '127.0.0.1', () => {
      if (bytes !== undefined) socket.write(bytes);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
    socket.resume();
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open for ${limitMs} ms`));
    }, limitMs);
  });
}

/** The first bytes of a TLS ClientHello record: a handshake record header and the start of its body. */
const HALF_CLIENT_HELLO = Buffer.from([
  0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x5a, 0x5a, 0x5a,
]);

function health(): Promise<number> {
  return new Promise((resolve, reject) => {
    https
      .get(`${lucid.url}/health`, { ca: cert, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      })
      .on('error', reject);
  });
}

/** Completes a handshake with these options and resolves with the negotiated protocol and cipher, or rejects. */
function handshake(options: tls.ConnectionOptions): Promise<{ protocol: string | null; cipher: string }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      { port: lucid.port, host: '127.0.0.1', ca: cert, servername: 'localhost', ...options },
      () => {
        const result = { protocol: socket.getProtocol(), cipher: socket.getCipher().name };
        socket.end();
        resolve(result);
      },
    );
    socket.on('error', reject);
  });
}

describe('TLS handshakes', () => {
  it('closes a connection that sends nothing within server.headersTimeoutMs', async () => {
    const closedAfter = await heldOpen(undefined, 10_000);
    expect(closedAfter).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 100);
    expect(closedAfter).toBeLessThan(CLOSED_WITHIN_MS);
  });

  it('closes a connection that sends half a ClientHello within server.headersTimeoutMs', async () => {
    const closedAfter = await heldOpen(HALF_CLIENT_HELLO, 10_000);
    expect(closedAfter).toBeLessThan(CLOSED_WITHIN_MS);
  });

  it('lets clients in again under server.maxConnections: 5 once five stalled handshakes are cut', async () => {
    const stalled = [undefined, HALF_CLIENT_HELLO, undefined, HALF_CLIENT_HELLO, undefined].map((bytes) =>
      heldOpen(bytes, 10_000),
    );
    await sleep(200);
    const started = Date.now();
    let status: number | undefined;
    while (status === undefined && Date.now() - started < 10_000) {
      status = await health().catch(() => undefined);
      if (status === undefined) await sleep(100);
    }
    expect(status).toBe(200);
    expect(Date.now() - started).toBeLessThan(CLOSED_WITHIN_MS);
    await Promise.all(stalled);
  });

  it('after the handshake, a client that sends no request gets the HTTP headers timeout (408)', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      let text = '';
      const socket = tls.connect({ port: lucid.port, host: '127.0.0.1', ca: cert, servername: 'localhost' });
      socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
      setTimeout(() => reject(new Error('still open')), 10_000).unref();
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  });
});

describe('TLS versions and cipher suites', () => {
  it('negotiates TLS 1.3 by default, and TLS 1.2 with an AEAD suite with forward secrecy', async () => {
    expect((await handshake({})).protocol).toBe('TLSv1.3');
    for (const cipher of [
      'ECDHE-ECDSA-AES128-GCM-SHA256',
      'ECDHE-ECDSA-AES256-GCM-SHA384',
      'ECDHE-ECDSA-CHACHA20-POLY1305',
    ]) {
      expect(await handshake({ maxVersion: 'TLSv1.2', ciphers: cipher })).toEqual({ protocol: 'TLSv1.2', cipher });
    }
  });

  it('refuses TLS 1.2 CBC suites (SHA-1 and SHA-2) and TLS 1.1', async () => {
    for (const ciphers of [
      'ECDHE-ECDSA-AES128-SHA',
      'ECDHE-ECDSA-AES256-SHA',
      'ECDHE-ECDSA-AES128-SHA256',
      'ECDHE-ECDSA-AES256-SHA384',
    ]) {
      await expect(handshake({ maxVersion: 'TLSv1.2', ciphers }), ciphers).rejects.toThrow();
    }
    await expect(
      handshake({ maxVersion: 'TLSv1.1', minVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }),
    ).rejects.toThrow();
  });
});
