#!/usr/bin/env node
// Lucid's load benchmark. See bench/README.md.
//
//   node bench/run.mjs            full run: baselines, Lucid cases, etcd, scale run (5 s per case)
//   node bench/run.mjs --long     the same with 20 s per case
//   node bench/run.mjs --smoke    ~1 s per case, a few cases, no scale run: checks that it all works
//   node bench/run.mjs --scale    only the scale run (--keys N to change the key count)
//   node bench/run.mjs --scale-out  only the scale-out run: 1, 2, 3 nodes on Redis (--redis URL)
//   node bench/run.mjs --only 'PUT|GET 1' --no-etcd   only the Lucid cases whose name matches
//   node bench/run.mjs --compare ../other-checkout    each Lucid case also on that checkout's build,
//                                  case by case in the same run (rows named "... [other-checkout]")
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
import { chooseDriver, measureRequests } from './lib/load.mjs';
import { ROOT, assertBuilt, initLucid, seed, startLucid } from './lib/lucid.mjs';
import {
  freePort,
  hostTicks,
  killAllNow,
  removeTempDirs,
  start,
  stealPercent,
  stop,
  stopAll,
  waitForHttp,
} from './lib/processes.mjs';
import { caseRows, describeRun, gcPauses, scaleOutRows, scaleRows, textTable, writeResults } from './lib/report.mjs';
import { runScale } from './lib/scale.mjs';
import { drawChart } from './lib/chart.mjs';
import { dropRedisNamespace } from './lib/redis.mjs';
import { runScaleOut } from './lib/scaleout.mjs';

const USAGE = `usage: node bench/run.mjs [--smoke | --long | --scale | --scale-out] [--keys N] [--duration S] [--warmup S]
                         [--connections N] [--no-etcd] [--no-redis] [--no-scale] [--no-scale-out] [--redis URL] [--no-wrk] [--out DIR]
                         [--only REGEX] [--compare DIR]`;

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
    'no-redis': { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(ROOT, 'bench', 'results') },
    only: { type: 'string' },
    compare: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
if (
  [args.smoke, args.long, args.scale, args['scale-out']].filter(Boolean).length > 1 &&
  !(args.long && (args.scale || args['scale-out']))
) {
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
  driver: chooseDriver(!args['no-wrk']),
  redis: !args['no-redis'] && mode === 'full',
  /** Only the Lucid cases whose name matches (baselines and etcd run as usual). */
  only: args.only === undefined ? undefined : new RegExp(args.only),
  /** Another checkout (built) whose Lucid runs each Lucid case too, right after this one's. */
  compare: args.compare === undefined ? undefined : path.resolve(args.compare),
};
const wanted = (name) => options.only === undefined || options.only.test(name);

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
    hostBefore: hostTicks(),
  },
  tools: {
    driver: options.driver,
    autocannon: JSON.parse(readFileSync(path.join(ROOT, 'node_modules/autocannon/package.json'), 'utf8')).version,
  },
  cases: [],
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
const SEEDED_1K = 1000;
const SEEDED_64K = 100;
const COUNTERS = 50;

