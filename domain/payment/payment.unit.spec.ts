import { expect } from 'chai';
import fc from 'fast-check';
import { fold } from '../kernel/decider';
import { orderIdSchema } from '../kernel/event';
import { DeciderSpecification } from '../../test/support/decider-spec';
import { paymentDecider, paymentIdFor, type PaymentCommand, type PaymentEvent } from './payment';

const spec = DeciderSpecification.for(paymentDecider);

const orderId = 'ord_abcdefghijklmnopqrstuvwx';
const paymentId = 'pay_abcdefghijklmnopqrstuvwx';
const AMOUNT = 8897;
const T0 = '2025-06-01T10:00:00.000Z';
const T1 = '2025-06-01T10:01:00.000Z';
const T2 = '2025-06-01T10:02:00.000Z';
const T3 = '2025-06-01T10:03:00.000Z';
const T4 = '2025-06-01T10:04:00.000Z';

const initiate = (now = T0): PaymentCommand => ({ type: 'InitiatePayment', paymentId, orderId, amountCents: AMOUNT, now });
const providerCaptured = (providerEventId = 'evt-cap-1', now = T1): PaymentCommand => ({
  type: 'RecordProviderEvent',
  kind: 'payment.captured',
  providerEventId,
  paymentId,
  orderId,
  amountCents: AMOUNT,
  now,
});
const providerFailed = (providerEventId = 'evt-fail-1', now = T1, reason?: string): PaymentCommand => ({
  type: 'RecordProviderEvent',
  kind: 'payment.failed',
  providerEventId,
  paymentId,
  orderId,
  amountCents: AMOUNT,
  ...(reason === undefined ? {} : { reason }),
  now,
});
const providerRefunded = (providerEventId = 'evt-ref-1', now = T3): PaymentCommand => ({
  type: 'RecordProviderEvent',
  kind: 'payment.refunded',
  providerEventId,
  paymentId,
  orderId,
  amountCents: AMOUNT,
  now,
});
const requestRefund = (now = T2, reason = 'order cancelled'): PaymentCommand => ({ type: 'RequestRefund', paymentId, orderId, reason, now });

const initiated = (initiatedAt = T0): PaymentEvent => ({ type: 'PaymentInitiated', data: { paymentId, orderId, amountCents: AMOUNT, initiatedAt } });
const captured = (providerEventId = 'evt-cap-1', capturedAt = T1): PaymentEvent => ({
  type: 'PaymentCaptured',
  data: { paymentId, orderId, amountCents: AMOUNT, providerEventId, capturedAt },
});
const failed = (providerEventId = 'evt-fail-1', failedAt = T1, reason = 'declined'): PaymentEvent => ({
  type: 'PaymentFailed',
  data: { paymentId, orderId, reason, providerEventId, failedAt },
});
const refundRequested = (requestedAt = T2, reason = 'order cancelled', amountCents = AMOUNT): PaymentEvent => ({
  type: 'PaymentRefundRequested',
  data: { paymentId, orderId, amountCents, reason, requestedAt },
});
const refunded = (providerEventId = 'evt-ref-1', refundedAt = T3): PaymentEvent => ({
  type: 'PaymentRefunded',
  data: { paymentId, orderId, amountCents: AMOUNT, providerEventId, refundedAt },
});

