import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';

export interface RateLimitOptions {
  /** What is limited, for the key: `customer`, `global`, `ip`. */
  readonly name: string;
  /** Points per second; 0 turns the limit off. */
  readonly perSecond: number;
  /** Key prefix shared by every node of one deployment. */
  readonly prefix: string;
}

/**
 * A per-second limit. With Redis, every API node counts in the same Redis keys, so N nodes give a customer the limit
 * once, not N times; while Redis cannot answer, each node falls back to counting on its own (the insurance limiter),
 * so an outage of Redis never turns into refused or failed orders. Without Redis, the node counts alone.
 */
export const perSecondLimit = (redis: Redis | undefined, options: RateLimitOptions): RateLimiterAbstract | undefined => {
  if (options.perSecond <= 0) return undefined;
  const local = new RateLimiterMemory({ points: options.perSecond, duration: 1 });
  if (!redis) return local;
  return new RateLimiterRedis({
    storeClient: redis,
    keyPrefix: `${options.prefix}:rate:${options.name}`,
    points: options.perSecond,
    duration: 1,
    // a Redis that is not connected answers at once through the insurance limiter instead of holding the request
    rejectIfRedisNotReady: true,
    insuranceLimiter: local,
  });
};
