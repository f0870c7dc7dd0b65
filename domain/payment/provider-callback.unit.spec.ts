import { expect } from 'chai';
import { DeciderSpecification } from '../../test/support/decider-spec';
import { mismatchOf, providerCallbackDecider, type OrderPaymentFacts, type ProviderCallbackEvent, type ReceiveCallback } from './provider-callback';

const spec = DeciderSpecification.for(providerCallbackDecider);

const orderId = 'ord_abcdefghijklmnopqrstuvwx';
const paymentId = 'pay_abcdefghijklmnopqrstuvwx';
const NOW = '2026-11-29T00:00:00.000Z';
const payable: OrderPaymentFacts = { exists: true, paymentId, totalCents: 2000 };

const receive = (overrides: Partial<ReceiveCallback> = {}): ReceiveCallback => ({
  type: 'ReceiveCallback',
  callbackId: 'evt_1',
  fingerprint: 'f1',
  kind: 'payment.captured',
  paymentId,
  orderId,
  amountCents: 2000,
  order: payable,
  now: NOW,
  ...overrides,
});

const base = { callbackId: 'evt_1', fingerprint: 'f1', kind: 'payment.captured' as const, paymentId, orderId, amountCents: 2000, receivedAt: NOW };
const accepted: ProviderCallbackEvent = { type: 'PaymentCallbackAccepted', data: base };

describe('provider callbacks', () => {
  describe('a first callback', () => {
    it('is accepted when it names the order, its own payment and its whole total', () => {
      spec.given([]).when(receive()).then([accepted]);
    });

    for (const [name, command, reason] of [
      ['for an amount other than the total', receive({ amountCents: 1 }), "amount 1 differs from the order's total 2000"],
      ['for a payment the order never asked for', receive({ paymentId: 'pay_attacker-chosen-id' }), `payment pay_attacker-chosen-id is not the payment of order ${orderId}`],
      ['for an order that never asked to pay', receive({ order: { exists: true, paymentId: undefined, totalCents: 2000 } }), `order ${orderId} has not asked to be paid`],
      ['for an order that does not exist', receive({ order: { exists: false, paymentId: undefined, totalCents: 0 } }), `order ${orderId} does not exist`],
    ] as const) {
      it(`is kept as a mismatch ${name}`, () => {
        spec
          .given([])
          .when(command)
          .then([{ type: 'PaymentCallbackMismatched', data: { ...base, paymentId: command.paymentId, amountCents: command.amountCents, mismatch: reason } }]);
      });
    }
  });

  describe('a callback id seen before', () => {
    it('changes nothing when repeated as it was', () => {
      spec.given([accepted]).when(receive()).thenNothing();
    });

    it('changes nothing when reused with another type, order or amount', () => {
      spec.given([accepted]).when(receive({ kind: 'payment.refunded', fingerprint: 'f2' })).thenNothing();
      spec.given([accepted]).when(receive({ orderId: 'ord_ZZZZZZZZZZZZZZZZZZZZZZZZ', fingerprint: 'f3' })).thenNothing();
    });

    it('changes nothing after a mismatch either', () => {
      const mismatched: ProviderCallbackEvent = { type: 'PaymentCallbackMismatched', data: { ...base, amountCents: 1, mismatch: 'amount' } };
      spec.given([mismatched]).when(receive()).thenNothing();
    });
  });

  it('judges only the order it is given: the same payment and total always match', () => {
    expect(mismatchOf({ paymentId, orderId, amountCents: 2000, order: payable })).to.equal(undefined);
  });
});