/** Measures one case and records it; `expect` lists the statuses the case should see (2xx only). */
async function runCase(
  record,
  { name, group, description, url, pid, metrics, requests, expect = [200], against = {} },
) {
  log(`  ${name} ...`);
  const measured = await measureRequests({
    driver: options.driver,
    url,
    requests,
    connections: options.connections,
    duration: options.duration,
    warmup: options.warmup,
    serverPid: pid,
    metrics,
  });
  const driver = options.driver === 'wrk' && requests.some((r) => r.method === 'HEAD') ? 'autocannon' : options.driver;
  const entry = { name, group, description, driver, against, ...measured };
  record.push(entry);
  const unexpected = Object.entries(measured.statusCodes ?? {}).filter(([code]) => !expect.includes(Number(code)));
  if (measured.non2xx > 0)
    results.problems.push(
      `${name}: ${measured.non2xx} non-2xx answers (${JSON.stringify(measured.statusCodes ?? {})})`,
    );
  else if (unexpected.length > 0)
    results.problems.push(
      `${name}: unexpected statuses ${JSON.stringify(Object.fromEntries(unexpected))} (expected ${expect.join(', ')})`,
    );
  if (measured.errors > 0)
    results.problems.push(`${name}: ${measured.errors} connection errors (${measured.timeouts} timeouts)`);
  if (measured.warmup && (measured.warmup.non2xx > 0 || measured.warmup.errors > 0)) {
    results.problems.push(
      `${name}: warm-up saw ${measured.warmup.non2xx} non-2xx answers and ${measured.warmup.errors} errors`,
    );
  }
  if (measured.requests === 0) results.problems.push(`${name}: no request completed`);
  if (pid !== undefined && measured.cpuUsPerRequest === undefined && process.platform === 'linux')
    results.problems.push(`${name}: the server's CPU time could not be read from /proc/${pid}/stat`);
  if (metrics !== undefined && measured.gc === undefined)
    results.problems.push(`${name}: the server's GC pauses could not be read from ${metrics.url}/metrics`);
  log(
    `    ${measured.rps.toFixed(0)} req/s, p50 ${measured.p50} ms, p99 ${measured.p99} ms, server CPU ${measured.cpuUsPerRequest?.toFixed(1) ?? '-'} µs/request, GC ${gcPauses(measured.gc)}, host steal ${measured.stealPercent?.toFixed(1) ?? '-'} %, non-2xx ${measured.non2xx}, errors ${measured.errors}`,
  );
  return entry;
}

/** Starts a baseline server script, runs `body(url, pid)`, stops it. */
async function withBaseline(script, args, body) {
  const port = await freePort();
  const handle = start(
    script,
    process.execPath,
    [path.join(ROOT, 'bench', 'baselines', script), String(port), ...args],
    { cwd: ROOT },
  );
  try {
    const url = `http://127.0.0.1:${port}`;
    await waitForHttp(handle, `${url}/`);
    await body(url, handle.pid);
  } finally {
    await stop(handle);
  }
}

const NODE_1K = 'node:http 1 KiB';
const NODE_64K = 'node:http 64 KiB';
const NODE_PUT = 'node:http PUT 1 KiB sink';
const NODE_PUT_PACED = "node:http PUT 1 KiB sink at Lucid's PUT rate";
const LUCID_PUT = 'Lucid PUT 1 KiB update';
const ETCD_RANGE = 'etcd range 1 KiB';
const ETCD_PUT = 'etcd put 1 KiB update';

/**
 * The baselines run twice, before and after the Lucid and etcd cases (the machine is shared, so its
 * speed drifts); their rows hold the mean of both rounds, the rounds themselves are in `samples`.
 */
async function baselines(authorization, round, rounds) {
  log(`baselines (round ${round} of ${rounds})`);
  // The same Authorization header as Lucid's requests, so every case sends the same bytes.
  const requests = [{ method: 'GET', path: '/', headers: { authorization } }];
  await withBaseline('node-http.mjs', ['1024'], (url, pid) =>
    runCase(baselineSamples, {
      name: NODE_1K,
      group: 'baseline',
      description: 'bare node:http, constant 1 KiB',
      url,
      pid,
      requests,
    }),
  );
  // The PUT case's requests, read to the end and dropped: the floor of a write's p99 here, with no work in between.
  await withBaseline('node-http.mjs', ['sink'], (url, pid) =>
    runCase(baselineSamples, {
      name: NODE_PUT,
      group: 'baseline',
      description: 'bare node:http, reads a 1 KiB PUT body and answers a short JSON message',
      url,
      pid,
      requests: [put1k({ authorization })],
    }),
  );
  if (mode === 'smoke') return;
  await withBaseline('node-http.mjs', [String(64 * 1024)], (url, pid) =>
    runCase(baselineSamples, {
      name: NODE_64K,
      group: 'baseline',
      description: 'bare node:http, constant 64 KiB',
      url,
      pid,
      requests,
    }),
  );
  await withBaseline('express.mjs', [], (url, pid) =>
    runCase(baselineSamples, {
      name: 'express 1 KiB',
      group: 'baseline',
      description: 'minimal express 5 app, constant 1 KiB',
      url,
      pid,
      requests,
    }),
  );
}

