import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { EventStore } from '../../domain/kernel/event-store';
import { streamName } from '../../domain/kernel/streams';
import { MemoryEventStore } from '../../infra/memory/memory-event-store';
import { MemorySnapshotStore } from '../../infra/memory/memory-snapshot-store';
import { SqliteEventStore } from '../../infra/sqlite/sqlite-event-store';
import { SqliteSnapshotStore } from '../../infra/sqlite/sqlite-snapshot-store';
import { expectStockInvariant, stockFromLog } from '../../test/support/stock';
import { waitFor } from '../../test/support/wait-for';
import type { SnapshotStore } from '../ports';
import { InventoryWriter, type WriterObserver, type WriterOptions } from './inventory-writer';

interface Harness {
  store: EventStore;
  snapshots: SnapshotStore;
  dispose(): Promise<void>;
}

const harnesses: Array<[string, () => Harness]> = [
  ['memory', () => ({ store: new MemoryEventStore(), snapshots: new MemorySnapshotStore(), dispose: async () => undefined })],
  [
    'sqlite (synchronous=FULL)',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'crest-writer-'));
      const store = new SqliteEventStore({ file: join(dir, 'crest.sqlite'), synchronous: 'FULL' });
      return {
        store,
        snapshots: new SqliteSnapshotStore(store.db),
        dispose: async () => {
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  ],
];

const ctx = { commandId: 'test', correlationId: 'test' };
const later = (ms = 15 * 60_000) => new Date(Date.now() + ms).toISOString();

class RecordingObserver implements WriterObserver {
  batches: number[] = [];
  fromMemory = 0;
  conflicts = 0;
  loads: Array<{ eventsReplayed: number; fromSnapshot: boolean }> = [];
  batchCommitted(_sku: string, commands: number): void {
    this.batches.push(commands);
  }
  commandDecided(_sku: string, _command: string, _outcome: string, fromMemory: boolean): void {
    if (fromMemory) this.fromMemory++;
  }
  conflict(): void {
    this.conflicts++;
  }
  loaded(_sku: string, eventsReplayed: number, fromSnapshot: boolean): void {
    this.loads.push({ eventsReplayed, fromSnapshot });
  }
  snapshotFailed(): void {}
}

/** The harness's store, with each single-stream append held until the test lets it go on (or fail). */
const gated = (h: Harness) => {
  const held: Array<{ go(): void; fail(error: Error): void }> = [];
  const store: EventStore = Object.create(h.store, {
    appendToStream: {
      value: (...args: Parameters<EventStore['appendToStream']>) =>
        new Promise((resolve, reject) => held.push({ go: () => void h.store.appendToStream(...args).then(resolve, reject), fail: reject })),
    },
  });
  return { harness: { ...h, store }, held };
};

const writerFor = (h: Harness, sku: string, observer = new RecordingObserver(), options: Partial<WriterOptions> = {}) =>
  new InventoryWriter(sku, {
    store: h.store,
    snapshots: h.snapshots,
    clock: { now: () => new Date() },
    ids: { next: () => randomUUID() },
    observer,
    options: { maxBatch: 2000, snapshotEvery: 1000, maxConflictRetries: 5, ...options },
  });

