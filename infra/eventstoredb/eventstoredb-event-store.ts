import {
  ANY,
  BACKWARDS,
  END,
  EventStoreDBClient,
  excludeSystemEvents,
  FORWARDS,
  jsonEvent,
  NO_STREAM,
  START,
  STREAM_EXISTS,
  streamNameFilter,
  StreamNotFoundError,
  WrongExpectedVersionError,
  type AllStreamRecordedEvent,
  type AppendExpectedRevision,
  type JSONRecordedEvent,
  type Position,
} from '@eventstore/db-client';
import {
  matchesFilter,
  WrongExpectedRevisionError,
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
import { checkExpectedRevision } from '../shared/event-store-rules';

/** Streams Crest writes for its own bookkeeping in EventStoreDB; never part of the domain log. */
export const BOOKKEEPING_PREFIXES = ['snapshot-', 'checkpoint-'];

const isDomainEvent = (streamId: string, type: string): boolean => !type.startsWith('$') && !streamId.startsWith('$') && !BOOKKEEPING_PREFIXES.some((p) => streamId.startsWith(p));

const toExpected = (expected: ExpectedRevision): AppendExpectedRevision => {
  switch (expected) {
    case 'no_stream':
      return NO_STREAM;
    case 'stream_exists':
      return STREAM_EXISTS;
    case 'any':
      return ANY;
    default:
      return BigInt(expected);
  }
};

/** Positions are EventStoreDB commit positions; a checkpoint resumes from the commit position of the last event handled. */
const positionOf = (p: Position | undefined): number => Number(p?.commit ?? 0n);
const resumeFrom = (after: number): Position => ({ commit: BigInt(after), prepare: BigInt(after) });

const toRecorded = (e: JSONRecordedEvent | AllStreamRecordedEvent, position: Position | undefined): RecordedEvent => ({
  streamId: e.streamId,
  revision: Number(e.revision),
  position: positionOf(position),
  id: e.id,
  type: e.type,
  data: e.data,
  metadata: (e.metadata ?? {}) as Record<string, unknown>,
  created: new Date(e.created).toISOString(),
});

/**
 * The event store on EventStoreDB, through the official client. Subscriptions use $all with a server-side
 * stream-prefix filter (or "exclude system events") and a client-owned checkpoint (our position).
 * NOT YET RUN AGAINST A REAL SERVER: EventStoreDB is not obtainable on the machines Crest is built on; the contract
 * suite runs against it whenever ESDB_CONNECTION_STRING is set.
 */
export class EventStoreDbEventStore implements EventStore {
  private readonly client: EventStoreDBClient;

  constructor(connectionString: string) {
    this.client = EventStoreDBClient.connectionString(connectionString);
  }

  async appendToStream(streamId: string, events: readonly EventToAppend[], expectedRevision: ExpectedRevision): Promise<AppendResult> {
    if (events.length === 0) return this.checkOnly(streamId, expectedRevision);
    try {
      const result = await this.client.appendToStream(
        streamId,
        events.map((e) => jsonEvent({ id: e.id, type: e.type, data: e.data as never, metadata: e.metadata as never })),
        { expectedRevision: toExpected(expectedRevision) },
      );
      return { nextExpectedRevision: Number(result.nextExpectedRevision), position: positionOf(result.position) };
    } catch (error) {
      if (error instanceof WrongExpectedVersionError) {
        const actual = error.actualVersion;
        throw new WrongExpectedRevisionError(streamId, expectedRevision, typeof actual === 'bigint' ? Number(actual) : 'no_stream');
      }
      throw error;
    }
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<readonly RecordedEvent[]> {
    const backwards = options.direction === 'backwards';
    const out: RecordedEvent[] = [];
    try {
      const read = this.client.readStream(streamId, {
        direction: backwards ? BACKWARDS : FORWARDS,
        fromRevision: options.fromRevision === undefined ? (backwards ? END : START) : BigInt(options.fromRevision),
        ...(options.maxCount === undefined ? {} : { maxCount: options.maxCount }),
      });
      for await (const resolved of read) {
        if (resolved.event) out.push(toRecorded(resolved.event as JSONRecordedEvent, resolved.event.position));
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
    return out;
  }

  async readAll(options: ReadAllOptions = {}): Promise<readonly RecordedEvent[]> {
    const max = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    const after = options.after;
    const out: RecordedEvent[] = [];
    // $all has no server-side filter on reads, so page through and filter here
    const read = this.client.readAll({ direction: FORWARDS, fromPosition: after === undefined ? START : resumeFrom(after) });
    for await (const resolved of read) {
      const e = resolved.event;
      if (!e) continue;
      const position = positionOf(e.position);
      if (after !== undefined && position <= after) continue;
      if (!isDomainEvent(e.streamId, e.type) || !matchesFilter(options.filter, e.streamId, e.type)) continue;
      out.push(toRecorded(e, e.position));
      if (out.length >= max) break;
    }
    return out;
  }

  async headPosition(filter?: LogFilter): Promise<number | undefined> {
    for await (const resolved of this.client.readAll({ direction: BACKWARDS, fromPosition: END })) {
      const e = resolved.event;
      if (e && isDomainEvent(e.streamId, e.type) && matchesFilter(filter, e.streamId, e.type)) return positionOf(e.position);
    }
    return undefined;
  }

  subscribeToAll(options: SubscribeOptions, handler: BatchHandler): Subscription {
    const categories = options.filter?.categories ?? [];
    const subscription = this.client.subscribeToAll({
      fromPosition: options.after === undefined ? START : resumeFrom(options.after),
      filter: categories.length > 0 ? streamNameFilter({ prefixes: categories.map((c) => `${c}-`) }) : excludeSystemEvents(),
    });
    const batchSize = options.batchSize ?? 500;
    let position = options.after;
    let stopped = false;
    const run = async (): Promise<void> => {
      let batch: RecordedEvent[] = [];
      for await (const resolved of subscription) {
        if (stopped) break;
        const e = resolved.event;
        if (!e) continue;
        const at = positionOf(e.position);
        if (position !== undefined && at <= position) continue;
        if (isDomainEvent(e.streamId, e.type) && matchesFilter(options.filter, e.streamId, e.type)) batch.push(toRecorded(e, e.position));
        // deliver what has arrived so far: a full batch, or whatever is buffered when the stream pauses
        if (batch.length >= batchSize || (batch.length > 0 && subscription.readableLength === 0)) {
          await handler(batch);
          position = batch[batch.length - 1]!.position;
          batch = [];
        }
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
        await subscription.unsubscribe();
        await done.catch(() => undefined);
      },
      done,
    };
  }

  async close(): Promise<void> {
    await this.client.dispose();
  }

  /** The underlying client, for the snapshot and checkpoint stores that share its connection. */
  get connection(): EventStoreDBClient {
    return this.client;
  }

  private async checkOnly(streamId: string, expected: ExpectedRevision): Promise<AppendResult> {
    const [last] = await this.readStream(streamId, { direction: 'backwards', maxCount: 1 });
    checkExpectedRevision(streamId, expected, last?.revision);
    return { nextExpectedRevision: last?.revision ?? -1, position: last?.position ?? 0 };
  }
}
