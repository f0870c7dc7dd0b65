import type { RejectionCode } from '../../domain/kernel/decider';
import { createHash } from 'node:crypto';
import { WrongExpectedRevisionError, type EventPrecondition } from '../../domain/kernel/event-store';
import { streamName } from '../../domain/kernel/streams';
import type { InventoryCommand, ReleaseReason } from '../../domain/inventory/inventory';
import { paymentIdFor } from '../../domain/payment/payment';
import { orderDecider, type OrderCommand, type OrderLine, type OrderState } from '../../domain/order/order';
import type { Catalog } from '../catalog/catalog';
import { CommandRejectedError } from '../errors';
import { handleCommand, loadStream, type CommandDeps } from '../handle-command';
import type { WriterOutcome } from '../inventory/inventory-writer';
import type { InventoryGateway } from '../inventory/inventory-writers';
import { toEventToAppend, type CommandContext } from '../metadata';
import type { PaymentTokenVault } from '../ports';
import { traced, tracedAppend } from '../tracing';
import { deriveOrderId, requestHashOf, type RequestedLine } from './order-identity';

export interface PlaceOrderInput {
  readonly customerId: string;
  readonly idempotencyKey: string;
  readonly lines: readonly RequestedLine[];
}

export interface OrderSummary {
  readonly orderId: string;
  readonly status: OrderState['status'] | 'pending';
  readonly totalCents: number;
  readonly expiresAt: string | undefined;
}

export type PlaceOrderResult =
  | { readonly kind: 'placed'; readonly order: OrderSummary; readonly position: number }
  | { readonly kind: 'existing'; readonly order: OrderSummary; readonly position: number }
  /** A line could not be had: `code` is out_of_stock, or a sale's rule (sale_not_started, purchase_limit_exceeded, sale_changed). */
  | { readonly kind: 'refused'; readonly orderId: string; readonly code: RejectionCode; readonly skus: readonly string[]; readonly details: Readonly<Record<string, unknown>> };

/** The sale that governs a SKU at a moment, as this process last saw it (the SKU's writer has the last word). */
export interface SaleTermsLookup {
  forSku(sku: string, at: number): { readonly saleId: string; readonly priceCents: number; readonly startsAt: string; readonly status: string } | undefined;
}

export interface CheckoutOptions {
  readonly reservationTtlMs: number;
  /**
   * Reservations outlive their order's deadline by this much. The checkout saga expires unpaid orders at the deadline;
   * the writer's own sweep at deadline + grace only catches reservations whose order was never placed.
   */
  readonly reservationGraceMs: number;
}

/** One attempt to place an order: who asked, what, and when it expires (`heldUntil`: its reservations' end). */
interface Placement {
  readonly orderId: string;
  readonly requestHash: string;
  readonly input: PlaceOrderInput;
  readonly now: Date;
  readonly expiresAt: string;
  readonly heldUntil: string;
  readonly ctx: CommandContext;
}

interface InFlight {
  readonly requestHash: string;
  readonly result: Promise<PlaceOrderResult>;
  pendingAnnounced: boolean;
}

const summaryOf = (s: OrderState): OrderSummary => ({ orderId: s.orderId, status: s.status, totalCents: s.totalCents, expiresAt: s.expiresAt });

const keyReused = (orderId: string) =>
  new CommandRejectedError({ code: 'idempotency_key_reused', message: 'This Idempotency-Key was already used by this customer for different lines', details: { orderId } });

/**
 * Why an order's lines could not all be had: the first refusal's code (a sale's rule, or out of stock) with its
 * details, and every line refused with that code.
 */
const refusedOf = (orderId: string, lines: readonly OrderLine[], outcomes: ReadonlyArray<WriterOutcome | undefined>): PlaceOrderResult => {
  const refusals = outcomes.map((o) => (o && !o.ok ? o.rejection : undefined));
  // a sale's rule says more than "out of stock" about what the customer can do
  const first = refusals.find((r) => r && r.code !== 'out_of_stock') ?? refusals.find((r) => r) ?? { code: 'out_of_stock', message: '', details: {} };
  const skus = lines.filter((_, i) => refusals[i]?.code === first.code).map((l) => l.sku);
  const { sku: _sku, ...details } = (first.details ?? {}) as Record<string, unknown>;
  return { kind: 'refused', orderId, code: first.code, skus: skus.length > 0 ? skus : lines.map((l) => l.sku), details };
};