for (const [name, make] of harnesses) {
  describe(`InventoryWriter on ${name}`, () => {
    let h: Harness;
    beforeEach(() => (h = make()));
    afterEach(() => h.dispose());

    it('reserves exactly 1,000 units out of 5,000 concurrent attempts on one SKU', async () => {
      const observer = new RecordingObserver();
      const writer = writerFor(h, 'HOT-1', observer);
      await writer.submit({ type: 'ReceiveStock', sku: 'HOT-1', receiptId: 'r1', quantity: 1000 }, ctx);
      const outcomes = await Promise.all(
        Array.from({ length: 5000 }, (_, i) => writer.submit({ type: 'ReserveStock', sku: 'HOT-1', orderId: `o-${i}`, quantity: 1, expiresAt: later() }, ctx)),
      );
      expect(outcomes.filter((o) => o.ok)).to.have.length(1000);
      expect(outcomes.filter((o) => !o.ok).every((o) => !o.ok && o.rejection.code === 'out_of_stock')).to.equal(true);
      const stock = await stockFromLog(h.store, 'HOT-1');
      expect(stock).to.include({ received: 1000, reserved: 1000, available: 0, sold: 0 });
      expectStockInvariant(stock);
      // rejections were never written: one receipt plus one event per successful reservation
      expect(await h.store.readStream(streamName('inventory', 'HOT-1'))).to.have.length(1001);
      expect(Math.max(...observer.batches), 'group commit batches commands').to.be.greaterThan(1);
      writer.stop();
    });

    it('commits an order placed alongside a reservation in the same transaction, and answers an order that exists with nothing reserved', async () => {
      // given stock, and an order stream that exists already
      const writer = writerFor(h, 'BESIDE');
      await writer.submit({ type: 'ReceiveStock', sku: 'BESIDE', receiptId: 'r1', quantity: 10 }, ctx);
      await h.store.appendToStream('order-taken', [{ id: randomUUID(), type: 'OrderPlaced', data: {}, metadata: {} }], 'no_stream');
      const placed = (orderId: string) => ({ streamId: `order-${orderId}`, events: [{ id: randomUUID(), type: 'OrderPlaced', data: { orderId }, metadata: {} }], expectedRevision: 'no_stream' as const });

      // when three orders arrive together, one of them for the order that exists
      const [a, taken, b] = await Promise.all(
        ['a', 'taken', 'b'].map((orderId) => writer.submit({ type: 'ReserveStock', sku: 'BESIDE', orderId, quantity: 2, expiresAt: later() }, ctx, { alongside: placed(orderId) })),
      );

      // then the two new orders are reserved and placed in one append: their four events follow each other in the log
      expect([a!.ok, b!.ok]).to.deep.equal([true, true]);
      expect(taken).to.deep.include({ ok: false });
      expect(!taken!.ok && taken!.rejection.code).to.equal('already_exists');
      const log = await h.store.readAll();
      expect(log.slice(-4).map((e) => `${e.type} ${e.streamId}`)).to.deep.equal(['StockReserved inventory-BESIDE', 'StockReserved inventory-BESIDE', 'OrderPlaced order-a', 'OrderPlaced order-b']);
      expect([a!.position, b!.position]).to.deep.equal([log[log.length - 2]!.position, log[log.length - 1]!.position]);
      // and nothing is held for the order that existed
      const stock = await stockFromLog(h.store, 'BESIDE');
      expect(stock).to.include({ reserved: 4, available: 6 });
      expectStockInvariant(stock);
    });

    it('answers sold-out requests from memory without touching the store', async () => {
      const observer = new RecordingObserver();
      const writer = writerFor(h, 'SOLD', observer);
      await writer.submit({ type: 'ReceiveStock', sku: 'SOLD', receiptId: 'r1', quantity: 1 }, ctx);
      await writer.submit({ type: 'ReserveStock', sku: 'SOLD', orderId: 'first', quantity: 1, expiresAt: later() }, ctx);
      const head = await h.store.headPosition();
      const outcomes = [];
      for (let i = 0; i < 50; i++) outcomes.push(await writer.submit({ type: 'ReserveStock', sku: 'SOLD', orderId: `late-${i}`, quantity: 1, expiresAt: later() }, ctx));
      expect(outcomes.every((o) => !o.ok)).to.equal(true);
      expect(observer.fromMemory).to.equal(50);
      expect(await h.store.headPosition()).to.equal(head);
      writer.stop();
    });

    it('deduplicates reservations by order id, even when the duplicates arrive together', async () => {
      const writer = writerFor(h, 'DUP');
      await writer.submit({ type: 'ReceiveStock', sku: 'DUP', receiptId: 'r1', quantity: 10 }, ctx);
      const outcomes = await Promise.all(
        Array.from({ length: 20 }, () => writer.submit({ type: 'ReserveStock', sku: 'DUP', orderId: 'same-order', quantity: 3, expiresAt: later() }, ctx)),
      );
      expect(outcomes.every((o) => o.ok)).to.equal(true);
      const stock = await stockFromLog(h.store, 'DUP');
      expect(stock).to.include({ reserved: 3, available: 7, reservations: 1 });
      expectStockInvariant(stock);
      writer.stop();
    });

    it('reloads from a snapshot plus the tail instead of replaying the whole stream', async () => {
      const writer = writerFor(h, 'LONG', new RecordingObserver(), { snapshotEvery: 5000 });
      await writer.submit({ type: 'ReceiveStock', sku: 'LONG', receiptId: 'r1', quantity: 1_000_000 }, ctx);
      for (let round = 0; round < 12; round++) {
        await Promise.all(
          Array.from({ length: 1000 }, (_, i) => writer.submit({ type: 'ReserveStock', sku: 'LONG', orderId: `o-${round}-${i}`, quantity: 1, expiresAt: later() }, ctx)),
        );
        await Promise.all(
          Array.from({ length: 1000 }, (_, i) =>
            writer.submit(i % 2 === 0 ? { type: 'ConfirmReservation', sku: 'LONG', orderId: `o-${round}-${i}` } : { type: 'ReleaseReservation', sku: 'LONG', orderId: `o-${round}-${i}`, reason: 'cancelled' }, ctx),
          ),
        );
      }
      const expected = await writer.figures();
      writer.stop();
      await waitFor(async () => ((await h.snapshots.load(streamName('inventory', 'LONG')))?.revision ?? -1) >= 20_000, 5000, 'a snapshot');

      const observer = new RecordingObserver();
      const reloaded = writerFor(h, 'LONG', observer, { snapshotEvery: 5000 });
      expect(await reloaded.figures()).to.deep.equal(expected);
      expect(observer.loads).to.have.length(1);
      expect(observer.loads[0]!.fromSnapshot).to.equal(true);
      expect(observer.loads[0]!.eventsReplayed).to.be.lessThan(5000);
      expectStockInvariant(await stockFromLog(h.store, 'LONG'));
      reloaded.stop();
    });

    it('saves a snapshot after a load that replayed 100 events or more, so the next start reads only the tail', async () => {
      const first = writerFor(h, 'RESTART', new RecordingObserver(), { snapshotEvery: 1000 });
      await first.submit({ type: 'ReceiveStock', sku: 'RESTART', receiptId: 'r1', quantity: 1000 }, ctx);
      for (let i = 0; i < 300; i++) await first.submit({ type: 'ReserveStock', sku: 'RESTART', orderId: `o-${i}`, quantity: 1, expiresAt: later() }, ctx);
      first.stop();
      expect(await h.snapshots.load(streamName('inventory', 'RESTART'))).to.equal(undefined);

      const afterCrash = new RecordingObserver();
      const second = writerFor(h, 'RESTART', afterCrash, { snapshotEvery: 1000 });
      const expected = await second.figures();
      expect(afterCrash.loads).to.deep.equal([{ eventsReplayed: 301, fromSnapshot: false }]);
      second.stop();
      await waitFor(async () => (await h.snapshots.load(streamName('inventory', 'RESTART')))?.revision === 300, 5000, 'a snapshot after the load');

      const afterRestart = new RecordingObserver();
      const third = writerFor(h, 'RESTART', afterRestart, { snapshotEvery: 1000 });
      expect(await third.figures()).to.deep.equal(expected);
      expect(afterRestart.loads).to.deep.equal([{ eventsReplayed: 0, fromSnapshot: true }]);
      expectStockInvariant(await stockFromLog(h.store, 'RESTART'));
      third.stop();
    });

    it('recovers from a conflict with a second writer and still never oversells', async () => {
      const a = new RecordingObserver();
      const b = new RecordingObserver();
      const first = writerFor(h, 'CONTESTED', a);
      const second = writerFor(h, 'CONTESTED', b);
      await first.submit({ type: 'ReceiveStock', sku: 'CONTESTED', receiptId: 'r1', quantity: 100 }, ctx);
      await second.figures();
      const results: string[] = [];
      for (let round = 0; round < 10; round++) {
        // each writer appends in turn, so the other one's in-memory revision is always stale
        const attempts = Array.from({ length: 30 }, (_, i) =>
          (i % 2 === 0 ? first : second).submit({ type: 'ReserveStock', sku: 'CONTESTED', orderId: `o-${round}-${i}`, quantity: 1, expiresAt: later() }, ctx).then(
            (o) => (o.ok ? 'reserved' : o.rejection.code),
            (e: { code?: string }) => e.code ?? 'error',
          ),
        );
        results.push(...(await Promise.all(attempts)));
      }
      expect(a.conflicts + b.conflicts, 'the two writers collided').to.be.greaterThan(0);
      const stock = await stockFromLog(h.store, 'CONTESTED');
      expect(results.filter((r) => r === 'reserved').length).to.equal(stock.reserved);
      expect(stock.reserved).to.be.at.most(100);
      expectStockInvariant(stock);
      first.stop();
      second.stop();
    });

    it('acknowledges nothing when the append fails, and recovers afterwards', async () => {
      let failing = false;
      const flaky: EventStore = Object.create(h.store, {
        appendToStream: {
          value: (...args: Parameters<EventStore['appendToStream']>) => (failing ? Promise.reject(new Error('disk on fire')) : h.store.appendToStream(...args)),
        },
      });
      const writer = writerFor({ ...h, store: flaky }, 'FRAGILE');
      await writer.submit({ type: 'ReceiveStock', sku: 'FRAGILE', receiptId: 'r1', quantity: 5 }, ctx);
      failing = true;
      const failed = await Promise.allSettled([1, 2, 3].map((i) => writer.submit({ type: 'ReserveStock', sku: 'FRAGILE', orderId: `o-${i}`, quantity: 1, expiresAt: later() }, ctx)));
      expect(failed.every((r) => r.status === 'rejected')).to.equal(true);
      failing = false;
      const retried = await writer.submit({ type: 'ReserveStock', sku: 'FRAGILE', orderId: 'o-1', quantity: 1, expiresAt: later() }, ctx);
      expect(retried.ok).to.equal(true);
      const stock = await stockFromLog(h.store, 'FRAGILE');
      expect(stock).to.include({ reserved: 1, available: 4 });
      expectStockInvariant(stock);
      writer.stop();
    });

    it('decides and sends the next batch while the one before it commits, and answers each only once it is durable', async () => {
      // given a writer whose appends the test lets through one by one
      const { harness, held } = gated(h);
      const writer = writerFor(harness, 'PIPE', new RecordingObserver(), { pipelineDepth: 2 });
      const seeded = writer.submit({ type: 'ReceiveStock', sku: 'PIPE', receiptId: 'r1', quantity: 100 }, ctx);
      await waitFor(() => held.length === 1, 2000, 'the receipt to be sent');
      held[0]!.go();
      await seeded;
      const answered: string[] = [];
      const reserve = (orderId: string) =>
        writer.submit({ type: 'ReserveStock', sku: 'PIPE', orderId, quantity: 1, expiresAt: later() }, ctx).then((o) => {
          answered.push(orderId);
          return o;
        });
      // when a first batch is on its way and more orders arrive
      const first = ['a1', 'a2', 'a3'].map(reserve);
      await waitFor(() => held.length === 2, 2000, 'the first batch to be sent');
      const second = ['b1', 'b2'].map(reserve);
      // then the second batch is sent before the first is durable, and nothing is answered yet
      await waitFor(() => held.length === 3, 2000, 'the second batch to be sent while the first is in flight');
      expect(answered).to.deep.equal([]);
      // and each batch is answered once its own append is durable, in order
      held[1]!.go();
      await Promise.all(first);
      expect(answered).to.deep.equal(['a1', 'a2', 'a3']);
      held[2]!.go();
      expect((await Promise.all(second)).every((o) => o.ok)).to.equal(true);
      const stock = await stockFromLog(h.store, 'PIPE');
      expect(stock).to.include({ reserved: 5, available: 95 });
      expectStockInvariant(stock);
      writer.stop();
    });

    it('decides again the batches sent after one that failed, so no answer (not even sold out) rests on a batch that did not commit', async () => {
      // given 6 units and a writer whose appends the test lets through one by one
      const { harness, held } = gated(h);
      const writer = writerFor(harness, 'PIPE-FAIL', new RecordingObserver(), { pipelineDepth: 2 });
      const seeded = writer.submit({ type: 'ReceiveStock', sku: 'PIPE-FAIL', receiptId: 'r1', quantity: 6 }, ctx);
      await waitFor(() => held.length === 1, 2000, 'the receipt to be sent');
      held[0]!.go();
      await seeded;
      const reserve = (orderId: string) => writer.submit({ type: 'ReserveStock', sku: 'PIPE-FAIL', orderId, quantity: 1, expiresAt: later() }, ctx);
      // when a batch of 5 is in flight, a batch of 5 more is decided against it (1 left: 4 of them look sold out)
      const first = Promise.allSettled(['a1', 'a2', 'a3', 'a4', 'a5'].map(reserve));
      await waitFor(() => held.length === 2, 2000, 'the first batch to be sent');
      const second = Promise.all(['b1', 'b2', 'b3', 'b4', 'b5'].map(reserve));
      await waitFor(() => held.length === 3, 2000, 'the second batch to be sent');
      // and the first batch fails, then the second reaches the store
      held[1]!.fail(new Error('disk on fire'));
      held[2]!.go();
      // then the second batch fails its expected revision, is decided again against what is durable, and is sent again
      await waitFor(() => held.length === 4, 2000, 'the second batch to be decided again and sent');
      held[3]!.go();
      expect((await first).every((r) => r.status === 'rejected'), 'the failed batch is not acknowledged').to.equal(true);
      expect((await second).map((o) => o.ok)).to.deep.equal([true, true, true, true, true]);
      const stock = await stockFromLog(h.store, 'PIPE-FAIL');
      expect(stock).to.include({ reserved: 5, available: 1, reservations: 5 });
      expectStockInvariant(stock);
      writer.stop();
    });

    it('releases reservations whose TTL has passed', async () => {
      const writer = writerFor(h, 'TTL');
      await writer.submit({ type: 'ReceiveStock', sku: 'TTL', receiptId: 'r1', quantity: 5 }, ctx);
      await writer.submit({ type: 'ReserveStock', sku: 'TTL', orderId: 'soon', quantity: 2, expiresAt: later(30) }, ctx);
      await writer.submit({ type: 'ReserveStock', sku: 'TTL', orderId: 'later', quantity: 1, expiresAt: later() }, ctx);
      await waitFor(async () => (await stockFromLog(h.store, 'TTL')).reserved === 1, 5000, 'the expiry');
      const stock = await stockFromLog(h.store, 'TTL');
      expect(stock).to.include({ available: 4, reservations: 1 });
      expectStockInvariant(stock);
      writer.stop();
    });
  });
}
