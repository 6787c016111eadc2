/**
 * An HTTP fuzzer against a real server: more than 10 000 random and malformed requests from a seeded
 * generator (odd methods, broken percent-encodings, long and unicode keys, huge and odd headers, odd
 * content types and encodings, broken JSON, hostile JWTs, transactions of every shape (valid, odd and
 * broken: unknown ops, wrong types, invalid keys, too many items, duplicate writes, deep nesting); some
 * over raw sockets, since an HTTP client refuses to send them). No answer may be a 5xx, the server must
 * stay up with bounded memory, keys written by well-formed requests before, between and after the fuzz
 * must stay intact, and well-formed transfers between counters, sent among the fuzz, must keep their
 * total: no transaction, refused or not, applies only some of its writes.
 *
 * Replay a failure with LUCID_FUZZ_SEED=<seed printed by the run>.
 */
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import http from 'node:http';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { afterFullGc } from '../support/helpers.js';
import { completeResponse, rawExchange } from '../support/raw.js';
import { startLucid, type TestLucid } from '../support/lucid.js';

const REQUESTS = 10_400;
const WORKERS = 6;
/** Requests between two checks of the sentinel keys. */
const CHECK_EVERY = 2000;
const MAX_VALUE_BYTES = 64 * 1024;
const MAX_HEADER_BYTES = 16 * 1024;
/** A generous bound on RSS growth over the whole fuzz (client and server share this process; up to 125 MiB measured, most of it allocator slack, not live objects). */
const RSS_GROWTH_LIMIT = 256 * 1024 * 1024;
/** What the JS heap may keep after a full GC: a leak of one small object per request would pass it, a buffer per request would not. */
const HEAP_GROWTH_LIMIT = 48 * 1024 * 1024;

/** Live heap after a full collection. */
const heapAfterGc = (): number => afterFullGc().heapUsed;

let lucid: TestLucid;
beforeAll(async () => {
  lucid = await startLucid({
    config: { limits: { maxValueBytes: MAX_VALUE_BYTES }, server: { maxHeaderBytes: MAX_HEADER_BYTES } },
  });
});
afterAll(() => lucid?.close());

/** mulberry32: a small seeded PRNG, so a run can be replayed from its seed. */
function prng(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (max: number) => Math.floor(next() * max);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const bytes = (length: number) => Buffer.from(Array.from({ length }, () => int(256)));
  const chance = (p: number) => next() < p;
  return { next, int, pick, bytes, chance };
}
type Random = ReturnType<typeof prng>;

/** One fuzz request, described well enough to reproduce by hand. */
interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer | undefined;
}

interface Failure {
  request: string;
  status: number;
  body: string;
}

const base64url = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** Tokens a client might send, from valid to hostile; each is a whole Authorization header value. */
function authorizations(secret: string, valid: string): string[] {
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const sign = (claims: object, options: jwt.SignOptions = {}, key: string = secret) =>
    jwt.sign(claims, key, { algorithm: 'HS256', ...options });
  const tokens = [
    valid,
    sign({ sub: 'reader', exp, scope: 'read' }),
    sign({ sub: 'scoped', exp, prefix: 'fuzz/' }),
    sign({ sub: 'admin', exp, scope: 'admin' }),
    `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ sub: 'root', exp })}.`,
    `${base64url({ alg: 'none' })}.${base64url({ sub: 'root', exp })}`,
    sign({ sub: 'root', exp }, { algorithm: 'HS512' }),
    sign({ sub: 'root', exp }, { algorithm: 'HS384' }),
    sign({ sub: 'root', exp }, {}, 'another secret of the same length, but not ours'),
    sign({ sub: 'root', exp: Math.floor(Date.now() / 1000) - 60 }),
    sign({ sub: 'root' }),
    sign({ sub: 'root', exp, nbf: exp }),
    sign({ sub: 'root', exp, scope: 'superuser' }),
    sign({ sub: { nested: true }, exp, prefix: 42 }),
    sign({ sub: 'root', exp, scope: ['admin'] }),
    sign({ sub: 'x'.repeat(4000), exp }),
    `${base64url({ alg: 'RS256', typ: 'JWT' })}.${base64url({ sub: 'root', exp })}.${randomBytes(256).toString('base64url')}`,
    `${base64url({ alg: 'HS256', kid: '../../../../etc/passwd', jku: 'http://evil.example/jwks' })}.${base64url({ exp })}.AAAA`,
    `${base64url({ alg: 'HS256', crit: ['exp'] })}.${base64url({ sub: 'root', exp })}.sig`,
    `${base64url('"not an object"')}.${base64url('null')}.x`,
    `${base64url({ alg: 'HS256' })}.${base64url('[1,2,3]')}.x`,
    `${base64url({ alg: 'HS256' })}.${base64url('{"exp":')}.x`,
    'a.b.c',
    '...',
    '.',
    'eyJ',
    'eyJhbGciOiJIUzI1NiJ9',
    `${valid}.extra`,
    `${valid.slice(0, -2)}xx`,
    valid.split('.').reverse().join('.'),
    randomBytes(700).toString('base64url'),
    `${base64url({ alg: 'HS256' })}.${randomBytes(9000).toString('base64url')}.${randomBytes(32).toString('base64url')}`,
  ];
  return [
    ...tokens.map((token) => `Bearer ${token}`),
    `bearer ${valid}`,
    `Bearer   ${valid}   `,
    'Bearer',
    'Bearer ',
    `Basic ${Buffer.from('root:secret').toString('base64')}`,
    `Bearer ${valid} ${valid}`,
    `Token ${valid}`,
    '',
  ];
}

