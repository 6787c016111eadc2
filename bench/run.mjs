#!/usr/bin/env node
// Lucid's load benchmark. See bench/README.md.
//
//   node bench/run.mjs            full run: baselines, Lucid cases, etcd, scale run (5 s per case)
//   node bench/run.mjs --long     the same with 20 s per case
//   node bench/run.mjs --smoke    ~1 s per case, a few cases, no scale run: checks that it all works
//   node bench/run.mjs --scale    only the scale run (--keys N to change the key count)
//   node bench/run.mjs --scale-out  only the scale-out run: 1, 2, 3 nodes on Redis (--redis URL)
//
// It never asserts a speed. It exits 1 when a case saw a non-2xx answer, an unexpected status or a
// connection error, or when something failed to start (the results written so far are kept).
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { b64, etcdVersion, seedEtcd, startEtcd } from './lib/etcd.mjs';
import { measure } from './lib/load.mjs';
import { ROOT, assertBuilt, initLucid, seed, startLucid } from './lib/lucid.mjs';
import { freePort, killAllNow, removeTempDirs, start, stop, stopAll, waitForHttp } from './lib/processes.mjs';
import { caseRows, describeRun, scaleOutRows, scaleRows, textTable, writeResults } from './lib/report.mjs';
import { runScale } from './lib/scale.mjs';
import { measureWrk, wrkAvailable } from './lib/wrk.mjs';
import { runScaleOut } from './lib/scaleout.mjs';

const USAGE = `usage: node bench/run.mjs [--smoke | --long | --scale | --scale-out] [--keys N] [--duration S] [--warmup S]
                         [--connections N] [--no-etcd] [--no-scale] [--no-scale-out] [--redis URL] [--no-wrk] [--out DIR]`;

const { values: args } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    long: { type: 'boolean', default: false },
    scale: { type: 'boolean', default: false },
    'scale-out': { type: 'boolean', default: false },
    'no-scale-out': { type: 'boolean', default: false },
    redis: { type: 'string', default: process.env.LUCID_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/0' },
    keys: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string', default: '50' },
    'no-etcd': { type: 'boolean', default: false },
    'no-scale': { type: 'boolean', default: false },
    'no-wrk': { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(ROOT, 'bench', 'results') },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
if ([args.smoke, args.long, args.scale, args['scale-out']].filter(Boolean).length > 1 && !(args.long && (args.scale || args['scale-out']))) {
  console.error(`--smoke, --scale and --scale-out cannot be combined (only --long goes with the last two)\n${USAGE}`);
  process.exit(2);
}

const positive = (text, name) => {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`${name} must be a positive number; got "${text}"\n${USAGE}`);
    process.exit(2);
  }
  return value;
};

/** The default key count of the scale run; loading 1 M keys took about 3 minutes here (see README). */
const DEFAULT_KEYS = 1_000_000;
const mode = args.smoke ? 'smoke' : args.scale ? 'scale' : args['scale-out'] ? 'scale-out' : 'full';
const options = {
  connections: positive(args.connections, '--connections'),
  duration: args.duration ? positive(args.duration, '--duration') : args.smoke ? 1 : args.long ? 20 : 5,
  warmup: args.warmup !== undefined ? Number(args.warmup) : args.smoke ? 0 : 1,
  keys: args.keys ? Math.floor(positive(args.keys, '--keys')) : DEFAULT_KEYS,
  etcd: !args['no-etcd'] && mode === 'full',
  scale: !args['no-scale'] && (mode === 'full' || mode === 'scale'),
  scaleOut: !args['no-scale-out'] && (mode === 'full' || mode === 'scale-out'),
  wrk: !args['no-wrk'] && mode === 'full' && wrkAvailable(),
};

