import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { Tokens } from '../../infra/composition/root';
import { seedProduct, startCrest, type TestCrest } from '../support/crest-harness';
import { checkSaleEnd, FaultSale, metricValue, waitForPaidOrders } from '../support/fault-sale';
import { requireServersFor, serverUrls } from '../support/servers';
import { stockFromLog } from '../support/stock';
import { waitFor } from '../support/wait-for';

interface Variant {
  readonly name: string;
  readonly overrides: (id: string) => Record<string, string>;
  readonly needs?: 'mongodb';
  /** Where the new generation lives, as the admin API describes it. */
  readonly target: (crest: TestCrest, id: string) => string;
  readonly cleanup?: (id: string) => Promise<void>;
}

const variants: readonly Variant[] = [
  { name: 'memory read models (the default)', overrides: () => ({}), target: () => 'memory (generation g1)' },
  { name: 'SQLite read models', overrides: () => ({ CREST_READ_MODELS: 'sqlite' }), target: (crest) => join(crest.dataDir, 'read-models-g1.sqlite') },
  {
    name: 'MongoDB read models (FerretDB)',
    needs: 'mongodb',
    overrides: (id) => ({ CREST_READ_MODELS: 'mongodb', MONGODB_URL: serverUrls.mongodb, MONGODB_DATABASE: `crest_rebuild_${id}` }),
    target: (_crest, id) => `MongoDB database crest_rebuild_${id}_g1`,
    cleanup: async (id) => {
      const mongo = new MongoClient(serverUrls.mongodb, { serverSelectionTimeoutMS: 5000 });
      await mongo.connect();
      for (const name of [`crest_rebuild_${id}`, `crest_rebuild_${id}_g1`]) await mongo.db(name).dropDatabase().catch(() => undefined);
      await mongo.close();
    },
  },
];