const METHODS = ['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE', 'POST'];
const ODD_METHODS = ['OPTIONS', 'TRACE', 'PROPFIND', 'MKCOL', 'PURGE', 'LOCK', 'SEARCH', 'FOO', 'get'];
const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/json; charset=bogus',
  'application/merge-patch+json',
  'application/vnd.api+json',
  'application/octet-stream',
  'text/plain',
  'text/plain; charset=utf-8',
  'multipart/form-data; boundary=',
  'multipart/form-data; boundary=xyz',
  'application/x-www-form-urlencoded',
  'text/html',
  '*/*',
  'application/',
  '/json',
  ';;;',
  'text/plain; a=b; a=c; q="unterminated',
  'application/json; charset="utf-8',
  `application/x-${'long'.repeat(500)}`,
  'ＡＰＰＬＩＣＡＴＩＯＮ/ｊｓｏｎ',
];
const ENCODINGS = ['gzip', 'deflate', 'br', 'identity', 'compress', 'bogus', 'gzip, gzip', 'x-gzip'];
const PATHS = [
  '/',
  '/ui',
  '/ui/',
  '/ui/assets/nope.js',
  '/docs',
  '/docs/assets/../../package.json',
  '/openapi.json',
  '/openapi.yaml',
  '/health',
  '/api',
  '/api/',
  '/api/kv',
  '/api/kv/',
  '/api/notifications',
  '/favicon.ico',
  '//',
  '/%2e%2e/%2e%2e/etc/passwd',
  '/api/kv/..%2F..%2Fetc%2Fpasswd',
  '/api/txn',
  '/api/txn/',
  '/api/txn?x=1',
];
const BROKEN_ESCAPES = [
  '%',
  '%%',
  '%zz',
  '%E0%A4',
  '%C0%AF',
  '%C0%80',
  '%00',
  '%FF',
  '%ED%A0%80',
  '%F4%90%80%80',
  '%2',
  '%u0041',
  '%25',
  '%2F',
  '%2f%2f',
  '%0D%0A',
  '%20',
];
const QUERIES = [
  '',
  '',
  '',
  '?ttl=1',
  '?ttl=0',
  '?ttl=-1',
  '?ttl=1.5',
  '?ttl=abc',
  '?ttl=99999999999999999999',
  '?ttl=1&ttl=2',
  '?ttl[]=1',
  '?ttl[a]=1',
  '?limit=0',
  '?limit=-5',
  '?limit=1000000',
  '?limit=2&cursor=garbage',
  '?cursor=%FF',
  '?prefix=%',
  '?prefix=fuzz/&limit=3',
  '?unknown=1',
  '?__proto__=x',
  '?constructor[prototype][polluted]=1',
  '?token=abc',
  '?maxDuration=0',
  '?maxDuration=-1',
  '?&&&=&=',
  `?x=${'q'.repeat(3000)}`,
];
const UNICODE = [
  'é',
  'ü',
  '✓',
  '日本',
  '🔑',
  '\u0000',
  '\u200b',
  '\ufeff',
  '\u202e',
  '\ud7ff',
  'ǅ',
  ' ',
  '+',
  '#',
  '?',
  '&',
  '=',
  ';',
  '/',
  '\\',
  '..',
  '.',
  '"',
  "'",
  '<',
  '>',
  '`',
  '{',
  '}',
];

