// The run as a picture: one SVG (no browser, no library: plain text), a bar of req/s per case
// (baselines and peers in grey, Lucid in blue, a missed target in red) with its p99 beside it.

const escape = (text) =>
  String(text).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const COLOURS = { baseline: '#9aa0a6', etcd: '#6f7a86', lucid: '#1a73e8', missed: '#d93025' };

/** The SVG text of `results.cases` (an empty string when there are none). */
export function drawChart(results) {
  const cases = results.cases;
  if (cases.length === 0) return '';
  const rowHeight = 26;
  const labelWidth = 330;
  const barWidth = 520;
  const top = 56;
  const width = labelWidth + barWidth + 230;
  const height = top + cases.length * rowHeight + 40;
  const max = Math.max(...cases.map((c) => c.rps));
  const rows = cases.map((c, i) => {
    const y = top + i * rowHeight;
    const w = Math.max(1, Math.round((c.rps / max) * barWidth));
    const colour = c.targets?.startsWith('missed') ? COLOURS.missed : (COLOURS[c.group] ?? COLOURS.lucid);
    const ratio = c.vsNode ? ` · ${c.vsNode.ratio.toFixed(2)}× node` : '';
    const p99 = c.p99 === undefined ? '' : ` · p99 ${c.p99 < 10 ? c.p99.toFixed(1) : c.p99.toFixed(0)} ms`;
    return [
      `<text x="${labelWidth - 8}" y="${y + 17}" text-anchor="end">${escape(c.name)}</text>`,
      `<rect x="${labelWidth}" y="${y + 4}" width="${w}" height="${rowHeight - 8}" fill="${colour}"/>`,
      `<text x="${labelWidth + w + 6}" y="${y + 17}">${Math.round(c.rps).toLocaleString('en-US')} req/s${escape(ratio)}${escape(p99)}</text>`,
    ].join('');
  });
  const title = `Lucid load benchmark, ${results.startedAt.slice(0, 16).replace('T', ' ')} UTC — ${results.options.connections} connections, ${results.tools.driver}`;
  const legend = 'grey: baselines and peers · blue: Lucid · red: Lucid missing a target (bench/README.md)';
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">${escape(title)}</text>`,
    `<text x="12" y="42" fill="#555">${escape(legend)}</text>`,
    ...rows,
    `<text x="12" y="${height - 12}" fill="#555">${escape(`req/s (longer is better); p99 latency beside each bar; node ${results.machine.node}, ${results.machine.cpus} cores`)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
