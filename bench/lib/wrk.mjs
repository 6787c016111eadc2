// Optional second load generator: wrk (C, far cheaper per request than autocannon), used only for
// reference rows of constant GETs, to show where autocannon itself is the limit.
import { execFile, execFileSync } from 'node:child_process';
import { track } from './processes.mjs';

export function wrkAvailable() {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (error) {
    // wrk --version exits 1 after printing its version.
    return error.status === 1;
  }
}

function toMs(value, unit) {
  const factor = { us: 0.001, ms: 1, s: 1000, m: 60_000 }[unit];
  return Number(value) * factor;
}

/**
 * GETs `url` with `headers` for `duration` seconds (after `warmup` seconds, discarded) on `connections`
 * connections; with `script`, wrk's Lua script shapes each request instead.
 */
export async function measureWrk({ url, headers = {}, connections, duration, warmup, script }) {
  const run = (seconds) =>
    new Promise((resolve, reject) => {
      const args = ['-t1', `-c${connections}`, `-d${Math.max(1, Math.round(seconds))}s`, '--latency', '--timeout', '10s'];
      for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`);
      if (script) args.push('-s', script);
      args.push(url);
      track(execFile('wrk', args, { encoding: 'utf8' }, (error, stdout) => (error ? reject(error) : resolve(stdout))));
    });
  if (warmup > 0) await run(warmup);
  const out = await run(duration);
  const percentile = (p) => {
    const match = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
    return match ? toMs(match[1], match[2]) : undefined;
  };
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    p50: percentile(50),
    p99: percentile(99),
    requests,
    seconds: duration,
    // wrk counts 3xx as fine; nothing here answers 3xx.
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    errors: socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
    timeouts: socket ? Number(socket[4]) : 0,
  };
}