function randomKey(random: Random): string {
  // Often one of a few short keys, so PATCH, GET and DELETE meet keys that PUTs created.
  if (random.chance(0.4)) return `fuzz/k${random.int(20)}`;
  const length = random.pick([0, 1, 2, 8, 20, 64, 255, 256, 511, 512, 513, 600]);
  let key = random.chance(0.3) ? 'fuzz/' : '';
  while (key.length < length) {
    key += random.chance(0.5) ? random.pick(UNICODE) : String.fromCharCode(33 + random.int(94));
  }
  return Array.from(key).slice(0, length).join('');
}

function keyPath(random: Random, key: string): string {
  const roll = random.next();
  if (roll < 0.5) return `/api/kv/${encodeURIComponent(key)}`;
  if (roll < 0.7) return `/api/kv/${encodeURI(key).replaceAll('?', '%3F').replaceAll('#', '%23')}`;
  // Broken or unusual escapes spliced into an otherwise encoded key.
  const escaped = encodeURIComponent(key);
  const at = random.int(escaped.length + 1);
  return `/api/kv/${escaped.slice(0, at)}${random.pick(BROKEN_ESCAPES)}${escaped.slice(at)}`;
}

function patchBody(random: Random): Buffer {
  const operation = random.pick(['lock', 'unlock', 'increment', 'decrement', 'ttl', 'explode', '', 'LOCK']);
  const value = random.pick<unknown>([
    undefined,
    1,
    -1,
    0,
    1.5,
    1e308,
    -1e308,
    'NaN',
    '1',
    null,
    true,
    [],
    {},
    10 ** 21,
    Number.MAX_SAFE_INTEGER + 2,
    1e-7,
  ]);
  const valid = JSON.stringify(value === undefined ? { operation } : { operation, value });
  const texts = [
    valid,
    valid,
    valid.slice(0, random.int(valid.length)),
    '{',
    '}',
    '[]',
    'null',
    '"lock"',
    '42',
    '{"operation":"increment","value":1e400}',
    '{"operation":"increment","value":-0}',
    '{"operation":"increment","value":1,"extra":true}',
    '{"operation":"lock","__proto__":{"admin":true}}',
    '{"constructor":{"prototype":{"polluted":true}},"operation":"lock"}',
    '{"operation":"increment","operation":"lock"}',
    `{"operation":"${'x'.repeat(70_000)}"}`,
    '['.repeat(5000) + ']'.repeat(5000),
    `{"a":${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}}`,
    '\ufeff{"operation":"lock"}',
    "{'operation':'lock'}",
    '{"operation":"lock",}',
    'NaN',
  ];
  if (random.chance(0.1)) return random.bytes(random.int(300));
  return Buffer.from(random.pick(texts));
}

const TXN_OPS = ['get', 'put', 'delete', 'increment', 'decrement', 'GET', 'explode', '', 'lock'];
const TXN_VALUES: unknown[] = [
  undefined,
  'text',
  '',
  1,
  -1,
  0,
  1.5,
  Number.MAX_VALUE,
  '1',
  null,
  true,
  [],
  {},
  'x'.repeat(70_000),
  'é🔑',
];

/** One compare or op of a transaction: usually well-formed, sometimes with a wrong type or an extra field. */
function txnItem(random: Random, kind: 'compare' | 'op'): unknown {
  const key = random.chance(0.9)
    ? randomKey(random)
    : random.pick<unknown>([42, null, '', 'x'.repeat(2000), ['fuzz/k1'], { key: 'fuzz/k1' }]);
  const item: Record<string, unknown> =
    kind === 'compare'
      ? {
          key,
          ...random.pick<Record<string, unknown>>([
            { etag: '"x"' },
            { etag: 'W/"x"' },
            { exists: true },
            { exists: false },
            { value: '1' },
            { valueBase64: 'AAEC' },
            { valueBase64: '!!!' },
            {},
            { etag: '"x"', exists: true },
            { exists: 'yes' },
          ]),
        }
      : { op: random.pick(TXN_OPS), key };
  if (kind === 'op' && random.chance(0.6)) item.value = random.pick(TXN_VALUES);
  if (kind === 'op' && random.chance(0.1)) item.valueBase64 = random.pick(['AAEC', '', '====', 'not base64!', 'QUJD']);
  if (kind === 'op' && random.chance(0.15)) item.contentType = random.pick(CONTENT_TYPES);
  if (kind === 'op' && random.chance(0.15)) item.ttl = random.pick<unknown>([1, 0, -1, 1.5, '60', 1e12, null]);
  if (random.chance(0.05)) item.extra = true;
  if (random.chance(0.03)) return random.pick<unknown>([null, 'get', 42, [], [item]]);
  return item;
}

