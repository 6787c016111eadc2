/**
 * The on-disk encoding of an entry: a small binary frame instead of Keyv's JSON + base64, so a
 * stored byte costs one byte on disk.
 *
 *   offset 0      1 byte    format version (1)
 *   offset 1      13 bytes  expiresAt as ASCII digits, zero-padded; all zeros for "never"
 *   offset 14     4 bytes   length N of the metadata JSON (uint32, big-endian)
 *   offset 18     N bytes   metadata JSON: content type, times, lock, version, etag
 *   offset 18+N   rest      the value's bytes, untouched
 *
 * The expiry sits at a fixed offset in ASCII so SQLite can index it as a generated column
 * (see sqlite.ts) and sweep expired rows without decoding frames.
 */
import type { Entry } from './types.js';

const FORMAT = 1;
const EXPIRY_DIGITS = 13;
const HEADER = 1 + EXPIRY_DIGITS + 4;

interface Meta {
  t: string;
  c: number;
  u: number;
  l: boolean;
  /** Lock holder and lease end; omitted when unlocked, to keep frames small. */
  h?: string | null;
  x?: number | null;
  v: number;
  e: string;
}

export function encodeEntry(entry: Entry): Buffer {
  const meta: Meta = {
    t: entry.contentType,
    c: entry.createdAt,
    u: entry.updatedAt,
    l: entry.locked,
    v: entry.version,
    e: entry.etag,
  };
  if (entry.locked) {
    meta.h = entry.lockHolder;
    meta.x = entry.lockExpiresAt;
  }
  const metaBytes = Buffer.from(JSON.stringify(meta), 'utf8');
  const frame = Buffer.allocUnsafe(HEADER + metaBytes.length + entry.value.length);
  frame[0] = FORMAT;
  frame.write(String(entry.expiresAt ?? 0).padStart(EXPIRY_DIGITS, '0'), 1, EXPIRY_DIGITS, 'latin1');
  frame.writeUInt32BE(metaBytes.length, 1 + EXPIRY_DIGITS);
  metaBytes.copy(frame, HEADER);
  entry.value.copy(frame, HEADER + metaBytes.length);
  return frame;
}

export function decodeEntry(frame: Buffer): Entry {
  const metaLength = checkHeader(frame);
  const meta = readMeta(frame, metaLength);
  // Built here, in entryOf's field order (one hidden class, test/unit/entry-shape.test.ts), with no object between:
  // this runs on every read that misses the cache. The value is a view, not a copy: the frame belongs to this entry.
  return {
    value: frame.subarray(HEADER + metaLength),
    contentType: meta.t,
    createdAt: meta.c,
    updatedAt: meta.u,
    expiresAt: readExpiry(frame),
    locked: meta.l,
    lockHolder: meta.h ?? null,
    lockExpiresAt: meta.x ?? null,
    version: meta.v,
    etag: meta.e,
  };
}

/** The number of leading bytes of a frame that `decodeHead` needs, when metadata is of usual size. */
export const HEAD_BYTES = 4096;

/** Decodes the metadata from the start of a frame (at least its header and metadata). */
export function decodeHead(head: Buffer): { metadata: Omit<Entry, 'value'>; valueOffset: number } {
  // The value decodeEntry cuts from a head may be partial; it is dropped here.
  const { value, ...metadata } = decodeEntry(head);
  return { metadata, valueOffset: head.length - value.length };
}

/** Checks the format byte and that the metadata is all there; answers the metadata's length. */
function checkHeader(head: Buffer): number {
  if (head.length < HEADER || head[0] !== FORMAT) {
    throw new Error(`Unknown entry format ${String(head[0])}`);
  }
  const metaLength = head.readUInt32BE(1 + EXPIRY_DIGITS);
  if (head.length < HEADER + metaLength) throw new RangeError('Frame head too short for its metadata');
  return metaLength;
}

function readMeta(head: Buffer, metaLength: number): Meta {
  return JSON.parse(head.toString('utf8', HEADER, HEADER + metaLength)) as Meta;
}

/** The expiry in milliseconds, or null for "never" (all zeros). */
function readExpiry(head: Buffer): number | null {
  const expiresAt = Number(head.toString('latin1', 1, 1 + EXPIRY_DIGITS));
  return expiresAt === 0 ? null : expiresAt;
}

/** The SQL expression that reads the expiry back out of a frame stored in column `column`. */
export function expirySql(column: string): string {
  return `CAST(CAST(substr(${column}, 2, ${EXPIRY_DIGITS}) AS TEXT) AS INTEGER)`;
}
