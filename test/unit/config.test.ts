import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateSecret } from '../../src/auth.js';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { tempDir } from '../support/lucid.js';

function writeConfig(text: string, mode = 0o600): string {
  const file = path.join(tempDir(), 'lucid.yml');
  writeFileSync(file, text);
  chmodSync(file, mode);
  return file;
}

const secret = generateSecret();

describe('loadConfig', () => {
  it('fills defaults and resolves the store relative to the config file', () => {
    const file = writeConfig(`auth:\n  secret: ${secret}\n`);
    const { config, warnings } = loadConfig({ file, env: {} });
    expect(config.server).toMatchObject({ host: '127.0.0.1', port: 7021 });
    expect(config.limits.maxValueBytes).toBe(7 * 1024 * 1024);
    expect(config.store).toBe(`sqlite://${path.join(path.dirname(file), 'data/lucid.sqlite')}`);
    expect(warnings).toEqual([]);
    expect(Object.isFrozen(config.server)).toBe(true);
  });

  it('takes CORS origins from LUCID_CORS_ORIGINS as a comma-separated list', () => {
    const file = writeConfig(`auth:\n  secret: ${secret}\n`);
    expect(
      loadConfig({ file, env: { LUCID_CORS_ORIGINS: 'https://app.example.com, http://localhost:5173' } }).config.cors
        .origins,
    ).toEqual(['https://app.example.com', 'http://localhost:5173']);
    expect(loadConfig({ file, env: {} }).config.cors.origins).toEqual([]);
  });

  it('takes shared backends by URL, leaves their URLs as given, and refuses other schemes and bad namespaces', () => {
    const file = writeConfig(`auth:\n  secret: ${secret}\n`);
    const redis = loadConfig({
      file,
      env: { LUCID_STORE: 'redis://127.0.0.1:6379/2', LUCID_STORE_NAMESPACE: 'team_a' },
    }).config;
    expect(redis.store).toBe('redis://127.0.0.1:6379/2');
    expect(redis.storeNamespace).toBe('team_a');
    expect(loadConfig({ file, env: { LUCID_STORE: 'postgres://app:pw@db:5432/kv' } }).config.store).toBe(
      'postgres://app:pw@db:5432/kv',
    );
    expect(loadConfig({ file, env: { LUCID_STORE: 'rediss://cache:6380' } }).config.storeNamespace).toBe('lucid');
    expect(() => loadConfig({ file, env: { LUCID_STORE: 'mysql://db/kv' } })).toThrow(/store must match/);
    expect(() => loadConfig({ file, env: { LUCID_STORE: 'redis://x', LUCID_STORE_NAMESPACE: 'Bad-Name' } })).toThrow(
      /storeNamespace must match/,
    );
  });

  it('layers environment over file and flags over environment', () => {
    const file = writeConfig(`server:\n  port: 8000\nauth:\n  secret: ${secret}\n`);
    const env = {
      LUCID_PORT: '9000',
      LUCID_MAX_VALUE_BYTES: '1024',
      LUCID_AUTH_ENABLED: 'false',
      LUCID_LOG_LEVEL: 'warn',
    };
    expect(loadConfig({ file, env }).config.server.port).toBe(9000);
    expect(loadConfig({ file, env }).config.limits.maxValueBytes).toBe(1024);
    expect(loadConfig({ file, env }).config.auth.enabled).toBe(false);
    expect(loadConfig({ file, env, overrides: { server: { port: 1234 } } }).config.server.port).toBe(1234);
  });

  it('keeps TLS, the metrics listener and CORS off by default', () => {
    const { config } = loadConfig({ file: writeConfig(`auth:\n  secret: ${secret}\n`), env: {} });
    expect(config.server.tls).toBeNull();
    expect(config.metrics).toEqual({ port: null, host: '127.0.0.1' });
    expect(config.cors.origins).toEqual([]);
    expect(Object.isFrozen(config.cors.origins)).toBe(true);
  });

  it('resolves server.tls paths relative to the config file, and takes them from the environment', () => {
    const file = writeConfig(`server:\n  tls:\n    cert: tls/c.pem\n    key: /etc/k.pem\nauth:\n  secret: ${secret}\n`);
    expect(loadConfig({ file, env: {} }).config.server.tls).toEqual({
      cert: path.join(path.dirname(file), 'tls/c.pem'),
      key: '/etc/k.pem',
    });
    const plain = writeConfig(`auth:\n  secret: ${secret}\n`);
    expect(
      loadConfig({ file: plain, env: { LUCID_TLS_CERT: 'c.pem', LUCID_TLS_KEY: 'k.pem' } }).config.server.tls?.key,
    ).toBe(path.join(path.dirname(plain), 'k.pem'));
    expect(() => loadConfig({ file: plain, env: { LUCID_TLS_CERT: 'c.pem' } })).toThrow(
      /server\.tls must have required property 'key'/,
    );
  });

  it('takes exact origins for CORS and refuses paths, wildcards and trailing slashes', () => {
    const ok = writeConfig(
      `cors:\n  origins: [http://localhost:5173, https://app.example.org]\nauth:\n  secret: ${secret}\n`,
    );
    expect(loadConfig({ file: ok, env: {} }).config.cors.origins).toEqual([
      'http://localhost:5173',
      'https://app.example.org',
    ]);
    for (const origin of [
      'https://app.example.org/',
      'https://*.example.org',
      '*',
      'app.example.org',
      'https://app.example.org/x',
    ]) {
      const file = writeConfig(`cors:\n  origins: ['${origin}']\nauth:\n  secret: ${secret}\n`);
      expect(() => loadConfig({ file, env: {} }), origin).toThrow(/cors\.origins\.0 must match pattern/);
    }
  });

  it('uses LUCID_CONFIG when no file is named', () => {
    const file = writeConfig(`auth:\n  secret: ${secret}\n`);
    expect(loadConfig({ env: { LUCID_CONFIG: file } }).file).toBe(file);
  });

  it('lists every problem at once', () => {
    const file = writeConfig(`server:\n  port: 99999\n  color: blue\nauth:\n  secret: short\nlog:\n  level: loud\n`);
    let message = '';
    try {
      loadConfig({ file, env: {} });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      message = (error as Error).message;
    }
    expect(message).toMatch(/server\.port must be <= 65535/);
    expect(message).toMatch(/color/);
    expect(message).toMatch(/log\.level must be equal to one of the allowed values/);
  });

  it('refuses a secret shorter than 256 bits and a missing one', () => {
    expect(() => loadConfig({ file: writeConfig('auth:\n  secret: short\n'), env: {} })).toThrow(
      /at least 32 characters/,
    );
    expect(() => loadConfig({ file: writeConfig('store: sqlite://x.db\n'), env: {} })).toThrow(
      /auth.secret is missing/,
    );
  });

  it('names the fix when the file is missing or not YAML', () => {
    expect(() => loadConfig({ file: '/nonexistent/lucid.yml', env: {} })).toThrow(/lucid init/);
    expect(() => loadConfig({ file: writeConfig('server: [unclosed'), env: {} })).toThrow(/not valid YAML/);
  });

  it('refuses malformed environment values', () => {
    const file = writeConfig(`auth:\n  secret: ${secret}\n`);
    expect(() => loadConfig({ file, env: { LUCID_PORT: 'eighty' } })).toThrow(/LUCID_PORT must be an integer/);
    expect(() => loadConfig({ file, env: { LUCID_AUTH_ENABLED: 'maybe' } })).toThrow(/LUCID_AUTH_ENABLED/);
  });

  it('bounds connections and header bytes by default, takes LUCID_MAX_CONNECTIONS, and refuses limits out of range', () => {
    const file = writeConfig(`auth:\n  secret: ${secret}\n`);
    expect(loadConfig({ file, env: {} }).config.server).toMatchObject({ maxConnections: 4096, maxHeaderBytes: 16384 });
    expect(loadConfig({ file, env: { LUCID_MAX_CONNECTIONS: '100' } }).config.server.maxConnections).toBe(100);
    const bad = writeConfig(`server:\n  maxConnections: 0\n  maxHeaderBytes: 100\nauth:\n  secret: ${secret}\n`);
    expect(() => loadConfig({ file: bad, env: {} })).toThrow(
      /server\.maxConnections must be >= 1[^]*server\.maxHeaderBytes must be >= 1024/,
    );
  });

  it('warns when the TLS key is readable by others, and not when it is 0600', () => {
    const file = writeConfig(`auth:\n  secret: ${secret}\nserver:\n  tls:\n    cert: cert.pem\n    key: key.pem\n`);
    const key = path.join(path.dirname(file), 'key.pem');
    writeFileSync(key, 'not read here', { mode: 0o600 });
    expect(loadConfig({ file, env: {} }).warnings).toEqual([]);
    chmodSync(key, 0o644);
    expect(loadConfig({ file, env: {} }).warnings).toEqual([
      `The TLS key ${key} (server.tls.key) is readable by other users: run \`chmod 600 ${key}\`.`,
    ]);
  });

  it('warns when the config file is readable by others', () => {
    const file = writeConfig(`auth:\n  secret: ${secret}\n`, 0o644);
    expect(loadConfig({ file, env: {} }).warnings.join()).toMatch(/readable by other users/);
  });

  it('defaults the JWT rules to exp required and a 30 s leeway, and resolves key files relative to the config file', () => {
    const { config } = loadConfig({ file: writeConfig(`auth:\n  secret: ${secret}\n`), env: {} });
    expect(config.auth).toMatchObject({
      requireExp: true,
      issuer: '',
      audience: '',
      clockSkewSeconds: 30,
      publicKeyFile: '',
      jwksFile: '',
    });
    const file = writeConfig(
      `auth:\n  secret: ${secret}\n  publicKeyFile: keys/idp.pem\n  jwksFile: /etc/lucid/jwks.json\n  audience: [lucid, lucid-api]\n`,
    );
    const { auth } = loadConfig({ file, env: {} }).config;
    expect(auth.publicKeyFile).toBe(path.join(path.dirname(file), 'keys/idp.pem'));
    expect(auth.jwksFile).toBe('/etc/lucid/jwks.json');
    expect(auth.audience).toEqual(['lucid', 'lucid-api']);
    expect(Object.isFrozen(auth.audience)).toBe(true);
  });

  it('takes the JWT rules from the environment and refuses out-of-range ones', () => {
    const file = writeConfig(`auth:\n  secret: ${secret}\n`);
    const env = {
      LUCID_AUTH_REQUIRE_EXP: 'false',
      LUCID_AUTH_ISSUER: 'https://idp.example',
      LUCID_AUTH_AUDIENCE: 'lucid',
      LUCID_AUTH_CLOCK_SKEW_SECONDS: '5',
    };
    expect(loadConfig({ file, env }).config.auth).toMatchObject({
      requireExp: false,
      issuer: 'https://idp.example',
      audience: 'lucid',
      clockSkewSeconds: 5,
    });
    expect(() => loadConfig({ file, env: { LUCID_AUTH_CLOCK_SKEW_SECONDS: '301' } })).toThrow(
      /auth\.clockSkewSeconds must be <= 300/,
    );
    expect(() => loadConfig({ file: writeConfig(`auth:\n  secret: ${secret}\n  issuer: 42\n`), env: {} })).toThrow(
      /auth\.issuer/,
    );
    expect(() => loadConfig({ file: writeConfig(`auth:\n  secret: ${secret}\n  audience: ['']\n`), env: {} })).toThrow(
      /auth\.audience/,
    );
  });

  it('takes encryption keys from the file or the environment (previous keys comma-separated) and never echoes a bad one', () => {
    const key = Buffer.alloc(32, 1).toString('base64');
    const previous = [Buffer.alloc(32, 2).toString('base64'), Buffer.alloc(32, 3).toString('base64')];
    const file = writeConfig(`auth:\n  secret: ${secret}\nencryption:\n  key: "${key}"\n`);
    expect(loadConfig({ file, env: {} }).config.encryption).toEqual({ key, previousKeys: [] });
    const env = { LUCID_ENCRYPTION_KEY: previous[0]!, LUCID_ENCRYPTION_PREVIOUS_KEYS: `${key}, ${previous[1]}` };
    expect(loadConfig({ file, env }).config.encryption).toEqual({ key: previous[0], previousKeys: [key, previous[1]] });
    const short = Buffer.alloc(16, 9).toString('base64');
    const bad = writeConfig(
      `auth:\n  secret: ${secret}\nencryption:\n  key: "${short}"\n  previousKeys: ["not a key"]\n`,
    );
    let message = '';
    try {
      loadConfig({ file: bad, env: {} });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      message = (error as Error).message;
    }
    expect(message).toMatch(/encryption\.key must be 32 bytes in base64/);
    expect(message).toMatch(/encryption\.previousKeys\[0\] must be 32 bytes in base64/);
    expect(message).not.toContain(short);
    expect(message).not.toContain('not a key');
    expect(() =>
      loadConfig({
        file: writeConfig(`auth:\n  secret: ${secret}\nencryption:\n  previousKeys: ["${key}"]\n`),
        env: {},
      }),
    ).toThrow(/previousKeys is set but encryption\.key is not/);
  });
});
