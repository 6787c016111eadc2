/* global fetch, setTimeout */
/**
 * Dredd hooks for Lucid's contract gate (run by test/contract/run-dredd.mjs).
 *
 * Dredd makes one transaction per (operation, documented status) and sends each as it is. These
 * hooks set every case up so that the real server really answers the documented status:
 * - every request gets the bearer token (Dredd never sends it), except the 401 cases, which send
 *   none or a bad one;
 * - every transaction works on its own fresh key, seeded with real HTTP PUTs (and locked with a
 *   real PATCH for the 409 cases); 404 cases use a key nobody wrote, 400 cases a key that is too
 *   long, an empty PUT body, a PATCH body that is not JSON, `limit=1001` or `maxDuration=0`;
 * - the spec's example header and query parameters (If-Match, If-None-Match, Last-Event-ID, ttl,
 *   prefix, cursor, token, ...) are placeholders: every setup sets the URI and conditional
 *   headers it needs itself (304: If-None-Match with the real ETag; 412: If-Match with a wrong
 *   one);
 * - 403 cases use tokens minted here with the server's secret (from the config file): a `read`
 *   token for writes, a token with `prefix: team-a/` for keys (and listing prefixes) outside it;
 * - the notification stream gets `maxDuration=1`, so it ends by itself after about a second, and
 *   a key written under its prefix meanwhile must show up in it;
 * - PUT bodies are set here (Dredd ignores examples of octet-stream and wildcard request bodies);
 * - POST /api/txn cases seed their own keys and send their own body; refusals check afterwards
 *   that no key of the transaction changed;
 * - the PUT 413 case sends LIMIT + 1 bytes: the runner starts the server with
 *   LUCID_MAX_VALUE_BYTES (1024) so that the case is one small request;
 * - the 503 cases are sent to a second server whose SQLite files the runner has overwritten in
 *   place, so its store really fails (SQLITE_NOTADB) while the process keeps running;
 * - after each transaction the headers the spec documents for that response are checked, and GET
 *   200 / HEAD 200 are checked byte for byte against what was seeded (Dredd does not check binary
 *   bodies).
 * A transaction that no setup below covers fails loudly (a status added to the spec needs a hook).
 *
 * Dispatch is on method + path template + expected status, never on Dredd's display names.
 * Environment (set by the runner): LUCID_CONTRACT_URL, LUCID_CONTRACT_TOKEN, LUCID_CONTRACT_CONFIG,
 * LUCID_CONTRACT_OUTAGE_URL, LUCID_CONTRACT_MAX_VALUE_BYTES, LUCID_CONTRACT_SPEC,
 * LUCID_CONTRACT_TRANSACTIONS (a file the hooks write the list of Dredd's transactions to).
 */
const { randomBytes } = require('node:crypto');
const { readFileSync, writeFileSync } = require('node:fs');
const path = require('node:path');
const { URL, URLSearchParams } = require('node:url');
const { isDeepStrictEqual } = require('node:util');
const hooks = require('hooks');
const jwt = require('jsonwebtoken');
const YAML = require('yaml');

const env = (name) => {
  const value = process.env[name];
  if (value === undefined || value === '')
    throw new Error(`hooks.cjs: ${name} is not set (run test/contract/run-dredd.mjs)`);
  return value;
};
const BASE_URL = env('LUCID_CONTRACT_URL');
const TOKEN = env('LUCID_CONTRACT_TOKEN');
const CONFIG_FILE = env('LUCID_CONTRACT_CONFIG');
const OUTAGE_URL = env('LUCID_CONTRACT_OUTAGE_URL');
const MAX_VALUE_BYTES = Number(env('LUCID_CONTRACT_MAX_VALUE_BYTES'));
const SPEC_FILE = process.env.LUCID_CONTRACT_SPEC || path.join(__dirname, '../../spec/lucid.yaml');
const TRANSACTIONS_FILE = process.env.LUCID_CONTRACT_TRANSACTIONS;

// ---------------------------------------------------------------------------------------------
// HEAD: Dredd always hands its HTTP library (request) a body, and request throws "HTTP HEAD
// requests MUST NOT include a request body" (apiaryio/dredd#2280). TransactionRunner calls
// `performRequest.default(...)` at request time, so replacing that export here (hooks load in the
// same process and module cache) lets HEAD go out without a body or Content-Length.
// ---------------------------------------------------------------------------------------------
const performRequestModule = require('dredd/build/performRequest');
const requestLibrary = require(
  require.resolve('request', { paths: [path.dirname(require.resolve('dredd/build/performRequest'))] }),
);
const originalPerformRequest = performRequestModule.default;
if (!originalPerformRequest.lucidHeadFix) {
  const patched = function performRequestWithoutHeadBody(uri, transactionRequest, options, callback) {
    if (typeof options === 'function') [options, callback] = [{}, options];
    if (String(transactionRequest.method).toUpperCase() !== 'HEAD')
      return originalPerformRequest(uri, transactionRequest, options, callback);
    const send = options.request || requestLibrary;
    const withoutBody = (httpOptions, cb) => {
      const { body: _body, ...rest } = httpOptions;
      rest.headers = Object.fromEntries(
        Object.entries(rest.headers || {}).filter(([name]) => name.toLowerCase() !== 'content-length'),
      );
      return send(rest, cb);
    };
    return originalPerformRequest(uri, transactionRequest, { ...options, request: withoutBody }, callback);
  };
  patched.lucidHeadFix = true;
  performRequestModule.default = patched;
}

