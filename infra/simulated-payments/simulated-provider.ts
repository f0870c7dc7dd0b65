import type { SpanContext } from '@opentelemetry/api';
import { CommandRejectedError } from '../../commands/errors';
import { TransientPaymentError, type ChargeRequest, type PaymentProvider, type ProviderEvent, type RefundRequest } from '../../commands/payments/payment-provider';

const MAX_REDELIVERY_MS = 5000;

interface Charge {
  attempts: number;
  outcome: 'pending' | 'captured' | 'failed' | 'silent';
  refunded: boolean;
}

export interface SimulatedProviderOptions {
  readonly latencyMs: number;
  /**
   * Where the provider's callbacks go (in production: the webhook). `span` is that of the call that caused the
   * callback, as a provider that takes trace context would send it back with its webhook.
   */
  readonly deliver: (event: ProviderEvent, span: SpanContext | undefined) => Promise<void>;
}

/**
 * The simulated payment provider, driven by the test tokens of the API contract:
 * `tok_ok` captures after the latency, `tok_declined` fails, `tok_timeout` never answers, and `tok_flaky` throws a
 * transient error on the first two attempts, then captures. Any other token is declined.
 * Like a real provider it is idempotent by payment id; its ledger lives in memory, so a restart forgets it.
 */
export class SimulatedPaymentProvider implements PaymentProvider {
  private readonly charges = new Map<string, Charge>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly options: SimulatedProviderOptions) {}

  async charge(request: ChargeRequest): Promise<void> {
    let charge = this.charges.get(request.paymentId);
    if (!charge) this.charges.set(request.paymentId, (charge = { attempts: 0, outcome: 'pending', refunded: false }));
    charge.attempts++;
    if (charge.outcome !== 'pending') return;
    switch (request.paymentToken) {
      case 'tok_flaky':
        if (charge.attempts <= 2) throw new TransientPaymentError(`simulated transient failure ${charge.attempts} of 2`);
        return this.settle(request, charge, 'captured');
      case 'tok_ok':
        return this.settle(request, charge, 'captured');
      case 'tok_timeout':
        charge.outcome = 'silent';
        return;
      default:
        return this.settle(request, charge, 'failed');
    }
  }

  async refund(request: RefundRequest): Promise<void> {
    const charge = this.charges.get(request.paymentId);
    if (!charge || charge.refunded) return;
    charge.refunded = true;
    this.later(() =>
      this.options.deliver({ id: `evt_${request.paymentId}_refunded`, type: 'payment.refunded', paymentId: request.paymentId, orderId: request.orderId, amountCents: request.amountCents }, request.span),
    );
  }

  /** How many times the provider captured money for this payment (the tests' "never charged twice"). */
  capturesOf(paymentId: string): number {
    return this.charges.get(paymentId)?.outcome === 'captured' ? 1 : 0;
  }

  attemptsOf(paymentId: string): number {
    return this.charges.get(paymentId)?.attempts ?? 0;
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private settle(request: ChargeRequest, charge: Charge, outcome: 'captured' | 'failed'): void {
    charge.outcome = outcome;
    const type = outcome === 'captured' ? 'payment.captured' : 'payment.failed';
    this.later(() =>
      this.options.deliver(
        {
          id: `evt_${request.paymentId}_${outcome}`,
          type,
          paymentId: request.paymentId,
          orderId: request.orderId,
          amountCents: request.amountCents,
          ...(outcome === 'failed' ? { reason: 'card_declined' } : {}),
        },
        request.span,
      ),
    );
  }

  /** Delivers after the latency and, like a real provider's webhooks, again with backoff until it is taken. */
  private later(deliver: () => Promise<void>, attempt = 0): void {
    const delay = attempt === 0 ? this.options.latencyMs : Math.min(MAX_REDELIVERY_MS, 50 * 2 ** Math.min(attempt, 10));
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      deliver().catch((error: unknown) => {
        // a refusal (the callback does not match its order) will never be taken; anything else may be next time
        if (!(error instanceof CommandRejectedError)) this.later(deliver, attempt + 1);
      });
    }, delay);
    this.timers.add(timer);
  }
}
