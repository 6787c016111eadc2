// The peer: etcd's JSON gateway (grpc-gateway over its client port), on loopback with its own
// temp data folder, auth enabled (user root with a password; requests carry the token from
// /v3/auth/authenticate in the Authorization header, as Lucid's carry their JWT).
/* global fetch */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { inParallel } from './lucid.mjs';
import { freePort, start, tempDir, waitForHttp } from './processes.mjs';

/** The etcd binary's version line, or undefined when `etcd` is not on PATH. */
export function etcdVersion() {
  try {
    return execFileSync('etcd', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')[0]
      .trim();
  } catch {
    return undefined;
  }
}

export const b64 = (text) => Buffer.from(text).toString('base64');

async function post(url, pathname, body, token) {
  const response = await fetch(`${url}${pathname}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: token } : {}) },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`etcd ${pathname} answered ${response.status}: ${text}`);
  return JSON.parse(text);
}

/** Starts etcd, enables auth and returns { handle, url, token, dir }. */
export async function startEtcd() {
  const dir = tempDir('lucid-bench-etcd-');
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const handle = start('etcd', 'etcd', [
    '--name',
    'bench',
    '--data-dir',
    path.join(dir, 'data'),
    '--listen-client-urls',
    client,
    '--advertise-client-urls',
    client,
    '--listen-peer-urls',
    peer,
    '--initial-advertise-peer-urls',
    peer,
    '--initial-cluster',
    `bench=${peer}`,
    '--auth-token',
    'simple',
    '--auth-token-ttl',
    '3600',
    '--logger',
    'zap',
    '--log-outputs',
    'stderr',
    '--log-level',
    'error',
  ]);
  const startupMs = await waitForHttp(handle, `${client}/health`);
  const password = randomBytes(18).toString('base64url');
  await post(client, '/v3/auth/role/add', { name: 'root' });
  await post(client, '/v3/auth/user/add', { name: 'root', password });
  await post(client, '/v3/auth/user/grant', { user: 'root', role: 'root' });
  await post(client, '/v3/auth/enable', {});
  const { token } = await post(client, '/v3/auth/authenticate', { name: 'root', password });
  // Auth really is on: a request without the token must be refused.
  const anonymous = await fetch(`${client}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: b64('x') }) });
  await anonymous.arrayBuffer();
  if (anonymous.ok) throw new Error('etcd accepted a request without a token: auth is not enabled');
  return { handle, url: client, token, dir, startupMs };
}

/** Puts `count` values under `${prefix}${i}`. */
export async function seedEtcd(etcd, prefix, count, value) {
  const encoded = value.toString('base64');
  await inParallel(count, 16, (i) =>
    post(etcd.url, '/v3/kv/put', { key: b64(`${prefix}${i}`), value: encoded }, etcd.token),
  );
}
