// Baseline: a bare node:http server answering every request with the same bytes (1 KiB by default).
// Usage: node bench/baselines/node-http.mjs PORT [BYTES | sink] (prints "listening PORT" once it accepts connections).
//
// `sink` is the runtime's own floor for a write: it reads each request's body to the end, keeping its chunks as Lucid
// does, drops them, and answers 200 with a short JSON message, as Lucid answers a PUT. Under the PUT case's load its
// p99 is the lowest a Node server reading those bodies reaches here, with no work between reading and answering.
import http from 'node:http';

const sink = process.argv[3] === 'sink';
const body = sink
  ? Buffer.from('{"message":"Key updated successfully"}')
  : Buffer.alloc(Number(process.argv[3] ?? 1024), 'x');
const type = sink ? 'application/json' : 'application/octet-stream';

const answer = (res) => {
  res.writeHead(200, { 'Content-Type': type, 'Content-Length': body.length });
  res.end(body);
};

const server = http.createServer((req, res) => {
  if (!sink) return answer(res);
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => answer(res));
});
server.keepAliveTimeout = 5000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