// ---------------------------------------------------------------------------------------------
// The spec: which headers each documented response promises (checked after every transaction).
// ---------------------------------------------------------------------------------------------
const spec = YAML.parse(readFileSync(SPEC_FILE, 'utf8'));
const resolve = (node) => {
  let current = node;
  while (current && typeof current.$ref === 'string') {
    current = current.$ref
      .replace(/^#\//, '')
      .split('/')
      .reduce((parent, part) => parent[part.replace(/~1/g, '/').replace(/~0/g, '~')], spec);
  }
  return current;
};
function documentedHeaders(method, pathTemplate, status) {
  const response = resolve(spec.paths?.[pathTemplate]?.[method.toLowerCase()]?.responses?.[status]);
  return Object.keys(response?.headers ?? {});
}

// ---------------------------------------------------------------------------------------------
// Tokens: the runner's root token (scope admin), and scoped ones minted here with the server's
// own secret (HS256, with `exp`, as the server requires) for the 403 cases.
// ---------------------------------------------------------------------------------------------
const authorization = `Bearer ${TOKEN}`;
const SECRET = YAML.parse(readFileSync(CONFIG_FILE, 'utf8'))?.auth?.secret;
if (typeof SECRET !== 'string' || SECRET === '') throw new Error(`hooks.cjs: ${CONFIG_FILE} holds no auth.secret`);
const mint = (claims) =>
  `Bearer ${jwt.sign(claims, SECRET, { algorithm: 'HS256', subject: 'contract-hooks', expiresIn: 600 })}`;
/** May read everything, write nothing. */
const READ_ONLY = mint({ scope: 'read' });
/** May read and write, but only keys starting with `team-a/`. */
const TEAM_A = mint({ scope: 'write', prefix: 'team-a/' });
const FORBIDDEN_SCOPE = /scope/;
const FORBIDDEN_PREFIX = /not allowed to access this key|limited to keys starting with "team-a\/"/;

// ---------------------------------------------------------------------------------------------
// Real HTTP calls used to set cases up (and to check their effects afterwards).
// ---------------------------------------------------------------------------------------------
const keyPath = (key) => `/api/kv/${encodeURIComponent(key)}`;
let counter = 0;
const freshKey = (label) => `contract-${label}-${process.pid}-${++counter}-${randomBytes(3).toString('hex')}`;
const withQuery = (pathname, query = {}) => {
  const search = new URLSearchParams(Object.entries(query).map(([name, value]) => [name, String(value)])).toString();
  return search ? `${pathname}?${search}` : pathname;
};

async function call(method, uri, { body, contentType, headers: extra } = {}) {
  const headers = { authorization, ...extra };
  if (contentType) headers['content-type'] = contentType;
  const response = await fetch(`${BASE_URL}${uri}`, { method, headers, body });
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
}
/** Creates `key` (optionally with `?ttl=`) and returns its ETag. */
async function seed(key, value, contentType, query) {
  const { status, headers } = await call('PUT', withQuery(keyPath(key), query), { body: value, contentType });
  if (status !== 201) throw new Error(`seeding PUT ${key} answered ${status}, not 201`);
  return headers.get('etag');
}
async function lock(key, leaseSeconds) {
  const body = JSON.stringify(
    leaseSeconds === undefined ? { operation: 'lock' } : { operation: 'lock', value: leaseSeconds },
  );
  const { status } = await call('PATCH', keyPath(key), { body, contentType: 'application/json' });
  if (status !== 200) throw new Error(`locking PATCH ${key} answered ${status}, not 200`);
}
/** After a case: what GET now answers for `key`, checked against what the case should have left. */
async function expectStored(key, expected, problems) {
  const { status, headers, body } = await call('GET', keyPath(key));
  if (status !== 200) {
    problems.push(`GET ${key} afterwards answered ${status}`);
    return headers;
  }
  if (!body.equals(Buffer.from(expected)))
    problems.push(
      `GET ${key} afterwards returned ${JSON.stringify(body.toString('utf8'))}, expected ${JSON.stringify(expected)}`,
    );
  return headers;
}

async function storedAfterwards(key, expected) {
  const problems = [];
  await expectStored(key, expected, problems);
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Transaction helpers.
// ---------------------------------------------------------------------------------------------
function setHeader(transaction, name, value) {
  const headers = transaction.request.headers;
  for (const existing of Object.keys(headers))
    if (existing.toLowerCase() === name.toLowerCase()) delete headers[existing];
  if (value !== undefined) headers[name] = value;
}
/** A request header as Dredd built it from the spec (case-insensitive name), or undefined. */
function getHeader(transaction, name) {
  const headers = transaction.request.headers ?? {};
  const found = Object.keys(headers).find((existing) => existing.toLowerCase() === name.toLowerCase());
  return found === undefined ? undefined : headers[found];
}
/**
 * The request body media type Dredd made this transaction for. PUT's body is declared as
 * application/octet-stream, text/plain and any type: Dredd makes one transaction per concrete type, and
 * each PUT case sends its value with that type, so both are held to every documented status.
 */
const sentType = (transaction) => getHeader(transaction, 'Content-Type') ?? 'application/octet-stream';
/** Sets the request URI: the path and exactly the query given (the spec's example query is dropped). */
function useUri(transaction, pathname, query) {
  transaction.fullPath = withQuery(pathname, query);
  transaction.request.uri = transaction.fullPath;
}
const useKey = (transaction, key, query) => useUri(transaction, keyPath(key), query);
function setBody(transaction, body, contentType) {
  const buffer = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  transaction.request.body = buffer.toString('base64');
  transaction.request.bodyEncoding = 'base64';
  setHeader(transaction, 'Content-Type', contentType);
}
const setOperation = (transaction, operation) => setBody(transaction, JSON.stringify(operation), 'application/json');
function toOutage(transaction) {
  const url = new URL(OUTAGE_URL);
  transaction.protocol = url.protocol;
  transaction.host = url.hostname;
  transaction.port = url.port;
}
/** A 401 case: no Authorization at all, or a token that is not a valid JWT of this server. */
function unauthenticated(transaction, how) {
  setHeader(transaction, 'Authorization', how === 'bad-token' ? 'Bearer not.a-valid.token' : undefined);
}
/** Dredd compares text bodies byte for byte with the spec's example; where that example is only an illustration, the after check looks instead. */
function ignoreExampleBody(transaction) {
  delete transaction.expected.body;
  delete transaction.expected.bodySchema;
}
const TOO_LONG_KEY = 'k'.repeat(513); // the Key parameter allows 1..512 characters
const PUT_VALUE = 'hello world';
const WRONG_ETAG = '"0-not-the-etag"';
const INCREMENT = { operation: 'increment', value: 5 };
const TTL_SECONDS = 3600;
const mediaType = (value) =>
  String(value ?? '')
    .split(';')[0]
    .trim()
    .toLowerCase();
// Bytes that are not UTF-8, so that Dredd hands the GET body over base64-encoded and every byte counts.
const BINARY_VALUE = Buffer.concat([Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x0a, 0x0d]), randomBytes(64)]);

