/**
 * Lucid's Prometheus metrics: one prom-client Registry per app (never the global one, so several
 * apps in one process, as in the tests, keep their own counts), served by GET /metrics and by the
 * optional metrics listener.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import type { Store } from './store/types.js';

/**
 * The operation label of requests that matched no operation (unknown paths, wrong methods, bodies refused before
 * routing).
 */
export const NO_OPERATION = 'none';
/** The operation label of the console's and the API reference's static files. */
export const STATIC_ASSETS = 'static';

/**
 * How long a key count is reused. Counting is a full scan in SQLite: 8 ms (idle) to 30 ms (median,
 * busy machine) at 100k keys, on the connection writes use, so back-to-back scrapes share one.
 */
export const KEYS_CACHE_MS = 5000;

/** Latency buckets in seconds: a GET is ~1 ms on this machine, a large PUT tens of ms. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface MetricsDeps {
  store: Store;
  /** How many notification streams are open now. */
  notificationClients: () => number;
  /** How long a key count is reused (KEYS_CACHE_MS by default). */
  keysCacheMs?: number;
}

/** The metrics of one app; `render` is what a scrape answers. */
export class Metrics {
  readonly registry = new Registry();
  readonly #tallies = new Map<string, OperationTally>();
  readonly #storeErrors: Counter;

  constructor({ store, notificationClients, keysCacheMs = KEYS_CACHE_MS }: MetricsDeps) {
    const registers = [this.registry];
    const tallies = this.#tallies;
    new Counter({
      name: 'lucid_http_requests_total',
      help: 'HTTP requests answered, by operation (the spec operationId) and status.',
      labelNames: ['operation', 'status'],
      registers,
      collect() {
        for (const [operation, tally] of tallies) {
          for (const [status, count] of tally.statuses) this.inc({ operation, status: String(status) }, count);
          tally.statuses.clear();
        }
      },
    });
    this.registry.registerMetric(new LatencyHistogram(tallies) as unknown as Metric);
    this.#storeErrors = new Counter({
      name: 'lucid_store_errors_total',
      help: 'Store failures (answered 503, or met while counting keys for a scrape).',
      registers,
    });
    const storeErrors = this.#storeErrors;
    let counted: { at: number; keys: number } | undefined;
    new Gauge({
      name: 'lucid_keys',
      help: 'Live keys in the store (expired keys not counted); absent while the store cannot be counted.',
      registers,
      async collect() {
        try {
          if (counted === undefined || performance.now() - counted.at >= keysCacheMs)
            counted = { at: performance.now(), keys: await store.count() };
          this.set(counted.keys);
        } catch {
          counted = undefined;
          storeErrors.inc();
          this.reset();
        }
      },
    });
    new Gauge({
      name: 'lucid_notification_clients',
      help: 'Open notification streams (GET /api/notifications).',
      registers,
      collect() {
        this.set(notificationClients());
      },
    });
    collectDefaultMetrics({ register: this.registry });
  }

  /** Counts one answered request; `streamed` ones (server-sent events) stay out of the latency histogram. */
  observe(operation: string, status: number, seconds: number, streamed: boolean): void {
    let tally = this.#tallies.get(operation);
    if (tally === undefined) this.#tallies.set(operation, (tally = new OperationTally()));
    tally.statuses.set(status, (tally.statuses.get(status) ?? 0) + 1);
    if (!streamed) tally.observe(seconds);
  }

  storeError(): void {
    this.#storeErrors.inc();
  }

  /** The scrape: the text format and its content type. */
  async render(): Promise<{ contentType: string; body: Buffer }> {
    return { contentType: this.registry.contentType, body: Buffer.from(await this.registry.metrics(), 'utf8') };
  }
}

/**
 * What the request path records of one operation, in plain numbers: answers by status since the last scrape, and the
 * latency histogram's counts. prom-client's own `inc` and `observe` validate and hash the labels and look buckets up by
 * their bound turned into a string, on every call: under a cached-GET load that was 5 to 6 % of the server's CPU time
 * per request (bench/README.md, "Metrics tallied, frames decoded in one step, a cheaper doorkeeper"). A scrape reads
 * these into prom-client, which writes the exposition as before.
 */
class OperationTally {
  /** Answers by status, not yet added to the requests counter (the counter's collect adds and clears them). */
  readonly statuses = new Map<number, number>();
  /** Observations per bucket of LATENCY_BUCKETS (each counted in the first bucket whose bound it does not exceed). */
  readonly buckets = new Float64Array(LATENCY_BUCKETS.length);
  sum = 0;
  count = 0;

  observe(seconds: number): void {
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
      if (seconds <= LATENCY_BUCKETS[i]!) {
        this.buckets[i]! += 1;
        break;
      }
    }
    this.sum += seconds;
    this.count += 1;
  }
}

/** One sample as prom-client's registry reads it from a metric; `sharedLabels` follow the sample's own in the text. */
interface Sample {
  metricName: string;
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string>;
  value: number;
}

/**
 * The latency histogram, as prom-client's registry reads a metric: the same name, help, type and samples its Histogram
 * would give for the same observations (test/unit/metrics.test.ts compares the two), built from the tallies at scrape
 * time. Operations answered only with streams have no samples, as with prom-client.
 */
class LatencyHistogram {
  readonly name = 'lucid_http_request_duration_seconds';
  readonly help =
    'Time from a request arriving to its response ending, by operation; notification streams are not included.';
  readonly type = 'histogram';
  readonly aggregator = 'sum';

  constructor(private readonly tallies: ReadonlyMap<string, OperationTally>) {}

  /** The samples with the operation as a shared label, as the text exposition takes them. */
  getForPromString() {
    const values: Sample[] = [];
    const bucket = `${this.name}_bucket`;
    for (const [operation, tally] of this.tallies) {
      if (tally.count === 0) continue;
      const sharedLabels = { operation };
      let cumulative = 0;
      LATENCY_BUCKETS.forEach((le, i) => {
        cumulative += tally.buckets[i]!;
        values.push({ metricName: bucket, labels: { le }, sharedLabels, value: cumulative });
      });
      values.push(
        { metricName: bucket, labels: { le: '+Inf' }, sharedLabels, value: tally.count },
        { metricName: `${this.name}_sum`, labels: {}, sharedLabels, value: tally.sum },
        { metricName: `${this.name}_count`, labels: {}, sharedLabels, value: tally.count },
      );
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** The samples with every label in `labels`, as the JSON exposition takes them. */
  get() {
    const metric = this.getForPromString();
    const values = metric.values.map(({ sharedLabels, ...sample }) => ({
      ...sample,
      labels: { ...sample.labels, ...sharedLabels },
    }));
    return { ...metric, values };
  }

  reset(): void {
    for (const tally of this.tallies.values()) {
      tally.buckets.fill(0);
      tally.sum = 0;
      tally.count = 0;
    }
  }
}
