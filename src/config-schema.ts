/**
 * The config schema, read once: the JSON Schema the loader validates with, and what it declares
 * besides: each option's default and the environment variable that sets it. The source is
 * spec/config.schema.yaml; `make generate` (scripts/generate-config.mjs) copies it to JSON, read here
 * because parsing the YAML at every start took about 120 ms and JSON.parse takes under one, and
 * derives the `Config` type and docs/configuration.md from it. The drift check keeps all three current.
 */
import { readFileSync } from 'node:fs';
import { PACKAGE_ROOT } from './version.js';

export const CONFIG_SCHEMA_PATH = new URL('generated/config.schema.json', PACKAGE_ROOT);

/** The part of JSON Schema the config schema uses, plus its `x-env` extension. */
export interface SchemaNode {
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  required?: string[];
  items?: SchemaNode;
  anyOf?: SchemaNode[];
  enum?: unknown[];
  default?: unknown;
  description?: string;
  /** The environment variable that sets this value. */
  'x-env'?: string;
  [keyword: string]: unknown;
}

/** The schema's keywords that are not JSON Schema; ajv is told of them so that strict mode accepts them. */
export const EXTENSION_KEYWORDS = ['x-env', 'x-intro'];

/** How an environment variable's text becomes a value: its option's type decides. */
export type EnvKind = 'string' | 'integer' | 'boolean' | 'list';

/** An environment variable: the option it sets and how its text is read. */
export interface EnvOverride {
  path: string[];
  type: EnvKind;
}

/** An option: a property with a `default`, at `path` (`['server', 'port']`). */
export interface ConfigOption {
  path: string[];
  schema: SchemaNode;
}

/**
 * Reads the schema and marks every property required: once the defaults are filled in every option
 * is present, and the generated type says so (no `?`).
 */
export function readConfigSchema(url: URL = CONFIG_SCHEMA_PATH): SchemaNode {
  const schema = JSON.parse(readFileSync(url, 'utf8')) as SchemaNode;
  requireAll(schema);
  return schema;
}

function requireAll(node: SchemaNode): void {
  if (node.properties === undefined) return;
  node.required ??= Object.keys(node.properties);
  for (const child of Object.values(node.properties)) requireAll(child);
}

/** Every option, in the schema's order; throws on a property that is neither an option nor a section. */
export function optionsOf(schema: SchemaNode, path: string[] = []): ConfigOption[] {
  if (path.length > 0 && 'default' in schema) return [{ path, schema }];
  if (schema.properties === undefined) throw new Error(`${path.join('.')} in the config schema has no default`);
  return Object.entries(schema.properties).flatMap(([name, child]) => optionsOf(child, [...path, name]));
}

/** The defaults object: every option's `default`, in its section. */
export function defaultsOf(schema: SchemaNode): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const { path, schema: option } of optionsOf(schema)) {
    let node = result;
    for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
    node[path[path.length - 1]!] = structuredClone(option.default);
  }
  return result;
}

/** Every `x-env` in the schema, nested ones included (`server.tls.cert`), by variable name. */
export function envOverridesOf(schema: SchemaNode, path: string[] = []): Record<string, EnvOverride> {
  const found: Record<string, EnvOverride> = {};
  const name = schema['x-env'];
  if (name !== undefined) found[name] = { path, type: envKind(schema) };
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    Object.assign(found, envOverridesOf(child, [...path, key]));
  }
  return found;
}

function envKind(schema: SchemaNode): EnvKind {
  const types = [schema.type ?? []].flat();
  if (types.includes('integer')) return 'integer';
  if (types.includes('boolean')) return 'boolean';
  if (types.includes('array')) return 'list';
  return 'string';
}
