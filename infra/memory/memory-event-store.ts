import {
  matchesFilter,
  type AppendResult,
  type BatchHandler,
  type EventStore,
  type EventToAppend,
  type ExpectedRevision,
  type LogFilter,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type SubscribeOptions,
  type Subscription,
} from '../../domain/kernel/event-store';
import { AppendSignal, catchUpSubscription } from '../shared/catch-up-subscription';
import { checkExpectedRevision, sliceStream } from '../shared/event-store-rules';

/** An event store in process memory: for tests and for trying Crest out. Nothing survives a restart. */
export class MemoryEventStore implements EventStore {
  private readonly log: RecordedEvent[] = [];
  private readonly streams = new Map<string, RecordedEvent[]>();
  private readonly signal = new AppendSignal();
  private closed = false;

  async appendToStream(streamId: string, events: readonly EventToAppend[], expectedRevision: ExpectedRevision): Promise<AppendResult> {
    this.assertOpen();
    const stream = this.streams.get(streamId);
    const current = stream && stream.length > 0 ? stream.length - 1 : undefined;
    checkExpectedRevision(streamId, expectedRevision, current);
    if (events.length === 0) {
      return { nextExpectedRevision: current ?? -1, position: stream?.[stream.length - 1]?.position ?? 0 };
    }
    const target = stream ?? [];
    const created = new Date().toISOString();
    // build every record before touching the log, so a failure leaves the store unchanged
    const recorded = events.map(
      (e, i): RecordedEvent => ({
        streamId,
        revision: target.length + i,
        position: this.log.length + 1 + i,
        id: e.id,
        type: e.type,
        data: structuredClone(e.data),
        metadata: structuredClone(e.metadata),
        created,
      }),
    );
    target.push(...recorded);
    this.log.push(...recorded);
    this.streams.set(streamId, target);
    this.signal.notify();
    return { nextExpectedRevision: target.length - 1, position: this.log.length };
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<readonly RecordedEvent[]> {
    this.assertOpen();
    return sliceStream(this.streams.get(streamId) ?? [], options);
  }

  async readAll(options: ReadAllOptions = {}): Promise<readonly RecordedEvent[]> {
    this.assertOpen();
    const max = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    const out: RecordedEvent[] = [];
    // positions are 1-based and dense here, so the array index of position p is p - 1
    for (let i = Math.max(0, options.after ?? 0); i < this.log.length && out.length < max; i++) {
      const e = this.log[i]!;
      if (matchesFilter(options.filter, e.streamId, e.type)) out.push(e);
    }
    return out;
  }

  async headPosition(filter?: LogFilter): Promise<number | undefined> {
    for (let i = this.log.length - 1; i >= 0; i--) {
      const e = this.log[i]!;
      if (matchesFilter(filter, e.streamId, e.type)) return e.position;
    }
    return undefined;
  }

  subscribeToAll(options: SubscribeOptions, handler: BatchHandler): Subscription {
    return catchUpSubscription({ readAll: (o) => this.readAll(o), waitForAppend: (ms) => this.signal.wait(ms) }, options, handler, 1000);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.signal.notify();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('The event store is closed');
  }
}

