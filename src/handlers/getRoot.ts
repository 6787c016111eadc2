import { consoleReply } from './console-page.js';
import type { Handler } from './types.js';

/** GET /: the web console (the same page as /ui), or a welcome page pointing to /docs when it is off. */
export const getRoot: Handler<'getRoot'> = async ({ config }) => consoleReply(config);
