/**
 * A model-based property test of the store: fast-check drives a real store and a plain in-memory
 * model with the same random sequence of operations (PUT, DELETE, every PATCH operation, with and
 * without preconditions; reads, listings, purges; a controlled clock moving in steps around expiry
 * and lease boundaries) and demands the same answer, status and entry from both after every step.
 *
 * Written against the Store interface through the domain functions of src/kv.ts (and src/txn.ts
 * for transactions, on stores that have `transact`), so every backend can run it:
 * `storeModelSuite('redis', factory)`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LucidError } from '../../src/errors.js';
import {
  applyOperation,
  deleteValue,
  putValue,
  readEntry,
  type Actor,
  type Operation,
  type Preconditions,
} from '../../src/kv.js';
import type { Entry, Store } from '../../src/store/types.js';
import {
  runTxn,
  type Condition as TxnCondition,
  type PreparedOp,
  type TxnOutcome,
  type TxnResult,
} from '../../src/txn.js';
import { textEntry } from '../support/helpers.js';
import type { StoreFactory } from './store-suite.js';

export interface ModelSuiteOptions {
  /** Runs of random command sequences (each on a fresh store). */
  numRuns?: number;
  maxCommands?: number;
  /**
   * Whether purgeExpired's count must equal the expired entries no write has met yet (true for the
   * SQLite store, which removes an expired row when a write meets it); otherwise it only has to
   * stay within the expired entries a purge could still find (a backend may expire keys by itself,
   * or keep an expired row a refused write met until its sweep).
   */
  exactPurgeCount?: boolean;
}

type ModelEntry = Omit<Entry, 'value'> & { value: Buffer };

interface Model {
  now: number;
  entries: Map<string, ModelEntry>;
  /** Counts commands run, for messages. */
  step: number;
  /** How often each status was seen, to show the runs reach every branch. */
  statuses: Map<number, number>;
  /** Expired keys an operation met (gone for clients) that a backend may still hold until its purge. */
  unpurged: Set<string>;
}

interface Real {
  store: Store;
  advance(ms: number): void;
}

/** What a command is expected to do: a status, and on success what the store's answer must say. */
type Outcome = { status: number; apply?: (answer: unknown) => void };

const KEYS = ['a', 'a/1', 'a/2', 'b'] as const;
const PREFIXES = ['', 'a', 'a/', 'b', 'c'] as const;
const START = Date.parse('2026-11-26T12:00:00Z');
const ADMIN: Actor = { subject: 'root', admin: true };

function isLive(entry: ModelEntry, now: number): boolean {
  return entry.expiresAt === null || entry.expiresAt > now;
}

function isLocked(entry: ModelEntry, now: number): boolean {
  return entry.locked && (entry.lockExpiresAt === null || entry.lockExpiresAt > now);
}

/** A write drops an expired entry first, as the store does when it meets one. */
function current(model: Model, key: string): ModelEntry | undefined {
  const entry = model.entries.get(key);
  if (entry !== undefined && !isLive(entry, model.now)) {
    model.entries.delete(key);
    model.unpurged.add(key);
    return undefined;
  }
  return entry;
}

/** Which If-Match a command sends: none, the current ETag, one that never existed, or '*'. */
type Condition = 'none' | 'current' | 'stale' | 'any';

function ifMatch(condition: Condition, entry: ModelEntry | undefined): Preconditions {
  switch (condition) {
    case 'none':
      return {};
    case 'current':
      return { ifMatch: entry?.etag ?? '"no-such-etag"' };
    case 'stale':
      return { ifMatch: '"0-stale"' };
    case 'any':
      return { ifMatch: '*' };
  }
}

function matches(condition: Condition, entry: ModelEntry | undefined): boolean {
  return condition === 'none' || (entry !== undefined && condition !== 'stale');
}

