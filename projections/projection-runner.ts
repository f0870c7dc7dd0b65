import type { EventStore, RecordedEvent } from '../domain/kernel/event-store';
import { LogFollower, type FollowerMonitor, type PoisonPolicy } from './log-follower';
import type { Projection } from './projection';
import type { DocumentChange, ProjectionObserver, ReadModelStore } from './ports';
import { PositionWaiters } from './position-waiters';

export type { PoisonPolicy } from './log-follower';

export interface ProjectionRunnerOptions {
  readonly name: string;
  readonly projections: readonly Projection[];
  readonly batchSize: number;
  /** An event a projection cannot fold: `stop` halts the runner there (the default), `skip` passes over it. */
  readonly poisonPolicy: PoisonPolicy;
  /** How often a runner replaying towards its start-time head reports progress; default 5 s. */
  readonly progressEveryMs?: number;
  readonly monitor?: FollowerMonitor;
  readonly retryMaxMs?: number;
}

/**
 * Keeps a set of projections up to date: a log follower from the stored checkpoint (it retries a failing read-model
 * store until it answers), batches applied through the read-model store (checkpoint with the batch), and waiters
 * for read-your-writes.
 */
export class ProjectionRunner {
  private follower: LogFollower | undefined;
  private current = 0;
  private startHead = 0;
  private startedAt = 0;
  private replayed = 0;
  private reportedCaughtUp = false;
  private progressReportedAt = 0;
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

  /** Why the runner halted (a poison event under the `stop` policy), or undefined while it runs. */
  get failed(): string | undefined {
    const status = this.follower?.status();
    return status?.state === 'halted' ? status.lastError : undefined;
  }

  /** True once the runner has passed the log's head as it was at start, and has not halted. */
  get ready(): boolean {
    return this.failed === undefined && this.current >= this.startHead;
  }

  onChanges(listener: (changes: readonly DocumentChange[]) => void): void {
    this.changeListeners.push(listener);
  }

  async start(): Promise<void> {
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
    const monitor = this.options.monitor;
    this.follower = new LogFollower(
      this.store,
      {
        name: this.name,
        after: checkpoint,
        batchSize: this.options.batchSize,
        poisonPolicy: this.options.poisonPolicy,
        ...(this.options.retryMaxMs === undefined ? {} : { retryMaxMs: this.options.retryMaxMs }),
      },
      (batch) => this.handle(batch),
      {
        attach: (status) => monitor?.attach(status) ?? (() => undefined),
        retrying: (...args) => monitor?.retrying(...args),
        recovered: (...args) => monitor?.recovered(...args),
        // the projection observer logs and counts these under the runner's own metrics
        halted: (name, error, event) => {
          this.waiters.cancelAll();
          this.observer.failed(name, error, event);
        },
        skipped: (name, error, event) => this.observer.skipped(name, error, event),
      },
    );
    await this.follower.start();
  }

  async stop(): Promise<void> {
    const follower = this.follower;
    this.follower = undefined;
    await follower?.stop();
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
    if (this.failed !== undefined) return Promise.resolve(false);
    return this.waiters.wait(position, timeoutMs);
  }

  private async handle(batch: readonly RecordedEvent[]): Promise<void> {
    const relevant = batch.filter((e) => this.options.projections.some((p) => p.eventTypes.has(e.type)));
    const last = batch[batch.length - 1]!;
    const changes = await this.target.applyBatch(this.name, this.options.projections, relevant, last.position);
    this.advance(last, batch.length, changes);
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