/** A transaction body: well-formed and small most of the time, otherwise odd, oversized or broken JSON. */
function txnBody(random: Random): Buffer {
  const list = (kind: 'compare' | 'op') =>
    Array.from({ length: random.pick([0, 1, 2, 3, 5, 30, 65]) }, () => txnItem(random, kind));
  const body: Record<string, unknown> = {};
  if (random.chance(0.5)) body.compare = list('compare');
  if (random.chance(0.8)) body.success = list('op');
  if (random.chance(0.4)) body.failure = list('op');
  if (random.chance(0.05)) body.success = random.pick<unknown>([null, {}, 'put', 1]);
  if (random.chance(0.05)) body.extra = 1;
  const valid = JSON.stringify(body);
  const texts = [
    valid,
    valid,
    valid,
    valid.slice(0, random.int(valid.length)),
    '{}',
    '[]',
    'null',
    '{"success":[{"op":"put","key":"fuzz/k1","value":"a"},{"op":"put","key":"fuzz/k1","value":"b"}]}',
    `{"success":[${Array.from({ length: 64 }, (_, i) => `{"op":"get","key":"fuzz/k${i}"}`).join(',')}],"compare":[{"key":"a","exists":true}]}`,
    '{"success":[{"op":"put","key":"fuzz/k1","value":"a","__proto__":{"admin":true}}]}',
    '{"success":[{"op":"increment","key":"fuzz/k1","value":1e400}]}',
    `{"success":${'['.repeat(3000)}${']'.repeat(3000)}}`,
    `{"success":[{"op":"put","key":"fuzz/big","value":"${'v'.repeat(MAX_VALUE_BYTES)}"}]}`,
  ];
  if (random.chance(0.05)) return random.bytes(random.int(300));
  return Buffer.from(random.pick(texts));
}

/** A request an HTTP client can still send: odd, but well-formed at the protocol level. */
function clientRequest(random: Random, auth: string[], valid: string): FuzzRequest {
  const method = random.chance(0.85) ? random.pick(METHODS) : random.pick(ODD_METHODS);
  const onTxn = method === 'POST' ? random.chance(0.8) : random.chance(0.03);
  const onKey = !onTxn && random.chance(0.75);
  let path = onTxn ? '/api/txn' : onKey ? keyPath(random, randomKey(random)) : random.pick(PATHS);
  if (random.chance(0.3)) path += random.pick(QUERIES);
  const headers: Record<string, string> = {};
  const authorization = random.chance(0.6) ? `Bearer ${valid}` : random.pick(auth);
  if (authorization !== '') headers.authorization = authorization;
  let body: Buffer | undefined;
  if (onTxn) {
    body = txnBody(random);
    if (random.chance(0.9))
      headers['content-type'] = random.chance(0.8) ? 'application/json' : random.pick(CONTENT_TYPES);
  } else if (method === 'PATCH') {
    body = patchBody(random);
    headers['content-type'] = random.chance(0.7) ? 'application/json' : random.pick(CONTENT_TYPES);
  } else if (method === 'PUT' || method === 'POST' || random.chance(0.05)) {
    const size = random.pick([0, 1, 3, 100, 1024, 4096, MAX_VALUE_BYTES - 1, MAX_VALUE_BYTES, MAX_VALUE_BYTES + 1]);
    const roll = random.next();
    body =
      roll < 0.2
        ? Buffer.from(String(random.int(1000) - 500))
        : roll < 0.3
          ? Buffer.concat([random.bytes(size), Buffer.alloc(3)])
          : random.bytes(size);
    if (random.chance(0.8)) headers['content-type'] = random.pick(CONTENT_TYPES);
  }
  if (random.chance(0.1)) headers['content-encoding'] = random.pick(ENCODINGS);
  if (random.chance(0.1))
    headers['if-match'] = random.pick(['*', '"x"', 'W/"x"', '"', '""', ',,,', `"${'e'.repeat(2000)}"`, '*, "a"']);
  if (random.chance(0.1)) headers['if-none-match'] = random.pick(['*', '"x"', 'W/"x"', '"', 'garbage', '*,*']);
  if (random.chance(0.05)) headers['last-event-id'] = random.pick(['0', '-1', 'abc', '99999999999999999999', '']);
  if (random.chance(0.05))
    headers.accept = random.pick(['text/event-stream', 'application/json', '*/*;q=0', 'garbage/', '']);
  if (random.chance(0.08)) {
    // Near and over the header size limit, in one header or in many.
    const target = MAX_HEADER_BYTES + random.int(2000) - 1500;
    if (random.chance(0.5)) headers['x-filler'] = 'f'.repeat(Math.max(target, 0));
    else for (let i = 0; i * 110 < target; i++) headers[`x-many-${i}`] = 'm'.repeat(100);
  }
  if (random.chance(0.05))
    headers['x-unicode'] = Buffer.from(random.pick(UNICODE.slice(0, 11)).replace('\u0000', 'z'), 'utf8').toString(
      'latin1',
    );
  return { method, path, headers, body };
}

