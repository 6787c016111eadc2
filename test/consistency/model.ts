/**
 * The sequential specification of Lucid's keys that recorded histories are checked against.
 *
 * Every recorded operation, single-key or not, is expressed as a transaction: optional compares, then
 * the `success` branch when they all hold, else the `failure` branch (a PUT with If-Match is a compare
 * on the ETag plus one put; a GET is a transaction with one get). One model for all of them means a
 * POST /api/txn is checked by the very same rules as the single-key routes, and atomically across the
 * keys it touches (the checker partitions the history by groups of keys that transactions connect).
 *
 * A key's state is its value (a decimal integer as text, or absent) and its ETag. An ETag is opaque and
 * chosen by the server, so the model learns it from answers: a write whose answer never came leaves the
 * ETag unknown ('?'), and the next answer naming it (a GET, an increment) pins it down. A compare on an
 * unknown ETag may go either way. That is sound (it never rejects a linearizable history) and only a
 * little weaker than knowing it, since ETags never repeat.
 *
 * The model is non-deterministic (an unknown ETag, an answer that never came), so, as porcupine does,
 * the checker steps a *set* of possible states.
 */

/** Unknown ETag: set by a write whose answer was lost. */
export const UNKNOWN = '?';

export interface KeyState {
  value: string | null;
  etag: string | null;
}

/** One possible state of a group of keys: key → state (an absent key is a missing entry). */
export type State = Readonly<Record<string, KeyState>>;

export type Compare = { key: string; etag: string } | { key: string; exists: boolean } | { key: string; value: string };

export type SubOp =
  | { op: 'get'; key: string }
  | { op: 'put'; key: string; value: string }
  | { op: 'delete'; key: string }
  | { op: 'increment'; key: string; by: number };

export type SubResult =
  | { found: false }
  | { found: true; value: string; etag: string }
  | { created: boolean; etag: string }
  | { deleted: boolean }
  | { value: string; etag: string };

/** What the server answered: the branch that ran and one result per op, or a refusal of the whole request. */
export type Output = { succeeded: boolean; results: SubResult[] } | { refused: 'missing' | 'nan' };

export interface Input {
  compare: Compare[];
  success: SubOp[];
  failure: SubOp[];
}

/** One recorded operation. `output` undefined: the answer never came (it may or may not have applied). */
export interface Operation {
  id: number;
  client: number;
  /** What the client did, for people: `PUT k1 If-Match "3-x" = 42`. */
  label: string;
  input: Input;
  output: Output | undefined;
  /** Invocation and completion times (ms); completion is Infinity when the answer never came. */
  call: number;
  ret: number;
}

export function keysOf(input: Input): string[] {
  return [...new Set([...input.compare, ...input.success, ...input.failure].map((item) => item.key))];
}

/** A stable string for a state, for memoisation and de-duplication. */
export function hashState(state: State): string {
  return Object.keys(state)
    .sort()
    .map((key) => `${key}=${state[key]!.value ?? '-'}@${state[key]!.etag ?? '-'}`)
    .join(';');
}

/** The outcomes a compare may have in this state: [true], [false], or both when it names an unknown ETag. */
function compareOutcomes(state: State, compare: Compare): boolean[] {
  const entry = state[compare.key];
  if ('exists' in compare) return [(entry !== undefined) === compare.exists];
  if ('value' in compare) return [entry?.value === compare.value];
  if (entry === undefined) return [false];
  if (entry.etag === UNKNOWN) return [true, false];
  return [entry.etag === compare.etag];
}

function branchOutcomes(state: State, compares: Compare[]): boolean[] {
  let possible = new Set<string>(['true']);
  for (const compare of compares) {
    const next = new Set<string>();
    for (const sofar of possible) {
      if (sofar === 'false') next.add('false');
      else for (const outcome of compareOutcomes(state, compare)) next.add(String(outcome));
    }
    possible = next;
  }
  return [...possible].map((text) => text === 'true');
}

function isNumber(value: string): boolean {
  return /^-?\d+$/.test(value);
}

type Applied = { state: Record<string, KeyState> } | { refused: 'missing' | 'nan' } | undefined;

/** Applies one op to `state` (mutated) checking it against `seen` when known; undefined when they disagree. */
function applySub(state: Record<string, KeyState>, sub: SubOp, seen: SubResult | undefined): Applied {
  const entry = state[sub.key];
  switch (sub.op) {
    case 'get': {
      if (seen === undefined) return { state };
      if (!('found' in seen)) return undefined;
      if (!seen.found) return entry === undefined ? { state } : undefined;
      if (entry === undefined || entry.value !== seen.value) return undefined;
      if (entry.etag === UNKNOWN) state[sub.key] = { value: entry.value, etag: seen.etag };
      else if (entry.etag !== seen.etag) return undefined;
      return { state };
    }
    case 'put': {
      if (seen !== undefined && (!('created' in seen) || seen.created !== (entry === undefined))) return undefined;
      state[sub.key] = { value: sub.value, etag: seen !== undefined && 'etag' in seen ? seen.etag : UNKNOWN };
      return { state };
    }
    case 'delete': {
      if (seen !== undefined && (!('deleted' in seen) || seen.deleted !== (entry !== undefined))) return undefined;
      delete state[sub.key];
      return { state };
    }
    case 'increment': {
      if (entry === undefined) return { refused: 'missing' };
      if (!isNumber(entry.value!)) return { refused: 'nan' };
      const value = String(BigInt(entry.value!) + BigInt(sub.by));
      if (seen !== undefined && (!('value' in seen) || 'found' in seen || seen.value !== value)) return undefined;
      state[sub.key] = { value, etag: seen !== undefined && 'etag' in seen ? seen.etag : UNKNOWN };
      return { state };
    }
  }
}

/** Every state `op` may leave when applied to `state` and answered `output`; empty when it cannot happen. */
export function step(state: State, input: Input, output: Output | undefined): State[] {
  const next: State[] = [];
  for (const succeeded of branchOutcomes(state, input.compare)) {
    if (output !== undefined && 'succeeded' in output && output.succeeded !== succeeded) continue;
    const ops = succeeded ? input.success : input.failure;
    if (output !== undefined && 'results' in output && output.results.length !== ops.length) continue;
    let working: Record<string, KeyState> = { ...state };
    let refused: 'missing' | 'nan' | undefined;
    let consistent = true;
    for (const [i, sub] of ops.entries()) {
      const seen = output !== undefined && 'results' in output ? output.results[i] : undefined;
      const applied = applySub(working, sub, seen);
      if (applied === undefined) consistent = false;
      else if ('refused' in applied) refused = applied.refused;
      else working = applied.state;
      if (!consistent || refused !== undefined) break;
    }
    if (!consistent) continue;
    if (refused !== undefined) {
      // A refusal applies nothing, whichever op caused it.
      if (output === undefined || ('refused' in output && output.refused === refused)) next.push(state);
      continue;
    }
    if (output !== undefined && 'refused' in output) continue;
    next.push(working);
  }
  return next;
}