const validSeconds = (seconds: number | undefined, minimum: number) =>
  seconds !== undefined && Number.isInteger(seconds) && seconds >= minimum && seconds <= 10 * 365 * 24 * 3600;

/** A numeric value as the store writes it (plain integer notation), or undefined for other bytes. */
function asInteger(value: Buffer): bigint | undefined {
  const text = value.toString('latin1');
  return /^-?\d+$/.test(text) ? BigInt(text) : undefined;
}

async function statusOf(run: () => Promise<unknown>): Promise<{ status: number; answer?: unknown }> {
  try {
    return { status: 200, answer: await run() };
  } catch (error) {
    if (error instanceof LucidError) return { status: error.status };
    throw error;
  }
}

abstract class Command implements fc.AsyncCommand<Model, Real> {
  check(): boolean {
    return true;
  }

  /** Predicts the outcome from the model (and updates the model's state through `apply`). */
  abstract expect(model: Model, real: Real): Outcome;
  abstract act(real: Real, model: Model): Promise<unknown>;
  abstract toString(): string;

  async run(model: Model, real: Real): Promise<void> {
    model.step += 1;
    const expected = this.expect(model, real);
    const { status, answer } = await statusOf(() => this.act(real, model));
    expect(status, `step ${model.step}: ${this.toString()}`).toBe(expected.status);
    model.statuses.set(status, (model.statuses.get(status) ?? 0) + 1);
    if (status === 200) expected.apply?.(answer);
  }
}

class Put extends Command {
  constructor(
    readonly key: string,
    readonly value: Buffer,
    readonly contentType: string,
    readonly ttl: number | undefined,
    readonly condition: Condition,
    readonly ifNoneMatch: boolean,
  ) {
    super();
  }

  #conditions: Preconditions = {};

  expect(model: Model): Outcome {
    const entry = current(model, this.key);
    this.#conditions = { ...ifMatch(this.condition, entry), ...(this.ifNoneMatch ? { ifNoneMatch: '*' } : {}) };
    if (entry !== undefined && isLocked(entry, model.now)) return { status: 409 };
    if (!matches(this.condition, entry) || (this.ifNoneMatch && entry !== undefined)) return { status: 412 };
    if (this.ttl !== undefined && !validSeconds(this.ttl, 1)) return { status: 400 };
    return {
      status: 200,
      apply: (answer) => {
        const { created, entry: written } = answer as { created: boolean; entry: Entry };
        expect(created, this.toString()).toBe(entry === undefined);
        const now = model.now;
        const expiresAt = this.ttl === undefined ? (entry?.expiresAt ?? null) : now + this.ttl * 1000;
        const base = entry ?? { createdAt: now, locked: false, lockHolder: null, lockExpiresAt: null, version: 0 };
        model.unpurged.delete(this.key);
        model.entries.set(this.key, {
          ...base,
          value: Buffer.from(this.value),
          contentType: this.contentType,
          updatedAt: now,
          expiresAt,
          version: base.version + 1,
          etag: written.etag,
        });
      },
    };
  }

  act({ store }: Real): Promise<unknown> {
    return putValue(store, this.key, Buffer.from(this.value), this.contentType, {
      ...this.#conditions,
      ttlSeconds: this.ttl,
    });
  }

  toString(): string {
    const conditions = [
      this.condition !== 'none' && `If-Match ${this.condition}`,
      this.ifNoneMatch && 'If-None-Match *',
    ]
      .filter(Boolean)
      .join(', ');
    return `PUT ${this.key} = ${show(this.value)} (${this.contentType}${this.ttl === undefined ? '' : `, ttl ${this.ttl}`}${conditions ? `, ${conditions}` : ''})`;
  }
}

class Delete extends Command {
  constructor(
    readonly key: string,
    readonly condition: Condition,
  ) {
    super();
  }

  #conditions: Preconditions = {};

