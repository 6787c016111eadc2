#!/usr/bin/env node
// Derives from spec/config.schema.yaml, the one source of Lucid's options:
//   generated/config.schema.json  the same schema as JSON, which the loader (src/config-schema.ts)
//                                 reads at start-up for the defaults, the validation and the
//                                 environment variables (JSON.parse: under 1 ms; the YAML: ~120 ms);
//   generated/config.d.ts         the `Config` type (json-schema-to-typescript), each option's text
//                                 as its comment;
//   docs/configuration.md         the reference: contents, the file format, one heading per option
//                                 with its type, default, environment variables and description.
// `make generate` runs it; with --check it writes nothing and exits 1, naming the fix, when any of
// them differs from what the schema produces (`make check` and `make build` run that).
// The rules here (an option is a property with a `default`; every property is required) are the
// loader's too; test/unit/config-schema.test.ts holds the two together.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import GithubSlugger from 'github-slugger';
import { compile } from 'json-schema-to-typescript';
import YAML from 'yaml';

const ROOT = path.resolve(import.meta.dirname, '..');
const SOURCE = 'spec/config.schema.yaml';
const JSON_FILE = 'generated/config.schema.json';
const TYPE_FILE = 'generated/config.d.ts';
const DOC_FILE = 'docs/configuration.md';

/** Every property required (defaults fill every gap), as src/config-schema.ts does. */
function requireAll(node) {
  if (node.properties === undefined) return;
  node.required ??= Object.keys(node.properties);
  for (const child of Object.values(node.properties)) requireAll(child);
}

/** Options (properties with a default) as [path, schema], grouped in their sections, in the schema's order. */
function optionsOf(node, at = []) {
  if (at.length > 0 && 'default' in node) return [[at, node]];
  if (node.properties === undefined) throw new Error(`${at.join('.')} in ${SOURCE} has no default`);
  return Object.entries(node.properties).flatMap(([name, child]) => optionsOf(child, [...at, name]));
}

/** The environment variables an option is set by: its own `x-env` and those of its parts (server.tls). */
function envNames(node) {
  const own = node['x-env'] === undefined ? [] : [node['x-env']];
  return [...own, ...Object.values(node.properties ?? {}).flatMap(envNames)];
}

const code = (value) => `\`${value}\``;

/** 7340032 → "7 MiB": byte sizes read better in binary units. */
function binary(bytes) {
  for (const [unit, size] of [
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
    ['KiB', 2 ** 10],
  ]) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit}`;
  }
  return undefined;
}

/** A value as the YAML file would hold it, in code, with byte sizes also in binary units. */
function showValue(value, name) {
  const text = value === '' ? "''" : typeof value === 'string' ? value : JSON.stringify(value);
  const size = typeof value === 'number' && /Bytes$/.test(name) ? binary(value) : undefined;
  return size === undefined ? code(text) : `${code(text)} (${size})`;
}

/** The type of a schema node in words: "integer, 0 to 65535", "`normal` or `full`", "list of strings". */
function typeText(node, name) {
  if (node.anyOf) return node.anyOf.map((part) => typeText(part, name)).join(' or ');
  if (node.enum) {
    const values = node.enum.map((value) => code(value));
    return `${values.slice(0, -1).join(', ')} or ${values.at(-1)}`;
  }
  const types = [node.type].flat();
  const nullable = types.includes('null') ? ' or `null`' : '';
  const type = types.find((each) => each !== 'null');
  if (type === 'object') return `${code(`{ ${Object.keys(node.properties).join(', ')} }`)}${nullable}`;
  if (type === 'array') {
    return `list of ${typeText(node.items, name).replace('string', 'strings')}${node.uniqueItems ? ', no repeats' : ''}`;
  }
  if (type === 'integer') return `integer${bounds(node, name)}${nullable}`;
  if (type === 'string' && node.pattern) return `string matching ${code(node.pattern)}`;
  if (type === 'string' && node.minLength) return 'non-empty string';
  return `${type}${nullable}`;
}

function bounds(node, name) {
  const show = (value) => showValue(value, name).replaceAll('`', '');
  if (node.minimum !== undefined && node.maximum !== undefined)
    return `, ${show(node.minimum)} to ${show(node.maximum)}`;
  if (node.minimum !== undefined) return ` ≥ ${show(node.minimum)}`;
  if (node.maximum !== undefined) return ` ≤ ${show(node.maximum)}`;
  return '';
}

