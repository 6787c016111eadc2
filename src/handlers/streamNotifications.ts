import type { components } from '../../generated/lucid.js';
import { effectivePrefix } from './scope.js';
import type { Handler } from './types.js';

type StreamError = components['schemas']['StreamError'];

/** setTimeout's longest delay (2^31 - 1 ms, about 24.8 days); a longer one would fire at once. */
const LONGEST_TIMER_MS = 2 ** 31 - 1;

/**
 * GET /api/notifications: server-sent events of every change under the prefix. Replays from
 * Last-Event-ID when the feed still holds it (a `reset` event otherwise), sends heartbeats, and
 * drops a client that falls more than `maxLagBytes` behind instead of buffering for it.
 *
 * A stream lives no longer than its token: when the token is revoked (seen within the revocation
 * list's poll interval) or reaches its `exp` (plus `auth.clockSkewSeconds`, the leeway every request
 * gets), the stream sends an `event: error` message whose data names why, then ends.
 */
export const streamNotifications: Handler<'streamNotifications'> = async (context) => {
  const { request, response, query, principal, feed, config, revocations, now } = context;
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
    if (response.writableEnded) return;
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
  const endWith = (error: StreamError) => {
    send(`event: error\ndata: ${JSON.stringify(error)}\n\n`);
    response.end();
  };
  const { tokenId, expiresAt } = principal;
  const unfollowRevocations =
    tokenId === undefined || revocations === undefined
      ? undefined
      : revocations.onChange(() => {
          if (revocations.has(tokenId))
            endWith({ code: 'token_revoked', message: 'The token of this stream was revoked.' });
        });
  const expiry = new Alarm(expiresAt + config.auth.clockSkewSeconds * 1000 - now, () =>
    endWith({ code: 'token_expired', message: 'The token of this stream has expired.' }),
  );
  const stop = () => {
    unsubscribe();
    unfollowRevocations?.();
    expiry.cancel();
    clearInterval(heartbeat);
    clearTimeout(deadline);
  };
  response.on('close', stop);
  request.socket.setTimeout(0);
  return { status: 200, streamed: true };
};

/**
 * Calls `fire` after `delayMs` (never, for an infinite delay), however long: setTimeout alone overflows past 24.8 days.
 */
class Alarm {
  #timer: NodeJS.Timeout | undefined;

  constructor(delayMs: number, fire: () => void) {
    if (!Number.isFinite(delayMs)) return;
    const due = Date.now() + Math.max(delayMs, 0);
    const arm = () => {
      const left = due - Date.now();
      this.#timer = left > LONGEST_TIMER_MS ? setTimeout(arm, LONGEST_TIMER_MS) : setTimeout(fire, Math.max(left, 0));
    };
    arm();
  }

  cancel(): void {
    clearTimeout(this.#timer);
  }
}
