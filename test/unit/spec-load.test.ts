/**
 * The server's copy of the contract (src/spec.ts): the build's parsed JSON is used only while it was
 * parsed from the very YAML on disk; otherwise the YAML is parsed, so an edited spec is never served stale.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { loadSpec } from '../../src/spec.js';
import { SPEC_PATH } from '../../src/version.js';
import { tempDir } from '../support/lucid.js';

const yaml = 'openapi: 3.0.3\ninfo: { title: t, version: "1" }\npaths: {}\n';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function files(built: unknown) {
  const dir = tempDir();
  const source = path.join(dir, 'lucid.yaml');
  const parsed = path.join(dir, 'lucid.spec.json');
  writeFileSync(source, yaml);
  if (built !== undefined) writeFileSync(parsed, JSON.stringify(built));
  return { source, parsed };
}

describe('loadSpec', () => {
  it("uses the build's document when it was parsed from these bytes", () => {
    const { source, parsed } = files({ sha256: sha256(yaml), document: { from: 'build' } });
    expect(loadSpec(source, parsed)).toEqual({ bytes: Buffer.from(yaml), document: { from: 'build' } });
  });

  it('parses the YAML when the build parsed other bytes, or there is no build', () => {
    const stale = files({ sha256: sha256('an older spec'), document: { from: 'build' } });
    expect(loadSpec(stale.source, stale.parsed).document).toEqual(YAML.parse(yaml));
    const none = files(undefined);
    expect(loadSpec(none.source, none.parsed).document).toEqual(YAML.parse(yaml));
  });

  it('answers the shipped spec exactly as parsing spec/lucid.yaml would', () => {
    expect(loadSpec().document).toEqual(YAML.parse(readFileSync(SPEC_PATH, 'utf8')));
  });
});
