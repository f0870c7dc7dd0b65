import type { Rejection } from '../../domain/kernel/decider';
import { WrongExpectedRevisionError, type AppendResult, type EventPrecondition, type EventStore, type EventToAppend, type StreamAppend } from '../../domain/kernel/event-store';
import { streamName } from '../../domain/kernel/streams';
import {
  figuresOf,
  fromSnapshot,
  INVENTORY_SNAPSHOT_VERSION,
  InventorySnapshotSchema,
  readableSnapshotVersions,
  inventoryDecider,
  nextExpiry,
  toSnapshot,
  type InventoryCommand,
  type InventoryEvent,
  type InventoryState,
  type StockFigures,
} from '../../domain/inventory/inventory';
import { ConcurrencyConflictError } from '../errors';
import { toEventToAppend, type CommandContext } from '../metadata';
import type { Clock, IdGenerator, SnapshotStore } from '../ports';
import { isSampled, recordFailure, startSpan, tracedAppend, type Link, type Span, type Tracer } from '../tracing';

export type { StockFigures } from '../../domain/inventory/inventory';

export type WriterOutcome =
  | { readonly ok: true; readonly figures: StockFigures; readonly position: number; readonly appended: boolean }
  | { readonly ok: false; readonly rejection: Rejection; readonly figures: StockFigures; readonly position: number };

/** What a writer reports about itself; the composition root turns it into metrics. */
export interface WriterObserver {
  /** A group commit became durable; `stock` is the SKU's figures after it. */
  batchCommitted(sku: string, commands: number, events: number, appendMs: number, stock: StockFigures): void;
  commandDecided(sku: string, command: InventoryCommand['type'], outcome: string, fromMemory: boolean): void;
  conflict(sku: string): void;
  loaded(sku: string, eventsReplayed: number, fromSnapshot: boolean): void;
  snapshotFailed(sku: string, error: unknown): void;
}

export interface WriterOptions {
  /** Most commands decided into one append. */
  readonly maxBatch: number;
  /** Save a snapshot after this many events since the last one. */
  readonly snapshotEvery: number;
  /** Reload-and-redecide attempts after an expected-revision conflict before giving up on a command. */
  readonly maxConflictRetries: number;
  /** Batches sent to the store and not yet durable (1: no pipelining). Default 2: batch N+1 is decided and sent while N commits. */
  readonly pipelineDepth?: number;
}

export interface WriterDeps {
  readonly store: EventStore;
  readonly snapshots: SnapshotStore;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly observer: WriterObserver;
  readonly options: WriterOptions;
  /** Present only when tracing is on. */
  readonly tracer?: Tracer | undefined;
}

export interface SubmitOptions {
  /** Appended in the same transaction as the command's own events, only if the command is accepted. */
  readonly alongside?: StreamAppend;
  /**
   * Called as soon as the command is decided and its first event is on its way to the store (before it is durable),
   * with where that event will be: an append may then require it (`EventPrecondition`) and share its commit.
   */
  readonly onSent?: (event: EventPrecondition) => void;
}

interface Pending {
  readonly command: InventoryCommand;
  readonly ctx: CommandContext;
  readonly options: SubmitOptions;
  readonly resolve: (outcome: WriterOutcome) => void;
  readonly reject: (error: unknown) => void;
  /** Expected-revision conflicts with another writer of this stream met so far. */
  conflicts: number;
  /** The command's own span, when its caller's trace is sampled; ended when the command is answered. */
  readonly span?: Span | undefined;
}

type Decided = { ok: true; figures: StockFigures; appended: boolean } | { ok: false; rejection: Rejection; figures: StockFigures };

/** One batch sent to the store: decided against the state after every batch sent before it. */
interface SentBatch {
  readonly pendings: readonly Pending[];
  readonly decided: readonly Decided[];
  readonly events: readonly EventToAppend[];
  readonly alongside: ReadonlyArray<{ readonly pending: Pending; readonly append: StreamAppend }>;
  /** The stream's state and revision once this batch is durable. */
  readonly after: { readonly state: InventoryState; readonly revision: number };
  readonly startedAt: number;
  /** The group commit's span: a root of its own, linked to the span of every command it carries. */
  readonly span?: Span | undefined;
  settled?: { readonly ok: true; readonly results: readonly AppendResult[] | undefined } | { readonly ok: false; readonly error: unknown };
}

const READ_PAGE = 10_000;
const SNAPSHOT_AFTER_LOAD_OF = 100;
const MAX_TIMER_MS = 60_000;

