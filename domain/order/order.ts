import { z } from 'zod';
import { accept, assertNever, reject, unchanged, type Decider, type Decision } from '../kernel/decider';
import { defineEvent, isoTimestamp, positiveInt, skuSchema, type EventOf } from '../kernel/event';

export const orderStatuses = ['pending', 'awaiting_payment', 'confirmed', 'rejected', 'cancelled', 'payment_failed', 'expired'] as const;
export type OrderStatus = (typeof orderStatuses)[number];

/** `saleId`: the line was priced in that flash sale. */
const orderLine = z.object({ sku: skuSchema, quantity: positiveInt, priceCents: z.number().int().min(0), saleId: z.string().min(1).optional() });
export type OrderLine = z.infer<typeof orderLine>;

export const OrderEvents = {
  OrderPlaced: defineEvent(
    'OrderPlaced',
    z.object({
      orderId: z.string(),
      customerId: z.string(),
      lines: z.array(orderLine).min(1),
      totalCents: z.number().int().min(0),
      requestHash: z.string(),
      placedAt: isoTimestamp,
      expiresAt: isoTimestamp,
    }),
  ),
  OrderRejected: defineEvent(
    'OrderRejected',
    z.object({ orderId: z.string(), customerId: z.string(), requestHash: z.string(), reason: z.string(), skus: z.array(skuSchema), rejectedAt: isoTimestamp }),
  ),
  OrderCancelled: defineEvent('OrderCancelled', z.object({ orderId: z.string(), customerId: z.string(), cancelledAt: isoTimestamp })),
  // v2: the token itself stays out of the log (it is kept in the payment-token vault); v1 events carried `paymentToken`
  PaymentRequested: defineEvent(
    'PaymentRequested',
    z.object({
      orderId: z.string(),
      customerId: z.string(),
      paymentId: z.string(),
      amountCents: z.number().int().min(0),
      /** A digest of the token: tells repeated use of a card token apart without being one. */
      tokenFingerprint: z.string().optional(),
      requestedAt: isoTimestamp,
    }),
    2,
  ),
  OrderConfirmed: defineEvent('OrderConfirmed', z.object({ orderId: z.string(), customerId: z.string(), paymentId: z.string(), confirmedAt: isoTimestamp })),
  OrderPaymentFailed: defineEvent('OrderPaymentFailed', z.object({ orderId: z.string(), customerId: z.string(), paymentId: z.string(), reason: z.string(), failedAt: isoTimestamp })),
  OrderExpired: defineEvent('OrderExpired', z.object({ orderId: z.string(), customerId: z.string(), expiredAt: isoTimestamp })),
};
export type OrderEvent = EventOf<(typeof OrderEvents)[keyof typeof OrderEvents]>;

export type OrderCommand =
  | {
      readonly type: 'PlaceOrder';
      readonly orderId: string;
      readonly customerId: string;
      readonly lines: readonly OrderLine[];
      readonly requestHash: string;
      readonly now: string;
      readonly expiresAt: string;
    }
  | {
      readonly type: 'RejectOrder';
      readonly orderId: string;
      readonly customerId: string;
      readonly requestHash: string;
      readonly reason: string;
      readonly skus: readonly string[];
      readonly now: string;
    }
  | { readonly type: 'CancelOrder'; readonly orderId: string; readonly now: string; readonly customerId?: string | undefined }
  | {
      readonly type: 'RequestPayment';
      readonly orderId: string;
      readonly paymentId: string;
      readonly tokenFingerprint: string;
      readonly now: string;
      readonly customerId?: string | undefined;
    }
  | { readonly type: 'ConfirmOrder'; readonly orderId: string; readonly paymentId: string; readonly now: string }
  | { readonly type: 'FailOrderPayment'; readonly orderId: string; readonly paymentId: string; readonly reason: string; readonly now: string }
  | { readonly type: 'ExpireOrder'; readonly orderId: string; readonly now: string };

export interface OrderState {
  readonly status: 'none' | Exclude<OrderStatus, 'pending'>;
  readonly orderId: string;
  readonly customerId: string;
  readonly lines: readonly OrderLine[];
  readonly totalCents: number;
  readonly requestHash: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly expiresAt: string | undefined;
  /** Set once a payment was requested; an order has at most one payment. */
  readonly paymentId: string | undefined;
}

const initialState = (): OrderState => ({
  status: 'none',
  orderId: '',
  customerId: '',
  lines: [],
  totalCents: 0,
  requestHash: '',
  createdAt: '',
  updatedAt: '',
  expiresAt: undefined,
  paymentId: undefined,
});

const notFound = <E>(orderId: string) => reject<E>('order_not_found', `Order ${orderId} does not exist`);

/** With a verified customer, another customer's order reads as one that does not exist. */
const notVisibleTo = (state: OrderState, customerId: string | undefined): boolean => state.status === 'none' || (customerId !== undefined && state.customerId !== customerId);

const isPastDeadline = (state: OrderState, now: string): boolean => state.expiresAt !== undefined && Date.parse(now) >= Date.parse(state.expiresAt);

export const orderTotal = (lines: readonly OrderLine[]): number => lines.reduce((sum, l) => sum + l.priceCents * l.quantity, 0);

