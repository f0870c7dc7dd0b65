import { dirname } from 'node:path';
import type { StoreBundle } from '../shared/store-bundle';
import { holdDataDir } from './data-dir-holders';
import { SqliteCheckpointStore } from './sqlite-checkpoint-store';
import { SqliteEventStore, type SqliteEventStoreOptions } from './sqlite-event-store';
import { SqlitePaymentTokenVault } from './sqlite-payment-token-vault';
import { SqliteSnapshotStore } from './sqlite-snapshot-store';

/** The event store of a bundle: it holds its data directory (`crest restore` refuses it) until it is closed. */
class HeldSqliteEventStore extends SqliteEventStore {
  constructor(
    options: SqliteEventStoreOptions,
    private readonly release: () => void,
  ) {
    super(options);
  }

  override async close(): Promise<void> {
    try {
      await super.close();
    } finally {
      this.release();
    }
  }
}

/** The embedded store: events, snapshots, checkpoints and payment tokens in one SQLite file, all written on its writer thread. */
export const openSqliteBundle = (options: SqliteEventStoreOptions): StoreBundle => {
  const release = options.file === ':memory:' ? () => undefined : holdDataDir(dirname(options.file));
  let events: SqliteEventStore;
  try {
    events = new HeldSqliteEventStore(options, release);
  } catch (error) {
    release();
    throw error;
  }
  return {
    events,
    snapshots: new SqliteSnapshotStore(events.db, events.writes),
    checkpoints: new SqliteCheckpointStore(events.db, events.writes),
    paymentTokens: new SqlitePaymentTokenVault(events.db, events.writes),
  };
};