  expect(model: Model): Outcome {
    const entry = current(model, this.key);
    this.#conditions = ifMatch(this.condition, entry);
    if (entry === undefined) return { status: 404 };
    if (isLocked(entry, model.now)) return { status: 409 };
    if (!matches(this.condition, entry)) return { status: 412 };
    return { status: 200, apply: () => model.entries.delete(this.key) };
  }

  act({ store }: Real): Promise<unknown> {
    return deleteValue(store, this.key, this.#conditions);
  }

  toString(): string {
    return `DELETE ${this.key}${this.condition === 'none' ? '' : ` (If-Match ${this.condition})`}`;
  }
}

class Patch extends Command {
  constructor(
    readonly key: string,
    readonly operation: Operation,
    readonly argument: number | undefined,
    readonly actor: Actor,
    readonly condition: Condition,
  ) {
    super();
  }

  #conditions: Preconditions = {};

  expect(model: Model): Outcome {
    const now = model.now;
    const entry = current(model, this.key);
    this.#conditions = ifMatch(this.condition, entry);
    if (entry === undefined) return { status: 404 };
    const precondition = matches(this.condition, entry);
    let changes: Partial<ModelEntry>;
    let number: string | undefined;
    switch (this.operation) {
      case 'lock':
        if (isLocked(entry, now)) return { status: 409 };
        if (this.argument !== undefined && !validSeconds(this.argument, 1)) return { status: 400 };
        changes = {
          locked: true,
          lockHolder: this.actor.subject,
          lockExpiresAt: this.argument === undefined ? null : now + this.argument * 1000,
        };
        break;
      case 'unlock':
        if (!isLocked(entry, now) || (entry.lockHolder !== this.actor.subject && !this.actor.admin))
          return { status: 409 };
        changes = { locked: false, lockHolder: null, lockExpiresAt: null };
        break;
      case 'increment':
      case 'decrement': {
        if (isLocked(entry, now)) return { status: 409 };
        if (this.argument !== undefined && !Number.isFinite(this.argument)) return { status: 400 };
        const stored = asInteger(entry.value);
        if (stored === undefined) return { status: 400 };
        const step = BigInt(this.argument ?? 1);
        number = String(this.operation === 'increment' ? stored + step : stored - step);
        changes = { value: Buffer.from(number) };
        break;
      }
      case 'ttl':
        if (isLocked(entry, now)) return { status: 409 };
        if (!validSeconds(this.argument, 0)) return { status: 400 };
        changes = { expiresAt: this.argument === 0 ? null : now + this.argument! * 1000 };
        break;
    }
    if (!precondition) return { status: 412 };
    return {
      status: 200,
      apply: (answer) => {
        const outcome = answer as { entry: Entry; value?: string };
        expect(outcome.value, this.toString()).toBe(number);
        model.entries.set(this.key, {
          ...entry,
          ...changes,
          updatedAt: now,
          version: entry.version + 1,
          etag: outcome.entry.etag,
        });
      },
    };
  }

