/** What `/` and `/ui` answer: the web console, or the welcome page when it is off or not built. */
import type { Config } from '../config.js';
import { CONSOLE_HEADERS, WELCOME_HEADERS, consolePage, welcomePage } from '../console.js';
import type { Reply } from './types.js';

export function consoleReply(config: Config): Reply<'getRoot' | 'getConsole'> {
  const page = config.ui.enabled ? consolePage() : undefined;
  if (page !== undefined) return { status: 200, body: page, headers: { ...CONSOLE_HEADERS } };
  return {
    status: 200,
    body: welcomePage(config.ui.enabled ? 'missing' : 'disabled'),
    headers: { ...WELCOME_HEADERS },
  };
}
