// The scale-out run: 1, 2 and 3 Lucid nodes on one Redis, GET and PUT throughput with the load
// spread evenly over the nodes, as ratios to one node, all measured in the same run (each point
// twice, in the order 1, 2, 3, 3, 2, 1, and averaged).
//
// Load comes from wrk (one process per node, each with its share of the connections; C, so the
// load generator takes as little of the shared CPU as possible) with a Lua script that picks a
// random key per request; without wrk, from autocannon in this process.
import { randomBytes } from 'node:crypto';
import { chooseDriver, measureRequests } from './load.mjs';
import { initLucid, seed, startLucid } from './lucid.mjs';
import { stop } from './processes.mjs';
import { dropRedisNamespace } from './redis.mjs';

const KEYS = 1000;
const VALUE = randomBytes(1024);

/** Loads every node at once for the case's duration and sums what they answered. */
async function loadNodes(nodes, { method, token, connections, duration, warmup, driver }) {
  const share = Math.max(1, Math.round(connections / nodes.length));
  const requests = [
    {
      method,
      path: '/api/kv/so/',
      keys: KEYS,
      headers: {
        authorization: `Bearer ${token}`,
        ...(method === 'PUT' && { 'content-type': 'application/octet-stream' }),
      },
      ...(method === 'PUT' && { bodyBytes: VALUE.length }),
    },
  ];
  const measured = await Promise.all(
    nodes.map((node) => measureRequests({ driver, url: node.url, requests, connections: share, duration, warmup })),
  );
  const sum = (field) => measured.reduce((total, m) => total + (m[field] ?? 0), 0);
  return {
    rps: sum('rps'),
    non2xx: sum('non2xx'),
    errors: sum('errors'),
    p99: Math.max(...measured.map((m) => m.p99 ?? 0)),
    perNode: measured.map((m) => m.rps),
  };
}

export async function runScaleOut({ redisUrl, counts = [1, 2, 3], connections, duration, warmup, log }) {
  const lucid = initLucid('lucid-scaleout-');
  const namespace = `bench_${randomBytes(4).toString('hex')}`;
  const driver = chooseDriver();
  const env = { LUCID_STORE: redisUrl, LUCID_STORE_NAMESPACE: namespace };
  const nodes = [];
  const samples = new Map(counts.map((count) => [count, []]));
  try {
    // Every node runs from the start (an idle node costs next to nothing); a point loads the first n.
    for (let i = 0; i < Math.max(...counts); i++) nodes.push(await startLucid(lucid, { name: `lucid-${i + 1}`, env }));
    await seed(nodes[0].url, lucid.token, 'so/', KEYS, VALUE);
    // 1, 2, 3 then 3, 2, 1: a machine whose speed drifts during the run biases both ends alike.
    for (const count of [...counts, ...[...counts].reverse()]) {
      log(`  scale-out: ${count} node(s) on Redis (${driver}) ...`);
      const sample = {};
      for (const method of ['GET', 'PUT']) {
        sample[method] = await loadNodes(nodes.slice(0, count), {
          method,
          token: lucid.token,
          connections,
          duration,
          warmup,
          driver,
        });
        log(
          `    ${method} ${sample[method].rps.toFixed(0)} req/s (per node ${sample[method].perNode.map((r) => r.toFixed(0)).join(' / ')}), non-2xx ${sample[method].non2xx}`,
        );
      }
      samples.get(count).push(sample);
    }
  } finally {
    await Promise.all(nodes.map((node) => stop(node.handle)));
    await dropRedisNamespace(redisUrl, namespace).catch(() => undefined);
  }
  const mean = (list, method) => ({
    rps: list.reduce((total, s) => total + s[method].rps, 0) / list.length,
    p99: Math.max(...list.map((s) => s[method].p99)),
    non2xx: list.reduce((total, s) => total + s[method].non2xx, 0),
    errors: list.reduce((total, s) => total + s[method].errors, 0),
    samples: list.map((s) => s[method].rps),
  });
  const points = counts.map((count) => ({
    nodes: count,
    GET: mean(samples.get(count), 'GET'),
    PUT: mean(samples.get(count), 'PUT'),
  }));
  for (const point of points) {
    point.GET.ratio = point.GET.rps / points[0].GET.rps;
    point.PUT.ratio = point.PUT.rps / points[0].PUT.rps;
  }
  return { driver, connections, duration, keys: KEYS, valueBytes: VALUE.length, namespace, points };
}
