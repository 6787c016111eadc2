// Turns results into the printed table, the markdown file and the JSON file.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const fixed = (value, digits = 0) =>
  value === undefined || value === null || Number.isNaN(value) ? '-' : Number(value).toFixed(digits);
const ms = (value) =>
  value === undefined || value === null
    ? '-'
    : value < 10
      ? Number(value)
          .toFixed(2)
          .replace(/\.?0+$/, '') || '0'
      : fixed(value, 0);
const ratio = (value) => (value === undefined ? '-' : value >= 0.1 ? `${value.toFixed(2)}×` : `${value.toFixed(3)}×`);
const mib = (bytes) => (bytes === undefined ? '-' : `${(bytes / 1024 / 1024).toFixed(0)} MiB`);

const against = (versus) =>
  versus === undefined ? '-' : `${ratio(versus.ratio)}${versus.target === undefined ? '' : ` (≥ ${versus.target}×)`}`;

/** Rows of the main table: [header, ...rows] as arrays of strings. */
export function caseRows(cases) {
  const header = [
    'case',
    'req/s',
    'p50 ms',
    'p99 ms',
    'CPU µs/req',
    'GC pauses',
    'non-2xx',
    'errors',
    'vs node:http (target)',
    'vs etcd (target)',
    'targets',
  ];
  const rows = cases.map((c) => [
    c.name,
    fixed(c.rps),
    ms(c.p50),
    c.p99Target === undefined ? ms(c.p99) : `${ms(c.p99)} (≤ ${c.p99Target})`,
    c.cpuVsNode === undefined ? fixed(c.cpuUsPerRequest, 1) : `${fixed(c.cpuUsPerRequest, 1)} (${ratio(c.cpuVsNode)})`,
    gcPauses(c.gc),
    c.non2xx > 0 ? `${c.non2xx} !!` : String(c.non2xx ?? '-'),
    c.errors > 0 ? `${c.errors} !!` : String(c.errors ?? '-'),
    against(c.vsNode),
    against(c.vsEtcd),
    c.targets ?? '-',
  ]);
  return [header, ...rows];
}

/**
 * A case's garbage collections: the scavenges' count and mean pause, then the full collections' count and
 * total pause when there were any (`-` for a server without /metrics).
 */
export function gcPauses(gc) {
  if (gc === undefined) return '-';
  const minor = gc.minor.count === 0 ? '0' : `${gc.minor.count} × ${(gc.minor.ms / gc.minor.count).toFixed(2)} ms`;
  return gc.major.count === 0 ? minor : `${minor} + ${gc.major.count} major, ${gc.major.ms.toFixed(1)} ms`;
}

export function scaleRows(scale) {
  const header = [
    'keys',
    'load keys/s',
    'start-up ms',
    'RSS at start',
    'RSS after GETs',
    'GET req/s',
    'p50 ms',
    'p99 ms',
    'non-2xx',
    'disk bytes / stored byte',
  ];
  const rows = scale.points.map((p) => [
    p.keys.toLocaleString('en-US'),
    fixed(p.loadRate),
    fixed(p.startupMs),
    mib(p.rssAtStart),
    mib(p.rssAfter),
    fixed(p.get.rps),
    ms(p.get.p50),
    ms(p.get.p99),
    p.get.non2xx > 0 || p.get.errors > 0 ? `${p.get.non2xx}/${p.get.errors} !!` : '0',
    `${p.diskPerStoredByte.toFixed(2)} (${mib(p.diskBytes)})`,
  ]);
  return [header, ...rows];
}

export function scaleOutRows(scaleOut) {
  const header = [
    'nodes',
    'GET req/s',
    'GET vs 1 node',
    'GET p99 ms',
    'PUT req/s',
    'PUT vs 1 node',
    'PUT p99 ms',
    'non-2xx',
  ];
  const rows = scaleOut.points.map((p) => [
    String(p.nodes),
    fixed(p.GET.rps),
    `${p.GET.ratio.toFixed(2)}×`,
    ms(p.GET.p99),
    fixed(p.PUT.rps),
    `${p.PUT.ratio.toFixed(2)}×`,
    ms(p.PUT.p99),
    p.GET.non2xx + p.PUT.non2xx + p.GET.errors + p.PUT.errors > 0
      ? `${p.GET.non2xx + p.PUT.non2xx}/${p.GET.errors + p.PUT.errors} !!`
      : '0',
  ]);
  return [header, ...rows];
}

const numeric = /^[\d.,×\- !/()MiB]+$/;

/** A plain-text table with aligned columns (numbers right-aligned). */
export function textTable(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const line = (row) =>
    row.map((cell, i) => (i > 0 && numeric.test(cell) ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  ');
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

export function markdownTable(rows) {
  const line = (row) => `| ${row.join(' | ')} |`;
  const align = rows[0].map((_, i) => (i === 0 ? '---' : '---:'));
  return [line(rows[0]), line(align), ...rows.slice(1).map(line)].join('\n');
}

export function describeRun(results) {
  const o = results.options;
  return (
    `${results.mode} run, ${results.startedAt}: ${o.connections} keep-alive connections, ` +
    `${o.warmup} s warm-up + ${o.duration} s per case, loopback, ${results.tools.driver === 'wrk' ? 'wrk (one thread)' : `autocannon ${results.tools.autocannon}`}, ` +
    `node ${results.machine.node}, ${results.machine.cpus} × ${results.machine.cpuModel}, ` +
    `load average ${results.machine.loadBefore.map((l) => l.toFixed(2)).join(' ')} before / ${results.machine.loadAfter?.map((l) => l.toFixed(2)).join(' ') ?? '-'} after; ` +
    `host steal ${fixed(results.machine.stealPercent, 1)} % of the CPU time; ` +
    `took ${fixed(results.durationSeconds)} s`
  );
}

export function markdown(results) {
  const parts = [`# Lucid load benchmark, ${results.startedAt}`, '', describeRun(results), ''];
  if (results.cases.length > 0) parts.push(markdownTable(caseRows(results.cases)), '');
  if (results.scale?.points?.length) {
    parts.push(
      `## Scale (${results.scale.valueBytes} B values, GET of random keys)`,
      '',
      markdownTable(scaleRows(results.scale)),
      '',
    );
  }
  if (results.scaleOut?.points?.length) {
    parts.push(
      `## Scale-out on Redis (${results.scaleOut.driver}, ${results.scaleOut.connections} connections spread over the nodes, ${results.scaleOut.keys} keys of ${results.scaleOut.valueBytes} B)`,
      '',
      markdownTable(scaleOutRows(results.scaleOut)),
      '',
    );
  }
  for (const note of results.notes) parts.push(`- ${note}`);
  for (const problem of results.problems) parts.push(`- **PROBLEM**: ${problem}`);
  return `${parts.join('\n').trimEnd()}\n`;
}

/** Writes <dir>/<stamp>.json, .md and (given its text) .svg; returns their paths. */
export function writeResults(dir, results, svg = '') {
  mkdirSync(dir, { recursive: true });
  const stamp = results.startedAt.replace(/[:.]/g, '-');
  const json = path.join(dir, `${stamp}${results.mode === 'full' ? '' : `-${results.mode}`}.json`);
  const md = json.replace(/\.json$/, '.md');
  writeFileSync(json, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(md, markdown(results));
  if (svg === '') return { json, md };
  const chart = json.replace(/\.json$/, '.svg');
  writeFileSync(chart, svg);
  return { json, md, chart };
}
