import { z } from 'zod';
import { accept, assertNever, reject, unchanged, type Decider, type Decision } from '../kernel/decider';
import { defineEvent, isoTimestamp, positiveInt, skuSchema, type EventOf } from '../kernel/event';

export const orderStatuses = ['pending', 'awaiting_payment', 'confirmed', 'rejected', 'cancelled', 'payment_failed', 'expired'] as const;
export type OrderStatus = (typeof orderStatuses)[number];

const orderLine = z.object({ sku: skuSchema, quantity: positiveInt, priceCents: z.number().int().min(0) });
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
  | { readonly type: 'CancelOrder'; readonly orderId: string; readonly now: string };

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
});

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
          return reject('order_not_cancellable', `Order ${command.orderId} is ${state.status} and can no longer be cancelled`, { status: state.status });
        default:
          return assertNever(state.status);
      }
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
    default:
      return assertNever(event);
  }
};

export const orderDecider: Decider<OrderCommand, OrderEvent, OrderState> = { initialState, decide, evolve };