/** Bytes no HTTP client would send: broken request lines, headers, framing and encodings. */
function rawRequest(random: Random, valid: string): string | Buffer {
  const auth = `Authorization: Bearer ${valid}\r\n`;
  const key = `fuzz/raw-${random.int(50)}`;
  const cases: Array<() => string | Buffer> = [
    () => random.bytes(1 + random.int(2000)),
    () => `GET /api/kv/${key} HTTP/1.1\r\nHost: x\r\n${auth}\r\n`,
    () => `GET /api/kv/${key} HTTP/1.0\r\n${auth}\r\n`,
    () => `GET /api/kv/${key}\r\n\r\n`,
    () => `GET /api/kv/${key} HTTP/2.0\r\nHost: x\r\n\r\n`,
    () => `GET /api/kv/${key} HTTP/1.1\r\nHost: x\r\nHost: y\r\n${auth}\r\n`,
    () => `GET http://evil.example/api/kv/${key} HTTP/1.1\r\nHost: x\r\n${auth}\r\n`,
    () => `GET * HTTP/1.1\r\nHost: x\r\n\r\n`,
    () => `OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n`,
    () => `CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n`,
    () => `GET /api/kv/${key} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${auth}\r\n`,
    () => `GET /api/kv/a b c HTTP/1.1\r\nHost: x\r\n${auth}\r\n`,
    () =>
      Buffer.concat([
        Buffer.from('GET /api/kv/'),
        random.bytes(20),
        Buffer.from(` HTTP/1.1\r\nHost: x\r\n${auth}\r\n`),
      ]),
    () => `GET /api/kv/${'é'.repeat(50)} HTTP/1.1\r\nHost: x\r\n${auth}\r\n`,
    () => `GET /api/kv/${key}\u0000 HTTP/1.1\r\nHost: x\r\n${auth}\r\n`,
    () => `GET /api/kv/${key} HTTP/1.1\r\nHost: x\r\nX-Bad\u0000Header: 1\r\n\r\n`,
    () => `GET /api/kv/${key} HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n${auth}\r\n`,
    () => `GET /api/kv/${key} HTTP/1.1\nHost: x\n${auth.replace('\r\n', '\n')}\n`,
    () => `GET /api/kv/${key} HTTP/1.1\r\nHost: x\r\n: empty-name\r\n\r\n`,
    () => `GET /api/kv/${key} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${valid}\u0001\r\n\r\n`,
    () => `PUT /api/kv/${key} HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`,
    () => `PUT /api/kv/${key} HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: -1\r\n\r\nhello`,
    () => `PUT /api/kv/${key} HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 99999999999999999999999\r\n\r\nhello`,
    () => `PUT /api/kv/${key} HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 0x10\r\n\r\nhello`,
    () =>
      `PUT /api/kv/${key} HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    () => `PUT /api/kv/${key} HTTP/1.1\r\nHost: x\r\n${auth}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`,
    () =>
      `PUT /api/kv/${key} HTTP/1.1\r\nHost: x\r\n${auth}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n`,
    () =>
      `PUT /api/kv/${key} HTTP/1.1\r\nHost: x\r\n${auth}Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    () => `PUT /api/kv/${key} HTTP/1.1\r\nHost: x\r\n${auth}Transfer-Encoding: identity\r\n\r\nhello`,
    () =>
      `PUT /api/kv/${key} HTTP/1.1\r\nHost: x\r\n${auth}Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n`,
    () => `PUT /api/kv/${key} HTTP/1.1\r\nHost: x\r\n${auth}Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello`,
    () => `PUT /api/kv/${key} HTTP/1.1\r\nHost: x\r\n${auth}Expect: teapot\r\nContent-Length: 5\r\n\r\nhello`,
    () =>
      `PATCH /api/kv/${key} HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: 10\r\n\r\nnot gzip!!`,
    () =>
      `PATCH /api/kv/${key} HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 30\r\n\r\n{"operation":"lock"}`,
    () =>
      `PATCH /api/kv/${key} HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 4\r\n\r\n{"operation":"lock"}`,
    () =>
      `POST /api/txn HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{"success":[]}`,
    () =>
      `POST /api/txn HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 5\r\n\r\n{"success":[{"op":"get","key":"${key}"}]}`,
    () =>
      `POST /api/txn HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"su\r\nzz\r\n`,
    () =>
      `POST /api/txn HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\n{}`,
    () => `DELETE /api/kv/${key} HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 3\r\n\r\nabc`,
    () => `GET /api/kv/${key} HTTP/1.1\r\nHost: x\r\n${auth}\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\r\n\r\n`,
    () => `HEAD /api/kv/${key} HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`,
    () => `${'GET'.repeat(20)} / HTTP/1.1\r\nHost: x\r\n\r\n`,
    () => `GET /${'a'.repeat(MAX_HEADER_BYTES + 100)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    () => `GET /health HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 2000 }, (_, i) => `X-${i}: y\r\n`).join('')}\r\n`,
  ];
  return random.pick(cases)();
}

function describeRequest(request: FuzzRequest): string {
  const headers = Object.entries(request.headers).map(
    ([name, value]) => `${name}: ${value.length > 80 ? `${value.slice(0, 80)}…(${value.length})` : value}`,
  );
  const body =
    request.body === undefined
      ? ''
      : ` body ${request.body.length} bytes ${JSON.stringify(request.body.subarray(0, 80).toString('latin1'))}`;
  return `${request.method} ${request.path.length > 200 ? `${request.path.slice(0, 200)}…` : request.path} [${headers.join('; ')}]${body}`;
}

/** Sends one request over a keep-alive agent; resolves with its status (a stream's headers are enough). */
function send(agent: http.Agent, port: number, request: FuzzRequest): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = http.request({
      host: '127.0.0.1',
      port,
      agent,
      method: request.method,
      path: request.path,
      headers: request.headers,
      timeout: 10_000,
    });
    outgoing.on('timeout', () => outgoing.destroy(new Error('no answer in 10 s')));
    outgoing.on('error', reject);
    outgoing.on('response', (response) => {
      const status = response.statusCode ?? 0;
      if (String(response.headers['content-type']).startsWith('text/event-stream')) {
        response.destroy();
        resolve({ status, body: '(stream)' });
        return;
      }
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status, body: Buffer.concat(chunks).toString('utf8').slice(0, 300) }));
      response.on('error', reject);
    });
    outgoing.end(request.body);
  });
}

/** Keys written by well-formed requests; the fuzz never names them (its keys differ in shape). */
class Sentinels {
  readonly values = new Map<string, Buffer>();
  #next = 0;

  constructor(private readonly target: TestLucid) {}

  async write(count: number, random: Random): Promise<void> {
    for (let i = 0; i < count; i++) {
      const key = `sentinel-${this.#next++}`;
      const value = Buffer.concat([
        random.bytes(1 + random.int(2000)),
        random.chance(0.3) ? Buffer.alloc(2) : Buffer.alloc(0),
      ]);
      const response = await this.target.request(`/api/kv/${key}`, {
        method: 'PUT',
        body: new Uint8Array(value),
        headers: { 'content-type': 'application/octet-stream' },
      });
      expect(response.status).toBe(201);
      await response.arrayBuffer();
      this.values.set(key, value);
    }
  }

  async damaged(): Promise<string[]> {
    const problems: string[] = [];
    for (const [key, value] of this.values) {
      const response = await this.target.request(`/api/kv/${key}`);
      const stored = Buffer.from(await response.arrayBuffer());
      if (response.status !== 200 || !stored.equals(value))
        problems.push(`${key}: ${response.status}, ${stored.length} bytes, wrote ${value.length}`);
    }
    return problems;
  }
}