for (const variant of variants) {
  describe(`blue/green rebuild of the read models under a running sale: ${variant.name}`, function () {
    this.timeout(120_000);
    const id = randomUUID().slice(0, 8);
    let crest: TestCrest | undefined;

    before(async function () {
      if (variant.needs) await requireServersFor(this, variant.needs);
      crest = await startCrest({ ...variant.overrides(id), CREST_CACHE_TTL_MS: '50', CREST_BROWSE_CACHE_TTL_MS: '50' });
    });

    after(async () => {
      await crest?.dispose();
      await variant.cleanup?.(id);
    });

    it('switches readers to the rebuilt generation with no failed read, and the new one equals the log', async () => {
      // given a sale running: orders, payments, read-backs with X-Min-Position, order pages, cards and browse pages
      const c = crest!;
      const skus = ['A', 'B', 'C'].map((s) => `REBUILD-${s}-${id}`);
      for (const sku of skus) await seedProduct(c, sku, 400, 1500);
      const sale = new FaultSale({ name: 'rebuild', targets: () => [c.url], skus, category: 'flash', prefix: `rb-${id}`, hangBoundMs: 10_000 });
      const traffic = sale.traffic({ orders: 4000, clients: 8, maxMs: 60_000, browse: true, payEvery: 4, readBackEvery: 1, statusEvery: 3 });
      await traffic.reach(100, 20_000, 'the sale to be under way');

      // when an operator rebuilds the read models and asks to switch once the new ones have caught up
      sale.openWindow();
      const started = await c.call('POST', '/v1/admin/read-models/rebuild', { admin: true, body: { switch: true } });
      expect(started.status, JSON.stringify(started.body)).to.equal(202);
      expect(started.body.rebuild).to.include({ generation: 'g1', replacing: 'g0', target: variant.target(c, id), switchWhenCaughtUp: true });
      let status: any;
      await waitFor(
        async () => {
          status = (await c.call('GET', '/v1/admin/read-models', { admin: true })).body;
          return status.rebuild?.state === 'switched' || status.rebuild?.state === 'failed';
        },
        60_000,
        'the switch',
      );
      const ordersAtSwitch = traffic.done;
      await traffic.reach(ordersAtSwitch + 100, 30_000, 'orders after the switch');
      sale.closeWindow();
      await traffic.stop();
      sale.report('during the rebuild and switch');

      // then readers are on g1, and every client got a good answer: no read failed, went stale or waited in vain
      expect(status.rebuild, JSON.stringify(status)).to.include({ state: 'switched', generation: 'g1' });
      expect(status.generation).to.equal('g1');
      expect(status.rebuild.replacingKept, 'a file or a database is kept after the switch; memory goes').to.equal(!variant.name.startsWith('memory'));
      sale.expectClientsWereAnsweredWell();
      for (const kind of ['read-back', 'order-page', 'card', 'browse']) {
        expect(sale.tally.count(kind, 200), `${kind}: ${sale.tally.format()}`).to.be.above(0);
        expect(sale.windowTally.count(kind, 200), `${kind} during the rebuild: ${sale.windowTally.format()}`).to.be.above(0);
        for (const failed of [404, 409, 500, 503]) expect(sale.tally.count(kind, failed), `${kind} ${failed}: ${sale.tally.format()}`).to.equal(0);
      }

      // and the stock invariant holds, nothing acknowledged is lost, and g1's inventory equals the log for every SKU
      const store = c.running.container.get(Tokens.EventStore);
      await waitForPaidOrders(store, sale, 30_000);
      await checkSaleEnd(store, sale, { received: 400 });
      const head = (await store.headPosition()) ?? 0;
      for (const sku of skus) {
        const fromLog = await stockFromLog(store, sku);
        const read = await c.call('GET', `/v1/inventory/${sku}`, { headers: { 'x-min-position': String(head) } });
        expect(read.status).to.equal(200);
        expect(read.body).to.deep.include({ received: fromLog.received, reserved: fromLog.reserved, sold: fromLog.sold, available: fromLog.available });
      }
      const metrics = await (await fetch(`${c.url}/metrics`)).text();
      expect(metricValue(metrics, 'crest_read_model_switches_total')).to.equal(1);
      if (variant.name.startsWith('SQLite')) expect(existsSync(join(c.dataDir, 'read-models.generation.json'))).to.equal(true);
    });

    it('answers a repeated switch with no change, makes one rebuild of two requests, and refuses to switch to a cancelled one', async () => {
      // given readers on g1 after the switch
      const c = crest!;
      // when the switch is asked for again
      const again = await c.call('POST', '/v1/admin/read-models/switch', { admin: true });
      // then nothing changes
      expect(again.status).to.equal(200);
      expect(again.body).to.include({ generation: 'g1' });
      // when a rebuild is asked for twice
      const first = await c.call('POST', '/v1/admin/read-models/rebuild', { admin: true, body: {} });
      const second = await c.call('POST', '/v1/admin/read-models/rebuild', { admin: true, body: { switch: false } });
      // then both answers name the same new generation
      expect(first.status).to.equal(202);
      expect(first.body.rebuild.generation).to.equal('g2');
      expect(second.body.rebuild.generation).to.equal('g2');
      // and without the admin token nothing is shown
      expect((await c.call('GET', '/v1/admin/read-models')).status).to.equal(401);
      // when it is cancelled and a switch is asked for
      await waitFor(async () => (await c.call('GET', '/v1/admin/read-models', { admin: true })).body.rebuild?.state === 'caught_up', 30_000, 'g2 to catch up');
      const cancelled = await c.call('DELETE', '/v1/admin/read-models/rebuild', { admin: true });
      expect(cancelled.body.rebuild.state).to.equal('cancelled');
      const refused = await c.call('POST', '/v1/admin/read-models/switch', { admin: true });
      // then the switch is refused in problem+json, and readers stay on g1
      expect(refused.status).to.equal(409);
      expect(refused.headers.get('content-type')).to.match(/^application\/problem\+json/);
      expect(refused.body.code).to.equal('rebuild_not_ready');
      expect((await c.call('GET', '/v1/admin/read-models', { admin: true })).body.generation).to.equal('g1');
    });
  });
}