/**
 * Placing and cancelling orders: the reserve-first flow. Every line is reserved through its SKU's writer
 * (deduplicated by order id); only when all are held is `OrderPlaced` appended with `no_stream`, which makes the
 * order exactly-once. A line that cannot be had releases the others, and nothing is written to the order stream.
 * If the process dies between the two steps, the reservations lapse at their TTL.
 */
export class OrderCommands {
  private readonly inFlight = new Map<string, InFlight>();

  constructor(
    private readonly deps: CommandDeps,
    private readonly catalog: Catalog,
    private readonly inventory: InventoryGateway,
    private readonly paymentTokens: PaymentTokenVault,
    private readonly options: CheckoutOptions,
    private readonly sales: SaleTermsLookup = { forSku: () => undefined },
  ) {}

  orderIdFor(customerId: string, idempotencyKey: string): string {
    return deriveOrderId(customerId, idempotencyKey);
  }

  /** Concurrent duplicates share one placement; a duplicate with other lines is refused at once. */
  place(input: PlaceOrderInput, ctx: CommandContext): Promise<PlaceOrderResult> {
    const orderId = deriveOrderId(input.customerId, input.idempotencyKey);
    const requestHash = requestHashOf(input.customerId, input.lines);
    const running = this.inFlight.get(orderId);
    if (running) {
      if (running.requestHash !== requestHash) return Promise.reject(keyReused(orderId));
      return running.result.then((r) => (r.kind === 'placed' ? { ...r, kind: 'existing' } : r));
    }
    const entry: InFlight = { requestHash, pendingAnnounced: false, result: this.deps.tracer ? this.placeTraced(orderId, requestHash, input, ctx) : this.placeOnce(orderId, requestHash, input, ctx) };
    this.inFlight.set(orderId, entry);
    void entry.result
      .then(
        (r) => (r.kind === 'refused' && entry.pendingAnnounced ? this.recordRejection(orderId, requestHash, input, r.code, r.skus, ctx) : undefined),
        // a client told "pending" must be able to see that the order did not happen
        () => (entry.pendingAnnounced ? this.recordRejection(orderId, requestHash, input, 'unavailable', [], ctx) : undefined),
      )
      .catch(() => undefined)
      .finally(() => this.inFlight.delete(orderId));
    return entry.result;
  }

  /** The caller answered 202 for this order: if it then fails, the failure must be visible on the order stream. */
  announcePending(orderId: string): void {
    const entry = this.inFlight.get(orderId);
    if (entry) entry.pendingAnnounced = true;
  }

  /** With `customerId` (a verified customer), another customer's order is refused as not found. */
  async cancel(orderId: string, ctx: CommandContext, customerId?: string): Promise<{ orderId: string; status: 'cancelled'; position: number }> {
    const command = (): OrderCommand => ({ type: 'CancelOrder', orderId, now: this.deps.clock.now().toISOString(), customerId });
    const result = await handleCommand(this.deps, streamName('order', orderId), orderDecider, command, ctx);
    // releasing is idempotent, so a cancel repeated after a crash finishes the job
    const position = await this.release(orderId, result.state.lines, 'cancelled', ctx);
    return { orderId, status: 'cancelled', position: Math.max(result.position, position) };
  }

  /**
   * Starts the order's one payment; asking again while it is in flight names the same payment. The token goes to the
   * vault before the request is recorded (so the saga always finds it), and the event keeps only its fingerprint.
   */
  async requestPayment(orderId: string, paymentToken: string, ctx: CommandContext, customerId?: string): Promise<{ orderId: string; status: string; paymentId: string; position: number }> {
    const paymentId = paymentIdFor(orderId);
    const tokenFingerprint = createHash('sha256').update(paymentToken).digest('hex').slice(0, 16);
    const command = (): OrderCommand => ({ type: 'RequestPayment', orderId, paymentId, tokenFingerprint, now: this.deps.clock.now().toISOString(), customerId });
    // decided once before the token is kept, so that a request the order refuses (another customer's, a paid order)
    // can never put its token in the vault; the append below decides again against the stream as it is then
    const current = await loadStream(this.deps.store, streamName('order', orderId), orderDecider);
    const decision = orderDecider.decide(command(), current.state);
    if (!decision.ok) throw new CommandRejectedError(decision.rejection);
    if (decision.events.length > 0) await this.paymentTokens.keep(paymentId, paymentToken);
    const result = await handleCommand(this.deps, streamName('order', orderId), orderDecider, command, ctx).catch(async (error: unknown) => {
      // the order changed in between (cancelled, expired): the token it will never use goes again
      if (error instanceof CommandRejectedError && decision.events.length > 0) await this.paymentTokens.forget(paymentId);
      throw error;
    });
    return { orderId, status: result.state.status, paymentId: result.state.paymentId ?? paymentId, position: result.position };
  }

