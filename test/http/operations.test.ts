/**
 * Operations against a real server: GET /metrics and the metrics listener, request ids and what the
 * logs hold (never a token or the secret), security headers, CORS, and HTTPS.
 */
import https from 'node:https';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Scope } from '../../src/auth.js';
import type { Config, DeepPartial } from '../../src/config.js';
import { keyRequests, sleep } from '../support/helpers.js';
import { startLucid, tempDir, uniqueKey, type TestLucid } from '../support/lucid.js';
import { openStream } from '../support/sse.js';
import { writeTestCertificate } from '../support/tls.js';

const started: TestLucid[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((lucid) => lucid.close()));
});

async function start(config: DeepPartial<Config> = {}, logger?: Logger): Promise<TestLucid> {
  const lucid = await startLucid({ config, logger });
  started.push(lucid);
  return lucid;
}

const bearer = (lucid: TestLucid, scope: Scope) => ({
  authorization: `Bearer ${lucid.authority.issue(`ops-${scope}`, 600, { scope })}`,
});
const put = (lucid: TestLucid, key: string) => keyRequests(() => lucid).put(key, 'v');

async function scrape(lucid: TestLucid): Promise<string> {
  const response = await lucid.request('/metrics', { headers: bearer(lucid, 'admin') });
  expect(response.status).toBe(200);
  return response.text();
}