/**
 * The single writer of one inventory stream, with pipelined group commit. Arriving commands queue; a batch is decided
 * in order against the state after every batch already sent, and appended with the expected revision that state
 * implies, while the batch before it may still be committing. Each batch's expected revision is the revision its
 * predecessor produces, so a batch can only become durable on top of its predecessor: if one fails, every batch sent
 * after it fails its check too, and those are decided again. Commands are answered only when their batch is durable,
 * in order, so no answer (not even a refusal) rests on a batch that did not commit. While nothing is queued or in
 * flight, refusals that need no write (sold out, duplicates) are answered from memory and never touch the store.
 */
export class InventoryWriter {
  readonly streamId: string;
  /** What the store holds: the state after the last durable batch. */
  private durable: { state: InventoryState; revision: number; position: number } = { state: inventoryDecider.initialState(), revision: -1, position: 0 };
  /** What the next batch is decided against: the durable state plus every batch in flight. */
  private ahead: { state: InventoryState; revision: number } = { state: inventoryDecider.initialState(), revision: -1 };
  private eventsSinceSnapshot = 0;
  private loading: Promise<void> | undefined;
  private ready = false;
  private queue: Pending[] = [];
  private readonly inFlight: SentBatch[] = [];
  /** A batch in flight failed: those after it are doomed; nothing new is sent until they have all come back. */
  private broken = false;
  private reloadWhenDrained = false;
  private retry: Pending[] = [];
  private scheduled = false;
  private pumping = false;
  private expiryTimer: NodeJS.Timeout | undefined;
  private expiryDue: number | undefined;
  private stopped = false;

  constructor(
    readonly sku: string,
    private readonly deps: WriterDeps,
  ) {
    this.streamId = streamName('inventory', sku);
  }

  /** Current durable figures (loads the stream first if needed). */
  async figures(): Promise<{ figures: StockFigures; position: number }> {
    await this.ensureLoaded();
    return { figures: figuresOf(this.durable.state), position: this.durable.position };
  }

  /**
   * Queues a command for the next batch. With `alongside` (an order's own `OrderPlaced`), those events commit in the
   * same transaction as the command's, or neither does: a refused command appends nothing, and an `alongside` whose
   * expected revision fails is answered `already_exists` with nothing reserved.
   */
  submit(command: InventoryCommand, ctx: CommandContext, options: SubmitOptions = {}): Promise<WriterOutcome> {
    if (this.stopped) return Promise.reject(new Error(`The writer for ${this.sku} is stopped`));
    // a sale's window is judged by the clock of the writer that decides the SKU's stock
    if (command.type === 'ReserveStock' && command.at === undefined) command = { ...command, at: this.deps.clock.now().toISOString() };
    if (options.alongside && !this.deps.store.appendToStreams) return Promise.reject(new Error('This event store cannot append to several streams in one transaction'));
    const tracer = this.deps.tracer;
    const span = tracer && isSampled(ctx.span) ? startSpan(tracer, 'crest.inventory.command', ctx.span, { 'crest.sku': this.sku, 'crest.command': command.type }) : undefined;
    // the command's events carry its own span
    if (span) ctx = { ...ctx, span: span.spanContext() };
    if (this.idle()) {
      const answered = this.answerFromMemory(command, options.alongside !== undefined);
      if (answered) {
        if (span) endCommandSpan(span, answered, true);
        return Promise.resolve(answered);
      }
    }
    return new Promise<WriterOutcome>((resolve, reject) => {
      this.queue.push(span ? tracedPending(command, ctx, options, resolve, reject, span) : { command, ctx, options, resolve, reject, conflicts: 0 });
      this.schedule();
    });
  }

  stop(): void {
    this.stopped = true;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
  }

  private idle(): boolean {
    return this.ready && !this.scheduled && !this.pumping && this.queue.length === 0 && this.inFlight.length === 0;
  }

  /**
   * A reservation the durable state already refuses (sold out) or already holds (a duplicate) needs no append.
   * Only used while nothing is queued or in flight, so the answer is linearised against the state every earlier
   * command saw, and that state is durable.
   */
  private answerFromMemory(command: InventoryCommand, hasAlongside: boolean): WriterOutcome | undefined {
    if (command.type !== 'ReserveStock') return undefined;
    const { state, position } = this.durable;
    const decision = inventoryDecider.decide(command, state);
    // an accepted command with events to append beside it must reach the store, even if it adds none of its own
    if (decision.ok && (decision.events.length > 0 || hasAlongside)) return undefined;
    this.deps.observer.commandDecided(this.sku, command.type, decision.ok ? 'duplicate' : decision.rejection.code, true);
    return decision.ok ? { ok: true, figures: figuresOf(state), position, appended: false } : { ok: false, rejection: decision.rejection, figures: figuresOf(state), position };
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate lets every request parsed in this turn of the event loop join the batch
    setImmediate(() => {
      this.scheduled = false;
      void this.pump();
    });
  }

