import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { Tokens } from '../../infra/composition/root';
import { seedProduct, startCrest, type TestCrest } from '../support/crest-harness';
import { checkSaleEnd, ensureServerUp, FaultSale, metricValue, services, waitForStalled } from '../support/fault-sale';
import { requireServersFor, serverUrls } from '../support/servers';
import { stockFromLog } from '../support/stock';
import { waitFor } from '../support/wait-for';

const STOCK = 1000;
const HANG_BOUND_MS = 10_000;
const FOLLOWER = 'read-models';

describe('fault: FerretDB goes down mid-sale and comes back (crest start, CREST_READ_MODELS=mongodb)', function () {
  this.timeout(180_000);
  const id = randomUUID().slice(0, 8);
  const database = `crest_fault_ferret_${id}`;
  let crest: TestCrest | undefined;

  before(async function () {
    await requireServersFor(this, 'mongodb');
    crest = await startCrest({
      CREST_READ_MODELS: 'mongodb',
      MONGODB_URL: serverUrls.mongodb,
      MONGODB_DATABASE: database,
      CREST_FOLLOWER_STALL_MS: '500',
      CREST_FOLLOWER_RETRY_MAX_MS: '500',
    });
  });

  after(async () => {
    try {
      await crest?.dispose();
    } finally {
      // whatever happened, the rest of the suite finds FerretDB running
      await ensureServerUp('ferretdb');
      const mongo = new MongoClient(serverUrls.mongodb, { serverSelectionTimeoutMS: 5000 });
      await mongo
        .connect()
        .then(() => mongo.db(database).dropDatabase())
        .catch(() => undefined);
      await mongo.close().catch(() => undefined);
    }
  });

  it('keeps taking orders while FerretDB is down; the read models retry, show as stalled, and equal the log once it is back', async () => {
    // given a catalogue with stock, and clients ordering, browsing and reading their orders back
    const c = crest!;
    const skus = ['A', 'B', 'C', 'D'].map((s) => `FERRET-${s}-${id}`);
    for (const sku of skus) await seedProduct(c, sku, STOCK, 1500);
    const sale = new FaultSale({ name: 'ferretdb-down', targets: () => [c.url], skus, category: 'flash', prefix: `fd-${id}`, hangBoundMs: HANG_BOUND_MS });
    const traffic = sale.traffic({ orders: 1500, clients: 6, maxMs: 90_000, browse: true, readBackEvery: 10, statusEvery: 5, thinkMs: 20 });
    await traffic.reach(100, 30_000, 'the sale to be under way');
    const retriesBefore = (await followerMetric(c, 'crest_follower_retries_total')) ?? 0;

    // when FerretDB stops mid-sale
    await services('down', 'ferretdb');
    sale.openWindow();
    const downAt = traffic.done;

    // then the read-models follower retries instead of dying, and readiness names it as stalled, while orders go on
    const { entry: stalled } = await waitForStalled((method, path) => c.call(method, path), FOLLOWER, 30_000);
    expect(stalled.state, 'retrying, not halted').to.equal('retrying');
    await traffic.reach(downAt + 150, 45_000, '150 more orders while FerretDB is down');
    expect(await followerMetric(c, 'crest_follower_stalled')).to.equal(1);
    expect((await followerMetric(c, 'crest_follower_retries_total')) ?? 0).to.be.greaterThan(retriesBefore);
    // and the read store's breaker opens: reads fail fast, answered from what was last read (stale) or 503
    await waitFor(async () => (await breakerMetric(c)) === 1, 30_000, 'the read store breaker to open');

    // when FerretDB is back
    await services('up', 'ferretdb');
    let lastReady: unknown;
    await waitFor(
      async () => {
        const ready = await c.call('GET', '/health/ready');
        lastReady = ready.body;
        return ready.status === 200;
      },
      60_000,
      'readiness to be 200 again',
    ).catch((error: Error) => {
      throw new Error(`${error.message}; last answer ${JSON.stringify(lastReady)}`);
    });
    sale.closeWindow();
    const upAt = traffic.done;
    await traffic.reach(upAt + 100, 45_000, '100 more orders after FerretDB is back');
    await traffic.stop();

    // then clients were answered within the bound, with no 5xx but 503 (and Retry-After), and orders never stopped
    sale.report('while FerretDB was down');
    sale.expectClientsWereAnsweredWell();
    expect(sale.windowTally.count('orders', 201), 'orders were placed while FerretDB was down').to.be.at.least(150);

    // and the read models caught up and equal the log: every SKU's inventory view, every acknowledged order's status
    const store = c.running.container.get(Tokens.EventStore);
    const head = (await store.headPosition()) ?? 0;
    await waitFor(async () => ((await followerMetric(c, 'crest_follower_position')) ?? 0) >= head, 60_000, 'the read models to reach the head of the log');
    expect(await followerMetric(c, 'crest_follower_stalled')).to.equal(0);
    // the breaker closes on the first read it lets through once its reset time has passed (CREST_BREAKER_RESET_MS)
    await waitFor(
      async () => {
        const read = await c.call('GET', `/v1/inventory/${skus[0]}`, { headers: { 'x-min-position': String(head) } });
        return read.status === 200 && read.headers.get('x-crest-stale') === null;
      },
      30_000,
      'reads to be answered fresh again',
    );
    expect(await breakerMetric(c)).to.equal(0);
    for (const sku of skus) {
      const truth = await stockFromLog(store, sku);
      const view = await c.call('GET', `/v1/inventory/${sku}`, { headers: { 'x-min-position': String(head) } });
      expect(view.status).to.equal(200);
      expect(view.body, sku).to.include({ received: truth.received, available: truth.available, reserved: truth.reserved, sold: truth.sold });
    }
    const summary = await checkSaleEnd(store, sale, { received: STOCK });
    expect(summary.leakedUnits).to.equal(0);
    let checked = 0;
    for (const order of sale.acknowledged()) {
      const view = await c.call('GET', `/v1/orders/${order.orderId}`);
      expect(view.status, order.orderId).to.equal(200);
      expect(view.body.status, order.orderId).to.equal('awaiting_payment');
      checked++;
    }
    console.log(`      [fault:ferretdb-down] read models equal the log: ${skus.length} inventory views, ${checked} orders`);
  });
});

const breakerMetric = async (crest: TestCrest): Promise<number | undefined> =>
  metricValue((await crest.call('GET', '/metrics')).body as string, 'crest_circuit_breaker_open', { breaker: 'mongodb-read-models' });

const followerMetric = async (crest: TestCrest, name: string): Promise<number | undefined> =>
  metricValue((await crest.call('GET', '/metrics')).body as string, name, { follower: FOLLOWER });
