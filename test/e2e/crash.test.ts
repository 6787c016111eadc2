/**
 * Crashes lose nothing acknowledged: the built server is killed with SIGKILL at a random moment
 * under concurrent writers, restarted, and every acknowledged write checked byte for byte; SIGTERM
 * lets in-flight uploads finish and land.
 */
import http from 'node:http';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../support/helpers.js';
import {
  STACK_LINE,
  assertBuilt,
  cleanup,
  runLucid,
  startServer,
  tempDir,
  waitPortRefused,
  type LucidServer,
} from './cli.js';

beforeAll(() => assertBuilt());
afterEach(async () => {
  await cleanup();
});
afterAll(async () => {
  await cleanup();
});

const CYCLES = 20;
const WRITERS = 8;
const COUNTERS = ['counter-a', 'counter-b', 'counter-c'];
/** Reads in parallel when checking the keys after a restart. */
const CHECKERS = 16;

async function init(dir: string): Promise<{ file: string; token: string }> {
  const file = path.join(dir, 'lucid.yml');
  const result = await runLucid(['init', '--config', file], { cwd: dir });
  expect(result.stderr).not.toContain(STACK_LINE);
  expect(result.code, result.stderr).toBe(0);
  return { file, token: result.stdout.trim() };
}

function serve(dir: string, file: string): Promise<LucidServer> {
  return startServer(['--config', file, '--port', '0'], { cwd: dir });
}

/** Random bytes of varied sizes (1 B to 64 KiB), a third of them ending in zero bytes. */
function randomValue(): Buffer {
  const size = [1, 2, 17, 300, 1500, 4096, 20_000, 65_536][Math.floor(Math.random() * 8)]!;
  const value = Buffer.alloc(Math.max(1, Math.floor(size * (0.5 + Math.random() / 2))));
  for (let i = 0; i < value.length; i++) value[i] = Math.floor(Math.random() * 256);
  if (Math.random() < 0.33) value.fill(0, Math.max(1, value.length - 1 - Math.floor(Math.random() * 4)));
  return value;
}

/**
 * What is known of one key: the state last acknowledged (bytes, or null for absent) and, when a
 * write's answer never came, the state it would have left (it may or may not have landed).
 */
interface KeyState {
  confirmed: Buffer | null;
  pending?: Buffer | null;
}

function same(stored: Buffer | null, expected: Buffer | null | undefined): boolean {
  return expected === null ? stored === null : expected !== undefined && stored !== null && stored.equals(expected);
}

