import { expect } from 'chai';
import { fold } from '../kernel/decider';
import { DeciderSpecification } from '../../test/support/decider-spec';
import { orderDecider, orderTotal, type OrderCommand, type OrderEvent, type OrderLine } from './order';

const spec = DeciderSpecification.for(orderDecider);

const orderId = 'order-1';
const customerId = 'cust-1';
const T0 = '2025-06-01T10:00:00.000Z';
const T1 = '2025-06-01T10:01:00.000Z';
const T2 = '2025-06-01T10:02:00.000Z';
const EXPIRES = '2025-06-01T10:15:00.000Z';

const lines: OrderLine[] = [
  { sku: 'TEE-001', quantity: 2, priceCents: 2500 },
  { sku: 'CAP-002', quantity: 3, priceCents: 1299 },
];
const TOTAL = 2 * 2500 + 3 * 1299;

const place = (requestHash = 'hash-a', now = T0): OrderCommand => ({ type: 'PlaceOrder', orderId, customerId, lines, requestHash, now, expiresAt: EXPIRES });
const rejectOrder = (requestHash = 'hash-a', now = T0): OrderCommand => ({
  type: 'RejectOrder',
  orderId,
  customerId,
  requestHash,
  reason: 'out_of_stock',
  skus: ['CAP-002'],
  now,
});
const cancel = (now = T1): OrderCommand => ({ type: 'CancelOrder', orderId, now });

const placed = (requestHash = 'hash-a', placedAt = T0): OrderEvent => ({
  type: 'OrderPlaced',
  data: { orderId, customerId, lines, totalCents: TOTAL, requestHash, placedAt, expiresAt: EXPIRES },
});
const rejected = (requestHash = 'hash-a', rejectedAt = T0): OrderEvent => ({
  type: 'OrderRejected',
  data: { orderId, customerId, requestHash, reason: 'out_of_stock', skus: ['CAP-002'], rejectedAt },
});
const cancelled = (cancelledAt = T1): OrderEvent => ({ type: 'OrderCancelled', data: { orderId, customerId, cancelledAt } });

describe('order decider', () => {
  describe('placing an order', () => {
    it('places a new order with its lines, total and deadline', () => spec.given([]).when(place()).then([placed()]));

    it('changes nothing when the same request is replayed', () => spec.given([placed()]).when(place('hash-a', T1)).thenNothing());

    it('changes nothing when the same request is replayed after the order was cancelled', () =>
      spec.given([placed(), cancelled()]).when(place('hash-a', T2)).thenNothing());

    it('rejects a different request that reuses the idempotency key', () => spec.given([placed()]).when(place('hash-b')).thenRejects('idempotency_key_reused'));

    it('rejects a different request reusing the key of a cancelled order', () =>
      spec.given([placed(), cancelled()]).when(place('hash-b')).thenRejects('idempotency_key_reused'));

    it('places an order whose earlier attempt was rejected', () => spec.given([rejected()]).when(place('hash-a', T1)).then([placed('hash-a', T1)]));

    it('places an order with a different request after an earlier attempt was rejected', () =>
      spec.given([rejected()]).when(place('hash-b', T1)).then([placed('hash-b', T1)]));

    it('computes the total as the sum of price times quantity over all lines', () =>
      spec
        .given([])
        .when({ type: 'PlaceOrder', orderId, customerId, lines: [{ sku: 'GUM-1', quantity: 7, priceCents: 0 }, { sku: 'MUG-9', quantity: 1, priceCents: 1850 }], requestHash: 'h', now: T0, expiresAt: EXPIRES })
        .then([
          {
            type: 'OrderPlaced',
            data: {
              orderId,
              customerId,
              lines: [{ sku: 'GUM-1', quantity: 7, priceCents: 0 }, { sku: 'MUG-9', quantity: 1, priceCents: 1850 }],
              totalCents: 1850,
              requestHash: 'h',
              placedAt: T0,
              expiresAt: EXPIRES,
            },
          },
        ]));
  });

  describe('rejecting an order', () => {
    it('records the rejection of an order that was never placed', () => spec.given([]).when(rejectOrder()).then([rejected()]));

    it('changes nothing when the order was already rejected', () => spec.given([rejected()]).when(rejectOrder('hash-a', T1)).thenNothing());

    it('changes nothing when the order was already placed', () => spec.given([placed()]).when(rejectOrder()).thenNothing());

    it('changes nothing when the order was already cancelled', () => spec.given([placed(), cancelled()]).when(rejectOrder()).thenNothing());
  });

  describe('cancelling an order', () => {
    it('cancels an order awaiting payment', () => spec.given([placed()]).when(cancel(T2)).then([cancelled(T2)]));

    it('changes nothing when the order was already cancelled', () => spec.given([placed(), cancelled()]).when(cancel(T2)).thenNothing());

    it('rejects cancelling an order that does not exist', () => spec.given([]).when(cancel()).thenRejects('order_not_found'));

    it('rejects cancelling an order that was rejected', () => spec.given([rejected()]).when(cancel()).thenRejects('order_not_cancellable'));

    it('cancels an order placed after an earlier rejection', () => spec.given([rejected(), placed('hash-a', T1)]).when(cancel(T2)).then([cancelled(T2)]));
  });

  describe('state', () => {
    it('holds the placed order awaiting payment', () => {
      expect(fold(orderDecider, [placed()])).to.deep.equal({
        status: 'awaiting_payment',
        orderId,
        customerId,
        lines,
        totalCents: TOTAL,
        requestHash: 'hash-a',
        createdAt: T0,
        updatedAt: T0,
        expiresAt: EXPIRES,
        paymentId: undefined,
      });
    });

    it('records when a cancellation happened', () => {
      const state = fold(orderDecider, [placed(), cancelled(T2)]);
      expect({ status: state.status, createdAt: state.createdAt, updatedAt: state.updatedAt }).to.deep.equal({ status: 'cancelled', createdAt: T0, updatedAt: T2 });
    });

    it('holds a rejected order with no lines', () => {
      const state = fold(orderDecider, [rejected('hash-a', T1)]);
      expect({ status: state.status, lines: state.lines, totalCents: state.totalCents, createdAt: state.createdAt, updatedAt: state.updatedAt }).to.deep.equal({
        status: 'rejected',
        lines: [],
        totalCents: 0,
        createdAt: T1,
        updatedAt: T1,
      });
    });
  });

  describe('orderTotal', () => {
    it('is zero for no lines', () => {
      expect(orderTotal([])).to.equal(0);
    });

    it('sums price times quantity', () => {
      expect(orderTotal(lines)).to.equal(8897);
    });
  });
});
