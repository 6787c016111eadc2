/**
 * Request bodies. They are read only once a request is authorised (`100 Continue` is held back
 * until then), never buffered past their limit, and inflated and parsed for JSON operations. An
 * answer sent before the body has arrived closes the connection with a lingering close, so a client
 * still sending its body can read the answer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { LucidError } from '../errors.js';

const AWAITING_CONTINUE = Symbol('lucid.awaitingContinue');

type Marked = IncomingMessage & { [AWAITING_CONTINUE]?: boolean };

/**
 * For the server's `checkContinue` event: Node would answer `Expect: 100-continue` at once; instead
 * the client is told to send its body only when it is about to be read (allowBody), so a refused
 * request (401, 403, 413) never has its body sent at all.
 */
export function holdContinue(req: IncomingMessage): void {
  (req as Marked)[AWAITING_CONTINUE] = true;
}

/** Call right before reading a request's body: sends the `100 Continue` the client may be waiting for. */
export function allowBody(req: IncomingMessage, res: ServerResponse): void {
  const marked = req as Marked;
  if (marked[AWAITING_CONTINUE] !== true) return;
  marked[AWAITING_CONTINUE] = false;
  if (!res.headersSent) res.writeContinue();
}

/**
 * Whether the request's body has not been received in full: answering now must close the
 * connection, or Node would read and discard the rest of the body, however large, to reuse it.
 */
export function bodyPending(req: IncomingMessage): boolean {
  return !req.complete;
}

/** How long, and how many more bytes, a lingering close reads and discards before closing. */
export const LINGER_MS = 5000;
export const LINGER_BYTES = 64 * 1024 * 1024;

/**
 * Call when answering a request whose body has not all arrived (the answer carries
 * `Connection: close`). Closing at once would make the kernel reset the connection while the
 * client is still sending, and a client that writes its whole body before reading (most HTTP
 * libraries) would then never see the answer. As nginx does, the server sends its answer and a
 * FIN, then keeps reading and discarding what the client still sends, without buffering it, until
 * the body ends, the client closes, LINGER_MS pass or LINGER_BYTES more arrive; then it closes.
 * A client held at `Expect: 100-continue` never sends its body: its connection closes at once.
 */
export function lingerOnClose(req: IncomingMessage): void {
  if (req.complete || (req as Marked)[AWAITING_CONTINUE] === true) return;
  const socket = req.socket as Socket & { destroySoon?: () => void };
  // Node calls destroySoon() once an answer marked `Connection: close` has been written; by then it
  // has already set the rest of the request to be discarded (IncomingMessage._dump).
  socket.destroySoon = () => {
    if (socket.writable) socket.end();
    const readAtStart = socket.bytesRead;
    const deadline = Date.now() + LINGER_MS;
    const close = () => {
      clearInterval(watch);
      socket.destroy();
    };
    const watch = setInterval(() => {
      if (Date.now() >= deadline || socket.bytesRead - readAtStart > LINGER_BYTES) close();
    }, 100);
    watch.unref();
    req.once('end', close);
    socket.once('end', close);
    socket.once('close', () => clearInterval(watch));
  };
}

/**
 * Reads a request's raw body, refusing with `tooLarge()` as soon as it is known to exceed `limit`
 * (from Content-Length, or while reading) without buffering past it. What is left of a refused body
 * is discarded as it arrives.
 */
export function readBody(
  req: IncomingMessage,
  res: ServerResponse,
  limit: number,
  tooLarge: () => LucidError,
): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.reject(tooLarge());
  allowBody(req, res);
  return collect(req, limit, tooLarge);
}

/** Reads `stream` into one Buffer of at most `limit` bytes. */
function collect(stream: Readable, limit: number, tooLarge: () => LucidError): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      finish();
      // Keep the stream flowing with no listener: the rest is dropped, not buffered.
      stream.resume();
      reject(tooLarge());
    };
    const onEnd = () => {
      finish();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    // A body cut short, a client gone, or one that does not inflate: the request's fault.
    const onError = (error: Error) => {
      finish();
      reject(new LucidError('BODY_UNREADABLE', { cause: error }));
    };
    const onClose = () => {
      finish();
      reject(new LucidError('BODY_UNREADABLE'));
    };
    const finish = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
    stream.once('close', onClose);
  });
}

/**
 * Reads and parses a JSON body of at most `limit` bytes (after inflating gzip, deflate or br).
 * Whatever its Content-Type says, a body that parses as JSON is taken (`curl -d` labels JSON as a
 * form); a missing body or one that is not JSON is refused with `hint`, which says what to send.
 */
export async function readJson(
  req: IncomingMessage,
  res: ServerResponse,
  limit: number,
  hint: string,
): Promise<unknown> {
  const tooLarge = () =>
    new LucidError('VALUE_TOO_LARGE', { message: `The operation body is larger than ${formatBytes(limit)}.` });
  checkCharset(req.headers['content-type']);
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  let raw: Buffer;
  if (encoding === 'identity') {
    raw = await readBody(req, res, limit, tooLarge);
  } else {
    const inflate = INFLATERS[encoding];
    if (inflate === undefined) throw new LucidError('UNSUPPORTED_ENCODING');
    allowBody(req, res);
    const inflated = req.pipe(inflate());
    // A body that does not inflate must not leave the request half-read; a request cut short must
    // not leave the inflater waiting.
    inflated.once('error', () => req.resume());
    req.once('close', () => {
      if (!req.complete) inflated.destroy(new Error('The request ended before its body did.'));
    });
    raw = await collect(inflated, limit, tooLarge);
  }
  if (raw.length === 0) throw new LucidError('MALFORMED_JSON', { message: `The request body is missing: ${hint}` });
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch {
    throw new LucidError('MALFORMED_JSON', { message: `The request body is not valid JSON: ${hint}` });
  }
}

const INFLATERS: Record<string, (() => zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress) | undefined> = {
  gzip: () => zlib.createGunzip(),
  'x-gzip': () => zlib.createGunzip(),
  deflate: () => zlib.createInflate(),
  br: () => zlib.createBrotliDecompress(),
};

/** JSON is UTF-8 (RFC 8259 §8.1): a body labelled with another charset is refused rather than misread. */
function checkCharset(contentType: string | undefined): void {
  const charset = contentType && /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType)?.[1]?.toLowerCase();
  if (charset && charset !== 'utf-8' && charset !== 'utf8') throw new LucidError('UNSUPPORTED_ENCODING');
}

function formatBytes(bytes: number): string {
  return bytes % 1024 === 0 ? `${bytes / 1024}kb` : `${bytes} bytes`;
}
