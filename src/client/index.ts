/**
 * Lucid's typed client: `import { createLucidClient } from 'lucid/client'`.
 *
 * Every call goes through openapi-fetch with the `paths` generated from spec/lucid.yaml, so paths,
 * parameters, headers and JSON bodies are checked against the contract at compile time. Raw values
 * go out byte for byte (pass-through body serializer, explicit Content-Type) and come back as bytes.
 */
import createClient, { createFinalURL, createQuerySerializer, defaultPathSerializer, type Client } from 'openapi-fetch';
import type { components, operations, paths } from '../../generated/lucid.js';
import { LucidApiError } from './errors.js';
import { metadataOf, notModifiedOf, valueOf, type LucidMetadata, type LucidValue, type NotModified } from './value.js';

export { LucidApiError } from './errors.js';
export type { LucidMetadata, LucidValue, NotModified } from './value.js';
export type { components, operations, paths } from '../../generated/lucid.js';

type Schemas = components['schemas'];
export type KeyInfo = Schemas['KeyInfo'];
export type KeyPage = Schemas['KeyPage'];
export type Health = Schemas['Health'];
export type Notification = Schemas['Notification'];
export type OperationResult = Schemas['OperationResult'];
export type PatchOperation = Schemas['PatchOperation'];
export type ETag = components['headers']['ETag'];
export type TxnRequest = Schemas['TxnRequest'];
export type TxnResponse = Schemas['TxnResponse'];
export type TxnResult = Schemas['TxnResult'];
export type TxnOp = Schemas['TxnOp'];
export type TxnCompare = Schemas['TxnCompare'];

type PutParameters = operations['putKey']['parameters'];
type IfMatch = components['parameters']['IfMatch'];

/** A raw value: a string goes out as UTF-8, everything else byte for byte (a Buffer is a Uint8Array). */
export type LucidRawValue = string | Uint8Array | ArrayBuffer | Blob;

export interface LucidClientOptions {
  /** Where Lucid listens, e.g. `http://127.0.0.1:7021`. */
  baseUrl: string;
  /** The bearer token sent with every call (leave it out for a server with `auth.enabled: false`). */
  token?: string;
  /** A fetch to use instead of the global one. */
  fetch?: (input: Request) => Promise<Response>;
}

export interface GetOptions {
  /** ETags the caller has: a current one makes the answer `{ notModified: true }` instead of the value. */
  ifNoneMatch?: NonNullable<operations['getKey']['parameters']['header']>['If-None-Match'];
}

export interface PutOptions {
  /**
   * Stored and returned unchanged; default `text/plain;charset=utf-8` for strings, the Blob's type or
   * `application/octet-stream` for bytes.
   */
  contentType?: string;
  /** Write only when the key's current ETag is one of these (compare-and-swap); 412 otherwise. */
  ifMatch?: NonNullable<PutParameters['header']>['If-Match'];
  /** `*`: create only; 412 when the key exists. */
  ifNoneMatch?: NonNullable<PutParameters['header']>['If-None-Match'];
  /** Seconds until the key expires, set in the same write. */
  ttl?: NonNullable<PutParameters['query']>['ttl'];
}

export interface PutResult {
  /** True when the key was new (201), false when it was replaced (200). */
  created: boolean;
  etag: ETag;
}

export interface ConditionalOptions {
  /** Only when the key's current ETag is one of these; 412 otherwise. */
  ifMatch?: IfMatch;
}

export interface LockOptions extends ConditionalOptions {
  /** Seconds after which the lock lapses by itself; none means until unlocked. */
  lease?: PatchOperation['value'];
}

export interface TtlResult {
  /** When the key now expires (ISO 8601), `null` when the expiry was removed. */
  expiresAt: NonNullable<OperationResult['expiresAt']> | null;
  etag: ETag;
}

export type ListOptions = NonNullable<operations['listKeys']['parameters']['query']>;
export type ListAllOptions = Omit<ListOptions, 'cursor'>;
export type NotificationsOptions = Omit<NonNullable<operations['streamNotifications']['parameters']['query']>, 'token'>;

