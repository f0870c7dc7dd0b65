import { MongoClient } from 'mongodb';
import { readModelGenerationsContract } from '../../test/contracts/read-model-generations.contract';
import { serverUrls, skipOrFail } from '../../test/support/servers';
import { MongoReadModelGenerations } from './mongo-read-model-generations';
import { mongoServerKind, type MongoServerKind } from './mongo-read-models';

describe('MongoDB read-model generations (FerretDB or MongoDB)', function () {
  let client: MongoClient | undefined;
  let server: MongoServerKind = 'mongodb';
  const databases: string[] = [];
  let database = '';

  before(async function () {
    const candidate = new MongoClient(serverUrls.mongodb, { serverSelectionTimeoutMS: 2000 });
    try {
      await candidate.connect();
      await candidate.db('admin').command({ ping: 1 });
      client = candidate;
      server = mongoServerKind(await client.db('admin').command({ buildInfo: 1 }));
    } catch (error) {
      await candidate.close().catch(() => undefined);
      skipOrFail(this, `no MongoDB-compatible server at ${serverUrls.mongodb} (${(error as Error).message}); start one with npm run services:up`);
    }
  });

  after(async () => {
    for (const name of databases) {
      for (const suffix of ['', '_g1', '_g2']) await client?.db(`${name}${suffix}`).dropDatabase().catch(() => undefined);
    }
    await client?.close();
  });

  readModelGenerationsContract('MongoDB', {
    open: async () => {
      database = `crest_gen_${process.pid}_${databases.length}_${Date.now() % 100000}`;
      databases.push(database);
      return new MongoReadModelGenerations(client!.db(database), server);
    },
    reopen: async () => new MongoReadModelGenerations(client!.db(database), server),
  });
});
