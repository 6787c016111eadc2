/**
 * The Prism mock frontend teams build against (`make mock`, port 7022): every operation answers
 * each of its documented statuses with the spec's example when asked with `Prefer: code=NNN`, and
 * the answers without Prefer are the useful ones. Prism runs as `node <its bin>` on a free port
 * (not through npx, whose child would survive a kill) and is killed in afterAll.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect, createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const specPath = path.join(root, 'spec/lucid.yaml');
const prismBin = path.join(
  path.dirname(createRequire(import.meta.url).resolve('@stoplight/prism-cli/package.json')),
  'dist/index.js',
);

// Just enough of OpenAPI 3.0 to walk the spec.
interface Ref {
  $ref: string;
}
interface MediaType {
  example?: unknown;
  examples?: Record<string, { value?: unknown }>;
}
interface Header {
  example?: unknown;
}
interface Response {
  description: string;
  headers?: Record<string, Header | Ref>;
  content?: Record<string, MediaType>;
}
interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  example?: unknown;
}
interface Operation {
  operationId: string;
  security?: unknown[];
  parameters?: (Parameter | Ref)[];
  requestBody?: { content: Record<string, MediaType> };
  responses: Record<string, Response | Ref>;
}
type PathItem = { parameters?: (Parameter | Ref)[] } & Record<string, Operation | undefined>;
interface Spec {
  paths: Record<string, PathItem>;
}

const spec = parse(readFileSync(specPath, 'utf8')) as Spec;

function resolve<T>(node: T | Ref): T {
  if (typeof node !== 'object' || node === null || !('$ref' in node)) return node;
  const target = node.$ref
    .replace(/^#\//, '')
    .split('/')
    .reduce<unknown>((at, part) => (at as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')], spec);
  if (target === undefined) throw new Error(`unresolved ${node.$ref}`);
  return resolve(target as T | Ref);
}

function exampleOf(media: MediaType): unknown {
  if (media.example !== undefined) return media.example;
  const first = Object.values(media.examples ?? {})[0];
  if (first === undefined) throw new Error('no example');
  return resolve(first).value;
}

const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
interface Case {
  method: string;
  url: string;
  operation: Operation;
  status: string;
  response: Response;
}

/** Every documented (operation, status), with a request path built from the parameters' examples. */
const cases: Case[] = Object.entries(spec.paths).flatMap(([template, item]) =>
  methods.flatMap((method) => {
    const operation = item[method];
    if (!operation) return [];
    const params = [...(item.parameters ?? []), ...(operation.parameters ?? [])].map((p) => resolve<Parameter>(p));
    const url = template.replace(/\{([^}]+)\}/g, (_, name: string) => {
      const param = params.find((p) => p.in === 'path' && p.name === name);
      if (param?.example === undefined)
        throw new Error(`${operation.operationId}: path parameter ${name} has no example`);
      return encodeURIComponent(String(param.example));
    });
    return Object.entries(operation.responses).map(([status, response]) => ({
      method: method.toUpperCase(),
      url,
      operation,
      status,
      response: resolve(response),
    }));
  }),
);
const byId = (operationId: string) => {
  const found = cases.find((c) => c.operation.operationId === operationId);
  if (!found) throw new Error(`no operation ${operationId}`);
  return found;
};
/** The JSON example of an operation's response. */
const jsonExample = (operationId: string, status: string) => {
  const response = resolve(byId(operationId).operation.responses[status] as Response | Ref);
  return exampleOf(response.content?.['application/json'] ?? {});
};

const ANY_TOKEN = 'Bearer anything-at-all';
let prism: ChildProcess;
let base: string;
let prismOutput = '';

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? done(address.port) : fail(new Error('no port'))));
    });
  });
}

function portRefused(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      done(false);
    });
    socket.once('error', () => done(true));
  });
}

/** Starts Prism on a free port and resolves once it answers; retries on another port if it dies. */
async function startPrism(): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spawn(process.execPath, [prismBin, 'mock', specPath, '--port', String(port), '--host', '127.0.0.1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      prismOutput = (prismOutput + chunk.toString()).slice(-8000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    const deadline = Date.now() + 15_000;
    while (!exited && Date.now() < deadline) {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/health`);
        await response.arrayBuffer();
        if (response.status === 200) {
          prism = child;
          base = `http://127.0.0.1:${port}`;
          return;
        }
      } catch {
        /* not listening yet */
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!exited) child.kill('SIGKILL');
    if (attempt === 3 || !exited) throw new Error(`Prism did not start:\n${prismOutput}`);
  }
}

beforeAll(startPrism, 20_000);

