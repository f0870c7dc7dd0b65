import type { StoreBundle } from '../shared/store-bundle';
import { PostgresCheckpointStore } from './postgres-checkpoint-store';
import { PostgresEventStore, type PostgresEventStoreOptions } from './postgres-event-store';
import { PostgresPaymentTokenVault } from './postgres-payment-token-vault';
import { PostgresSnapshotStore } from './postgres-snapshot-store';

/** PostgreSQL: events, snapshots, checkpoints and payment tokens in one schema, over one connection pool. */
export const openPostgresBundle = (options: PostgresEventStoreOptions): StoreBundle => {
  const events = new PostgresEventStore(options);
  return {
    events,
    snapshots: new PostgresSnapshotStore(events.database),
    checkpoints: new PostgresCheckpointStore(events.database),
    paymentTokens: new PostgresPaymentTokenVault(events.database),
  };
};
