import type { Container } from 'inversify';
import type { CrestConfig } from '../config/config';
import { commandDeps, followerRetry, Tokens } from './tokens';
import { randomBytes } from 'node:crypto';
import { CheckoutRunner } from '../../commands/checkout-saga/checkout-runner';
import { DeadlineTracker } from '../../commands/checkout-saga/deadline-tracker';
import { PaymentCallbacks } from '../../commands/payments/payment-callbacks';
import { Breaker } from '../breakers/circuit-breaker';
import { PaymentProviderBreaker } from '../breakers/payment-provider-breaker';
import { SimulatedPaymentProvider } from '../simulated-payments/simulated-provider';

/** Payments and the checkout saga: provider callbacks, the (simulated) provider, the saga runner and its durable timers. */
export const bindCheckoutSaga = (c: Container, config: CrestConfig): void => {
  c.bind(Tokens.PaymentCallbacks).toDynamicValue((ctx) => new PaymentCallbacks(commandDeps(ctx), ctx.get(Tokens.Metrics).paymentCallbackObserver(ctx.get(Tokens.Logger))));
  c.bind(Tokens.PaymentProvider).toDynamicValue((ctx) => {
    const callbacks = ctx.get(Tokens.PaymentCallbacks);
    return new SimulatedPaymentProvider({
      latencyMs: config.CREST_PAYMENT_LATENCY_MS,
      deliver: async (event, span) => {
        await callbacks.record(event, { commandId: event.id, correlationId: event.orderId, span });
      },
    });
  });
  c.bind(Tokens.CheckoutRunner).toDynamicValue((ctx) => {
    const logger = ctx.get(Tokens.Logger);
    // the saga calls the provider through a breaker; Tokens.PaymentProvider stays the adapter itself (stopped at exit)
    const breaker = new Breaker(
      'payment-provider',
      { timeoutMs: config.CREST_BREAKER_PAYMENT_TIMEOUT_MS, resetMs: config.CREST_BREAKER_RESET_MS },
      ctx.get(Tokens.Metrics).breakerObserver(logger),
      PaymentProviderBreaker.counts,
    );
    return new CheckoutRunner(
      commandDeps(ctx),
      ctx.get(Tokens.Gateway),
      new PaymentProviderBreaker(ctx.get(Tokens.PaymentProvider), breaker),
      ctx.get(Tokens.PaymentTokens),
      ctx.get(Tokens.Checkpoints),
      new DeadlineTracker(ctx.get(Tokens.EventStore), { snapshots: ctx.get(Tokens.Snapshots), monitor: ctx.get(Tokens.FollowerMonitor), ...followerRetry(config) }),
      ctx.get(Tokens.Metrics).checkoutObserver(logger),
      {
        tickMs: config.CREST_SAGA_TICK_MS,
        paymentRetries: config.CREST_PAYMENT_RETRIES,
        paymentBackoffMs: config.CREST_PAYMENT_BACKOFF_MS,
        monitor: ctx.get(Tokens.FollowerMonitor),
        poisonPolicy: config.CREST_PROJECTION_POISON_POLICY,
        ...followerRetry(config),
      },
    );
  });
  const generatedSecret = randomBytes(24).toString('base64url');
  c.bind(Tokens.WebhookSecret).toConstantValue(
    config.CREST_PAYMENT_WEBHOOK_SECRET
      ? { secret: config.CREST_PAYMENT_WEBHOOK_SECRET[0]!, secrets: config.CREST_PAYMENT_WEBHOOK_SECRET, generated: false }
      : { secret: generatedSecret, secrets: [generatedSecret], generated: true },
  );
};
