import type { BatchHandler, LogFilter, RecordedEvent, SubscribeOptions, Subscription } from '../../domain/kernel/event-store';

export interface CatchUpSource {
  /**
   * Events after `after` that pass the filter, and `through`: the position up to which every event was looked at
   * (at least the last event returned). A filtered follower then moves past what it skipped, instead of looking at it
   * again on every read.
   */
  readAll(options: { after?: number; maxCount: number; filter?: LogFilter }): Promise<{ readonly events: readonly RecordedEvent[]; readonly through: number | undefined }>;
  /** Resolves when new events may exist, or after `timeoutMs`, whichever is first. */
  waitForAppend(timeoutMs: number): Promise<void>;
}

/**
 * A catch-up subscription over any store that can page its global log in position order and say when
 * something was appended. Because it always reads from its last delivered position, switching from
 * replay to live needs no hand-over and can neither skip nor repeat an event.
 */
export const catchUpSubscription = (source: CatchUpSource, options: SubscribeOptions, handler: BatchHandler, idlePollMs: number): Subscription => {
  let position = options.after;
  let stopped = false;
  let wake: (() => void) | undefined;
  const batchSize = options.batchSize ?? 500;

  const run = async (): Promise<void> => {
    // Armed before the last read that came back empty, so an append made during that read still wakes us.
    let appended: Promise<void> | undefined;
    while (!stopped) {
      const read = await source.readAll({ ...(position === undefined ? {} : { after: position }), maxCount: batchSize, ...(options.filter ? { filter: options.filter } : {}) });
      if (stopped) return;
      const batch = read.events;
      if (batch.length > 0) {
        await handler(batch);
        position = batch[batch.length - 1]!.position;
        // a synchronous store resolves at once; yield so that a long replay does not starve I/O (health checks, requests)
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      if (read.through !== undefined && read.through > (position ?? 0)) {
        // nothing for this filter up to `through`: start there next time, and read again before waiting
        position = read.through;
        continue;
      }
      if (!appended) {
        appended = source.waitForAppend(idlePollMs);
        continue;
      }
      await Promise.race([appended, new Promise<void>((resolve) => (wake = resolve))]);
      appended = undefined;
    }
  };

  const done = run();
  done.catch(() => undefined);
  return {
    get position() {
      return position;
    },
    async close() {
      stopped = true;
      wake?.();
      await done.catch(() => undefined);
    },
    done,
  };
};

/** Wakes every waiter on the next append; waiters also give up after their timeout so cross-process writers are seen. */
export class AppendSignal {
  private waiters: Array<() => void> = [];

  notify(): void {
    const waiters = this.waiters;
    if (waiters.length === 0) return;
    this.waiters = [];
    for (const w of waiters) w();
  }

  wait(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve();
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push(done);
    });
  }
}