afterAll(async () => {
  if (!prism || prism.exitCode !== null || prism.signalCode !== null) return;
  const exited = once(prism, 'exit');
  prism.kill('SIGTERM');
  const timer = setTimeout(() => prism.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
  expect(await portRefused(Number(new URL(base).port))).toBe(true);
});

/** A request Prism accepts for the operation: the token when it needs one, and a valid body. */
function requestFor(
  c: Pick<Case, 'method' | 'url' | 'operation'>,
  headers: Record<string, string> = {},
): [string, RequestInit] {
  const init: RequestInit & { headers: Record<string, string> } = { method: c.method, headers: { ...headers } };
  if (c.operation.security?.length !== 0) init.headers.authorization ??= ANY_TOKEN;
  const body = c.operation.requestBody?.content;
  if (body) {
    const [mediaType, media] = Object.entries(body)[0]!;
    const example = exampleOf(media);
    const json = mediaType.includes('json');
    init.headers['content-type'] = json ? mediaType : mediaType.includes('*') ? 'text/plain' : mediaType;
    init.body = json ? JSON.stringify(example) : String(example);
  }
  return [`${base}${c.url}`, init];
}

describe('every operation answers each documented status with the spec example (Prefer: code=NNN)', () => {
  it('covers every operation of the spec', () => {
    expect(new Set(cases.map((c) => c.operation.operationId)).size).toBe(15);
    expect(cases.length).toBeGreaterThanOrEqual(50);
  });

  it.each(cases.map((c) => [`${c.operation.operationId} ${c.status}`, c] as const))('%s', async (_, c) => {
    const content = Object.entries(c.response.content ?? {});
    // Ask for the first declared concrete media type, as a client would.
    const concrete = content.find(([type]) => !type.includes('*'));
    const headers: Record<string, string> = { prefer: `code=${c.status}` };
    if (concrete) headers.accept = concrete[0];
    const response = await fetch(...requestFor(c, headers));

    expect(response.status).toBe(Number(c.status));
    for (const [name, header] of Object.entries(c.response.headers ?? {})) {
      const example = resolve(header).example;
      if (example !== undefined) expect(response.headers.get(name), name).toBe(String(example));
    }
    if (!concrete || c.method === 'HEAD') {
      expect(await response.text()).toBe('');
      return;
    }
    const [mediaType, media] = concrete;
    expect(response.headers.get('content-type')).toMatch(new RegExp(`^${mediaType.replace(/[.+]/g, '\\$&')}\\b`));
    const example = exampleOf(media);
    if (mediaType === 'application/json') expect(await response.json()).toEqual(example);
    else expect(await response.text()).toBe(String(example));
  });
});

describe('the default answers (no Prefer) are the ones a frontend wants', () => {
  it('GET of a key is 200 with the example value', async () => {
    const response = await fetch(`${base}/api/kv/anything`, { headers: { authorization: ANY_TOKEN } });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('hello world');
  });

  it('PUT is 200 (updated); the created answer needs Prefer: code=201', async () => {
    const put = (headers: Record<string, string> = {}) =>
      fetch(`${base}/api/kv/greeting`, {
        method: 'PUT',
        body: 'hello world',
        headers: { authorization: ANY_TOKEN, 'content-type': 'text/plain', ...headers },
      });
    const updated = await put();
    expect(updated.status).toBe(200);
    expect(await updated.json()).toEqual(jsonExample('putKey', '200'));
    const created = await put({ prefer: 'code=201' });
    expect(created.status).toBe(201);
    expect(await created.json()).toEqual({ message: 'The specified key was successfully created.' });
  });

  it('PATCH is 200 with the increment example, whatever the operation', async () => {
    const response = await fetch(`${base}/api/kv/visits`, {
      method: 'PATCH',
      body: JSON.stringify({ operation: 'lock' }),
      headers: { authorization: ANY_TOKEN, 'content-type': 'application/json' },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(jsonExample('patchKey', '200'));
  });

  it('a transaction is 200 with the example results; a body that breaks the schema is refused', async () => {
    const transfer = {
      success: [
        { op: 'decrement', key: 'accounts/a', value: 5 },
        { op: 'increment', key: 'accounts/b', value: 5 },
      ],
    };
    const response = await fetch(`${base}/api/txn`, {
      method: 'POST',
      body: JSON.stringify(transfer),
      headers: { authorization: ANY_TOKEN, 'content-type': 'application/json' },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(jsonExample('transaction', '200'));
    const unknownOp = await fetch(`${base}/api/txn`, {
      method: 'POST',
      body: JSON.stringify({ success: [{ op: 'rename', key: 'a' }] }),
      headers: { authorization: ANY_TOKEN, 'content-type': 'application/json' },
    });
    expect(unknownOp.status).toBeGreaterThanOrEqual(400);
    await unknownOp.arrayBuffer();
  });

  it('DELETE is 200', async () => {
    const response = await fetch(`${base}/api/kv/visits`, { method: 'DELETE', headers: { authorization: ANY_TOKEN } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ message: 'The specified key was successfully deleted.' });
  });

  it('listing is 200 with the example page', async () => {
    const response = await fetch(`${base}/api/kv?prefix=config/&limit=10`, { headers: { authorization: ANY_TOKEN } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(jsonExample('listKeys', '200'));
  });

  it('keeps no data: a DELETE does not make the key disappear', async () => {
    await (
      await fetch(`${base}/api/kv/greeting`, { method: 'DELETE', headers: { authorization: ANY_TOKEN } })
    ).arrayBuffer();
    expect((await fetch(`${base}/api/kv/greeting`, { headers: { authorization: ANY_TOKEN } })).status).toBe(200);
  });
});

describe('where the mock differs from Lucid (documented in docs/clients.md)', () => {
  const put = (url: string, body: BodyInit, contentType: string) =>
    fetch(`${base}${url}`, { method: 'PUT', body, headers: { authorization: ANY_TOKEN, 'content-type': contentType } });

  it('refuses a PUT sent as application/json (it checks the parsed JSON against the raw-bytes schema); any other type works', async () => {
    const json = await put('/api/kv/config%2Fui', '{"theme":"dark"}', 'application/json');
    expect(json.status).toBe(400);
    expect(json.headers.get('sl-violations')).toContain('Request body must be string');
    await json.arrayBuffer();
    for (const contentType of ['text/plain', 'application/octet-stream', 'image/png']) {
      const response = await put('/api/kv/config%2Fui', '{"theme":"dark"}', contentType);
      expect(response.status, contentType).toBe(200);
      await response.arrayBuffer();
    }
  });

  it('needs a / inside a key percent-encoded (%2F): a plain / matches no route', async () => {
    const plain = await put('/api/kv/config/ui', 'x', 'text/plain');
    expect(plain.status).toBe(404);
    expect(plain.headers.get('content-type')).toContain('application/problem+json');
    await plain.arrayBuffer();
  });
});

describe('tokens and request validation', () => {
  const unauthorized = jsonExample('getKey', '401');

  it('accepts any bearer token, even one that is not a JWT', async () => {
    for (const token of ['Bearer x', ANY_TOKEN, 'Bearer eyJhbGciOiJub25lIn0.e30.']) {
      const response = await fetch(`${base}/api/kv/greeting`, { headers: { authorization: token } });
      expect(response.status, token).toBe(200);
      await response.arrayBuffer();
    }
  });

  it('answers 401 with the spec example and WWW-Authenticate without a bearer token, whatever Prefer asks', async () => {
    for (const authorization of [undefined, 'Basic dXNlcjpwYXNz', 'Bearer']) {
      const response = await fetch(`${base}/api/kv/greeting`, {
        headers: { prefer: 'code=200', ...(authorization ? { authorization } : {}) },
      });
      expect(response.status, String(authorization)).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="lucid"');
      expect(response.headers.get('sl-violations')).toContain('Invalid security scheme used');
      expect(await response.json()).toEqual(unauthorized);
    }
  });

  it('needs no token for the public operations', async () => {
    const response = await fetch(`${base}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(jsonExample('getHealth', '200'));
  });

  it("validates requests: an invalid one gets the operation's 400 example and an sl-violations header", async () => {
    const response = await fetch(`${base}/api/kv?limit=5000`, { headers: { authorization: ANY_TOKEN } });
    expect(response.status).toBe(400);
    expect(response.headers.get('sl-violations')).toContain('limit');
    expect(await response.json()).toEqual(jsonExample('listKeys', '400'));

    const badPatch = await fetch(`${base}/api/kv/greeting`, {
      method: 'PATCH',
      body: JSON.stringify({ operation: 'explode' }),
      headers: { authorization: ANY_TOKEN, 'content-type': 'application/json' },
    });
    expect(badPatch.status).toBe(400);
    expect(badPatch.headers.get('sl-violations')).toContain('operation');
    await badPatch.arrayBuffer();
  });

  it('lets a browser app on another origin call it (CORS, Prefer and Authorization allowed)', async () => {
    const origin = 'http://localhost:5173';
    const preflight = await fetch(`${base}/api/kv/greeting`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'authorization,content-type,prefer',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(origin);
    expect(preflight.headers.get('access-control-allow-headers')).toBe('authorization,content-type,prefer');
    const response = await fetch(`${base}/api/kv/greeting`, { headers: { origin, authorization: ANY_TOKEN } });
    expect(response.headers.get('access-control-allow-origin')).toBe(origin);
    expect(response.headers.get('access-control-expose-headers')).toBe('*');
    await response.arrayBuffer();
  });

  it('answers a status the operation does not document with a 404 problem', async () => {
    const response = await fetch(`${base}/api/kv/greeting`, {
      headers: { authorization: ANY_TOKEN, prefer: 'code=418' },
    });
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    await response.arrayBuffer();
  });
});
