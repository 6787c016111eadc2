import type { Handler } from './types.js';

/** GET /metrics: the app's Prometheus metrics (an admin token; see also the metrics listener in server.ts). */
export const getMetrics: Handler<'getMetrics'> = async ({ metrics }) => {
  const { contentType, body } = await metrics.render();
  return { status: 200, body, headers: { 'Content-Type': contentType, 'Cache-Control': 'no-store' } };
};
