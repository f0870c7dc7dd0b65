import type { EventStore, LogFilter, RecordedEvent, Subscription } from '../domain/kernel/event-store';

/** `stop`: an event the handler cannot apply halts the follower there (the default). `skip`: it is logged, counted and passed over. */
export type PoisonPolicy = 'stop' | 'skip';

/**
 * Thrown by a follower's handler for an event it can never apply (its own code fails on it, deterministically).
 * Every other error counts as transient: the batch is retried with backoff.
 */
export class PoisonEventError extends Error {
  constructor(
    readonly event: RecordedEvent,
    override readonly cause: unknown,
  ) {
    super(`Event ${event.id} (${event.type} at position ${event.position} in ${event.streamId}) cannot be applied: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'PoisonEventError';
  }
}

export type FollowerState = 'stopped' | 'running' | 'retrying' | 'halted';

export interface FollowerStatus {
  readonly name: string;
  readonly state: FollowerState;
  /** Position of the last event handled. */
  readonly position: number | undefined;
  /** Consecutive failed attempts; 0 while healthy. */
  readonly attempts: number;
  /** Epoch ms of the first failure of the current run of failures. */
  readonly failingSince: number | undefined;
  readonly lastError: string | undefined;
}

/** Where a follower reports its trouble; the composition root turns it into health, metrics and logs. */
export interface FollowerMonitor {
  /** A follower announces itself while it runs; the returned function withdraws it. */
  attach(status: () => FollowerStatus): () => void;
  retrying(name: string, error: unknown, attempt: number, delayMs: number): void;
  recovered(name: string, attempts: number, failedForMs: number): void;
  halted(name: string, error: unknown, event: RecordedEvent): void;
  skipped(name: string, error: unknown, event: RecordedEvent): void;
}

export const silentFollowerMonitor: FollowerMonitor = {
  attach: () => () => undefined,
  retrying: () => undefined,
  recovered: () => undefined,
  halted: () => undefined,
  skipped: () => undefined,
};

/** Where a follower remembers how far it has got, when it keeps that apart from what it writes. */
export interface FollowerCheckpoint {
  load(): Promise<number | undefined>;
  save(position: number): Promise<void>;
  /** Save at most this often, and at stop (default: after every batch). A crash redelivers at most this much. */
  readonly everyMs?: number;
}

export interface LogFollowerOptions {
  readonly name: string;
  /** Exclusive position to start after; omit to start at the checkpoint, or at the beginning of the log. */
  readonly after?: number | undefined;
  /** Loaded at start when `after` is not given, saved as batches are handled (a failed save retries the batch). */
  readonly checkpoint?: FollowerCheckpoint;
  readonly filter?: LogFilter;
  readonly batchSize?: number;
  readonly poisonPolicy?: PoisonPolicy;
  /** Backoff between attempts: full jitter over base × 2^attempt, capped at `maxMs`. */
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
  readonly random?: () => number;
}

export type FollowerHandler = (batch: readonly RecordedEvent[]) => Promise<void> | void;

/** Ends the store's subscription from inside its handler without being taken for a failure. */
class Halt extends Error {}

/**
 * Follows the global log for one consumer (read models, saga, deadlines, catalogue, relay). It never ends on an
 * error: a failed batch is retried with backoff until it succeeds, and a subscription the store ended is reopened
 * from the last handled position. Only a poison event under the `stop` policy halts it, visibly. While it retries or
 * is halted, its status says so to whoever watches (readiness, metrics, logs).
 */
export class LogFollower {
  private subscription: Subscription | undefined;
  private state: FollowerState = 'stopped';
  private current: number | undefined;
  private attempts = 0;
  private failingSince: number | undefined;
  private lastError: string | undefined;
  private detach: (() => void) | undefined;
  private wakeSleeper: (() => void) | undefined;
  private resubscribeTimer: NodeJS.Timeout | undefined;
  private idle: Promise<void> = Promise.resolve();
  private saved: number | undefined;
  private savedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly store: EventStore,
    private readonly options: LogFollowerOptions,
    private readonly handler: FollowerHandler,
    private readonly monitor: FollowerMonitor = silentFollowerMonitor,
  ) {
    this.current = options.after;
  }

  get name(): string {
    return this.options.name;
  }

  get position(): number | undefined {
    return this.current;
  }

  status(): FollowerStatus {
    return { name: this.name, state: this.state, position: this.current, attempts: this.attempts, failingSince: this.failingSince, lastError: this.lastError };
  }

  /** Starts after `after`, or after the stored checkpoint; resolves once following has begun. */
  async start(): Promise<void> {
    if (this.state !== 'stopped') return;
    if (this.options.after === undefined && this.options.checkpoint) this.current = this.saved = await this.options.checkpoint.load();
    this.state = 'running';
    this.detach = this.monitor.attach(() => this.status());
    this.subscribe();
  }

  async stop(): Promise<void> {
    const wasRunning = this.state !== 'stopped';
    this.state = 'stopped';
    if (this.resubscribeTimer) clearTimeout(this.resubscribeTimer);
    this.wakeSleeper?.();
    const subscription = this.subscription;
    this.subscription = undefined;
    await subscription?.close();
    await this.idle;
    if (wasRunning) this.detach?.();
    // a checkpoint lost at stop only means the next start redelivers a little, which every follower tolerates
    if (wasRunning && this.current !== undefined && this.current !== this.saved) await this.options.checkpoint?.save(this.current).catch(() => undefined);
  }

  private subscribe(): void {
    const subscription = this.store.subscribeToAll(
      {
        ...(this.current === undefined ? {} : { after: this.current }),
        ...(this.options.filter ? { filter: this.options.filter } : {}),
        ...(this.options.batchSize === undefined ? {} : { batchSize: this.options.batchSize }),
      },
      (batch) => this.handle(batch),
    );
    this.subscription = subscription;
    subscription.done.then(
      () => undefined,
      (error: unknown) => {
        if (this.subscription !== subscription || error instanceof Halt || this.state === 'stopped' || this.state === 'halted') return;
        // the store itself failed (a read, the connection): reopen from the last handled position after a backoff
        this.subscription = undefined;
        const delay = this.failed(error);
        this.resubscribeTimer = setTimeout(() => {
          if (this.state !== 'retrying' && this.state !== 'running') return;
          this.subscribe();
          // an idle log hands the new subscription no batch: a store that answers again counts as recovered
          this.store.headPosition(this.options.filter).then(
            () => this.succeeded(),
            () => undefined,
          );
        }, delay);
        this.resubscribeTimer.unref();
      },
    );
  }

  private async handle(batch: readonly RecordedEvent[]): Promise<void> {
    let done!: () => void;
    this.idle = new Promise<void>((resolve) => (done = resolve));
    try {
      const segments = [batch];
      while (segments.length > 0) {
        const events = segments.shift()!;
        if (events.length === 0) continue;
        const poison = await this.attempt(events);
        if (!poison) continue;
        const index = events.findIndex((e) => e.position === poison.event.position);
        if (index > 0) {
          // the events before it are applied first, then the poison event meets the policy on its own
          segments.unshift(events.slice(0, index), events.slice(index));
          continue;
        }
        if (index < 0 || (this.options.poisonPolicy ?? 'stop') === 'stop') {
          this.state = 'halted';
          this.failingSince ??= Date.now();
          this.attempts += 1;
          this.lastError = poison.message;
          this.monitor.halted(this.name, poison.cause, poison.event);
          throw new Halt(poison.message);
        }
        this.monitor.skipped(this.name, poison.cause, poison.event);
        this.current = poison.event.position;
        segments.unshift(events.slice(1));
      }
    } finally {
      done();
    }
  }

  /** Runs the handler on `events` until it succeeds (returns undefined) or names a poison event (returned). */
  private async attempt(events: readonly RecordedEvent[]): Promise<PoisonEventError | undefined> {
    for (;;) {
      if (this.state === 'stopped') throw new Halt('stopped');
      try {
        await this.handler(events);
        await this.checkpointAt(events[events.length - 1]!.position);
        this.current = events[events.length - 1]!.position;
        this.succeeded();
        return undefined;
      } catch (error) {
        if (error instanceof PoisonEventError) return error;
        await this.sleep(this.failed(error));
      }
    }
  }

  private async checkpointAt(position: number): Promise<void> {
    const checkpoint = this.options.checkpoint;
    if (!checkpoint || performance.now() - this.savedAt < (checkpoint.everyMs ?? 0)) return;
    await checkpoint.save(position);
    this.saved = position;
    this.savedAt = performance.now();
  }

  private failed(error: unknown): number {
    this.attempts += 1;
    this.failingSince ??= Date.now();
    this.lastError = error instanceof Error ? error.message : String(error);
    if (this.state === 'running') this.state = 'retrying';
    const base = this.options.retryBaseMs ?? 50;
    const max = this.options.retryMaxMs ?? 5000;
    const delay = Math.min(max, base * 2 ** Math.min(this.attempts - 1, 20));
    // full jitter, but never less than half: a stalled follower must not spin
    const ms = Math.round(delay / 2 + (this.options.random ?? Math.random)() * (delay / 2));
    this.monitor.retrying(this.name, error, this.attempts, ms);
    return ms;
  }

  private succeeded(): void {
    if (this.attempts === 0) return;
    this.monitor.recovered(this.name, this.attempts, Date.now() - (this.failingSince ?? Date.now()));
    this.attempts = 0;
    this.failingSince = undefined;
    this.lastError = undefined;
    if (this.state === 'retrying') this.state = 'running';
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.wakeSleeper = undefined;
        resolve();
      }, ms);
      timer.unref();
      this.wakeSleeper = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
