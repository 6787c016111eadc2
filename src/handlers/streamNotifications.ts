import { effectivePrefix } from './scope.js';
import type { Handler } from './types.js';

/**
 * GET /api/notifications: server-sent events of every change under the prefix. Replays from
 * Last-Event-ID when the feed still holds it (a `reset` event otherwise), sends heartbeats, and
 * drops a client that falls more than `maxLagBytes` behind instead of buffering for it.
 */
export const streamNotifications: Handler<'streamNotifications'> = async ({ request, response, query, principal, feed, config }) => {
  const prefix = effectivePrefix(principal, query.prefix as string | undefined);
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
  if (typeof lastId === 'string' && lastId !== '') {
    const missed = feed.since(lastId);
    if (missed === undefined) send(feed.resetFrame('The changes since Last-Event-ID are no longer available; reload your state.'));
    else for (const event of missed) if (event.key.startsWith(prefix)) send(event.frame);
  }
  // Replay and subscription happen in the same tick, so no change falls between them.
  const unsubscribe = feed.subscribe((event) => {
    if (event.key.startsWith(prefix)) send(event.frame);
  });
  const heartbeat = setInterval(() => send(': heartbeat\n\n'), heartbeatMs);
  const maxDuration = query.maxDuration as number | undefined;
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
