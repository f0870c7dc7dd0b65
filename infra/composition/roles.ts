import type { Container } from 'inversify';
import { Kafka, logLevel } from 'kafkajs';
import pino, { type Logger } from 'pino';
import type { ProjectionRunner } from '../../projections/projection-runner';
import { Storefront } from '../../read-api/storefront';
import { CheckpointProgress } from '../../projections/checkpoint-progress';
import { ConfigError, type CrestConfig } from '../config/config';
import { KafkaInventoryWorker } from '../kafka/kafka-inventory';
import { defaultAvailabilityKeys, rebuildWhenLost, RedisAvailability } from '../redis/redis-availability';
import { openConnections } from './connections';
import { createContainer, Tokens, withTracing, type CompositionOptions, type Role } from './root';

export interface RunningRole {
  readonly role: Role;
  readonly container: Container;
  /** Where the role's HTTP (API, or health and metrics for workers) listens. */
  readonly url: string;
  stop(): Promise<void>;
}

const requireCluster = (config: CrestConfig, role: Role): void => {
  const problems: string[] = [];
  if (config.CREST_INVENTORY !== 'kafka' && role !== 'projections' && role !== 'relay') problems.push(`CREST_INVENTORY="${config.CREST_INVENTORY}": \`crest ${role === 'serve' ? 'serve' : `work ${role}`}\` runs in a cluster and needs CREST_INVENTORY=kafka`);
  if ((role === 'serve' || role === 'projections') && config.CREST_READ_MODELS !== 'mongodb') problems.push(`CREST_READ_MODELS="${config.CREST_READ_MODELS}": API nodes and the projection worker share read models only through CREST_READ_MODELS=mongodb`);
  if ((role === 'serve' || role === 'projections') && config.CREST_CACHE !== 'redis') problems.push(`CREST_CACHE="${config.CREST_CACHE}": cache invalidations reach API nodes only through CREST_CACHE=redis`);
  if (config.CREST_EVENT_STORE === 'memory') problems.push('CREST_EVENT_STORE="memory": processes cannot share an in-memory event store; use sqlite (one machine), postgresql or eventstoredb');
  if (problems.length > 0) throw new ConfigError(problems);
};