/**
 * GET/HEAD 200 document Lucid-Expires-At, Lucid-Lock-Holder and Lucid-Lock-Expires-At, and Dredd
 * requires every documented header: the key is written with a ttl and locked with a lease, so the
 * answer carries them all.
 */
async function seedFullEntry(label) {
  const key = freshKey(label);
  await seed(key, BINARY_VALUE, 'application/octet-stream', { ttl: TTL_SECONDS });
  await lock(key, 60);
  return key;
}

/** `/` and `/ui` answer the same console page, whose script and stylesheet must load from /ui/assets. */
function consolePage(transaction) {
  ignoreExampleBody(transaction); // the example is a stub of the page
  return {
    after: async (_t, body) => {
      const page = body.toString('utf8');
      const assets = [...page.matchAll(/(?:src|href)="(\/ui\/assets\/[^"]+)"/g)].map((match) => match[1]);
      if (assets.length !== 2)
        return [
          `the page names ${assets.length} assets under /ui/assets, expected a script and a stylesheet (is the console built?)`,
        ];
      const problems = [];
      for (const asset of assets) {
        const response = await fetch(`${BASE_URL}${asset}`);
        await response.arrayBuffer();
        if (response.status !== 200) problems.push(`its asset ${asset} answered ${response.status}`);
        if (!/immutable/.test(response.headers.get('cache-control') ?? ''))
          problems.push(`its asset ${asset} is not cached as immutable`);
      }
      return problems;
    },
  };
}

/**
 * One setup per (method, path, status). Each returns nothing or an object for its `after` check:
 * { value, contentType, head } for GET/HEAD 200 (byte for byte), { json } for fields of a JSON
 * body, { message } a pattern the error message must match, { after(transaction, body) } any
 * other check (it returns a list of problems).
 */
