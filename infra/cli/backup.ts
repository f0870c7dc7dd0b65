import Database from 'better-sqlite3';
import { chmodSync, closeSync, constants, copyFileSync, existsSync, fsyncSync, linkSync, openSync, readdirSync, renameSync, rmdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { countStock, figuresOf, noStock, type InventoryEvent, type StockCounts, type StockFigures } from '../../domain/inventory/inventory';
import type { EventStore } from '../../domain/kernel/event-store';
import { categoryOf } from '../../domain/kernel/streams';
import type { CrestConfig } from '../config/config';
import { upcasting } from '../shared/upcasting-event-store';
import { assertUnheld, claimForRestore, DataDirHeldError, HOLDERS_DIR, tidyHolders } from '../sqlite/data-dir-holders';
import { SqliteEventStore } from '../sqlite/sqlite-event-store';
import { UsageError, type CliIo } from './events';

const STORE_FILE = 'crest.sqlite';
const CREST_TABLES = ['events', 'checkpoints', 'snapshots', 'payment_tokens'] as const;
const EVENT_COLUMNS = ['position', 'stream_id', 'revision', 'category', 'event_id', 'type', 'data', 'metadata', 'created'];
/** What a backup records about itself, inside the file: restore compares the copy with it, then drops it. */
const MANIFEST = 'crest_backup';
const PAGES_PER_STEP = 256;
const VERIFY_PAGE = 5000;
const PROGRESS_EVERY_MS = 200;

export interface BackupSummary {
  readonly file: string;
  readonly events: number;
  readonly lastPosition: number;
  readonly pages: number;
  readonly bytes: number;
  readonly seconds: number;
}

export interface RestoreReport {
  readonly file: string;
  readonly store: string;
  readonly integrity: 'ok';
  readonly events: number;
  readonly lastPosition: number;
  /** What the backup recorded when it was taken; undefined for a file `crest backup` did not write. */
  readonly recorded: { readonly events: number; readonly lastPosition: number; readonly takenAt: string } | undefined;
  readonly stock: ReadonlyMap<string, StockFigures>;
  readonly snapshots: number;
  readonly checkpoints: number;
  readonly paymentTokens: number;
  readonly seconds: number;
}

const count = (n: number): string => n.toLocaleString('en');
const plural = (n: number, noun: string): string => `${count(n)} ${noun}${n === 1 ? '' : 's'}`;

/** A throttled progress line on a terminal's stderr, and nothing elsewhere. */
const progressLine = (io: CliIo): { show(text: string): void; end(): void } => {
  let last = 0;
  let shown = false;
  return {
    show: (text) => {
      if (!io.stderr.isTTY || Date.now() - last < PROGRESS_EVERY_MS) return;
      last = Date.now();
      shown = true;
      io.stderr.write(`\r${text}   `);
    },
    end: () => {
      if (shown) io.stderr.write('\n');
    },
  };
};

/**
 * `crest backup <file>`, `crest restore <file>` or `crest restore --verify` (the configured store in place, after a
 * network store's native restore).
 */
export const parseBackupArgs = (command: 'backup' | 'restore', args: readonly string[]): { file: string | undefined; verify: boolean } => {
  let parsed: { values: { verify?: boolean }; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...args], allowPositionals: true, options: command === 'restore' ? { verify: { type: 'boolean' } } : {} }) as typeof parsed;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const verify = parsed.values.verify === true;
  if (verify && parsed.positionals.length > 0) throw new UsageError('crest restore --verify takes no file: it verifies the event store the config points at');
  if (!verify && parsed.positionals.length !== 1) throw new UsageError(`crest ${command} takes one file: crest ${command} <file>`);
  return { file: parsed.positionals[0], verify };
};

/** Only the embedded store is copied by Crest; the network stores have their own tools (docs/backup.md). */
export const embeddedStoreOf = (command: 'backup' | 'restore', config: Pick<CrestConfig, 'CREST_EVENT_STORE' | 'CREST_DATA_DIR'>): string => {
  if (config.CREST_EVENT_STORE !== 'sqlite') {
    throw new UsageError(`crest ${command} works on the embedded SQLite store; with CREST_EVENT_STORE=${config.CREST_EVENT_STORE} use that store's own tools (docs/backup.md)`);
  }
  return config.CREST_DATA_DIR;
};

