/**
 * Transactions (POST /api/txn): compares on several keys choose a branch of ops, and the branch
 * runs as one pure decision over the live entries of every key involved, applied by the store's
 * `transact` (every write or none). Each op follows the single-key rules (kv.ts's putEntry,
 * countEntry, deletable); a refusal names its key and refuses the whole transaction.
 */
import { allows, type Principal } from './auth.js';
import { LucidError } from './errors.js';
import { countEntry, deletable, putEntry } from './kv.js';
import type { ChangeType, Entry, Store, TxnDecision, TxnWrite } from './store/types.js';
import type { components } from '../generated/lucid.js';

export type TxnRequest = components['schemas']['TxnRequest'];
export type TxnOp = components['schemas']['TxnOp'];
export type TxnResult = components['schemas']['TxnResult'];

/** The most compares and ops one transaction may hold, counted together (Consul's limit). */
export const MAX_TXN_ITEMS = 64;

/** A compare with its bytes decoded: the key holds exactly this ETag, this existence or these bytes. */
export type Condition = { key: string } & ({ etag: string } | { exists: boolean } | { bytes: Buffer });

/** An op ready to decide: a put's value decoded and its content type resolved (sniffing is async). */
export type PreparedOp =
  | { op: 'get' | 'delete'; key: string }
  | { op: 'put'; key: string; value: Buffer; contentType: string; ttl: number | undefined }
  | { op: 'increment' | 'decrement'; key: string; step: number | undefined };

export interface TxnOutcome {
  succeeded: boolean;
  results: TxnResult[];
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Refuses, before anything is read, what no store state could make acceptable: a key outside the
 * token's prefix or a write op without write scope (403), more than MAX_TXN_ITEMS compares and ops,
 * or one key written twice in a branch (400).
 */
export function checkTxn(request: TxnRequest, principal: Principal): void {
  const compare = request.compare ?? [];
  const branches = [request.success ?? [], request.failure ?? []];
  for (const { key } of [...compare, ...branches.flat()]) {
    if (!key.startsWith(principal.prefix)) throw new LucidError('FORBIDDEN_PREFIX', { key });
  }
  if (branches.flat().some((op) => op.op !== 'get') && !allows(principal, 'write')) {
    throw new LucidError('FORBIDDEN_SCOPE', {
      message: `This token's scope (${principal.scope}) does not allow this: its write ops need write.`,
    });
  }
  const items = compare.length + branches[0]!.length + branches[1]!.length;
  if (items > MAX_TXN_ITEMS) {
    throw new LucidError('INVALID_REQUEST', {
      message: `A transaction holds at most ${MAX_TXN_ITEMS} compares and ops; this one holds ${items}.`,
    });
  }
  for (const branch of branches) {
    const written = new Set<string>();
    for (const { op, key } of branch) {
      if (op === 'get') continue;
      if (written.has(key))
        throw new LucidError('INVALID_REQUEST', {
          message: `The key "${key}" is written by two ops of one branch.`,
          key,
        });
      written.add(key);
    }
  }
}

/** Decodes base64 strictly (Buffer.from skips what is not base64); undefined when it is not base64. */
export function decodeBase64(text: string): Buffer | undefined {
  return /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)
    ? Buffer.from(text, 'base64')
    : undefined;
}

function bytesOf(key: string, text: string | undefined, base64: string | undefined): Buffer {
  if ((text === undefined) === (base64 === undefined)) {
    throw new LucidError('INVALID_REQUEST', {
      message: `Invalid request: the op on "${key}" needs exactly one of value and valueBase64.`,
      key,
    });
  }
  const bytes = text === undefined ? decodeBase64(base64!) : Buffer.from(text, 'utf8');
  if (bytes === undefined)
    throw new LucidError('INVALID_REQUEST', {
      message: `Invalid request: valueBase64 for "${key}" is not base64.`,
      key,
    });
  return bytes;
}

export function prepareCondition(compare: components['schemas']['TxnCompare']): Condition {
  const { key } = compare;
  if (compare.etag !== undefined) return { key, etag: compare.etag };
  if (compare.exists !== undefined) return { key, exists: compare.exists };
  return { key, bytes: bytesOf(key, compare.value, compare.valueBase64) };
}

