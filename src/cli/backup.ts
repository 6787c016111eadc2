/**
 * `lucid export` and `lucid import`: a consistent snapshot of the store to a file (or stdout), and
 * back. The format is backup.ts's; this module owns files, gzip, the progress bar and the summary.
 */
import {
  closeSync,
  createReadStream,
  createWriteStream,
  openSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { finished, pipeline } from 'node:stream/promises';
import type { Readable, Writable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { pino } from 'pino';
import { emptyCounts, exportStore, importStore } from '../backup.js';
import { loadConfig } from '../config.js';
import { StoreInUseError } from '../errors.js';
import { openStore } from '../server.js';
import type { Store } from '../store/types.js';
import { progress, rate, seconds } from './progress.js';

export interface ExportOptions {
  config?: string;
  prefix?: string;
  out?: string;
  gzip?: boolean;
}

/**
 * Writes the snapshot to `--out` (created with mode 0600, written beside it and renamed into place
 * when complete, so a failed export never leaves a file that looks whole) or to stdout.
 */
export async function exportCommand(options: ExportOptions, err: (text: string) => void): Promise<void> {
  const { config } = loadConfig({ file: options.config });
  const prefix = options.prefix ?? '';
  const gzip = options.gzip ?? options.out?.endsWith('.gz') ?? false;
  // Read-only: beside a running server, SQLite needs no pid lock for a snapshot (sqlite-snapshot.ts).
  const store = await openStore(config, pino({ level: 'silent' }), { readOnly: true });
  const partial = options.out === undefined ? undefined : `${options.out}.${process.pid}.partial`;
  const started = Date.now();
  const bar = progress('Exporting | {value} keys | {rate} keys/s | {duration_formatted}', 0, { rate: 0 });
  try {
    const destination: Writable =
      partial === undefined ? process.stdout : createWriteStream(partial, { mode: 0o600, flags: 'wx' });
    const compressor = gzip ? createGzip() : undefined;
    const sink = compressor ?? destination;
    const written =
      compressor !== undefined
        ? pipeline(compressor, destination)
        : partial === undefined
          ? Promise.resolve()
          : finished(destination);
    const summary = await exportStore(store, prefix, sink, ({ count }) => {
      if (count % 500 === 0) bar.update(count, { rate: rate(count, Date.now() - started) });
    });
    if (sink !== process.stdout) sink.end();
    await written;
    if (partial !== undefined) renameSync(partial, options.out!);
    bar.stop();
    const elapsed = Date.now() - started;
    const which = prefix === '' ? '' : `, prefix "${prefix}"`;
    err(
      `Exported ${summary.count} keys (${mebibytes(summary.valueBytes)} of values${which}) ` +
        `to ${options.out ?? 'stdout'} in ${seconds(elapsed)} (${rate(summary.count, elapsed)} keys/s).\n`,
    );
  } catch (error) {
    if (partial !== undefined) rmSync(partial, { force: true });
    if ((error as NodeJS.ErrnoException).code === 'EPIPE')
      throw new Error('stdout was closed before the export was complete (the reading end stopped early).', {
        cause: error,
      });
    throw error;
  } finally {
    bar.stop();
    await store.close();
  }
}

export interface ImportOptions {
  config?: string;
  skipExisting?: boolean;
}

/** Restores an export (plain or gzipped, told by its first bytes) into the configured store. */
export async function importCommand(file: string, options: ImportOptions, err: (text: string) => void): Promise<void> {
  const { config } = loadConfig({ file: options.config });
  const size = fileSize(file);
  const store = await openWritable(() => openStore(config, pino({ level: 'silent' }), { bulk: true }));
  const counts = emptyCounts();
  const started = Date.now();
  const bar = progress('Importing | {bar} {percentage}% | {keys} keys | {rate} keys/s | {eta_formatted} left', size, {
    keys: 0,
    rate: 0,
  });
  try {
    const raw = createReadStream(file);
    let read = 0;
    raw.on('data', (chunk) => (read += chunk.length));
    const input: Readable = isGzip(file) ? raw.pipe(createGunzip()) : raw;
    // A damaged gzip stream fails the decompressor, not the file: pass its error on to the reader.
    if (input !== raw) raw.on('error', (error) => input.destroy(error));
    await importStore(store, input, counts, {
      skipExisting: options.skipExisting,
      onEntry: ({ total }) => {
        if (total % 500 === 0) bar.update(read, { keys: total, rate: rate(total, Date.now() - started) });
      },
    });
    bar.update(size, { keys: counts.total });
  } catch (error) {
    bar.stop();
    throw new Error(
      `Cannot import ${file}: ${(error as Error).message}. Stopped after importing ${outcome(counts)}; ` +
        'fix or replace the file and run the import again ' +
        '(entries already imported are recognised and left as they are).',
      { cause: error },
    );
  } finally {
    bar.stop();
    await store.close();
  }
  const elapsed = Date.now() - started;
  err(`Imported ${file} in ${seconds(elapsed)} (${rate(counts.total, elapsed)} keys/s): ${outcome(counts)}.\n`);
}

function outcome(counts: ReturnType<typeof emptyCounts>): string {
  return (
    `${counts.total} entries (${counts.created} created, ${counts.replaced} replaced, ` +
    `${counts.unchanged} unchanged, ${counts.skipped} skipped as existing, ${counts.expired} expired)`
  );
}

/** Opens the store for writing; for SQLite, a running server owns the file and must be stopped first. */
export async function openWritable(open: () => Promise<Store>): Promise<Store> {
  try {
    return await open();
  } catch (error) {
    if (error instanceof StoreInUseError) {
      throw new Error(
        `A Lucid server (pid ${error.pid}) is running on ${error.file}: ` +
          'stop it first (this command writes to the SQLite file directly).',
        { cause: error },
      );
    }
    throw error;
  }
}

function fileSize(file: string): number {
  try {
    const stats = statSync(file);
    if (!stats.isFile()) throw new Error(`${file} is not a file.`);
    return stats.size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`There is no file ${file} to import.`);
    throw error;
  }
}

function isGzip(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(2);
    return readSync(fd, head, 0, 2, 0) === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

function mebibytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
