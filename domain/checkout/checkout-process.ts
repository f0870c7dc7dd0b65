import type { Rejection } from '../kernel/decider';
import { assertNever } from '../kernel/decider';
import type { ReleaseReason } from '../inventory/inventory';
import type { OrderEvent, OrderState } from '../order/order';
import type { PaymentEvent, PaymentState } from '../payment/payment';

/** Commands the checkout process manager issues. Each id is derived from the order, so redelivery is harmless. */
export type CheckoutCommand =
  | { readonly type: 'StartPayment'; readonly commandId: string; readonly orderId: string; readonly paymentId: string; readonly amountCents: number }
  | { readonly type: 'ConfirmOrder'; readonly commandId: string; readonly orderId: string; readonly paymentId: string }
  | { readonly type: 'FailOrderPayment'; readonly commandId: string; readonly orderId: string; readonly paymentId: string; readonly reason: string }
  | { readonly type: 'ExpireOrder'; readonly commandId: string; readonly orderId: string }
  | { readonly type: 'ConfirmReservation'; readonly commandId: string; readonly orderId: string; readonly sku: string }
  | { readonly type: 'ReleaseReservation'; readonly commandId: string; readonly orderId: string; readonly sku: string; readonly reason: ReleaseReason }
  | { readonly type: 'RefundPayment'; readonly commandId: string; readonly orderId: string; readonly paymentId: string; readonly reason: string }
  /** Money and goods disagree in a way only a person can settle (a refund of an order already confirmed). */
  | { readonly type: 'ReportProblem'; readonly commandId: string; readonly orderId: string; readonly detail: string };

export type CheckoutTrigger = OrderEvent | PaymentEvent;

const release = (order: OrderState, reason: ReleaseReason): CheckoutCommand[] =>
  order.lines.map((l) => ({ type: 'ReleaseReservation', commandId: `${order.orderId}:release:${l.sku}`, orderId: order.orderId, sku: l.sku, reason }));

const failPayment = (order: OrderState, paymentId: string, reason: string): CheckoutCommand => ({
  type: 'FailOrderPayment',
  commandId: `${order.orderId}:payment-failed`,
  orderId: order.orderId,
  paymentId,
  reason,
});

const refundIfCaptured = (order: OrderState, payment: PaymentState, reason: string): CheckoutCommand[] =>
  payment.outcome === 'captured' && !payment.refunded && order.paymentId
    ? [{ type: 'RefundPayment', commandId: `${order.orderId}:refund`, orderId: order.orderId, paymentId: order.paymentId, reason }]
    : [];

/**
 * The checkout process manager, as a pure function: given the event that just happened and the order and payment
 * as they are now, which commands move the checkout forward. Because it reads current state, handling the same event
 * twice, or late, asks for nothing that has not already happened or is not still needed.
 */
export const react = (event: CheckoutTrigger, order: OrderState, payment: PaymentState): CheckoutCommand[] => {
  const { orderId } = order;
  switch (event.type) {
    case 'PaymentRequested':
      return order.status === 'awaiting_payment' && payment.outcome === 'none'
        ? [{ type: 'StartPayment', commandId: `${orderId}:pay`, orderId, paymentId: event.data.paymentId, amountCents: event.data.amountCents }]
        : [];
    case 'PaymentCaptured':
      if (order.status === 'awaiting_payment') {
        // a refund that arrived before its capture still counts: the money went back, so the goods do too
        if (payment.refunded) return [failPayment(order, event.data.paymentId, 'refunded before it was captured')];
        return [{ type: 'ConfirmOrder', commandId: `${orderId}:confirm`, orderId, paymentId: event.data.paymentId }];
      }
      if (order.status === 'confirmed' || order.status === 'none') return [];
      // captured after the order ended: the money must go back, and the order stays as it is
      return refundIfCaptured(order, payment, `captured after the order was ${order.status}`);
    case 'PaymentFailed':
      return order.status === 'awaiting_payment' ? [failPayment(order, event.data.paymentId, event.data.reason)] : [];
    case 'PaymentRefunded':
      if (order.status === 'awaiting_payment') return [failPayment(order, event.data.paymentId, 'refunded')];
      if (order.status === 'confirmed') {
        return [{ type: 'ReportProblem', commandId: `${orderId}:refunded-after-confirmation`, orderId, detail: 'the payment of a confirmed order was refunded: the goods are sold and the money went back' }];
      }
      return [];
    case 'OrderConfirmed':
      return order.lines.map((l) => ({ type: 'ConfirmReservation', commandId: `${orderId}:confirm:${l.sku}`, orderId, sku: l.sku }));
    case 'OrderPaymentFailed':
      return release(order, 'payment_failed');
    case 'OrderCancelled':
      return [...release(order, 'cancelled'), ...refundIfCaptured(order, payment, 'order cancelled')];
    case 'OrderExpired':
      return [...release(order, 'expired'), ...refundIfCaptured(order, payment, 'order expired')];
    case 'OrderPlaced':
    case 'OrderRejected':
    case 'PaymentInitiated':
    case 'PaymentRefundRequested':
      return [];
    default:
      return assertNever(event);
  }
};

/** The durable timer: an order still awaiting payment at its deadline expires. */
export const dueCommands = (order: OrderState, now: string): CheckoutCommand[] =>
  order.status === 'awaiting_payment' && order.expiresAt !== undefined && Date.parse(order.expiresAt) <= Date.parse(now)
    ? [{ type: 'ExpireOrder', commandId: `${order.orderId}:expire`, orderId: order.orderId }]
    : [];

/** What to do when a command the process issued is refused. */
export const onRejected = (command: CheckoutCommand, rejection: Rejection, order: OrderState): CheckoutCommand[] => {
  if (command.type === 'ConfirmOrder' && rejection.code === 'order_not_confirmable' && order.status === 'awaiting_payment') {
    // captured too late: the deadline passed before the confirmation, so the order expires (and the expiry refunds)
    return [{ type: 'ExpireOrder', commandId: `${order.orderId}:expire`, orderId: order.orderId }];
  }
  return [];
};
