/** /docs/assets and /ui/assets serve only the files their pages load: no package files, demo pages or source maps. */
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_ASSETS_DIR } from '../../src/console.js';
import { startLucid, type TestLucid } from '../support/lucid.js';

let lucid: TestLucid;
beforeAll(async () => {
  lucid = await startLucid();
});
afterAll(() => lucid.close());

const status = async (pathname: string) => {
  const response = await fetch(`${lucid.url}${pathname}`);
  await response.arrayBuffer();
  return response.status;
};

describe('static files', () => {
  it('serves the files the /docs page loads, and nothing else of swagger-ui-dist', async () => {
    const page = await (await fetch(`${lucid.url}/docs`)).text();
    const loaded = [...page.matchAll(/(?:href|src)="(\/docs\/assets\/[^"]+)"/g)].map((match) => match[1]!);
    expect(loaded.length).toBeGreaterThanOrEqual(3);
    for (const asset of loaded) expect(await status(asset), asset).toBe(200);
    for (const other of [
      'package.json',
      'README.md',
      'index.html',
      'oauth2-redirect.html',
      'swagger-ui-bundle.js.map',
      'swagger-ui.js',
      'index.js',
    ]) {
      expect(await status(`/docs/assets/${other}`), other).toBe(404);
    }
  });

  it('serves the files the console page names, and not their source maps', async () => {
    const page = await (await fetch(`${lucid.url}/ui`)).text();
    const named = [...page.matchAll(/(?:href|src)="\/ui\/assets\/([^"]+)"/g)].map((match) => match[1]!);
    expect(named.length).toBe(2);
    for (const asset of named) expect(await status(`/ui/assets/${asset}`), asset).toBe(200);
    const maps = readdirSync(CONSOLE_ASSETS_DIR).filter((file) => file.endsWith('.map'));
    expect(maps.length).toBeGreaterThan(0); // built, so that refusing them means something
    for (const map of maps) expect(await status(`/ui/assets/${map}`), map).toBe(404);
  });
});
