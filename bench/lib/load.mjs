// The load generators: wrk when installed (bench/lib/wrk.mjs), else autocannon, driven from the
// bench process. A case describes its requests once, as data, for either.
import autocannon from 'autocannon';
import { gcBetween, markMeter } from './meter.mjs';
import { stealPercent } from './processes.mjs';
import { measureWrk, wrkAvailable } from './wrk.mjs';

/** 'wrk' when it is installed (and not refused with LUCID_BENCH_DRIVER=autocannon), else 'autocannon'. */
export function chooseDriver(preferWrk = true) {
  return preferWrk && process.env.LUCID_BENCH_DRIVER !== 'autocannon' && wrkAvailable() ? 'wrk' : 'autocannon';
}

/**
 * Measures `requests` (kinds of request: `{ method, path, keys | fresh, headers, body | bodyBytes,
 * share }`, see wrk.mjs) against `url` with the given driver. With `serverPid`, the answer also
 * has `cpuUsPerRequest`, the CPU time that process spent in the measured seconds per request, and
 * `stealPercent`, the share of the machine's CPU time the host took meanwhile. With `metrics` too
 * ({ url, authorization } of a server with /metrics: Lucid), it has `gc`, the server's garbage
 * collections in those seconds (see meter.mjs).
 */
export async function measureRequests({ driver, url, requests, connections, duration, warmup, serverPid, metrics }) {
  const meter = serverPid === undefined ? undefined : { pid: serverPid, metrics };
  const measured = await measureWith({ driver, url, requests, connections, duration, warmup, meter });
  if (meter === undefined) return measured;
  const { start, end } = meter;
  if (start.cpu !== undefined && end.cpu !== undefined && measured.requests > 0)
    measured.cpuUsPerRequest = ((end.cpu - start.cpu) * 1e6) / measured.requests;
  measured.stealPercent = stealPercent(start.host, end.host);
  const gc = gcBetween(meter);
  if (gc !== undefined) measured.gc = gc;
  return measured;
}

function measureWith({ driver, url, requests, connections, duration, warmup, meter }) {
  // wrk's parser waits for the body a HEAD answer's Content-Length announces: HEAD goes to autocannon.
  if (driver === 'wrk' && requests.every((r) => r.method !== 'HEAD'))
    return measureWrk({ url, requests, connections, duration, warmup, meter });
  let fresh = 0;
  const concrete = (r) => ({
    method: r.method ?? 'GET',
    path:
      r.keys !== undefined
        ? `${r.path}${Math.floor(Math.random() * r.keys)}`
        : r.fresh
          ? `${r.path}${Date.now().toString(16)}-${fresh++}`
          : r.path,
    headers: { ...r.headers },
    body: r.bodyBytes !== undefined ? Buffer.alloc(r.bodyBytes, 'x') : r.body,
  });
  const pick = () => {
    let roll = Math.random();
    for (const r of requests) if ((roll -= r.share ?? 1) < 0) return r;
    return requests[requests.length - 1];
  };
  const first = concrete(requests[0]);
  return measure({
    url,
    connections,
    duration,
    warmup,
    head: requests.every((r) => r.method === 'HEAD'),
    request: { ...first, setupRequest: () => concrete(requests.length === 1 ? requests[0] : pick()) },
    meter,
  });
}

/**
 * HEAD answers carry GET's Content-Length but no body. autocannon's parser (http-parser-js) does not
 * know the request was a HEAD and would wait for that body forever; this makes it skip the body by
 * answering "skip body" from its on-headers-complete callback (which autocannon assigns right after
 * setupClient, hence the setter).
 */
function skipResponseBodies(client) {
  const parser = client.parser;
  const key = parser.constructor.kOnHeadersComplete;
  let handler;
  Object.defineProperty(parser, key, {
    configurable: true,
    get: () => handler,
    set: (assigned) => {
      handler = (...args) => {
        assigned(...args);
        return true;
      };
    },
  });
}

/**
 * Runs one load case: `warmup` seconds (discarded) then `duration` seconds measured, both with
 * `connections` keep-alive connections and no pipelining.
 *
 * `request` is { method, path, headers, body } for a constant request, plus optionally
 * `setupRequest()` returning what changes in the next request (a fresh object: new key, method or body
 * per request). `head: true` is needed for HEAD requests.
 */
export async function measure({ url, request, connections, duration, warmup, head = false, meter }) {
  const { setupRequest, ...constant } = request;
  const options = {
    url: new URL(constant.path ?? '/', url).href,
    connections,
    pipelining: 1,
    timeout: 10,
    method: constant.method ?? 'GET',
    headers: constant.headers ?? {},
    body: constant.body,
    // Each dynamic request gets a fresh headers object: autocannon writes Content-Length into the
    // one it is given, which would otherwise leak from a PUT into the next GET.
    ...(setupRequest
      ? {
          requests: [
            {
              setupRequest: (defaults) => {
                const dynamic = setupRequest();
                return {
                  ...defaults,
                  method: constant.method ?? 'GET',
                  body: constant.body,
                  ...dynamic,
                  headers: { ...constant.headers, ...dynamic.headers },
                };
              },
            },
          ],
        }
      : {}),
    ...(head ? { setupClient: skipResponseBodies } : {}),
  };
  let warmupResult;
  if (warmup > 0) warmupResult = await autocannon({ ...options, duration: warmup });
  await markMeter(meter, 'start');
  const result = await autocannon({ ...options, duration });
  await markMeter(meter, 'end');
  const seconds = result.duration || duration;
  return {
    rps: result.requests.total / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    meanLatency: result.latency.average,
    requests: result.requests.total,
    seconds,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes: Object.fromEntries(
      Object.entries(result.statusCodeStats ?? {}).map(([code, { count }]) => [code, Number(count)]),
    ),
    warmup: warmupResult
      ? { requests: warmupResult.requests.total, non2xx: warmupResult.non2xx, errors: warmupResult.errors }
      : undefined,
  };
}
