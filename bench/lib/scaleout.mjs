// The scale-out run: 1, 2 and 3 Lucid nodes on one Redis, GET and PUT throughput with the load
// spread evenly over the nodes, as ratios to one node, all measured in the same run.
//
// Load comes from wrk (one process per node, each with its share of the connections; C, so the
// load generator takes as little of the shared CPU as possible) with a Lua script that picks a
// random key per request; without wrk, from autocannon in this process.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { measure } from './load.mjs';
import { initLucid, seed, startLucid } from './lucid.mjs';
import { stop, tempDir } from './processes.mjs';
import { measureWrk, wrkAvailable } from './wrk.mjs';

const KEYS = 1000;
const VALUE = randomBytes(1024);

/** A wrk script that sends `method` to a random one of KEYS keys (with a 1 KiB body for PUT). */
function wrkScript(dir, method, token) {
  const file = path.join(dir, `${method.toLowerCase()}.lua`);
  const body = method === 'PUT' ? `wrk.body = string.rep("x", 1024)\nwrk.headers["Content-Type"] = "application/octet-stream"\n` : '';
  writeFileSync(
    file,
    `wrk.method = "${method}"\nwrk.headers["Authorization"] = "Bearer ${token}"\n${body}` +
      `math.randomseed(os.time())\nrequest = function() return wrk.format(nil, "/api/kv/so/" .. math.random(0, ${KEYS - 1})) end\n`,
  );
  return file;
}

/** Loads every node at once for the case's duration and sums what they answered. */
async function loadNodes(nodes, { method, token, connections, duration, warmup, scripts }) {
  const share = Math.max(1, Math.round(connections / nodes.length));
  const measured = await Promise.all(
    nodes.map((node) =>
      scripts
        ? measureWrk({ url: `${node.url}/`, connections: share, duration, warmup, script: scripts[method] })
        : measure({
            url: node.url,
            connections: share,
            duration,
            warmup,
            request: {
              method,
              path: '/api/kv/so/0',
              headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
              body: method === 'PUT' ? VALUE : undefined,
              setupRequest: () => ({ path: `/api/kv/so/${Math.floor(Math.random() * KEYS)}` }),
            },
          }),
    ),
  );
  const sum = (field) => measured.reduce((total, m) => total + (m[field] ?? 0), 0);
  return { rps: sum('rps'), non2xx: sum('non2xx'), errors: sum('errors'), p99: Math.max(...measured.map((m) => m.p99 ?? 0)), perNode: measured.map((m) => m.rps) };
}

export async function runScaleOut({ redisUrl, counts = [1, 2, 3], connections, duration, warmup, log }) {
  const lucid = initLucid('lucid-scaleout-');
  const namespace = `bench_${randomBytes(4).toString('hex')}`;
  const driver = wrkAvailable() ? 'wrk' : 'autocannon';
  const scriptDir = tempDir('lucid-scaleout-wrk-');
  const scripts = driver === 'wrk' ? { GET: wrkScript(scriptDir, 'GET', lucid.token), PUT: wrkScript(scriptDir, 'PUT', lucid.token) } : undefined;
  const env = { LUCID_STORE: redisUrl, LUCID_STORE_NAMESPACE: namespace };
  const points = [];
  const nodes = [];
  try {
    for (const count of counts) {
      while (nodes.length < count) nodes.push(await startLucid(lucid, { name: `lucid-${nodes.length + 1}`, env }));
      if (points.length === 0) await seed(nodes[0].url, lucid.token, 'so/', KEYS, VALUE);
      log(`  scale-out: ${count} node(s) on Redis (${driver}) ...`);
      const point = { nodes: count };
      for (const method of ['GET', 'PUT']) {
        point[method] = await loadNodes(nodes, { method, token: lucid.token, connections, duration, warmup, scripts });
        log(`    ${method} ${point[method].rps.toFixed(0)} req/s (per node ${point[method].perNode.map((r) => r.toFixed(0)).join(' / ')}), non-2xx ${point[method].non2xx}`);
      }
      points.push(point);
    }
  } finally {
    await Promise.all(nodes.map((node) => stop(node.handle)));
  }
  for (const point of points) {
    point.GET.ratio = point.GET.rps / points[0].GET.rps;
    point.PUT.ratio = point.PUT.rps / points[0].PUT.rps;
  }
  return { driver, connections, duration, keys: KEYS, valueBytes: VALUE.length, namespace, points };
}
