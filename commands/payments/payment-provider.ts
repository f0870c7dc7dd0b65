import type { ProviderEventType } from '../../domain/payment/payment';
import type { SpanContext } from '../tracing';

/** A callback from the payment provider: what arrives at POST /v1/payments/webhook. */
export interface ProviderEvent {
  /** The provider's event id: callbacks are deduplicated by it. */
  readonly id: string;
  readonly type: ProviderEventType;
  readonly paymentId: string;
  readonly orderId: string;
  readonly amountCents: number;
  readonly reason?: string | undefined;
}

/** A failure worth retrying with the same payment id (timeouts, 5xx, rate limits at the provider). */
export class TransientPaymentError extends Error {
  readonly code = 'payment_transient';
  constructor(message: string) {
    super(message);
    this.name = 'TransientPaymentError';
  }
}

/**
 * The provider was not called at all: calls to it fail fast for a while (a circuit breaker in front of it is open
 * after repeated failures). Retry the same call, with the same payment id, after `retryInMs`; the wait is no attempt.
 */
export class PaymentProviderUnavailableError extends TransientPaymentError {
  constructor(
    message: string,
    /** Until a call may go through again; 0 when a trial call is under way and the answer is due any moment. */
    readonly retryInMs: number,
  ) {
    super(message);
    this.name = 'PaymentProviderUnavailableError';
  }
}

export interface ChargeRequest {
  readonly paymentId: string;
  readonly orderId: string;
  readonly amountCents: number;
  readonly paymentToken: string;
  /** The span of this call, when tracing is on: a provider that takes trace context gets it as a `traceparent`. */
  readonly span?: SpanContext | undefined;
}

export interface RefundRequest {
  readonly paymentId: string;
  readonly orderId: string;
  readonly amountCents: number;
  readonly reason: string;
  /** As for a charge. */
  readonly span?: SpanContext | undefined;
}

/**
 * The payment provider port. Both calls are idempotent by payment id: repeating one never charges or refunds twice.
 * Outcomes arrive later as provider events (the webhook); a call only says the provider accepted the request.
 * Throws TransientPaymentError when the same call may be retried (PaymentProviderUnavailableError when the call was
 * not even made).
 */
export interface PaymentProvider {
  charge(request: ChargeRequest): Promise<void>;
  refund(request: RefundRequest): Promise<void>;
}
