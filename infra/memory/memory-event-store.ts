import {
  matchesFilter,
  RequiredEventMissingError,
  type EventPrecondition,
  type AppendResult,
  type BatchHandler,
  type EventStore,
  type EventToAppend,
  type ExpectedRevision,
  type LogFilter,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type StreamAppend,
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
    return (await this.appendToStreams([{ streamId, events, expectedRevision }]))[0]!;
  }

  async appendToStreams(appends: readonly StreamAppend[], requires: readonly EventPrecondition[] = []): Promise<readonly AppendResult[]> {
    this.assertOpen();
    for (const r of requires) if (this.streams.get(r.streamId)?.[r.revision]?.id !== r.eventId) throw new RequiredEventMissingError(r);
    // every check and every record first, so a failure leaves the store unchanged
    const lengths = new Map<string, number>();
    const lengthOf = (streamId: string) => lengths.get(streamId) ?? this.streams.get(streamId)?.length ?? 0;
    const created = new Date().toISOString();
    let position = this.log.length;
    const planned = appends.map(({ streamId, events, expectedRevision }) => {
      const length = lengthOf(streamId);
      checkExpectedRevision(streamId, expectedRevision, length > 0 ? length - 1 : undefined);
      const recorded = events.map(
        (e, i): RecordedEvent => ({
          streamId,
          revision: length + i,
          position: ++position,
          id: e.id,
          type: e.type,
          data: structuredClone(e.data),
          metadata: structuredClone(e.metadata),
          created,
        }),
      );
      lengths.set(streamId, length + events.length);
      return { streamId, recorded };
    });
    const results = planned.map(({ streamId, recorded }) => {
      const stream = this.streams.get(streamId) ?? [];
      stream.push(...recorded);
      this.log.push(...recorded);
      this.streams.set(streamId, stream);
      return { nextExpectedRevision: stream.length - 1, position: stream[stream.length - 1]?.position ?? 0 };
    });
    if (planned.some((p) => p.recorded.length > 0)) this.signal.notify();
    return results;
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
    return catchUpSubscription(
      { readAll: async (o) => ({ events: await this.readAll(o), through: undefined }), waitForAppend: (ms) => this.signal.wait(ms) },
      options,
      handler,
      1000,
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    this.signal.notify();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('The event store is closed');
  }
}

