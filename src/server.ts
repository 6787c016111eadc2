/** Starts Lucid on a real socket (HTTP, or HTTPS when configured), and the optional metrics listener; shuts down gracefully. */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { pino, type Logger } from 'pino';
import { createApp, type App } from './app.js';
import { holdContinue } from './http/body.js';
import type { Config } from './config.js';
import { ConfigError, LucidError } from './errors.js';
import type { Metrics } from './metrics.js';
import { Keyring, applyEncryption, parseKey } from './store/encrypted.js';
import { openBackend, type OpenBackendOptions } from './store/open.js';
import type { Clock, Store } from './store/types.js';

/** How often open connections are checked against the header and request timeouts. */
const TIMEOUT_CHECK_MS = 1000;

export interface ServerOptions {
  config: Config;
  logger?: Logger;
  /** A store to use instead of opening the one the config names (tests). */
  store?: Store;
  clock?: Clock;
  validateResponses?: boolean;
}

export interface RunningServer {
  server: http.Server | https.Server;
  store: Store;
  /** http://HOST:PORT, or https:// with TLS on. */
  url: string;
  port: number;
  /** The metrics listener's URL of /metrics, when `metrics.port` is set. */
  metricsUrl?: string | undefined;
  /** Stops accepting, lets in-flight requests finish, then closes the store. */
  close(): Promise<void>;
}

export interface OpenStoreOptions extends OpenBackendOptions {
  clock?: Clock | undefined;
}

/** The configured keyring, or undefined when encryption is off. */
export function configuredKeyring(config: Config): Keyring | undefined {
  const { key, previousKeys } = config.encryption;
  if (key === '') return undefined;
  return new Keyring(
    parseKey(key, 'encryption.key'),
    previousKeys.map((previous, index) => parseKey(previous, `encryption.previousKeys[${index}]`)),
  );
}

/**
 * Opens the store the config names, behind encryption when `encryption.key` is set. Stops with one
 * clear ConfigError when the stored data and the configured key disagree (encrypted.ts).
 */
export async function openStore(config: Config, logger: Logger, options: OpenStoreOptions = {}): Promise<Store> {
  // A reader beside running servers (export) leaves expiry sweeps to them.
  const opened = options.readOnly ? { ...config, expiry: { ...config.expiry, sweepIntervalMs: 0 } } : config;
  const backend = await openBackend(opened, (error) => logger.warn({ err: error }, 'store background work failed'), options.clock, {
    warn: (message) => logger.warn(message),
    ...options,
  });
  try {
    return await applyEncryption(backend, configuredKeyring(config), { writable: !options.readOnly });
  } catch (error) {
    await backend.close();
    throw error;
  }
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { config } = options;
  const logger = options.logger ?? pino({ level: config.log.level });
  const tls = config.server.tls && readTls(config.server.tls);
  const store = options.store ?? (await openStore(config, logger, { clock: options.clock }));
  let started: http.Server | https.Server | undefined;
  let metricsServer: http.Server | undefined;
  let built: App | undefined;
  try {
    const lucid = await createApp({ config, store, logger, clock: options.clock, validateResponses: options.validateResponses });
    built = lucid;
    // Node checks headersTimeoutMs and requestTimeoutMs only every connectionsCheckingInterval
    // (30 s by default), so a slow-header client would hold its socket up to 30 s past the limit.
    const limits: http.ServerOptions = { maxHeaderSize: config.server.maxHeaderBytes, connectionsCheckingInterval: TIMEOUT_CHECK_MS };
    const server = tls ? createHttpsServer(tls, limits, lucid.listener) : http.createServer(limits, lucid.listener);
    server.maxConnections = config.server.maxConnections;
    server.on('clientError', answerClientError);
    started = server;
    // `Expect: 100-continue` is answered only when a handler reads the body, after authentication.
    server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => {
      holdContinue(req);
      server.emit('request', req, res);
    });
    // While stopping, every response closes its connection, so a keep-alive client cannot keep a
    // stopping server serving; a connection still busy after requestTimeoutMs is cut.
    let stopping = false;
    server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
      if (stopping) res.setHeader('Connection', 'close');
      res.on('finish', () => {
        if (stopping) server.closeIdleConnections();
      });
    });
    // Connections that have not sent a byte yet (browsers' preconnects, HTTP clients' spare
    // sockets): Node counts them as awaiting headers, not idle, so closeIdleConnections keeps them
    // and a stop would wait requestTimeoutMs for them. They carry no request: stopping closes them.
    const sockets = new Set<Socket>();
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    server.requestTimeout = config.server.requestTimeoutMs;
    server.headersTimeout = config.server.headersTimeoutMs;
    server.keepAliveTimeout = config.server.keepAliveTimeoutMs;
    await listen(server, config.server.port, config.server.host);
    const { port } = server.address() as AddressInfo;
    let metricsUrl: string | undefined;
    if (config.metrics.port !== null) {
      metricsServer = metricsListener(lucid.metrics, logger);
      await listen(metricsServer, config.metrics.port, config.metrics.host, 'metrics.port');
      metricsUrl = `http://${urlHost(config.metrics.host)}:${(metricsServer.address() as AddressInfo).port}/metrics`;
    }
    let closing: Promise<void> | undefined;
    return {
      server,
      store,
      port,
      url: `${tls ? 'https' : 'http'}://${urlHost(config.server.host)}:${port}`,
      metricsUrl,
      close: () =>
        (closing ??= new Promise<void>((resolve) => {
          stopping = true;
          lucid.close();
          metricsServer?.close();
          metricsServer?.closeAllConnections();
          const deadline = setTimeout(() => server.closeAllConnections(), config.server.requestTimeoutMs);
          deadline.unref();
          server.close(() => {
            clearTimeout(deadline);
            resolve();
          });
          server.closeIdleConnections();
          for (const socket of sockets) if (socket.bytesRead === 0) socket.destroy();
        }).then(() => store.close())),
    };
  } catch (error) {
    metricsServer?.close();
    started?.close();
    built?.close();
    await store.close();
    throw error;
  }
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Reads the configured certificate and key, or stops start-up saying which file is wrong. */
function readTls(paths: { cert: string; key: string }): { cert: Buffer; key: Buffer } {
  const read = (option: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new ConfigError(`Cannot read ${option} (${file}): ${(error as Error).message}. Run \`lucid init --tls\` to make a self-signed one, or fix the path.`);
    }
  };
  return { cert: read('server.tls.cert', paths.cert), key: read('server.tls.key', paths.key) };
}