const log = (line) => console.error(line);
const startedAt = new Date();
const started = performance.now();
const results = {
  mode,
  startedAt: startedAt.toISOString(),
  options,
  machine: {
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model?.trim() ?? 'unknown',
    memoryBytes: os.totalmem(),
    loadBefore: os.loadavg(),
  },
  tools: { autocannon: JSON.parse(readFileSync(path.join(ROOT, 'node_modules/autocannon/package.json'), 'utf8')).version },
  cases: [],
  reference: [],
  scale: undefined,
  notes: [],
  problems: [],
};

// Whatever happens, no server outlives the bench.
let interrupted = false;
process.on('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log(`\n${signal}: stopping the servers`);
    stopAll().finally(() => {
      removeTempDirs();
      process.exit(130);
    });
  });
}

const VALUE_1K = randomBytes(1024);
const VALUE_64K = randomBytes(64 * 1024);
const random = (n) => Math.floor(Math.random() * n);
const SEEDED_1K = 1000;
const SEEDED_64K = 100;
const COUNTERS = 50;

/** Measures one case and records it; `expect` lists the statuses the case should see (2xx only). */
async function runCase(record, { name, group, description, url, request, head, expect = [200], driver = 'autocannon' }) {
  log(`  ${name} ...`);
  const load = { url, request, head, connections: options.connections, duration: options.duration, warmup: options.warmup };
  const measured =
    driver === 'wrk'
      ? await measureWrk({ url: new URL(request.path, url).href, headers: request.headers, connections: options.connections, duration: options.duration, warmup: options.warmup })
      : await measure(load);
  const entry = { name, group, description, driver, ...measured };
  record.push(entry);
  const unexpected = Object.entries(measured.statusCodes ?? {}).filter(([code]) => !expect.includes(Number(code)));
  if (measured.non2xx > 0) results.problems.push(`${name}: ${measured.non2xx} non-2xx answers (${JSON.stringify(measured.statusCodes ?? {})})`);
  else if (unexpected.length > 0) results.problems.push(`${name}: unexpected statuses ${JSON.stringify(Object.fromEntries(unexpected))} (expected ${expect.join(', ')})`);
  if (measured.errors > 0) results.problems.push(`${name}: ${measured.errors} connection errors (${measured.timeouts} timeouts)`);
  if (measured.warmup && (measured.warmup.non2xx > 0 || measured.warmup.errors > 0)) {
    results.problems.push(`${name}: warm-up saw ${measured.warmup.non2xx} non-2xx answers and ${measured.warmup.errors} errors`);
  }
  if (measured.requests === 0) results.problems.push(`${name}: no request completed`);
  log(`    ${measured.rps.toFixed(0)} req/s, p50 ${measured.p50} ms, p99 ${measured.p99} ms, non-2xx ${measured.non2xx}, errors ${measured.errors}`);
  return entry;
}

/** Starts a baseline server script, runs `body(url)`, stops it. */
async function withBaseline(script, body) {
  const port = await freePort();
  const handle = start(script, process.execPath, [path.join(ROOT, 'bench', 'baselines', script), String(port)], { cwd: ROOT });
  try {
    const url = `http://127.0.0.1:${port}`;
    await waitForHttp(handle, `${url}/`);
    await body(url);
  } finally {
    await stop(handle);
  }
}

/**
 * The baselines run twice, before and after the Lucid and etcd cases (the machine is shared, so its
 * speed drifts); their rows hold the mean of both rounds, the rounds themselves are in `samples`.
 */
async function baselines(authorization, round, rounds) {
  log(`baselines (round ${round} of ${rounds})`);
  // The same Authorization header as Lucid's requests, so every case sends the same bytes.
  const request = { method: 'GET', path: '/', headers: { authorization } };
  const wrk = options.wrk && round === 1;
  await withBaseline('node-http.mjs', async (url) => {
    await runCase(baselineSamples, { name: 'node:http 1 KiB', group: 'baseline', description: 'bare node:http, constant 1 KiB', url, request });
    if (wrk) await runCase(results.reference, { name: 'node:http 1 KiB (wrk)', group: 'reference', description: 'the same, driven by wrk', url, request, driver: 'wrk' });
  });
  await withBaseline('express.mjs', async (url) => {
    await runCase(baselineSamples, { name: 'express 1 KiB', group: 'baseline', description: 'minimal express 5 app, constant 1 KiB', url, request });
    if (wrk) await runCase(results.reference, { name: 'express 1 KiB (wrk)', group: 'reference', description: 'the same, driven by wrk', url, request, driver: 'wrk' });
  });
}

