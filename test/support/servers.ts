/**
 * Where integration suites find real servers. Suites that need a server skip with a clear message when it is
 * absent; with CREST_REQUIRE_SERVERS=1 (set by CI) an absent server fails the run instead.
 */
export const requireServers = process.env.CREST_REQUIRE_SERVERS === '1';

export const serverUrls = {
  eventstoredb: process.env.ESDB_CONNECTION_STRING,
  redis: process.env.CREST_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
  mongodb: process.env.CREST_TEST_MONGODB_URL ?? 'mongodb://127.0.0.1:27017',
  kafka: process.env.CREST_TEST_KAFKA_BROKERS ?? '127.0.0.1:9092',
  postgresql: process.env.CREST_TEST_POSTGRES_URL ?? 'postgres://crest@127.0.0.1:5432/crest',
};

/** Skips the current suite with `why`, or fails it when real servers are required. */
export const skipOrFail = (context: Mocha.Context, why: string, requiredHere = requireServers): void => {
  if (requiredHere) throw new Error(`${why} (CREST_REQUIRE_SERVERS=1: integration suites must not skip)`);
  console.log(`      skipped: ${why}`);
  context.skip();
};

/** Resolves when a server answers; rejects with the reason otherwise. Each probe opens and closes its own client. */
export const probe = {
  async kafka(): Promise<void> {
    const { Kafka, logLevel } = await import('kafkajs');
    const admin = new Kafka({ clientId: 'crest-probe', brokers: serverUrls.kafka.split(','), logLevel: logLevel.NOTHING, retry: { retries: 1 } }).admin();
    try {
      await admin.connect();
      await admin.listTopics();
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  },
  async mongodb(): Promise<void> {
    const { MongoClient } = await import('mongodb');
    const client = new MongoClient(serverUrls.mongodb, { serverSelectionTimeoutMS: 2000 });
    try {
      await client.connect();
      await client.db('admin').command({ ping: 1 });
    } finally {
      await client.close().catch(() => undefined);
    }
  },
  async redis(): Promise<void> {
    const { default: Redis } = await import('ioredis');
    const client = new Redis(serverUrls.redis, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 1000, retryStrategy: () => null });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.ping();
    } finally {
      client.disconnect();
    }
  },
};

/** In a `before` hook: skips (or, under CREST_REQUIRE_SERVERS=1, fails) the suite unless every named server answers. */
export const requireServersFor = async (context: Mocha.Context, ...servers: Array<keyof typeof probe>): Promise<void> => {
  try {
    for (const server of servers) await probe[server]();
  } catch (error) {
    skipOrFail(context, `needs ${servers.join(', ')} (${(error as Error).message}); start them with npm run services:up`);
  }
};
