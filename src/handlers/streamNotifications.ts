import { effectivePrefix } from './scope.js';
import type { Handler } from './types.js';

/**
 * GET /api/notifications: server-sent events of every change under the prefix. Replays from
 * Last-Event-ID when the feed still holds it (a `reset` event otherwise), sends heartbeats, and
 * drops a client that falls more than `maxLagBytes` behind instead of buffering for it.
 */
export const streamNotifications: Handler<'streamNotifications'> = async ({ request, response, query, principal, feed, config }) => {
  const prefix = effectivePrefix(principal, query.prefix);
  const { heartbeatMs, maxLagBytes } = config.notifications;
  response.writeHead(200, {
    'Content-Type': 'text/event-stream',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  response.flushHeaders();
  const send = (frame: string) => {
    if (response.writableLength > maxLagBytes) {
      response.destroy();
      return;
    }
    response.write(frame);
  };
  send('retry: 2000\n\n');

  const lastId = request.headers['last-event-id'];
  const unsubscribe = feed.follow(typeof lastId === 'string' && lastId !== '' ? lastId : undefined, (frame, key) => {
    if (key === undefined || key.startsWith(prefix)) send(frame);
  });
  const heartbeat = setInterval(() => send(': heartbeat\n\n'), heartbeatMs);
  const maxDuration = query.maxDuration;
  const deadline = maxDuration === undefined ? undefined : setTimeout(() => response.end(), maxDuration * 1000);
  const stop = () => {
    unsubscribe();
    clearInterval(heartbeat);
    clearTimeout(deadline);
  };
  response.on('close', stop);
  request.socket.setTimeout(0);
  return { status: 200, streamed: true };
};