/** Counters that well-formed transfers move amounts between; refused transfers must apply none of their writes. */
interface Transfer {
  from: number;
  to: number;
  amount: number;
  refuse: boolean;
}

class Ledger {
  static readonly ACCOUNTS = 4;
  static readonly START = 1000;
  transfers = 0;
  refused = 0;

  constructor(private readonly target: TestLucid) {}

  async open(): Promise<void> {
    for (let i = 0; i < Ledger.ACCOUNTS; i++) {
      const response = await this.target.request(`/api/kv/ledger/${i}`, {
        method: 'PUT',
        body: String(Ledger.START),
        headers: { 'content-type': 'text/plain' },
      });
      expect(response.status).toBe(201);
      await response.arrayBuffer();
    }
  }

  /** A transfer of a random amount; one in four also increments a missing key, so the whole transaction is refused. */
  static plan(random: Random): Transfer {
    const from = random.int(Ledger.ACCOUNTS);
    const to = (from + 1 + random.int(Ledger.ACCOUNTS - 1)) % Ledger.ACCOUNTS;
    return { from, to, amount: 1 + random.int(50), refuse: random.chance(0.25) };
  }

  /** Sends `transfer`: 200 when it applies, 404 (and nothing applied) when it is one to refuse. */
  async transfer({ from, to, amount, refuse }: Transfer): Promise<void> {
    const success = [
      { op: 'decrement', key: `ledger/${from}`, value: amount },
      { op: 'increment', key: `ledger/${to}`, value: amount },
      ...(refuse ? [{ op: 'increment', key: 'ledger/missing' }] : []),
    ];
    const response = await this.target.request('/api/txn', {
      method: 'POST',
      body: JSON.stringify({ compare: [{ key: `ledger/${from}`, exists: true }], success }),
      headers: { 'content-type': 'application/json' },
    });
    await response.arrayBuffer();
    expect(response.status).toBe(refuse ? 404 : 200);
    if (refuse) this.refused += 1;
    else this.transfers += 1;
  }