const baselineSamples = [];

/** One row per baseline: the mean of its rounds (sums for the counts), rounds kept in `samples`. */
function combineBaselines() {
  const mean = (values) => values.reduce((sum, v) => sum + v, 0) / values.length;
  const rows = [];
  for (const name of [...new Set(baselineSamples.map((s) => s.name))]) {
    const samples = baselineSamples.filter((s) => s.name === name);
    const sum = (key) => samples.reduce((total, s) => total + (s[key] ?? 0), 0);
    rows.push({
      ...samples[0],
      rps: mean(samples.map((s) => s.rps)),
      p50: mean(samples.map((s) => s.p50)),
      p99: mean(samples.map((s) => s.p99)),
      requests: sum('requests'),
      non2xx: sum('non2xx'),
      errors: sum('errors'),
      timeouts: sum('timeouts'),
      samples,
    });
    if (samples.length > 1) {
      const rates = samples.map((s) => s.rps);
      const spread = (Math.max(...rates) - Math.min(...rates)) / mean(rates);
      results.notes.push(`${name}: ${rates.map((r) => r.toFixed(0)).join(' then ')} req/s before and after the other cases (spread ${(spread * 100).toFixed(0)} %); the table shows the mean.`);
    }
  }
  results.cases.unshift(...rows);
}

async function lucidCases(lucid) {
  log('lucid: fresh config and data folder, seeding');
  const server = await startLucid(lucid);
  results.lucidStartupMs = server.startupMs;
  try {
    const auth = { authorization: `Bearer ${lucid.token}` };
    const octet = { ...auth, 'content-type': 'application/octet-stream' };
    await seed(server.url, lucid.token, 'b/1k/', SEEDED_1K, VALUE_1K);
    if (mode !== 'smoke') {
      await seed(server.url, lucid.token, 'b/64k/', SEEDED_64K, VALUE_64K);
      await seed(server.url, lucid.token, 'b/n/', COUNTERS, '0', 'text/plain');
    }
    const url = server.url;
    const get1k = () => ({ path: `/api/kv/b/1k/${random(SEEDED_1K)}` });
    let fresh = 0;
    const cases = [
      { name: 'Lucid GET 1 KiB', description: `GET one of ${SEEDED_1K} 1 KiB keys at random`, request: { method: 'GET', path: '/api/kv/b/1k/0', headers: auth, setupRequest: get1k } },
      {
        name: 'Lucid GET 64 KiB',
        description: `GET one of ${SEEDED_64K} 64 KiB keys at random`,
        request: { method: 'GET', path: '/api/kv/b/64k/0', headers: auth, setupRequest: () => ({ path: `/api/kv/b/64k/${random(SEEDED_64K)}` }) },
      },
      { name: 'Lucid HEAD 1 KiB', description: `HEAD one of ${SEEDED_1K} 1 KiB keys at random`, head: true, request: { method: 'HEAD', path: '/api/kv/b/1k/0', headers: auth, setupRequest: get1k } },
      { name: 'Lucid PUT 1 KiB update', description: `PUT 1 KiB over one of ${SEEDED_1K} existing keys at random (200)`, request: { method: 'PUT', path: '/api/kv/b/1k/0', headers: octet, body: VALUE_1K, setupRequest: get1k } },
      {
        name: 'Lucid PUT 1 KiB new key',
        description: 'PUT 1 KiB under a key never used before, one per request (201)',
        expect: [201],
        request: { method: 'PUT', path: '/api/kv/b/new/x', headers: octet, body: VALUE_1K, setupRequest: () => ({ path: `/api/kv/b/new/${fresh++}` }) },
      },
      {
        name: 'Lucid PATCH increment',
        description: `PATCH {"operation":"increment"} on one of ${COUNTERS} counters at random`,
        request: {
          method: 'PATCH',
          path: '/api/kv/b/n/0',
          headers: { ...auth, 'content-type': 'application/json' },
          body: '{"operation":"increment"}',
          setupRequest: () => ({ path: `/api/kv/b/n/${random(COUNTERS)}` }),
        },
      },
      {
        name: 'Lucid mixed 90/10',
        description: `90 % GET, 10 % PUT 1 KiB update, over the same ${SEEDED_1K} keys at random`,
        request: {
          method: 'GET',
          path: '/api/kv/b/1k/0',
          headers: auth,
          setupRequest: () =>
            Math.random() < 0.1
              ? { method: 'PUT', path: `/api/kv/b/1k/${random(SEEDED_1K)}`, body: VALUE_1K, headers: { 'content-type': 'application/octet-stream' } }
              : { method: 'GET', path: `/api/kv/b/1k/${random(SEEDED_1K)}` },
        },
      },
    ];
    const selected = mode === 'smoke' ? cases.filter((c) => c.name === 'Lucid GET 1 KiB' || c.name === 'Lucid PUT 1 KiB new key') : cases;
    log('lucid');
    for (const c of selected) await runCase(results.cases, { group: 'lucid', url, ...c });
    if (options.wrk) {
      await runCase(results.reference, {
        name: 'Lucid GET 1 KiB, one key (wrk)',
        group: 'reference',
        description: 'GET of a single 1 KiB key, driven by wrk',
        url,
        request: { method: 'GET', path: '/api/kv/b/1k/0', headers: auth },
        driver: 'wrk',
      });
    }
  } finally {
    await stop(server.handle);
    rmSync(lucid.dir, { recursive: true, force: true });
  }
}

