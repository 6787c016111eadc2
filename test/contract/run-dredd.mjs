#!/usr/bin/env node
/* global fetch, AbortSignal */
/**
 * The contract gate (`make contract`): Dredd against the built server, every operation × every
 * documented status of spec/lucid.yaml, each case set up for real by test/contract/hooks.cjs.
 *
 * 1. A temp folder gets a config from `lucid init` (its stdout is a root token).
 * 2. Two servers run from that config, started with `node` directly:
 *    - the main one, with LUCID_MAX_VALUE_BYTES=1024 so that the PUT 413 case is a 1025-byte
 *      request instead of a 7 MiB one (the limit logic is the same; only the number differs);
 *    - an "outage" one on its own SQLite file (LUCID_STORE), whose database, WAL and shared-memory
 *      files are then overwritten in place (same inodes, same sizes): the running process keeps
 *      its open connection but every query of the store now fails (SQLITE_NOTADB), a real outage
 *      the 503 cases are sent to.
 * 3. Dredd runs (its binary, in a child process) with the hooks; token, URLs and the config file
 *    (whose secret the hooks mint scoped tokens with) go to the hooks through LUCID_CONTRACT_*
 *    environment variables.
 * 4. Both servers get SIGTERM (and are waited for); the temp folder is removed.
 *
 * Fails (exit 1) when anything failed, errored or was skipped, or when Dredd's number of
 * transactions differs from the number of (operation, status[, request media type]) cases in the spec.
 */
import { spawn } from 'node:child_process';
import {
  mkdtempSync,
  mkdirSync,
  openSync,
  closeSync,
  fstatSync,
  writeSync,
  writeFileSync,
  readFileSync,
  rmSync,
  existsSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { clearTimeout } from 'node:timers';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SPEC = path.join(ROOT, 'spec/lucid.yaml');
const CLI = path.join(ROOT, 'dist/cli/main.js');
const DREDD = path.join(ROOT, 'node_modules/.bin/dredd');
const HOOKS = path.join(ROOT, 'test/contract/hooks.cjs');
const MAX_VALUE_BYTES = 1024;
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const DREDD_TIMEOUT_MS = 45_000;

const log = (text) => process.stdout.write(`${text}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Every (operation, documented status) pair of the spec, as "METHOD /path STATUS", once per request
 * body media type for an operation with a body ("... STATUS text/plain"): Dredd makes a transaction
 * for each concrete media type (a wildcard one only when it is the sole one).
 */
function specPairs() {
  const spec = YAML.parse(readFileSync(SPEC, 'utf8'));
  const pairs = [];
  for (const [pathTemplate, item] of Object.entries(spec.paths ?? {})) {
    for (const method of HTTP_METHODS) {
      const operation = item?.[method];
      const declared = Object.keys(operation?.requestBody?.content ?? {});
      const concrete = declared.filter((type) => !type.includes('*'));
      const types = concrete.length > 0 ? concrete : declared;
      for (const status of Object.keys(operation?.responses ?? {})) {
        const pair = `${method.toUpperCase()} ${pathTemplate} ${status}`;
        if (types.length === 0) pairs.push(pair);
        else for (const type of types) pairs.push(`${pair} ${type}`);
      }
    }
  }
  return pairs;
}

/** Runs a command to completion, collecting its output. */
function run(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** A port nothing listens on right now: bind port 0, read it, release it. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts `lucid server` with `node` (not npx, so that SIGTERM reaches the server itself). */
async function startServer(name, dir, extraEnv) {
  const port = await freePort();
  const logFile = path.join(dir, `${name}.log`);
  const out = openSync(logFile, 'a');
  const child = spawn(
    process.execPath,
    [CLI, 'server', '--config', path.join(dir, 'lucid.yml'), '--port', String(port)],
    {
      cwd: ROOT,
      env: { ...process.env, LUCID_LOG_LEVEL: 'warn', ...extraEnv },
      stdio: ['ignore', out, out],
    },
  );
  closeSync(out);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let gone;
  exited.then((result) => (gone = result));
  const server = {
    name,
    child,
    exited,
    logFile,
    url: `http://127.0.0.1:${port}`,
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (gone)
      throw new Error(`the ${name} server exited (${gone.signal ?? gone.code}) before answering:\n${server.log()}`);
    try {
      const response = await fetch(`${server.url}/health`, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.status === 200) return server;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stopServer(server);
      throw new Error(`the ${name} server did not answer GET /health within 10 s:\n${server.log()}`);
    }
    await sleep(50);
  }
}

/** SIGTERM, then wait for the exit (SIGKILL after 5 s). */
async function stopServer(server) {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return server.exited;
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 5000);
  const result = await server.exited;
  clearTimeout(timer);
  return result;
}

/** Overwrites a file's bytes in place: the server's open descriptors (and mmap) now see garbage. */
function overwriteInPlace(file, byte) {
  if (!existsSync(file)) return;
  const fd = openSync(file, 'r+');
  try {
    const { size } = fstatSync(fd);
    if (size > 0) writeSync(fd, Buffer.alloc(size, byte), 0, size, 0);
  } finally {
    closeSync(fd);
  }
}

/** Makes the outage server's store fail for real, and checks that it does. */
async function breakStore(server, storeFile, token) {
  const headers = { authorization: `Bearer ${token}` };
  // A write first, so the WAL and its index hold data the connection will have to re-read.
  const put = await fetch(`${server.url}/api/kv/outage-probe`, {
    method: 'PUT',
    headers: { ...headers, 'content-type': 'text/plain' },
    body: 'x',
  });
  await put.arrayBuffer();
  if (put.status !== 201) throw new Error(`the outage server answered PUT with ${put.status} before the outage`);
  overwriteInPlace(storeFile, 0xa5); // no longer "SQLite format 3": SQLITE_NOTADB
  overwriteInPlace(`${storeFile}-wal`, 0xa5); // an invalid WAL header: no frames to fall back on
  overwriteInPlace(`${storeFile}-shm`, 0x00); // a blank WAL index: the next read re-reads the files
  const probe = await fetch(`${server.url}/api/kv/outage-probe`, { headers });
  await probe.arrayBuffer();
  if (probe.status !== 503)
    throw new Error(`the outage server still answers GET with ${probe.status} after its store was overwritten`);
}

