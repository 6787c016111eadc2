/**
 * `lucid init`: writes a config with a generated secret (mode 0600) and prints a root token; `--tls` adds a self-signed
 * certificate.
 */
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generate } from 'selfsigned';
import { MIN_SECRET_LENGTH, configPath, defaults, loadConfig } from '../config.js';
import { ConfigError } from '../errors.js';
import { TokenAuthority, generateSecret } from '../auth.js';
import { generateKey } from '../store/encrypted.js';
import { curlExample, ROOT_SUBJECT, DEFAULT_TOKEN_LIFETIME, parseLifetime } from './token.js';

export interface InitOptions {
  config?: string;
  secret?: string;
  force?: boolean;
  /** Also write a self-signed certificate for localhost and serve HTTPS with it. */
  tls?: boolean;
  /** Also generate an encryption key (encryption at rest). */
  encrypt?: boolean;
}

/**
 * Where `init --tls` writes the certificate and key, relative to the config file's folder (as the config names them).
 */
export const TLS_CERT_FILE = 'tls/localhost-cert.pem';
export const TLS_KEY_FILE = 'tls/localhost-key.pem';
const TLS_DAYS = 365;

export async function init(
  options: InitOptions,
  io: { out: (text: string) => void; err: (text: string) => void },
): Promise<void> {
  const file = configPath(options.config);
  if (existsSync(file) && !options.force) {
    throw new ConfigError(
      `${file} already exists; pass --force to overwrite it ` +
        '(its secret, and every token signed with it, will be replaced).',
    );
  }
  const secret = options.secret ?? generateSecret();
  if (secret.length < MIN_SECRET_LENGTH)
    throw new ConfigError(`--secret must be at least ${MIN_SECRET_LENGTH} characters.`);
  const text = configText(options, secret);
  mkdirSync(path.dirname(file), { recursive: true });
  if (options.tls) await writeSelfSignedCertificate(path.dirname(file));
  // Written beside the target with mode 0600 from the start, then renamed over it: the secret is
  // never readable by others, even for a moment, and an existing file is replaced whole.
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode: 0o600, flag: 'wx' });
  renameSync(temporary, file);
  const { config } = loadConfig({ file });
  const token = new TokenAuthority(config.auth.secret).issue(ROOT_SUBJECT, parseLifetime(DEFAULT_TOKEN_LIFETIME), {
    scope: 'admin',
  });
  io.err(`Wrote ${file} (mode 0600) with a new secret${options.encrypt ? ' and encryption key' : ''}.\n`);
  if (config.server.tls) {
    io.err(
      `Wrote a self-signed certificate for localhost, 127.0.0.1 and ::1 (valid ${TLS_DAYS} days): ` +
        `${config.server.tls.cert}, key ${config.server.tls.key} (mode 0600). ` +
        'Clients must trust the certificate file; it is for trying HTTPS, not for production.\n',
    );
  }
  io.err(`Root token (scope admin, expires in ${DEFAULT_TOKEN_LIFETIME}; \`lucid token issue\` makes more):\n`);
  io.out(`${token}\n`);
  io.err(`\nStart the server with \`lucid server\` (or \`make start\`), then try:\n${curlExample(config, token)}\n`);
}

/** The new config file: the defaults, the secret, and the TLS and encryption sections when asked for. */
function configText(options: InitOptions, secret: string): string {
  return [
    '# Lucid configuration. Every option is described in docs/configuration.md.',
    '# This file holds the token secret: keep it private (mode 0600).',
    'server:',
    `  host: ${defaults.server.host}`,
    `  port: ${defaults.server.port}`,
    ...(options.tls
      ? [
          '  # HTTPS with a self-signed certificate for localhost made by `lucid init --tls` ' +
            '(paths relative to this file).',
          '  tls:',
          `    cert: ${TLS_CERT_FILE}`,
          `    key: ${TLS_KEY_FILE}`,
        ]
      : []),
    "# sqlite://PATH, relative to this file's folder.",
    `store: ${defaults.store}`,
    'auth:',
    '  enabled: true',
    `  secret: ${JSON.stringify(secret)}`,
    'limits:',
    `  maxValueBytes: ${defaults.limits.maxValueBytes}`,
    ...(options.encrypt
      ? [
          '# Values are encrypted at rest with this key (AES-256-GCM). ' +
            'Losing it loses the data: back it up apart from the data.',
          'encryption:',
          `  key: ${JSON.stringify(generateKey())}`,
        ]
      : []),
    '',
  ].join('\n');
}

/**
 * A self-signed certificate for trying HTTPS on this machine: localhost, 127.0.0.1 and ::1, an
 * ECDSA P-256 key (fast to make and to handshake), SHA-256. The key is written with mode 0600.
 */
async function writeSelfSignedCertificate(dir: string): Promise<void> {
  const notBeforeDate = new Date();
  const notAfterDate = new Date(notBeforeDate.getTime() + TLS_DAYS * 24 * 3600 * 1000);
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  const certFile = path.join(dir, TLS_CERT_FILE);
  const keyFile = path.join(dir, TLS_KEY_FILE);
  mkdirSync(path.dirname(certFile), { recursive: true, mode: 0o700 });
  // Like the config: written beside the target with mode 0600 from the start, then renamed over it.
  const temporary = `${keyFile}.${process.pid}.tmp`;
  writeFileSync(temporary, pems.private, { mode: 0o600, flag: 'wx' });
  renameSync(temporary, keyFile);
  writeFileSync(certFile, pems.cert, { mode: 0o644 });
}
