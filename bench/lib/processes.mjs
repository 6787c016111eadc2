// Child processes under test: started directly (never through npx or a shell), remembered, and
// always stopped, on success, on failure and on Ctrl-C.
/* global fetch, AbortSignal */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { clearTimeout } from 'node:timers';

const children = new Set();
const helpers = new Set();
const tempDirs = new Set();

/** A fresh temp folder, removed by removeTempDirs() (also on exit and Ctrl-C). */
export function tempDir(prefix) {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDirs() {
  for (const dir of tempDirs) {
    rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  }
}

/** Remembers a helper process (the wrk load generator) so that it is killed with the servers. */
export function track(child) {
  helpers.add(child);
  child.on('exit', () => helpers.delete(child));
  return child;
}

/** A free TCP port on loopback (bound and released; the small race is fine on a bench box). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Spawns `command args` with its output kept (the last 16 KiB) for error messages.
 * Returns { child, pid, startedAt, output(), exited } where `exited` resolves with the exit code.
 */
export function start(name, command, args, options = {}) {
  const startedAt = performance.now();
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let output = '';
  const keep = (chunk) => {
    output = (output + chunk.toString()).slice(-16_384);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  child.on('error', (error) => keep(`\n[spawn error] ${error.message}\n`));
  const handle = { name, child, pid: child.pid, startedAt, output: () => output, exited, alive: true };
  exited.then(() => {
    handle.alive = false;
    children.delete(handle);
  });
  children.add(handle);
  return handle;
}

/** Stops one child: SIGTERM, then SIGKILL after `graceMs`. */
export async function stop(handle, graceMs = 3000) {
  if (!handle?.alive) return;
  handle.child.kill('SIGTERM');
  const timer = setTimeout(() => handle.alive && handle.child.kill('SIGKILL'), graceMs);
  await handle.exited;
  clearTimeout(timer);
}

export async function stopAll() {
  await Promise.all([...children].map((handle) => stop(handle)));
}

/** Last resort (process 'exit', uncaught errors): SIGKILL whatever is still running, synchronously. */
export function killAllNow() {
  for (const child of helpers) child.kill('SIGKILL');
  for (const handle of children) {
    try {
      handle.child.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  }
  removeTempDirs();
}

/**
 * Polls `url` until it answers `status` (200), the child dies, or `timeoutMs` passes.
 * Returns the milliseconds from the child's spawn to that first answer.
 */
export async function waitForHttp(handle, url, { timeoutMs = 60_000, intervalMs = 10, init } = {}) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (!handle.alive) throw new Error(`${handle.name} exited before answering ${url}:\n${handle.output()}`);
    try {
      const response = await fetch(url, { ...init, signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      if (response.status === 200) return performance.now() - handle.startedAt;
    } catch {
      // Not listening yet.
    }
    if (performance.now() > deadline)
      throw new Error(`${handle.name} did not answer 200 on ${url} within ${timeoutMs} ms:\n${handle.output()}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Resident memory of a process in bytes, from /proc/PID/status (VmRSS); undefined when unavailable. */
export function rssBytes(pid) {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Peak resident memory (VmHWM) in bytes. */
export function peakRssBytes(pid) {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Clock ticks per second, the unit of /proc/PID/stat's CPU times (100 on Linux; asked once). */
let ticksPerSecond;

/**
 * CPU time a process has used so far, user and system, all its threads, in seconds (from
 * /proc/PID/stat); undefined when unavailable.
 */
export function cpuSeconds(pid) {
  try {
    ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the command name, which is in parentheses and may hold spaces: state is
    // field 3, utime and stime fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return undefined;
  }
}

/**
 * The machine's CPU time so far, in clock ticks over every core: all of it, and what the host took
 * for other guests (steal; 0 on bare metal), from /proc/stat; undefined when unavailable.
 */
export function hostTicks() {
  try {
    const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/);
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    const counts = fields.slice(0, 8).map(Number);
    return { total: counts.reduce((sum, n) => sum + n, 0), steal: counts[7] };
  } catch {
    return undefined;
  }
}

/** The share of the machine's CPU time the host took between two `hostTicks()`, in percent. */
export function stealPercent(before, after) {
  if (before === undefined || after === undefined || after.total <= before.total) return undefined;
  return ((after.steal - before.steal) / (after.total - before.total)) * 100;
}

/**
 * Marks the start or the end of a measurement on `meter` ({ pid }): the process's CPU time then,
 * and the machine's (for the steal), as `meter[mark] = { cpu, host }`.
 */
export function markCpu(meter, mark) {
  if (meter !== undefined) meter[mark] = { cpu: cpuSeconds(meter.pid), host: hostTicks() };
}
