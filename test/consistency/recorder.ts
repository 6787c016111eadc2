/**
 * Records histories: concurrent clients send a random mix of GET, PUT, DELETE, PUT with If-Match, PUT
 * with If-None-Match: *, PATCH increments and POST /api/txn transactions over a few keys to real Lucid
 * nodes, and note each operation's invocation and completion time and its answer.
 *
 * Keys come in groups of two (`<prefix>g0/a`, `<prefix>g0/b`, ...); a transaction touches the keys of one
 * group only, so the checker's parts are the groups. Every value written is a number no other write uses
 * (client, sequence), so a read names the write it saw, and increments work on every key.
 *
 * An answer that never came (a timeout, a dropped connection) or a 5xx makes the operation
 * indeterminate: it may or may not have taken effect. A refused connection is certain: nothing was
 * sent, so nothing is recorded. A read without an answer changes nothing and is dropped. A client
 * that gets no answer from a node avoids that node for a while, which keeps the number of
 * indeterminate operations (the expensive part of the search) low while a node is stopped or cut off.
 */
import type { Compare, Input, Operation, Output, SubOp, SubResult } from './model.js';

export interface Target {
  /** Base URLs of the nodes (http://127.0.0.1:port); a restarted node keeps its port. */
  urls: string[];
  token: string;
}

export interface RecordOptions {
  clients: number;
  /** Operations to record (answered or indeterminate). */
  ops: number;
  /** Key groups of two keys each. */
  groups: number;
  /** Per-operation client timeout. */
  timeoutMs: number;
  /** Key prefix, so runs against one backend do not meet. */
  prefix: string;
  /** Stop now (a fault could not be injected or healed). */
  stop?: () => boolean;
  /** Print a line every this many operations (long runs). */
  progressEvery?: number;
  /** Recording goes on past `ops` until this says stop (the faults are not all injected yet). */
  keepGoing?: () => boolean;
}

export interface Recording {
  operations: Operation[];
  indeterminate: number;
  /** Answers the contract does not allow for these requests: each one fails the run. */
  unexpected: string[];
}

interface Request {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/** One kind of operation: how to send it and what its answer means in the model. */
interface Planned {
  label: string;
  input: Input;
  request: Request;
  readOnly: boolean;
  decode: (status: number, headers: Headers, body: string) => Output | undefined;
}

const text = { 'content-type': 'text/plain' };
const json = { 'content-type': 'application/json' };

function single(sub: SubOp, compare: Compare[] = []): Input {
  return { compare, success: [sub], failure: [] };
}

/** What a client remembers of a key, to make its conditional requests mostly meaningful. */
interface Memory {
  etag: Map<string, string>;
  value: Map<string, string>;
}

function learn(memory: Memory, key: string, result: SubResult | undefined): void {
  if (result === undefined) return;
  if ('etag' in result) memory.etag.set(key, result.etag);
  if ('value' in result) memory.value.set(key, result.value);
}

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)]!;
}

const kv = (key: string) => `/api/kv/${key}`;

function plainPut(
  key: string,
  value: string,
  headers: Record<string, string>,
  label: string,
  compare: Compare[],
): Planned {
  return {
    label,
    input: single({ op: 'put', key, value }, compare),
    request: { method: 'PUT', path: kv(key), headers: { ...text, ...headers }, body: value },
    readOnly: false,
    decode: (status, answer) => {
      if (status === 412 && compare.length > 0) return { succeeded: false, results: [] };
      if (status === 200 || status === 201)
        return { succeeded: true, results: [{ created: status === 201, etag: answer.get('etag') ?? '' }] };
      return undefined;
    },
  };
}

