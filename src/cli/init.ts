/** `lucid init`: writes a config with a generated secret (mode 0600) and prints a root token. */
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MIN_SECRET_LENGTH, configPath, defaults, loadConfig } from '../config.js';
import { ConfigError } from '../errors.js';
import { TokenAuthority, generateSecret } from '../auth.js';
import { curlExample, ROOT_SUBJECT, DEFAULT_TOKEN_LIFETIME, parseLifetime } from './token.js';

export interface InitOptions {
  config?: string;
  secret?: string;
  force?: boolean;
}

export function init(options: InitOptions, io: { out: (text: string) => void; err: (text: string) => void }): void {
  const file = configPath(options.config);
  if (existsSync(file) && !options.force) {
    throw new ConfigError(`${file} already exists; pass --force to overwrite it (its secret, and every token signed with it, will be replaced).`);
  }
  const secret = options.secret ?? generateSecret();
  if (secret.length < MIN_SECRET_LENGTH) throw new ConfigError(`--secret must be at least ${MIN_SECRET_LENGTH} characters.`);
  const text = [
    '# Lucid configuration. Every option is described in the README under "Configuration".',
    '# This file holds the token secret: keep it private (mode 0600).',
    'server:',
    `  host: ${defaults.server.host}`,
    `  port: ${defaults.server.port}`,
    '# sqlite://PATH, relative to this file\'s folder.',
    `store: ${defaults.store}`,
    'auth:',
    '  enabled: true',
    `  secret: ${JSON.stringify(secret)}`,
    'limits:',
    `  maxValueBytes: ${defaults.limits.maxValueBytes}`,
    '',
  ].join('\n');
  mkdirSync(path.dirname(file), { recursive: true });
  // Written beside the target with mode 0600 from the start, then renamed over it: the secret is
  // never readable by others, even for a moment, and an existing file is replaced whole.
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode: 0o600, flag: 'wx' });
  renameSync(temporary, file);
  const { config } = loadConfig({ file });
  const token = new TokenAuthority(config.auth.secret).issue(ROOT_SUBJECT, parseLifetime(DEFAULT_TOKEN_LIFETIME), { scope: 'admin' });
  io.err(`Wrote ${file} (mode 0600) with a new secret.\n`);
  io.err(`Root token (scope admin, expires in ${DEFAULT_TOKEN_LIFETIME}; \`lucid token issue\` makes more):\n`);
  io.out(`${token}\n`);
  io.err(`\nStart the server with \`lucid server\` (or \`make start\`), then try:\n${curlExample(config, token)}\n`);
}
