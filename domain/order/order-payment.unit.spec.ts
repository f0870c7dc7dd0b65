import { expect } from 'chai';
import { fold } from '../kernel/decider';
import { DeciderSpecification } from '../../test/support/decider-spec';
import { paymentIdFor } from '../payment/payment';
import { orderDecider, type OrderCommand, type OrderEvent, type OrderLine } from './order';

const spec = DeciderSpecification.for(orderDecider);

const orderId = 'ord_abcdefghijklmnopqrstuvwx';
const customerId = 'cust-1';
const paymentId = paymentIdFor(orderId);
const T0 = '2025-06-01T10:00:00.000Z';
const T1 = '2025-06-01T10:01:00.000Z';
const T2 = '2025-06-01T10:02:00.000Z';
const T3 = '2025-06-01T10:03:00.000Z';
const BEFORE_DEADLINE = '2025-06-01T10:14:59.999Z';
const EXPIRES = '2025-06-01T10:15:00.000Z';
const AFTER_DEADLINE = '2025-06-01T10:20:00.000Z';

const lines: OrderLine[] = [
  { sku: 'TEE-001', quantity: 2, priceCents: 2500 },
  { sku: 'CAP-002', quantity: 3, priceCents: 1299 },
];
const TOTAL = 2 * 2500 + 3 * 1299;

const requestPayment = (now = T1, tokenFingerprint = 'fp-visa'): OrderCommand => ({ type: 'RequestPayment', orderId, paymentId, tokenFingerprint, now });
const confirm = (now = T2): OrderCommand => ({ type: 'ConfirmOrder', orderId, paymentId, now });
const failPayment = (now = T2, reason = 'declined'): OrderCommand => ({ type: 'FailOrderPayment', orderId, paymentId, reason, now });
const expire = (now: string): OrderCommand => ({ type: 'ExpireOrder', orderId, now });
const cancel = (now = T2): OrderCommand => ({ type: 'CancelOrder', orderId, now });

const placed: OrderEvent = {
  type: 'OrderPlaced',
  data: { orderId, customerId, lines, totalCents: TOTAL, requestHash: 'hash-a', placedAt: T0, expiresAt: EXPIRES },
};
const rejected: OrderEvent = {
  type: 'OrderRejected',
  data: { orderId, customerId, requestHash: 'hash-a', reason: 'out_of_stock', skus: ['CAP-002'], rejectedAt: T0 },
};
const paymentRequested = (requestedAt = T1, tokenFingerprint = 'fp-visa'): OrderEvent => ({
  type: 'PaymentRequested',
  data: { orderId, customerId, paymentId, amountCents: TOTAL, tokenFingerprint, requestedAt },
});
const confirmed = (confirmedAt = T2): OrderEvent => ({ type: 'OrderConfirmed', data: { orderId, customerId, paymentId, confirmedAt } });
const paymentFailed = (failedAt = T2, reason = 'declined'): OrderEvent => ({ type: 'OrderPaymentFailed', data: { orderId, customerId, paymentId, reason, failedAt } });
const cancelled = (cancelledAt = T2): OrderEvent => ({ type: 'OrderCancelled', data: { orderId, customerId, cancelledAt } });
const expired = (expiredAt = AFTER_DEADLINE): OrderEvent => ({ type: 'OrderExpired', data: { orderId, customerId, expiredAt } });

/** Histories that end an order, each with the status it ends in. */
const ended: ReadonlyArray<{ readonly label: string; readonly status: string; readonly history: readonly OrderEvent[] }> = [
  { label: 'confirmed', status: 'confirmed', history: [placed, paymentRequested(), confirmed()] },
  { label: 'cancelled before payment', status: 'cancelled', history: [placed, cancelled()] },
  { label: 'cancelled after payment was requested', status: 'cancelled', history: [placed, paymentRequested(), cancelled()] },
  { label: 'expired', status: 'expired', history: [placed, paymentRequested(), expired()] },
  { label: 'payment_failed', status: 'payment_failed', history: [placed, paymentRequested(), paymentFailed()] },
  { label: 'rejected', status: 'rejected', history: [rejected] },
];