const KV = '/api/kv/{key}';
const TXN = '/api/txn';
const setTxn = (transaction, body) => setBody(transaction, JSON.stringify(body), 'application/json');
const setups = {
  'GET /health 200': () => {},
  'GET /health 503': (t) => toOutage(t),

  // getMetrics: the runner's token has scope admin; the example is an excerpt, so the after check
  // looks for the series Lucid promises, with the requests this run has made already counted.
  'GET /metrics 200': (t) => {
    ignoreExampleBody(t);
    return {
      after: (_t, body) => {
        const text = body.toString('utf8');
        const missing = [
          'lucid_http_requests_total{operation="getHealth",status="200"}',
          'lucid_http_request_duration_seconds_bucket',
          'lucid_keys ',
          'lucid_notification_clients ',
          'lucid_store_errors_total ',
        ].filter((series) => !text.includes(series));
        return missing.length === 0 ? [] : [`the metrics lack ${missing.join(', ')}`];
      },
    };
  },
  'GET /metrics 401': (t) => unauthenticated(t, 'none'),
  'GET /metrics 403': (t) => {
    setHeader(t, 'Authorization', READ_ONLY); // metrics need scope admin
    return { message: FORBIDDEN_SCOPE };
  },

  'GET /openapi.yaml 200': () => ({
    after: (_t, body) =>
      body.equals(readFileSync(SPEC_FILE)) ? [] : ['the body is not spec/lucid.yaml byte for byte'],
  }),
  'GET /openapi.json 200': () => ({
    after: (_t, body) =>
      isDeepStrictEqual(JSON.parse(body.toString('utf8')), spec) ? [] : ['the body is not spec/lucid.yaml as JSON'],
  }),
  'GET /docs 200': (t) => {
    ignoreExampleBody(t); // the example is a stub of the page
    return {
      after: async (_t, body) => {
        const page = body.toString('utf8');
        const problems = [];
        for (const part of [
          '<div id="swagger-ui">',
          '/docs/assets/swagger-ui-bundle.js',
          '/docs/assets/lucid-docs.js',
        ]) {
          if (!page.includes(part)) problems.push(`the page does not contain ${part}`);
        }
        const asset = await fetch(`${BASE_URL}/docs/assets/swagger-ui-bundle.js`);
        await asset.arrayBuffer();
        if (asset.status !== 200) problems.push(`its asset /docs/assets/swagger-ui-bundle.js answered ${asset.status}`);
        return problems;
      },
    };
  },

  // The web console (on by default): the built page, naming its hashed assets, which Lucid serves.
  'GET / 200': (t) => consolePage(t),
  'GET /ui 200': (t) => consolePage(t),

  // listKeys: three keys under a fresh prefix, two per page, so the first page has a cursor.
  'GET /api/kv 200': async (t) => {
    const prefix = `${freshKey('list')}/`;
    const keys = ['a', 'b', 'c'].map((name) => `${prefix}${name}`);
    for (const key of keys) await seed(key, PUT_VALUE, 'text/plain');
    useUri(t, '/api/kv', { prefix, limit: 2 });
    return {
      after: async (_t, body) => {
        const problems = [];
        const page = JSON.parse(body.toString('utf8'));
        const listed = (page.keys ?? []).map((info) => info.key);
        if (!isDeepStrictEqual(listed, keys.slice(0, 2)))
          problems.push(`page 1 lists ${JSON.stringify(listed)}, expected ${JSON.stringify(keys.slice(0, 2))}`);
        if (typeof page.cursor !== 'string') return [...problems, 'page 1 has no cursor'];
        const next = await call('GET', withQuery('/api/kv', { prefix, limit: 2, cursor: page.cursor }));
        const second = JSON.parse(next.body.toString('utf8'));
        const rest = (second.keys ?? []).map((info) => info.key);
        if (next.status !== 200 || !isDeepStrictEqual(rest, keys.slice(2)) || second.cursor !== undefined) {
          problems.push(
            `page 2 answered ${next.status} with ${next.body.toString('utf8')}, expected only ${keys[2]} and no cursor`,
          );
        }
        return problems;
      },
    };
  },
  'GET /api/kv 400': (t) => useUri(t, '/api/kv', { limit: 1001 }),
  'GET /api/kv 401': (t) => {
    useUri(t, '/api/kv', { limit: 10 });
    unauthenticated(t, 'none');
  },
  'GET /api/kv 403': (t) => {
    useUri(t, '/api/kv', { prefix: 'other/' });
    setHeader(t, 'Authorization', TEAM_A);
    return { message: FORBIDDEN_PREFIX };
  },
  'GET /api/kv 503': (t) => {
    useUri(t, '/api/kv', { limit: 10 });
    toOutage(t);
  },

  // streamNotifications: maxDuration=1 ends the stream after about a second; a key written under
  // the stream's prefix meanwhile must arrive as a `created` message.
  'GET /api/notifications 200': (t) => {
    const prefix = `${freshKey('sse')}/`;
    const key = `${prefix}k`;
    useUri(t, '/api/notifications', { prefix, maxDuration: 1 });
    ignoreExampleBody(t); // the example is one sample event; ids and times differ on every run
    const write = new Promise((resolve) => setTimeout(resolve, 300)).then(() => seed(key, PUT_VALUE, 'text/plain'));
    write.catch(() => {}); // reported by the after check
    return {
      after: async (transaction, body) => {
        const problems = [];
        const contentType = transaction.real.headers['content-type'];
        if (mediaType(contentType) !== 'text/event-stream')
          problems.push(`Content-Type ${JSON.stringify(contentType)}, expected text/event-stream`);
        const text = body.toString('utf8');
        if (!text.startsWith('retry:'))
          problems.push(`the stream starts with ${JSON.stringify(text.slice(0, 40))}, not retry:`);
        try {
          await write;
        } catch (error) {
          return [...problems, `the write during the stream failed: ${error.message}`];
        }
        const messages = text
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => JSON.parse(line.slice('data:'.length)));
        if (
          !messages.some((message) => message.type === 'created' && message.key === key && message.value === PUT_VALUE)
        ) {
          problems.push(`no created message for ${key} in the stream: ${JSON.stringify(text)}`);
        }
        return problems;
      },
    };
  },
  'GET /api/notifications 400': (t) => useUri(t, '/api/notifications', { maxDuration: 0 }),
  'GET /api/notifications 401': (t) => {
    // The stream also takes ?token= (for EventSource): a bad one, and no header.
    useUri(t, '/api/notifications', { token: 'not.a-valid.token', maxDuration: 1 });
    unauthenticated(t, 'none');
  },
  'GET /api/notifications 403': (t) => {
    useUri(t, '/api/notifications', { prefix: 'other/', maxDuration: 1 });
    setHeader(t, 'Authorization', TEAM_A);
    return { message: FORBIDDEN_PREFIX };
  },

  // PUT 201 is a create-only write with a ttl: the key must now expire in TTL_SECONDS.
  [`PUT ${KV} 201`]: (t) => {
    const key = freshKey('put-201');
    useKey(t, key, { ttl: TTL_SECONDS });
    setHeader(t, 'If-None-Match', '*');
    setBody(t, PUT_VALUE, sentType(t));
    const sent = Date.now();
    return {
      after: async () => {
        const problems = [];
        const headers = await expectStored(key, PUT_VALUE, problems);
        const expiresAt = Date.parse(headers.get('lucid-expires-at') ?? '');
        const wanted = sent + TTL_SECONDS * 1000;
        if (!(Math.abs(expiresAt - wanted) < 60_000))
          problems.push(
            `Lucid-Expires-At is ${headers.get('lucid-expires-at')}, expected about ${new Date(wanted).toISOString()}`,
          );
        return problems;
      },
    };
  },
  // PUT 200 is a compare-and-swap with the current ETag.
  [`PUT ${KV} 200`]: async (t) => {
    const key = freshKey('put-200');
    const etag = await seed(key, 'old value', 'text/plain');
    useKey(t, key);
    setHeader(t, 'If-Match', etag);
    setBody(t, PUT_VALUE, sentType(t));
    return { after: () => storedAfterwards(key, PUT_VALUE) }; // replaced
  },
  [`PUT ${KV} 400`]: (t) => {
    useKey(t, freshKey('put-400'));
    setBody(t, '', sentType(t)); // an empty value is refused
  },
  [`PUT ${KV} 401`]: (t) => {
    useKey(t, freshKey('put-401'));
    setBody(t, PUT_VALUE, sentType(t));
    unauthenticated(t, 'none');
  },
  [`PUT ${KV} 403`]: async (t) => {
    const key = freshKey('put-403');
    await seed(key, 'old value', 'text/plain');
    useKey(t, key);
    setBody(t, PUT_VALUE, sentType(t));
    setHeader(t, 'Authorization', READ_ONLY);
    return { message: FORBIDDEN_SCOPE };
  },
  [`PUT ${KV} 409`]: async (t) => {
    const key = freshKey('put-409');
    await seed(key, 'locked value', 'text/plain');
    await lock(key);
    useKey(t, key);
    setBody(t, PUT_VALUE, sentType(t));
  },
  [`PUT ${KV} 412`]: async (t) => {
    const key = freshKey('put-412');
    await seed(key, 'old value', 'text/plain');
    useKey(t, key);
    setHeader(t, 'If-Match', WRONG_ETAG);
    setBody(t, PUT_VALUE, sentType(t));
    return { after: () => storedAfterwards(key, 'old value') }; // nothing was changed
  },
  [`PUT ${KV} 413`]: (t) => {
    useKey(t, freshKey('put-413'));
    setBody(t, Buffer.alloc(MAX_VALUE_BYTES + 1, 0x61), sentType(t));
  },
  [`PUT ${KV} 503`]: (t) => {
    useKey(t, freshKey('put-503'));
    setBody(t, PUT_VALUE, sentType(t));
    toOutage(t);
  },

  [`GET ${KV} 200`]: async (t) => {
    useKey(t, await seedFullEntry('get-200'));
    // Dredd cannot compare binary bodies (it would compare against the text example): the
    // after check below compares every byte instead.
    ignoreExampleBody(t);
    return { value: BINARY_VALUE, contentType: 'application/octet-stream' };
  },
  [`GET ${KV} 304`]: async (t) => {
    const key = freshKey('get-304');
    const etag = await seed(key, PUT_VALUE, 'text/plain');
    useKey(t, key);
    setHeader(t, 'If-None-Match', etag);
  },
  [`GET ${KV} 400`]: (t) => useKey(t, TOO_LONG_KEY),
  [`GET ${KV} 401`]: (t) => {
    useKey(t, freshKey('get-401'));
    unauthenticated(t, 'bad-token');
  },
  [`GET ${KV} 403`]: async (t) => {
    const key = freshKey('get-403'); // outside team-a/
    await seed(key, PUT_VALUE, 'text/plain');
    useKey(t, key);
    setHeader(t, 'Authorization', TEAM_A);
    return { message: FORBIDDEN_PREFIX };
  },
  [`GET ${KV} 404`]: (t) => useKey(t, freshKey('get-404-missing')),
  [`GET ${KV} 503`]: (t) => {
    useKey(t, freshKey('get-503'));
    toOutage(t);
  },

  [`HEAD ${KV} 200`]: async (t) => {
    useKey(t, await seedFullEntry('head-200'));
    return { value: BINARY_VALUE, contentType: 'application/octet-stream', head: true };
  },
  [`HEAD ${KV} 304`]: async (t) => {
    const key = freshKey('head-304');
    const etag = await seed(key, PUT_VALUE, 'text/plain');
    useKey(t, key);
    setHeader(t, 'If-None-Match', etag);
  },
  [`HEAD ${KV} 400`]: (t) => useKey(t, TOO_LONG_KEY),
  [`HEAD ${KV} 401`]: (t) => {
    useKey(t, freshKey('head-401'));
    unauthenticated(t, 'none');
  },
  [`HEAD ${KV} 403`]: async (t) => {
    const key = freshKey('head-403'); // outside team-a/
    await seed(key, PUT_VALUE, 'text/plain');
    useKey(t, key);
    setHeader(t, 'Authorization', TEAM_A);
  },
  [`HEAD ${KV} 404`]: (t) => useKey(t, freshKey('head-404-missing')),
  [`HEAD ${KV} 503`]: (t) => {
    useKey(t, freshKey('head-503'));
    toOutage(t);
  },

  // DELETE 200 is conditional on the current ETag.
  [`DELETE ${KV} 200`]: async (t) => {
    const key = freshKey('delete-200');
    const etag = await seed(key, PUT_VALUE, 'text/plain');
    useKey(t, key);
    setHeader(t, 'If-Match', etag);
    return {
      after: async () => {
        const { status } = await call('GET', keyPath(key));
        return status === 404 ? [] : [`GET ${key} afterwards answered ${status}, not 404`];
      },
    };
  },
  [`DELETE ${KV} 400`]: (t) => useKey(t, TOO_LONG_KEY),
  [`DELETE ${KV} 401`]: (t) => {
    useKey(t, freshKey('delete-401'));
    unauthenticated(t, 'bad-token');
  },
  [`DELETE ${KV} 403`]: async (t) => {
    const key = freshKey('delete-403'); // outside team-a/: a write token, but the wrong prefix
    await seed(key, PUT_VALUE, 'text/plain');
    useKey(t, key);
    setHeader(t, 'Authorization', TEAM_A);
    return { message: FORBIDDEN_PREFIX, after: () => storedAfterwards(key, PUT_VALUE) }; // not deleted
  },
  [`DELETE ${KV} 404`]: (t) => useKey(t, freshKey('delete-404-missing')),
  [`DELETE ${KV} 409`]: async (t) => {
    const key = freshKey('delete-409');
    await seed(key, PUT_VALUE, 'text/plain');
    await lock(key);
    useKey(t, key);
  },
  [`DELETE ${KV} 412`]: async (t) => {
    const key = freshKey('delete-412');
    await seed(key, PUT_VALUE, 'text/plain');
    useKey(t, key);
    setHeader(t, 'If-Match', WRONG_ETAG);
    return { after: () => storedAfterwards(key, PUT_VALUE) }; // still there
  },
  [`DELETE ${KV} 503`]: (t) => {
    useKey(t, freshKey('delete-503'));
    toOutage(t);
  },

  // PATCH: Dredd sends the first example of the spec ({"operation":"increment","value":5}); the
  // hooks set it explicitly. PATCH 200 is conditional on the current ETag.
  [`PATCH ${KV} 200`]: async (t) => {
    const key = freshKey('patch-200');
    const etag = await seed(key, '37', 'text/plain');
    useKey(t, key);
    setHeader(t, 'If-Match', etag);
    setOperation(t, INCREMENT);
    return { json: { value: 42 } };
  },
  [`PATCH ${KV} 400`]: async (t) => {
    const key = freshKey('patch-400');
    await seed(key, '37', 'text/plain');
    useKey(t, key);
    setBody(t, '{"operation": "increment", ', 'application/json'); // not JSON
  },
  [`PATCH ${KV} 401`]: (t) => {
    useKey(t, freshKey('patch-401'));
    setOperation(t, INCREMENT);
    unauthenticated(t, 'none');
  },
  [`PATCH ${KV} 403`]: async (t) => {
    const key = freshKey('patch-403');
    await seed(key, '37', 'text/plain');
    useKey(t, key);
    setOperation(t, INCREMENT);
    setHeader(t, 'Authorization', READ_ONLY);
    return { message: FORBIDDEN_SCOPE };
  },
  [`PATCH ${KV} 404`]: (t) => {
    useKey(t, freshKey('patch-404-missing'));
    setOperation(t, INCREMENT);
  },
  [`PATCH ${KV} 409`]: async (t) => {
    const key = freshKey('patch-409');
    await seed(key, '37', 'text/plain');
    await lock(key);
    useKey(t, key);
    setOperation(t, INCREMENT);
  },
  [`PATCH ${KV} 412`]: async (t) => {
    const key = freshKey('patch-412');
    await seed(key, '37', 'text/plain');
    useKey(t, key);
    setHeader(t, 'If-Match', WRONG_ETAG);
    setOperation(t, INCREMENT);
    return { after: () => storedAfterwards(key, '37') }; // not incremented
  },
  [`PATCH ${KV} 503`]: (t) => {
    useKey(t, freshKey('patch-503'));
    setOperation(t, INCREMENT);
    toOutage(t);
  },

  // POST /api/txn: each case seeds its own keys and sends its own body (Dredd would send the
  // spec's first example, whose keys and ETag are illustrations).
  [`POST ${TXN} 200`]: async (t) => {
    const [a, b, log] = [freshKey('txn-200-a'), freshKey('txn-200-b'), freshKey('txn-200-log')];
    const etag = await seed(a, '37', 'text/plain');
    await seed(b, '7', 'text/plain');
    setTxn(t, {
      compare: [
        { key: a, etag },
        { key: b, exists: true },
      ],
      success: [
        { op: 'decrement', key: a, value: 5 },
        { op: 'increment', key: b, value: 5 },
        { op: 'put', key: log, value: 'moved 5', contentType: 'text/plain', ttl: 3600 },
      ],
      failure: [{ op: 'get', key: a }],
    });
    return {
      json: { succeeded: true },
      after: async () => [
        ...(await storedAfterwards(a, '32')),
        ...(await storedAfterwards(b, '12')),
        ...(await storedAfterwards(log, 'moved 5')),
      ],
    };
  },
  [`POST ${TXN} 400`]: async (t) => {
    const [a, text] = [freshKey('txn-400-a'), freshKey('txn-400-text')];
    await seed(a, '1', 'text/plain');
    await seed(text, 'not a number', 'text/plain');
    setTxn(t, {
      success: [
        { op: 'increment', key: a },
        { op: 'increment', key: text },
      ],
    });
    return { json: { key: text }, after: () => storedAfterwards(a, '1') }; // refused whole: a untouched
  },
  [`POST ${TXN} 401`]: (t) => {
    setTxn(t, { success: [{ op: 'get', key: freshKey('txn-401') }] });
    unauthenticated(t, 'bad-token');
  },
  [`POST ${TXN} 403`]: async (t) => {
    const key = freshKey('txn-403');
    await seed(key, '1', 'text/plain');
    setTxn(t, {
      success: [
        { op: 'get', key },
        { op: 'increment', key },
      ],
    });
    setHeader(t, 'Authorization', READ_ONLY);
    return { message: FORBIDDEN_SCOPE, after: () => storedAfterwards(key, '1') };
  },
  [`POST ${TXN} 404`]: async (t) => {
    const [a, missing] = [freshKey('txn-404-a'), freshKey('txn-404-missing')];
    await seed(a, '1', 'text/plain');
    setTxn(t, {
      success: [
        { op: 'increment', key: a },
        { op: 'decrement', key: missing },
      ],
    });
    return { json: { key: missing }, after: () => storedAfterwards(a, '1') };
  },
  [`POST ${TXN} 409`]: async (t) => {
    const [a, locked] = [freshKey('txn-409-a'), freshKey('txn-409-locked')];
    await seed(a, '1', 'text/plain');
    await seed(locked, 'held', 'text/plain');
    await lock(locked);
    setTxn(t, {
      success: [
        { op: 'increment', key: a },
        { op: 'put', key: locked, value: 'changed' },
      ],
    });
    return {
      json: { key: locked },
      after: async () => [...(await storedAfterwards(a, '1')), ...(await storedAfterwards(locked, 'held'))],
    };
  },
  [`POST ${TXN} 413`]: (t) => {
    const key = freshKey('txn-413');
    setTxn(t, { success: [{ op: 'put', key, value: 'x'.repeat(MAX_VALUE_BYTES + 1) }] });
    return { after: async () => ((await call('GET', keyPath(key))).status === 404 ? [] : [`${key} was written`]) };
  },
  [`POST ${TXN} 503`]: (t) => {
    setTxn(t, { success: [{ op: 'get', key: freshKey('txn-503') }] });
    toOutage(t);
  },
};

