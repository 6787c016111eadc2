/* global fetch */
/**
 * Dredd hooks for Lucid's contract gate (run by test/contract/run-dredd.mjs).
 *
 * Dredd makes one transaction per (operation, documented status) and sends each as it is. These
 * hooks set every case up so that the real server really answers the documented status:
 * - every request gets the bearer token (Dredd never sends it), except the 401 cases, which send
 *   none or a bad one;
 * - every transaction works on its own fresh key, seeded with real HTTP PUTs (and locked with a
 *   real PATCH for the 409 cases); 404 cases use a key nobody wrote, 400 cases a key that is too
 *   long, an empty PUT body or a PATCH body that is not JSON;
 * - PUT bodies are set here (Dredd ignores examples of octet-stream and wildcard request bodies);
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
 * Environment (set by the runner): LUCID_CONTRACT_URL, LUCID_CONTRACT_TOKEN,
 * LUCID_CONTRACT_OUTAGE_URL, LUCID_CONTRACT_MAX_VALUE_BYTES, LUCID_CONTRACT_SPEC,
 * LUCID_CONTRACT_TRANSACTIONS (a file the hooks write the list of Dredd's transactions to).
 */
const { randomBytes } = require('node:crypto');
const { readFileSync, writeFileSync } = require('node:fs');
const path = require('node:path');
const { URL } = require('node:url');
const hooks = require('hooks');
const YAML = require('yaml');