  act({ store }: Real): Promise<unknown> {
    return applyOperation(store, this.key, this.operation, this.argument, this.actor, this.#conditions);
  }

  toString(): string {
    const argument = this.argument === undefined ? '' : ` ${this.argument}`;
    return `PATCH ${this.key} ${this.operation}${argument} as ${this.actor.subject}${this.actor.admin ? ' (admin)' : ''}${this.condition === 'none' ? '' : ` (If-Match ${this.condition})`}`;
  }
}

type TxnCompareKind = 'exists' | 'missing' | 'etag' | 'stale' | 'value' | 'other';
type TxnOpSpec =
  | { op: 'get' | 'delete'; key: string }
  | { op: 'put'; key: string; value: Buffer }
  | { op: 'increment' | 'decrement'; key: string; step: number | undefined };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** What a transaction's ops answer on the model: a refusal's status, or the results and the entries after. */
function simulateTxn(
  ops: readonly TxnOpSpec[],
  state: Map<string, ModelEntry | undefined>,
  now: number,
  etagOf: (i: number) => string,
): { status: number; results: TxnResult[] } {
  const results: TxnResult[] = [];
  for (const [i, op] of ops.entries()) {
    const entry = state.get(op.key);
    if (op.op === 'get') {
      if (entry === undefined) results.push({ key: op.key, found: false });
      else {
        const result: TxnResult = { key: op.key, found: true, contentType: entry.contentType, etag: entry.etag };
        try {
          result.value = utf8.decode(entry.value);
        } catch {
          result.valueBase64 = entry.value.toString('base64');
        }
        results.push(result);
      }
      continue;
    }
    if (op.op === 'delete' && entry === undefined) {
      results.push({ key: op.key, deleted: false });
      continue;
    }
    if (op.op !== 'put' && entry === undefined) return { status: 404, results };
    if (entry !== undefined && isLocked(entry, now)) return { status: 409, results };
    const revised = (changes: Partial<ModelEntry>): ModelEntry => ({
      ...entry!,
      ...changes,
      updatedAt: now,
      version: entry!.version + 1,
      etag: etagOf(i),
    });
    if (op.op === 'delete') {
      state.set(op.key, undefined);
      results.push({ key: op.key, deleted: true });
    } else if (op.op === 'put') {
      const written =
        entry === undefined
          ? { ...textEntry('', { now, etag: etagOf(i) }), value: op.value }
          : revised({ value: op.value, contentType: 'text/plain' });
      state.set(op.key, written);
      results.push({ key: op.key, created: entry === undefined, etag: written.etag });
    } else {
      const stored = asInteger(entry!.value);
      if (stored === undefined) return { status: 400, results };
      const step = BigInt(('step' in op ? op.step : undefined) ?? 1);
      const number = String(op.op === 'increment' ? stored + step : stored - step);
      const written = revised({ value: Buffer.from(number) });
      state.set(op.key, written);
      results.push({ key: op.key, value: Number(number), etag: written.etag });
    }
  }
  return { status: 200, results };
}

/** A transaction (src/txn.ts over Store.transact): compares choose a branch, whose ops apply all or none. */
class Txn extends Command {
  constructor(
    readonly compares: ReadonlyArray<{ key: string; kind: TxnCompareKind }>,
    readonly success: readonly TxnOpSpec[],
    readonly failure: readonly TxnOpSpec[],
  ) {
    super();
  }

  #conditions: TxnCondition[] = [];

