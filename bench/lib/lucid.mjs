// Lucid under test: a fresh temp folder and config (`lucid init`), the built server started with
// `node dist/cli/main.js server`, and seeding over HTTP.
/* global fetch */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, start, tempDir, waitForHttp } from './processes.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(ROOT, 'dist/cli/main.js');

export function assertBuilt() {
  for (const file of ['dist/cli/main.js', 'dist/store/sqlite.js', 'dist/kv.js']) {
    if (!existsSync(path.join(ROOT, file)))
      throw new Error(`${file} is missing: build first (make build, or npx tsc -p tsconfig.json).`);
  }
}

/**
 * A temp folder with lucid.yml (from `lucid init`) and the root token it printed. `cli` is the
 * build to run (another checkout's dist/cli/main.js, for `--compare`); this checkout's by default.
 */
export function initLucid(prefix = 'lucid-bench-', cli = CLI) {
  const dir = tempDir(prefix);
  const config = path.join(dir, 'lucid.yml');
  const token = execFileSync(process.execPath, [cli, 'init', '--config', config], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
  if (!/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token)) throw new Error(`lucid init printed no token: ${JSON.stringify(token)}`);
  // The store path in the generated config, relative to its folder (sqlite://data/lucid.sqlite).
  return { dir, config, token, cli, dataFile: path.join(dir, 'data', 'lucid.sqlite') };
}

/** Starts `lucid server` on a free port; resolves once /health answers 200, with the time that took. */
export async function startLucid(lucid, { name = 'lucid', env = {} } = {}) {
  const port = await freePort();
  const handle = start(
    name,
    process.execPath,
    [...(lucid.nodeArgs ?? []), lucid.cli ?? CLI, 'server', '--config', lucid.config, '--port', String(port)],
    {
      cwd: lucid.dir,
      env: { ...process.env, LUCID_LOG_LEVEL: 'warn', ...env },
    },
  );
  const url = `http://127.0.0.1:${port}`;
  const startupMs = await waitForHttp(handle, `${url}/health`);
  return { handle, url, port, startupMs };
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` at once. */
export async function inParallel(count, concurrency, task) {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/** PUTs `count` values under `${prefix}${i}`; fails on any non-2xx. */
export async function seed(url, token, prefix, count, body, contentType = 'application/octet-stream') {
  await inParallel(count, 16, async (i) => {
    const response = await fetch(`${url}/api/kv/${prefix}${i}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': contentType },
      body,
    });
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`seeding ${prefix}${i} answered ${response.status}`);
  });
}

/** Bytes of the SQLite file and its companions (-wal, -shm) for `dataFile`. */
export function storeBytes(dataFile) {
  const base = path.basename(dataFile);
  let total = 0;
  const files = {};
  for (const name of readdirSync(path.dirname(dataFile))) {
    if (name === base || name === `${base}-wal` || name === `${base}-shm`) {
      const size = statSync(path.join(path.dirname(dataFile), name)).size;
      files[name] = size;
      total += size;
    }
  }
  return { total, files };
}