describe('order decider: payment, confirmation and expiry', () => {
  describe('requesting payment', () => {
    it('requests payment of the order total for an order awaiting payment', () =>
      spec.given([placed]).when(requestPayment()).then([paymentRequested()]));

    it('changes nothing when payment is requested again (one order, one payment)', () =>
      spec.given([placed, paymentRequested()]).when(requestPayment(T2)).thenNothing());

    it('changes nothing when payment is requested again with another token', () =>
      spec.given([placed, paymentRequested()]).when(requestPayment(T2, 'fp-other')).thenNothing());

    it('takes the amount from the order, not from the request', () => {
      const decision = orderDecider.decide(requestPayment(), fold(orderDecider, [placed]));
      expect(decision.ok && decision.events[0]?.type === 'PaymentRequested' ? decision.events[0].data.amountCents : undefined).to.equal(TOTAL);
    });

    it('rejects a payment for an order that does not exist', () => spec.given([]).when(requestPayment()).thenRejects('order_not_found'));

    for (const { label, history } of ended) {
      it(`rejects a payment for an order that is ${label}`, () => spec.given(history).when(requestPayment(T3)).thenRejects('order_not_payable'));
    }

    it('requests payment just before the deadline', () =>
      spec.given([placed]).when(requestPayment(BEFORE_DEADLINE)).then([paymentRequested(BEFORE_DEADLINE)]));

    it('rejects a payment exactly at the deadline', () => spec.given([placed]).when(requestPayment(EXPIRES)).thenRejects('order_not_payable'));

    it('rejects a payment past the deadline, even before the order was expired', () =>
      spec.given([placed]).when(requestPayment(AFTER_DEADLINE)).thenRejects('order_not_payable'));

    it('rejects a repeated request past the deadline', () =>
      spec.given([placed, paymentRequested()]).when(requestPayment(AFTER_DEADLINE)).thenRejects('order_not_payable'));
  });

  describe('confirming an order', () => {
    it('confirms an order awaiting payment', () => spec.given([placed, paymentRequested()]).when(confirm()).then([confirmed()]));

    it('changes nothing when the order is confirmed again', () => spec.given([placed, paymentRequested(), confirmed()]).when(confirm(T3)).thenNothing());

    it('changes nothing when a confirmed order is confirmed again past its deadline', () =>
      spec.given([placed, paymentRequested(), confirmed()]).when(confirm(AFTER_DEADLINE)).thenNothing());

    it('confirms just before the deadline', () =>
      spec.given([placed, paymentRequested()]).when(confirm(BEFORE_DEADLINE)).then([confirmed(BEFORE_DEADLINE)]));

    it('rejects confirming exactly at the deadline', () => spec.given([placed, paymentRequested()]).when(confirm(EXPIRES)).thenRejects('order_not_confirmable'));

    it('rejects confirming past the deadline, even before the order was expired', () =>
      spec.given([placed, paymentRequested()]).when(confirm(AFTER_DEADLINE)).thenRejects('order_not_confirmable'));

    it('rejects confirming a cancelled order', () => spec.given([placed, paymentRequested(), cancelled()]).when(confirm(T3)).thenRejects('order_not_confirmable'));

    it('rejects confirming an expired order', () => spec.given([placed, paymentRequested(), expired()]).when(confirm(T3)).thenRejects('order_not_confirmable'));

    it('rejects confirming an order whose payment failed', () =>
      spec.given([placed, paymentRequested(), paymentFailed()]).when(confirm(T3)).thenRejects('order_not_confirmable'));

    it('rejects confirming an order that does not exist', () => spec.given([]).when(confirm()).thenRejects('order_not_found'));
  });

  describe('whose order it is', () => {
    it('confirms only with the payment the order asked for', () => {
      spec.given([placed, paymentRequested()]).when({ type: 'ConfirmOrder', orderId, paymentId: 'pay_attacker-chosen-id', now: T2 }).thenRejects('payment_mismatch');
      spec.given([placed]).when(confirm()).thenRejects('payment_mismatch');
    });

    it("answers another customer's pay or cancel as if the order did not exist", () => {
      spec.given([placed]).when({ type: 'RequestPayment', orderId, paymentId, tokenFingerprint: 'fp-declined', now: T1, customerId: 'someone-else' }).thenRejects('order_not_found');
      spec.given([placed]).when({ type: 'CancelOrder', orderId, now: T1, customerId: 'someone-else' }).thenRejects('order_not_found');
    });

    it('lets the customer who placed it pay and cancel', () => {
      spec
        .given([placed])
        .when({ type: 'RequestPayment', orderId, paymentId, tokenFingerprint: 'fp-visa', now: T1, customerId })
        .then([paymentRequested()]);
      spec.given([placed]).when({ type: 'CancelOrder', orderId, now: T2, customerId }).then([cancelled()]);
    });
  });

  describe('failing the payment of an order', () => {
    it('fails the payment of an order awaiting payment', () => spec.given([placed, paymentRequested()]).when(failPayment()).then([paymentFailed()]));

    it('keeps the reason', () =>
      spec.given([placed, paymentRequested()]).when(failPayment(T2, 'insufficient_funds')).then([paymentFailed(T2, 'insufficient_funds')]));

    for (const { label, history } of ended) {
      it(`changes nothing for an order that is ${label}`, () => spec.given(history).when(failPayment(T3)).thenNothing());
    }

    it('changes nothing when the payment failure is recorded twice', () =>
      spec.given([placed, paymentRequested(), paymentFailed()]).when(failPayment(T3)).thenNothing());

    it('rejects failing the payment of an order that does not exist', () => spec.given([]).when(failPayment()).thenRejects('order_not_found'));
  });

  describe('expiring an order', () => {
    it('changes nothing before the deadline', () => spec.given([placed, paymentRequested()]).when(expire(BEFORE_DEADLINE)).thenNothing());

    it('expires an order awaiting payment exactly at the deadline', () =>
      spec.given([placed, paymentRequested()]).when(expire(EXPIRES)).then([expired(EXPIRES)]));

    it('expires an order awaiting payment after the deadline', () => spec.given([placed]).when(expire(AFTER_DEADLINE)).then([expired()]));

    for (const { label, history } of ended) {
      it(`changes nothing for an order that is ${label}`, () => spec.given(history).when(expire(AFTER_DEADLINE)).thenNothing());
    }

    it('rejects expiring an order that does not exist', () => spec.given([]).when(expire(AFTER_DEADLINE)).thenRejects('order_not_found'));
  });

  describe('cancelling an order in the payment flow', () => {
    it('cancels an order whose payment was requested but not settled', () =>
      spec.given([placed, paymentRequested()]).when(cancel(T3)).then([cancelled(T3)]));

    it('rejects cancelling a confirmed order', () => spec.given([placed, paymentRequested(), confirmed()]).when(cancel(T3)).thenRejects('order_not_cancellable'));

    it('rejects cancelling an expired order', () => spec.given([placed, paymentRequested(), expired()]).when(cancel(AFTER_DEADLINE)).thenRejects('order_not_cancellable'));

    it('rejects cancelling an order whose payment failed', () =>
      spec.given([placed, paymentRequested(), paymentFailed()]).when(cancel(T3)).thenRejects('order_not_cancellable'));
  });

  describe('state', () => {
    it('has no payment until one is requested', () => {
      expect(fold(orderDecider, [placed]).paymentId).to.equal(undefined);
    });

    it('remembers the payment once requested', () => {
      const state = fold(orderDecider, [placed, paymentRequested()]);
      expect({ status: state.status, paymentId: state.paymentId, updatedAt: state.updatedAt }).to.deep.equal({ status: 'awaiting_payment', paymentId, updatedAt: T1 });
    });

    for (const { label, status, history } of ended.filter(({ history: h }) => h.some((e) => e.type === 'PaymentRequested'))) {
      it(`ends ${label} and keeps the payment`, () => {
        const state = fold(orderDecider, history);
        expect({ status: state.status, paymentId: state.paymentId }).to.deep.equal({ status, paymentId });
      });
    }
  });
});