  /** The placement as a span (`crest.order.place`): its reservations and `OrderPlaced` carry it on. */
  private placeTraced(orderId: string, requestHash: string, input: PlaceOrderInput, ctx: CommandContext): Promise<PlaceOrderResult> {
    return traced(this.deps.tracer, 'crest.order.place', ctx, { 'crest.order.id': orderId, 'crest.order.lines': input.lines.length }, async (placing, span) => {
      const result = await this.placeOnce(orderId, requestHash, input, placing);
      span?.setAttributes(result.kind === 'refused' ? { 'crest.outcome': result.kind, 'crest.rejection': result.code } : { 'crest.outcome': result.kind, 'crest.position': result.position });
      return result;
    });
  }

  /**
   * Reads nothing for an order id never seen: the lines are reserved (writers deduplicate by order id) and
   * `OrderPlaced` is appended with `no_stream`, in one commit when the order is one line owned in this process. Only a
   * refusal or a lost race reads the order, to tell a replay (the order as it is now) from a fresh attempt.
   */
  private async placeOnce(orderId: string, requestHash: string, input: PlaceOrderInput, ctx: CommandContext): Promise<PlaceOrderResult> {
    const now = this.deps.clock.now();
    const lines = await this.pricedLines(input.lines, now.getTime());
    const expiresAt = new Date(now.getTime() + this.options.reservationTtlMs).toISOString();
    const heldUntil = new Date(now.getTime() + this.options.reservationTtlMs + this.options.reservationGraceMs).toISOString();
    const placement: Placement = { orderId, requestHash, input, now, expiresAt, heldUntil, ctx };
    if (!this.inventory.appendsAlongside) return this.placeInTwoSteps(placement, lines, this.reserve(placement, lines));
    if (lines.length === 1) return this.placeInOneCommit(placement, lines[0]!);
    return this.placeLinesInOneCommit(placement, lines);
  }

  private reserve(placement: Placement, lines: readonly OrderLine[], onSent?: (line: number, event: EventPrecondition) => void): Array<Promise<WriterOutcome>> {
    const { ctx } = placement;
    return lines.map((l, i) =>
      this.inventory.submit(this.reservation(placement, l), ctx, onSent ? { onSent: (event) => onSent(i, event) } : {}),
    );
  }

  /**
   * Reserve every line through its owner, wherever it is (`reserving`), then append `OrderPlaced` with `no_stream`.
   * A line that cannot be had gives back the others, and the order is not placed.
   */
  private async placeInTwoSteps(placement: Placement, lines: readonly OrderLine[], reserving: ReadonlyArray<Promise<WriterOutcome>>): Promise<PlaceOrderResult> {
    const { orderId, requestHash, input, now, expiresAt, ctx } = placement;
    const streamId = streamName('order', orderId);
    const outcomes = await Promise.allSettled(reserving);
    const reserved = lines.map((line, i) => {
      const o = outcomes[i]!;
      return { line, held: o.status === 'fulfilled' && o.value.ok, created: o.status === 'fulfilled' && o.value.ok && o.value.appended };
    });
    if (reserved.some((r) => !r.held)) {
      const existing = await loadStream(this.deps.store, streamId, orderDecider);
      const replay = this.replayOf(existing.state, requestHash, existing.position, () => this.releaseOurs(orderId, reserved, existing.state, ctx));
      if (replay) return replay;
      // no order holds these: whatever is held for this id (now, or by an attempt that died) goes back
      await this.release(orderId, reserved.filter((r) => r.held).map((r) => r.line), 'order_rejected', ctx);
      const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
      if (failure) throw failure.reason;
      return refusedOf(orderId, lines, outcomes.map((o) => (o.status === 'fulfilled' ? o.value : undefined)));
    }

    let current = { state: orderDecider.initialState(), revision: -1 };
    for (;;) {
      const decision = orderDecider.decide({ type: 'PlaceOrder', orderId, customerId: input.customerId, lines: [...lines], requestHash, now: now.toISOString(), expiresAt }, current.state);
      if (!decision.ok) {
        await this.releaseOurs(orderId, reserved, current.state, ctx);
        throw new CommandRejectedError(decision.rejection);
      }
      try {
        const events = decision.events.map((e) => toEventToAppend(e, ctx, this.deps.ids, now));
        const expected = current.revision < 0 ? 'no_stream' : current.revision;
        const appended = await tracedAppend(this.deps.tracer, ctx.span, [streamId], events.length, () => this.deps.store.appendToStream(streamId, events, expected));
        return { kind: 'placed', order: summaryOf(decision.events.reduce(orderDecider.evolve, current.state)), position: appended.position };
      } catch (error) {
        if (!(error instanceof WrongExpectedRevisionError)) throw error;
        // the order exists: placed by a replay that won, or rejected earlier (then this attempt places it again)
        const winner = await loadStream(this.deps.store, streamId, orderDecider);
        if (winner.state.status === 'rejected' && current.state.status !== 'rejected') {
          current = winner;
          continue;
        }
        const answer = this.replayOf(winner.state, requestHash, winner.position, () => this.releaseOurs(orderId, reserved, winner.state, ctx));
        if (!answer) throw error;
        return answer;
      }
    }
  }

