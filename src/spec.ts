/**
 * The contract, spec/lucid.yaml, as the server reads it at start-up: its bytes (served as /openapi.yaml)
 * and its document. `make build` also writes the document as JSON with the SHA-256 of the YAML it was
 * parsed from (scripts/spec-json.mjs); that copy is used only when its hash matches the bytes read now,
 * so the YAML stays the one source, and an edited spec without a rebuild is parsed, never served stale.
 * Parsing the YAML was a fifth of start-up (profiled); the JSON parses in about a millisecond.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { PACKAGE_ROOT, SPEC_PATH } from './version.js';

const PARSED_SPEC = new URL('dist/lucid.spec.json', PACKAGE_ROOT);

export interface LoadedSpec {
  bytes: Buffer;
  document: unknown;
}

/** The spec at `source`, its document from the build's copy at `built` when that was parsed from these very bytes. */
export function loadSpec(source: URL | string = SPEC_PATH, built: URL | string = PARSED_SPEC): LoadedSpec {
  const bytes = readFileSync(source);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const parsed = readParsed(built);
  if (parsed?.sha256 === sha256) return { bytes, document: parsed.document };
  return { bytes, document: YAML.parse(bytes.toString('utf8')) as unknown };
}

/** The build's parsed copy, or undefined when there is none (a checkout not built yet). */
function readParsed(built: URL | string): { sha256: string; document: unknown } | undefined {
  try {
    return JSON.parse(readFileSync(built, 'utf8')) as { sha256: string; document: unknown };
  } catch {
    return undefined;
  }
}
