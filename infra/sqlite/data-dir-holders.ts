import { hostname } from 'node:os';
import { mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * Which processes hold a data directory's SQLite store. Each process that opens the store writes
 * `crest.pids/<pid>` (removed when it closes the store or exits); `crest restore` writes `crest.pids/restore-<pid>`
 * while it restores. Nothing is exclusive between store holders: cluster roles on one machine share the file. Only a
 * restore and a holder exclude each other, and each writes its own entry before it looks for the other's, so of two
 * that start together at least one sees the other. An entry whose process is gone is ignored (and removed); an entry
 * written on another host cannot be checked, so it counts as live until someone deletes it.
 */
export const HOLDERS_DIR = 'crest.pids';
const RESTORE = 'restore-';

export interface Holder {
  readonly kind: 'store' | 'restore';
  readonly pid: number;
  readonly host: string;
  readonly since: string;
  /** The entry's path, for a message that says what to delete if the process is not Crest. */
  readonly entry: string;
}

/** Thrown when a restore and a store holder meet: one line saying who holds what. */
export class DataDirHeldError extends Error {}

const host = hostname();

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

const readHolder = (dir: string, name: string): Holder | undefined => {
  const match = /^(restore-)?(\d+)$/.exec(name);
  if (!match) return undefined;
  const entry = join(dir, name);
  let written: { host?: unknown; since?: unknown } = {};
  try {
    written = JSON.parse(readFileSync(entry, 'utf8')) as typeof written;
  } catch {
    // half written or unreadable: judged by its pid alone
  }
  return {
    kind: match[1] ? 'restore' : 'store',
    pid: Number(match[2]),
    host: typeof written.host === 'string' ? written.host : host,
    since: typeof written.since === 'string' ? written.since : '',
    entry,
  };
};

/** The processes registered in `dataDir` that are (or, from another host, may be) alive; stale entries are removed. */
export const liveHolders = (dataDir: string): Holder[] => {
  const dir = join(dataDir, HOLDERS_DIR);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const live: Holder[] = [];
  for (const name of names) {
    const holder = readHolder(dir, name);
    if (!holder) continue;
    if (holder.host !== host || alive(holder.pid)) live.push(holder);
    else rmSync(holder.entry, { force: true });
  }
  return live;
};

/** `pid 123 on host-a since 2026-…`: enough to find the process, or the entry to delete. */
export const describeHolder = (h: Holder): string => `pid ${h.pid}${h.host === host ? '' : ` on ${h.host}`}${h.since ? ` since ${h.since}` : ''}`;

/** Entries this process wrote, with how many opens hold each: removed at the last close, or at exit. */
const mine = new Map<string, number>();
let exitHookInstalled = false;

const write = (dataDir: string, name: string): string => {
  const dir = join(resolve(dataDir), HOLDERS_DIR);
  const entry = join(dir, name);
  const count = mine.get(entry) ?? 0;
  for (let attempt = 1; count === 0; attempt++) {
    mkdirSync(dir, { recursive: true });
    try {
      writeFileSync(entry, `${JSON.stringify({ pid: process.pid, host, since: new Date().toISOString(), argv: process.argv.slice(1) })}\n`);
      break;
    } catch (error) {
      // a restore tidying the directory away between the two calls
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 3) throw error;
    }
  }
  mine.set(entry, count + 1);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const e of mine.keys()) rmSync(e, { force: true });
    });
  }
  return entry;
};

const releaser = (entry: string): (() => void) => {
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const count = (mine.get(entry) ?? 1) - 1;
    if (count > 0) {
      mine.set(entry, count);
      return;
    }
    mine.delete(entry);
    rmSync(entry, { force: true });
  };
};

/**
 * Registers this process as a holder of `dataDir`'s store; returns the release. Refused with DataDirHeldError while a
 * restore into the directory is under way.
 */
export const holdDataDir = (dataDir: string): (() => void) => {
  const release = releaser(write(dataDir, String(process.pid)));
  const restore = liveHolders(dataDir).find((h) => h.kind === 'restore');
  if (restore) {
    release();
    throw new DataDirHeldError(`a restore into ${dataDir} is under way (${describeHolder(restore)}); start Crest once it has finished`);
  }
  return release;
};

/**
 * Claims `dataDir` for a restore; returns the release. Refused with DataDirHeldError while a Crest process holds the
 * store or another restore runs. Call `assertUnheld` again just before the restored file goes into place.
 */
export const claimForRestore = (dataDir: string): (() => void) => {
  const release = releaser(write(dataDir, `${RESTORE}${process.pid}`));
  try {
    assertUnheld(dataDir);
  } catch (error) {
    release();
    throw error;
  }
  return release;
};

/** Throws DataDirHeldError naming a live holder of `dataDir` other than this process's restore claim. */
export const assertUnheld = (dataDir: string): void => {
  const other = liveHolders(dataDir).find((h) => !(h.kind === 'restore' && h.pid === process.pid && h.host === host));
  if (!other) return;
  if (other.kind === 'restore') throw new DataDirHeldError(`another restore into ${dataDir} is under way (${describeHolder(other)})`);
  throw new DataDirHeldError(`a Crest process holds ${dataDir} (${describeHolder(other)}): stop it first (if that process is not Crest, delete ${other.entry})`);
};

/** Removes the holders' directory when no entry is left in it. */
export const tidyHolders = (dataDir: string): void => {
  try {
    rmdirSync(join(dataDir, HOLDERS_DIR));
  } catch {
    // not empty, or already gone
  }
};
