/**
 * The event store port, shaped like EventStoreDB so that its adapter is a thin mapping.
 * Revisions count events within a stream from 0. Positions order every event in the global log:
 * they only ever increase, but need not be dense.
 */

/** `no_stream`: the stream must not exist. `stream_exists`: it must. `any`: no check. A number: the stream's last revision. */
export type ExpectedRevision = 'no_stream' | 'stream_exists' | 'any' | number;

export interface EventToAppend {
  readonly id: string;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: Readonly<Record<string, unknown>>;
}

export interface RecordedEvent {
  readonly streamId: string;
  readonly revision: number;
  readonly position: number;
  readonly id: string;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: Readonly<Record<string, unknown>>;
  /** ISO-8601 UTC time the store recorded the event. */
  readonly created: string;
}

/** One stream's part of a multi-stream append. */
export interface StreamAppend {
  readonly streamId: string;
  readonly events: readonly EventToAppend[];
  readonly expectedRevision: ExpectedRevision;
}

/** A condition on a multi-stream append: the event at `revision` of `streamId` is `eventId` (it was committed). */
export interface EventPrecondition {
  readonly streamId: string;
  readonly revision: number;
  readonly eventId: string;
}

export interface AppendResult {
  /** The stream's revision after the append: pass it as the next expected revision. */
  readonly nextExpectedRevision: number;
  /** Global position of the last event appended (or the stream's last event, when nothing was appended). */
  readonly position: number;
}

export interface ReadStreamOptions {
  readonly direction?: 'forwards' | 'backwards';
  /** Inclusive. Defaults to the start (forwards) or the end (backwards). */
  readonly fromRevision?: number;
  readonly maxCount?: number;
}

/** Server-side filter on the global log. Empty lists mean no restriction. */
export interface LogFilter {
  readonly categories?: readonly string[];
  readonly eventTypes?: readonly string[];
}

export interface ReadAllOptions {
  /** Exclusive: read events with a position greater than this. Omit to read from the start. */
  readonly after?: number;
  readonly maxCount?: number;
  readonly filter?: LogFilter;
}

export interface SubscribeOptions {
  /** Exclusive checkpoint: deliver events with a position greater than this. Omit to start from the beginning. */
  readonly after?: number;
  readonly filter?: LogFilter;
  /** Largest batch handed to the handler at once. */
  readonly batchSize?: number;
}

export type BatchHandler = (batch: readonly RecordedEvent[]) => Promise<void> | void;

export interface Subscription {
  /** Position of the last event the handler finished with. */
  readonly position: number | undefined;
  /** Stops delivery; resolves once no handler call is running. */
  close(): Promise<void>;
  /** Settles when the subscription ends: resolves on close, rejects with the handler's or the store's error. */
  readonly done: Promise<void>;
}

export interface EventStore {
  /** Appends atomically, checking the expected revision. Resolves only once the events are durable. */
  appendToStream(streamId: string, events: readonly EventToAppend[], expectedRevision: ExpectedRevision): Promise<AppendResult>;
  /**
   * Appends to several streams in one transaction, in the order given: every expected revision holds and all the
   * events become durable together, or nothing is written and it rejects (a failed check with the
   * WrongExpectedRevisionError of that stream). Only stores with multi-stream transactions have it (not EventStoreDB).
   * With `requires`, each named event must be in the log (committed earlier, or earlier in the same commit), or
   * nothing is written and it rejects with RequiredEventMissingError: an append may depend on another caller's
   * append that is still on its way, and share its commit.
   */
  appendToStreams?(appends: readonly StreamAppend[], requires?: readonly EventPrecondition[]): Promise<readonly AppendResult[]>;
  /** Reads a stream; a stream that does not exist reads as empty. */
  readStream(streamId: string, options?: ReadStreamOptions): Promise<readonly RecordedEvent[]>;
  /** Reads the global log in position order. */
  readAll(options?: ReadAllOptions): Promise<readonly RecordedEvent[]>;
  /** Position of the newest event in the global log that passes the filter, or undefined for an empty log. */
  headPosition(filter?: LogFilter): Promise<number | undefined>;
  /** A catch-up subscription: replays from the checkpoint, then goes live without gaps or duplicates, in order. */
  subscribeToAll(options: SubscribeOptions, handler: BatchHandler): Subscription;
  close(): Promise<void>;
}

/** Stable error for a failed expected-revision check; every adapter maps its native conflict to it. */
export class WrongExpectedRevisionError extends Error {
  readonly code = 'wrong_expected_revision';
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedRevision,
    readonly actual: number | 'no_stream',
  ) {
    super(`Append to ${streamId} expected revision ${String(expected)} but the stream is at ${String(actual)}`);
    this.name = 'WrongExpectedRevisionError';
  }
}

/** A required event is not where the append said it must be (never committed, or rolled back): nothing was written. */
export class RequiredEventMissingError extends Error {
  readonly code = 'required_event_missing';
  constructor(readonly required: EventPrecondition) {
    super(`Append requires event ${required.eventId} at revision ${required.revision} of ${required.streamId}, which is not there`);
    this.name = 'RequiredEventMissingError';
  }
}

/** The store cannot take writes for now (locked, unreachable): nothing was written, and the same call may succeed later. */
export class StoreUnavailableError extends Error {
  readonly code = 'unavailable';
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'StoreUnavailableError';
  }
}

export const matchesFilter = (filter: LogFilter | undefined, streamId: string, type: string): boolean => {
  if (!filter) return true;
  if (filter.eventTypes && filter.eventTypes.length > 0 && !filter.eventTypes.includes(type)) return false;
  if (filter.categories && filter.categories.length > 0) {
    const dash = streamId.indexOf('-');
    const category = dash < 0 ? streamId : streamId.slice(0, dash);
    if (!filter.categories.includes(category)) return false;
  }
  return true;
};
