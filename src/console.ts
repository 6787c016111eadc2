/**
 * The web console: its page and assets, built by `make build` (web/build.mjs) into dist/web/, and
 * the welcome page `/` shows instead when the console is turned off (`ui.enabled: false`) or its
 * files are missing.
 */
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PACKAGE_ROOT } from './version.js';

/** Where web/build.mjs writes the console: index.html and assets/ (hashed names). */
export const CONSOLE_DIR = fileURLToPath(new URL('dist/web/', PACKAGE_ROOT));
export const CONSOLE_ASSETS_DIR = fileURLToPath(new URL('dist/web/assets/', PACKAGE_ROOT));
const CONSOLE_PAGE = fileURLToPath(new URL('dist/web/index.html', PACKAGE_ROOT));

/**
 * The console's scripts and styles come from Lucid itself; images are object URLs of stored values.
 * The API and the notification stream are same-origin (connect-src 'self').
 */
export const CONSOLE_HEADERS = {
  'Content-Type': 'text/html; charset=utf-8',
  // The page names the current hashed assets: always revalidate it (the assets themselves are immutable).
  'Cache-Control': 'no-cache',
  'Content-Security-Policy': [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob: data:",
    "connect-src 'self'",
    "form-action 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; '),
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
} as const;

/** The welcome page is one self-contained document: its only style is inline, and it loads nothing. */
export const WELCOME_HEADERS = {
  ...CONSOLE_HEADERS,
  'Content-Security-Policy': [
    "default-src 'none'",
    "style-src 'unsafe-inline'",
    'img-src data:',
    "form-action 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; '),
} as const;

/** Cache-Control for /ui/assets: every name carries its content's hash, so it never changes. */
export const ASSET_MAX_AGE_SECONDS = 365 * 24 * 3600;

let cached: { mtimeMs: number; page: Buffer } | undefined;

/** The built console page, re-read only when the file changes (a rebuild); undefined when it was never built. */
export function consolePage(): Buffer | undefined {
  try {
    const { mtimeMs } = statSync(CONSOLE_PAGE);
    if (cached?.mtimeMs !== mtimeMs) cached = { mtimeMs, page: readFileSync(CONSOLE_PAGE) };
    return cached.page;
  } catch {
    return undefined;
  }
}

let listed: { page: Buffer; names: ReadonlySet<string> } | undefined;

/** The asset files the current console page names (and so the only ones /ui/assets serves: no source maps). */
export function consoleAssets(): ReadonlySet<string> {
  const page = consolePage();
  if (page === undefined) return new Set();
  if (listed?.page !== page) {
    const names = [...page.toString('utf8').matchAll(/\/ui\/assets\/([A-Za-z0-9._-]+)/g)].map((match) => match[1]!);
    listed = { page, names: new Set(names) };
  }
  return listed.names;
}

/** A short page for `/` when there is no console to show: where to go instead. */
export function welcomePage(reason: 'disabled' | 'missing'): Buffer {
  const why =
    reason === 'disabled'
      ? '<p>The web console is turned off on this server ' +
        '(<code>ui.enabled: false</code> or <code>LUCID_UI_ENABLED=false</code>).</p>'
      : '<p>The web console is not built on this server: run <code>make build</code> and reload.</p>';
  return Buffer.from(`<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Lucid</title>
  <link rel="icon" href="data:,">
</head>
<body style="font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem">
  <h1>Lucid</h1>
  <p>Lucid is running: a key-value store with an HTTP API under <code>/api</code>.</p>
  ${why}
  <ul>
    <li><a href="/docs">API reference</a> (interactive, no token needed to read it)</li>
    <li><a href="/openapi.yaml">The contract</a> (OpenAPI 3.0.3)</li>
    <li>The README and <code>docs/</code> in Lucid's source: getting started, the API, the CLI, configuration</li>
  </ul>
</body>
</html>
`);
}