/** The list under each option's heading: type, default, environment variables. */
function facts(node, name) {
  const env = envNames(node).map(code).join(', ');
  const lines = [`Type: ${typeText(node, name)}`, `Default: ${showValue(node.default, name)}`];
  if (env !== '') lines.push(`Environment: ${env}`);
  return lines.map((line) => `- ${line}`).join('\n');
}

function documentFor(schema) {
  const slugger = new GithubSlugger();
  const link = (text, heading) => `[${text}](#${slugger.slug(heading.replace(/`/g, ''))})`;
  const options = optionsOf(schema);
  const contents = [`- ${link('The file', 'The file')}`, `- ${link('Options', 'Options')}`];
  const entries = [];
  for (const [at, node] of options) {
    const name = at.join('.');
    contents.push(`  - ${link(code(name), code(name))}`);
    entries.push(`### ${code(name)}\n\n${facts(node, at.at(-1))}\n\n${node.description.trim()}\n`);
  }
  return [
    '# Configuration',
    `<!-- Generated from ${SOURCE} by \`make generate\` (scripts/generate-config.mjs): do not edit. -->`,
    `Every option of Lucid's config file, its type, its default and the environment variable that sets it.`,
    `**Contents**\n\n${contents.join('\n')}`,
    `## The file\n\n${schema['x-intro'].trim()}`,
    `## Options\n\n${entries.join('\n')}`,
  ]
    .join('\n\n')
    .replace(/\n*$/, '\n');
}

/** The schema json-schema-to-typescript sees: the default and environment variable told in each comment. */
function typeSchema(schema) {
  const copy = JSON.parse(JSON.stringify(schema));
  delete copy['x-intro'];
  for (const [at, node] of optionsOf(copy)) {
    const env = envNames(node).map(code).join(', ');
    const tail = `Default: ${showValue(node.default, at.at(-1))}${env === '' ? '' : `; environment: ${env}`}.`;
    node.description = `${node.description.trim()}\n\n${tail}`;
  }
  return copy;
}

async function outputs() {
  const source = YAML.parse(readFileSync(path.join(ROOT, SOURCE), 'utf8'));
  const json = `${JSON.stringify(source, null, 2)}\n`;
  const schema = JSON.parse(json);
  requireAll(schema);
  const bannerComment = [
    '/**',
    ` * This file was generated from ${SOURCE} by \`make generate\` (scripts/generate-config.mjs).`,
    ' * Do not make direct changes to the file.',
    ' */',
  ].join('\n');
  const type = await compile(typeSchema(schema), 'Config', { bannerComment, additionalProperties: false });
  return { [JSON_FILE]: json, [TYPE_FILE]: type, [DOC_FILE]: documentFor(schema) };
}

const check = process.argv.includes('--check');
const stale = [];
for (const [file, text] of Object.entries(await outputs())) {
  const target = path.join(ROOT, file);
  let current;
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    current = undefined;
  }
  if (current === text) continue;
  if (check) {
    stale.push(file);
  } else {
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, text);
    console.log(`generate-config: wrote ${file}`);
  }
}
if (stale.length > 0) {
  const verb = stale.length > 1 ? 'differ' : 'differs';
  const files = stale.length > 1 ? `${stale.slice(0, -1).join(', ')} and ${stale.at(-1)}` : stale[0];
  console.error(`${files} ${verb} from what ${SOURCE} produces. Fix: make generate, then commit the result`);
  process.exit(1);
}