const env = (name) => {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`hooks.cjs: ${name} is not set (run test/contract/run-dredd.mjs)`);
  return value;
};
const BASE_URL = env('LUCID_CONTRACT_URL');
const TOKEN = env('LUCID_CONTRACT_TOKEN');
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
const requestLibrary = require(require.resolve('request', { paths: [path.dirname(require.resolve('dredd/build/performRequest'))] }));
const originalPerformRequest = performRequestModule.default;
if (!originalPerformRequest.lucidHeadFix) {
  const patched = function performRequestWithoutHeadBody(uri, transactionRequest, options, callback) {
    if (typeof options === 'function') [options, callback] = [{}, options];
    if (String(transactionRequest.method).toUpperCase() !== 'HEAD') return originalPerformRequest(uri, transactionRequest, options, callback);
    const send = options.request || requestLibrary;
    const withoutBody = (httpOptions, cb) => {
      const { body: _body, ...rest } = httpOptions;
      rest.headers = Object.fromEntries(Object.entries(rest.headers || {}).filter(([name]) => name.toLowerCase() !== 'content-length'));
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
// Real HTTP calls used to set cases up.
// ---------------------------------------------------------------------------------------------
const authorization = `Bearer ${TOKEN}`;
const keyPath = (key) => `/api/kv/${encodeURIComponent(key)}`;
let counter = 0;
const freshKey = (label) => `contract-${label}-${process.pid}-${++counter}-${randomBytes(3).toString('hex')}`;

async function call(method, key, { body, contentType } = {}) {
  const headers = { authorization };
  if (contentType) headers['content-type'] = contentType;
  const response = await fetch(`${BASE_URL}${keyPath(key)}`, { method, headers, body });
  await response.arrayBuffer();
  return response.status;
}
async function seed(key, value, contentType) {
  const status = await call('PUT', key, { body: value, contentType });
  if (status !== 201) throw new Error(`seeding PUT ${key} answered ${status}, not 201`);
}
async function lock(key) {
  const status = await call('PATCH', key, { body: JSON.stringify({ operation: 'lock' }), contentType: 'application/json' });
  if (status !== 200) throw new Error(`locking PATCH ${key} answered ${status}, not 200`);
}

// ---------------------------------------------------------------------------------------------
// Transaction helpers.
// ---------------------------------------------------------------------------------------------
function setHeader(transaction, name, value) {
  const headers = transaction.request.headers;
  for (const existing of Object.keys(headers)) if (existing.toLowerCase() === name.toLowerCase()) delete headers[existing];
  if (value !== undefined) headers[name] = value;
}
function useKey(transaction, key) {
  transaction.fullPath = keyPath(key);
  transaction.request.uri = keyPath(key);
}
function setBody(transaction, body, contentType) {
  const buffer = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  transaction.request.body = buffer.toString('base64');
  transaction.request.bodyEncoding = 'base64';
  setHeader(transaction, 'Content-Type', contentType);
}
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
const TOO_LONG_KEY = 'k'.repeat(513); // the Key parameter allows 1..512 characters
const PUT_VALUE = 'hello world';
// Bytes that are not UTF-8, so that Dredd hands the GET body over base64-encoded and every byte counts.
const BINARY_VALUE = Buffer.concat([Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x0a, 0x0d]), randomBytes(64)]);

/**
 * One setup per (method, path, status). Each returns nothing or an object for its `after` check:
 * { value, contentType } for GET/HEAD 200.
 */
const KV = '/api/kv/{key}';
const setups = {
  'GET /health 200': () => {},
  'GET /health 503': (t) => toOutage(t),

  [`PUT ${KV} 201`]: (t) => {
    useKey(t, freshKey('put-201'));
    setBody(t, PUT_VALUE, 'text/plain');
  },
  [`PUT ${KV} 200`]: async (t) => {
    const key = freshKey('put-200');
    await seed(key, 'old value', 'text/plain');
    useKey(t, key);
    setBody(t, PUT_VALUE, 'text/plain');
  },
  [`PUT ${KV} 400`]: (t) => {
    useKey(t, freshKey('put-400'));
    setBody(t, '', 'text/plain'); // an empty value is refused
  },
  [`PUT ${KV} 401`]: (t) => {
    useKey(t, freshKey('put-401'));
    setBody(t, PUT_VALUE, 'text/plain');
    unauthenticated(t, 'none');
  },
  [`PUT ${KV} 409`]: async (t) => {
    const key = freshKey('put-409');
    await seed(key, 'locked value', 'text/plain');
    await lock(key);
    useKey(t, key);
    setBody(t, PUT_VALUE, 'text/plain');
  },
  [`PUT ${KV} 413`]: (t) => {
    useKey(t, freshKey('put-413'));
    setBody(t, Buffer.alloc(MAX_VALUE_BYTES + 1, 0x61), 'application/octet-stream');
  },
  [`PUT ${KV} 503`]: (t) => {
    useKey(t, freshKey('put-503'));
    setBody(t, PUT_VALUE, 'text/plain');
    toOutage(t);
  },

  [`GET ${KV} 200`]: async (t) => {
    const key = freshKey('get-200');
    await seed(key, BINARY_VALUE, 'application/octet-stream');
    useKey(t, key);
    // Dredd cannot compare binary bodies (it would compare against the text example): the
    // after check below compares every byte instead.
    delete t.expected.body;
    delete t.expected.bodySchema;
    return { value: BINARY_VALUE, contentType: 'application/octet-stream' };
  },
  [`GET ${KV} 400`]: (t) => useKey(t, TOO_LONG_KEY),
  [`GET ${KV} 401`]: (t) => {
    useKey(t, freshKey('get-401'));
    unauthenticated(t, 'bad-token');
  },
  [`GET ${KV} 404`]: (t) => useKey(t, freshKey('get-404-missing')),
  [`GET ${KV} 503`]: (t) => {
    useKey(t, freshKey('get-503'));
    toOutage(t);
  },

  [`HEAD ${KV} 200`]: async (t) => {
    const key = freshKey('head-200');
    await seed(key, BINARY_VALUE, 'application/octet-stream');
    useKey(t, key);
    return { value: BINARY_VALUE, contentType: 'application/octet-stream', head: true };
  },
  [`HEAD ${KV} 400`]: (t) => useKey(t, TOO_LONG_KEY),
  [`HEAD ${KV} 401`]: (t) => {
    useKey(t, freshKey('head-401'));
    unauthenticated(t, 'none');
  },
  [`HEAD ${KV} 404`]: (t) => useKey(t, freshKey('head-404-missing')),
  [`HEAD ${KV} 503`]: (t) => {
    useKey(t, freshKey('head-503'));
    toOutage(t);
  },

  [`DELETE ${KV} 200`]: async (t) => {
    const key = freshKey('delete-200');
    await seed(key, PUT_VALUE, 'text/plain');
    useKey(t, key);
  },
  [`DELETE ${KV} 400`]: (t) => useKey(t, TOO_LONG_KEY),
  [`DELETE ${KV} 401`]: (t) => {
    useKey(t, freshKey('delete-401'));
    unauthenticated(t, 'bad-token');
  },
  [`DELETE ${KV} 404`]: (t) => useKey(t, freshKey('delete-404-missing')),
  [`DELETE ${KV} 409`]: async (t) => {
    const key = freshKey('delete-409');
    await seed(key, PUT_VALUE, 'text/plain');
    await lock(key);
    useKey(t, key);
  },
  [`DELETE ${KV} 503`]: (t) => {
    useKey(t, freshKey('delete-503'));
    toOutage(t);
  },

  // PATCH: Dredd sends the first example of the spec ({"operation":"increment","value":5}).
  [`PATCH ${KV} 200`]: async (t) => {
    const key = freshKey('patch-200');
    await seed(key, '37', 'text/plain');
    useKey(t, key);
    setBody(t, JSON.stringify({ operation: 'increment', value: 5 }), 'application/json');
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
    setBody(t, JSON.stringify({ operation: 'increment', value: 5 }), 'application/json');
    unauthenticated(t, 'none');
  },
  [`PATCH ${KV} 404`]: (t) => {
    useKey(t, freshKey('patch-404-missing'));
    setBody(t, JSON.stringify({ operation: 'increment', value: 5 }), 'application/json');
  },
  [`PATCH ${KV} 409`]: async (t) => {
    const key = freshKey('patch-409');
    await seed(key, '37', 'text/plain');
    await lock(key);
    useKey(t, key);
    setBody(t, JSON.stringify({ operation: 'increment', value: 5 }), 'application/json');
  },
  [`PATCH ${KV} 503`]: (t) => {
    useKey(t, freshKey('patch-503'));
    setBody(t, JSON.stringify({ operation: 'increment', value: 5 }), 'application/json');
    toOutage(t);
  },
};

const caseOf = (transaction) => {
  const method = String(transaction.request.method).toUpperCase();
  const pathTemplate = transaction.origin.resourceName;
  const status = String(transaction.expected.statusCode);
  return { method, pathTemplate, status, id: `${method} ${pathTemplate} ${status}` };
};

// What each transaction's after check needs, by transaction name.
const checks = new Map();

hooks.beforeAll((transactions, done) => {
  if (TRANSACTIONS_FILE) {
    const list = transactions.map((transaction) => caseOf(transaction).id);
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
  // Dredd never sends the token; setups for 401 cases take it away again.
  setHeader(transaction, 'Authorization', authorization);
  if (method !== 'PUT' && method !== 'PATCH') {
    transaction.request.body = '';
    setHeader(transaction, 'Content-Type', undefined);
  }
  if (method === 'HEAD') {
    // A HEAD response never has a body (RFC 9110 §9.3.2): the JSON the shared error responses
    // document is what GET would send, so only the status and headers can be checked.
    delete transaction.expected.body;
    delete transaction.expected.bodySchema;
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
const mediaType = (value) => String(value ?? '').split(';')[0].trim().toLowerCase();
hooks.beforeEachValidation((transaction, done) => {
  const expected = transaction.expected.headers ?? {};
  const real = transaction.real?.headers?.['content-type'];
  for (const name of Object.keys(expected)) {
    if (name.toLowerCase() === 'content-type' && real !== undefined && mediaType(expected[name]) === mediaType(real)) expected[name] = real;
  }
  done();
});

function realBody(transaction) {
  const { body, bodyEncoding } = transaction.real ?? {};
  if (body === undefined || body === null) return Buffer.alloc(0);
  return Buffer.from(body, bodyEncoding === 'base64' ? 'base64' : 'utf8');
}

hooks.afterEach((transaction, done) => {
  if (!transaction.real) {
    done();
    return;
  }
  const { method, pathTemplate, status, id } = caseOf(transaction);
  const headers = transaction.real.headers ?? {};
  const problems = [];
  if (String(transaction.real.statusCode) !== status) problems.push(`status ${transaction.real.statusCode}, expected ${status}`);
  for (const name of documentedHeaders(method, pathTemplate, status)) {
    if (headers[name.toLowerCase()] === undefined) problems.push(`documented header ${name} is missing`);
  }
  if (status === '401' && !/^Bearer\b/.test(headers['www-authenticate'] ?? '')) {
    problems.push(`WWW-Authenticate should be a Bearer challenge, got ${JSON.stringify(headers['www-authenticate'])}`);
  }
  const check = checks.get(transaction.name) ?? {};
  if (check.value !== undefined) {
    if (headers['content-type'] !== check.contentType) problems.push(`Content-Type ${JSON.stringify(headers['content-type'])}, stored as ${check.contentType}`);
    if (headers['content-length'] !== String(check.value.length)) problems.push(`Content-Length ${headers['content-length']}, the value has ${check.value.length} bytes`);
    if (!check.head && !realBody(transaction).equals(check.value)) {
      problems.push(`the body is not the stored value byte for byte (${realBody(transaction).length} bytes received, ${check.value.length} stored)`);
    }
  }
  if (check.json !== undefined) {
    let parsed;
    try {
      parsed = JSON.parse(realBody(transaction).toString('utf8'));
    } catch {
      parsed = undefined;
    }
    for (const [name, expected] of Object.entries(check.json)) {
      if (parsed?.[name] !== expected) problems.push(`body.${name} is ${JSON.stringify(parsed?.[name])}, expected ${JSON.stringify(expected)}`);
    }
  }
  if (problems.length > 0) transaction.fail = `${id}: ${problems.join('; ')}`;
  done();
});