  expect(model: Model, real: Real): Outcome {
    if (real.store.transact === undefined) return { status: 200 }; // This backend has no transactions yet.
    const now = model.now;
    const keys = new Set([...this.compares, ...this.success, ...this.failure].map(({ key }) => key));
    // The store holds every key as update holds one: an expired entry it meets is dropped.
    const state = new Map([...keys].map((key) => [key, current(model, key)]));
    this.#conditions = this.compares.map(({ key, kind }): TxnCondition => {
      const entry = state.get(key);
      if (kind === 'exists' || kind === 'missing') return { key, exists: kind === 'exists' };
      if (kind === 'etag' || kind === 'stale')
        return { key, etag: kind === 'etag' ? (entry?.etag ?? '"none"') : '"0-stale"' };
      return { key, bytes: kind === 'value' ? (entry?.value ?? Buffer.from('x')) : Buffer.from('never stored') };
    });
    const succeeded = this.#conditions.every((condition) => {
      const entry = state.get(condition.key);
      if ('exists' in condition) return (entry !== undefined) === condition.exists;
      if ('etag' in condition) return entry?.etag === condition.etag;
      return entry !== undefined && entry.value.equals(condition.bytes);
    });
    const ops = succeeded ? this.success : this.failure;
    const predicted = simulateTxn(ops, new Map(state), now, () => '"pending"');
    if (predicted.status !== 200) return { status: predicted.status };
    return {
      status: 200,
      apply: (answer) => {
        const outcome = answer as TxnOutcome;
        const after = new Map(state);
        const { results } = simulateTxn(ops, after, now, (i) => String(outcome.results[i]?.etag));
        expect(outcome, `step ${model.step}: ${this.toString()}`).toEqual({ succeeded, results });
        for (const [key, entry] of after) {
          if (entry === undefined) model.entries.delete(key);
          else {
            model.entries.set(key, entry);
            model.unpurged.delete(key);
          }
        }
      },
    };
  }

  async act({ store }: Real): Promise<unknown> {
    if (store.transact === undefined) return undefined;
    const prepare = (op: TxnOpSpec): PreparedOp =>
      op.op === 'put'
        ? { op: 'put', key: op.key, value: Buffer.from(op.value), contentType: 'text/plain', ttl: undefined }
        : op.op === 'get' || op.op === 'delete'
          ? op
          : { op: op.op, key: op.key, step: 'step' in op ? op.step : undefined };
    return runTxn(store, this.#conditions, { success: this.success.map(prepare), failure: this.failure.map(prepare) });
  }

  toString(): string {
    const op = (o: TxnOpSpec) =>
      `${o.op} ${o.key}${o.op === 'put' ? ` = ${show(o.value)}` : 'step' in o && o.step !== undefined ? ` ${o.step}` : ''}`;
    return `TXN if [${this.compares.map((c) => `${c.key} ${c.kind}`).join(', ')}] then [${this.success.map(op).join(', ')}] else [${this.failure.map(op).join(', ')}]`;
  }
}

class Get extends Command {
  constructor(readonly key: string) {
    super();
  }

  expect(model: Model): Outcome {
    const entry = model.entries.get(this.key);
    if (entry === undefined || !isLive(entry, model.now)) return { status: 404 };
    return {
      status: 200,
      apply: (answer) => {
        const got = answer as Entry;
        expect({ ...got, value: [...got.value] }, `step ${model.step}: ${this.toString()}`).toEqual({
          ...entry,
          value: [...entry.value],
        });
      },
    };
  }

  act({ store }: Real): Promise<unknown> {
    return readEntry(store, this.key);
  }

  toString(): string {
    return `GET ${this.key}`;
  }
}

class List extends Command {
  constructor(
    readonly prefix: string,
    readonly limit: number,
  ) {
    super();
  }

  expect(model: Model): Outcome {
    const live = [...model.entries]
      .filter(([key, entry]) => key.startsWith(this.prefix) && isLive(entry, model.now))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, entry]) => ({
        key,
        size: entry.value.length,
        version: entry.version,
        etag: entry.etag,
        expiresAt: entry.expiresAt,
      }));
    return { status: 200, apply: (answer) => expect(answer, `step ${model.step}: ${this.toString()}`).toEqual(live) };
  }

  /** Every page, each `limit` long, as one list. */
  async act({ store }: Real): Promise<unknown> {
    const all = [];
    for (let after: string | undefined; ;) {
      const page = await store.list({ prefix: this.prefix, after, limit: this.limit });
      expect(page.length).toBeLessThanOrEqual(this.limit);
      all.push(
        ...page.map(({ key, size, entry }) => ({
          key,
          size,
          version: entry.version,
          etag: entry.etag,
          expiresAt: entry.expiresAt,
        })),
      );
      if (page.length < this.limit) return all;
      after = page[page.length - 1]!.key;
    }
  }

  toString(): string {
    return `LIST prefix ${JSON.stringify(this.prefix)} by ${this.limit}`;
  }
}

class Advance extends Command {
  constructor(readonly ms: number) {
    super();
  }

  expect(model: Model): Outcome {
    return { status: 200, apply: () => (model.now += this.ms) };
  }

  async act(real: Real): Promise<unknown> {
    real.advance(this.ms);
    return undefined;
  }

  toString(): string {
    return `ADVANCE ${this.ms} ms`;
  }
}