describe('payment decider', () => {
  describe('initiating a payment', () => {
    it('initiates a payment that was never started', () => spec.given([]).when(initiate()).then([initiated()]));

    it('changes nothing when the payment is initiated a second time', () => spec.given([initiated()]).when(initiate(T1)).thenNothing());

    it('changes nothing when initiated again after the payment was captured', () => spec.given([initiated(), captured()]).when(initiate(T2)).thenNothing());
  });

  describe('recording a capture from the provider', () => {
    it('records the capture of an initiated payment', () => spec.given([initiated()]).when(providerCaptured()).then([captured()]));

    it('changes nothing when the same captured callback arrives twice', () =>
      spec.given([initiated(), captured()]).when(providerCaptured('evt-cap-1', T2)).thenNothing());

    it('changes nothing when a second, different captured callback arrives', () =>
      spec.given([initiated(), captured()]).when(providerCaptured('evt-cap-2', T2)).thenNothing());

    it('records a capture that arrives after a failure: money moved, so the saga must refund it', () =>
      spec.given([initiated(), failed()]).when(providerCaptured('evt-cap-1', T2)).then([captured('evt-cap-1', T2)]));

    it('records a capture whose callback arrives before the payment was initiated here', () =>
      spec.given([]).when(providerCaptured()).then([captured()]));
  });

  describe('recording a failure from the provider', () => {
    it('records the failure of an initiated payment, declined when the provider gives no reason', () =>
      spec.given([initiated()]).when(providerFailed()).then([failed()]));

    it("keeps the provider's reason", () =>
      spec.given([initiated()]).when(providerFailed('evt-fail-1', T1, 'insufficient_funds')).then([failed('evt-fail-1', T1, 'insufficient_funds')]));

    it('changes nothing when a failure arrives after the capture', () => spec.given([initiated(), captured()]).when(providerFailed('evt-fail-1', T2)).thenNothing());

    it('changes nothing when the same failed callback arrives twice', () =>
      spec.given([initiated(), failed()]).when(providerFailed('evt-fail-1', T2)).thenNothing());

    it('changes nothing when a second, different failure arrives', () =>
      spec.given([initiated(), failed()]).when(providerFailed('evt-fail-2', T2)).thenNothing());

    it('changes nothing when a failure arrives after a capture that followed a failure', () =>
      spec.given([initiated(), failed(), captured('evt-cap-1', T2)]).when(providerFailed('evt-fail-2', T3)).thenNothing());
  });

  describe('requesting a refund', () => {
    it('requests a refund of the captured amount after a capture', () =>
      spec.given([initiated(), captured()]).when(requestRefund()).then([refundRequested()]));

    it('refunds what was captured, whatever the amount initiated', () =>
      spec
        .given([initiated(), { type: 'PaymentCaptured', data: { paymentId, orderId, amountCents: 1234, providerEventId: 'evt-cap-1', capturedAt: T1 } }])
        .when(requestRefund())
        .then([refundRequested(T2, 'order cancelled', 1234)]));

    it('changes nothing when a refund is requested twice', () =>
      spec.given([initiated(), captured(), refundRequested()]).when(requestRefund(T3, 'order expired')).thenNothing());

    it('changes nothing before any capture', () => spec.given([initiated()]).when(requestRefund()).thenNothing());

    it('changes nothing for a payment that was never initiated', () => spec.given([]).when(requestRefund()).thenNothing());

    it('changes nothing after a failure (no money moved)', () => spec.given([initiated(), failed()]).when(requestRefund()).thenNothing());

    it('requests a refund of a capture that arrived after a failure', () =>
      spec.given([initiated(), failed(), captured('evt-cap-1', T2)]).when(requestRefund(T3)).then([refundRequested(T3)]));

    it('changes nothing after the payment was refunded', () =>
      spec.given([initiated(), captured(), refundRequested(), refunded()]).when(requestRefund(T4)).thenNothing());

    it('changes nothing when the provider refunded before the request was recorded', () =>
      spec.given([initiated(), captured(), refunded()]).when(requestRefund(T4)).thenNothing());
  });

  describe('recording a refund from the provider', () => {
    it('records the refund once', () => spec.given([initiated(), captured(), refundRequested()]).when(providerRefunded()).then([refunded()]));

    it('changes nothing when the same refunded callback arrives twice', () =>
      spec.given([initiated(), captured(), refundRequested(), refunded()]).when(providerRefunded('evt-ref-1', T4)).thenNothing());

    it('changes nothing when a second, different refunded callback arrives', () =>
      spec.given([initiated(), captured(), refundRequested(), refunded()]).when(providerRefunded('evt-ref-2', T4)).thenNothing());
  });

  describe('state', () => {
    it('starts with nothing initiated, no outcome and nothing refunded', () => {
      expect(paymentDecider.initialState()).to.deep.equal({ initiated: false, outcome: 'none', capturedCents: 0, refundRequested: false, refunded: false });
    });

    it('holds the capture that followed a failure', () => {
      expect(fold(paymentDecider, [initiated(), failed(), captured('evt-cap-1', T2)])).to.deep.equal({
        initiated: true,
        outcome: 'captured',
        capturedCents: AMOUNT,
        refundRequested: false,
        refunded: false,
      });
    });

    it('holds a refunded payment', () => {
      expect(fold(paymentDecider, [initiated(), captured(), refundRequested(), refunded()])).to.deep.equal({
        initiated: true,
        outcome: 'captured',
        capturedCents: AMOUNT,
        refundRequested: true,
        refunded: true,
      });
    });
  });
});

describe('paymentIdFor', () => {
  it('names the payment after the order', () => {
    expect(paymentIdFor(orderId)).to.equal(paymentId);
  });

  it('names the same payment for a repeated request', () => {
    expect(paymentIdFor(orderId)).to.equal(paymentIdFor(`${orderId}`));
  });

  it('strips only a leading ord_ prefix', () => {
    expect(paymentIdFor('ord_ord_x')).to.equal('pay_ord_x');
    expect(paymentIdFor('xord_1')).to.equal('pay_xord_1');
  });

  it('prefixes an id without the ord_ prefix', () => {
    expect(paymentIdFor('order-1')).to.equal('pay_order-1');
  });

  it('gives different orders different payments (over valid order ids)', () => {
    const validOrderId = fc.string({ unit: fc.constantFrom(...'abcXYZ019_-'), minLength: 24, maxLength: 24 }).map((s) => `ord_${s}`);
    fc.assert(
      fc.property(validOrderId, validOrderId, (a, b) => {
        expect(orderIdSchema.safeParse(a).success).to.equal(true);
        expect(paymentIdFor(a).startsWith('pay_')).to.equal(true);
        expect(paymentIdFor(a) === paymentIdFor(b)).to.equal(a === b);
      }),
      { numRuns: 300 },
    );
  });
});
