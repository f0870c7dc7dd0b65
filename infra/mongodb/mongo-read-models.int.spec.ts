import { MongoClient } from 'mongodb';
import { readModelContract } from '../../test/contracts/read-model.contract';
import { serverUrls, skipOrFail } from '../../test/support/servers';
import { MongoReadModels, mongoServerKind, type MongoServerKind } from './mongo-read-models';

describe('MongoDB read models (FerretDB or MongoDB)', function () {
  let client: MongoClient | undefined;
  let server: MongoServerKind = 'mongodb';
  const database = `crest_test_${process.pid}_${Date.now()}`;

  before(async function () {
    const candidate = new MongoClient(serverUrls.mongodb, { serverSelectionTimeoutMS: 2000 });
    try {
      await candidate.connect();
      await candidate.db(database).command({ ping: 1 });
      client = candidate;
      server = mongoServerKind(await client.db('admin').command({ buildInfo: 1 }));
      await new MongoReadModels(client.db(database)).ensureIndexes();
    } catch (error) {
      await candidate.close().catch(() => undefined);
      skipOrFail(this, `no MongoDB-compatible server at ${serverUrls.mongodb} (${(error as Error).message}); start one with npm run services:up`);
    }
  });

  after(async () => {
    await client?.db(database).dropDatabase().catch(() => undefined);
    await client?.close();
  });

  readModelContract('MongoDB', { open: async () => new MongoReadModels(client!.db(database), server) });
});
