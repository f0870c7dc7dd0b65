import { streamName } from '../../domain/kernel/streams';
import { paymentDecider, type PaymentCommand } from '../../domain/payment/payment';
import { handleCommand, type CommandDeps } from '../handle-command';
import type { CommandContext } from '../metadata';
import type { ProviderEvent } from './payment-provider';

/** Records provider callbacks on the payment's stream. A repeated or superseded callback writes nothing. */
export class PaymentCallbacks {
  constructor(private readonly deps: CommandDeps) {}

  async record(event: ProviderEvent, ctx: CommandContext): Promise<{ recorded: boolean; position: number }> {
    const command = (): PaymentCommand => ({
      type: 'RecordProviderEvent',
      providerEventId: event.id,
      kind: event.type,
      paymentId: event.paymentId,
      orderId: event.orderId,
      amountCents: event.amountCents,
      reason: event.reason,
      now: this.deps.clock.now().toISOString(),
    });
    const result = await handleCommand(this.deps, streamName('payment', event.paymentId), paymentDecider, command, ctx);
    return { recorded: result.events.length > 0, position: result.position };
  }
}
