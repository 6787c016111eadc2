/**
 * Lucid is linearizable on every backend under faults: histories recorded from real nodes (the built
 * CLI) while they are killed, cut off from their backend and stopped, checked with the Wing-Gong/Lowe
 * search. Short by default (`make test`); `LUCID_CONSISTENCY_OPS=100000` (`make test-consistency LONG=1`)
 * for the long run.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { cleanup } from '../e2e/cli.js';
import { backendReady, dropNamespace, freshNamespace, type SharedBackend } from '../support/backends.js';
import { type Deployment, type RunSummary, runConsistency, sharedDeployment, sqliteDeployment } from './run.js';

const OPS = Number(process.env.LUCID_CONSISTENCY_OPS ?? 5000);
const MIN_FAULTS = Number(process.env.LUCID_CONSISTENCY_FAULTS ?? (OPS > 20_000 ? 12 : 3));
const TIMEOUT = Math.max(600_000, OPS * 60);

afterAll(async () => {
  await cleanup();
});

function expectLinearizable(summary: RunSummary): void {
  expect(summary.unexpected, 'answers outside the contract').toEqual([]);
  expect(summary.verdict, summary.failureFile ? `see ${summary.failureFile}` : 'verdict').toBe('linearizable');
  expect(summary.ops).toBeGreaterThanOrEqual(OPS);
  expect(summary.faults.length).toBeGreaterThanOrEqual(MIN_FAULTS);
}

describe('linearizability under faults', () => {
  it(
    `holds on one SQLite node killed with SIGKILL and restarted (${OPS} ops, ≥ ${MIN_FAULTS} faults)`,
    { timeout: TIMEOUT },
    async () => {
      const deployment = await sqliteDeployment();
      try {
        expectLinearizable(await runConsistency('sqlite', deployment, { ops: OPS, minFaults: MIN_FAULTS }));
      } finally {
        await deployment.close();
      }
    },
  );

  for (const backend of ['redis', 'postgres'] as SharedBackend[]) {
    it(
      `holds on three ${backend} nodes that are killed, cut off and stopped (${OPS} ops, ≥ ${MIN_FAULTS} faults)`,
      { timeout: TIMEOUT },
      async (context) => {
        if (!(await backendReady(backend))) return context.skip();
        const namespace = freshNamespace();
        let deployment: Deployment | undefined;
        try {
          deployment = await sharedDeployment(backend, namespace);
          expectLinearizable(await runConsistency(backend, deployment, { ops: OPS, minFaults: MIN_FAULTS }));
        } finally {
          await deployment?.close();
          await dropNamespace(backend, namespace);
        }
      },
    );
  }
});
