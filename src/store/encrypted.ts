/**
 * Encryption at rest: a Store decorator that seals every value with AES-256-GCM before it reaches
 * the backend and opens it on the way back, so it works the same over every backend.
 *
 * Each value becomes an envelope (40 bytes longer than the value):
 *
 *   offset 0    3 bytes   magic "LCE"
 *   offset 3    1 byte    envelope version (1)
 *   offset 4    8 bytes   key id: the first 8 bytes of SHA-256("lucid-encryption-key-id" 0x00 key)
 *   offset 12   12 bytes  nonce, random for every seal (96 bits, as GCM wants)
 *   offset 24   N bytes   ciphertext (GCM is a stream mode: exactly as long as the value, no padding,
 *                         so no byte, trailing zeros included, can be lost to unpadding)
 *   offset 24+N 16 bytes  GCM tag over the ciphertext and the AAD: the 24 header bytes and the
 *                         key's name (UTF-8), so a value moved to another key does not open
 *
 * The key id tells "sealed with another key" apart from "damaged": a wrong key is named as such.
 * Only values are encrypted; keys, content types, times, lock holders and sizes stay readable in
 * the backend (listing and expiry sweeps need them).
 *
 * The store also holds one record of its own, the marker, under a key longer than any the API
 * accepts (512 characters), so no client can read, write or shadow it: a sealed JSON document
 * `{"pending": [...]}` whose envelope names the key the store is encrypted with, and whose
 * `pending` lists the keys (or "plaintext") that values may still be under while `lucid rekey` runs.
 * Start-up reads it to refuse a wrong key, a store encrypted when encryption is off, and
 * unencrypted values when encryption is on, instead of serving garbage.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ConfigError, StoreUnavailableError } from '../errors.js';
import { storeEntries } from './entries.js';
import { entryOf } from './types.js';
import type {
  Change,
  Decide,
  DecideMany,
  Entry,
  KeyInfo,
  ListOptions,
  RevocationStore,
  Store,
  StoredEntry,
} from './types.js';

export const KEY_BYTES = 32;
const MAGIC = Buffer.from('LCE', 'latin1');
const VERSION = 1;
const ID_BYTES = 8;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = MAGIC.length + 1 + ID_BYTES + NONCE_BYTES;
/** How many bytes an envelope adds to a value. */
export const ENVELOPE_OVERHEAD = HEADER_BYTES + TAG_BYTES;

/** The marker's key: one character longer than the API's longest key, so it is Lucid's alone. */
export const MARKER_KEY = '~lucid/encryption'.padEnd(513, '~');
/** The `pending` entry that means "some values may still be unencrypted". */
export const PLAINTEXT = 'plaintext';

/** Failures to open a value: a key this keyring lacks, or bytes that do not authenticate. */
export class EncryptionError extends Error {
  constructor(
    message: string,
    readonly reason: 'unknown-key' | 'damaged',
  ) {
    super(message);
    this.name = 'EncryptionError';
  }
}

export interface EncryptionKey {
  /** The key id, as 16 hex digits (safe to print: it is a hash, not the key). */
  id: string;
  secret: Buffer;
}

/** Parses a base64 key of 32 bytes; the message never repeats the key. */
export function parseKey(base64: string, name = 'the encryption key'): EncryptionKey {
  const secret = Buffer.from(base64, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64.trim()) || secret.length !== KEY_BYTES) {
    throw new ConfigError(
      `${name} must be ${KEY_BYTES} bytes in base64 (44 characters; \`openssl rand -base64 32\` makes one).`,
    );
  }
  return { id: keyId(secret), secret };
}

export function generateKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

function keyId(secret: Buffer): string {
  return createHash('sha256')
    .update('lucid-encryption-key-id\0')
    .update(secret)
    .digest()
    .subarray(0, ID_BYTES)
    .toString('hex');
}

