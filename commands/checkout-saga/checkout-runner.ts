import { dueCommands, onRejected, react, type CheckoutCommand, type CheckoutTrigger } from '../../domain/checkout/checkout-process';
import type { RecordedEvent } from '../../domain/kernel/event-store';
import { validateEvent } from '../../domain/events';
import { assertNever } from '../../domain/kernel/decider';
import { LogFollower, PoisonEventError, type FollowerMonitor, type PoisonPolicy } from '../../projections/log-follower';
import { streamName } from '../../domain/kernel/streams';
import { orderDecider, type OrderCommand, type OrderState } from '../../domain/order/order';
import { paymentDecider, type PaymentCommand, type PaymentState } from '../../domain/payment/payment';
import { CommandRejectedError } from '../errors';
import { handleCommand, loadStream, type CommandDeps } from '../handle-command';
import type { InventoryGateway } from '../inventory/inventory-writers';
import type { CommandContext } from '../metadata';
import { PaymentProviderUnavailableError, TransientPaymentError, type PaymentProvider } from '../payments/payment-provider';
import type { CheckpointStore, PaymentTokenVault } from '../ports';
import { SpanKind, spanContextFrom, traced, type SpanContext } from '../tracing';
import { DeadlineTracker } from './deadline-tracker';

export interface CheckoutObserver {
  commandExecuted(command: CheckoutCommand['type'], outcome: 'done' | 'rejected' | 'failed'): void;
  pendingOrders(count: number): void;
  fulfilmentProblem(orderId: string, sku: string, detail: string): void;
  failed(error: unknown): void;
}

export interface CheckoutRunnerOptions {
  /** How often the scheduler looks for orders past their deadline. */
  readonly tickMs: number;
  readonly paymentRetries: number;
  readonly paymentBackoffMs: number;
  readonly random?: () => number;
  /** Save the subscription checkpoint at most this often (and at stop); a crash re-handles at most this much. */
  readonly checkpointEveryMs?: number;
  /** Where its log follower reports retries and stalls. */
  readonly monitor?: FollowerMonitor;
  /** An order or payment event that does not decode: halt the saga there (`stop`) or pass over it (`skip`). */
  readonly poisonPolicy?: PoisonPolicy;
  /** Cap of the backoff between attempts of a failing step (store locked, writer unavailable). */
  readonly retryMaxMs?: number;
}

const CHECKPOINT = 'checkout-saga';
const TRIGGERS: ReadonlySet<string> = new Set([
  'PaymentRequested',
  'PaymentCaptured',
  'PaymentFailed',
  'PaymentRefunded',
  'OrderConfirmed',
  'OrderPaymentFailed',
  'OrderCancelled',
  'OrderExpired',
]);

