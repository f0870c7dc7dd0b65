import type { Container } from 'inversify';
import type { CrestConfig } from '../config/config';
import type { Connections } from './connections';
import { followerRetry, Tokens, type CompositionOptions, type ReadModelBackend } from './tokens';
import { CheckpointProgress } from '../../projections/checkpoint-progress';
import { EventRelay } from '../../projections/event-relay';
import { BlueGreenReadModels } from '../../projections/blue-green-read-models';
import { GenerationFollower } from '../../projections/generation-follower';
import type { ReadModelGenerations } from '../../projections/ports';
import { ProjectionRunner } from '../../projections/projection-runner';
import { customerOrdersProjection, inventoryProjection, ordersProjection, productsProjection } from '../../projections/read-models';
import { LastKnownGood } from '../../read-api/cache/last-known-good';
import { ReadCache } from '../../read-api/cache/read-cache';
import type { InvalidationBus, ReadModelProgress } from '../../read-api/ports';
import { Storefront, type Rendered, type StaleFallbacks } from '../../read-api/storefront';
import { Breaker } from '../breakers/circuit-breaker';
import { ReadStoreBreaker, type ReadStoreQueries } from '../breakers/read-store-breaker';
import { KafkaIntegrationPublisher } from '../kafka/kafka-publisher';
import { MemoryReadModelGenerations } from '../memory/memory-read-model-generations';
import { MongoReadModelGenerations } from '../mongodb/mongo-read-model-generations';
import { defaultAvailabilityKeys, RedisAvailability } from '../redis/redis-availability';
import { RedisInvalidationBus } from '../redis/redis-invalidation-bus';
import { RedisSharedCache } from '../redis/redis-shared-cache';
import { SqliteReadModelGenerations } from '../sqlite/sqlite-read-model-generations';

const generationPollMs = 500;

const runnerOptions = (ctx: { get: Container['get'] }) => {
  const config = ctx.get(Tokens.Config);
  return { batchSize: config.CREST_PROJECTION_BATCH, poisonPolicy: config.CREST_PROJECTION_POISON_POLICY, monitor: ctx.get(Tokens.FollowerMonitor), ...followerRetry(config) };
};