/** Prepares one op; `sniff` gives a put without a content type the one a PUT without one gets. */
export async function prepareOp(op: TxnOp, sniff: (value: Buffer) => Promise<string>): Promise<PreparedOp> {
  switch (op.op) {
    case 'get':
    case 'delete':
      return { op: op.op, key: op.key };
    case 'put': {
      const value = bytesOf(op.key, op.value, op.valueBase64);
      if (value.length === 0)
        throw new LucidError('EMPTY_BODY', { message: `The value of "${op.key}" must not be empty.`, key: op.key });
      return { op: 'put', key: op.key, value, contentType: op.contentType ?? (await sniff(value)), ttl: op.ttl };
    }
    default:
      return { op: op.op, key: op.key, step: op.value };
  }
}

function holds(condition: Condition, current: Entry | undefined): boolean {
  if ('etag' in condition) return current?.etag === condition.etag;
  if ('exists' in condition) return (current !== undefined) === condition.exists;
  return current !== undefined && current.value.equals(condition.bytes);
}

function readResult(key: string, entry: Entry | undefined): TxnResult {
  if (entry === undefined) return { key, found: false };
  const result: TxnResult = { key, found: true, contentType: entry.contentType, etag: entry.etag };
  try {
    result.value = utf8.decode(entry.value);
  } catch {
    result.valueBase64 = entry.value.toString('base64');
  }
  return result;
}

/** Runs one op against the transaction's working state, recording its write; errors name the key. */
function runOp(op: PreparedOp, state: Map<string, Entry | undefined>, writes: TxnWrite[], now: number): TxnResult {
  const { key } = op;
  const current = state.get(key);
  const write = (entry: Entry | null, change: ChangeType) => {
    state.set(key, entry ?? undefined);
    writes.push({ key, write: entry, change });
  };
  switch (op.op) {
    case 'get':
      return readResult(key, current);
    case 'put': {
      const { created, entry } = putEntry(current, now, op.value, op.contentType, { ttlSeconds: op.ttl });
      write(entry, created ? 'created' : 'updated');
      return { key, created, etag: entry.etag };
    }
    case 'delete':
      if (current === undefined) return { key, deleted: false };
      deletable(current, now);
      write(null, 'deleted');
      return { key, deleted: true };
    default: {
      const { entry, value } = countEntry(current, now, op.op, op.step);
      write(entry, `${op.op}ed`);
      return { key, value: Number(value), etag: entry.etag };
    }
  }
}

/** The pure decision: which branch the compares choose, its results and its writes, in op order. */
export function decideTxn(
  conditions: readonly Condition[],
  branches: { success: readonly PreparedOp[]; failure: readonly PreparedOp[] },
  current: ReadonlyMap<string, Entry | undefined>,
  now: number,
): TxnDecision<TxnOutcome> {
  const succeeded = conditions.every((condition) => holds(condition, current.get(condition.key)));
  const state = new Map(current);
  const writes: TxnWrite[] = [];
  const results = (succeeded ? branches.success : branches.failure).map((op) => {
    try {
      return runOp(op, state, writes, now);
    } catch (error) {
      if (error instanceof LucidError && error.key === undefined)
        throw new LucidError(error.code, { message: error.message, cause: error, key: op.key, headers: error.headers });
      throw error;
    }
  });
  return { result: { succeeded, results }, writes };
}

/** Runs a prepared transaction on the store: every key involved, held the way `update` holds one. */
export function runTxn(
  store: Store,
  conditions: readonly Condition[],
  branches: { success: readonly PreparedOp[]; failure: readonly PreparedOp[] },
): Promise<TxnOutcome> {
  if (store.transact === undefined)
    throw new LucidError('INTERNAL', { message: 'This store cannot run transactions.' });
  const keys = [...new Set([...conditions, ...branches.success, ...branches.failure].map(({ key }) => key))];
  return store.transact(keys, (current, now) => decideTxn(conditions, branches, current, now));
}
