import { consoleReply } from './console-page.js';
import type { Handler } from './types.js';

/** GET /ui: the web console, or the welcome page saying it is turned off. */
export const getConsole: Handler<'getConsole'> = async ({ config }) => consoleReply(config);
