/** Starts a real Lucid (real HTTP server on port 0, real SQLite file in a temp folder) for a test. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { TokenAuthority, generateSecret } from '../../src/auth.js';
import { defaults, finish, type Config, type DeepPartial } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server.js';
import type { Clock } from '../../src/store/types.js';

export interface TestLucid extends RunningServer {
  config: Config;
  dir: string;
  authority: TokenAuthority;
  /** A valid root token. */
  token: string;
  /** fetch against the server with the root token (unless `headers.authorization` is given). */
  request(pathname: string, init?: RequestInit): Promise<Response>;
}

/** A fresh temp folder, removed by the returned cleanup. */
export function tempDir(prefix = 'lucid-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** Builds a validated config rooted in `dir`, with a random secret and port 0. */
export function testConfig(dir: string, overrides: DeepPartial<Config> = {}): Config {
  const candidate = structuredClone(defaults) as Config;
  candidate.server.port = 0;
  candidate.auth.secret = generateSecret();
  candidate.log.level = 'silent';
  candidate.store = `sqlite://${path.join(dir, 'lucid.sqlite')}`;
  for (const [section, values] of Object.entries(overrides)) {
    const target = candidate as unknown as Record<string, unknown>;
    target[section] =
      typeof values === 'object' && values !== null ? { ...(target[section] as object), ...values } : values;
  }
  return finish(candidate, dir);
}

export async function startLucid(
  options: {
    config?: DeepPartial<Config>;
    clock?: Clock;
    validateResponses?: boolean;
    logger?: Logger;
    dir?: string;
  } = {},
): Promise<TestLucid> {
  const dir = options.dir ?? tempDir();
  const config = testConfig(dir, options.config);
  const logger = options.logger ?? pino({ level: 'silent' });
  const running = await startServer({
    config,
    clock: options.clock,
    logger,
    validateResponses: options.validateResponses ?? true,
  });
  const authority = TokenAuthority.fromConfig(config.auth);
  const token = authority.issue('root', 3600);
  return {
    ...running,
    config,
    dir,
    authority,
    token,
    request: (pathname, init = {}) => {
      const headers = new Headers(init.headers);
      if (!headers.has('authorization')) headers.set('authorization', `Bearer ${token}`);
      return fetch(`${running.url}${pathname}`, { ...init, headers });
    },
    close: async () => {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A key no other test uses. */
export function uniqueKey(label = 'key'): string {
  return `${label}-${Math.random().toString(36).slice(2, 10)}`;
}