const baselineSamples = [];

/**
 * The sink, slowed to the rate Lucid's PUT update case reached in this run: it keeps its thread busy on each request
 * for as long as holds it to that rate (node-http.mjs adjusts the wait through the warm-up), and does nothing else: no
 * store, no batches, nothing for the GC. Its p99 is what that rate alone costs here (the 50 requests in flight wait
 * their turn, and this host's scheduling spreads the waits). Served in order at an even pace, its requests wait about
 * as little as that rate allows, so what Lucid's PUT p99 has above the paced sink's is Lucid's own tail.
 */
async function pacedSink(authorization) {
  const lucidPut = results.cases.find((c) => c.name === LUCID_PUT);
  if (!(lucidPut?.rps > 0)) return;
  const rate = Math.round(lucidPut.rps);
  await withBaseline('node-http.mjs', ['sink', String(rate)], async (url, pid) => {
    const paced = await runCase(results.cases, {
      name: NODE_PUT_PACED,
      group: 'baseline',
      description: `the PUT sink, busy on each request for as long as holds it to ${rate} req/s: Lucid's PUT rate with nothing in it but CPU time`,
      url,
      pid,
      requests: [put1k({ authorization })],
    });
    results.notes.push(
      `${NODE_PUT_PACED}: paced to ${rate} req/s, it answered ${paced.rps.toFixed(0)} req/s with p99 ${paced.p99} ms (Lucid: ${lucidPut.p99} ms): the p99 that rate alone brings on this host.`,
    );
  });
}

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
      cpuUsPerRequest: samples.every((s) => s.cpuUsPerRequest !== undefined)
        ? mean(samples.map((s) => s.cpuUsPerRequest))
        : undefined,
      requests: sum('requests'),
      non2xx: sum('non2xx'),
      errors: sum('errors'),
      timeouts: sum('timeouts'),
      samples,
    });
    if (samples.length > 1) {
      const rates = samples.map((s) => s.rps);
      const spread = (Math.max(...rates) - Math.min(...rates)) / mean(rates);
      results.notes.push(
        `${name}: ${rates.map((r) => r.toFixed(0)).join(' then ')} req/s before and after the other cases (spread ${(spread * 100).toFixed(0)} %); the table shows the mean.`,
      );
    }
  }
  results.cases.unshift(...rows);
}

/** Every case asks for a 1 KiB value of one of these keys, or a 64 KiB one, or a counter. */
const keys1k = (prefix = 'b/1k/') => ({ path: `/api/kv/${prefix}`, keys: SEEDED_1K });

/** The PUT update case's request: 1 KiB over one of the seeded 1 KiB keys, with `auth`'s headers. */
const put1k = (auth) => ({
  method: 'PUT',
  headers: { ...auth, 'content-type': 'application/octet-stream' },
  bodyBytes: 1024,
  ...keys1k(),
});

/**
 * The Lucid cases on the embedded default (`lucid init`'s config, untouched). `against` names the
 * rows a case's ratios are taken against, and the targets of issue "Speed" (bench/README.md).
 */
