import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { backupStore } from '../../infra/cli/backup';
import { Tokens } from '../../infra/composition/root';
import { seedProduct, startCrest, type TestCrest } from '../support/crest-harness';
import { FaultSale, type OrderRecord } from '../support/fault-sale';
import { expectStockInvariant, stockFromLog } from '../support/stock';
import { waitFor } from '../support/wait-for';

const crestBin = resolve(__dirname, '../../bin/crest');

/** Runs `bin/crest <args>` in a process of its own, as an operator would, without blocking this process's Crest. */
const crestCli = (args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((done) => {
    const child = spawn(crestBin, args, { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', CREST_LOG_LEVEL: 'warn', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => done({ code, stdout, stderr }));
  });

const quiet = { stdout: { write: () => true }, stderr: { write: () => true } };

/** Orders a client was told exist, as they stood at one moment. */
const acknowledgedNow = (sale: FaultSale): Map<string, OrderRecord> => new Map(sale.acknowledged().map((o) => [o.orderId, { ...o }]));

/** Starts Crest on a restored directory and checks it against what was acknowledged; returns the running Crest. */
const startOnRestored = async (dir: string, skus: readonly string[]): Promise<TestCrest> => {
  const restored = await startCrest({}, dir);
  await waitFor(async () => (await restored.call('GET', '/health/ready')).status === 200, 20_000, 'the restored Crest to be ready');
  const store = restored.running.container.get(Tokens.EventStore);
  for (const sku of skus) {
    expectStockInvariant(await stockFromLog(store, sku));
    // the restored saga carries on with payments that were under way, so the log may still move
    let seen = '';
    await waitFor(
      async () => {
        const fromLog = await stockFromLog(store, sku);
        const head = (await store.headPosition()) ?? 0;
        const read = await restored.call('GET', `/v1/inventory/${sku}`, { headers: { 'x-min-position': String(head) } });
        seen = `log ${JSON.stringify(fromLog)}, read ${read.status} ${JSON.stringify(read.body)}`;
        return read.status === 200 && (['received', 'reserved', 'sold', 'available'] as const).every((k) => read.body[k] === fromLog[k]);
      },
      10_000,
      `${sku}: the read models rebuilt from the restored log to equal it`,
    ).catch((error: Error) => {
      throw new Error(`${error.message}: ${seen}`);
    });
  }
  return restored;
};

describe('crest backup and restore under a running sale', function () {
  this.timeout(120_000);
  let work: string;
  let crest: TestCrest;
  const cleanups: Array<() => Promise<void>> = [];
  const skus = ['BKS-A', 'BKS-B', 'BKS-C', 'BKS-D'];

  beforeEach(async () => {
    work = mkdtempSync(join(tmpdir(), 'crest-backup-e2e-'));
    crest = await startCrest();
    for (const sku of skus) await seedProduct(crest, sku, 2000, 1500);
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
    await crest.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  it('restores every order acknowledged before the backup began, none that came after it, and the invariant for every SKU', async () => {
    // given a sale under way: orders, payments, order pages and browsing
    const sale = new FaultSale({ name: 'backup', targets: () => [crest.url], skus, category: 'flash', prefix: 'bk', hangBoundMs: 10_000 });
    const traffic = sale.traffic({ orders: 20_000, clients: 8, maxMs: 90_000, browse: true, payEvery: 3, statusEvery: 5 });
    await traffic.reach(200, 30_000, 'the sale to be under way');

    // when a backup begins (its point in the log is taken before the call returns) and is held halfway through its
    // copy while the sale goes on
    const before = acknowledgedNow(sale);
    const sentBefore = sale.orders.length;
    let copiedWhenHeld = 0;
    let released = false;
    const file = join(work, 'mid-sale.sqlite');
    const backingUp = backupStore(crest.dataDir, file, quiet, {
      pagesPerStep: 4,
      paused: ({ copied, total }) => {
        if (released || copied < total / 2) return false;
        copiedWhenHeld ||= copied;
        return true;
      },
    });
    await waitFor(() => copiedWhenHeld > 0, 30_000, 'the backup to be halfway');
    sale.openWindow();
    const ordersAtHold = traffic.done;
    await traffic.reach(ordersAtHold + 100, 30_000, 'orders while the backup holds its point');
    // orders first sent after it began: an order sent before may have committed before it and been answered after
    const acknowledged = acknowledgedNow(sale);
    const during = sale.orders.slice(sentBefore).filter((o) => acknowledged.has(o.orderId));
    released = true;
    const summary = await backingUp;
    sale.closeWindow();
    await traffic.stop();
    sale.report('while the backup was copying');

    // then the sale was served throughout, and the backup holds the log as it was when it began
    sale.expectClientsWereAnsweredWell();
    expect(during.length, 'orders sent and acknowledged while the backup was copying').to.be.at.least(50);
    const lastBefore = Math.max(...[...before.values()].map((o) => o.position ?? 0));
    expect(summary.lastPosition).to.be.at.least(lastBefore);
    expect(Math.min(...during.map((o) => o.position ?? Infinity)), 'what came after it began').to.be.above(summary.lastPosition);

    // when it is restored into a new directory by the CLI, and Crest is started on it
    const restoredDir = join(work, 'restored');
    const restore = await crestCli(['restore', file], { CREST_DATA_DIR: restoredDir });
    expect(restore.code, restore.stderr).to.equal(0);
    expect(restore.stdout).to.match(new RegExp(`events +${summary.events.toLocaleString('en')}, as the backup recorded`));
    expect(restore.stdout).to.match(new RegExp(`last position +${summary.lastPosition.toLocaleString('en')}, as the backup recorded`));
    expect(restore.stdout).to.match(/stock invariant +holds for all 4 SKUs/);
    const restored = await startOnRestored(restoredDir, skus);
    cleanups.push(() => restored.stop());

    // then every order acknowledged before the backup began is there, and none acknowledged after it
    for (const order of before.values()) {
      const read = await restored.call('GET', `/v1/orders/${order.orderId}`);
      expect(read.status, `${order.orderId}, acknowledged before the backup`).to.equal(200);
      expect(read.body.status, order.orderId).to.be.oneOf(['awaiting_payment', 'confirmed']);
    }
    for (const order of during) expect((await restored.call('GET', `/v1/orders/${order.orderId}`)).status, `${order.orderId}, sent after`).to.equal(404);
    console.log(
      `      [backup] ${summary.events} events, ${summary.pages} pages, ${before.size} orders acknowledged before it began, all restored; ${during.length} sent and acknowledged while it was held, none in it`,
    );
  });

  it('backs up from another process while orders go on, and restores what was acknowledged before', async () => {
    // given a sale under way
    const sale = new FaultSale({ name: 'backup-cli', targets: () => [crest.url], skus, category: 'flash', prefix: 'bkc', hangBoundMs: 10_000 });
    const traffic = sale.traffic({ orders: 20_000, clients: 8, maxMs: 90_000, payEvery: 4 });
    await traffic.reach(200, 30_000, 'the sale to be under way');
    // when an operator runs crest backup on the running Crest's directory
    const before = acknowledgedNow(sale);
    const ordersAtStart = traffic.done;
    const file = join(work, 'cli.sqlite');
    const backup = await crestCli(['backup', file], { CREST_DATA_DIR: crest.dataDir });
    const ordersDuring = traffic.done - ordersAtStart;
    await traffic.stop();
    // then it succeeds with a one-line summary, and the sale went on meanwhile
    expect(backup.code, backup.stderr).to.equal(0);
    expect(backup.stdout).to.match(/^backed up [\d,]+ events \(last position [\d,]+\) to .*cli\.sqlite: [\d,]+ bytes in \d+\.\d\d s\n$/);
    expect(ordersDuring, 'orders finished while the backup process ran').to.be.above(0);
    sale.expectClientsWereAnsweredWell();
    // and restored, every order acknowledged before it began is there
    const restoredDir = join(work, 'restored-cli');
    const restore = await crestCli(['restore', file], { CREST_DATA_DIR: restoredDir });
    expect(restore.code, restore.stderr).to.equal(0);
    const restored = await startOnRestored(restoredDir, skus);
    cleanups.push(() => restored.stop());
    for (const order of before.values()) expect((await restored.call('GET', `/v1/orders/${order.orderId}`)).status, order.orderId).to.equal(200);
  });

  it('refuses with one line and exit code 2: onto an existing file, into the directory of a running Crest, from a damaged file, on a network store', async () => {
    // given a running Crest (this test process) and a backup of it
    const file = join(work, 'taken.sqlite');
    await backupStore(crest.dataDir, file, quiet);
    const damaged = join(work, 'damaged.sqlite');
    writeFileSync(damaged, 'not a database');
    // when each is asked for
    const refusals = [
      await crestCli(['backup', file], { CREST_DATA_DIR: crest.dataDir }),
      await crestCli(['restore', file], { CREST_DATA_DIR: crest.dataDir }),
      await crestCli(['restore', damaged], { CREST_DATA_DIR: join(work, 'empty') }),
      await crestCli(['backup', join(work, 'other.sqlite')], { CREST_EVENT_STORE: 'postgresql', CREST_POSTGRES_URL: 'postgres://crest@127.0.0.1:5432/crest' }),
    ];
    // then each is one line saying why, with exit code 2
    for (const r of refusals) {
      expect(r.code, r.stderr).to.equal(2);
      expect(r.stderr.trim().split('\n'), r.stderr).to.have.length(1);
    }
    expect(refusals[0]!.stderr).to.equal(`crest backup: ${file} already exists; a backup never replaces a file: give a new name\n`);
    expect(refusals[1]!.stderr).to.match(new RegExp(`^crest restore: a Crest process holds ${crest.dataDir} \\(pid ${process.pid} since .*\\): stop it first`));
    expect(refusals[2]!.stderr).to.equal(`crest restore: ${damaged} is not a SQLite database (SQLITE_NOTADB: file is not a database)\n`);
    expect(refusals[3]!.stderr).to.match(/^crest backup: crest backup works on the embedded SQLite store; with CREST_EVENT_STORE=postgresql use that store's own tools \(docs\/backup\.md\)\n$/);
  });
});
