import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { CrestEvent, CrestEventType } from '../domain/events';
import { validateEvent } from '../domain/events';
import type { RecordedEvent } from '../domain/kernel/event-store';
import { MemoryEventStore } from '../infra/memory/memory-event-store';
import { MemoryReadModels } from '../infra/memory/memory-read-models';
import type { EventData } from '../test/support/recorded';
import { waitFor } from '../test/support/wait-for';
import type { Projection } from './projection';
import { PoisonEventError } from './log-follower';
import { ProjectionRunner, type PoisonPolicy } from './projection-runner';
import type { DocumentChange, ProjectionObserver, ReadModelStore } from './ports';
import { customerOrdersProjection, inventoryProjection, ordersProjection, productsProjection } from './read-models';

const projections: readonly Projection[] = [productsProjection, inventoryProjection, ordersProjection, customerOrdersProjection];

/** Everything a runner reported, in order. */
class RecordingObserver implements ProjectionObserver {
  readonly batches: Array<{ runner: string; events: number; position: number; lagSeconds: number }> = [];
  readonly caughtUps: Array<{ runner: string; position: number; events: number }> = [];
  readonly failures: Array<{ runner: string; error: unknown; event: RecordedEvent | undefined }> = [];
  readonly skips: Array<{ runner: string; error: unknown; event: RecordedEvent }> = [];

  batchApplied(runner: string, events: number, position: number, lagSeconds: number): void {
    this.batches.push({ runner, events, position, lagSeconds });
  }

  caughtUp(runner: string, position: number, _seconds: number, events: number): void {
    this.caughtUps.push({ runner, position, events });
  }

  failed(runner: string, error: unknown, event: RecordedEvent | undefined): void {
    this.failures.push({ runner, error, event });
  }

  skipped(runner: string, error: unknown, event: RecordedEvent): void {
    this.skips.push({ runner, error, event });
  }

  readonly progress: Array<{ position: number; head: number; events: number }> = [];
  catchingUp(_runner: string, position: number, head: number, events: number): void {
    this.progress.push({ position, head, events });
  }

  readonly aheadOfLog: Array<{ runner: string; checkpoint: number; head: number }> = [];
  checkpointAheadOfLog(runner: string, checkpoint: number, head: number): void {
    this.aheadOfLog.push({ runner, checkpoint, head });
  }
}

/**
 * A decorator around the real MemoryReadModels: records every event handed to applyBatch, can hold batches
 * back (a gate), and can fail every batch that contains a chosen event (a poison event).
 */
class InstrumentedReadModels implements ReadModelStore {
  /** Every event applyBatch was given and passed on to the real store, in order. */
  readonly applied: RecordedEvent[] = [];
  poisonId: string | undefined;
  /** The next this many batches fail with a transient error. */
  transientFailures = 0;
  private gate: { promise: Promise<void>; open: () => void } | undefined;

  constructor(readonly inner: MemoryReadModels) {}

  hold(): void {
    let open!: () => void;
    const promise = new Promise<void>((resolve) => (open = resolve));
    this.gate = { promise, open };
  }

  release(): void {
    const gate = this.gate;
    this.gate = undefined;
    gate?.open();
  }

  async applyBatch(runner: string, list: readonly Projection[], events: readonly RecordedEvent[], position: number): Promise<readonly DocumentChange[]> {
    while (this.gate) await this.gate.promise;
    const poison = events.find((e) => e.id === this.poisonId);
    // what foldBatch raises when a projection's own code fails on an event
    if (poison) throw new PoisonEventError(poison, new Error(`poison event ${this.poisonId}`));
    if (this.transientFailures > 0) {
      this.transientFailures -= 1;
      throw new Error('SQLITE_BUSY: database is locked');
    }
    this.applied.push(...events);
    return this.inner.applyBatch(runner, list, events, position);
  }

  loadCheckpoint(runner: string): Promise<number | undefined> {
    return this.inner.loadCheckpoint(runner);
  }

  reset(runner: string, list: readonly Projection[]): Promise<void> {
    return this.inner.reset(runner, list);
  }
}

const metadata = () => ({ correlationId: randomUUID(), causationId: randomUUID(), commandId: randomUUID(), timestamp: new Date().toISOString(), schemaVersion: 1 });

interface Appended {
  readonly id: string;
  readonly position: number;
}

