/**
 * spec/config.schema.yaml is the one source of the options: the defaults, the environment variables
 * and the validation come from it at run time, the type and docs/configuration.md at `make generate`.
 * These tests hold the derived facts to what Lucid had before the schema existed (every default,
 * every variable, every message), and the generated files to the schema (the drift check).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENV_OVERRIDES, defaults, finish } from '../../src/config.js';
import { optionsOf, readConfigSchema } from '../../src/config-schema.js';
import { tempDir } from '../support/lucid.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const MiB = 1024 * 1024;

describe('the config schema', () => {
  it('gives the defaults Lucid had before it', () => {
    expect(defaults).toStrictEqual({
      server: {
        host: '127.0.0.1',
        port: 7021,
        requestTimeoutMs: 30_000,
        headersTimeoutMs: 10_000,
        keepAliveTimeoutMs: 5_000,
        tls: null,
        maxConnections: 4096,
        maxHeaderBytes: 16 * 1024,
      },
      store: 'sqlite://data/lucid.sqlite',
      storeNamespace: 'lucid',
      auth: {
        enabled: true,
        secret: '',
        revocationFile: 'data/revoked-tokens.jsonl',
        requireExp: true,
        issuer: '',
        audience: '',
        clockSkewSeconds: 30,
        publicKeyFile: '',
        jwksFile: '',
      },
      limits: { maxValueBytes: 7 * MiB },
      sqlite: { synchronous: 'normal', cacheBytes: 64 * MiB },
      expiry: { sweepIntervalMs: 250 },
      notifications: { heartbeatMs: 15_000, bufferSize: 10_000, maxLagBytes: MiB, maxValueBytes: 4096 },
      log: { level: 'info', access: false },
      ui: { enabled: true },
      metrics: { port: null, host: '127.0.0.1' },
      cors: { origins: [] },
      encryption: { key: '', previousKeys: [] },
    });
    expect(Object.isFrozen(defaults.server)).toBe(true);
  });

  it('names every environment variable Lucid had before it, each setting the same option the same way', () => {
    expect({ ...ENV_OVERRIDES }).toStrictEqual({
      LUCID_HOST: { path: ['server', 'host'], type: 'string' },
      LUCID_PORT: { path: ['server', 'port'], type: 'integer' },
      LUCID_TLS_CERT: { path: ['server', 'tls', 'cert'], type: 'string' },
      LUCID_TLS_KEY: { path: ['server', 'tls', 'key'], type: 'string' },
      LUCID_MAX_CONNECTIONS: { path: ['server', 'maxConnections'], type: 'integer' },
      LUCID_STORE: { path: ['store'], type: 'string' },
      LUCID_STORE_NAMESPACE: { path: ['storeNamespace'], type: 'string' },
      LUCID_AUTH_ENABLED: { path: ['auth', 'enabled'], type: 'boolean' },
      LUCID_SECRET: { path: ['auth', 'secret'], type: 'string' },
      LUCID_AUTH_REQUIRE_EXP: { path: ['auth', 'requireExp'], type: 'boolean' },
      LUCID_AUTH_ISSUER: { path: ['auth', 'issuer'], type: 'string' },
      LUCID_AUTH_AUDIENCE: { path: ['auth', 'audience'], type: 'string' },
      LUCID_AUTH_CLOCK_SKEW_SECONDS: { path: ['auth', 'clockSkewSeconds'], type: 'integer' },
      LUCID_AUTH_PUBLIC_KEY_FILE: { path: ['auth', 'publicKeyFile'], type: 'string' },
      LUCID_AUTH_JWKS_FILE: { path: ['auth', 'jwksFile'], type: 'string' },
      LUCID_MAX_VALUE_BYTES: { path: ['limits', 'maxValueBytes'], type: 'integer' },
      LUCID_SQLITE_SYNCHRONOUS: { path: ['sqlite', 'synchronous'], type: 'string' },
      LUCID_SQLITE_CACHE_BYTES: { path: ['sqlite', 'cacheBytes'], type: 'integer' },
      LUCID_SWEEP_INTERVAL_MS: { path: ['expiry', 'sweepIntervalMs'], type: 'integer' },
      LUCID_LOG_LEVEL: { path: ['log', 'level'], type: 'string' },
      LUCID_LOG_ACCESS: { path: ['log', 'access'], type: 'boolean' },
      LUCID_UI_ENABLED: { path: ['ui', 'enabled'], type: 'boolean' },
      LUCID_METRICS_PORT: { path: ['metrics', 'port'], type: 'integer' },
      LUCID_METRICS_HOST: { path: ['metrics', 'host'], type: 'string' },
      LUCID_CORS_ORIGINS: { path: ['cors', 'origins'], type: 'list' },
      LUCID_ENCRYPTION_KEY: { path: ['encryption', 'key'], type: 'string' },
      LUCID_ENCRYPTION_PREVIOUS_KEYS: { path: ['encryption', 'previousKeys'], type: 'list' },
    });
  });

  it('lists every problem of a bad config in the words Lucid used before it', () => {
    const candidate = structuredClone(defaults) as unknown as Record<string, Record<string, unknown>>;
    Object.assign(candidate, { extra: 1, store: 'mysql://x', storeNamespace: 'Bad-Name' });
    Object.assign(candidate.server!, { port: 99999, color: 'blue', host: '', tls: { cert: '' }, maxHeaderBytes: 1e9 });
    Object.assign(candidate.auth!, { secret: 'x'.repeat(40), enabled: 'yes', issuer: 42, audience: [''] });
    Object.assign(candidate.sqlite!, { synchronous: 'off', cacheBytes: -1 });
    Object.assign(candidate.expiry!, { sweepIntervalMs: 1.5 });
    Object.assign(candidate.metrics!, { port: 'x' });
    Object.assign(candidate.cors!, { origins: ['*', '*'] });
    Object.assign(candidate.encryption!, { previousKeys: 'a' });
    expect(() => finish(candidate, ROOT)).toThrow(
      [
        'Invalid configuration:',
        'config must NOT have additional properties (extra)',
        'server must NOT have additional properties (color)',
        'server.host must NOT have fewer than 1 characters',
        'server.port must be <= 65535',
        "server.tls must have required property 'key'",
        'server.tls.cert must NOT have fewer than 1 characters',
        'server.maxHeaderBytes must be <= 1048576',
        'store must match pattern "^(sqlite://.+|rediss?://.+|postgres(ql)?://.+)$"',
        'storeNamespace must match pattern "^[a-z_][a-z0-9_]{0,40}$"',
        'auth.enabled must be boolean',
        'auth.issuer must be string',
        'auth.issuer must be array',
        'auth.issuer must match a schema in anyOf',
        'auth.audience must be string',
        'auth.audience.0 must NOT have fewer than 1 characters',
        'auth.audience must match a schema in anyOf',
        'sqlite.synchronous must be equal to one of the allowed values (one of: normal, full)',
        'sqlite.cacheBytes must be >= 0',
        'expiry.sweepIntervalMs must be integer',
        'expiry.sweepIntervalMs must be >= 10',
        'metrics.port must be integer,null',
        'cors.origins.0 must match pattern "^https?://[^/*\\s]+$"',
        'cors.origins.1 must match pattern "^https?://[^/*\\s]+$"',
        'cors.origins must NOT have duplicate items (items ## 1 and 0 are identical)',
        'encryption.previousKeys must be array',
      ].join('\n  - '),
    );
  });
});

describe('docs/configuration.md', () => {
  const doc = readFileSync(path.join(ROOT, 'docs/configuration.md'), 'utf8');
  const options = optionsOf(readConfigSchema());

  it('has one heading per option of the schema, and no other', () => {
    const headings = [...doc.matchAll(/^### `([^`]+)`$/gm)].map((match) => match[1]);
    expect(headings).toEqual(options.map((option) => option.path.join('.')));
    expect(headings).toContain('sqlite.cacheBytes');
  });

  it('gives each option its default and the environment variables that set it', () => {
    for (const { path: at, schema } of options) {
      const name = at.join('.');
      const entry = doc.split(/^### /m).find((section) => section.startsWith(`\`${name}\`\n`)) ?? '';
      const shown =
        schema.default === ''
          ? "''"
          : typeof schema.default === 'string'
            ? schema.default
            : JSON.stringify(schema.default);
      expect(entry, name).toContain(`- Default: \`${shown}\``);
      const variables = Object.entries(ENV_OVERRIDES).filter(([, target]) =>
        at.every((key, i) => target.path[i] === key),
      );
      for (const [variable] of variables) expect(entry, name).toContain(`\`${variable}\``);
    }
  });
});

describe('the drift check (scripts/generate-config.mjs --check)', () => {
  it('passes: the generated files are what the schema produces', () => {
    const run = spawnSync(process.execPath, ['scripts/generate-config.mjs', '--check'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  }, 60_000);

  it('fails, printing the fix, when a generated file is edited by hand or the schema changes without make generate', () => {
    const copy = tempDir('lucid-config-drift-');
    for (const file of [
      'scripts/generate-config.mjs',
      'spec/config.schema.yaml',
      'generated/config.schema.json',
      'generated/config.d.ts',
      'docs/configuration.md',
    ]) {
      mkdirSync(path.dirname(path.join(copy, file)), { recursive: true });
      cpSync(path.join(ROOT, file), path.join(copy, file));
    }
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
    const check = () =>
      spawnSync(process.execPath, ['scripts/generate-config.mjs', '--check'], { cwd: copy, encoding: 'utf8' });

    const doc = path.join(copy, 'docs/configuration.md');
    writeFileSync(doc, readFileSync(doc, 'utf8').replace('- Default: `7021`', '- Default: `8080`'));
    const edited = check();
    expect(edited.status).toBe(1);
    expect(edited.stderr).toBe(
      'docs/configuration.md differs from what spec/config.schema.yaml produces. Fix: make generate, then commit the result\n',
    );

    const spec = path.join(copy, 'spec/config.schema.yaml');
    writeFileSync(spec, readFileSync(spec, 'utf8').replace('default: 7021', 'default: 7022'));
    expect(readFileSync(spec, 'utf8')).toContain('default: 7022');
    const drift = check();
    expect(drift.status).toBe(1);
    expect(drift.stderr).toMatch(
      /^generated\/config\.schema\.json, generated\/config\.d\.ts and docs\/configuration\.md differ/,
    );
  }, 60_000);
});