async function etcdCases() {
  const version = etcdVersion();
  if (!version) {
    const note = 'etcd skipped: `etcd` is not on PATH (apt-get install etcd-server to compare against it).';
    log(note);
    results.notes.push(note);
    return;
  }
  results.tools.etcd = version;
  log(`etcd (${version}): own temp data folder, auth on`);
  const etcd = await startEtcd();
  try {
    await seedEtcd(etcd, 'b/1k/', SEEDED_1K, VALUE_1K);
    const headers = { authorization: etcd.token, 'content-type': 'application/json' };
    const ranges = Array.from({ length: SEEDED_1K }, (_, i) => JSON.stringify({ key: b64(`b/1k/${i}`) }));
    const value = VALUE_1K.toString('base64');
    const puts = Array.from({ length: SEEDED_1K }, (_, i) => JSON.stringify({ key: b64(`b/1k/${i}`), value }));
    const url = etcd.url;
    await runCase(results.cases, {
      name: 'etcd range 1 KiB',
      group: 'etcd',
      description: `POST /v3/kv/range of one of ${SEEDED_1K} 1 KiB keys at random`,
      url,
      request: { method: 'POST', path: '/v3/kv/range', headers, body: ranges[0], setupRequest: () => ({ body: ranges[random(SEEDED_1K)] }) },
    });
    await runCase(results.cases, {
      name: 'etcd put 1 KiB update',
      group: 'etcd',
      description: `POST /v3/kv/put of 1 KiB over one of ${SEEDED_1K} existing keys at random`,
      url,
      request: { method: 'POST', path: '/v3/kv/put', headers, body: puts[0], setupRequest: () => ({ body: puts[random(SEEDED_1K)] }) },
    });
  } finally {
    await stop(etcd.handle);
    rmSync(etcd.dir, { recursive: true, force: true });
  }
}

function addRatios() {
  const node = results.cases.find((c) => c.name === 'node:http 1 KiB');
  const express = results.cases.find((c) => c.name === 'express 1 KiB');
  for (const c of [...results.cases, ...results.reference]) {
    if (express && c !== express) {
      c.vsExpress = c.rps / express.rps;
      c.p99VsExpress = express.p99 > 0 ? c.p99 / express.p99 : undefined;
    }
    if (node && c !== node) c.vsNode = c.rps / node.rps;
  }
}