  async total(): Promise<number> {
    const response = await this.target.request('/api/txn', {
      method: 'POST',
      body: JSON.stringify({
        success: Array.from({ length: Ledger.ACCOUNTS }, (_, i) => ({ op: 'get', key: `ledger/${i}` })),
      }),
      headers: { 'content-type': 'application/json' },
    });
    const { results } = (await response.json()) as { results: Array<{ value: string }> };
    return results.reduce((sum, result) => sum + Number(result.value), 0);
  }
}

describe('fuzzing the HTTP API', () => {
  it(
    `answers ${REQUESTS} random and malformed requests without a 5xx, stays up with bounded memory, and keeps well-formed writes intact`,
    { timeout: 180_000 },
    async () => {
      const seed =
        process.env.LUCID_FUZZ_SEED === undefined ? randomBytes(4).readUInt32LE() : Number(process.env.LUCID_FUZZ_SEED);
      const random = prng(seed);
      const auth = authorizations(lucid.config.auth.secret, lucid.token);
      const sentinels = new Sentinels(lucid);
      const ledger = new Ledger(lucid);
      const failures: Failure[] = [];
      const statuses = new Map<number, number>();
      let sent = 0;
      let raw = 0;
      let closedWithoutAnswer = 0;
      const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);

      await sentinels.write(50, random);
      await ledger.open();
      const heapBefore = heapAfterGc();
      const rssBefore = process.memoryUsage().rss;
      const started = Date.now();
      for (let from = 0; from < REQUESTS; from += CHECK_EVERY) {
        // Each batch is generated up front from the one seeded stream, so a run replays whatever the workers' timing.
        const batch = Array.from(
          { length: Math.min(CHECK_EVERY, REQUESTS - from) },
          (): { raw: string | Buffer } | { request: FuzzRequest } =>
            random.chance(0.15)
              ? { raw: rawRequest(random, lucid.token) }
              : { request: clientRequest(random, auth, lucid.token) },
        );
        let index = 0;
        const worker = async () => {
          const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
          try {
            for (let item = batch[index++]; item !== undefined; item = batch[index++]) {
              sent += 1;
              if ('raw' in item) {
                raw += 1;
                const exchange = await rawExchange(lucid.port, [item.raw], {
                  waitMs: 1000,
                  doneWhen: completeResponse,
                });
                if (exchange.status === undefined) closedWithoutAnswer += 1;
                else count(exchange.status);
                const statuses = [...exchange.reply.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((match) =>
                  Number(match[1]),
                );
                if (statuses.some((status) => status >= 500)) {
                  failures.push({
                    request: `raw ${JSON.stringify(item.raw.toString('latin1').slice(0, 300))}`,
                    status: Math.max(...statuses),
                    body: exchange.reply.slice(0, 300),
                  });
                }
                continue;
              }
              try {
                const { status, body } = await send(agent, lucid.port, item.request);
                count(status);
                if (status >= 500) failures.push({ request: describeRequest(item.request), status, body });
              } catch (error) {
                // The server may close a connection it refused (431, 413 mid-body): only a dead server is a failure.
                closedWithoutAnswer += 1;
                if ((error as NodeJS.ErrnoException).code === 'ECONNREFUSED') throw error;
              }
            }
          } finally {
            agent.destroy();
          }
        };
        // Transfers run among the fuzz; their amounts come from the same seeded stream, drawn up front.
        const transfers = Array.from({ length: 100 }, () => Ledger.plan(random));
        const transferring = (async () => {
          for (const transfer of transfers) await ledger.transfer(transfer);
        })();
        await Promise.all([...Array.from({ length: WORKERS }, worker), transferring]);
        // Between batches: the server answers, the sentinels are intact, and more are written.
        const health = await lucid.request('/health');
        expect(health.status).toBe(200);
        await health.arrayBuffer();
        expect(await sentinels.damaged(), `after ${sent} requests (seed ${seed})`).toEqual([]);
        expect(
          await ledger.total(),
          `the ledger's total after ${ledger.transfers} transfers and ${ledger.refused} refused ones (seed ${seed})`,
        ).toBe(Ledger.ACCOUNTS * Ledger.START);
        await sentinels.write(10, random);
      }
      const elapsed = Date.now() - started;
      const rssAfter = process.memoryUsage().rss;
      const heapAfter = heapAfterGc();

      const summary = {
        seed,
        requests: sent,
        raw,
        closedWithoutAnswer,
        seconds: Math.round(elapsed / 100) / 10,
        rssBeforeMiB: Math.round(rssBefore / 2 ** 20),
        rssAfterMiB: Math.round(rssAfter / 2 ** 20),
        heapBeforeMiB: Math.round(heapBefore / 2 ** 20),
        heapAfterMiB: Math.round(heapAfter / 2 ** 20),
        fiveHundreds: failures.length,
        sentinels: sentinels.values.size,
        transfers: ledger.transfers,
        refusedTransfers: ledger.refused,
        statuses: Object.fromEntries([...statuses].sort(([a], [b]) => a - b)),
      };
      console.log(`fuzz: ${JSON.stringify(summary)}`);
      expect(failures.slice(0, 20), `seed ${seed}: ${failures.length} answers were 5xx`).toEqual([]);
      expect(sent).toBeGreaterThanOrEqual(10_000);
      expect(rssAfter - rssBefore, `RSS grew from ${summary.rssBeforeMiB} to ${summary.rssAfterMiB} MiB`).toBeLessThan(
        RSS_GROWTH_LIMIT,
      );
      expect(
        heapAfter - heapBefore,
        `the heap after GC grew from ${summary.heapBeforeMiB} to ${summary.heapAfterMiB} MiB`,
      ).toBeLessThan(HEAP_GROWTH_LIMIT);
      expect(await sentinels.damaged()).toEqual([]);
    },
  );
});

