import type { Container } from 'inversify';
import type { CrestConfig } from '../config/config';
import type { Connections } from './connections';
import { followerRetry, Tokens, type CompositionOptions, type ReadModelSetup } from './tokens';
import { join } from 'node:path';
import { CheckpointProgress } from '../../projections/checkpoint-progress';
import { EventRelay } from '../../projections/event-relay';
import type { ReadModelStore } from '../../projections/ports';
import { ProjectionRunner } from '../../projections/projection-runner';
import { customerOrdersProjection, inventoryProjection, ordersProjection, productsProjection } from '../../projections/read-models';
import { LastKnownGood } from '../../read-api/cache/last-known-good';
import { ReadCache } from '../../read-api/cache/read-cache';
import type { InvalidationBus, ReadModelProgress } from '../../read-api/ports';
import { Storefront, type Rendered, type StaleFallbacks } from '../../read-api/storefront';
import { Breaker } from '../breakers/circuit-breaker';
import { ReadStoreBreaker, type ReadStoreQueries } from '../breakers/read-store-breaker';
import { KafkaIntegrationPublisher } from '../kafka/kafka-publisher';
import { MemoryReadModels } from '../memory/memory-read-models';
import { MongoReadModels } from '../mongodb/mongo-read-models';
import { defaultAvailabilityKeys, RedisAvailability } from '../redis/redis-availability';
import { RedisInvalidationBus } from '../redis/redis-invalidation-bus';
import { RedisSharedCache } from '../redis/redis-shared-cache';
import { openSqliteFile } from '../sqlite/sqlite-database';
import { SqliteReadModels } from '../sqlite/sqlite-read-models';

/** The read side: read models and their projections, read-model progress, the storefront and its caches, and the relay. */
export const bindReadSide = (c: Container, config: CrestConfig, connections: Connections, options: CompositionOptions): void => {
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
    const options = { batchSize: config.CREST_PROJECTION_BATCH, poisonPolicy: config.CREST_PROJECTION_POISON_POLICY, monitor: ctx.get(Tokens.FollowerMonitor), ...followerRetry(config) };
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
      // the storefront reads only the read models: Redis availability losing its data must not stall these reads
      const checkpoints: Array<{ store: ReadModelStore; runner: string }> = [{ store: ctx.get(Tokens.ReadModels), runner: 'read-models' }];
      return new CheckpointProgress(ctx.get(Tokens.EventStore), checkpoints, 50);
    }
    const runners = ctx.get(Tokens.Projections);
    const served = runners.find((r) => r.name === 'read-models')!;
    return {
      get position() {
        return served.position;
      },
      // every runner must have caught up at start; read-your-writes waits only for the models the storefront reads
      ready: () => runners.every((r) => r.ready),
      waitFor: (position, ms) => served.waitFor(position, ms),
    };
  });
  c.bind(Tokens.InvalidationBus).toDynamicValue((): InvalidationBus | undefined =>
    connections.redis && connections.redisSubscriber ? new RedisInvalidationBus(connections.redis, connections.redisSubscriber, `${config.CREST_REDIS_PREFIX}:invalidate`) : undefined,
  );
  c.bind(Tokens.Storefront).toDynamicValue((ctx) => {
    const metrics = ctx.get(Tokens.Metrics);
    const breakers = metrics.breakerObserver(ctx.get(Tokens.Logger));
    let queries: ReadStoreQueries = ctx.get(Tokens.ReadModels);
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
