import type { EventStore, RecordedEvent } from '../../domain/kernel/event-store';
import type { CrestEventType } from '../../domain/events';
import { upcast, upcasters } from '../../domain/upcasters';

/** The event with its data read as its type's current version (and `schemaVersion` in its metadata saying so). */
export const upcastRecorded = (event: RecordedEvent): RecordedEvent => {
  // most types have never changed: their events are passed on without touching (or parsing) their metadata
  if (!upcasters[event.type as CrestEventType]) return event;
  const version = typeof event.metadata.schemaVersion === 'number' ? event.metadata.schemaVersion : 1;
  const read = upcast(event.type, version, event.data);
  if (read.version === version) return event;
  return { ...event, data: read.data, metadata: { ...event.metadata, schemaVersion: read.version } };
};

/**
 * Any event store, read through the upcasters: every reader of the log (writers, projections, the saga, exports and
 * `crest events state`) sees current event versions only. Appends pass through unchanged.
 */
export const upcasting = (store: EventStore): EventStore => ({
  appendToStream: (streamId, events, expectedRevision) => store.appendToStream(streamId, events, expectedRevision),
  ...(store.appendToStreams ? { appendToStreams: store.appendToStreams.bind(store) } : {}),
  readStream: async (streamId, options) => (await store.readStream(streamId, options)).map(upcastRecorded),
  readAll: async (options) => (await store.readAll(options)).map(upcastRecorded),
  headPosition: (filter) => store.headPosition(filter),
  subscribeToAll: (options, handler) => store.subscribeToAll(options, (batch) => handler(batch.map(upcastRecorded))),
  close: () => store.close(),
});
