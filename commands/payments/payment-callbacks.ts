import { createHash } from 'node:crypto';
import { streamName } from '../../domain/kernel/streams';
import { orderDecider } from '../../domain/order/order';
import { paymentDecider, type PaymentCommand } from '../../domain/payment/payment';
import { paymentFactsOf, providerCallbackDecider, type ReceiveCallback } from '../../domain/payment/provider-callback';
import { CommandRejectedError } from '../errors';
import { handleCommand, loadStream, type CommandDeps } from '../handle-command';
import type { CommandContext } from '../metadata';
import { traced } from '../tracing';
import type { ProviderEvent } from './payment-provider';

/** Callbacks that need a person: signed, but not the order's own payment or not its total. */
export interface PaymentCallbackObserver {
  mismatch(event: ProviderEvent, reason: string): void;
}

const digest = (text: string): string => createHash('sha256').update(text).digest('hex');

/** Stream names stay short and safe whatever id the provider chose. */
const callbackStream = (callbackId: string): string => streamName('callback', digest(callbackId).slice(0, 40));

const fingerprintOf = (event: ProviderEvent): string => digest(JSON.stringify([event.type, event.paymentId, event.orderId, event.amountCents, event.reason ?? null]));

/**
 * Records provider callbacks. Each callback id is judged once, on a stream of its own, against the order it names:
 * only the order's own payment, for exactly its total, reaches the payment's stream (and so the saga). Anything else
 * is kept as a mismatch and refused with `payment_mismatch`; a repeated id changes nothing.
 */
export class PaymentCallbacks {
  constructor(
    private readonly deps: CommandDeps,
    private readonly observer: PaymentCallbackObserver = { mismatch: () => undefined },
  ) {}

  record(event: ProviderEvent, ctx: CommandContext): Promise<{ recorded: boolean; position: number }> {
    if (!this.deps.tracer) return this.recordOnce(event, ctx);
    return traced(this.deps.tracer, 'crest.payment.callback', ctx, { 'crest.callback.type': event.type, 'crest.payment.id': event.paymentId, 'crest.order.id': event.orderId }, async (ctx, span) => {
      const result = await this.recordOnce(event, ctx);
      span?.setAttribute('crest.recorded', result.recorded);
      return result;
    });
  }

  private async recordOnce(event: ProviderEvent, ctx: CommandContext): Promise<{ recorded: boolean; position: number }> {
    const fingerprint = fingerprintOf(event);
    const order = await loadStream(this.deps.store, streamName('order', event.orderId), orderDecider);
    const now = this.deps.clock.now().toISOString();
    const receive = (): ReceiveCallback => ({
      type: 'ReceiveCallback',
      callbackId: event.id,
      fingerprint,
      kind: event.type,
      paymentId: event.paymentId,
      orderId: event.orderId,
      amountCents: event.amountCents,
      order: paymentFactsOf(order.state),
      now,
    });
    const receipt = await handleCommand(this.deps, callbackStream(event.id), providerCallbackDecider, receive, ctx);
    const first = receipt.state.first!;
    const isFirst = receipt.events.length > 0;
    if (!first.accepted || first.fingerprint !== fingerprint) {
      if (!isFirst) return { recorded: false, position: receipt.position };
      const mismatch = receipt.events[0]!.type === 'PaymentCallbackMismatched' ? receipt.events[0]!.data.mismatch : 'mismatch';
      this.observer.mismatch(event, mismatch);
      throw new CommandRejectedError({ code: 'payment_mismatch', message: `The callback does not match its order: ${mismatch}`, details: { callbackId: event.id, orderId: event.orderId } });
    }
    // accepted now, or accepted before and repeated: recording on the payment is idempotent, so a repeat finishes a
    // callback whose first delivery was cut short between its two appends
    const command = (): PaymentCommand => ({
      type: 'RecordProviderEvent',
      providerEventId: event.id,
      kind: event.type,
      paymentId: event.paymentId,
      orderId: event.orderId,
      amountCents: event.amountCents,
      reason: event.reason,
      now,
    });
    const result = await handleCommand(this.deps, streamName('payment', event.paymentId), paymentDecider, command, ctx);
    return { recorded: isFirst && result.events.length > 0, position: Math.max(result.position, receipt.position) };
  }
}
