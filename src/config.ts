/** Lucid's configuration: the defaults, the schema, and the loader that layers file, environment and flags. */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import YAML from 'yaml';
import { ConfigError } from './errors.js';

/** The validated, frozen configuration every part of Lucid reads. */
export interface Config {
  server: {
    host: string;
    port: number;
    requestTimeoutMs: number;
    headersTimeoutMs: number;
    keepAliveTimeoutMs: number;
    /** HTTPS with this PEM certificate and key (paths relative to the config file's folder); null serves plain HTTP. */
    tls: { cert: string; key: string } | null;
    /** Open connections at most; the excess is closed on arrival. */
    maxConnections: number;
    /** The largest request line plus headers; larger gets 431. */
    maxHeaderBytes: number;
  };
  /**
   * Where data lives, as a URL: `sqlite://PATH` (PATH relative to the config file's folder), or a
   * shared backend for several nodes: `redis://HOST:PORT[/DB]` (rediss:// for TLS), `postgres://...`.
   */
  store: string;
  /** Names this deployment's data in a shared backend (Redis key prefix, PostgreSQL table prefix). */
  storeNamespace: string;
  auth: {
    enabled: boolean;
    secret: string;
    revocationFile: string;
    /** Refuse tokens without `exp`. */
    requireExp: boolean;
    /** Accepted `iss` ('' or [] for any); Lucid's own tokens carry the first. */
    issuer: string | string[];
    /** Accepted `aud` ('' or [] for any); Lucid's own tokens carry the first. */
    audience: string | string[];
    /** Leeway for `exp` and `nbf`. */
    clockSkewSeconds: number;
    /** An identity provider's PEM public key (RSA: RS256, P-256: ES256); '' for none. */
    publicKeyFile: string;
    /** An identity provider's JWKS document, keys picked by `kid`; '' for none. */
    jwksFile: string;
  };
  limits: { maxValueBytes: number };
  /**
   * The embedded store. `cacheBytes`: the in-process read cache's size in bytes (0 turns it off); the
   * default, 64 MiB, keeps a 1M-key server's RSS under 300 MB.
   */
  sqlite: { synchronous: 'normal' | 'full'; cacheBytes: number };
  expiry: { sweepIntervalMs: number };
  notifications: { heartbeatMs: number; bufferSize: number; maxLagBytes: number; maxValueBytes: number };
  /** `access`: one line per request at info level (off by default: it costs about a third of a cached GET's time). */
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'; access: boolean };
  /** The web console at `/` and `/ui`; off leaves a welcome page at `/`. */
  ui: { enabled: boolean };
  /** A second listener serving only GET /metrics without a token (for scrapers); null: none (GET /metrics on the API port needs an admin token). */
  metrics: { port: number | null; host: string };
  /** Browser origins (scheme://host[:port], exact) allowed to call the API cross-origin; empty: CORS off. */
  cors: { origins: string[] };
  /** Encryption at rest (src/store/encrypted.ts): off while `key` is empty. Keys are base64 of 32 bytes. */
  encryption: { key: string; previousKeys: string[] };
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

export const DEFAULT_CONFIG_FILE = 'lucid.yml';
export const MIN_SECRET_LENGTH = 32;

/** Every default in one place; the configuration reference (docs/configuration.md) mirrors this object. */
export const defaults: Config = {
  server: {
    host: '127.0.0.1',
    port: 7021,
    requestTimeoutMs: 30_000,
    headersTimeoutMs: 10_000,
    keepAliveTimeoutMs: 5_000,
    maxConnections: 4096,
    maxHeaderBytes: 16 * 1024,
    tls: null,
  },
  store: 'sqlite://data/lucid.sqlite',
  storeNamespace: 'lucid',
  auth: {
    enabled: true,
    secret: '',
    revocationFile: 'data/revoked-tokens.jsonl',
    requireExp: true,
    issuer: '',
    audience: '',
    clockSkewSeconds: 30,
    publicKeyFile: '',
    jwksFile: '',
  },
  limits: { maxValueBytes: 7 * 1024 * 1024 },
  sqlite: { synchronous: 'normal', cacheBytes: 64 * 1024 * 1024 },
  expiry: { sweepIntervalMs: 250 },
  notifications: { heartbeatMs: 15_000, bufferSize: 10_000, maxLagBytes: 1024 * 1024, maxValueBytes: 4096 },
  log: { level: 'info', access: false },
  ui: { enabled: true },
  metrics: { port: null, host: '127.0.0.1' },
  cors: { origins: [] },
  encryption: { key: '', previousKeys: [] },
};

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['server', 'store', 'storeNamespace', 'auth', 'limits', 'sqlite', 'expiry', 'notifications', 'log', 'ui', 'metrics', 'cors', 'encryption'],
  properties: {
    server: {
      type: 'object',
      additionalProperties: false,
      properties: {
        host: { type: 'string', minLength: 1 },
        port: { type: 'integer', minimum: 0, maximum: 65535 },
        requestTimeoutMs: { type: 'integer', minimum: 1000 },
        headersTimeoutMs: { type: 'integer', minimum: 1000 },
        keepAliveTimeoutMs: { type: 'integer', minimum: 0 },
        tls: {
          type: ['object', 'null'],
          additionalProperties: false,
          required: ['cert', 'key'],
          properties: { cert: { type: 'string', minLength: 1 }, key: { type: 'string', minLength: 1 } },
        },
        maxConnections: { type: 'integer', minimum: 1, maximum: 1_000_000 },
        maxHeaderBytes: { type: 'integer', minimum: 1024, maximum: 1024 * 1024 },
      },
    },
    store: { type: 'string', pattern: '^(sqlite://.+|rediss?://.+|postgres(ql)?://.+)$' },
    storeNamespace: { type: 'string', pattern: '^[a-z_][a-z0-9_]{0,40}$' },
    auth: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean' },
        secret: { type: 'string' },
        revocationFile: { type: 'string', minLength: 1 },
        requireExp: { type: 'boolean' },
        issuer: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string', minLength: 1 } }] },
        audience: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string', minLength: 1 } }] },
        clockSkewSeconds: { type: 'integer', minimum: 0, maximum: 300 },
        publicKeyFile: { type: 'string' },
        jwksFile: { type: 'string' },
      },
    },
    limits: {
      type: 'object',
      additionalProperties: false,
      properties: { maxValueBytes: { type: 'integer', minimum: 1, maximum: 512 * 1024 * 1024 } },
    },
    sqlite: {
      type: 'object',
      additionalProperties: false,
      properties: { synchronous: { enum: ['normal', 'full'] }, cacheBytes: { type: 'integer', minimum: 0, maximum: 64 * 1024 * 1024 * 1024 } },
    },
    expiry: {
      type: 'object',
      additionalProperties: false,
      properties: { sweepIntervalMs: { type: 'integer', minimum: 10 } },
    },
    notifications: {
      type: 'object',
      additionalProperties: false,
      properties: {
        heartbeatMs: { type: 'integer', minimum: 10 },
        bufferSize: { type: 'integer', minimum: 1, maximum: 1_000_000 },
        maxLagBytes: { type: 'integer', minimum: 1024 },
        maxValueBytes: { type: 'integer', minimum: 0, maximum: 1024 * 1024 },
      },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      properties: { level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] }, access: { type: 'boolean' } },
    },
    ui: {
      type: 'object',
      additionalProperties: false,
      properties: { enabled: { type: 'boolean' } },
    },
    metrics: {
      type: 'object',
      additionalProperties: false,
      properties: {
        port: { type: ['integer', 'null'], minimum: 0, maximum: 65535 },
        host: { type: 'string', minLength: 1 },
      },
    },
    cors: {
      type: 'object',
      additionalProperties: false,
      properties: {
        // An origin as browsers send it: scheme, host, optional port; no path, no trailing slash, no wildcard.
        origins: { type: 'array', uniqueItems: true, items: { type: 'string', pattern: '^https?://[^/*\\s]+$' } },
      },
    },
    encryption: {
      type: 'object',
      additionalProperties: false,
      properties: {
        key: { type: 'string' },
        previousKeys: { type: 'array', items: { type: 'string' } },
      },
    },
  },
} as const;

