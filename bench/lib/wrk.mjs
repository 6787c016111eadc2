// The load generator when installed: wrk (C and LuaJIT, one thread), far cheaper per request than a
// JS generator sharing the same 2 cores. Each case's requests are described as data and turned into
// a small Lua script; the script also counts every status, so a case that expects 201 sees a 200.
import { execFile, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { markMeter } from './meter.mjs';
import { tempDir, track } from './processes.mjs';

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

const lua = (text) => JSON.stringify(String(text));

/**
 * One kind of request as a Lua table entry: `{ method, path, keys, headers, body }` where `keys` (a
 * count) appends a random number in [0, keys) to `path`, and `fresh` appends a counter instead (a
 * new key each time). Entries of a table, not locals: Lua allows a chunk only 200 locals, and the
 * etcd cases have one kind per key.
 */
function requestLua(request) {
  const headers = Object.entries(request.headers ?? {})
    .map(([name, value]) => `[${lua(name)}] = ${lua(value)}`)
    .join(', ');
  const body =
    request.bodyBytes !== undefined
      ? `string.rep("x", ${request.bodyBytes})`
      : request.body !== undefined
        ? lua(request.body)
        : 'nil';
  const suffix =
    request.keys !== undefined ? ` .. math.random(0, ${request.keys - 1})` : request.fresh ? ' .. next_id()' : '';
  return [
    'do',
    `  local headers, body = { ${headers} }, ${body}`,
    `  table.insert(kinds, function() return wrk.format(${lua(request.method ?? 'GET')}, ${lua(request.path)}${suffix}, headers, body) end)`,
    'end',
  ].join('\n');
}

/**
 * The Lua script of a case: `requests` is a list of request kinds with a `share` each (the chance
 * of that kind; one kind needs none).
 */
export function wrkScript(requests) {
  const shares = requests.map((r) => r.share ?? 1 / requests.length);
  const parts = [
    'math.randomseed(os.time())',
    // A fresh key per request: the run's own id (wrk's script argument, unique per wrk process: the warm-up and the
    // measured run of a case once met in the same second and their os.time()-based keys collided), then a counter.
    'local counter, run_id = 0, "0"',
    'init = function(args) run_id = args[1] or run_id end',
    'local function next_id() counter = counter + 1; return run_id .. "-" .. counter end',
    'statuses = {}',
    'local kinds = {}',
    `local shares = { ${shares.join(', ')} }`,
    ...requests.map(requestLua),
    'request = function()',
    '  if #kinds == 1 then return kinds[1]() end',
    '  local roll = math.random()',
    '  for i = 1, #kinds - 1 do',
    '    roll = roll - shares[i]',
    '    if roll < 0 then return kinds[i]() end',
    '  end',
    '  return kinds[#kinds]()',
    'end',
    'response = function(status) statuses[status] = (statuses[status] or 0) + 1 end',
    'local threads = {}',
    'setup = function(thread) table.insert(threads, thread) end',
    'done = function()',
    '  local merged = {}',
    '  for _, thread in ipairs(threads) do',
    '    for status, count in pairs(thread:get("statuses")) do merged[status] = (merged[status] or 0) + count end',
    '  end',
    '  local parts = {}',
    '  for status, count in pairs(merged) do table.insert(parts, string.format("\\"%d\\":%d", status, count)) end',
    '  io.write("STATUSES {" .. table.concat(parts, ",") .. "}\\n")',
    'end',
  ];
  return `${parts.join('\n')}\n`;
}

let scriptDir;

/**
 * Runs wrk against `url` for `duration` seconds (after `warmup` seconds, discarded) on `connections`
 * connections with one thread, sending `requests` (see wrkScript), and returns its figures.
 */
export async function measureWrk({ url, requests, connections, duration, warmup, meter }) {
  scriptDir ??= tempDir('lucid-bench-wrk-');
  const script = path.join(scriptDir, `case-${Math.random().toString(36).slice(2)}.lua`);
  writeFileSync(script, wrkScript(requests));
  const run = (seconds) =>
    new Promise((resolve, reject) => {
      const args = [
        '-t1',
        `-c${connections}`,
        `-d${Math.max(1, Math.round(seconds))}s`,
        '--latency',
        '--timeout',
        '10s',
        '-s',
        script,
        url,
        '--',
        randomUUID(),
      ];
      track(
        execFile('wrk', args, { encoding: 'utf8' }, (error, stdout, stderr) => {
          if (error) reject(error);
          // A script that does not load makes wrk send plain GETs of `url` instead: never a figure.
          else if (!/^STATUSES /m.test(stdout))
            reject(new Error(`wrk did not run the case's script: ${stderr.trim() || stdout.trim()}`));
          else resolve(stdout);
        }),
      );
    });
  if (warmup > 0) await run(warmup);
  await markMeter(meter, 'start');
  const out = await run(duration);
  await markMeter(meter, 'end');
  const percentile = (p) => {
    const match = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
    return match ? toMs(match[1], match[2]) : undefined;
  };
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const statusCodes = JSON.parse(/^STATUSES (.*)$/m.exec(out)?.[1] ?? '{}');
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    p50: percentile(50),
    p99: percentile(99),
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
    seconds: duration,
    non2xx: Object.entries(statusCodes).reduce((sum, [code, count]) => (code.startsWith('2') ? sum : sum + count), 0),
    errors: socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
    timeouts: socket ? Number(socket[4]) : 0,
    statusCodes,
  };
}