  /** Sends batches while there is room in the pipeline; loads (or reloads) the stream only when nothing is in flight. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      const depth = Math.max(1, this.deps.options.pipelineDepth ?? 2);
      while (this.queue.length > 0 && !this.broken && this.inFlight.length < depth) {
        if (!this.ready) {
          if (this.inFlight.length > 0) return;
          try {
            await this.ensureLoaded();
          } catch (error) {
            for (const p of this.queue.splice(0, this.deps.options.maxBatch)) p.reject(error);
            continue;
          }
          if (this.broken || this.inFlight.length > 0) return;
        }
        this.send(this.queue.splice(0, this.deps.options.maxBatch));
      }
    } finally {
      this.pumping = false;
    }
  }

  private send(pendings: Pending[]): void {
    const now = this.deps.clock.now();
    const from = this.ahead;
    let working = from.state;
    const events: EventToAppend[] = [];
    const alongside: Array<{ pending: Pending; append: StreamAppend }> = [];
    const decided: Decided[] = [];
    const sent: Array<{ pending: Pending; at: EventPrecondition }> = [];
    for (const p of pendings) {
      const decision = inventoryDecider.decide(p.command, working);
      if (!decision.ok) {
        decided.push({ ok: false, rejection: decision.rejection, figures: figuresOf(working) });
        continue;
      }
      for (const [i, e] of decision.events.entries()) {
        working = inventoryDecider.evolve(working, e as InventoryEvent);
        const event = toEventToAppend(e, p.ctx, this.deps.ids, now);
        if (i === 0 && p.options.onSent) sent.push({ pending: p, at: { streamId: this.streamId, revision: from.revision + events.length + 1, eventId: event.id } });
        events.push(event);
      }
      if (p.options.alongside) alongside.push({ pending: p, append: p.options.alongside });
      decided.push({ ok: true, figures: figuresOf(working), appended: decision.events.length > 0 });
    }
    const span = this.deps.tracer ? this.groupCommitSpan(this.deps.tracer, pendings, events.length, alongside.length) : undefined;
    const batch: SentBatch = { pendings, decided, events, alongside, after: { state: working, revision: from.revision + events.length }, startedAt: performance.now(), span };
    this.ahead = batch.after;
    this.inFlight.push(batch);
    let appending: Promise<readonly AppendResult[] | undefined>;
    if (events.length === 0 && alongside.length === 0) {
      appending = Promise.resolve(undefined);
    } else {
      // the writer's own stream is always checked, even with no events of its own: that check is what chains this
      // batch to the one before it
      const own: StreamAppend = { streamId: this.streamId, events, expectedRevision: from.revision < 0 ? 'no_stream' : from.revision };
      const append = () =>
        alongside.length === 0 ? this.deps.store.appendToStream(this.streamId, events, own.expectedRevision).then((r) => [r]) : this.deps.store.appendToStreams!([own, ...alongside.map((a) => a.append)]);
      appending = span ? tracedAppend(this.deps.tracer, span.spanContext(), [this.streamId, ...alongside.map((a) => a.append.streamId)], events.length + alongside.length, append) : append();
    }
    for (const { pending, at } of sent) pending.options.onSent!(at);
    appending.then(
      (results) => this.settle(batch, { ok: true, results }),
      (error: unknown) => this.settle(batch, { ok: false, error }),
    );
  }

  /**
   * The group commit's span, when it carries a command whose trace is sampled: a root of its own that links to the
   * span of each command it carries (each of those links back to it), as it belongs to no one request.
   */
  private groupCommitSpan(tracer: Tracer, pendings: readonly Pending[], events: number, alongside: number): Span | undefined {
    let links: Link[] | undefined;
    for (const p of pendings) if (p.span) (links ??= []).push({ context: p.span.spanContext() });
    if (!links) return undefined;
    const span = startSpan(
      tracer,
      'crest.inventory.group_commit',
      undefined,
      { 'crest.sku': this.sku, 'crest.batch.commands': pendings.length, 'crest.batch.events': events, 'crest.batch.alongside': alongside, 'crest.batch.in_flight': this.inFlight.length },
      undefined,
      links,
    );
    const back = { context: span.spanContext() };
    for (const p of pendings) p.span?.addLink(back);
    return span;
  }