  /**
   * An order of one line whose SKU's writer is in this process: its reservation and its `OrderPlaced` become durable
   * in the same transaction (one fsync), or neither does. A crash at any point leaves the whole order or nothing.
   */
  private async placeInOneCommit(placement: Placement, line: OrderLine): Promise<PlaceOrderResult> {
    const { orderId, requestHash, input, now, expiresAt, ctx } = placement;
    const streamId = streamName('order', orderId);
    const decision = orderDecider.decide({ type: 'PlaceOrder', orderId, customerId: input.customerId, lines: [line], requestHash, now: now.toISOString(), expiresAt }, orderDecider.initialState());
    if (!decision.ok) throw new CommandRejectedError(decision.rejection);
    const placed = { streamId, events: decision.events.map((e) => toEventToAppend(e, ctx, this.deps.ids, now)), expectedRevision: 'no_stream' as const };
    const outcome = await this.inventory.submit(this.reservation(placement, line), ctx, { alongside: placed });
    if (outcome.ok) return { kind: 'placed', order: summaryOf(decision.events.reduce(orderDecider.evolve, orderDecider.initialState())), position: outcome.position };
    // refused, or the order exists: nothing was written, so the order as it is now (if any) is the answer
    const existing = await loadStream(this.deps.store, streamId, orderDecider);
    const replay = this.replayOf(existing.state, requestHash, existing.position, async () => undefined);
    if (replay) return replay;
    if (outcome.rejection.code === 'already_exists') return this.placeInTwoSteps(placement, [line], this.reserve(placement, [line]));
    return refusedOf(orderId, [line], [outcome]);
  }

  /**
   * An order of several lines whose writers are all in this process: each writer decides its line in its own batch,
   * and as soon as every line's reservation is on its way to the store, `OrderPlaced` follows with those reservation
   * events as its precondition. It usually shares their commit (one fsync); it can never commit without them. If a
   * line is refused, or a reservation's batch did not commit, the order goes on as two steps on the same reservations.
   */
  private async placeLinesInOneCommit(placement: Placement, lines: readonly OrderLine[]): Promise<PlaceOrderResult> {
    const { orderId, input, now, expiresAt, ctx } = placement;
    const sent = lines.map(() => {
      let resolve: (event: EventPrecondition) => void = () => undefined;
      return { promise: new Promise<EventPrecondition>((r) => (resolve = r)), resolve: (event: EventPrecondition) => resolve(event) };
    });
    const reserving = this.reserve(placement, lines, (i, event) => sent[i]!.resolve(event));
    // a reservation is sent before it is answered; one answered unsent (refused, a duplicate, a failure) makes this
    // a two-step order
    const required = await Promise.all(sent.map((s, i) => Promise.race([s.promise, reserving[i]!.then(() => undefined, () => undefined)])));
    if (required.every((r) => r !== undefined)) {
      const decision = orderDecider.decide({ type: 'PlaceOrder', orderId, customerId: input.customerId, lines: [...lines], requestHash: placement.requestHash, now: now.toISOString(), expiresAt }, orderDecider.initialState());
      if (!decision.ok) {
        await Promise.allSettled(reserving);
        return this.placeInTwoSteps(placement, lines, reserving);
      }
      const events = decision.events.map((e) => toEventToAppend(e, ctx, this.deps.ids, now));
      try {
        const orderStream = streamName('order', orderId);
        const [appended] = await tracedAppend(this.deps.tracer, ctx.span, [orderStream], events.length, () =>
          this.deps.store.appendToStreams!([{ streamId: orderStream, events, expectedRevision: 'no_stream' }], required as EventPrecondition[]),
        );
        // committed with (or after) every reservation it requires
        await Promise.allSettled(reserving);
        return { kind: 'placed', order: summaryOf(decision.events.reduce(orderDecider.evolve, orderDecider.initialState())), position: appended!.position };
      } catch {
        // the order exists, or a reservation's batch did not commit: the two-step path sorts out which
      }
    }
    return this.placeInTwoSteps(placement, lines, reserving);
  }