/** The single-key operations. */
function planSingle(kind: string, key: string, value: string, memory: Memory): Planned {
  switch (kind) {
    case 'get':
      return {
        label: `GET ${key}`,
        input: single({ op: 'get', key }),
        request: { method: 'GET', path: kv(key) },
        readOnly: true,
        decode: (status, headers, body) => {
          if (status === 404) return { succeeded: true, results: [{ found: false }] };
          if (status === 200)
            return { succeeded: true, results: [{ found: true, value: body, etag: headers.get('etag') ?? '' }] };
          return undefined;
        },
      };
    case 'put':
      return plainPut(key, value, {}, `PUT ${key} = ${value}`, []);
    case 'if-match': {
      const etag = memory.etag.get(key) ?? '"0-none"';
      return plainPut(key, value, { 'if-match': etag }, `PUT ${key} If-Match ${etag} = ${value}`, [{ key, etag }]);
    }
    case 'create':
      return plainPut(key, value, { 'if-none-match': '*' }, `PUT ${key} If-None-Match * = ${value}`, [
        { key, exists: false },
      ]);
    case 'delete':
      return {
        label: `DELETE ${key}`,
        input: single({ op: 'delete', key }),
        request: { method: 'DELETE', path: kv(key) },
        readOnly: false,
        decode: (status) =>
          status === 200 || status === 404 ? { succeeded: true, results: [{ deleted: status === 200 }] } : undefined,
      };
    default: {
      const by = pick([1, 2, 5, -3]);
      return {
        label: `INCR ${key} by ${by}`,
        input: single({ op: 'increment', key, by }),
        request: {
          method: 'PATCH',
          path: kv(key),
          headers: json,
          body: JSON.stringify({ operation: 'increment', value: by }),
        },
        readOnly: false,
        decode: (status, headers, body) => {
          if (status === 404) return { refused: 'missing' };
          if (status === 400) return { refused: 'nan' };
          if (status !== 200) return undefined;
          return {
            succeeded: true,
            results: [
              {
                value: String((JSON.parse(body) as { value: number | string }).value),
                etag: headers.get('etag') ?? '',
              },
            ],
          };
        },
      };
    }
  }
}

type TxnOp =
  | { op: 'get'; key: string }
  | { op: 'delete'; key: string }
  | { op: 'put'; key: string; value: string }
  | { op: 'increment'; key: string; value: number }
  | { op: 'decrement'; key: string; value: number };

function toSub(op: TxnOp): SubOp {
  switch (op.op) {
    case 'increment':
      return { op: 'increment', key: op.key, by: op.value };
    case 'decrement':
      return { op: 'increment', key: op.key, by: -op.value };
    default:
      return op;
  }
}

function decodeTxnResult(sub: SubOp, raw: Record<string, unknown>): SubResult {
  switch (sub.op) {
    case 'get':
      return raw.found === true ? { found: true, value: String(raw.value), etag: String(raw.etag) } : { found: false };
    case 'put':
      return { created: raw.created === true, etag: String(raw.etag) };
    case 'delete':
      return { deleted: raw.deleted === true };
    case 'increment':
      return { value: String(raw.value), etag: String(raw.etag) };
  }
}

/** A transaction over the two keys of a group, of one of a few shapes. */
function planTxn(a: string, b: string, value: () => string, memory: Memory): Planned {
  const shapes: Array<() => { name: string; compare: Compare[]; success: TxnOp[]; failure: TxnOp[] }> = [
    () => ({
      name: 'snapshot',
      compare: [],
      success: [
        { op: 'get', key: a },
        { op: 'get', key: b },
      ],
      failure: [],
    }),
    () => {
      const etag = memory.etag.get(a) ?? '"0-none"';
      return {
        name: `if ${a} etag ${etag} put both`,
        compare: [{ key: a, etag }],
        success: [
          { op: 'put', key: a, value: value() },
          { op: 'put', key: b, value: value() },
        ],
        failure: [
          { op: 'get', key: a },
          { op: 'get', key: b },
        ],
      };
    },
    () => ({
      name: `if ${b} exists move 1 from ${a}`,
      compare: [{ key: b, exists: true }],
      success: [
        { op: 'decrement', key: a, value: 1 },
        { op: 'increment', key: b, value: 1 },
      ],
      failure: [{ op: 'get', key: b }],
    }),
    () => {
      const seen = memory.value.get(a) ?? '0';
      return {
        name: `if ${a} = ${seen} delete ${b}`,
        compare: [{ key: a, value: seen }],
        success: [{ op: 'delete', key: b }],
        failure: [{ op: 'get', key: a }],
      };
    },
    () => ({
      name: 'put, then read the other',
      compare: [],
      success: [
        { op: 'put', key: a, value: value() },
        { op: 'get', key: b },
      ],
      failure: [],
    }),
  ];
  const shape = pick(shapes)();
  const input: Input = { compare: shape.compare, success: shape.success.map(toSub), failure: shape.failure.map(toSub) };
  const wire = (ops: TxnOp[]) => ops.map((op) => (op.op === 'put' ? { ...op, contentType: 'text/plain' } : op));
  return {
    label: `TXN ${shape.name}: ${[...shape.success, ...shape.failure].map((op) => `${op.op} ${op.key}${'value' in op ? ` ${op.value}` : ''}`).join(', ')}`,
    input,
    request: {
      method: 'POST',
      path: '/api/txn',
      headers: json,
      body: JSON.stringify({ compare: shape.compare, success: wire(shape.success), failure: wire(shape.failure) }),
    },
    readOnly: input.success.every((sub) => sub.op === 'get') && input.failure.every((sub) => sub.op === 'get'),
    decode: (status, _headers, body) => {
      if (status === 404) return { refused: 'missing' };
      if (status === 400) return { refused: 'nan' };
      if (status !== 200) return undefined;
      const answer = JSON.parse(body) as { succeeded: boolean; results: Array<Record<string, unknown>> };
      const ran = answer.succeeded ? input.success : input.failure;
      return {
        succeeded: answer.succeeded,
        results: ran.map((sub, i) => decodeTxnResult(sub, answer.results[i] ?? {})),
      };
    },
  };
}