const decide = (command: OrderCommand, state: OrderState): Decision<OrderEvent> => {
  switch (command.type) {
    case 'PlaceOrder': {
      if (state.status !== 'none' && state.status !== 'rejected') {
        return state.requestHash === command.requestHash
          ? unchanged()
          : reject('idempotency_key_reused', 'This Idempotency-Key was already used for a different order', { orderId: command.orderId });
      }
      const { orderId, customerId, lines, requestHash, now, expiresAt } = command;
      return accept({
        type: 'OrderPlaced',
        data: { orderId, customerId, lines: [...lines], totalCents: orderTotal(lines), requestHash, placedAt: now, expiresAt },
      });
    }
    case 'RejectOrder':
      if (state.status !== 'none') return unchanged();
      return accept({
        type: 'OrderRejected',
        data: {
          orderId: command.orderId,
          customerId: command.customerId,
          requestHash: command.requestHash,
          reason: command.reason,
          skus: [...command.skus],
          rejectedAt: command.now,
        },
      });
    case 'CancelOrder':
      if (notVisibleTo(state, command.customerId)) return notFound(command.orderId);
      switch (state.status) {
        case 'none':
          return reject('order_not_found', `Order ${command.orderId} does not exist`);
        case 'awaiting_payment':
          return accept({ type: 'OrderCancelled', data: { orderId: command.orderId, customerId: state.customerId, cancelledAt: command.now } });
        case 'cancelled':
          return unchanged();
        case 'confirmed':
        case 'rejected':
        case 'payment_failed':
        case 'expired':
          return reject('order_not_cancellable', `Order ${command.orderId} is ${state.status} and can no longer be cancelled`, { orderStatus: state.status });
        default:
          return assertNever(state.status);
      }
    case 'RequestPayment':
      if (notVisibleTo(state, command.customerId)) return notFound(command.orderId);
      if (state.status !== 'awaiting_payment' || isPastDeadline(state, command.now)) {
        return reject('order_not_payable', `Order ${command.orderId} is ${state.status === 'awaiting_payment' ? 'past its deadline' : state.status} and cannot be paid`, { orderStatus: state.status });
      }
      if (state.paymentId !== undefined) return unchanged();
      return accept({
        type: 'PaymentRequested',
        data: { orderId: command.orderId, customerId: state.customerId, paymentId: command.paymentId, amountCents: state.totalCents, tokenFingerprint: command.tokenFingerprint, requestedAt: command.now },
      });
    case 'ConfirmOrder':
      if (state.status === 'none') return notFound(command.orderId);
      if (command.paymentId !== state.paymentId) {
        return reject('payment_mismatch', `Payment ${command.paymentId} is not the payment of order ${command.orderId}`, { paymentId: command.paymentId });
      }
      if (state.status === 'confirmed') return unchanged();
      if (state.status !== 'awaiting_payment' || isPastDeadline(state, command.now)) {
        return reject('order_not_confirmable', `Order ${command.orderId} is ${state.status} and cannot be confirmed`, { orderStatus: state.status });
      }
      return accept({ type: 'OrderConfirmed', data: { orderId: command.orderId, customerId: state.customerId, paymentId: command.paymentId, confirmedAt: command.now } });
    case 'FailOrderPayment':
      if (state.status === 'none') return notFound(command.orderId);
      if (state.status !== 'awaiting_payment') return unchanged();
      return accept({
        type: 'OrderPaymentFailed',
        data: { orderId: command.orderId, customerId: state.customerId, paymentId: command.paymentId, reason: command.reason, failedAt: command.now },
      });
    case 'ExpireOrder':
      if (state.status === 'none') return notFound(command.orderId);
      if (state.status !== 'awaiting_payment' || !isPastDeadline(state, command.now)) return unchanged();
      return accept({ type: 'OrderExpired', data: { orderId: command.orderId, customerId: state.customerId, expiredAt: command.now } });
    default:
      return assertNever(command);
  }
};

const evolve = (state: OrderState, event: OrderEvent): OrderState => {
  switch (event.type) {
    case 'OrderPlaced': {
      const d = event.data;
      return {
        status: 'awaiting_payment',
        orderId: d.orderId,
        customerId: d.customerId,
        lines: d.lines,
        totalCents: d.totalCents,
        requestHash: d.requestHash,
        createdAt: d.placedAt,
        updatedAt: d.placedAt,
        expiresAt: d.expiresAt,
        paymentId: undefined,
      };
    }
    case 'OrderRejected':
      return {
        ...state,
        status: 'rejected',
        orderId: event.data.orderId,
        customerId: event.data.customerId,
        requestHash: event.data.requestHash,
        createdAt: state.createdAt || event.data.rejectedAt,
        updatedAt: event.data.rejectedAt,
      };
    case 'OrderCancelled':
      return { ...state, status: 'cancelled', updatedAt: event.data.cancelledAt };
    case 'PaymentRequested':
      return { ...state, paymentId: event.data.paymentId, updatedAt: event.data.requestedAt };
    case 'OrderConfirmed':
      return { ...state, status: 'confirmed', updatedAt: event.data.confirmedAt };
    case 'OrderPaymentFailed':
      return { ...state, status: 'payment_failed', updatedAt: event.data.failedAt };
    case 'OrderExpired':
      return { ...state, status: 'expired', updatedAt: event.data.expiredAt };
    default:
      return assertNever(event);
  }
};

export const orderDecider: Decider<OrderCommand, OrderEvent, OrderState> = { initialState, decide, evolve };
