import { LucidError } from '../errors.js';
import type { Handler } from './types.js';

/**
 * GET /metrics: the app's Prometheus metrics (an admin token; see also the metrics listener in
 * server.ts). They describe the whole store (key count, requests on every key), so an admin token
 * limited to a prefix is refused: it may see nothing outside its prefix.
 */
export const getMetrics: Handler<'getMetrics'> = async ({ metrics, principal }) => {
  if (principal.prefix !== '') {
    throw new LucidError('FORBIDDEN_PREFIX', {
      message: 'The metrics cover the whole store: a token limited to a prefix cannot read them.',
    });
  }
  const { contentType, body } = await metrics.render();
  return { status: 200, body, headers: { 'Content-Type': contentType, 'Cache-Control': 'no-store' } };
};
