import {
  PaymentProviderUnavailableError,
  TransientPaymentError,
  type ChargeRequest,
  type PaymentProvider,
  type RefundRequest,
} from '../../commands/payments/payment-provider';
import { Breaker, BreakerOpenError, BreakerTimeoutError } from './circuit-breaker';

/**
 * The payment provider behind a circuit breaker. Transient failures (`TransientPaymentError`) and calls slower than
 * the breaker's timeout count; once it is open, calls are not made and fail at once with
 * `PaymentProviderUnavailableError` (a transient error carrying how long to wait), and the checkout saga asks again
 * later with the same payment id, which the provider deduplicates. A timed-out call becomes a `TransientPaymentError`:
 * it may still have reached the provider, so it is retried with the same payment id too.
 */
export class PaymentProviderBreaker implements PaymentProvider {
  constructor(
    private readonly provider: PaymentProvider,
    private readonly breaker: Breaker,
  ) {}

  /** Failures of the provider itself. A refusal of the request (anything else) is an answer, not an outage. */
  static counts(error: unknown): boolean {
    return error instanceof TransientPaymentError;
  }

  charge(request: ChargeRequest): Promise<void> {
    return this.guard(() => this.provider.charge(request));
  }

  refund(request: RefundRequest): Promise<void> {
    return this.guard(() => this.provider.refund(request));
  }

  private async guard(call: () => Promise<void>): Promise<void> {
    try {
      await this.breaker.run(call);
    } catch (error) {
      if (error instanceof BreakerOpenError) throw new PaymentProviderUnavailableError(error.message, error.retryInMs);
      if (error instanceof BreakerTimeoutError) throw new TransientPaymentError(error.message);
      throw error;
    }
  }
}
