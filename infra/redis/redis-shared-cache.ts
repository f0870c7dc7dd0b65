import CircuitBreaker from 'opossum';
import type Redis from 'ioredis';
import type { SharedCache } from '../../read-api/ports';

export interface BreakerObserver {
  stateChanged(name: string, state: 'open' | 'half_open' | 'closed'): void;
}

/**
 * The shared L2 cache in Redis. Every call goes through a circuit breaker: when Redis is slow or down, calls fail
 * fast and reads fall through to the read models instead of queueing behind a dead connection.
 */
export class RedisSharedCache implements SharedCache {
  private readonly breaker: CircuitBreaker<[() => Promise<unknown>], unknown>;
  private readonly prefix: string;

  constructor(
    private readonly redis: Redis,
    observer: BreakerObserver,
    options: { timeoutMs: number; prefix?: string } = { timeoutMs: 50 },
  ) {
    this.prefix = options.prefix ?? 'crest';
    this.breaker = new CircuitBreaker((call: () => Promise<unknown>) => call(), {
      timeout: options.timeoutMs,
      errorThresholdPercentage: 50,
      resetTimeout: 2000,
      volumeThreshold: 10,
      name: 'redis-cache',
    });
    this.breaker.on('open', () => observer.stateChanged('redis-cache', 'open'));
    this.breaker.on('halfOpen', () => observer.stateChanged('redis-cache', 'half_open'));
    this.breaker.on('close', () => observer.stateChanged('redis-cache', 'closed'));
  }

  async get(key: string): Promise<string | undefined> {
    const value = (await this.breaker.fire(() => this.redis.get(`${this.prefix}:${key}`))) as string | null;
    return value ?? undefined;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.breaker.fire(() => this.redis.set(`${this.prefix}:${key}`, value, 'PX', Math.max(1, ttlMs)));
  }

  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length > 0) await this.breaker.fire(() => this.redis.del(...keys.map((k) => `${this.prefix}:${k}`)));
  }
}
