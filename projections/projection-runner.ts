import type { EventStore, RecordedEvent, Subscription } from '../domain/kernel/event-store';
import type { Projection } from './projection';
import type { DocumentChange, ProjectionObserver, ReadModelStore } from './ports';
import { PositionWaiters } from './position-waiters';

/** `stop`: a failing event halts the projection (the default). `skip`: it is logged, counted and passed over. */
export type PoisonPolicy = 'stop' | 'skip';

export interface ProjectionRunnerOptions {
  readonly name: string;
  readonly projections: readonly Projection[];
  readonly batchSize: number;
  readonly poisonPolicy: PoisonPolicy;
  /** How often a runner replaying towards its start-time head reports progress; default 5 s. */
  readonly progressEveryMs?: number;
}

/**
 * Keeps a set of projections up to date: a catch-up subscription on the global log from the stored checkpoint,
 * batches applied through the read-model store (checkpoint with the batch), and waiters for read-your-writes.
 */
export class ProjectionRunner {
  private subscription: Subscription | undefined;
  private current = 0;
  private startHead = 0;
  private startedAt = 0;
  private replayed = 0;
  private reportedCaughtUp = false;
  private progressReportedAt = 0;
  private failure: unknown;
  private readonly waiters = new PositionWaiters();
  private readonly changeListeners: Array<(changes: readonly DocumentChange[]) => void> = [];

  constructor(
    private readonly store: EventStore,
    private readonly target: ReadModelStore,
    private readonly observer: ProjectionObserver,
    readonly options: ProjectionRunnerOptions,
  ) {}

  get name(): string {
    return this.options.name;
  }

  /** Global position of the last event this runner has applied (or passed over as irrelevant). */
  get position(): number {
    return this.current;
  }

  get failed(): unknown {
    return this.failure;
  }

  /** True once the runner has passed the log's head as it was at start, and has not failed. */
  get ready(): boolean {
    return this.failure === undefined && this.current >= this.startHead;
  }

  onChanges(listener: (changes: readonly DocumentChange[]) => void): void {
    this.changeListeners.push(listener);
  }

  async start(): Promise<void> {
    this.failure = undefined;
    let checkpoint = await this.target.loadCheckpoint(this.name);
    this.startHead = (await this.store.headPosition()) ?? 0;
    if (checkpoint !== undefined && checkpoint > this.startHead) {
      this.observer.checkpointAheadOfLog(this.name, checkpoint, this.startHead);
      await this.target.reset(this.name, this.options.projections);
      checkpoint = undefined;
    }
    this.current = checkpoint ?? 0;
    this.startedAt = performance.now();
    this.progressReportedAt = this.startedAt;
    this.replayed = 0;
    this.reportedCaughtUp = false;
    this.checkCaughtUp();
    const subscription = this.store.subscribeToAll({ ...(checkpoint === undefined ? {} : { after: checkpoint }), batchSize: this.options.batchSize }, (batch) =>
      this.handle(batch),
    );
    this.subscription = subscription;
    subscription.done.catch((error: unknown) => {
      // a batch that failed under the 'stop' policy has already been reported by handle()
      if (this.subscription !== subscription || this.failure !== undefined) return;
      this.failure = error;
      this.observer.failed(this.name, error, undefined);
    });
  }

  async stop(): Promise<void> {
    const subscription = this.subscription;
    this.subscription = undefined;
    await subscription?.close();
    this.waiters.cancelAll();
  }

  /** Drops the documents and replays the whole log into them. */
  async rebuild(): Promise<void> {
    await this.stop();
    await this.target.reset(this.name, this.options.projections);
    await this.start();
  }

  /** Resolves true once the runner has passed `position`, or false after `timeoutMs`. */
  waitFor(position: number, timeoutMs: number): Promise<boolean> {
    if (this.current >= position) return Promise.resolve(true);
    if (this.failure !== undefined) return Promise.resolve(false);
    return this.waiters.wait(position, timeoutMs);
  }

  private async handle(batch: readonly RecordedEvent[]): Promise<void> {
    const relevant = batch.filter((e) => this.options.projections.some((p) => p.eventTypes.has(e.type)));
    const last = batch[batch.length - 1]!;
    let changes: readonly DocumentChange[];
    try {
      changes = await this.target.applyBatch(this.name, this.options.projections, relevant, last.position);
    } catch {
      changes = await this.applyOneByOne(relevant, last.position);
    }
    this.advance(last, batch.length, changes);
  }

  /**
   * The poison-event path: apply the batch event by event to find the failing ones. With `stop`, everything before
   * the failing event is kept, the runner halts there and reports that event; with `skip`, it is passed over.
   */
  private async applyOneByOne(events: readonly RecordedEvent[], lastPosition: number): Promise<DocumentChange[]> {
    const changes: DocumentChange[] = [];
    for (const event of events) {
      try {
        changes.push(...(await this.target.applyBatch(this.name, this.options.projections, [event], event.position)));
      } catch (error) {
        if (this.options.poisonPolicy === 'skip') {
          this.observer.skipped(this.name, error, event);
          continue;
        }
        const before = event.position - 1;
        if (before > this.current) this.advance({ ...event, position: before }, 0, changes);
        this.failure = error;
        this.observer.failed(this.name, error, event);
        throw error;
      }
    }
    await this.target.applyBatch(this.name, this.options.projections, [], lastPosition);
    return changes;
  }

  private advance(last: RecordedEvent, events: number, changes: readonly DocumentChange[]): void {
    this.current = last.position;
    this.replayed += events;
    this.observer.batchApplied(this.name, events, last.position, Math.max(0, (Date.now() - Date.parse(last.created)) / 1000));
    if (changes.length > 0) for (const listener of this.changeListeners) listener(changes);
    this.waiters.reached(this.current);
    this.checkCaughtUp();
  }

  private checkCaughtUp(): void {
    if (!this.reportedCaughtUp && this.replayed > 0 && this.current < this.startHead && performance.now() - this.progressReportedAt >= (this.options.progressEveryMs ?? 5000)) {
      this.progressReportedAt = performance.now();
      this.observer.catchingUp(this.name, this.current, this.startHead, this.replayed, (this.progressReportedAt - this.startedAt) / 1000);
    }
    if (this.reportedCaughtUp || this.current < this.startHead) return;
    this.reportedCaughtUp = true;
    this.observer.caughtUp(this.name, this.current, (performance.now() - this.startedAt) / 1000, this.replayed);
  }
}
