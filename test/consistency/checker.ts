/**
 * Linearizability checking of recorded histories: the Wing-Gong search with Lowe's memoisation, as
 * porcupine (Go) and Knossos (Clojure) implement it, against the model in model.ts.
 *
 * - P-compositionality: linearizability is local, so the history is split into independent parts,
 *   one per group of keys that operations connect (a transaction over k1 and k2 joins them), and each
 *   part is searched alone. Parts are small, so the search stays small.
 * - The search walks the time-ordered list of call and return events, tries to linearize each pending
 *   call against the current set of possible states, and backtracks when a return arrives for an op
 *   not yet linearized. A (linearized-set, state-set) pair seen before is never explored again.
 * - An op whose answer never came returns at +Infinity: it may take effect at any point after its call
 *   or not at all (placing it last, after every answered op, is the same as never).
 * - The search has a budget of steps. Running out is the verdict 'unknown', never a pass.
 */
import { type Operation, type State, hashState, keysOf, step } from './model.js';

export type Verdict = 'linearizable' | 'not linearizable' | 'unknown';

export interface PartResult {
  keys: string[];
  operations: Operation[];
  verdict: Verdict;
  steps: number;
}

export interface CheckResult {
  verdict: Verdict;
  parts: PartResult[];
  /** The first part that is not linearizable (or whose check ran out of budget). */
  failing?: PartResult;
}

interface Entry {
  op: Operation;
  index: number;
  isCall: boolean;
  /** For a call: its return entry. */
  match?: Entry;
  prev?: Entry;
  next?: Entry;
}

/** The call/return events of `ops` as a doubly linked list in time order (calls first on a tie). */
function entries(ops: Operation[]): Entry {
  const events: Array<{ time: number; isCall: boolean; op: Operation; index: number }> = [];
  ops.forEach((op, index) => {
    events.push({ time: op.call, isCall: true, op, index });
    events.push({ time: op.ret, isCall: false, op, index });
  });
  events.sort((a, b) => a.time - b.time || Number(b.isCall) - Number(a.isCall));
  const head: Entry = { op: ops[0]!, index: -1, isCall: false };
  const calls = new Map<number, Entry>();
  let last = head;
  for (const event of events) {
    const entry: Entry = { op: event.op, index: event.index, isCall: event.isCall, prev: last };
    last.next = entry;
    last = entry;
    if (event.isCall) calls.set(event.index, entry);
    else calls.get(event.index)!.match = entry;
  }
  return head;
}

function lift(entry: Entry): void {
  entry.prev!.next = entry.next;
  if (entry.next) entry.next.prev = entry.prev;
  const match = entry.match!;
  match.prev!.next = match.next;
  if (match.next) match.next.prev = match.prev;
}

function unlift(entry: Entry): void {
  const match = entry.match!;
  match.prev!.next = match;
  if (match.next) match.next.prev = match;
  entry.prev!.next = entry;
  if (entry.next) entry.next.prev = entry;
}

function hashStates(states: State[]): string {
  return states.map(hashState).sort().join('|');
}

function dedupe(states: State[]): State[] {
  const seen = new Map<string, State>();
  for (const state of states) seen.set(hashState(state), state);
  return [...seen.values()];
}

/** Checks one part (ops over one group of keys) from the empty state, within `budget` steps. */
export function checkPart(ops: Operation[], budget: number): { verdict: Verdict; steps: number } {
  if (ops.length === 0) return { verdict: 'linearizable', steps: 0 };
  const head = entries(ops);
  /** One bit per op: linearized or not. */
  const linearized = new Uint8Array(Math.ceil(ops.length / 8));
  const mark = (index: number, on: boolean) => {
    if (on) linearized[index >> 3]! |= 1 << (index & 7);
    else linearized[index >> 3]! &= ~(1 << (index & 7));
  };
  const cache = new Set<string>();
  const calls: Array<{ entry: Entry; states: State[] }> = [];
  let states: State[] = [{}];
  let entry = head.next;
  let steps = 0;
  while (head.next !== undefined) {
    if (++steps > budget) return { verdict: 'unknown', steps };
    if (entry === undefined) return { verdict: 'not linearizable', steps };
    if (entry.isCall) {
      const next = dedupe(states.flatMap((state) => step(state, entry!.op.input, entry!.op.output)));
      if (next.length > 0) {
        mark(entry.index, true);
        const key = `${Buffer.from(linearized).toString('base64')}#${hashStates(next)}`;
        if (!cache.has(key)) {
          cache.add(key);
          calls.push({ entry, states });
          states = next;
          lift(entry);
          entry = head.next;
          continue;
        }
        mark(entry.index, false);
      }
      entry = entry.next;
    } else {
      // A return whose op is not linearized yet: undo the last choice and try the next call after it.
      const top = calls.pop();
      if (top === undefined) return { verdict: 'not linearizable', steps };
      states = top.states;
      mark(top.entry.index, false);
      unlift(top.entry);
      entry = top.entry.next;
    }
  }
  return { verdict: 'linearizable', steps };
}

