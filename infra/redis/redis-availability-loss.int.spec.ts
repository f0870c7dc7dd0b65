import { expect } from 'chai';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { ProjectionRunner } from '../../projections/projection-runner';
import type { ProjectionObserver } from '../../projections/ports';
import { inventoryProjection } from '../../projections/read-models';
import { requireServersFor, serverUrls } from '../../test/support/servers';
import { stockFromLog } from '../../test/support/stock';
import { waitFor } from '../../test/support/wait-for';
import { MemoryEventStore } from '../memory/memory-event-store';
import { defaultAvailabilityKeys, rebuildWhenLost, RedisAvailability } from './redis-availability';

const quiet: ProjectionObserver = { batchApplied: () => {}, catchingUp: () => {}, caughtUp: () => {}, failed: () => {}, skipped: () => {}, checkpointAheadOfLog: () => {} };

const receive = (sku: string, quantity: number) => ({ id: randomUUID(), type: 'StockReceived', data: { sku, receiptId: randomUUID(), quantity }, metadata: {} });
const reserve = (sku: string, orderId: string) => ({ id: randomUUID(), type: 'StockReserved', data: { sku, orderId, quantity: 1, expiresAt: new Date(Date.now() + 60_000).toISOString() }, metadata: {} });

describe('RedisAvailability when Redis loses its data', function () {
  this.timeout(20_000);
  const prefix = `crest-test-loss:${randomUUID()}`;
  const keys = defaultAvailabilityKeys(prefix);
  let redis: Redis;
  let admin: Redis;
  const stops: Array<() => Promise<void> | void> = [];

  before(async function () {
    await requireServersFor(this, 'redis');
    redis = new Redis(serverUrls.redis, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 1000 });
    redis.on('error', () => undefined);
    admin = new Redis(serverUrls.redis, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await Promise.all([redis.connect(), admin.connect()]);
  });

  after(async () => {
    for (const stop of stops.reverse()) await stop();
    await admin?.del(keys.documents, keys.available, keys.soldOut, keys.checkpoints, `${keys.checkpoints}:marker`);
    redis?.disconnect();
    admin?.disconnect();
  });

  it('rebuilds the availability from the log when the connection comes back without the data, and not otherwise', async () => {
    // given a runner keeping Redis availability for a log with stock and reservations, watched for data loss
    const store = new MemoryEventStore();
    await store.appendToStream('inventory-LOSS-1', [receive('LOSS-1', 10), reserve('LOSS-1', 'o1')], 'any');
    const runner = new ProjectionRunner(store, new RedisAvailability(redis, keys), quiet, { name: 'redis-availability', projections: [inventoryProjection], batchSize: 100, poisonPolicy: 'stop', retryMaxMs: 50 });
    let rebuilds = 0;
    const watched = { name: runner.name, rebuild: async () => (rebuilds++, runner.rebuild()) };
    const availability = new RedisAvailability(redis, keys);
    stops.push(await rebuildWhenLost(availability, watched, pino({ level: 'silent' }), 50));
    await runner.start();
    stops.push(() => runner.stop());
    const reader = new RedisAvailability(admin, keys);
    const availableIs = (n: number) => async () => (await reader.available('LOSS-1')) === n;
    await waitFor(availableIs(9), 5000, 'the first batch');

    // when the connection drops and comes back with the data still there: nothing is rebuilt
    redis.disconnect(true);
    await waitFor(() => redis.status === 'ready', 5000, 'the reconnect');
    await store.appendToStream('inventory-LOSS-1', [reserve('LOSS-1', 'o2')], 'any');
    await waitFor(availableIs(8), 5000, 'the next batch');
    expect(rebuilds).to.equal(0);

    // when Redis loses everything (as a restart without persistence does) while the log moves on, and reconnects
    await admin.del(keys.documents, keys.available, keys.soldOut, keys.checkpoints, availability.markerKey);
    redis.disconnect(true);
    await store.appendToStream('inventory-LOSS-1', [reserve('LOSS-1', 'o3')], 'any');

    // then the runner is rebuilt from the log, and Redis holds the log's figures, not a fold of the new events alone
    await waitFor(() => rebuilds === 1, 5000, 'a rebuild');
    const truth = await stockFromLog(store, 'LOSS-1');
    await waitFor(availableIs(truth.available), 5000, 'the rebuilt availability');
    expect(truth.available).to.equal(7);
    expect(await reader.inventory('LOSS-1')).to.include({ received: 10, reserved: 3 });
    expect(await reader.loadCheckpoint('redis-availability')).to.equal(await store.headPosition());
  });
});