  /** Batches come back in the order they were sent (answers included), whatever order the store answers in. */
  private settle(batch: SentBatch, settled: NonNullable<SentBatch['settled']>): void {
    batch.settled = settled;
    if (batch.span) {
      if (settled.ok) batch.span.setAttribute('crest.position', settled.results?.[0]?.position ?? this.durable.position);
      else recordFailure(batch.span, settled.error);
      batch.span.end();
    }
    while (this.inFlight.length > 0 && this.inFlight[0]!.settled) this.finish(this.inFlight.shift()!);
    if (this.inFlight.length === 0 && this.broken) {
      this.broken = false;
      this.queue = [...this.retry, ...this.queue];
      this.retry = [];
      if (this.reloadWhenDrained) {
        this.reloadWhenDrained = false;
        this.invalidate();
      } else {
        this.ahead = { state: this.durable.state, revision: this.durable.revision };
      }
    }
    if (this.queue.length > 0) this.schedule();
  }

  private finish(batch: SentBatch): void {
    const settled = batch.settled!;
    if (settled.ok) {
      if (this.broken && settled.results === undefined) {
        // decided against a batch that did not commit: decide it again
        this.retry.push(...batch.pendings);
        return;
      }
      // (a batch that committed after one before it failed cannot happen: it was chained to that one's revision)
      this.committed(batch, settled.results);
      return;
    }
    const { error } = settled;
    if (this.broken) {
      // doomed by the batch before it, which did not commit
      if (error instanceof WrongExpectedRevisionError && error.streamId === this.streamId) this.retry.push(...batch.pendings);
      else this.fail(batch.pendings, error);
      return;
    }
    this.broken = true;
    if (error instanceof WrongExpectedRevisionError) {
      const beside = batch.alongside.find((a) => a.append.streamId === error.streamId);
      if (beside) {
        // that order exists already: answer it alone, and decide the rest again without it
        beside.pending.resolve({ ok: false, rejection: { code: 'already_exists', message: `${error.streamId} exists already` }, figures: figuresOf(this.durable.state), position: this.durable.position });
        this.retry.push(...batch.pendings.filter((p) => p !== beside.pending));
        return;
      }
      // another process appended to this stream: reload, then decide again
      this.deps.observer.conflict(this.sku);
      this.reloadWhenDrained = true;
      for (const p of batch.pendings) {
        if (++p.conflicts > this.deps.options.maxConflictRetries) p.reject(new ConcurrencyConflictError(this.streamId));
        else this.retry.push(p);
      }
      return;
    }
    this.fail(batch.pendings, error);
  }

  /** Nothing of these was acknowledged; memory is not trusted again until reloaded. */
  private fail(pendings: readonly Pending[], error: unknown): void {
    this.broken = true;
    this.reloadWhenDrained = true;
    for (const p of pendings) p.reject(error);
  }

  private committed(batch: SentBatch, results: readonly AppendResult[] | undefined): void {
    const positions = new Map<Pending, number>();
    if (results) {
      this.durable = { state: batch.after.state, revision: results[0]!.nextExpectedRevision, position: results[0]!.position };
      batch.alongside.forEach((a, i) => positions.set(a.pending, results[1 + i]!.position));
      this.eventsSinceSnapshot += batch.events.length;
      this.deps.observer.batchCommitted(this.sku, batch.pendings.length, batch.events.length, performance.now() - batch.startedAt, figuresOf(batch.after.state));
    }
    batch.pendings.forEach((p, i) => {
      const d = batch.decided[i]!;
      this.deps.observer.commandDecided(this.sku, p.command.type, d.ok ? (d.appended ? 'accepted' : 'duplicate') : d.rejection.code, false);
      p.resolve({ ...d, position: Math.max(this.durable.position, positions.get(p) ?? 0) });
    });
    if (batch.events.length > 0) {
      this.maybeSnapshot();
      this.noteDeadlines(batch.events);
    }
  }

  private ensureLoaded(): Promise<void> {
    if (!this.loading) {
      this.loading = this.load();
      this.loading.catch(() => (this.loading = undefined));
    }
    return this.loading;
  }

  private invalidate(): void {
    this.ready = false;
    this.loading = undefined;
  }