const validate = new Ajv({ allErrors: true, allowUnionTypes: true }).compile(schema);

/** Environment variables that override config values; documented in docs/configuration.md. */
export const ENV_OVERRIDES: Record<string, { path: string[]; type: 'string' | 'integer' | 'boolean' | 'list' }> = {
  LUCID_HOST: { path: ['server', 'host'], type: 'string' },
  LUCID_PORT: { path: ['server', 'port'], type: 'integer' },
  LUCID_MAX_CONNECTIONS: { path: ['server', 'maxConnections'], type: 'integer' },
  LUCID_STORE: { path: ['store'], type: 'string' },
  LUCID_STORE_NAMESPACE: { path: ['storeNamespace'], type: 'string' },
  LUCID_SECRET: { path: ['auth', 'secret'], type: 'string' },
  LUCID_AUTH_ENABLED: { path: ['auth', 'enabled'], type: 'boolean' },
  LUCID_AUTH_REQUIRE_EXP: { path: ['auth', 'requireExp'], type: 'boolean' },
  LUCID_AUTH_ISSUER: { path: ['auth', 'issuer'], type: 'string' },
  LUCID_AUTH_AUDIENCE: { path: ['auth', 'audience'], type: 'string' },
  LUCID_AUTH_CLOCK_SKEW_SECONDS: { path: ['auth', 'clockSkewSeconds'], type: 'integer' },
  LUCID_AUTH_PUBLIC_KEY_FILE: { path: ['auth', 'publicKeyFile'], type: 'string' },
  LUCID_AUTH_JWKS_FILE: { path: ['auth', 'jwksFile'], type: 'string' },
  LUCID_MAX_VALUE_BYTES: { path: ['limits', 'maxValueBytes'], type: 'integer' },
  LUCID_SQLITE_SYNCHRONOUS: { path: ['sqlite', 'synchronous'], type: 'string' },
  LUCID_SQLITE_CACHE_BYTES: { path: ['sqlite', 'cacheBytes'], type: 'integer' },
  LUCID_SWEEP_INTERVAL_MS: { path: ['expiry', 'sweepIntervalMs'], type: 'integer' },
  LUCID_LOG_LEVEL: { path: ['log', 'level'], type: 'string' },
  LUCID_LOG_ACCESS: { path: ['log', 'access'], type: 'boolean' },
  LUCID_UI_ENABLED: { path: ['ui', 'enabled'], type: 'boolean' },
  LUCID_TLS_CERT: { path: ['server', 'tls', 'cert'], type: 'string' },
  LUCID_TLS_KEY: { path: ['server', 'tls', 'key'], type: 'string' },
  LUCID_METRICS_PORT: { path: ['metrics', 'port'], type: 'integer' },
  LUCID_METRICS_HOST: { path: ['metrics', 'host'], type: 'string' },
  LUCID_ENCRYPTION_KEY: { path: ['encryption', 'key'], type: 'string' },
  /** Comma-separated. */
  LUCID_ENCRYPTION_PREVIOUS_KEYS: { path: ['encryption', 'previousKeys'], type: 'list' },
  LUCID_CORS_ORIGINS: { path: ['cors', 'origins'], type: 'list' },
};

