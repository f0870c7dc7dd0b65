import { randomUUID } from 'node:crypto';
import type { CrestEvent, CrestEventType } from '../../domain/events';
import type { RecordedEvent } from '../../domain/kernel/event-store';

/** The data of a Crest event type (checked by the compiler); any data for other types. */
export type EventData<T extends string> = T extends CrestEventType ? Extract<CrestEvent, { type: T }>['data'] : unknown;

export type RecordedExtras = Partial<Pick<RecordedEvent, 'id' | 'metadata' | 'created'>>;

/**
 * A RecordedEvent as a store would hand it out, for tests that feed projections directly.
 * Defaults: a fresh uuid id, empty metadata, created now.
 */
export const recorded = <T extends string>(streamId: string, type: T, data: EventData<T>, position: number, revision = 0, extras: RecordedExtras = {}): RecordedEvent => ({
  streamId,
  revision,
  position,
  id: extras.id ?? randomUUID(),
  type,
  data,
  metadata: extras.metadata ?? {},
  created: extras.created ?? new Date().toISOString(),
});

/** A redelivery of `event`: the same event (id, position, data) handed over again. */
export const redelivered = (event: RecordedEvent): RecordedEvent => ({ ...event });

/**
 * Makes a consistent run of events: positions increase by one across the log (starting after `after`),
 * revisions count per stream from 0, as a real store assigns them.
 */
export class RecordedLog {
  readonly events: RecordedEvent[] = [];
  private position: number;
  private readonly revisions = new Map<string, number>();

  constructor(after = 0) {
    this.position = after;
  }

  /** Position of the last event made, or the starting position when none was. */
  get head(): number {
    return this.position;
  }

  append<T extends string>(streamId: string, type: T, data: EventData<T>, extras: RecordedExtras = {}): RecordedEvent {
    const revision = (this.revisions.get(streamId) ?? -1) + 1;
    this.revisions.set(streamId, revision);
    const event = recorded(streamId, type, data, ++this.position, revision, extras);
    this.events.push(event);
    return event;
  }
}
