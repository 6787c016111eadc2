/**
 * The SQLite store's files are readable by their owner only (issue 12): the data folder 0700, the
 * database, its WAL and SHM and the pid lock 0600. New files are created that way (the database is
 * created 0600 before SQLite opens it, and SQLite gives its WAL and SHM the database's mode; the
 * umask is 077 while the store opens); existing looser ones are tightened at start-up, each with a
 * warning. The folder is left alone when it is the working directory or a shared sticky folder
 * such as /tmp, which are not Lucid's to lock down; the files in it are still 0600.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import path from 'node:path';

const FOLDER_MODE = 0o700;
const FILE_MODE = 0o600;
const STICKY = 0o1000;

export type Warn = (message: string) => void;

/** The files SQLite and the store keep beside `file`. */
export function storeFiles(file: string): string[] {
  return [file, `${file}-wal`, `${file}-shm`, `${file}.lock`];
}

/** Creates the folder and the database file owner-only when missing, and tightens looser existing ones. */
export function secureStoreFiles(file: string, warn: Warn): void {
  const folder = path.dirname(file);
  mkdirSync(folder, { recursive: true, mode: FOLDER_MODE });
  const folderMode = statSync(folder).mode;
  if ((folderMode & STICKY) === 0 && path.resolve(folder) !== process.cwd()) tighten(folder, FOLDER_MODE, warn);
  if (!existsSync(file)) closeSync(openSync(file, 'a', FILE_MODE));
  for (const each of storeFiles(file)) if (existsSync(each)) tighten(each, FILE_MODE, warn);
}

/** Runs `open` with umask 077, so whatever it creates is owner-only; restores the umask afterwards. */
export async function withPrivateUmask<T>(open: () => Promise<T>): Promise<T> {
  let previous: number | undefined;
  try {
    previous = process.umask(0o077);
  } catch {
    // Worker threads cannot change the umask; the explicit modes above still apply.
  }
  try {
    return await open();
  } finally {
    if (previous !== undefined) process.umask(previous);
  }
}

function tighten(target: string, mode: number, warn: Warn): void {
  const current = statSync(target).mode & 0o777;
  if ((current & ~mode) === 0) return;
  chmodSync(target, current & mode);
  warn(
    `${target} was readable by others (mode ${current.toString(8)}); changed it to ${(current & mode).toString(8)}.`,
  );
}
