import { z } from 'zod';
import { accept, assertNever, unchanged, type Decider, type Decision } from '../kernel/decider';
import { defineEvent, isoTimestamp, type EventOf } from '../kernel/event';
import type { OrderState } from '../order/order';
import { providerEventTypes, type ProviderEventType } from './payment';

const callback = {
  callbackId: z.string(),
  /** Digest of the callback's content: the same id with other content is a different callback, and changes nothing. */
  fingerprint: z.string(),
  kind: z.enum(providerEventTypes),
  paymentId: z.string(),
  orderId: z.string(),
  amountCents: z.number().int().min(0),
  receivedAt: isoTimestamp,
};

export const ProviderCallbackEvents = {
  PaymentCallbackAccepted: defineEvent('PaymentCallbackAccepted', z.object(callback)),
  /** A signed callback that does not match its order: kept for a person to look at; it moved no money and no goods. */
  PaymentCallbackMismatched: defineEvent('PaymentCallbackMismatched', z.object({ ...callback, mismatch: z.string() })),
};
export type ProviderCallbackEvent = EventOf<(typeof ProviderCallbackEvents)[keyof typeof ProviderCallbackEvents]>;

/** What the order says a callback must match: its own payment, for its whole total. */
export interface OrderPaymentFacts {
  readonly exists: boolean;
  readonly paymentId: string | undefined;
  readonly totalCents: number;
}

export const paymentFactsOf = (order: OrderState): OrderPaymentFacts => ({ exists: order.status !== 'none', paymentId: order.paymentId, totalCents: order.totalCents });

export interface ReceiveCallback {
  readonly type: 'ReceiveCallback';
  readonly callbackId: string;
  readonly fingerprint: string;
  readonly kind: ProviderEventType;
  readonly paymentId: string;
  readonly orderId: string;
  readonly amountCents: number;
  readonly order: OrderPaymentFacts;
  readonly now: string;
}

export interface ProviderCallbackState {
  /** The first callback seen with this id, as it was judged; undefined until one arrives. */
  readonly first: { readonly fingerprint: string; readonly accepted: boolean } | undefined;
}

/** Why a callback does not belong to the order it names, or undefined when it does. */
export const mismatchOf = (command: Pick<ReceiveCallback, 'paymentId' | 'orderId' | 'amountCents' | 'order'>): string | undefined => {
  const { order } = command;
  if (!order.exists) return `order ${command.orderId} does not exist`;
  if (order.paymentId === undefined) return `order ${command.orderId} has not asked to be paid`;
  if (order.paymentId !== command.paymentId) return `payment ${command.paymentId} is not the payment of order ${command.orderId}`;
  if (command.amountCents !== order.totalCents) return `amount ${command.amountCents} differs from the order's total ${order.totalCents}`;
  return undefined;
};

const decide = (command: ReceiveCallback, state: ProviderCallbackState): Decision<ProviderCallbackEvent> => {
  switch (command.type) {
    case 'ReceiveCallback': {
      // a callback id is judged once: whatever arrives again under it changes nothing
      if (state.first !== undefined) return unchanged();
      const data = {
        callbackId: command.callbackId,
        fingerprint: command.fingerprint,
        kind: command.kind,
        paymentId: command.paymentId,
        orderId: command.orderId,
        amountCents: command.amountCents,
        receivedAt: command.now,
      };
      const mismatch = mismatchOf(command);
      return mismatch === undefined ? accept({ type: 'PaymentCallbackAccepted', data }) : accept({ type: 'PaymentCallbackMismatched', data: { ...data, mismatch } });
    }
    default:
      return assertNever(command.type);
  }
};

const evolve = (state: ProviderCallbackState, event: ProviderCallbackEvent): ProviderCallbackState => {
  switch (event.type) {
    case 'PaymentCallbackAccepted':
      return { first: state.first ?? { fingerprint: event.data.fingerprint, accepted: true } };
    case 'PaymentCallbackMismatched':
      return { first: state.first ?? { fingerprint: event.data.fingerprint, accepted: false } };
    default:
      return assertNever(event);
  }
};

/** The provider's callbacks, one stream per callback id: a callback id is unique across all callbacks. */
export const providerCallbackDecider: Decider<ReceiveCallback, ProviderCallbackEvent, ProviderCallbackState> = {
  initialState: () => ({ first: undefined }),
  decide,
  evolve,
};