export interface LoadOptions {
  /** The config file; defaults to LUCID_CONFIG, then ./lucid.yml. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags; they win over everything. */
  overrides?: DeepPartial<Config>;
  cwd?: string;
}

export interface LoadedConfig {
  config: Config;
  file: string;
  /** Problems worth a warning that do not stop start-up. */
  warnings: string[];
}

/** Resolves which config file a command means. */
export function configPath(file: string | undefined, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  return path.resolve(cwd, file ?? env.LUCID_CONFIG ?? DEFAULT_CONFIG_FILE);
}

/** Loads, layers, validates and freezes the configuration, or throws one ConfigError listing every problem. */
export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const file = configPath(options.file, env, options.cwd);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new ConfigError(`No config file at ${file}. Run \`lucid init\` to create one, or pass --config FILE (or set LUCID_CONFIG).`);
    }
    throw new ConfigError(`Cannot read the config file ${file}: ${(error as Error).message}`);
  }
  let fromFile: unknown;
  try {
    fromFile = YAML.parse(text) ?? {};
  } catch (error) {
    throw new ConfigError(`The config file ${file} is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (typeof fromFile !== 'object' || Array.isArray(fromFile)) {
    throw new ConfigError(`The config file ${file} must hold a YAML mapping of options.`);
  }
  const warnings: string[] = [];
  const merged = merge(merge(merge(structuredClone(defaults), fromFile as object), envLayer(env)), options.overrides ?? {});
  const config = finish(merged, path.dirname(file));
  try {
    if ((statSync(file).mode & 0o077) !== 0) {
      warnings.push(`The config file ${file} holds the secret but is readable by other users: run \`chmod 600 ${file}\`.`);
    }
  } catch {
    // It was readable a moment ago; a stat failure is not worth stopping for.
  }
  const tlsKey = config.server.tls?.key;
  try {
    // Warned about, not changed: a key may be shared on purpose (a group such as ssl-cert, mode 0640).
    if (tlsKey !== undefined && (statSync(tlsKey).mode & 0o077) !== 0) {
      warnings.push(`The TLS key ${tlsKey} (server.tls.key) is readable by other users: run \`chmod 600 ${tlsKey}\`.`);
    }
  } catch {
    // A missing key stops start-up with its own message (server.ts).
  }
  return { config, file, warnings };
}

