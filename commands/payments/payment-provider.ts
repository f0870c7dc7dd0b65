import type { ProviderEventType } from '../../domain/payment/payment';

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

export interface ChargeRequest {
  readonly paymentId: string;
  readonly orderId: string;
  readonly amountCents: number;
  readonly paymentToken: string;
}

export interface RefundRequest {
  readonly paymentId: string;
  readonly orderId: string;
  readonly amountCents: number;
  readonly reason: string;
}

/**
 * The payment provider port. Both calls are idempotent by payment id: repeating one never charges or refunds twice.
 * Outcomes arrive later as provider events (the webhook); a call only says the provider accepted the request.
 * Throws TransientPaymentError when the same call may be retried.
 */
export interface PaymentProvider {
  charge(request: ChargeRequest): Promise<void>;
  refund(request: RefundRequest): Promise<void>;
}
