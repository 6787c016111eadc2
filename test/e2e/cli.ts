/**
 * Drives the real, built `lucid` command (`node dist/cli/main.js`) as child processes for e2e tests.
 * Never imports src/: what is tested is what `make build` produced.
 *
 * Servers are started with `node` directly (not npx: a process started through npx survives npx),
 * every child is tracked, and `cleanup()` kills whatever is left and removes the temp folders.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from '../support/helpers.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const LUCID_BIN = path.join(ROOT, 'dist/cli/main.js');

/** A line of a stack trace, as Node prints it. */
export const STACK_LINE = '    at ';

const children = new Set<ChildProcess>();
const folders = new Set<string>();

export function assertBuilt(): void {
  if (!existsSync(LUCID_BIN))
    throw new Error(`${LUCID_BIN} is missing: run \`make build\` (or \`npx tsc -p tsconfig.json\`) first.`);
}

/** A fresh temp folder, removed by cleanup(). */
export function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'lucid-e2e-'));
  folders.add(dir);
  return dir;
}

/**
 * The parent's environment without any LUCID_* variable and without `unset`, plus `extra`: children
 * see only what a test gives them.
 */
export function cleanEnv(extra: Record<string, string> = {}, unset: readonly string[] = []): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('LUCID_') && !name.startsWith('VITEST') && !unset.includes(name)) env[name] = value;
  }
  return { ...env, ...extra };
}

export interface RunOptions {
  cwd: string;
  env?: Record<string, string>;
  /** Variables of the parent's environment the child must not see (USER, PGUSER, ...). */
  unset?: readonly string[];
  timeoutMs?: number;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `lucid ...args` to completion (killed after timeoutMs). */
export function runLucid(args: string[], options: RunOptions): Promise<RunResult> {
  const child = spawn(process.execPath, [LUCID_BIN, ...args], {
    cwd: options.cwd,
    env: cleanEnv(options.env, options.unset),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 15_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export interface ServerOptions extends RunOptions {
  /** The port the server will listen on when known in advance; otherwise read from its start-up line. */
  port?: number;
  /** The server speaks HTTPS with a certificate this CA (PEM) vouches for: readiness is checked over HTTPS trusting it. */
  ca?: string | Buffer;
}

export interface HttpsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTPS request trusting only `ca` (fetch cannot take a CA in Node 20). */
export function httpsRequest(
  url: string,
  options: { ca?: string | Buffer; method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      url,
      { method: options.method ?? 'GET', headers: options.headers, ca: options.ca, timeout: 5000 },
      (response) => {
        let body = '';
        response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      },
    );
    request.on('timeout', () => request.destroy(new Error(`timed out: ${url}`)));
    request.on('error', reject);
    request.end(options.body);
  });
}

/** A running `lucid server`. */
export class LucidServer {
  stdout = '';
  stderr = '';
  port = 0;
  /** Set when the server speaks HTTPS. */
  tls = false;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (text: string) => (this.stdout += text));
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (this.stderr += text));
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        children.delete(child);
        resolve({ code, signal });
      });
    });
  }

  get url(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** fetch against this server; `token` adds `Authorization: Bearer`. */
  request(pathname: string, init: RequestInit & { token?: string } = {}): Promise<Response> {
    const { token, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (token !== undefined) headers.set('authorization', `Bearer ${token}`);
    return fetch(`${this.url}${pathname}`, { ...rest, headers });
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** Sends `signal` and waits for the exit and for the port to be refused. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.signal(signal);
    const exit = await this.exited;
    if (this.port !== 0) await waitPortRefused(this.port);
    return exit;
  }
}

/** Starts `lucid server ...args` and resolves once GET /health answers 200; rejects (with its stderr) if it exits first. */
export async function startServer(args: string[], options: ServerOptions): Promise<LucidServer> {
  const child = spawn(process.execPath, [LUCID_BIN, 'server', ...args], {
    cwd: options.cwd,
    env: cleanEnv(options.env, options.unset),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const server = new LucidServer(child);
  server.tls = options.ca !== undefined;
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  let exited = false;
  void server.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited)
      throw new Error(
        `lucid server exited before it was ready (${JSON.stringify(await server.exited)}):\n${server.stderr}`,
      );
    if (server.port === 0) {
      const match = /listening on https?:\/\/[^\s]*:(\d+)/.exec(server.stderr);
      if (options.port !== undefined) server.port = options.port;
      else if (match) server.port = Number(match[1]);
    }
    if (server.port !== 0) {
      try {
        if (options.ca !== undefined) {
          if ((await httpsRequest(`${server.url}/health`, { ca: options.ca })).status === 200) return server;
        } else {
          const response = await fetch(`${server.url}/health`, { signal: AbortSignal.timeout(1000) });
          await response.arrayBuffer();
          if (response.status === 200) return server;
        }
      } catch {
        // Not listening yet.
      }
    }
    await sleep(25);
  }
  child.kill('SIGKILL');
  throw new Error(`lucid server was not ready in time:\n${server.stderr}`);
}

/** Resolves true when a TCP connection to the port is refused, false when it is accepted. */
export function isPortRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

export async function waitPortRefused(port: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await isPortRefused(port))) {
    if (Date.now() > deadline) throw new Error(`port ${port} still accepts connections`);
    await sleep(25);
  }
}

/** A port that was free a moment ago: bind port 0, read it, close. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The claims of a JWT, unverified. */
export function jwtClaims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** Kills every child still running (SIGKILL), waits for them, and removes the temp folders. */
export async function cleanup(): Promise<void> {
  const waiting = [...children].map(
    (child) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  );
  await Promise.all(waiting);
  children.clear();
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
  folders.clear();
}
