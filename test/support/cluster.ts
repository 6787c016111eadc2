/**
 * Lucid clusters for e2e and consistency tests: several real `lucid server` processes on one shared
 * backend, and a TCP proxy in front of a backend so a test can cut a node's connection and restore it.
 */
import net from 'node:net';
import path from 'node:path';
import { type LucidServer, assertBuilt, runLucid, startServer, tempDir } from '../e2e/cli.js';
import { BACKEND_URLS, type SharedBackend } from './backends.js';

export interface Cluster {
  nodes: LucidServer[];
  token: string;
  file: string;
  dir: string;
  env: Record<string, string>;
  /** Starts node `index` again (after it was stopped or killed) on its port, with its backend URL. */
  restart(index: number): Promise<LucidServer>;
}

/**
 * `count` nodes of the built CLI sharing one config (from `lucid init`) and one namespace on `url`, or
 * on `url(index)` each (a node behind its own CuttableProxy). A restarted node gets its first port again.
 */
export async function startCluster(
  backend: SharedBackend,
  namespace: string,
  count = 3,
  url: string | ((index: number) => string) = BACKEND_URLS[backend],
  timeoutMs = 15_000,
): Promise<Cluster> {
  assertBuilt();
  const dir = tempDir();
  const file = path.join(dir, 'lucid.yml');
  const init = await runLucid(['init', '--config', file], { cwd: dir });
  if (init.code !== 0) throw new Error(`lucid init failed: ${init.stderr}`);
  const urlOf = (index: number) => (typeof url === 'string' ? url : url(index));
  const env = { LUCID_STORE: urlOf(0), LUCID_STORE_NAMESPACE: namespace, LUCID_SWEEP_INTERVAL_MS: '100' };
  const ports: number[] = [];
  const start = async (index: number) => {
    const port = ports[index] ?? 0;
    const node = await startServer(['--config', file, '--port', String(port)], {
      cwd: dir,
      port: port || undefined,
      timeoutMs,
      env: { ...env, LUCID_STORE: urlOf(index) },
    });
    ports[index] = node.port;
    return node;
  };
  const nodes = await Promise.all(Array.from({ length: count }, (_, index) => start(index)));
  const cluster: Cluster = {
    nodes,
    token: init.stdout.trim(),
    file,
    dir,
    env,
    restart: async (index) => (cluster.nodes[index] = await start(index)),
  };
  return cluster;
}

/** A TCP proxy in front of a real backend, so a test can cut the network and restore it. */
export class CuttableProxy {
  #server: net.Server | undefined;
  readonly #sockets = new Set<net.Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  /** The proxy for a backend URL, and the same URL pointing at the proxy (call open() first). */
  static forUrl(url: string): { proxy: CuttableProxy; url: () => string } {
    const target = new URL(url);
    const proxy = new CuttableProxy({ host: target.hostname, port: Number(target.port) });
    return {
      proxy,
      url: () => {
        const proxied = new URL(url);
        proxied.port = String(proxy.port);
        return proxied.toString();
      },
    };
  }

  async open(port = 0): Promise<void> {
    this.#server = net.createServer((client) => {
      const upstream = net.connect(this.target);
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on('close', () => this.#sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.#server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.#server.address() as net.AddressInfo).port;
  }

  /** Refuses new connections and drops the open ones: the backend is gone, as far as Lucid can tell. */
  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}
