/**
 * What a failed check leaves for a person: `<name>-failure.json` (the minimised sub-history, then the
 * whole failing part) and `<name>-failure.html`, a time line of the minimised ops, one row per client.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type PartResult, minimise } from './checker.js';
import type { Operation } from './model.js';

export const REPORT_DIR = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../.tmp/consistency');

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function answer(op: Operation): string {
  if (op.output === undefined) return 'no answer (may or may not have applied)';
  if ('refused' in op.output) return `refused (${op.output.refused})`;
  return `${op.output.succeeded ? 'ok' : 'compare failed'} ${JSON.stringify(op.output.results)}`;
}

/** An SVG time line: one row per client, a bar from call to return (dashed to the end when it never returned). */
export function timeline(ops: Operation[]): string {
  const clients = [...new Set(ops.map((op) => op.client))].sort((a, b) => a - b);
  const start = Math.min(...ops.map((op) => op.call));
  const end = Math.max(...ops.map((op) => (Number.isFinite(op.ret) ? op.ret : op.call)));
  const span = Math.max(end - start, 1) * 1.1;
  const width = 1200;
  const row = 64;
  const x = (time: number) => 160 + ((time - start) / span) * (width - 180);
  const bars = ops.map((op) => {
    const y = 30 + clients.indexOf(op.client) * row;
    const finite = Number.isFinite(op.ret);
    const x1 = x(op.call);
    const x2 = finite ? Math.max(x(op.ret), x1 + 2) : width - 10;
    const color =
      op.output === undefined
        ? '#c77'
        : op.input.success.concat(op.input.failure).every((sub) => sub.op === 'get')
          ? '#79c'
          : '#7a7';
    const title = `${op.label}\n${answer(op)}\ncall ${op.call.toFixed(2)} ms, return ${finite ? `${op.ret.toFixed(2)} ms` : 'never'}`;
    return [
      `<g><title>${escape(title)}</title>`,
      `<rect x="${x1.toFixed(1)}" y="${y}" width="${(x2 - x1).toFixed(1)}" height="22" fill="${color}" ${finite ? '' : 'stroke="#a33" stroke-dasharray="4 3"'}/>`,
      // Labels of bars in the right half end at the bar's end, so they stay on the picture.
      `<text x="${(x1 > width / 2 ? x2 : x1).toFixed(1)}" y="${y + 36}" font-size="11"${x1 > width / 2 ? ' text-anchor="end"' : ''}>`,
      `${escape(op.label.slice(0, 60))} → ${escape(answer(op).slice(0, 60))}</text></g>`,
    ].join('');
  });
  const labels = clients.map((client, i) => `<text x="8" y="${46 + i * row}" font-size="13">client ${client}</text>`);
  const height = 40 + clients.length * row;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="monospace">${labels.join('')}${bars.join('')}</svg>`;
}

/** Writes the failure files for a part that is not linearizable (or ran out of budget); returns the JSON file's path. */
export function writeFailure(name: string, part: PartResult, dir = REPORT_DIR): string {
  mkdirSync(dir, { recursive: true });
  const small = part.verdict === 'not linearizable' ? minimise(part.operations) : part.operations.slice(0, 200);
  const file = path.join(dir, `${name}-failure.json`);
  const serialisable = (ops: Operation[]) => ops.map((op) => ({ ...op, ret: Number.isFinite(op.ret) ? op.ret : null }));
  writeFileSync(
    file,
    `${JSON.stringify({ name, verdict: part.verdict, keys: part.keys, steps: part.steps, minimised: serialisable(small), part: serialisable(part.operations) }, null, 1)}\n`,
  );
  const rows = small
    .map(
      (op) =>
        `<tr><td>${op.client}</td><td>${op.call.toFixed(2)}</td><td>${Number.isFinite(op.ret) ? op.ret.toFixed(2) : '∞'}</td><td>${escape(op.label)}</td><td>${escape(answer(op))}</td></tr>`,
    )
    .join('\n');
  const html = `<!doctype html><meta charset="utf-8"><title>${escape(name)}: ${part.verdict}</title>
<h1>${escape(name)}: ${part.verdict}</h1>
<p>Keys ${escape(part.keys.join(', '))}. The ${small.length} operations below (of ${part.operations.length} on these keys) cannot be
ordered so that each takes effect at one instant between its call and its return and every answer matches
Lucid's model. Green writes, blue reads, red dashed: no answer. Hover a bar for its answer.</p>
${timeline(small)}
<table border="1" cellpadding="3"><tr><th>client</th><th>call ms</th><th>return ms</th><th>operation</th><th>answer</th></tr>
${rows}</table>\n`;
  writeFileSync(path.join(dir, `${name}-failure.html`), html);
  return file;
}
