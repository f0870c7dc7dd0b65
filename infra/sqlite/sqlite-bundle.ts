import type { StoreBundle } from '../shared/store-bundle';
import { SqliteCheckpointStore } from './sqlite-checkpoint-store';
import { SqliteEventStore, type SqliteEventStoreOptions } from './sqlite-event-store';
import { SqlitePaymentTokenVault } from './sqlite-payment-token-vault';
import { SqliteSnapshotStore } from './sqlite-snapshot-store';

/** The embedded store: events, snapshots, checkpoints and payment tokens in one SQLite file, all written on its writer thread. */
export const openSqliteBundle = (options: SqliteEventStoreOptions): StoreBundle => {
  const events = new SqliteEventStore(options);
  return {
    events,
    snapshots: new SqliteSnapshotStore(events.db, events.writes),
    checkpoints: new SqliteCheckpointStore(events.db, events.writes),
    paymentTokens: new SqlitePaymentTokenVault(events.db, events.writes),
  };
};
