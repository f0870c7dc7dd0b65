import type { EventStore, RecordedEvent } from '../../domain/kernel/event-store';
import { LogFollower, type FollowerMonitor } from '../../projections/log-follower';
import type { OrderEvent } from '../../domain/order/order';
import type { PaymentEvent } from '../../domain/payment/payment';
import type { SnapshotStore } from '../ports';

interface Pending {
  readonly expiresAt: number;
  readonly skus: readonly string[];
  payment?: { paymentId: string; amountCents: number };
  outcomeKnown: boolean;
  /** When the scheduler should look at this order next: its deadline, then every REFIRE_MS while it is still pending. */
  checkAt: number;
}

/** A binary min-heap of [time, orderId]: the scheduler pops what is due instead of scanning every pending order. */
class DueQueue {
  private readonly items: Array<[number, string]> = [];

  get size(): number {
    return this.items.length;
  }

  push(at: number, orderId: string): void {
    const items = this.items;
    items.push([at, orderId]);
    for (let i = items.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (items[parent]![0] <= items[i]![0]) break;
      [items[parent], items[i]] = [items[i]!, items[parent]!];
      i = parent;
    }
  }

  /** The earliest entry due at or before `t`, removed; undefined when none is. */
  popDue(t: number): [number, string] | undefined {
    const items = this.items;
    if (items.length === 0 || items[0]![0] > t) return undefined;
    const top = items[0]!;
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && items[l]![0] < items[m]![0]) m = l;
        if (r < items.length && items[r]![0] < items[m]![0]) m = r;
        if (m === i) break;
        [items[m], items[i]] = [items[i]!, items[m]!];
        i = m;
      }
    }
    return top;
  }

  clear(): void {
    this.items.length = 0;
  }
}

/** Re-fire an expiry that has not taken effect after this long (the first attempt failed, or is still running). */
const REFIRE_MS = 5000;

const SNAPSHOT_STREAM = 'checkout-deadlines';
// v2 keeps no payment token (v1 did): a v1 snapshot is not read, which costs one full replay
const SNAPSHOT_VERSION = 2;

/** One pending order, flat: [orderId, expiresAt, skus, outcomeKnown, paymentId?, amountCents?]. */
type StoredPending = [string, number, string[], boolean, string?, number?];

export interface DeadlineTrackerOptions {
  /** Where the tracker keeps its state between starts; without one, every start rebuilds it from the whole log. */
  readonly snapshots?: SnapshotStore;
  /** Save after this many order and payment events (or as many as there are pending orders, if more). */
  readonly snapshotEvery?: number;
  readonly monitor?: FollowerMonitor;
  readonly retryMaxMs?: number;
}

/**
 * The durable timers of checkout, as a projection of the log: which orders await payment and until when, which
 * payments have no outcome yet, and which SKUs hold reservations. The scheduler reads it instead of keeping a timer
 * per order. With a snapshot store, it starts from its last snapshot and replays only the events after it;
 * snapshots are best-effort, so a lost one only costs a longer replay.
 */
