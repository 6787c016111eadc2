/**
 * End-to-end tests of `lucid export`, `lucid import` and `lucid rekey` and of encryption at rest,
 * through the built CLI on real SQLite files, with a real server taking writes during an export.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../support/helpers.js';
import {
  LUCID_BIN,
  STACK_LINE,
  assertBuilt,
  cleanEnv,
  cleanup,
  runLucid,
  startServer,
  tempDir,
  type LucidServer,
  type RunResult,
} from './cli.js';
import type { ExportLine } from '../../src/backup.js';

beforeAll(() => assertBuilt());
afterEach(async () => {
  await cleanup();
});
afterAll(async () => {
  await cleanup();
});

type Line = ExportLine;

async function init(dir: string, extra: string[] = []): Promise<{ file: string; token: string }> {
  const file = path.join(dir, 'lucid.yml');
  const result = await runLucid(['init', '--config', file, ...extra], { cwd: dir });
  expect(result.code, result.stderr).toBe(0);
  return { file, token: result.stdout.trim() };
}

function lucid(args: string[], dir: string, timeoutMs = 60_000): Promise<RunResult> {
  return runLucid(args, { cwd: dir, timeoutMs });
}

function expectOk(result: RunResult): void {
  expect(result.code, `stdout: ${result.stdout.slice(0, 500)}\nstderr: ${result.stderr}`).toBe(0);
  expect(result.stderr).not.toContain(STACK_LINE);
}

function expectCleanFailure(result: RunResult, mentions: RegExp): void {
  expect(result.code, `stderr: ${result.stderr}`).not.toBe(0);
  expect(result.signal).toBeNull();
  expect(result.stderr).not.toContain(STACK_LINE);
  expect(result.stderr).toMatch(mentions);
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
}

/** A deterministic byte source, so a failure can be reproduced. */
function bytes(seed: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

const CONTENT_TYPES = [
  'application/octet-stream',
  'text/plain; charset=utf-8',
  'application/json',
  'image/png',
  'application/x-lucid; variant="a b"',
];
const NOW = Date.now();

/** Entry i of the seed: binary values with every awkward shape, several content types, expiries and locks. */
function seedEntry(i: number): Line {
  const key = `k/${String(i).padStart(6, '0')}${i % 97 === 0 ? '/ünï-✓' : ''}`;
  let value: Buffer;
  if (i % 10 === 0)
    value = Buffer.alloc(1 + (i % 40)); // all zeros
  else if (i % 10 === 1)
    value = Buffer.concat([bytes(i, 1 + (i % 30)), Buffer.alloc(1 + (i % 7))]); // trailing zeros
  else if (i % 10 === 2)
    value = bytes(i, 1); // one byte
  else if (i % 5000 === 3)
    value = bytes(i, 256 * 1024); // a few large ones
  else value = bytes(i, 1 + (i % 120));
  const locked = i % 13 === 0;
  return {
    key,
    value: value.toString('base64'),
    contentType: CONTENT_TYPES[i % CONTENT_TYPES.length]!,
    createdAt: NOW - 86_400_000 + i,
    updatedAt: NOW - 3_600_000 + i,
    // Some expire in a day; every 1000th had expired before the import and is not restored.
    expiresAt: i % 7 === 0 ? NOW + 86_400_000 + i : i % 1000 === 999 ? NOW - 1000 : null,
    locked,
    lockHolder: locked ? `user-${i % 5}` : null,
    lockExpiresAt: locked && i % 2 === 0 ? NOW + 3_600_000 : null,
    version: 1 + (i % 9),
    etag: `"${(1 + (i % 9)).toString(36)}-seed${i}"`,
  };
}

function exportText(lines: Line[], prefix = ''): string {
  const header = { format: 'lucid-export', version: 1, exportedAt: new Date(NOW).toISOString(), prefix, lucid: 'test' };
  return [header, ...lines, { end: true, count: lines.length }]
    .map((document) => `${JSON.stringify(document)}\n`)
    .join('');
}

/** The entry lines of an export (header and end line checked and dropped). */
function parseExport(text: string): Line[] {
  const documents = text
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  expect(documents[0]).toMatchObject({ format: 'lucid-export', version: 1 });
  expect(documents.at(-1)).toEqual({ end: true, count: documents.length - 2 });
  return documents.slice(1, -1) as unknown as Line[];
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

describe('lucid export and import', () => {
  it(
    'round-trips 100 000 keys exactly (binary values, content types, expiry, locks) from a snapshot taken while the server takes writes',
    { timeout: 180_000 },
    async () => {
      const source = tempDir();
      const { file, token } = await init(source);
      const seed = Array.from({ length: 100_000 }, (_, i) => seedEntry(i));
      const live = seed.filter((line) => line.expiresAt === null || line.expiresAt > Date.now() + 60_000);
      const seedFile = path.join(source, 'seed.ndjson');
      writeFileSync(seedFile, exportText(seed));

      let started = Date.now();
      const seeded = await lucid(['import', '--config', file, seedFile], source, 120_000);
      const importMs = Date.now() - started;
      expectOk(seeded);
      expect(seeded.stderr).toMatch(
        new RegExp(
          `100000 entries \\(${live.length} created, 0 replaced, 0 unchanged, 0 skipped as existing, ${seed.length - live.length} expired\\)`,
        ),
      );

      // Writes during the export: each round writes 0live/N, then zlive/N, each acknowledged before the
      // next. The export reads 0live/* first and zlive/* last, so an export that is not one snapshot
      // would see a zlive/N whose 0live/N it read too early to see.
      const server = await startServer(['--config', file, '--port', '0'], { cwd: source });
      let writing = true;
      let rounds = 0;
      const writer = (async () => {
        while (writing) {
          for (const key of [`0live/${rounds}`, `zlive/${rounds}`]) {
            const response = await server.request(`/api/kv/${key}`, {
              method: 'PUT',
              token,
              headers: { 'content-type': 'text/plain' },
              body: String(rounds),
            });
            expect(response.status).toBe(201);
          }
          rounds += 1;
        }
      })();
      while (rounds < 5) await sleep(10);
      const snapshotFile = path.join(source, 'snapshot.ndjson');
      const roundsBefore = rounds;
      started = Date.now();
      const exported = await lucid(['export', '--config', file, '--out', snapshotFile], source, 120_000);
      const exportMs = Date.now() - started;
      const roundsDuring = rounds - roundsBefore;
      writing = false;
      await writer;
      expectOk(exported);
      expect(roundsDuring).toBeGreaterThan(0);
      await server.stop();

      const snapshot = parseExport(readFileSync(snapshotFile, 'utf8'));
      expect(statSync(snapshotFile).mode & 0o777).toBe(0o600);
      const keys = snapshot.map((line) => line.key);
      expect([...keys].sort(byteOrder)).toEqual(keys);
      const zlive = snapshot.filter((line) => line.key.startsWith('zlive/')).map((line) => line.value);
      const zero = new Set(snapshot.filter((line) => line.key.startsWith('0live/')).map((line) => line.value));
      expect(zlive.filter((value) => !zero.has(value))).toEqual([]);
      expect(snapshot.filter((line) => line.key.startsWith('k/'))).toEqual(live);
      expect(exported.stderr).toMatch(new RegExp(`^Exported ${snapshot.length} keys`));

      // Restore into a fresh data folder and read it back: every line identical.
      const target = tempDir();
      const restore = await init(target);
      started = Date.now();
      const imported = await lucid(['import', '--config', restore.file, snapshotFile], target, 120_000);
      const restoreMs = Date.now() - started;
      expectOk(imported);
      expect(imported.stderr).toContain(`${snapshot.length} entries (${snapshot.length} created,`);
      const again = await lucid(['export', '--config', restore.file], target, 120_000);
      expectOk(again);
      expect(parseExport(again.stdout)).toEqual(snapshot);

      // And the server serves them: bytes, type, ETag and lock headers as exported.
      const served = await startServer(['--config', restore.file, '--port', '0'], { cwd: target });
      for (const line of [
        snapshot[0]!,
        snapshot.find((entry) => entry.locked && entry.lockExpiresAt !== null)!,
        snapshot.find((entry) => entry.key.includes('✓'))!,
      ]) {
        const response = await served.request(`/api/kv/${encodeURIComponent(line.key)}`, { token: restore.token });
        expect(response.status).toBe(200);
        expect(Buffer.from(await response.arrayBuffer()).toString('base64')).toBe(line.value);
        expect(response.headers.get('content-type')).toBe(line.contentType);
        expect(response.headers.get('etag')).toBe(line.etag);
        if (line.locked) expect(response.headers.get('lucid-lock-holder')).toBe(line.lockHolder);
      }
      const rate = (ms: number) => Math.round((seed.length / ms) * 1000);
      console.log(
        `100 000 keys: seed import ${importMs} ms (${rate(importMs)} keys/s), export while writing ${exportMs} ms (${rate(exportMs)} keys/s, ${roundsDuring} write rounds meanwhile), restore ${restoreMs} ms (${rate(restoreMs)} keys/s)`,
      );
    },
  );

  it('exports only the keys under --prefix, gzipped when the file ends in .gz (mode 0600, replacing an older file), and imports that file back', async () => {
    const dir = tempDir();
    const { file } = await init(dir);
    const lines = ['a/1', 'a/2', 'ab', 'b/1'].map((key, i) => ({ ...seedEntry(i + 2), key }));
    writeFileSync(path.join(dir, 'seed.ndjson'), exportText(lines));
    expectOk(await lucid(['import', '--config', file, 'seed.ndjson'], dir));
    // An older export readable by everyone is replaced by one only its owner reads.
    writeFileSync(path.join(dir, 'a.ndjson.gz'), 'an older export', { mode: 0o644 });
    const exported = await lucid(['export', '--config', file, '--prefix', 'a/', '--out', 'a.ndjson.gz'], dir);
    expectOk(exported);
    expect(statSync(path.join(dir, 'a.ndjson.gz')).mode & 0o777).toBe(0o600);
    const text = gunzipSync(readFileSync(path.join(dir, 'a.ndjson.gz'))).toString('utf8');
    expect(JSON.parse(text.split('\n')[0]!)).toMatchObject({ prefix: 'a/' });
    expect(parseExport(text)).toEqual(lines.slice(0, 2));
    const other = tempDir();
    const fresh = await init(other);
    expectOk(await lucid(['import', '--config', fresh.file, path.join(dir, 'a.ndjson.gz')], other));
    expect(parseExport((await lucid(['export', '--config', fresh.file], other)).stdout)).toEqual(lines.slice(0, 2));
  });

  it('stops at a damaged line or a truncated file with a clear error and a non-zero exit, saying what was imported', async () => {
    const dir = tempDir();
    const { file } = await init(dir);
    const lines = Array.from({ length: 10 }, (_, i) => seedEntry(i + 2));
    const text = exportText(lines).split('\n');
    text[6] = text[6]!.slice(0, 40); // line 7: the 6th entry, cut mid-JSON
    writeFileSync(path.join(dir, 'damaged.ndjson'), text.join('\n'));
    const damaged = await lucid(['import', '--config', file, 'damaged.ndjson'], dir);
    expectCleanFailure(
      damaged,
      /Cannot import damaged\.ndjson: line 7 is not valid JSON.*importing 5 entries \(5 created/,
    );
    expect(parseExport((await lucid(['export', '--config', file], dir)).stdout)).toEqual(lines.slice(0, 5));

    const whole = exportText(lines);
    writeFileSync(path.join(dir, 'truncated.ndjson'), whole.slice(0, whole.lastIndexOf('{"end"')));
    expectCleanFailure(
      await lucid(['import', '--config', file, 'truncated.ndjson'], dir),
      /ends at line 11 without its end line: it is truncated.*10 entries \(5 created, 0 replaced, 5 unchanged/,
    );

    writeFileSync(path.join(dir, 'base64.ndjson'), exportText([{ ...lines[0]!, key: 'bad', value: 'AA*A' }]));
    expectCleanFailure(
      await lucid(['import', '--config', file, 'base64.ndjson'], dir),
      /line 2: the value of "bad" is not base64/,
    );
    writeFileSync(path.join(dir, 'other.json'), '{"hello": "world"}\n');
    expectCleanFailure(await lucid(['import', '--config', file, 'other.json'], dir), /not a Lucid export/);
    expectCleanFailure(
      await lucid(['import', '--config', file, 'missing.ndjson'], dir),
      /There is no file missing\.ndjson/,
    );
  });

  it('writes no progress bar bytes when piped: stdout is the export alone, stderr one summary line', async () => {
    const dir = tempDir();
    const { file } = await init(dir);
    writeFileSync(path.join(dir, 'seed.ndjson'), exportText(Array.from({ length: 2000 }, (_, i) => seedEntry(i + 2))));
    const imported = await lucid(['import', '--config', file, 'seed.ndjson'], dir);
    const exported = await lucid(['export', '--config', file], dir);
    for (const result of [imported, exported]) {
      expectOk(result);
      // No carriage returns (bar redraws) and no escape sequences (cursor hiding, colours).
      expect(result.stderr).not.toContain('\r');
      expect(result.stderr).not.toContain(String.fromCharCode(27));
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(parseExport(exported.stdout)).toHaveLength(1998); // two of the seed entries had expired
  });

  it('shows a progress bar on a terminal', async () => {
    const dir = tempDir();
    const { file } = await init(dir);
    writeFileSync(path.join(dir, 'seed.ndjson'), exportText(Array.from({ length: 3000 }, (_, i) => seedEntry(i + 2))));
    // script(1) gives the command a pseudo-terminal; its output (stdout and stderr) lands in the typescript file.
    const typescript = path.join(dir, 'tty.log');
    execFileSync(
      'script',
      ['-qfec', `${process.execPath} ${LUCID_BIN} import --config ${file} seed.ndjson`, typescript],
      { cwd: dir, env: cleanEnv(), stdio: 'ignore' },
    );
    const output = readFileSync(typescript, 'utf8');
    expect(output).toMatch(/Importing \|/);
    expect(output).toMatch(/Imported seed\.ndjson/);
  });

  it('refuses to import into a SQLite store a running server owns, naming the pid', async () => {
    const dir = tempDir();
    const { file } = await init(dir);
    writeFileSync(path.join(dir, 'seed.ndjson'), exportText([seedEntry(5)]));
    const server = await startServer(['--config', file, '--port', '0'], { cwd: dir });
    expectCleanFailure(
      await lucid(['import', '--config', file, 'seed.ndjson'], dir),
      new RegExp(`A Lucid server \\(pid ${server.child.pid}\\) is running on .*: stop it first`),
    );
  });
});

describe('encryption at rest', () => {
  async function put(server: LucidServer, token: string, key: string, body: Buffer): Promise<void> {
    const response = await server.request(`/api/kv/${key}`, {
      method: 'PUT',
      token,
      headers: { 'content-type': 'application/octet-stream' },
      body: new Uint8Array(body),
    });
    expect(response.status).toBe(201);
  }

  async function read(server: LucidServer, token: string, key: string): Promise<Buffer> {
    const response = await server.request(`/api/kv/${key}`, { token });
    expect(response.status).toBe(200);
    return Buffer.from(await response.arrayBuffer());
  }

  it(
    'keeps values encrypted on disk, refuses a wrong key at start-up, and rekeys so the new key reads every value',
    { timeout: 90_000 },
    async () => {
      const dir = tempDir();
      const { file, token } = await init(dir, ['--encrypt']);
      const config = readFileSync(file, 'utf8');
      const oldKey = /key: "([^"]+)"/.exec(config)![1]!;
      const values = {
        plain: Buffer.from('PLAINTEXT-MARKER-0123456789'),
        zeros: Buffer.concat([Buffer.from('Z-MARKER'), Buffer.alloc(9)]),
        one: Buffer.from([0]),
      };
      let server = await startServer(['--config', file, '--port', '0'], { cwd: dir });
      for (const [key, value] of Object.entries(values)) await put(server, token, key, value);
      const listing = await (await server.request('/api/kv', { token })).json();
      expect((listing as { keys: Array<{ size: number }> }).keys.map((info) => info.size)).toEqual([1, 27, 17]);
      await server.stop();
      const onDisk = Buffer.concat(
        readdirSync(path.join(dir, 'data')).map((name) => readFileSync(path.join(dir, 'data', name))),
      );
      expect(onDisk.includes(Buffer.from('PLAINTEXT-MARKER'))).toBe(false);
      expect(onDisk.includes(Buffer.from('Z-MARKER'))).toBe(false);

      // A wrong key stops start-up with one clear line; so does no key at all.
      const wrong = await runLucid(['server', '--config', file, '--port', '0'], {
        cwd: dir,
        env: { LUCID_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64') },
      });
      expectCleanFailure(wrong, /Wrong encryption key: the store is encrypted with key id [0-9a-f]{16}/);
      writeFileSync(path.join(dir, 'off.yml'), config.replace(/encryption:\n {2}key: .*\n/, ''), { mode: 0o600 });
      expectCleanFailure(
        await runLucid(['server', '--config', 'off.yml', '--port', '0'], { cwd: dir }),
        /The store is encrypted .* but encryption is off/,
      );

      // Export of an encrypted store is plaintext (it reads through the decryption).
      const exported = await lucid(['export', '--config', file], dir);
      expectOk(exported);
      expect(
        parseExport(exported.stdout).map((line) => Buffer.from(line.value, 'base64').toString('latin1')),
      ).toContain('PLAINTEXT-MARKER-0123456789');

      const rekey = await lucid(['rekey', '--config', file], dir);
      expectOk(rekey);
      const newKey = /^encryption:\n {2}key: "([A-Za-z0-9+/=]{44})"\n$/.exec(rekey.stdout)![1]!;
      expect(newKey).not.toBe(oldKey);
      expect(rekey.stderr).toMatch(/Re-encrypted 3 values/);
      expect(rekey.stderr).not.toContain(oldKey);
      expectCleanFailure(
        await runLucid(['server', '--config', file, '--port', '0'], { cwd: dir }),
        /Wrong encryption key/,
      );
      writeFileSync(file, config.replace(oldKey, newKey));
      server = await startServer(['--config', file, '--port', '0'], { cwd: dir });
      for (const [key, value] of Object.entries(values))
        expect((await read(server, token, key)).equals(value)).toBe(true);
    },
  );
});
