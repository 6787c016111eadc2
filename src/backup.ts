/**
 * The backup format and the loops that write and read it, over any Store (`lucid export` and
 * `lucid import` are their command-line faces in cli/backup.ts).
 *
 * An export is NDJSON (one JSON document per line, UTF-8), optionally gzipped:
 *
 *   {"format":"lucid-export","version":1,"exportedAt":"2026-...Z","prefix":"","lucid":"1.0.0"}
 *   {"key":"a","value":"<base64>","contentType":"text/plain","createdAt":1764158400000,"updatedAt":...,
 *    "expiresAt":null,"locked":false,"lockHolder":null,"lockExpiresAt":null,"version":1,"etag":"\"1-abc\""}
 *   ...one line per entry, in key order...
 *   {"end":true,"count":2}
 *
 * Times are milliseconds since the epoch (exact, no parsing); values are standard base64, so any
 * bytes survive. The last line carries the count: a file cut short (a full disk, a killed export,
 * a partial copy) has no such line and is refused as truncated instead of restoring half the data
 * as if it were all.
 */
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { importEntry, type ImportOutcome } from './kv.js';
import { storeEntries } from './store/entries.js';
import type { Entry, Store } from './store/types.js';
import { VERSION } from './version.js';

export const FORMAT = 'lucid-export';
export const FORMAT_VERSION = 1;
const MAX_KEY_CHARACTERS = 512;
/** Imports keep this many updates in flight: enough to hide each one's round trip, few enough to bound memory. */
const IMPORT_WINDOW = 64;

/** A problem with the file being imported, with the line it was found on. */
export class BackupFormatError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
    this.name = 'BackupFormatError';
  }
}

/** One entry's line in an export: the entry's metadata as stored, its key, and its value in base64. */
export type ExportLine = Omit<Entry, 'value'> & { key: string; value: string };

export interface ExportSummary {
  count: number;
  valueBytes: number;
}

/** Writes every live entry under `prefix` to `out` as one export; resolves when the last line is written. */
export async function exportStore(
  store: Store,
  prefix: string,
  out: Writable,
  onEntry?: (summary: ExportSummary) => void,
): Promise<ExportSummary> {
  const summary: ExportSummary = { count: 0, valueBytes: 0 };
  const write = async (document: object) => {
    if (!out.write(`${JSON.stringify(document)}\n`)) await once(out, 'drain');
  };
  await write({
    format: FORMAT,
    version: FORMAT_VERSION,
    exportedAt: new Date().toISOString(),
    prefix,
    lucid: VERSION,
  });
  for await (const { key, entry } of storeEntries(store, prefix)) {
    const line: ExportLine = {
      key,
      value: entry.value.toString('base64'),
      contentType: entry.contentType,
      createdAt: entry.createdAt,
      updatedAt: entry.updatedAt,
      expiresAt: entry.expiresAt,
      locked: entry.locked,
      lockHolder: entry.lockHolder,
      lockExpiresAt: entry.lockExpiresAt,
      version: entry.version,
      etag: entry.etag,
    };
    await write(line);
    summary.count += 1;
    summary.valueBytes += entry.value.length;
    onEntry?.(summary);
  }
  await write({ end: true, count: summary.count });
  return summary;
}

export type ImportCounts = Record<ImportOutcome, number> & { total: number };

export interface ImportOptions {
  skipExisting?: boolean;
  /** Called after every entry applied. */
  onEntry?: (counts: ImportCounts) => void;
}

/**
 * Reads an export from `input` and writes each entry through `importEntry`. Entries are applied
 * as they are read: when the file turns out damaged or truncated, what came before it has been
 * imported, and the error (a BackupFormatError) says so through `counts`, which is always up to date.
 */
export async function importStore(
  store: Store,
  input: Readable,
  counts: ImportCounts,
  options: ImportOptions = {},
): Promise<void> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  const window = new ImportWindow(store, counts, options);
  let lineNumber = 0;
  let ended = false;
  try {
    for await (const line of lines) {
      lineNumber += 1;
      if (window.failure !== undefined) break;
      if (ended)
        throw new BackupFormatError(`line ${lineNumber} follows the end line: the file is damaged`, lineNumber);
      const document = parseLine(line, lineNumber);
      if (lineNumber === 1) {
        checkHeader(document);
        continue;
      }
      if (isRecord(document) && document.end === true) {
        await window.drain();
        if (document.count !== lineNumber - 2) {
          throw new BackupFormatError(countMismatch(document.count, lineNumber - 2), lineNumber);
        }
        ended = true;
        continue;
      }
      const { key, entry } = parseEntry(document, lineNumber);
      await window.apply(key, entry);
    }
  } catch (error) {
    await window.drain();
    throw error;
  } finally {
    lines.close();
  }
  await window.drain();
  if (window.failure !== undefined) throw window.failure;
  if (lineNumber === 0) throw new BackupFormatError('the file is empty: it is not a Lucid export', 0);
  if (!ended) {
    throw new BackupFormatError(
      `the file ends at line ${lineNumber} without its end line: it is truncated`,
      lineNumber,
    );
  }
}

