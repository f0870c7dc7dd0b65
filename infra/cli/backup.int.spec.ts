import { expect } from 'chai';
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { isolatedPostgresSchema } from '../../test/support/postgres-schema';
import { PostgresEventStore } from '../postgresql/postgres-event-store';
import { upcasting } from '../shared/upcasting-event-store';
import { seedProduct, startCrest, type TestCrest } from '../../test/support/crest-harness';
import { expectStockInvariant, stockFromLog } from '../../test/support/stock';
import { Tokens } from '../composition/root';
import { claimForRestore, DataDirHeldError, HOLDERS_DIR } from '../sqlite/data-dir-holders';
import { openSqliteBundle } from '../sqlite/sqlite-bundle';
import { SqliteEventStore } from '../sqlite/sqlite-event-store';
import { backupStore, embeddedStoreOf, parseBackupArgs, restoreStore, verifyStore } from './backup';
import { UsageError, type CliIo } from './events';

/** Captures what a command writes; `tty` makes stderr look like a terminal (progress is shown only there). */
const capture = (tty = false): CliIo & { out: () => string; err: () => string } => {
  let out = '';
  let err = '';
  return {
    stdout: { write: (chunk: string) => (out += chunk) },
    stderr: { write: (chunk: string) => (err += chunk), isTTY: tty },
    out: () => out,
    err: () => err,
  };
};

const refusal = async (action: () => Promise<unknown>): Promise<string> => {
  try {
    await action();
  } catch (error) {
    expect(error, String(error)).to.be.instanceOf(UsageError);
    expect((error as Error).message).not.to.include('\n');
    return (error as Error).message;
  }
  throw new Error('expected a refusal');
};

/** The pid of a process that has exited. */
const deadPid = (): number => spawnSync(process.execPath, ['-e', '']).pid!;

