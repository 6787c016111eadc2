// Baseline: a bare node:http server answering every request with the same bytes (1 KiB by default).
// Usage: node bench/baselines/node-http.mjs PORT [BYTES] (prints "listening PORT" once it accepts connections).
import http from 'node:http';

const body = Buffer.alloc(Number(process.argv[3] ?? 1024), 'x');
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 5000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
