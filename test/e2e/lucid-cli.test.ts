/**
 * End-to-end tests of the built `lucid` command: each test spawns `node dist/cli/main.js` and talks
 * to it over real HTTP, with a real config file and SQLite file in a temp folder.
 */
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../support/helpers.js';
import {
  ROOT,
  STACK_LINE,
  assertBuilt,
  cleanup,
  freePort,
  httpsRequest,
  isPortRefused,
  jwtClaims,
  runLucid,
  startServer,
  tempDir,
  waitPortRefused,
  type LucidServer,
  type RunResult,
} from './cli.js';

const JWT_ALONE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/;

beforeAll(() => assertBuilt());
afterEach(async () => {
  await cleanup();
});
afterAll(async () => {
  await cleanup();
});

/** `lucid init --config DIR/lucid.yml`: the config file and the root token it printed. */
async function init(dir: string, extra: string[] = []): Promise<{ file: string; token: string; result: RunResult }> {
  const file = path.join(dir, 'lucid.yml');
  const result = await runLucid(['init', '--config', file, ...extra], { cwd: dir });
  expect(result.stderr).not.toContain(STACK_LINE);
  expect(result.code, result.stderr).toBe(0);
  return { file, token: result.stdout.trim(), result };
}

/** Starts `lucid server --config FILE --port 0`. */
function serve(dir: string, file: string, env?: Record<string, string>): Promise<LucidServer> {
  return startServer(['--config', file, '--port', '0'], { cwd: dir, env });
}

/** Asserts a run stopped with a non-zero exit code and a short, clear message on stderr (no stack trace). */
function expectCleanFailure(result: RunResult, mentions: RegExp): void {
  expect(result.code, `stdout: ${result.stdout}\nstderr: ${result.stderr}`).not.toBe(0);
  expect(result.signal).toBeNull();
  expect(result.stderr).not.toContain(STACK_LINE);
  expect(result.stderr).toMatch(mentions);
  expect(result.stderr.trim().split('\n').length).toBeLessThanOrEqual(3);
}

async function putText(server: LucidServer, key: string, text: string, token?: string): Promise<number> {
  const response = await server.request(`/api/kv/${key}`, {
    method: 'PUT',
    token,
    headers: { 'content-type': 'text/plain' },
    body: text,
  });
  await response.arrayBuffer();
  return response.status;
}

