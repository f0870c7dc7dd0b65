import { expect } from 'chai';
import { expectNoRoleRestarted, expectReadModelsEqualLog, expectRelayDeliveredLog, reportAndCheckClients, useFaultCluster } from '../support/fault-cluster';
import { checkSaleEnd, FaultSale, waitForPaidOrders } from '../support/fault-sale';

const STOCK = 3000;
const HANG_BOUND_MS = 10_000;

interface Victim {
  /** The role process to SIGKILL (one of those startFaultCluster starts). */
  readonly role: string;
  /** What clients meet while it is dead. */
  readonly meanwhile: string;
  /** Connections refused or reset are what a client of a killed API node sees; from any other kill they are a fault. */
  readonly allowNoAnswer?: boolean;
}

const victims: readonly Victim[] = [
  { role: 'api-1', meanwhile: 'requests in flight on it are cut; clients retry them (same Idempotency-Key) on the other node', allowNoAnswer: true },
  { role: 'inventory-1', meanwhile: 'its partitions are unowned until the session timeout: orders for their SKUs answer 202 and resolve later' },
  { role: 'projections', meanwhile: 'the read models stop moving; orders go on' },
  { role: 'sagas', meanwhile: 'accepted payments wait; orders go on' },
  { role: 'relay', meanwhile: 'nothing reaches crest.events; orders go on' },
];

describe('fault: SIGKILL of each cluster role mid-sale, then a restart of it (2 API nodes, 2 inventory workers, projections, sagas, relay)', function () {
  this.timeout(600_000);
  const cluster = useFaultCluster();
  const killed: string[] = [];

  for (const victim of victims) {
    it(`${victim.role}: ${victim.meanwhile}; after its restart every acknowledged order is there, 0 oversold, 0 duplicates`, async function () {
      this.timeout(300_000);
      // given a sale through both API nodes, with every fourth order paid
      const c = cluster();
      const tag = victim.role.replace(/-\d$/, '');
      const skus = ['A', 'B', 'C'].map((s) => `KILL-${tag}-${s}-${c.id}`);
      await c.seed(skus, STOCK);
      const sale = new FaultSale({
        name: `kill-${victim.role}`,
        targets: () => c.apis(),
        skus,
        category: 'cluster',
        prefix: `kill-${tag}-${c.id}`,
        hangBoundMs: HANG_BOUND_MS,
        allowNoAnswer: victim.allowNoAnswer ?? false,
      });
      const started = Date.now();
      const traffic = sale.traffic({ orders: 6000, clients: 12, maxMs: 240_000, payEvery: 4, statusEvery: 10, thinkMs: 40 });
      await traffic.reach(60, 60_000, 'the sale to be under way');

      // when the role is SIGKILLed mid-sale, the sale goes on without it for a while, and it is started again
      sale.openWindow();
      const dead = await c.kill(victim.role, 'SIGKILL');
      killed.push(victim.role);
      const killedAt = traffic.done;
      await traffic.reach(killedAt + 40, 60_000, `40 orders while ${victim.role} is dead`);
      const restarted = await c.restart(dead);
      expect(restarted.child.exitCode).to.equal(null);
      sale.closeWindow();
      const restartedAt = traffic.done;
      await traffic.reach(restartedAt + 60, 90_000, `60 orders after ${victim.role} is back`);
      await traffic.stop();

      // then what clients saw: no 5xx but 503 (with Retry-After), nothing slower than the bound
      reportAndCheckClients(sale, `from the SIGKILL of ${victim.role} until it was ready again`);

      // and every 202 resolved, every paid order confirmed, and the end state holds
      await sale.resolvePending(120_000);
      await waitForPaidOrders(c.store, sale, 120_000);
      const summary = await checkSaleEnd(c.store, sale, { received: STOCK });
      expect(summary.leakedUnits, 'units held by orders that are not awaiting payment').to.equal(0);
      expectNoRoleRestarted(c, killed);

      // and the read models and the relay caught up with the log
      await expectReadModelsEqualLog(c, skus);
      const relayed = await expectRelayDeliveredLog(c);
      console.log(
        `      [fault:kill-${victim.role}] ${killedAt} orders before the kill, ${restartedAt - killedAt} while it was dead or starting, ${traffic.done - restartedAt} after; relay: all ${relayed.events} events of the log on Kafka (${relayed.repeats} repeats); ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    });
  }
});