  private async load(): Promise<void> {
    let state = inventoryDecider.initialState();
    let revision = -1;
    let position = 0;
    let fromSnap = false;
    const snapshot = await this.deps.snapshots.load(this.streamId);
    if (snapshot && readableSnapshotVersions.includes(snapshot.schemaVersion)) {
      const parsed = InventorySnapshotSchema.safeParse(snapshot.state);
      if (parsed.success) {
        state = fromSnapshot(parsed.data);
        revision = snapshot.revision;
        position = snapshot.position;
        fromSnap = true;
      }
    }
    let replayed = 0;
    for (;;) {
      const page = await this.deps.store.readStream(this.streamId, { fromRevision: revision + 1, maxCount: READ_PAGE });
      for (const e of page) {
        state = inventoryDecider.evolve(state, { type: e.type, data: e.data } as InventoryEvent);
        revision = e.revision;
        position = e.position;
      }
      replayed += page.length;
      if (page.length < READ_PAGE) break;
    }
    this.durable = { state, revision, position };
    this.ahead = { state, revision };
    this.eventsSinceSnapshot = replayed;
    this.ready = true;
    this.deps.observer.loaded(this.sku, replayed, fromSnap);
    // a load is paid again at every start until a snapshot exists, so a long replay is saved sooner than appends are
    this.maybeSnapshot(Math.min(this.deps.options.snapshotEvery, SNAPSHOT_AFTER_LOAD_OF));
    this.rescanDeadlines();
  }

  /** A snapshot costs O(state), so it waits for at least as many events as the state has reservations: O(1) per event. */
  private maybeSnapshot(every = this.deps.options.snapshotEvery): void {
    const { state, revision, position } = this.durable;
    const due = Math.max(every, state.reservations.size);
    if (this.eventsSinceSnapshot < due || revision < 0) return;
    this.eventsSinceSnapshot = 0;
    const snapshot = { streamId: this.streamId, revision, position, schemaVersion: INVENTORY_SNAPSHOT_VERSION, state: toSnapshot(state) };
    this.deps.snapshots.save(snapshot).catch((error: unknown) => this.deps.observer.snapshotFailed(this.sku, error));
  }

  /**
   * One timer per writer, at the earliest reservation deadline: the writer releases what its own state says is due.
   * New reservations can only bring the deadline forward, so a batch checks just its own events; the full scan
   * happens only when the timer fires. A timer that fires early (its reservation was settled) finds nothing due.
   */
  private noteDeadlines(events: readonly EventToAppend[]): void {
    for (const e of events) {
      if (e.type !== 'StockReserved') continue;
      const due = Date.parse((e.data as { expiresAt: string }).expiresAt);
      if (this.expiryDue === undefined || due < this.expiryDue) this.armExpiry(due);
    }
  }

  private rescanDeadlines(): void {
    const due = nextExpiry(this.durable.state);
    if (due === undefined) this.disarmExpiry();
    else this.armExpiry(Date.parse(due));
  }

  private disarmExpiry(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    this.expiryDue = undefined;
  }

  private armExpiry(due: number): void {
    this.disarmExpiry();
    if (this.stopped) return;
    this.expiryDue = due;
    const delay = Math.min(Math.max(0, due - this.deps.clock.now().getTime()), MAX_TIMER_MS);
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = undefined;
      if (this.deps.clock.now().getTime() < due && delay === MAX_TIMER_MS) return this.armExpiry(due);
      const now = this.deps.clock.now().toISOString();
      const ctx = { commandId: `expire:${this.sku}:${now}`, correlationId: `expire:${this.sku}` };
      this.submit({ type: 'ExpireReservations', sku: this.sku, now }, ctx).then(
        () => this.rescanDeadlines(),
        () => this.rescanDeadlines(),
      );
    }, delay);
    this.expiryTimer.unref();
  }
}

const endCommandSpan = (span: Span, outcome: WriterOutcome, fromMemory: boolean): void => {
  span.setAttributes({ 'crest.outcome': outcome.ok ? (outcome.appended ? 'accepted' : 'duplicate') : outcome.rejection.code, 'crest.position': outcome.position, 'crest.from_memory': fromMemory });
  span.end();
};

/** A queued command whose answer, or failure, also ends its span. */
const tracedPending = (command: InventoryCommand, ctx: CommandContext, options: SubmitOptions, resolve: (o: WriterOutcome) => void, reject: (e: unknown) => void, span: Span): Pending => ({
  command,
  ctx,
  options,
  conflicts: 0,
  span,
  resolve: (outcome) => {
    endCommandSpan(span, outcome, false);
    resolve(outcome);
  },
  reject: (error) => {
    recordFailure(span, error);
    span.end();
    reject(error);
  },
});