describe('lucid init', () => {
  it('writes the config with mode 0600 and prints, alone on stdout, a JWT the started server accepts', async () => {
    const dir = tempDir();
    const { file, token, result } = await init(dir);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(result.stdout).toMatch(JWT_ALONE);
    const server = await serve(dir, file);
    expect(await putText(server, 'greeting', 'hello')).toBe(401);
    expect(await putText(server, 'greeting', 'hello', token)).toBe(201);
    const read = await server.request('/api/kv/greeting', { token });
    expect(read.status).toBe(200);
    expect(await read.text()).toBe('hello');
  });

  it('--tls writes a self-signed localhost certificate (key 0600) and the server then speaks HTTPS with it, not plain HTTP', async () => {
    const dir = tempDir();
    const { file, token, result } = await init(dir, ['--tls']);
    const certFile = path.join(dir, 'tls/localhost-cert.pem');
    expect(statSync(path.join(dir, 'tls/localhost-key.pem')).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toMatch(
      /tls:\n {4}cert: tls\/localhost-cert\.pem\n {4}key: tls\/localhost-key\.pem/,
    );
    expect(result.stderr).toContain(`curl --cacert ${certFile}`);
    const ca = readFileSync(certFile);
    const server = await startServer(['--config', file, '--port', '0'], { cwd: dir, ca });
    expect(server.stderr).toMatch(/listening on https:\/\/127\.0\.0\.1:\d+/);
    const base = `https://localhost:${server.port}`;
    const auth = { authorization: `Bearer ${token}` };
    const written = await httpsRequest(`${base}/api/kv/greeting`, {
      ca,
      method: 'PUT',
      headers: { ...auth, 'content-type': 'text/plain' },
      body: 'hello over TLS',
    });
    expect(written.status).toBe(201);
    const read = await httpsRequest(`https://127.0.0.1:${server.port}/api/kv/greeting`, { ca, headers: auth }); // the IP is in the certificate too
    expect(read.status).toBe(200);
    expect(read.body).toBe('hello over TLS');
    expect(read.headers['strict-transport-security']).toBeDefined();
    await expect(httpsRequest(`${base}/health`)).rejects.toThrow(/self[- ]signed/i); // not trusted without the certificate
    await expect(fetch(`http://127.0.0.1:${server.port}/health`)).rejects.toThrow(); // no plain HTTP on that port
  });

  it('refuses to overwrite an existing config without --force: non-zero exit, one clear line on stderr, file unchanged', async () => {
    const dir = tempDir();
    const { file } = await init(dir);
    const before = readFileSync(file);
    const second = await runLucid(['init', '--config', file], { cwd: dir });
    expectCleanFailure(second, /already exists.*--force/);
    expect(second.stderr.trim().split('\n')).toHaveLength(1);
    expect(second.stdout).toBe('');
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  it('overwrites an existing config with --force: a new secret, mode 0600, and only the new token is accepted', async () => {
    const dir = tempDir();
    const first = await init(dir);
    const before = readFileSync(first.file, 'utf8');
    chmodSync(first.file, 0o644);
    const second = await init(dir, ['--force']);
    expect(second.result.stdout).toMatch(JWT_ALONE);
    expect(readFileSync(first.file, 'utf8')).not.toBe(before);
    expect(statSync(first.file).mode & 0o777).toBe(0o600);
    const server = await serve(dir, first.file);
    expect(await putText(server, 'k', 'v', first.token)).toBe(401);
    expect(await putText(server, 'k', 'v', second.token)).toBe(201);
  });

  it('refuses a --secret shorter than 32 characters and writes no file', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'lucid.yml');
    const result = await runLucid(['init', '--config', file, '--secret', 'too-short-a-secret'], { cwd: dir });
    expectCleanFailure(result, /--secret must be at least 32 characters/);
    expect(result.stdout).toBe('');
    expect(() => statSync(file)).toThrow();
  });

  it('uses a --secret of 40+ characters: a token signed with it (jsonwebtoken, HS256) is accepted', async () => {
    const dir = tempDir();
    // Characters YAML cares about, to check the secret is written back exactly.
    const secret = `s3cret: #not-a-comment "quoted" \\back 'single' ünïcödé ${'x'.repeat(8)}`;
    expect(secret.length).toBeGreaterThanOrEqual(40);
    const { file, token } = await init(dir, ['--secret', secret]);
    const server = await serve(dir, file);
    const own = jwt.sign({}, secret, { algorithm: 'HS256', subject: 'tester', expiresIn: 600 });
    const other = jwt.sign({}, `${secret}-but-another`, { algorithm: 'HS256', subject: 'tester', expiresIn: 600 });
    expect(await putText(server, 'signed', 'by me', own)).toBe(201);
    expect(await putText(server, 'signed', 'by someone else', other)).toBe(401);
    expect(await putText(server, 'signed', 'by root', token)).toBe(200);
  });
});

describe('lucid server and lucid token issue', () => {
  it('serves on --port and accepts a token from `token issue`, printed alone on stdout with the given subject and lifetime', async () => {
    const dir = tempDir();
    const { file } = await init(dir);
    const port = await freePort();
    const server = await startServer(['--config', file, '--port', String(port)], { cwd: dir, port });
    expect(server.stderr).toContain(`listening on http://127.0.0.1:${port}`);
    const issued = await runLucid(['token', 'issue', '--config', file, '--subject', 'alice', '--expires-in', '1h'], {
      cwd: dir,
    });
    expect(issued.code, issued.stderr).toBe(0);
    expect(issued.stdout).toMatch(JWT_ALONE);
    expect(issued.stderr).toBe('');
    const claims = jwtClaims(issued.stdout.trim());
    expect(claims.sub).toBe('alice');
    expect(Number(claims.exp) - Number(claims.iat)).toBe(3600);
    const token = issued.stdout.trim();
    expect(await putText(server, 'from-alice', 'hi', token)).toBe(201);
    const defaults = await runLucid(['token', 'issue', '--config', file], { cwd: dir });
    expect(defaults.code, defaults.stderr).toBe(0);
    expect(jwtClaims(defaults.stdout.trim()).sub).toBe('root');
    expect(await putText(server, 'from-alice', 'hi again', defaults.stdout.trim())).toBe(200);
  });

  it('refuses a token issued with --expires-in 1s with 401 once it has expired (no clock-skew leeway)', async () => {
    const dir = tempDir();
    const { file } = await init(dir);
    const server = await serve(dir, file, { LUCID_AUTH_CLOCK_SKEW_SECONDS: '0' });
    const issued = await runLucid(['token', 'issue', '--config', file, '--expires-in', '1s'], { cwd: dir });
    expect(issued.code, issued.stderr).toBe(0);
    const token = issued.stdout.trim();
    const claims = jwtClaims(token);
    expect(Number(claims.exp) - Number(claims.iat)).toBe(1);
    await sleep(Math.max(0, Number(claims.exp) * 1000 - Date.now()) + 100);
    const response = await server.request('/api/kv/late', { token });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain('invalid_token');
  });

  it('rejects a bad --expires-in value with a clear error and prints no token', async () => {
    const dir = tempDir();
    const { file } = await init(dir);
    for (const value of ['soon', '0', '-5m', '10x']) {
      const result = await runLucid(['token', 'issue', '--config', file, '--expires-in', value], { cwd: dir });
      expectCleanFailure(result, /--expires-in must be a duration/);
      expect(result.stdout).toBe('');
    }
  });
});

describe('start-up failures stop with a non-zero exit and one clear message, no stack trace', () => {
  it('an identity provider key file that is missing or not a usable key', async () => {
    const dir = tempDir();
    const { file } = await init(dir);
    const missing = await runLucid(['server', '--config', file, '--port', '0'], {
      cwd: dir,
      env: { LUCID_AUTH_JWKS_FILE: 'absent-jwks.json' },
    });
    expectCleanFailure(missing, /Cannot read auth\.jwksFile .*absent-jwks\.json/);
    writeFileSync(path.join(dir, 'idp.pem'), 'not a key');
    const junk = await runLucid(['server', '--config', file, '--port', '0'], {
      cwd: dir,
      env: { LUCID_AUTH_PUBLIC_KEY_FILE: 'idp.pem' },
    });
    expectCleanFailure(junk, /auth\.publicKeyFile .*idp\.pem holds no PEM public key/);
  });

  it('a missing config file', async () => {
    const dir = tempDir();
    const result = await runLucid(['server', '--config', path.join(dir, 'absent.yml'), '--port', '0'], { cwd: dir });
    expectCleanFailure(result, /No config file at .*absent\.yml/);
  });

  it('a config file that is not valid YAML', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'lucid.yml');
    writeFileSync(file, 'server:\n  port: [1, 2\nauth: {\n', { mode: 0o600 });
    const result = await runLucid(['server', '--config', file, '--port', '0'], { cwd: dir });
    expectCleanFailure(result, /not valid YAML/);
  });

  it('an unknown option in the config file, named in the message', async () => {
    const dir = tempDir();
    const { file } = await init(dir);
    writeFileSync(file, readFileSync(file, 'utf8').replace('limits:\n', 'limits:\n  maxValueByte: 5\n'));
    const result = await runLucid(['server', '--config', file, '--port', '0'], { cwd: dir });
    expectCleanFailure(result, /maxValueByte/);
  });

  it('an unknown flag (--bogus)', async () => {
    const dir = tempDir();
    const { file } = await init(dir);
    const result = await runLucid(['server', '--config', file, '--bogus'], { cwd: dir });
    expectCleanFailure(result, /unknown option '--bogus'/);
  });

  it('a --port that is not a number', async () => {
    const dir = tempDir();
    const { file } = await init(dir);
    const result = await runLucid(['server', '--config', file, '--port', 'eighty'], { cwd: dir });
    expectCleanFailure(result, /--port must be a number/);
  });

  it('a port already in use', async () => {
    const dir = tempDir();
    const { file } = await init(dir);
    const blocker = http.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const port = (blocker.address() as { port: number }).port;
      const result = await runLucid(['server', '--config', file, '--port', String(port)], { cwd: dir });
      expectCleanFailure(result, new RegExp(`Port ${port} .*already in use`));
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});

describe('environment overrides', () => {
  it('LUCID_PORT sets the port when --port is absent', async () => {
    const dir = tempDir();
    const { file, token } = await init(dir);
    const port = await freePort();
    const server = await startServer(['--config', file], { cwd: dir, port, env: { LUCID_PORT: String(port) } });
    expect(server.stderr).toContain(`listening on http://127.0.0.1:${port}`);
    expect(await putText(server, 'env-port', 'yes', token)).toBe(201);
  });

  it('LUCID_MAX_VALUE_BYTES limits values: a larger PUT gets 413 and nothing is stored', async () => {
    const dir = tempDir();
    const { file, token } = await init(dir);
    const server = await serve(dir, file, { LUCID_MAX_VALUE_BYTES: '100' });
    expect(await putText(server, 'small', 'x'.repeat(100), token)).toBe(201);
    const big = await server.request('/api/kv/big', {
      method: 'PUT',
      token,
      headers: { 'content-type': 'text/plain' },
      body: 'x'.repeat(101),
    });
    expect(big.status).toBe(413);
    expect(((await big.json()) as { message: string }).message).toMatch(/100 bytes/);
    const read = await server.request('/api/kv/big', { token });
    expect(read.status).toBe(404);
  });

  it('LUCID_CONFIG names the config file when --config is absent (server and token issue)', async () => {
    const dir = tempDir();
    const { file } = await init(dir);
    const elsewhere = tempDir(); // No lucid.yml in the working folder.
    const env = { LUCID_CONFIG: file };
    const issued = await runLucid(['token', 'issue'], { cwd: elsewhere, env });
    expect(issued.code, issued.stderr).toBe(0);
    const server = await startServer(['--port', '0'], { cwd: elsewhere, env });
    expect(server.stderr).toContain(`config ${file}`);
    expect(await putText(server, 'via-env', 'ok', issued.stdout.trim())).toBe(201);
  });
});

describe('restarts and signals', () => {
  it('keeps data across a SIGTERM and restart: the same bytes (all 256 byte values, trailing zeros), Content-Type and ETag', async () => {
    const dir = tempDir();
    const { file, token } = await init(dir);
    const binary = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.alloc(5)]);
    const values = [
      { key: 'binary', body: binary, type: 'application/x-lucid-test; variant=raw' },
      { key: 'text', body: Buffer.from('héllo wörld\n'), type: 'text/plain; charset=utf-8' },
      { key: 'json', body: Buffer.from('{"a":[1,2,3]}'), type: 'application/json' },
      { key: 'sniffed', body: Buffer.from([0x00, 0x01, 0xfe, 0xff, 0x00]), type: undefined },
    ];
    let server = await serve(dir, file);
    const before = new Map<string, { type: string | null; etag: string | null }>();
    for (const { key, body, type } of values) {
      const put = await server.request(`/api/kv/${key}`, {
        method: 'PUT',
        token,
        headers: type ? { 'content-type': type } : {},
        body,
      });
      expect(put.status).toBe(201);
      const read = await server.request(`/api/kv/${key}`, { token });
      expect(Buffer.from(await read.arrayBuffer()).equals(body)).toBe(true);
      before.set(key, { type: read.headers.get('content-type'), etag: read.headers.get('etag') });
    }
    expect(before.get('binary')!.type).toBe('application/x-lucid-test; variant=raw');
    expect(await server.stop('SIGTERM')).toEqual({ code: 0, signal: null });

    server = await serve(dir, file);
    for (const { key, body } of values) {
      const read = await server.request(`/api/kv/${key}`, { token });
      expect(read.status).toBe(200);
      const bytes = Buffer.from(await read.arrayBuffer());
      expect(bytes.length).toBe(body.length);
      expect(bytes.equals(body)).toBe(true);
      expect(read.headers.get('content-type')).toBe(before.get(key)!.type);
      expect(read.headers.get('etag')).toBe(before.get(key)!.etag);
    }
  });

  it('on SIGTERM finishes an in-flight request with 2xx, then exits 0 and refuses the port', async () => {
    const dir = tempDir();
    const { file, token } = await init(dir);
    const server = await serve(dir, file);
    const { status, body } = await slowPut(server, token, new http.Agent({ keepAlive: false }), async () => {
      server.signal('SIGTERM');
      await sleep(300);
      expect(server.running).toBe(true); // Still waiting for the rest of the body.
    });
    expect(status).toBe(201);
    expect(body).toContain('created');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(await isPortRefused(server.port)).toBe(true);

    const again = await serve(dir, file);
    const read = await again.request('/api/kv/slow', { token });
    expect(await read.text()).toBe('first half|second half');
  });

  it('on SIGTERM exits promptly after the in-flight request even when its client keeps the connection alive', async () => {
    const dir = tempDir();
    const { file, token } = await init(dir);
    const server = await serve(dir, file);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const { status } = await slowPut(server, token, agent, async () => {
        server.signal('SIGTERM');
        await sleep(200);
      });
      expect(status).toBe(201);
      // A stopping server must not keep serving (and running) for a client that reuses its connection.
      const exit = await Promise.race([server.exited, sleep(2000).then(() => 'still running after 2 s')]);
      expect(exit).toEqual({ code: 0, signal: null });
      await waitPortRefused(server.port);
    } finally {
      agent.destroy();
    }
  });
});