function defaultCases(auth) {
  const octet = { ...auth, 'content-type': 'application/octet-stream' };
  const json = { ...auth, 'content-type': 'application/json' };
  const get = { method: 'GET', headers: auth, ...keys1k() };
  const put = put1k(auth);
  const transfers = Array.from({ length: 10 }, (_, i) => ({
    method: 'POST',
    path: '/api/txn',
    headers: json,
    share: 0.1,
    body: JSON.stringify({
      success: [
        { op: 'decrement', key: `b/n/${i}` },
        { op: 'increment', key: `b/n/${(i + 1) % COUNTERS}` },
      ],
    }),
  }));
  return [
    {
      name: 'Lucid GET 1 KiB',
      description: `GET one of ${SEEDED_1K} 1 KiB keys at random`,
      requests: [get],
      against: { node: NODE_1K, nodeTarget: 0.5, etcd: ETCD_RANGE, etcdTarget: 3, p99Target: 5 },
    },
    {
      name: 'Lucid GET 64 KiB',
      description: `GET one of ${SEEDED_64K} 64 KiB keys at random`,
      requests: [{ method: 'GET', headers: auth, path: '/api/kv/b/64k/', keys: SEEDED_64K }],
      against: { node: NODE_64K, nodeTarget: 0.5 },
    },
    {
      name: 'Lucid HEAD 1 KiB',
      description: `HEAD one of ${SEEDED_1K} 1 KiB keys at random`,
      requests: [{ ...get, method: 'HEAD' }],
      against: { node: NODE_1K },
    },
    {
      name: LUCID_PUT,
      description: `PUT 1 KiB over one of ${SEEDED_1K} existing keys at random (200)`,
      requests: [put],
      against: { node: NODE_1K, nodeTarget: 0.25, etcd: ETCD_PUT, etcdTarget: 1.5, p99Target: 5 },
    },
    {
      name: 'Lucid PUT 1 KiB new key',
      description: 'PUT 1 KiB under a key never used before, one per request (201)',
      expect: [201],
      requests: [{ method: 'PUT', headers: octet, bodyBytes: 1024, path: '/api/kv/b/new/', fresh: true }],
      against: { node: NODE_1K, etcd: ETCD_PUT },
    },
    {
      name: 'Lucid PATCH increment',
      description: `PATCH {"operation":"increment"} on one of ${COUNTERS} counters at random`,
      requests: [
        { method: 'PATCH', path: '/api/kv/b/n/', keys: COUNTERS, headers: json, body: '{"operation":"increment"}' },
      ],
      against: { node: NODE_1K, nodeTarget: 0.2 },
    },
    {
      name: 'Lucid mixed 90/10',
      description: `90 % GET, 10 % PUT 1 KiB update, over the same ${SEEDED_1K} keys at random`,
      requests: [
        { ...get, share: 0.9 },
        { ...put, share: 0.1 },
      ],
      against: { node: NODE_1K, nodeTarget: 0.4 },
    },
    ...(specHas('/api/txn')
      ? [
          {
            name: 'Lucid txn transfer',
            description: `POST /api/txn: decrement one of ${COUNTERS} counters and increment the next`,
            requests: transfers,
            against: { node: NODE_1K, etcd: ETCD_PUT },
          },
        ]
      : []),
  ];
}

/** Whether spec/lucid.yaml has a path (so the benchmark runs on branches before and after it lands). */
function specHas(pathname) {
  return readFileSync(path.join(ROOT, 'spec/lucid.yaml'), 'utf8').includes(`\n  ${pathname}:`);
}

/** Starts a Lucid on `lucid`'s config (with `env`), seeds it, runs `body(server)`, stops it. */
async function withLucid(lucid, { name, env = {}, seedAll = true }, body) {
  const server = await startLucid(lucid, { name, env });
  try {
    await seed(server.url, lucid.token, 'b/1k/', SEEDED_1K, VALUE_1K);
    if (seedAll) {
      await seed(server.url, lucid.token, 'b/64k/', SEEDED_64K, VALUE_64K);
      await seed(server.url, lucid.token, 'b/n/', COUNTERS, '1000000', 'text/plain');
    }
    return await body(server);
  } finally {
    await stop(server.handle);
  }
}

/**
 * withLucid for this checkout's Lucid and, with --compare, the other checkout's too (its own fresh
 * config and token, both servers up at once); `body` gets a list of { server, token, suffix }.
 */
async function withLucids(lucid, { name, env = {}, seedAll = true }, body) {
  const here = async (servers) =>
    withLucid(lucid, { name, env, seedAll }, (server) =>
      body([{ server, token: lucid.token, suffix: '' }, ...servers]),
    );
  if (options.compare === undefined) return here([]);
  const other = initLucid('lucid-bench-compare-', path.join(options.compare, 'dist/cli/main.js'));
  const suffix = ` [${path.basename(options.compare)}]`;
  return withLucid(other, { name: `${name}-compare`, env, seedAll }, (server) =>
    here([{ server, token: other.token, suffix }]),
  );
}

