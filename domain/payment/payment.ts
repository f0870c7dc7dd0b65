import { z } from 'zod';
import { accept, assertNever, unchanged, type Decider, type Decision } from '../kernel/decider';
import { defineEvent, isoTimestamp, type EventOf } from '../kernel/event';

const base = { paymentId: z.string(), orderId: z.string() };

export const PaymentEvents = {
  PaymentInitiated: defineEvent('PaymentInitiated', z.object({ ...base, amountCents: z.number().int().min(0), initiatedAt: isoTimestamp })),
  PaymentCaptured: defineEvent('PaymentCaptured', z.object({ ...base, amountCents: z.number().int().min(0), providerEventId: z.string(), capturedAt: isoTimestamp })),
  PaymentFailed: defineEvent('PaymentFailed', z.object({ ...base, reason: z.string(), providerEventId: z.string(), failedAt: isoTimestamp })),
  PaymentRefundRequested: defineEvent('PaymentRefundRequested', z.object({ ...base, amountCents: z.number().int().min(0), reason: z.string(), requestedAt: isoTimestamp })),
  PaymentRefunded: defineEvent('PaymentRefunded', z.object({ ...base, amountCents: z.number().int().min(0), providerEventId: z.string(), refundedAt: isoTimestamp })),
};
export type PaymentEvent = EventOf<(typeof PaymentEvents)[keyof typeof PaymentEvents]>;

export const providerEventTypes = ['payment.captured', 'payment.failed', 'payment.refunded'] as const;
export type ProviderEventType = (typeof providerEventTypes)[number];

export type PaymentCommand =
  | { readonly type: 'InitiatePayment'; readonly paymentId: string; readonly orderId: string; readonly amountCents: number; readonly now: string }
  | {
      readonly type: 'RecordProviderEvent';
      readonly providerEventId: string;
      readonly kind: ProviderEventType;
      readonly paymentId: string;
      readonly orderId: string;
      readonly amountCents: number;
      readonly reason?: string;
      readonly now: string;
    }
  | { readonly type: 'RequestRefund'; readonly paymentId: string; readonly orderId: string; readonly reason: string; readonly now: string };

export interface PaymentState {
  readonly initiated: boolean;
  readonly outcome: 'none' | 'captured' | 'failed';
  readonly capturedCents: number;
  readonly refundRequested: boolean;
  readonly refunded: boolean;
}

const initialState = (): PaymentState => ({ initiated: false, outcome: 'none', capturedCents: 0, refundRequested: false, refunded: false });

/**
 * A payment's own life. Provider callbacks may arrive twice or out of order; each is recorded only if it adds a fact:
 * a capture after a failure is recorded (money did move, so the saga refunds it), a failure after a capture is not.
 */
const decide = (command: PaymentCommand, state: PaymentState): Decision<PaymentEvent> => {
  const { paymentId, orderId, now } = command;
  switch (command.type) {
    case 'InitiatePayment':
      return state.initiated ? unchanged() : accept({ type: 'PaymentInitiated', data: { paymentId, orderId, amountCents: command.amountCents, initiatedAt: now } });
    case 'RecordProviderEvent':
      switch (command.kind) {
        case 'payment.captured':
          if (state.outcome === 'captured') return unchanged();
          return accept({ type: 'PaymentCaptured', data: { paymentId, orderId, amountCents: command.amountCents, providerEventId: command.providerEventId, capturedAt: now } });
        case 'payment.failed':
          if (state.outcome !== 'none') return unchanged();
          return accept({ type: 'PaymentFailed', data: { paymentId, orderId, reason: command.reason ?? 'declined', providerEventId: command.providerEventId, failedAt: now } });
        case 'payment.refunded':
          if (state.refunded) return unchanged();
          return accept({ type: 'PaymentRefunded', data: { paymentId, orderId, amountCents: command.amountCents, providerEventId: command.providerEventId, refundedAt: now } });
        default:
          return assertNever(command.kind);
      }
    case 'RequestRefund':
      if (state.refundRequested || state.refunded || state.outcome !== 'captured') return unchanged();
      return accept({ type: 'PaymentRefundRequested', data: { paymentId, orderId, amountCents: state.capturedCents, reason: command.reason, requestedAt: now } });
    default:
      return assertNever(command);
  }
};

const evolve = (state: PaymentState, event: PaymentEvent): PaymentState => {
  switch (event.type) {
    case 'PaymentInitiated':
      return { ...state, initiated: true };
    case 'PaymentCaptured':
      return { ...state, outcome: 'captured', capturedCents: event.data.amountCents };
    case 'PaymentFailed':
      return { ...state, outcome: 'failed' };
    case 'PaymentRefundRequested':
      return { ...state, refundRequested: true };
    case 'PaymentRefunded':
      return { ...state, refunded: true };
    default:
      return assertNever(event);
  }
};

export const paymentDecider: Decider<PaymentCommand, PaymentEvent, PaymentState> = { initialState, decide, evolve };

/** One payment per order, named after it, so a repeated pay request names the same payment. */
export const paymentIdFor = (orderId: string): string => `pay_${orderId.replace(/^ord_/, '')}`;
