/**
 * Lucid's Prometheus metrics: one prom-client Registry per app (never the global one, so several
 * apps in one process, as in the tests, keep their own counts), served by GET /metrics and by the
 * optional metrics listener.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
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
  readonly #requests: Counter<'operation' | 'status'>;
  readonly #latency: Histogram<'operation'>;
  readonly #storeErrors: Counter;

  constructor({ store, notificationClients, keysCacheMs = KEYS_CACHE_MS }: MetricsDeps) {
    const registers = [this.registry];
    this.#requests = new Counter({
      name: 'lucid_http_requests_total',
      help: 'HTTP requests answered, by operation (the spec operationId) and status.',
      labelNames: ['operation', 'status'],
      registers,
    });
    this.#latency = new Histogram({
      name: 'lucid_http_request_duration_seconds',
      help: 'Time from a request arriving to its response ending, by operation; notification streams are not included.',
      labelNames: ['operation'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
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
    this.#requests.inc({ operation, status: String(status) });
    if (!streamed) this.#latency.observe({ operation }, seconds);
  }

  storeError(): void {
    this.#storeErrors.inc();
  }

  /** The scrape: the text format and its content type. */
  async render(): Promise<{ contentType: string; body: Buffer }> {
    return { contentType: this.registry.contentType, body: Buffer.from(await this.registry.metrics(), 'utf8') };
  }
}
