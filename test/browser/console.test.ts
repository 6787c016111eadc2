/**
 * The web console in a real browser: headless Debian Chromium (/usr/bin/chromium), driven by
 * playwright-core, against a real Lucid (real HTTP, real SQLite). beforeAll builds the console
 * itself (web/build.mjs, well under a second), so this test needs no `make build` first.
 * Screenshots of the main screens go to test/browser/screenshots/ (git-ignored).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, deflateSync } from 'node:zlib';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLucidClient, type LucidClient } from '../../src/client/index.js';
import { startLucid, type TestLucid } from '../support/lucid.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SHOTS = path.join(ROOT, 'test/browser/screenshots');
const CHROMIUM = '/usr/bin/chromium';
// Without the background-networking flags Chromium keeps dialling Google, which this machine refuses.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];
const UI_TIMEOUT = 5_000;

let lucid: TestLucid;
let other: LucidClient;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];

const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
const detail = () => page.locator('#detail');
const row = (key: string) => page.locator(`#key-rows tr[data-row="${key}"]`);
const notice = () => page.locator('#detail-notice');

async function openFromList(key: string): Promise<void> {
  await row(key).getByRole('button', { name: key, exact: true }).click();
  await page.locator('#detail-title', { hasText: key }).waitFor({ timeout: UI_TIMEOUT });
}

async function signIn(token: string): Promise<void> {
  await page.getByLabel('Token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** A small PNG (a colour gradient), built here so the test needs no image file. */
function gradientPng(width: number, height: number): Buffer {
  const rows: Buffer[] = [];
  for (let y = 0; y < height; y++) {
    const line = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x++)
      line.set([Math.round((x / width) * 255), Math.round((y / height) * 255), 180], 1 + x * 3);
    rows.push(line);
  }
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const BINARY = Buffer.from([
  0x00,
  0x01,
  0x02,
  0xff,
  0xfe,
  0x80,
  0x4c,
  0x75,
  0x63,
  0x69,
  0x64,
  0x0a,
  ...Array.from({ length: 40 }, (_, i) => i * 7),
]);

beforeAll(async () => {
  execFileSync(process.execPath, [path.join(ROOT, 'web/build.mjs')], { cwd: ROOT, stdio: 'pipe' });
  mkdirSync(SHOTS, { recursive: true });
  lucid = await startLucid({ config: { expiry: { sweepIntervalMs: 100 } } });
  other = createLucidClient({ baseUrl: lucid.url, token: lucid.token });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  context = await browser.newContext({ viewport: { width: 1280, height: 820 }, acceptDownloads: true });
  page = await context.newPage();
  page.setDefaultTimeout(UI_TIMEOUT);
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    // A refused sign-in shows up as "Failed to load resource: 401"; that is the test's own doing.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
      pageErrors.push(message.text());
  });
});

afterAll(async () => {
  await browser?.close();
  await lucid?.close();
});

