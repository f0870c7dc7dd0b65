import type { EventStore } from '../domain/kernel/event-store';
import { ProjectionRunner, type ProjectionRunnerOptions } from './projection-runner';
import { nextGeneration, type DocumentChange, type ProjectionObserver, type ReadModelGeneration, type ReadModelGenerations, type ReadModelStore } from './ports';

export type RebuildState = 'building' | 'caught_up' | 'switched' | 'cancelled' | 'failed';

/** Where a blue/green rebuild stands: what the admin API answers and the CLI prints. */
export interface RebuildStatus {
  /** The generation being built (green). */
  readonly generation: string;
  /** Where it lives: a database, a file, or memory. */
  readonly target: string;
  /** The generation readers use until the switch (blue). */
  readonly replacing: string;
  /** Where it lives, and whether it stays there after the switch until an operator drops it. */
  readonly replacingTarget: string;
  readonly replacingKept: boolean;
  readonly state: RebuildState;
  readonly position: number;
  readonly head: number;
  /** Events replayed since this run of the rebuild started (a resumed rebuild counts from where it resumed). */
  readonly events: number;
  readonly eventsPerSecond: number;
  /** Seconds left at the current rate; undefined before there is a rate. */
  readonly etaSeconds: number | undefined;
  readonly switchWhenCaughtUp: boolean;
  readonly error: string | undefined;
}

/** What a rebuild reports; the composition root turns it into logs and metrics. */
export interface RebuildObserver {
  started(status: RebuildStatus, resumed: boolean): void;
  /** While building, every few seconds. */
  progressed(status: RebuildStatus): void;
  caughtUp(status: RebuildStatus): void;
  switched(status: RebuildStatus): void;
  cancelled(status: RebuildStatus): void;
  failed(status: RebuildStatus): void;
}

/** A switch was asked for before the new generation caught up, or with no rebuild. */
export class RebuildNotReadyError extends Error {
  readonly code = 'rebuild_not_ready';
  constructor(readonly status: RebuildStatus | undefined) {
    super(status ? `generation ${status.generation} is ${status.state.replace('_', ' ')}, at position ${status.position} of ${status.head}: it can switch once caught up` : 'no rebuild is running');
    this.name = 'RebuildNotReadyError';
  }
}

