import type { Rejection } from '../../domain/kernel/decider';
import { WrongExpectedRevisionError, type EventStore, type EventToAppend, type StreamAppend } from '../../domain/kernel/event-store';
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

export type { StockFigures } from '../../domain/inventory/inventory';

export type WriterOutcome =
  | { readonly ok: true; readonly figures: StockFigures; readonly position: number; readonly appended: boolean }
  | { readonly ok: false; readonly rejection: Rejection; readonly figures: StockFigures; readonly position: number };

/** What a writer reports about itself; the composition root turns it into metrics. */
export interface WriterObserver {
  batchCommitted(sku: string, commands: number, events: number, appendMs: number): void;
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
  /** Reload-and-redecide attempts after an expected-revision conflict before giving up on a batch. */
  readonly maxConflictRetries: number;
}

export interface WriterDeps {
  readonly store: EventStore;
  readonly snapshots: SnapshotStore;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly observer: WriterObserver;
  readonly options: WriterOptions;
}

interface Pending {
  readonly command: InventoryCommand;
  readonly ctx: CommandContext;
  /** Appended in the same transaction as the command's own events, only if the command is accepted. */
  readonly alongside: StreamAppend | undefined;
  readonly resolve: (outcome: WriterOutcome) => void;
  readonly reject: (error: unknown) => void;
}


const READ_PAGE = 10_000;
const SNAPSHOT_AFTER_LOAD_OF = 100;
const MAX_TIMER_MS = 60_000;

/**
 * The single writer of one inventory stream, with group commit. While an append is in flight, arriving commands
 * queue; the next flush decides the whole queue in order against the in-memory state and appends the result as
 * one append with the expected revision. Commands are acknowledged only after that append returns (durable).
 * Refusals that need no write (sold out, duplicates) are answered from memory and never touch the store.
 */
