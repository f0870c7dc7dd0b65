import type { FastifyInstance } from 'fastify';
import { Container } from 'inversify';
import { randomUUID } from 'node:crypto';
import pino, { type Logger } from 'pino';
import { Storefront } from '../../read-api/storefront';
import { ConfigError, type CrestConfig } from '../config/config';
import { CrestMetrics } from '../metrics/metrics';
import { bindCheckoutSaga } from './bind-checkout-saga';
import { bindHttp } from './bind-http';
import { bindReadSide } from './bind-read-side';
import { bindStores } from './bind-stores';
import { bindWriteSide } from './bind-write-side';
import { defaultAvailabilityKeys, rebuildWhenLost, RedisAvailability } from '../redis/redis-availability';
import { startTracing } from '../telemetry/tracing';
import { openConnections, type Connections } from './connections';
import { Tokens, type CompositionOptions, type WebhookSecrets } from './tokens';

export { Tokens, type CompositionOptions, type Role, type WebhookSecrets } from './tokens';

const noConnections: Connections = { close: async () => undefined };

const defaultLogger = (config: CrestConfig): Logger => pino({ level: config.CREST_LOG_LEVEL, base: { service: 'crest' } });

/** The one place where ports meet adapters. Every adapter is chosen here, from the validated config. */
export const createContainer = (config: CrestConfig, options: CompositionOptions = {}, connections: Connections = noConnections): Container => {
  const c = new Container({ defaultScope: 'Singleton' });
  c.bind(Tokens.Config).toConstantValue(config);
  c.bind(Tokens.Logger).toConstantValue(options.logger ?? defaultLogger(config));
  c.bind(Tokens.Clock).toConstantValue(options.clock ?? { now: () => new Date() });
  c.bind(Tokens.Ids).toConstantValue({ next: () => randomUUID() });
  c.bind(Tokens.Metrics).toDynamicValue(() => new CrestMetrics());
  c.bind(Tokens.TracerProvider).toConstantValue(options.tracerProvider);
  c.bind(Tokens.Tracer).toConstantValue(options.tracerProvider?.getTracer('crest'));
  c.bind(Tokens.FollowerMonitor).toDynamicValue((ctx) => ctx.get(Tokens.Metrics).followerMonitor(ctx.get(Tokens.Logger)));
  bindStores(c, config, connections);
  bindWriteSide(c, config, connections);
  bindReadSide(c, config, connections, options);
  bindCheckoutSaga(c, config);
  bindHttp(c, config, connections, options);
  return c;
};

export interface RunningCrest {
  readonly app: FastifyInstance;
  readonly url: string;
  readonly adminToken: { token: string; generated: boolean };
  readonly webhookSecret: WebhookSecrets;
  readonly container: Container;
  stop(): Promise<void>;
}

const connectionErrorLogger = (logger: Logger | undefined) => {
  let last = 0;
  return (server: string, error: Error): void => {
    // one line per second at most while a server is down
    if (Date.now() - last < 1000) return;
    last = Date.now();
    logger?.warn({ server, err: error.message }, 'connection problem; retrying');
  };
};

/**
 * The options of a process's container with the tracer provider CREST_TRACING asks for (unless the caller brought
 * one), and how to stop that provider (last: it exports what the stop itself traced).
 */
export const withTracing = <O extends CompositionOptions & { readonly logger: Logger }>(config: CrestConfig, given: O, role: string): { options: O; stopTracing: () => Promise<void> } => {
  if (given.tracerProvider) return { options: given, stopTracing: async () => undefined };
  const report = connectionErrorLogger(given.logger);
  const tracing = startTracing(config, { role, onExportError: (error) => report('otlp', error) });
  if (!tracing) return { options: given, stopTracing: async () => undefined };
  return { options: { ...given, tracerProvider: tracing.provider }, stopTracing: () => tracing.shutdown() };
};

