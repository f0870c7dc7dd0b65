import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventStoreContract } from '../../test/contracts/event-store.contract';
import { SqliteEventStore } from './sqlite-event-store';

describe('SqliteEventStore on a temporary file', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'crest-sqlite-event-store-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const open = async (): Promise<SqliteEventStore> => new SqliteEventStore({ file: join(dir, 'crest.db'), synchronous: 'FULL' });
  eventStoreContract('SqliteEventStore', { open, reopen: open });
});