class Purge extends Command {
  constructor(readonly exact: boolean) {
    super();
  }

  expect(model: Model): Outcome {
    const expired = [...model.entries].filter(([, entry]) => !isLive(entry, model.now)).map(([key]) => key);
    return {
      status: 200,
      apply: (answer) => {
        if (this.exact) expect(answer, `step ${model.step}: ${this.toString()}`).toBe(expired.length);
        else
          expect(answer, `step ${model.step}: ${this.toString()}`).toBeLessThanOrEqual(
            expired.length + model.unpurged.size,
          );
        for (const key of expired) model.entries.delete(key);
        model.unpurged.clear();
      },
    };
  }

  act({ store }: Real): Promise<unknown> {
    return store.purgeExpired();
  }

  toString(): string {
    return 'PURGE';
  }
}

function show(value: Buffer): string {
  return value.length <= 12
    ? `<${value.toString('hex')}>`
    : `<${value.length} bytes ending ${value.subarray(-4).toString('hex')}>`;
}

/** Values: canonical integers (so counters count), and bytes that are never a number (a leading 'x'), trailing zeros included. */
const valueArb = fc.oneof(
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map((n) => Buffer.from(String(n))),
  fc.integer({ min: -5, max: 5 }).map((n) => Buffer.from(String(n))),
  fc
    .tuple(fc.uint8Array({ maxLength: 40 }), fc.nat({ max: 3 }))
    .map(([bytes, zeros]) => Buffer.concat([Buffer.from('x'), Buffer.from(bytes), Buffer.alloc(zeros)])),
);
const keyArb = fc.constantFrom(...KEYS);
const conditionArb = fc.constantFrom<Condition>('none', 'none', 'none', 'current', 'stale', 'any');
const secondsArb = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom(0, 1, 2, 3, 10),
  fc.constantFrom(-1, 1.5, 10 * 365 * 24 * 3600 + 1),
);
const actorArb = fc.constantFrom<Actor>(ADMIN, { subject: 'alice', admin: false }, { subject: 'bob', admin: false });

/** A branch of up to 4 ops, each key written at most once (a second write to a key becomes a get, as the API refuses it). */
const branchArb = fc
  .array(
    fc.oneof(
      keyArb.map((key): TxnOpSpec => ({ op: 'get', key })),
      fc.tuple(keyArb, valueArb).map(([key, value]): TxnOpSpec => ({ op: 'put', key, value })),
      keyArb.map((key): TxnOpSpec => ({ op: 'delete', key })),
      fc
        .tuple(
          keyArb,
          fc.constantFrom<'increment' | 'decrement'>('increment', 'decrement'),
          fc.option(fc.integer({ min: -3, max: 12 }), { nil: undefined }),
        )
        .map(([key, op, step]): TxnOpSpec => ({ op, key, step })),
    ),
    { maxLength: 4 },
  )
  .map((ops) => {
    const written = new Set<string>();
    return ops.map((op): TxnOpSpec => {
      if (op.op === 'get') return op;
      if (written.has(op.key)) return { op: 'get', key: op.key };
      written.add(op.key);
      return op;
    });
  });
const txnArb = fc
  .tuple(
    fc.array(
      fc.record({
        key: keyArb,
        kind: fc.constantFrom<TxnCompareKind>('exists', 'missing', 'etag', 'stale', 'value', 'other'),
      }),
      { maxLength: 3 },
    ),
    branchArb,
    branchArb,
  )
  .map(([compares, success, failure]) => new Txn(compares, success, failure));

