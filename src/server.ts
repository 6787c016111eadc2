/** Starts Lucid on a real socket: opens the store, builds the app, listens, and shuts down gracefully. */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { pino, type Logger } from 'pino';
import { createApp } from './app.js';
import { holdContinue } from './body.js';
import type { Config } from './config.js';
import { openBackend } from './store/open.js';
import type { Clock, Store } from './store/types.js';

export interface ServerOptions {
  config: Config;
  logger?: Logger;
  /** A store to use instead of opening the one the config names (tests). */
  store?: Store;
  clock?: Clock;
  validateResponses?: boolean;
}

export interface RunningServer {
  server: http.Server;
  store: Store;
  url: string;
  port: number;
  /** Stops accepting, lets in-flight requests finish, then closes the store. */
  close(): Promise<void>;
}

/** Opens the store the config names. */
export function openStore(config: Config, logger: Logger, clock?: Clock): Promise<Store> {
  return openBackend(config, (error) => logger.warn({ err: error }, 'store background work failed'), clock);
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { config } = options;
  const logger = options.logger ?? pino({ level: config.log.level });
  const store = options.store ?? (await openStore(config, logger, options.clock));
  try {
    const lucid = await createApp({ config, store, logger, clock: options.clock, validateResponses: options.validateResponses });
    const { app } = lucid;
    const server = http.createServer(app);
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
    const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
    let closing: Promise<void> | undefined;
    return {
      server,
      store,
      port,
      url: `http://${host}:${port}`,
      close: () =>
        (closing ??= new Promise<void>((resolve) => {
          stopping = true;
          lucid.close();
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
    await store.close();
    throw error;
  }
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') reject(new Error(`Port ${port} on ${host} is already in use: stop the other process or pass --port.`));
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
