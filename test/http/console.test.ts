/** The web console's switch: `ui.enabled: false` (or LUCID_UI_ENABLED=false) leaves a welcome page at / and /ui, and no assets. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecret } from '../../src/auth.js';
import { loadConfig } from '../../src/config.js';
import { startLucid, tempDir, type TestLucid } from '../support/lucid.js';

let lucid: TestLucid;
beforeAll(async () => {
  lucid = await startLucid({ config: { ui: { enabled: false } } });
});
afterAll(() => lucid.close());

describe('the web console switch', () => {
  it('is on by default and turned off by ui.enabled or LUCID_UI_ENABLED', () => {
    const file = path.join(tempDir(), 'lucid.yml');
    writeFileSync(file, `auth:\n  secret: ${generateSecret()}\n`, { mode: 0o600 });
    expect(loadConfig({ file, env: {} }).config.ui.enabled).toBe(true);
    expect(loadConfig({ file, env: { LUCID_UI_ENABLED: 'false' } }).config.ui.enabled).toBe(false);
    writeFileSync(file, `auth:\n  secret: ${generateSecret()}\nui:\n  enabled: false\n`);
    expect(loadConfig({ file, env: {} }).config.ui.enabled).toBe(false);
    writeFileSync(file, `auth:\n  secret: ${generateSecret()}\nui:\n  enabled: maybe\n`);
    expect(() => loadConfig({ file, env: {} })).toThrow(/ui\.enabled must be boolean/);
  });

  it('when off, answers / and /ui with a welcome page pointing to /docs and the README', async () => {
    for (const pathname of ['/', '/ui']) {
      const response = await fetch(`${lucid.url}${pathname}`);
      const page = await response.text();
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(page).toContain('href="/docs"');
      expect(page).toContain('README');
      expect(page).toContain('The web console is turned off');
      expect(page).not.toContain('/ui/assets/');
    }
  });

  it('when off, serves no console assets', async () => {
    const response = await fetch(`${lucid.url}/ui/assets/console.js`);
    expect(response.status).toBe(404);
    expect(await response.json()).toHaveProperty('message');
  });
});