/** The key new values are sealed with, and older ones that values may still be under. */
export class Keyring {
  readonly #byId = new Map<string, EncryptionKey>();

  constructor(
    readonly current: EncryptionKey,
    previous: EncryptionKey[] = [],
  ) {
    for (const key of [current, ...previous]) if (!this.#byId.has(key.id)) this.#byId.set(key.id, key);
  }

  has(id: string): boolean {
    return this.#byId.has(id);
  }

  get ids(): string[] {
    return [...this.#byId.keys()];
  }

  /** Seals `plaintext` for `name` with the current key and a fresh random nonce. */
  seal(name: string, plaintext: Buffer): Buffer {
    const envelope = Buffer.allocUnsafe(ENVELOPE_OVERHEAD + plaintext.length);
    MAGIC.copy(envelope, 0);
    envelope[MAGIC.length] = VERSION;
    Buffer.from(this.current.id, 'hex').copy(envelope, MAGIC.length + 1);
    randomBytes(NONCE_BYTES).copy(envelope, HEADER_BYTES - NONCE_BYTES);
    const cipher = createCipheriv(
      'aes-256-gcm',
      this.current.secret,
      envelope.subarray(HEADER_BYTES - NONCE_BYTES, HEADER_BYTES),
    );
    cipher.setAAD(Buffer.concat([envelope.subarray(0, HEADER_BYTES), Buffer.from(name, 'utf8')]));
    let offset = HEADER_BYTES;
    offset += cipher.update(plaintext).copy(envelope, offset);
    offset += cipher.final().copy(envelope, offset);
    cipher.getAuthTag().copy(envelope, offset);
    return envelope;
  }

  /** Opens an envelope sealed for `name`; throws EncryptionError for an unknown key or damaged bytes. */
  open(name: string, envelope: Buffer): Buffer {
    const id = envelopeKeyId(envelope);
    if (id === undefined) throw new EncryptionError(`The value of "${name}" is not encrypted.`, 'damaged');
    const key = this.#byId.get(id);
    if (key === undefined)
      throw new EncryptionError(
        `The value of "${name}" is encrypted with key id ${id}, which is not configured.`,
        'unknown-key',
      );
    if (envelope.length < ENVELOPE_OVERHEAD)
      throw new EncryptionError(`The value of "${name}" is damaged (too short).`, 'damaged');
    const decipher = createDecipheriv(
      'aes-256-gcm',
      key.secret,
      envelope.subarray(HEADER_BYTES - NONCE_BYTES, HEADER_BYTES),
    );
    decipher.setAAD(Buffer.concat([envelope.subarray(0, HEADER_BYTES), Buffer.from(name, 'utf8')]));
    decipher.setAuthTag(envelope.subarray(envelope.length - TAG_BYTES));
    try {
      return Buffer.concat([
        decipher.update(envelope.subarray(HEADER_BYTES, envelope.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch {
      throw new EncryptionError(
        `The value of "${name}" does not authenticate under key id ${id}: it is damaged.`,
        'damaged',
      );
    }
  }
}

/** The key id an envelope names, or undefined when the bytes are not an envelope. */
export function envelopeKeyId(bytes: Buffer): string | undefined {
  if (
    bytes.length < HEADER_BYTES ||
    bytes[MAGIC.length] !== VERSION ||
    !timingSafeEqual(bytes.subarray(0, MAGIC.length), MAGIC)
  )
    return undefined;
  return bytes.toString('hex', MAGIC.length + 1, MAGIC.length + 1 + ID_BYTES);
}

/** What the marker records. */
export interface MarkerState {
  /** The key id the store is encrypted with (the marker's own envelope). */
  keyId: string;
  /** Key ids, or PLAINTEXT, that some values may still be under (an unfinished rekey). */
  pending: string[];
}

/** Reads the marker: undefined when the store has none (it was never encrypted). */
export async function readMarker(store: Store, keyring: Keyring | undefined): Promise<MarkerState | undefined> {
  const marker = await store.get(MARKER_KEY);
  if (marker === undefined) return undefined;
  const keyIdOfStore = envelopeKeyId(marker.value) ?? 'unknown';
  if (keyring === undefined) return { keyId: keyIdOfStore, pending: [] };
  let plaintext: Buffer;
  try {
    plaintext = keyring.open(MARKER_KEY, marker.value);
  } catch (error) {
    if (error instanceof EncryptionError && error.reason === 'unknown-key') {
      const configured = keyring.ids.length > 1 ? 'keys have ids' : 'key has id';
      throw new ConfigError(
        `Wrong encryption key: the store is encrypted with key id ${keyIdOfStore}, ` +
          `and the configured ${configured} ${keyring.ids.join(', ')}. ` +
          'Set encryption.key (or LUCID_ENCRYPTION_KEY) to the key the store was encrypted with.',
      );
    }
    throw new ConfigError(
      `The store's encryption marker is damaged (${(error as Error).message}); ` +
        'refusing to serve values that cannot be verified.',
    );
  }
  const { pending } = JSON.parse(plaintext.toString('utf8')) as { pending: string[] };
  return { keyId: keyIdOfStore, pending };
}

/** Writes the marker, sealed with the keyring's current key, recording what values may still be under. */
export async function writeMarker(store: Store, keyring: Keyring, pending: string[]): Promise<void> {
  const value = keyring.seal(MARKER_KEY, Buffer.from(JSON.stringify({ pending }), 'utf8'));
  await store.update(MARKER_KEY, (current, now) => ({
    result: undefined,
    write: {
      value,
      contentType: 'application/json',
      createdAt: current?.createdAt ?? now,
      updatedAt: now,
      expiresAt: null,
      locked: false,
      lockHolder: null,
      lockExpiresAt: null,
      version: (current?.version ?? 0) + 1,
      etag: `"lucid-encryption-${(current?.version ?? 0) + 1}"`,
    },
  }));
}

/**
 * Puts `inner` behind the encryption the config asks for, after checking that the stored data
 * agrees: with a keyring, the marker must name a configured key (an empty store gets a marker when
 * `writable`); without one, there must be no marker. Anything else stops with one clear ConfigError.
 */
export async function applyEncryption(
  inner: Store,
  keyring: Keyring | undefined,
  options: { writable: boolean },
): Promise<Store> {
  const state = await readMarker(inner, keyring);
  if (keyring === undefined) {
    if (state !== undefined) {
      throw new ConfigError(
        `The store is encrypted (key id ${state.keyId}) but encryption is off: ` +
          'set encryption.key (or LUCID_ENCRYPTION_KEY) to its key. Lucid will not serve encrypted bytes as values.',
      );
    }
    return inner;
  }
  if (state === undefined) {
    if ((await inner.list({ prefix: '', limit: 1 })).length > 0) {
      throw new ConfigError(
        'encryption.key is set but the store holds unencrypted values: ' +
          'stop the server and run `lucid rekey` to encrypt them, or remove encryption.key.',
      );
    }
    if (options.writable) await writeMarker(inner, keyring, []);
  } else {
    if (state.pending.includes(PLAINTEXT)) {
      throw new ConfigError(
        'An interrupted `lucid rekey` left some values unencrypted: ' +
          'run `lucid rekey` again (with the same --new-key) to finish.',
      );
    }
    const missing = state.pending.filter((id) => !keyring.has(id));
    if (missing.length > 0) {
      throw new ConfigError(
        `An interrupted \`lucid rekey\` left values under key id ${missing.join(', ')}: ` +
          'add that key to encryption.previousKeys (or LUCID_ENCRYPTION_PREVIOUS_KEYS) ' +
          'and run `lucid rekey` again to finish.',
      );
    }
  }
  return new EncryptedStore(inner, keyring);
}

/** Seals values on the way in and opens them on the way out; sizes it reports are plaintext sizes. */
export class EncryptedStore implements Store {
  readonly #inner: Store;
  readonly #keyring: Keyring;
  /** The plaintext entry behind each sealed entry this store wrote, so change listeners need not open it again. */
  readonly #plain = new WeakMap<Entry, Entry>();

  constructor(inner: Store, keyring: Keyring) {
    this.#inner = inner;
    this.#keyring = keyring;
  }

  async get(key: string): Promise<Entry | undefined> {
    const entry = await this.#inner.get(key);
    return entry === undefined ? undefined : this.#open(key, entry);
  }

  update<T>(key: string, decide: Decide<T>): Promise<T> {
    return this.#inner.update(key, (current, now) => {
      const plain = current === undefined ? undefined : this.#open(key, current);
      const decision = decide(plain, now);
      if (decision.write === undefined || decision.write === null) return decision;
      return { ...decision, write: this.#seal(key, decision.write, current, plain) };
    });
  }

  /**
   * Present when the backend runs transactions: entries are opened for `decide` and its writes sealed, as in update.
   */
  get transact(): Store['transact'] {
    const inner = this.#inner;
    if (inner.transact === undefined) return undefined;
    return <T>(keys: readonly string[], decide: DecideMany<T>) =>
      inner.transact!(keys, (current, now) => {
        const plain = new Map(
          [...current].map(([key, entry]) => [key, entry === undefined ? undefined : this.#open(key, entry)]),
        );
        const decision = decide(plain, now);
        const writes = decision.writes.map((write) =>
          write.write === null
            ? write
            : { ...write, write: this.#seal(write.key, write.write, current.get(write.key), plain.get(write.key)) },
        );
        return { ...decision, writes };
      });
  }

  async list(options: ListOptions): Promise<KeyInfo[]> {
    // One extra row in case the marker is among them.
    const rows = await this.#inner.list({ ...options, limit: options.limit + 1 });
    return rows
      .filter((info) => info.key !== MARKER_KEY)
      .slice(0, options.limit)
      .map((info) => ({ ...info, size: Math.max(0, info.size - ENVELOPE_OVERHEAD) }));
  }

  async *entries(prefix: string): AsyncIterable<StoredEntry> {
    for await (const { key, entry } of storeEntries(this.#inner, prefix)) {
      if (key !== MARKER_KEY) yield { key, entry: this.#open(key, entry) };
    }
  }

  subscribe(listener: (change: Change) => void): () => void {
    return this.#inner.subscribe((change) => {
      if (change.key !== MARKER_KEY) listener(this.#openChange(change));
    });
  }

  /** Present when the backend keeps a change log (shared backends); its entries are opened like any other. */
  get changesSince(): ((id: string) => Promise<Change[] | undefined>) | undefined {
    const inner = this.#inner;
    if (inner.changesSince === undefined) return undefined;
    return async (id) =>
      (await inner.changesSince!(id))
        ?.filter((change) => change.key !== MARKER_KEY)
        .map((change) => this.#openChange(change));
  }

  get revocations(): RevocationStore | undefined {
    return this.#inner.revocations;
  }

  /** The backend's count, less the marker. */
  async count(): Promise<number> {
    const [count, marker] = await Promise.all([this.#inner.count(), this.#inner.get(MARKER_KEY)]);
    return marker === undefined ? count : count - 1;
  }

  purgeExpired(): Promise<number> {
    return this.#inner.purgeExpired();
  }

  ping(): Promise<void> {
    return this.#inner.ping();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  /**
   * A change as listeners must see it: its entry opened (this node's own writes come from #plain,
   * other nodes' are opened here); a value a shared log left out keeps its plaintext size.
   */
  #openChange(change: Change): Change {
    if (change.entry === undefined) return change;
    if (change.valueOmitted)
      return { ...change, size: change.size === undefined ? undefined : Math.max(0, change.size - ENVELOPE_OVERHEAD) };
    return { ...change, entry: this.#plain.get(change.entry) ?? this.#open(change.key, change.entry) };
  }

  /**
   * The entry as stored: a write that keeps the value (lock, unlock, ttl) keeps its envelope when it is under the
   * current key.
   */
  #seal(key: string, write: Entry, current: Entry | undefined, plain: Entry | undefined): Entry {
    const keep =
      current !== undefined &&
      write.value === plain?.value &&
      envelopeKeyId(current.value) === this.#keyring.current.id;
    const sealed = entryOf({ ...write, value: keep ? current.value : this.#keyring.seal(key, write.value) });
    this.#plain.set(sealed, write);
    return sealed;
  }

  /** The entry with its value opened; a value that does not open is a store failure (503), never garbage. */
  #open(key: string, entry: Entry): Entry {
    try {
      return entryOf({ ...entry, value: this.#keyring.open(key, entry.value) });
    } catch (error) {
      throw new StoreUnavailableError(error);
    }
  }
}

export interface RekeySummary {
  rewritten: number;
  /** Already under the new key (a re-run after an interruption). */
  kept: number;
}

/**
 * Re-seals every value of the raw backend `store` with `keyring.current`, opening old ones with
 * any key of `keyring` (or as plaintext when the store was never encrypted). Safe to re-run: the
 * marker, written first, records what values may still be under (so a server started meanwhile
 * with both keys reads every value, and one without the old key refuses to start), values already
 * under the new key are skipped, and the marker is cleared only at the end. Values keep their
 * ETag and version: the bytes a client reads do not change.
 */
export async function rekeyStore(
  store: Store,
  keyring: Keyring,
  onEntry?: (done: number) => void,
): Promise<RekeySummary> {
  const state = await readMarker(store, keyring);
  const pending =
    state === undefined
      ? [PLAINTEXT]
      : [...new Set([...state.pending, state.keyId])].filter((id) => id !== keyring.current.id);
  await writeMarker(store, keyring, pending);
  const mayBePlaintext = pending.includes(PLAINTEXT);
  const summary: RekeySummary = { rewritten: 0, kept: 0 };
  for await (const { key, entry } of storeEntries(store, '')) {
    if (key === MARKER_KEY) continue;
    const plaintext = openForRekey(keyring, key, entry.value, mayBePlaintext);
    if (plaintext === 'current') {
      summary.kept += 1;
    } else {
      const sealed = keyring.seal(key, plaintext);
      // Only over the very entry read: a key changed or deleted since is left as it now is.
      await store.update(key, (current) =>
        current?.etag === entry.etag && current.value.equals(entry.value)
          ? { result: undefined, write: entryOf({ ...current, value: sealed }) }
          : { result: undefined },
      );
      summary.rewritten += 1;
    }
    onEntry?.(summary.rewritten + summary.kept);
  }
  await writeMarker(store, keyring, []);
  return summary;
}

/** The plaintext of a stored value, or 'current' when it is already sealed with the current key. */
function openForRekey(keyring: Keyring, key: string, stored: Buffer, mayBePlaintext: boolean): Buffer | 'current' {
  const id = envelopeKeyId(stored);
  if (id !== undefined && keyring.has(id)) {
    try {
      const plaintext = keyring.open(key, stored);
      return id === keyring.current.id ? 'current' : plaintext;
    } catch (error) {
      // A plaintext value that merely looks like an envelope does not authenticate: it is plaintext.
      if (!mayBePlaintext) throw error;
      return stored;
    }
  }
  if (mayBePlaintext) return stored;
  if (id !== undefined)
    throw new EncryptionError(
      `The value of "${key}" is under key id ${id}, which is not configured: add that key to encryption.previousKeys.`,
      'unknown-key',
    );
  throw new EncryptionError(`The value of "${key}" is not encrypted, in an encrypted store: it is damaged.`, 'damaged');
}
