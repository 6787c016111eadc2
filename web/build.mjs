#!/usr/bin/env node
/**
 * Builds the web console (`make build` runs it): esbuild bundles web/src/main.ts (with the typed
 * client from src/client and its CSS) into dist/web/assets/ under hashed names, and writes
 * dist/web/index.html from web/index.html naming them. Lucid serves the page at `/` and `/ui` and
 * the assets at `/ui/assets/` with a year-long immutable Cache-Control; nothing comes from a CDN.
 *
 * The page is replaced atomically (written aside, then renamed), and assets the new page no longer
 * names are removed, so a running server never serves a page whose assets are missing.
 */
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'dist/web');
const ASSETS = path.join(OUT, 'assets');
const PUBLIC_ASSETS = '/ui/assets/';

/** Builds the console; returns the page's path and the asset files it names. */
export async function buildConsole({ minify = true } = {}) {
  mkdirSync(ASSETS, { recursive: true });
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: { console: 'web/src/main.ts' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
    outdir: ASSETS,
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    minify,
    sourcemap: 'linked',
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  });
  const outputs = Object.entries(result.metafile.outputs);
  const script = outputs.find(([, output]) => output.entryPoint === 'web/src/main.ts');
  if (script === undefined) throw new Error('web/build.mjs: esbuild produced no script for web/src/main.ts');
  const style = script[1].cssBundle;
  if (style === undefined) throw new Error('web/build.mjs: web/src/main.ts imports no CSS');
  const names = [script[0], style].map((file) => path.basename(file));
  const page = readFileSync(path.join(ROOT, 'web/index.html'), 'utf8')
    .replace('%SCRIPT%', `${PUBLIC_ASSETS}${names[0]}`)
    .replace('%STYLE%', `${PUBLIC_ASSETS}${names[1]}`);
  if (page.includes('%SCRIPT%') || page.includes('%STYLE%')) throw new Error('web/index.html names an asset twice');
  const pageFile = path.join(OUT, 'index.html');
  const aside = `${pageFile}.${process.pid}.tmp`;
  writeFileSync(aside, page);
  renameSync(aside, pageFile);
  const keep = new Set(outputs.map(([file]) => path.basename(file)));
  for (const file of readdirSync(ASSETS)) if (!keep.has(file)) rmSync(path.join(ASSETS, file), { force: true });
  return { page: pageFile, assets: names };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  const { assets } = await buildConsole();
  console.log(`web console: dist/web/index.html + ${assets.join(', ')} (${Date.now() - started} ms)`);
}
