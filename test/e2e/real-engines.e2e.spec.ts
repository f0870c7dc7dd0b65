import { expect } from 'chai';
import Redis from 'ioredis';
import { MongoClient } from 'mongodb';
import { randomUUID } from 'node:crypto';
import { Tokens } from '../../infra/composition/root';
import { defaultAvailabilityKeys, RedisAvailability } from '../../infra/redis/redis-availability';
import { seedProduct, startCrest, type TestCrest } from '../support/crest-harness';
import { serverUrls, skipOrFail } from '../support/servers';
import { expectStockInvariant, stockFromLog } from '../support/stock';
import { waitFor } from '../support/wait-for';

describe('flash sale with MongoDB and Redis read models live', function () {
  this.timeout(120_000);
  const database = `crest_e2e_${randomUUID().slice(0, 8)}`;
  const prefix = `crest-e2e-${randomUUID().slice(0, 8)}`;
  let crest: TestCrest | undefined;
  let mongo: MongoClient | undefined;
  let redis: Redis | undefined;

  before(async function () {
    try {
      mongo = new MongoClient(serverUrls.mongodb, { serverSelectionTimeoutMS: 2000 });
      await mongo.connect();
      redis = new Redis(serverUrls.redis, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 1000 });
      await redis.connect();
    } catch (error) {
      skipOrFail(this, `needs MongoDB (FerretDB) at ${serverUrls.mongodb} and Redis at ${serverUrls.redis}: ${(error as Error).message}; start them with npm run services:up`);
    }
    crest = await startCrest({
      CREST_READ_MODELS: 'mongodb',
      MONGODB_URL: serverUrls.mongodb,
      MONGODB_DATABASE: database,
      CREST_CACHE: 'redis',
      REDIS_URL: serverUrls.redis,
      CREST_REDIS_PREFIX: prefix,
    });
  });

  after(async () => {
    await crest?.dispose();
    await mongo?.db(database).dropDatabase().catch(() => undefined);
    await mongo?.close();
    if (redis) {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });

  it('ends with Redis availability, Mongo product documents and the event store in agreement, and nothing oversold', async () => {
    const skus = ['LIVE-1', 'LIVE-2', 'LIVE-3', 'LIVE-4', 'LIVE-5'];
    for (const sku of skus) await seedProduct(crest!, sku, 100, 500);
    let lastPosition = 0;
    const unitsPlaced = new Map<string, number>();
    await Promise.all(
      Array.from({ length: 64 }, async (_, client) => {
        for (let n = 0; n < 15; n++) {
          const sku = skus[(client + n) % skus.length]!;
          const quantity = 1 + ((client * 7 + n) % 2);
          const r = await crest!.call('POST', '/v1/orders', {
            headers: { 'idempotency-key': `live-${client}-${n}` },
            body: { customerId: `live-${client}`, lines: [{ sku, quantity }] },
          });
          expect([201, 409]).to.include(r.status);
          if (r.status === 201) {
            unitsPlaced.set(sku, (unitsPlaced.get(sku) ?? 0) + quantity);
            lastPosition = Math.max(lastPosition, r.body.position);
          }
        }
      }),
    );
    const availability = new RedisAvailability(redis!, defaultAvailabilityKeys(prefix));
    const products = mongo!.db(database).collection<{ _id: string; available: number }>('products');
    const store = crest!.running.container.get(Tokens.EventStore);
    // FerretDB on SQLite applies batches far slower than the sale writes them: wait for the read models to catch up
    const progress = crest!.running.container.get(Tokens.Progress);
    const caughtUp = Date.now();
    await waitFor(() => progress.waitFor(lastPosition, 1000), 60_000, 'the read models to catch up');
    console.log(`      read models caught up ${Date.now() - caughtUp} ms after the sale ended`);
    for (const sku of skus) {
      const view = await crest!.call('GET', `/v1/inventory/${sku}`, { headers: { 'x-min-position': String(lastPosition) } });
      expect(view.status).to.equal(200);
      const truth = await stockFromLog(store, sku);
      expectStockInvariant(truth);
      expect(truth.reserved, `${sku} reserved`).to.equal(unitsPlaced.get(sku) ?? 0);
      expect(truth.reserved).to.be.at.most(100);
      expect(view.body).to.include({ available: truth.available, reserved: truth.reserved, sold: truth.sold });
      expect((await products.findOne({ _id: sku }))?.available, `${sku} in Mongo`).to.equal(truth.available);
      expect(await availability.available(sku), `${sku} in Redis`).to.equal(truth.available);
      expect(await availability.isSoldOut(sku)).to.equal(truth.available === 0);
    }
    // product cards are served through the Redis L2 as well
    const card = await crest!.call('GET', `/v1/products/${skus[0]}`, { headers: { 'x-min-position': String(lastPosition) } });
    expect(card.status).to.equal(200);
    expect(await redis!.exists(`${prefix}:cache:card:${skus[0]}`)).to.equal(1);
  });
});
