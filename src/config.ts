/**
 * Lucid's configuration loader: layers defaults, file, environment and flags, validates once and
 * freezes. What the options are (type, default, bounds, environment variable) is written once, in
 * spec/config.schema.yaml (read through ./config-schema.ts); `make generate` derives the `Config`
 * type and docs/configuration.md from it.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import YAML from 'yaml';
import type { Config } from '../generated/config.js';
import { EXTENSION_KEYWORDS, defaultsOf, envOverridesOf, readConfigSchema, type EnvOverride } from './config-schema.js';
import { ConfigError } from './errors.js';

export type { Config } from '../generated/config.js';

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

export const DEFAULT_CONFIG_FILE = 'lucid.yml';
export const MIN_SECRET_LENGTH = 32;

/** The options as spec/config.schema.yaml declares them (read from its generated JSON copy). */
const schema = readConfigSchema();

/** Every default, taken from the schema's `default`s. */
export const defaults: Config = deepFreeze(defaultsOf(schema) as unknown as Config);

const validate = new Ajv({ allErrors: true, allowUnionTypes: true, keywords: EXTENSION_KEYWORDS }).compile(schema);

/** Environment variables that override config values: the schema's `x-env`s. */
export const ENV_OVERRIDES: Readonly<Record<string, EnvOverride>> = deepFreeze(envOverridesOf(schema));

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
export function configPath(
  file: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): string {
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
      throw new ConfigError(
        `No config file at ${file}. Run \`lucid init\` to create one, or pass --config FILE (or set LUCID_CONFIG).`,
      );
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
  const merged = merge(
    merge(merge(structuredClone(defaults), fromFile as object), envLayer(env)),
    options.overrides ?? {},
  );
  const config = finish(merged, path.dirname(file));
  try {
    if ((statSync(file).mode & 0o077) !== 0) {
      const fix = `run \`chmod 600 ${file}\``;
      warnings.push(`The config file ${file} holds the secret but is readable by other users: ${fix}.`);
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
      const allowed =
        error.keyword === 'enum' ? ` (one of: ${(error.params.allowedValues as string[]).join(', ')})` : '';
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
    if (key !== '' && !isEncryptionKey(key)) {
      problems.push('encryption.key must be 32 bytes in base64 (44 characters; `openssl rand -base64 32` makes one)');
    }
    if (key === '' && previousKeys.length > 0) {
      problems.push(
        'encryption.previousKeys is set but encryption.key is not: previous keys only make sense next to a current one',
      );
    }
    previousKeys.forEach((previous, index) => {
      if (!isEncryptionKey(previous)) problems.push(`encryption.previousKeys[${index}] must be 32 bytes in base64`);
    });
  }
  if (problems.length > 0) {
    throw new ConfigError(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
  if (config.store.startsWith('sqlite://'))
    config.store = `sqlite://${path.resolve(baseDir, config.store.slice('sqlite://'.length))}`;
  config.auth.revocationFile = path.resolve(baseDir, config.auth.revocationFile);
  if (config.auth.publicKeyFile !== '') config.auth.publicKeyFile = path.resolve(baseDir, config.auth.publicKeyFile);
  if (config.auth.jwksFile !== '') config.auth.jwksFile = path.resolve(baseDir, config.auth.jwksFile);
  if (config.server.tls !== null) {
    config.server.tls = {
      cert: path.resolve(baseDir, config.server.tls.cert),
      key: path.resolve(baseDir, config.server.tls.key),
    };
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
      value = raw
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '');
    } else if (type === 'boolean') {
      const word = raw.toLowerCase();
      value = ['1', 'true', 'yes', 'on'].includes(word)
        ? true
        : ['0', 'false', 'no', 'off'].includes(word)
          ? false
          : undefined;
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