const caseOf = (transaction) => {
  const method = String(transaction.request.method).toUpperCase();
  const pathTemplate = transaction.origin.resourceName;
  const status = String(transaction.expected.statusCode);
  return { method, pathTemplate, status, id: `${method} ${pathTemplate} ${status}` };
};
/** The case and, for an operation with a request body, the media type Dredd sends it as (run-dredd.mjs counts these). */
const transactionId = (transaction) => {
  const type = getHeader(transaction, 'Content-Type');
  return type === undefined ? caseOf(transaction).id : `${caseOf(transaction).id} ${type}`;
};

// What each transaction's after check needs, by transaction name.
const checks = new Map();

hooks.beforeAll((transactions, done) => {
  if (TRANSACTIONS_FILE) {
    const list = transactions.map(transactionId);
    writeFileSync(TRANSACTIONS_FILE, `${JSON.stringify(list, null, 2)}\n`);
  }
  done();
});

hooks.beforeEach((transaction, done) => {
  const { method, status, id } = caseOf(transaction);
  const setup = setups[id];
  if (setup === undefined) {
    transaction.fail = `no setup in test/contract/hooks.cjs for ${id}: add one so the server really answers ${status}`;
    done();
    return;
  }
  // Dredd never sends the token; setups for 401 and 403 cases replace it.
  setHeader(transaction, 'Authorization', authorization);
  // The spec's example headers and query are placeholders (an If-Match of no real key, an unknown
  // Last-Event-ID, a made-up ?token=): setups set what their case needs.
  for (const name of ['If-Match', 'If-None-Match', 'Last-Event-ID']) setHeader(transaction, name, undefined);
  useUri(transaction, transaction.request.uri.split('?')[0]);
  if (method !== 'PUT' && method !== 'PATCH' && method !== 'POST') {
    transaction.request.body = '';
    setHeader(transaction, 'Content-Type', undefined);
  }
  if (method === 'HEAD' || status === '304') {
    // HEAD and 304 responses never have a body (RFC 9110 §9.3.2, §15.4.5): the JSON the shared
    // error responses document is what GET would send, so only the status and headers count.
    ignoreExampleBody(transaction);
  }
  Promise.resolve()
    .then(() => setup(transaction))
    .then(
      (check) => {
        checks.set(transaction.name, check ?? {});
        done();
      },
      (error) => {
        transaction.fail = `setup for ${id} failed: ${error.message}`;
        done();
      },
    );
});