/** Up to IMPORT_WINDOW entries written at once; the first failure is kept and stops the import. */
class ImportWindow {
  readonly #inFlight = new Set<Promise<void>>();
  failure: unknown;

  constructor(
    private readonly store: Store,
    private readonly counts: ImportCounts,
    private readonly options: ImportOptions,
  ) {}

  /** Starts writing one entry; waits while the window is full. */
  async apply(key: string, entry: Entry): Promise<void> {
    const task = importEntry(this.store, key, entry, this.options).then(
      (outcome) => {
        this.counts[outcome] += 1;
        this.counts.total += 1;
        this.options.onEntry?.(this.counts);
      },
      (error: unknown) => {
        this.failure ??= error;
      },
    );
    const tracked = task.finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
    if (this.#inFlight.size >= IMPORT_WINDOW) await Promise.race(this.#inFlight);
  }

  async drain(): Promise<void> {
    await Promise.all(this.#inFlight);
  }
}

function parseLine(line: string, lineNumber: number): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw new BackupFormatError(`line ${lineNumber} is not valid JSON: the file is damaged`, lineNumber);
  }
}

function countMismatch(counted: unknown, held: number): string {
  return `the end line counts ${String(counted)} entries but the file holds ${held}: the file is damaged`;
}

function checkHeader(document: unknown): void {
  if (!isRecord(document) || document.format !== FORMAT)
    throw new BackupFormatError('the first line is not a Lucid export header: this is not a Lucid export', 1);
  if (document.version !== FORMAT_VERSION) {
    throw new BackupFormatError(
      `the export has format version ${String(document.version)}; this Lucid reads version ${FORMAT_VERSION}`,
      1,
    );
  }
}

function parseEntry(document: unknown, line: number): { key: string; entry: Entry } {
  const bad = (what: string) => new BackupFormatError(`line ${line}: ${what}: the file is damaged`, line);
  if (!isRecord(document)) throw bad('not an entry');
  const { key, value } = document;
  if (typeof key !== 'string' || key.length === 0 || [...key].length > MAX_KEY_CHARACTERS)
    throw bad('the key is missing or longer than 512 characters');
  // Strict base64: Buffer.from would silently skip damaged characters and restore different bytes.
  if (typeof value !== 'string' || value.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(value))
    throw bad(`the value of "${key}" is not base64`);
  const time = (name: string, nullable: boolean): number | null => {
    const field = document[name];
    if (nullable && field === null) return null;
    if (typeof field !== 'number' || !Number.isSafeInteger(field) || field < 0)
      throw bad(`${name} of "${key}" is not a time in milliseconds`);
    return field;
  };
  const text = (name: string, nullable: boolean): string | null => {
    const field = document[name];
    if (nullable && field === null) return null;
    if (typeof field !== 'string') throw bad(`${name} of "${key}" is not a string`);
    return field;
  };
  if (typeof document.locked !== 'boolean') throw bad(`locked of "${key}" is not true or false`);
  if (typeof document.version !== 'number' || !Number.isSafeInteger(document.version) || document.version < 1)
    throw bad(`version of "${key}" is not a positive integer`);
  const entry: Entry = {
    value: Buffer.from(value, 'base64'),
    contentType: text('contentType', false)!,
    createdAt: time('createdAt', false)!,
    updatedAt: time('updatedAt', false)!,
    expiresAt: time('expiresAt', true),
    locked: document.locked,
    lockHolder: text('lockHolder', true),
    lockExpiresAt: time('lockExpiresAt', true),
    version: document.version,
    etag: text('etag', false)!,
  };
  return { key, entry };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function emptyCounts(): ImportCounts {
  return { total: 0, created: 0, replaced: 0, unchanged: 0, skipped: 0, expired: 0 };
}