  /**
   * After losing to an existing order: give back the reservations this attempt created, except those the existing
   * order, still awaiting payment, holds itself (a reservation is one per order id, so those are the same one).
   */
  private async releaseOurs(orderId: string, reserved: ReadonlyArray<{ line: OrderLine; created: boolean }>, existing: OrderState, ctx: CommandContext): Promise<void> {
    const live = existing.status === 'awaiting_payment';
    const ours = reserved.filter((r) => r.created && !(live && existing.lines.some((l) => l.sku === r.line.sku))).map((r) => r.line);
    await this.release(orderId, ours, 'order_rejected', ctx);
  }

  /** The answer to a repeated request for an existing order; `settle` runs first whenever the order exists. */
  private replayOf(state: OrderState, requestHash: string, position: number, settle: () => Promise<void>): Promise<PlaceOrderResult> | undefined {
    if (state.status === 'none' || state.status === 'rejected') return undefined;
    return settle().then(() => {
      if (state.requestHash !== requestHash) throw keyReused(state.orderId);
      return { kind: 'existing', order: summaryOf(state), position };
    });
  }

  /** List prices, or a live sale's price and id; a line whose sale has not started refuses the order before anything is reserved. */
  private async pricedLines(requested: readonly RequestedLine[], now: number): Promise<OrderLine[]> {
    const entries = await Promise.all(requested.map((l) => this.catalog.listed(l.sku)));
    const unknown = requested.filter((_, i) => !entries[i]).map((l) => l.sku);
    if (unknown.length > 0) {
      throw new CommandRejectedError({ code: 'unknown_sku', message: `Not listed: ${unknown.join(', ')}`, details: { skus: unknown } });
    }
    const sales = requested.map((l) => this.sales.forSku(l.sku, now));
    const early = requested.filter((_, i) => sales[i]?.status === 'scheduled');
    if (early.length > 0) {
      const startsAt = sales.find((s) => s?.status === 'scheduled')!.startsAt;
      throw new CommandRejectedError({ code: 'sale_not_started', message: `Not on sale yet: ${early.map((l) => l.sku).join(', ')}`, details: { skus: early.map((l) => l.sku), startsAt } });
    }
    return requested.map((l, i) => {
      const sale = sales[i]?.status === 'live' ? sales[i] : undefined;
      return sale ? { sku: l.sku, quantity: l.quantity, priceCents: sale.priceCents, saleId: sale.saleId } : { sku: l.sku, quantity: l.quantity, priceCents: entries[i]!.state.priceCents };
    });
  }

  /** The line's reservation: the customer counts against a live sale's limit, and the writer checks the line's sale. */
  private reservation(placement: Placement, line: OrderLine): InventoryCommand {
    return {
      type: 'ReserveStock',
      sku: line.sku,
      orderId: placement.orderId,
      quantity: line.quantity,
      expiresAt: placement.heldUntil,
      customerId: placement.input.customerId,
      pricedInSale: line.saleId ?? null,
    };
  }

  private async release(orderId: string, lines: readonly { sku: string }[], reason: ReleaseReason, ctx: CommandContext): Promise<number> {
    const outcomes = await Promise.all(lines.map((l) => this.inventory.submit({ type: 'ReleaseReservation', sku: l.sku, orderId, reason }, ctx)));
    return outcomes.reduce((max, o) => Math.max(max, o.position), 0);
  }

  private async recordRejection(orderId: string, requestHash: string, input: PlaceOrderInput, reason: string, skus: readonly string[], ctx: CommandContext): Promise<void> {
    const command = (): OrderCommand => ({
      type: 'RejectOrder',
      orderId,
      customerId: input.customerId,
      requestHash,
      reason,
      skus,
      now: this.deps.clock.now().toISOString(),
    });
    await handleCommand(this.deps, streamName('order', orderId), orderDecider, command, ctx);
  }
}
