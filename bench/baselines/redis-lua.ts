/**
 * Redis Lua check-and-decrement on one key through ioredis, a fixed number of calls in flight: the usual
 * "stock counter in Redis" design for flash sales. Skipped, with the reason, when no Redis answers.
 */
import Redis from 'ioredis';

const RESERVE = `
local available = tonumber(redis.call('GET', KEYS[1]) or '0')
local wanted = tonumber(ARGV[1])
if available >= wanted then return redis.call('DECRBY', KEYS[1], wanted) end
return -1
`;

type ReservingRedis = Redis & { reserve(key: string, quantity: number): Promise<number> };

export interface RedisBaseline {
  readonly describe: string;
  run(ops: number, inFlight: number): Promise<{ opsPerSec: number; refused: number }>;
  close(): Promise<void>;
}

/** Connects, or explains why not. */
export const connectRedis = async (url: string): Promise<RedisBaseline | { unavailable: string }> => {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, connectTimeout: 1500, retryStrategy: () => null }) as ReservingRedis;
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    return { unavailable: `no Redis at ${url} (${error instanceof Error ? error.message : String(error)})` };
  }
  redis.defineCommand('reserve', { numberOfKeys: 1, lua: RESERVE });
  const info = await redis.info('server');
  const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  const persistence = await redis.config('GET', 'appendonly').then(
    (v) => `appendonly=${(v as string[])[1]}`,
    () => 'persistence settings not readable',
  );
  const fsync = await redis.config('GET', 'appendfsync').then(
    (v) => `appendfsync=${(v as string[])[1]}`,
    () => '',
  );
  return {
    describe: `Redis ${version} at ${url}, ${persistence} ${fsync}, EVALSHA check-and-decrement on one key, ioredis (no auto-pipelining)`,
    async run(ops, inFlight) {
      const key = `crest-bench:stock:${process.pid}`;
      await redis.set(key, String(ops));
      await redis.reserve(key, 0);
      let next = 0;
      let refused = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (next < ops) {
            next++;
            if ((await redis.reserve(key, 1)) < 0) refused++;
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      await redis.del(key);
      return { opsPerSec: ops / seconds, refused };
    },
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
};