/** Splits a history into parts: groups of keys joined by operations that touch several. */
export function partition(ops: Operation[]): Array<{ keys: string[]; operations: Operation[] }> {
  const parent = new Map<string, string>();
  const find = (key: string): string => {
    if (!parent.has(key)) parent.set(key, key);
    let root = key;
    while (parent.get(root) !== root) root = parent.get(root)!;
    parent.set(key, root);
    return root;
  };
  for (const op of ops) {
    const [first, ...rest] = keysOf(op.input);
    for (const key of rest) parent.set(find(key), find(first!));
    if (first !== undefined) find(first);
  }
  const groups = new Map<string, { keys: string[]; operations: Operation[] }>();
  for (const key of [...parent.keys()].sort()) {
    const root = find(key);
    if (!groups.has(root)) groups.set(root, { keys: [], operations: [] });
    groups.get(root)!.keys.push(key);
  }
  for (const op of ops) groups.get(find(keysOf(op.input)[0]!))!.operations.push(op);
  return [...groups.values()];
}

/**
 * The part without the unanswered writes nobody saw: unanswered ops whose only writes put values no
 * answer ever contains. Values are unique, so such a write was never read. An unanswered op may also never
 * take effect, so a linearization without these ops is one of the whole part: checking this smaller
 * part first is sound, and only when it fails is the whole part searched.
 */
export function withoutUnseenWrites(ops: Operation[]): Operation[] {
  const seen = new Set<string>();
  for (const op of ops) {
    if (op.output === undefined || !('results' in op.output)) continue;
    for (const result of op.output.results) if ('value' in result) seen.add(result.value);
  }
  const unseen = (op: Operation) =>
    op.output === undefined &&
    [...op.input.success, ...op.input.failure].every(
      (sub) => sub.op === 'get' || (sub.op === 'put' && !seen.has(sub.value)),
    );
  return ops.filter((op) => !unseen(op));
}

function checkGroup(ops: Operation[], budget: number): { verdict: Verdict; steps: number } {
  const reduced = withoutUnseenWrites(ops);
  if (reduced.length < ops.length) {
    const quick = checkPart(reduced, budget);
    if (quick.verdict === 'linearizable') return quick;
  }
  return checkPart(ops, budget);
}

/** Checks a whole history part by part; `budget` is the step budget of each part. */
export function check(ops: Operation[], budget = 20_000_000): CheckResult {
  const parts: PartResult[] = partition(ops).map((group) => ({ ...group, ...checkGroup(group.operations, budget) }));
  const failing =
    parts.find((part) => part.verdict === 'not linearizable') ?? parts.find((part) => part.verdict === 'unknown');
  return { verdict: failing?.verdict ?? 'linearizable', parts, failing };
}

/**
 * A small sub-history of a non-linearizable part that is still not linearizable on its own, for a
 * person to read: the shortest prefix (by call time) that fails, then reads (and refused or failed
 * conditional writes, which change nothing) removed one at a time while it keeps failing. Writes stay:
 * without them a later read would fail for the wrong reason (a value nobody wrote). A sub-history is a
 * witness to read; the proof is the verdict on the full part.
 */
export function minimise(ops: Operation[], budget = 200_000): Operation[] {
  const fails = (candidate: Operation[]) => checkPart(candidate, budget).verdict === 'not linearizable';
  const byCall = [...ops].sort((a, b) => a.call - b.call);
  let low = 1;
  let high = byCall.length;
  if (!fails(byCall)) return byCall;
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    if (fails(byCall.slice(0, middle))) high = middle;
    else low = middle + 1;
  }
  let current = byCall.slice(0, high);
  if (current.length > 400) return current;
  for (let i = current.length - 1; i >= 0; i--) {
    if (!changesNothing(current[i]!)) continue;
    const without = [...current.slice(0, i), ...current.slice(i + 1)];
    if (fails(without)) current = without;
  }
  return current;
}

/** An answered op whose branch that ran only read, or that was refused: removing it removes no write. */
function changesNothing(op: Operation): boolean {
  if (op.output === undefined) return false;
  if ('refused' in op.output) return true;
  const ran = op.output.succeeded ? op.input.success : op.input.failure;
  return ran.every((sub) => sub.op === 'get');
}