/** `crest start`: every role in one process. */
export const startAllInOne = async (config: CrestConfig, given: CompositionOptions = {}): Promise<RunningCrest> => {
  const { options, stopTracing } = withTracing(config, { ...given, logger: given.logger ?? defaultLogger(config) }, 'all');
  const connections = await openConnections(config, connectionErrorLogger(options.logger));
  const container = createContainer(config, options, connections);
  const catalog = container.get(Tokens.Catalog);
  await catalog.start();
  const saleCalendar = container.get(Tokens.SaleCalendar);
  await saleCalendar.start();
  const readModels = container.get(Tokens.BlueGreen);
  const runners = container.get(Tokens.Projections);
  const storefront = container.get(Tokens.Storefront);
  const bus = container.get(Tokens.InvalidationBus);
  // with a bus, invalidations travel through it so that every API node hears them; without one, they stay local
  const unsubscribe = bus ? await bus.subscribe((invalidation) => storefront.invalidate(invalidation)) : undefined;
  readModels.onChanges((changes) => {
    const invalidation = Storefront.invalidationsFor(changes);
    if (bus) bus.publish(invalidation).catch(() => storefront.invalidate(invalidation));
    else storefront.invalidate(invalidation);
  });
  // Redis may come back empty after a restart: the availability read model is then rebuilt from the log
  const availability = runners.find((r) => r.name === 'redis-availability');
  const stopWatchingRedis =
    availability && connections.redis
      ? await rebuildWhenLost(new RedisAvailability(connections.redis, defaultAvailabilityKeys(config.CREST_REDIS_PREFIX)), availability, options.logger, config.CREST_FOLLOWER_RETRY_MAX_MS)
      : undefined;
  await readModels.start();
  for (const runner of runners) await runner.start();
  const saga = container.get(Tokens.CheckoutRunner);
  const relay = container.get(Tokens.Relay);
  await relay?.start();
  const app = await container.getAsync(Tokens.HttpApp);
  const url = await app.listen({ port: config.PORT, host: config.HOST });
  // the saga restores its deadlines and loads the writers of SKUs holding reservations, which is synchronous SQLite
  // work: it starts once the process listens (/health/ready waits for it) so that liveness answers at once
  const sagaStarted = saga.start().catch((error: unknown) => options.logger.error({ err: error }, 'the checkout saga failed to start'));
  let stopping: Promise<void> | undefined;
  return {
    app,
    url,
    adminToken: container.get(Tokens.AdminToken),
    webhookSecret: container.get(Tokens.WebhookSecret),
    container,
    stop: () =>
      (stopping ??= (async () => {
        await app.close();
        container.get(Tokens.PaymentProvider).stop();
        await sagaStarted;
        await saga.stop();
        await relay?.stop();
        container.get(Tokens.Inventory).stop();
        await stopWatchingRedis?.();
        for (const runner of runners) await runner.stop();
        await readModels.stop();
        await unsubscribe?.();
        await catalog.stop();
        await saleCalendar.stop();
        await container.get(Tokens.EventStore).close();
        await connections.close();
        await stopTracing();
      })()),
  };
};

export interface RunningWorker {
  readonly container: Container;
  /** Where its /health and /metrics listen. */
  readonly url: string;
  stop(): Promise<void>;
}

/** `crest work relay`: only the integration relay, for the cluster. */
export const startRelayWorker = async (config: CrestConfig, given: CompositionOptions = {}): Promise<RunningWorker> => {
  const options = { ...given, logger: given.logger ?? defaultLogger(config) };
  if (config.CREST_RELAY !== 'kafka') throw new ConfigError(['CREST_RELAY="off": `crest work relay` needs CREST_RELAY=kafka (and KAFKA_BROKERS)']);
  const connections = await openConnections(config, connectionErrorLogger(options.logger));
  const container = createContainer(config, options, connections);
  const relay = container.get(Tokens.Relay)!;
  await relay.start();
  container.bind(Tokens.WorkerReady).toConstantValue(() => true);
  const ops = await container.getAsync(Tokens.OpsApp);
  const url = await ops.listen({ port: config.PORT, host: config.HOST });
  let stopping: Promise<void> | undefined;
  return {
    container,
    url,
    stop: () =>
      (stopping ??= (async () => {
        await ops.close();
        await relay.stop();
        await container.get(Tokens.EventStore).close();
        await connections.close();
      })()),
  };
};
