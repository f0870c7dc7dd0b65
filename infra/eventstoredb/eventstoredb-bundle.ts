import type { StoreBundle } from '../shared/store-bundle';
import { EventStoreDbCheckpointStore, EventStoreDbSnapshotStore } from './eventstoredb-bookkeeping';
import { EventStoreDbEventStore } from './eventstoredb-event-store';

/**
 * EventStoreDB: snapshots and checkpoints in one-value streams beside the events. Payment tokens are not kept here:
 * any stream is part of `$all`, and a token must never be in the log.
 */
export const openEventStoreDbBundle = (connectionString: string): StoreBundle => {
  const events = new EventStoreDbEventStore(connectionString);
  return { events, snapshots: new EventStoreDbSnapshotStore(events.connection), checkpoints: new EventStoreDbCheckpointStore(events.connection) };
};
