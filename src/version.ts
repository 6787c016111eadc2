/** Lucid's version, read once from package.json (the spec's `info.version` must match; a test checks). */
import { readFileSync } from 'node:fs';

export const PACKAGE_ROOT = new URL('..', import.meta.url);
export const SPEC_PATH = new URL('spec/lucid.yaml', PACKAGE_ROOT);
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('package.json', PACKAGE_ROOT), 'utf8')) as { version: string }
).version;