export interface LucidClient {
  /** The value under `key`; a LucidApiError (404, ...) otherwise. */
  get(key: string): Promise<LucidValue>;
  get(key: string, options: GetOptions): Promise<LucidValue | NotModified>;
  /** The key's metadata, without its value. */
  head(key: string): Promise<LucidMetadata>;
  head(key: string, options: GetOptions): Promise<LucidMetadata | NotModified>;
  /** Stores `value` under `key`, as it is. */
  put(key: string, value: LucidRawValue, options?: PutOptions): Promise<PutResult>;
  /** Stores `JSON.stringify(value)` as `application/json` (unless `contentType` says otherwise). */
  putJson(key: string, value: unknown, options?: PutOptions): Promise<PutResult>;
  delete(key: string, options?: ConditionalOptions): Promise<void>;
  lock(key: string, options?: LockOptions): Promise<{ etag: ETag }>;
  unlock(key: string, options?: ConditionalOptions): Promise<{ etag: ETag }>;
  /** Adds `by` (default 1) to a stored decimal number and returns the new value. */
  increment(key: string, by?: number, options?: ConditionalOptions): Promise<number>;
  /** Subtracts `by` (default 1) from a stored decimal number and returns the new value. */
  decrement(key: string, by?: number, options?: ConditionalOptions): Promise<number>;
  /** Expires the key `seconds` from now; 0 removes the expiry. */
  ttl(key: string, seconds: number, options?: ConditionalOptions): Promise<TtlResult>;
  /** One page of keys; pass the page's `cursor` back for the next one. */
  list(options?: ListOptions): Promise<KeyPage>;
  /** Every key, page after page. */
  listAll(options?: ListAllOptions): AsyncGenerator<KeyInfo, void, undefined>;
  health(): Promise<Health>;
  /**
   * Runs a transaction: when every compare holds, the success ops, else the failure ops, all or
   * nothing. A refusal (409 locked, 404 missing, 400 not a number, 403) is a LucidApiError whose
   * `key` names the key that refused it; nothing was applied.
   */
  txn(request: TxnRequest): Promise<TxnResponse>;
  /** The notification stream's URL, token included as `?token=`, for `new EventSource(url)`. */
  notificationsUrl(options?: NotificationsOptions): string;
  /** The underlying openapi-fetch client, typed with the generated `paths`, for anything else. */
  readonly api: Client<paths>;
}

const TEXT = 'text/plain;charset=utf-8';
const BYTES = 'application/octet-stream';
const NOTIFICATIONS = '/api/notifications' satisfies keyof paths;

export function createLucidClient(options: LucidClientOptions): LucidClient {
  return new HttpLucidClient(options);
}

/** LucidClient over openapi-fetch: one method per operation, each a typed call and its answer's shape. */
class HttpLucidClient implements LucidClient {
  readonly api: Client<paths>;
  readonly #baseUrl: string;
  readonly #token: string | undefined;

  constructor(options: LucidClientOptions) {
    this.#baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#token = options.token;
    this.api = createClient<paths>({
      baseUrl: this.#baseUrl,
      ...(options.fetch ? { fetch: options.fetch } : {}),
      headers: options.token === undefined ? {} : { Authorization: `Bearer ${options.token}` },
    });
  }

  get(key: string): Promise<LucidValue>;
  get(key: string, options: GetOptions): Promise<LucidValue | NotModified>;
  async get(key: string, { ifNoneMatch }: GetOptions = {}): Promise<LucidValue | NotModified> {
    const { data, error, response } = await this.api.GET('/api/kv/{key}', {
      params: { path: { key }, header: { 'If-None-Match': ifNoneMatch } },
      parseAs: 'arrayBuffer',
    });
    if (response.status === 304) return notModifiedOf(response);
    if (!response.ok) throw new LucidApiError(response, error);
    return valueOf(response, data ?? new ArrayBuffer(0));
  }

  head(key: string): Promise<LucidMetadata>;
  head(key: string, options: GetOptions): Promise<LucidMetadata | NotModified>;
  async head(key: string, { ifNoneMatch }: GetOptions = {}): Promise<LucidMetadata | NotModified> {
    const { response } = await this.api.HEAD('/api/kv/{key}', {
      params: { path: { key }, header: { 'If-None-Match': ifNoneMatch } },
    });
    if (response.status === 304) return notModifiedOf(response);
    if (!response.ok) throw new LucidApiError(response);
    return metadataOf(response);
  }

  async put(
    key: string,
    value: LucidRawValue,
    { contentType, ifMatch, ifNoneMatch, ttl }: PutOptions = {},
  ): Promise<PutResult> {
    const { error, response } = await this.api.PUT('/api/kv/{key}', {
      params: { path: { key }, query: { ttl }, header: { 'If-Match': ifMatch, 'If-None-Match': ifNoneMatch } },
      body: rawBody(value),
      // openapi-fetch would JSON-encode the body: send it as it is, with its own Content-Type.
      bodySerializer: (body) => body,
      headers: { 'Content-Type': contentType ?? defaultContentType(value) },
    });
    if (!response.ok) throw new LucidApiError(response, error);
    return { created: response.status === 201, etag: etagOf(response) };
  }

