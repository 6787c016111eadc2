/** Raw TCP conversations with a server, for requests fetch refuses to send (malformed, half-sent, slow). */
import net from 'node:net';

export interface RawExchange {
  /** Everything the server sent, as latin1 (byte for byte). */
  reply: string;
  /** The status code of the first response line, or undefined when none came. */
  status: number | undefined;
  /** Whether the server closed (or reset) the connection before `waitMs` ran out. */
  closed: boolean;
  /** Milliseconds from connecting to the close (or to giving up). */
  elapsedMs: number;
}

export interface RawOptions {
  /** Give up (and destroy the socket) after this long. */
  waitMs?: number;
  /** Pause between chunks (slow clients). */
  gapMs?: number;
  /** Stop waiting as soon as this much of a reply arrived: a full answer on a kept-alive connection. */
  doneWhen?: (reply: string) => boolean;
}

/** Connects, writes each chunk in turn, and collects the answer until the server closes or `waitMs` runs out. */
export function rawExchange(
  port: number,
  chunks: Array<string | Buffer>,
  options: RawOptions = {},
): Promise<RawExchange> {
  const waitMs = options.waitMs ?? 5000;
  return new Promise((resolve) => {
    const started = Date.now();
    const received: Buffer[] = [];
    let finished = false;
    const socket = net.connect({ port, host: '127.0.0.1' });
    const finish = (closed: boolean) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      const reply = Buffer.concat(received).toString('latin1');
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(reply);
      resolve({ reply, status: match ? Number(match[1]) : undefined, closed, elapsedMs: Date.now() - started });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      if (options.doneWhen?.(Buffer.concat(received).toString('latin1'))) finish(false);
    });
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.once('connect', async () => {
      for (const chunk of chunks) {
        if (finished || socket.destroyed) return;
        socket.write(chunk);
        if (options.gapMs) await new Promise((r) => setTimeout(r, options.gapMs));
      }
    });
  });
}

/** Whether a raw reply holds a complete response (headers, and a body of its Content-Length). */
export function completeResponse(reply: string): boolean {
  const end = reply.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const length = /\r\ncontent-length: *(\d+)/i.exec(reply.slice(0, end));
  return reply.length - (end + 4) >= Number(length?.[1] ?? 0);
}

/** Opens a connection and resolves once it is connected; the caller closes it. */
export function openSocket(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}
