import { snapshotStoreContract } from '../../test/contracts/snapshot-store.contract';
import { PostgresDatabase } from './postgres-database';
import { PostgresSnapshotStore } from './postgres-snapshot-store';
import { isolatedPostgresSchema } from '../../test/support/postgres-schema';

describe('PostgresSnapshotStore', () => {
  const options = isolatedPostgresSchema();
  let database: PostgresDatabase | undefined;

  const open = async (): Promise<PostgresSnapshotStore> => {
    database = new PostgresDatabase(options);
    return new PostgresSnapshotStore(database);
  };
  const close = async (): Promise<void> => {
    await database?.end();
    database = undefined;
  };
  snapshotStoreContract('PostgresSnapshotStore', { open, close, reopen: async () => (await close(), open()) });
});
