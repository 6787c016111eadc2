/** Pure formatting: sizes, times, what a value looks like, JSON re-indented, hex dumps. */

export type ValueView =
  | { kind: 'json'; text: string; pretty: string }
  | { kind: 'text'; text: string }
  | { kind: 'image' }
  | { kind: 'binary' };

/** `text/plain; charset=utf-8` → `text/plain`. */
export function mediaType(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

/** The application/ subtypes that are text. */
const TEXT_APPLICATION =
  'json|xml|javascript|ecmascript|x-www-form-urlencoded|yaml|x-yaml|toml|sql|graphql|x-sh|x-ndjson';
const TEXT_TYPES = new RegExp(`^(text/.+|application/(${TEXT_APPLICATION})|.+/.+\\+(json|xml|yaml))$`);

export function isJsonType(contentType: string): boolean {
  const type = mediaType(contentType);
  return type === 'application/json' || type.endsWith('+json');
}

/** The bytes as UTF-8 text, or undefined when they are not valid UTF-8. */
export function utf8(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/** How to show a value: by its content type, falling back to hex when "text" is not UTF-8. */
export function viewOf(contentType: string, bytes: Uint8Array): ValueView {
  const type = mediaType(contentType);
  if (type.startsWith('image/')) return { kind: 'image' };
  if (!TEXT_TYPES.test(type)) return { kind: 'binary' };
  const text = utf8(bytes);
  if (text === undefined) return { kind: 'binary' };
  if (isJsonType(type)) {
    const pretty = reindentJson(text);
    if (pretty !== undefined) return { kind: 'json', text, pretty };
  }
  return { kind: 'text', text };
}

/**
 * JSON pretty-printed by re-indenting its tokens, not by parse-and-stringify, so that numbers
 * keep every digit (12345678901234567890 stays as written). Undefined when the text is not JSON.
 */
export function reindentJson(text: string, indent = '  '): string | undefined {
  try {
    JSON.parse(text);
  } catch {
    return undefined;
  }
  let out = '';
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (inString) {
      out += char;
      if (char === '\\') out += text[++i] ?? '';
      else if (char === '"') inString = false;
      continue;
    }
    if (char === ' ' || char === '\n' || char === '\r' || char === '\t') continue;
    if (char === '"') {
      inString = true;
      out += char;
    } else if (char === '{' || char === '[') {
      const close = char === '{' ? '}' : ']';
      let j = i + 1;
      while (/\s/.test(text[j] ?? '')) j++;
      if (text[j] === close) {
        out += char + close;
        i = j;
      } else {
        depth++;
        out += `${char}\n${indent.repeat(depth)}`;
      }
    } else if (char === '}' || char === ']') {
      depth--;
      out += `\n${indent.repeat(depth)}${char}`;
    } else if (char === ',') {
      out += `,\n${indent.repeat(depth)}`;
    } else if (char === ':') {
      out += ': ';
    } else {
      out += char;
    }
  }
  return out;
}

/** A classic hex dump: offset, 16 bytes in hex, the printable ASCII. */
export function hexDump(bytes: Uint8Array, limit = bytes.length): string {
  const lines: string[] = [];
  const end = Math.min(bytes.length, limit);
  for (let offset = 0; offset < end; offset += 16) {
    const row = bytes.subarray(offset, Math.min(offset + 16, end));
    const hex = Array.from(row, (byte) => byte.toString(16).padStart(2, '0'));
    const left = hex.slice(0, 8).join(' ');
    const right = hex.slice(8).join(' ');
    const ascii = Array.from(row, (byte) => (byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : '.')).join('');
    lines.push(`${offset.toString(16).padStart(8, '0')}  ${left.padEnd(23)}  ${right.padEnd(23)}  |${ascii}|`);
  }
  return lines.join('\n');
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** A local time: the time of day for today, the date and time otherwise. */
export function formatTime(iso: string | null | undefined, now = new Date()): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  if (date.toDateString() === now.toDateString()) return time;
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${time.slice(0, 5)}`;
}

/** "in 42 s", "in 3 min", "in 5 h", "in 12 days"; "now" once passed. */
export function formatIn(iso: string, now = Date.now()): string {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  if (Number.isNaN(seconds)) return iso;
  if (seconds <= 0) return 'now';
  if (seconds < 90) return `in ${seconds} s`;
  if (seconds < 90 * 60) return `in ${Math.round(seconds / 60)} min`;
  if (seconds < 36 * 3600) return `in ${Math.round(seconds / 3600)} h`;
  return `in ${Math.round(seconds / 86400)} days`;
}

/** A plain decimal number, as increment and decrement accept it. */
export function isDecimal(text: string | undefined): boolean {
  return text !== undefined && /^\s*-?\d+(\.\d+)?\s*$/.test(text);
}

/** A file name for a download of `key` (its last segment, slashes removed). */
export function fileNameOf(key: string): string {
  const name = key.split('/').filter(Boolean).pop() ?? 'value';
  return name.replace(/[\\:*?"<>|]/g, '_') || 'value';
}
