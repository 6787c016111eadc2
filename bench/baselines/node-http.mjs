// Baseline: a bare node:http server answering every request with the same bytes (1 KiB by default).
// Usage: node bench/baselines/node-http.mjs PORT [BYTES | sink [RATE]] (prints "listening PORT" once it accepts
// connections).
//
// `sink` is the runtime's own floor for a write: it reads each request's body to the end, keeping its chunks as Lucid
// does, drops them, and answers 200 with a short JSON message, as Lucid answers a PUT. Under the PUT case's load its
// p99 is the lowest a Node server reading those bodies reaches here, with no work between reading and answering.
//
// With RATE, the sink is slowed to RATE requests a second under a saturating load: it keeps its one thread busy on
// each request before answering, allocating nothing, for a time it adjusts every PACE_MS until it serves RATE. It is
// then as slow as another server, with nothing inside it but CPU time (no store, no batches, no garbage to collect):
// paced to that server's rate, its p99 is what the rate alone costs on this machine.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { setInterval } from 'node:timers';

/** How often the pacer compares the rate it served with its target. */
const PACE_MS = 200;

const sink = process.argv[3] === 'sink';
const rate = sink && process.argv[4] !== undefined ? Number(process.argv[4]) : undefined;
const body = sink
  ? Buffer.from('{"message":"Key updated successfully"}')
  : Buffer.alloc(Number(process.argv[3] ?? 1024), 'x');
const type = sink ? 'application/json' : 'application/octet-stream';

const answer = (res) => {
  res.writeHead(200, { 'Content-Type': type, 'Content-Length': body.length });
  res.end(body);
};

const pace = rate === undefined ? undefined : pacer(rate);

const server = http.createServer((req, res) => {
  if (!sink) return answer(res);
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    if (pace !== undefined) pace.request();
    answer(res);
  });
});
server.keepAliveTimeout = 5000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

/**
 * Busy-waits on each request for as long as keeps the rate at `target` requests a second. Every PACE_MS the wait moves
 * by part of the gap between the time a request should take (1 / target) and the time it took (1 / served); a quiet
 * window (under half the target, when no load is running) leaves it as it is.
 */
function pacer(target) {
  let spinMs = 0;
  let served = 0;
  let since = performance.now();
  setInterval(() => {
    const now = performance.now();
    const perSecond = (served * 1000) / (now - since);
    if (perSecond >= target / 2) spinMs = Math.max(0, spinMs + 0.6 * (1000 / target - 1000 / perSecond));
    served = 0;
    since = now;
  }, PACE_MS).unref();
  return {
    request() {
      served += 1;
      const until = performance.now() + spinMs;
      while (performance.now() < until);
    },
  };
}