/** The read side: read models and their projections (blue/green generations), read-model progress, the storefront and its caches, and the relay. */
export const bindReadSide = (c: Container, config: CrestConfig, connections: Connections, options: CompositionOptions): void => {
  c.bind(Tokens.ReadModelGenerations).toDynamicValue((): ReadModelGenerations<ReadModelBackend> => {
    if (connections.mongo) return new MongoReadModelGenerations(connections.mongo, connections.mongoServer ?? 'mongodb');
    if (config.CREST_READ_MODELS === 'sqlite') return new SqliteReadModelGenerations(config.CREST_DATA_DIR);
    return new MemoryReadModelGenerations();
  });
  c.bind(Tokens.BlueGreen).toDynamicValue((ctx) => {
    const logger = ctx.get(Tokens.Logger);
    const metrics = ctx.get(Tokens.Metrics);
    return new BlueGreenReadModels(ctx.get(Tokens.EventStore), ctx.get(Tokens.ReadModelGenerations), metrics.projectionObserver(logger), metrics.rebuildObserver(logger), {
      runner: { name: 'read-models', projections: [productsProjection, inventoryProjection, ordersProjection, customerOrdersProjection], ...runnerOptions(ctx) },
      // other API nodes move to the new generation within a poll of the pointer; the old one keeps following till then
      drainMs: Math.max(config.CREST_MIN_POSITION_WAIT_MS, generationPollMs * 4),
    });
  });
  c.bind(Tokens.GenerationFollower).toDynamicValue(
    (ctx) =>
      new GenerationFollower(
        ctx.get(Tokens.ReadModelGenerations),
        { runner: 'read-models', served: () => ctx.get(Tokens.Progress).position, pollMs: generationPollMs },
        ctx.get(Tokens.Metrics).generationFollowerObserver(ctx.get(Tokens.Logger)),
      ),
  );
  // an API node of the cluster reads the generation the projection worker switched to; every other role serves its own
  c.bind(Tokens.LiveReadModels).toDynamicValue((ctx) => (options.role === 'serve' ? ctx.get(Tokens.GenerationFollower) : ctx.get(Tokens.BlueGreen)));
  c.bind(Tokens.Projections).toDynamicValue((ctx) => {
    if (!connections.redis) return [];
    const observer = ctx.get(Tokens.Metrics).projectionObserver(ctx.get(Tokens.Logger));
    return [new ProjectionRunner(ctx.get(Tokens.EventStore), new RedisAvailability(connections.redis, defaultAvailabilityKeys(config.CREST_REDIS_PREFIX)), observer, { name: 'redis-availability', projections: [inventoryProjection], ...runnerOptions(ctx) })];
  });
  c.bind(Tokens.Progress).toDynamicValue((ctx): ReadModelProgress => {
    if (options.role === 'serve') {
      // an API node of the cluster reads models that `crest work projections` builds: follow their checkpoints
      // the storefront reads only the read models: Redis availability losing its data must not stall these reads
      const live = ctx.get(Tokens.LiveReadModels);
      return new CheckpointProgress(ctx.get(Tokens.EventStore), () => [{ store: live.models, runner: 'read-models' }], 50);
    }
    const served = ctx.get(Tokens.BlueGreen).progress;
    const others = ctx.get(Tokens.Projections);
    return {
      get position() {
        return served.position();
      },
      // every runner must have caught up at start; read-your-writes waits only for the models the storefront reads
      ready: () => served.ready() && others.every((r) => r.ready),
      waitFor: (position, ms) => served.waitFor(position, ms),
    };
  });
  c.bind(Tokens.InvalidationBus).toDynamicValue((): InvalidationBus | undefined =>
    connections.redis && connections.redisSubscriber ? new RedisInvalidationBus(connections.redis, connections.redisSubscriber, `${config.CREST_REDIS_PREFIX}:invalidate`) : undefined,
  );
  c.bind(Tokens.Storefront).toDynamicValue((ctx) => {
    const metrics = ctx.get(Tokens.Metrics);
    const breakers = metrics.breakerObserver(ctx.get(Tokens.Logger));
    const live = ctx.get(Tokens.LiveReadModels);
    // asked of the live generation at every read, so that a blue/green switch moves every reader at once
    let queries: ReadStoreQueries = {
      product: (sku) => live.models.product(sku),
      browse: (query) => live.models.browse(query),
      order: (orderId) => live.models.order(orderId),
      customerOrders: (customerId, limit, after) => live.models.customerOrders(customerId, limit, after),
      inventory: (sku) => live.models.inventory(sku),
    };
    let fallbacks: StaleFallbacks | undefined;
    if (connections.mongo) {
      // a read store across the network: a breaker in front of its queries, and the last answers of the uncached
      // reads kept to be served stale while it is unavailable (cards and pages have the read cache for that)
      const breaker = new Breaker('mongodb-read-models', { timeoutMs: config.CREST_BREAKER_READ_TIMEOUT_MS, resetMs: config.CREST_BREAKER_RESET_MS }, breakers, ReadStoreBreaker.counts);
      queries = new ReadStoreBreaker(queries, breaker);
      const lastKnown = <V>(namespace: string) => new LastKnownGood<V>(namespace, config.CREST_CACHE_MAX_ENTRIES, metrics.cacheObserver());
      fallbacks = { orders: lastKnown('order'), customerOrders: lastKnown('customer-orders'), inventory: lastKnown('inventory') };
    }
    const shared = connections.redis ? new RedisSharedCache(connections.redis, breakers, { timeoutMs: 50, prefix: config.CREST_REDIS_PREFIX }) : undefined;
    const cache = (namespace: string, ttlMs: number) =>
      new ReadCache<Rendered>(namespace, { max: config.CREST_CACHE_MAX_ENTRIES, ttlMs, missTtlMs: config.CREST_CACHE_MISS_TTL_MS, jitter: 0.2 }, metrics.cacheObserver(), shared);
    return new Storefront(queries, queries, queries, ctx.get(Tokens.Progress), cache('card', config.CREST_CACHE_TTL_MS), cache('browse', config.CREST_BROWSE_CACHE_TTL_MS), fallbacks);
  });
  c.bind(Tokens.Relay).toDynamicValue((ctx): EventRelay | undefined => {
    if (!connections.kafka) return undefined;
    return new EventRelay(
      ctx.get(Tokens.EventStore),
      new KafkaIntegrationPublisher(connections.kafka, config.CREST_RELAY_TOPIC),
      ctx.get(Tokens.Checkpoints),
      ctx.get(Tokens.Metrics).relayObserver(),
      { name: `kafka-relay:${config.CREST_RELAY_TOPIC}`, batchSize: config.CREST_RELAY_BATCH, monitor: ctx.get(Tokens.FollowerMonitor), ...followerRetry(config) },
    );
  });
};