/** Appends one domain event, validated against its schema, as the command side would. */
const append = async <T extends CrestEventType>(store: MemoryEventStore, streamId: string, type: T, data: EventData<T>): Promise<Appended> => {
  const valid = validateEvent({ type, data } as CrestEvent);
  const id = randomUUID();
  const result = await store.appendToStream(streamId, [{ id, type, data: valid.data, metadata: metadata() }], 'any');
  return { id, position: result.position };
};

/** An event of a type no projection handles (as other parts of the system will write). */
const appendUnrelated = async (store: MemoryEventStore): Promise<Appended> => {
  const id = randomUUID();
  const result = await store.appendToStream(`payment-${randomUUID()}`, [{ id, type: 'PaymentAuthorised', data: { amountCents: 100 }, metadata: metadata() }], 'any');
  return { id, position: result.position };
};

const product = (sku: string, priceCents = 1999) => ({ sku, name: `Product ${sku}`, category: 'Kitchen', priceCents, description: `All about ${sku}` });

const ORDER = 'ord_AAAAAAAAAAAAAAAAAAAAAAAA';
const CUSTOMER = 'cust-1';

/** A small shop: two products with stock, a reservation, an order and an unrelated event at the head. */
const seed = async (store: MemoryEventStore): Promise<{ head: number; relevant: number }> => {
  await append(store, 'product-KETTLE', 'ProductListed', product('KETTLE', 2999));
  await append(store, 'product-MUG', 'ProductListed', product('MUG', 500));
  await append(store, 'inventory-KETTLE', 'StockReceived', { sku: 'KETTLE', receiptId: 'r1', quantity: 10 });
  await append(store, 'inventory-MUG', 'StockReceived', { sku: 'MUG', receiptId: 'r1', quantity: 20 });
  await append(store, 'inventory-KETTLE', 'StockReserved', { sku: 'KETTLE', orderId: ORDER, quantity: 2, expiresAt: '2030-01-01T10:15:00.000Z' });
  await append(store, 'order-' + ORDER, 'OrderPlaced', {
    orderId: ORDER,
    customerId: CUSTOMER,
    lines: [{ sku: 'KETTLE', quantity: 2, priceCents: 2999 }],
    totalCents: 5998,
    requestHash: 'h1',
    placedAt: '2030-01-01T10:00:00.000Z',
    expiresAt: '2030-01-01T10:15:00.000Z',
  });
  await append(store, 'product-MUG', 'PriceChanged', { sku: 'MUG', priceCents: 450, previousPriceCents: 500 });
  await append(store, 'inventory-MUG', 'StockAdjusted', { sku: 'MUG', adjustmentId: 'a1', delta: -3, reason: 'broken' });
  const last = await appendUnrelated(store);
  return { head: last.position, relevant: 8 };
};

/** What the queries say about the seeded shop (and any SKUs/orders named). */
const readAll = async (readModels: MemoryReadModels, skus: readonly string[] = ['KETTLE', 'MUG'], orders: readonly string[] = [ORDER]) => ({
  products: await Promise.all(skus.map((s) => readModels.product(s))),
  inventory: await Promise.all(skus.map((s) => readModels.inventory(s))),
  orders: await Promise.all(orders.map((o) => readModels.order(o))),
  customerOrders: await readModels.customerOrders(CUSTOMER, 10),
  browse: await readModels.browse({ sort: 'price', limit: 50 }),
});

