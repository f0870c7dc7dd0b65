import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { MongoClient } from 'mongodb';
import pino from 'pino';
import { parseConfig } from '../../infra/config/config';
import { Tokens } from '../../infra/composition/root';
import { startRole, type RunningRole } from '../../infra/composition/roles';
import { defaultAvailabilityKeys } from '../../infra/redis/redis-availability';
import { dropRedisPrefix } from '../support/cluster';
import { seedProduct, startCrest, type TestCrest } from '../support/crest-harness';
import { checkSaleEnd, ensureServerUp, FaultSale, metricValue, services, waitForStalled } from '../support/fault-sale';
import { requireServersFor, serverUrls } from '../support/servers';
import { stockFromLog } from '../support/stock';
import { waitFor } from '../support/wait-for';

const STOCK = 1000;
const HANG_BOUND_MS = 10_000;
const FOLLOWER = 'redis-availability';

describe('fault: Redis goes down mid-sale and comes back (crest start, CREST_CACHE=redis)', function () {
  this.timeout(120_000);
  const id = randomUUID().slice(0, 8);
  const prefix = `fault-redis-${id}`;
  const workerPrefix = `${prefix}-w`;
  const workerDatabase = `crest_fault_redis_${id}`;
  let crest: TestCrest | undefined;
  let worker: RunningRole | undefined;

  before(async function () {
    await requireServersFor(this, 'redis', 'mongodb');
    crest = await startCrest({
      CREST_CACHE: 'redis',
      REDIS_URL: serverUrls.redis,
      CREST_REDIS_PREFIX: prefix,
      CREST_FOLLOWER_STALL_MS: '500',
      CREST_FOLLOWER_RETRY_MAX_MS: '500',
      CREST_BROWSE_CACHE_TTL_MS: '200',
      CREST_CACHE_TTL_MS: '1000',
    });
    // a cluster's projection worker over the same log, keeping its own Redis availability read model
    worker = await startRole(
      'projections',
      parseConfig(
        {},
        {
          PORT: '0',
          CREST_DATA_DIR: crest.dataDir,
          CREST_READ_MODELS: 'mongodb',
          MONGODB_URL: serverUrls.mongodb,
          MONGODB_DATABASE: workerDatabase,
          CREST_CACHE: 'redis',
          REDIS_URL: serverUrls.redis,
          CREST_REDIS_PREFIX: workerPrefix,
          CREST_PROJECTION_BATCH: '5000',
          CREST_FOLLOWER_RETRY_MAX_MS: '500',
        },
      ),
      { logger: pino({ level: 'silent' }) },
    );
  });

  after(async () => {
    try {
      await worker?.stop();
      await crest?.dispose();
    } finally {
      // whatever happened, the rest of the suite finds Redis running
      await ensureServerUp('redis');
      await dropRedisPrefix(prefix);
      await dropRedisPrefix(workerPrefix);
      const mongo = new MongoClient(serverUrls.mongodb, { serverSelectionTimeoutMS: 5000 });
      await mongo
        .connect()
        .then(() => mongo.db(workerDatabase).dropDatabase())
        .catch(() => undefined);
      await mongo.close().catch(() => undefined);
    }
  });

  it('keeps selling and browsing while Redis is down, and its follower recovers when Redis is back', async () => {
    // given a catalogue with stock, and clients ordering, browsing and reading their orders back
    const c = crest!;
    const skus = ['A', 'B', 'C', 'D'].map((s) => `REDIS-${s}-${id}`);
    for (const sku of skus) await seedProduct(c, sku, STOCK, 1500);
    const category = 'flash';
    const sale = new FaultSale({ name: 'redis-down', targets: () => [c.url], skus, category, prefix: `rd-${id}`, hangBoundMs: HANG_BOUND_MS });
    const traffic = sale.traffic({ orders: 1500, clients: 6, maxMs: 60_000, browse: true, readBackEvery: 10, thinkMs: 20 });
    await traffic.reach(100, 20_000, 'the sale to be under way');
    const retriesBefore = (await followerMetric(c, 'crest_follower_retries_total')) ?? 0;

    // when Redis stops mid-sale
    await services('down', 'redis');
    sale.openWindow();
    const downAt = traffic.done;

    // then readiness names the redis-availability follower as stalled, while orders and browsing go on
    const { entry: stalled, names: stalledNames } = await waitForStalled((method, path) => c.call(method, path), FOLLOWER, 20_000);
    expect(stalled.state).to.equal('retrying');
    expect(stalled.attempts).to.be.greaterThan(0);
    expect(stalledNames, 'only the follower that needs Redis stalls').to.deep.equal([FOLLOWER]);
    await traffic.reach(downAt + 150, 30_000, '150 more orders while Redis is down');
    expect(await followerMetric(c, 'crest_follower_stalled')).to.equal(1);
    expect(await followerMetric(c, 'crest_follower_failing_seconds')).to.be.greaterThan(0);
    expect((await followerMetric(c, 'crest_follower_retries_total')) ?? 0).to.be.greaterThan(retriesBefore);

    // when Redis is back
    await services('up', 'redis');
    await waitFor(async () => (await c.call('GET', '/health/ready')).status === 200, 30_000, 'readiness to be 200 again');
    sale.closeWindow();
    const upAt = traffic.done;
    await traffic.reach(upAt + 100, 30_000, '100 more orders after Redis is back');
    await traffic.stop();

    // then clients were answered throughout, within the bound, with no 5xx but 503 (and Retry-After)
    sale.report('while Redis was down');
    sale.expectClientsWereAnsweredWell();
    expect(sale.windowTally.count('orders', 201), 'orders were placed while Redis was down').to.be.greaterThan(100);
    const cardsInWindow = sale.windowTally.count('card', 200) + sale.windowTally.count('card', 304);
    expect(cardsInWindow, 'product cards answered while Redis was down').to.be.greaterThan(100);
    for (const kind of ['card', 'browse']) {
      expect(sale.windowTally.count(kind, 503) + sale.windowTally.count(kind, 500) + sale.windowTally.count(kind, 0), `${kind} never failed while Redis was down (stale is fine)`).to.equal(0);
    }

    // and the redis-availability follower retried, then recovered: not stalled, failing for 0 s, and at the log's head
    const store = c.running.container.get(Tokens.EventStore);
    const head = (await store.headPosition()) ?? 0;
    await waitFor(async () => (await followerMetric(c, 'crest_follower_position')) === head, 30_000, 'the redis-availability follower to reach the head');
    expect(await followerMetric(c, 'crest_follower_stalled')).to.equal(0);
    expect(await followerMetric(c, 'crest_follower_failing_seconds')).to.equal(0);
    expect((await followerMetric(c, 'crest_follower_retries_total')) ?? 0).to.be.greaterThan(retriesBefore);

    // and the sale's end state: 0 oversold, 0 acknowledged orders lost, 0 duplicates, no stock held by no one
    const summary = await checkSaleEnd(store, sale, { received: STOCK });
    expect(summary.leakedUnits).to.equal(0);

    // and Redis, which restarted empty, holds the right availability again where a projection worker keeps it: the
    // worker saw the data go and rebuilt it from the log
    const redis = new Redis(serverUrls.redis, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      const availabilityIn = async (keyPrefix: string) => {
        const rows = new Map<string, { log: number; redis: string | null }>();
        for (const sku of skus) rows.set(sku, { log: (await stockFromLog(store, sku)).available, redis: await redis.hget(defaultAvailabilityKeys(keyPrefix).available, sku) });
        return rows;
      };
      const agrees = (rows: Map<string, { log: number; redis: string | null }>) => [...rows.values()].every((r) => r.redis !== null && Number(r.redis) === r.log);
      await waitFor(async () => agrees(await availabilityIn(workerPrefix)), 60_000, "the projection worker's Redis availability to equal the log");
      const show = (rows: Map<string, { log: number; redis: string | null }>) => [...rows].map(([sku, r]) => `${sku} log ${r.log} redis ${r.redis ?? 'missing'}`).join('; ');
      console.log(`      [fault:redis-down] availability in Redis vs the log after the restart: crest work projections (rebuilt): ${show(await availabilityIn(workerPrefix))}`);
      // crest start watches for the same loss and rebuilds too
      await waitFor(async () => agrees(await availabilityIn(prefix)), 60_000, "crest start's Redis availability to equal the log");
      console.log(`      [fault:redis-down] crest start (rebuilt): ${show(await availabilityIn(prefix))}`);
      expect(await workerStatus(worker!), 'the projection worker is ready').to.equal(200);
    } finally {
      redis.disconnect();
    }
  });
});

const workerStatus = async (role: RunningRole): Promise<number> => (await fetch(`${role.url}/health/ready`)).status;

const followerMetric = async (crest: TestCrest, name: string): Promise<number | undefined> =>
  metricValue((await crest.call('GET', '/metrics')).body as string, name, { follower: FOLLOWER });
