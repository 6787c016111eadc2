/**
 * The key-value domain: what PUT, DELETE and each PATCH operation mean, written as pure decisions
 * over the current entry and run atomically by the store's `update`.
 */
import { randomBytes } from 'node:crypto';
import { addDecimals, decimalFromNumber, formatDecimal, negate, parseDecimal } from './decimal.js';
import { LucidError } from './errors.js';
import type { Decision, Entry, Store } from './store/types.js';

/** The longest expiry a ttl may set: ten years, in seconds. */
export const MAX_TTL_SECONDS = 10 * 365 * 24 * 3600;

export type Operation = 'lock' | 'unlock' | 'increment' | 'decrement' | 'ttl';

export interface OperationOutcome {
  message: string;
  entry: Entry;
  /** The new number, for increment and decrement. */
  value?: string;
}

function newEtag(version: number): string {
  return `"${version.toString(36)}-${randomBytes(6).toString('base64url')}"`;
}

/** The entry after a write at `now`: a new version and ETag, and the given changes. */
function revise(entry: Entry, now: number, changes: Partial<Entry>): Entry {
  const version = entry.version + 1;
  return { ...entry, ...changes, updatedAt: now, version, etag: newEtag(version) };
}

function existing(current: Entry | undefined): Entry {
  if (current === undefined) throw new LucidError('KEY_NOT_FOUND');
  return current;
}

function unlocked(current: Entry): Entry {
  if (current.locked) throw new LucidError('KEY_LOCKED');
  return current;
}

/** Reads a live entry or throws KEY_NOT_FOUND. */
export async function readEntry(store: Store, key: string): Promise<Entry> {
  return existing(await store.get(key));
}

/**
 * Stores `value` under `key`, creating it (created: true) or replacing its bytes and content type.
 * The key's expiry is kept; a locked key is refused.
 */
export function putValue(store: Store, key: string, value: Buffer, contentType: string): Promise<{ created: boolean; entry: Entry }> {
  return store.update(key, (current, now) => {
    const entry =
      current === undefined
        ? { value, contentType, createdAt: now, updatedAt: now, expiresAt: null, locked: false, version: 1, etag: newEtag(1) }
        : revise(unlocked(current), now, { value, contentType });
    return { result: { created: current === undefined, entry }, write: entry };
  });
}

/** Deletes `key`; a missing key is KEY_NOT_FOUND and a locked one KEY_LOCKED. */
export function deleteValue(store: Store, key: string): Promise<void> {
  return store.update(key, (current) => {
    unlocked(existing(current));
    return { result: undefined, write: null };
  });
}

/** Runs one PATCH operation on an existing key. `argument` is the body's `value`, already validated as a number when present. */
export function applyOperation(store: Store, key: string, operation: Operation, argument: number | undefined): Promise<OperationOutcome> {
  return store.update(key, (current, now): Decision<OperationOutcome> => {
    const entry = existing(current);
    switch (operation) {
      case 'lock': {
        if (entry.locked) throw new LucidError('ALREADY_LOCKED');
        const write = revise(entry, now, { locked: true });
        return { result: { message: 'The specified key was successfully locked.', entry: write }, write };
      }
      case 'unlock': {
        if (!entry.locked) throw new LucidError('NOT_LOCKED');
        const write = revise(entry, now, { locked: false });
        return { result: { message: 'The specified key was successfully unlocked.', entry: write }, write };
      }
      case 'increment':
      case 'decrement': {
        unlocked(entry);
        const stored = parseDecimal(entry.value.toString('utf8'));
        if (stored === undefined) throw new LucidError('NOT_A_NUMBER');
        const step = decimalFromNumber(argument ?? 1);
        const value = formatDecimal(addDecimals(stored, operation === 'increment' ? step : negate(step)));
        const write = revise(entry, now, { value: Buffer.from(value, 'utf8') });
        return { result: { message: `The specified key was successfully ${operation}ed.`, entry: write, value }, write };
      }
      case 'ttl': {
        unlocked(entry);
        const seconds = argument;
        if (seconds === undefined || !Number.isInteger(seconds) || seconds < 0 || seconds > MAX_TTL_SECONDS) {
          throw new LucidError('INVALID_REQUEST', `The ttl value must be a whole number of seconds from 0 (no expiry) to ${MAX_TTL_SECONDS}.`);
        }
        const write = revise(entry, now, { expiresAt: seconds === 0 ? null : now + seconds * 1000 });
        const message = seconds === 0 ? 'The expiry of the specified key was removed.' : 'The expiry of the specified key was set.';
        return { result: { message, entry: write }, write };
      }
    }
  });
}