async function main() {
  const pairs = specPairs();
  const dir = mkdtempSync(path.join(tmpdir(), 'lucid-contract-'));
  const servers = [];
  let verdict = 1;
  try {
    const config = path.join(dir, 'lucid.yml');
    const init = await run(process.execPath, [CLI, 'init', '--config', config]);
    const token = init.stdout.trim();
    if (init.code !== 0 || !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token))
      throw new Error(`lucid init failed (exit ${init.code}):\n${init.stderr}${init.stdout}`);

    const main = await startServer('main', dir, { LUCID_MAX_VALUE_BYTES: String(MAX_VALUE_BYTES) });
    servers.push(main);
    const outageStore = path.join(dir, 'outage', 'lucid.sqlite');
    // Its read cache off: the outage is made from outside the process (the one writer the cache
    // trusts), so a cached key would still be answered from memory.
    const outage = await startServer('outage', dir, {
      LUCID_STORE: `sqlite://${outageStore}`,
      LUCID_LOG_LEVEL: 'error',
      LUCID_SQLITE_CACHE_BYTES: '0',
    });
    servers.push(outage);
    await breakStore(outage, outageStore, token);

    const transactionsFile = path.join(dir, 'transactions.json');
    const dredd = spawn(DREDD, [SPEC, main.url, '--hookfiles', HOOKS, '--language', 'nodejs', '--no-color'], {
      cwd: ROOT,
      env: {
        ...process.env,
        LUCID_CONTRACT_URL: main.url,
        LUCID_CONTRACT_TOKEN: token,
        LUCID_CONTRACT_CONFIG: config,
        LUCID_CONTRACT_OUTAGE_URL: outage.url,
        LUCID_CONTRACT_MAX_VALUE_BYTES: String(MAX_VALUE_BYTES),
        LUCID_CONTRACT_SPEC: SPEC,
        LUCID_CONTRACT_TRANSACTIONS: transactionsFile,
        NO_COLOR: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const relay = (stream) => (chunk) => {
      output += chunk;
      stream.write(chunk);
    };
    dredd.stdout.on('data', relay(process.stdout));
    dredd.stderr.on('data', relay(process.stderr));
    const killer = setTimeout(() => dredd.kill('SIGTERM'), DREDD_TIMEOUT_MS);
    const dreddExit = await new Promise((resolve, reject) => {
      dredd.once('error', reject);
      dredd.once('close', (code, signal) => resolve(signal ?? code));
    });
    clearTimeout(killer);

    // eslint-disable-next-line no-control-regex
    const plain = output.replace(/\u001b\[[0-9;]*m/g, '');
    const summary = plain.match(/complete: (\d+) passing, (\d+) failing, (\d+) errors, (\d+) skipped, (\d+) total/);
    const problems = [];
    if (!summary) {
      problems.push(`Dredd printed no summary line (exit ${dreddExit})`);
    } else {
      const [line, passing, failing, errors, skipped, total] = summary.map((value, index) =>
        index === 0 ? value : Number(value),
      );
      log('');
      log(line);
      log(
        `contract: ${total} transactions (operations x documented statuses), ${failing + errors} failing, ${skipped} skipped`,
      );
      if (failing > 0) problems.push(`${failing} failing`);
      if (errors > 0) problems.push(`${errors} errors`);
      if (skipped > 0) problems.push(`${skipped} skipped`);
      if (passing !== total) problems.push(`${total - passing} of ${total} did not pass`);
      if (total !== pairs.length)
        problems.push(
          `Dredd ran ${total} transactions but spec/lucid.yaml documents ${pairs.length} (operation, status, request media type) cases`,
        );
      recordResult(passing, total - passing);
    }
    if (existsSync(transactionsFile)) {
      const made = new Set(JSON.parse(readFileSync(transactionsFile, 'utf8')));
      const missing = pairs.filter((pair) => !made.has(pair));
      if (missing.length > 0) problems.push(`no Dredd transaction for: ${missing.join(', ')}`);
    } else {
      problems.push('the hooks did not run (no transaction list was written)');
    }
    if (dreddExit !== 0 && problems.length === 0) problems.push(`Dredd exited with ${dreddExit}`);
    if (problems.length > 0) {
      log(`contract: FAILED: ${problems.join('; ')}`);
    } else {
      verdict = 0;
    }
  } catch (error) {
    log(`contract: FAILED: ${error.message}`);
  } finally {
    for (const server of servers.reverse()) {
      const { code, signal } = await stopServer(server);
      if (code !== 0) {
        log(`contract: the ${server.name} server did not stop cleanly (${signal ?? code}):\n${server.log()}`);
        verdict = 1;
      }
    }
    if (verdict !== 0) {
      for (const server of servers) {
        const text = server.log().trim();
        if (text) log(`--- ${server.name} server log (last lines) ---\n${text.split('\n').slice(-15).join('\n')}`);
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
  return verdict;
}

/** For `make test`'s closing summary (test/summary.mjs), when LUCID_RESULTS_DIR names a folder. */
function recordResult(passed, failed) {
  const dir = process.env.LUCID_RESULTS_DIR;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'contract.json'), JSON.stringify({ suite: 'contract (Dredd)', passed, failed }));
}

process.exitCode = await main();
