/**
 * Starts Lucid on a real socket (HTTP, or HTTPS when configured), and the optional metrics listener; shuts down
 * gracefully.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { pino, type Logger } from 'pino';
import { createApp, type App } from './app.js';
import { holdContinue } from './http/body.js';
import type { Config } from './config.js';
import { ConfigError, describe, LucidError, type ErrorCode } from './errors.js';
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
  const backend = await openBackend(
    opened,
    (error) => logger.warn({ err: error }, 'store background work failed'),
    options.clock,
    {
      warn: (message) => logger.warn(message),
      ...options,
    },
  );
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
  let http1: HttpListener | undefined;
  let metricsServer: http.Server | undefined;
  let built: App | undefined;
  try {
    const lucid = await createApp({
      config,
      store,
      logger,
      clock: options.clock,
      validateResponses: options.validateResponses,
    });
    built = lucid;
    http1 = httpListener(config.server, tls, lucid.listener);
    const { server } = http1;
    await listen(server, config.server.port, config.server.host);
    const { port } = server.address() as AddressInfo;
    let metricsUrl: string | undefined;
    if (config.metrics.port !== null) {
      metricsServer = metricsListener(lucid.metrics, logger);
      await listen(metricsServer, config.metrics.port, config.metrics.host, 'metrics.port');
      metricsUrl = `http://${urlHost(config.metrics.host)}:${(metricsServer.address() as AddressInfo).port}/metrics`;
    }
    const stopping = http1;
    const metricsListening = metricsServer;
    let closing: Promise<void> | undefined;
    const close = () => {
      lucid.close();
      metricsListening?.close();
      metricsListening?.closeAllConnections();
      return stopping.stop().then(() => store.close());
    };
    const url = `${tls ? 'https' : 'http'}://${urlHost(config.server.host)}:${port}`;
    return { server, store, port, url, metricsUrl, close: () => (closing ??= close()) };
  } catch (error) {
    metricsServer?.close();
    http1?.server.close();
    built?.close();
    await store.close();
    throw error;
  }
}

interface HttpListener {
  server: http.Server | https.Server;
  /** Stops accepting, lets requests in flight finish (up to requestTimeoutMs), then resolves. */
  stop(): Promise<void>;
}

/** The HTTP(S) server around `listener`, with Lucid's limits, timeouts and graceful stop. */
function httpListener(
  settings: Config['server'],
  tls: { cert: Buffer; key: Buffer } | null | undefined,
  listener: http.RequestListener,
): HttpListener {
  // Node checks headersTimeoutMs and requestTimeoutMs only every connectionsCheckingInterval
  // (30 s by default), so a slow-header client would hold its socket up to 30 s past the limit.
  const limits: http.ServerOptions = {
    maxHeaderSize: settings.maxHeaderBytes,
    connectionsCheckingInterval: TIMEOUT_CHECK_MS,
  };
  const server = tls
    ? createHttpsServer(tls, { ...limits, handshakeTimeout: settings.headersTimeoutMs }, listener)
    : http.createServer(limits, listener);
  server.maxConnections = settings.maxConnections;
  server.on('clientError', answerClientError);
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
  server.requestTimeout = settings.requestTimeoutMs;
  server.headersTimeout = settings.headersTimeoutMs;
  server.keepAliveTimeout = settings.keepAliveTimeoutMs;
  const stop = () =>
    new Promise<void>((resolve) => {
      stopping = true;
      const deadline = setTimeout(() => server.closeAllConnections(), settings.requestTimeoutMs);
      deadline.unref();
      server.close(() => {
        clearTimeout(deadline);
        resolve();
      });
      server.closeIdleConnections();
      for (const socket of sockets) if (socket.bytesRead === 0) socket.destroy();
    });
  return { server, stop };
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
      throw new ConfigError(
        `Cannot read ${option} (${file}): ${(error as Error).message}. ` +
          'Run `lucid init --tls` to make a self-signed one, or fix the path.',
      );
    }
  };
  return { cert: read('server.tls.cert', paths.cert), key: read('server.tls.key', paths.key) };
}

/**
 * TLS 1.3's suites (all AEAD with forward secrecy) and, for TLS 1.2, only ECDHE key exchange with
 * AES-GCM or ChaCha20-Poly1305: no CBC suite (SHA-1 or SHA-2 MAC), no static RSA key exchange. Every
 * client of the last decade offers one of these. The TLS 1.3 names must be listed too: Node caps the
 * protocol at TLS 1.2 when `ciphers` names none.
 */
export const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/**
 * The HTTPS server. A handshake must complete within `handshakeTimeout` (server.headersTimeoutMs,
 * the bound plain HTTP puts on a request's headers), and a connection whose handshake failed or
 * timed out is destroyed: Node only reports it (`tlsClientError`) and would keep the socket, so
 * idle or half-sent ClientHellos could hold every slot of server.maxConnections forever.
 */
function createHttpsServer(
  tls: { cert: Buffer; key: Buffer },
  options: https.ServerOptions,
  app: http.RequestListener,
): https.Server {
  let server: https.Server;
  try {
    server = https.createServer(
      { ...options, cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2', ciphers: TLS_CIPHERS, honorCipherOrder: true },
      app,
    );
  } catch (error) {
    throw new ConfigError(`server.tls: the certificate and key cannot be used together: ${(error as Error).message}`);
  }
  server.on('tlsClientError', (_error: Error, socket: Duplex) => socket.destroy());
  return server;
}

/**
 * The metrics listener: GET /metrics without a token, for a scraper, on its own port (bound to
 * `metrics.host`, loopback by default); nothing else is served there.
 */
function metricsListener(metrics: Metrics, logger: Logger): http.Server {
  return http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const reply = (
      status: number,
      body: string | Buffer,
      contentType: string,
      headers: Record<string, string> = {},
    ) => {
      res.writeHead(status, {
        'Content-Type': contentType,
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
        ...headers,
      });
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
        const fix = option === 'the port' ? 'pass --port' : `change ${option}`;
        reject(new Error(`Port ${port} on ${host} is already in use: stop the other process or ${fix}.`));
      } else if (error.code === 'EADDRNOTAVAIL')
        reject(new Error(`Cannot listen on ${host}: the address is not available on this machine.`));
      else if (error.code === 'EACCES')
        reject(new Error(`Not allowed to listen on port ${port} (ports below 1024 need privileges).`));
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
const CLIENT_ERRORS: Record<string, ErrorCode> = {
  HPE_HEADER_OVERFLOW: 'HEADERS_TOO_LARGE',
  ERR_HTTP_REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
};

/**
 * Node answers bytes that are not HTTP (and requests too slow or too large to parse) with a bare
 * status line; Lucid answers them like every other error, with a JSON message, then closes.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  // A reset connection, or one whose response has already begun: nothing more can be said on it.
  if (
    error.code === 'ECONNRESET' ||
    !socket.writable ||
    (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent
  ) {
    socket.destroy();
    return;
  }
  const { status, message } = describe(CLIENT_ERRORS[error.code ?? ''] ?? 'NOT_HTTP');
  const body = JSON.stringify({ message });
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