/** Runs case `c` (made for a token by `make`) on every server, one after the other. */
async function runOnEach(servers, make) {
  for (const { server, token, suffix } of servers) {
    const authorization = `Bearer ${token}`;
    const c = make({ authorization });
    const pid = server.handle.pid;
    const metrics = { url: server.url, authorization };
    await runCase(results.cases, { group: 'lucid', url: server.url, pid, metrics, ...c, name: `${c.name}${suffix}` });
  }
}

async function lucidCases(lucid) {
  log('lucid: fresh config and data folder (lucid init), seeding');
  await withLucids(lucid, { name: 'lucid', seedAll: mode !== 'smoke' }, async (servers) => {
    results.lucidStartupMs = servers[0].server.startupMs;
    const names = defaultCases({}).map((c) => c.name);
    const selected = mode === 'smoke' ? ['Lucid GET 1 KiB', 'Lucid PUT 1 KiB new key'] : names.filter(wanted);
    log('lucid');
    for (const name of selected) await runOnEach(servers, (auth) => defaultCases(auth).find((c) => c.name === name));
  });
  if (mode === 'smoke') return;
  // etcd's durability class: every commit fsync'd.
  const full = 'Lucid PUT 1 KiB update, synchronous: full';
  if (wanted(full)) {
    log('lucid with sqlite.synchronous: full');
    await withLucids(
      lucid,
      { name: 'lucid-full', env: { LUCID_SQLITE_SYNCHRONOUS: 'full' }, seedAll: false },
      (servers) =>
        runOnEach(servers, (auth) => ({
          name: full,
          description: 'the PUT update case with every commit fsync’d (etcd’s durability class)',
          requests: [put1k(auth)],
          against: { node: NODE_1K, etcd: ETCD_PUT, etcdTarget: 1.0 },
        })),
    );
  }
  if (!options.redis || !wanted('Lucid on Redis GET 1 KiB')) return;
  // One node on the shared Redis: the same request path, no cache in front of the store.
  const auth = { authorization: `Bearer ${lucid.token}` };
  const env = { LUCID_STORE: args.redis, LUCID_STORE_NAMESPACE: `bench_${randomBytes(4).toString('hex')}` };
  log(`lucid on Redis (${args.redis}, namespace ${env.LUCID_STORE_NAMESPACE})`);
  try {
    await withLucid(lucid, { name: 'lucid-redis', env, seedAll: false }, async (server) => {
      await runCase(results.cases, {
        group: 'lucid',
        url: server.url,
        pid: server.handle.pid,
        metrics: { url: server.url, ...auth },
        name: 'Lucid on Redis GET 1 KiB',
        description: 'one node on Redis, GET of one of 1000 keys',
        requests: [{ method: 'GET', headers: auth, ...keys1k() }],
        against: { node: NODE_1K, nodeTarget: 0.3 },
      });
      await runCase(results.cases, {
        group: 'lucid',
        url: server.url,
        pid: server.handle.pid,
        metrics: { url: server.url, ...auth },
        name: 'Lucid on Redis PUT 1 KiB update',
        description: 'one node on Redis, PUT over one of 1000 keys',
        requests: [put1k(auth)],
        against: { node: NODE_1K, etcd: ETCD_PUT },
      });
    });
  } finally {
    await dropRedisNamespace(args.redis, env.LUCID_STORE_NAMESPACE).catch((error) =>
      results.notes.push(`could not clean Redis namespace: ${error.message}`),
    );
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
    const value = VALUE_1K.toString('base64');
    // One request kind per key (etcd takes the key in the body), each as likely.
    const kinds = (make) =>
      Array.from({ length: SEEDED_1K }, (_, i) => ({ method: 'POST', headers, share: 1 / SEEDED_1K, ...make(i) }));
    const { url } = etcd;
    const pid = etcd.handle.pid;
    await runCase(results.cases, {
      name: ETCD_RANGE,
      group: 'etcd',
      description: `POST /v3/kv/range of one of ${SEEDED_1K} 1 KiB keys at random`,
      url,
      pid,
      requests: kinds((i) => ({ path: '/v3/kv/range', body: JSON.stringify({ key: b64(`b/1k/${i}`) }) })),
      against: { node: NODE_1K },
    });
    await runCase(results.cases, {
      name: ETCD_PUT,
      group: 'etcd',
      description: `POST /v3/kv/put of 1 KiB over one of ${SEEDED_1K} existing keys at random`,
      url,
      pid,
      requests: kinds((i) => ({ path: '/v3/kv/put', body: JSON.stringify({ key: b64(`b/1k/${i}`), value }) })),
      against: { node: NODE_1K },
    });
  } finally {
    await stop(etcd.handle);
    rmSync(etcd.dir, { recursive: true, force: true });
  }
}

