// Baseline: a minimal express 5 app (defaults kept, so ETag and X-Powered-By as usual) answering
// GET / with the same 1 KiB. Usage: node bench/baselines/express.mjs PORT (prints "listening PORT").
import express from 'express';

const body = Buffer.alloc(1024, 'x');
const app = express();
app.get('/', (_req, res) => {
  res.type('application/octet-stream').send(body);
});
const server = app.listen(Number(process.argv[2] ?? 0), '127.0.0.1', (error) => {
  if (error) throw error;
  console.log(`listening ${server.address().port}`);
});
server.keepAliveTimeout = 5000;
process.on('SIGTERM', () => server.close(() => process.exit(0)));