describe('ProjectionRunner (with MemoryEventStore and MemoryReadModels)', () => {
  let store: MemoryEventStore;
  let readModels: MemoryReadModels;
  let target: InstrumentedReadModels;
  let observer: RecordingObserver;
  let runners: ProjectionRunner[];

  const newRunner = (options: { batchSize?: number; poisonPolicy?: PoisonPolicy; observer?: RecordingObserver; progressEveryMs?: number } = {}): ProjectionRunner => {
    const runner = new ProjectionRunner(store, target, options.observer ?? observer, {
      name: 'read-models',
      projections,
      batchSize: options.batchSize ?? 3,
      poisonPolicy: options.poisonPolicy ?? 'stop',
      ...(options.progressEveryMs === undefined ? {} : { progressEveryMs: options.progressEveryMs }),
    });
    runners.push(runner);
    return runner;
  };

  beforeEach(() => {
    store = new MemoryEventStore();
    readModels = new MemoryReadModels();
    target = new InstrumentedReadModels(readModels);
    observer = new RecordingObserver();
    runners = [];
  });

  afterEach(async () => {
    target.release();
    for (const runner of runners) await runner.stop();
    await store.close();
  });

  describe('catching up', () => {
    it('catches up from an existing log and reports ready once past the head at start', async () => {
      const { head, relevant } = await seed(store);
      const runner = newRunner({ batchSize: 3 });
      target.hold();
      await runner.start();
      expect(runner.ready, 'ready before any batch was applied').to.equal(false);
      expect(runner.position).to.equal(0);
      expect(observer.caughtUps).to.deep.equal([]);

      target.release();
      await waitFor(() => runner.ready, 5000, 'the runner to be ready');
      expect(runner.position).to.equal(head);
      expect(runner.failed).to.equal(undefined);
      expect(observer.caughtUps).to.deep.equal([{ runner: 'read-models', position: head, events: head }]);
      expect(observer.batches.map((b) => b.events)).to.deep.equal([3, 3, 3]);
      expect(observer.batches.map((b) => b.position)).to.deep.equal([3, 6, 9]);
      expect(target.applied).to.have.length(relevant);
      expect(await readModels.loadCheckpoint('read-models')).to.equal(head);

      expect(await readModels.product('KETTLE')).to.include({ listed: true, priceCents: 2999, available: 8 });
      expect(await readModels.product('MUG')).to.include({ listed: true, priceCents: 450, available: 17 });
      expect(await readModels.inventory('MUG')).to.include({ received: 20, adjusted: -3, available: 17 });
      expect(await readModels.order(ORDER)).to.include({ status: 'awaiting_payment', totalCents: 5998 });
      expect((await readModels.customerOrders(CUSTOMER, 10)).items.map((o) => o.orderId)).to.deep.equal([ORDER]);
      expect((await readModels.browse({ sort: 'price', limit: 10 })).items.map((p) => p.sku)).to.deep.equal(['MUG', 'KETTLE']);
    });

    it('reports its progress while replaying towards the head it started with, and not after', async () => {
      const { head } = await seed(store);
      const runner = newRunner({ batchSize: 3, progressEveryMs: 0 });
      await runner.start();
      await waitFor(() => runner.ready, 5000, 'the runner to be ready');
      expect(observer.progress).to.deep.equal([
        { position: 3, head, events: 3 },
        { position: 6, head, events: 6 },
      ]);
      await appendUnrelated(store);
      await waitFor(() => runner.position > head, 5000, 'the live event');
      expect(observer.progress).to.have.length(2);
    });

    it('is ready at once over an empty log', async () => {
      const runner = newRunner();
      await runner.start();
      expect(runner.ready).to.equal(true);
      expect(runner.position).to.equal(0);
      expect(observer.caughtUps).to.deep.equal([{ runner: 'read-models', position: 0, events: 0 }]);
    });

    it('stays ready while it applies events appended after the start', async () => {
      const runner = newRunner();
      await runner.start();
      target.hold();
      const listed = await append(store, 'product-LAMP', 'ProductListed', product('LAMP'));
      expect(runner.ready).to.equal(true);
      target.release();
      expect(await runner.waitFor(listed.position, 5000)).to.equal(true);
      expect(observer.caughtUps).to.have.length(1);
    });
  });

  describe('live', () => {
    it('applies new appends, and waitFor resolves true once they are applied', async () => {
      const { head } = await seed(store);
      const runner = newRunner();
      const changes: DocumentChange[] = [];
      runner.onChanges((c) => changes.push(...c));
      await runner.start();
      await waitFor(() => runner.ready, 5000, 'the runner to be ready');

      // a waiter registered before the event exists
      const waiting = runner.waitFor(head + 1, 5000);
      const listed = await append(store, 'product-LAMP', 'ProductListed', product('LAMP', 1200));
      expect(listed.position).to.be.greaterThan(head);
      expect(await waiting).to.equal(true);
      expect(await readModels.product('LAMP')).to.include({ listed: true, priceCents: 1200 });
      expect(changes.some((c) => c.collection === 'products' && c.id === 'LAMP')).to.equal(true);

      // a waiter for an event already appended
      const received = await append(store, 'inventory-LAMP', 'StockReceived', { sku: 'LAMP', receiptId: 'r1', quantity: 4 });
      expect(await runner.waitFor(received.position, 5000)).to.equal(true);
      expect(await readModels.product('LAMP')).to.include({ available: 4 });
      expect(await readModels.inventory('LAMP')).to.include({ received: 4, available: 4 });
      expect(runner.position).to.equal(received.position);
      expect(await readModels.loadCheckpoint('read-models')).to.equal(received.position);

      // a position already passed answers at once
      expect(await runner.waitFor(head, 0)).to.equal(true);
    });

    it('passes over unrelated events, moving its position and checkpoint', async () => {
      const runner = newRunner();
      await runner.start();
      const unrelated = await appendUnrelated(store);
      expect(await runner.waitFor(unrelated.position, 5000)).to.equal(true);
      expect(target.applied).to.deep.equal([]);
      expect(await readModels.loadCheckpoint('read-models')).to.equal(unrelated.position);
    });

    it('resolves waitFor false on timeout for a position never reached', async () => {
      const { head } = await seed(store);
      const runner = newRunner();
      await runner.start();
      await waitFor(() => runner.ready, 5000, 'the runner to be ready');
      const started = Date.now();
      expect(await runner.waitFor(head + 1000, 50)).to.equal(false);
      expect(Date.now() - started).to.be.at.least(40);
      expect(runner.position).to.equal(head);
    });

    it('resolves pending waiters false when stopped', async () => {
      const { head } = await seed(store);
      const runner = newRunner();
      await runner.start();
      const waiting = runner.waitFor(head + 1000, 60_000);
      await runner.stop();
      expect(await waiting).to.equal(false);
    });
  });

  describe('resuming', () => {
    it('resumes from the stored checkpoint after stop and start, without applying anything twice', async () => {
      const { head, relevant } = await seed(store);
      const runner = newRunner({ batchSize: 4 });
      await runner.start();
      await waitFor(() => runner.ready, 5000, 'the first catch-up');
      await runner.stop();
      expect(target.applied).to.have.length(relevant);
      expect(await readModels.loadCheckpoint('read-models')).to.equal(head);

      const price = await append(store, 'product-KETTLE', 'PriceChanged', { sku: 'KETTLE', priceCents: 2499, previousPriceCents: 2999 });
      await appendUnrelated(store);
      const received = await append(store, 'inventory-KETTLE', 'StockReceived', { sku: 'KETTLE', receiptId: 'r2', quantity: 5 });

      const caughtUpBefore = observer.caughtUps.length;
      await runner.start();
      expect(await runner.waitFor(received.position, 5000)).to.equal(true);
      expect(runner.ready).to.equal(true);
      expect(target.applied.slice(relevant).map((e) => e.id)).to.deep.equal([price.id, received.id]);
      expect(target.applied.map((e) => e.id)).to.have.length(new Set(target.applied.map((e) => e.id)).size);
      expect(observer.caughtUps.slice(caughtUpBefore)).to.deep.equal([{ runner: 'read-models', position: received.position, events: 3 }]);
      expect(await readModels.product('KETTLE')).to.include({ priceCents: 2499, available: 13 });
      expect(await readModels.inventory('KETTLE')).to.include({ received: 15, reserved: 2, available: 13 });
    });

    it('resumes in a new runner (a restarted process) over the same read models', async () => {
      const { head, relevant } = await seed(store);
      const first = newRunner();
      await first.start();
      await waitFor(() => first.ready, 5000, 'the first runner to catch up');
      await first.stop();

      const listed = await append(store, 'product-LAMP', 'ProductListed', product('LAMP'));
      const second = newRunner({ observer: new RecordingObserver() });
      await second.start();
      expect(second.position, 'starts at the checkpoint').to.equal(head);
      expect(await second.waitFor(listed.position, 5000)).to.equal(true);
      expect(target.applied).to.have.length(relevant + 1);
      expect(target.applied[relevant]!.id).to.equal(listed.id);
    });

    it('does nothing on restart when the log has not moved', async () => {
      const { head, relevant } = await seed(store);
      const runner = newRunner();
      await runner.start();
      await waitFor(() => runner.ready, 5000, 'the runner to be ready');
      await runner.stop();
      await runner.start();
      expect(runner.ready).to.equal(true);
      expect(runner.position).to.equal(head);
      const unrelated = await appendUnrelated(store);
      expect(await runner.waitFor(unrelated.position, 5000)).to.equal(true);
      expect(target.applied).to.have.length(relevant);
    });
  });

  describe('rebuild()', () => {
    it('drops the documents and replays the whole log into identical ones', async () => {
      const { head, relevant } = await seed(store);
      await append(store, 'order-' + ORDER, 'OrderCancelled', { orderId: ORDER, customerId: CUSTOMER, cancelledAt: '2030-01-01T10:05:00.000Z' });
      const last = await append(store, 'inventory-KETTLE', 'ReservationReleased', { sku: 'KETTLE', orderId: ORDER, quantity: 2, reason: 'cancelled' });
      const runner = newRunner({ batchSize: 2 });
      await runner.start();
      expect(await runner.waitFor(last.position, 5000)).to.equal(true);
      const built = await readAll(readModels);
      expect(built.orders[0]).to.include({ status: 'cancelled' });
      expect(built.products[0]).to.include({ available: 10 });

      target.hold();
      await runner.rebuild();
      expect(await readModels.product('KETTLE'), 'documents dropped').to.equal(undefined);
      expect(await readModels.loadCheckpoint('read-models'), 'checkpoint dropped').to.equal(undefined);
      expect(runner.ready).to.equal(false);
      expect(runner.position).to.equal(0);

      target.release();
      await waitFor(() => runner.ready, 5000, 'the rebuild to finish');
      expect(runner.position).to.equal(last.position);
      expect(await readAll(readModels)).to.deep.equal(built);
      expect(await readModels.loadCheckpoint('read-models')).to.equal(last.position);
      // every relevant event was applied once before and once more during the rebuild
      expect(target.applied).to.have.length(2 * (relevant + 2));
      expect(observer.caughtUps.map((c) => c.position)).to.deep.equal([last.position, last.position]);
      expect(head).to.be.lessThan(last.position);
    });

    it('gives the same documents as a fresh runner over fresh read models', async () => {
      await seed(store);
      const runner = newRunner({ batchSize: 5 });
      await runner.start();
      await waitFor(() => runner.ready, 5000, 'the runner to be ready');
      await runner.rebuild();
      await waitFor(() => runner.ready, 5000, 'the rebuild to finish');

      const freshModels = new MemoryReadModels();
      const fresh = new ProjectionRunner(store, freshModels, new RecordingObserver(), { name: 'fresh', projections, batchSize: 1, poisonPolicy: 'stop' });
      runners.push(fresh);
      await fresh.start();
      await waitFor(() => fresh.ready, 5000, 'the fresh runner to be ready');
      expect(await readAll(readModels)).to.deep.equal(await readAll(freshModels));
    });
  });

  describe('transient failures of the read-model store', () => {
    it('retries the failing batch with backoff, shows it in its status, and applies everything once the store answers', async () => {
      // given a log and a read-model store that fails the next 4 batches as a locked database would
      const { head } = await seed(store);
      target.transientFailures = 4;
      const statuses: string[] = [];
      const runner = new ProjectionRunner(store, target, observer, {
        name: 'read-models',
        projections,
        batchSize: 3,
        poisonPolicy: 'stop',
        retryMaxMs: 20,
        monitor: {
          attach: () => () => undefined,
          retrying: (name, _error, attempt) => statuses.push(`${name} retry ${attempt}`),
          recovered: (name, attempts) => statuses.push(`${name} recovered after ${attempts}`),
          halted: () => statuses.push('halted'),
          skipped: () => statuses.push('skipped'),
        },
      });
      runners.push(runner);

      // when it runs
      await runner.start();
      await waitFor(() => runner.ready, 5000, 'the runner to catch up');

      // then it retried the same batch, never gave up, and the read models equal a clean run
      expect(statuses).to.deep.equal(['read-models retry 1', 'read-models retry 2', 'read-models retry 3', 'read-models retry 4', 'read-models recovered after 4']);
      expect(runner.failed).to.equal(undefined);
      expect(runner.position).to.equal(head);
      const clean = new MemoryReadModels();
      const reference = new ProjectionRunner(store, clean, new RecordingObserver(), { name: 'reference', projections, batchSize: 100, poisonPolicy: 'stop' });
      runners.push(reference);
      await reference.start();
      await waitFor(() => reference.ready, 5000, 'the reference runner');
      expect(await readAll(readModels)).to.deep.equal(await readAll(clean));
    });
  });

  describe('poison events', () => {
    /** A product, a poison price change, then more events for it and another product. */
    const seedWithPoison = async () => {
      const listed = await append(store, 'product-KETTLE', 'ProductListed', product('KETTLE', 2999));
      const poison = await append(store, 'product-KETTLE', 'PriceChanged', { sku: 'KETTLE', priceCents: 1, previousPriceCents: 2999 });
      const other = await append(store, 'product-MUG', 'ProductListed', product('MUG', 500));
      const received = await append(store, 'inventory-KETTLE', 'StockReceived', { sku: 'KETTLE', receiptId: 'r1', quantity: 6 });
      target.poisonId = poison.id;
      return { listed, poison, other, received };
    };

    it("policy 'stop': halts at the failing event, is not ready, and applies nothing after it", async () => {
      const { listed, poison } = await seedWithPoison();
      const runner = newRunner({ batchSize: 1, poisonPolicy: 'stop' });
      await runner.start();
      await waitFor(() => runner.failed !== undefined, 5000, 'the runner to fail');

      expect(String(runner.failed)).to.include(poison.id);
      expect(runner.ready).to.equal(false);
      expect(runner.position).to.equal(listed.position);
      expect(await readModels.loadCheckpoint('read-models')).to.equal(listed.position);
      expect(observer.failures.length).to.be.at.least(1);
      expect(observer.failures[0]!.event?.id).to.equal(poison.id);
      expect(observer.skips).to.deep.equal([]);
      expect(await readModels.product('KETTLE')).to.include({ priceCents: 2999, available: 0 });
      expect(await readModels.product('MUG')).to.equal(undefined);

      // the log moves on; the stopped runner does not
      const later = await append(store, 'product-LAMP', 'ProductListed', product('LAMP'));
      expect(await runner.waitFor(later.position, 1000)).to.equal(false);
      expect(target.applied.map((e) => e.id)).to.deep.equal([listed.id]);
      expect(await readModels.product('LAMP')).to.equal(undefined);
    });

    it("policy 'stop': reports the failure once", async () => {
      await seedWithPoison();
      const runner = newRunner({ batchSize: 1, poisonPolicy: 'stop' });
      await runner.start();
      await waitFor(() => runner.failed !== undefined, 5000, 'the runner to fail');
      expect(observer.failures.map((f) => f.event?.id)).to.deep.equal([target.poisonId]);
    });

    it("policy 'skip': passes over the failing event and applies the rest", async () => {
      const { listed, poison, other, received } = await seedWithPoison();
      const unrelated = await appendUnrelated(store);
      const runner = newRunner({ batchSize: 10, poisonPolicy: 'skip' });
      await runner.start();
      await waitFor(() => runner.ready, 5000, 'the runner to be ready');

      expect(runner.failed).to.equal(undefined);
      expect(runner.position).to.equal(unrelated.position);
      expect(observer.skips.map((s) => s.event.id)).to.deep.equal([poison.id]);
      expect(String(observer.skips[0]!.error)).to.include(poison.id);
      expect(observer.failures).to.deep.equal([]);
      expect(target.applied.map((e) => e.id)).to.deep.equal([listed.id, other.id, received.id]);
      expect(await readModels.product('KETTLE')).to.include({ priceCents: 2999, available: 6 });
      expect(await readModels.product('MUG')).to.include({ listed: true, priceCents: 500 });
      expect(await readModels.loadCheckpoint('read-models')).to.equal(unrelated.position);

      // and it stays live
      const later = await append(store, 'product-LAMP', 'ProductListed', product('LAMP'));
      expect(await runner.waitFor(later.position, 5000)).to.equal(true);
      expect(await readModels.product('LAMP')).to.include({ listed: true });
    });

    it("policy 'skip': does not replay the skipped event after a restart", async () => {
      const { received } = await seedWithPoison();
      const runner = newRunner({ batchSize: 10, poisonPolicy: 'skip' });
      await runner.start();
      await waitFor(() => runner.ready, 5000, 'the runner to be ready');
      await runner.stop();
      await runner.start();
      const later = await append(store, 'product-LAMP', 'ProductListed', product('LAMP'));
      expect(await runner.waitFor(later.position, 5000)).to.equal(true);
      expect(observer.skips).to.have.length(1);
      expect(runner.position).to.be.greaterThan(received.position);
    });
  });
});
