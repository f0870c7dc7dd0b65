import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { TestCluster } from './cluster';
import { metricValue, type FaultSale } from './fault-sale';
import { requireServersFor, serverUrls } from './servers';
import { stockFromLog } from './stock';
import { waitFor } from './wait-for';

/** The cluster config fault scenarios share: a bounded wait for owners, the relay on, quick stall reports. */
export const faultClusterEnv: Record<string, string> = {
  CREST_INVENTORY_TIMEOUT_MS: '15000',
  CREST_RELAY: 'kafka',
  CREST_RELAY_BATCH: '200',
  CREST_FOLLOWER_STALL_MS: '1000',
  CREST_FOLLOWER_RETRY_MAX_MS: '1000',
};

/** Starts the roles a fault scenario runs: 2 API nodes, 2 inventory workers, projections, sagas and the relay. */
export const startFaultCluster = async (cluster: TestCluster): Promise<void> => {
  await Promise.all([cluster.launch('inventory-1', ['work', 'inventory']), cluster.launch('inventory-2', ['work', 'inventory'])]);
  await Promise.all([cluster.launch('projections', ['work', 'projections']), cluster.launch('sagas', ['work', 'sagas']), cluster.launch('relay', ['work', 'relay'])]);
  await Promise.all([cluster.launch('api-1', ['serve']), cluster.launch('api-2', ['serve'])]);
};

/**
 * Registers the hooks every cluster fault suite needs: a fault cluster started before its tests, the roles' output
 * printed when a test fails, and the cluster disposed after (then `afterDispose`, even if disposing failed).
 * Returns the running cluster.
 */
export const useFaultCluster = (afterDispose?: () => Promise<void>): (() => TestCluster) => {
  let cluster: TestCluster | undefined;
  before(async function () {
    await requireServersFor(this, 'kafka', 'mongodb', 'redis');
    cluster = new TestCluster({ env: faultClusterEnv });
    await startFaultCluster(cluster);
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed' && cluster) console.log(cluster.tails());
  });
  after(async () => {
    try {
      await cluster?.dispose();
    } finally {
      await afterDispose?.();
    }
  });
  return () => cluster!;
};

/** The value of a `crest_follower_*` sample on a role's /metrics, or undefined. */
export const roleFollowerMetric = async (cluster: TestCluster, role: string, name: string, follower: string): Promise<number | undefined> => {
  const metrics = await cluster.call(cluster.proc(role).url, 'GET', '/metrics');
  return metricValue(metrics.body as string, name, { follower });
};

/**
 * Waits until the read models (FerretDB, built by the projection worker) have reached the head of the log, and checks
 * that every SKU's inventory view on every API node equals the log.
 */
export const expectReadModelsEqualLog = async (cluster: TestCluster, skus: readonly string[], maxMs = 120_000): Promise<void> => {
  const head = (await cluster.store.headPosition()) ?? 0;
  for (const sku of skus) {
    const truth = await stockFromLog(cluster.store, sku);
    for (const api of cluster.apis()) {
      let view = { status: 0, body: undefined as any };
      await waitFor(
        async () => (view = await cluster.call(api, 'GET', `/v1/inventory/${sku}`, undefined, { 'x-min-position': String(head) }).catch(() => ({ status: 0, body: undefined, headers: new Headers() }))).status === 200,
        maxMs,
        `the read models on ${api} to reach ${head}`,
      );
      expect(view.body, `${sku} on ${api}`).to.include({ received: truth.received, available: truth.available, reserved: truth.reserved, sold: truth.sold });
    }
  }
};

/**
 * Reads the relay topic from its beginning with a fresh consumer group until every event of the log has arrived
 * (at least once, by `crest-event-id`). Returns how many messages were read and how many repeated an id.
 */
export const expectRelayDeliveredLog = async (cluster: TestCluster, maxMs = 90_000): Promise<{ messages: number; repeats: number; events: number }> => {
  const events = await cluster.store.readAll();
  const wanted = new Set(events.map((e) => e.id));
  const seen = new Set<string>();
  let messages = 0;
  const kafka = new Kafka({ clientId: 'crest-fault-relay-check', brokers: serverUrls.kafka.split(','), logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `fault-relay-check-${randomUUID()}` });
  try {
    await consumer.connect();
    await consumer.subscribe({ topic: cluster.relayTopic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        messages++;
        const id = message.headers?.['crest-event-id']?.toString();
        if (id) seen.add(id);
      },
    });
    await waitFor(() => [...wanted].every((id) => seen.has(id)), maxMs, `all ${wanted.size} events of the log on ${cluster.relayTopic}`).catch((error: Error) => {
      throw new Error(`${error.message}: ${[...wanted].filter((id) => !seen.has(id)).length} missing`);
    });
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  return { messages, repeats: messages - seen.size, events: wanted.size };
};

/** Every role process that was not killed on purpose is still the one started at the beginning. */
export const expectNoRoleRestarted = (cluster: TestCluster, killed: readonly string[] = []): void => {
  const died = cluster.procs.filter((p) => (p.child.exitCode !== null || p.child.signalCode !== null) && !killed.includes(p.name));
  expect(
    died.map((p) => `${p.name}: ${p.output.slice(-2000)}`),
    'roles that died on their own',
  ).to.deep.equal([]);
};

/** Prints a sale's client tally and applies the client checks every scenario shares. */
export const reportAndCheckClients = (sale: FaultSale, windowLabel: string): void => {
  sale.report(windowLabel);
  sale.expectClientsWereAnsweredWell();
};
