import { expect } from 'chai';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { inventoryProjection } from '../../projections/read-models';
import { sharedCacheContract } from '../../test/contracts/shared-cache.contract';
import { RecordedLog } from '../../test/support/recorded';
import { requireServersFor, serverUrls } from '../../test/support/servers';
import { expectStockInvariant } from '../../test/support/stock';
import { waitFor } from '../../test/support/wait-for';
import { defaultAvailabilityKeys, RedisAvailability } from './redis-availability';
import { RedisInvalidationBus } from './redis-invalidation-bus';
import { RedisSharedCache } from './redis-shared-cache';

const connect = (url = serverUrls.redis) => new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 1000 });
const quietBreaker = { stateChanged: () => {} };

describe('Redis adapters', function () {
  const clients: Redis[] = [];
  const client = () => {
    const c = connect();
    clients.push(c);
    return c;
  };

  before(async function () {
    await requireServersFor(this, 'redis');
  });

  after(() => {
    for (const c of clients) c.disconnect();
  });

  sharedCacheContract('RedisSharedCache', {
    open: async () => {
      const c = client();
      if (c.status !== 'ready') await c.connect();
      return new RedisSharedCache(c, quietBreaker, { timeoutMs: 500 });
    },
  });

  describe('RedisSharedCache circuit breaker', () => {
    it('fails fast once Redis is unreachable, instead of queueing', async () => {
      const dead = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
      const states: string[] = [];
      const cache = new RedisSharedCache(dead, { stateChanged: (_n, s) => states.push(s) }, { timeoutMs: 50 });
      for (let i = 0; i < 12; i++) await cache.get('k').catch(() => undefined);
      expect(states).to.include('open');
      const started = Date.now();
      await cache.get('k').catch((e: Error) => expect(e.message).to.match(/open/i));
      expect(Date.now() - started).to.be.lessThan(50);
      dead.disconnect();
    });
  });

  describe('RedisAvailability', () => {
    const prefix = () => `crest-test:${randomUUID()}`;

    it('keeps availability and the sold-out set, and moves the checkpoint with them', async () => {
      const c = client();
      await c.connect();
      const keys = defaultAvailabilityKeys(prefix());
      const store = new RedisAvailability(c, keys);
      const log = new RecordedLog();
      const events = [
        log.append('inventory-AV-1', 'StockReceived', { sku: 'AV-1', receiptId: 'r', quantity: 2 }),
        log.append('inventory-AV-1', 'StockReserved', { sku: 'AV-1', orderId: 'o1', quantity: 2, expiresAt: new Date().toISOString() }),
        log.append('inventory-AV-2', 'StockReceived', { sku: 'AV-2', receiptId: 'r', quantity: 5 }),
      ];
      await store.applyBatch('runner', [inventoryProjection], events, events[2]!.position);
      expect(await store.available('AV-1')).to.equal(0);
      expect(await store.isSoldOut('AV-1')).to.equal(true);
      expect(await store.available('AV-2')).to.equal(5);
      expect(await store.isSoldOut('AV-2')).to.equal(false);
      expect(await store.loadCheckpoint('runner')).to.equal(events[2]!.position);
      expectStockInvariant((await store.inventory('AV-1'))!);

      // redelivery changes nothing; a release makes the SKU available again
      await store.applyBatch('runner', [inventoryProjection], events, events[2]!.position);
      expect(await store.available('AV-1')).to.equal(0);
      const released = log.append('inventory-AV-1', 'ReservationReleased', { sku: 'AV-1', orderId: 'o1', quantity: 2, reason: 'cancelled' });
      await store.applyBatch('runner', [inventoryProjection], [released], released.position);
      expect([await store.available('AV-1'), await store.isSoldOut('AV-1')]).to.deep.equal([2, false]);
      await store.reset('runner');
      expect(await store.loadCheckpoint('runner')).to.equal(undefined);
    });
  });

  describe('RedisInvalidationBus', () => {
    it('delivers invalidations to every subscriber', async () => {
      const [pub, subA, subB] = [client(), client(), client()];
      await Promise.all([pub.connect(), subA.connect(), subB.connect()]);
      const channel = `crest-test:${randomUUID()}`;
      const received: string[] = [];
      const unsubA = await new RedisInvalidationBus(pub, subA, channel).subscribe((i) => received.push(`a:${i.cards.join()}`));
      const unsubB = await new RedisInvalidationBus(pub, subB, channel).subscribe((i) => received.push(`b:${i.cards.join()}`));
      await new RedisInvalidationBus(pub, subA, channel).publish({ cards: ['SKU-1', 'SKU-2'], browse: false });
      await waitFor(() => received.length === 2, 3000, 'both subscribers');
      expect(received.sort()).to.deep.equal(['a:SKU-1,SKU-2', 'b:SKU-1,SKU-2']);
      await unsubA();
      await unsubB();
    });
  });
});
