/**
 * The check can fail: histories recorded through a deliberately broken proxy in front of a real Lucid
 * node are reported as not linearizable, with the failure files written. Each proxy plants one bug a
 * store could really have: a read cache that serves stale answers, and an increment done as a read
 * followed by a write (a lost update when two run at once).
 */
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanup } from '../e2e/cli.js';
import { sleep } from '../support/helpers.js';
import { runConsistency, sqliteDeployment } from './run.js';

afterAll(async () => {
  await cleanup();
});

type Bug = 'stale-reads' | 'split-increments';

interface Answer {
  status: number;
  etag: string | null;
  body: string;
}

async function forward(
  upstream: string,
  method: string,
  url: string,
  headers: http.IncomingHttpHeaders,
  body?: string,
): Promise<Answer> {
  const pass: Record<string, string> = {};
  for (const name of ['authorization', 'content-type', 'if-match', 'if-none-match'])
    if (typeof headers[name] === 'string') pass[name] = headers[name];
  const response = await fetch(`${upstream}${url}`, {
    method,
    headers: pass,
    body: method === 'GET' ? undefined : body,
  });
  return { status: response.status, etag: response.headers.get('etag'), body: await response.text() };
}

/** A proxy to `upstream` with `bug` planted. */
async function brokenProxy(upstream: string, bug: Bug): Promise<{ url: string; close: () => Promise<void> }> {
  const cache = new Map<string, { at: number; answer: Answer }>();
  const server = http.createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    request.on('end', async () => {
      const url = request.url ?? '/';
      const method = request.method ?? 'GET';
      let answer: Answer;
      const cached = cache.get(url);
      if (bug === 'stale-reads' && method === 'GET' && cached && Date.now() - cached.at < 300) {
        answer = cached.answer;
      } else if (bug === 'split-increments' && method === 'PATCH' && url.startsWith('/api/kv/')) {
        const read = await forward(upstream, 'GET', url, request.headers);
        if (read.status !== 200) answer = await forward(upstream, method, url, request.headers, body);
        else {
          const next = String(BigInt(read.body) + BigInt((JSON.parse(body) as { value: number }).value));
          await sleep(10);
          const write = await forward(upstream, 'PUT', url, { ...request.headers, 'content-type': 'text/plain' }, next);
          answer = {
            status: 200,
            etag: write.etag,
            body: JSON.stringify({ message: 'The value was incremented.', value: Number(next) }),
          };
        }
      } else {
        answer = await forward(upstream, method, url, request.headers, body);
        if (method === 'GET') cache.set(url, { at: Date.now(), answer });
      }
      response.writeHead(answer.status, answer.etag ? { etag: answer.etag } : {}).end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('the consistency check on a deliberately broken store', () => {
  for (const bug of ['stale-reads', 'split-increments'] as Bug[]) {
    it(`reports ${bug} as not linearizable and writes the failure files`, { timeout: 180_000 }, async () => {
      const lucid = await sqliteDeployment();
      const proxy = await brokenProxy(lucid.target.urls[0]!, bug);
      try {
        const deployment = {
          target: { urls: [proxy.url], token: lucid.target.token },
          faults: [],
          close: async () => undefined,
        };
        const summary = await runConsistency(`planted-${bug}`, deployment, { ops: 1500, minFaults: 0 });
        expect(summary.verdict).toBe('not linearizable');
        expect(summary.failureFile).toBeDefined();
        const failure = JSON.parse(readFileSync(summary.failureFile!, 'utf8')) as {
          verdict: string;
          minimised: unknown[];
          part: unknown[];
        };
        expect(failure.verdict).toBe('not linearizable');
        expect(failure.minimised.length).toBeGreaterThan(1);
        expect(failure.minimised.length).toBeLessThan(failure.part.length);
        expect(existsSync(summary.failureFile!.replace(/\.json$/, '.html'))).toBe(true);
      } finally {
        await proxy.close();
        await lucid.close();
      }
    });
  }
});
