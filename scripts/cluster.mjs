// `make cluster`: three Lucid nodes on the local Redis, on ports 7021, 7022 and 7023, sharing one
/* global fetch */
// config (and so one token secret). Ctrl-C stops them all.
//
//   LUCID_STORE   the shared backend (default redis://127.0.0.1:6379/0; a postgres:// URL works too)
//   LUCID_CONFIG  the config file (default ./lucid.yml, created by `lucid init` when missing)
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist/cli/main.js');
const PORTS = [7021, 7022, 7023];
const store = process.env.LUCID_STORE ?? 'redis://127.0.0.1:6379/0';
const config = path.resolve(process.env.LUCID_CONFIG ?? 'lucid.yml');
const lucid = (args, options = {}) =>
  execFileSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    ...options,
  }).trim();

const env = { ...process.env, LUCID_STORE: store, LUCID_CONFIG: config };
const token = existsSync(config)
  ? lucid(['token', 'issue', '--scope', 'admin'], { env })
  : lucid(['init', '--config', config], { env, stdio: ['ignore', 'pipe', 'ignore'] });

const nodes = PORTS.map((port, i) => {
  const child = spawn(process.execPath, [CLI, 'server', '--port', String(port)], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const label = `[node ${i + 1} :${port}]`;
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream.setEncoding('utf8').on('data', (text) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop();
      for (const line of lines) process.stderr.write(`${label} ${line}\n`);
    });
  }
  child.on('exit', (code, signal) => {
    process.stderr.write(`${label} exited (${signal ?? code})\n`);
    if (!stopping) stop(1);
  });
  return child;
});

let stopping = false;
function stop(code = 0) {
  stopping = true;
  for (const node of nodes) if (node.exitCode === null) node.kill('SIGTERM');
  Promise.all(
    nodes.map((node) =>
      node.exitCode === null && node.signalCode === null
        ? new Promise((resolve) => node.on('exit', resolve))
        : undefined,
    ),
  ).then(() => process.exit(code));
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

// Tell the user how to try it once every node answers.
for (const port of PORTS) {
  for (let attempt = 0; ; attempt++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) break;
    } catch {
      // Not up yet.
    }
    if (attempt > 150) {
      process.stderr.write(`node on port ${port} did not come up; stopping.\n`);
      stop(1);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
console.log(`
Three Lucid nodes share ${store.replace(/\/\/[^@]*@/, '//***@')} (config ${config}):
  http://127.0.0.1:7021   http://127.0.0.1:7022   http://127.0.0.1:7023

An admin token (30 days):
  export LUCID_TOKEN=${token}

Stream changes from the third node (leave it running in another terminal):
  curl -N -H "Authorization: Bearer $LUCID_TOKEN" http://127.0.0.1:7023/api/notifications

Write on the first, read on the second:
  curl -X PUT -H "Authorization: Bearer $LUCID_TOKEN" -H 'Content-Type: text/plain' --data-binary 'hello from 7021' http://127.0.0.1:7021/api/kv/greeting
  curl -H "Authorization: Bearer $LUCID_TOKEN" http://127.0.0.1:7022/api/kv/greeting

Put a load balancer in front for clients (docs/running-several-nodes.md). Ctrl-C stops all three.
`);