/** Creates the Kafka topic for inventory commands with the configured partitions, if it does not exist. */
const ensureInventoryTopic = async (config: CrestConfig): Promise<void> => {
  const admin = new Kafka({ clientId: 'crest-admin', brokers: config.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const existing = await admin.listTopics();
    if (existing.includes(config.CREST_INVENTORY_TOPIC)) return;
    // several roles may start at once; whichever creates the topic first wins, and the rest find it there
    await admin
      .createTopics({ topics: [{ topic: config.CREST_INVENTORY_TOPIC, numPartitions: config.CREST_INVENTORY_PARTITIONS }], waitForLeaders: true })
      .catch(async (error: unknown) => {
        if (!(await admin.listTopics()).includes(config.CREST_INVENTORY_TOPIC)) throw error;
      });
  } finally {
    await admin.disconnect();
  }
};

/**
 * Starts one role of the cluster: `crest serve` (API node), `crest work inventory|projections|sagas`.
 * Every role reads the same config; workers serve /health and /metrics on PORT.
 */
export const startRole = async (role: Exclude<Role, 'all' | 'relay'>, config: CrestConfig, given: CompositionOptions = {}): Promise<RunningRole> => {
  requireCluster(config, role);
  const logger: Logger = given.logger ?? pino({ level: config.CREST_LOG_LEVEL, base: { service: 'crest', role } });
  const { options, stopTracing } = withTracing(config, { ...given, logger, role }, role);
  const opened = await openConnections(config, (server, error) => logger.warn({ server, err: error.message }, 'connection problem; retrying')).catch(async (error: unknown) => {
    await stopTracing();
    throw error;
  });
  // the spans of the stop itself are exported last
  const connections = { ...opened, close: () => opened.close().finally(stopTracing) };
  const container = createContainer(config, options, connections);
  const stops: Array<() => Promise<void> | void> = [];
  let ready: () => boolean = () => true;
  try {
    if (config.CREST_INVENTORY === 'kafka') await ensureInventoryTopic(config);
    // an inventory worker owns the writers itself; every other role reaches them through the gateway
    if (role !== 'inventory') {
      const gateway = container.get(Tokens.GatewaySetup);
      await gateway.start();
      stops.push(() => gateway.stop());
    }
    switch (role) {
      case 'serve': {
        const catalog = container.get(Tokens.Catalog);
        await catalog.start();
        stops.push(() => catalog.stop());
        const saleCalendar = container.get(Tokens.SaleCalendar);
        await saleCalendar.start();
        stops.push(() => saleCalendar.stop());
        const generations = container.get(Tokens.GenerationFollower);
        await generations.start();
        stops.push(() => generations.stop());
        const progress = container.get(Tokens.Progress) as CheckpointProgress;
        await progress.start();
        stops.push(() => progress.stop());
        const storefront = container.get(Tokens.Storefront);
        const bus = container.get(Tokens.InvalidationBus)!;
        const unsubscribe = await bus.subscribe((invalidation) => {
          storefront.invalidate(invalidation);
          progress.nudge();
        });
        stops.push(unsubscribe);
        const app = await container.getAsync(Tokens.HttpApp);
        const url = await app.listen({ port: config.PORT, host: config.HOST });
        stops.unshift(() => app.close());
        return finish(role, container, url, stops, connections.close);
      }
      case 'inventory': {
        // a consumer that dies is replaced, and while it is down readiness, metrics and logs say so
        const worker = new KafkaInventoryWorker(
          connections.kafka!,
          container.get(Tokens.Inventory),
          connections.redis!,
          container.get(Tokens.Metrics).inventoryWorkerObserver(logger),
          {
            topic: config.CREST_INVENTORY_TOPIC,
            groupId: `${config.CREST_REDIS_PREFIX}-inventory`,
            partitionsConcurrently: config.CREST_INVENTORY_PARTITIONS,
            sessionTimeoutMs: config.CREST_INVENTORY_SESSION_TIMEOUT_MS,
            name: 'inventory-consumer',
            retryMaxMs: config.CREST_FOLLOWER_RETRY_MAX_MS,
          },
          container.get(Tokens.FollowerMonitor),
        );
        await worker.start();
        stops.push(() => worker.stop());
        break;
      }
      case 'projections': {
        const readModels = container.get(Tokens.BlueGreen);
        const runners: ProjectionRunner[] = container.get(Tokens.Projections);
        const bus = container.get(Tokens.InvalidationBus)!;
        readModels.onChanges((changes) => void bus.publish(Storefront.invalidationsFor(changes)).catch(() => undefined));
        // Redis may come back empty after a restart: the availability read model is then rebuilt from the log
        const availability = runners.find((r) => r.name === 'redis-availability');
        if (availability && connections.redis) {
          const stopWatching = await rebuildWhenLost(new RedisAvailability(connections.redis, defaultAvailabilityKeys(config.CREST_REDIS_PREFIX)), availability, logger, config.CREST_FOLLOWER_RETRY_MAX_MS);
          stops.push(stopWatching);
        }
        await readModels.start();
        stops.push(() => readModels.stop());
        for (const runner of runners) {
          await runner.start();
          stops.push(() => runner.stop());
        }
        ready = () => readModels.progress.ready() && runners.every((r) => r.ready);
        break;
      }
      case 'sagas': {
        const saga = container.get(Tokens.CheckoutRunner);
        await saga.start();
        stops.push(() => container.get(Tokens.PaymentProvider).stop(), () => saga.stop());
        break;
      }
    }
    container.bind(Tokens.WorkerReady).toConstantValue(() => ready());
    const ops = await container.getAsync(Tokens.OpsApp);
    const url = await ops.listen({ port: config.PORT, host: config.HOST });
    stops.unshift(() => ops.close());
    return finish(role, container, url, stops, connections.close);
  } catch (error) {
    for (const stop of stops.reverse()) await Promise.resolve(stop()).catch(() => undefined);
    await connections.close();
    throw error;
  }
};

const finish = (role: Role, container: Container, url: string, stops: Array<() => Promise<void> | void>, closeConnections: () => Promise<void>): RunningRole => {
  let stopping: Promise<void> | undefined;
  return {
    role,
    container,
    url,
    stop: () =>
      (stopping ??= (async () => {
        for (const stop of stops) await Promise.resolve(stop()).catch(() => undefined);
        await container.get(Tokens.EventStore).close();
        await closeConnections();
      })()),
  };
};