const assertCrestStore = (db: Database.Database, what: string): void => {
  const tables = new Set(db.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all());
  const missing = CREST_TABLES.filter((t) => !tables.has(t));
  if (missing.length > 0) throw new UsageError(`${what} is not a Crest store (it has no ${missing.join(', ')} table)`);
  const columns = new Set(db.prepare<[], string>("SELECT name FROM pragma_table_info('events')").pluck().all());
  const absent = EVENT_COLUMNS.filter((c) => !columns.has(c));
  if (absent.length > 0) throw new UsageError(`${what} is not a Crest store (its events table has no ${absent.join(', ')} column)`);
};

const headOf = (db: Database.Database): { events: number; lastPosition: number } => {
  const [events, lastPosition] = db.prepare<[], [number, number]>('SELECT count(*), coalesce(max(position), 0) FROM events').raw(true).get()!;
  return { events, lastPosition };
};

/** Makes a finished file visible under `target` without ever replacing one there; the temporary name goes away. */
const publish = (temp: string, target: string, refusal: string): void => {
  try {
    linkSync(temp, target);
    unlinkSync(temp);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new UsageError(refusal);
    // a file system without hard links: the check and the rename are then two steps
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw error;
    if (existsSync(target)) throw new UsageError(refusal);
    renameSync(temp, target);
  }
  const dir = openSync(dirname(target), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
};

const removeSqliteFiles = (file: string): void => {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${file}${suffix}`, { force: true });
};

export interface BackupOptions {
  /** Stops the copy at its next step; the unfinished copy is removed. */
  readonly signal?: AbortSignal;
  readonly pagesPerStep?: number;
  /** While it answers true, the copy holds its point in the log and copies nothing (for tests and tools that pace it). */
  readonly paused?: (progress: { readonly copied: number; readonly total: number }) => boolean;
}

/**
 * `crest backup <file>`: a consistent copy of the event store at `dataDir` while Crest runs. One read transaction is
 * held on the store for the whole copy, so SQLite's online backup copies that one snapshot in steps of
 * PAGES_PER_STEP pages, yielding between them, and never starts over when a writer commits (without it, a busy store
 * restarts the copy after every commit and it never ends). In WAL mode the live writers do not wait for that reader;
 * only checkpoints wait, so the WAL grows until the copy ends. The copy is written to a temporary name (mode 0600: it
 * holds payment tokens), switched out of WAL mode, stamped with what it holds, and linked to `file` only when
 * complete; `file` is never replaced.
 */
export const backupStore = async (dataDir: string, file: string, io: CliIo, options: BackupOptions = {}): Promise<BackupSummary> => {
  const source = join(dataDir, STORE_FILE);
  const target = resolve(file);
  if (existsSync(target)) throw new UsageError(`${file} already exists; a backup never replaces a file: give a new name`);
  if (!existsSync(dirname(target))) throw new UsageError(`${dirname(file)}: no such directory`);
  if (!existsSync(source)) throw new UsageError(`no event store at ${source} (set CREST_DATA_DIR)`);
  const started = performance.now();
  const takenAt = new Date().toISOString();
  const db = new Database(source, { fileMustExist: true });
  const temp = `${target}.tmp-${process.pid}`;
  let head: { events: number; lastPosition: number };
  let pages: number;
  try {
    db.pragma('busy_timeout = 5000');
    assertCrestStore(db, source);
    closeSync(openSync(temp, 'wx', 0o600));
    const progress = progressLine(io);
    db.exec('BEGIN');
    try {
      // the read transaction starts here: this is the point in the log the backup holds
      head = headOf(db);
      const done = await db.backup(temp, {
        progress: ({ totalPages, remainingPages }) => {
          if (options.signal?.aborted) throw new UsageError('interrupted; no backup was written');
          const copied = totalPages - remainingPages;
          progress.show(`backing up: ${count(copied)} of ${count(totalPages)} pages (${Math.floor((copied / totalPages) * 100)}%)`);
          // a step of 0 pages copies nothing and keeps the read transaction
          return options.paused?.({ copied, total: totalPages }) ? 0 : (options.pagesPerStep ?? PAGES_PER_STEP);
        },
      });
      pages = done.totalPages;
    } finally {
      db.exec('COMMIT');
      progress.end();
    }
    const copy = new Database(temp);
    try {
      copy.pragma('journal_mode = DELETE');
      copy.exec(`CREATE TABLE ${MANIFEST} (taken_at TEXT NOT NULL, events INTEGER NOT NULL, last_position INTEGER NOT NULL, source TEXT NOT NULL)`);
      copy.prepare(`INSERT INTO ${MANIFEST} VALUES (?, ?, ?, ?)`).run(takenAt, head.events, head.lastPosition, source);
    } finally {
      copy.close();
    }
    publish(temp, target, `${file} appeared while the backup ran; it was left as it is and no backup was written`);
  } catch (error) {
    removeSqliteFiles(temp);
    throw error;
  } finally {
    db.close();
  }
  const summary: BackupSummary = { file, ...head, pages, bytes: statSync(target).size, seconds: (performance.now() - started) / 1000 };
  io.stdout.write(
    `backed up ${count(summary.events)} events (last position ${count(summary.lastPosition)}) to ${file}: ${count(summary.bytes)} bytes in ${summary.seconds.toFixed(2)} s\n`,
  );
  return summary;
};

/** What may be in a directory a restore goes into: nothing but the holders' entries. */
const assertEmpty = (dataDir: string, ours?: string): void => {
  const entries = readdirSync(dataDir).filter((name) => name !== HOLDERS_DIR && (ours === undefined || !name.startsWith(ours)));
  const unfinished = entries.find((name) => name.startsWith(`${STORE_FILE}.restoring-`));
  if (unfinished) throw new UsageError(`${dataDir} holds ${unfinished}, left by a restore that did not finish: delete it and restore again`);
  const store = entries.find((name) => name.startsWith(STORE_FILE) || name.startsWith('read-models'));
  if (store) throw new UsageError(`${dataDir} already holds a store (${store}); restore only into an empty directory`);
  if (entries.length > 0) throw new UsageError(`${dataDir} is not empty (it holds ${entries[0]}); restore only into an empty directory`);
};

interface Inspection {
  readonly events: number;
  readonly lastPosition: number;
  readonly recorded: RestoreReport['recorded'];
  readonly snapshots: number;
  readonly checkpoints: number;
  readonly paymentTokens: number;
}

/** integrity_check, the Crest tables, and what the file holds; a file SQLite cannot read is refused, not thrown. */
const inspect = (copy: string, file: string): Inspection => {
  let db: Database.Database | undefined;
  try {
    db = new Database(copy, { fileMustExist: true });
    const problems = db.pragma('integrity_check', { simple: false }) as Array<{ integrity_check: string }>;
    if (problems.length !== 1 || problems[0]!.integrity_check !== 'ok') {
      const first = (problems[0]?.integrity_check ?? '').split('\n').find((line) => !line.startsWith('***')) ?? '';
      throw new UsageError(`${file} is corrupt or truncated: integrity_check says "${first.slice(0, 160)}"${problems.length > 1 || first.length > 160 ? ' and more' : ''}`);
    }
    assertCrestStore(db, file);
    const tables = new Set(db.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all());
    const manifest = tables.has(MANIFEST)
      ? db.prepare<[], { taken_at: string; events: number; last_position: number }>(`SELECT taken_at, events, last_position FROM ${MANIFEST}`).get()
      : undefined;
    const rows = (table: string) => db!.prepare<[], number>(`SELECT count(*) FROM ${table}`).pluck().get()!;
    const inspection: Inspection = {
      ...headOf(db),
      recorded: manifest && { events: manifest.events, lastPosition: manifest.last_position, takenAt: manifest.taken_at },
      snapshots: rows('snapshots'),
      checkpoints: rows('checkpoints'),
      paymentTokens: rows('payment_tokens'),
    };
    if (inspection.recorded && (inspection.recorded.events !== inspection.events || inspection.recorded.lastPosition !== inspection.lastPosition)) {
      throw new UsageError(
        `${file} is incomplete: it holds ${count(inspection.events)} events up to position ${inspection.lastPosition}, the backup recorded ${count(inspection.recorded.events)} up to ${inspection.recorded.lastPosition}`,
      );
    }
    // the restored store is the live store as it was: the manifest goes
    db.exec(`DROP TABLE IF EXISTS ${MANIFEST}`);
    return inspection;
  } catch (error) {
    if (error instanceof Database.SqliteError) {
      const what = error.code === 'SQLITE_NOTADB' ? 'is not a SQLite database' : error.code.startsWith('SQLITE_CORRUPT') ? 'is corrupt or truncated' : 'cannot be read';
      throw new UsageError(`${file} ${what} (${error.code}: ${error.message})`);
    }
    throw error;
  } finally {
    db?.close();
  }
};

const invariantHolds = (s: StockFigures): boolean => s.available + s.reserved + s.sold === s.received + s.adjusted && s.available >= 0 && s.reserved >= 0 && s.sold >= 0;

export interface StockVerification {
  /** Events read, and the position of the last one: the whole log unless only inventory streams were read. */
  readonly read: number;
  readonly lastRead: number;
  readonly stock: ReadonlyMap<string, StockFigures>;
}

/**
 * Reads the log once, through the store's own reads and the upcasters, and folds every SKU's stock with the domain's
 * own counting (`countStock`). Refused when an inventory event cannot be counted or a SKU breaks the invariant
 * (`available + reserved + sold == received + adjusted`, none negative). Works on any event store; `inventoryOnly`
 * reads just the inventory streams (when the events are counted some other way).
 */
export const verifyStock = async (store: EventStore, what: string, io: CliIo, options: { signal?: AbortSignal; inventoryOnly?: boolean } = {}): Promise<StockVerification> => {
  const head = (await store.headPosition()) ?? 0;
  const filter = options.inventoryOnly ? { categories: ['inventory'] } : undefined;
  const counts = new Map<string, StockCounts>();
  const progress = progressLine(io);
  let read = 0;
  let lastRead = 0;
  try {
    for (;;) {
      if (options.signal?.aborted) throw new UsageError('interrupted');
      const page = await store.readAll({ after: lastRead, maxCount: VERIFY_PAGE, ...(filter ? { filter } : {}) });
      if (page.length === 0) break;
      for (const e of page) {
        if (categoryOf(e.streamId) !== 'inventory') continue;
        const event = { type: e.type, data: e.data } as InventoryEvent;
        try {
          counts.set(event.data.sku, countStock(counts.get(event.data.sku) ?? noStock, event));
        } catch (error) {
          throw new UsageError(`${what}: event ${e.position} (${e.type} on ${e.streamId}) cannot be counted: ${(error as Error).message}`);
        }
      }
      read += page.length;
      lastRead = page[page.length - 1]!.position;
      progress.show(`verifying: position ${count(lastRead)} of ${count(head)}`);
    }
  } finally {
    progress.end();
  }
  const stock = new Map([...counts].map(([sku, c]) => [sku, figuresOf(c)]));
  const broken = [...stock].filter(([, f]) => !invariantHolds(f));
  if (broken.length > 0) {
    const [sku, f] = broken[0]!;
    throw new UsageError(`${what} breaks the stock invariant for ${plural(broken.length, 'SKU')}, e.g. ${sku}: ${JSON.stringify(f)}`);
  }
  return { read, lastRead, stock };
};

/**
 * `crest restore <file>` into an empty `dataDir`: the file is copied beside where it goes, verified there
 * (integrity_check, the Crest tables, events and last position against what the backup recorded, the stock invariant
 * of every SKU folded from the log), and only then linked to `crest.sqlite`. Refused, with nothing left behind: a
 * directory that holds a store or anything else, a live Crest process registered in it, a file that is corrupt,
 * incomplete or not a Crest store.
 */
export const restoreStore = async (file: string, dataDir: string, io: CliIo, options: { signal?: AbortSignal } = {}): Promise<RestoreReport> => {
  if (!existsSync(file) || !statSync(file).isFile()) throw new UsageError(`${file}: no such file`);
  if (existsSync(dataDir) && !statSync(dataDir).isDirectory()) throw new UsageError(`${dataDir} is not a directory`);
  const started = performance.now();
  const createdDir = !existsSync(dataDir);
  const target = join(dataDir, STORE_FILE);
  const copy = join(dataDir, `${STORE_FILE}.restoring-${process.pid}`);
  let release: (() => void) | undefined;
  try {
    release = claimForRestore(dataDir);
    assertEmpty(dataDir);
    copyFileSync(file, copy, constants.COPYFILE_EXCL);
    chmodSync(copy, 0o600);
    if (io.stderr.isTTY) io.stderr.write('checking the copy (integrity_check)\n');
    const inspection = inspect(copy, file);
    const store = upcasting(new SqliteEventStore({ file: copy, synchronous: 'FULL' }));
    let verified: StockVerification;
    try {
      verified = await verifyStock(store, file, io, { signal: options.signal, inventoryOnly: true });
    } finally {
      await store.close();
    }
    // a Crest process may have started on the directory meanwhile: it would have seen the claim and stopped, unless it came first
    assertUnheld(dataDir);
    assertEmpty(dataDir, basename(copy));
    publish(copy, target, `${target} appeared while the restore ran; nothing was restored`);
    const report: RestoreReport = { file, store: target, integrity: 'ok', ...inspection, stock: verified.stock, seconds: (performance.now() - started) / 1000 };
    printRestore(report, io);
    return report;
  } catch (error) {
    removeSqliteFiles(copy);
    if (error instanceof DataDirHeldError) throw new UsageError(error.message);
    throw error;
  } finally {
    release?.();
    tidyHolders(dataDir);
    if (createdDir && existsSync(dataDir) && readdirSync(dataDir).length === 0) rmdirSync(dataDir);
  }
};

const stockLine = (stock: ReadonlyMap<string, StockFigures>): string => {
  const skus = [...stock.values()];
  const units = skus.reduce((n, f) => ({ received: n.received + f.received, reserved: n.reserved + f.reserved, sold: n.sold + f.sold }), { received: 0, reserved: 0, sold: 0 });
  return (
    `  stock invariant   holds for ${skus.length === 1 ? 'the one SKU' : `all ${count(skus.length)} SKUs`} (available + reserved + sold == received + adjusted, none negative; ` +
    `${count(units.received)} received, ${count(units.reserved)} reserved, ${count(units.sold)} sold)`
  );
};

const printRestore = (r: RestoreReport, io: CliIo): void => {
  const asRecorded = (value: number, recorded: number | undefined) => (recorded === undefined ? `${count(value)} (no record in the file: it was not written by crest backup)` : `${count(value)}, as the backup recorded`);
  io.stdout.write(
    [
      `restored ${basename(r.file)} into ${r.store} and verified it:`,
      `  integrity_check   ok`,
      `  events            ${asRecorded(r.events, r.recorded?.events)}`,
      `  last position     ${asRecorded(r.lastPosition, r.recorded?.lastPosition)}`,
      stockLine(r.stock),
      `  beside the log    ${plural(r.snapshots, 'snapshot')}, ${plural(r.checkpoints, 'checkpoint')}, ${plural(r.paymentTokens, 'payment token')}`,
      ...(r.recorded ? [`  taken at          ${r.recorded.takenAt}`] : []),
      `  in ${r.seconds.toFixed(2)} s; start Crest with CREST_DATA_DIR=${dirname(r.store)}`,
    ].join('\n') + '\n',
  );
};

/** `crest restore --verify`: the checks of a restore, on the store the config points at, in place; prints them. */
export const verifyStore = async (store: EventStore, label: string, io: CliIo, signal?: AbortSignal): Promise<{ events: number; lastPosition: number; stock: ReadonlyMap<string, StockFigures> }> => {
  const { read, lastRead, stock } = await verifyStock(store, label, io, { signal });
  io.stdout.write([`verified ${label}:`, `  events            ${count(read)}`, `  last position     ${count(lastRead)}`, stockLine(stock)].join('\n') + '\n');
  return { events: read, lastPosition: lastRead, stock };
};