function createHttpsServer(tls: { cert: Buffer; key: Buffer }, limits: http.ServerOptions, app: http.RequestListener): https.Server {
  try {
    return https.createServer({ ...limits, cert: tls.cert, key: tls.key }, app);
  } catch (error) {
    throw new ConfigError(`server.tls: the certificate and key cannot be used together: ${(error as Error).message}`);
  }
}

/**
 * The metrics listener: GET /metrics without a token, for a scraper, on its own port (bound to
 * `metrics.host`, loopback by default); nothing else is served there.
 */
function metricsListener(metrics: Metrics, logger: Logger): http.Server {
  return http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const reply = (status: number, body: string | Buffer, contentType: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'Content-Type': contentType, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    // The same answers, from the same catalogue, as the API's own errors.
    const fail = (error: LucidError, headers?: Record<string, string>) =>
      reply(error.status, JSON.stringify({ message: error.message }), 'application/json; charset=utf-8', headers);
    if (path !== '/metrics') {
      fail(new LucidError('ROUTE_NOT_FOUND'));
    } else if (req.method !== 'GET' && req.method !== 'HEAD') {
      fail(new LucidError('METHOD_NOT_ALLOWED'), { Allow: 'GET, HEAD' });
    } else {
      metrics.render().then(
        ({ contentType, body }) => reply(200, body, contentType),
        (error: unknown) => {
          logger.error({ err: error }, 'cannot render the metrics');
          fail(new LucidError('INTERNAL'));
        },
      );
    }
  });
}

function listen(server: http.Server, port: number, host: string, option = 'the port'): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') {
        reject(new Error(`Port ${port} on ${host} is already in use: stop the other process or ${option === 'the port' ? 'pass --port' : `change ${option}`}.`));
      }
      else if (error.code === 'EADDRNOTAVAIL') reject(new Error(`Cannot listen on ${host}: the address is not available on this machine.`));
      else if (error.code === 'EACCES') reject(new Error(`Not allowed to listen on port ${port} (ports below 1024 need privileges).`));
      else reject(error);
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** What a request that never became one (Node's parser or timeouts refused it) is told, by Node's error code. */
const CLIENT_ERRORS: Record<string, { status: number; message: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, message: 'The request headers are larger than the server accepts (server.maxHeaderBytes).' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, message: 'The request did not arrive in time (server.headersTimeoutMs / server.requestTimeoutMs).' },
};

/**
 * Node answers bytes that are not HTTP (and requests too slow or too large to parse) with a bare
 * status line; Lucid answers them like every other error, with a JSON message, then closes.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  // A reset connection, or one whose response has already begun: nothing more can be said on it.
  if (error.code === 'ECONNRESET' || !socket.writable || (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
    socket.destroy();
    return;
  }
  const { status, message } = CLIENT_ERRORS[error.code ?? ''] ?? { status: 400, message: 'The request is not valid HTTP/1.1.' };
  const body = JSON.stringify({ message });
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