export class InventoryWriter {
  readonly streamId: string;
  private state: InventoryState = inventoryDecider.initialState();
  private revision = -1;
  private position = 0;
  private eventsSinceSnapshot = 0;
  private loading: Promise<void> | undefined;
  private ready = false;
  private queue: Pending[] = [];
  private flushing = false;
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
    return { figures: figuresOf(this.state), position: this.position };
  }

  /**
   * Queues a command for the next group commit. With `alongside` (an order's own `OrderPlaced`), those events commit
   * in the same transaction as the command's, or neither does: a refused command appends nothing, and an `alongside`
   * whose expected revision fails is answered `already_exists` with nothing reserved.
   */
  submit(command: InventoryCommand, ctx: CommandContext, alongside?: StreamAppend): Promise<WriterOutcome> {
    if (this.stopped) return Promise.reject(new Error(`The writer for ${this.sku} is stopped`));
    if (alongside && !this.deps.store.appendToStreams) return Promise.reject(new Error('This event store cannot append to several streams in one transaction'));
    if (this.ready && !this.flushing && this.queue.length === 0) {
      const answered = this.answerFromMemory(command, alongside !== undefined);
      if (answered) return Promise.resolve(answered);
    }
    return new Promise<WriterOutcome>((resolve, reject) => {
      this.queue.push({ command, ctx, alongside, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        // setImmediate lets every request parsed in this turn of the event loop join the batch
        setImmediate(() => void this.flush());
      }
    });
  }

  stop(): void {
    this.stopped = true;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
  }

  /**
   * A reservation the durable state already refuses (sold out) or already holds (a duplicate) needs no append.
   * Only used while nothing is queued, so the answer is linearised against the state every earlier command saw.
   */
  private answerFromMemory(command: InventoryCommand, hasAlongside: boolean): WriterOutcome | undefined {
    if (command.type !== 'ReserveStock') return undefined;
    const decision = inventoryDecider.decide(command, this.state);
    // an accepted command with events to append beside it must reach the store, even if it adds none of its own
    if (decision.ok && (decision.events.length > 0 || hasAlongside)) return undefined;
    this.deps.observer.commandDecided(this.sku, command.type, decision.ok ? 'duplicate' : decision.rejection.code, true);
    return decision.ok
      ? { ok: true, figures: figuresOf(this.state), position: this.position, appended: false }
      : { ok: false, rejection: decision.rejection, figures: figuresOf(this.state), position: this.position };
  }

  private async flush(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.deps.options.maxBatch);
        try {
          await this.ensureLoaded();
          await this.commit(batch);
        } catch (error) {
          // nothing in this batch was acknowledged; reload before trusting memory again
          this.invalidate();
          for (const p of batch) p.reject(error);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private async commit(initial: Pending[]): Promise<void> {
    let batch = initial;
    for (let attempt = 0; ; ) {
      const now = this.deps.clock.now();
      let working = this.state;
      const events: EventToAppend[] = [];
      const alongside: Array<{ pending: Pending; append: StreamAppend }> = [];
      const results: Array<{ ok: true; figures: StockFigures; appended: boolean } | { ok: false; rejection: Rejection; figures: StockFigures }> = [];
      for (const p of batch) {
        const decision = inventoryDecider.decide(p.command, working);
        if (!decision.ok) {
          results.push({ ok: false, rejection: decision.rejection, figures: figuresOf(working) });
          continue;
        }
        for (const e of decision.events) {
          working = inventoryDecider.evolve(working, e as InventoryEvent);
          events.push(toEventToAppend(e, p.ctx, this.deps.ids, now));
        }
        if (p.alongside) alongside.push({ pending: p, append: p.alongside });
        results.push({ ok: true, figures: figuresOf(working), appended: decision.events.length > 0 });
      }
      const positions = new Map<Pending, number>();
      if (events.length > 0 || alongside.length > 0) {
        const started = performance.now();
        const own: StreamAppend[] = events.length > 0 ? [{ streamId: this.streamId, events, expectedRevision: this.revision < 0 ? 'no_stream' : this.revision }] : [];
        try {
          if (alongside.length === 0) {
            const result = await this.deps.store.appendToStream(this.streamId, events, own[0]!.expectedRevision);
            this.revision = result.nextExpectedRevision;
            this.position = result.position;
          } else {
            const appended = await this.deps.store.appendToStreams!([...own, ...alongside.map((a) => a.append)]);
            if (own.length > 0) {
              this.revision = appended[0]!.nextExpectedRevision;
              this.position = appended[0]!.position;
            }
            alongside.forEach((a, i) => positions.set(a.pending, appended[own.length + i]!.position));
          }
          this.state = working;
          this.eventsSinceSnapshot += events.length;
          this.deps.observer.batchCommitted(this.sku, batch.length, events.length, performance.now() - started);
        } catch (error) {
          if (!(error instanceof WrongExpectedRevisionError)) throw error;
          const beside = alongside.find((a) => a.append.streamId === error.streamId);
          if (beside) {
            // that order exists already: answer it alone, and commit the rest without it
            beside.pending.resolve({ ok: false, rejection: { code: 'already_exists', message: `${error.streamId} exists already` }, figures: figuresOf(this.state), position: this.position });
            batch = batch.filter((p) => p !== beside.pending);
            continue;
          }
          this.deps.observer.conflict(this.sku);
          if (++attempt > this.deps.options.maxConflictRetries) throw new ConcurrencyConflictError(this.streamId);
          await this.reload();
          continue;
        }
      }
      batch.forEach((p, i) => {
        const r = results[i]!;
        this.deps.observer.commandDecided(this.sku, p.command.type, r.ok ? (r.appended ? 'accepted' : 'duplicate') : r.rejection.code, false);
        p.resolve({ ...r, position: Math.max(this.position, positions.get(p) ?? 0) });
      });
      if (events.length > 0) {
        this.maybeSnapshot();
        this.noteDeadlines(events);
      }
      return;
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

  private reload(): Promise<void> {
    this.invalidate();
    return this.ensureLoaded();
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
    this.state = state;
    this.revision = revision;
    this.position = position;
    this.eventsSinceSnapshot = replayed;
    this.ready = true;
    this.deps.observer.loaded(this.sku, replayed, fromSnap);
    // a load is paid again at every start until a snapshot exists, so a long replay is saved sooner than appends are
    this.maybeSnapshot(Math.min(this.deps.options.snapshotEvery, SNAPSHOT_AFTER_LOAD_OF));
    this.rescanDeadlines();
  }

  /** A snapshot costs O(state), so it waits for at least as many events as the state has reservations: O(1) per event. */
  private maybeSnapshot(every = this.deps.options.snapshotEvery): void {
    const due = Math.max(every, this.state.reservations.size);
    if (this.eventsSinceSnapshot < due || this.revision < 0) return;
    this.eventsSinceSnapshot = 0;
    const snapshot = { streamId: this.streamId, revision: this.revision, position: this.position, schemaVersion: INVENTORY_SNAPSHOT_VERSION, state: toSnapshot(this.state) };
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
    const due = nextExpiry(this.state);
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
