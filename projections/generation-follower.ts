import type { ReadModelGeneration, ReadModelGenerations, ReadModelStore } from './ports';

export interface GenerationFollowerObserver {
  switched(from: string, to: string, position: number): void;
  failed(error: unknown): void;
}

/**
 * For a process that reads read models another process builds (an API node): follows the generation pointer and moves
 * to a rebuilt generation once that generation's checkpoint has reached the position this process has already served,
 * so that nothing a reader has seen goes back.
 */
export class GenerationFollower<M extends ReadModelStore> {
  private live: ReadModelGeneration<M> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;

  constructor(
    private readonly generations: ReadModelGenerations<M>,
    private readonly options: {
      /** The runner whose checkpoint a generation keeps. */
      readonly runner: string;
      /** The position this process has served up to. */
      readonly served: () => number;
      readonly pollMs: number;
    },
    private readonly observer: GenerationFollowerObserver,
  ) {}

  get models(): M {
    if (!this.live) throw new Error('the read models have not started');
    return this.live.models;
  }

  get generation(): string | undefined {
    return this.live?.name;
  }

  async start(): Promise<void> {
    this.live = await this.generations.open((await this.generations.pointer()).active);
    this.timer = setInterval(() => void this.poll(), this.options.pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.polling;
    await this.live?.close();
  }

  /** Checks the pointer now (tests, and the interval). */
  poll(): Promise<void> {
    this.polling ??= this.check()
      .catch((error: unknown) => this.observer.failed(error))
      .finally(() => {
        this.polling = undefined;
      });
    return this.polling;
  }

  private async check(): Promise<void> {
    const { active } = await this.generations.pointer();
    const current = this.live;
    if (!current || active === current.name) return;
    const next = await this.generations.open(active);
    // the builder switched once the new generation had passed the old one; this process may have seen a little more
    const checkpoint = (await next.models.loadCheckpoint(this.options.runner)) ?? 0;
    if (checkpoint < this.options.served()) {
      await next.close();
      return;
    }
    this.live = next;
    this.observer.switched(current.name, next.name, checkpoint);
    await current.close();
  }
}