/** Each case's ratios to the rows it names in `against`, and whether it meets its targets. */
function addRatios() {
  const row = (name) => results.cases.find((c) => c.name === name);
  for (const c of results.cases) {
    const { node, etcd, nodeTarget, etcdTarget, p99Target } = c.against ?? {};
    const nodeRow = node && row(node);
    const etcdRow = etcd && row(etcd);
    if (nodeRow) c.vsNode = { name: node, ratio: c.rps / nodeRow.rps, target: nodeTarget };
    // CPU per request, node:http's over the case's: like the req/s ratio (higher is better), but
    // what each server spent, which a busy host sways less than what it achieved.
    if (nodeRow?.cpuUsPerRequest !== undefined && c.cpuUsPerRequest !== undefined)
      c.cpuVsNode = nodeRow.cpuUsPerRequest / c.cpuUsPerRequest;
    if (etcdRow) c.vsEtcd = { name: etcd, ratio: c.rps / etcdRow.rps, target: etcdTarget };
    if (p99Target !== undefined) c.p99Target = p99Target;
    const misses = [];
    if (c.vsNode?.target !== undefined && c.vsNode.ratio < c.vsNode.target)
      misses.push(`${c.vsNode.ratio.toFixed(2)}× ${node} < ${c.vsNode.target}×`);
    if (c.vsEtcd?.target !== undefined && c.vsEtcd.ratio < c.vsEtcd.target)
      misses.push(`${c.vsEtcd.ratio.toFixed(2)}× ${etcd} < ${c.vsEtcd.target}×`);
    if (p99Target !== undefined && c.p99 > p99Target) misses.push(`p99 ${c.p99.toFixed(1)} ms > ${p99Target} ms`);
    const targeted = c.vsNode?.target !== undefined || c.vsEtcd?.target !== undefined || p99Target !== undefined;
    if (targeted) c.targets = misses.length === 0 ? 'met' : `missed: ${misses.join('; ')}`;
  }
}

function printTables() {
  console.log(`\n${describeRun(results)}\n`);
  if (results.cases.length > 0) console.log(textTable(caseRows(results.cases)));
  if (results.scaleOut?.points?.length) {
    const so = results.scaleOut;
    console.log(
      `\nscale-out on Redis (${so.driver}, ${so.connections} connections spread over the nodes, ${so.keys} keys of ${so.valueBytes} B, random keys)`,
    );
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
    if (mode === 'full') await pacedSink(`Bearer ${lucid.token}`);
    if (options.etcd) await etcdCases();
    else if (mode === 'full') results.notes.push('etcd skipped (--no-etcd).');
    if (rounds > 1) await baselines(`Bearer ${lucid.token}`, 2, rounds);
  }
  if (options.scale) {
    const checkpoints = [...new Set([Math.min(10_000, options.keys), options.keys])];
    results.scale = await runScale({
      checkpoints,
      connections: options.connections,
      duration: options.duration,
      warmup: options.warmup,
      log,
    });
  }
  if (options.scaleOut) {
    log(`scale-out on ${args.redis}`);
    results.scaleOut = await runScaleOut({
      redisUrl: args.redis,
      connections: options.connections,
      duration: options.duration,
      warmup: options.warmup,
      log,
    });
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
results.machine.loadAfter = os.loadavg();
results.machine.stealPercent = stealPercent(results.machine.hostBefore, hostTicks());
results.finishedAt = new Date().toISOString();
results.durationSeconds = (performance.now() - started) / 1000;
printTables();
const files = writeResults(args.out, results, drawChart(results));
console.log(
  `\nwrote ${Object.values(files)
    .map((file) => path.relative(process.cwd(), file))
    .join(', ')}`,
);
process.exit(failed || results.problems.length > 0 ? 1 : 0);