describe('requests the fuzzer found answered 500', () => {
  const patch = (headers: Record<string, string>, body: string | Buffer) =>
    lucid.request('/api/kv/found-by-fuzz', {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', ...headers },
      body: new Uint8Array(Buffer.from(body)),
    });

  it('answers a PATCH body whose Content-Encoding does not match its bytes (gzip, deflate) with 400 JSON', async () => {
    for (const encoding of ['gzip', 'deflate']) {
      const response = await patch({ 'content-encoding': encoding }, '{"operation":"lock"}');
      expect(response.status, encoding).toBe(400);
      expect(await response.json()).toEqual({
        message: 'The request body could not be read: check its Content-Encoding and Content-Length.',
      });
    }
  });

  it('answers an increment or decrement by a number too large for a double (1e400, JSON for Infinity) with 400 JSON, the value unchanged', async () => {
    expect(
      (
        await lucid.request('/api/kv/found-by-fuzz-big', {
          method: 'PUT',
          body: '5',
          headers: { 'content-type': 'text/plain' },
        })
      ).status,
    ).toBeLessThan(300);
    for (const body of ['{"operation":"increment","value":1e400}', '{"operation":"decrement","value":-1e400}']) {
      const response = await lucid.request('/api/kv/found-by-fuzz-big', {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(response.status, body).toBe(400);
      expect(await response.json()).toEqual({ message: expect.stringMatching(/must be a finite number/) });
    }
    expect(await (await lucid.request('/api/kv/found-by-fuzz-big')).text()).toBe('5');
  });

  it('still reads a PATCH body that really is gzip-compressed', async () => {
    expect(
      (
        await lucid.request('/api/kv/found-by-fuzz', {
          method: 'PUT',
          body: '1',
          headers: { 'content-type': 'text/plain' },
        })
      ).status,
    ).toBeLessThan(300);
    const response = await patch({ 'content-encoding': 'gzip' }, gzipSync('{"operation":"increment"}'));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ value: 2 });
  });
});