function commandsArb(options: Required<ModelSuiteOptions>) {
  const put = fc
    .tuple(
      keyArb,
      valueArb,
      fc.constantFrom('text/plain', 'application/octet-stream'),
      secondsArb,
      conditionArb,
      fc.boolean(),
    )
    .map(([key, value, type, ttl, condition, noneMatch]) => new Put(key, value, type, ttl, condition, noneMatch));
  return fc.commands(
    [
      // Writes weigh double, so keys exist often enough for the other commands to meet them.
      put,
      put,
      fc.tuple(keyArb, conditionArb).map(([key, condition]) => new Delete(key, condition)),
      fc
        .tuple(
          keyArb,
          fc.constantFrom<Operation>('lock', 'lock', 'unlock', 'increment', 'increment', 'decrement', 'ttl'),
          fc.option(
            fc.oneof(
              { arbitrary: fc.integer({ min: -3, max: 12 }), weight: 6 },
              { arbitrary: fc.constantFrom(Infinity, -Infinity, Number.NaN), weight: 1 },
            ),
            { nil: undefined },
          ),
          actorArb,
          conditionArb,
        )
        .map(([key, operation, argument, actor, condition]) => new Patch(key, operation, argument, actor, condition)),
      fc.tuple(keyArb, secondsArb).map(([key, seconds]) => new Patch(key, 'ttl', seconds, ADMIN, 'none')),
      // Locks and unlocks by different holders, with and without leases, so ownership gets exercised.
      fc
        .tuple(keyArb, fc.constantFrom<Operation>('lock', 'unlock'), fc.constantFrom(undefined, 1, 2, 5), actorArb)
        .map(
          ([key, operation, lease, actor]) =>
            new Patch(key, operation, operation === 'lock' ? lease : undefined, actor, 'none'),
        ),
      keyArb.map((key) => new Get(key)),
      fc
        .tuple(fc.constantFrom(...PREFIXES), fc.integer({ min: 1, max: 4 }))
        .map(([prefix, limit]) => new List(prefix, limit)),
      fc
        .constantFrom(1, 500, 999, 1000, 1001, 2500, 1, 500, 999, 1000, 1001, 2500, 11_000)
        .map((ms) => new Advance(ms)),
      fc.constant(new Purge(options.exactPurgeCount)),
      txnArb,
    ],
    { maxCommands: options.maxCommands, size: 'max' },
  );
}

/** Registers the model-based test for one backend. Replay a failure with LUCID_MODEL_SEED=<seed> (and the printed path). */
export function storeModelSuite(name: string, factory: StoreFactory, options: ModelSuiteOptions = {}): void {
  const settings: Required<ModelSuiteOptions> = { numRuns: 100, maxCommands: 60, exactPurgeCount: true, ...options };
  describe(`store model: ${name}`, () => {
    it(
      'answers every random sequence of operations exactly as the in-memory model does',
      { timeout: 60_000 },
      async () => {
        const seed =
          process.env.LUCID_MODEL_SEED === undefined
            ? Date.now() ^ (Math.random() * 0x7fffffff)
            : Number(process.env.LUCID_MODEL_SEED);
        const path = process.env.LUCID_MODEL_PATH;
        let commandsRun = 0;
        const statuses = new Map<number, number>();
        await fc.assert(
          fc.asyncProperty(commandsArb(settings), async (commands) => {
            let now = START;
            const store = await factory.open(() => now);
            try {
              const model: Model = { now: START, entries: new Map(), step: 0, statuses, unpurged: new Set() };
              await fc.asyncModelRun(
                () => ({ model, real: { store, advance: (ms: number) => (now += ms) } }),
                commands,
              );
              commandsRun += model.step;
            } finally {
              await store.close();
            }
          }),
          { numRuns: settings.numRuns, seed, path, verbose: 1 },
        );
        // Printed so a run's size shows in the output; fast-check prints the seed and path of a failure itself.
        console.log(
          `store model (${name}): ${settings.numRuns} runs, ${commandsRun} commands, seed ${seed}, statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
        );
        for (const status of [200, 400, 404, 409, 412])
          expect(statuses.get(status), `status ${status} never met`).toBeGreaterThan(0);
      },
    );
  });
}
