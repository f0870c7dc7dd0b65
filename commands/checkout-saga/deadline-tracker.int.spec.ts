import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { EventStore, SubscribeOptions, BatchHandler, Subscription } from '../../domain/kernel/event-store';
import { MemoryEventStore } from '../../infra/memory/memory-event-store';
import { MemorySnapshotStore } from '../../infra/memory/memory-snapshot-store';
import { waitFor } from '../../test/support/wait-for';
import { DeadlineTracker } from './deadline-tracker';

const meta = { correlationId: 'test', causationId: 'test', commandId: 'test', timestamp: '2030-01-01T00:00:00.000Z', schemaVersion: 1 };
const event = (type: string, data: unknown) => ({ id: randomUUID(), type, data, metadata: meta });
const expiresAt = '2030-01-01T00:15:00.000Z';

const place = (store: EventStore, orderId: string, sku: string) =>
  store.appendToStream(`order-${orderId}`, [event('OrderPlaced', { orderId, customerId: 'c1', lines: [{ sku, quantity: 1, priceCents: 100 }], totalCents: 100, requestHash: 'h', placedAt: '2030-01-01T00:00:00.000Z', expiresAt })], 'any');
const requestPayment = (store: EventStore, orderId: string) =>
  store.appendToStream(`payment-${orderId}`, [event('PaymentRequested', { orderId, paymentId: `pay-${orderId}`, amountCents: 100, tokenFingerprint: 'fp-ok', requestedAt: '2030-01-01T00:01:00.000Z' })], 'any');
const capture = (store: EventStore, orderId: string) =>
  store.appendToStream(`payment-${orderId}`, [event('PaymentCaptured', { orderId, paymentId: `pay-${orderId}`, amountCents: 100, capturedAt: '2030-01-01T00:02:00.000Z' })], 'any');
const cancel = (store: EventStore, orderId: string) =>
  store.appendToStream(`order-${orderId}`, [event('OrderCancelled', { orderId, customerId: 'c1', cancelledAt: '2030-01-01T00:03:00.000Z' })], 'any');

/** The real store, counting the events its subscriptions deliver. */
class CountingStore extends MemoryEventStore {
  delivered = 0;
  override subscribeToAll(options: SubscribeOptions, handler: BatchHandler): Subscription {
    return super.subscribeToAll(options, (batch) => {
      this.delivered += batch.length;
      return handler(batch);
    });
  }
}

const stateOf = (t: DeadlineTracker) => ({
  pending: t.pendingCount(),
  awaitingOutcome: t.awaitingPaymentOutcome().map((p) => p.orderId).sort(),
  skus: t.skusHoldingReservations().sort(),
});

describe('DeadlineTracker snapshots', () => {
  it('resumes from its snapshot, replays only the newer events, and ends in the state a full replay gives', async () => {
    const store = new CountingStore();
    const snapshots = new MemorySnapshotStore();
    await place(store, 'o1', 'A');
    await place(store, 'o2', 'B');
    await requestPayment(store, 'o2');
    await place(store, 'o3', 'C');
    await cancel(store, 'o3');

    const first = new DeadlineTracker(store, { snapshots });
    await first.start();
    expect(stateOf(first)).to.deep.equal({ pending: 2, awaitingOutcome: ['o2'], skus: ['A', 'B'] });
    await first.stop();
    expect((await snapshots.load('checkout-deadlines'))?.position).to.equal(await store.headPosition());

    await place(store, 'o4', 'D');
    await capture(store, 'o2');
    store.delivered = 0;
    const resumed = new DeadlineTracker(store, { snapshots });
    await resumed.start();
    expect(store.delivered).to.equal(2);
    const rebuilt = new DeadlineTracker(store);
    await rebuilt.start();
    expect(stateOf(resumed)).to.deep.equal({ pending: 3, awaitingOutcome: [], skus: ['A', 'B', 'D'] });
    expect(stateOf(resumed)).to.deep.equal(stateOf(rebuilt));
    await resumed.stop();
    await rebuilt.stop();
  });

  it('rebuilds from the whole log when the snapshot has another schema version', async () => {
    const store = new CountingStore();
    const snapshots = new MemorySnapshotStore();
    await place(store, 'o1', 'A');
    const head = (await store.headPosition())!;
    await snapshots.save({ streamId: 'checkout-deadlines', revision: head, position: head, schemaVersion: 99, state: { something: 'else' } });
    const tracker = new DeadlineTracker(store, { snapshots });
    await tracker.start();
    expect(store.delivered).to.equal(1);
    expect(stateOf(tracker)).to.deep.equal({ pending: 1, awaitingOutcome: [], skus: ['A'] });
    await tracker.stop();
  });

  it('rebuilds from the whole log when the snapshot cannot be read', async () => {
    const store = new CountingStore();
    const snapshots = new MemorySnapshotStore();
    await place(store, 'o1', 'A');
    const head = (await store.headPosition())!;
    await snapshots.save({ streamId: 'checkout-deadlines', revision: head, position: head, schemaVersion: 1, state: [null, 42] });
    const tracker = new DeadlineTracker(store, { snapshots });
    await tracker.start();
    expect(store.delivered).to.equal(1);
    expect(stateOf(tracker)).to.deep.equal({ pending: 1, awaitingOutcome: [], skus: ['A'] });
    await tracker.stop();
  });

  it('saves a snapshot every so many events while running', async () => {
    const store = new MemoryEventStore();
    const snapshots = new MemorySnapshotStore();
    const tracker = new DeadlineTracker(store, { snapshots, snapshotEvery: 3 });
    await tracker.start();
    for (const id of ['o1', 'o2', 'o3', 'o4']) await place(store, id, 'A');
    await waitFor(async () => ((await snapshots.load('checkout-deadlines'))?.position ?? 0) >= 3, 5000, 'a snapshot while running');
    await tracker.stop();
  });
});

describe('DeadlineTracker due orders', () => {
  const at = (iso: string) => new Date(iso);
  const deadline = Date.parse(expiresAt);

  it('returns an order at its deadline, again every 5 s while it still awaits payment, and never once it has ended', async () => {
    // given three orders awaiting payment, all due at the same deadline, and 20,000 that are not
    const store = new MemoryEventStore();
    for (const id of ['a', 'b', 'c']) await place(store, id, 'SKU');
    for (let i = 0; i < 20_000; i++) {
      await store.appendToStream(`order-later-${i}`, [event('OrderPlaced', { orderId: `later-${i}`, customerId: 'c1', lines: [{ sku: 'SKU', quantity: 1, priceCents: 1 }], totalCents: 1, requestHash: 'h', placedAt: '2030-01-01T00:00:00.000Z', expiresAt: '2031-01-01T00:00:00.000Z' })], 'any');
    }
    const tracker = new DeadlineTracker(store);
    await tracker.start();
    try {
      // then nothing is due before the deadline, and the three are due at it, once
      expect(tracker.dueAt(new Date(deadline - 1))).to.deep.equal([]);
      expect(tracker.dueAt(at(expiresAt)).sort()).to.deep.equal(['a', 'b', 'c']);
      expect(tracker.dueAt(new Date(deadline + 4999))).to.deep.equal([]);

      // when one is cancelled, the other two come up again 5 s later, and only they
      await cancel(store, 'b');
      await waitFor(() => tracker.pendingCount() === 20_002, 5000, 'the cancel to be tracked');
      expect(tracker.dueAt(new Date(deadline + 5000)).sort()).to.deep.equal(['a', 'c']);
    } finally {
      await tracker.stop();
    }
  });
});