/** Validates a whole config object (defaults already applied) and freezes it. Exported for tests. */
export function finish(candidate: unknown, baseDir: string): Config {
  const problems: string[] = [];
  if (!validate(candidate)) {
    for (const error of validate.errors ?? []) {
      const where = error.instancePath.replace(/^\//, '').replaceAll('/', '.') || 'config';
      const extra = error.keyword === 'additionalProperties' ? ` (${String(error.params.additionalProperty)})` : '';
      const allowed = error.keyword === 'enum' ? ` (one of: ${(error.params.allowedValues as string[]).join(', ')})` : '';
      problems.push(`${where} ${error.message ?? 'is invalid'}${extra}${allowed}`);
    }
  }
  const config = candidate as Config;
  if (problems.length === 0 && config.auth.enabled && config.auth.secret.length < MIN_SECRET_LENGTH) {
    problems.push(
      config.auth.secret === ''
        ? 'auth.secret is missing: run `lucid init` to generate one (or set LUCID_SECRET)'
        : `auth.secret must be at least ${MIN_SECRET_LENGTH} characters (HS256 needs a 256-bit key)`,
    );
  }
  if (problems.length === 0) {
    // The messages name the option, never the key.
    const { key, previousKeys } = config.encryption;
    if (key !== '' && !isEncryptionKey(key)) problems.push('encryption.key must be 32 bytes in base64 (44 characters; `openssl rand -base64 32` makes one)');
    if (key === '' && previousKeys.length > 0) problems.push('encryption.previousKeys is set but encryption.key is not: previous keys only make sense next to a current one');
    previousKeys.forEach((previous, index) => {
      if (!isEncryptionKey(previous)) problems.push(`encryption.previousKeys[${index}] must be 32 bytes in base64`);
    });
  }
  if (problems.length > 0) {
    throw new ConfigError(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
  if (config.store.startsWith('sqlite://')) config.store = `sqlite://${path.resolve(baseDir, config.store.slice('sqlite://'.length))}`;
  config.auth.revocationFile = path.resolve(baseDir, config.auth.revocationFile);
  if (config.auth.publicKeyFile !== '') config.auth.publicKeyFile = path.resolve(baseDir, config.auth.publicKeyFile);
  if (config.auth.jwksFile !== '') config.auth.jwksFile = path.resolve(baseDir, config.auth.jwksFile);
  if (config.server.tls !== null) {
    config.server.tls = { cert: path.resolve(baseDir, config.server.tls.cert), key: path.resolve(baseDir, config.server.tls.key) };
  }
  return deepFreeze(config);
}

function isEncryptionKey(text: string): boolean {
  return /^[A-Za-z0-9+/]{43}=$/.test(text) && Buffer.from(text, 'base64').length === 32;
}

function envLayer(env: NodeJS.ProcessEnv): object {
  const layer: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, { path: keys, type }] of Object.entries(ENV_OVERRIDES)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    let value: unknown = raw;
    if (type === 'integer') {
      value = /^-?\d+$/.test(raw) ? Number(raw) : Number.NaN;
      if (Number.isNaN(value)) problems.push(`${name} must be an integer, got "${raw}"`);
    } else if (type === 'list') {
      value = raw.split(',').map((item) => item.trim()).filter((item) => item !== '');
    } else if (type === 'boolean') {
      value = ['1', 'true', 'yes', 'on'].includes(raw.toLowerCase()) ? true : ['0', 'false', 'no', 'off'].includes(raw.toLowerCase()) ? false : undefined;
      if (value === undefined) problems.push(`${name} must be true or false, got "${raw}"`);
    }
    let node = layer;
    for (const key of keys.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
    node[keys[keys.length - 1]!] = value;
  }
  if (problems.length > 0) throw new ConfigError(`Invalid environment:\n  - ${problems.join('\n  - ')}`);
  return layer;
}

function merge<T extends object>(base: T, layer: object): T {
  for (const [key, value] of Object.entries(layer)) {
    if (value === undefined) continue;
    const current = (base as Record<string, unknown>)[key];
    if (isPlainObject(value) && isPlainObject(current)) {
      merge(current, value);
    } else {
      (base as Record<string, unknown>)[key] = value;
    }
  }
  return base;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepFreeze<T>(value: T): T {
  if (isPlainObject(value) || Array.isArray(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
