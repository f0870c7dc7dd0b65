import Database from 'better-sqlite3';
import { expect } from 'chai';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { deriveOrderId } from '../../commands/orders/order-identity';
import { streamName } from '../../domain/kernel/streams';
import { SqliteEventStore } from '../../infra/sqlite/sqlite-event-store';
import { expectStockInvariant, stockFromLog } from '../support/stock';
import { waitFor } from '../support/wait-for';

const crestBin = resolve(__dirname, '../../bin/crest');
const ADMIN = 'crash-test-admin-token-0123';
const SKUS = ['CRASH-A', 'CRASH-B', 'CRASH-C'];
const STOCK = 400;

interface Running {
  readonly child: ChildProcessWithoutNullStreams;
  readonly url: string;
  readonly exited: Promise<void>;
}

/** `crest start` in a process of its own, over `dataDir`; resolves once it prints where it listens. */
const start = (dataDir: string, env: Record<string, string> = {}): Promise<Running> =>
  new Promise((resolveStart, reject) => {
    const child = spawn(crestBin, ['start'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', CREST_DATA_DIR: dataDir, CREST_ADMIN_TOKEN: ADMIN, CREST_LOG_LEVEL: 'warn', CREST_RATE_LIMIT_CUSTOMER_PER_SEC: '0', ...env },
    });
    let out = '';
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) resolveStart({ child, url: match[1]!, exited });
    });
    child.stderr.resume();
    void exited.then(() => reject(new Error(`crest exited before listening:\n${out}`)));
  });

