/**
 * One consistency run: a deployment of real `lucid server` processes, clients recording a history
 * while faults are injected, then the linearizability check, a printed summary and, when the history
 * is not linearizable, the failure files.
 *
 * Faults: SQLite (one node) is killed with SIGKILL and restarted. Redis and PostgreSQL (three nodes,
 * each behind its own TCP proxy to the backend) take turns of: kill -9 a node and restart it; cut a
 * node's backend connection and restore it; SIGSTOP a node for longer than its backend timeout (5 s)
 * and then SIGCONT it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type LucidServer, assertBuilt, freePort, runLucid, startServer, tempDir } from '../e2e/cli.js';
import { sleep } from '../support/helpers.js';
import { BACKEND_URLS, type SharedBackend } from '../support/backends.js';
import { CuttableProxy, startCluster } from '../support/cluster.js';
import { type Verdict, check } from './checker.js';
import { type Target, record } from './recorder.js';
import { REPORT_DIR, writeFailure } from './report.js';

/** How long a node's start may take on a busy machine. */
const START_MS = 60_000;
/** A stopped node stays stopped longer than its backend timeout (SHARED_DEFAULTS.timeoutMs, 5 s). */
const STOP_MS = 6000;
const CUT_MS = 2000;

export interface Fault {
  name: string;
  inject(): Promise<void>;
}

export interface Deployment {
  target: Target;
  faults: Fault[];
  close(): Promise<void>;
}

/** One SQLite node, killed with SIGKILL and restarted on the same file and port. */
export async function sqliteDeployment(): Promise<Deployment> {
  assertBuilt();
  const dir = tempDir();
  const file = path.join(dir, 'lucid.yml');
  const init = await runLucid(['init', '--config', file], { cwd: dir });
  if (init.code !== 0) throw new Error(`lucid init failed: ${init.stderr}`);
  const port = await freePort();
  const start = () => startServer(['--config', file, '--port', String(port)], { cwd: dir, port, timeoutMs: START_MS });
  let node: LucidServer = await start();
  const kill: Fault = {
    name: 'kill -9 + restart',
    inject: async () => {
      await node.stop('SIGKILL');
      await sleep(200);
      node = await start();
    },
  };
  return {
    target: { urls: [node.url], token: init.stdout.trim() },
    faults: [kill],
    close: async () => void (await node.stop()),
  };
}

/** Three nodes on a shared backend, each talking to it through its own cuttable proxy. */
export async function sharedDeployment(backend: SharedBackend, namespace: string): Promise<Deployment> {
  const proxies = [0, 1, 2].map(() => CuttableProxy.forUrl(BACKEND_URLS[backend]));
  for (const { proxy } of proxies) await proxy.open();
  const cluster = await startCluster(backend, namespace, 3, (index) => proxies[index]!.url(), START_MS);
  let turn = 0;
  const victim = () => turn++ % 3;
  const faults: Fault[] = [
    {
      name: 'kill -9 a node + restart',
      inject: async () => {
        const index = victim();
        await cluster.nodes[index]!.stop('SIGKILL');
        await sleep(200);
        await cluster.restart(index);
      },
    },
    {
      name: `cut a node's backend connection for ${CUT_MS / 1000} s`,
      inject: async () => {
        const { proxy } = proxies[victim()]!;
        await proxy.cut();
        await sleep(CUT_MS);
        await proxy.open(proxy.port);
      },
    },
    {
      name: `SIGSTOP a node for ${STOP_MS / 1000} s`,
      inject: async () => {
        const node = cluster.nodes[victim()]!;
        node.signal('SIGSTOP');
        await sleep(STOP_MS);
        node.signal('SIGCONT');
      },
    },
  ];
  return {
    target: { urls: cluster.nodes.map((node) => node.url), token: cluster.token },
    faults,
    close: async () => {
      await Promise.all(cluster.nodes.map((node) => node.stop()));
      for (const { proxy } of proxies) await proxy.cut();
    },
  };
}

