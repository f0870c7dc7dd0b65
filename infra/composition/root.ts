import type { FastifyInstance } from 'fastify';
import { Container, type ServiceIdentifier } from 'inversify';
import { randomBytes, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { Catalog } from '../../commands/catalog/catalog';
import { ProductCommands } from '../../commands/catalog/product-commands';
import type { CommandDeps } from '../../commands/handle-command';
import { commandRoutes } from '../../commands/http/command-routes';
import { InventoryWriters, type InventoryGateway } from '../../commands/inventory/inventory-writers';
import { StockCommands } from '../../commands/inventory/stock-commands';
import { CheckoutRunner } from '../../commands/checkout/checkout-runner';
import { DeadlineTracker } from '../../commands/checkout/deadline-tracker';
import { Checkout } from '../../commands/orders/checkout';
import { PaymentCallbacks } from '../../commands/payments/payment-callbacks';
import type { CheckpointStore, Clock, IdGenerator, PaymentTokenVault, SnapshotStore } from '../../commands/ports';
import type { EventStore } from '../../domain/kernel/event-store';
import { ProjectionRunner } from '../../projections/projection-runner';
import { customerOrdersProjection, inventoryProjection, ordersProjection, productsProjection } from '../../projections/read-models';
import { ReadCache } from '../../read-api/cache/read-cache';
import { readRoutes } from '../../read-api/http/read-routes';
import type { CatalogueQueries, InvalidationBus, InventoryQueries, OrderQueries, ReadModelProgress } from '../../read-api/ports';
import { CheckpointProgress } from '../../projections/checkpoint-progress';
import { EventRelay } from '../../projections/event-relay';
import type { ReadModelStore } from '../../projections/ports';
import { Storefront, type Rendered } from '../../read-api/storefront';
import { ConfigError, type CrestConfig } from '../config/config';
import { buildHttpApp } from '../http/app';
import { createCustomerAuth } from '../http/customer-auth';
import { opsRoutes } from '../http/ops-routes';
import { MemoryReadModels } from '../memory/memory-read-models';
import { memoryBundle } from '../memory/memory-bundle';
import { MemoryPaymentTokenVault } from '../memory/memory-payment-token-vault';
import { openEventStoreDbBundle } from '../eventstoredb/eventstoredb-bundle';
import { openSqliteBundle } from '../sqlite/sqlite-bundle';
import { RedisPaymentTokenVault } from '../redis/redis-payment-token-vault';
import type { StoreBundle } from '../shared/store-bundle';
import { KafkaInventoryGateway } from '../kafka/kafka-inventory';
import { KafkaIntegrationPublisher } from '../kafka/kafka-publisher';
import { MongoReadModels } from '../mongodb/mongo-read-models';
import { defaultAvailabilityKeys, RedisAvailability } from '../redis/redis-availability';
import { RedisInvalidationBus } from '../redis/redis-invalidation-bus';
import { RedisSharedCache } from '../redis/redis-shared-cache';
import { openConnections, type Connections } from './connections';
import { CrestMetrics } from '../metrics/metrics';
import type { FollowerMonitor } from '../../projections/log-follower';
import { SimulatedPaymentProvider } from '../simulated-payments/simulated-provider';
import { openSqliteFile } from '../sqlite/sqlite-database';
import { SqliteReadModels } from '../sqlite/sqlite-read-models';

type ReadModelBackend = ReadModelStore & CatalogueQueries & OrderQueries & InventoryQueries;

interface ReadModelSetup {
  readonly models: ReadModelBackend;
  prepare(): Promise<void>;
  close(): Promise<void>;
}

const noConnections: Connections = { close: async () => undefined };

const defaultLogger = (config: CrestConfig): Logger => pino({ level: config.CREST_LOG_LEVEL, base: { service: 'crest' } });

const nodeId = (config: CrestConfig): string => config.CREST_NODE_ID ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;

const id = <T>(name: string): ServiceIdentifier<T> => Symbol(name);

export const Tokens = {
  Config: id<CrestConfig>('Config'),
  Logger: id<Logger>('Logger'),
  Clock: id<Clock>('Clock'),
  Ids: id<IdGenerator>('Ids'),
  Stores: id<StoreBundle>('Stores'),
  EventStore: id<EventStore>('EventStore'),
  PaymentTokens: id<PaymentTokenVault>('PaymentTokens'),
  Snapshots: id<SnapshotStore>('Snapshots'),
  Metrics: id<CrestMetrics>('Metrics'),
  /** Where every log follower reports retries and stalls (readiness, metrics, logs). */
  FollowerMonitor: id<FollowerMonitor>('FollowerMonitor'),
  Inventory: id<InventoryWriters>('Inventory'),
  Gateway: id<InventoryGateway>('Gateway'),
  Catalog: id<Catalog>('Catalog'),
  Products: id<ProductCommands>('Products'),
  Stock: id<StockCommands>('Stock'),
  Checkout: id<Checkout>('Checkout'),
  ReadModels: id<ReadModelBackend>('ReadModels'),
  /** The read models with what their technology needs at start (indexes) and at stop (closing a file). */
  ReadModelSetup: id<ReadModelSetup>('ReadModelSetup'),
  Projections: id<ProjectionRunner[]>('Projections'),
  InvalidationBus: id<InvalidationBus | undefined>('InvalidationBus'),
  Relay: id<EventRelay | undefined>('Relay'),
  Progress: id<ReadModelProgress>('Progress'),
  Storefront: id<Storefront>('Storefront'),
  Checkpoints: id<CheckpointStore>('Checkpoints'),
  PaymentCallbacks: id<PaymentCallbacks>('PaymentCallbacks'),
  PaymentProvider: id<SimulatedPaymentProvider>('PaymentProvider'),
  CheckoutRunner: id<CheckoutRunner>('CheckoutRunner'),
  AdminToken: id<{ token: string; generated: boolean }>('AdminToken'),
  WebhookSecret: id<WebhookSecrets>('WebhookSecret'),
  HttpApp: id<FastifyInstance>('HttpApp'),
  OpsApp: id<FastifyInstance>('OpsApp'),
  /** Readiness of a worker role, bound by the role that starts it. */
  WorkerReady: id<() => boolean>('WorkerReady'),
};

/** The secret that signs (the first) and every secret that verifies. */
export interface WebhookSecrets {
  readonly secret: string;
  readonly secrets: readonly string[];
  readonly generated: boolean;
}

export type Role = 'all' | 'serve' | 'inventory' | 'projections' | 'sagas' | 'relay';

export interface CompositionOptions {
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** Which role the process plays; decides where read-model progress comes from. Default 'all'. */
  readonly role?: Role;
}

/** The one place where ports meet adapters. Every adapter is chosen here, from the validated config. */
export const createContainer = (config: CrestConfig, options: CompositionOptions = {}, connections: Connections = noConnections): Container => {
  const c = new Container({ defaultScope: 'Singleton' });
  c.bind(Tokens.Config).toConstantValue(config);
  c.bind(Tokens.Logger).toConstantValue(options.logger ?? defaultLogger(config));
  c.bind(Tokens.Clock).toConstantValue(options.clock ?? { now: () => new Date() });
  c.bind(Tokens.Ids).toConstantValue({ next: () => randomUUID() });
  c.bind(Tokens.Stores).toDynamicValue((): StoreBundle => {
    switch (config.CREST_EVENT_STORE) {
      case 'memory':
        return memoryBundle();
      case 'eventstoredb':
        return openEventStoreDbBundle(config.ESDB_CONNECTION_STRING!);
      case 'sqlite':
        return openSqliteBundle({ file: join(config.CREST_DATA_DIR, 'crest.sqlite'), synchronous: config.CREST_SQLITE_SYNCHRONOUS });
    }
  });
  c.bind(Tokens.EventStore).toDynamicValue((ctx) => ctx.get(Tokens.Stores).events);
  c.bind(Tokens.Snapshots).toDynamicValue((ctx) => ctx.get(Tokens.Stores).snapshots);
  c.bind(Tokens.Checkpoints).toDynamicValue((ctx) => ctx.get(Tokens.Stores).checkpoints);
  // a store that cannot keep tokens outside its log (EventStoreDB) leaves them to Redis, shared by the cluster's
  // roles, or to this process alone
  c.bind(Tokens.PaymentTokens).toDynamicValue(
    (ctx): PaymentTokenVault =>
      ctx.get(Tokens.Stores).paymentTokens ??
      (connections.redis
        ? new RedisPaymentTokenVault(connections.redis, { prefix: config.CREST_REDIS_PREFIX, ttlMs: config.CREST_RESERVATION_TTL_MS + config.CREST_RESERVATION_GRACE_MS })
        : new MemoryPaymentTokenVault()),
  );
  c.bind(Tokens.Metrics).toDynamicValue(() => new CrestMetrics());
  c.bind(Tokens.FollowerMonitor).toDynamicValue((ctx) => ctx.get(Tokens.Metrics).followerMonitor(ctx.get(Tokens.Logger)));
  const followerRetry = { retryMaxMs: config.CREST_FOLLOWER_RETRY_MAX_MS };
  const commandDeps = (ctx: { get: Container['get'] }): CommandDeps => ({ store: ctx.get(Tokens.EventStore), clock: ctx.get(Tokens.Clock), ids: ctx.get(Tokens.Ids) });
  c.bind(Tokens.Inventory).toDynamicValue(
    (ctx) =>
      new InventoryWriters({
        ...commandDeps(ctx),
        snapshots: ctx.get(Tokens.Snapshots),
        observer: ctx.get(Tokens.Metrics).writerObserver(ctx.get(Tokens.Logger)),
        options: { maxBatch: config.CREST_WRITER_MAX_BATCH, snapshotEvery: config.CREST_SNAPSHOT_EVERY, maxConflictRetries: 5 },
      }),
  );
  // cluster mode: commands travel over Kafka to the worker that owns the SKU; otherwise the writers are in this process
  c.bind(Tokens.Gateway).toDynamicValue((ctx): InventoryGateway =>
    config.CREST_INVENTORY === 'kafka' && connections.kafka && connections.redisSubscriber
      ? new KafkaInventoryGateway(connections.kafka, connections.redisSubscriber, {
          topic: config.CREST_INVENTORY_TOPIC,
          nodeId: nodeId(config),
          timeoutMs: config.CREST_INVENTORY_TIMEOUT_MS,
          prefix: config.CREST_REDIS_PREFIX,
        })
      : ctx.get(Tokens.Inventory),
  );
  c.bind(Tokens.Catalog).toDynamicValue((ctx) => new Catalog(ctx.get(Tokens.EventStore), undefined, ctx.get(Tokens.FollowerMonitor)));
  c.bind(Tokens.Products).toDynamicValue((ctx) => new ProductCommands(commandDeps(ctx), ctx.get(Tokens.Catalog)));
  c.bind(Tokens.Stock).toDynamicValue((ctx) => new StockCommands(ctx.get(Tokens.Catalog), ctx.get(Tokens.Gateway)));
  c.bind(Tokens.Checkout).toDynamicValue(
    (ctx) => new Checkout(commandDeps(ctx), ctx.get(Tokens.Catalog), ctx.get(Tokens.Gateway), ctx.get(Tokens.PaymentTokens), { reservationTtlMs: config.CREST_RESERVATION_TTL_MS, reservationGraceMs: config.CREST_RESERVATION_GRACE_MS }),
  );
  c.bind(Tokens.ReadModelSetup).toDynamicValue((): ReadModelSetup => {
    if (connections.mongo) {
      const models = new MongoReadModels(connections.mongo, connections.mongoServer);
      return { models, prepare: () => models.ensureIndexes(), close: async () => undefined };
    }
    if (config.CREST_READ_MODELS === 'sqlite') {
      // rebuildable, so NORMAL: a crash may lose the last batches, and the checkpoint stored with them goes back too
      const db = openSqliteFile({ file: join(config.CREST_DATA_DIR, 'read-models.sqlite'), synchronous: 'NORMAL' });
      return { models: new SqliteReadModels(db), prepare: async () => undefined, close: async () => void db.close() };
    }
    return { models: new MemoryReadModels(), prepare: async () => undefined, close: async () => undefined };
  });
  c.bind(Tokens.ReadModels).toDynamicValue((ctx) => ctx.get(Tokens.ReadModelSetup).models);
  c.bind(Tokens.Projections).toDynamicValue((ctx) => {
    const observer = ctx.get(Tokens.Metrics).projectionObserver(ctx.get(Tokens.Logger));
    const options = { batchSize: config.CREST_PROJECTION_BATCH, poisonPolicy: config.CREST_PROJECTION_POISON_POLICY, monitor: ctx.get(Tokens.FollowerMonitor), ...followerRetry };
    const runners = [
      new ProjectionRunner(ctx.get(Tokens.EventStore), ctx.get(Tokens.ReadModels), observer, {
        name: 'read-models',
        projections: [productsProjection, inventoryProjection, ordersProjection, customerOrdersProjection],
        ...options,
      }),
    ];
    if (connections.redis) {
      runners.push(new ProjectionRunner(ctx.get(Tokens.EventStore), new RedisAvailability(connections.redis, defaultAvailabilityKeys(config.CREST_REDIS_PREFIX)), observer, { name: 'redis-availability', projections: [inventoryProjection], ...options }));
    }
    return runners;
  });
  c.bind(Tokens.Progress).toDynamicValue((ctx): ReadModelProgress => {
    if (options.role === 'serve') {
      // an API node of the cluster reads models that `crest work projections` builds: follow their checkpoints
      const readModels = ctx.get(Tokens.ReadModels);
      const checkpoints: Array<{ store: ReadModelStore; runner: string }> = [{ store: readModels, runner: 'read-models' }];
      if (connections.redis) checkpoints.push({ store: new RedisAvailability(connections.redis, defaultAvailabilityKeys(config.CREST_REDIS_PREFIX)), runner: 'redis-availability' });
      return new CheckpointProgress(ctx.get(Tokens.EventStore), checkpoints, 50);
    }
    const runners = ctx.get(Tokens.Projections);
    return {
      get position() {
        return Math.min(...runners.map((r) => r.position));
      },
      ready: () => runners.every((r) => r.ready),
      waitFor: async (position, ms) => (await Promise.all(runners.map((r) => r.waitFor(position, ms)))).every(Boolean),
    };
  });
  c.bind(Tokens.OpsApp).toDynamicValue(async (ctx) => {
    const metrics = ctx.get(Tokens.Metrics);
    return buildHttpApp({
      logger: ctx.get(Tokens.Logger),
      adminToken: ctx.get(Tokens.AdminToken).token,
      customerLimiter: undefined,
      globalLimiter: undefined,
      maxEventLoopDelayMs: 0,
      routes: [opsRoutes({ registry: metrics.registry, ready: () => ctx.get(Tokens.WorkerReady)(), stalled: () => metrics.stalledFollowers(config.CREST_FOLLOWER_STALL_MS) })],
    });
  });
  c.bind(Tokens.InvalidationBus).toDynamicValue((): InvalidationBus | undefined =>
    connections.redis && connections.redisSubscriber ? new RedisInvalidationBus(connections.redis, connections.redisSubscriber, `${config.CREST_REDIS_PREFIX}:invalidate`) : undefined,
  );
  c.bind(Tokens.Storefront).toDynamicValue((ctx) => {
    const readModels = ctx.get(Tokens.ReadModels);
    const metrics = ctx.get(Tokens.Metrics);
    const shared = connections.redis ? new RedisSharedCache(connections.redis, metrics.breakerObserver(ctx.get(Tokens.Logger)), { timeoutMs: 50, prefix: config.CREST_REDIS_PREFIX }) : undefined;
    const cache = (namespace: string, ttlMs: number) =>
      new ReadCache<Rendered>(namespace, { max: config.CREST_CACHE_MAX_ENTRIES, ttlMs, missTtlMs: config.CREST_CACHE_MISS_TTL_MS, jitter: 0.2 }, metrics.cacheObserver(), shared);
    return new Storefront(readModels, readModels, readModels, ctx.get(Tokens.Progress), cache('card', config.CREST_CACHE_TTL_MS), cache('browse', config.CREST_BROWSE_CACHE_TTL_MS));
  });
  c.bind(Tokens.Relay).toDynamicValue((ctx): EventRelay | undefined => {
    if (!connections.kafka) return undefined;
    return new EventRelay(
      ctx.get(Tokens.EventStore),
      new KafkaIntegrationPublisher(connections.kafka, config.CREST_RELAY_TOPIC),
      ctx.get(Tokens.Checkpoints),
      ctx.get(Tokens.Metrics).relayObserver(),
      { name: `kafka-relay:${config.CREST_RELAY_TOPIC}`, batchSize: config.CREST_RELAY_BATCH, monitor: ctx.get(Tokens.FollowerMonitor), ...followerRetry },
    );
  });
  c.bind(Tokens.PaymentCallbacks).toDynamicValue((ctx) => new PaymentCallbacks(commandDeps(ctx), ctx.get(Tokens.Metrics).paymentCallbackObserver(ctx.get(Tokens.Logger))));
  c.bind(Tokens.PaymentProvider).toDynamicValue((ctx) => {
    const callbacks = ctx.get(Tokens.PaymentCallbacks);
    return new SimulatedPaymentProvider({
      latencyMs: config.CREST_PAYMENT_LATENCY_MS,
      deliver: async (event) => {
        await callbacks.record(event, { commandId: event.id, correlationId: event.orderId });
      },
    });
  });
  c.bind(Tokens.CheckoutRunner).toDynamicValue((ctx) => {
    const logger = ctx.get(Tokens.Logger);
    return new CheckoutRunner(
      commandDeps(ctx),
      ctx.get(Tokens.Gateway),
      ctx.get(Tokens.PaymentProvider),
      ctx.get(Tokens.PaymentTokens),
      ctx.get(Tokens.Checkpoints),
      new DeadlineTracker(ctx.get(Tokens.EventStore), { snapshots: ctx.get(Tokens.Snapshots), monitor: ctx.get(Tokens.FollowerMonitor), ...followerRetry }),
      ctx.get(Tokens.Metrics).checkoutObserver(logger),
      {
        tickMs: config.CREST_SAGA_TICK_MS,
        paymentRetries: config.CREST_PAYMENT_RETRIES,
        paymentBackoffMs: config.CREST_PAYMENT_BACKOFF_MS,
        monitor: ctx.get(Tokens.FollowerMonitor),
        poisonPolicy: config.CREST_PROJECTION_POISON_POLICY,
        ...followerRetry,
      },
    );
  });
  const generatedSecret = randomBytes(24).toString('base64url');
  c.bind(Tokens.WebhookSecret).toConstantValue(
    config.CREST_PAYMENT_WEBHOOK_SECRET
      ? { secret: config.CREST_PAYMENT_WEBHOOK_SECRET[0]!, secrets: config.CREST_PAYMENT_WEBHOOK_SECRET, generated: false }
      : { secret: generatedSecret, secrets: [generatedSecret], generated: true },
  );
  c.bind(Tokens.AdminToken).toConstantValue(
    config.CREST_ADMIN_TOKEN ? { token: config.CREST_ADMIN_TOKEN, generated: false } : { token: randomBytes(24).toString('base64url'), generated: true },
  );
  c.bind(Tokens.HttpApp).toDynamicValue(async (ctx) => {
    const metrics = ctx.get(Tokens.Metrics);
    const perSecond = (points: number) => (points > 0 ? new RateLimiterMemory({ points, duration: 1 }) : undefined);
    const store = ctx.get(Tokens.EventStore);
    return buildHttpApp({
      logger: ctx.get(Tokens.Logger),
      adminToken: ctx.get(Tokens.AdminToken).token,
      customerLimiter: perSecond(config.CREST_RATE_LIMIT_CUSTOMER_PER_SEC),
      globalLimiter: perSecond(config.CREST_RATE_LIMIT_GLOBAL_PER_SEC),
      ipLimiter: perSecond(config.CREST_RATE_LIMIT_IP_PER_SEC),
      customerAuth:
        config.CREST_CUSTOMER_AUTH === 'jwt'
          ? createCustomerAuth({
              secret: config.CREST_CUSTOMER_JWT_SECRET,
              jwksUrl: config.CREST_CUSTOMER_JWKS_URL,
              issuer: config.CREST_CUSTOMER_JWT_ISSUER,
              audience: config.CREST_CUSTOMER_JWT_AUDIENCE,
            })
          : undefined,
      requestTimeoutMs: config.CREST_HTTP_REQUEST_TIMEOUT_MS,
      maxEventLoopDelayMs: config.CREST_MAX_EVENT_LOOP_DELAY_MS,
      onResponse: (route, method, status, seconds) => metrics.observeHttp(route, method, status, seconds),
      routes: [
        opsRoutes({
          registry: metrics.registry,
          ready: () => ctx.get(Tokens.Progress).ready() && (options.role === 'serve' || ctx.get(Tokens.CheckoutRunner).started),
          stalled: () => metrics.stalledFollowers(config.CREST_FOLLOWER_STALL_MS),
        }),
        readRoutes({
          storefront: ctx.get(Tokens.Storefront),
          minPositionWaitMs: config.CREST_MIN_POSITION_WAIT_MS,
          cacheControl: 'public, max-age=1, stale-while-revalidate=5',
          logHead: () => store.headPosition(),
        }),
        commandRoutes({
          products: ctx.get(Tokens.Products),
          stock: ctx.get(Tokens.Stock),
          checkout: ctx.get(Tokens.Checkout),
          paymentCallbacks: ctx.get(Tokens.PaymentCallbacks),
          webhookSecrets: ctx.get(Tokens.WebhookSecret).secrets,
          clock: ctx.get(Tokens.Clock),
          orderWaitMs: config.CREST_ORDER_WAIT_MS,
        }),
      ],
    });
  });
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

/** `crest start`: every role in one process. */
const connectionErrorLogger = (logger: Logger | undefined) => {
  let last = 0;
  return (server: string, error: Error): void => {
    // one line per second at most while a server is down
    if (Date.now() - last < 1000) return;
    last = Date.now();
    logger?.warn({ server, err: error.message }, 'connection problem; retrying');
  };
};

export const startAllInOne = async (config: CrestConfig, given: CompositionOptions = {}): Promise<RunningCrest> => {
  const options = { ...given, logger: given.logger ?? defaultLogger(config) };
  const connections = await openConnections(config, connectionErrorLogger(options.logger));
  const container = createContainer(config, options, connections);
  const catalog = container.get(Tokens.Catalog);
  await catalog.start();
  const readModels = container.get(Tokens.ReadModelSetup);
  await readModels.prepare();
  const runners = container.get(Tokens.Projections);
  const storefront = container.get(Tokens.Storefront);
  const bus = container.get(Tokens.InvalidationBus);
  // with a bus, invalidations travel through it so that every API node hears them; without one, they stay local
  const unsubscribe = bus ? await bus.subscribe((invalidation) => storefront.invalidate(invalidation)) : undefined;
  runners[0]!.onChanges((changes) => {
    const invalidation = Storefront.invalidationsFor(changes);
    if (bus) bus.publish(invalidation).catch(() => storefront.invalidate(invalidation));
    else storefront.invalidate(invalidation);
  });
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
        for (const runner of runners) await runner.stop();
        await readModels.close();
        await unsubscribe?.();
        await catalog.stop();
        await container.get(Tokens.EventStore).close();
        await connections.close();
      })()),
  };
};

export interface RunningWorker {
  readonly container: Container;
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
  let stopping: Promise<void> | undefined;
  return {
    container,
    stop: () =>
      (stopping ??= (async () => {
        await relay.stop();
        await container.get(Tokens.EventStore).close();
        await connections.close();
      })()),
  };
};