const KINDS: Array<[string, number]> = [
  ['get', 30],
  ['put', 16],
  ['if-match', 10],
  ['create', 6],
  ['delete', 8],
  ['increment', 14],
  ['txn', 16],
];

function chooseKind(): string {
  let roll = Math.random() * KINDS.reduce((sum, [, weight]) => sum + weight, 0);
  for (const [kind, weight] of KINDS) if ((roll -= weight) < 0) return kind;
  return 'get';
}

/**
 * A status the contract allows for these requests. Every value is a number, every body valid, no key
 * locked: a 400 or 409 is a bug to report, not an answer to model.
 */
function allowed(status: number): boolean {
  return [200, 201, 404, 412].includes(status) || status >= 500;
}

/** Records a history against `target` with `options.clients` concurrent clients. */
export async function record(target: Target, options: RecordOptions): Promise<Recording> {
  const operations: Operation[] = [];
  const unexpected: string[] = [];
  const avoidUntil = new Map<string, number>();
  let indeterminate = 0;
  let nextId = 0;
  const started = performance.now();
  const more = () =>
    !(options.stop?.() ?? false) && (operations.length < options.ops || (options.keepGoing?.() ?? false));

  const client = async (id: number) => {
    const memory: Memory = { etag: new Map(), value: new Map() };
    let sequence = 0;
    const value = () => `${id + 1}${String(++sequence).padStart(7, '0')}000`;
    while (more()) {
      const now = performance.now();
      const usable = target.urls.filter((url) => (avoidUntil.get(url) ?? 0) <= now);
      if (usable.length === 0) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      const url = pick(usable);
      const group = Math.floor(Math.random() * options.groups);
      const [a, b] = [`${options.prefix}g${group}/a`, `${options.prefix}g${group}/b`];
      const kind = chooseKind();
      const plan = kind === 'txn' ? planTxn(a, b, value, memory) : planSingle(kind, pick([a, b]), value(), memory);
      const call = performance.now() - started;
      const outcome = await send(url, target.token, plan, options.timeoutMs);
      if (outcome === 'refused') {
        avoidUntil.set(url, performance.now() + 300);
        continue;
      }
      if (outcome !== 'lost' && !allowed(outcome.status))
        unexpected.push(`${plan.label} answered ${outcome.status}: ${outcome.body.slice(0, 200)}`);
      const output = outcome === 'lost' ? undefined : plan.decode(outcome.status, outcome.headers, outcome.body);
      if (output === undefined) {
        avoidUntil.set(url, performance.now() + 1000);
        if (plan.readOnly) continue;
        indeterminate++;
      }
      const op: Operation = {
        id: nextId++,
        client: id,
        label: plan.label,
        input: plan.input,
        output,
        call,
        ret: output === undefined ? Infinity : performance.now() - started,
      };
      operations.push(op);
      if (options.progressEvery && operations.length % options.progressEvery === 0) {
        console.log(
          `  ${options.prefix} ${operations.length} operations recorded in ${((performance.now() - started) / 1000).toFixed(0)} s`,
        );
      }
      if (output !== undefined && 'results' in output) {
        const ran = output.succeeded ? plan.input.success : plan.input.failure;
        ran.forEach((sub, i) => learn(memory, sub.key, output.results[i]));
      }
    }
  };
  await Promise.all(Array.from({ length: options.clients }, (_, id) => client(id)));
  return { operations, indeterminate, unexpected };
}

type Outcome = { status: number; headers: Headers; body: string } | 'lost' | 'refused';

async function send(url: string, token: string, plan: Planned, timeoutMs: number): Promise<Outcome> {
  try {
    const response = await fetch(`${url}${plan.request.path}`, {
      method: plan.request.method,
      headers: { authorization: `Bearer ${token}`, ...plan.request.headers },
      body: plan.request.body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = await response.text();
    return { status: response.status, headers: response.headers, body };
  } catch (error) {
    const code = ((error as { cause?: { code?: string } }).cause ?? {}).code;
    return code === 'ECONNREFUSED' ? 'refused' : 'lost';
  }
}
