import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { PostgresCheckpointStore } from './postgres-checkpoint-store';
import { PostgresDatabase } from './postgres-database';
import { isolatedPostgresSchema } from '../../test/support/postgres-schema';

// there is no shared checkpoint contract: these are the CheckpointStore port's promises
describe('PostgresCheckpointStore', () => {
  const options = isolatedPostgresSchema();
  const databases: PostgresDatabase[] = [];
  const open = (): PostgresCheckpointStore => {
    const database = new PostgresDatabase(options);
    databases.push(database);
    return new PostgresCheckpointStore(database);
  };
  after(async () => {
    for (const d of databases) await d.end();
  });

  it('loads an unknown checkpoint as undefined, and a saved one as saved', async () => {
    const store = open();
    const name = `projection-${randomUUID()}`;
    expect(await store.load(name)).to.equal(undefined);
    await store.save(name, 42);
    expect(await store.load(name)).to.equal(42);
  });

  it('never moves a checkpoint backwards, also when saves race', async () => {
    const store = open();
    const name = `saga-${randomUUID()}`;
    await store.save(name, 10);
    await store.save(name, 4);
    expect(await store.load(name)).to.equal(10);
    await Promise.all([17, 12, 2 ** 40, 30].map((p) => store.save(name, p)));
    expect(await store.load(name)).to.equal(2 ** 40);
  });

  it('keeps checkpoints across a restart', async () => {
    const name = `relay-${randomUUID()}`;
    await open().save(name, 7);
    await databases[databases.length - 1]!.end();
    expect(await open().load(name)).to.equal(7);
  });
});