const call = async (url: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
  const response = await fetch(`${url}${path}`, { method, headers: { 'content-type': 'application/json', ...headers }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: response.status, body: (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined };
};

describe('fault: crest start is killed with SIGKILL mid-sale', function () {
  this.timeout(120_000);
  let dataDir: string;
  before(() => (dataDir = mkdtempSync(join(tmpdir(), 'crest-crash-'))));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('keeps every acknowledged order, and every reservation belongs to a placed order or to none at all', async () => {
    // given a running Crest with three hot SKUs
    const first = await start(dataDir);
    const admin = { authorization: `Bearer ${ADMIN}` };
    for (const sku of SKUS) {
      await call(first.url, 'PUT', `/v1/products/${sku}`, { name: sku, category: 'crash', priceCents: 1000 }, admin);
      await call(first.url, 'POST', `/v1/inventory/${sku}/receipts`, { quantity: STOCK, receiptId: `seed-${sku}` }, admin);
    }

    // when 32 clients order (one line, or two) and the process is killed while they do
    const acknowledged: Array<{ orderId: string; skus: string[] }> = [];
    const linesOf = new Map<string, number>();
    const statuses = new Map<number, number>();
    let stop = false;
    let sent = 0;
    const client = async (c: number): Promise<void> => {
      for (let i = 0; !stop && i < 1000; i++) {
        const n = sent++;
        const lines = n % 4 === 3 ? [{ sku: SKUS[n % 3]!, quantity: 1 }, { sku: SKUS[(n + 1) % 3]!, quantity: 1 }] : [{ sku: SKUS[n % 3]!, quantity: 1 }];
        linesOf.set(deriveOrderId(`crash-${c}`, `crash-${c}-${i}`), lines.length);
        const r = await call(first.url, 'POST', '/v1/orders', { customerId: `crash-${c}`, lines }, { 'idempotency-key': `crash-${c}-${i}` }).catch(() => ({ status: 0, body: undefined }));
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status === 201) acknowledged.push({ orderId: String(r.body!.orderId), skus: lines.map((l) => l.sku) });
      }
    };
    const clients = Array.from({ length: 32 }, (_, c) => client(c));
    while (acknowledged.length < 300) await new Promise<void>((r) => setImmediate(r));
    first.child.kill('SIGKILL');
    await first.exited;
    stop = true;
    await Promise.all(clients);

    // then after a restart on the same directory every acknowledged order is there, awaiting payment
    const second = await start(dataDir);
    try {
      for (const order of acknowledged) {
        const r = await call(second.url, 'GET', `/v1/orders/${order.orderId}`);
        expect([r.status, r.body?.status], order.orderId).to.deep.equal([200, 'awaiting_payment']);
      }
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
    const store = new SqliteEventStore({ file: join(dataDir, 'crest.sqlite'), synchronous: 'FULL' });
    try {
      const placed = new Set<string>();
      for (const e of await store.readAll({ filter: { eventTypes: ['OrderPlaced'] } })) placed.add((e.data as { orderId: string }).orderId);
      const orphans: Array<{ orderId: string; lines: number | undefined }> = [];
      for (const sku of SKUS) {
        const stock = await stockFromLog(store, sku);
        expectStockInvariant(stock);
        expect(stock.sold).to.equal(0);
        for (const e of await store.readStream(streamName('inventory', sku))) {
          const orderId = (e.data as { orderId?: string }).orderId;
          if (e.type === 'StockReserved' && orderId !== undefined && !placed.has(orderId)) orphans.push({ orderId, lines: linesOf.get(orderId) });
        }
      }
      const oneLine = acknowledged.filter((o) => o.skus.length === 1).length;
      console.log(
        `      [fault:crash] killed after ${acknowledged.length} acknowledged orders (${oneLine} of one line); clients saw ${[...statuses].map(([s, n]) => `${s}×${n}`).join(' ')}; ` +
          `reservations without an order: ${orphans.length} (all of two-line orders, released at their TTL)`,
      );
      // a one-line order commits its reservation and its OrderPlaced together; only a two-line order cut between its
      // two steps may leave a reservation without an order, and its TTL gives that stock back
      expect(orphans.filter((o) => o.lines !== 2)).to.deep.equal([]);
    } finally {
      await store.close();
    }
  });
});

describe('fault: crest start is killed with SIGKILL while its writer thread is inside a commit', function () {
  this.timeout(120_000);
  let dataDir: string;
  before(() => (dataDir = mkdtempSync(join(tmpdir(), 'crest-crash-commit-'))));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  /** True while another connection holds the write lock: the writer thread is between BEGIN IMMEDIATE and COMMIT. */
  const insideCommit = (file: string): boolean => {
    const probe = new Database(file, { timeout: 0 });
    try {
      probe.exec('BEGIN IMMEDIATE');
      probe.exec('ROLLBACK');
      return false;
    } catch (error) {
      if ((error as { code?: string }).code === 'SQLITE_BUSY') return true;
      throw error;
    } finally {
      probe.close();
    }
  };

  it('keeps every acknowledged order and nothing of the commit it cut: no order, no reservation, no stock moved', async () => {
    // given a Crest whose writer thread holds each commit open for 1.5 s (every row written, nothing committed)
    const file = join(dataDir, 'crest.sqlite');
    const first = await start(dataDir, { CREST_SQLITE_FAULT_COMMIT_PAUSE_MS: '1500' });
    const admin = { authorization: `Bearer ${ADMIN}` };
    await call(first.url, 'PUT', '/v1/products/MIDCOMMIT', { name: 'MIDCOMMIT', category: 'crash', priceCents: 1000 }, admin);
    await call(first.url, 'POST', '/v1/inventory/MIDCOMMIT/receipts', { quantity: 50, receiptId: 'seed-midcommit' }, admin);
    const before = await call(first.url, 'POST', '/v1/orders', { customerId: 'mid-0', lines: [{ sku: 'MIDCOMMIT', quantity: 1 }] }, { 'idempotency-key': 'mid-commit-before' });
    expect(before.status).to.equal(201);

    // when 10 orders are in one commit and the process is killed while the thread is inside it
    const cut = Array.from({ length: 10 }, (_, i) =>
      call(first.url, 'POST', '/v1/orders', { customerId: `mid-${i}`, lines: [{ sku: 'MIDCOMMIT', quantity: 2 }] }, { 'idempotency-key': `mid-commit-cut-${i}` }).catch(() => ({ status: 0, body: undefined })),
    );
    // held for 300 ms on end: an append group (paused), not a checkpoint or snapshot write (milliseconds)
    let heldSince: number | undefined;
    await waitFor(
      () => {
        heldSince = insideCommit(file) ? (heldSince ?? Date.now()) : undefined;
        return heldSince !== undefined && Date.now() - heldSince >= 300;
      },
      20_000,
      'the writer thread to be inside a commit',
    );
    first.child.kill('SIGKILL');
    await first.exited;
    const answers = await Promise.all(cut);
    expect(answers.map((a) => a.status), 'nothing of the cut commit was acknowledged').to.deep.equal(answers.map(() => 0));

    // then after a restart, the order acknowledged before is there, and none of the cut ones is
    const second = await start(dataDir);
    try {
      expect((await call(second.url, 'GET', `/v1/orders/${String(before.body!.orderId)}`)).body?.status).to.equal('awaiting_payment');
      for (let i = 0; i < 10; i++) {
        const r = await call(second.url, 'GET', `/v1/orders/${deriveOrderId(`mid-${i}`, `mid-commit-cut-${i}`)}`);
        expect(r.status, `order ${i} of the cut commit`).to.equal(404);
      }
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
    // and the stock holds exactly the one acknowledged reservation
    const store = new SqliteEventStore({ file, synchronous: 'FULL' });
    try {
      const stock = await stockFromLog(store, 'MIDCOMMIT');
      expect(stock).to.include({ received: 50, reserved: 1, available: 49 });
      expectStockInvariant(stock);
    } finally {
      await store.close();
    }
  });
});
