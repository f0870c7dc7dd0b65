import type { EventStore, RecordedEvent, Subscription } from '../../domain/kernel/event-store';
import type { OrderEvent } from '../../domain/order/order';
import type { PaymentEvent } from '../../domain/payment/payment';

interface Pending {
  readonly expiresAt: number;
  readonly skus: readonly string[];
  payment?: { paymentId: string; amountCents: number; paymentToken: string };
  outcomeKnown: boolean;
  firedAt?: number;
}

/** Re-fire an expiry that has not taken effect after this long (the first attempt failed, or is still running). */
const REFIRE_MS = 5000;

/**
 * The durable timers of checkout, as a projection of the log: which orders await payment and until when, which
 * payments have no outcome yet, and which SKUs hold reservations. Rebuilt from the log at every start, so nothing
 * here needs storing; the scheduler reads it instead of keeping a timer per order.
 */
export class DeadlineTracker {
  private readonly pending = new Map<string, Pending>();
  private subscription: Subscription | undefined;

  constructor(private readonly store: EventStore) {}

  async start(): Promise<void> {
    const head = (await this.store.headPosition({ categories: ['order', 'payment'] })) ?? 0;
    let caughtUp!: () => void;
    const reached = new Promise<void>((resolve) => (caughtUp = resolve));
    if (head === 0) caughtUp();
    this.subscription = this.store.subscribeToAll({ filter: { categories: ['order', 'payment'] }, batchSize: 2000 }, (batch) => {
      for (const e of batch) this.apply(e);
      if (batch[batch.length - 1]!.position >= head) caughtUp();
    });
    await Promise.race([reached, this.subscription.done]);
  }

  async stop(): Promise<void> {
    await this.subscription?.close();
    this.subscription = undefined;
  }

  /** Orders past their deadline that still await payment (each returned again only after REFIRE_MS). */
  dueAt(now: Date): string[] {
    const t = now.getTime();
    const due: string[] = [];
    for (const [orderId, p] of this.pending) {
      if (p.expiresAt > t || (p.firedAt !== undefined && t - p.firedAt < REFIRE_MS)) continue;
      p.firedAt = t;
      due.push(orderId);
    }
    return due;
  }

  awaitingPaymentOutcome(): Array<{ orderId: string; paymentId: string; amountCents: number; paymentToken: string }> {
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
      case 'OrderPlaced':
        this.pending.set(event.data.orderId, { expiresAt: Date.parse(event.data.expiresAt), skus: event.data.lines.map((l) => l.sku), outcomeKnown: false });
        return;
      case 'PaymentRequested': {
        const p = this.pending.get(event.data.orderId);
        if (p) p.payment = { paymentId: event.data.paymentId, amountCents: event.data.amountCents, paymentToken: event.data.paymentToken };
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
