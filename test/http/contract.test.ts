/** The server keeps its own contract: it serves the spec it was built from, and spec and handlers match one to one. */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAPIBackend, type Document } from 'openapi-backend';
import YAML from 'yaml';
import { handlers, requiredScope } from '../../src/handlers/index.js';
import { VERSION } from '../../src/version.js';
import { startLucid, tempDir, type TestLucid } from '../support/lucid.js';

const specText = readFileSync('spec/lucid.yaml', 'utf8');
const spec = YAML.parse(specText) as {
  info: { version: string };
  paths: Record<string, Record<string, { operationId?: string }>>;
};
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];
const specOperations = Object.values(spec.paths).flatMap((item) =>
  Object.entries(item)
    .filter(([method]) => METHODS.includes(method))
    .map(([, operation]) => operation.operationId),
);

let lucid: TestLucid;
beforeAll(async () => {
  lucid = await startLucid();
});
afterAll(() => lucid.close());

describe('the contract', () => {
  it('has a handler for every operation in the spec, and no handler for an operation it lacks', () => {
    expect(specOperations.every((id) => typeof id === 'string')).toBe(true);
    expect(Object.keys(handlers).sort()).toEqual([...(specOperations as string[])].sort());
    expect(Object.keys(requiredScope).sort()).toEqual([...(specOperations as string[])].sort());
  });

  it('is a valid OpenAPI 3.0 document (the server skips this check at start-up)', async () => {
    const api = new OpenAPIBackend({ definition: YAML.parse(specText) as Document, strict: true, validate: true });
    await expect(api.init()).resolves.toBe(api);
  });

  it('carries the version the server reports', async () => {
    expect(spec.info.version).toBe(VERSION);
    expect((await fetch(`${lucid.url}/health`)).headers.get('server')).toBe(`Lucid/${spec.info.version}`);
  });

  it('is served at /openapi.yaml byte for byte and at /openapi.json as the same document, without a token', async () => {
    const yaml = await fetch(`${lucid.url}/openapi.yaml`);
    expect(yaml.status).toBe(200);
    expect(yaml.headers.get('content-type')).toMatch(/^application\/yaml/);
    expect(await yaml.text()).toBe(specText);
    const json = await fetch(`${lucid.url}/openapi.json`);
    expect(await json.json()).toEqual(YAML.parse(specText));
  });

  it('renders an interactive reference at /docs whose assets all come from the server itself', async () => {
    const page = await fetch(`${lucid.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(3);
    for (const asset of assets) {
      expect(asset.startsWith('/'), `${asset} is served locally`).toBe(true);
      const response = await fetch(`${lucid.url}${asset}`);
      expect(response.status, asset).toBe(200);
      expect((await response.arrayBuffer()).byteLength, asset).toBeGreaterThan(50);
    }
    expect(await (await fetch(`${lucid.url}/docs/assets/lucid-docs.js`)).text()).toContain("url: '/openapi.json'");
  });

  it('gives a client author the same types from a running server as generated/ holds', async () => {
    const out = path.join(tempDir(), 'lucid.d.ts');
    await promisify(execFile)(process.execPath, [
      'node_modules/openapi-typescript/bin/cli.js',
      `${lucid.url}/openapi.yaml`,
      '-o',
      out,
    ]);
    expect(readFileSync(out, 'utf8')).toBe(readFileSync('generated/lucid.d.ts', 'utf8'));
  });
});
