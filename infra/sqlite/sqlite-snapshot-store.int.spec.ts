import type Database from 'better-sqlite3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { snapshotStoreContract } from '../../test/contracts/snapshot-store.contract';
import { openSqlite } from './sqlite-database';
import { SqliteSnapshotStore } from './sqlite-snapshot-store';

describe('SqliteSnapshotStore on a temporary file', () => {
  let dir: string;
  let db: Database.Database | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'crest-sqlite-snapshot-store-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const open = async (): Promise<SqliteSnapshotStore> => {
    db = openSqlite({ file: join(dir, 'crest.db'), synchronous: 'FULL' });
    return new SqliteSnapshotStore(db);
  };
  const close = async (): Promise<void> => {
    db?.close();
    db = undefined;
  };
  snapshotStoreContract('SqliteSnapshotStore', { open, close, reopen: async () => (await close(), open()) });
});