function printTables() {
  console.log(`\n${describeRun(results)}\n`);
  if (results.cases.length > 0) console.log(textTable(caseRows(results.cases)));
  if (results.reference.length > 0) {
    console.log('\nreference rows, driven by wrk instead of autocannon (constant request; not used for the ratios above)');
    console.log(textTable(caseRows(results.reference)));
  }
  if (results.scaleOut?.points?.length) {
    const so = results.scaleOut;
    console.log(`\nscale-out on Redis (${so.driver}, ${so.connections} connections spread over the nodes, ${so.keys} keys of ${so.valueBytes} B, random keys)`);
    console.log(textTable(scaleOutRows(so)));
  }
  if (results.scale?.points?.length) {
    console.log(`\nscale run (${results.scale.valueBytes} B values, GET of random keys)`);
    console.log(textTable(scaleRows(results.scale)));
  }
  for (const note of results.notes) console.log(`note: ${note}`);
  if (results.problems.length > 0) {
    const banner = '!'.repeat(72);
    console.log(`\n${banner}`);
    for (const problem of results.problems) console.log(`!! ${problem}`);
    console.log(banner);
  }
}

let failed = false;
try {
  assertBuilt();
  if (mode === 'full' || mode === 'smoke') {
    const lucid = initLucid();
    const rounds = mode === 'smoke' ? 1 : 2;
    await baselines(`Bearer ${lucid.token}`, 1, rounds);
    await lucidCases(lucid);
    if (options.etcd) await etcdCases();
    else if (mode === 'full') results.notes.push('etcd skipped (--no-etcd).');
    if (rounds > 1) await baselines(`Bearer ${lucid.token}`, 2, rounds);
  }
  if (options.scale) {
    const checkpoints = [...new Set([Math.min(10_000, options.keys), options.keys])];
    results.scale = await runScale({ checkpoints, connections: options.connections, duration: options.duration, warmup: options.warmup, log });
  }
  if (options.scaleOut) {
    log(`scale-out on ${args.redis}`);
    results.scaleOut = await runScaleOut({ redisUrl: args.redis, connections: options.connections, duration: options.duration, warmup: options.warmup, log });
  }
} catch (error) {
  failed = true;
  results.problems.push(`the run stopped: ${error.stack ?? error}`);
} finally {
  await stopAll();
  removeTempDirs();
}

combineBaselines();
addRatios();
if (options.wrk && results.reference.length > 0) {
  // wrk ran right after autocannon's first round: compare with that round.
  const nodeRow = results.cases.find((c) => c.name === 'node:http 1 KiB');
  const node = nodeRow?.samples?.[0] ?? nodeRow;
  const nodeWrk = results.reference.find((c) => c.name === 'node:http 1 KiB (wrk)');
  if (node && nodeWrk) {
    results.notes.push(
      nodeWrk.rps > 1.2 * node.rps
        ? `node:http answered ${nodeWrk.rps.toFixed(0)} req/s to wrk but ${node.rps.toFixed(0)} to autocannon: autocannon (one JS thread sharing the 2 cores) is the limit there, so the node:http row is autocannon's ceiling and "vs node:http" ratios overstate Lucid's share.`
        : `node:http answered ${nodeWrk.rps.toFixed(0)} req/s to wrk and ${node.rps.toFixed(0)} to autocannon: the two load generators agree within 20 %.`,
    );
  }
}
results.machine.loadAfter = os.loadavg();
results.finishedAt = new Date().toISOString();
results.durationSeconds = (performance.now() - started) / 1000;
printTables();
const files = writeResults(args.out, results);
console.log(`\nwrote ${path.relative(process.cwd(), files.json)} and ${path.relative(process.cwd(), files.md)}`);
process.exit(failed || results.problems.length > 0 ? 1 : 0);