describe('crash safety', () => {
  it(
    `keeps every acknowledged write across kill -9 at a random moment (${CYCLES} cycles of concurrent PUTs, DELETEs and increments)`,
    { timeout: 120_000 },
    async () => {
      const dir = tempDir();
      const { file, token } = await init(dir);
      const auth = { authorization: `Bearer ${token}` };
      /** Each key belongs to one writer, so its writes are sequential and the last acknowledged one is its state. */
      const keys = new Map<string, KeyState>();
      const counters = new Map(COUNTERS.map((name) => [name, { acked: 0, inFlight: 0 }]));
      const totals = {
        cycles: 0,
        acknowledged: 0,
        puts: 0,
        deletes: 0,
        increments: 0,
        inFlightAtKill: 0,
        keysChecked: 0,
        losses: 0,
      };
      const ms = { writing: 0, restarting: 0, checking: 0 };
      let mark = Date.now();
      const lap = (phase: keyof typeof ms) => {
        const now = Date.now();
        ms[phase] += now - mark;
        mark = now;
      };
      const problems: string[] = [];
      let server = await serve(dir, file);
      for (const name of COUNTERS) {
        const response = await server.request(`/api/kv/${name}`, {
          method: 'PUT',
          token,
          headers: { 'content-type': 'text/plain' },
          body: '0',
        });
        expect(response.status).toBe(201);
      }

      for (let cycle = 0; cycle < CYCLES; cycle++) {
        let killed = false;
        const base = server.url;
        const killAt = Date.now() + 100 + Math.random() * 500;
        /** Sends a write; the first one sent after killAt kills the server while it is in flight. */
        const send = (url: string, init: RequestInit) => {
          const pending = fetch(url, init);
          if (!killed && Date.now() >= killAt) {
            killed = true;
            server.signal('SIGKILL');
          }
          return pending;
        };
        const writer = async (id: number) => {
          const own = [...keys.keys()].filter((key) => key.startsWith(`w${id}-`) && keys.get(key)!.confirmed !== null);
          for (let n = 0; !killed; n++) {
            const roll = Math.random();
            if (roll < 0.3) {
              const counter = COUNTERS[Math.floor(Math.random() * COUNTERS.length)]!;
              const tally = counters.get(counter)!;
              tally.inFlight += 1;
              try {
                const response = await send(`${base}/api/kv/${counter}`, {
                  method: 'PATCH',
                  headers: { ...auth, 'content-type': 'application/json' },
                  body: JSON.stringify({ operation: 'increment' }),
                });
                await response.arrayBuffer();
                tally.inFlight -= 1;
                if (!response.ok) throw new Error(`PATCH ${counter}: ${response.status}`);
                tally.acked += 1;
                totals.acknowledged += 1;
                totals.increments += 1;
              } catch (error) {
                if ((error as Error).message.startsWith('PATCH')) problems.push((error as Error).message);
                else totals.inFlightAtKill += 1; // Killed while in flight: it may or may not have counted.
              }
              continue;
            }
            // New keys while a writer has few, otherwise mostly existing ones: the keys to check after each restart stay a few hundred.
            const remove = roll < 0.4 && own.length > 0;
            const fresh = own.length < 8 || roll > 0.9;
            const key = remove || !fresh ? own[Math.floor(Math.random() * own.length)]! : `w${id}-c${cycle}-${n}`;
            const state = keys.get(key) ?? { confirmed: null };
            keys.set(key, state);
            const next = remove ? null : randomValue();
            state.pending = next;
            try {
              const response = await send(
                `${base}/api/kv/${key}`,
                remove
                  ? { method: 'DELETE', headers: auth }
                  : {
                      method: 'PUT',
                      headers: { ...auth, 'content-type': 'application/octet-stream' },
                      body: new Uint8Array(next!),
                    },
              );
              await response.arrayBuffer();
              if (!response.ok) {
                problems.push(`${remove ? 'DELETE' : 'PUT'} ${key}: ${response.status}`);
                continue;
              }
              state.confirmed = next;
              delete state.pending;
              totals.acknowledged += 1;
              if (remove) {
                totals.deletes += 1;
                own.splice(own.indexOf(key), 1);
              } else {
                totals.puts += 1;
                if (!own.includes(key)) own.push(key);
              }
            } catch {
              totals.inFlightAtKill += 1; // Killed while in flight: `pending` may or may not have landed, whole.
              return;
            }
          }
        };
        mark = Date.now();
        const writers = Array.from({ length: WRITERS }, (_, id) => writer(id));
        while (!killed) await sleep(5);
        expect(await server.exited).toEqual({ code: null, signal: 'SIGKILL' });
        await Promise.all(writers);
        await waitPortRefused(server.port);
        lap('writing');

        server = await serve(dir, file);
        lap('restarting');
        totals.cycles += 1;
        const entries = [...keys];
        const check = async () => {
          for (let item = entries.pop(); item !== undefined; item = entries.pop()) {
            const [key, state] = item;
            const response = await server.request(`/api/kv/${key}`, { token });
            const stored = response.status === 200 ? Buffer.from(await response.arrayBuffer()) : null;
            if (response.status !== 200) await response.arrayBuffer();
            totals.keysChecked += 1;
            if (!same(stored, state.confirmed) && !same(stored, state.pending)) {
              totals.losses += 1;
              const expected = state.confirmed === null ? 'absent' : `${state.confirmed.length} bytes`;
              problems.push(
                `cycle ${cycle}, ${key}: got ${response.status} (${stored?.length ?? '-'} bytes), acknowledged ${expected}${state.pending === undefined ? '' : ', or the write in flight'}`,
              );
            }
            if (stored !== null && response.headers.get('content-type') !== 'application/octet-stream')
              problems.push(`${key}: content type ${response.headers.get('content-type')}`);
            // What is stored now is known: the next cycle counts from it.
            state.confirmed = stored;
            delete state.pending;
          }
        };
        await Promise.all(Array.from({ length: CHECKERS }, check));
        for (const [name, tally] of counters) {
          const response = await server.request(`/api/kv/${name}`, { token });
          const value = Number(await response.text());
          if (!(value >= tally.acked && value <= tally.acked + tally.inFlight)) {
            totals.losses += 1;
            problems.push(
              `cycle ${cycle}, ${name}: ${value}, expected ${tally.acked} to ${tally.acked + tally.inFlight}`,
            );
          }
          tally.acked = value;
          tally.inFlight = 0;
        }
        lap('checking');
        expect(problems, `cycle ${cycle}`).toEqual([]);
      }
      await server.stop('SIGTERM');
      console.log(`kill -9: ${JSON.stringify(totals)}; time spent (ms): ${JSON.stringify(ms)}`);
      expect(totals.losses).toBe(0);
      expect(totals.inFlightAtKill, 'every cycle killed mid-write').toBeGreaterThanOrEqual(CYCLES);
      expect(totals.deletes).toBeGreaterThan(0);
    },
  );

  it('on SIGTERM lets several slow uploads in flight finish with 2xx, and every one lands whole', async () => {
    const dir = tempDir();
    const { file, token } = await init(dir);
    const server = await serve(dir, file);
    const agent = new http.Agent({ keepAlive: true });
    const uploads = Array.from({ length: 5 }, (_, i) => ({
      key: `upload-${i}`,
      body: Buffer.concat([randomValue(), Buffer.alloc(i)]),
    }));
    try {
      const started = uploads.map(({ key, body }) => slowUpload(server.port, token, agent, key, body));
      for (const upload of started) upload.answer.catch(() => undefined); // Awaited below; no unhandled rejection if an expect fails first.
      await Promise.all(started.map((upload) => upload.firstHalfSent));
      await sleep(100);
      server.signal('SIGTERM');
      await sleep(300);
      expect(server.running, 'still waiting for the rest of the bodies').toBe(true);
      for (const upload of started) upload.finish();
      const answers = await Promise.all(started.map((upload) => upload.answer));
      expect(answers.map((answer) => answer.status)).toEqual(uploads.map(() => 201));
      expect(await server.exited).toEqual({ code: 0, signal: null });
    } finally {
      agent.destroy();
    }
    const again = await serve(dir, file);
    for (const { key, body } of uploads) {
      const read = await again.request(`/api/kv/${key}`, { token });
      expect(read.status).toBe(200);
      expect(Buffer.from(await read.arrayBuffer()).equals(body)).toBe(true);
    }
  });
});

/** A PUT whose body is sent in two halves: the second only when `finish` is called. */
function slowUpload(port: number, token: string, agent: http.Agent, key: string, body: Buffer) {
  const half = Math.ceil(body.length / 2);
  let finish = () => {};
  const firstHalfSent = new Promise<void>((resolve) => {
    finish = () => resolve();
  });
  let sendRest = () => {};
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const request = http.request({
      host: '127.0.0.1',
      port,
      method: 'PUT',
      path: `/api/kv/${key}`,
      agent,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/octet-stream',
        'content-length': body.length,
      },
    });
    request.on('error', reject);
    request.on('response', (response) => {
      let text = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
    });
    request.flushHeaders();
    request.write(body.subarray(0, half), () => finish());
    sendRest = () => request.end(body.subarray(half));
  });
  return { firstHalfSent, answer, finish: () => sendRest() };
}
