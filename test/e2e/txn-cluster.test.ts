/**
 * Transactions across nodes (issue 15's proof): three Lucid processes (the real built CLI) on one
 * Redis, and again on one PostgreSQL; ten counters holding 1000 each; 500 concurrent transfers from
 * every node, each one transaction that decrements one counter and increments another by a random
 * amount, while readers on every node read all ten in one transaction. The total must be exactly
 * 10 000 in every read and at the end.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND_URLS, backendReady, dropNamespace, freshNamespace, type SharedBackend } from '../support/backends.js';
import { pool } from '../support/pool.js';
import { type LucidServer, assertBuilt, cleanup, runLucid, startServer, tempDir } from './cli.js';

const NODES = 3;
const COUNTERS = 10;
const TRANSFERS = 500;

interface TxnAnswer {
  succeeded: boolean;
  results: Array<{ key: string; value?: string | number }>;
}

for (const backend of ['redis', 'postgres'] as SharedBackend[]) {
  describe.runIf(await backendReady(backend))(`transactions on ${NODES} nodes on one ${backend}`, () => {
    const namespace = freshNamespace();
    let nodes: LucidServer[] = [];
    let token = '';

    beforeAll(async () => {
      assertBuilt();
      const dir = tempDir();
      const file = path.join(dir, 'lucid.yml');
      const init = await runLucid(['init', '--config', file], { cwd: dir });
      expect(init.code, init.stderr).toBe(0);
      token = init.stdout.trim();
      const env = { LUCID_STORE: BACKEND_URLS[backend], LUCID_STORE_NAMESPACE: namespace };
      nodes = await Promise.all(
        Array.from({ length: NODES }, () =>
          startServer(['--config', file, '--port', '0'], { cwd: dir, env, timeoutMs: 60_000 }),
        ),
      );
    }, 60_000);
    afterAll(async () => {
      await Promise.all(nodes.map((node) => node.stop()));
      await dropNamespace(backend, namespace);
      await cleanup();
    });

    const txn = async (node: number, body: object): Promise<{ status: number; answer: TxnAnswer }> => {
      const response = await nodes[node % NODES]!.request('/api/txn', {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
        token,
      });
      return { status: response.status, answer: (await response.json()) as TxnAnswer };
    };

    it('keeps 10 counters at exactly 10 000 through 500 concurrent transfers, in every read and at the end', async () => {
      const keys = Array.from({ length: COUNTERS }, (_, i) => `account/${i}`);
      for (const key of keys) {
        const put = await nodes[0]!.request(`/api/kv/${key}`, {
          method: 'PUT',
          body: '1000',
          headers: { 'content-type': 'text/plain' },
          token,
        });
        expect(put.status).toBe(201);
      }
      const readAll = { success: keys.map((key) => ({ op: 'get', key })) };
      const total = (answer: TxnAnswer) => answer.results.reduce((sum, result) => sum + Number(result.value), 0);
      const totals: number[] = [];
      let transferring = true;
      const readers = Array.from({ length: NODES }, async (_, node) => {
        while (transferring) {
          const { status, answer } = await txn(node, readAll);
          expect(status).toBe(200);
          totals.push(total(answer));
        }
      });
      const statuses = await pool(TRANSFERS, 48, async (i) => {
        const from = Math.floor(Math.random() * COUNTERS);
        const to = (from + 1 + Math.floor(Math.random() * (COUNTERS - 1))) % COUNTERS;
        const amount = 1 + Math.floor(Math.random() * 50);
        const { status } = await txn(i, {
          success: [
            { op: 'decrement', key: keys[from], value: amount },
            { op: 'increment', key: keys[to], value: amount },
          ],
        });
        return status;
      });
      transferring = false;
      await Promise.all(readers);
      expect(statuses.filter((status) => status !== 200)).toEqual([]);
      expect(totals.length).toBeGreaterThan(NODES);
      expect(totals.filter((sum) => sum !== COUNTERS * 1000)).toEqual([]);
      for (let node = 0; node < NODES; node++) expect(total((await txn(node, readAll)).answer)).toBe(COUNTERS * 1000);
      console.info(`${backend}: ${TRANSFERS} transfers, ${totals.length} whole reads, every total ${COUNTERS * 1000}`);
    }, 120_000);
  });
}