  putJson(key: string, value: unknown, options: PutOptions = {}): Promise<PutResult> {
    return this.put(key, JSON.stringify(value), { ...options, contentType: options.contentType ?? 'application/json' });
  }

  async delete(key: string, { ifMatch }: ConditionalOptions = {}): Promise<void> {
    const { error, response } = await this.api.DELETE('/api/kv/{key}', {
      params: { path: { key }, header: { 'If-Match': ifMatch } },
    });
    if (!response.ok) throw new LucidApiError(response, error);
  }

  async lock(key: string, { lease, ifMatch }: LockOptions = {}): Promise<{ etag: ETag }> {
    const { etag } = await this.#patch(
      key,
      lease === undefined ? { operation: 'lock' } : { operation: 'lock', value: lease },
      ifMatch,
    );
    return { etag };
  }

  async unlock(key: string, { ifMatch }: ConditionalOptions = {}): Promise<{ etag: ETag }> {
    const { etag } = await this.#patch(key, { operation: 'unlock' }, ifMatch);
    return { etag };
  }

  increment(key: string, by?: number, { ifMatch }: ConditionalOptions = {}): Promise<number> {
    return this.#step(key, 'increment', by, ifMatch);
  }

  decrement(key: string, by?: number, { ifMatch }: ConditionalOptions = {}): Promise<number> {
    return this.#step(key, 'decrement', by, ifMatch);
  }

  async ttl(key: string, seconds: number, { ifMatch }: ConditionalOptions = {}): Promise<TtlResult> {
    const { result, etag } = await this.#patch(key, { operation: 'ttl', value: seconds }, ifMatch);
    return { expiresAt: result.expiresAt ?? null, etag };
  }

  async list(query: ListOptions = {}): Promise<KeyPage> {
    const { data, error, response } = await this.api.GET('/api/kv', { params: { query } });
    if (!response.ok || data === undefined) throw new LucidApiError(response, error);
    return data;
  }

  async *listAll(options: ListAllOptions = {}): AsyncGenerator<KeyInfo, void, undefined> {
    let cursor: string | undefined;
    do {
      const page = await this.list({ ...options, cursor });
      yield* page.keys;
      cursor = page.cursor;
    } while (cursor !== undefined);
  }

  async health(): Promise<Health> {
    const { data, error, response } = await this.api.GET('/health');
    if (!response.ok || data === undefined) throw new LucidApiError(response, error);
    return data;
  }

  async txn(request: Parameters<LucidClient['txn']>[0]): ReturnType<LucidClient['txn']> {
    const { data, error, response } = await this.api.POST('/api/txn', { body: request });
    if (!response.ok || data === undefined) throw new LucidApiError(response, error);
    return data;
  }

  notificationsUrl(query: NotificationsOptions = {}): string {
    const params: NonNullable<operations['streamNotifications']['parameters']['query']> = {
      ...query,
      token: this.#token,
    };
    const serializers = { querySerializer: createQuerySerializer(), pathSerializer: defaultPathSerializer };
    return createFinalURL(NOTIFICATIONS, { baseUrl: this.#baseUrl, params: { query: params }, ...serializers });
  }

  async #patch(key: string, operation: PatchOperation, ifMatch: IfMatch | undefined) {
    const { data, error, response } = await this.api.PATCH('/api/kv/{key}', {
      params: { path: { key }, header: { 'If-Match': ifMatch } },
      body: operation,
    });
    if (!response.ok || data === undefined) throw new LucidApiError(response, error);
    return { result: data, etag: etagOf(response) };
  }

  async #step(
    key: string,
    operation: 'increment' | 'decrement',
    by: number | undefined,
    ifMatch: IfMatch | undefined,
  ): Promise<number> {
    const { result } = await this.#patch(key, by === undefined ? { operation } : { operation, value: by }, ifMatch);
    if (typeof result.value !== 'number')
      throw new TypeError(`Lucid answered ${operation} without a value: ${JSON.stringify(result)}`);
    return result.value;
  }
}

/**
 * The generated type of PUT's body is `string` (a `format: binary` schema); bytes and Blobs are just
 * as valid on the wire, and the pass-through serializer hands them to fetch untouched.
 */
function rawBody(value: LucidRawValue): Schemas['RawValue'] {
  return value as Schemas['RawValue'];
}

function defaultContentType(value: LucidRawValue): string {
  if (typeof value === 'string') return TEXT;
  if (value instanceof Blob && value.type !== '') return value.type;
  return BYTES;
}

function etagOf(response: Response): ETag {
  return response.headers.get('ETag') ?? '';
}