export interface RunOptions {
  ops: number;
  minFaults: number;
  clients?: number;
  /** Quiet time between faults. */
  gapMs?: number;
  budget?: number;
}

export interface RunSummary {
  name: string;
  ops: number;
  indeterminate: number;
  parts: number;
  faults: string[];
  recordMs: number;
  checkMs: number;
  verdict: Verdict;
  unexpected: string[];
  failureFile?: string;
}

/** Records a history on `deployment` under its faults, checks it, prints one line and returns the numbers. */
export async function runConsistency(name: string, deployment: Deployment, options: RunOptions): Promise<RunSummary> {
  const injected: string[] = [];
  let recording = true;
  let faultError: unknown;
  const faulting = (async () => {
    for (let i = 0; recording && deployment.faults.length > 0; i++) {
      await sleep(options.gapMs ?? 3000);
      if (!recording) break;
      const fault = deployment.faults[i % deployment.faults.length]!;
      await fault.inject();
      injected.push(fault.name);
    }
  })().catch((error: unknown) => (faultError = error));
  const started = Date.now();
  // Small parts keep the search cheap: an unanswered operation stays open to the end of its part, and a short
  // PostgreSQL run with one part of 1 230 operations (4 groups, 15 of them unanswered) needed 29 M steps.
  const groups = Math.max(8, Math.ceil(options.ops / 500));
  const recorded = await record(deployment.target, {
    clients: options.clients ?? 8,
    ops: options.ops,
    groups,
    timeoutMs: 2000,
    prefix: `${name}/`,
    keepGoing: () => injected.length < options.minFaults && faultError === undefined,
    stop: () => faultError !== undefined,
    progressEvery: options.ops >= 20_000 ? 10_000 : undefined,
  });
  recording = false;
  await faulting;
  if (faultError !== undefined) throw new Error(`a fault could not be injected or healed: ${String(faultError)}`);
  if (process.env.LUCID_CONSISTENCY_KEEP) {
    mkdirSync(REPORT_DIR, { recursive: true });
    writeFileSync(
      path.join(REPORT_DIR, `${name}-history.json`),
      JSON.stringify(recorded.operations.map((op) => ({ ...op, ret: Number.isFinite(op.ret) ? op.ret : null }))),
    );
  }
  const recordMs = Date.now() - started;
  const result = check(recorded.operations, options.budget);
  const checkMs = Date.now() - started - recordMs;
  const summary: RunSummary = {
    name,
    ops: recorded.operations.length,
    indeterminate: recorded.indeterminate,
    parts: result.parts.length,
    faults: injected,
    recordMs,
    checkMs,
    verdict: result.verdict,
    unexpected: recorded.unexpected,
  };
  if (result.failing) summary.failureFile = writeFailure(name, result.failing);
  console.log(describe(summary));
  return summary;
}

export function describe(summary: RunSummary): string {
  const counts = new Map<string, number>();
  for (const fault of summary.faults) counts.set(fault, (counts.get(fault) ?? 0) + 1);
  const faults = [...counts].map(([fault, count]) => `${count} × ${fault}`).join(', ');
  return [
    `consistency ${summary.name}: ${summary.verdict.toUpperCase()}${summary.verdict === 'unknown' ? ' (search budget exhausted: this fails the run)' : ''}`,
    `  ${summary.ops} operations checked in ${summary.parts} key groups (${summary.indeterminate} without an answer)`,
    `  ${summary.faults.length} faults: ${faults || 'none'}`,
    `  recorded in ${(summary.recordMs / 1000).toFixed(1)} s, checked in ${(summary.checkMs / 1000).toFixed(1)} s`,
    ...(summary.unexpected.length > 0
      ? [`  ${summary.unexpected.length} answers outside the contract, first: ${summary.unexpected[0]}`]
      : []),
    ...(summary.failureFile ? [`  failure: ${summary.failureFile} (and .html next to it)`] : []),
  ].join('\n');
}
