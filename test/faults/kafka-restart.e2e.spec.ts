import { expect } from 'chai';
import { expectNoRoleRestarted, expectReadModelsEqualLog, expectRelayDeliveredLog, reportAndCheckClients, roleFollowerMetric, useFaultCluster } from '../support/fault-cluster';
import { checkSaleEnd, ensureServerUp, FaultSale, services, waitForPaidOrders } from '../support/fault-sale';
import { waitFor } from '../support/wait-for';

const STOCK = 400;
const HANG_BOUND_MS = 10_000;

describe('fault: the Kafka broker restarts mid-sale (cluster: 2 API nodes, 2 inventory workers, projections, sagas, relay)', function () {
  this.timeout(360_000);
  // whatever happened, the rest of the suite finds Kafka running
  const cluster = useFaultCluster(() => ensureServerUp('kafka'));

  it('keeps every acknowledged order and 0 oversold; inventory workers and the relay recover without a restart', async () => {
    // given a sale through both API nodes, with every third order paid
    const c = cluster();
    const skus = ['A', 'B', 'C', 'D'].map((s) => `KR-${s}-${c.id}`);
    await c.seed(skus, STOCK);
    const sale = new FaultSale({ name: 'kafka-restart', targets: () => c.apis(), skus, category: 'cluster', prefix: `kr-${c.id}`, hangBoundMs: HANG_BOUND_MS });
    const traffic = sale.traffic({ orders: 700, clients: 12, maxMs: 180_000, payEvery: 3, statusEvery: 10, thinkMs: 20 });
    await traffic.reach(100, 60_000, 'the sale to be under way');

    // when the broker stops (controlled shutdown) and starts again mid-sale
    sale.openWindow();
    const downAt = traffic.done;
    const stopping = services('down', 'kafka');
    // then the inventory workers' readiness names their consumer while it cannot reach the group
    let stalled: any;
    await waitFor(
      async () => {
        const ready = await c.call(c.proc('inventory-1').url, 'GET', '/health/ready').catch(() => undefined);
        stalled = ready?.body;
        return ready?.status === 503 && ready.body?.status === 'stalled';
      },
      90_000,
      "inventory-1's readiness to report its consumer stalled",
    );
    expect(stalled.stalled.map((s: { follower: string }) => s.follower)).to.include('inventory-consumer');
    await stopping;
    await services('up', 'kafka');
    // then orders are placed again through the inventory workers, without restarting anything
    const upAt = traffic.done;
    await waitFor(async () => (await c.status(c.proc('inventory-1').url, '/health/ready')) === 200 && (await c.status(c.proc('inventory-2').url, '/health/ready')) === 200, 120_000, 'the inventory workers to be ready again');
    await traffic.reach(upAt + 100, 120_000, '100 more orders after the broker is back');
    expect(sale.tally.count('orders', 201), 'orders placed (201)').to.be.greaterThan(0);
    sale.closeWindow();
    await traffic.stop();

    // then what clients saw: no 5xx but 503 (with Retry-After), nothing slower than the bound
    reportAndCheckClients(sale, 'from the broker stopping until the workers were ready again');
    console.log(`      [fault:kafka-restart] ${downAt} orders before the stop, ${upAt - downAt} while it was down or starting, ${traffic.done - upAt} after; inventory-1 readiness said ${JSON.stringify(stalled)}`);

    // and every 202 resolved, every paid order confirmed, and the end state holds
    await sale.resolvePending(120_000);
    await waitForPaidOrders(c.store, sale, 120_000);
    const summary = await checkSaleEnd(c.store, sale, { received: STOCK });
    expect(summary.leakedUnits, 'units held by orders that are not awaiting payment').to.equal(0);

    // and the workers recovered in place: same processes, their consumer reports retries then recovery
    expectNoRoleRestarted(c);
    for (const worker of ['inventory-1', 'inventory-2']) {
      expect(await roleFollowerMetric(c, worker, 'crest_follower_stalled', 'inventory-consumer'), `${worker} consumer`).to.equal(0);
    }
    const retried = (await roleFollowerMetric(c, 'inventory-1', 'crest_follower_retries_total', 'inventory-consumer')) ?? 0;
    const retried2 = (await roleFollowerMetric(c, 'inventory-2', 'crest_follower_retries_total', 'inventory-consumer')) ?? 0;
    console.log(`      [fault:kafka-restart] inventory consumers failed and recovered: ${retried} + ${retried2} failed attempts`);
    expect(retried + retried2, 'the consumers saw the broker go').to.be.greaterThan(0);

    // and the read models and the relay caught up with the log
    await expectReadModelsEqualLog(c, skus);
    const relayed = await expectRelayDeliveredLog(c);
    console.log(`      [fault:kafka-restart] relay: all ${relayed.events} events of the log reached Kafka (${relayed.messages} messages, ${relayed.repeats} repeats)`);
  });
});
