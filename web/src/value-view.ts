/** How a value looks: its metadata, and its bytes as JSON, text, an image or a hex dump. Pure rendering. */
import type { LucidValue } from '../../src/client/index.js';
import { h } from './dom.js';
import { fileNameOf, formatIn, formatSize, formatTime, hexDump, type ValueView } from './format.js';

/** At most this much of a binary value is shown in hex; the rest is a download away. */
const HEX_LIMIT = 16 * 1024;

/** The value's type, size, times, lock and ETag, as a description list. */
export function metadata(value: LucidValue, size: number): HTMLElement {
  const rows: [string, Node | string][] = [
    ['Type', value.contentType],
    ['Size', `${formatSize(size)}${size >= 1024 ? ` (${size} bytes)` : ''}`],
    ['Updated', value.lastModified ? formatTime(new Date(value.lastModified).toISOString()) : '—'],
    ['Expires', expiryDetail(value.expiresAt)],
    ['Lock', lockDetail(value)],
    ['ETag', h('code', {}, value.etag)],
  ];
  return h('dl', { class: 'meta' }, ...rows.flatMap(([term, detail]) => [h('dt', {}, term), h('dd', {}, detail)]));
}

function expiryDetail(expiresAt: string | null | undefined): Node | string {
  if (!expiresAt) return 'never';
  const relative = h('time', { datetime: expiresAt, 'data-relative': '' }, formatIn(expiresAt));
  return h('span', {}, relative, ` (${formatTime(expiresAt)})`);
}

function lockDetail(value: LucidValue): Node | string {
  if (value.lockHolder === null) return 'unlocked';
  const lease = value.lockExpiresAt ? `, lease ends ${formatTime(value.lockExpiresAt)}` : '';
  return h('span', { class: 'badge locked' }, `locked by ${value.lockHolder}${lease}`);
}

/** The value itself; `url` is an object URL of its bytes (for images and downloads). */
export function valueView(key: string, view: ValueView, bytes: Uint8Array, url: string): HTMLElement {
  switch (view.kind) {
    case 'json':
      return h(
        'figure',
        { class: 'value' },
        h('figcaption', {}, 'JSON'),
        h('pre', { class: 'code', tabindex: 0, 'aria-label': `Value of ${key}, JSON` }, view.pretty),
      );
    case 'text':
      return h(
        'figure',
        { class: 'value' },
        h('figcaption', {}, 'Text'),
        h('pre', { class: 'code wrap', tabindex: 0, 'aria-label': `Value of ${key}, text` }, view.text),
      );
    case 'image':
      return h(
        'figure',
        { class: 'value' },
        h('figcaption', {}, 'Image'),
        h('img', { class: 'image', src: url, alt: `The image stored under ${key}` }),
      );
    case 'binary':
      return binaryView(key, bytes, url);
  }
}

function binaryView(key: string, bytes: Uint8Array, url: string): HTMLElement {
  const shown = Math.min(bytes.length, HEX_LIMIT);
  const caption =
    shown < bytes.length
      ? `Binary: the first ${formatSize(shown)} of ${formatSize(bytes.length)} (download it for the rest)`
      : 'Binary (hex)';
  return h(
    'figure',
    { class: 'value' },
    h('figcaption', {}, caption),
    h(
      'pre',
      { class: 'code hex', tabindex: 0, 'aria-label': `Value of ${key}, hexadecimal dump` },
      hexDump(bytes, HEX_LIMIT),
    ),
    h('a', { class: 'button', href: url, download: fileNameOf(key) }, `Download ${formatSize(bytes.length)}`),
  );
}
