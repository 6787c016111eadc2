/**
 * The request metrics are tallied in plain numbers on the request path and read into prom-client at
 * scrape time (src/metrics.ts). What a scrape shows must be what prom-client's own Counter and
 * Histogram show for the same requests: here both see one list of answers, on a real store.
 */
import path from 'node:path';
import { Counter, Histogram, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { Metrics } from '../../src/metrics.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/types.js';
import { tempDir } from '../support/lucid.js';

const opened: Store[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
});

async function metrics(): Promise<Metrics> {
  const store = await openSqliteStore({ file: path.join(tempDir(), 'lucid.sqlite'), sweepIntervalMs: 0 });
  opened.push(store);
  return new Metrics({ store, notificationClients: () => 0 });
}

/** prom-client's own metrics, configured as Lucid's were before the tallies. */
function reference() {
  const registry = new Registry();
  const requests = new Counter({
    name: 'lucid_http_requests_total',
    help: 'HTTP requests answered, by operation (the spec operationId) and status.',
    labelNames: ['operation', 'status'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'lucid_http_request_duration_seconds',
    help: 'Time from a request arriving to its response ending, by operation; notification streams are not included.',
    labelNames: ['operation'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return {
    registry,
    observe(operation: string, status: number, seconds: number, streamed: boolean) {
      requests.inc({ operation, status: String(status) });
      if (!streamed) latency.observe({ operation }, seconds);
    },
  };
}

/** The lines of one metric family in a text exposition, in order. */
function family(text: string, name: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(name) || line.includes(` ${name} `));
}

/** Answers across operations, statuses and every bucket: bounds exactly, between them, beyond the last, streams. */
const ANSWERS: Array<[string, number, number, boolean]> = [
  ['getKey', 200, 0.0001, false],
  ['getKey', 200, 0.0005, false],
  ['getKey', 404, 0.0007, false],
  ['putKey', 201, 0.003, false],
  ['putKey', 200, 0.025, false],
  ['putKey', 200, 2.5, false],
  ['putKey', 503, 12, false],
  ['getKey', 200, 0.4, false],
  ['streamNotifications', 200, 30, true],
  ['none', 404, 0.0002, false],
  ['getKey', 200, 0.00049, false],
];

/** Tells both the same answers. */
function observe(lucid: Metrics, expected: ReturnType<typeof reference>, answers: typeof ANSWERS): void {
  for (const answer of answers) {
    lucid.observe(...answer);
    expected.observe(...answer);
  }
}

describe('request metrics', () => {
  it('scrape as prom-client’s Counter and Histogram would for the same answers', async () => {
    const lucid = await metrics();
    const expected = reference();
    observe(lucid, expected, ANSWERS);
    const text = (await lucid.render()).body.toString('utf8');
    const want = await expected.registry.metrics();
    for (const name of ['lucid_http_requests_total', 'lucid_http_request_duration_seconds']) {
      expect(family(text, name)).toEqual(family(want, name));
      expect(family(text, name).length).toBeGreaterThan(2);
    }
    // An operation answered only with streams is counted, but has no latency samples.
    expect(text).toContain('lucid_http_requests_total{operation="streamNotifications",status="200"} 1');
    expect(text).not.toContain('lucid_http_request_duration_seconds_count{operation="streamNotifications"}');
  });

  it('keep counting across scrapes', async () => {
    const lucid = await metrics();
    const expected = reference();
    for (const round of [ANSWERS.slice(0, 4), ANSWERS.slice(4), ANSWERS]) {
      observe(lucid, expected, round);
      const text = (await lucid.render()).body.toString('utf8');
      const want = await expected.registry.metrics();
      expect(family(text, 'lucid_http_requests_total')).toEqual(family(want, 'lucid_http_requests_total'));
      expect(family(text, 'lucid_http_request_duration_seconds')).toEqual(
        family(want, 'lucid_http_request_duration_seconds'),
      );
    }
  });

  it('give the same JSON as prom-client (exemplars, which are off, aside)', async () => {
    const lucid = await metrics();
    const expected = reference();
    observe(lucid, expected, ANSWERS);
    const pick = async (registry: Registry) =>
      (await registry.getMetricsAsJSON())
        .filter((metric) => metric.name.startsWith('lucid_http_'))
        .map(({ values, ...metric }) => ({
          ...metric,
          values: values.map((sample) => ({ ...sample, exemplar: undefined })),
        }));
    expect(await pick(lucid.registry)).toEqual(await pick(expected.registry));
  });
});
