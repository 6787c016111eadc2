/** `lucid server`: loads the config, starts Lucid, and stops gracefully on SIGTERM or SIGINT. */
import { pino } from 'pino';
import { loadConfig, type DeepPartial, type Config } from '../config.js';
import { ConfigError } from '../errors.js';
import { startServer } from '../server.js';
import { redactUrl } from '../store/shared.js';
import { VERSION } from '../version.js';

export interface ServerCommandOptions {
  config?: string;
  port?: string;
  host?: string;
}

export async function serve(options: ServerCommandOptions, err: (text: string) => void): Promise<void> {
  const overrides: DeepPartial<Config> = { server: {} };
  if (options.port !== undefined) {
    if (!/^\d+$/.test(options.port) || Number(options.port) > 65535)
      throw new ConfigError(`--port must be a number from 0 to 65535; got "${options.port}".`);
    overrides.server!.port = Number(options.port);
  }
  if (options.host !== undefined) overrides.server!.host = options.host;
  const { config, file, warnings } = loadConfig({ file: options.config, overrides });
  const logger = pino({ level: config.log.level });
  // On stderr for whoever started the server, and in the log for whoever collects it.
  for (const warning of warnings) {
    err(`Warning: ${warning}\n`);
    logger.warn(warning);
  }
  if (!config.auth.enabled) {
    const banner = '!'.repeat(72);
    err(
      `${banner}\n` +
        '!! AUTH IS DISABLED (auth.enabled: false): anyone who can reach this\n' +
        '!! port can read, change and delete every key.\n' +
        `${banner}\n`,
    );
    logger.warn('auth is disabled: every request is accepted without a token');
  }
  const running = await startServer({ config, logger });
  err(`Lucid ${VERSION} listening on ${running.url} (config ${file}, store ${redactUrl(config.store)})\n`);
  if (running.metricsUrl !== undefined) err(`Metrics (no token) at ${running.metricsUrl}\n`);
  logger.info({ url: running.url, metricsUrl: running.metricsUrl, version: VERSION }, 'listening');

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping: finishing in-flight requests');
    running.close().then(
      () => {
        logger.info('stopped');
        logger.flush();
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