describe('crest backup and crest restore of the embedded store', function () {
  this.timeout(60_000);
  let work: string;
  let crest: TestCrest;
  const skus = ['BK-A', 'BK-B', 'BK-C'];

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'crest-backup-'));
    crest = await startCrest();
    for (const sku of skus) await seedProduct(crest, sku, 50);
    for (let i = 0; i < 12; i++) {
      const placed = await crest.call('POST', '/v1/orders', { headers: { 'idempotency-key': `bk-order-${i}` }, body: { customerId: `bk-${i}`, lines: [{ sku: skus[i % 3]!, quantity: 2 }] } });
      expect(placed.status, JSON.stringify(placed.body)).to.equal(201);
    }
  });

  after(async () => {
    await crest.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  it('backs up a running store with progress on a terminal, and restores it into an empty directory, verified', async () => {
    // given a running Crest with stock and orders
    const store = crest.running.container.get(Tokens.EventStore);
    const head = (await store.headPosition())!;
    // when it is backed up, a page at a time, with stderr on a terminal
    const io = capture(true);
    const file = join(work, 'roundtrip.sqlite');
    const summary = await backupStore(crest.dataDir, file, io, { pagesPerStep: 1 });
    // then the summary is one line naming the events, the last position, the bytes and the time, and progress went to stderr
    expect(summary).to.include({ lastPosition: head });
    expect(summary.events).to.equal(head);
    expect(io.out()).to.match(new RegExp(`^backed up ${head} events \\(last position ${head}\\) to .*roundtrip\\.sqlite: [\\d,]+ bytes in \\d+\\.\\d\\d s\\n$`));
    expect(io.err()).to.match(/backing up: \d+ of \d+ pages \(\d+%\)/);
    expect(statSync(file).mode & 0o777, 'it holds payment tokens').to.equal(0o600);
    expect(readdirSync(work).filter((f) => f.includes('.tmp-')), 'no temporary file is left').to.deep.equal([]);

    // when it is restored into a directory that does not exist yet
    const target = join(work, 'restored');
    const restored = capture();
    const report = await restoreStore(file, target, restored);
    // then it was verified and is the only thing there
    expect(report).to.include({ events: head, lastPosition: head, integrity: 'ok' });
    expect(report.recorded).to.include({ events: head, lastPosition: head });
    expect([...report.stock.keys()].sort()).to.deep.equal(skus);
    expect(restored.out()).to.match(/integrity_check +ok/);
    expect(restored.out()).to.match(new RegExp(`events +${head}, as the backup recorded`));
    expect(restored.out()).to.match(new RegExp(`last position +${head}, as the backup recorded`));
    expect(restored.out()).to.match(/stock invariant +holds for all 3 SKUs/);
    expect(readdirSync(target)).to.deep.equal(['crest.sqlite']);
    const copy = new SqliteEventStore({ file: join(target, 'crest.sqlite'), synchronous: 'FULL' });
    try {
      for (const sku of skus) {
        const s = await stockFromLog(copy, sku);
        expect(s).to.deep.include({ received: 50, reserved: 8, available: 42 });
        expectStockInvariant(s);
      }
      const tables = copy.db.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all();
      expect(tables, 'the backup record is dropped on restore').not.to.include('crest_backup');
    } finally {
      await copy.close();
    }
  });

  it('refuses a backup onto an existing file, and leaves that file as it was', async () => {
    // given a file where the backup should go
    const file = join(work, 'precious.sqlite');
    writeFileSync(file, 'precious');
    // when a backup is asked for onto it
    const message = await refusal(() => backupStore(crest.dataDir, file, capture()));
    // then it is refused and the file is untouched
    expect(message).to.equal(`${file} already exists; a backup never replaces a file: give a new name`);
    expect(readFileSync(file, 'utf8')).to.equal('precious');
    expect(readdirSync(work).filter((f) => f.includes('.tmp-'))).to.deep.equal([]);
  });

  it('refuses a restore into a directory that already holds a store, or anything else', async () => {
    // given a backup, a directory with a stopped Crest's store in it, and a directory with some other file
    const file = join(work, 'for-refusals.sqlite');
    await backupStore(crest.dataDir, file, capture());
    const stopped = join(work, 'stopped');
    const other = await startCrest({}, stopped);
    await other.call('PUT', '/v1/products/OTHER', { admin: true, body: { name: 'other', category: 'c', priceCents: 1 } });
    await other.stop();
    const before = readFileSync(join(stopped, 'crest.sqlite'));
    const cluttered = join(work, 'cluttered');
    mkdirSync(cluttered);
    writeFileSync(join(cluttered, 'notes.txt'), 'keep');
    // when it is restored into either
    const intoStore = await refusal(() => restoreStore(file, stopped, capture()));
    const intoClutter = await refusal(() => restoreStore(file, cluttered, capture()));
    // then both are refused and nothing there changed
    expect(intoStore).to.equal(`${stopped} already holds a store (crest.sqlite); restore only into an empty directory`);
    expect(intoClutter).to.equal(`${cluttered} is not empty (it holds notes.txt); restore only into an empty directory`);
    expect(readFileSync(join(stopped, 'crest.sqlite')).equals(before)).to.equal(true);
    expect(readdirSync(cluttered)).to.deep.equal(['notes.txt']);
  });

  it('refuses a corrupt, truncated, incomplete or foreign file, or one that breaks the stock invariant, and leaves nothing where it would have gone', async () => {
    // given a good backup and damaged copies of it
    const good = join(work, 'good.sqlite');
    await backupStore(crest.dataDir, good, capture());
    const bytes = readFileSync(good);
    const pageSize = 4096;
    const truncated = join(work, 'truncated.sqlite');
    writeFileSync(truncated, bytes);
    truncateSync(truncated, Math.floor(bytes.length / pageSize / 2) * pageSize);
    const scribbled = join(work, 'scribbled.sqlite');
    const damaged = Buffer.from(bytes);
    for (let page = 1; page < damaged.length / pageSize; page += 2) damaged.fill(0x5a, page * pageSize + 8, page * pageSize + 200);
    writeFileSync(scribbled, damaged);
    const unindexed = join(work, 'unindexed.sqlite');
    const renamed = Buffer.from(bytes);
    const reader = new Database(good, { readonly: true });
    const tablePages = reader.prepare<[], number>("SELECT pageno FROM dbstat WHERE name = 'events' AND pagetype = 'leaf'").pluck().all();
    reader.close();
    // one letter of a stream id in a row of the events table: the row no longer matches its index entry
    const pageOf = (n: number) => bytes.subarray((n - 1) * pageSize, n * pageSize);
    const row = tablePages.find((n) => pageOf(n).includes('inventory-BK-A'))!;
    renamed[(row - 1) * pageSize + pageOf(row).indexOf('inventory-BK-A') + 13] = 'Z'.charCodeAt(0);
    writeFileSync(unindexed, renamed);
    const text = join(work, 'text.sqlite');
    writeFileSync(text, 'this is not a database at all, just some words\n'.repeat(20));
    const foreign = join(work, 'foreign.sqlite');
    const f = new Database(foreign);
    f.exec('CREATE TABLE invoices (id INTEGER PRIMARY KEY)');
    f.close();
    const incomplete = join(work, 'incomplete.sqlite');
    writeFileSync(incomplete, bytes);
    const i = new Database(incomplete);
    i.exec('DELETE FROM events WHERE position > (SELECT max(position) - 3 FROM events)');
    i.close();
    const oversold = join(work, 'oversold.sqlite');
    writeFileSync(oversold, bytes);
    const o = new Database(oversold);
    const revision = o.prepare<[], number>("SELECT max(revision) FROM events WHERE stream_id = 'inventory-BK-A'").pluck().get()!;
    o.prepare("INSERT INTO events (stream_id, revision, category, event_id, type, data, metadata, created) VALUES ('inventory-BK-A', ?, 'inventory', 'forged', 'StockReserved', ?, '{}', '2026-11-11T00:00:00.000Z')").run(
      revision + 1,
      JSON.stringify({ sku: 'BK-A', orderId: 'ord_forged', quantity: 1000, expiresAt: '2026-11-11T00:15:00.000Z' }),
    );
    o.exec('UPDATE crest_backup SET events = events + 1, last_position = (SELECT max(position) FROM events)');
    o.close();
    // when each is restored
    const target = join(work, 'never');
    const refusals = {
      truncated: await refusal(() => restoreStore(truncated, target, capture())),
      scribbled: await refusal(() => restoreStore(scribbled, target, capture())),
      unindexed: await refusal(() => restoreStore(unindexed, target, capture())),
      text: await refusal(() => restoreStore(text, target, capture())),
      foreign: await refusal(() => restoreStore(foreign, target, capture())),
      incomplete: await refusal(() => restoreStore(incomplete, target, capture())),
      oversold: await refusal(() => restoreStore(oversold, target, capture())),
    };
    // then each is refused, saying why, and the directory it would have made is not there
    expect(refusals.truncated).to.match(new RegExp(`^${truncated} is corrupt or truncated`));
    expect(refusals.scribbled).to.match(new RegExp(`^${scribbled} is corrupt or truncated`));
    expect(refusals.unindexed).to.match(new RegExp(`^${unindexed} is corrupt or truncated: integrity_check says "row \\d+ missing from index sqlite_autoindex_events_1"$`));
    expect(refusals.text).to.equal(`${text} is not a SQLite database (SQLITE_NOTADB: file is not a database)`);
    expect(refusals.foreign).to.equal(`${foreign} is not a Crest store (it has no events, checkpoints, snapshots, payment_tokens table)`);
    expect(refusals.incomplete).to.match(new RegExp(`^${incomplete} is incomplete: it holds \\d+ events up to position \\d+, the backup recorded \\d+ up to \\d+$`));
    expect(refusals.oversold).to.match(new RegExp(`^${oversold} breaks the stock invariant for 1 SKU, e.g. BK-A: .*"available":-`));
    expect(existsSync(target)).to.equal(false);
  });

  it('refuses a restore while a Crest process holds the directory; an entry left by a process that is gone does not count', async () => {
    // given a backup, and a directory a running Crest holds (this process)
    const file = join(work, 'for-holders.sqlite');
    await backupStore(crest.dataDir, file, capture());
    const held = join(work, 'held');
    mkdirSync(held);
    const bundle = openSqliteBundle({ file: join(held, 'crest.sqlite'), synchronous: 'FULL' });
    try {
      // when it is restored into that directory
      const message = await refusal(() => restoreStore(file, held, capture()));
      // then it is refused, naming the process
      expect(message).to.match(new RegExp(`^a Crest process holds ${held} \\(pid ${process.pid} since [^)]+\\): stop it first`));
    } finally {
      await bundle.events.close();
    }
    expect(readdirSync(join(held, HOLDERS_DIR)), 'closing the store removes its entry').to.deep.equal([]);

    // given a directory whose only entry is one a crashed process left behind
    const stale = join(work, 'stale');
    mkdirSync(join(stale, HOLDERS_DIR), { recursive: true });
    writeFileSync(join(stale, HOLDERS_DIR, String(deadPid())), '{}');
    // when it is restored into
    const report = await restoreStore(file, stale, capture());
    // then the stale entry is ignored (and removed)
    expect(report.integrity).to.equal('ok');
    expect(readdirSync(stale)).to.deep.equal(['crest.sqlite']);

    // given a directory held from another host, which cannot be checked from here
    const remote = join(work, 'remote');
    mkdirSync(join(remote, HOLDERS_DIR), { recursive: true });
    writeFileSync(join(remote, HOLDERS_DIR, '4242'), JSON.stringify({ pid: 4242, host: 'another-host', since: '2026-11-11T00:00:00.000Z' }));
    // then a restore is refused, and says which entry to delete if that process is gone
    expect(await refusal(() => restoreStore(file, remote, capture()))).to.equal(
      `a Crest process holds ${remote} (pid 4242 on another-host since 2026-11-11T00:00:00.000Z): stop it first (if that process is not Crest, delete ${join(remote, HOLDERS_DIR, '4242')})`,
    );
  });

  it('refuses to open the store of a directory while a restore into it is under way', () => {
    // given a restore under way into a directory
    const dir = join(work, 'restoring');
    const release = claimForRestore(dir);
    try {
      // when Crest opens its store there
      // then it is refused
      expect(() => openSqliteBundle({ file: join(dir, 'crest.sqlite'), synchronous: 'FULL' })).to.throw(DataDirHeldError, /^a restore into .* is under way \(pid \d+/);
      expect(existsSync(join(dir, 'crest.sqlite'))).to.equal(false);
    } finally {
      release();
    }
    // and once it has finished, Crest opens it
    const bundle = openSqliteBundle({ file: join(dir, 'crest.sqlite'), synchronous: 'FULL' });
    return bundle.events.close();
  });

  it('refuses a bad invocation: no file, two files, --verify with a file, a network event store, a missing store', async () => {
    expect(parseBackupArgs('restore', ['b.sqlite'])).to.deep.equal({ file: 'b.sqlite', verify: false });
    expect(parseBackupArgs('restore', ['--verify'])).to.deep.equal({ file: undefined, verify: true });
    expect(() => parseBackupArgs('backup', [])).to.throw(UsageError, 'crest backup takes one file: crest backup <file>');
    expect(() => parseBackupArgs('restore', ['a', 'b'])).to.throw(UsageError, 'crest restore takes one file: crest restore <file>');
    expect(() => parseBackupArgs('restore', ['--verify', 'a'])).to.throw(UsageError, /--verify takes no file/);
    expect(() => parseBackupArgs('backup', ['--verify'])).to.throw(UsageError, /--verify/);
    expect(() => parseBackupArgs('backup', ['--force', 'a'])).to.throw(UsageError, /--force/);
    expect(() => embeddedStoreOf('backup', { CREST_EVENT_STORE: 'postgresql', CREST_DATA_DIR: work })).to.throw(UsageError, /use that store's own tools \(docs\/backup\.md\)/);
    expect(await refusal(() => backupStore(join(work, 'empty'), join(work, 'x.sqlite'), capture()))).to.equal(`no event store at ${join(work, 'empty', 'crest.sqlite')} (set CREST_DATA_DIR)`);
    expect(await refusal(() => restoreStore(join(work, 'missing.sqlite'), join(work, 'y'), capture()))).to.equal(`${join(work, 'missing.sqlite')}: no such file`);
  });
});

describe('crest restore --verify on the network event store (PostgreSQL)', function () {
  this.timeout(60_000);
  const options = isolatedPostgresSchema();
  let pg: PostgresEventStore | undefined;
  after(async () => pg?.close());

  it('counts the events, finds the last position and checks the invariant of every SKU; refuses a log that breaks it', async () => {
    // given a log in PostgreSQL (as pg_restore would leave it)
    pg = new PostgresEventStore(options);
    const store = upcasting(pg);
    const meta = { correlationId: 'pg', causationId: 'pg', schemaVersion: 1 };
    const event = (type: string, data: Record<string, unknown>) => ({ id: randomUUID(), type, data, metadata: meta });
    const expiresAt = new Date(Date.now() + 60_000).toISOString();
    await store.appendToStream('product-PGV-1', [event('ProductListed', { sku: 'PGV-1', name: 'n', category: 'c', priceCents: 1 })], 'no_stream');
    await store.appendToStream(
      'inventory-PGV-1',
      [event('StockReceived', { sku: 'PGV-1', receiptId: 'r', quantity: 5 }), event('StockReserved', { sku: 'PGV-1', orderId: 'o1', quantity: 2, expiresAt }), event('ReservationConfirmed', { sku: 'PGV-1', orderId: 'o1', quantity: 2 })],
      'no_stream',
    );
    await store.appendToStream('inventory-PGV-2', [event('StockReceived', { sku: 'PGV-2', receiptId: 'r', quantity: 1 })], 'no_stream');
    // when it is verified
    const io = capture();
    const verified = await verifyStore(store, 'the postgresql event store', io);
    // then the whole log was read and every SKU's stock folded
    expect(verified).to.include({ events: 5, lastPosition: 5 });
    expect(verified.stock.get('PGV-1')).to.deep.equal({ received: 5, adjusted: 0, available: 3, reserved: 0, sold: 2 });
    expect(io.out()).to.match(/^verified the postgresql event store:\n {2}events +5\n {2}last position +5\n {2}stock invariant +holds for all 2 SKUs/);
    // when a SKU is reserved past its stock (written around its writer) and it is verified again
    await store.appendToStream('inventory-PGV-2', [event('StockReserved', { sku: 'PGV-2', orderId: 'o2', quantity: 4, expiresAt })], 0);
    // then it is refused, naming the SKU
    expect(await refusal(() => verifyStore(store, 'the postgresql event store', capture()))).to.match(/^the postgresql event store breaks the stock invariant for 1 SKU, e.g. PGV-2: .*"available":-3/);
  });
});