/** The generation store could not be reached to start, resume or switch a rebuild; asking again retries. */
export class RebuildUnavailableError extends Error {
  readonly code = 'unavailable';
  constructor(what: string, cause: unknown) {
    super(`${what}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'RebuildUnavailableError';
  }
}

export interface BlueGreenOptions {
  /** How the runner of every generation is configured; its name is the checkpoint each generation keeps. */
  readonly runner: ProjectionRunnerOptions;
  /** How long a retired generation keeps following after the switch, for readers that still use it (other API nodes). */
  readonly drainMs: number;
  /** How often a rebuild's progress is sampled; reported to the observer every `progressEveryMs`. */
  readonly sampleMs?: number;
  readonly progressEveryMs?: number;
}

interface Live<M extends ReadModelStore> {
  readonly generation: ReadModelGeneration<M>;
  readonly runner: ProjectionRunner;
}

interface Green<M extends ReadModelStore> extends Live<M> {
  readonly replacing: string;
  state: RebuildState;
  switchWhenCaughtUp: boolean;
  head: number;
  readonly startedAt: number;
  /** When it stopped building (caught up, cancelled, failed): the rate is over the building time only. */
  stoppedAt: number | undefined;
  readonly startPosition: number;
  error: string | undefined;
  switching: Promise<void> | undefined;
}

/**
 * The read models a process projects into and serves from, with blue/green rebuilds: a new generation is built beside
 * the live one by its own runner, and once it has caught up readers move to it in one synchronous step, when it has
 * reached at least the position the live one had. Nothing a reader has seen goes back, and read-your-writes waits that
 * were pending on the retired generation carry over.
 */
export class BlueGreenReadModels<M extends ReadModelStore> {
  private live: Live<M> | undefined;
  private green: Green<M> | undefined;
  private sampler: NodeJS.Timeout | undefined;
  private reportedAt = 0;
  private readonly listeners: Array<(changes: readonly DocumentChange[]) => void> = [];
  private readonly switchListeners: Array<(generation: string) => void> = [];
  private readonly draining = new Set<Promise<void>>();

  constructor(
    private readonly store: EventStore,
    private readonly generations: ReadModelGenerations<M>,
    private readonly projectionObserver: ProjectionObserver,
    private readonly observer: RebuildObserver,
    private readonly options: BlueGreenOptions,
  ) {}

  /** The live generation's models: what readers query. */
  get models(): M {
    return this.current().generation.models;
  }

  get generation(): string {
    return this.current().generation.name;
  }

  /** Where the live generation lives: a database, a file, or memory. */
  get target(): string {
    return this.generations.describe(this.generation);
  }

  /** The live generation's runner. */
  get runner(): ProjectionRunner {
    return this.current().runner;
  }

  /** How far the live generation has got, for read-your-writes; a wait on a retired generation carries over. */
  readonly progress = {
    position: (): number => this.runner.position,
    ready: (): boolean => this.runner.ready,
    waitFor: async (position: number, timeoutMs: number): Promise<boolean> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const runner = this.runner;
        const reached = await runner.waitFor(position, Math.max(0, deadline - Date.now()));
        // a retired generation keeps following for a while: what counts is the one readers query now
        if (runner === this.runner) return reached;
        if (Date.now() >= deadline) return this.runner.position >= position;
      }
    },
  };

  /** Changes of the live generation only: a generation being built changes nothing readers see. */
  onChanges(listener: (changes: readonly DocumentChange[]) => void): void {
    this.listeners.push(listener);
  }

  onSwitch(listener: (generation: string) => void): void {
    this.switchListeners.push(listener);
  }

  /** Opens the active generation and follows the log into it from its checkpoint. */
  async start(): Promise<void> {
    const pointer = await this.generations.pointer();
    const generation = await this.generations.open(pointer.active);
    const live = this.runnerFor(generation);
    this.live = live;
    await live.runner.start();
  }

  async stop(): Promise<void> {
    if (this.green) await this.pause(this.green, 'cancelled');
    await this.drained();
    const live = this.live;
    this.live = undefined;
    await live?.runner.stop();
    await live?.generation.close();
  }

  /**
   * Starts building a new generation beside the live one, or resumes the one a cancelled or interrupted rebuild left
   * (from its own checkpoint). Asking again while one runs changes nothing, except that `switchWhenCaughtUp` can be set.
   */
  async rebuild(switchWhenCaughtUp: boolean): Promise<RebuildStatus> {
    const running = this.green;
    if (running && (running.state === 'building' || running.state === 'caught_up')) {
      if (switchWhenCaughtUp && !running.switchWhenCaughtUp) {
        running.switchWhenCaughtUp = true;
        this.sample();
      }
      return this.statusOf(running);
    }
    return this.begin(running, switchWhenCaughtUp).catch((error: unknown) => {
      throw error instanceof RebuildUnavailableError ? error : new RebuildUnavailableError('could not start the rebuild', error);
    });
  }

  private async begin(running: Green<M> | undefined, switchWhenCaughtUp: boolean): Promise<RebuildStatus> {
    const pointer = await this.generations.pointer();
    const name = pointer.building ?? nextGeneration(pointer.active);
    await this.generations.markBuilding(name);
    const reuse = running !== undefined && running.state !== 'switched' && running.generation.name === name;
    if (running && !reuse && running.state !== 'switched') await running.generation.close();
    const generation = reuse ? running.generation : await this.generations.open(name);
    const { runner } = this.runnerFor(generation);
    const checkpoint = (await generation.models.loadCheckpoint(this.options.runner.name)) ?? 0;
    const green: Green<M> = {
      generation,
      runner,
      replacing: this.generation,
      state: 'building',
      switchWhenCaughtUp,
      head: (await this.store.headPosition()) ?? 0,
      startedAt: performance.now(),
      stoppedAt: undefined,
      startPosition: checkpoint,
      error: undefined,
      switching: undefined,
    };
    this.green = green;
    await runner.start();
    this.reportedAt = performance.now();
    this.observer.started(this.statusOf(green), checkpoint > 0);
    this.sampler ??= setInterval(() => this.sample(), this.options.sampleMs ?? 250);
    this.sampler.unref();
    this.sample();
    return this.statusOf(green);
  }

  /** The rebuild running or last run, if any. */
  status(): RebuildStatus | undefined {
    return this.green && this.statusOf(this.green);
  }

  /** Resolves once every retired generation has stopped following and been closed. */
  async drained(): Promise<void> {
    await Promise.all([...this.draining]);
  }

  /** Stops the rebuild; its generation keeps its documents and checkpoint, and the next `rebuild` resumes it. */
  async cancel(): Promise<RebuildStatus | undefined> {
    const green = this.green;
    if (!green || (green.state !== 'building' && green.state !== 'caught_up')) return this.status();
    await this.pause(green, 'cancelled');
    this.observer.cancelled(this.statusOf(green));
    return this.statusOf(green);
  }

  /** Moves readers to the rebuilt generation; refused until it has caught up. */
  async switchOver(): Promise<RebuildStatus> {
    const green = this.green;
    if (!green || (green.state !== 'caught_up' && green.state !== 'switched')) throw new RebuildNotReadyError(this.status());
    await this.startSwitch(green);
    if (green.error !== undefined && green.state !== 'switched') throw new RebuildUnavailableError('the switch did not happen; ask again', green.error);
    return this.statusOf(green);
  }

  private startSwitch(green: Green<M>): Promise<void> {
    green.switching ??= this.switchTo(green).then(
      () => {
        green.error = undefined;
      },
      (error: unknown) => {
        green.switching = undefined;
        green.error = error instanceof Error ? error.message : String(error);
      },
    );
    return green.switching;
  }

  private async switchTo(green: Green<M>): Promise<void> {
    const blue = this.current();
    // durable first: if the pointer cannot be written, readers stay where they are and the switch can be asked again
    await this.generations.activate(green.generation.name);
    while (green.runner.position < blue.runner.position) {
      if (green.runner.failed !== undefined) throw new Error(green.runner.failed);
      await green.runner.waitFor(blue.runner.position, 1000);
    }
    // one synchronous step: a reader that saw position p from blue reads green at p or later
    this.live = green;
    green.state = 'switched';
    this.stopSampling();
    for (const listener of this.switchListeners) listener(green.generation.name);
    this.observer.switched(this.statusOf(green));
    const drained = (async () => {
      await new Promise<void>((resolve) => setTimeout(resolve, this.options.drainMs).unref());
      await blue.runner.stop();
      await blue.generation.close();
    })();
    this.draining.add(drained);
    void drained.finally(() => this.draining.delete(drained));
  }

  private sample(): void {
    const green = this.green;
    if (!green || (green.state !== 'building' && green.state !== 'caught_up')) return;
    if (green.runner.failed !== undefined) {
      green.error = green.runner.failed;
      void this.pause(green, 'failed').then(() => this.observer.failed(this.statusOf(green)));
      return;
    }
    void this.store.headPosition().then(
      (head) => {
        green.head = Math.max(green.head, head ?? 0);
      },
      () => undefined,
    );
    if (green.state === 'building' && green.runner.ready) {
      green.state = 'caught_up';
      green.stoppedAt = performance.now();
      this.observer.caughtUp(this.statusOf(green));
    } else if (green.state === 'building' && performance.now() - this.reportedAt >= (this.options.progressEveryMs ?? 5000)) {
      this.reportedAt = performance.now();
      this.observer.progressed(this.statusOf(green));
    }
    if (green.state === 'caught_up' && green.switchWhenCaughtUp && !green.switching) void this.startSwitch(green);
  }

  private async pause(green: Green<M>, state: 'cancelled' | 'failed'): Promise<void> {
    green.state = state;
    green.stoppedAt ??= performance.now();
    this.stopSampling();
    await green.runner.stop();
  }

  private stopSampling(): void {
    if (this.sampler) clearInterval(this.sampler);
    this.sampler = undefined;
  }

  private statusOf(green: Green<M>): RebuildStatus {
    const events = Math.max(0, green.runner.position - green.startPosition);
    const seconds = ((green.stoppedAt ?? performance.now()) - green.startedAt) / 1000;
    const rate = seconds > 0 ? events / seconds : 0;
    const left = Math.max(0, green.head - green.runner.position);
    return {
      generation: green.generation.name,
      target: this.generations.describe(green.generation.name),
      replacing: green.replacing,
      replacingTarget: this.generations.describe(green.replacing),
      replacingKept: this.generations.keepsRetired,
      state: green.state,
      position: green.runner.position,
      head: Math.max(green.head, green.runner.position),
      events,
      eventsPerSecond: Math.round(rate),
      etaSeconds: left === 0 ? 0 : rate > 0 ? Math.ceil(left / rate) : undefined,
      switchWhenCaughtUp: green.switchWhenCaughtUp,
      error: green.error,
    };
  }

  private current(): Live<M> {
    if (!this.live) throw new Error('the read models have not started');
    return this.live;
  }

  /** A runner whose changes and metrics count only while its generation is the live one. */
  private runnerFor(generation: ReadModelGeneration<M>): Live<M> {
    const forward = this.projectionObserver;
    const isLive = (): boolean => this.live?.runner === runner;
    const observer: ProjectionObserver = {
      batchApplied: (...args) => (isLive() ? forward.batchApplied(...args) : undefined),
      caughtUp: (...args) => (isLive() ? forward.caughtUp(...args) : undefined),
      catchingUp: (...args) => (isLive() ? forward.catchingUp(...args) : undefined),
      failed: (...args) => forward.failed(...args),
      skipped: (...args) => forward.skipped(...args),
      checkpointAheadOfLog: (...args) => forward.checkpointAheadOfLog(...args),
    };
    const runner = new ProjectionRunner(this.store, generation.models, observer, this.options.runner);
    runner.onChanges((changes) => {
      if (isLive()) for (const listener of this.listeners) listener(changes);
    });
    return { generation, runner };
  }
}