/**
 * Gavel compares Content-Type as an exact string, so `application/json; charset=utf-8` (what Lucid
 * sends) would not match the spec's `application/json`. A media type's parameters do not change
 * the type (and JSON defines no charset parameter, RFC 8259 §11), so the comparison here is on
 * type/subtype: when they are equal the expectation takes the real header; otherwise Gavel
 * reports the mismatch as usual.
 */
hooks.beforeEachValidation((transaction, done) => {
  const expected = transaction.expected.headers ?? {};
  const real = transaction.real?.headers?.['content-type'];
  for (const name of Object.keys(expected)) {
    if (name.toLowerCase() === 'content-type' && real !== undefined && mediaType(expected[name]) === mediaType(real))
      expected[name] = real;
  }
  done();
});

function realBody(transaction) {
  const { body, bodyEncoding } = transaction.real ?? {};
  if (body === undefined || body === null) return Buffer.alloc(0);
  return Buffer.from(body, bodyEncoding === 'base64' ? 'base64' : 'utf8');
}

/** The problems with a transaction that Dredd's own validation does not look for. */
async function problemsOf(transaction) {
  const { method, pathTemplate, status } = caseOf(transaction);
  const headers = transaction.real.headers ?? {};
  const body = realBody(transaction);
  const problems = [];
  if (String(transaction.real.statusCode) !== status)
    problems.push(`status ${transaction.real.statusCode}, expected ${status}`);
  for (const name of documentedHeaders(method, pathTemplate, status)) {
    if (headers[name.toLowerCase()] === undefined) problems.push(`documented header ${name} is missing`);
  }
  if (status === '401' && !/^Bearer\b/.test(headers['www-authenticate'] ?? '')) {
    problems.push(`WWW-Authenticate should be a Bearer challenge, got ${JSON.stringify(headers['www-authenticate'])}`);
  }
  if (problems.length > 0) return problems; // the case did not happen: its specific checks would only add noise
  const check = checks.get(transaction.name) ?? {};
  if (check.value !== undefined) {
    if (headers['content-type'] !== check.contentType)
      problems.push(`Content-Type ${JSON.stringify(headers['content-type'])}, stored as ${check.contentType}`);
    if (headers['content-length'] !== String(check.value.length))
      problems.push(`Content-Length ${headers['content-length']}, the value has ${check.value.length} bytes`);
    if (!check.head && !body.equals(check.value)) {
      problems.push(
        `the body is not the stored value byte for byte (${body.length} bytes received, ${check.value.length} stored)`,
      );
    }
  }
  if (check.json !== undefined || check.message !== undefined) {
    let parsed;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      parsed = undefined;
    }
    for (const [name, expected] of Object.entries(check.json ?? {})) {
      if (parsed?.[name] !== expected)
        problems.push(`body.${name} is ${JSON.stringify(parsed?.[name])}, expected ${JSON.stringify(expected)}`);
    }
    if (check.message !== undefined && !check.message.test(String(parsed?.message))) {
      problems.push(
        `the message ${JSON.stringify(parsed?.message)} does not match ${check.message} (403 for another reason?)`,
      );
    }
  }
  if (check.after !== undefined) problems.push(...(await check.after(transaction, body)));
  return problems;
}

hooks.afterEach((transaction, done) => {
  if (!transaction.real) {
    done();
    return;
  }
  const { id } = caseOf(transaction);
  Promise.resolve()
    .then(() => problemsOf(transaction))
    .catch((error) => [`the after check threw: ${error.message}`])
    .then((problems) => {
      if (problems.length > 0) transaction.fail = `${id}: ${problems.join('; ')}`;
      done();
    });
});