const ENDS_PAYMENT: ReadonlySet<string> = new Set(['OrderConfirmed', 'OrderPaymentFailed', 'OrderCancelled', 'OrderExpired']);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * Runs the checkout process manager durably. Saga state is the order and payment streams themselves; this runner
 * only remembers how far it has read (its follower's checkpoint, saved at most once a second and at stop), so a
 * restart re-handles at most a second's events, which is harmless because every command it issues is idempotent. Deadlines come from a tracker rebuilt
 * from the log at start, checked by one scheduler loop: due expiries fire after a restart.
 */
export class CheckoutRunner {
  private follower: LogFollower | undefined;
  private scheduler: NodeJS.Timeout | undefined;
  private readonly payments = new Set<Promise<void>>();
  /** Payments waiting for the provider's breaker; stop() wakes them. */
  private readonly waiting = new Set<() => void>();
  private stopped = false;
  private running = false;
  private readonly random: () => number;

  constructor(
    private readonly deps: CommandDeps,
    private readonly inventory: InventoryGateway,
    private readonly provider: PaymentProvider,
    private readonly paymentTokens: PaymentTokenVault,
    private readonly checkpoints: CheckpointStore,
    private readonly tracker: DeadlineTracker,
    private readonly observer: CheckoutObserver,
    private readonly options: CheckoutRunnerOptions,
  ) {
    this.random = options.random ?? Math.random;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.tracker.start();
    for (const sku of this.tracker.skusHoldingReservations()) await this.inventory.figures(sku).catch(() => undefined);
    // a step that fails (the store is locked, a writer is unavailable) is retried with backoff until it succeeds:
    // a captured payment must always end in a confirmed order and sold units
    this.follower = new LogFollower(
      this.deps.store,
      {
        name: CHECKPOINT,
        // every reaction is idempotent, so the checkpoint only bounds the work after a crash: saved at most once a second
        checkpoint: { load: () => this.checkpoints.load(CHECKPOINT), save: (position) => this.checkpoints.save(CHECKPOINT, position), everyMs: this.options.checkpointEveryMs ?? 1000 },
        filter: { categories: ['order', 'payment'] },
        batchSize: 200,
        poisonPolicy: this.options.poisonPolicy ?? 'stop',
        ...(this.options.retryMaxMs === undefined ? {} : { retryMaxMs: this.options.retryMaxMs }),
      },
      (batch) => this.handleBatch(batch),
      this.options.monitor,
    );
    await this.follower.start();
    // payments that were in flight when the process stopped are asked for again (the provider is idempotent)
    for (const pending of this.tracker.awaitingPaymentOutcome()) {
      this.startPayment({ type: 'StartPayment', commandId: `${pending.orderId}:pay`, ...pending });
    }
    this.scheduler = setInterval(() => void this.fireDueDeadlines(), this.options.tickMs);
    this.scheduler.unref();
    this.running = true;
  }

  /** True once deadlines are rebuilt and the subscription is running. */
  get started(): boolean {
    return this.running && !this.stopped;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const wake of [...this.waiting]) wake();
    if (this.scheduler) clearInterval(this.scheduler);
    const follower = this.follower;
    this.follower = undefined;
    await follower?.stop();
    await this.tracker.stop();
    await Promise.allSettled([...this.payments]);
  }

  /**
   * Orders are independent, so a batch's orders are handled side by side (their appends share group commits); each
   * order's own events keep their log order. A failure fails the batch, which is retried whole: every reaction is
   * idempotent, so what did succeed changes nothing the second time.
   */
  private async handleBatch(batch: readonly RecordedEvent[]): Promise<void> {
    const byOrder = new Map<string, RecordedEvent[]>();
    for (const event of batch) {
      if (!TRIGGERS.has(event.type)) continue;
      const orderId = String((event.data as { orderId?: unknown } | undefined)?.orderId);
      const events = byOrder.get(orderId);
      if (events) events.push(event);
      else byOrder.set(orderId, [event]);
    }
    const outcomes = await Promise.allSettled(
      [...byOrder.values()].map(async (events) => {
        for (const event of events) await this.handle(event);
      }),
    );
    const failures = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => o.reason as unknown);
    const transient = failures.find((f) => !(f instanceof PoisonEventError));
    if (transient !== undefined) throw transient;
    if (failures.length > 0) throw (failures as PoisonEventError[]).reduce((first, f) => (f.event.position < first.event.position ? f : first));
  }

  private async handle(event: RecordedEvent): Promise<void> {
    let trigger: CheckoutTrigger;
    try {
      trigger = validateEvent({ type: event.type, data: event.data } as CheckoutTrigger);
    } catch (error) {
      throw new PoisonEventError(event, error);
    }
    const orderId = trigger.data.orderId;
    const { order, payment, origin } = await this.load(orderId);
    const ctx = { commandId: event.id, correlationId: String(event.metadata.correlationId ?? orderId), causationId: event.id };
    const reacting = async (ctx: CommandContext) => {
      await this.executeAll(react(trigger, order, payment), ctx);
      // an order that no longer awaits payment needs its token no more
      if (ENDS_PAYMENT.has(trigger.type) && order.paymentId !== undefined && order.status !== 'awaiting_payment') await this.paymentTokens.forget(order.paymentId);
    };
    if (!this.deps.tracer) return reacting(ctx);
    await this.inOrderTrace(ctx, origin, event.metadata.traceparent, { 'crest.trigger': event.type, 'crest.order.id': orderId, 'crest.event.id': event.id, 'crest.position': event.position }, reacting);
  }

  /**
   * A reaction continues the order's trace (that of the span that placed it, in `OrderPlaced`'s metadata): under the
   * span that wrote the triggering event when that span is in the order's trace, else under the placement, linking to
   * the event's own span (a payment request, or a provider's webhook, comes in a trace of its own).
   */
  private inOrderTrace(ctx: CommandContext, origin: Readonly<Record<string, unknown>> | undefined, traceparent: unknown, attributes: Record<string, string | number>, work: (ctx: CommandContext) => Promise<void>): Promise<void> {
    const own = spanContextFrom(traceparent);
    const placed = spanContextFrom(origin?.traceparent);
    const parent = own && (!placed || own.traceId === placed.traceId) ? own : placed;
    return traced(this.deps.tracer, 'crest.checkout.react', { ...ctx, span: parent }, attributes, work, SpanKind.INTERNAL, own && own !== parent ? [{ context: own }] : undefined);
  }

  private async fireDueDeadlines(): Promise<void> {
    if (this.stopped) return;
    const now = this.deps.clock.now();
    for (const orderId of this.tracker.dueAt(now)) {
      try {
        const { order, origin } = await this.load(orderId);
        const ctx = { commandId: `${orderId}:expire`, correlationId: orderId };
        const expiring = (ctx: CommandContext) => this.executeAll(dueCommands(order, now.toISOString()), ctx);
        await (this.deps.tracer ? this.inOrderTrace(ctx, origin, undefined, { 'crest.trigger': 'deadline', 'crest.order.id': orderId }, expiring) : expiring(ctx));
      } catch (error) {
        this.observer.failed(error);
      }
    }
    this.observer.pendingOrders(this.tracker.pendingCount());
  }

  /** The order and its payment as they are now; `origin` is the metadata of the order's first event. */
  private async load(orderId: string): Promise<{ order: OrderState; payment: PaymentState; origin: Readonly<Record<string, unknown>> | undefined }> {
    const { state: order, origin } = await loadStream(this.deps.store, streamName('order', orderId), orderDecider);
    const payment = order.paymentId
      ? (await loadStream(this.deps.store, streamName('payment', order.paymentId), paymentDecider)).state
      : paymentDecider.initialState();
    return { order, payment, origin };
  }

  private async executeAll(commands: readonly CheckoutCommand[], ctx: CommandContext): Promise<void> {
    for (const command of commands) {
      const commandCtx = { ...ctx, commandId: command.commandId };
      try {
        await (this.deps.tracer
          ? traced(this.deps.tracer, 'crest.checkout.command', commandCtx, { 'crest.command': command.type, 'crest.order.id': command.orderId }, (c) => this.execute(command, c))
          : this.execute(command, commandCtx));
        this.observer.commandExecuted(command.type, 'done');
      } catch (error) {
        if (!(error instanceof CommandRejectedError)) {
          this.observer.commandExecuted(command.type, 'failed');
          throw error;
        }
        this.observer.commandExecuted(command.type, 'rejected');
        const { order } = await this.load(command.orderId);
        await this.executeAll(onRejected(command, { code: error.code, message: error.message }, order), ctx);
      }
    }
  }

  private async execute(command: CheckoutCommand, ctx: CommandContext): Promise<void> {
    const now = this.deps.clock.now().toISOString();
    const onOrder = (c: OrderCommand) => handleCommand(this.deps, streamName('order', command.orderId), orderDecider, () => c, ctx);
    switch (command.type) {
      case 'StartPayment':
        this.startPayment(command, ctx.span);
        return;
      case 'ConfirmOrder':
        await onOrder({ type: 'ConfirmOrder', orderId: command.orderId, paymentId: command.paymentId, now });
        return;
      case 'FailOrderPayment':
        await onOrder({ type: 'FailOrderPayment', orderId: command.orderId, paymentId: command.paymentId, reason: command.reason, now });
        return;
      case 'ExpireOrder':
        await onOrder({ type: 'ExpireOrder', orderId: command.orderId, now });
        return;
      case 'ReleaseReservation':
        await this.inventory.submit({ type: 'ReleaseReservation', sku: command.sku, orderId: command.orderId, reason: command.reason }, ctx);
        return;
      case 'ConfirmReservation':
        await this.confirmReservation(command.orderId, command.sku, ctx);
        return;
      case 'ReportProblem':
        this.observer.fulfilmentProblem(command.orderId, '', command.detail);
        return;
      case 'RefundPayment': {
        const onPayment = (c: PaymentCommand) => handleCommand(this.deps, streamName('payment', command.paymentId), paymentDecider, () => c, ctx);
        const requested = await onPayment({ type: 'RequestRefund', paymentId: command.paymentId, orderId: command.orderId, reason: command.reason, now });
        if (requested.state.refunded) return;
        await this.withRetries(() =>
          this.callProvider('refund', ctx, (span) => this.provider.refund({ paymentId: command.paymentId, orderId: command.orderId, amountCents: requested.state.capturedCents, reason: command.reason, span })),
        );
        return;
      }
      default:
        assertNever(command);
    }
  }

  /**
   * Reserved units become sold. If the reservation is gone (the writer's orphan sweep released it while this runner
   * was down past the grace period), reserve again; if that is impossible the order needs a person, so say so loudly.
   */
  private async confirmReservation(orderId: string, sku: string, ctx: CommandContext): Promise<void> {
    const confirmed = await this.inventory.submit({ type: 'ConfirmReservation', sku, orderId }, ctx);
    if (confirmed.ok || confirmed.rejection.code !== 'reservation_not_held') {
      if (!confirmed.ok) throw new CommandRejectedError(confirmed.rejection);
      return;
    }
    const { order } = await this.load(orderId);
    if (order.status !== 'confirmed') return;
    const line = order.lines.find((l) => l.sku === sku);
    if (!line) return;
    const reserved = await this.inventory.submit(
      // the customer's units count towards a sale's limit again (the lapse gave them back)
      { type: 'ReserveStock', sku, orderId, quantity: line.quantity, expiresAt: new Date(this.deps.clock.now().getTime() + 60_000).toISOString(), customerId: order.customerId },
      ctx,
    );
    const again = reserved.ok ? await this.inventory.submit({ type: 'ConfirmReservation', sku, orderId }, ctx) : reserved;
    if (!again.ok) this.observer.fulfilmentProblem(orderId, sku, `confirmed order lost its reservation and stock could not be re-reserved: ${again.rejection.code}`);
  }

  /**
   * Charging runs beside the subscription: a slow or flaky provider must not hold up every other order. Recording
   * the payment is retried until the store takes it (or the runner stops); the provider call has its own budget.
   */
  private startPayment(command: Extract<CheckoutCommand, { type: 'StartPayment' }>, parent?: SpanContext): void {
    const charging = { commandId: command.commandId, correlationId: command.orderId, span: parent };
    const run = traced(this.deps.tracer, 'crest.payment.charge', charging, { 'crest.order.id': command.orderId, 'crest.payment.id': command.paymentId }, async (ctx) => {
      for (let attempt = 1; ; attempt++) {
        try {
          const now = this.deps.clock.now().toISOString();
          await handleCommand(this.deps, streamName('payment', command.paymentId), paymentDecider, (): PaymentCommand => ({ type: 'InitiatePayment', paymentId: command.paymentId, orderId: command.orderId, amountCents: command.amountCents, now }), ctx);
          break;
        } catch (error) {
          if (error instanceof CommandRejectedError || this.stopped) throw error;
          this.observer.failed(error);
          await sleep(Math.min(this.options.retryMaxMs ?? 5000, this.random() * this.options.paymentBackoffMs * 2 ** Math.min(attempt, 16)));
        }
      }
      const paymentToken = await this.tokenFor(command.paymentId, command.orderId);
      if (paymentToken === undefined) throw new Error(`No payment token is kept for ${command.paymentId}: it cannot be charged, and order ${command.orderId} will expire at its deadline`);
      await this.withRetries(
        () => this.callProvider('charge', ctx, (span) => this.provider.charge({ paymentId: command.paymentId, orderId: command.orderId, amountCents: command.amountCents, paymentToken, span })),
        () => this.stillAwaitsOutcome(command.orderId, command.paymentId),
      );
    }).catch((error: unknown) => this.observer.failed(error));
    this.payments.add(run);
    void run.finally(() => this.payments.delete(run));
  }

  /** One call to the provider (through its breaker), as a client span whose context the provider is handed. */
  private callProvider(call: 'charge' | 'refund', ctx: CommandContext, make: (span: SpanContext | undefined) => Promise<void>): Promise<void> {
    return traced(this.deps.tracer, `crest.payment.provider.${call}`, ctx, {}, (c) => make(c.span), SpanKind.CLIENT);
  }

  /** The vault's token, or the one a PaymentRequested of schema v1 still carries in the log (written before the vault). */
  private async tokenFor(paymentId: string, orderId: string): Promise<string | undefined> {
    const kept = await this.paymentTokens.find(paymentId);
    if (kept !== undefined) return kept;
    const events = await this.deps.store.readStream(streamName('order', orderId));
    const legacy = events.find((e) => e.type === 'PaymentRequested')?.data as { paymentToken?: unknown } | undefined;
    return typeof legacy?.paymentToken === 'string' ? legacy.paymentToken : undefined;
  }

  /**
   * True while the order still waits for this payment's outcome (a charge that is no longer wanted stops retrying).
   * When the streams cannot be read just now (the store is locked), the charge is still wanted: asking costs nothing.
   */
  private async stillAwaitsOutcome(orderId: string, paymentId: string): Promise<boolean> {
    try {
      const { order, payment } = await this.load(orderId);
      return order.status === 'awaiting_payment' && order.paymentId === paymentId && payment.outcome === 'none';
    } catch {
      return true;
    }
  }

  /**
   * Exponential backoff with full jitter, only for errors the provider marks as transient. With `stillWanted`, a call
   * that was not made because the provider's breaker is open waits until the breaker lets calls through and goes
   * again, with the same request (the same payment id), for as long as `stillWanted` holds; those waits use no attempt.
   */
  private async withRetries(call: () => Promise<void>, stillWanted?: () => Promise<boolean>): Promise<void> {
    for (let attempt = 0; ; ) {
      try {
        return await call();
      } catch (error) {
        if (this.stopped) throw error;
        if (stillWanted && error instanceof PaymentProviderUnavailableError) {
          // jitter spreads the payments that waited together over the breaker's trial call
          await this.waitUnlessStopped(Math.max(error.retryInMs, this.options.paymentBackoffMs) * (1 + this.random()));
          if (this.stopped || !(await stillWanted())) return;
          continue;
        }
        if (!(error instanceof TransientPaymentError) || attempt + 1 >= this.options.paymentRetries) throw error;
        await sleep(this.random() * this.options.paymentBackoffMs * 2 ** attempt);
        attempt++;
      }
    }
  }

  private waitUnlessStopped(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiting.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      timer.unref();
      this.waiting.add(wake);
    });
  }
}
