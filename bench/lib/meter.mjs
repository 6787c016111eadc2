// What a case's measured seconds cost the server: its CPU time (from /proc) and, for Lucid, its garbage
// collector's pauses (prom-client's nodejs_gc_duration_seconds on /metrics). The pauses are what a
// server's own tail is made of at saturation (bench/README.md), so every Lucid case shows them.
/* global fetch */
import { markCpu } from './processes.mjs';

/**
 * Marks `mark` ('start' or 'end') on `meter` ({ pid, metrics?: { url, authorization } }): CPU time and
 * host ticks, and the GC totals when the server has /metrics. Read so that neither scrape of /metrics
 * falls inside the CPU time measured.
 */
export async function markMeter(meter, mark) {
  if (meter === undefined) return;
  if (mark === 'start') {
    await markGc(meter, mark);
    markCpu(meter, mark);
  } else {
    markCpu(meter, mark);
    await markGc(meter, mark);
  }
}

async function markGc(meter, mark) {
  if (meter.metrics === undefined) return;
  try {
    const response = await fetch(new URL('/metrics', meter.metrics.url), {
      headers: { authorization: meter.metrics.authorization },
    });
    meter[`${mark}Gc`] = response.ok ? gcTotals(await response.text()) : undefined;
  } catch {
    meter[`${mark}Gc`] = undefined;
  }
}

/** { minor: { count, seconds }, major: { count, seconds } } from a Prometheus text exposition. */
export function gcTotals(text) {
  const totals = { minor: { count: 0, seconds: 0 }, major: { count: 0, seconds: 0 } };
  const line = /^nodejs_gc_duration_seconds_(sum|count)\{kind="(minor|major)"\} (\S+)$/gm;
  for (const [, field, kind, value] of text.matchAll(line))
    totals[kind][field === 'sum' ? 'seconds' : 'count'] = Number(value);
  return totals;
}

/**
 * The pauses between the two marks: scavenges (minor) and full collections (major), each as a count and
 * milliseconds in all; undefined when either mark has no totals.
 */
export function gcBetween(meter) {
  const { startGc: start, endGc: end } = meter;
  if (start === undefined || end === undefined) return undefined;
  const delta = (kind) => ({
    count: end[kind].count - start[kind].count,
    ms: (end[kind].seconds - start[kind].seconds) * 1000,
  });
  return { minor: delta('minor'), major: delta('major') };
}