describe('the web console', () => {
  it('is served at / and /ui, with hashed assets cached for good and a strict CSP', async () => {
    const root = await fetch(`${lucid.url}/`);
    const html = await root.text();
    expect(root.status).toBe(200);
    expect(root.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(root.headers.get('cache-control')).toBe('no-cache');
    expect(root.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await (await fetch(`${lucid.url}/ui`)).text()).toBe(html);
    const assets = [...html.matchAll(/(?:src|href)="(\/ui\/assets\/console-[A-Z0-9]+\.(?:js|css))"/g)].map(
      (match) => match[1]!,
    );
    expect(assets).toHaveLength(2);
    for (const asset of assets) {
      const response = await fetch(`${lucid.url}${asset}`);
      await response.arrayBuffer();
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(response.headers.get('content-type')).toMatch(
        asset.endsWith('.js') ? /^(text|application)\/javascript/ : /^text\/css/,
      );
    }
    expect((await fetch(`${lucid.url}/ui/assets/console-NOPE.js`)).status).toBe(404);
  });

  it('refuses a bad or expired token with a clear message, then signs in', async () => {
    await page.goto(`${lucid.url}/`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await shot('01-sign-in');

    await signIn('not-a-token');
    await page.locator('#signin-error', { hasText: 'Lucid refused this token (401)' }).waitFor();

    await signIn(lucid.authority.issue('root', -60));
    await page.locator('#signin-error', { hasText: 'Your token expired at' }).waitFor();
    await shot('02-sign-in-expired');

    await signIn(`export LUCID_TOKEN=${lucid.token}`); // pasted straight from `make start`'s output
    await page.getByRole('heading', { name: 'Keys' }).waitFor();
    expect(await page.locator('#identity').textContent()).toBe('root · write');
    await page.locator('#live[data-state="live"]').waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('lucid.console.token'))).toBe(lucid.token);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
  });

  it('creates a text key in the editor and a binary key by upload, and shows each as it is', async () => {
    await page.getByRole('button', { name: 'New key' }).click();
    await page.getByLabel('Key', { exact: true }).fill('notes/hello');
    expect(await page.getByLabel('Content type').inputValue()).toBe('text/plain;charset=utf-8');
    await page.getByLabel('Value', { exact: true }).fill('Hello from the console\nsecond line');
    await page.getByRole('button', { name: 'Create' }).click();
    await detail().locator('pre', { hasText: 'Hello from the console' }).waitFor();
    await row('notes/hello').waitFor();
    expect((await other.get('notes/hello')).text()).toBe('Hello from the console\nsecond line');

    await page.getByRole('button', { name: 'New key' }).click();
    await page.getByLabel('Key', { exact: true }).fill('files/blob.bin');
    await page.getByLabel('File upload').check();
    await page
      .getByLabel('File', { exact: true })
      .setInputFiles({ name: 'blob.bin', mimeType: 'application/octet-stream', buffer: BINARY });
    expect(await page.getByLabel('Content type').inputValue()).toBe('application/octet-stream');
    await page.getByRole('button', { name: 'Create' }).click();
    const hex = detail().locator('pre.hex');
    await hex.waitFor();
    expect(await hex.textContent()).toContain(
      '00000000  00 01 02 ff fe 80 4c 75  63 69 64 0a 00 07 0e 15  |......Lucid.....|',
    );
    const stored = await other.get('files/blob.bin');
    expect(Buffer.from(stored.bytes()).equals(BINARY)).toBe(true);
    expect(stored.contentType).toBe('application/octet-stream');
    const download = page.waitForEvent('download');
    await detail()
      .getByRole('link', { name: /^Download \d+ B$/ })
      .click();
    expect((await download).suggestedFilename()).toBe('blob.bin');
    await shot('03-binary-hex');

    // Text shown as text, JSON pretty-printed (every digit kept), an image as an image.
    await openFromList('notes/hello');
    expect(await detail().locator('pre').textContent()).toBe('Hello from the console\nsecond line');
    await other.put('config/ui', '{"theme":"dark","sizes":[1,2],"big":12345678901234567890,"empty":{}}', {
      contentType: 'application/json',
    });
    await other.put('images/gradient.png', gradientPng(240, 120), { contentType: 'image/png' });
    await row('images/gradient.png').waitFor(); // listed live
    await openFromList('config/ui');
    expect(await detail().locator('pre').textContent()).toBe(
      '{\n  "theme": "dark",\n  "sizes": [\n    1,\n    2\n  ],\n  "big": 12345678901234567890,\n  "empty": {}\n}',
    );
    await shot('04-keys-and-json');
    await openFromList('images/gradient.png');
    const image = detail().getByRole('img');
    await image.waitFor();
    await page.waitForFunction(
      () => (document.querySelector('#detail img') as HTMLImageElement | null)?.naturalWidth === 240,
    );
    await shot('05-image');
  });

  it('catches a concurrent edit: the save is refused with a conflict message, nothing is overwritten', async () => {
    await openFromList('notes/hello');
    await detail().getByRole('button', { name: 'Edit' }).click();
    await page.getByLabel('Value', { exact: true }).fill('My edit');
    await other.put('notes/hello', 'Their edit'); // another client writes between open and save
    await notice().filter({ hasText: 'was just changed by another client' }).waitFor();
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await notice()
      .filter({ hasText: 'Conflict: “notes/hello” was changed by someone else after you opened it' })
      .waitFor();
    expect(await page.getByLabel('Value', { exact: true }).inputValue()).toBe('My edit');
    expect((await other.get('notes/hello')).text()).toBe('Their edit');
    await shot('06-conflict');
    await notice().getByRole('button', { name: 'Reload their version (discard mine)' }).click();
    await detail().locator('pre', { hasText: 'Their edit' }).waitFor();

    // The other way out: overwrite theirs, deliberately (still conditional, on the ETag of their version).
    await detail().getByRole('button', { name: 'Edit' }).click();
    await page.getByLabel('Value', { exact: true }).fill('Mine, on purpose');
    await other.put('notes/hello', 'Theirs again');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await notice().getByRole('button', { name: 'Save mine over theirs' }).click();
    await detail().locator('pre', { hasText: 'Mine, on purpose' }).waitFor();
    expect((await other.get('notes/hello')).text()).toBe('Mine, on purpose');
  });

  it('locks a key, and a save is then refused with the 409 shown', async () => {
    await detail().getByRole('button', { name: 'Lock', exact: true }).click();
    await detail().locator('.meta', { hasText: 'locked by root' }).waitFor();
    await row('notes/hello').getByText('locked by root').waitFor();
    // Focus stays on the same control after the re-render (now "Unlock").
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Unlock');
    await detail().getByRole('button', { name: 'Edit' }).click();
    await page.getByLabel('Value', { exact: true }).fill('While locked');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await notice().filter({ hasText: 'Refused (409): The specified key cannot be updated.' }).waitFor();
    expect(await notice().textContent()).toContain('is locked by root');
    await shot('07-locked-409');
    expect((await other.get('notes/hello')).text()).toBe('Mine, on purpose');
    await page.keyboard.press('Escape'); // leaves the editor, after confirming the edit may go
    await page.getByRole('dialog', { name: 'Discard your changes?' }).getByRole('button', { name: 'Discard' }).click();
    await detail().getByRole('button', { name: 'Unlock' }).click();
    await detail().locator('.meta', { hasText: 'unlocked' }).waitFor();
  });

  it('sets a TTL, and the key disappears from the list when it expires', async () => {
    await openFromList('files/blob.bin');
    await page.getByLabel('Expire in (seconds)').fill('1');
    await detail().getByRole('button', { name: 'Set expiry' }).click();
    await row('files/blob.bin').locator('time[data-relative]').waitFor();
    await row('files/blob.bin').waitFor({ state: 'detached' });
    await detail().getByText('“files/blob.bin” was expired').waitFor();
    await expect(other.get('files/blob.bin')).rejects.toMatchObject({ status: 404 });
  });

  it('shows writes from another client live, in the list and in the open value', async () => {
    await openFromList('notes/hello');
    await other.put('live/arrival', 'written elsewhere');
    await row('live/arrival').waitFor();
    await other.put('notes/hello', 'Changed by another client');
    await detail().locator('pre', { hasText: 'Changed by another client' }).waitFor();
    await notice().filter({ hasText: 'Updated live: updated' }).waitFor();
    await other.delete('live/arrival');
    await row('live/arrival').waitFor({ state: 'detached' });
  });

  it('deletes a key after a confirmation', async () => {
    await other.put('live/doomed', 'short-lived');
    await openFromList('live/doomed');
    await detail().getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete “live/doomed”?' });
    await dialog.getByRole('button', { name: 'Cancel' }).click(); // first thoughts: keep it
    await dialog.waitFor({ state: 'detached' });
    expect((await other.get('live/doomed')).text()).toBe('short-lived');
    await detail().getByRole('button', { name: 'Delete' }).click();
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await row('live/doomed').waitFor({ state: 'detached' });
    await expect(other.get('live/doomed')).rejects.toMatchObject({ status: 404 });
  });

  it('pages through keys with the listing cursor, and filters by prefix from the keyboard', async () => {
    for (let i = 0; i < 30; i++) await other.put(`many/${String(i).padStart(2, '0')}`, String(i));
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('/');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('prefix');
    await page.keyboard.type('many/');
    await page.getByLabel('Per page').selectOption('25');
    await page.locator('#page-label', { hasText: 'Page 1 · 25 keys' }).waitFor();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.locator('#page-label', { hasText: 'Page 2 · 5 keys' }).waitFor();
    expect(await page.locator('#key-rows tr').first().getAttribute('data-row')).toBe('many/25');
    expect(await page.getByRole('button', { name: 'Next' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Previous' }).click();
    await page.locator('#page-label', { hasText: 'Page 1 · 25 keys' }).waitFor();
    // A counter: open it with the keyboard, then increment it.
    await row('many/07').getByRole('button').focus();
    await page.keyboard.press('Enter');
    await page.locator('#detail-title', { hasText: 'many/07' }).waitFor();
    await page.getByLabel('Amount').fill('5');
    await detail().getByRole('button', { name: 'Increment' }).click();
    await detail().locator('pre', { hasText: /^12$/ }).waitFor();
  });

  it('is readable at phone width', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByLabel('Prefix').fill('');
    await page.getByRole('button', { name: 'Show', exact: true }).click();
    await row('config/ui').waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: path.join(SHOTS, '08-phone-keys.png') });
    await openFromList('config/ui'); // focuses the value's heading, which scrolls it into view
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: path.join(SHOTS, '09-phone-value.png') });
    await page.setViewportSize({ width: 1280, height: 820 });
  });

  it('tells an under-scoped token (403) what it may not do', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.locator('#signin-error', { hasText: 'Signed out' }).waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await signIn(lucid.authority.issue('reader', 600, { scope: 'read' }));
    await page.getByRole('heading', { name: 'Keys' }).waitFor();
    expect(await page.locator('#identity').textContent()).toBe('reader · read');
    await page.getByRole('button', { name: 'New key' }).click();
    await page.getByLabel('Key', { exact: true }).fill('notes/nope');
    await page.getByLabel('Value', { exact: true }).fill('x');
    await page.getByRole('button', { name: 'Create' }).click();
    await notice()
      .filter({ hasText: "Not allowed (403): This token's scope (read) does not allow this: it needs write." })
      .waitFor();
    await shot('10-forbidden-403');
  });

  it('with ui.enabled: false, shows a welcome page pointing to /docs instead', async () => {
    const off = await startLucid({ config: { ui: { enabled: false } } });
    try {
      await page.goto(`${off.url}/`);
      await page.getByText('The web console is turned off on this server').waitFor();
      expect(await page.getByRole('link', { name: 'API reference' }).getAttribute('href')).toBe('/docs');
      expect(await page.evaluate(() => getComputedStyle(document.body).maxWidth)).not.toBe('none'); // its inline style is allowed by its CSP
      await shot('11-welcome-ui-off');
    } finally {
      await off.close();
    }
    expect(pageErrors).toEqual([]);
  });
});
