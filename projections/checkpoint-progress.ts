import type { EventStore } from '../domain/kernel/event-store';
import type { ReadModelStore } from './ports';
import { PositionWaiters } from './position-waiters';

/**
 * How far read models built by another process (`crest work projections`) have got, for an API node that only reads
 * them: the smallest of their runners' stored checkpoints, re-read every `pollMs` (and on `nudge`, when the projection
 * worker announces progress over the invalidation bus). Waiters are resolved as the position passes theirs.
 */
export class CheckpointProgress {
  private current = 0;
  private startHead = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly waiters = new PositionWaiters();
  private polling: Promise<void> | undefined;

  constructor(
    private readonly store: EventStore,
    /** Asked at every poll: an API node moves to another generation of the read models after a rebuild. */
    private readonly checkpoints: () => ReadonlyArray<{ readonly store: ReadModelStore; readonly runner: string }>,
    private readonly pollMs: number,
  ) {}

  get position(): number {
    return this.current;
  }

  ready(): boolean {
    return this.current >= this.startHead;
  }

  async start(): Promise<void> {
    this.startHead = (await this.store.headPosition()) ?? 0;
    await this.poll();
    this.timer = setInterval(() => void this.poll(), this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.waiters.cancelAll();
  }

  nudge(): void {
    void this.poll();
  }

  waitFor(position: number, timeoutMs: number): Promise<boolean> {
    if (this.current >= position) return Promise.resolve(true);
    return this.waiters.wait(position, timeoutMs);
  }

  private poll(): Promise<void> {
    this.polling ??= (async () => {
      try {
        const checkpoints = this.checkpoints();
        const positions = await Promise.all(checkpoints.map((c) => c.store.loadCheckpoint(c.runner)));
        // read models switched to another generation meanwhile: this answer is about the old one
        if (this.checkpoints().some((c, i) => c.store !== checkpoints[i]?.store)) return;
        this.current = Math.max(this.current, Math.min(...positions.map((p) => p ?? 0)));
        this.waiters.reached(this.current);
      } catch {
        // a failed read leaves the position where it was; the next poll tries again
      } finally {
        this.polling = undefined;
      }
    })();
    return this.polling;
  }
}