export class DeadlineTracker {
  private readonly pending = new Map<string, Pending>();
  // entries of orders no longer pending (or re-queued) are dropped when they come up: no removal from the middle
  private readonly due = new DueQueue();
  private follower: LogFollower | undefined;
  private position = 0;
  private eventsSinceSnapshot = 0;
  private snapshotting: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: EventStore,
    private readonly options: DeadlineTrackerOptions = {},
  ) {}

  async start(): Promise<void> {
    this.pending.clear();
    this.due.clear();
    this.position = await this.restore();
    this.eventsSinceSnapshot = 0;
    const head = (await this.store.headPosition({ categories: ['order', 'payment'] })) ?? 0;
    let caughtUp!: () => void;
    const reached = new Promise<void>((resolve) => (caughtUp = resolve));
    const every = this.options.snapshotEvery ?? 10_000;
    let live = head <= this.position;
    if (live) caughtUp();
    this.follower = new LogFollower(
      this.store,
      {
        name: SNAPSHOT_STREAM,
        after: this.position > 0 ? this.position : undefined,
        filter: { categories: ['order', 'payment'] },
        batchSize: 2000,
        ...(this.options.retryMaxMs === undefined ? {} : { retryMaxMs: this.options.retryMaxMs }),
      },
      (batch) => {
        for (const e of batch) this.apply(e);
        this.position = batch[batch.length - 1]!.position;
        this.eventsSinceSnapshot += batch.length;
        // one snapshot when the replay at start ends, then one per max(every, pending) events: O(1) per event
        const due = live ? Math.max(every, this.pending.size) : every;
        if (this.position >= head) {
          live = true;
          caughtUp();
        }
        if (live && this.eventsSinceSnapshot >= due) this.snapshot();
      },
      this.options.monitor,
    );
    await this.follower.start();
    await reached;
  }

  async stop(): Promise<void> {
    await this.follower?.stop();
    this.follower = undefined;
    if (this.eventsSinceSnapshot > 0) this.snapshot();
    await this.snapshotting;
  }

  /** The snapshot's position, or 0 (replay everything) when there is none or it cannot be read. */
  private async restore(): Promise<number> {
    try {
      const snapshot = await this.options.snapshots?.load(SNAPSHOT_STREAM);
      if (!snapshot || snapshot.schemaVersion !== SNAPSHOT_VERSION || !Array.isArray(snapshot.state)) return 0;
      for (const [orderId, expiresAt, skus, outcomeKnown, paymentId, amountCents] of snapshot.state as StoredPending[]) {
        const payment = paymentId === undefined ? undefined : { paymentId, amountCents: amountCents! };
        this.track(orderId, { expiresAt, skus: [...skus], outcomeKnown, checkAt: expiresAt, ...(payment ? { payment } : {}) });
      }
      return snapshot.position;
    } catch {
      this.pending.clear();
      this.due.clear();
      return 0;
    }
  }

  private snapshot(): void {
    const snapshots = this.options.snapshots;
    if (!snapshots || this.position === 0) return;
    this.eventsSinceSnapshot = 0;
    const state: StoredPending[] = [];
    for (const [orderId, p] of this.pending) {
      state.push(p.payment ? [orderId, p.expiresAt, [...p.skus], p.outcomeKnown, p.payment.paymentId, p.payment.amountCents] : [orderId, p.expiresAt, [...p.skus], p.outcomeKnown]);
    }
    const saved = { streamId: SNAPSHOT_STREAM, revision: this.position, position: this.position, schemaVersion: SNAPSHOT_VERSION, state };
    this.snapshotting = this.snapshotting.then(() => snapshots.save(saved)).catch(() => undefined);
  }

  /** Orders past their deadline that still await payment (each returned again only after REFIRE_MS). O(due). */
  dueAt(now: Date): string[] {
    const t = now.getTime();
    const due: string[] = [];
    for (let entry = this.due.popDue(t); entry; entry = this.due.popDue(t)) {
      const [at, orderId] = entry;
      const p = this.pending.get(orderId);
      if (!p || p.checkAt !== at) continue;
      p.checkAt = t + REFIRE_MS;
      this.due.push(p.checkAt, orderId);
      due.push(orderId);
    }
    return due;
  }

  private track(orderId: string, p: Pending): void {
    this.pending.set(orderId, p);
    this.due.push(p.checkAt, orderId);
  }

  awaitingPaymentOutcome(): Array<{ orderId: string; paymentId: string; amountCents: number }> {
    const out = [];
    for (const [orderId, p] of this.pending) if (p.payment && !p.outcomeKnown) out.push({ orderId, ...p.payment });
    return out;
  }

  /**
   * SKUs of orders still awaiting payment: their writers are loaded at start so that their own sweeps run. (A
   * reservation whose order was never placed is swept when its SKU's writer next loads.)
   */
  skusHoldingReservations(): string[] {
    const skus = new Set<string>();
    for (const p of this.pending.values()) for (const sku of p.skus) skus.add(sku);
    return [...skus];
  }

  pendingCount(): number {
    return this.pending.size;
  }

  private apply(e: RecordedEvent): void {
    const event = { type: e.type, data: e.data } as OrderEvent | PaymentEvent;
    switch (event.type) {
      case 'OrderPlaced': {
        const expiresAt = Date.parse(event.data.expiresAt);
        this.track(event.data.orderId, { expiresAt, skus: event.data.lines.map((l) => l.sku), outcomeKnown: false, checkAt: expiresAt });
        return;
      }
      case 'PaymentRequested': {
        const p = this.pending.get(event.data.orderId);
        if (p) p.payment = { paymentId: event.data.paymentId, amountCents: event.data.amountCents };
        return;
      }
      case 'PaymentCaptured':
      case 'PaymentFailed': {
        const p = this.pending.get(event.data.orderId);
        if (p) p.outcomeKnown = true;
        return;
      }
      case 'OrderConfirmed':
      case 'OrderPaymentFailed':
      case 'OrderCancelled':
      case 'OrderExpired':
      case 'OrderRejected':
        this.pending.delete(event.data.orderId);
        return;
      default:
        return;
    }
  }
}