/** The value of one sample line (`name{labels} value`), or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('getMetrics', () => {
  it('needs an admin token: 401 without one, 403 for read and write tokens', async () => {
    const lucid = await start();
    const none = await fetch(`${lucid.url}/metrics`);
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({ message: 'You are not allowed to perform this action.' });
    for (const scope of ['read', 'write'] as const) {
      const response = await lucid.request('/metrics', { headers: bearer(lucid, scope) });
      expect(response.status, scope).toBe(403);
      expect((await response.json()).message).toMatch(/needs admin/);
    }
  });

  it('answers 403 to an admin token limited to a prefix: the metrics cover the whole store', async () => {
    const lucid = await start();
    const limited = lucid.authority.issue('team-admin', 600, { scope: 'admin', prefix: 'team-a/' });
    const response = await lucid.request('/metrics', { headers: { authorization: `Bearer ${limited}` } });
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({
      message: 'The metrics cover the whole store: a token limited to a prefix cannot read them.',
    });
    expect((await lucid.request('/metrics', { headers: bearer(lucid, 'admin') })).status).toBe(200);
  });

  it('counts requests by operation and status, never by raw path, and times them', async () => {
    const lucid = await start();
    const secretKey = uniqueKey('do-not-label-me');
    expect((await put(lucid, secretKey)).status).toBe(201);
    expect((await put(lucid, secretKey)).status).toBe(200);
    expect((await lucid.request(`/api/kv/${uniqueKey('missing')}`)).status).toBe(404);
    expect((await lucid.request('/no/such/path')).status).toBe(404);
    expect((await fetch(`${lucid.url}/api/kv/x`)).status).toBe(401);

    const text = await scrape(lucid);
    expect(text).toContain('# TYPE lucid_http_requests_total counter');
    expect(sample(text, 'lucid_http_requests_total{operation="putKey",status="201"}')).toBe(1);
    expect(sample(text, 'lucid_http_requests_total{operation="putKey",status="200"}')).toBe(1);
    expect(sample(text, 'lucid_http_requests_total{operation="getKey",status="404"}')).toBe(1);
    expect(sample(text, 'lucid_http_requests_total{operation="getKey",status="401"}')).toBe(1);
    expect(sample(text, 'lucid_http_requests_total{operation="none",status="404"}')).toBe(1);
    expect(sample(text, 'lucid_http_request_duration_seconds_count{operation="putKey"}')).toBe(2);
    expect(text).not.toContain(secretKey);
    expect(text).not.toContain('/no/such/path');
    expect(text).toContain('process_resident_memory_bytes');
  });

  it('reports live keys, open notification streams and store errors', async () => {
    const lucid = await start();
    for (let i = 0; i < 3; i++) await put(lucid, uniqueKey('counted'));
    const stream = await openStream(`${lucid.url}/api/notifications`, bearer(lucid, 'read'));
    expect(stream.response.status).toBe(200);
    await stream.until((blocks) => blocks.length > 0); // the stream is registered once its first frame is out
    let text = await scrape(lucid);
    expect(sample(text, 'lucid_keys')).toBe(3);
    expect(sample(text, 'lucid_notification_clients')).toBe(1);
    expect(sample(text, 'lucid_store_errors_total')).toBe(0);
    await stream.close();

    await lucid.store.close(); // the store now fails every call
    expect((await lucid.request(`/api/kv/${uniqueKey('after')}`)).status).toBe(503);
    await sleep(50); // the stream's close reaches the server
    text = await scrape(lucid);
    expect(sample(text, 'lucid_notification_clients')).toBe(0);
    // The cached key count is still fresh, so the scrape itself does not touch the store: one error, the GET's.
    expect(sample(text, 'lucid_store_errors_total')).toBe(1);
    expect(sample(text, 'lucid_http_requests_total{operation="getKey",status="503"}')).toBe(1);
  });

  it('serves GET /metrics without a token on the metrics listener, and nothing else there', async () => {
    const lucid = await start({ metrics: { port: 0, host: '127.0.0.1' } });
    expect(lucid.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const response = await fetch(lucid.metricsUrl!);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await response.text()).toContain('lucid_keys');
    const elsewhere = await fetch(new URL('/api/kv/x', lucid.metricsUrl));
    expect(elsewhere.status).toBe(404);
    expect(await elsewhere.json()).toEqual({ message: 'There is nothing at this path.' });
    const post = await fetch(lucid.metricsUrl!, { method: 'POST' });
    expect(post.status).toBe(405);
    await post.arrayBuffer();
    expect((await fetch(`${lucid.url}/metrics`)).status).toBe(401); // the API port still wants the token
  });
});

/** A pino logger writing JSON lines into an array, as the CLI's logger writes them to stdout. */
function capturingLogger(): { logger: Logger; lines: () => Array<Record<string, unknown>>; raw: () => string } {
  let raw = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      raw += chunk.toString('utf8');
      done();
    },
  });
  return {
    logger: pino({ level: 'info' }, sink),
    raw: () => raw,
    lines: () =>
      raw
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

describe('request ids and logs', () => {
  it('with log.access on, logs one line per request with the id its X-Request-Id header carried, and never a token or the secret', async () => {
    const capture = capturingLogger();
    const lucid = await start({ log: { level: 'info', access: true } }, capture.logger);
    const admin = bearer(lucid, 'admin');
    const token = admin.authorization.slice('Bearer '.length);
    const ids: string[] = [];
    const record = (response: Response) => {
      const id = response.headers.get('x-request-id');
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      ids.push(id!);
      return response;
    };
    await record(await put(lucid, uniqueKey('logged'))).arrayBuffer();
    await record(await lucid.request('/metrics', { headers: { ...admin, cookie: `session=${token}` } })).arrayBuffer();
    await record(
      await fetch(`${lucid.url}/api/kv/x`, { headers: { authorization: `Bearer ${token}x` } }),
    ).arrayBuffer(); // a 401
    const stream = await openStream(`${lucid.url}/api/notifications?token=${token}&maxDuration=1`);
    record(stream.response);
    await stream.ended;
    await record(await fetch(`${lucid.url}/api/notifications?%74oken=${token}&maxDuration=1`)).arrayBuffer(); // the name percent-encoded
    await sleep(100); // the stream's line is written when it closes

    const raw = capture.raw();
    expect(raw).not.toContain(token);
    expect(raw).not.toContain(lucid.config.auth.secret);
    const requests = capture.lines().filter((line) => line.msg === 'request completed');
    expect(requests.map((line) => (line.req as { id: string }).id).sort()).toEqual([...ids].sort());
    const stream200 = requests.find((line) =>
      (line.req as { url: string }).url.startsWith('/api/notifications?token='),
    );
    expect((stream200!.req as { url: string }).url).toBe('/api/notifications?token=[Redacted]&maxDuration=1');
    for (const line of requests) expect(line.res).toEqual({ statusCode: expect.any(Number) });
  });

  it('logs no line per request by default (log.access is off), but still logs failures with the request id', async () => {
    const capture = capturingLogger();
    const lucid = await start({}, capture.logger);
    await (await put(lucid, uniqueKey('quiet'))).arrayBuffer();
    await (await lucid.request('/api/kv/x', { headers: { 'x-request-id': 'seen-in-the-log' } })).arrayBuffer();
    expect(capture.lines().filter((line) => line.msg === 'request completed')).toEqual([]);
    await lucid.store.close(); // the store is gone: the next request fails with 503, which is logged
    const failed = await lucid.request('/api/kv/x', { headers: { 'x-request-id': 'store-down' } });
    expect(failed.status).toBe(503);
    await failed.arrayBuffer();
    expect(capture.lines().find((line) => line.msg === 'store unavailable')?.req).toEqual({ id: 'store-down' });
  });

  it('adopts a sane incoming X-Request-Id and replaces one that is too long or has odd characters', async () => {
    const capture = capturingLogger();
    const lucid = await start({ log: { level: 'info', access: true } }, capture.logger);
    const ask = async (id: string) => {
      const response = await fetch(`${lucid.url}/health`, { headers: { 'x-request-id': id } });
      await response.arrayBuffer();
      return response.headers.get('x-request-id');
    };
    expect(await ask('trace-42.a:b/c+d=')).toBe('trace-42.a:b/c+d=');
    const tooLong = 'a'.repeat(129);
    expect(await ask(tooLong)).toMatch(/^[0-9a-f-]{36}$/);
    expect(await ask('has space')).toMatch(/^[0-9a-f-]{36}$/);
    expect(await ask('{"level":60}')).toMatch(/^[0-9a-f-]{36}$/);
    expect(capture.raw()).not.toContain(tooLong);
    expect(capture.lines().some((line) => (line.req as { id?: string } | undefined)?.id === 'trace-42.a:b/c+d=')).toBe(
      true,
    );
  });
});

describe('security headers', () => {
  it('come with every answer: API, errors and static files; HSTS only over TLS', async () => {
    const lucid = await start();
    for (const response of [
      await put(lucid, uniqueKey('headers')),
      await lucid.request('/no/such/path'),
      await fetch(`${lucid.url}/docs/assets/swagger-ui.css`),
      await fetch(`${lucid.url}/health`),
    ]) {
      await response.arrayBuffer();
      expect(response.headers.get('x-content-type-options'), response.url).toBe('nosniff');
      expect(response.headers.get('x-frame-options'), response.url).toBe('DENY');
      expect(response.headers.get('referrer-policy'), response.url).toBe('no-referrer');
      expect(response.headers.get('content-security-policy'), response.url).toContain("default-src 'none'");
      expect(response.headers.get('strict-transport-security'), response.url).toBeNull();
      expect(response.headers.get('x-request-id'), response.url).not.toBeNull();
      expect(response.headers.get('x-powered-by')).toBeNull();
    }
  });

  it('leave the pages their own CSP: the console, and Swagger UI at /docs', async () => {
    const lucid = await start();
    const docs = await fetch(`${lucid.url}/docs`);
    await docs.arrayBuffer();
    expect(docs.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(docs.headers.get('content-security-policy')).toContain("connect-src 'self'");
    const consolePage = await fetch(`${lucid.url}/ui`);
    await consolePage.arrayBuffer();
    expect(consolePage.headers.get('content-security-policy')).toContain("script-src 'self'");
  });

  it('serve a stored HTML value under a CSP that runs nothing', async () => {
    const lucid = await start();
    const key = uniqueKey('page');
    await lucid.request(`/api/kv/${key}`, {
      method: 'PUT',
      body: '<script>alert(1)</script>',
      headers: { 'content-type': 'text/html' },
    });
    const response = await lucid.request(`/api/kv/${key}`);
    expect(response.headers.get('content-type')).toBe('text/html');
    expect(response.headers.get('content-security-policy')).toMatch(/^default-src 'none'/);
    await response.arrayBuffer();
  });
});

describe('CORS', () => {
  const preflight = (lucid: TestLucid, origin: string) =>
    fetch(`${lucid.url}/api/kv/greeting`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'authorization,content-type,if-match',
      },
    });

  it('is off by default: no CORS headers, and a preflight is refused', async () => {
    const lucid = await start();
    const response = await preflight(lucid, 'http://localhost:5173');
    expect(response.status).toBe(405);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    await response.arrayBuffer();
    const get = await lucid.request('/health', { headers: { origin: 'http://localhost:5173' } });
    expect(get.headers.get('access-control-allow-origin')).toBeNull();
    await get.arrayBuffer();
  });

  it("answers the listed origins, preflight included, and exposes Lucid's headers", async () => {
    const origin = 'http://localhost:5173';
    const lucid = await start({ cors: { origins: [origin, 'https://app.example.org'] } });
    const allowed = await preflight(lucid, origin);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(origin);
    expect(allowed.headers.get('access-control-allow-methods')).toBe('GET,HEAD,PUT,PATCH,DELETE,POST');
    expect(allowed.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('if-match');
    expect(allowed.headers.get('access-control-allow-credentials')).toBeNull();
    const key = uniqueKey('cors');
    await put(lucid, key);
    const get = await lucid.request(`/api/kv/${key}`, { headers: { origin } });
    expect(get.status).toBe(200);
    expect(get.headers.get('access-control-allow-origin')).toBe(origin);
    expect(get.headers.get('vary')).toContain('Origin');
    const exposed = get.headers.get('access-control-expose-headers')!.split(',');
    expect(exposed).toEqual(expect.arrayContaining(['ETag', 'Lucid-Expires-At', 'Lucid-Lock-Holder', 'X-Request-Id']));
    await get.arrayBuffer();
  });

  it('gives any other origin no CORS headers and refuses its preflight', async () => {
    const lucid = await start({ cors: { origins: ['http://localhost:5173'] } });
    for (const origin of [
      'http://evil.example',
      'http://localhost:5174',
      'http://localhost:5173.evil.example',
      'null',
    ]) {
      const response = await preflight(lucid, origin);
      expect(response.status, origin).toBe(405);
      expect(response.headers.get('access-control-allow-origin'), origin).toBeNull();
      expect(response.headers.get('access-control-allow-methods'), origin).toBeNull();
      expect(response.headers.get('vary'), origin).toContain('Origin');
      await response.arrayBuffer();
    }
  });
});

describe('HTTPS', () => {
  let cert: string;
  let dir: string;
  beforeAll(async () => {
    dir = tempDir();
    cert = await writeTestCertificate(dir);
  });

  /** GET over HTTPS trusting only the test certificate. */
  function httpsGet(
    url: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
    return new Promise((resolve, reject) => {
      https
        .get(url, { ca: cert, headers }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
        })
        .on('error', reject);
    });
  }

  it('serves HTTPS with the configured certificate and key (paths relative to the config), with HSTS', async () => {
    const lucid = await startLucid({ dir, config: { server: { tls: { cert: 'cert.pem', key: 'key.pem' } } } });
    started.push(lucid);
    expect(lucid.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const health = await httpsGet(`${lucid.url}/health`);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ status: 'ok' });
    expect(health.headers['strict-transport-security']).toBe('max-age=15552000');
    const metrics = await httpsGet(`${lucid.url}/metrics`, bearer(lucid, 'admin'));
    expect(metrics.status).toBe(200);
    await expect(fetch(lucid.url.replace('https:', 'http:') + '/health')).rejects.toThrow(); // plain HTTP is not spoken there
  });

  it('refuses to start when the certificate cannot be read, naming the option and the file', async () => {
    await expect(
      startLucid({ dir, config: { server: { tls: { cert: 'missing.pem', key: 'key.pem' } } } }),
    ).rejects.toThrow(/server\.tls\.cert \(.*missing\.pem\).*lucid init --tls/);
  });
});
