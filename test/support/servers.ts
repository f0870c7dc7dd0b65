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
};

/** Skips the current suite with `why`, or fails it when real servers are required. */
export const skipOrFail = (context: Mocha.Context, why: string, requiredHere = requireServers): void => {
  if (requiredHere) throw new Error(`${why} (CREST_REQUIRE_SERVERS=1: integration suites must not skip)`);
  console.log(`      skipped: ${why}`);
  context.skip();
};