/** PUT /api/kv/slow with a body sent in two parts; `between` runs after the first part reached the server. */
function slowPut(
  server: LucidServer,
  token: string,
  agent: http.Agent,
  between: () => Promise<void>,
): Promise<{ status: number; body: string }> {
  const first = 'first half|';
  const second = 'second half';
  return new Promise((resolve, reject) => {
    const request = http.request({
      host: '127.0.0.1',
      port: server.port,
      method: 'PUT',
      path: '/api/kv/slow',
      agent,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'text/plain',
        'content-length': Buffer.byteLength(first + second),
      },
    });
    request.on('error', reject);
    request.on('response', (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.flushHeaders();
    request.write(first);
    sleep(200)
      .then(between)
      .then(() => request.end(second), reject);
  });
}

describe('secrets at start-up and in the output', () => {
  const READABLE = /readable by other users/;

  it('warns on stderr at start-up when the config file is readable by others (0644), and not when it is 0600', async () => {
    const dir = tempDir();
    const { file } = await init(dir);
    const private_ = await serve(dir, file);
    expect(private_.stderr).not.toMatch(READABLE);
    expect(private_.stdout).not.toMatch(READABLE);
    await private_.stop();
    chmodSync(file, 0o644);
    const shared = await serve(dir, file);
    expect(shared.stderr).toContain(
      `Warning: The config file ${file} holds the secret but is readable by other users: run \`chmod 600 ${file}\`.`,
    );
    expect(shared.stderr.indexOf('readable by other users')).toBeLessThan(shared.stderr.indexOf('listening on'));
  });

  it('never writes the secret or a token to stdout or stderr while serving, even at log level trace', async () => {
    const dir = tempDir();
    const { file, token: rootToken } = await init(dir);
    const secret = /^ {2}secret: "?([^"\n]+)"?$/m.exec(readFileSync(file, 'utf8'))![1]!;
    expect(secret.length).toBeGreaterThanOrEqual(32);
    const issued = await runLucid(['token', 'issue', '--config', file, '--scope', 'read'], { cwd: dir });
    const readToken = issued.stdout.trim();
    const forged = jwt.sign({ sub: 'x' }, 'not-the-secret-but-long-enough-to-sign-with', {
      algorithm: 'HS256',
      expiresIn: 60,
    });
    const server = await serve(dir, file, { LUCID_LOG_LEVEL: 'trace' });
    expect(await putText(server, 'logged', 'value', rootToken)).toBe(201);
    expect((await server.request('/api/kv/logged', { token: readToken })).status).toBe(200);
    expect((await server.request('/api/kv/logged', { method: 'PUT', body: 'x', token: readToken })).status).toBe(403);
    expect((await server.request('/api/kv/logged', { token: forged })).status).toBe(401);
    expect((await server.request('/api/kv/missing', { token: rootToken })).status).toBe(404);
    const patched = await server.request('/api/kv/logged', {
      method: 'PATCH',
      body: '{"operation":"lock"}',
      headers: { 'content-type': 'application/json' },
      token: rootToken,
    });
    expect(patched.status).toBe(200);
    const stream = new AbortController();
    const events = await fetch(`${server.url}/api/notifications?token=${encodeURIComponent(readToken)}`, {
      signal: stream.signal,
    });
    expect(events.status).toBe(200);
    stream.abort();
    expect((await server.stop()).code).toBe(0);
    const output = server.stdout + server.stderr;
    expect(server.stdout.length).toBeGreaterThan(0);
    for (const [what, text] of Object.entries({ secret, rootToken, readToken, forged })) {
      expect(output.includes(text), `${what} appears in the output`).toBe(false);
      // Nor its signature alone (a token cut at the dots), nor the secret in a JSON-escaped form.
      const tail = text.split('.').at(-1)!;
      expect(output.includes(tail), `${what}'s last part appears in the output`).toBe(false);
    }
  });
});

describe('auth disabled', () => {
  it('with auth.enabled: false prints a loud warning on stderr at start-up and accepts requests without a token', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'lucid.yml');
    writeFileSync(file, 'store: sqlite://data/lucid.sqlite\nauth:\n  enabled: false\n', { mode: 0o600 });
    const server = await serve(dir, file);
    expect(server.stderr).toMatch(/AUTH IS DISABLED/);
    expect(server.stderr.indexOf('AUTH IS DISABLED')).toBeLessThan(server.stderr.indexOf('listening on'));
    expect(await putText(server, 'open', 'door')).toBe(201);
    const read = await server.request('/api/kv/open');
    expect(read.status).toBe(200);
    expect(await read.text()).toBe('door');
  });
});

describe('packaging', () => {
  it('the package.json bin entry points at the built CLI', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    const bin = pkg.bin.lucid;
    expect(bin).toBeDefined();
    expect(
      statSync(path.join(ROOT, bin!), { throwIfNoEntry: false })?.isFile(),
      `bin.lucid is "${bin}"; the build writes dist/cli/main.js`,
    ).toBe(true);
  });
});
